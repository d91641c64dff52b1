// The multi-base randomized fuzzer (test/loop/fuzz-runner.cjs) in a child process, so that a
// crash fails this test with its seed. A short run here; .ci/run makes a long one (1 M
// operations) against the ASan/UBSan build. Replay a failure with
//   FUZZ_SEED=<seed> FUZZ_OPS=<ops> npx vitest run test/loop/fuzz.test.ts
// (signal deliveries and worker threads are timed by the OS, so a replay makes the same
// operations but not always the same interleaving).
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { runChild } from './helpers.js';

const runner = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fuzz-runner.cjs');
const ops = Number(process.env.FUZZ_OPS ?? 30_000);
const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 32));

describe('multi-base fuzzer', () => {
  it(`runs ${ops} random operations across bases, backends, signals, fds and workers (seed ${seed})`, () => {
    const timeoutMs = Math.max(60_000, ops / 2); // 1 M operations take about 100 s under ASan on a busy machine
    const r = runChild(`process.argv = [process.argv[0], ${JSON.stringify(runner)}, ADDON, '${seed}', '${ops}']; require(${JSON.stringify(runner)});`, timeoutMs);
    const replay = `replay: FUZZ_SEED=${seed} FUZZ_OPS=${ops} npx vitest run test/loop/fuzz.test.ts`;
    expect(r.signal, `${replay}\n${r.out.slice(-4000)}`).toBe(null);
    expect(r.status, `${replay}\n${r.out.slice(-4000)}`).toBe(0);
    const result = JSON.parse(r.out.trim().split('\n').pop()!) as { violations: string[]; fired: number };
    expect(result.violations, replay).toEqual([]);
    expect(result.fired, replay).toBeGreaterThan(0);
  }, Math.max(120_000, ops / 2 + 30_000));
});
