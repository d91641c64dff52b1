// Bench-only module for bench/update-memory.mjs (CommonJS): one "generation" of code holding
// two 8 MiB constants, one outside the V8 heap (a Float64Array: counted in arrayBuffers) and
// one on it (an array of 2^20 doubles: counted in heapUsed). Each evaluation leaves a WeakRef
// to its constants on globalThis, so the benchmark can count the generations still alive.
'use strict';
const BIG = new Float64Array(1 << 20).fill(1);
const HEAP = Array.from({ length: 1 << 20 }, (_, i) => i + 0.5);
(globalThis.__memProbes ??= []).push(new WeakRef(BIG));

exports.version = 'mem-big';
exports.main = function main(ctx) {
  ctx.handlers({
    tick() {
      BIG[0] += HEAP[0];
    },
  });
};
