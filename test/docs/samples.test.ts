// Issue 12: every code sample of README.md and docs/*.md runs verbatim, so the documents cannot
// rot. The fenced blocks are taken from the files as they are; their info string says what to do:
//
//   ```ts / ```js / ```mjs / ```cjs   a program: type-checked (ts) and run with node, in a temp
//                                     project whose node_modules/node-libevent is this package
//                                     (dist/, the addon), must exit 0 with nothing on stderr
//   ```ts service [port] [update=<f>] a program that serves until stopped: it must still run after
//                                     a second (with `port`: answer a line sent to $PORT; with
//                                     `update`: take `node-libevent update <pid> <f>` from the CLI),
//                                     then end on SIGTERM, with nothing on stderr
//   ```<lang> file=<path>             a file the document's programs use, written to <path> in the
//                                     temp project first (a tsconfig.json there is compiled with tsc)
//   ```<lang> same-as=<path>          a copy of the repository file <path> (its own test runs it)
//   ```sh no-run / ```text            not run: each no-run block is listed below with the reason
//
// A fence without a language fails the test, so a new sample has to say what it is.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { controlSocketDir } from '../../lib/update/control.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const documents = ['README.md', ...readdirSync(path.join(repo, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** Blocks that are documentation but not runnable here, and why (keyed by document and first line). */
const NOT_RUN: Record<string, string> = {
  'README.md: apt-get update && apt-get install -y build-essential python3 libevent-dev pkg-config && npm install':
    'installs system packages and the repository itself; .ci/run does exactly this on a fresh machine',
  'README.md: npm install node-libevent': 'needs the npm registry; test/install/package.test.ts installs the packed tarball instead',
  'docs/relay.md: npm start                       # ≈ 1 minute: downloads + the streak, summary, check line':
    'the full relay network for a minute (and --serve runs until killed); test/relay/network.test.ts runs the same program',
};

const RUNNABLE = new Set(['ts', 'js', 'mjs', 'cjs', 'sh']);
const INERT = new Set(['text', 'json', 'jsonc']);

interface Block {
  doc: string;
  line: number;
  lang: string;
  tags: Map<string, string>;
  code: string;
}

function blocksOf(doc: string): Block[] {
  const lines = readFileSync(path.join(repo, doc), 'utf8').split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const [lang = '', ...rest] = open[1]!.trim().split(/\s+/);
    const tags = new Map(rest.map((t) => [t.split('=')[0]!, t.split('=').slice(1).join('=')] as const));
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    out.push({ doc, line: start + 1, lang, tags, code: body.join('\n') + '\n' });
  }
  return out;
}

/** The ```ts blocks of the `@example` tags in lib/**\/*.ts, without their comment prefix. */
function tsdocExamples(): { file: string; line: number; code: string }[] {
  const out: { file: string; line: number; code: string }[] = [];
  const files = readdirSync(path.join(repo, 'lib'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && e.name.endsWith('.ts'));
  for (const f of files) {
    const file = path.relative(repo, path.join(f.parentPath, f.name));
    const lines = readFileSync(path.join(repo, file), 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (!/^\s*\* @example/.test(lines[i]!) || !/^\s*\* ```ts\s*$/.test(lines[i + 1] ?? '')) continue;
      const body: string[] = [];
      let j = i + 2;
      for (; j < lines.length && !/^\s*\* ```\s*$/.test(lines[j]!); j++) body.push(lines[j]!.replace(/^\s*\*( |$)/, ''));
      out.push({ file, line: i + 1, code: body.join('\n') + '\n' });
      i = j;
    }
  }
  return out;
}

const where = (b: Block) => `${b.doc}:${b.line}`;
const firstLine = (b: Block) => `${b.doc}: ${b.code.split('\n')[0]}`;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function run(file: string, cwd: string, env: NodeJS.ProcessEnv, timeoutMs = 30_000, args: string[] = []): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(process.execPath, [file, ...args], { cwd, env, timeout: timeoutMs }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string; signal?: NodeJS.Signals }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, signal: e?.signal ?? null, stdout, stderr });
    });
  });
}

/** Starts a service, checks it is up (and answers on `port`), stops it with SIGTERM. */
async function runService(
  file: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
  port: number | null,
  update: string | null,
): Promise<Ran & { reply: string | null; aliveAfterStart: boolean; cli: Ran | null }> {
  const child = spawn(process.execPath, [file], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  let done = false;
  void exited.then(() => (done = true));
  let reply: string | null = null;
  if (port !== null) {
    for (let i = 0; i < 100 && !done && reply === null; i++) {
      reply = await new Promise<string | null>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => s.write('hello\n'));
        s.setTimeout(2000, () => (s.destroy(), resolve(null)));
        s.on('data', (d) => (resolve(String(d)), s.end()));
        s.on('error', () => setTimeout(() => resolve(null), 100));
      });
    }
  }
  await new Promise((r) => setTimeout(r, 1000));
  const aliveAfterStart = !done;
  let cli: Ran | null = null;
  if (update !== null && aliveAfterStart) {
    // The CLI needs the service's control socket: wait until it is there, not a fixed time (a
    // loaded machine once took longer than the second above to start the service).
    const socket = path.join(controlSocketDir(env), `update-${child.pid}.sock`);
    for (const giveUp = Date.now() + 20_000; !existsSync(socket) && !done && Date.now() < giveUp; ) await new Promise((r) => setTimeout(r, 50));
    cli = await run(path.join(repo, 'bin', 'node-libevent.mjs'), cwd, env, 30_000, ['update', String(child.pid), update]);
    await new Promise((r) => setTimeout(r, 200)); // the service's own 'update' line
  }
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  const { code, signal } = await exited;
  clearTimeout(timer);
  return { code, signal, stdout, stderr, reply, aliveAfterStart, cli };
}

/** The environment of the programs: a relative NODE_LIBEVENT_ADDON (the ASan run's) made absolute, as they run elsewhere. */
function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const addon = process.env.NODE_LIBEVENT_ADDON;
  return { ...process.env, ...(addon ? { NODE_LIBEVENT_ADDON: path.resolve(addon) } : {}), ...extra };
}

const all = documents.flatMap(blocksOf);
let tmp: string;

beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'nle-samples-'));
  // A consumer project: node-libevent is this package (its exports, dist/ and the addon).
  mkdirSync(path.join(tmp, 'node_modules'));
  symlinkSync(repo, path.join(tmp, 'node_modules', 'node-libevent'), 'dir');
  symlinkSync(path.join(repo, 'node_modules', '@types'), path.join(tmp, 'node_modules', '@types'), 'dir');
  writeFileSync(path.join(tmp, 'package.json'), JSON.stringify({ name: 'samples', private: true, type: 'module' }));
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe('documentation code blocks', () => {
  it('every fence names its language, and the unrun ones are the justified few', () => {
    expect(all.length).toBeGreaterThan(10);
    for (const b of all) expect(RUNNABLE.has(b.lang) || INERT.has(b.lang), `${where(b)}: fence language '${b.lang}'`).toBe(true);
    const noRun = all.filter((b) => b.tags.has('no-run')).map(firstLine);
    expect(noRun.sort()).toEqual(Object.keys(NOT_RUN).sort());
    for (const b of all) {
      if (b.lang !== 'ts' && b.lang !== 'js' && b.lang !== 'mjs' && b.lang !== 'cjs') continue;
      const known = [...b.tags.keys()].filter((t) => !['no-run', 'file', 'same-as', 'service', 'port', 'update'].includes(t));
      expect(known, `${where(b)}: unknown tags`).toEqual([]);
    }
  });

  it('blocks marked same-as are the repository file, verbatim', () => {
    const copies = all.filter((b) => b.tags.has('same-as'));
    expect(copies.length).toBeGreaterThan(0);
    for (const b of copies) expect(b.code, where(b)).toBe(readFileSync(path.join(repo, b.tags.get('same-as')!), 'utf8'));
  });

  it('the TypeScript samples, and the complete @example programs of the TSDoc, type-check against the package', () => {
    const dir = path.join(tmp, 'typecheck');
    mkdirSync(dir, { recursive: true });
    const files: string[] = [];
    // TSDoc examples that import the package are whole programs; the others are fragments.
    const examples = tsdocExamples().filter((e) => /^import /m.test(e.code));
    expect(examples.length, 'complete @example programs in lib/').toBeGreaterThan(5);
    for (const e of examples) {
      const name = `${e.file.replace(/\W/g, '_')}_${e.line}${/^export =|^import \w+ = require/m.test(e.code) ? '.cts' : '.mts'}`;
      writeFileSync(path.join(dir, name), e.code);
      files.push(name);
    }
    for (const b of all) {
      if (b.lang !== 'ts' || b.tags.has('no-run')) continue;
      const file = b.tags.get('file');
      // A .cts file keeps its extension (CommonJS); the programs are ES modules.
      const name = `${b.doc.replace(/\W/g, '_')}_${b.line}${file?.endsWith('.cts') ? '.cts' : '.mts'}`;
      writeFileSync(path.join(dir, name), b.code);
      files.push(name);
    }
    writeFileSync(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'es2022', lib: ['es2023', 'esnext.disposable'], module: 'nodenext', moduleResolution: 'nodenext',
          types: ['node'], strict: true, noEmit: true, skipLibCheck: true, isolatedModules: true,
        },
        files,
      }),
    );
    const program = ts.createProgram({
      rootNames: files.map((f) => path.join(dir, f)),
      options: ts.parseJsonConfigFileContent(JSON.parse(readFileSync(path.join(dir, 'tsconfig.json'), 'utf8')), ts.sys, dir).options,
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => {
      const pos = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
      return `${d.file ? path.basename(d.file.fileName) : '?'}:${pos ? pos.line + 1 : '?'}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
    expect(diagnostics).toEqual([]);
  }, 120_000);

  it('the complete @example programs of the TSDoc run (those that need no version files)', async () => {
    const dir = path.join(tmp, 'tsdoc');
    mkdirSync(dir, { recursive: true });
    const runnable = tsdocExamples().filter((e) => /^import /m.test(e.code) && !/versionsDir|require\(/.test(e.code));
    expect(runnable.length).toBeGreaterThan(5);
    for (const e of runnable) {
      const file = path.join(dir, `${e.file.replace(/\W/g, '_')}_${e.line}.mjs`);
      writeFileSync(file, ts.transpileModule(e.code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText);
      const out = await run(file, dir, childEnv());
      expect(out.stderr, `${e.file}:${e.line}`).toBe('');
      expect(out.code, `${e.file}:${e.line}\n${out.stdout}`).toBe(0);
    }
  }, 120_000);

  const isProgram = (b: Block) => RUNNABLE.has(b.lang) && !b.tags.has('no-run') && !b.tags.has('file') && !b.tags.has('same-as');
  // Documents without programs (design.md's diagram, relay.md's unrun commands) have nothing to run.
  describe.each(documents.filter((d) => all.some((b) => b.doc === d && isProgram(b))))('%s', (doc) => {
    const blocks = all.filter((b) => b.doc === doc);
    const programs = blocks.filter(isProgram);
    const dirOf = () => path.join(tmp, doc.replace(/\W/g, '_'));

    beforeAll(async () => {
      const dir = dirOf();
      mkdirSync(dir, { recursive: true });
      for (const b of blocks.filter((x) => x.tags.has('file'))) {
        const file = path.join(dir, b.tags.get('file')!);
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, b.code);
      }
      if (blocks.some((b) => b.tags.get('file') === 'tsconfig.json')) {
        const tsc = path.join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
        const out = await run(tsc, dir, childEnv(), 120_000).catch((e: unknown) => ({ code: 1, stdout: String(e), stderr: '' }));
        expect(out.code, `tsc -p ${doc}'s tsconfig.json:\n${out.stdout}${out.stderr}`).toBe(0);
      }
    }, 180_000);

    it.each(programs.map((b) => [`line ${b.line} (${b.lang}${b.tags.size ? ' ' + [...b.tags.keys()].join(' ') : ''})`, b] as const))('%s runs', async (_name, b) => {
      const dir = dirOf();
      const port = await freePort();
      const env = childEnv({ PORT: String(port) });
      let file: string;
      if (b.lang === 'sh') {
        file = path.join(dir, `sample-${b.line}.sh`);
        writeFileSync(file, b.code);
        const out = await new Promise<Ran>((resolve) =>
          execFile('bash', ['-e', file], { cwd: repo, env, timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, signal: null, stdout, stderr })),
        );
        expect(out.code, out.stderr).toBe(0);
        return;
      }
      const ext = b.lang === 'cjs' ? '.cjs' : '.mjs';
      const code = b.lang === 'ts' ? ts.transpileModule(b.code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText : b.code;
      file = path.join(dir, `sample-${b.line}${ext}`);
      writeFileSync(file, code);
      if (b.tags.has('service')) {
        const out = await runService(file, dir, env, b.tags.has('port') ? port : null, b.tags.get('update') ?? null);
        expect(out.aliveAfterStart, `${where(b)} stopped by itself:\n${out.stdout}\n${out.stderr}`).toBe(true);
        if (b.tags.has('port')) expect(out.reply, `${where(b)} answers on $PORT`).toBeTruthy();
        if (b.tags.has('update')) {
          expect(out.cli?.code, `${where(b)}: node-libevent update\n${out.cli?.stdout}${out.cli?.stderr}`).toBe(0);
          expect(out.cli?.stdout).toMatch(/^updated \S+ -> \S+ at point/m);
        }
        expect(out.stderr, where(b)).toBe('');
        expect(out.code === 0 || out.signal === 'SIGTERM', `${where(b)} ends on SIGTERM (code ${out.code}, signal ${out.signal})`).toBe(true);
        return;
      }
      const out = await run(file, dir, env);
      expect(out.stderr, `${where(b)} stderr`).toBe('');
      expect(out.code, `${where(b)} exit code\n${out.stdout}`).toBe(0);
    }, 60_000);
  });
});
