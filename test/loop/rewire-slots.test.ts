// Rewire by callback slot (base._rewireCallbacks, native baseRewireSlots): the events of a
// base that run the same function share one slot, and one native call moves all of them to
// a new function, with no JS per event. Pending state, timeouts and queued activations stay.
import { afterEach, describe, expect, it } from 'vitest';

import { type Callback, COUNT, EV, EVLOOP, type Event, EventBase } from '../../lib/index.js';
import { binding } from '../../lib/loop/native.js';
import { expectCode, Fds, gc, methods } from './helpers.js';

const fds = new Fds();
afterEach(() => fds.closeAll());

const stored = (ev: Event): number => binding.eventStoredCallback(ev._handle)[1];
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe.each(methods)('rewire by slot on %s', (method) => {
  it('moves every event of a base from each old function to its new one in one call, keeping their state', () => {
    const base = new EventBase({ method });
    const other = new EventBase({ method });
    const log: string[] = [];
    const a: Callback = (_fd, _w, ev) => log.push(`a ${evs.indexOf(ev)}`);
    const b: Callback = (_fd, _w, ev) => log.push(`b ${evs.indexOf(ev)}`);
    const c: Callback = (_fd, _w, ev) => log.push(`c ${evs.indexOf(ev)}`);
    const a2: Callback = (_fd, _w, ev) => log.push(`a2 ${evs.indexOf(ev)}`);
    const b2: Callback = (_fd, _w, ev) => log.push(`b2 ${evs.indexOf(ev)}`);
    const evs: Event[] = [];
    for (let i = 0; i < 30; i++) {
      const fn = [a, b, c][i % 3]!;
      const ev = i % 2 ? base.timer(fn, { persist: true }) : base.event(fds.pair()[0], EV.READ | EV.PERSIST, fn);
      if (i % 5 !== 4) ev.add(60_000 + i); // some stay idle
      evs.push(ev);
    }
    evs[3]!.active(EV.TIMEOUT); // a queued activation must survive
    const elsewhere = other.timer(a).add(60_000); // another base keeps `a`
    expect(new Set(evs.map(stored)).size).toBe(3); // one slot per function
    expect(new Set(base._callbacks())).toEqual(new Set([a, b, c]));
    const before = {
      pending: evs.map((e) => e.pending()),
      added: base.numEvents(COUNT.ADDED),
      active: base.numEvents(COUNT.ACTIVE),
      listed: base.events().length,
    };
    expect(base._rewireCallbacks(new Map([[a, a2], [b, b2]]))).toBe(20);
    expect(evs.map((e) => e.callback)).toEqual(evs.map((_, i) => [a2, b2, c][i % 3]));
    expect(new Set(base._callbacks())).toEqual(new Set([a2, b2, c]));
    expect(elsewhere.callback).toBe(a);
    expect({
      pending: evs.map((e) => e.pending()),
      added: base.numEvents(COUNT.ADDED),
      active: base.numEvents(COUNT.ACTIVE),
      listed: base.events().length,
    }).toEqual(before);
    for (const ev of evs) if (ev !== evs[3]) ev.active(EV.TIMEOUT);
    base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK);
    expect(log).toHaveLength(30);
    expect(log[0]).toBe('a2 3'); // the activation queued before the rewire runs first, rewritten
    expect(log.filter((x) => x.startsWith('a ') || x.startsWith('b '))).toEqual([]);
    // a single rewrite afterwards moves only that event
    evs[0]!.callback = c;
    expect(stored(evs[0]!)).toBe(stored(evs[2]!));
    expect(evs[6]!.callback).toBe(a2);
    base.free();
    other.free();
  });

  it("follows chains of updates, also when a function's events join one that already had events", () => {
    const base = new EventBase({ method });
    const log: string[] = [];
    const fn = (name: string): Callback => () => log.push(name);
    const [a, b, c, d] = [fn('a'), fn('b'), fn('c'), fn('d')];
    const evs = [a, a, b, b].map((f) => base.timer(f, { persist: true }).add(60_000));
    expect(base._rewireCallbacks(new Map([[a, b]]))).toBe(2); // a's events join b's
    expect(evs.map(stored).every((s) => s === stored(evs[2]!))).toBe(true);
    expect(base._rewireCallbacks(new Map([[b, c]]))).toBe(4);
    expect(base._rewireCallbacks(new Map([[c, d]]))).toBe(4);
    expect(evs.map((e) => e.callback)).toEqual([d, d, d, d]);
    expect(base._callbacks()).toEqual([d]);
    for (const ev of evs) ev.active(EV.TIMEOUT);
    base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK);
    expect(log).toEqual(['d', 'd', 'd', 'd']);
    base.free();
  });

  it('refuses a swap and bad arguments, changing nothing', () => {
    const base = new EventBase({ method });
    const a: Callback = () => undefined;
    const b: Callback = () => undefined;
    const ea = base.timer(a).add(60_000);
    const eb = base.timer(b).add(60_000);
    const slots = [stored(ea), stored(eb)];
    expectCode(() => base._rewireCallbacks(new Map([[a, b], [b, a]])), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => base._rewireCallbacks(new Map([[a, 42 as unknown as Callback]])), TypeError, 'ERR_INVALID_ARG_TYPE');
    const h = base._handle;
    expectCode(() => binding.baseRewireSlots(h, Uint32Array.of(slots[0]!, slots[0]!), Uint32Array.of(90, 91)), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => binding.baseRewireSlots(h, Uint32Array.of(slots[0]!, slots[1]!), Uint32Array.of(slots[1]!, 90)), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => binding.baseRewireSlots(h, Uint32Array.of(1), Uint32Array.of(1, 2)), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => binding.baseRewireSlots(h, Uint32Array.of(1), Uint32Array.of(2 ** 30)), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => binding.baseRewireSlots(h, [1] as unknown as Uint32Array, Uint32Array.of(2)), TypeError, 'ERR_INVALID_ARG_TYPE');
    expect([stored(ea), stored(eb)]).toEqual(slots);
    expect([ea.callback, eb.callback]).toEqual([a, b]);
    expect(base._rewireCallbacks(new Map([[a, a]]))).toBe(0);
    base.free();
    expectCode(() => base._rewireCallbacks(new Map()), Error, 'ERR_BASE_FREED');
  });

  it('still lets idle events whose callbacks refer to them be collected, and reuses the slots', async () => {
    const base = new EventBase({ method });
    for (let i = 0; i < 4; i++) {
      gc();
      await turn();
    }
    const live0 = binding.stats().liveEvents;
    const next: Callback = () => undefined;
    (() => {
      const shared: Callback = (_fd, _w, ev) => ev.del();
      for (let i = 0; i < 500; i++) {
        const ev: Event = base.timer(i % 2 ? shared : () => ev.del());
        void ev;
      }
      base._rewireCallbacks(new Map([[shared, next]]));
    })();
    expect(binding.stats().liveEvents).toBe(live0 + 500);
    for (let i = 0; i < 4; i++) {
      gc();
      await turn();
    }
    expect(binding.stats().liveEvents).toBe(live0);
    // the slots came back: a new event reuses a low one
    const ev = base.timer(next);
    expect(stored(ev)).toBeLessThan(1000);
    base.free();
  });
});
