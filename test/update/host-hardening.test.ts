// Issue 7, items 18-24: no version, however it fails, and no use of the host API may take the
// host down, leave a request unsettled, or load code from outside versionsDir.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { EventBase } from '../../lib/index.js';
import { UpdateHost, type UpdateReport } from '../../lib/update/index.js';
import { sleep } from './control-helpers.js';
import { startHost, stateOf, updateMethods, versionsDir } from './harness.js';

const g = globalThis as typeof globalThis & { nodeLibeventOddThrow?: string; nodeLibeventDisposed?: unknown[]; nodeLibeventOutsideRan?: number };

describe.each(updateMethods)('update host hardening on %s', (method) => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  beforeEach(() => {
    unhandled.length = 0;
    process.on('unhandledRejection', onUnhandled);
  });
  afterEach(() => {
    process.off('unhandledRejection', onUnhandled);
  });

  it('item 18: the promise of a refused async main is handled, whatever it settles with', async () => {
    const lines: string[] = [];
    const base = new EventBase({ method });
    const host = new UpdateHost({ base, versionsDir, log: (l) => lines.push(l) });
    await host.start('v0.cjs');
    const report = await host.requestUpdate('async-update.cjs');
    expect(report).toMatchObject({ ok: false, error: { code: 'ERR_ASYNC_MAIN', phase: 'init' } });
    await sleep(40); // the refused main's await ends, it touches its retired ctx and rejects
    expect(unhandled).toEqual([]);
    expect(lines).toContainEqual(expect.stringMatching(/refused async main rejected: version async-update is no longer running/));
    expect(host.version).toBe('v0');
    expect(await host.requestUpdate('v1.cjs')).toMatchObject({ ok: true, to: 'v1' });
    base.free();
  });

  it.each(['null-proto', 'message-getter', 'revoked-proxy', 'symbol', 'undefined'])('item 19: a main throwing %s is reported as a failure, the host runs on', async (kind) => {
    g.nodeLibeventOddThrow = kind;
    const { host } = await startHost(method);
    const running = host.run();
    const report = await host.requestUpdate('odd-throw.cjs');
    expect(report).toMatchObject({ ok: false, from: 'v0', to: 'odd-throw', error: { code: 'ERR_VERSION_INIT', phase: 'init' } });
    expect(typeof report.error!.message).toBe('string');
    expect(JSON.parse(JSON.stringify(report))).toEqual(report); // the control socket sends it as JSON
    expect(host.version).toBe('v0');
    expect(await host.requestUpdate('v1.cjs')).toMatchObject({ ok: true });
    host.base.loopexit();
    expect(await running).toBe(0);
    host.base.free();
    delete g.nodeLibeventOddThrow;
  });

  it('item 20: close() while a request waits rejects it with ERR_HOST_CLOSED, and run() ends normally', async () => {
    const { host } = await startHost(method);
    const running = host.run();
    await sleep(5);
    const waiting = host.requestUpdate('v1.cjs'); // taken at the next point, which close() beats
    host.close(); // also ends run() at its next point, before the closed version's timers fire again
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_HOST_CLOSED' });
    expect(await running).toBe(0);
    expect(await host.requestUpdate('v1.cjs')).toMatchObject({ ok: false, error: { code: 'ERR_NOT_STARTED' } });
    host.base.free();
  });

  it('item 20: close() from a callback ends host.dispatch() too, with the version\'s timers still armed', async () => {
    const { host } = await startHost(method);
    host.own(host.base.timer(() => host.close())).add(30);
    expect(host.dispatch()).toBe(0);
    expect(host.base._allEvents().some((ev) => !host.isOwn(ev) && ev.pending() !== 0)).toBe(true);
    host.base.free();
  });

  it('item 21: a second start() while an async main runs is refused; later updates work', async () => {
    const base = new EventBase({ method });
    const host = new UpdateHost({ base, versionsDir });
    const results = await Promise.allSettled([host.start('async-start.cjs'), host.start('async-start.cjs')]);
    expect(results[0]).toMatchObject({ status: 'fulfilled' });
    expect(results[1]).toMatchObject({ status: 'rejected', reason: { code: 'ERR_ALREADY_STARTED' } });
    expect(base._allEvents().length).toBe(1); // one version's timer, not two
    expect(await host.requestUpdate('async-start-next.cjs')).toMatchObject({ ok: true, to: 'async-start-next', eventsRewired: 1 });
    base.free();
  });

  it('item 22: two receivers reaching an update point in one delivery make one update, taken once', async () => {
    const { host, reports } = await startHost(method, 'points-a.cjs');
    const base = host.base;
    const api = stateOf<{ pub: { publish(n: number): boolean } }>(host, 'api');
    let asked: Promise<UpdateReport> | undefined;
    host.own(
      base.timer(() => {
        asked = host.requestUpdate('points-b.cjs');
        api.pub.publish(1); // delivered at once to r1 and r2, which both reach a point
      }),
    ).add(1);
    base.loopexit(100);
    expect(() => host.dispatch()).not.toThrow();
    expect(await asked).toMatchObject({ ok: true, from: 'points-a', to: 'points-b', point: 'r1' });
    expect(reports).toHaveLength(1);
    expect(host.version).toBe('points-b');
    const log = stateOf<[string, string, number][]>(host, 'log');
    expect(log.filter((e) => e[1] === 'points-a').map((e) => e[0])).toEqual(['r1', 'r2']); // old code ran once each
    const next = stateOf<{ pub: { publish(n: number): boolean } }>(host, 'api');
    next.pub.publish(2);
    expect(log.filter((e) => e[1] === 'points-b').map((e) => e[0])).toEqual(['r1', 'r2']);
    base.free();
  });

  it('item 23: messages a throwing messageTransforms already produced are disposed exactly once', async () => {
    g.nodeLibeventDisposed = [];
    const { host } = await startHost(method, 'queue-count.cjs');
    const api = stateOf<{ pub: { publish(n: number): boolean } }>(host, 'api');
    for (const n of [1, 2, 3]) api.pub.publish(n);
    expect(host.mainloop!.pending('q')).toBe(3);
    const report = await host.requestUpdate('queue-record.cjs');
    expect(report).toMatchObject({ ok: false, error: { code: 'ERR_TRANSFORM', phase: 'pubsub' } });
    expect(g.nodeLibeventDisposed).toEqual([{ n: 1 }]); // the one transform that returned
    // The old messages stay with the old version, delivered as they were.
    expect(host.mainloop!.pending('q')).toBe(3);
    host.mainloop!.flush('q');
    expect(stateOf<number[]>(host, 'got')).toEqual([1, 2, 3]);
    host.close();
    expect(g.nodeLibeventDisposed).toEqual([{ n: 1 }]);
    host.base.free();
    delete g.nodeLibeventDisposed;
  });

  it('item 24: every file a version loads must lie inside versionsDir, package mains included', async () => {
    delete g.nodeLibeventOutsideRan;
    const { host } = await startHost(method);
    const pkg = await host.requestUpdate('pkg-outside');
    expect(pkg).toMatchObject({ ok: false, error: { code: 'ERR_OUTSIDE_VERSIONS_DIR', phase: 'load' } });
    expect(pkg.error!.message).toMatch(/outside\.cjs/);
    const req = await host.requestUpdate('requires-outside.cjs');
    expect(req).toMatchObject({ ok: false, error: { code: 'ERR_OUTSIDE_VERSIONS_DIR' } });
    expect(g.nodeLibeventOutsideRan).toBeUndefined(); // refused before it ran
    expect(host.version).toBe('v0');
    expect(await host.requestUpdate('pkg-inside')).toMatchObject({ ok: true, to: 'v1' });
    expect(await host.requestUpdate('uses-builtin.cjs')).toMatchObject({ ok: true, to: 'v1' }); // node:path, events
    host.base.free();
  });
});

describe.each(updateMethods)('issue 8: the new version loads when asked for, its main runs at the point, on %s', (method) => {
  it('loads in requestUpdate, before the point, and reads the running state only at the point', async () => {
    const gm = globalThis as typeof globalThis & { nodeLibeventMarkedLoads?: number };
    delete gm.nodeLibeventMarkedLoads;
    const { host } = await startHost(method);
    const running = host.run();
    await sleep(5);
    let loadsAtPoint: number | undefined;
    host.once('point', () => (loadsAtPoint = gm.nodeLibeventMarkedLoads));
    const asked = host.requestUpdate('marked.cjs');
    expect(gm.nodeLibeventMarkedLoads).toBe(1); // compiled and run (top level only) already
    expect(host.version).toBe('v0');
    // The old version changes its state after the request: the new main must see that.
    const stats = stateOf<{ bytes: number }>(host, 'stats');
    stats.bytes = 12345;
    const report = await asked;
    expect(loadsAtPoint).toBe(1);
    expect(report).toMatchObject({ ok: true, to: 'v1', point: 'loop' });
    expect(report.phases.load).toBeGreaterThan(0);
    expect(stateOf<{ bytes: number }>(host, 'stats').bytes).toBe(12345);
    expect(gm.nodeLibeventMarkedLoads).toBe(1);
    host.base.loopexit();
    expect(await running).toBe(0);
    host.base.free();
  });

  it('a version that cannot load is reported at once, without waiting for a point', async () => {
    const { host } = await startHost(method);
    const running = host.run();
    await sleep(5);
    const points = host.pointsReached;
    const report = await host.requestUpdate('bad-syntax.cjs');
    expect(report).toMatchObject({ ok: false, error: { code: 'ERR_VERSION_LOAD', phase: 'load' } });
    expect(host.pointsReached).toBe(points);
    host.base.loopexit();
    expect(await running).toBe(0);
    host.base.free();
  });
});
