#!/usr/bin/env node
// Where the in-place rewire phase spends its time, per live event. The update host's rewire
// phase (UpdateReport.phases.rewire) is: plan (map each live event of the old version to the
// new version's handler, by name) + commit (base._rewireEvents). This times the parts that
// can be called on their own, on --events pending events of one base (1% persistent
// socketpair READ events, the rest timers with distinct 10-20 minute timeouts):
//   snapshot   base._allEvents(): the live events, as the host takes them before prepare
//   commit     base._rewireEvents(events, fns): slots, the native write, JS bookkeeping
//   native     the addon's baseRewire alone, on prepared arrays: check every record, then
//              write the callback and argument words of every struct event
// Median over --repeats after --warmup, a full GC before each (with --expose-gc).
// Prints one JSON object.
import { parseArgs } from 'node:util';

import { EV, EventBase, io } from '../dist/index.js';
import { binding } from '../dist/loop/native.js';

const { values: opt } = parseArgs({
  options: {
    events: { type: 'string', default: '10000' },
    method: { type: 'string', default: 'epoll' },
    repeats: { type: 'string', default: '21' },
    warmup: { type: 'string', default: '5' },
  },
});
const total = Number(opt.events);
const repeats = Number(opt.repeats);
const warmup = Number(opt.warmup);
const gc = globalThis.gc;

const base = new EventBase({ method: opt.method });
const fds = [];
const noop = () => {};
const pairs = Math.min(Math.floor(total / 100), 1000);
for (let i = 0; i < pairs; i++) {
  const [r, w] = io.socketpair();
  fds.push(r, w);
  base.event(r, EV.READ | EV.PERSIST, noop).add();
}
for (let i = pairs; i < total; i++) base.timer(noop).add(600_000 + (i % 600_000));

function time(fn) {
  const out = [];
  for (let k = 0; k < warmup + repeats; k++) {
    if (gc) gc();
    const t0 = process.hrtime.bigint();
    fn(k);
    const t1 = process.hrtime.bigint();
    if (k >= warmup) out.push(Number(t1 - t0) / total);
  }
  return out.map((x) => Math.round(x * 10) / 10);
}

const all = base._allEvents();
if (all.length !== total) throw new Error(`expected ${total} events, got ${all.length}`);
const fnSets = [0, 1].map(() => {
  const f = () => {};
  return all.map(() => f);
});
const snapshotNsPerEvent = time(() => base._allEvents());
const commitNsPerEvent = time((k) => base._rewireEvents(all, fnSets[k & 1]));
// The native part alone rewrites each event to the slot it has now (so the JS side stays
// consistent with the structs).
const handles = new Float64Array(all.map((ev) => ev._handle));
const sameSlots = new Uint32Array(all.length);
for (let k = 0; k < all.length; k++) sameSlots[k] = binding.eventStoredCallback(all[k]._handle)[1];
const nativeNsPerEvent = time(() => binding.baseRewire(base._handle, handles, sameSlots));

const result = { events: total, method: base.method, snapshotNsPerEvent, commitNsPerEvent, nativeNsPerEvent };
process.stdout.write(JSON.stringify(result) + '\n');
base.free();
for (const fd of fds) io.close(fd);
