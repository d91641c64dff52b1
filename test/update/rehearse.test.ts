// The first update request of a process rehearses the update path on a private base (a
// built-in service taken through a dry run and an update), in the request's load phase, so the
// host's own update code is compiled before any pause. It runs once per process, touches
// nothing of the host, and a failure of it is only logged. (Its own file: the rehearsal is
// once per process, and vitest gives each file a fresh module.)
import { describe, expect, it, vi } from 'vitest';

import { EventBase } from '../../lib/index.js';
import { UpdateHost } from '../../lib/update/index.js';
import { versionsDir } from './harness.js';

describe('the rehearsal of the update path', () => {
  it('runs once, at the first request and before the update point, and leaves the host untouched', async () => {
    const base = new EventBase();
    const host = new UpdateHost({ base, versionsDir });
    try {
      await host.start('v0.cjs');
      const lines: string[] = [];
      const store = host.context!.store;
      const itemsBefore = new Map(store);
      const mark = base._eventMark();
      let eventsMadeByRehearsal = -1;
      host.on('log', (line) => {
        lines.push(line);
        if (line.startsWith('rehearsed')) eventsMadeByRehearsal = base._eventsSince(mark).length;
      });
      const report = await host.requestUpdate('v1.cjs');
      expect(report.ok).toBe(true);
      const rehearsal = lines.findIndex((l) => l.startsWith('rehearsed the update path on a private base'));
      const atPoint = lines.findIndex((l) => l.includes("at point 'loop'"));
      expect(rehearsal).toBeGreaterThanOrEqual(0);
      expect(rehearsal).toBeLessThan(atPoint); // in the load phase, before the point
      expect(eventsMadeByRehearsal).toBe(0); // nothing on the host's base
      // The real update carried the host's own state objects, not the rehearsal's.
      for (const [key, value] of itemsBefore) if (key !== 'stats') expect(host.context!.store.get(key)).toBe(value);
      expect(host.context!.store.has('counter')).toBe(false);
      expect(report.phases.load).toBeGreaterThan(0);

      lines.length = 0;
      expect((await host.requestUpdate('v0.cjs')).ok).toBe(true);
      expect(lines.some((l) => l.includes('rehearsed') || l.includes('rehearsal'))).toBe(false); // once per process
    } finally {
      host.close();
      base.free();
    }
  });

  it('a rehearsal that fails is only logged, and the update goes on', async () => {
    // A fresh module instance, so this process has not rehearsed yet.
    vi.resetModules();
    const { EventBase: FreshBase } = await import('../../lib/index.js');
    const { UpdateHost: FreshHost } = await import('../../lib/update/index.js');
    const base = new FreshBase();
    const host = new FreshHost({ base, versionsDir });
    const timer = FreshBase.prototype.timer;
    try {
      await host.start('v0.cjs');
      const lines: string[] = [];
      host.on('log', (line) => lines.push(line));
      // The rehearsal's service makes a timer at its fresh start, on its private base: make that throw.
      FreshBase.prototype.timer = function (this: InstanceType<typeof FreshBase>, ...args: Parameters<typeof timer>) {
        if (this !== base) throw new Error('injected: no timers now');
        return timer.apply(this, args);
      };
      const report = await host.requestUpdate('v1.cjs');
      FreshBase.prototype.timer = timer;
      expect(lines[0]).toMatch(/^the rehearsal of the update path failed \(the update goes on without it\): injected: no timers now/);
      expect(report.ok).toBe(true);
      expect(report.to).toBe('v1');
    } finally {
      FreshBase.prototype.timer = timer;
      host.close();
      base.free();
    }
  });
});
