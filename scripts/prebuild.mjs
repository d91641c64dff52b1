#!/usr/bin/env node
// Makes the prebuilt binary that the npm package carries (run by `prepack`):
//   prebuilds/linux-x64/node.napi.glibc.node   N-API 8, libevent linked in statically
//   prebuilds/linux-x64/LICENSE.libevent       libevent's licence, which a binary copy must carry
//
// Debian's libevent_core.a is not position-independent (its objects use R_X86_64_PC32 relocations
// against data, which the linker refuses in a shared object), so it cannot go into an addon.
// Instead this builds libevent_core from Debian's own source package (the version Debian ships
// now, with Debian's patches applied) with -fPIC, using libevent's CMake build, and caches it in
// build/libevent-static/<version>/. Nothing is fetched but Debian's source package.
//
// Needs: apt-get and dpkg-source (dpkg-dev, part of build-essential), cmake, and the toolchain
// the source build needs. NODE_LIBEVENT_SKIP_PREBUILD=1 skips it (a pack without the binary).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, 'prebuilds', 'linux-x64');
const cacheRoot = path.join(root, 'build', 'libevent-static');

function log(line) {
  process.stderr.write(`node-libevent prebuild: ${line}\n`);
}

function fail(message) {
  process.stderr.write(`\nnode-libevent prebuild: ${message}\n\n`);
  process.exit(1);
}

function sh(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...options });
  if (r.error?.code === 'ENOENT') return { missing: true, status: 127, stdout: '', stderr: '' };
  return r;
}

function must(cmd, args, what, options = {}) {
  const r = sh(cmd, args, options);
  if (r.missing) fail(`${what}: ${cmd} is not installed.`);
  if (r.status !== 0) fail(`${what} failed (${cmd} ${args.join(' ')}):\n${(r.stderr || r.stdout || '').trim().split('\n').slice(-15).join('\n')}`);
  return r.stdout ?? '';
}

/** deb-src versions of the machine's own Debian sources, in a private apt state directory. */
function aptOptions(work) {
  const parts = path.join(work, 'sources.list.d');
  mkdirSync(parts, { recursive: true });
  mkdirSync(path.join(work, 'lists', 'partial'), { recursive: true });
  mkdirSync(path.join(work, 'cache', 'archives', 'partial'), { recursive: true });
  const lines = [];
  const add = (file) => {
    const text = readFileSync(file, 'utf8');
    if (file.endsWith('.sources')) {
      writeFileSync(path.join(parts, path.basename(file)), text.replace(/^Types:.*$/gm, 'Types: deb-src'));
    } else {
      for (const l of text.split('\n')) if (/^deb\s/.test(l)) lines.push(l.replace(/^deb\s/, 'deb-src '));
    }
  };
  if (existsSync('/etc/apt/sources.list')) add('/etc/apt/sources.list');
  const dir = '/etc/apt/sources.list.d';
  if (existsSync(dir)) for (const f of readdirSync(dir)) if (/\.(list|sources)$/.test(f)) add(path.join(dir, f));
  writeFileSync(path.join(work, 'sources.list'), lines.join('\n') + '\n');
  return [
    '-o', `Dir::Etc::SourceList=${path.join(work, 'sources.list')}`,
    '-o', `Dir::Etc::SourceParts=${parts}`,
    '-o', `Dir::State::Lists=${path.join(work, 'lists')}`,
    '-o', `Dir::Cache=${path.join(work, 'cache')}`,
    '-o', 'APT::Sandbox::User=root',
    '-qq',
  ];
}

function staticLibevent() {
  const work = path.join(cacheRoot, 'apt');
  const apt = aptOptions(work);
  log("reading Debian's source index for libevent");
  must('apt-get', [...apt, 'update'], 'apt-get update (deb-src)');
  const policy = must('apt-cache', [...apt, 'showsrc', 'libevent'], 'apt-cache showsrc libevent');
  const versions = [...policy.matchAll(/^Version: (\S+)$/gm)].map((m) => m[1]);
  if (!versions.length) fail("Debian's source index has no libevent.");
  const newest = versions.sort((a, b) => (sh('dpkg', ['--compare-versions', a, 'gt', b]).status === 0 ? -1 : 1))[0];
  if (!/^2\.1\./.test(newest)) fail(`Debian's libevent source is ${newest}; this package needs 2.1.x.`);
  const prefix = path.join(cacheRoot, newest, 'prefix');
  if (existsSync(path.join(prefix, 'lib', 'libevent_core.a'))) {
    log(`libevent ${newest} (cached in ${path.relative(root, prefix)})`);
    return { prefix, version: newest };
  }
  const top = path.join(cacheRoot, newest);
  rmSync(top, { recursive: true, force: true });
  const dl = path.join(top, 'dl');
  mkdirSync(dl, { recursive: true });
  log(`fetching Debian's libevent ${newest} source package`);
  must('apt-get', [...apt, 'source', '--download-only', `libevent=${newest}`], 'apt-get source libevent', { cwd: dl });
  const dsc = readdirSync(dl).find((f) => f.endsWith('.dsc'));
  if (!dsc) fail('apt-get source left no .dsc file.');
  must('dpkg-source', ['-x', dsc, 'src'], 'dpkg-source -x (unpacking with Debian patches)', { cwd: dl });
  const src = path.join(dl, 'src');
  const bld = path.join(top, 'cmake');
  log('building libevent_core with -fPIC');
  must(
    'cmake',
    [
      '-S', src, '-B', bld, '-DCMAKE_BUILD_TYPE=Release',
      '-DEVENT__LIBRARY_TYPE=STATIC', '-DCMAKE_POSITION_INDEPENDENT_CODE=ON',
      '-DEVENT__DISABLE_OPENSSL=ON', '-DEVENT__DISABLE_MBEDTLS=ON', '-DEVENT__DISABLE_TESTS=ON',
      '-DEVENT__DISABLE_SAMPLES=ON', '-DEVENT__DISABLE_BENCHMARK=ON', '-DEVENT__DISABLE_REGRESS=ON',
    ],
    'cmake configure of libevent',
  );
  must('cmake', ['--build', bld, '--target', 'event_core_static', '-j', '2'], 'cmake build of libevent_core');
  const stagingPrefix = `${prefix}.tmp`;
  rmSync(stagingPrefix, { recursive: true, force: true });
  mkdirSync(path.join(stagingPrefix, 'lib'), { recursive: true });
  cpSync(path.join(src, 'include'), path.join(stagingPrefix, 'include'), { recursive: true });
  cpSync(path.join(bld, 'include'), path.join(stagingPrefix, 'include'), { recursive: true });
  cpSync(path.join(bld, 'lib', 'libevent_core.a'), path.join(stagingPrefix, 'lib', 'libevent_core.a'));
  cpSync(path.join(src, 'LICENSE'), path.join(stagingPrefix, 'LICENSE'));
  rmSync(prefix, { recursive: true, force: true });
  cpSync(stagingPrefix, prefix, { recursive: true });
  rmSync(stagingPrefix, { recursive: true, force: true });
  return { prefix, version: newest };
}

if (process.env.NODE_LIBEVENT_SKIP_PREBUILD === '1') {
  log('skipped (NODE_LIBEVENT_SKIP_PREBUILD=1): this pack carries no prebuilt binary');
  process.exit(0);
}
if (process.platform !== 'linux' || process.arch !== 'x64') fail('the prebuilt binary is made on linux-x64 only.');

const { prefix, version } = staticLibevent();
const out = path.join(outDir, 'node.napi.glibc.node');
rmSync(outDir, { recursive: true, force: true });
const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'build-addon.mjs'), `--libevent-static=${prefix}`, `--out=${out}`], {
  stdio: 'inherit',
});
if (r.status !== 0) process.exit(r.status ?? 1);
cpSync(path.join(prefix, 'LICENSE'), path.join(outDir, 'LICENSE.libevent'));

// The whole point: the binary must not need a libevent shared library at run time.
const needed = sh('readelf', ['-d', out]).stdout ?? '';
if (/NEEDED.*libevent/.test(needed)) fail(`${out} still depends on a shared libevent:\n${needed}`);
log(`${path.relative(root, out)} (libevent ${version} linked in)`);
