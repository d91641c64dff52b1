// Update requests from outside the process: the CLI talks to the host's owner-only control
// socket while the service keeps running.
import { execFile } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

import { EventBase } from '../../lib/index.js';
import { ControlServer, UpdateHost } from '../../lib/update/index.js';
import { updateMethods, versionsDir } from './harness.js';

const run = promisify(execFile);
const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'node-libevent.mjs');

async function callCli(args: string[]): Promise<{ code: number; report: Record<string, unknown> }> {
  try {
    const { stdout } = await run(process.execPath, [cli, ...args, '--json']);
    return { code: 0, report: JSON.parse(stdout) as Record<string, unknown> };
  } catch (err) {
    const e = err as { code: number; stdout: string };
    return { code: e.code, report: e.stdout ? (JSON.parse(e.stdout) as Record<string, unknown>) : {} };
  }
}

describe.each(updateMethods)('control socket on %s', (method) => {
  it('serves `node-libevent update <pid> <path>` while the service runs, and refuses paths outside versionsDir', async () => {
    const base = new EventBase({ method });
    const host = new UpdateHost({ base, versionsDir });
    await host.start('v0.cjs');
    const socketPath = path.join(mkdtempSync(path.join(os.tmpdir(), 'nle-ctl-')), 'update.sock');
    const control = new ControlServer(host, socketPath);
    expect(statSync(socketPath).mode & 0o777).toBe(0o600);

    const running = host.run(); // cooperative: the CLI is a child process talking over the socket
    const good = await callCli(['update', String(process.pid), path.join(versionsDir, 'v1.cjs'), '--socket', socketPath]);
    expect(good.code).toBe(0);
    expect(good.report).toMatchObject({ ok: true, from: 'v0', to: 'v1', strategy: 'inplace' });
    expect(host.version).toBe('v1');

    const outside = await callCli(['update', String(process.pid), cli, '--socket', socketPath]);
    expect(outside.code).toBe(4); // refused by the host before trying
    expect(outside.report).toMatchObject({ ok: false, error: { code: 'ERR_OUTSIDE_VERSIONS_DIR' } });
    expect(host.version).toBe('v1');

    const nobody = await callCli(['update', '1', path.join(versionsDir, 'v2.cjs'), '--socket', socketPath + '.none']);
    expect(nobody.code).toBe(2);

    control.close();
    host.base.loopexit();
    expect(await running).toBe(0);
    host.base.free();
  });

  it('uses a per-user directory by default', () => {
    const base = new EventBase({ method });
    const host = new UpdateHost({ base, versionsDir });
    const control = new ControlServer(host);
    expect(control.path).toContain(`update-${process.pid}.sock`);
    expect(statSync(path.dirname(control.path)).mode & 0o777).toBe(0o700);
    control.close();
    base.free();
  });
});
