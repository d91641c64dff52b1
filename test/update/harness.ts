// A load driver for the fixture service: TCP clients on the same base (owned by the host, so
// never rebound), sending a fixed number of bytes each and counting the echoes.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { EV, EventBase, io } from '../../lib/index.js';
import { UpdateHost, type UpdateReport } from '../../lib/update/index.js';

export const versionsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'service');
export const updateMethods = ['epoll', 'poll'] as const;

export type RanEntry = [handler: string, version: string, at: number];

export interface Traffic {
  sent: number[];
  received: number[];
  done(): boolean;
  close(): void;
}

/** `clients` connections, each sending `total` bytes in `chunk`-byte writes every `everyMs`. */
export function startTraffic(host: UpdateHost, port: number, clients: number, total: number, chunk = 16, everyMs = 1): Traffic {
  const base = host.base;
  const sent = new Array<number>(clients).fill(0);
  const received = new Array<number>(clients).fill(0);
  const fds: number[] = [];
  const payload = new Uint8Array(chunk).fill(7);
  const buf = new Uint8Array(4096);
  for (let i = 0; i < clients; i++) {
    const fd = io.connect('127.0.0.1', port);
    fds.push(fd);
    host.own(
      base.event(fd, EV.READ | EV.PERSIST, () => {
        for (let n = io.read(fd, buf); n > 0; n = io.read(fd, buf)) received[i]! += n;
      }),
    ).add();
  }
  const writer = host.own(
    base.timer(
      () => {
        let busy = false;
        for (let i = 0; i < clients; i++) {
          if (sent[i]! >= total) continue;
          busy = true;
          const n = io.write(fds[i]!, payload.subarray(0, Math.min(chunk, total - sent[i]!)));
          if (n > 0) sent[i]! += n;
        }
        if (!busy) writer.del();
      },
      { persist: true },
    ),
  );
  writer.add(everyMs);
  return {
    sent,
    received,
    done: () => received.every((r) => r === total),
    close() {
      if (!writer.freed) writer.free();
      for (const fd of fds) io.close(fd);
    },
  };
}

/** A host on a fresh base of `method`, started on v0 (or `first`). */
export async function startHost(method: string, first = 'v0.cjs', strategy?: UpdateHost['strategy']) {
  const base = new EventBase({ method });
  const host = new UpdateHost({ base, versionsDir, ...(strategy ? { strategy } : {}) });
  await host.start(first);
  const reports: UpdateReport[] = [];
  host.on('update', (r: UpdateReport) => reports.push(r));
  return { host, reports };
}

export function stateOf<T>(host: UpdateHost, key: string): T {
  return host.context!.store.get(key) as T;
}

/** Every live event of the service (not the host's own) runs a handler of the current version. */
export function allOnCurrentVersion(host: UpdateHost): boolean {
  const ctx = host.context!;
  return host.base._allEvents().every((ev) => host.isOwn(ev) || ctx.nameOfHandler.has(ev.callback));
}
