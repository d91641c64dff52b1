import { createHash, randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { Sha1 } from '../../../examples/relay/protocol/sha1.js';
import { expectCode } from './helpers.js';

describe('Sha1 (exportable running digest)', () => {
  it('matches node:crypto sha1 at every length around block boundaries', () => {
    for (const n of [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 509, 1018, 4096, 10_000]) {
      const data = randomBytes(n);
      expect(new Sha1().update(data).peek().toString('hex'), `length ${n}`).toBe(createHash('sha1').update(data).digest('hex'));
    }
    expect(new Sha1().update(Buffer.from('abc')).peek().toString('hex')).toBe('a9993e364706816aba3e25717850c26c9cd0d89d');
  });


  it('hashes views at any offset of shared buffers, alternating between buffers, as node:crypto does', () => {
    // Cells framed from one read share its ArrayBuffer (one cached DataView serves them); a
    // digest fed from two reads in turn must not read through the other one's view.
    const reads = [randomBytes(8192), randomBytes(8192)];
    const ours = new Sha1();
    const theirs = createHash('sha1');
    for (let i = 0; i < 40; i++) {
      const read = reads[i % 2]!;
      const at = (i * 509 + (i % 7)) % (read.length - 600);
      const view = read.subarray(at, at + 509 - (i % 3) * 70);
      ours.update(view);
      theirs.update(view);
      expect(ours.peek().toString('hex'), `step ${i}`).toBe(theirs.copy().digest('hex'));
    }
    // A Uint8Array that is not a Buffer, over part of an ArrayBuffer.
    const plain = new Uint8Array(reads[0]!.buffer, reads[0]!.byteOffset + 3, 700);
    expect(new Sha1().update(plain).peek().toString('hex')).toBe(createHash('sha1').update(plain).digest('hex'));
  });
  it('peek() reads the running digest without disturbing it, in chunks of any size', () => {
    const s = new Sha1();
    const node = createHash('sha1');
    for (let i = 0; i < 50; i++) {
      const chunk = randomBytes(i * 7 + 1);
      s.update(chunk);
      node.update(chunk);
      expect(s.peek()).toEqual(node.copy().digest());
      expect(s.peek32()).toBe(node.copy().digest().readUInt32BE(0));
    }
  });

  it('exports and rebuilds mid-stream with identical continuation', () => {
    const s = new Sha1().update(randomBytes(1000));
    const state = structuredClone(s.exportState());
    const rebuilt = Sha1.fromState(state);
    const more = randomBytes(777);
    expect(rebuilt.update(more).peek()).toEqual(s.update(more).peek());
  });

  it('checkpoint/restore and copy roll back exactly', () => {
    const s = new Sha1().update(randomBytes(100));
    const before = s.peek();
    const cp = s.checkpoint();
    const c = s.copy();
    s.update(randomBytes(300));
    expect(s.peek()).not.toEqual(before);
    s.restore(cp);
    expect(s.peek()).toEqual(before);
    expect(c.peek()).toEqual(before);
  });

  it('refuses malformed exported state with a code', () => {
    expectCode(() => Sha1.fromState({ words: [1, 2, 3], pending: Buffer.alloc(0), length: 0 } as never), 'ERR_CRYPTO_STATE');
    expectCode(() => Sha1.fromState({ words: [1, 2, 3, 4, 5], pending: Buffer.alloc(3), length: 64 }), 'ERR_CRYPTO_STATE');
    expectCode(() => Sha1.fromState(null as never), 'ERR_CRYPTO_STATE');
  });
});
