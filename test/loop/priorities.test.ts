// Priorities on every backend (libevent's main/priorities, priority_active_inversion): each
// pass runs only the most urgent non-empty queue, so an always-ready urgent event starves
// the others, and activating a more urgent event from a callback runs it next.
import { afterEach, describe, expect, it } from 'vitest';

import { EV, EVLOOP, EventBase, io } from '../../lib/index.js';
import { bytes, expectCode, Fds, methods } from './helpers.js';

const fds = new Fds();
afterEach(() => fds.closeAll());

describe.each(methods)('priorities on %s', (method) => {
  it('reports the levels and gives new events the middle one (libevent: n / 2)', () => {
    const base = new EventBase({ method, priorities: 3 });
    expect(base.priorities).toBe(3);
    const ev = base.timer(() => undefined);
    expect(ev.priority).toBe(1);
    ev.priority = 0;
    expect(ev.priority).toBe(0);
    ev.priority = 2;
    expect(ev.priority).toBe(2);
    expect(new EventBase({ method }).priorities).toBe(1);
    expect(new EventBase({ method, priorities: 255 }).priorities).toBe(255); // libevent's maximum
    base.free();
  });

  it('lets an always-ready urgent persistent event starve the lower priorities', () => {
    const base = new EventBase({ method, priorities: 3 });
    const [a, b] = fds.pair();
    io.write(b, bytes(1)); // never read: ready on every pass
    const ran: string[] = [];
    let urgent = 0;
    const hot = base.event(a, EV.READ | EV.PERSIST, () => {
      urgent++;
      if (urgent === 50) base.loopbreak();
    });
    hot.priority = 0;
    hot.add();
    const mid = base.timer(() => ran.push('mid'));
    mid.priority = 1;
    const low = base.timer(() => ran.push('low'));
    low.priority = 2;
    mid.active(EV.TIMEOUT);
    low.active(EV.TIMEOUT);
    expect(base.dispatch()).toBe(0);
    expect(urgent).toBe(50);
    expect(ran).toEqual([]);
    expect(mid.pending()).toBe(EV.TIMEOUT); // still queued, not lost
    expect(low.pending()).toBe(EV.TIMEOUT);
    // Once the urgent event is gone, the others run, most urgent first.
    hot.del();
    expect(base.dispatch()).toBe(1);
    expect(ran).toEqual(['mid', 'low']);
    base.free();
  });

  it('runs everything in one pass when all share one priority (no starvation)', () => {
    const base = new EventBase({ method });
    const [a, b] = fds.pair();
    io.write(b, bytes(1));
    const ran: string[] = [];
    const hot = base.event(a, EV.READ | EV.PERSIST, () => ran.push('hot'));
    hot.add();
    base.timer(() => ran.push('x')).active(EV.TIMEOUT);
    base.timer(() => ran.push('y')).active(EV.TIMEOUT);
    base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK);
    expect(ran.sort()).toEqual(['hot', 'x', 'y']);
    base.free();
  });

  it('runs a more urgent event activated from a less urgent callback before the rest of the queue', () => {
    const base = new EventBase({ method, priorities: 3 });
    const order: string[] = [];
    const high = base.timer(() => order.push('high'));
    high.priority = 0;
    const first = base.timer(() => {
      order.push('first');
      high.active(EV.TIMEOUT);
    });
    const second = base.timer(() => order.push('second'));
    first.priority = 2;
    second.priority = 2;
    first.active(EV.TIMEOUT);
    second.active(EV.TIMEOUT);
    expect(base.dispatch()).toBe(1);
    expect(order).toEqual(['first', 'high', 'second']);
    base.free();
  });

  it('orders ready I/O events by priority within a pass', () => {
    const base = new EventBase({ method, priorities: 4 });
    const order: number[] = [];
    for (const p of [3, 0, 2, 1]) {
      const [a, b] = fds.pair();
      const ev = base.event(a, EV.READ, () => order.push(p));
      ev.priority = p;
      ev.add();
      io.write(b, bytes(1));
    }
    expect(base.dispatch()).toBe(1);
    expect(order).toEqual([0, 1, 2, 3]);
    base.free();
  });

  it('refuses a priority out of range with a RangeError, and a non-number with a TypeError', () => {
    const base = new EventBase({ method, priorities: 3 });
    const ev = base.timer(() => undefined);
    for (const bad of [3, -1, 1.5, NaN, Infinity, 2 ** 40]) {
      expectCode(() => (ev.priority = bad), RangeError, 'ERR_OUT_OF_RANGE');
    }
    for (const bad of ['1', null, undefined, {}]) {
      expectCode(() => (ev.priority = bad as unknown as number), TypeError, 'ERR_INVALID_ARG_TYPE');
    }
    expect(ev.priority).toBe(1);
    // A one-level base has only priority 0.
    const one = new EventBase({ method });
    const t = one.timer(() => undefined);
    t.priority = 0;
    expectCode(() => (t.priority = 1), RangeError, 'ERR_OUT_OF_RANGE');
    one.free();
    base.free();
  });

  it('refuses to change the priority of an active event (ERR_EVENT_ACTIVE), and allows it on a pending one', () => {
    const base = new EventBase({ method, priorities: 3 });
    const [a] = fds.pair();
    const ev = base.event(a, EV.WRITE, () => undefined);
    ev.add(); // pending, not active: allowed
    ev.priority = 0;
    ev.active(EV.WRITE);
    const err = expectCode(() => (ev.priority = 2), Error, 'ERR_EVENT_ACTIVE');
    expect(err).not.toBeInstanceOf(RangeError);
    expect(ev.priority).toBe(0);
    expect(ev.pending() & EV.WRITE).toBe(EV.WRITE); // still active, untouched
    expect(base.dispatch()).toBe(1);
    ev.priority = 2; // no longer active
    expect(ev.priority).toBe(2);
    base.free();
  });

  it('refuses a bad number of levels', () => {
    for (const bad of [0, 256, 257, 1.5, -3, NaN]) {
      expectCode(() => new EventBase({ method, priorities: bad }), RangeError, 'ERR_OUT_OF_RANGE');
    }
    expectCode(() => new EventBase({ method, priorities: '3' as unknown as number }), TypeError, 'ERR_INVALID_ARG_TYPE');
  });
});
