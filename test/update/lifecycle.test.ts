// Issue 12: UpdateHost and ControlServer close with `using`, the host's log reaches 'log'
// listeners, and a control socket never outlives its process (removed on close, at exit, on
// SIGTERM/SIGINT; stale ones of dead processes removed when a server starts).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

import { EventBase, io } from '../../lib/index.js';
import { ControlServer, UpdateHost } from '../../lib/update/index.js';
import { sleep } from './control-helpers.js';
import { updateMethods, versionsDir } from './harness.js';

const here = path.dirname(fileURLToPath(import.meta.url));

describe.each(updateMethods)('lifecycle on %s', (method) => {
  const savedXdg = process.env.XDG_RUNTIME_DIR;
  afterEach(() => {
    if (savedXdg === undefined) delete process.env.XDG_RUNTIME_DIR;
    else process.env.XDG_RUNTIME_DIR = savedXdg;
  });

  it("emits each log line as 'log', and `using` closes host and control server", async () => {
    const lines: string[] = [];
    const base = new EventBase({ method });
    const socketPath = path.join(mkdtempSync(path.join(os.tmpdir(), 'nle-using-')), 'update.sock');
    let outer: UpdateHost;
    {
      using host = new UpdateHost({ base, versionsDir });
      outer = host;
      host.on('log', (line) => lines.push(line));
      await host.start('v0.cjs');
      {
        using control = new ControlServer(host, socketPath);
        expect(existsSync(control.path)).toBe(true);
      }
      expect(existsSync(socketPath)).toBe(false);
      expect((await host.requestUpdate('v1.cjs')).ok).toBe(true);
    }
    expect(lines[0]).toBe('start v0');
    expect(lines.at(-1)).toMatch(/^update v0 -> v1: done/);
    // closed by `using`: no version runs, and requests are refused
    expect(outer.context).toBeUndefined();
    expect(await outer.requestUpdate('v1.cjs')).toMatchObject({ ok: false, error: { code: 'ERR_NOT_STARTED' } });
    base.free();
  });

  it('removes stale sockets of dead processes from the default directory at start, keeps live ones', async () => {
    const runtime = mkdtempSync(path.join(os.tmpdir(), 'nle-stale-'));
    process.env.XDG_RUNTIME_DIR = runtime;
    const dir = path.join(runtime, 'node-libevent');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(dead.stdout);
    const base = new EventBase({ method });
    const host = new UpdateHost({ base, versionsDir });
    const first = new ControlServer(host); // makes the directory
    first.close();
    const stale = path.join(dir, `update-${deadPid}.sock`);
    io.close(io.listenUnix(stale)); // a socket file with nobody behind it, as a killed host leaves
    const live = path.join(dir, `update-${process.ppid}.sock`);
    io.close(io.listenUnix(live));
    const control = new ControlServer(host);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(live)).toBe(true);
    control.close();
    base.free();
    rmSync(runtime, { recursive: true, force: true });
  });
});

describe('the socket file goes with its process', () => {
  it('a host in host.dispatch() still ends on SIGTERM (its stale socket is removed by the next server)', async () => {
    const runtime = mkdtempSync(path.join(os.tmpdir(), 'nle-sig-'));
    const child = spawn(process.execPath, [path.join(here, 'fixtures', 'signal-host.mjs'), versionsDir, 'dispatch'], {
      env: { ...process.env, XDG_RUNTIME_DIR: runtime },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    const exited = new Promise<[number | null, string | null]>((r) => child.on('exit', (code, signal) => r([code, signal])));
    for (let i = 0; i < 200 && !out.includes('socket '); i++) await sleep(25);
    const socketPath = /socket (\S+)/.exec(out)?.[1];
    expect(socketPath).toBeDefined();
    await sleep(50); // inside dispatch() by now
    child.kill('SIGTERM');
    const timeout = sleep(5000).then(() => 'still running');
    expect(await Promise.race([exited, timeout])).toEqual([null, 'SIGTERM']);
    const saved = process.env.XDG_RUNTIME_DIR;
    process.env.XDG_RUNTIME_DIR = runtime;
    try {
      const base = new EventBase();
      const control = new ControlServer(new UpdateHost({ base, versionsDir }));
      expect(existsSync(socketPath!)).toBe(false);
      control.close();
      base.free();
    } finally {
      if (saved === undefined) delete process.env.XDG_RUNTIME_DIR;
      else process.env.XDG_RUNTIME_DIR = saved;
    }
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(runtime, { recursive: true, force: true });
  });

  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    it(`on ${sig} the host removes its socket and still ends by the signal`, async () => {
      const runtime = mkdtempSync(path.join(os.tmpdir(), 'nle-sig-'));
      const child = spawn(process.execPath, [path.join(here, 'fixtures', 'signal-host.mjs'), versionsDir], {
        env: { ...process.env, XDG_RUNTIME_DIR: runtime },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (c) => (out += c));
      const exited = new Promise<[number | null, string | null]>((r) => child.on('exit', (code, signal) => r([code, signal])));
      for (let i = 0; i < 200 && !out.includes('socket '); i++) await sleep(25);
      const socketPath = /socket (\S+)/.exec(out)?.[1];
      expect(socketPath).toBe(path.join(runtime, 'node-libevent', `update-${child.pid}.sock`));
      expect(existsSync(socketPath!)).toBe(true);
      child.kill(sig);
      expect(await exited).toEqual([null, sig]);
      expect(existsSync(socketPath!)).toBe(false);
      rmSync(runtime, { recursive: true, force: true });
    });
  }
});
