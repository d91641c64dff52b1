// Shared helpers of the pubsub benchmarks: machine description and JSON-line output.
import os from 'node:os';

export const machine = {
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cores: os.cpus().length,
  node: process.version,
  platform: `${os.platform()} ${os.release()} ${os.arch()}`,
};

/** Prints one result as a JSON line (the format every pubsub bench uses). */
export function emit(bench: string, fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ bench, ...fields, machine }));
}

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Makes sure a value is used so the JIT cannot drop the work that produced it. */
export let blackhole = 0;
export function consume(n: number): void {
  blackhole = (blackhole + n) | 0;
}

import { measure } from 'mitata';

export interface Summary {
  median: number;
  p25: number;
  p75: number;
  min: number;
  max: number;
  samples: number;
  /** Calls per sample (mitata's batch), the smallest over all rounds; 1 means unbatched. */
  callsPerSample: number;
}

/**
 * Measures every case with mitata, `rounds` times, alternating between cases so that drift of a
 * busy machine hits all of them alike; the samples of all rounds are pooled. mitata warms each
 * function up before sampling, and a sample is a batch of calls, so figures are ns per call.
 *
 * mitata only batches when the very first call took under 0.5 ms; a first call slowed by
 * compilation or by a busy machine made it time single calls instead, clock reads included,
 * and since those rounds yield thousands of times more samples they dominated the pool. With
 * `warmup_threshold: Infinity` the batch decision rests on the warm-up calls alone (batched as
 * soon as one takes under 65 µs), so every round of a case samples the same way.
 *
 * A batch holds as many calls as last about SAMPLE_NS (a power of two, 4 to 4,096, from a first
 * timing of the case): long enough that clock reads do not count, short enough that on a busy
 * machine most samples run without being descheduled, so the median stays the cost of the code.
 */
const SAMPLE_NS = 100_000;

/** Calls per batch for `fn`: a power of two, 4 to 4,096, that lasts about SAMPLE_NS. */
function batchFor(fn: () => unknown): number {
  for (let i = 0; i < 200; i++) fn();
  let best = Infinity;
  for (let k = 0; k < 5; k++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 64; i++) fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 64);
  }
  const want = SAMPLE_NS / Math.max(best, 1);
  return Math.min(4096, Math.max(4, 2 ** Math.round(Math.log2(want))));
}

export async function measureInterleaved(
  cases: Record<string, () => unknown>,
  rounds = 5,
): Promise<Record<string, Summary>> {
  const pooled: Record<string, number[]> = {};
  const batch: Record<string, number> = {};
  const calls: Record<string, number> = {};
  for (const [name, fn] of Object.entries(cases)) calls[name] = batchFor(fn);
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of Object.entries(cases)) {
      const stats = await measure(fn, { min_cpu_time: 300e6, warmup_threshold: Infinity, warmup_samples: 50, batch_samples: calls[name] });
      const into = (pooled[name] ??= []);
      for (const x of stats.samples) into.push(x);
      batch[name] = Math.min(batch[name] ?? Infinity, Math.round(stats.ticks / stats.samples.length));
    }
  }
  const out: Record<string, Summary> = {};
  for (const [name, samples] of Object.entries(pooled)) {
    const s = samples.sort((a, b) => a - b);
    out[name] = {
      median: round(quantile(s, 0.5)),
      p25: round(quantile(s, 0.25)),
      p75: round(quantile(s, 0.75)),
      min: round(s[0]!),
      max: round(s[s.length - 1]!),
      samples: s.length,
      callsPerSample: batch[name]!,
    };
  }
  return out;
}
