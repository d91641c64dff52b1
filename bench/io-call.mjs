#!/usr/bin/env node
// Cost of one io.read call from JavaScript on an empty non-blocking socket (it returns -1,
// EAGAIN): the N-API call path plus the read(2) system call. Pass an addon path to compare
// builds (e.g. before/after a change to native/io.cc), one process per build.
// Usage: node bench/io-call.mjs [path/to/node_libevent.node]
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const addon = path.resolve(process.argv[2] ?? path.join(root, 'build/Release/node_libevent.node'));
const b = createRequire(import.meta.url)(addon);
b.setDispatcher(() => {});
const [fd] = b.io.socketpair();
const buf = new Uint8Array(16);
const read = b.io.read;
const calls = 500_000;
function run(n) {
  let s = 0;
  for (let i = 0; i < n; i++) s += read(fd, buf);
  return s;
}
run(200_000); // warm-up
const ns = [];
for (let r = 0; r < 9; r++) {
  const t = process.hrtime.bigint();
  run(calls);
  ns.push(Number(process.hrtime.bigint() - t) / calls);
}
ns.sort((x, y) => x - y);
console.log(JSON.stringify({ addon: path.relative(root, addon), nsPerCall: { median: ns[4], min: ns[0], max: ns[8] }, node: process.version }));
