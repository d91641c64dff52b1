// Bytes per readable event: libevent 2.1 reads at most 4096 (EVBUFFER_MAX_READ) whatever
// bufferevent_set_max_single_read says; the binding reads on in the same pass up to
// maxSingleRead, but never past the read high watermark, never for a rate-limited bufferevent
// (its bucket is charged by libevent's own read), and leaves EOF to libevent.
import { describe, expect, it, onTestFinished } from 'vitest';

import { BEV, type BufferEvent, EV, EventBase, io } from '../../lib/index.js';
import { setBatching } from '../../lib/loop/registry.js';
import { expectCode, loopUntil, methods, pattern } from './helpers.js';

describe.each(methods)('bytes per read and write (%s)', (method) => {
  /**
   * Queues `n` bytes towards a receiver that is not reading yet, then lets it read: returns
   * the input length seen by each read callback and the bytes received.
   */
  function transfer(n: number, setup: (rx: BufferEvent) => void, endAfter = false) {
    const base = new EventBase({ method });
    const [fa, fb] = io.socketpair();
    const tx = base.bufferevent(fa, { enable: EV.WRITE });
    const chunks: number[] = [];
    const got: Buffer[] = [];
    const events: number[] = [];
    const rx = base.bufferevent(fb, {
      enable: 0,
      read: (b) => {
        chunks.push(b.input.length);
        got.push(b.input.remove(b.input.length));
      },
      event: (_b, what) => events.push(what),
    });
    setup(rx);
    const data = pattern(n, 3);
    tx.write(data);
    if (endAfter) tx.end();
    // Let the sender fill the socket buffer before the receiver reads at all.
    loopUntil(base, () => tx.output.length < n);
    for (let i = 0; i < 20; i++) base.loop(1 /* EVLOOP.ONCE */ | 2 /* NONBLOCK */);
    rx.enable(EV.READ);
    loopUntil(base, () => Buffer.concat(got).length >= n && (!endAfter || events.length > 0));
    const ok = Buffer.concat(got).equals(data);
    tx.free();
    rx.free();
    base.free();
    return { chunks, ok, events };
  }

  it('reads past 4096 bytes per readable event, up to maxSingleRead (64 KiB by default), exactly', () => {
    const r = transfer(300_000, () => {});
    expect(r.ok).toBe(true);
    expect(Math.max(...r.chunks)).toBeGreaterThan(4096);
    expect(Math.max(...r.chunks)).toBeLessThanOrEqual(65536);
  });

  it('maxSingleRead caps each read; the getters say what is set', () => {
    let seen: number[] = [];
    const r = transfer(200_000, (rx) => {
      expect([rx.maxSingleRead, rx.maxSingleWrite]).toEqual([65536, 65536]);
      rx.setMaxSingle({ maxSingleRead: 16384 });
      seen = [rx.maxSingleRead, rx.maxSingleWrite];
    });
    expect(seen).toEqual([16384, 65536]);
    expect(r.ok).toBe(true);
    expect(Math.max(...r.chunks)).toBeGreaterThan(4096);
    expect(Math.max(...r.chunks)).toBeLessThanOrEqual(16384);
  });

  it('never reads past the read high watermark', () => {
    const r = transfer(200_000, (rx) => rx.setWatermark(EV.READ, 0, 10_000));
    expect(r.ok).toBe(true);
    expect(Math.max(...r.chunks)).toBeLessThanOrEqual(10_000);
  });

  it('a rate-limited bufferevent keeps libevent’s own reads (its bucket is charged there)', () => {
    const r = transfer(100_000, (rx) => rx.setRateLimit({ readRate: 1 << 24, writeRate: 1 << 24, tickMs: 10 }));
    expect(r.ok).toBe(true);
    expect(Math.max(...r.chunks)).toBeLessThanOrEqual(4096);
  });

  it('data then EOF: every byte, then one READING|EOF', () => {
    const r = transfer(150_000, () => {}, true);
    expect(r.ok).toBe(true);
    expect(r.events).toEqual([BEV.READING | BEV.EOF]);
  });

  it('after exact 4096-byte messages (reading on finds nothing), a burst is read in large pieces again', () => {
    const base = new EventBase({ method });
    const [fa, fb] = io.socketpair();
    const tx = base.bufferevent(fa, { enable: EV.WRITE });
    const chunks: number[] = [];
    const got: Buffer[] = [];
    const rx = base.bufferevent(fb, {
      read: (b) => {
        chunks.push(b.input.length);
        got.push(b.input.remove(b.input.length));
      },
    });
    const received = () => got.reduce((n, x) => n + x.length, 0);
    const sent: Buffer[] = [];
    for (let i = 0; i < 24; i++) {
      const msg = pattern(4096, i);
      sent.push(msg);
      tx.write(msg);
      loopUntil(base, () => received() === 4096 * (i + 1));
    }
    expect(chunks.every((c) => c === 4096)).toBe(true);
    chunks.length = 0;
    rx.disable(EV.READ);
    const burst = pattern(1 << 20, 7);
    sent.push(burst);
    tx.write(burst);
    loopUntil(base, () => tx.output.length < burst.length);
    for (let i = 0; i < 20; i++) base.loop(1 /* EVLOOP.ONCE */ | 2 /* NONBLOCK */);
    rx.enable(EV.READ);
    loopUntil(base, () => received() === 24 * 4096 + burst.length, 30_000);
    expect(Buffer.concat(got).equals(Buffer.concat(sent))).toBe(true);
    // At most a few 4 KiB reads before reading on is tried again, then up to 64 KiB each.
    expect(chunks.slice(0, 8).some((c) => c > 4096)).toBe(true);
    expect(chunks.length).toBeLessThan(burst.length / 16384);
    tx.free();
    rx.free();
    base.free();
  });

  // Between libevent's read and the read callback (deferred to the next round of the pass)
  // other callbacks run: one may close the socket behind the binding and reopen its number.
  // /dev/zero has no FIONREAD, and the read-on then read maxSingleRead bytes of zeros.
  // (One JS call per event: batched, the swap's callback would run only after the read-on.)
  it('does not read on from an fd whose FIONREAD fails (its number reused by a device)', async () => {
    const fs = await import('node:fs');
    setBatching(false);
    onTestFinished(() => setBatching(true));
    const base = new EventBase({ method });
    const [fa, fb] = io.socketpair();
    const [za, zb] = io.socketpair();
    const seen: number[] = [];
    let zero = -1;
    const rx = base.bufferevent(fb, {
      closeOnFree: false,
      enable: EV.READ,
      maxSingleRead: 16 * 1024 * 1024,
      read: (b) => {
        seen.push(b.input.length);
        b.free();
      },
    });
    const swap = base.event(za, EV.READ, () => {
      fs.closeSync(fb);
      zero = fs.openSync('/dev/zero', 'r');
    });
    swap.add();
    io.write(fa, pattern(8192));
    io.write(zb, new Uint8Array(1));
    loopUntil(base, () => seen.length > 0);
    expect(zero).toBe(fb); // the same number
    expect(seen[0]).toBeLessThanOrEqual(8192); // at most what the socket held, no zeros
    expect(rx.freed).toBe(true);
    swap.free();
    base.free();
    fs.closeSync(zero);
    for (const fd of [fa, za, zb]) io.close(fd);
  });

  it('setMaxSingle validates in the addon and refuses pairs', () => {
    const base = new EventBase({ method });
    const [fa, fb] = io.socketpair();
    const a = base.bufferevent(fa);
    expectCode(() => a.setMaxSingle({ maxSingleRead: 100 }), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => a.setMaxSingle({ maxSingleWrite: -1 }), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => a.setMaxSingle({ maxSingleRead: 1.5e3 + 0.5 }), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => a.setMaxSingle(null as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    a.setMaxSingle({ maxSingleWrite: 1 << 20 });
    expect([a.maxSingleRead, a.maxSingleWrite]).toEqual([65536, 1 << 20]);
    const [p, q] = base.bufferevent.pair();
    expectCode(() => p.setMaxSingle({ maxSingleRead: 8192 }), Error, 'ERR_INVALID_ARG_VALUE');
    const c = base.bufferevent(fb, { maxSingleRead: 8192, maxSingleWrite: 4096 });
    expect([c.maxSingleRead, c.maxSingleWrite]).toEqual([8192, 4096]);
    for (const b of [a, c, p, q]) b.free();
    base.free();
  });
});
