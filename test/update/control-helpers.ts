// Shared by the control-socket tests: a host serving a control socket in a private directory,
// and clients that talk to it the way operators' tools do.
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { EventBase } from '../../lib/index.js';
import { ControlServer, type ControlServerOptions, UpdateHost } from '../../lib/update/index.js';
import { versionsDir as fixtureDir } from './harness.js';

export interface Served {
  host: UpdateHost;
  control: ControlServer;
  socketPath: string;
  /** host.run(), settled only when the service stops. */
  running: Promise<0 | 1>;
  /** Whether host.run() has settled (it must not, while the service runs). */
  settled(): boolean;
  stop(): Promise<0 | 1>;
}

export async function serve(method: string, options: ControlServerOptions = {}, versionsDir = fixtureDir): Promise<Served> {
  const base = new EventBase({ method });
  const host = new UpdateHost({ base, versionsDir });
  await host.start('v0.cjs');
  const socketPath = path.join(mkdtempSync(path.join(os.tmpdir(), 'nle-ctl-')), 'update.sock');
  const control = new ControlServer(host, socketPath, options);
  let done = false;
  const running = host.run();
  running.then(
    () => (done = true),
    () => (done = true),
  );
  return {
    host,
    control,
    socketPath,
    running,
    settled: () => done,
    async stop() {
      control.close();
      host.base.loopexit();
      const r = await running;
      host.close();
      host.base.free();
      return r;
    },
  };
}

/** Sends `data` (then half-closes when asked) and resolves with everything the server sent back. */
export function ask(socketPath: string, data: string | Buffer, opts: { halfClose?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socketPath);
    const chunks: Buffer[] = [];
    s.on('connect', () => (opts.halfClose ? s.end(data) : s.write(data)));
    s.on('data', (c) => chunks.push(c));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

export async function askJson(socketPath: string, request: unknown): Promise<Record<string, any>> {
  return JSON.parse(await ask(socketPath, JSON.stringify(request) + '\n')) as Record<string, any>;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
