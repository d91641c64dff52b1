// Core event behaviour on every backend, after libevent's own regression suite (main/*):
// one-shot and persistent I/O, several events per fd, activation, EOF, edge triggering,
// many ready events in one pass, and the refusal of a re-entrant loop.
import fs from 'node:fs';

import { afterEach, describe, expect, it } from 'vitest';

import { EV, EVLOOP, EventBase, io } from '../../lib/index.js';
import { bytes, type CodedError, drain, expectUsable, Fds, methods, thrown } from './helpers.js';

const fds = new Fds();
afterEach(() => fds.closeAll());

describe.each(methods)('events on %s', (method) => {
  it('runs a non-persistent READ event once, then dispatch() reports no events left', () => {
    const base = new EventBase({ method });
    expect(base.method).toBe(method);
    const [a, b] = fds.pair();
    const calls: [number, number][] = [];
    const ev = base.event(a, EV.READ, (fd, what) => calls.push([fd, what]));
    ev.add();
    io.write(b, bytes(3)); // never read: a level-triggered fd stays readable
    expect(base.dispatch()).toBe(1);
    expect(calls).toEqual([[a, EV.READ]]);
    expect(ev.pending()).toBe(0);
    expect(base.dispatch()).toBe(1);
    expect(calls).toHaveLength(1);
    base.free();
  });

  it('runs a non-persistent WRITE event once', () => {
    const base = new EventBase({ method });
    const [a] = fds.pair();
    const whats: number[] = [];
    base.event(a, EV.WRITE, (_fd, what) => whats.push(what)).add();
    expect(base.dispatch()).toBe(1);
    expect(whats).toEqual([EV.WRITE]);
    base.free();
  });

  it('delivers a non-persistent event only once even when more data arrives in its callback', () => {
    const base = new EventBase({ method });
    const [a, b] = fds.pair();
    let calls = 0;
    base
      .event(a, EV.READ, () => {
        calls++;
        io.write(b, bytes(10));
      })
      .add();
    io.write(b, bytes(1));
    expect(base.dispatch()).toBe(1);
    expect(calls).toBe(1);
    expect(drain(a)).toBe(11);
    base.free();
  });

  it('runs two READ events on the same fd, both once', () => {
    const base = new EventBase({ method });
    const [a, b] = fds.pair();
    const seen: string[] = [];
    base.event(a, EV.READ, () => seen.push('first')).add();
    base.event(a, EV.READ, () => seen.push('second')).add();
    io.write(b, bytes(1));
    expect(base.dispatch()).toBe(1);
    expect(seen.sort()).toEqual(['first', 'second']);
    base.free();
  });

  it('keeps separate READ and WRITE events on one fd independent: deleting WRITE leaves READ', () => {
    const base = new EventBase({ method });
    const [a, b] = fds.pair();
    let reads = 0;
    let writes = 0;
    const r = base.event(a, EV.READ | EV.PERSIST, () => {
      reads++;
      drain(a);
    });
    const w = base.event(a, EV.WRITE | EV.PERSIST, () => writes++);
    r.add();
    w.add();
    base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK);
    expect([reads, writes]).toEqual([0, 1]);
    w.del();
    expect(r.pending()).toBe(EV.READ);
    io.write(b, bytes(1));
    base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK);
    expect([reads, writes]).toEqual([1, 1]);
    base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK);
    expect([reads, writes]).toEqual([1, 1]);
    base.free();
  });

  it('moves 100 KB each way through persistent READ and WRITE events with exact byte counts', () => {
    const base = new EventBase({ method });
    const [a, b] = fds.pair();
    const total = 100 * 1024;
    const payload = bytes(total, 7);
    const sent = new Map<number, number>([[a, 0], [b, 0]]);
    const received = new Map<number, Uint8Array>([[a, new Uint8Array(total)], [b, new Uint8Array(total)]]);
    const got = new Map<number, number>([[a, 0], [b, 0]]);
    const buf = new Uint8Array(3000); // odd sizes, so chunks never line up with the writer's
    for (const fd of [a, b]) {
      const writer = base.event(fd, EV.WRITE | EV.PERSIST, (f, what, self) => {
        expect(what).toBe(EV.WRITE);
        const off = sent.get(f)!;
        const n = io.write(f, payload.subarray(off, Math.min(total, off + 7001)));
        if (n > 0) sent.set(f, off + n);
        if (sent.get(f) === total) self.del();
      });
      const reader = base.event(fd, EV.READ | EV.PERSIST, (f, what, self) => {
        expect(what).toBe(EV.READ);
        const n = io.read(f, buf);
        if (n > 0) {
          const at = got.get(f)!;
          received.get(f)!.set(buf.subarray(0, n), at);
          got.set(f, at + n);
        }
        if (got.get(f) === total) self.del();
      });
      writer.add();
      reader.add();
    }
    expect(base.dispatch()).toBe(1);
    for (const fd of [a, b]) {
      expect(sent.get(fd)).toBe(total);
      expect(got.get(fd)).toBe(total);
      expect(Buffer.compare(received.get(fd)!, payload)).toBe(0); // intact, in order
    }
    base.free();
  });

  it('re-adds non-persistent events from each other’s callbacks (ping-pong of exact counts)', () => {
    const base = new EventBase({ method });
    const [a, b] = fds.pair();
    const rounds = 200;
    let pings = 0;
    let pongs = 0;
    const buf = new Uint8Array(16);
    const atB = base.event(b, EV.READ, (_f, _w, self) => {
      expect(io.read(b, buf)).toBe(1);
      pongs++;
      if (pongs < rounds) {
        io.write(b, bytes(1));
        self.add();
      }
    });
    const atA = base.event(a, EV.READ, (_f, _w, self) => {
      expect(io.read(a, buf)).toBe(1);
      pings++;
      io.write(a, bytes(1));
      if (pings < rounds) self.add();
    });
    atA.add();
    atB.add();
    io.write(b, bytes(1));
    expect(base.dispatch()).toBe(1);
    expect([pings, pongs]).toEqual([rounds, rounds]);
    base.free();
  });

  it('runs active() on a never-added event, and ORs a second activation into one call', () => {
    const base = new EventBase({ method });
    const [a] = fds.pair();
    const whats: number[] = [];
    const ev = base.event(a, EV.READ | EV.WRITE, (_f, what) => whats.push(what));
    ev.active(EV.READ);
    expect(ev.pending()).toBe(EV.READ);
    ev.active(EV.WRITE);
    expect(ev.pending()).toBe(EV.READ | EV.WRITE);
    ev.active(EV.TIMEOUT);
    expect(ev.pending()).toBe(EV.READ | EV.WRITE | EV.TIMEOUT);
    expect(base.dispatch()).toBe(1);
    expect(whats).toEqual([EV.READ | EV.WRITE | EV.TIMEOUT]);
    // A timer made active runs too, with the bits it was given.
    const t = base.timer((fd, what) => whats.push(fd, what));
    t.active(EV.TIMEOUT | EV.READ);
    expect(base.dispatch()).toBe(1);
    expect(whats.slice(1)).toEqual([-1, EV.TIMEOUT | EV.READ]);
    base.free();
  });

  it('passes the event itself to its callback, and runs active events in activation order', () => {
    const base = new EventBase({ method });
    const order: string[] = [];
    const evs = ['x', 'y', 'z'].map((name, i) =>
      base.timer((_fd, _what, self) => {
        expect(self).toBe(evs[i]);
        order.push(name);
      }),
    );
    evs[1]!.active(EV.TIMEOUT);
    evs[2]!.active(EV.TIMEOUT);
    evs[0]!.active(EV.TIMEOUT);
    expect(base.dispatch()).toBe(1);
    expect(order).toEqual(['y', 'z', 'x']);
    base.free();
  });

  it('sees EOF as READ with a 0-byte read when the peer closes', () => {
    const base = new EventBase({ method });
    const [a, b] = fds.pair();
    const results: number[] = [];
    base
      .event(a, EV.READ, (_f, what) => {
        expect(what & EV.READ).toBe(EV.READ);
        results.push(io.read(a, new Uint8Array(8)));
      })
      .add();
    fds.close(b);
    expect(base.dispatch()).toBe(1);
    expect(results).toEqual([0]);
    base.free();
  });

  it('reads the data then 0 at EOF through a persistent event', () => {
    const base = new EventBase({ method });
    const [a, b] = fds.pair();
    io.write(b, bytes(5));
    fds.close(b);
    const reads: number[] = [];
    base
      .event(a, EV.READ | EV.PERSIST, (_f, _w, self) => {
        const n = io.read(a, new Uint8Array(3));
        reads.push(n);
        if (n === 0) self.del();
      })
      .add();
    expect(base.dispatch()).toBe(1);
    expect(reads).toEqual([3, 2, 0]);
    base.free();
  });

  // EV_CLOSED needs EV_FEATURE_EARLY_CLOSE (epoll, and poll with POLLRDHUP); select has none,
  // and the addon refuses it there rather than accept an event that could never fire.
  const earlyClose = new EventBase({ method }).features.earlyClose;
  it(earlyClose ? 'reports a peer close as CLOSED, before any read' : 'refuses CLOSED on a backend without early-close detection', () => {
    const base = new EventBase({ method });
    const [a, b] = fds.pair();
    const whats: number[] = [];
    if (!earlyClose) {
      expect(() => base.event(a, EV.CLOSED, () => {})).toThrow(expect.objectContaining({ code: 'ERR_UNSUPPORTED_EVENTS' }));
      expect(() => base.once(a, EV.CLOSED, () => {})).toThrow(expect.objectContaining({ code: 'ERR_UNSUPPORTED_EVENTS' }));
      expect(base.numEvents()).toBe(0);
      base.free();
      return;
    }
    base.event(a, EV.CLOSED, (_fd, what) => whats.push(what)).add();
    base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK);
    expect(whats).toEqual([]);
    fds.close(b);
    expect(base.dispatch()).toBe(1);
    expect(whats).toEqual([EV.CLOSED]);
    base.free();
  });

  it(
    method === 'epoll'
      ? 'fires an ET event once per edge (epoll is edge-triggered)'
      : 'fires an ET event on every pass (this backend is level-triggered)',
    () => {
      const base = new EventBase({ method });
      expect(base.features.et).toBe(method === 'epoll');
      const [a, b] = fds.pair();
      const whats: number[] = [];
      base.event(a, EV.READ | EV.ET | EV.PERSIST, (_f, what) => whats.push(what)).add();
      const pass = () => base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK);
      io.write(b, bytes(1)); // never read
      pass();
      pass();
      if (method === 'epoll') {
        expect(whats).toHaveLength(1);
        expect(whats[0]! & EV.READ).toBe(EV.READ);
      } else {
        expect(whats).toEqual([EV.READ, EV.READ]);
      }
      io.write(b, bytes(1)); // a new edge
      pass();
      pass();
      expect(whats).toHaveLength(method === 'epoll' ? 2 : 4);
      base.free();
    },
  );

  it('fires a level-triggered persistent READ event on every pass until the data is read', () => {
    const base = new EventBase({ method });
    const [a, b] = fds.pair();
    let calls = 0;
    base.event(a, EV.READ | EV.PERSIST, () => calls++).add();
    io.write(b, bytes(1));
    for (let i = 0; i < 3; i++) base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK);
    expect(calls).toBe(3);
    drain(a);
    base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK);
    expect(calls).toBe(3);
    base.free();
  });

  it('runs all of 200 events that are ready at once, each exactly once', () => {
    const base = new EventBase({ method });
    const n = 200;
    const counts = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) {
      const [a, b] = fds.pair();
      base.event(a, EV.READ, () => counts[i]!++).add();
      io.write(b, bytes(1));
    }
    // No event is left once each ran: one dispatch() does it all and returns 1.
    expect(base.dispatch()).toBe(1);
    expect(counts.every((c) => c === 1)).toBe(true);
    base.free();
  });

  it('runs 200 ready persistent events within one blocking pass', () => {
    const base = new EventBase({ method });
    const n = 200;
    let fired = 0;
    for (let i = 0; i < n; i++) {
      const [a, b] = fds.pair();
      base.event(a, EV.READ | EV.PERSIST, () => {
        fired++;
        drain(a);
      }).add();
      io.write(b, bytes(1));
    }
    // A backend returns a bounded batch per poll (epoll starts at 32), but ONCE keeps polling
    // without blocking while callbacks remain; a few passes at most must see all of them.
    let passes = 0;
    while (fired < n && passes < 20) {
      base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK);
      passes++;
    }
    expect(fired).toBe(n);
    base.free();
  });

  it('refuses a re-entrant dispatch(), loop() or run() from a callback with ERR_LOOP_REENTRANT', async () => {
    const base = new EventBase({ method });
    const codes: unknown[] = [];
    let runPromise: Promise<unknown> | undefined;
    base
      .timer(() => {
        for (const call of [() => base.dispatch(), () => base.loop(EVLOOP.NONBLOCK)]) {
          try {
            call();
            codes.push('no throw');
          } catch (err) {
            codes.push((err as { code?: unknown }).code);
          }
        }
        runPromise = base.run();
        runPromise.catch(() => undefined);
        expect(base.running).toBe(true);
      })
      .add(0);
    expect(base.dispatch()).toBe(1);
    expect(codes).toEqual(['ERR_LOOP_REENTRANT', 'ERR_LOOP_REENTRANT']);
    await expect(runPromise).rejects.toMatchObject({ code: 'ERR_LOOP_REENTRANT' });
    expect(base.running).toBe(false);
    // The outer loop was not disturbed and the base still runs.
    let again = 0;
    base.timer(() => again++).add(0);
    expect(base.dispatch()).toBe(1);
    expect(again).toBe(1);
    base.free();
  });

  it('drops an active event deleted or freed by an earlier callback of the same pass', () => {
    const base = new EventBase({ method });
    const ran: string[] = [];
    const [x, y, z] = ['x', 'y', 'z'].map((name) => base.timer(() => ran.push(name)));
    const first = base.timer(() => {
      ran.push('first');
      y!.del();
      z!.free();
    });
    for (const ev of [first, x!, y!, z!]) ev.active(EV.TIMEOUT);
    expect(base.dispatch()).toBe(1);
    expect(ran).toEqual(['first', 'x']);
    expect(y!.pending()).toBe(0);
    expect(z!.freed).toBe(true);
    base.free();
  });

  it('io.close() from a callback deletes the other events of that fd, even ones already queued', () => {
    const base = new EventBase({ method });
    const [a, b] = fds.pair();
    const ran: string[] = [];
    // Both become active in the same poll; whichever runs first closes the fd.
    const evs = ['p', 'q'].map((name) =>
      base.event(a, EV.READ | EV.PERSIST, () => {
        ran.push(name);
        fds.close(a);
      }),
    );
    for (const ev of evs) ev.add();
    io.write(b, bytes(1));
    expect(base.dispatch()).toBe(1);
    expect(ran).toHaveLength(1);
    for (const ev of evs) expect(ev.pending()).toBe(0);
    expect(base.events()).toEqual([]);
    base.free();
  });

  it('lets a callback drive another base’s loop (only the same base is re-entrant)', () => {
    const outer = new EventBase({ method });
    const inner = new EventBase({ method });
    const order: string[] = [];
    inner.timer(() => order.push('inner')).add(0);
    outer
      .timer(() => {
        order.push('outer');
        expect(inner.dispatch()).toBe(1);
        order.push('outer-end');
      })
      .add(0);
    expect(outer.dispatch()).toBe(1);
    expect(order).toEqual(['outer', 'inner', 'outer-end']);
    inner.free();
    outer.free();
  });
});

// An fd closed behind the binding (fs.closeSync instead of io.close): issue 7, item 28.
describe.each(methods.filter((m) => m !== 'epoll'))('an fd closed behind the binding on %s', (method) => {
  it('is reported as ERR_FD_CLOSED and its events deleted, instead of a spinning callback or a failing loop', () => {
    const base = new EventBase({ method });
    const [a, b] = io.socketpair();
    let calls = 0;
    const ev = base.event(a, EV.READ | EV.PERSIST, () => calls++).add();
    const other = base.event(a, EV.WRITE, () => calls++).add();
    fs.closeSync(a);
    const err = thrown(() => base.loop(EVLOOP.NONBLOCK)) as CodedError & { fds?: number[] };
    expect(err.code).toBe('ERR_FD_CLOSED');
    expect(err.fds).toEqual([a]);
    expect(calls).toBe(0);
    expect(ev.pending()).toBe(0);
    expect(other.pending()).toBe(0);
    expect(base.events()).toEqual([]);
    expectUsable(base);
    io.close(b);
    base.free();
  });

  it('detects a reused fd number: the stale callback never sees the new file', () => {
    const base = new EventBase({ method });
    const [a, b] = io.socketpair();
    let stale = 0;
    base.event(a, EV.READ | EV.PERSIST, () => stale++).add();
    fs.closeSync(a);
    fs.closeSync(b);
    const [c, d] = io.socketpair(); // takes the freed numbers again
    expect([c, d].sort()).toEqual([a, b].sort());
    io.write(c === a ? d : c, bytes(1));
    const err = thrown(() => base.loop(EVLOOP.NONBLOCK));
    expect(err.code).toBe('ERR_FD_CLOSED');
    expect(stale).toBe(0);
    let fresh = 0;
    base.event(a, EV.READ, () => fresh++).add();
    base.loop(EVLOOP.NONBLOCK);
    expect(fresh).toBe(1);
    io.close(c);
    io.close(d);
    base.free();
  });
});
