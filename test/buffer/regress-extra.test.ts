// More of libevent's regress cases that apply to the public API (pair watermarks, pair
// timeouts, pair flush modes, many small evbuffer adds), and the getters a live update relies on
// to show that a bufferevent's and a listener's settings are what libevent holds.
import { describe, expect, it } from 'vitest';

import { BEV, EV, EvBuffer, EventBase, FLUSH, io } from '../../lib/index.js';
import { loopFor, loopUntil, methods, pattern } from './helpers.js';

describe.each(methods)('libevent regress cases, continued (%s)', (method) => {
  const newBase = () => new EventBase({ method });

  it('pair watermarks 10/20: every read callback sees 10–20 bytes (bufferevent_pair_watermarks)', () => {
    const base = newBase();
    const sizes: number[] = [];
    let total = 0;
    const [a, b] = base.bufferevent.pair();
    b.setCallbacks({
      read: (bev) => {
        sizes.push(bev.input.length);
        total += bev.input.drain(bev.input.length);
      },
    });
    b.setWatermark(EV.READ, 10, 20);
    for (let i = 0; i < 650; i++) a.write(pattern(100, i));
    loopUntil(base, () => total === 65_000, 20_000);
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(10);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(20);
    a.free();
    b.free();
    base.free();
  });

  it('pair timeouts: the read timeout fires once; no write timeout with an empty output (bufferevent_timeout_pair)', () => {
    const base = newBase();
    const events: number[] = [];
    const [a, b] = base.bufferevent.pair();
    a.setCallbacks({ event: (_x, what) => events.push(what), read: () => events.push(-1), write: () => events.push(-2) });
    a.setTimeouts(50, 30);
    expect(a.timeouts).toEqual({ readMs: 50, writeMs: 30 });
    loopFor(base, 200);
    expect(events).toEqual([BEV.TIMEOUT | BEV.READING]);
    expect(a.enabled & EV.READ).toBe(0);
    a.setTimeouts(0, 0);
    expect(a.timeouts).toEqual({ readMs: 0, writeMs: 0 });
    a.free();
    b.free();
    base.free();
  });

  it('pair flush: NORMAL and FLUSH move data and call no event callback (FINISHED: bufferevent.test.ts)', () => {
    const base = newBase();
    const events: number[] = [];
    let got = 0;
    const [a, b] = base.bufferevent.pair();
    b.setCallbacks({ read: (x) => (got += x.input.drain(1e9)), event: (_x, what) => events.push(what) });
    for (const mode of [FLUSH.NORMAL, FLUSH.FLUSH]) {
      a.write(pattern(500));
      expect(a.flush(EV.WRITE, mode)).toBeGreaterThanOrEqual(0);
    }
    loopUntil(base, () => got === 1000);
    loopFor(base, 20);
    expect(events).toEqual([]);
    a.free();
    b.free();
    base.free();
  });

  it('the getters report what libevent holds: timeouts, rate limit, listener enabled', () => {
    const base = newBase();
    const [fa, fb] = io.socketpair();
    const s = base.bufferevent(fa);
    expect(s.timeouts).toEqual({ readMs: 0, writeMs: 0 });
    s.setTimeouts(1500, 250);
    expect(s.timeouts).toEqual({ readMs: 1500, writeMs: 250 });
    expect(s.rateLimit).toBeNull();
    s.setRateLimit({ readRate: 1000, writeRate: 2000, writeBurst: 4000, tickMs: 50 });
    expect(s.rateLimit).toEqual({ readRate: 1000, readBurst: 1000, writeRate: 2000, writeBurst: 4000, tickMs: 50 });
    s.setRateLimit(null);
    expect(s.rateLimit).toBeNull();
    const l = base.listen({ host: '127.0.0.1' }, () => {});
    expect(l.enabled).toBe(true);
    l.disable();
    expect(l.enabled).toBe(false);
    l.enable();
    expect(l.enabled).toBe(true);
    const idle = base.listen({ host: '127.0.0.1', enabled: false }, () => {});
    expect(idle.enabled).toBe(false);
    s.free();
    io.close(fb);
    l.free();
    idle.free();
    base.free();
  });
});

describe('EvBuffer, continued', () => {
  it('100,000 small adds of varying length: exact length and bytes (regress "iterative")', () => {
    const buf = new EvBuffer();
    const parts: Buffer[] = [];
    for (let i = 0; i < 100_000; i++) {
      const p = pattern((i * 13) % 37, i);
      parts.push(p);
      buf.add(p);
    }
    const all = Buffer.concat(parts);
    expect(buf.length).toBe(all.length);
    expect(buf.remove(all.length).equals(all)).toBe(true);
    expect(buf.length).toBe(0);
    buf.free();
  });
});
