#!/usr/bin/env node
// Pause time of a live update: from the update point being reached to the loop resuming
// (UpdateReport.pauseMs), and its phases (UpdateReport.phases), for one configuration per
// process. bench/run-update.mjs runs the matrix and writes the report.
//
// --scenario mixed (default): the service bench/versions/pause-{a,b}.cjs with --events live
//   events: --pairs socketpair READ|PERSIST events with 10-20 minute timeouts, one SIGUSR2
//   signal event, persistent timers (every --persist-every-th of the rest) and one-shot
//   timers. Before each update, --active of the socket events are made active with
//   ev.active(EV.READ) and --written of them get one byte, so the update happens with
//   activations queued and data waiting.
// --scenario clients: the echo service bench/versions/echo-{a,b}.cjs (fixture-shaped: listener,
//   heartbeat, deadline) with --clients loopback TCP connections carrying closed-loop traffic
//   (each client sends --msg bytes and waits for the echo before sending again) while updates
//   happen. --clients 0 is the idle server. Also records the round-trip times the clients
//   see, and the longest round trip that spanned an update.
//
// Both run the real host loop (host.dispatch()); a host-owned persistent timer asks for the
// next update (a -> b -> a ...) every --every ms, and the update happens at the loop-top
// update point. --warmup updates are made first and not reported; then --repeats. With
// --expose-gc (and without --no-gc) a full collection runs just before each request (outside
// the pause), so one update does not pay for the garbage of the previous one.
//
// Prints one JSON object on the last line of stdout.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { COUNT, EV, EventBase, io, libeventVersion } from '../dist/index.js';
import { UpdateHost } from '../dist/update/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const versionsDir = path.join(here, 'versions');

const { values: opt } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'mixed' },
    method: { type: 'string', default: 'epoll' },
    strategy: { type: 'string', default: 'inplace' },
    events: { type: 'string', default: '10000' },
    pairs: { type: 'string', default: '1000' },
    'persist-every': { type: 'string', default: '10' },
    active: { type: 'string', default: '100' },
    written: { type: 'string', default: '10' },
    clients: { type: 'string', default: '100' },
    msg: { type: 'string', default: '64' },
    repeats: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '5' },
    every: { type: 'string', default: '5' },
    'no-gc': { type: 'boolean', default: false },
  },
});

const num = (k) => {
  const v = Number(opt[k]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${k}: bad value ${opt[k]}`);
  return v;
};
const repeats = num('repeats');
const warmup = num('warmup');
const every = num('every');
const gc = opt['no-gc'] ? undefined : globalThis.gc;

const base = new EventBase({ method: opt.method });
const host = new UpdateHost({ base, versionsDir, strategy: opt.strategy });
const prefix = opt.scenario === 'clients' ? 'echo' : 'pause';
const versionFile = (k) => `${prefix}-${k % 2 === 0 ? 'b' : 'a'}.cjs`; // start on a; k-th update goes to b, a, b...

const reports = [];
let updateWindow = null; // [reached, resumed] of the last update, for the clients' round trips
host.on('update', (r) => {
  const end = performance.now();
  updateWindow = [end - r.pauseMs, end];
  reports.push(r);
});

/** Runs the host loop, calling `before(k)` and then requesting update k, until all are done. */
function driveUpdates(before, after) {
  const total = warmup + repeats;
  let requested = 0;
  let done = 0;
  // The report arrives through the 'update' event, synchronously at the update point
  // (promise callbacks do not run while dispatch() holds the thread).
  const onUpdate = (r) => {
    done++;
    if (!r.ok) throw new Error(`update to ${r.to} failed in ${r.error?.phase}: ${r.error?.message}`);
  };
  host.on('update', onUpdate);
  // A one-shot timer re-armed from its own callback, not a persistent one: the re-add
  // strategies turn a persistent timer's period into the time it had left, and when that is 0
  // (the timer was due when the update happened) libevent never re-arms it.
  const driver = host.own(
    host.base.timer(() => {
      driver.add(every);
      if (done < requested) return; // still waiting for the update point
      if (requested > 0) after(requested - 1);
      if (requested === total) {
        host.base.loopbreak();
        return;
      }
      before(requested);
      if (gc) gc();
      void host.requestUpdate(versionFile(requested++));
    }),
  ).add(every);
  host.dispatch();
  host.off('update', onUpdate);
  driver.free();
}

const phasesOf = (r) => r.phases;
const round3 = (x) => Math.round(x * 1000) / 1000;

function summarizeReports(list, events) {
  return list.map((r) => ({
    pauseMs: round3(r.pauseMs),
    phases: Object.fromEntries(Object.entries(phasesOf(r)).map(([k, v]) => [k, round3(v)])),
    eventsRewired: r.eventsRewired,
    rewireNsPerEvent: Math.round((r.phases.rewire * 1e6) / events),
    to: r.to,
  }));
}

async function mixed() {
  const events = num('events');
  const shape = { events, pairs: Math.min(num('pairs'), events - 1), persistEvery: num('persist-every') };
  globalThis.__nleBenchService = shape;
  await host.start('pause-a.cjs');
  delete globalThis.__nleBenchService;
  const store = host.context.store;
  const evs = store.get('events');
  const ran = store.get('ran');
  // libevent counts queue memberships: an fd event with a timeout counts twice.
  const added = host.base.numEvents(COUNT.ADDED);
  if (added !== events + shape.pairs) throw new Error(`expected ${events + shape.pairs} added memberships, libevent counts ${added}`);

  // Disjoint sets: sockets with data waiting, and sockets with only a queued activation.
  const nWritten = Math.min(num('written'), evs.pairs.length);
  const nActive = Math.min(num('active'), evs.socket.length - nWritten);
  const one = new Uint8Array(1).fill(1);
  let rot = 0;
  const activations = []; // per update: activations queued, and how many ran on the new code
  let emptyBefore = 0;
  const emptyOf = (v) => ran[v]?.empty ?? 0;
  let target = '';
  driveUpdates(
    (k) => {
      target = versionFile(k).replace('.cjs', '');
      emptyBefore = emptyOf(target);
      // Data waiting on a few sockets, and activations queued on others (they stay queued:
      // requestUpdate breaks the loop right after this callback).
      for (let i = 0; i < nWritten; i++) io.write(evs.pairs[(rot + i) % evs.pairs.length][1], one);
      for (let i = 0; i < nActive; i++) evs.socket[(rot + nWritten + i) % evs.socket.length].active(EV.READ);
      rot = (rot + nWritten + nActive) % Math.max(evs.socket.length, 1);
    },
    () => {
      activations.push(emptyOf(target) - emptyBefore);
    },
  );

  // After the last update: every service event runs the current version's code, and libevent
  // still counts every event as added (the driver timer was freed).
  const ctx = host.context;
  const stale = host.base._allEvents().filter((ev) => !host.isOwn(ev) && !ctx.nameOfHandler.has(ev.callback)).length;
  if (stale) throw new Error(`${stale} events still run an old version's handler`);
  const addedAfter = host.base.numEvents(COUNT.ADDED);
  if (addedAfter !== added) throw new Error(`libevent counted ${added} added memberships before the updates and ${addedAfter} after`);
  const timed = reports.slice(warmup);
  return {
    shape,
    active: nActive,
    written: nWritten,
    addedAfter,
    reports: summarizeReports(timed, events),
    // Activations queued just before each update that then ran on the new version's code
    // (in place: all of them; the event_del strategies drop them).
    activationsKept: activations.slice(warmup),
    cleanup: () => {
      for (const fd of evs.fds) io.close(fd);
    },
  };
}

async function clients() {
  const nClients = num('clients');
  const msg = new Uint8Array(num('msg')).fill(7);
  await host.start('echo-a.cjs');
  const { port } = host.context.store.get('listener');
  const fds = [];
  const rtts = []; // every round trip, ms
  const spanning = []; // per update: the longest round trip in flight while it happened
  const sentAt = new Float64Array(nClients);
  const got = new Uint32Array(nClients);
  const buf = new Uint8Array(4096);
  let roundTrips = 0;
  for (let i = 0; i < nClients; i++) {
    const fd = io.connect('127.0.0.1', port);
    fds.push(fd);
    host.own(
      host.base.event(fd, EV.READ | EV.PERSIST, () => {
        for (let n = io.read(fd, buf); n > 0; n = io.read(fd, buf)) got[i] += n;
        if (got[i] < msg.length) return;
        got[i] -= msg.length;
        const now = performance.now();
        const rtt = now - sentAt[i];
        rtts.push(rtt);
        roundTrips++;
        if (updateWindow && sentAt[i] <= updateWindow[1] && now >= updateWindow[0]) {
          const k = spanning.length - 1;
          if (k >= 0) spanning[k] = Math.max(spanning[k], rtt);
        }
        sentAt[i] = now;
        io.write(fd, msg);
      }),
    ).add();
  }
  // Let every connection be accepted, then start the traffic.
  const t0 = performance.now();
  while (host.context.store.get('conns').size < nClients) {
    host.base.loop(3);
    if (performance.now() - t0 > 10_000) throw new Error('clients did not connect');
  }
  for (let i = 0; i < nClients; i++) {
    sentAt[i] = performance.now();
    io.write(fds[i], msg);
  }
  let rtBefore = 0;
  const perUpdate = [];
  driveUpdates(
    () => {
      rtBefore = roundTrips;
      updateWindow = null;
      spanning.push(0);
    },
    () => {
      perUpdate.push(roundTrips - rtBefore);
    },
  );
  const stats = host.context.store.get('stats');
  const timed = reports.slice(warmup);
  const sorted = rtts.slice().sort((a, b) => a - b);
  const q = (p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : null);
  if (nClients > 0 && stats.bytes === 0) throw new Error('no traffic was echoed');
  const ctx = host.context;
  const stale = host.base._allEvents().filter((ev) => !host.isOwn(ev) && !ctx.nameOfHandler.has(ev.callback)).length;
  if (stale) throw new Error(`${stale} events still run an old version's handler`);
  return {
    clients: nClients,
    msgBytes: msg.length,
    serviceEvents: timed[0]?.eventsRewired,
    roundTrips,
    bytesEchoed: stats.bytes,
    rttMs: { p50: q(0.5), p99: q(0.99), max: sorted[sorted.length - 1] ?? null },
    // The longest round trip that was in flight while each timed update happened.
    spanningRttMs: spanning.slice(warmup).map(round3),
    roundTripsBetweenUpdates: perUpdate.slice(warmup),
    reports: summarizeReports(timed, Math.max(timed[0]?.eventsRewired ?? 1, 1)),
    cleanup: () => {
      for (const fd of fds) io.close(fd);
    },
  };
}

const res = opt.scenario === 'clients' ? await clients() : await mixed();
const { cleanup, ...rest } = res;
const out = {
  scenario: opt.scenario,
  method: host.base.method,
  strategy: opt.strategy,
  warmup,
  repeats,
  gcBeforeEachUpdate: Boolean(gc),
  libevent: libeventVersion(),
  node: process.version,
  ...rest,
};
cleanup();
host.base.free();
process.stdout.write(JSON.stringify(out) + '\n');
