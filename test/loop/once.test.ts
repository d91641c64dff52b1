// base.once() on every backend (libevent's main/event_once, event_once_never): fires once,
// leaves nothing behind, and is cleaned up with its base if it never fires.
import { afterEach, describe, expect, it } from 'vitest';

import { COUNT, EV, EVLOOP, EventBase, io } from '../../lib/index.js';
import { binding } from '../../lib/loop/native.js';
import { bytes, expectCode, expectUsable, Fds, gc, methods } from './helpers.js';

const fds = new Fds();
afterEach(() => fds.closeAll());

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe.each(methods)('once on %s', (method) => {
  it('runs a pure timer (fd -1) with no timeout on the next pass, once, and leaves nothing behind', () => {
    const base = new EventBase({ method });
    const before = binding.stats().liveEvents;
    const calls: unknown[][] = [];
    base.once(-1, EV.TIMEOUT, (...args: unknown[]) => calls.push(args));
    expect(base.numEvents(COUNT.ACTIVE)).toBe(1);
    expect(base.dispatch()).toBe(1);
    expect(calls).toEqual([[-1, EV.TIMEOUT]]); // (fd, what): no event object
    expect(base.events()).toEqual([]);
    expect(base.numEvents()).toBe(0);
    expect(binding.stats().liveEvents).toBe(before); // its native record went with it
    base.free();
  });

  it('runs a pure timer after its timeout, once', () => {
    const base = new EventBase({ method });
    const at: number[] = [];
    const t0 = performance.now();
    base.once(-1, EV.TIMEOUT, () => at.push(performance.now() - t0), 50);
    expect(base.events()).toHaveLength(1);
    expect(base.dispatch()).toBe(1);
    expect(at).toHaveLength(1);
    expect(at[0]).toBeGreaterThanOrEqual(50 - 15);
    expect(at[0]).toBeLessThan(250);
    base.free();
  });

  it('runs a zero timeout like no timeout, in the order once() was called', () => {
    const base = new EventBase({ method });
    const order: number[] = [];
    base.once(-1, EV.TIMEOUT, () => order.push(1), 0);
    base.once(-1, EV.TIMEOUT, () => order.push(2));
    base.once(-1, EV.TIMEOUT, () => order.push(3), 0);
    expect(base.dispatch()).toBe(1);
    expect(order).toEqual([1, 2, 3]);
    base.free();
  });

  it('runs a once on an fd when it is ready, and never again', () => {
    const base = new EventBase({ method });
    const [a, b] = fds.pair();
    const calls: [number, number][] = [];
    base.once(a, EV.READ, (fd, what) => calls.push([fd, what]));
    expect(base.numEvents(COUNT.ADDED)).toBe(1);
    io.write(b, bytes(1));
    expect(base.dispatch()).toBe(1);
    expect(calls).toEqual([[a, EV.READ]]);
    io.write(b, bytes(1));
    expect(base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK)).toBe(1);
    expect(calls).toHaveLength(1);
    base.free();
  });

  it('times out a once on an fd that sees no data, with the fd and TIMEOUT', () => {
    const base = new EventBase({ method });
    const [a] = fds.pair();
    const calls: [number, number][] = [];
    base.once(a, EV.READ, (fd, what) => calls.push([fd, what]), 30);
    expect(base.numEvents(COUNT.ADDED)).toBe(2); // inserted + timeout
    expect(base.dispatch()).toBe(1);
    expect(calls).toEqual([[a, EV.TIMEOUT]]);
    expect(base.numEvents()).toBe(0);
    base.free();
  });

  it('refuses bad arguments with a code and leaves nothing pending', () => {
    const base = new EventBase({ method });
    const [a] = fds.pair();
    const cb = () => undefined;
    expectCode(() => base.once(-1, EV.SIGNAL, cb), RangeError, 'ERR_INVALID_EVENTS');
    expectCode(() => base.once(a, EV.READ | EV.PERSIST, cb), RangeError, 'ERR_INVALID_EVENTS');
    expectCode(() => base.once(a, EV.READ | EV.ET, cb), RangeError, 'ERR_INVALID_EVENTS');
    expectCode(() => base.once(a, 0x4000, cb), RangeError, 'ERR_INVALID_EVENTS');
    expectCode(() => base.once(a, 'READ' as unknown as number, cb), RangeError, 'ERR_INVALID_EVENTS');
    for (const events of [NaN, Infinity, 1.5, -1, 2 ** 53]) {
      expectCode(() => base.once(-1, events, cb), RangeError, 'ERR_INVALID_EVENTS'); // issue 7: NaN/1.5 were accepted
    }
    expectCode(() => base.once(a, EV.TIMEOUT, cb), RangeError, 'ERR_OUT_OF_RANGE'); // a pure timer takes -1
    expectCode(() => base.once(-1, EV.READ, cb), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => base.once(-1, EV.TIMEOUT, 'cb' as unknown as () => void), TypeError, 'ERR_INVALID_ARG_TYPE');
    for (const ms of [NaN, -1, Infinity]) {
      expectCode(() => base.once(-1, EV.TIMEOUT, cb, ms), RangeError, 'ERR_OUT_OF_RANGE');
      expectCode(() => base.once(a, EV.READ, cb, ms), RangeError, 'ERR_OUT_OF_RANGE');
    }
    expectCode(() => base.once(a, EV.READ, cb, '5' as unknown as number), TypeError, 'ERR_INVALID_ARG_TYPE');
    expect(base.events()).toEqual([]);
    expect(base.numEvents()).toBe(0);
    expectUsable(base);
    base.free();
  });

  it('frees a once that never fired with its base: its callback is collected', async () => {
    const base = new EventBase({ method });
    const [a] = fds.pair();
    const collected: string[] = [];
    const registry = new FinalizationRegistry<string>((name) => collected.push(name));
    // Callbacks made in an inner function so that nothing here keeps them.
    (() => {
      const onFd = () => {
        throw new Error('never');
      };
      const onTimer = () => {
        throw new Error('never');
      };
      registry.register(onFd, 'fd');
      registry.register(onTimer, 'timer');
      base.once(a, EV.READ, onFd);
      base.once(-1, EV.TIMEOUT, onTimer, 60_000);
    })();
    base.loopexit(10);
    expect(base.dispatch()).toBe(0);
    expect(collected).toEqual([]);
    base.free();
    for (let i = 0; i < 10 && collected.length < 2; i++) {
      gc();
      await turn();
    }
    expect(collected.sort()).toEqual(['fd', 'timer']);
  });

  it('keeps a pending once alive without references until it fires', async () => {
    const base = new EventBase({ method });
    let fired = 0;
    (() => base.once(-1, EV.TIMEOUT, () => fired++, 20))();
    for (let i = 0; i < 3; i++) {
      gc();
      await turn();
    }
    expect(base.dispatch()).toBe(1);
    expect(fired).toBe(1);
    base.free();
  });
});
