#!/usr/bin/env node
// The loop benchmark through the binding: the same workload as bench/c/callbacks.c.
//
// n socketpairs, one persistent READ event on the reading end of each; `a` evenly spaced
// pairs get one byte; every callback reads its byte and, while writes remain, writes one byte
// to the next pair, through buffers registered once (io.buffer: recv/send on sockets,
// numbers-only arguments, the cheapest I/O calls the binding offers). A run ends when every
// byte written has been read: a + w callbacks.
//
// Two run modes:
//   exclusive    base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK) in a JS loop, as the C program does
//   cooperative  await base.run(); the last callback calls base.loopbreak()
// --microtasks callback runs the cooperative mode with run({ microtasks: 'callback' }): nextTicks
// and promise jobs drained after every callback (one call into JS each) instead of per pass.
//
// Usage: node bench/loop-callbacks.mjs --mode exclusive|cooperative [--method epoll]
//          [--microtasks pass|callback] [--n 100] [--a 1] [--w 1000] [--runs 25] [--warmup 5]
// Prints one JSON object like the C program's. Run one configuration per process (the
// runner, bench/run.mjs, does) so that JIT and GC state do not leak between them.
import { parseArgs } from 'node:util';

import { EV, EVLOOP, EventBase, io, libeventVersion } from '../dist/index.js';

const { values: opt } = parseArgs({
  options: {
    mode: { type: 'string', default: 'exclusive' },
    method: { type: 'string', default: 'epoll' },
    microtasks: { type: 'string', default: 'pass' },
    n: { type: 'string', default: '100' },
    a: { type: 'string', default: '1' },
    w: { type: 'string' },
    runs: { type: 'string', default: '25' },
    warmup: { type: 'string', default: '5' },
  },
});

const mode = opt.mode;
if (mode !== 'exclusive' && mode !== 'cooperative') throw new Error(`unknown --mode ${mode}`);
const microtasks = opt.microtasks;
if (microtasks !== 'pass' && microtasks !== 'callback') throw new Error(`unknown --microtasks ${microtasks}`);
const n = Number(opt.n);
const active = Number(opt.a);
const writes = opt.w === undefined ? n : Number(opt.w);
const runs = Number(opt.runs);
const warmup = Number(opt.warmup);
if (!(n >= 1 && active >= 1 && active <= n && writes >= 0 && runs >= 1 && warmup >= 0)) {
  throw new Error('bad arguments');
}

const base = new EventBase({ method: opt.method });
const rfds = new Int32Array(n);
const wfds = new Int32Array(n);
const events = [];
const out = io.buffer(1);
out.bytes[0] = 0x78;
const inbox = io.buffer(1);

let writesLeft = 0;
let bytesSent = 0;
let bytesRead = 0;
let errors = 0;
let stopWhenDone = false; // cooperative: the last callback breaks the loop

for (let i = 0; i < n; i++) {
  const [r, w] = io.socketpair();
  rfds[i] = r;
  wfds[i] = w;
  const next = i + 1 === n ? 0 : i + 1;
  // One closure per event holding its index, as bench.c passes the index as the argument.
  const ev = base.event(r, EV.READ | EV.PERSIST, (fd) => {
    if (inbox.read(fd, 1) === 1) bytesRead++;
    else errors++;
    if (writesLeft > 0) {
      if (out.write(wfds[next], 1) === 1) bytesSent++;
      else errors++;
      writesLeft--;
    } else if (stopWhenDone && bytesRead === bytesSent) {
      base.loopbreak();
    }
  });
  ev.add();
  events.push(ev);
}

function start() {
  const spacing = Math.floor(n / active);
  writesLeft = writes;
  bytesSent = 0;
  bytesRead = 0;
  for (let i = 0; i < active; i++) {
    if (out.write(wfds[i * spacing], 1) === 1) bytesSent++;
    else errors++;
  }
}

const FLAGS = EVLOOP.ONCE | EVLOOP.NONBLOCK;

// Each run gives µs per callback on the wall clock and in CPU time of the process (user +
// system, all threads: time spent descheduled by other load does not count).
const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const cpu = [];

function runExclusive() {
  start();
  const t0 = process.hrtime.bigint();
  const c0 = cpuUs();
  do base.loop(FLAGS);
  while (bytesRead !== bytesSent || writesLeft > 0);
  const t1 = process.hrtime.bigint();
  cpu.push((cpuUs() - c0) / bytesRead);
  return Number(t1 - t0) / 1e3 / bytesRead;
}

async function runCooperative() {
  start();
  stopWhenDone = true;
  const t0 = process.hrtime.bigint();
  const c0 = cpuUs();
  await base.run({ microtasks });
  const t1 = process.hrtime.bigint();
  cpu.push((cpuUs() - c0) / bytesRead);
  stopWhenDone = false;
  if (bytesRead !== bytesSent || writesLeft > 0) throw new Error('run() ended before the work was done');
  return Number(t1 - t0) / 1e3 / bytesRead;
}

const once = mode === 'exclusive' ? runExclusive : runCooperative;
for (let i = 0; i < warmup; i++) await once();
cpu.length = 0;
const us = [];
for (let i = 0; i < runs; i++) us.push(await once());

process.stdout.write(
  JSON.stringify({
    impl: mode,
    microtasks: mode === 'cooperative' ? microtasks : undefined,
    method: base.method,
    n,
    a: active,
    w: writes,
    callbacksPerRun: active + writes,
    libevent: libeventVersion(),
    node: process.version,
    errors,
    usPerCallback: us.map((x) => Math.round(x * 1e4) / 1e4),
    cpuUsPerCallback: cpu.map((x) => Math.round(x * 1e4) / 1e4),
  }) + '\n',
);

for (const ev of events) ev.free();
for (let i = 0; i < n; i++) {
  io.close(rfds[i]);
  io.close(wfds[i]);
}
base.free();
if (errors) process.exitCode = 1;
