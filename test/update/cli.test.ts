// Issue 12, the CLI as an operator tool: readable output by default and --json, --dry-run
// (prepared, reported, discarded), status, the host's phase log streamed while an update runs,
// an exit status per failure kind, and the npx-in-the-checkout warning.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import { serve } from './control-helpers.js';
import { allOnCurrentVersion, stateOf, updateMethods, versionsDir } from './harness.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const cli = path.join(repo, 'bin', 'node-libevent.mjs');
const v = (file: string) => path.join(versionsDir, file);

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function callCli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { env: opts.env ?? process.env, cwd: opts.cwd ?? repo }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe.each(updateMethods)('node-libevent CLI on %s', (method) => {
  it('--dry-run prepares fully, reports what would happen, and leaves the running version untouched', async () => {
    const s = await serve(method);
    const pid = String(process.pid);
    const eventsBefore = s.host.base._allEvents();
    const callbacksBefore = eventsBefore.map((ev) => ev.callback);
    const statsBefore = stateOf(s.host, 'stats');

    const dry = await callCli(['update', pid, v('v1.cjs'), '--socket', s.socketPath, '--dry-run', '--json']);
    expect(dry.code).toBe(0);
    const report = JSON.parse(dry.stdout);
    expect(report).toMatchObject({ ok: true, dryRun: true, from: 'v0', to: 'v1', point: 'loop' });
    expect(report.eventsRewired).toBeGreaterThan(0);
    expect(report.stateItems).toBeGreaterThan(0);
    expect(report.handlers).toEqual(expect.arrayContaining([expect.objectContaining({ from: 'onAccept', to: 'onAccept' })]));
    // Untouched: same version, same events with the same callbacks, same state objects, no new events.
    expect(s.host.version).toBe('v0');
    expect(s.host.base._allEvents().filter((ev) => !s.host.isOwn(ev))).toEqual(eventsBefore.filter((ev) => !s.host.isOwn(ev)));
    expect(eventsBefore.map((ev) => ev.callback)).toEqual(callbacksBefore);
    expect(stateOf(s.host, 'stats')).toBe(statsBefore);
    expect(allOnCurrentVersion(s.host)).toBe(true);
    expect(s.host.status()).toMatchObject({ updates: 0, failedUpdates: 0, lastReport: undefined });

    // Readable by default, saying it was discarded.
    const text = await callCli(['update', pid, v('v1.cjs'), '--socket', s.socketPath, '--dry-run']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^dry run v0 -> v1 at point 'loop' \(inplace\): would go through; discarded, v0 still runs\n {2}events would be rebound: \d+ \(/);
    expect(s.host.version).toBe('v0');

    // A dry run of a version that fails in prepare: exit 1, the failure, nothing changed.
    const bad = await callCli(['update', pid, v('missing-handler.cjs'), '--socket', s.socketPath, '--dry-run']);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/FAILED in rewire\n {2}ERR_MISSING_HANDLER: /);
    expect(s.host.version).toBe('v0');

    // And the real update afterwards.
    const real = await callCli(['update', pid, v('v1.cjs'), '--socket', s.socketPath]);
    expect(real.code).toBe(0);
    expect(real.stdout).toMatch(/^updated v0 -> v1 at point 'loop' \(inplace\), paused [\d.]+ ms\n/);
    if (process.platform === 'linux') expect(real.stdout).toMatch(/\n {2}run-queue wait: \d+\.\d\d ms of the pause \(ready, another process on the CPU\)\n/);
    expect(s.host.version).toBe('v1');
    expect(allOnCurrentVersion(s.host)).toBe(true);
    expect(await s.stop()).toBe(0);
  });

  it("streams the host's phase log to stderr while the update runs; stdout holds only the report", async () => {
    const s = await serve(method);
    const r = await callCli(['update', String(process.pid), v('v1.cjs'), '--socket', s.socketPath, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, to: 'v1' });
    if (process.platform === 'linux') expect(JSON.parse(r.stdout).runQueueWaitMs).toBeGreaterThanOrEqual(0);
    expect(r.stderr).toMatch(/^host: update v0 -> v1: loaded v1\.cjs at point 'loop'$/m);
    expect(r.stderr).toMatch(/^host: update v0 -> v1: state ready \(\d+ items\)$/m);
    expect(r.stderr).toMatch(/^host: update v0 -> v1: done in [\d.]+ ms/m);
    expect(await s.stop()).toBe(0);
  });

  it('status <pid>: running version, uptime, updates done and failed, the last report', async () => {
    const s = await serve(method);
    const pid = String(process.pid);
    await callCli(['update', pid, v('v1.cjs'), '--socket', s.socketPath]);
    await callCli(['update', pid, v('init-throws.cjs'), '--socket', s.socketPath]);
    const json = await callCli(['status', pid, '--socket', s.socketPath, '--json']);
    expect(json.code).toBe(0);
    const st = JSON.parse(json.stdout);
    expect(st).toMatchObject({ ok: true, version: 'v1', pid: process.pid, updates: 1, failedUpdates: 1, strategy: 'inplace', lastReport: { ok: false, from: 'v1' } });
    expect(st.uptimeMs).toBeGreaterThanOrEqual(0);
    const text = await callCli(['status', pid, '--socket', s.socketPath]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^pid ${pid}: running v1 for \\d+s \\(strategy inplace\\)\\n {2}updates: 1 done, 1 failed;`));
    expect(text.stdout).toMatch(/last update: v1 -> .* failed in init/);
    expect(await s.stop()).toBe(0);
  });

  it('exit status per failure kind: 4 refused by the host, 1 failed in prepare, 2 bad usage', async () => {
    const s = await serve(method);
    const pid = String(process.pid);
    const outside = await callCli(['update', pid, cli, '--socket', s.socketPath]);
    expect(outside.code).toBe(4);
    expect(outside.stdout).toMatch(/REFUSED in request\n {2}ERR_OUTSIDE_VERSIONS_DIR/);
    const strategy = await callCli(['update', pid, v('v1.cjs'), '--socket', s.socketPath, '--strategy', 'sideways', '--json']);
    expect(strategy.code).toBe(4);
    expect(JSON.parse(strategy.stdout).error.code).toBe('ERR_UNKNOWN_STRATEGY');
    const failed = await callCli(['update', pid, v('init-throws.cjs'), '--socket', s.socketPath]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/FAILED in init/);
    expect((await callCli(['status', pid, 'extra', '--socket', s.socketPath])).code).toBe(2);
    expect((await callCli(['status', pid, '--dry-run'])).code).toBe(2);
    expect(s.host.version).toBe('v0');
    expect(await s.stop()).toBe(0);
  });
});

describe('node-libevent CLI without a working host', () => {
  it('exit status 5 when the host does not reply in time', async () => {
    // A socket this process serves (so the peer check passes) that never answers.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'nle-mute-'));
    const socketPath = path.join(dir, 'update.sock');
    const held: net.Socket[] = [];
    const server = net.createServer((c) => void held.push(c));
    await new Promise<void>((r) => server.listen(socketPath, r));
    const r = await callCli(['update', String(process.pid), v('v1.cjs'), '--socket', socketPath, '--timeout', '300']);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/no reply .* within 300 ms.*the outcome is unknown: ask 'node-libevent status/);
    for (const c of held) c.destroy();
    server.close();
  });

  it('--help documents every exit status, and help status exists', async () => {
    const r = await callCli(['update', '--help']);
    for (const n of ['0 done', '1 the version failed', '2 bad usage', '3 socket not trusted', '4 request refused', '5 no reply']) expect(r.stdout).toContain(n);
    expect((await callCli(['help', 'status'])).stdout).toMatch(/usage: node-libevent status <pid>/);
    expect((await callCli(['--help'])).stdout).toMatch(/--dry-run|status <pid>/);
  });

  it('warns when run through npx inside its own checkout, and not elsewhere', async () => {
    // Another cwd: a relative NODE_LIBEVENT_ADDON (the ASan and CMake runs set one) must still name the same file.
    const addon = process.env.NODE_LIBEVENT_ADDON;
    const env = { ...process.env, npm_command: 'exec', ...(addon ? { NODE_LIBEVENT_ADDON: path.resolve(addon) } : {}) };
    const inside = await callCli(['--help'], { env, cwd: path.join(repo, 'lib') });
    expect(inside.stderr).toMatch(/warning: run through npx inside node-libevent's own checkout/);
    const outside = await callCli(['--help'], { env, cwd: os.tmpdir() });
    expect(outside.stderr).not.toMatch(/warning/);
    const direct = await callCli(['--help'], { env: { ...env, npm_command: 'run-script' }, cwd: repo });
    expect(direct.stderr).not.toMatch(/warning/);
  });
});
