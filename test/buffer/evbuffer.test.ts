// EvBuffer: mirrors the public-API cases of libevent's regress_buffer.c (add/drain/remove,
// add_buffer moves, prepend, readln in every EOL style across chains, search, copyout, peek,
// pullup, large buffers) plus the binding's own: caller-owned arrays, freed and frozen buffers.
import { describe, expect, it } from 'vitest';

import { EOL, EvBuffer, EventBase, io } from '../../lib/index.js';
import { bufferedStats, expectCode, pattern } from './helpers.js';

describe('EvBuffer', () => {
  it('adds, drains and removes in order across many chains', () => {
    const b = new EvBuffer();
    const data = pattern(100_000);
    for (let off = 0; off < data.length; off += 100) b.add(data.subarray(off, off + 100));
    expect(b.length).toBe(100_000);
    expect(b.drain(10)).toBe(10);
    expect(b.remove(5)).toEqual(data.subarray(10, 15));
    const rest = b.remove(1e9);
    expect(rest).toEqual(data.subarray(15));
    expect(b.length).toBe(0);
    expect(b.drain(5)).toBe(0);
    expect(b.remove(5).length).toBe(0);
    b.free();
  });

  it('adds strings as UTF-8', () => {
    const b = new EvBuffer();
    b.add('héllo');
    expect(b.length).toBe(6);
    expect(b.remove(6).toString('utf8')).toBe('héllo');
    b.free();
  });

  it('addBuffer moves every byte and leaves the source empty (1 MiB+, no copy needed)', () => {
    const a = new EvBuffer();
    const src = new EvBuffer();
    const big = pattern(3 * 1024 * 1024 + 17, 3);
    a.add('head:');
    src.add(big);
    a.addBuffer(src);
    expect(src.length).toBe(0);
    expect(a.length).toBe(big.length + 5);
    expect(a.remove(5).toString()).toBe('head:');
    expect(a.remove(big.length).equals(big)).toBe(true);
    expect(() => a.addBuffer(a)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    a.free();
    src.free();
  });

  it('prepend puts bytes in front, also in front of moved chains', () => {
    const a = new EvBuffer();
    const b = new EvBuffer();
    b.add('world');
    a.addBuffer(b);
    a.prepend('hello ');
    expect(a.remove(100).toString()).toBe('hello world');
    a.free();
    b.free();
  });

  it('readln handles every EOL style, CRLF split across chains, and incomplete lines', () => {
    const b = new EvBuffer();
    b.add('one\r');
    const other = new EvBuffer();
    other.add('\ntwo\nthree\r\n\r\nfour');
    b.addBuffer(other); // CR in one chain, LF in the next
    expect(b.readln(EOL.CRLF)).toBe('one');
    expect(b.readln(EOL.CRLF)).toBe('two');
    expect(b.readln(EOL.CRLF_STRICT)).toBe('three');
    expect(b.readln(EOL.CRLF_STRICT)).toBe('');
    expect(b.readln(EOL.CRLF)).toBeNull(); // 'four' has no EOL yet
    expect(b.length).toBe(4);
    b.add('\r\r\nfive\n');
    expect(b.readln(EOL.ANY)).toBe('four'); // any run of CR/LF is one EOL
    expect(b.readln(EOL.LF)).toBe('five');
    b.add('a\rb\n');
    expect(b.readln(EOL.LF)).toBe('a\rb');
    b.add(Uint8Array.of(0x78, 0, 0x79, 0));
    expect(b.readln(EOL.NUL)).toBe('x');
    expect(b.readln(EOL.NUL)).toBe('y');
    b.add('x\ny');
    expect(b.readln(EOL.CRLF_STRICT)).toBeNull(); // a bare LF is not CRLF
    expectCode(() => b.readln(9), RangeError, 'ERR_OUT_OF_RANGE');
    b.free();
    other.free();
  });

  it('search finds across chains, from an offset, and reports misses', () => {
    const b = new EvBuffer();
    const o = new EvBuffer();
    b.add('abcdefgh');
    o.add('ijklabc');
    b.addBuffer(o);
    expect(b.search('gh' + 'ij')).toBe(6); // spans the chain boundary
    expect(b.search('abc')).toBe(0);
    expect(b.search('abc', 1)).toBe(12);
    expect(b.search('zzz')).toBe(-1);
    expect(b.search('abc', 100)).toBe(-1);
    expect(b.search(Uint8Array.of(0x6c))).toBe(11);
    b.free();
    o.free();
  });

  it('copyout/peek leave the buffer intact; pullup returns null past the end', () => {
    const b = new EvBuffer();
    b.add('0123456789');
    expect(b.copyout(4).toString()).toBe('0123');
    expect(b.peek(3, 5).toString()).toBe('567');
    expect(b.peek(100, 8).toString()).toBe('89');
    expect(b.length).toBe(10);
    expect(b.pullup(4)?.toString()).toBe('0123');
    expect(b.pullup(11)).toBeNull();
    expect(b.pullup()?.toString()).toBe('0123456789');
    expect(new EvBuffer().pullup()?.length).toBe(0);
    b.free();
  });

  it('reads into and copies into caller-owned arrays without allocating', () => {
    const b = new EvBuffer();
    b.add(pattern(10_000));
    const target = new Uint8Array(4096);
    expect(b.copyoutInto(target)).toBe(4096);
    expect(b.length).toBe(10_000);
    let total = 0;
    for (let n; (n = b.removeInto(target)) > 0; ) total += n;
    expect(total).toBe(10_000);
    expect(b.removeInto(new Uint8Array(0))).toBe(0);
    b.free();
  });

  it('validates arguments in the addon and refuses use after free', () => {
    const b = new EvBuffer();
    expectCode(() => b.add(42 as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectCode(() => b.add(new Uint16Array(2) as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectCode(() => b.drain(-1), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => b.remove(1.5), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => b.removeInto([] as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectCode(() => b.addBuffer({} as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    b.free();
    expectCode(() => b.length, Error, 'ERR_EVBUFFER_FREED');
    expectCode(() => b.free(), Error, 'ERR_EVBUFFER_FREED');
    expect(b.freed).toBe(true);
  });

  it("a socket bufferevent's input refuses appends and its output refuses drains (frozen ends)", () => {
    const base = new EventBase();
    const [fa, fb] = io.socketpair();
    const a = base.bufferevent(fa);
    const b = base.bufferevent(fb);
    expectCode(() => a.input.add('x'), Error, 'ERR_EVBUFFER_FROZEN');
    a.output.add('fine');
    expectCode(() => a.output.drain(1), Error, 'ERR_EVBUFFER_FROZEN');
    expectCode(() => a.output.free(), Error, 'ERR_INVALID_ARG_VALUE');
    a.free();
    b.free();
    base.free();
  });

  it('standalone buffers are freed when collected', async () => {
    const before = bufferedStats().evbuffers;
    (() => {
      for (let i = 0; i < 50; i++) new EvBuffer().add('x');
    })();
    for (let i = 0; i < 10 && bufferedStats().evbuffers > before; i++) {
      (globalThis as { gc?: () => void }).gc?.() ?? (await import('../loop/helpers.js')).gc();
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(bufferedStats().evbuffers).toBeLessThanOrEqual(before);
  });
});
