// Loop control on every backend: loopexit/loopbreak/loopcontinue, the loop flags, and what a
// callback's exception does to the loop (libevent's main/loopexit, loopexit_multiple,
// loopbreak; the exception rule is this binding's own).
import { describe, expect, it } from 'vitest';

import { EV, EVLOOP, EventBase } from '../../lib/index.js';
import { methods } from './helpers.js';

// libevent's default clock is CLOCK_MONOTONIC_COARSE: a default base may fire a tick (or, on a
// loaded VM, a little more) before performance.now() says the time is up.
const TICK = 15;
const LATE = 200;

/** Three zero-delay timers made active in order; returns the log their callbacks write. */
function threeActive(base: EventBase, first: (name: string) => void = () => undefined) {
  const ran: string[] = [];
  const evs = ['a', 'b', 'c'].map((name) =>
    base.timer(() => {
      ran.push(name);
      first(name);
    }),
  );
  for (const ev of evs) ev.active(EV.TIMEOUT);
  return { ran, evs };
}

describe.each(methods)('loop control on %s', (method) => {
  it('returns 1 at once from dispatch() and every loop() flag on an empty base', () => {
    const base = new EventBase({ method });
    const t0 = performance.now();
    expect(base.dispatch()).toBe(1);
    expect(base.loop(EVLOOP.ONCE)).toBe(1);
    expect(base.loop(EVLOOP.NONBLOCK)).toBe(1);
    expect(base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK)).toBe(1);
    expect(performance.now() - t0).toBeLessThan(LATE);
    expect(base.gotExit).toBe(false);
    expect(base.gotBreak).toBe(false);
    base.free();
  });

  it('loopexit(50) ends a dispatch() with a 10 s timer pending after ~50 ms, with 0 and gotExit', () => {
    const base = new EventBase({ method });
    let fired = 0;
    const far = base.timer(() => fired++);
    far.add(10_000);
    base.loopexit(50);
    const t0 = performance.now();
    expect(base.dispatch()).toBe(0);
    const took = performance.now() - t0;
    expect(took).toBeGreaterThanOrEqual(50 - TICK);
    expect(took).toBeLessThan(50 + LATE);
    expect(base.gotExit).toBe(true);
    expect(base.gotBreak).toBe(false);
    expect(fired).toBe(0);
    expect(far.pending()).toBe(EV.TIMEOUT);
    base.free();
  });

  it('the earliest of several loopexits wins, in either order', () => {
    for (const delays of [[60, 2000], [2000, 60]]) {
      const base = new EventBase({ method });
      base.timer(() => undefined).add(10_000);
      for (const d of delays) base.loopexit(d);
      const t0 = performance.now();
      expect(base.dispatch()).toBe(0);
      const took = performance.now() - t0;
      expect(took).toBeGreaterThanOrEqual(60 - TICK);
      expect(took).toBeLessThan(60 + LATE);
      expect(base.gotExit).toBe(true);
      base.free();
    }
  });

  it('loopexit() before dispatch() ends it after one pass of callbacks', () => {
    const base = new EventBase({ method });
    let periodic = 0;
    base.timer(() => periodic++, { persist: true }).add(1000);
    const { ran } = threeActive(base);
    base.loopexit();
    const t0 = performance.now();
    expect(base.dispatch()).toBe(0);
    expect(performance.now() - t0).toBeLessThan(LATE);
    expect(ran).toEqual(['a', 'b', 'c']); // the pass completes
    expect(periodic).toBe(0);
    expect(base.gotExit).toBe(true);
    base.free();
  });

  it('loopexit() from a callback lets the rest of the pass run, then ends the loop', () => {
    const base = new EventBase({ method });
    base.timer(() => undefined).add(10_000);
    const { ran } = threeActive(base, (name) => name === 'a' && base.loopexit());
    expect(base.dispatch()).toBe(0);
    expect(ran).toEqual(['a', 'b', 'c']);
    expect(base.gotExit).toBe(true);
    expect(base.gotBreak).toBe(false);
    base.free();
  });

  it('loopbreak() from a callback skips the remaining active callbacks; the next loop() runs them', () => {
    const base = new EventBase({ method });
    const { ran, evs } = threeActive(base, (name) => name === 'a' && base.loopbreak());
    expect(base.dispatch()).toBe(0);
    expect(ran).toEqual(['a']);
    expect(base.gotBreak).toBe(true);
    expect(base.gotExit).toBe(false);
    expect(evs[1]!.pending()).toBe(EV.TIMEOUT);
    expect(evs[2]!.pending()).toBe(EV.TIMEOUT);
    expect(base.loop()).toBe(1);
    expect(ran).toEqual(['a', 'b', 'c']);
    expect(base.gotBreak).toBe(false);
    base.free();
  });

  it('ignores a loopbreak() made while no loop runs (libevent clears it at loop entry)', () => {
    const base = new EventBase({ method });
    const { ran } = threeActive(base);
    base.loopbreak();
    expect(base.dispatch()).toBe(1);
    expect(ran).toEqual(['a', 'b', 'c']);
    expect(base.gotBreak).toBe(false);
    base.free();
  });

  it('loopcontinue() from a callback still runs the rest, after polling again', () => {
    const base = new EventBase({ method });
    const { ran } = threeActive(base, (name) => name === 'a' && base.loopcontinue());
    expect(base.dispatch()).toBe(1);
    expect(ran).toEqual(['a', 'b', 'c']);
    base.free();
  });

  it('loop(ONCE) blocks until a callback ran, and runs only that pass', () => {
    const base = new EventBase({ method });
    const ran: number[] = [];
    base.timer(() => ran.push(30)).add(30);
    base.timer(() => ran.push(300)).add(300);
    const t0 = performance.now();
    expect(base.loop(EVLOOP.ONCE)).toBe(0);
    const took = performance.now() - t0;
    expect(ran).toEqual([30]);
    expect(took).toBeGreaterThanOrEqual(30 - TICK);
    base.free();
  });

  it('loop(NONBLOCK) returns 0 at once when nothing is ready but events are pending', () => {
    const base = new EventBase({ method });
    let fired = 0;
    base.timer(() => fired++).add(5000);
    const t0 = performance.now();
    expect(base.loop(EVLOOP.NONBLOCK)).toBe(0);
    expect(base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK)).toBe(0);
    expect(performance.now() - t0).toBeLessThan(LATE);
    expect(fired).toBe(0);
    base.free();
  });

  it('dispatch() runs until no events are left, then returns 1', () => {
    const base = new EventBase({ method });
    let n = 0;
    const t = base.timer((_fd, _what, self) => {
      if (++n < 5) self.add(1);
    });
    t.add(1);
    expect(base.dispatch()).toBe(1);
    expect(n).toBe(5);
    base.free();
  });
});

describe.each(methods)('exceptions in callbacks on %s', (method) => {
  it('stops the loop after the throwing callback and rethrows from dispatch(); nothing is lost', () => {
    const base = new EventBase({ method });
    const boom = new Error('boom');
    const { ran, evs } = threeActive(base, (name) => {
      if (name === 'b') throw boom;
    });
    let caught: unknown;
    expect(() => {
      try {
        base.dispatch();
      } catch (err) {
        caught = err;
        throw err;
      }
    }).toThrow('boom');
    expect(caught).toBe(boom); // the very object, not a copy
    expect(ran).toEqual(['a', 'b']);
    expect(evs[2]!.pending()).toBe(EV.TIMEOUT);
    expect(base.running).toBe(false);
    // The base is usable: the remaining callback runs on the next call.
    expect(base.dispatch()).toBe(1);
    expect(ran).toEqual(['a', 'b', 'c']);
    base.free();
  });

  it('rethrows from loop(ONCE | NONBLOCK) too, and a persistent event that threw stays pending', () => {
    const base = new EventBase({ method });
    let calls = 0;
    const ev = base.timer(
      () => {
        calls++;
        throw new TypeError(`call ${calls}`);
      },
      { persist: true },
    );
    ev.add(0);
    expect(() => base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK)).toThrow(TypeError);
    expect(ev.pending()).toBe(0); // add(0) gave no period: a fired persistent timer is done
    ev.add(1);
    expect(() => base.loop(EVLOOP.ONCE)).toThrow('call 2');
    expect(ev.pending()).toBe(EV.TIMEOUT); // a 1 ms period re-armed it before the call
    ev.del();
    expect(base.dispatch()).toBe(1);
    base.free();
  });

  it.each([
    ['a string', 'just a string'],
    ['a number', 42],
    ['null', null],
    ['undefined', undefined],
    ['a symbol', Symbol.for('thrown')],
  ])('rethrows %s thrown by a callback as is', (_name, value) => {
    const base = new EventBase({ method });
    const { ran } = threeActive(base, (name) => {
      if (name === 'a') throw value;
    });
    let threw = false;
    let caught: unknown = 'nothing';
    try {
      base.dispatch();
    } catch (err) {
      threw = true;
      caught = err;
    }
    expect(threw).toBe(true);
    expect(caught).toBe(value);
    expect(ran).toEqual(['a']);
    expect(base.dispatch()).toBe(1);
    expect(ran).toEqual(['a', 'b', 'c']);
    base.free();
  });

  it('keeps the first error when a later loop pass would add none', () => {
    const base = new EventBase({ method });
    let n = 0;
    base.timer(() => {
      n++;
      throw new Error('first');
    }).active(EV.TIMEOUT);
    expect(() => base.dispatch()).toThrow('first');
    // The error was delivered once; the next dispatch is clean.
    expect(base.dispatch()).toBe(1);
    expect(n).toBe(1);
    base.free();
  });
});
