// write()/writeBuffer() on a socket bufferevent whose output is empty go straight to the socket
// (native/direct_write.cc), as Node's net does. These cases pin down what must not change with
// that: byte order, the write callback (deferred, once the output is at the low mark), write()'s
// backpressure answer, write timeouts, and the cases where libevent must see the bytes (rate
// limits, groups, a connect in progress, writing disabled, pairs).
import { afterEach, describe, expect, it } from 'vitest';

import { BEV, type BufferEvent, EV, EvBuffer, EventBase, io } from '../../lib/index.js';
import { bufferedStats, loopFor, loopUntil, methods, pattern } from './helpers.js';

const fdsToClose: number[] = [];
afterEach(() => {
  for (const fd of fdsToClose.splice(0)) {
    try {
      io.close(fd);
    } catch {
      // closed already
    }
  }
});

describe.each(methods)('direct writes (%s)', (method) => {
  const newBase = () => new EventBase({ method });

  /** A socketpair as two bufferevents; `b` collects what it reads. */
  function joined(base: EventBase, aCbs: Parameters<BufferEvent['setCallbacks']>[0] = {}) {
    const [fa, fb] = io.socketpair();
    const got: Buffer[] = [];
    const a = base.bufferevent(fa, aCbs);
    const b = base.bufferevent(fb, { read: (bev) => got.push(bev.input.remove(bev.input.length)) });
    const received = () => got.reduce((n, x) => n + x.length, 0);
    return { a, b, got, received };
  }

  it('an idle output sends at once; the write callback runs once, later, with the output at 0', () => {
    const base = newBase();
    const drainedAt: number[] = [];
    const { a, b, got, received } = joined(base, { write: (bev) => drainedAt.push(bev.output.length) });
    loopFor(base, 20); // libevent's one write callback for enabling writing on an idle bufferevent
    drainedAt.length = 0;
    expect(a.write('one ')).toBe(true);
    expect(a.output.length).toBe(0); // in the socket already
    expect(a.write(Buffer.from('two '))).toBe(true);
    const buf = new EvBuffer().add('three');
    expect(a.writeBuffer(buf)).toBe(true);
    expect(buf.length).toBe(0);
    expect(a.output.length).toBe(0);
    expect(drainedAt).toEqual([]); // never inside the call
    loopUntil(base, () => received() === 13 && drainedAt.length > 0);
    loopFor(base, 20);
    expect(Buffer.concat(got).toString()).toBe('one two three');
    expect(drainedAt).toEqual([0]); // three writes before the loop ran: one deferred callback
    a.write('four');
    loopUntil(base, () => drainedAt.length > 1);
    expect(drainedAt).toEqual([0, 0]);
    a.free();
    b.free();
    base.free();
  });

  it('interleaved small and large writes arrive exactly, in order (partly sent, the rest queued)', () => {
    const base = newBase();
    const { a, b, got, received } = joined(base);
    const parts = [pattern(1000, 1), pattern(4 * 1024 * 1024 + 17, 2), pattern(999, 3), pattern(100_000, 4), pattern(5, 5)];
    a.write(parts[0]!);
    a.write(parts[1]!); // more than the socket takes: the rest waits on the output
    expect(a.output.length).toBeGreaterThan(0);
    a.write(parts[2]!); // queued behind it, never sent ahead
    a.writeBuffer(new EvBuffer().add(parts[3]!));
    a.write(parts[4]!);
    const total = parts.reduce((n, p) => n + p.length, 0);
    loopUntil(base, () => received() === total, 30_000);
    expect(Buffer.concat(got).equals(Buffer.concat(parts))).toBe(true);
    a.free();
    b.free();
    base.free();
  });

  it("an echo with writeBuffer(input) sends the input's bytes and empties it", () => {
    const base = newBase();
    const [fa, fb] = io.socketpair();
    const echo = base.bufferevent(fa, { read: (bev) => bev.writeBuffer(bev.input) });
    let reply = Buffer.alloc(0);
    const c = base.bufferevent(fb, { read: (bev) => (reply = Buffer.concat([reply, bev.input.remove(bev.input.length)])) });
    const msg = pattern(300_000, 9);
    c.write(msg);
    loopUntil(base, () => reply.length === msg.length, 30_000);
    expect(reply.equals(msg)).toBe(true);
    expect(echo.input.length).toBe(0);
    echo.free();
    c.free();
    base.free();
  });

  it('bytes wait on the output while writing is disabled, and go when it is enabled', () => {
    const base = newBase();
    const { a, b, got, received } = joined(base);
    a.disable(EV.WRITE);
    a.write('held');
    expect(a.output.length).toBe(4);
    loopFor(base, 30);
    expect(received()).toBe(0);
    a.enable(EV.WRITE);
    loopUntil(base, () => received() === 4);
    expect(Buffer.concat(got).toString()).toBe('held');
    a.free();
    b.free();
    base.free();
  });

  it('a rate-limited bufferevent and a group member leave every byte to libevent (the buckets are charged)', () => {
    const base = newBase();
    const one = joined(base);
    one.a.setRateLimit({ readRate: 1 << 20, writeRate: 1 << 20, tickMs: 10 });
    one.a.write(pattern(1000));
    expect(one.a.output.length).toBe(1000);
    const two = joined(base);
    const group = base.rateLimitGroup({ readRate: 1 << 20, writeRate: 1 << 20, tickMs: 10 });
    group.add(two.a);
    two.a.write(pattern(1000));
    expect(two.a.output.length).toBe(1000);
    loopUntil(base, () => one.received() === 1000 && two.received() === 1000);
    expect(group.totals.written).toBe(1000);
    for (const x of [one, two]) {
      x.a.free();
      x.b.free();
    }
    group.free();
    base.free();
  });

  it('a connect in progress queues the bytes; they follow CONNECTED', () => {
    const base = newBase();
    const served: BufferEvent[] = [];
    let got = '';
    const l = base.listen({ host: '127.0.0.1' }, (bev) => {
      served.push(bev);
      bev.setCallbacks({ read: (s) => (got += s.input.remove(s.input.length).toString()) });
    });
    const log: number[] = [];
    const c = base.connect('127.0.0.1', l.port, { event: (_b, what) => log.push(what) });
    c.write('early');
    expect(c.output.length).toBe(5);
    loopUntil(base, () => got === 'early');
    expect(log).toEqual([BEV.CONNECTED]);
    c.write(' late');
    expect(c.output.length).toBe(0); // connected now: straight to the socket
    loopUntil(base, () => got === 'early late');
    c.free();
    for (const s of served) s.free();
    l.free();
    base.free();
  });

  it('a write timeout stays quiet while the peer keeps up, and fires once it stops reading', () => {
    const base = newBase();
    const events: number[] = [];
    const { a, b, received } = joined(base, { event: (_b, what) => events.push(what) });
    a.setTimeouts(0, 60);
    let sent = 0;
    const t = base
      .timer(
        () => {
          a.write(pattern(4096));
          sent += 4096;
        },
        { persist: true },
      )
      .add(5);
    loopFor(base, 250); // about 50 writes, each taken at once
    t.free();
    expect(events).toEqual([]);
    loopUntil(base, () => received() === sent);
    b.disable(EV.READ); // the peer stops reading: the socket fills, bytes queue, the timeout runs
    while (a.output.length < 4 * 1024 * 1024) a.write(pattern(65536));
    loopUntil(base, () => events.length > 0);
    expect(events).toEqual([BEV.TIMEOUT | BEV.WRITING]);
    expect(a.enabled & EV.WRITE).toBe(0);
    a.write('after the timeout'); // writing is off: queued, not sent
    expect(a.output.length).toBeGreaterThan(4 * 1024 * 1024);
    a.free();
    b.free();
    base.free();
  });

  it('a write to a reset peer still reports WRITING|ERROR through libevent, once', () => {
    const base = newBase();
    const [fa, fb] = io.socketpair();
    const events: number[] = [];
    const errs: (string | undefined)[] = [];
    const a = base.bufferevent(fa, {
      event: (_b, what, err) => {
        events.push(what);
        errs.push(err?.code);
      },
    });
    a.disable(EV.READ);
    io.close(fb);
    a.write('into the void'); // the direct write fails: libevent's write meets the error again
    loopUntil(base, () => events.length > 0);
    loopFor(base, 30);
    expect(events).toEqual([BEV.WRITING | BEV.ERROR]);
    expect(errs).toEqual(['EPIPE']);
    a.free();
    base.free();
  });

  it('end() after direct writes sends everything, then EOF', () => {
    const base = newBase();
    const [fa, fb] = io.socketpair();
    const log: string[] = [];
    const a = base.bufferevent(fa);
    const b = base.bufferevent(fb, {
      read: (bev) => log.push(bev.input.remove(bev.input.length).toString()),
      event: (_b, what) => log.push('event ' + what.toString(16)),
    });
    a.write('a');
    a.end('b');
    loopUntil(base, () => log.at(-1)?.startsWith('event') === true);
    expect(log.join('')).toBe('ab' + 'event ' + (BEV.READING | BEV.EOF).toString(16));
    a.free();
    b.free();
    base.free();
    expect(bufferedStats().bufferevents).toBe(0);
  });
});
