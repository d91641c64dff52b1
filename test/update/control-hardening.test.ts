// Issue 7, items 9-17: one bad line or client must never take the service down, and neither
// the server nor the CLI may trust a socket directory or a peer it does not own.
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';

import { EventBase, io } from '../../lib/index.js';
import { checkControlDir, ControlServer, controlSocketPath, UpdateHost } from '../../lib/update/index.js';
import { ask, askJson, serve, sleep } from './control-helpers.js';
import { updateMethods, versionsDir } from './harness.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.resolve(here, '..', '..', 'bin', 'node-libevent.mjs');
const execFileP = promisify(execFile);
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

async function callCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [cli, ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const v1 = path.join(versionsDir, 'v1.cjs');
const v0 = path.join(versionsDir, 'v0.cjs');

describe.each(updateMethods)('control socket survives bad clients on %s', (method) => {
  it('item 9: a request line that is JSON but not an object gets ERR_BAD_REQUEST, the service runs on', async () => {
    const s = await serve(method);
    for (const line of ['null', '[]', '42', '"v1.cjs"', 'true', '{"update": 5}', '{"update": "v1.cjs", "strategy": 7}', '{not json']) {
      const reply = await askJson(s.socketPath, line === '{not json' ? undefined : JSON.parse(line));
      expect(reply, line).toMatchObject({ ok: false, error: { code: 'ERR_BAD_REQUEST' } });
    }
    expect(s.settled()).toBe(false);
    expect(await askJson(s.socketPath, { update: v1 })).toMatchObject({ ok: true, to: 'v1' });
    expect(await s.stop()).toBe(0);
  });

  it('item 10: a client gone before its reply is dropped; no unhandled rejection, the service runs on', async () => {
    const s = await serve(method);
    const fd = io.connectUnix(s.socketPath);
    // The client vanishes at the update point, after the request was read, before the reply.
    s.host.once('point', () => io.close(fd));
    const reported = new Promise((r) => s.host.once('update', r));
    expect(io.write(fd, Buffer.from(JSON.stringify({ update: v1 }) + '\n'))).toBeGreaterThan(0);
    expect(await reported).toMatchObject({ ok: true, to: 'v1' });
    // The reply's write finds the client gone in a later loop pass: wait for that (2 s at
    // most), not a fixed 20 ms that a stalled process can spend before the pass runs.
    for (let i = 0; i < 200 && s.control.clients > 0; i++) await sleep(10);
    expect(s.settled()).toBe(false);
    expect(s.control.clients).toBe(0);
    expect(await askJson(s.socketPath, { update: v0 })).toMatchObject({ ok: true, to: 'v0' });
    expect(await s.stop()).toBe(0);
  });

  it('item 11: idle clients are dropped after idleMs and at most maxClients are served at once', async () => {
    const s = await serve(method, { idleMs: 150, maxClients: 4 });
    const fds = Array.from({ length: 10 }, () => io.connectUnix(s.socketPath));
    const closedAt = new Map<number, number>();
    const buf = new Uint8Array(16);
    const started = Date.now();
    let most = 0;
    while (closedAt.size < fds.length && Date.now() - started < 5000) {
      await sleep(10);
      most = Math.max(most, s.control.clients);
      for (const fd of fds) if (!closedAt.has(fd) && io.read(fd, buf) === 0) closedAt.set(fd, Date.now() - started);
    }
    expect(closedAt.size).toBe(10); // every idle client was dropped
    expect(most).toBeLessThanOrEqual(4);
    for (const fd of fds) io.close(fd);
    expect(s.settled()).toBe(false);
    expect(await askJson(s.socketPath, { update: v1 })).toMatchObject({ ok: true, to: 'v1' });
    expect(await s.stop()).toBe(0);
  });

  it('item 12: a request followed by a half-close is answered, every time, with or without the newline', async () => {
    const s = await serve(method);
    for (let i = 0; i < 6; i++) {
      const target = i % 2 === 0 ? v1 : v0;
      const line = JSON.stringify({ update: target }) + (i < 3 ? '\n' : '');
      const reply = JSON.parse(await ask(s.socketPath, line, { halfClose: true })) as Record<string, unknown>;
      expect(reply, `attempt ${i}`).toMatchObject({ ok: true, to: i % 2 === 0 ? 'v1' : 'v0' });
    }
    expect(await s.stop()).toBe(0);
  });

  it('item 16: a UTF-8 character split across two reads is decoded whole', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'nle-utf8-'));
    for (const f of ['echo-service.cjs', 'v0.cjs', 'v1.cjs']) copyFileSync(path.join(versionsDir, f), path.join(dir, f));
    copyFileSync(path.join(versionsDir, 'v1.cjs'), path.join(dir, 'vé€1.cjs'));
    const s = await serve(method, {}, dir);
    const target = path.join(s.host.versionsDir, 'vé€1.cjs');
    // Pad so that 'é' (2 bytes) starts at byte 4095: the server reads 4096 bytes at a time.
    const head = '{"pad":"';
    const tail = `","update":${JSON.stringify(target)}}`;
    const before = Buffer.byteLength(head) + Buffer.byteLength(tail.slice(0, tail.indexOf('é')));
    const line = head + 'x'.repeat(4095 - before) + tail;
    expect(Buffer.from(line).indexOf(Buffer.from('é'))).toBe(4095);
    expect(JSON.parse(await ask(s.socketPath, line + '\n'))).toMatchObject({ ok: true, to: 'v1' });
    expect(await s.stop()).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });

  it('item 17: a reply larger than the socket buffer arrives whole', async () => {
    const s = await serve(method);
    const reply = await ask(s.socketPath, JSON.stringify({ update: 'huge-error.cjs' }) + '\n');
    const report = JSON.parse(reply) as { ok: boolean; error: { code: string; message: string } };
    expect(report).toMatchObject({ ok: false, error: { code: 'ERR_VERSION_INIT' } });
    expect(report.error.message.length).toBeGreaterThan(1 << 20);
    expect(await askJson(s.socketPath, { update: v1 })).toMatchObject({ ok: true });
    expect(await s.stop()).toBe(0);
  });
});

describe.each(updateMethods)('control socket in exclusive mode on %s', (method) => {
  it('answers the CLI while host.dispatch() owns the thread (no microtask checkpoint needed)', async () => {
    const base = new EventBase({ method });
    const host = new UpdateHost({ base, versionsDir });
    await host.start('v0.cjs');
    const socketPath = path.join(mkdtempSync(path.join(os.tmpdir(), 'nle-excl-')), 'update.sock');
    const control = new ControlServer(host, socketPath);
    const child = spawn(process.execPath, [cli, 'update', String(process.pid), v1, '--socket', socketPath, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    // The CLI needs a moment to start; the loop ends once its connection is gone after the update.
    let updated = false;
    host.on('update', () => (updated = true));
    host.own(
      base.timer(
        () => {
          if (updated && control.clients === 0) base.loopexit();
        },
        { persist: true },
      ),
    ).add(20);
    host.own(base.timer(() => base.loopexit())).add(15_000); // a guard, far beyond the expected time
    expect(host.dispatch()).toBe(0);
    expect(updated).toBe(true);
    expect(await exited).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ ok: true, to: 'v1' });
    control.close();
    base.free();
  });
});

describe('item 11: running out of descriptors pauses the listener instead of ending the service', () => {
  it('a host under `ulimit -n 64` survives 100 connections and then serves a request', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'nle-emfile-'));
    const socketPath = path.join(dir, 'update.sock');
    const script = path.join(here, 'fixtures', 'emfile-host.mjs');
    const child = spawn('/bin/sh', ['-c', 'ulimit -n 64 && exec "$@"', 'sh', process.execPath, script, versionsDir, socketPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    for (let i = 0; i < 200 && !out.includes('ready'); i++) await sleep(25);
    expect(out).toContain('ready');
    const fds: number[] = [];
    // In batches smaller than the listen backlog, so that every connection gets through.
    for (let batch = 0; batch < 10; batch++) {
      for (let i = 0; i < 10; i++) fds.push(io.connectUnix(socketPath));
      await sleep(30);
    }
    await sleep(200);
    for (const fd of fds) io.close(fd);
    // While the listener rests its backlog may be full (connect says EAGAIN): a client retries.
    let reply = '';
    for (let attempt = 0; attempt < 40 && reply === ''; attempt++) {
      reply = await ask(socketPath, JSON.stringify({ update: v1 }) + '\n').catch(async (err: { code?: string }) => {
        if (err.code !== 'EAGAIN') throw err;
        await sleep(50);
        return '';
      });
    }
    expect(JSON.parse(reply)).toMatchObject({ ok: true, to: 'v1' });
    child.kill('SIGTERM');
    await exited;
    expect(out).not.toContain('run() rejected');
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('item 13: the server refuses socket directories it does not own', () => {
  const saved = { TMPDIR: process.env.TMPDIR, XDG: process.env.XDG_RUNTIME_DIR };
  afterEach(() => {
    if (saved.TMPDIR === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved.TMPDIR;
    if (saved.XDG === undefined) delete process.env.XDG_RUNTIME_DIR;
    else process.env.XDG_RUNTIME_DIR = saved.XDG;
  });
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  const newHost = () => new UpdateHost({ base: new EventBase(), versionsDir });

  it('a symlinked default directory is refused and its target left as it was', () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'nle-tmp-'));
    const victim = mkdtempSync(path.join(os.tmpdir(), 'nle-victim-'));
    chmodSync(victim, 0o755);
    symlinkSync(victim, path.join(tmp, `node-libevent-${uid}`));
    process.env.TMPDIR = tmp;
    delete process.env.XDG_RUNTIME_DIR;
    const host = newHost();
    expect(() => new ControlServer(host)).toThrow(expect.objectContaining({ code: 'ERR_CONTROL_DIR', message: expect.stringMatching(/symbolic link/) }));
    expect(statSync(victim).mode & 0o777).toBe(0o755);
    expect(readdirSync(victim)).toEqual([]);
    host.base.free();
  });

  it('a default directory open to others is refused, not chmodded', () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'nle-tmp-'));
    const dir = path.join(tmp, `node-libevent-${uid}`);
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    process.env.TMPDIR = tmp;
    delete process.env.XDG_RUNTIME_DIR;
    const host = newHost();
    expect(() => new ControlServer(host)).toThrow(expect.objectContaining({ code: 'ERR_CONTROL_DIR' }));
    expect(statSync(dir).mode & 0o777).toBe(0o755);
    host.base.free();
  });

  it.runIf(isRoot)('a directory owned by another user is refused (needs root to make one)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'nle-other-'));
    chownSync(dir, 12345, 12345);
    expect(() => checkControlDir(dir)).toThrow(expect.objectContaining({ code: 'ERR_CONTROL_DIR', message: expect.stringMatching(/belongs to uid 12345/) }));
    const host = newHost();
    expect(() => new ControlServer(host, path.join(dir, 'update.sock'))).toThrow(expect.objectContaining({ code: 'ERR_CONTROL_DIR' }));
    host.base.free();
  });

  it('refuses bad options before creating anything', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'nle-opts-'));
    const host = newHost();
    for (const options of [{ idleMs: 0 }, { maxClients: 1.5 }, { maxRequestBytes: -1 }, { idleMs: Number.NaN }]) {
      expect(() => new ControlServer(host, path.join(dir, 'update.sock'), options)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    }
    expect(readdirSync(dir)).toEqual([]);
    expect(host.base._allEvents()).toEqual([]);
    host.base.free();
  });

  it('prefers $XDG_RUNTIME_DIR and creates its node-libevent directory 0700', () => {
    const runtime = mkdtempSync(path.join(os.tmpdir(), 'nle-xdg-'));
    process.env.XDG_RUNTIME_DIR = runtime;
    expect(controlSocketPath(42)).toBe(path.join(runtime, 'node-libevent', 'update-42.sock'));
    const host = newHost();
    const control = new ControlServer(host);
    expect(control.path).toBe(path.join(runtime, 'node-libevent', `update-${process.pid}.sock`));
    expect(statSync(path.dirname(control.path)).mode & 0o777).toBe(0o700);
    control.close();
    // a runtime directory open to others is not used
    chmodSync(runtime, 0o755);
    expect(path.dirname(controlSocketPath(42))).not.toContain(runtime);
    host.base.free();
  });
});

describe('item 14: the CLI checks the directory and the peer before sending anything', () => {
  /** A process of its own listening on `socketPath` that answers every client with a forged report. */
  async function forger(socketPath: string) {
    const code = `
      const net = require('node:net');
      let got = 0;
      const srv = net.createServer((c) => { c.on('error', () => {}); c.on('data', (d) => (got += d.length)); c.end('{"ok":true,"from":"x","to":"forged"}\\n'); });
      srv.listen(process.argv[1], () => console.log('ready'));
      process.on('SIGTERM', () => { console.log('got ' + got); process.exit(0); });`;
    const child = spawn(process.execPath, ['-e', code, socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    const closed = new Promise((r) => child.on('close', r)); // 'close': its stdout is read to the end
    for (let i = 0; i < 200 && !out.includes('ready'); i++) await sleep(25);
    return {
      async stop(): Promise<string> {
        child.kill('SIGTERM');
        await closed;
        return out;
      },
    };
  }

  it('refuses a socket served by another process than the pid asked (exit 3) and sends it nothing', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'nle-forge-'));
    const socketPath = path.join(dir, 'update.sock');
    const f = await forger(socketPath);
    const r = await callCli(['update', String(process.pid), v1, '--socket', socketPath]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/not by process/);
    expect(await f.stop()).toContain('got 0');
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a socket directory open to others (exit 3)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'nle-open-'));
    const socketPath = path.join(dir, 'update.sock');
    const f = await forger(socketPath);
    chmodSync(dir, 0o777);
    const r = await callCli(['update', String(process.pid), v1, '--socket', socketPath]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(await f.stop()).toContain('got 0');
    rmSync(dir, { recursive: true, force: true });
  });

  it.runIf(isRoot)('refuses a directory planted by another user for a process of ours (exit 3; needs root)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'nle-planted-'));
    const socketPath = path.join(dir, 'update.sock');
    const f = await forger(socketPath);
    chownSync(dir, 12345, 12345);
    const r = await callCli(['update', String(process.pid), v1, '--socket', socketPath]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/belongs to uid 12345/);
    expect(await f.stop()).toContain('got 0');
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds the default socket of a host from its environment and updates it', async () => {
    const runtime = mkdtempSync(path.join(os.tmpdir(), 'nle-xdg-'));
    const saved = process.env.XDG_RUNTIME_DIR;
    process.env.XDG_RUNTIME_DIR = runtime; // /proc/<pid>/environ keeps the start-up value, so the CLI falls back to its own
    try {
      const base = new EventBase();
      const host = new UpdateHost({ base, versionsDir });
      await host.start('v0.cjs');
      const control = new ControlServer(host);
      const running = host.run();
      const env = { ...process.env, XDG_RUNTIME_DIR: runtime };
      const r = await new Promise<{ code: number | null; stdout: string }>((resolve) =>
        execFile(process.execPath, [cli, 'update', String(process.pid), v1, '--json'], { env }, (err, stdout) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout })),
      );
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, to: 'v1' });
      control.close();
      base.loopexit();
      await running;
      base.free();
    } finally {
      if (saved === undefined) delete process.env.XDG_RUNTIME_DIR;
      else process.env.XDG_RUNTIME_DIR = saved;
    }
  });

  it('--help and help update describe the commands', async () => {
    const top = await callCli(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/update <pid> <version-path>/);
    const sub = await callCli(['help', 'update']);
    expect(sub.stdout).toMatch(/--strategy/);
    expect((await callCli(['update', '--help'])).stdout).toMatch(/exit status/);
    expect((await callCli(['frobnicate'])).code).toBe(2);
  });
});

describe('item 15: io.listenUnix leaves the process umask alone', () => {
  it('files written by the thread pool during many listenUnix calls keep the umask mode', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'nle-umask-'));
    const mask = process.umask();
    const expected = 0o666 & ~mask;
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 2000; i++) writes.push(writeFile(path.join(dir, `f${i}`), 'x'));
    const sock = path.join(dir, 's.sock');
    for (let i = 0; i < 400; i++) {
      const fd = io.listenUnix(sock, 0o600);
      expect(statSync(sock).mode & 0o777).toBe(0o600);
      io.close(fd);
      rmSync(sock);
    }
    await Promise.all(writes);
    const wrong = readdirSync(dir).filter((f) => (statSync(path.join(dir, f)).mode & 0o777) !== expected);
    expect(wrong).toEqual([]);
    expect(process.umask()).toBe(mask);
    // no private bind directory is left behind
    expect(readdirSync(dir).filter((f) => f.startsWith('.nle-'))).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the mode asked for and refuses an existing path with EADDRINUSE', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'nle-mode-'));
    const sock = path.join(dir, 's.sock');
    const fd = io.listenUnix(sock, 0o660);
    expect(statSync(sock).mode & 0o777).toBe(0o660);
    expect(() => io.listenUnix(sock)).toThrow(expect.objectContaining({ code: 'EADDRINUSE' }));
    io.close(fd);
    writeFileSync(path.join(dir, 'plain'), '');
    expect(() => io.listenUnix(path.join(dir, 'no-such-dir', 's'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    // the private bind directory needs 14 bytes of sun_path next to the directory part
    const deep = path.join(dir, 'd'.repeat(100 - dir.length));
    expect(() => io.listenUnix(path.join(deep, 's'))).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    rmSync(dir, { recursive: true, force: true });
  });
});
