#!/usr/bin/env node
// The loop workload (bench/loop-callbacks.mjs, bench/c/callbacks.c) through Node's own `net`:
// the same socketpairs, each end wrapped in a net.Socket; a 'data' listener per reading end
// counts the bytes it got and, while writes remain, writes one byte to the next pair with
// socket.write. libuv runs the loop (epoll); a run ends when every byte written was read.
//
// Usage: node bench/loop-net.mjs [--n 1000] [--a 100] [--w 1000] [--runs 10] [--warmup 5]
// Prints one JSON object like the other loop workloads (µs per byte read, i.e. per callback).
import net from 'node:net';
import { parseArgs } from 'node:util';

import { io } from '../dist/index.js';

const { values: opt } = parseArgs({
  options: {
    n: { type: 'string', default: '1000' },
    a: { type: 'string', default: '100' },
    w: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '5' },
  },
});
const [n, active, writes, runs, warmup] = [opt.n, opt.a, opt.w, opt.runs, opt.warmup].map(Number);
if (!(n >= 1 && active >= 1 && active <= n && writes >= 0 && runs >= 1 && warmup >= 0)) throw new Error('bad arguments');

const byte = Buffer.from([0x78]);
const readers = [];
const writers = [];
let writesLeft = 0;
let bytesSent = 0;
let bytesRead = 0;
let done = () => {};
// CPU time of the process (user + system): time spent descheduled by other load does not count.
const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const cpu = [];

for (let i = 0; i < n; i++) {
  const [r, w] = io.socketpair();
  readers.push(new net.Socket({ fd: r, readable: true, writable: false }));
  writers.push(new net.Socket({ fd: w, readable: false, writable: true }));
}
for (let i = 0; i < n; i++) {
  const next = writers[i + 1 === n ? 0 : i + 1];
  readers[i].on('data', (chunk) => {
    bytesRead += chunk.length;
    // One byte in, one byte on, as many times as bytes came (libuv may read two at once).
    for (let k = 0; k < chunk.length && writesLeft > 0; k++) {
      next.write(byte);
      bytesSent++;
      writesLeft--;
    }
    if (writesLeft === 0 && bytesRead === bytesSent) done();
  });
}

function once() {
  return new Promise((resolve) => {
    const spacing = Math.floor(n / active);
    writesLeft = writes;
    bytesSent = 0;
    bytesRead = 0;
    let t0;
    let c0;
    done = () => {
      done = () => {};
      cpu.push((cpuUs() - c0) / bytesRead);
      resolve(Number(process.hrtime.bigint() - t0) / 1e3 / bytesRead);
    };
    for (let i = 0; i < active; i++) {
      writers[i * spacing].write(byte);
      bytesSent++;
    }
    t0 = process.hrtime.bigint(); // after the first writes, as in the other workloads
    c0 = cpuUs();
  });
}

for (let i = 0; i < warmup; i++) await once();
cpu.length = 0;
const us = [];
for (let i = 0; i < runs; i++) us.push(await once());
process.stdout.write(
  JSON.stringify({ impl: 'net', method: 'epoll (libuv)', n, a: active, w: writes, node: process.version, errors: 0, usPerCallback: us.map((x) => Math.round(x * 1e4) / 1e4), cpuUsPerCallback: cpu.map((x) => Math.round(x * 1e4) / 1e4) }) + '\n',
);
for (const s of [...readers, ...writers]) s.destroy();
