// In-place callback rewrite on every backend: `ev.callback = fn` and `base.rewire(map)` write
// the new callback into the live struct event without event_del/event_add, so a pending event
// stays pending, keeps its remaining timeout and persistent period, and an activation already
// queued runs the new callback.
import { afterEach, describe, expect, it } from 'vitest';

import { type Callback, COUNT, EV, EVLOOP, type Event, EventBase, io } from '../../lib/index.js';
import { binding } from '../../lib/loop/native.js';
import { bytes, drain, expectCode, Fds, methods } from './helpers.js';

const TICK = 15; // coarse clock slack (see timers.test.ts)

const fds = new Fds();
afterEach(() => fds.closeAll());

/** The callback slot written in the struct's argument word, checking the trampoline is kept. */
function stored(ev: Event): number {
  const [isTrampoline, slot] = binding.eventStoredCallback(ev._handle);
  expect(isTrampoline).toBe(true);
  return slot;
}

/** Everything a rewrite must leave alone. */
function snapshot(base: EventBase, evs: Event[]) {
  return {
    pending: evs.map((e) => e.pending()),
    priority: evs.map((e) => e.priority),
    listed: base.events().length,
    added: base.numEvents(COUNT.ADDED),
    active: base.numEvents(COUNT.ACTIVE),
  };
}

describe.each(methods)('in-place rewrite on %s', (method) => {
  it('keeps a pending fd event pending with the same bits, and stores the new callback', () => {
    const base = new EventBase({ method });
    const [a, b] = fds.pair();
    const log: string[] = [];
    const ev = base.event(a, EV.READ | EV.PERSIST, () => log.push('old'));
    ev.add(5000);
    const before = snapshot(base, [ev]);
    const slot0 = stored(ev);
    const fresh: Callback = (_fd, what) => log.push(`new ${what}`);
    ev.callback = fresh;
    expect(ev.callback).toBe(fresh);
    expect(stored(ev)).not.toBe(slot0);
    expect(snapshot(base, [ev])).toEqual(before);
    expect(before.pending[0]).toBe(EV.READ | EV.TIMEOUT);
    io.write(b, bytes(1));
    base.loop(EVLOOP.ONCE);
    expect(log).toEqual([`new ${EV.READ}`]);
    base.free();
  });

  it('keeps the remaining timeout: a 200 ms timer rewritten at ~100 ms fires at ~200 ms', () => {
    const base = new EventBase({ method });
    const log: [string, number][] = [];
    const t0 = performance.now();
    const ev = base.timer(() => log.push(['old', performance.now() - t0]));
    ev.add(200);
    let before = 0;
    let after = 0;
    base
      .timer(() => {
        before = binding.eventRemainingMs(ev._handle);
        ev.callback = () => log.push(['new', performance.now() - t0]);
        after = binding.eventRemainingMs(ev._handle);
      })
      .add(100);
    expect(base.dispatch()).toBe(1);
    expect(log).toHaveLength(1);
    const [which, at] = log[0]!;
    expect(which).toBe('new');
    expect(at).toBeGreaterThanOrEqual(200 - TICK);
    // The deadline is untouched (a re-add would have moved it to ~300 ms); when the call
    // came is up to the machine's load.
    expect(before).toBeGreaterThanOrEqual(0); // -1: no timeout pending
    expect(Math.abs(after - before)).toBeLessThan(6);
    base.free();
  });

  it('keeps a persistent timer’s period and phase', () => {
    // Checked on the deadlines libevent keeps (read at each call), not on when the calls ran:
    // a loaded machine runs them late, but a persistent timer re-arms from its last deadline.
    const base = new EventBase({ method });
    const period = 60;
    const log: string[] = [];
    // NaN when overdue (the binding then says 0): a stalled process reads no deadline.
    const nextDeadline = () => {
      const left = binding.eventRemainingMs(ev._handle);
      return left > 0 ? performance.now() + left : Number.NaN;
    };
    const ev = base.timer(() => log.push('old'), { persist: true });
    ev.add(period);
    let before = 0;
    let after = 0;
    const deadlines: number[] = [];
    // At ~90 ms, between the first (60) and second (120) calls.
    base
      .timer(() => {
        before = nextDeadline();
        ev.callback = (_fd, _what, self) => {
          log.push('new');
          deadlines.push(nextDeadline());
          if (log.length === 4) self.del();
        };
        after = nextDeadline();
      })
      .add(90);
    expect(base.dispatch()).toBe(1);
    expect(log).toEqual(['old', 'new', 'new', 'new']);
    // The deadline stays the old schedule's (~120, a re-add would make it 90 + 60 = 150; the
    // coarse clock can shift a reading by a few ms), and the next ones are a period apart or,
    // after a stall of this process past a deadline, more (never the 30 ms a re-add of the
    // time left would make the period).
    if (!Number.isNaN(before + after)) expect(Math.abs(after - before)).toBeLessThan(6);
    const read = [before, ...deadlines].filter((d) => !Number.isNaN(d));
    expect(read.length).toBeGreaterThanOrEqual(2);
    for (let k = 1; k < read.length; k++) expect(read[k]! - read[k - 1]!).toBeGreaterThanOrEqual(period - 6);
    base.free();
  });

  it('runs the new callback for an activation queued before the rewrite, with its bits', () => {
    const base = new EventBase({ method });
    const [a] = fds.pair();
    const log: string[] = [];
    const ev = base.event(a, EV.READ, () => log.push('old'));
    ev.active(EV.READ);
    ev.active(EV.TIMEOUT);
    ev.callback = (_fd, what) => log.push(`new ${what}`);
    expect(ev.pending()).toBe(EV.READ | EV.TIMEOUT);
    expect(base.dispatch()).toBe(1);
    expect(log).toEqual([`new ${EV.READ | EV.TIMEOUT}`]);
    base.free();
  });

  it('takes three rewrites in a row: only the last callback runs', () => {
    const base = new EventBase({ method });
    const log: number[] = [];
    const ev = base.timer(() => log.push(0), { persist: true });
    ev.add(5000);
    ev.active(EV.TIMEOUT);
    const slots = [stored(ev)];
    for (const n of [1, 2, 3]) {
      ev.callback = () => log.push(n);
      slots.push(stored(ev));
    }
    // Each rewrite stores a slot other than the one before (freed slots get reused later).
    for (let i = 1; i < slots.length; i++) expect(slots[i]).not.toBe(slots[i - 1]);
    expect(ev.pending()).toBe(EV.TIMEOUT);
    base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK);
    expect(log).toEqual([3]);
    expect(ev.pending()).toBe(EV.TIMEOUT); // still on its 5 s period
    base.free();
  });

  it('rewrites the running event from its own callback: this call finishes, the next uses the new one', () => {
    const base = new EventBase({ method });
    const log: string[] = [];
    const ev = base.timer(
      (_fd, _what, self) => {
        log.push('old');
        self.callback = (_f, _w, me) => {
          log.push('new');
          if (log.length === 3) me.del();
        };
        log.push('old-after');
      },
      { persist: true },
    );
    ev.add(5);
    expect(base.dispatch()).toBe(1);
    expect(log).toEqual(['old', 'old-after', 'new']);
    base.free();
  });

  it('rewrites a non-persistent event from its own callback; re-added, it runs the new one', () => {
    const base = new EventBase({ method });
    const log: string[] = [];
    const ev = base.timer((_fd, _what, self) => {
      log.push('old');
      self.callback = () => log.push('new');
      self.add(0);
    });
    ev.add(0);
    expect(base.dispatch()).toBe(1);
    expect(log).toEqual(['old', 'new']);
    base.free();
  });

  it('rewrites another event later in the same pass: it runs the new callback in that pass', () => {
    const base = new EventBase({ method });
    const log: string[] = [];
    const later = base.timer(() => log.push('later-old'));
    const first = base.timer(() => {
      log.push('first');
      later.callback = () => log.push('later-new');
    });
    first.active(EV.TIMEOUT);
    later.active(EV.TIMEOUT);
    base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK);
    expect(log).toEqual(['first', 'later-new']);
    base.free();
  });

  it('rewrites an idle (never added) event: it runs the new callback once added', () => {
    const base = new EventBase({ method });
    const log: string[] = [];
    const ev = base.timer(() => log.push('old'));
    ev.callback = () => log.push('new');
    expect(ev.pending()).toBe(0);
    ev.add(0);
    expect(base.dispatch()).toBe(1);
    expect(log).toEqual(['new']);
    base.free();
  });

  it('rewire() rewrites the events map picks, in place, leaving the rest and every queue alone', () => {
    const base = new EventBase({ method });
    const [a, b] = fds.pair();
    const log: string[] = [];
    const r = base.event(a, EV.READ | EV.PERSIST, () => log.push('r-old')).add(5000);
    const w = base.event(a, EV.WRITE, () => log.push('w-old')).add();
    const t = base.timer(() => log.push('t-old')).add(5000);
    const act = base.timer(() => log.push('act-old')).active(EV.TIMEOUT);
    const idle = base.timer(() => log.push('idle-old'));
    const before = snapshot(base, [r, w, t, act, idle]);
    const slots = [r, w, t, act, idle].map(stored);
    const seen: Event[] = [];
    const n = base.rewire((ev) => {
      seen.push(ev);
      if (ev === w) return undefined; // keeps its callback
      const name = ev === r ? 'r' : ev === t ? 't' : ev === act ? 'act' : 'idle';
      return () => log.push(`${name}-new`);
    });
    expect(n).toBe(4);
    expect(new Set(seen)).toEqual(new Set([r, w, t, act, idle])); // every live event, idle ones too
    expect(seen).toHaveLength(5);
    expect(snapshot(base, [r, w, t, act, idle])).toEqual(before);
    const after = [r, w, t, act, idle].map(stored);
    expect(after[1]).toBe(slots[1]);
    for (const i of [0, 2, 3, 4]) expect(after[i]).not.toBe(slots[i]);
    io.write(b, bytes(1));
    base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK);
    expect(log.sort()).toEqual(['act-new', 'r-new', 'w-old']);
    drain(a);
    idle.active(EV.TIMEOUT);
    t.active(EV.TIMEOUT);
    base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK);
    expect(log.slice(3)).toEqual(['idle-new', 't-new']);
    base.free();
  });

  it('rewire() is all or nothing: a map that throws or returns a non-function changes nothing', () => {
    const base = new EventBase({ method });
    const log: string[] = [];
    const evs = [0, 1, 2].map((i) => base.timer(() => log.push(`old${i}`)));
    evs[0]!.add(5000);
    evs[1]!.active(EV.TIMEOUT);
    const before = snapshot(base, evs);
    const slots = evs.map(stored);
    const callbacks = evs.map((e) => e.callback);
    let calls = 0;
    const boom = new Error('map failed');
    expect(() =>
      base.rewire(() => {
        if (++calls === 2) throw boom;
        return () => log.push('new');
      }),
    ).toThrow(boom);
    expectCode(
      () => base.rewire((ev) => (ev === evs[2] ? ('nope' as unknown as Callback) : () => log.push('new'))),
      TypeError,
      'ERR_INVALID_ARG_TYPE',
    );
    expectCode(() => base.rewire(() => () => undefined, { strategy: 'copy' as 'inplace' }), RangeError, 'ERR_UNKNOWN_STRATEGY');
    expectCode(() => base.rewire('map' as unknown as () => undefined), TypeError, 'ERR_INVALID_ARG_TYPE');
    expect(evs.map(stored)).toEqual(slots);
    expect(evs.map((e) => e.callback)).toEqual(callbacks);
    expect(snapshot(base, evs)).toEqual(before);
    evs[0]!.active(EV.TIMEOUT);
    evs[2]!.active(EV.TIMEOUT);
    base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK);
    expect(log.sort()).toEqual(['old0', 'old1', 'old2']);
    base.free();
  });

  it('rewire() only sees this base’s events and skips freed ones', () => {
    const base = new EventBase({ method });
    const other = new EventBase({ method });
    const mine = base.timer(() => undefined);
    const gone = base.timer(() => undefined);
    gone.free();
    const theirs = other.timer(() => undefined);
    const seen: Event[] = [];
    expect(base.rewire((ev) => void seen.push(ev))).toBe(0);
    expect(seen).toEqual([mine]);
    expect(seen).not.toContain(theirs);
    other.free();
    base.free();
  });

  it('rewire() from inside a callback rewrites events later in the same pass, and itself for next time', () => {
    const base = new EventBase({ method });
    const log: string[] = [];
    const gen = { n: 0 };
    const make = (name: string, g: number): Callback => (_fd, _what, self) => {
      log.push(`${name}${g}`);
      if (name === 'a' && g === 0) {
        gen.n = 1;
        base.rewire((ev) => make(ev === self ? 'a' : 'b', 1));
      }
    };
    const a = base.timer(make('a', 0), { persist: true });
    const b = base.timer(make('b', 0), { persist: true });
    a.active(EV.TIMEOUT);
    b.active(EV.TIMEOUT);
    base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK);
    expect(log).toEqual(['a0', 'b1']);
    a.active(EV.TIMEOUT);
    base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK);
    expect(log).toEqual(['a0', 'b1', 'a1']);
    expect(gen.n).toBe(1);
    base.free();
  });

  it('refuses a non-function callback and a freed event, changing nothing', () => {
    const base = new EventBase({ method });
    const log: string[] = [];
    const ev = base.timer(() => log.push('old')).add(0);
    const slot = stored(ev);
    for (const bad of [null, undefined, 42, 'fn', {}]) {
      expectCode(() => (ev.callback = bad as unknown as Callback), TypeError, 'ERR_INVALID_ARG_TYPE');
    }
    expect(stored(ev)).toBe(slot);
    expect(base.dispatch()).toBe(1);
    expect(log).toEqual(['old']);
    ev.free();
    expectCode(() => (ev.callback = () => undefined), Error, 'ERR_EVENT_FREED');
    base.free();
  });
});
