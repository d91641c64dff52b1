#!/usr/bin/env node
// Cost of the in-place callback rewrite over many pending events.
//
// Creates `--events` pending events on one base: timers with (far, distinct) timeouts, plus
// one persistent READ event per socketpair for 1% of them (capped by --max-pairs, because
// each pair costs two fds). Then, over --repeats timed repeats after --warmup untimed ones:
//   rewire  base.rewire(ev => fn): the whole call, map included, divided by the events
//   setter  ev.callback = fn for every event, the whole loop divided by the events
// Each repeat installs a different function than the one before, so every write is a change.
// With --expose-gc, a full collection runs before each timed repeat (outside the timing), so
// one repeat does not pay for the garbage of the previous one.
//
// Prints one JSON object with ns per event for each repeat.
import { parseArgs } from 'node:util';

import { COUNT, EV, EventBase, io, libeventVersion } from '../dist/index.js';

const { values: opt } = parseArgs({
  options: {
    events: { type: 'string', default: '10000' },
    method: { type: 'string', default: 'epoll' },
    repeats: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '3' },
    'max-pairs': { type: 'string', default: '1000' },
  },
});
const total = Number(opt.events);
const repeats = Number(opt.repeats);
const warmup = Number(opt.warmup);
const pairsWanted = Math.min(Math.floor(total / 100), Number(opt['max-pairs']));
if (!(total >= 1 && repeats >= 1 && warmup >= 0)) throw new Error('bad arguments');

const base = new EventBase({ method: opt.method });
const events = [];
const fds = [];
let fired = 0;
const original = () => {
  fired++;
};
for (let i = 0; i < pairsWanted; i++) {
  const [r, w] = io.socketpair();
  fds.push(r, w);
  events.push(base.event(r, EV.READ | EV.PERSIST, original).add());
}
for (let i = events.length; i < total; i++) {
  // 10 to 20 minutes out, spread so that the timer heap has distinct keys.
  events.push(base.timer(original).add(600_000 + (i % 600_000)));
}
const added = base.numEvents(COUNT.ADDED);
if (added !== total) throw new Error(`expected ${total} added events, libevent counts ${added}`);

// Distinct functions, one per repeat, so that each rewrite really changes the callback.
const makeFn = (k) => {
  const fn = () => {
    fired += k;
  };
  return fn;
};
const fnsFor = (count) => Array.from({ length: count }, (_, k) => makeFn(k + 1));

const gc = globalThis.gc;
const nsPerEvent = (t0, t1) => Number(t1 - t0) / total;

function timeRewire(fn) {
  if (gc) gc();
  const t0 = process.hrtime.bigint();
  const count = base.rewire(() => fn);
  const t1 = process.hrtime.bigint();
  if (count !== total) throw new Error(`rewire rewrote ${count} of ${total}`);
  return nsPerEvent(t0, t1);
}

function timeSetter(fn) {
  if (gc) gc();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < events.length; i++) events[i].callback = fn;
  const t1 = process.hrtime.bigint();
  return nsPerEvent(t0, t1);
}

const result = { impl: 'rewrite', method: base.method, events: total, ioEvents: pairsWanted, timers: total - pairsWanted };
const fns = fnsFor(2 * (warmup + repeats));
let k = 0;
const rewire = [];
const setter = [];
// Interleave the two so that drift (other load, heap growth) hits both alike.
for (let i = 0; i < warmup + repeats; i++) {
  const a = timeRewire(fns[k++]);
  const b = timeSetter(fns[k++]);
  if (i >= warmup) {
    rewire.push(a);
    setter.push(b);
  }
}

// Still pending, and the last callback installed is the one that runs.
const stillAdded = base.numEvents(COUNT.ADDED);
if (stillAdded !== total) throw new Error(`after rewriting, libevent counts ${stillAdded} added events`);
const last = fns[k - 1];
if (events[0].callback !== last) throw new Error('the last rewrite is not the visible callback');
fired = 0;
events[events.length - 1].active(EV.TIMEOUT);
base.loop(3); // ONCE | NONBLOCK
if (fired !== k) throw new Error(`the rewritten callback did not run (fired ${fired}, expected ${k})`);

const round = (x) => Math.round(x * 10) / 10;
result.rewireNsPerEvent = rewire.map(round);
result.setterNsPerEvent = setter.map(round);
result.gcBetweenRepeats = Boolean(gc);
result.libevent = libeventVersion();
result.node = process.version;
process.stdout.write(JSON.stringify(result) + '\n');

base.free();
for (const fd of fds) io.close(fd);
