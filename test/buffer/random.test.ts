// Random sequences of buffered-layer calls (run under the ASan/UBSan build by npm run
// test:asan): whatever the order — frees inside callbacks, relays to freed partners, calls on
// freed objects, a base freed mid-way — every failure is a coded error and nothing crashes.
import { describe, expect, it } from 'vitest';

import { type BufferEvent, EV, EvBuffer, EventBase, EVLOOP, FLUSH, io } from '../../lib/index.js';
import { bufferedStats, methods } from './helpers.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe.each(methods)('random buffered sequences (%s)', (method) => {
  it.each([1, 2, 3, 4])('seed %i', (seed) => {
    const r = rng(seed * 7919 + method.length);
    const pick = <T>(xs: T[]): T | undefined => xs[Math.floor(r() * xs.length)];
    const base = new EventBase({ method });
    const bevs: BufferEvent[] = [];
    const bufs: EvBuffer[] = [];
    const codes = new Set<string>();
    const listener = base.listen({ host: '127.0.0.1' }, (bev) => bevs.push(bev));
    const cb = {
      read: (b: BufferEvent) => {
        if (r() < 0.1) b.free();
        else if (r() < 0.5) b.input.drain(r() * 5000);
      },
      write: (b: BufferEvent) => {
        if (r() < 0.05) b.free();
      },
      event: (b: BufferEvent) => {
        if (r() < 0.5) b.free();
      },
    };
    const ops: (() => unknown)[] = [
      () => bevs.push(...base.bufferevent.pair(cb)),
      () => {
        const [a, b] = io.socketpair();
        bevs.push(base.bufferevent(a, cb), base.bufferevent(b, cb));
      },
      () => bevs.push(base.connect('127.0.0.1', listener.port, cb)),
      () => pick(bevs)?.write(Buffer.alloc(Math.floor(r() * 70_000), 1)),
      () => pick(bevs)?.free(),
      () => pick(bevs)?.enable(Math.floor(r() * 7)),
      () => pick(bevs)?.disable(EV.READ),
      () => pick(bevs)?.pause(),
      () => pick(bevs)?.resume(),
      () => pick(bevs)?.setWatermark(EV.READ, 0, Math.floor(r() * 300)),
      () => pick(bevs)?.setTimeouts(r() * 20, r() * 20),
      () => pick(bevs)?.flush(EV.WRITE, pick([FLUSH.NORMAL, FLUSH.FLUSH, FLUSH.FINISHED])),
      () => pick(bevs)?.end('bye'),
      () => pick(bevs)?.relay(pick(bevs)!, { high: 1 + Math.floor(r() * 10_000) }),
      () => pick(bevs)?.unrelay(),
      () => pick(bevs)?.input.remove(r() * 10_000),
      () => pick(bevs)?.output.add('x'),
      () => pick(bevs)?.input.readln(),
      () => pick(bevs)?.setRateLimit({ readRate: 1000, writeRate: 1000, tickMs: 5 }),
      () => pick(bevs)?.setRateLimit(null),
      () => pick(bevs)?.setMaxSingle({ maxSingleRead: 1024 + Math.floor(r() * 200_000), maxSingleWrite: 1024 + Math.floor(r() * 200_000) }),
      () => pick(bevs)?.setWatermark(EV.READ, 0, Math.floor(r() * 100_000)),
      () => bufs.push(new EvBuffer().add(Buffer.alloc(Math.floor(r() * 5000)))),
      () => pick(bevs)?.writeBuffer(pick(bufs) ?? new EvBuffer()),
      () => pick(bufs)?.addBuffer(pick(bufs)!),
      () => pick(bufs)?.free(),
      () => base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK),
      () => base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK),
    ];
    for (let i = 0; i < 400; i++) {
      try {
        pick(ops)!();
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        expect(typeof code, String(err)).toBe('string');
        codes.add(code as string);
      }
    }
    base.free();
    for (const b of bufs) if (!b.freed) b.free();
    expect(bufferedStats()).toMatchObject({ bufferevents: 0, listeners: 0 });
    // Only the errors a user can expect from misuse.
    for (const c of codes) {
      expect([
        'ERR_BUFFEREVENT_FREED',
        'ERR_EVBUFFER_FREED',
        'ERR_EVBUFFER_FROZEN',
        'ERR_INVALID_ARG_VALUE',
        'ERR_RELAY_BUSY',
        'ERR_STREAM_WRITE_AFTER_END',
        'ERR_INVALID_EVENTS',
        'ERR_INVALID_ARG_TYPE',
        'ERR_OUT_OF_RANGE',
      ]).toContain(c);
    }
  });
});
