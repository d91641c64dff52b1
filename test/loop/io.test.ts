// The cheap I/O path: registered buffers (io.buffer) and socket-aware io.read/io.write.
import fs from 'node:fs';

import { afterEach, describe, expect, it } from 'vitest';

import { EV, EventBase, io } from '../../lib/index.js';
import { binding } from '../../lib/loop/native.js';
import { expectCode, methods } from './helpers.js';

const opened: number[] = [];
function pair(kind: 'socket' | 'pipe'): [number, number] {
  const p = kind === 'socket' ? io.socketpair() : io.pipe();
  opened.push(...p);
  return p;
}
afterEach(() => {
  for (const fd of opened.splice(0)) {
    try {
      io.close(fd);
    } catch {
      // closed by the test
    }
  }
});

describe.each(['socket', 'pipe'] as const)('io.buffer on a %s', (kind) => {
  it('moves bytes with offsets and lengths, returns -1 when it would block and 0 at EOF', () => {
    const [r, w] = pair(kind);
    const out = io.buffer(8);
    const inb = io.buffer(8);
    out.bytes.set([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(inb.read(r)).toBe(-1);
    expect(out.write(w, 3, 2)).toBe(3); // bytes 3, 4, 5
    expect(out.write(w)).toBe(8);
    expect(inb.read(r, 2, 6)).toBe(2);
    expect([...inb.bytes.subarray(6)]).toEqual([3, 4]);
    expect(inb.read(r)).toBe(8);
    expect([...inb.bytes]).toEqual([5, 1, 2, 3, 4, 5, 6, 7]);
    expect(inb.read(r)).toBe(1);
    expect(inb.bytes[0]).toBe(8);
    expect(inb.read(r)).toBe(-1);
    io.close(w);
    expect(inb.read(r)).toBe(0);
  });

  it('refuses lengths past the end, bad numbers and calls after free(); the bytes stay usable', () => {
    const [r, w] = pair(kind);
    const b = io.buffer(4);
    expectCode(() => b.write(w, 5), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => b.write(w, 2, 3), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => b.write(w, 1.5), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => b.read(-1), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => b.read('3' as unknown as number), TypeError, 'ERR_INVALID_ARG_TYPE');
    b.bytes[0] = 42;
    b.free();
    expect(b.freed).toBe(true);
    expectCode(() => b.write(w, 1), Error, 'ERR_BUFFER_FREED');
    expectCode(() => b.read(r), Error, 'ERR_BUFFER_FREED');
    expect(b.bytes[0]).toBe(42);
    b.free(); // twice is fine
  });
});

describe('registered buffers through the raw binding', () => {
  it('refuses forged and stale ids and bad sizes without touching memory', () => {
    const [r] = pair('socket');
    const [id] = binding.io.bufferNew(16);
    binding.io.bufferFree(id);
    expectCode(() => binding.io.bufferRead(r, id, 1, 0), Error, 'ERR_BUFFER_FREED');
    expectCode(() => binding.io.bufferFree(id), Error, 'ERR_BUFFER_FREED');
    const [next] = binding.io.bufferNew(16); // the slot is reused with a new generation
    expect(next).not.toBe(id);
    expectCode(() => binding.io.bufferRead(r, id, 1, 0), Error, 'ERR_BUFFER_FREED');
    expectCode(() => binding.io.bufferRead(r, 123456, 1, 0), Error, 'ERR_BUFFER_FREED');
    expectCode(() => (binding.io.bufferRead as (...a: unknown[]) => number)(r, next), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectCode(() => binding.io.bufferNew(0), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => binding.io.bufferNew(2 ** 31), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => (io.buffer as (s: unknown) => unknown)('8'), TypeError, 'ERR_INVALID_ARG_TYPE');
    binding.io.bufferFree(next);
  });

  it('keeps bytes valid after the registration is gone and the ArrayBuffer is transferred away', () => {
    const b = io.buffer(32);
    b.bytes.fill(7);
    const copy = structuredClone(b.bytes);
    b.free();
    expect(copy.every((x) => x === 7)).toBe(true);
    expect(b.bytes.every((x) => x === 7)).toBe(true);
  });
});

describe('socket-aware io.read / io.write', () => {
  it('still works when an fd number cached as a socket is reused by a pipe (closed outside io.close)', () => {
    const [a, b] = io.socketpair();
    const buf = new Uint8Array(1);
    expect(io.write(b, buf)).toBe(1); // learns: a socket
    expect(io.read(a, buf)).toBe(1);
    fs.closeSync(a);
    fs.closeSync(b);
    // The lowest free numbers come back: the pipe reuses a and b.
    const [pr, pw] = pair('pipe');
    const data = new Uint8Array([9, 8, 7]);
    expect(io.write(pw, data)).toBe(3);
    expect([pr, pw].sort()).toEqual([a, b].sort());
    const got = new Uint8Array(3);
    expect(io.read(pr, got)).toBe(3);
    expect([...got]).toEqual([9, 8, 7]);
    const ib = io.buffer(3);
    ib.bytes.set(data);
    expect(ib.write(pw)).toBe(3);
    expect(ib.read(pr)).toBe(3);
  });

  it('reports a write to a closed peer as EPIPE, not a signal', () => {
    const [a, b] = pair('socket');
    io.close(b);
    expectCode(() => io.write(a, new Uint8Array(1)), Error, 'EPIPE');
    expectCode(() => io.buffer(1).write(a), Error, 'EPIPE');
  });

  it.each(methods)('serves a persistent READ event through registered buffers on %s', (method) => {
    const base = new EventBase({ method });
    const [r, w] = pair('socket');
    const inb = io.buffer(64);
    const out = io.buffer(64);
    out.bytes.fill(5);
    let got = 0;
    const ev = base.event(r, EV.READ | EV.PERSIST, (fd) => {
      const n = inb.read(fd);
      if (n > 0) got += n;
      if (got >= 640) base.loopbreak();
    });
    ev.add();
    for (let i = 0; i < 10; i++) expect(out.write(w)).toBe(64);
    base.dispatch();
    expect(got).toBe(640);
    base.free();
  });
});
