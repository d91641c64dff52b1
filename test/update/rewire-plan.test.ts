// The in-place rewire is planned per handler and committed by callback slot: the host maps
// each callback the running version's events run to the new version's handler once, and one
// native call rewrites every event of each old slot. These cases pin down what that plan must
// keep: counts per handler, refusals before anything changes, host-owned events that share a
// version's callback, versions that exchange functions between names, and rollbacks that free
// exactly the events prepare made.
import { afterEach, describe, expect, it } from 'vitest';

import { type Callback, type Event, EventBase } from '../../lib/index.js';
import { binding } from '../../lib/loop/native.js';
import { UpdateHost } from '../../lib/update/index.js';
import { expectCode } from '../loop/helpers.js';
import { updateMethods, versionsDir } from './harness.js';

declare global {
  var nodeLibeventFanout: { beat: number; tick: number; share?: boolean; fns?: Record<string, Callback>; fresh?: Event[] } | undefined;
}


const stored = (ev: Event): number => binding.eventStoredCallback(ev._handle)[1];

afterEach(() => {
  globalThis.nodeLibeventFanout = undefined;
});

async function fanout(method: string, beat: number, tick: number, share?: Record<string, Callback>) {
  globalThis.nodeLibeventFanout = { beat, tick, ...(share ? { share: true, fns: share } : {}) };
  const host = new UpdateHost({ base: new EventBase({ method }), versionsDir });
  await host.start('fanout-a.cjs');
  const timers = host.context!.store.get('timers') as Event[];
  return { host, timers };
}

describe.each(updateMethods)('rewire planned per handler on %s', (method) => {
  it('rewires every event of each handler and reports the counts per handler', async () => {
    const { host, timers } = await fanout(method, 300, 200);
    const report = await host.requestUpdate('fanout-b.cjs');
    expect(report).toMatchObject({ ok: true, eventsRewired: 500 });
    expect(report.handlers).toEqual(
      expect.arrayContaining([
        { from: 'beat', to: 'beat', events: 300 },
        { from: 'tick', to: 'tick', events: 200 },
      ]),
    );
    const names = host.context!.nameOfHandler;
    expect(timers.every((ev) => ev.pending() !== 0)).toBe(true);
    expect(timers.slice(0, 300).every((ev) => names.get(ev.callback) === 'beat')).toBe(true);
    expect(timers.slice(300).every((ev) => names.get(ev.callback) === 'tick')).toBe(true);
    // the structs name the new functions: the events share two slots, and they run version b
    expect(new Set(timers.map(stored)).size).toBe(2);
    timers[0]!.active(1);
    timers[499]!.active(1);
    host.base.loop(2 | 1); // ONCE | NONBLOCK
    expect(host.context!.store.get('ran')).toEqual([
      ['beat', 'fanout-b'],
      ['tick', 'fanout-b'],
    ]);
    host.base.free();
  });

  it('refuses a version missing a handler before anything changes, naming how many events and one of them', async () => {
    const { host, timers } = await fanout(method, 3, 4);
    const slotsBefore = timers.map(stored);
    const fnsBefore = timers.map((ev) => ev.callback);
    const all = host.base._allEvents().length;
    const report = await host.requestUpdate('fanout-no-tick.cjs');
    expect(report).toMatchObject({ ok: false, error: { code: 'ERR_MISSING_HANDLER', phase: 'rewire' } });
    expect(report.error!.message).toMatch(/^4 events \(one: fd -1, events 0x0\) run handler 'tick' of fanout-a/);
    expect(timers.map(stored)).toEqual(slotsBefore);
    expect(timers.map((ev) => ev.callback)).toEqual(fnsBefore);
    expect(host.base._allEvents()).toHaveLength(all);
    expect(host.version).toBe('fanout-a');
    host.base.free();
  });

  it('keeps host-owned events that run a version handler on it, and still rewires the version events', async () => {
    const { host, timers } = await fanout(method, 5, 5);
    const beatA = timers[0]!.callback;
    const owned = host.own(host.base.timer(beatA).add(600_000));
    const report = await host.requestUpdate('fanout-b.cjs');
    expect(report).toMatchObject({ ok: true, eventsRewired: 10 });
    expect(report.handlers).toContainEqual({ from: 'beat', to: 'beat', events: 5 });
    expect(owned.callback).toBe(beatA);
    const beatB = host.context!.handlerByName.get('beat');
    expect(timers.slice(0, 5).every((ev) => ev.callback === beatB)).toBe(true);
    expect(stored(owned)).not.toBe(stored(timers[0]!));
    host.base.free();
  });

  it('handles a version that gives one name the function another name had (a swap)', async () => {
    const fns = { beat: () => {}, tick: () => {} };
    const { host, timers } = await fanout(method, 3, 2, fns);
    expect(timers[0]!.callback).toBe(fns.beat);
    const report = await host.requestUpdate('fanout-swap.cjs');
    expect(report).toMatchObject({ ok: true, eventsRewired: 5 });
    // the events of 'beat' now run what 'beat' names in the new version: the old tick function
    expect(timers.slice(0, 3).every((ev) => ev.callback === fns.tick)).toBe(true);
    expect(timers.slice(3).every((ev) => ev.callback === fns.beat)).toBe(true);
    expect(timers.slice(0, 3).map(stored)).toEqual(timers.slice(0, 3).map(() => stored(timers[0]!)));
    host.base.free();
  });

  it.each(['inplace', 'readd', 'rebase'] as const)('never rebinds an event the new version made during the update (%s, shared functions)', async (strategy) => {
    const fns = { beat: () => {}, tick: () => {} };
    const { host, timers } = await fanout(method, 2, 2, fns);
    const fresh: Event[] = [];
    globalThis.nodeLibeventFanout!.fresh = fresh;
    const report = await host.requestUpdate('fanout-swap.cjs', { strategy });
    expect(report).toMatchObject({ ok: true, eventsRewired: 4 });
    // made by fanout-swap on its 'beat', which is the shared tick function: it stays on it
    expect(fresh).toHaveLength(1);
    expect(fresh[0]!.callback).toBe(fns.tick);
    expect(timers.slice(0, 2).every((ev) => ev.callback === fns.tick)).toBe(true);
    expect(timers.slice(2).every((ev) => ev.callback === fns.beat)).toBe(true);
    host.base.free();
  });

  it('a dry run counts per handler and changes nothing', async () => {
    const { host, timers } = await fanout(method, 7, 1);
    const slotsBefore = timers.map(stored);
    const report = await host.requestUpdate('fanout-b.cjs', { dryRun: true });
    expect(report).toMatchObject({ ok: true, dryRun: true, eventsRewired: 8 });
    expect(timers.map(stored)).toEqual(slotsBefore);
    expect(host.version).toBe('fanout-a');
    host.base.free();
  });
});

describe('the addon calls behind the plan', () => {
  it('validate their arguments', () => {
    const base = new EventBase();
    const ev = base.timer(() => {});
    expectCode(() => binding.baseSlotCensus(-1), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => binding.baseSlotCensus(1e9), Error, 'ERR_INVALID_HANDLE');
    expectCode(() => binding.baseEventsSince(base._handle, -1), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => binding.baseEventsSince(base._handle, 'x' as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectCode(() => binding.eventSetHostOwned(ev._handle, 1 as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectCode(() => binding.eventSetHostOwned(1e9, true), Error, 'ERR_INVALID_HANDLE');
    ev.free();
    expectCode(() => binding.eventSetHostOwned(ev._handle, true), Error, 'ERR_INVALID_HANDLE');
    base.free();
    expectCode(() => binding.baseSlotCensus(base._handle), Error, 'ERR_BASE_FREED');
  });

  it('count host-owned events apart and list only the events made after a mark', () => {
    const base = new EventBase();
    const f: Callback = () => {};
    const old = [base.timer(f), base.timer(f)];
    base._setHostOwned(old[1]!);
    const mark = base._eventMark();
    const fresh = base.timer(f);
    expect(base._callbackCensus()).toEqual([{ fn: f, events: 3, owned: 1, fd: -1, what: 0 }]);
    expect(base._eventsSince(mark)).toEqual([fresh]);
    fresh.free();
    expect(base._eventsSince(mark)).toEqual([]);
    expect(base._callbackCensus()).toEqual([{ fn: f, events: 2, owned: 1, fd: -1, what: 0 }]);
    base.free();
  });
});
