// Failure injection at every prepare phase: the old version keeps running with its state
// untouched, what prepare created is freed, and a later good update still works.
import { describe, expect, it } from 'vitest';

import { EV, EventBase } from '../../lib/index.js';
import { UpdateHost } from '../../lib/update/index.js';
import { allOnCurrentVersion, type RanEntry, startHost, stateOf, updateMethods, versionsDir } from './harness.js';

const cases = [
  ['bad-syntax.cjs', 'load', 'ERR_VERSION_LOAD'],
  ['bad-shape.cjs', 'load', 'ERR_VERSION_SHAPE'],
  ['init-throws.cjs', 'init', 'ERR_VERSION_INIT'],
  ['transform-throws.cjs', 'migrate', 'ERR_TRANSFORM'],
  ['new-state-no-init.cjs', 'migrate', 'ERR_STATE_NO_INIT'],
  ['undeclared-state.cjs', 'migrate', 'ERR_STATE_UNDECLARED'],
  ['missing-handler.cjs', 'rewire', 'ERR_MISSING_HANDLER'],
  ['no-such-version.cjs', 'request', 'ERR_VERSION_PATH'],
  ['../../update.test.ts', 'request', 'ERR_OUTSIDE_VERSIONS_DIR'],
  ['/etc/passwd', 'request', 'ERR_OUTSIDE_VERSIONS_DIR'],
] as const;

describe.each(updateMethods)('failed updates on %s', (method) => {
  it.each(cases)('%s fails in %s (%s) and rolls back cleanly', async (file, phase, code) => {
    const { host, reports } = await startHost(method);
    const base = host.base;
    const storeBefore = new Map(host.context!.store);
    const statsBefore = structuredClone(stateOf<object>(host, 'stats'));
    const eventsBefore = new Set(base._allEvents());
    const pendingBefore = base.events().map((ev) => [ev, ev.pending()] as const);

    const report = await host.requestUpdate(file);
    expect(report).toMatchObject({ ok: false, from: 'v0', error: { phase, code } });
    expect(report.error!.message.length).toBeGreaterThan(10);
    expect(reports).toEqual([report]);

    // still v0, same state objects and values, same events in the same states
    expect(host.version).toBe('v0');
    expect(new Map(host.context!.store)).toEqual(storeBefore);
    for (const [k, v] of storeBefore) expect(host.context!.store.get(k)).toBe(v);
    expect(stateOf<object>(host, 'stats')).toEqual(statsBefore);
    expect(new Set(base._allEvents())).toEqual(eventsBefore); // what prepare created was freed
    for (const [ev, bits] of pendingBefore) expect(ev.pending()).toBe(bits);
    expect(allOnCurrentVersion(host)).toBe(true);

    // the running version still works: its heartbeat runs v0 code
    const ran = stateOf<RanEntry[]>(host, 'ran');
    base.loopexit(50);
    base.dispatch();
    expect(ran.some((e) => e[0] === 'onTick' && e[1] === 'v0')).toBe(true);

    // and a later good update goes through
    const good = await host.requestUpdate('v1.cjs');
    expect(good).toMatchObject({ ok: true, from: 'v0', to: 'v1' });
    expect(allOnCurrentVersion(host)).toBe(true);
    base.free();
  });

  it('refuses to update a version whose live events run unregistered callbacks, naming the event', async () => {
    const { host } = await startHost(method, 'unnamed.cjs');
    const report = await host.requestUpdate('v1.cjs');
    expect(report).toMatchObject({ ok: false, error: { phase: 'rewire', code: 'ERR_UNNAMED_CALLBACK' } });
    expect(report.error!.message).toContain(`events 0x${EV.PERSIST.toString(16)}`);
    host.base.free();
  });

  it('logs each phase with the versions, so a failure says where it happened', async () => {
    const lines: string[] = [];
    const base = new EventBase({ method });
    const host = new UpdateHost({ base, versionsDir, log: (line) => lines.push(line) });
    await host.start('v0.cjs');
    await host.requestUpdate('transform-throws.cjs');
    await host.requestUpdate('v1.cjs');
    expect(lines[0]).toBe('start v0');
    expect(lines).toContainEqual(expect.stringMatching(/^update v0 -> transform-throws: loaded transform-throws\.cjs at point 'loop'$/));
    expect(lines).toContainEqual(expect.stringMatching(/^update v0 -> transform-throws: FAILED in migrate: transform of state 'stats' from v0 threw/));
    expect(lines).toContainEqual(expect.stringMatching(/^update v0 -> v1: state ready \(\d+ items\)$/));
    expect(lines.at(-1)).toMatch(/^update v0 -> v1: done in [\d.]+ ms \(\d+ events, inplace\)$/);
    base.free();
  });

  it('refuses a request before start and an unknown strategy', async () => {
    const idle = new UpdateHost({ base: new EventBase({ method }), versionsDir });
    expect(await idle.requestUpdate('v1.cjs')).toMatchObject({ ok: false, error: { phase: 'request', code: 'ERR_NOT_STARTED' } });
    idle.base.free();
    const { host } = await startHost(method);
    const r = await host.requestUpdate('v1.cjs', { strategy: 'teleport' as never });
    expect(r).toMatchObject({ ok: false, error: { code: 'ERR_UNKNOWN_STRATEGY' } });
    host.base.free();
  });
});
