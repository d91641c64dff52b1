#!/usr/bin/env node
// Builds the native addon with node-gyp against the system libevent 2.1.
//
// - Checks for libevent first, so a missing library gives one message naming the package
//   to install instead of gyp's pkg-config noise.
// - Passes Node's own headers directory explicitly (--nodedir), so nothing is downloaded and
//   no user npmrc setting is needed.
// - `--sanitize` builds an AddressSanitizer/UBSan copy into build-asan/ (see test:asan).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const sanitize = process.argv.includes('--sanitize');

function fail(message) {
  process.stderr.write(`\nnode-libevent: ${message}\n\n`);
  process.exit(1);
}

function checkLibevent() {
  const probe = spawnSync('pkg-config', ['--atleast-version=2.1', '--max-version=2.1.99', 'libevent_core'], {
    encoding: 'utf8',
  });
  if (probe.error || probe.status !== 0) {
    const found = spawnSync('pkg-config', ['--modversion', 'libevent_core'], { encoding: 'utf8' });
    const what = probe.error
      ? 'pkg-config is not installed'
      : found.status === 0
        ? `libevent ${found.stdout.trim()} was found, but 2.1.x is required`
        : 'libevent 2.1 development files were not found';
    fail(
      `${what}. Install libevent 2.1 with its headers and pkg-config, then run npm install again:\n` +
        '  Debian/Ubuntu:  sudo apt-get install libevent-dev pkg-config\n' +
        '  Fedora/RHEL:    sudo dnf install libevent-devel pkgconf-pkg-config\n' +
        '  macOS:          brew install libevent pkg-config',
    );
  }
}

function nodeHeadersDir() {
  const candidates = [process.env.NODE_LIBEVENT_NODEDIR, path.resolve(process.execPath, '..', '..')].filter(Boolean);
  for (const dir of candidates) {
    if (existsSync(path.join(dir, 'include', 'node', 'node_api.h'))) return dir;
  }
  fail(
    `Node's headers were not found under ${candidates.join(' or ')} (include/node/node_api.h).\n` +
      'Point NODE_LIBEVENT_NODEDIR at a directory holding include/node for this Node version.',
  );
}

function runGyp(cwd, extra) {
  const gyp = require.resolve('node-gyp/bin/node-gyp.js');
  const args = [gyp, 'rebuild', `--nodedir=${nodeHeadersDir()}`, '--jobs=max', ...extra];
  const r = spawnSync(process.execPath, args, { cwd, stdio: 'inherit' });
  if (r.status !== 0) fail('the native build failed (see the compiler output above).');
}

checkLibevent();
if (sanitize) {
  const dir = path.join(root, 'build-asan');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.join(dir, 'src'), { recursive: true });
  cpSync(path.join(root, 'binding.gyp'), path.join(dir, 'src', 'binding.gyp'));
  cpSync(path.join(root, 'native'), path.join(dir, 'src', 'native'), { recursive: true });
  runGyp(path.join(dir, 'src'), ['--', '-Dsanitize=1']);
  cpSync(path.join(dir, 'src', 'build', 'Release', 'node_libevent.node'), path.join(dir, 'node_libevent.node'));
} else {
  runGyp(root, []);
}
