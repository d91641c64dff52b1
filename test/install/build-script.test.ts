// scripts/build-addon.mjs as a user meets it: each missing piece gives one message naming the
// packages to install, this Node's headers win over npm's config, and a failed rebuild keeps
// the addon that worked.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  buildEnv,
  cleanupScratch,
  COMPILERS,
  MAKE,
  messageCount,
  PKG_CONFIG,
  projectCopy,
  PYTHON,
  pathWithout,
  repo,
  runBuild,
  scratch,
} from './helpers.js';

afterAll(cleanupScratch);

/** Runs the build in the real worktree: every case here stops in the preflight, before node-gyp. */
function preflight(env: Record<string, string | undefined>, args: string[] = []) {
  const r = runBuild(repo, args, buildEnv(env));
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

function expectOneMessage(stderr: string, ...parts: (string | RegExp)[]) {
  expect(messageCount(stderr)).toBe(1);
  for (const p of parts) expect(stderr).toMatch(p);
  expect(stderr).not.toMatch(/gyp (info|ERR)/); // node-gyp never started
  expect(stderr).not.toMatch(/brew|macOS/);
}

describe('toolchain preflight', () => {
  it('names build-essential / gcc-c++ when no C++ compiler is on PATH', () => {
    const r = preflight({ PATH: pathWithout(COMPILERS) });
    expect(r.status).toBe(1);
    expectOneMessage(r.stderr, /no C\+\+ compiler \(g\+\+, c\+\+\)/, /apt-get install build-essential\n/, /dnf install gcc-c\+\+\n/);
  });

  it('names make when make is missing', () => {
    const r = preflight({ PATH: pathWithout(MAKE) });
    expect(r.status).toBe(1);
    expectOneMessage(r.stderr, /no make found/, /apt-get install build-essential\n/, /dnf install make\n/);
  });

  it('names python3 when Python is missing', () => {
    const r = preflight({ PATH: pathWithout(PYTHON) });
    expect(r.status).toBe(1);
    expectOneMessage(r.stderr, /no Python 3\.6\+/, /apt-get install python3\n/, /dnf install python3\n/);
  });

  it('lists every missing tool in one message', () => {
    const hidden = new RegExp([COMPILERS, MAKE, PYTHON].map((r) => r.source).join('|'));
    const r = preflight({ PATH: pathWithout(hidden) });
    expect(r.status).toBe(1);
    expectOneMessage(r.stderr, /no C\+\+ compiler .*, no make, no Python/, /apt-get install build-essential python3\n/, /dnf install gcc-c\+\+ make python3\n/);
  });

  it('checks $CXX itself when it is set, and reports a compiler that cannot compile', () => {
    const dir = scratch('cxx');
    const fake = path.join(dir, 'broken-g++');
    writeFileSync(fake, '#!/bin/sh\n[ "$1" = --version ] && { echo "broken 1.0"; exit 0; }\necho "broken-g++: fatal error: no libstdc++ here" >&2\nexit 1\n');
    chmodSync(fake, 0o755);
    const r = preflight({ CXX: fake });
    expect(r.status).toBe(1);
    expectOneMessage(r.stderr, /the C\+\+ compiler '.*broken-g\+\+' cannot compile a C\+\+17 program/, /no libstdc\+\+ here/, /build-essential/);

    const missing = preflight({ CXX: path.join(dir, 'no-such-compiler') });
    expect(missing.status).toBe(1);
    expectOneMessage(missing.stderr, /no C\+\+ compiler \(CXX=.*no-such-compiler, g\+\+, c\+\+\)/);
  });
});

describe('libevent preflight', () => {
  it('names pkg-config when it is missing', () => {
    const r = preflight({ PATH: pathWithout(PKG_CONFIG) });
    expect(r.status).toBe(1);
    expectOneMessage(r.stderr, /pkg-config is not installed/, /apt-get install pkg-config\n/, /dnf install pkgconf-pkg-config\n/);
  });

  it('names libevent-dev / libevent-devel when pkg-config cannot find libevent', () => {
    const r = preflight({ PKG_CONFIG_LIBDIR: scratch('pc-empty') });
    expect(r.status).toBe(1);
    expectOneMessage(r.stderr, /libevent 2\.1 development files .* were not found/, /apt-get install libevent-dev\n/, /dnf install libevent-devel\n/);
  });

  it('refuses a libevent that is not 2.1', () => {
    const dir = scratch('pc-old');
    writeFileSync(path.join(dir, 'libevent_core.pc'), 'Name: libevent_core\nDescription: old\nVersion: 2.0.22-stable\nLibs: -levent_core\nCflags:\n');
    const r = preflight({ PKG_CONFIG_LIBDIR: dir });
    expect(r.status).toBe(1);
    expectOneMessage(r.stderr, /libevent 2\.0\.22-stable was found, but 2\.1\.x is required/, /libevent-dev/);
  });

  it('reports libevent headers that do not compile', () => {
    const dir = scratch('pc-broken');
    writeFileSync(
      path.join(dir, 'libevent_core.pc'),
      'Name: libevent_core\nDescription: broken\nVersion: 2.1.12-stable\nLibs: -levent_core\nCflags: -include /nonexistent/event-config.h\n',
    );
    const r = preflight({ PKG_CONFIG_LIBDIR: dir });
    expect(r.status).toBe(1);
    expectOneMessage(r.stderr, /pkg-config lists libevent 2\.1, but its headers cannot be compiled against/, /nonexistent/);
  });
});

describe("this Node's headers", () => {
  it('refuses a Node without headers rather than using another version', () => {
    const prefix = scratch('bare-node');
    mkdirSync(path.join(prefix, 'bin'));
    const node = path.join(prefix, 'bin', 'node');
    copyFileSync(process.execPath, node);
    chmodSync(node, 0o755);
    const r = runBuild(repo, [], buildEnv({ npm_config_nodedir: '/usr' }), node);
    expect(r.status).toBe(1);
    expectOneMessage(r.stderr, new RegExp(`the headers of this Node \\(${process.version.replace(/\./g, '\\.')}, .*bin/node\\) were not found in ${prefix}/include/node`));
  });
});

describe('a real build in a scratch copy', () => {
  const project = projectCopy();
  const addon = path.join(project, 'build', 'Release', 'node_libevent.node');
  const headers = path.resolve(process.execPath, '..', '..');

  function loads(file: string) {
    const r = spawnSync(process.execPath, ['-e', `console.log(require(${JSON.stringify(file)}).libeventVersion())`], { encoding: 'utf8' });
    return r.status === 0 && /^2\.1\./.test(r.stdout);
  }

  it("uses this Node's headers whatever npm_config_nodedir says, and says so", () => {
    expect(existsSync('/opt/node-18-headers')).toBe(false);
    const r = runBuild(project, [], buildEnv({ npm_config_nodedir: '/opt/node-18-headers', NPM_CONFIG_TARGET: '18.20.0' }));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      `node-libevent: building against the headers of Node ${process.version} in ${path.join(headers, 'include', 'node')} (ignoring nodedir=/opt/node-18-headers, target=18.20.0 from the npm config)`,
    );
    // node-gyp would have looked for common.gypi in /opt/node-18-headers and failed.
    expect(loads(addon)).toBe(true);
    expect(readdirSync(path.join(project, 'build')).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('keeps the working addon when a rebuild fails', () => {
    const before = readFileSync(addon);
    const mtime = statSync(addon).mtimeMs;
    const source = path.join(project, 'native', 'addon.cc');
    writeFileSync(source, `#error "broken on purpose"\n${readFileSync(source, 'utf8')}`);
    const r = runBuild(project, [], buildEnv());
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/broken on purpose/);
    expect(r.stderr).toMatch(/node-libevent: the native build failed \(see the compiler output above\)\. Any previously built addon was left in place\./);
    expect(readFileSync(addon).equals(before)).toBe(true);
    expect(statSync(addon).mtimeMs).toBe(mtime);
    expect(loads(addon)).toBe(true);
    expect(readdirSync(path.join(project, 'build')).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('--install keeps a prebuilt binary that loads, and builds from source when asked or when it does not load', () => {
    const prebuilds = path.join(project, 'prebuilds', 'linux-x64');
    mkdirSync(prebuilds, { recursive: true });
    copyFileSync(addon, path.join(prebuilds, 'node.napi.glibc.node'));
    const noCompiler = pathWithout(COMPILERS);

    const kept = runBuild(project, ['--install'], buildEnv({ PATH: noCompiler }));
    expect(kept.status, kept.stderr).toBe(0);
    expect(kept.stderr).toContain('node-libevent: using the prebuilt binary prebuilds/linux-x64/node.napi.glibc.node');

    // --build-from-source (npm sets npm_config_build_from_source): the compiler is needed again.
    const forced = runBuild(project, ['--install'], buildEnv({ PATH: noCompiler, npm_config_build_from_source: 'true' }));
    expect(forced.status).toBe(1);
    expectOneMessage(forced.stderr, /no C\+\+ compiler/);

    writeFileSync(path.join(prebuilds, 'node.napi.glibc.node'), 'not an ELF file');
    const broken = runBuild(project, ['--install'], buildEnv({ PATH: noCompiler }));
    expect(broken.status).toBe(1);
    expect(broken.stderr).toMatch(/the prebuilt binary does not load here, building from source/);
    expect(broken.stderr).toMatch(/no C\+\+ compiler/);
    expect(existsSync(addon)).toBe(true);
  });
});
