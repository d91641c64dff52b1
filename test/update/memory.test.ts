// Replaced versions become garbage: nothing (events, callback tables, host, module cache)
// keeps an old version's code alive.
import { describe, expect, it } from 'vitest';

import { EventBase } from '../../lib/index.js';
import { UpdateHost } from '../../lib/update/index.js';
import { updateMethods, versionsDir } from './harness.js';

const gc = (globalThis as { gc?: () => void }).gc!;
const probes = () => (globalThis as { __bigProbes?: WeakRef<Float64Array>[] }).__bigProbes ?? [];

async function settle(): Promise<void> {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
}

describe.each(updateMethods)('old versions are collected on %s', (method) => {
  it('keeps the heap flat over 50 updates of a version holding 8 MiB', async () => {
    const base = new EventBase({ method });
    const host = new UpdateHost({ base, versionsDir });
    const first = probes().length;
    await host.start('big.cjs');
    await settle();
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 50; i++) expect((await host.requestUpdate('big.cjs')).ok).toBe(true);
    await settle();
    const after = process.memoryUsage().arrayBuffers;
    const mine = probes().slice(first);
    expect(mine).toHaveLength(51);
    // Only the running version's constant is still alive; 50 leaked versions would be 400 MiB.
    expect(mine.filter((p) => p.deref() !== undefined)).toHaveLength(1);
    expect(mine[50]!.deref()).toBeDefined();
    expect(after - before).toBeLessThan(4 * 2 ** 20);
    base.free();
  });
});
