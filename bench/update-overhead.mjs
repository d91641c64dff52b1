#!/usr/bin/env node
// Steady-state cost of running a service under the update host.
//
// The echo service of bench/versions/echo-service.cjs (fixture-shaped: a TCP listener, one
// READ|PERSIST event per connection echoing what it reads, a 20 ms heartbeat and a 300 ms
// deadline) runs twice in this process, on two bases:
//   host   loaded as a version by an UpdateHost (handlers registered through ctx.handlers,
//          state through ctx.state) and served by host.dispatch(), which reaches an update
//          point between loop iterations;
//   plain  the same module's makeHandlers() and listen() on a plain EventBase, served by
//          base.dispatch(): the same handler code without the host.
// Each has --clients loopback TCP connections (client events on the same base; under the host
// they are host-owned) doing closed-loop ping-pong: send --msg bytes, wait for the echo, send
// again. A run is --messages round trips, timed from the first send until the loop returns;
// then the clients stop and the echoes still in flight are drained, untimed. The two
// variants alternate run by run (the order flips every pair) after --warmup pairs. With
// --expose-gc a full collection runs before each run, outside the timing.
//
// Prints one JSON object on the last line of stdout: µs per round trip of each run (wall
// clock and this process's CPU time), paired.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { EV, EventBase, io, libeventVersion } from '../dist/index.js';
import { UpdateHost } from '../dist/update/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const versionsDir = path.join(here, 'versions');

const { values: opt } = parseArgs({
  options: {
    method: { type: 'string', default: 'epoll' },
    clients: { type: 'string', default: '50' },
    msg: { type: 'string', default: '64' },
    messages: { type: 'string', default: '20000' },
    runs: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    // Which variant is set up first (fds, memory placement); the runner alternates it.
    first: { type: 'string', default: 'host' },
  },
});
const nClients = Number(opt.clients);
const messages = Number(opt.messages);
const runs = Number(opt.runs);
const warmup = Number(opt.warmup);
const payload = new Uint8Array(Number(opt.msg)).fill(7);
if (!(nClients >= 1 && messages >= nClients && runs >= 1 && warmup >= 0 && payload.length >= 1)) throw new Error('bad arguments');
const gc = globalThis.gc;

/** Closed-loop clients on `base`; `own` marks their events (the host's own under the host). */
function makeClients(base, port, own) {
  const fds = [];
  const got = new Uint32Array(nClients);
  const outstanding = new Uint8Array(nClients);
  const buf = new Uint8Array(4096);
  const st = { roundTrips: 0, target: 0, sending: false, inFlight: 0 };
  for (let i = 0; i < nClients; i++) {
    const fd = io.connect('127.0.0.1', port);
    fds.push(fd);
    own(
      base.event(fd, EV.READ | EV.PERSIST, () => {
        for (let n = io.read(fd, buf); n > 0; n = io.read(fd, buf)) got[i] += n;
        while (got[i] >= payload.length && outstanding[i]) {
          got[i] -= payload.length;
          outstanding[i] = 0;
          st.inFlight--;
          if (!st.sending) continue;
          st.roundTrips++;
          if (st.roundTrips >= st.target) {
            st.sending = false;
            base.loopbreak();
            continue;
          }
          outstanding[i] = 1;
          st.inFlight++;
          io.write(fd, payload);
        }
      }),
    ).add();
  }
  return {
    fds,
    st,
    start(target) {
      st.roundTrips = 0;
      st.target = target;
      st.sending = true;
      for (let i = 0; i < nClients; i++) {
        outstanding[i] = 1;
        st.inFlight++;
        io.write(fds[i], payload);
      }
    },
  };
}

async function setupHost() {
  const base = new EventBase({ method: opt.method });
  const host = new UpdateHost({ base, versionsDir });
  await host.start('echo-a.cjs');
  const { port } = host.context.store.get('listener');
  const clients = makeClients(base, port, (ev) => host.own(ev));
  const conns = () => host.context.store.get('conns').size;
  return { name: 'host', base, host, clients, conns, serve: () => host.dispatch(), stats: () => host.context.store.get('stats') };
}

function setupPlain() {
  // The same module file, required directly: its makeHandlers/listen are the code the host
  // runs through main(ctx).
  const mod = createRequire(import.meta.url)('./versions/echo-a.cjs');
  const base = new EventBase({ method: opt.method });
  const stats = { bytes: 0, ticks: 0, deadlines: 0 };
  const connMap = new Map();
  const h = mod.makeHandlers({ base: () => base, EV, io, stats, conns: connMap });
  const { port } = mod.listen({ base, EV, io, h });
  const clients = makeClients(base, port, (ev) => ev);
  return { name: 'plain', base, clients, conns: () => connMap.size, serve: () => base.dispatch(), stats: () => stats };
}

if (opt.first !== 'host' && opt.first !== 'plain') throw new Error('--first is host or plain');
const variants = {};
if (opt.first === 'host') {
  variants.host = await setupHost();
  variants.plain = setupPlain();
} else {
  variants.plain = setupPlain();
  variants.host = await setupHost();
}
for (const v of Object.values(variants)) {
  const t0 = performance.now();
  while (v.conns() < nClients) {
    v.base.loop(3); // ONCE | NONBLOCK: accept
    if (performance.now() - t0 > 10_000) throw new Error(`${v.name}: clients did not connect`);
  }
}

function runOnce(v) {
  if (gc) gc();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  v.clients.start(messages);
  v.serve();
  const t1 = performance.now();
  const c1 = process.cpuUsage(c0);
  if (v.clients.st.roundTrips < messages) throw new Error(`${v.name}: the loop returned after ${v.clients.st.roundTrips} of ${messages} round trips`);
  // Drain the echoes still in flight (untimed), so the next run starts from quiet sockets.
  const d0 = performance.now();
  while (v.clients.st.inFlight > 0) {
    v.base.loop(3);
    if (performance.now() - d0 > 10_000) throw new Error(`${v.name}: echoes did not come back`);
  }
  // µs per round trip: wall clock, and CPU time of this process (user + system), which a
  // busy shared machine disturbs less (time spent descheduled is not counted).
  return { wall: ((t1 - t0) * 1000) / messages, cpu: (c1.user + c1.system) / messages };
}

const samples = { host: [], plain: [] };
const cpu = { host: [], plain: [] };
let timedPoints = 0;
for (let i = 0; i < warmup + runs; i++) {
  const order = i % 2 === 0 ? ['host', 'plain'] : ['plain', 'host'];
  const r = {};
  const p0 = variants.host.host.pointsReached;
  for (const name of order) r[name] = runOnce(variants[name]);
  if (i >= warmup) {
    timedPoints += variants.host.host.pointsReached - p0;
    for (const name of order) {
      samples[name].push(r[name].wall);
      cpu[name].push(r[name].cpu);
    }
  }
}

const round = (x) => Math.round(x * 1000) / 1000;
const out = {
  method: variants.host.base.method,
  first: opt.first,
  clients: nClients,
  msgBytes: payload.length,
  messages,
  warmup,
  runs,
  gcBeforeEachRun: Boolean(gc),
  usPerRoundTrip: { host: samples.host.map(round), plain: samples.plain.map(round) },
  cpuUsPerRoundTrip: { host: cpu.host.map(round), plain: cpu.plain.map(round) },
  // Paired: host / plain of the same pair (adjacent in time), wall clock and CPU time.
  pairedRatio: samples.host.map((h, k) => round(h / samples.plain[k])),
  pairedCpuRatio: cpu.host.map((h, k) => round(h / cpu.plain[k])),
  // Update points (= host loop iterations) reached per round trip in the timed runs.
  hostIterationsPerRoundTrip: round(timedPoints / (runs * messages)),
  bytesEchoed: { host: variants.host.stats().bytes, plain: variants.plain.stats().bytes },
  libevent: libeventVersion(),
  node: process.version,
};
for (const v of Object.values(variants)) {
  for (const fd of v.clients.fds) io.close(fd);
}
process.stdout.write(JSON.stringify(out) + '\n');
process.exit(0);
