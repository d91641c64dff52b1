// Cost of rebinding live bufferevents in an update: what the update host does for each one
// (rebind-buffered.ts: resolve its three callbacks by name during prepare, swap them at
// commit), on N live bufferevents (N/2 pairs) with named handlers. Prints one JSON line.
// Usage: node bench/buffered-rebind.mjs [N=10000] [runs=15]
import { EventBase } from '../dist/index.js';
import { UpdateContext } from '../dist/update/context.js';
import { commitBufferedRebind, planBufferedRebind, snapshotBuffered } from '../dist/update/rebind-buffered.js';

const n = Number(process.argv[2] ?? 10_000);
const runs = Number(process.argv[3] ?? 15);
const host = { base: undefined, mainloop: undefined, reachPoint() {} };
const version = (v) => {
  const ctx = new UpdateContext(host, v);
  const h = ctx.handlers({ onRead: (b) => b.input.drain(1e9), onWrite: () => {}, onEvent: () => {} });
  return { ctx, h, running: { module: { version: v, main() {} }, ctx } };
};

const base = new EventBase();
let current = version('v0');
for (let i = 0; i < n / 2; i++) {
  for (const b of base.bufferevent.pair()) b.setCallbacks({ read: current.h.onRead, write: current.h.onWrite, event: current.h.onEvent });
}
const times = [];
for (let r = 0; r < runs + 3; r++) {
  const next = version(`v${r + 1}`);
  const t0 = process.hrtime.bigint();
  const plan = planBufferedRebind(snapshotBuffered(base), current.running, next.ctx, next.running.module, 'inplace');
  const done = commitBufferedRebind(plan);
  const ns = Number(process.hrtime.bigint() - t0);
  if (done !== n) throw new Error(`rebound ${done} of ${n}`);
  if (r >= 3) times.push(ns / n); // three warm-up updates
  current = next;
}
const someBev = snapshotBuffered(base).bufferevents[0];
if (someBev.callbacks.read !== current.h.onRead) throw new Error('not rebound');
base.free();
console.log(JSON.stringify({ n, runs, nsPerBufferevent: times }));
