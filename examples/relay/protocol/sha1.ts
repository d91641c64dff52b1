/**
 * SHA-1 in TypeScript, with a state that can be exported and rebuilt (FIPS 180-4 §6.1).
 *
 * Tor's relay cells carry the first 4 bytes of a running SHA-1 over every cell a hop sent or
 * received; the digest is never finalized, only read (crypto_digest_get_digest). node:crypto's
 * Hash can be copied but not serialized, so a relay that must carry a circuit's digest across a
 * live update into freshly loaded code uses this one: its whole state is five 32-bit words, the
 * bytes of an incomplete 64-byte block, and the message length. `peek()`/`peek32()` read the
 * digest of everything so far without disturbing the state; `checkpoint()`/`restore()` give the
 * trial-and-rollback of the "recognized" check without allocating.
 */
import { ProtocolError } from './errors.js';

/** The exported state: enough to continue hashing exactly where it stopped. */
export interface Sha1State {
  /** h0..h4 as unsigned 32-bit integers. */
  words: [number, number, number, number, number];
  /** Bytes of the current, incomplete block (0–63). */
  pending: Buffer;
  /** Bytes hashed so far. */
  length: number;
}

export interface Sha1Checkpoint {
  h0: number;
  h1: number;
  h2: number;
  h3: number;
  h4: number;
  length: number;
  pending: Buffer;
}

const W = new Int32Array(80);

export class Sha1 {
  #h0 = 0x67452301;
  #h1 = 0xefcdab89 | 0;
  #h2 = 0x98badcfe | 0;
  #h3 = 0x10325476;
  #h4 = 0xc3d2e1f0 | 0;
  readonly #block = Buffer.alloc(64);
  #length = 0;

  static fromState(state: Sha1State): Sha1 {
    const ok =
      Array.isArray(state?.words) &&
      state.words.length === 5 &&
      state.words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffff_ffff) &&
      Number.isSafeInteger(state.length) &&
      state.length >= 0 &&
      state.pending instanceof Uint8Array &&
      state.pending.length === state.length % 64;
    if (!ok) throw new ProtocolError('ERR_CRYPTO_STATE', 'not a SHA-1 state');
    const s = new Sha1();
    [s.#h0, s.#h1, s.#h2, s.#h3, s.#h4] = state.words.map((w) => w | 0) as Sha1State['words'];
    s.#block.set(state.pending);
    s.#length = state.length;
    return s;
  }

  exportState(): Sha1State {
    return {
      words: [this.#h0 >>> 0, this.#h1 >>> 0, this.#h2 >>> 0, this.#h3 >>> 0, this.#h4 >>> 0],
      pending: Buffer.from(this.#block.subarray(0, this.#length % 64)),
      length: this.#length,
    };
  }

  copy(): Sha1 {
    const s = new Sha1();
    s.restore(this.checkpoint());
    return s;
  }

  checkpoint(into?: Sha1Checkpoint): Sha1Checkpoint {
    const cp = into ?? { h0: 0, h1: 0, h2: 0, h3: 0, h4: 0, length: 0, pending: Buffer.allocUnsafe(64) };
    cp.h0 = this.#h0;
    cp.h1 = this.#h1;
    cp.h2 = this.#h2;
    cp.h3 = this.#h3;
    cp.h4 = this.#h4;
    cp.length = this.#length;
    this.#block.copy(cp.pending, 0, 0, this.#length % 64);
    return cp;
  }

  restore(cp: Sha1Checkpoint): void {
    this.#h0 = cp.h0;
    this.#h1 = cp.h1;
    this.#h2 = cp.h2;
    this.#h3 = cp.h3;
    this.#h4 = cp.h4;
    this.#length = cp.length;
    cp.pending.copy(this.#block, 0, 0, cp.length % 64);
  }

  get length(): number {
    return this.#length;
  }

  update(data: Uint8Array): this {
    let at = 0;
    const n = data.length;
    let used = this.#length % 64;
    this.#length += n;
    if (used > 0) {
      const take = Math.min(64 - used, n);
      this.#block.set(data.subarray(0, take), used);
      at = take;
      used += take;
      if (used < 64) return this;
      this.#compress(this.#block, 0);
    }
    for (; at + 64 <= n; at += 64) this.#compress(data, at);
    if (at < n) this.#block.set(data.subarray(at), 0);
    return this;
  }

  /** The 20-byte digest of everything hashed so far; the state is unchanged. */
  peek(): Buffer {
    const saved = this.checkpoint(SCRATCH);
    this.#finish();
    const out = Buffer.allocUnsafe(20);
    out.writeInt32BE(this.#h0, 0);
    out.writeInt32BE(this.#h1, 4);
    out.writeInt32BE(this.#h2, 8);
    out.writeInt32BE(this.#h3, 12);
    out.writeInt32BE(this.#h4, 16);
    this.restore(saved);
    return out;
  }

  /** The first 4 bytes of `peek()` as an unsigned integer (the relay header's Digest field). */
  peek32(): number {
    const saved = this.checkpoint(SCRATCH);
    this.#finish();
    const first = this.#h0 >>> 0;
    this.restore(saved);
    return first;
  }

  /** Finalizes: the SHA-1 of all input. The object must not be used afterwards. */
  digest(): Buffer {
    return this.peek();
  }

  #finish(): void {
    const bits = this.#length * 8;
    const used = this.#length % 64;
    const block = this.#block;
    block[used] = 0x80;
    block.fill(0, used + 1);
    if (used >= 56) {
      this.#compress(block, 0);
      block.fill(0, 0, 56);
    }
    block.writeUInt32BE(Math.floor(bits / 0x1_0000_0000), 56);
    block.writeUInt32BE(bits >>> 0, 60);
    this.#compress(block, 0);
  }

  #compress(data: Uint8Array, offset: number): void {
    const w = W;
    for (let i = 0; i < 16; i++) {
      const j = offset + i * 4;
      w[i] = (data[j]! << 24) | (data[j + 1]! << 16) | (data[j + 2]! << 8) | data[j + 3]!;
    }
    for (let i = 16; i < 80; i++) {
      const x = w[i - 3]! ^ w[i - 8]! ^ w[i - 14]! ^ w[i - 16]!;
      w[i] = (x << 1) | (x >>> 31);
    }
    let a = this.#h0;
    let b = this.#h1;
    let c = this.#h2;
    let d = this.#h3;
    let e = this.#h4;
    // Four loops, one per round function, so the hot path has no branch on i.
    let t: number;
    for (let i = 0; i < 20; i++) {
      t = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + e + 0x5a827999 + w[i]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    for (let i = 20; i < 40; i++) {
      t = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0x6ed9eba1 + w[i]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    for (let i = 40; i < 60; i++) {
      t = (((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) + e + 0x8f1bbcdc + w[i]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    for (let i = 60; i < 80; i++) {
      t = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0xca62c1d6 + w[i]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    this.#h0 = (this.#h0 + a) | 0;
    this.#h1 = (this.#h1 + b) | 0;
    this.#h2 = (this.#h2 + c) | 0;
    this.#h3 = (this.#h3 + d) | 0;
    this.#h4 = (this.#h4 + e) | 0;
  }
}

const SCRATCH: Sha1Checkpoint = { h0: 0, h1: 0, h2: 0, h3: 0, h4: 0, length: 0, pending: Buffer.allocUnsafe(64) };
