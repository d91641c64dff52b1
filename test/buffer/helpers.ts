// Shared helpers for the buffered-connection tests.
import { EventBase, EVLOOP } from '../../lib/index.js';
import { native } from '../../lib/buffer/native.js';

export { allMethods, bytes, expectCode, methods } from '../loop/helpers.js';

/** Live native objects of the buffered layer (to check that nothing leaks). */
export const bufferedStats = (): ReturnType<typeof native.stats> => native.stats();

/** Runs the loop until `done()` or `ms` passed (a safety stop, never the expected path). */
export function loopUntil(base: EventBase, done: () => boolean, ms = 5000): void {
  const end = performance.now() + ms;
  while (!done()) {
    if (performance.now() > end) throw new Error(`condition not reached within ${ms} ms`);
    base.loop(EVLOOP.ONCE);
  }
}

/** Runs the loop for `ms` of wall time (for counting what happens over an interval). */
export function loopFor(base: EventBase, ms: number): void {
  base.loopexit(ms);
  base.loop(EVLOOP.NO_EXIT_ON_EMPTY);
}

/** n bytes of a pattern that shifts with `seed`, so misordered bytes are noticed. */
export function pattern(n: number, seed = 0): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed + (i >> 12)) & 0xff;
  return b;
}
