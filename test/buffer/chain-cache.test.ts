// libevent's evbuffer chains are allocated through the addon's per-thread cache
// (native/chain_cache.cc): a loop pass over many connections first reads into new chains for
// all of them and only then runs the callbacks that free them, which without the cache made
// glibc trim and regrow its heap every pass (a page fault per message at 100 echo connections).
import { describe, expect, it } from 'vitest';

import { type BufferEvent, EventBase, io } from '../../lib/index.js';
import { bufferedStats, loopUntil, methods, pattern } from './helpers.js';

const CACHE_LIMIT = 1024 * 1024;
// AddressSanitizer's allocator keeps freed memory in quarantine and maps fresh pages instead,
// so page faults only say something about glibc's malloc (the byte and bound checks still run).
const glibcMalloc = !/libasan/.test(process.env.LD_PRELOAD ?? '');

describe.each(methods)('evbuffer chain memory (%s)', (method) => {
  /** `conns` echo connections in lockstep ping-pong of `size`-byte messages, `rounds` times. */
  function pingPong(conns: number, size: number, rounds: number, measureFrom: number) {
    const base = new EventBase({ method });
    const clients: BufferEvent[] = [];
    const servers: BufferEvent[] = [];
    const got = new Array<number>(conns).fill(0);
    // Allocated up front: the test's own garbage must not fault pages while it counts faults.
    const msgs = Array.from({ length: conns }, (_, i) => pattern(size, i));
    const back = Array.from({ length: conns }, () => Buffer.alloc(size));
    let ok = true;
    for (let i = 0; i < conns; i++) {
      const [fa, fb] = io.socketpair();
      servers.push(base.bufferevent(fb, { read: (b) => b.writeBuffer(b.input) }));
      clients.push(
        base.bufferevent(fa, {
          read: (b) => {
            const at = got[i] % size;
            const n = b.input.removeInto(back[i].subarray(at));
            got[i] += n;
            if (got[i] % size === 0 && !back[i].equals(msgs[i])) ok = false;
          },
        }),
      );
    }
    let faults = 0;
    for (let r = 0; r < rounds; r++) {
      const f0 = process.resourceUsage().minorPageFault;
      for (let i = 0; i < conns; i++) clients[i].write(msgs[i]);
      loopUntil(base, () => got.every((g) => g >= (r + 1) * size));
      if (r >= measureFrom) faults += process.resourceUsage().minorPageFault - f0;
    }
    for (const b of [...clients, ...servers]) b.free();
    base.free();
    if (process.env.SHOW_FAULTS) console.log(method, conns, size, faults, conns * (rounds - measureFrom));
    return { ok, faults, msgs: conns * (rounds - measureFrom) };
  }

  it('100 connections echo every byte, the chains are reused and the cache stays bounded', () => {
    const r = pingPong(100, 4096, 50, 10);
    expect(r.ok).toBe(true);
    const cached = bufferedStats().chainCacheBytes;
    expect(cached).toBeGreaterThan(0);
    expect(cached).toBeLessThanOrEqual(CACHE_LIMIT);
    // Generous: without the cache this was about 2.6 faults per message on epoll.
    if (glibcMalloc) expect(r.faults).toBeLessThan(r.msgs / 4);
  });

  it('large transfers keep the cache within its bound', () => {
    const r = pingPong(4, 1 << 20, 3, 0);
    expect(r.ok).toBe(true);
    expect(bufferedStats().chainCacheBytes).toBeLessThanOrEqual(CACHE_LIMIT);
  });
});
