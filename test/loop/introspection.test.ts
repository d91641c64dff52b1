// What a base says about its events, on every backend: pending() bits, events(), numEvents()
// with libevent's counting rules (main/event_pending, event_foreach,
// event_base_get_num_events), dumpEvents(), now(), and the backend chosen by the options.
import { afterEach, describe, expect, it } from 'vitest';

import { COUNT, EV, EVLOOP, EventBase, io, libeventVersion, supportedMethods } from '../../lib/index.js';
import { busyWait, bytes, expectCode, Fds, methods } from './helpers.js';

const fds = new Fds();
afterEach(() => fds.closeAll());

const ALL = COUNT.ACTIVE | COUNT.VIRTUAL | COUNT.ADDED;

describe('backends and version', () => {
  it('offers epoll, poll and select, and a 2.1 libevent', () => {
    expect(supportedMethods()).toEqual(expect.arrayContaining(['epoll', 'poll', 'select']));
    expect(libeventVersion()).toMatch(/^2\.1\.\d+/);
  });

  it('chooses the backend from method, avoid and requireFeatures', () => {
    const first = supportedMethods()[0];
    expect(new EventBase().method).toBe(first);
    expect(new EventBase({ avoid: ['epoll'] }).method).toBe('poll');
    expect(new EventBase({ avoid: ['epoll', 'poll'] }).method).toBe('select');
    const et = new EventBase({ requireFeatures: ['et'] });
    expect(et.method).toBe('epoll');
    expect(et.features).toEqual({ et: true, o1: true, fds: false, earlyClose: true });
    expect(new EventBase({ method: 'select' }).features).toMatchObject({ et: false, o1: false, fds: true });
    expectCode(() => new EventBase({ requireFeatures: ['et'], avoid: ['epoll'] }), Error, 'ERR_METHOD_UNAVAILABLE');
  });
});

describe.each(methods)('introspection on %s', (method) => {
  it('pending() reports READ|TIMEOUT for an fd event with a timeout, per bit asked, and none after del()', () => {
    const base = new EventBase({ method });
    const [a] = fds.pair();
    const ev = base.event(a, EV.READ | EV.PERSIST, () => undefined);
    expect(ev.pending()).toBe(0);
    ev.add(5000);
    expect(ev.pending()).toBe(EV.READ | EV.TIMEOUT);
    expect(ev.pending(EV.READ)).toBe(EV.READ);
    expect(ev.pending(EV.TIMEOUT)).toBe(EV.TIMEOUT);
    expect(ev.pending(EV.WRITE)).toBe(0);
    expect(ev.pending(EV.READ | EV.WRITE)).toBe(EV.READ);
    ev.del();
    expect(ev.pending()).toBe(0);
    const rw = base.event(a, EV.READ | EV.WRITE, () => undefined);
    rw.add();
    expect(rw.pending()).toBe(EV.READ | EV.WRITE);
    base.free();
  });

  it('pending() reports the activation bits of an active event, on top of the added ones', () => {
    const base = new EventBase({ method });
    const [a] = fds.pair();
    const ev = base.event(a, EV.READ, () => undefined);
    ev.active(EV.WRITE);
    expect(ev.pending()).toBe(EV.WRITE);
    expect(ev.pending(EV.READ)).toBe(0);
    const t = base.timer(() => undefined);
    t.add(5000);
    t.active(EV.READ);
    expect(t.pending()).toBe(EV.TIMEOUT | EV.READ);
    ev.del();
    expect(ev.pending()).toBe(0); // del() also drops the activation
    base.free();
  });

  it('events() lists each pending or active event once, and no idle one', () => {
    const base = new EventBase({ method });
    const [a] = fds.pair();
    const idle = base.timer(() => undefined);
    const timed = base.timer(() => undefined).add(5000);
    const io1 = base.event(a, EV.READ, () => undefined).add(5000); // inserted + timeout
    const both = base.event(a, EV.WRITE, () => undefined).add();
    both.active(EV.WRITE); // inserted + active
    const onlyActive = base.timer(() => undefined).active(EV.TIMEOUT);
    const list = base.events();
    expect(list).toHaveLength(4);
    expect(new Set(list)).toEqual(new Set([timed, io1, both, onlyActive]));
    expect(list).not.toContain(idle);
    timed.del();
    onlyActive.free();
    expect(new Set(base.events())).toEqual(new Set([io1, both]));
    io1.del();
    expect(base.dispatch()).toBe(1); // runs `both`, which then leaves every queue
    expect(base.events()).toEqual([]);
    // Other bases' events are not listed.
    const other = new EventBase({ method });
    other.timer(() => undefined).add(5000);
    expect(base.events()).toEqual([]);
    expect(other.events()).toHaveLength(1);
    other.free();
    base.free();
  });

  it('numEvents() counts queue memberships as libevent does', () => {
    const base = new EventBase({ method });
    const [a] = fds.pair();
    const counts = () => [base.numEvents(COUNT.ADDED), base.numEvents(COUNT.ACTIVE), base.numEvents(COUNT.VIRTUAL)];
    expect(counts()).toEqual([0, 0, 0]);
    const r = base.event(a, EV.READ, () => undefined).add();
    expect(counts()).toEqual([1, 0, 0]); // inserted
    r.add(5000);
    expect(counts()).toEqual([2, 0, 0]); // inserted + timeout
    const t = base.timer(() => undefined).add(5000);
    expect(counts()).toEqual([3, 0, 0]);
    const act = base.timer(() => undefined).active(EV.TIMEOUT);
    expect(counts()).toEqual([4, 1, 0]); // an active event is also in ADDED
    r.active(EV.READ);
    expect(counts()).toEqual([5, 2, 0]); // inserted + timeout + active
    expect(base.numEvents(COUNT.ADDED | COUNT.ACTIVE)).toBe(7);
    expect(base.numEvents(ALL)).toBe(7);
    expect(base.numEvents()).toBe(7); // the default is every kind
    r.removeTimer();
    expect(counts()).toEqual([4, 2, 0]);
    r.del();
    expect(counts()).toEqual([2, 1, 0]);
    act.free();
    t.del();
    expect(counts()).toEqual([0, 0, 0]);
    // Libevent's own events (the run mode's wake-ups, signal plumbing) are never counted.
    base.free();
  });

  it('numEvents() drops to 0 after a non-persistent event fires, and counts a persistent one while it stays', () => {
    const base = new EventBase({ method });
    const [a, b] = fds.pair();
    const inside: number[] = [];
    base.event(a, EV.READ, () => inside.push(base.numEvents(COUNT.ADDED), base.numEvents(COUNT.ACTIVE))).add();
    base.event(a, EV.READ | EV.PERSIST, (_f, _w, self) => {
      inside.push(base.numEvents(COUNT.ADDED));
      self.del();
    }).add();
    io.write(b, bytes(1));
    base.loop(EVLOOP.ONCE);
    // The persistent one runs first (libevent lists an fd's events newest first): it is out
    // of the active queue but still inserted (1), the other is inserted and active (2). The
    // non-persistent one was deleted before its callback, and the other deleted itself.
    expect(inside).toEqual([3, 0, 0]);
    expect(base.numEvents()).toBe(0);
    base.free();
  });

  it('removeTimer() keeps the I/O interest: counts and bits drop only the timeout', () => {
    const base = new EventBase({ method });
    const [a] = fds.pair();
    const ev = base.event(a, EV.WRITE, () => undefined).add(1000);
    expect(base.numEvents(COUNT.ADDED)).toBe(2);
    ev.removeTimer();
    expect(base.numEvents(COUNT.ADDED)).toBe(1);
    expect(ev.pending()).toBe(EV.WRITE);
    expect(base.events()).toEqual([ev]);
    base.free();
  });

  it('dumpEvents() describes inserted and active events', () => {
    const base = new EventBase({ method });
    const [a] = fds.pair();
    base.event(a, EV.READ | EV.PERSIST, () => undefined).add();
    base.timer(() => undefined).active(EV.TIMEOUT);
    const dump = base.dumpEvents();
    expect(dump).toContain('Inserted events:');
    expect(dump).toContain('Active events:');
    expect(dump).toMatch(new RegExp(`fd +${a}\\b.*Read.*Persist`));
    base.free();
  });

  it('now() is the loop’s cached time: one value for every callback of a pass (unless noCacheTime)', () => {
    for (const noCacheTime of [false, true]) {
      const base = new EventBase({ method, noCacheTime });
      const seen: number[] = [];
      const cb = () => {
        seen.push(base.now());
        busyWait(15);
      };
      base.timer(cb).active(EV.TIMEOUT);
      base.timer(cb).active(EV.TIMEOUT);
      base.dispatch();
      expect(seen).toHaveLength(2);
      if (noCacheTime) expect(seen[1]! - seen[0]!).toBeGreaterThanOrEqual(10);
      else expect(seen[1]).toBe(seen[0]);
      expect(Math.abs(seen[0]! - Date.now())).toBeLessThan(1000);
      expect(Math.abs(base.now() - Date.now())).toBeLessThan(1000);
      base.free();
    }
  });

  it('running is true only inside the loop', () => {
    const base = new EventBase({ method });
    let inside: boolean | undefined;
    base.timer(() => (inside = base.running)).add(0);
    expect(base.running).toBe(false);
    base.dispatch();
    expect(inside).toBe(true);
    expect(base.running).toBe(false);
    base.free();
  });
});
