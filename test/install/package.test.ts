// The package as a user gets it: `npm pack` (which makes the prebuilt binary), what the tarball
// holds, an install into a scratch consumer with no compiler and no libevent development files,
// every entry point imported from ESM and CommonJS, and a TypeScript consumer under nodenext,
// bundler and node10 module resolution.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEnv, cleanupScratch, COMPILERS, MAKE, PKG_CONFIG, pathWithout, PYTHON, repo, scratch } from './helpers.js';

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string; size: number }[];
}

const pkg = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as {
  exports: Record<string, unknown>;
};
const entryPoints = Object.keys(pkg.exports)
  .filter((k) => k !== './package.json')
  .map((k) => (k === '.' ? 'node-libevent' : `node-libevent/${k.slice(2)}`));

let packed: PackResult;
let tarball: string;
let consumer: string;
let installLog: string;

function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = buildEnv()) {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 600_000 });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}`, stdout: r.stdout };
}

beforeAll(() => {
  const dest = scratch('pack');
  const r = sh('npm', ['pack', '--json', '--pack-destination', dest], repo);
  expect(r.status, r.out).toBe(0);
  const json = r.stdout.slice(r.stdout.indexOf('['));
  packed = (JSON.parse(json) as PackResult[])[0]!;
  tarball = path.join(dest, packed.filename);
});

afterAll(cleanupScratch);

describe('npm pack', () => {
  it('ships only what a user needs', () => {
    const files = packed.files.map((f) => f.path).sort();
    console.log(
      `npm pack: ${files.length} files, ${(packed.size / 1024).toFixed(1)} kB packed, ${(packed.unpackedSize / 1024).toFixed(1)} kB unpacked`,
    );
    const allowed = [
      /^(package\.json|README\.md|LICENSE|CHANGELOG\.md|binding\.gyp)$/,
      /^scripts\/build-addon\.mjs$/,
      /^native\/[\w-]+\.(cc|h)$/,
      /^dist\/([\w-]+\/)*[\w-]+\.(js|d\.ts|js\.map)$/,
      /^bin\/[\w-]+\.mjs$/,
      /^prebuilds\/linux-x64\/(node\.napi\.glibc\.node|LICENSE\.libevent)$/,
    ];
    expect(files.filter((f) => !allowed.some((re) => re.test(f)))).toEqual([]);
    for (const f of ['LICENSE', 'README.md', 'CHANGELOG.md', 'prebuilds/linux-x64/node.napi.glibc.node', 'prebuilds/linux-x64/LICENSE.libevent']) {
      expect(files).toContain(f);
    }
    // Every dist file comes from a current lib/ source (no leftovers of renamed modules).
    for (const f of files.filter((f) => f.startsWith('dist/'))) {
      const source = f.replace(/^dist\//, 'lib/').replace(/(\.d\.ts|\.js\.map|\.js)$/, '.ts');
      expect(() => readFileSync(path.join(repo, source)), `${f} has no source ${source}`).not.toThrow();
    }
    for (const f of files.filter((f) => /\.(test|spec)\.|fixture|\.o$|tsbuildinfo/.test(f))) expect.fail(`unexpected ${f}`);
  });

  it('carries source maps that hold their own sources', () => {
    const maps = packed.files.filter((f) => f.path.endsWith('.js.map'));
    expect(maps.length).toBeGreaterThan(0);
    for (const m of maps) {
      const map = JSON.parse(readFileSync(path.join(repo, m.path), 'utf8')) as { sources: string[]; sourcesContent?: string[] };
      expect(map.sourcesContent?.length, m.path).toBe(map.sources.length);
    }
  });

  it('has a prebuilt binary that needs no shared libevent', () => {
    const r = sh('readelf', ['-d', path.join(repo, 'prebuilds/linux-x64/node.napi.glibc.node')], repo);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/NEEDED.*libc\.so/);
    expect(r.stdout).not.toMatch(/NEEDED.*libevent/);
  });

  it('has no @internal or underscore members in its declarations', () => {
    for (const f of packed.files.filter((f) => f.path.endsWith('.d.ts'))) {
      const text = readFileSync(path.join(repo, f.path), 'utf8');
      expect(text, f.path).not.toMatch(/@internal/);
      expect(text, f.path).not.toMatch(/^\s+(?:readonly |static |get |set )*_\w+\s*[(:?]/m);
    }
  });
});

describe('installed into a consumer with no compiler and no libevent-dev', () => {
  beforeAll(() => {
    consumer = scratch('consumer');
    writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
    const env = buildEnv({
      PATH: pathWithout(new RegExp([COMPILERS, MAKE, PYTHON, PKG_CONFIG].map((r) => r.source).join('|'))),
      PKG_CONFIG_LIBDIR: scratch('no-pc'),
    });
    const r = sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--foreground-scripts', tarball], consumer, env);
    installLog = r.out;
    expect(r.status, r.out).toBe(0);
  });

  it('installs with the prebuilt binary, building nothing', () => {
    expect(installLog).toContain('node-libevent: using the prebuilt binary prebuilds/linux-x64/node.napi.glibc.node');
    expect(installLog).not.toMatch(/gyp info|CXX\(target\)/);
  });

  it('imports every entry point from ESM and from CommonJS, with the same exports', () => {
    const script = (kind: 'esm' | 'cjs') =>
      `${kind === 'esm' ? '' : 'const out = {};'}
      ${kind === 'esm' ? 'const out = {};' : ''}
      ${entryPoints
        .map((e) => (kind === 'esm' ? `out[${JSON.stringify(e)}] = Object.keys(await import(${JSON.stringify(e)})).sort();` : `out[${JSON.stringify(e)}] = Object.keys(require(${JSON.stringify(e)})).sort();`))
        .join('\n')}
      console.log(JSON.stringify(out));`;
    writeFileSync(path.join(consumer, 'entries.mjs'), script('esm'));
    writeFileSync(path.join(consumer, 'entries.cjs'), script('cjs'));
    const esm = sh(process.execPath, ['entries.mjs'], consumer);
    const cjs = sh(process.execPath, ['entries.cjs'], consumer);
    expect(esm.status, esm.out).toBe(0);
    expect(cjs.status, cjs.out).toBe(0);
    const fromEsm = JSON.parse(esm.stdout) as Record<string, string[]>;
    expect(JSON.parse(cjs.stdout)).toEqual(fromEsm);
    expect(Object.keys(fromEsm).sort()).toEqual([...entryPoints].sort());
    for (const e of entryPoints) expect(fromEsm[e]!.length, e).toBeGreaterThan(0);
  });

  it('runs an event loop through the prebuilt binary, from both module systems', () => {
    const body = `
      const base = new EventBase({ method: 'poll' });
      let fired = 0;
      base.timer(() => { fired++; }).add(1);
      base.dispatch();
      base.free();
      console.log(JSON.stringify({ fired, version: libeventVersion() }));`;
    writeFileSync(path.join(consumer, 'run.mjs'), `import { EventBase, libeventVersion } from 'node-libevent';\n${body}`);
    writeFileSync(path.join(consumer, 'run.cjs'), `const { EventBase, libeventVersion } = require('node-libevent');\n${body}`);
    for (const file of ['run.mjs', 'run.cjs']) {
      const r = sh(process.execPath, [file], consumer);
      expect(r.status, r.out).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ fired: 1, version: expect.stringMatching(/^2\.1\./) });
    }
    const addon = sh(process.execPath, ['-e', "console.log(require('node-gyp-build').path(require('path').dirname(require.resolve('node-libevent/package.json'))))"], consumer);
    expect(addon.stdout).toMatch(/prebuilds\/linux-x64\/node\.napi\.glibc\.node/);
  });

  it('has a working command line', () => {
    const r = sh(path.join(consumer, 'node_modules', '.bin', 'node-libevent'), [], consumer);
    expect(r.status).toBe(2);
    expect(r.out).toMatch(/usage: node-libevent /);
  });

  it('typechecks a TypeScript consumer under nodenext, bundler and node10', () => {
    mkdirSync(path.join(consumer, 'node_modules', '@types'), { recursive: true });
    symlinkSync(path.join(repo, 'node_modules', '@types', 'node'), path.join(consumer, 'node_modules', '@types', 'node'));
    const source = `
import { Event, EventBase, EV, type Callback } from 'node-libevent';
import { Dispatcher, DispatchConfig } from 'node-libevent/dispatch';
import { defineMessage, PubsubBuilder, type Publisher } from 'node-libevent/pubsub';
import { defineSubsystem, SubsystemManager } from 'node-libevent/subsys';
import { Mainloop } from 'node-libevent/mainloop';
import { UpdateHost, type UpdateReport } from 'node-libevent/update';

const base: EventBase = new EventBase({ method: 'poll' });
const cb: Callback = (fd, what) => { void fd; void what; };
base.event(-1, EV.TIMEOUT, cb).add(5);
const Temperature = defineMessage<number>('temperature', 'celsius');
let publish: Publisher<number> | undefined;
const sensor = defineSubsystem({ name: 'sensor', level: 10, addPubsub: (con) => { publish = con.addPub('readings', Temperature); } });
new SubsystemManager([sensor]).addPubsub(new PubsubBuilder());
export const parts = [new Mainloop(base), Dispatcher, new DispatchConfig(), UpdateHost] as const;
export const onUpdate = (r: UpdateReport): boolean => r.ok;
// @ts-expect-error payloads are type-checked
publish?.publish('21');
// @ts-expect-error internal members are not in the public declarations
base._allEvents();
// @ts-expect-error events are made by a base, not constructed
new Event();
`;
    writeFileSync(path.join(consumer, 'consumer.mts'), source);
    writeFileSync(path.join(consumer, 'consumer.ts'), source);
    const common = { strict: true, skipLibCheck: false, noEmit: true, target: 'es2022', lib: ['es2023', 'esnext.disposable'], types: ['node'] };
    const configs = {
      nodenext: { compilerOptions: { ...common, module: 'nodenext', moduleResolution: 'nodenext' }, files: ['consumer.mts'] },
      bundler: { compilerOptions: { ...common, module: 'esnext', moduleResolution: 'bundler' }, files: ['consumer.ts'] },
      node10: { compilerOptions: { ...common, module: 'commonjs', moduleResolution: 'node10' }, files: ['consumer.ts'] },
    };
    const tsc = path.join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
    for (const [name, config] of Object.entries(configs)) {
      writeFileSync(path.join(consumer, `tsconfig.${name}.json`), JSON.stringify(config));
      const r = sh(process.execPath, [tsc, '-p', `tsconfig.${name}.json`], consumer);
      expect(r.status, `${name}:\n${r.out}`).toBe(0);
    }
  });
});

describe('installed with --build-from-source', () => {
  it('builds the addon inside the installed package with the system libevent, and loads that build', () => {
    const dir = scratch('from-source');
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer-src', version: '1.0.0', private: true }));
    const r = sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--foreground-scripts', '--build-from-source', tarball], dir);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toContain(`node-libevent: building against the headers of Node ${process.version}`);
    expect(r.out).toContain('node-libevent: built build/Release/node_libevent.node');
    const installed = path.join(dir, 'node_modules', 'node-libevent');
    const run = sh(
      process.execPath,
      ['--input-type=module', '-e', "import { EventBase } from 'node-libevent'; const b = new EventBase(); console.log(b.method); b.free();"],
      dir,
    );
    expect(run.status, run.out).toBe(0);
    expect(run.stdout.trim()).toBe('epoll');
    const which = sh(process.execPath, ['-e', `console.log(require('node-gyp-build').path(${JSON.stringify(installed)}))`], dir);
    expect(which.stdout.trim()).toBe(path.join(installed, 'build', 'Release', 'node_libevent.node'));
    const needed = sh('readelf', ['-d', which.stdout.trim()], dir);
    expect(needed.stdout).toMatch(/NEEDED.*libevent_core/);
  });
});
