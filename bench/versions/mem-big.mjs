// Bench-only module for bench/update-memory.mjs (ESM): the same two 8 MiB constants as
// mem-big.cjs, loaded with import('./mem-big.mjs?v=N').
const BIG = new Float64Array(1 << 20).fill(1);
const HEAP = Array.from({ length: 1 << 20 }, (_, i) => i + 0.5);
(globalThis.__memProbes ??= []).push(new WeakRef(BIG));

export const version = 'mem-big';
export function main(ctx) {
  ctx.handlers({
    tick() {
      BIG[0] += HEAP[0];
    },
  });
}
