// Issue 12: examples/live-update/README.md runs as written. The test takes the README's shell
// block verbatim, runs it with bash from the repository root (stdin closed, PORT set to a free
// port so parallel runs do not collide) and checks each client line against the answer its
// comment promises, the CLI's reports, and that the host is gone afterwards with its socket.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import { EventBase, io } from '../../lib/index.js';
import { UpdateHost } from '../../lib/update/index.js';
import { updateMethods } from './harness.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const readme = readFileSync(path.join(repo, 'examples', 'live-update', 'README.md'), 'utf8');

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

describe('examples/live-update/README.md', () => {
  it('its commands run verbatim and print what the comments say', async () => {
    const block = /```sh\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block, 'the README has a sh block').toBeTruthy();
    expect(existsSync(path.join(repo, 'examples', 'live-update', 'versions', 'v3.cjs')), 'versions/v3.cjs is built by npm run build').toBe(true);
    const port = await freePort();
    const out = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = execFile('bash', ['-e', '-c', block!], { cwd: repo, env: { ...process.env, PORT: String(port) }, timeout: 60_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
      child.stdin?.end(); // stdin closed: the host must not need it
    });
    expect(out.code, out.stderr).toBe(0);
    const lines = out.stdout.split('\n');
    // Every client command's comment is the exact answer it must print.
    const promised = [...block!.matchAll(/client\.mjs \w+ +# (.*)$/gm)].map((m) => m[1]!.trim());
    expect(promised).toHaveLength(3);
    for (const answer of promised) expect(lines).toContain(answer);
    expect(out.stdout).toMatch(/^dry run v1 -> v2 at point 'loop' \(inplace\): would go through; discarded, v1 still runs$/m);
    expect(out.stdout).toMatch(/^ {2}events would be rebound: 1 \(onAccept 1\)$/m);
    expect(out.stdout).toMatch(/^host: dry run to v2 would go through; still v1$/m);
    expect(out.stdout).toMatch(/^updated v1 -> v2 at point 'loop'/m);
    expect(out.stdout).toMatch(/^updated v2 -> v3 at point 'loop'/m);
    expect(out.stdout).toMatch(/^ {2}updates: 2 done, 0 failed;/m);
    expect(out.stderr).toMatch(/^host: update v1 -> v2: state ready/m);
    const pid = Number(/^pid (\d+): running v3 for/m.exec(out.stdout)?.[1]);
    const socket = /control socket (\S+)$/m.exec(out.stdout)?.[1];
    expect(pid).toBeGreaterThan(0);
    // kill sent SIGTERM: the host ends and removes its control socket.
    for (let i = 0; i < 100 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(socket && existsSync(socket)).toBe(false);
  });
});

/** The first ```js block after `marker` in `doc`. */
function jsBlockAfter(doc: string, marker: string): string {
  const at = doc.indexOf(marker);
  expect(at, `marker ${marker}`).toBeGreaterThanOrEqual(0);
  return /```js[^\n]*\n([\s\S]*?)```/.exec(doc.slice(at))![1]!;
}

describe.each(updateMethods)('the version samples of README.md and docs/update.md, verbatim, on %s', (method) => {
  it("README's versions/v1.cjs serves TCP and counts bytes (no fd 0)", async () => {
    const code = jsBlockAfter(readFileSync(path.join(repo, 'README.md'), 'utf8'), '## Live update');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'nle-readme-'));
    writeFileSync(path.join(dir, 'v1.cjs'), code);
    const port = await freePort();
    const saved = process.env.PORT;
    process.env.PORT = String(port);
    const host = new UpdateHost({ base: new EventBase({ method }), versionsDir: dir });
    try {
      await host.start('v1.cjs');
      const running = host.run();
      const reply = await new Promise<string>((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1', () => s.write('hello\n'));
        s.on('data', (d) => (resolve(String(d)), s.end()));
        s.on('error', reject);
      });
      expect(reply).toBe('v1: 6 bytes\n');
      host.close();
      expect(await running).toBe(0);
    } finally {
      if (saved === undefined) delete process.env.PORT;
      else process.env.PORT = saved;
      for (const ev of host.base._allEvents()) if (ev.fd >= 0 && !ev.freed) io.close(ev.fd);
      host.base.free();
    }
  });

  it("docs/update.md's version sample counts heartbeats (no NaN) and updates to itself", async () => {
    const code = jsBlockAfter(readFileSync(path.join(repo, 'docs', 'update.md'), 'utf8'), '## The model');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'nle-doc-'));
    // v1 of the sample's service had `stats` without `beats`: the transform must cope.
    writeFileSync(path.join(dir, 'v1.cjs'), "exports.version = 'v1';\nexports.main = (ctx) => { ctx.state('stats', () => ({ bytes: 0 })); const h = ctx.handlers({ onTick() {} }); if (!ctx.isUpdating()) ctx.base.timer(h.onTick, { persist: true }).add(1000); };\n");
    writeFileSync(path.join(dir, 'v2.cjs'), code);
    const host = new UpdateHost({ base: new EventBase({ method }), versionsDir: dir });
    await host.start('v1.cjs');
    expect(await host.requestUpdate('v2.cjs')).toMatchObject({ ok: true, to: 'v2', handlers: [{ from: 'onTick', to: 'onHeartbeat', events: 1 }] });
    const stats = () => host.context!.store.get('stats') as { bytes: number; beats: number };
    expect(stats()).toMatchObject({ bytes: 0, beats: 0, since: 'v1' });
    const timer = host.base._allEvents().find((ev) => !host.isOwn(ev))!;
    timer.callback(timer.fd, 1, timer); // one heartbeat, run as libevent would run it
    expect(stats().beats).toBe(1);
    expect(await host.requestUpdate('v2.cjs')).toMatchObject({ ok: true, from: 'v2', to: 'v2' });
    expect(stats().beats).toBe(1);
    host.close();
    host.base.free();
  });
});
