// Multi-base randomized fuzzer of the raw binding (issue 7, "Keep them from coming back").
// Usage: node fuzz-runner.cjs <addon> <seed> <ops>. Several bases on every backend at once,
// timers, I/O on socketpairs, signals with several deliveries, frees, releases, deletes and
// rewrites from inside callbacks, loop breaks and throws, fds closed through io.close() and
// behind the binding (fs.closeSync) with their numbers reused, and worker threads creating
// and freeing bases meanwhile; bufferevents, pairs, direct writes, read-on sizes and native
// relays among them (test/buffer/fuzz-ops.cjs), workers moving bytes through bufferevents
// too. Checked: nothing crashes (ASan/UBSan in CI), every error the addon throws has a
// `code`, no callback runs for a freed event, a retired callback slot or a freed bufferevent,
// and everything is released at the end. Seeded: the same seed replays the same run.
'use strict';
const fs = require('node:fs');
const { Worker } = require('node:worker_threads');

const [addon, seedArg, opsArg] = process.argv.slice(2);
const seed = Number(seedArg) >>> 0;
const totalOps = Number(opsArg);
const b = require(addon);

let state = seed || 1;
function rand() { // mulberry32
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (arr) => arr[Math.floor(rand() * arr.length)];
const chance = (p) => rand() < p;

const methods = b.supportedMethods().filter((m) => ['epoll', 'poll', 'select'].includes(m));
const SIGNALS = [process.binding ? require('node:os').constants.signals.SIGUSR1 : 10, require('node:os').constants.signals.SIGUSR2];
// Node's own SIGUSR1 starts the inspector: keep our handlers installed while signals fly.
process.on('SIGUSR1', () => {});
process.on('SIGUSR2', () => {});

const violations = [];
const codes = new Map();
const note = (err) => {
  if (err && err.message === 'fuzz-throw') return;
  const code = err && typeof err.code === 'string' ? err.code : null;
  if (!code) violations.push(`error without a code: ${err && err.stack}`);
  else codes.set(code, (codes.get(code) || 0) + 1);
};
const attempt = (fn) => { try { return fn(); } catch (err) { note(err); return undefined; } };

const bases = [];   // { h, method, freed }
const events = [];  // every event made: { h, base, slot, freed, fd, kind, at }
const live = [];    // the events not yet freed (swap-removed, `at` is the position)
const slots = new Map(); // slot -> event record (live slots only)
let nextSlot = 1;
const pairs = [];   // [a, b] socketpairs still open
const MAX_PAIRS = 600;
let depth = 0;
let fired = 0;

b.setDispatcher((slot, index, fd, what) => {
  fired++;
  const ev = slots.get(slot);
  if (!ev) { violations.push(`callback for retired slot ${slot} (event index ${index})`); return; }
  if (ev.freed) { violations.push(`callback for a freed event (slot ${slot})`); return; }
  if (depth > 2) return;
  depth++;
  try {
    const n = Math.floor(rand() * 3);
    for (let i = 0; i < n; i++) inCallback(ev);
  } finally {
    depth--;
  }
});

// The bases not yet freed, in creation order, kept as they change (filtering all bases ever
// made at every operation made a long run quadratic: 1 M operations took hours under ASan).
// Callbacks see the list as it was when the operation began, as with a fresh filter.
const alive = [];
let liveBaseList = [];
function liveBases() { return liveBaseList; }
function refreshBases() { liveBaseList = alive.slice(); }
function liveEvents() { return live; }

function newBase() {
  const method = pick(methods);
  const info = attempt(() => b.baseNew({ method, priorities: 1 + Math.floor(rand() * 3) }));
  if (info) { const x = { h: info.handle, method, freed: false }; bases.push(x); alive.push(x); }
}

function newEvent(base) {
  const slot = nextSlot++;
  const kind = pick(['timer', 'timer', 'io', 'io', 'signal']);
  let fd = -1, flags = 0;
  if (kind === 'io') {
    // At most MAX_PAIRS socketpairs open: enough to push fds past select's FD_SETSIZE, not
    // so many that a long run spends its time scanning thousands of fds at each base.
    if (pairs.length === 0 || (chance(0.2) && pairs.length < MAX_PAIRS)) { const p = attempt(() => b.io.socketpair()); if (p) pairs.push(p); }
    if (pairs.length === 0) return;
    fd = pick(pick(pairs));
    flags = pick([2, 4, 6]) | (chance(0.5) ? 0x10 : 0); // READ/WRITE, maybe PERSIST
  } else if (kind === 'signal') {
    fd = pick(SIGNALS);
    flags = 8 | (chance(0.8) ? 0x10 : 0);
  } else {
    flags = chance(0.5) ? 0x10 : 0;
  }
  const h = attempt(() => b.eventNew(base.h, fd, flags, slot));
  if (h === undefined) return;
  const ev = { h, base, slot, freed: false, fd, kind, at: live.length };
  events.push(ev);
  live.push(ev);
  slots.set(slot, ev);
}

function retire(ev) {
  if (ev.freed) return;
  ev.freed = true;
  slots.delete(ev.slot);
  const last = live.pop();
  if (last !== ev) { live[ev.at] = last; last.at = ev.at; }
}

function eventOp(ev) {
  switch (Math.floor(rand() * 9)) {
    case 0: case 1: attempt(() => b.eventAdd(ev.h, chance(0.3) ? undefined : chance(0.5) ? 0 : rand() * 3)); break;
    case 2: attempt(() => b.eventDel(ev.h)); break;
    case 3: attempt(() => b.eventActive(ev.h, pick([1, 2, 4, 8]))); break;
    case 4: if (attempt(() => (b.eventFree(ev.h), true))) retire(ev); break;
    case 5: attempt(() => b.eventRelease(ev.h)); retire(ev); break;
    case 6: {
      const slot = nextSlot++;
      if (attempt(() => (b.eventRewrite(ev.h, slot), true))) { slots.delete(ev.slot); ev.slot = slot; slots.set(slot, ev); }
      break;
    }
    case 7: attempt(() => b.eventPending(ev.h)); break;
    default: attempt(() => b.eventSetPriority(ev.h, Math.floor(rand() * 3)));
  }
}

function rewireMany(base) {
  const mine = [];
  for (let k = 0; k < 8 && live.length > 0; k++) { const e = pick(live); if (e.base === base && !mine.includes(e)) mine.push(e); }
  const handles = new Float64Array(mine.map((e) => e.h));
  const newSlots = new Uint32Array(mine.map(() => nextSlot++));
  if (attempt(() => (b.baseRewire(base.h, handles, newSlots), true))) {
    mine.forEach((e, k) => { slots.delete(e.slot); e.slot = newSlots[k]; slots.set(e.slot, e); });
  }
}

function inCallback(ev) {
  const r = rand();
  if (r < 0.15) { if (attempt(() => (b.eventFree(ev.h), true))) retire(ev); }
  else if (r < 0.25) attempt(() => b.eventDel(ev.h));
  else if (r < 0.35) attempt(() => b.eventActive(ev.h, 8));
  else if (r < 0.42) { if (attempt(() => (b.baseFree(ev.base.h), true))) freeBaseModel(ev.base); }
  else if (r < 0.47) attempt(() => b.baseLoopbreak(ev.base.h));
  else if (r < 0.5) throw new Error('fuzz-throw');
  else if (r < 0.6) rewireMany(ev.base);
  else if (r < 0.7) newEvent(ev.base);
  else if (r < 0.75) { attempt(() => b.baseRelease(ev.base.h)); freeBaseModel(ev.base); }
  else if (r < 0.8) { const other = pick(liveBases()); if (other) attempt(() => b.baseLoop(other.h, 3)); }
  else if (r < 0.85) buffered.inEventCallback(ev.base);
  else { const e = pick(liveEvents()); if (e) eventOp(e); }
}

function freeBaseModel(base) {
  if (base.freed) return;
  base.freed = true;
  buffered.baseFreed(base);
  alive.splice(alive.indexOf(base), 1);
  for (const e of live.slice()) if (e.base === base) retire(e);
}

function fdOp() {
  const r = rand();
  if (pairs.length === 0) return;
  const i = Math.floor(rand() * pairs.length);
  const [x, y] = pairs[i];
  if (r < 0.6) attempt(() => b.io.write(pick([x, y]), new Uint8Array(1 + Math.floor(rand() * 8))));
  else if (r < 0.8) { const buf = new Uint8Array(64); attempt(() => b.io.read(pick([x, y]), buf)); }
  else if (r < 0.92) { attempt(() => b.io.close(x)); attempt(() => b.io.close(y)); pairs.splice(i, 1); }
  else {
    // behind the binding's back, then the numbers are reused at once
    try { fs.closeSync(x); fs.closeSync(y); } catch {}
    pairs.splice(i, 1);
    const p = attempt(() => b.io.socketpair());
    if (p) pairs.push(p);
  }
}

const buffered = require('../buffer/fuzz-ops.cjs')({ b, rand, pick, chance, attempt, violations, pairs, liveBases, freeBaseModel });

const workers = new Set();
function spawnWorker() {
  if (workers.size >= 2) return;
  const w = new Worker(`
    const { workerData, parentPort } = require('node:worker_threads');
    const b = require(workerData.addon);
    b.setDispatcher(() => {});
    let n = 0;
    for (let i = 0; i < workerData.rounds; i++) {
      const h = b.baseNew({ method: b.supportedMethods()[i % b.supportedMethods().length] }).handle;
      const t = b.eventNew(h, -1, 0, 1);
      b.eventAdd(t, 0);
      // bytes through a bufferevent pair of sockets: the chain cache of this thread fills
      const [x, y] = b.io.socketpair();
      let bx, by;
      try {
        bx = b.buffered.bevNew(h, x, true, 6);
        by = b.buffered.bevNew(h, y, true, 6);
        b.buffered.bevSetMaxIo(by, 1 << 20, 0);
        b.buffered.bevWrite(bx, new Uint8Array(8192 + i * 1000));
        b.baseLoop(h, 3);
        if (i % 3) b.buffered.bevFree(bx);
      } catch (err) {
        if (err.code !== 'ERR_FD_SETSIZE') throw err; // select, with the parent's fds past 1023
        if (bx === undefined) b.io.close(x); // else its bufferevent closes it with the base
        b.io.close(y);
      }
      if (i % 2) b.baseFree(h);
      b.baseRelease(h);
      n++;
    }
    parentPort.postMessage(n);
  `, { eval: true, workerData: { addon, rounds: 50 + Math.floor(rand() * 100) } });
  workers.add(w);
  w.on('error', (err) => violations.push(`worker failed: ${err && err.stack}`));
  w.on('exit', () => workers.delete(w));
}

async function main() {
  for (let op = 0; op < totalOps; op++) {
    const r = rand();
    refreshBases();
    const liveB = liveBases();
    if (liveB.length < 2 || (r < 0.01 && liveB.length < 6)) newBase();
    else if (r < 0.015) { const x = pick(liveB); if (attempt(() => (b.baseFree(x.h), true))) freeBaseModel(x); attempt(() => b.baseRelease(x.h)); }
    else if (r < 0.02) { const x = pick(liveB); attempt(() => b.baseRelease(x.h)); freeBaseModel(x); }
    else if (r < 0.25) newEvent(pick(liveB));
    else if (r < 0.55) { const e = pick(liveEvents()); if (e) eventOp(e); }
    else if (r < 0.7) fdOp();
    else if (r < 0.72) { const n = 1 + Math.floor(rand() * 3); for (let k = 0; k < n; k++) process.kill(process.pid, pick(SIGNALS)); }
    else if (r < 0.73) rewireMany(pick(liveB));
    else if (r < 0.8) buffered.step();
    else { const x = pick(liveB); attempt(() => b.baseLoop(x.h, chance(0.5) ? 2 : 3)); }
    if (op % 20000 === 19999) { spawnWorker(); await new Promise((resolve) => setImmediate(resolve)); }
    if (violations.length > 0) break;
  }
  for (const x of bases) if (!x.freed) { attempt(() => b.baseFree(x.h)); }
  for (const e of events) attempt(() => b.eventRelease(e.h));
  for (const x of bases) attempt(() => b.baseRelease(x.h));
  for (const [x, y] of pairs) { attempt(() => b.io.close(x)); attempt(() => b.io.close(y)); }
  while (workers.size > 0) await new Promise((resolve) => setTimeout(resolve, 10));
  const stats = b.stats();
  if (stats.liveEvents !== 0 || stats.liveBases !== 0) violations.push(`left alive at the end: ${JSON.stringify(stats)}`);
  const bufferedSummary = buffered.finish();
  const bs = buffered.stats();
  if (bs.bufferevents || bs.evbuffers || bs.listeners || bs.groups) violations.push(`buffered objects left alive at the end: ${JSON.stringify(bs)}`);
  console.log(JSON.stringify({ seed, ops: totalOps, fired, ...bufferedSummary, bases: bases.length, events: events.length, codes: Object.fromEntries(codes), violations: violations.slice(0, 5) }));
  process.exitCode = violations.length > 0 ? 1 : 0;
}
main();
