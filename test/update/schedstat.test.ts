// The run-queue wait of a pause (report.runQueueWaitMs): read from /proc/thread-self/schedstat
// at the update point and when the pause ends, so an operator can tell a pause stretched by
// other processes on the CPU from a slow update. Present on Linux, absent elsewhere.
import { afterEach, describe, expect, it } from 'vitest';

import { RunQueueClock } from '../../lib/update/schedstat.js';
import { startHost, updateMethods } from './harness.js';

const linux = process.platform === 'linux';
const platform = Object.getOwnPropertyDescriptor(process, 'platform')!;

afterEach(() => {
  Object.defineProperty(process, 'platform', platform);
});

describe.runIf(linux)('the thread run-queue clock', () => {
  it('reads a non-negative counter that never goes back', () => {
    const clock = RunQueueClock.open()!;
    expect(clock).toBeDefined();
    const a = clock.waitedNs()!;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2); // a context switch or two
    const b = clock.waitedNs()!;
    expect(Number.isSafeInteger(a) && a >= 0).toBe(true);
    expect(b).toBeGreaterThanOrEqual(a);
    clock.close();
    expect(clock.waitedNs()).toBeUndefined(); // closed: no figure rather than a wrong one
  });
});

describe.each(updateMethods)('report.runQueueWaitMs on %s', (method) => {
  it.runIf(linux)('is a non-negative number no longer than the pause, for updates and dry runs', async () => {
    const { host } = await startHost(method);
    for (const [file, dryRun] of [['v1.cjs', true], ['v1.cjs', false], ['v2.cjs', false]] as const) {
      const r = await host.requestUpdate(file, { dryRun });
      expect(r.ok).toBe(true);
      expect(typeof r.runQueueWaitMs).toBe('number');
      expect(r.runQueueWaitMs).toBeGreaterThanOrEqual(0);
      // Waiting counted between the two reads cannot exceed the time between them (+ the reads).
      expect(r.runQueueWaitMs!).toBeLessThanOrEqual(r.pauseMs + 1);
    }
    const failed = await host.requestUpdate('init-throws.cjs');
    expect(failed.ok).toBe(false);
    expect(failed).not.toHaveProperty('runQueueWaitMs'); // no pause happened
    host.base.free();
  });

  it('is absent where the platform has no schedstat', async () => {
    const { host } = await startHost(method);
    Object.defineProperty(process, 'platform', { ...platform, value: 'darwin' });
    const r = await host.requestUpdate('v1.cjs');
    Object.defineProperty(process, 'platform', platform);
    expect(r.ok).toBe(true);
    expect(r).not.toHaveProperty('runQueueWaitMs');
    host.base.free();
  });
});
