#!/usr/bin/env node
// Where the in-place rewire phase spends its time, per live event, and what the previous path
// cost on the same events in the same process. --events pending events on one base (1%
// persistent socketpair READ events, the rest timers with distinct 10-20 minute timeouts), on
// three callbacks, as a service has a few handlers and many events.
//
// The update host's path (lib/update/prepare.ts, commit.ts), per handler:
//   census     base._callbackCensus(): per callback, how many live events run it (one native
//              pass over the records), taken before prepare
//   commit     base._rewireCallbacks(old -> new): one native pass rewriting every event of each
//              old callback's slot, then the JS bookkeeping per slot
//   native     the addon's baseRewireSlots alone (the commit without its JS part)
//   slotPath   census + mapping each callback + commit, timed as one (what the phase costs)
// The previous path, per event (what the host did before: list the events, map each in JS,
// count the report's handler pairs per event, commit the list):
//   perEvent   base._allEvents() + a Map lookup per event + base._rewireEvents(events, fns)
// Median over --repeats after --warmup, a full GC before each (with --expose-gc), so every
// call starts with cold caches, as an update after a collection does. Prints one JSON object.
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
const handlers = () => [() => {}, () => {}, () => {}];
const first = handlers();
const pairs = Math.min(Math.floor(total / 100), 1000);
for (let i = 0; i < pairs; i++) {
  const [r, w] = io.socketpair();
  fds.push(r, w);
  base.event(r, EV.READ | EV.PERSIST, first[i % 3]).add();
}
for (let i = pairs; i < total; i++) base.timer(first[i % 3]).add(600_000 + (i % 600_000));

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

if (base._allEvents().length !== total) throw new Error(`expected ${total} events`);
let current = first; // the functions the events run now
const nextMap = () => {
  const next = handlers();
  const map = new Map(current.map((fn, k) => [fn, next[k]]));
  current = next;
  return map;
};

const censusNsPerEvent = time(() => base._callbackCensus());
const commitNsPerEvent = time(() => base._rewireCallbacks(nextMap()));
const slotPathNsPerEvent = time(() => {
  const census = base._callbackCensus();
  const next = handlers();
  const map = new Map();
  for (const row of census) map.set(row.fn, next[current.indexOf(row.fn)]);
  current = next;
  base._rewireCallbacks(map);
});
const perEventNsPerEvent = time(() => {
  const map = nextMap();
  const events = [];
  const fns = [];
  const pairsSeen = new Map();
  for (const ev of base._allEvents()) {
    const fn = map.get(ev.callback);
    events.push(ev);
    fns.push(fn);
    pairsSeen.set(fn, (pairsSeen.get(fn) ?? 0) + 1); // the report's per-handler counts, per event
  }
  base._rewireEvents(events, fns);
});
// The native part alone: move every event from its slot to a spare one and back (two calls,
// halved), with the JS side left as it was in between.
const slotOf = (fn) => binding.eventStoredCallback(base._allEvents().find((ev) => ev.callback === fn)._handle)[1];
const olds = Uint32Array.from(current, slotOf);
const spare = Uint32Array.from(olds, (_, k) => Math.max(...olds) + 1 + k); // no dispatch runs in between
const nativeNsPerEvent = time(() => {
  binding.baseRewireSlots(base._handle, olds, spare);
  binding.baseRewireSlots(base._handle, spare, olds);
}).map((x) => Math.round(x * 5) / 10);

// Still consistent: every event is pending and runs the last functions installed.
if (!base._allEvents().every((ev) => ev.pending() !== 0 && current.includes(ev.callback))) throw new Error('events lost their state or callbacks');
const result = { events: total, method: base.method, censusNsPerEvent, commitNsPerEvent, nativeNsPerEvent, slotPathNsPerEvent, perEventNsPerEvent };
process.stdout.write(JSON.stringify(result) + '\n');
base.free();
for (const fd of fds) io.close(fd);
