// The native relay (le-proxy's shape) and rate limits, on every backend.
import { describe, expect, it } from 'vitest';

import { BEV, type BufferEvent, EV, EventBase, io } from '../../lib/index.js';
import { native } from '../../lib/buffer/native.js';
import { expectCode, loopUntil, methods, pattern } from './helpers.js';

describe.each(methods)('relay and rate limits (%s)', (method) => {
  const newBase = () => new EventBase({ method });

  /** client → proxy (native relay) → echo server → proxy → client. */
  function proxyRig(base: EventBase, relayOpts = {}) {
    const server: BufferEvent[] = [];
    const proxied: BufferEvent[] = [];
    let proxyJsCalls = 0;
    const echo = base.listen({ host: '127.0.0.1' }, (bev) => {
      server.push(bev);
      bev.setCallbacks({
        read: (b) => b.writeBuffer(b.input),
        event: (b, what) => {
          if (what & BEV.EOF) b.end();
        },
      });
    });
    const proxy = base.listen({ host: '127.0.0.1' }, (inbound) => {
      const outbound = base.connect('127.0.0.1', echo.port, { event: () => proxyJsCalls++ });
      inbound.setCallbacks({ event: () => proxyJsCalls++ });
      inbound.relay(outbound, relayOpts);
      proxied.push(inbound, outbound);
    });
    return { server, proxied, echo, proxy, jsCalls: () => proxyJsCalls };
  }

  it('relays 4 MiB each way exactly with no JS call per chunk, and forwards EOF', () => {
    const base = newBase();
    const rig = proxyRig(base);
    const N = 4 * 1024 * 1024 + 7;
    const data = pattern(N, 9);
    const back = Buffer.alloc(N);
    let got = 0;
    const events: number[] = [];
    const client = base.connect('127.0.0.1', rig.proxy.port, {
      read: (b) => (got += b.input.removeInto(back.subarray(got))),
      event: (_b, what) => events.push(what),
    });
    let sent = 0;
    const pump = () => {
      while (sent < N) {
        const chunk = data.subarray(sent, Math.min(N, sent + 65536));
        sent += chunk.length;
        if (!client.write(chunk)) return;
      }
      client.end();
    };
    client.setWatermark(EV.WRITE, 0, 512 * 1024);
    client.setCallbacks({ ...client.callbacks, write: pump });
    pump();
    loopUntil(base, () => got === N && events.some((w) => w & BEV.EOF), 60_000);
    expect(back.equals(data)).toBe(true);
    const [inbound, outbound] = rig.proxied;
    expect(inbound!.bytesRelayed).toBe(N);
    expect(outbound!.bytesRelayed).toBe(N);
    expect(rig.jsCalls()).toBeLessThanOrEqual(4); // CONNECTED and EOFs only
    for (const b of [client, ...rig.server, ...rig.proxied]) b.free();
    rig.echo.free();
    rig.proxy.free();
    base.free();
  });

  it('stops reading while the other side cannot keep up (output stays near the high mark)', () => {
    const base = newBase();
    const [sa, sb] = io.socketpair(); // sink side: nobody reads sb for a while
    const [ca, cb] = io.socketpair(); // source side: we write into ca
    const src = base.bufferevent(cb);
    const dst = base.bufferevent(sa);
    src.relay(dst, { high: 64 * 1024, low: 16 * 1024 });
    const feeder = base.bufferevent(ca);
    const N = 8 * 1024 * 1024;
    feeder.write(pattern(N));
    let maxOut = 0;
    const t = base.timer(() => (maxOut = Math.max(maxOut, dst.output.length)), { persist: true }).add(2);
    const drainAt = performance.now() + 300;
    loopUntil(base, () => performance.now() > drainAt);
    expect(maxOut).toBeGreaterThan(0);
    expect(maxOut).toBeLessThan(64 * 1024 + 16 * 1024); // le-proxy's bound: high + one read
    expect(src.bytesRelayed).toBeLessThan(N); // the rest waits in the kernel and in feeder
    const sink = base.bufferevent(sb);
    let got = 0;
    sink.setCallbacks({ read: (b) => (got += b.input.drain(1e9)) });
    loopUntil(base, () => got === N, 60_000);
    t.free();
    for (const b of [src, dst, feeder, sink]) b.free();
    base.free();
  });

  it('with a small readSize and high mark every byte still arrives, in order', () => {
    const base = newBase();
    const [sa, sb] = io.socketpair();
    const [ca, cb] = io.socketpair();
    const src = base.bufferevent(cb);
    const dst = base.bufferevent(sa);
    src.relay(dst, { high: 32 * 1024, low: 8 * 1024, readSize: 16 * 1024 });
    const feeder = base.bufferevent(ca);
    const sink = base.bufferevent(sb);
    const N = 3 * 1024 * 1024 + 11;
    const data = pattern(N, 4);
    const back = Buffer.alloc(N);
    let got = 0;
    sink.setCallbacks({ read: (b) => (got += b.input.removeInto(back.subarray(got))) });
    feeder.write(data);
    loopUntil(base, () => got === N, 60_000);
    expect(back.equals(data)).toBe(true);
    expect(src.bytesRelayed).toBe(N);
    for (const b of [src, dst, feeder, sink]) b.free();
    base.free();
  });

  it('freeing one side ends the relay; bad relays are refused', () => {
    const base = newBase();
    const [a, b] = base.bufferevent.pair();
    const [c, d] = base.bufferevent.pair();
    expectCode(() => a.relay(a), Error, 'ERR_INVALID_ARG_VALUE');
    a.relay(c);
    expect(a.relayPeer).toBe(c);
    expectCode(() => b.relay(c), Error, 'ERR_RELAY_BUSY');
    c.free();
    expect(a.relayPeer).toBeUndefined();
    let got = '';
    a.setCallbacks({ read: (x) => (got += x.input.remove(100).toString()) });
    b.write('to a, not relayed');
    loopUntil(base, () => got.length > 0);
    expect(got).toBe('to a, not relayed');
    const other = new EventBase({ method });
    const [e] = other.bufferevent.pair();
    expectCode(() => a.relay(e!), Error, 'ERR_INVALID_ARG_VALUE');
    other.free();
    a.unrelay();
    expectCode(() => a.relay(d, { readSize: 512 }), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => a.relay(d, { readSize: 1.5e3 + 0.5 }), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => a.relay(d, { readSize: 'big' as unknown as number }), TypeError, 'ERR_INVALID_ARG_TYPE');
    // The raw binding checks what the wrapper would have caught.
    expectCode(() => native.bevRelay(a._handle, d._handle, 1024, 0, 'yes' as unknown as boolean, 4096), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectCode(() => native.bevRelay(a._handle, d._handle, 1024, 0, true, undefined as unknown as number), TypeError, 'ERR_INVALID_ARG_TYPE');
    expect(a.relayPeer).toBeUndefined(); // nothing half-made
    expect(d.relayPeer).toBeUndefined();
    for (const x of [a, b, d]) x.free();
    base.free();
  });

  // A pair hands its output straight to its partner's input, so a relay from one half into its
  // own partner (or round two pairs) moved the same bytes round for ever: loop() never returned.
  it('refuses a relay that would bring the bytes back through a pair', () => {
    const base = newBase();
    const [a, b] = base.bufferevent.pair();
    expectCode(() => a.relay(b), Error, 'ERR_INVALID_ARG_VALUE');
    expectCode(() => native.bevRelay(b._handle, a._handle, 1024, 0, true, 4096), Error, 'ERR_INVALID_ARG_VALUE');
    expect(a.relayPeer).toBeUndefined();
    const [c, d] = base.bufferevent.pair();
    a.relay(c); // a → c → d's input, and back: c → a → b's input
    expectCode(() => b.relay(d), Error, 'ERR_INVALID_ARG_VALUE'); // b → d → c's input → a → b
    expect(b.relayPeer).toBeUndefined();
    expect(d.relayPeer).toBeUndefined();
    // The refused relay left the others as they were: bytes written to b reach a and go on to d.
    let got = '';
    d.setCallbacks({ read: (x) => (got += x.input.remove(100).toString()) });
    b.write('through a and c');
    loopUntil(base, () => got.length > 0);
    expect(got).toBe('through a and c');
    for (const x of [a, b, c, d]) x.free();
    base.free();
  });

  // While stalled the relay borrows the destination's write low watermark; freeing the source
  // then left it borrowed, and the destination's write callback came at the relay's low mark
  // instead of when its output was drained (its own low mark, 0).
  it("freeing a stalled relay's source gives the destination its write low watermark back", () => {
    const base = newBase();
    const [fa, fb] = io.socketpair();
    const [da, db] = io.socketpair();
    const feeder = base.bufferevent(fa);
    const src = base.bufferevent(fb);
    const dst = base.bufferevent(da);
    src.relay(dst, { high: 100_000, low: 100_000 });
    feeder.write(pattern(1_000_000));
    loopUntil(base, () => dst.output.length >= 100_000); // at the high mark: src stopped reading
    src.free();
    const atCallback: number[] = [];
    dst.setCallbacks({ write: (b) => atCallback.push(b.output.length) });
    const sink = new Uint8Array(1 << 16);
    loopUntil(base, () => {
      while (io.read(db, sink) > 0);
      return atCallback.length > 0;
    });
    expect(atCallback).toEqual([0]);
    for (const x of [feeder, dst]) x.free();
    io.close(db);
    base.free();
  });

  function measureRate(base: EventBase, receivers: BufferEvent[], feed: BufferEvent[], bytesEach: number): number {
    let got = 0;
    for (const r of receivers) r.setCallbacks({ read: (b) => (got += b.input.drain(1e9)) });
    const t0 = performance.now();
    for (const f of feed) f.write(pattern(bytesEach));
    loopUntil(base, () => got === bytesEach * feed.length, 30_000);
    return performance.now() - t0;
  }

  it('a per-bufferevent read limit sets the throughput', () => {
    const base = newBase();
    const [fa, fb] = io.socketpair();
    const tx = base.bufferevent(fa);
    const rx = base.bufferevent(fb);
    const perTick = 20_000;
    rx.setRateLimit({ readRate: perTick, writeRate: 1e6, tickMs: 50 }); // 400 kB/s
    const bytes = 200_000;
    const ms = measureRate(base, [rx], [tx], bytes);
    // The bucket starts full (one burst at once); the rest arrives at the configured rate.
    const rate = (bytes - perTick) / (ms / 1000);
    expect(rate).toBeGreaterThan(400_000 * 0.5);
    expect(rate).toBeLessThan(400_000 * 1.5);
    rx.setRateLimit(null);
    const fast = measureRate(base, [rx], [tx], bytes);
    expect(fast).toBeLessThan(ms / 2);
    expectCode(() => rx.setRateLimit({ readRate: 10, readBurst: 5, writeRate: 1 }), RangeError, 'ERR_OUT_OF_RANGE');
    tx.free();
    rx.free();
    base.free();
  });

  it('a group limit is shared by its members (the total follows the group rate)', () => {
    const base = newBase();
    const pairs = [io.socketpair(), io.socketpair()];
    const tx = pairs.map(([a]) => base.bufferevent(a!));
    const rx = pairs.map(([, b]) => base.bufferevent(b!));
    const perTick = 20_000;
    const group = base.rateLimitGroup({ readRate: perTick, writeRate: 1e6, tickMs: 50 });
    for (const r of rx) group.add(r);
    const each = 100_000;
    const ms = measureRate(base, rx, tx, each);
    const rate = (2 * each - perTick) / (ms / 1000);
    expect(rate).toBeGreaterThan(400_000 * 0.5);
    expect(rate).toBeLessThan(400_000 * 1.5);
    expect(group.totals.read).toBe(2 * each);
    group.free();
    expectCode(() => group.add(rx[0]!), Error, 'ERR_RATE_GROUP_FREED');
    for (const b of [...tx, ...rx]) b.free();
    base.free();
  });
});
