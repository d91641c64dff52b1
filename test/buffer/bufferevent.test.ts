// BufferEvent on every backend: mirrors libevent's regress_bufferevent.c cases that apply to
// the public API (transfer, pairs, flush modes, watermarks, timeouts, EOF/ERROR ordering and
// flags, setcb from a callback), plus the binding's own rules: the read high watermark never
// spins (libevent#891), pause() gates, write() reports backpressure, frees are safe anywhere.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterEach, describe, expect, it } from 'vitest';

import { BEV, type BufferEvent, EV, EventBase, EVLOOP, FLUSH, io } from '../../lib/index.js';
import { native } from '../../lib/buffer/native.js';
import { bufferedStats, expectCode, loopFor, loopUntil, methods, pattern } from './helpers.js';
import { expectUsable as expectUsableBase, runChild } from '../loop/helpers.js';

const fdsToClose: number[] = [];
afterEach(() => {
  for (const fd of fdsToClose.splice(0)) {
    try {
      io.close(fd);
    } catch {
      // already closed by its bufferevent
    }
  }
});

function fdOpen(fd: number): boolean {
  try {
    io.write(fd, new Uint8Array(0));
    return true;
  } catch (err) {
    return (err as { code?: string }).code !== 'EBADF';
  }
}

describe.each(methods)('BufferEvent (%s)', (method) => {
  const newBase = () => new EventBase({ method });

  it('moves 8333 bytes across a socketpair and reports its callbacks and enabled bits', () => {
    const base = newBase();
    const [fa, fb] = io.socketpair();
    const read = (bev: BufferEvent) => got.push(bev.input.remove(bev.input.length));
    const got: Buffer[] = [];
    const a = base.bufferevent(fa, { enable: EV.WRITE });
    const b = base.bufferevent(fb, { read });
    expect(a.enabled).toBe(EV.WRITE);
    expect(b.enabled).toBe(EV.READ | EV.WRITE);
    expect(b.callbacks.read).toBe(read);
    expect(b.fd).toBe(fb);
    const data = pattern(8333);
    expect(a.write(data)).toBe(true);
    loopUntil(base, () => Buffer.concat(got).length >= 8333);
    expect(Buffer.concat(got).equals(data)).toBe(true);
    a.free();
    b.free();
    base.free();
  });

  it('pairs move data, have no fd, and FINISHED delivers READING|EOF to the partner', () => {
    const base = newBase();
    const events: number[] = [];
    let got = '';
    const [a, b] = base.bufferevent.pair({
      read: (bev) => (got += bev.input.remove(1e6).toString()),
      event: (_bev, what) => events.push(what),
    });
    expect(a.fd).toBe(-1);
    a.write('hello pair');
    loopUntil(base, () => got === 'hello pair');
    expect(a.flush(EV.WRITE, FLUSH.NORMAL)).toBeGreaterThanOrEqual(0);
    expect(events).toEqual([]);
    a.flush(EV.WRITE, FLUSH.FINISHED);
    loopUntil(base, () => events.length > 0);
    expect(events).toEqual([BEV.READING | BEV.EOF]);
    a.free();
    b.free();
    base.free();
  });

  it('freeing one half of a pair tells the other EOF (libevent#93 otherwise)', () => {
    const base = newBase();
    const events: number[] = [];
    const [a, b] = base.bufferevent.pair({ event: (_bev, what) => events.push(what) });
    a.free();
    loopUntil(base, () => events.length > 0);
    expect(events).toEqual([BEV.READING | BEV.EOF]);
    b.free();
    base.free();
  });

  it('flush on a socket is accepted in every mode and the transfer completes', () => {
    const base = newBase();
    const [fa, fb] = io.socketpair();
    let n = 0;
    const a = base.bufferevent(fa);
    const b = base.bufferevent(fb, { read: (bev) => (n += bev.input.drain(1e9)) });
    for (const mode of [FLUSH.NORMAL, FLUSH.FLUSH, FLUSH.FINISHED]) {
      a.write(pattern(1000));
      expect(a.flush(EV.WRITE, mode)).toBeGreaterThanOrEqual(0);
    }
    loopUntil(base, () => n === 3000);
    expectCode(() => a.flush(EV.WRITE, 7), RangeError, 'ERR_OUT_OF_RANGE');
    a.free();
    b.free();
    base.free();
  });

  it('read watermarks 10/20 keep every read callback at 10–20 bytes over 65,000 bytes', () => {
    const base = newBase();
    const [fa, fb] = io.socketpair();
    const sizes: number[] = [];
    let total = 0;
    const a = base.bufferevent(fa);
    const b = base.bufferevent(fb, {
      read: (bev) => {
        const n = bev.input.length;
        sizes.push(n);
        total += bev.input.drain(n);
      },
    });
    b.setWatermark(EV.READ, 10, 20);
    expect(b.getWatermark(EV.READ)).toEqual({ low: 10, high: 20 });
    a.write(pattern(65_000));
    loopUntil(base, () => total === 65_000, 20_000);
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(10);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(20);
    expectCode(() => b.getWatermark(EV.READ | EV.WRITE), RangeError, 'ERR_INVALID_EVENTS');
    expectCode(() => b.setWatermark(EV.READ, 30, 20), RangeError, 'ERR_OUT_OF_RANGE');
    a.free();
    b.free();
    base.free();
  });

  it('the write low watermark: the write callback never sees more than `low` bytes queued', () => {
    const base = newBase();
    const [fa, fb] = io.socketpair();
    const seen: number[] = [];
    let received = 0;
    const a = base.bufferevent(fa, { write: (bev) => seen.push(bev.output.length) });
    const b = base.bufferevent(fb, { read: (bev) => (received += bev.input.drain(1e9)) });
    a.setWatermark(EV.WRITE, 100, 2000);
    expect(a.getWatermark(EV.WRITE)).toEqual({ low: 100, high: 2000 });
    a.write(pattern(100_000));
    loopUntil(base, () => received === 100_000 && a.output.length === 0);
    expect(seen.length).toBeGreaterThan(0);
    expect(Math.max(...seen)).toBeLessThanOrEqual(100);
    a.free();
    b.free();
    base.free();
  });

  it('write() returns false at the write high mark and the write callback says when it drained', () => {
    const base = newBase();
    const [fa, fb] = io.socketpair();
    fdsToClose.push(fb);
    const drainedAt: number[] = [];
    const a = base.bufferevent(fa, { write: (bev) => drainedAt.push(bev.output.length) });
    a.setWatermark(EV.WRITE, 0, 4096);
    // An empty output and a socket with room: the bytes go straight to the socket, as in Node.
    expect(a.write(pattern(1000))).toBe(true);
    expect(a.output.length).toBe(0);
    // The peer does not read: once the socket is full, bytes queue and write() says so at the mark.
    let writes = 0;
    for (let ok = true; ok; writes++) {
      ok = a.write(pattern(5000));
      expect(ok).toBe(a.output.length < 4096);
    }
    expect(writes).toBeGreaterThan(1);
    expect(a.output.length).toBeGreaterThanOrEqual(4096);
    // The peer reads: the write callback runs only once the output is down to the low mark (0),
    // never for the earlier direct writes while bytes were still queued.
    const b = base.bufferevent(fb, { closeOnFree: false, read: (bev) => bev.input.drain(1e9) });
    loopUntil(base, () => drainedAt.length > 0);
    expect(drainedAt).toEqual([0]);
    expect(a.write('x')).toBe(true);
    a.free();
    b.free();
    base.free();
  });

  it('read and write timeouts fire once each with TIMEOUT and their direction, then disable it', () => {
    const base = newBase();
    const [fa, fb] = io.socketpair();
    fdsToClose.push(fb); // the peer never reads nor writes
    const events: number[] = [];
    const a = base.bufferevent(fa, { event: (_b, what) => events.push(what), read: () => events.push(-1) });
    a.setTimeouts(60, 0);
    loopUntil(base, () => events.length > 0);
    expect(events).toEqual([BEV.TIMEOUT | BEV.READING]);
    expect(a.enabled & EV.READ).toBe(0);
    // Write timeout: output the peer never takes (socket buffers fill up).
    a.setTimeouts(0, 60);
    while (a.output.length < 4 * 1024 * 1024) a.write(pattern(65536));
    loopUntil(base, () => events.length > 1);
    expect(events).toEqual([BEV.TIMEOUT | BEV.READING, BEV.TIMEOUT | BEV.WRITING]);
    expect(a.enabled & EV.WRITE).toBe(0);
    loopFor(base, 150);
    expect(events.length).toBe(2); // each fired once
    a.free();
    base.free();
  });

  it('data comes before EOF; EOF disables reading only', () => {
    const base = newBase();
    const [fa, fb] = io.socketpair();
    const log: string[] = [];
    const b = base.bufferevent(fb, {
      read: (bev) => log.push('read ' + bev.input.remove(100).toString()),
      event: (_b, what) => log.push('event ' + what.toString(16)),
    });
    io.write(fa, Buffer.from('bytes'));
    io.close(fa);
    loopUntil(base, () => log.length >= 2);
    expect(log).toEqual(['read bytes', 'event ' + (BEV.READING | BEV.EOF).toString(16)]);
    expect(b.enabled).toBe(EV.WRITE);
    b.free();
    base.free();
  });

  it('a write to a closed peer reports ERROR with the errno name, deferred events merged into one', () => {
    const base = newBase();
    const [fa, fb] = io.socketpair();
    io.close(fa);
    const events: [number, string | undefined][] = [];
    const b = base.bufferevent(fb, { event: (_b, what, err) => events.push([what, err?.code]) });
    b.write('x');
    loopUntil(base, () => events.some(([w]) => w & BEV.ERROR));
    const err = events.find(([w]) => w & BEV.ERROR)!;
    expect(err[0] & BEV.ERROR).toBe(BEV.ERROR);
    expect(['EPIPE', 'ECONNRESET']).toContain(err[1]);
    b.free();
    base.free();
  });

  it('setCallbacks from inside a callback already applies to the next callback', () => {
    const base = newBase();
    const [a, b] = base.bufferevent.pair();
    const log: string[] = [];
    b.setCallbacks({
      read: (bev) => {
        log.push('first ' + bev.input.remove(100).toString());
        bev.setCallbacks({ read: (x) => log.push('second ' + x.input.remove(100).toString()) });
      },
    });
    a.write('1');
    loopUntil(base, () => log.length === 1);
    a.write('2');
    loopUntil(base, () => log.length === 2);
    expect(log).toEqual(['first 1', 'second 2']);
    b.setCallbacks({}); // none: data stays in the input
    a.write('3');
    loopFor(base, 30);
    expect(log.length).toBe(2);
    expect(b.input.length).toBe(1);
    a.free();
    b.free();
    base.free();
  });

  it('a read callback that leaves data at the read high watermark does not spin (libevent#891)', () => {
    const base = newBase();
    const [fa, fb] = io.socketpair();
    let calls = 0;
    let consume = false;
    let total = 0;
    const b = base.bufferevent(fb, {
      read: (bev) => {
        calls++;
        if (consume) total += bev.input.drain(1e9);
      },
    });
    b.setWatermark(EV.READ, 0, 100);
    const a = base.bufferevent(fa);
    a.write(pattern(10_000));
    loopFor(base, 200);
    // libevent 2.1.12 alone: millions of calls in this interval. Here: the mark was reached once.
    expect(calls).toBeLessThanOrEqual(3);
    expect(b.input.length).toBe(100);
    expect(b.enabled & EV.READ).toBe(EV.READ); // still the user's wish
    consume = true;
    total += b.input.drain(1e9); // draining below the mark resumes reading
    loopUntil(base, () => total === 10_000);
    a.free();
    b.free();
    base.free();
  });

  it('pause() stops read callbacks (also one already scheduled) and resume() delivers what piled up', () => {
    const base = newBase();
    const [a, b] = base.bufferevent.pair();
    const got: string[] = [];
    b.setCallbacks({ read: (bev) => got.push(bev.input.remove(100).toString()) });
    a.write('early');
    a.flush(); // moved into b's input, its read callback scheduled
    b.pause();
    expect(b.paused).toBe(true);
    loopFor(base, 30);
    expect(got).toEqual([]);
    b.resume();
    loopUntil(base, () => got.length > 0);
    expect(got).toEqual(['early']);
    a.free();
    b.free();
    base.free();
  });

  it('moves 2 MiB each way at once, exactly, under backpressure', () => {
    const base = newBase();
    const [fa, fb] = io.socketpair();
    const N = 2 * 1024 * 1024 + 123;
    const out = [pattern(N, 1), pattern(N, 2)];
    const sent = [0, 0];
    const recv = [Buffer.alloc(N), Buffer.alloc(N)];
    const got = [0, 0];
    let highSeen = 0;
    const pump = (bev: BufferEvent, k: number) => {
      while (sent[k]! < N) {
        const chunk = out[k]!.subarray(sent[k], Math.min(N, sent[k]! + 65536));
        sent[k]! += chunk.length;
        if (!bev.write(chunk)) {
          highSeen = Math.max(highSeen, bev.output.length);
          return; // wait for the write callback
        }
      }
    };
    const mk = (fd: number, k: number) =>
      base.bufferevent(fd, {
        read: (bev) => (got[k]! += bev.input.removeInto(recv[k]!.subarray(got[k]!))),
        write: (bev) => pump(bev, k),
      });
    const a = mk(fa, 0);
    const b = mk(fb, 1);
    a.setWatermark(EV.WRITE, 0, 256 * 1024);
    b.setWatermark(EV.WRITE, 0, 256 * 1024);
    pump(a, 0);
    pump(b, 1);
    loopUntil(base, () => got[0] === N && got[1] === N, 60_000);
    expect(recv[0]!.equals(out[1]!)).toBe(true);
    expect(recv[1]!.equals(out[0]!)).toBe(true);
    expect(highSeen).toBeLessThan(256 * 1024 + 65536); // write() said stop at the mark
    a.free();
    b.free();
    base.free();
  });

  it('end() sends the output, then shuts the write side; the peer sees EOF; later writes throw', () => {
    const base = newBase();
    const [fa, fb] = io.socketpair();
    const log: string[] = [];
    const a = base.bufferevent(fa);
    const b = base.bufferevent(fb, {
      read: (bev) => log.push(bev.input.remove(1e6).toString()),
      event: (_b, what) => log.push('event ' + what.toString(16)),
    });
    a.end('last words');
    expectCode(() => a.write('more'), Error, 'ERR_STREAM_WRITE_AFTER_END');
    loopUntil(base, () => log.length >= 2);
    expect(log.join('')).toBe('last words' + 'event ' + (BEV.READING | BEV.EOF).toString(16));
    b.write('reply after half-close');
    let reply = '';
    a.setCallbacks({ read: (bev) => (reply += bev.input.remove(1e6).toString()) });
    loopUntil(base, () => reply.length > 0);
    expect(reply).toBe('reply after half-close');
    a.free();
    b.free();
    base.free();
  });

  it('closeOnFree closes the socket on the next loop pass; without it the fd stays open', () => {
    const base = newBase();
    const [fa, fb] = io.socketpair();
    const a = base.bufferevent(fa);
    const b = base.bufferevent(fb, { closeOnFree: false });
    expectCode(() => base.bufferevent(fa), Error, 'ERR_FD_IN_USE');
    a.free();
    b.free();
    base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK);
    expect(fdOpen(fa)).toBe(false);
    expect(fdOpen(fb)).toBe(true);
    io.close(fb);
    base.free();
  });

  it('free() from inside its own callbacks is safe, and nothing runs after it', () => {
    const base = newBase();
    const [a, b] = base.bufferevent.pair();
    let reads = 0;
    let events = 0;
    b.setCallbacks({
      read: (bev) => {
        reads++;
        bev.free();
        expect(bev.freed).toBe(true);
        expectCode(() => bev.input, Error, 'ERR_BUFFEREVENT_FREED');
      },
      event: () => events++,
    });
    a.write('x');
    a.flush(EV.WRITE, FLUSH.FINISHED); // read and EOF in one deferred batch
    loopFor(base, 30);
    expect([reads, events]).toEqual([1, 0]);
    a.free();
    base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK);
    expect(bufferedStats().bufferevents).toBe(0);
    base.free();
  });

  it('base.free() from inside a read callback: the rest of that batch does not run, everything is freed', () => {
    const base = newBase();
    const [a, b] = base.bufferevent.pair();
    const log: string[] = [];
    b.setCallbacks({
      read: () => {
        log.push('read');
        base.free();
      },
      event: () => log.push('event'),
    });
    a.write('x');
    a.flush(EV.WRITE, FLUSH.FINISHED); // read and EOF queued for one deferred run
    base.dispatch();
    expect(log).toEqual(['read']);
    expect(base.freed).toBe(true);
    expect(b.freed).toBe(true);
    expect(bufferedStats().bufferevents).toBe(0);
  });

  it("works inside Node's loop with run(): a Node net client talks to a listener of the binding", async () => {
    const net = await import('node:net');
    const base = newBase();
    const l = base.listen({ host: '127.0.0.1' }, (bev) =>
      bev.setCallbacks({
        read: (c) => c.write(c.input.remove(1e6).toString().toUpperCase()),
        event: (c, what) => {
          if (what & (BEV.EOF | BEV.ERROR)) {
            c.free();
            l.free(); // nothing left: run() resolves
          }
        },
      }),
    );
    const reply = new Promise<string>((resolve) => {
      const s = net.connect(l.port, '127.0.0.1', () => s.write('shout'));
      s.on('data', (d) => {
        s.end();
        resolve(d.toString());
      });
    });
    const ran = base.run();
    expect(await reply).toBe('SHOUT');
    expect(await ran).toBe(1);
    base.free();
  });

  it('a callback that throws ends loop() with that error, and the bufferevent goes on', () => {
    const base = newBase();
    const [a, b] = base.bufferevent.pair();
    let n = 0;
    b.setCallbacks({
      read: (bev) => {
        bev.input.drain(1e6);
        if (++n === 1) throw new Error('boom');
      },
    });
    a.write('1');
    expect(() => base.dispatch()).toThrow('boom');
    a.write('2');
    loopUntil(base, () => n === 2);
    a.free();
    b.free();
    base.free();
  });

  it('freed bufferevents, their buffers and a freed base throw coded errors', () => {
    const base = newBase();
    const [a, b] = base.bufferevent.pair();
    const input = a.input;
    const h = a._handle;
    a.free();
    for (const f of [() => a.write('x'), () => a.enable(EV.READ), () => a.free(), () => a.setTimeouts(1), () => a.fd]) {
      expectCode(f, Error, 'ERR_BUFFEREVENT_FREED');
    }
    expectCode(() => input.length, Error, 'ERR_BUFFEREVENT_FREED');
    expectCode(() => native.bevWrite(h, 'x'), Error, 'ERR_INVALID_HANDLE'); // the raw binding too
    a[Symbol.dispose](); // no-op once freed
    base.free();
    expectCode(() => b.write('x'), Error, 'ERR_BASE_FREED');
    expect(b.freed).toBe(true);
    expect(bufferedStats().bufferevents).toBe(0);
  });

  // The buffered entries of the raw binding, table-driven like the loop layer's
  // (validation-sweep.cjs here), in a child so that a crash fails this test.
  it('every raw buffered entry point refuses junk in every argument with a coded error, never crashing', () => {
    const sweep = path.join(path.dirname(fileURLToPath(import.meta.url)), 'validation-sweep.cjs');
    const r = runChild(`process.argv[2] = ADDON; require(${JSON.stringify(sweep)});`, 60_000);
    expect(r.signal, r.out.slice(-2000)).toBe(null);
    const result = JSON.parse(r.out.trim().split('\n').pop()!) as { calls: number; problems: string[] };
    expect(result.problems).toEqual([]);
    expect(result.calls).toBeGreaterThan(2000);
  });

  it('validates every argument in the addon', () => {
    const base = newBase();
    const [a, b] = base.bufferevent.pair();
    expectCode(() => native.bevWrite(a._handle, 5 as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectCode(() => native.bevEnable(a._handle, EV.SIGNAL), RangeError, 'ERR_INVALID_EVENTS');
    expectCode(() => native.bevSetWatermark(a._handle, EV.READ, -1, 0), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => native.bevSetTimeouts(a._handle, -5), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => native.bevNew(base._handle, -1, true, 0), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => native.bevNew(base._handle, 1e6, true, 0), Error, 'EBADF');
    const [pr, pw] = io.pipe();
    expectCode(() => base.bufferevent(pr), Error, 'ERR_INVALID_FD');
    io.close(pr);
    io.close(pw);
    expectCode(() => native.bevNew(base._handle, 0, 'yes' as never, 0), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectCode(() => native.bevFree(12345.5), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => native.bevFree(2 ** 40), Error, 'ERR_INVALID_HANDLE');
    expectCode(() => a.setCallbacks({ read: 1 as never }), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectCode(() => base.bufferevent.pair({ enable: EV.SIGNAL }), RangeError, 'ERR_INVALID_EVENTS');
    expectCode(() => a.setRateLimit({ readRate: 1, writeRate: 1 }), Error, 'ERR_INVALID_ARG_VALUE'); // pairs: sockets only
    a.free();
    b.free();
    base.free();
  });

  it("refuses a base's own fds (its backend and signal pipe): a bufferevent would close them", async () => {
    const fs = await import('node:fs');
    const links = () => new Map(fs.readdirSync('/proc/self/fd').map((fd) => [Number(fd), (() => { try { return fs.readlinkSync(`/proc/self/fd/${fd}`); } catch { return ''; } })()]));
    const before = links();
    const base = newBase();
    const own = [...links()].filter(([fd, link]) => before.get(fd) !== link && link !== '').map(([fd]) => fd);
    expect(own.length).toBeGreaterThan(0);
    for (const fd of own) {
      const err = (() => {
        try {
          base.bufferevent(fd);
        } catch (e) {
          return (e as { code?: string }).code;
        }
      })();
      expect(['ERR_FD_OWNED_BY_BASE', 'ERR_INVALID_FD']).toContain(err);
    }
    expectUsableBase(base);
    base.free();
  });

  it("base.events() lists none of libevent's own events of bufferevents (numEvents still counts them)", () => {
    const base = newBase();
    const [fa, fb] = io.socketpair();
    const a = base.bufferevent(fa);
    const b = base.bufferevent(fb);
    a.write(pattern(1000));
    expect(base.numEvents()).toBeGreaterThan(0);
    expect(base.events()).toEqual([]);
    const t = base.timer(() => undefined).add(1000);
    expect(base.events()).toEqual([t]);
    expect(base.rewire(() => () => undefined)).toBe(1); // only the API event is rewritten
    t.free();
    a.free();
    b.free();
    base.free();
  });
});
