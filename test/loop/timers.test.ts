// Timeouts on every backend: on time, persistent periods, no catch-up burst after a stall,
// rescheduling by re-adding, and removeTimer() (libevent's main/simpletimeout,
// persistent_timeout, persistent_timeout_jump, persistent_active_timeout, event_remove_timeout).
//
// Timing bounds are generous (the machine may be loaded). libevent's default clock is
// CLOCK_MONOTONIC_COARSE (4 ms ticks here, observed lagging ~10 ms on a loaded VM), so a
// default base may fire that much before performance.now() says the time is up;
// preciseTimer bases (CLOCK_MONOTONIC) may not.
import { afterEach, describe, expect, it } from 'vitest';

import { EV, EVLOOP, EventBase, io } from '../../lib/index.js';
import { busyWait, bytes, drain, Fds, methods } from './helpers.js';

const TICK = 15; // coarse clock slack, ms
const LATE = 200; // how late a timer may be on a loaded machine, ms

const fds = new Fds();
afterEach(() => fds.closeAll());

describe.each(methods)('timers on %s', (method) => {
  it('fires a 100 ms timer once, on time, with TIMEOUT and fd -1', () => {
    const base = new EventBase({ method });
    const calls: [number, number, number][] = [];
    const t0 = performance.now();
    base.timer((fd, what) => calls.push([performance.now() - t0, fd, what])).add(100);
    expect(base.dispatch()).toBe(1);
    expect(calls).toHaveLength(1);
    const [at, fd, what] = calls[0]!;
    expect([fd, what]).toEqual([-1, EV.TIMEOUT]);
    expect(at).toBeGreaterThanOrEqual(100 - TICK);
    expect(at).toBeLessThan(100 + LATE);
    base.free();
  });

  it('never fires early with preciseTimer, fractional timeouts included', () => {
    const base = new EventBase({ method, preciseTimer: true });
    const at: number[] = [];
    const t0 = performance.now();
    base.timer(() => at.push(performance.now() - t0)).add(30.5);
    base.timer(() => at.push(performance.now() - t0)).add(61.25);
    expect(base.dispatch()).toBe(1);
    expect(at).toHaveLength(2);
    expect(at[0]).toBeGreaterThanOrEqual(30.5 - 0.5);
    expect(at[1]).toBeGreaterThanOrEqual(61.25 - 0.5);
    expect(at[1]!).toBeLessThan(61.25 + LATE);
    base.free();
  });

  it('runs timers in deadline order, whatever the order they were added in', () => {
    const base = new EventBase({ method });
    const order: number[] = [];
    for (const ms of [60, 20, 40, 0]) base.timer(() => order.push(ms)).add(ms);
    expect(base.dispatch()).toBe(1);
    expect(order).toEqual([0, 20, 40, 60]);
    base.free();
  });

  it('fires a zero timeout on the next pass, even a non-blocking one', () => {
    const base = new EventBase({ method });
    let calls = 0;
    base.timer(() => calls++).add(0);
    base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK);
    expect(calls).toBe(1);
    base.free();
  });

  it('repeats a persistent timer at its period until deleted', () => {
    const base = new EventBase({ method });
    const at: number[] = [];
    const t0 = performance.now();
    const t = base.timer(
      (_fd, what, self) => {
        expect(what).toBe(EV.TIMEOUT);
        at.push(performance.now() - t0);
        if (at.length === 5) self.del();
      },
      { persist: true },
    );
    t.add(20);
    expect(base.dispatch()).toBe(1);
    expect(at).toHaveLength(5);
    for (let i = 0; i < 5; i++) expect(at[i]).toBeGreaterThanOrEqual(20 * (i + 1) - TICK);
    expect(at[4]).toBeLessThan(100 + LATE);
    base.free();
  });

  it('does not burst after a stall: a persistent timer blocked for 3 periods fires once, then keeps its period', () => {
    const base = new EventBase({ method });
    const period = 50;
    const at: number[] = [];
    const loopAt: number[] = []; // the base's cached time, the clock libevent schedules by
    const t0 = performance.now();
    base
      .timer(
        (_fd, _what, self) => {
          at.push(performance.now() - t0);
          loopAt.push(base.now());
          if (at.length === 1) busyWait(3 * period + 20); // the loop cannot run meanwhile
          if (at.length === 4) self.del();
        },
        { persist: true },
      )
      .add(period);
    expect(base.dispatch()).toBe(1);
    expect(at).toHaveLength(4);
    const stallEnd = at[0]! + 3 * period + 20;
    // The missed deadlines produce one late call...
    expect(at[1]).toBeGreaterThanOrEqual(stallEnd - 1);
    // ...and the next ones are due a period apart from it, not back to back. Counted from the
    // late call (each deadline is the previous one plus the period), in the loop's clock: a
    // call delivered late itself shortens the gap to the next one, which stays on schedule.
    expect(loopAt[2]! - loopAt[1]!).toBeGreaterThanOrEqual(period - TICK);
    expect(loopAt[3]! - loopAt[1]!).toBeGreaterThanOrEqual(2 * period - TICK);
    base.free();
  });

  it('reschedules when re-added: sooner and later timeouts both replace the old one', () => {
    const base = new EventBase({ method });
    const at: Record<string, number> = {};
    const t0 = performance.now();
    const sooner = base.timer(() => (at.sooner = performance.now() - t0));
    const later = base.timer(() => (at.later = performance.now() - t0));
    sooner.add(5000);
    later.add(30);
    later.add(150); // replaces 30
    base.timer(() => sooner.add(50)).add(40); // at ~40 ms: 5 s becomes ~90 ms
    expect(base.dispatch()).toBe(1);
    expect(at.sooner).toBeGreaterThanOrEqual(90 - TICK);
    expect(at.sooner).toBeLessThan(90 + LATE);
    expect(at.later).toBeGreaterThanOrEqual(150 - TICK);
    expect(at.later).toBeLessThan(150 + LATE);
    base.free();
  });

  it('keeps a pending timeout when re-added without one (libevent: use removeTimer to drop it)', () => {
    const base = new EventBase({ method });
    let calls = 0;
    const t = base.timer(() => calls++);
    t.add(20);
    t.add();
    expect(t.pending()).toBe(EV.TIMEOUT);
    expect(base.dispatch()).toBe(1);
    expect(calls).toBe(1);
    base.free();
  });

  it('adds a plain timer without a timeout as nothing pending', () => {
    const base = new EventBase({ method });
    const t = base.timer(() => undefined);
    t.add();
    expect(t.pending()).toBe(0);
    expect(base.dispatch()).toBe(1);
    base.free();
  });

  it('removeTimer() drops only the timeout: the event still reads and never times out', () => {
    const base = new EventBase({ method });
    const [a, b] = fds.pair();
    const whats: number[] = [];
    const ev = base.event(a, EV.READ | EV.PERSIST, (_fd, what) => {
      whats.push(what);
      drain(a);
    });
    ev.add(30);
    expect(ev.pending()).toBe(EV.READ | EV.TIMEOUT);
    ev.removeTimer();
    expect(ev.pending()).toBe(EV.READ);
    base.loopexit(100); // well past the removed 30 ms
    expect(base.dispatch()).toBe(0);
    expect(base.gotExit).toBe(true);
    expect(whats).toEqual([]);
    io.write(b, bytes(1));
    base.loop(EVLOOP.ONCE);
    expect(whats).toEqual([EV.READ]);
    expect(ev.pending()).toBe(EV.READ);
    base.free();
  });

  it('removeTimer() on a plain timer leaves it not pending', () => {
    const base = new EventBase({ method });
    let calls = 0;
    const t = base.timer(() => calls++);
    t.add(10);
    t.removeTimer();
    expect(t.pending()).toBe(0);
    expect(base.dispatch()).toBe(1);
    expect(calls).toBe(0);
    base.free();
  });

  it('restarts a persistent event’s period from an I/O or active() call', () => {
    const base = new EventBase({ method });
    // The activation comes 250 ms (more than LATE) before the period would end, so even a
    // stalled process activates the event before its timeout: both at once would be one call
    // with READ | TIMEOUT.
    const period = 300;
    const calls: [number, number][] = [];
    const ev = base.timer(
      (_fd, what, self) => {
        calls.push([base.now(), what]); // the loop's clock, the one the period is counted in
        if (calls.length === 3) self.del();
      },
      { persist: true },
    );
    ev.add(period);
    base.timer(() => ev.active(EV.READ)).add(50);
    expect(base.dispatch()).toBe(1);
    expect(calls.map((c) => c[1])).toEqual([EV.READ, EV.TIMEOUT, EV.TIMEOUT]);
    // Without the restart the second call would be due 250 ms after the first; with it each
    // timeout is due a whole period after the previous deadline, counted from the activation.
    expect(calls[1]![0] - calls[0]![0]).toBeGreaterThanOrEqual(period - TICK);
    expect(calls[2]![0] - calls[0]![0]).toBeGreaterThanOrEqual(2 * period - TICK);
    base.free();
  });

  it('times out an I/O event that sees no data, with the fd and TIMEOUT', () => {
    const base = new EventBase({ method });
    const [a] = fds.pair();
    const calls: [number, number][] = [];
    const t0 = performance.now();
    base.event(a, EV.READ, (fd, what) => calls.push([fd, what])).add(40);
    expect(base.dispatch()).toBe(1);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(40 - TICK);
    expect(calls).toEqual([[a, EV.TIMEOUT]]);
    base.free();
  });
});
