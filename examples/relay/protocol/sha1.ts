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
  pending: Uint8Array;
  /** Bytes hashed so far. */
  length: number;
}

/** A saved state for restore(); reuse one object to avoid allocating. */
export interface Sha1Checkpoint {
  words: Int32Array;
  pending: Uint8Array;
  length: number;
}

const W = new Int32Array(80);

/** One SHA-1 compression of the 64 bytes at data[offset..] into h. */
function compress(h: Int32Array, data: Uint8Array, offset: number): void {
  const w = W;
  for (let i = 0, j = offset; i < 16; i++, j += 4) {
    w[i] = (data[j]! << 24) | (data[j + 1]! << 16) | (data[j + 2]! << 8) | data[j + 3]!;
  }
  for (let i = 16; i < 80; i++) {
    const x = w[i - 3]! ^ w[i - 8]! ^ w[i - 14]! ^ w[i - 16]!;
    w[i] = (x << 1) | (x >>> 31);
  }
  let a = h[0]!;
  let b = h[1]!;
  let c = h[2]!;
  let d = h[3]!;
  let e = h[4]!;
  let t: number;
  // Four loops, one per round function, so the hot path has no branch on i.
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
  h[0] = (h[0]! + a) | 0;
  h[1] = (h[1]! + b) | 0;
  h[2] = (h[2]! + c) | 0;
  h[3] = (h[3]! + d) | 0;
  h[4] = (h[4]! + e) | 0;
}

// Scratch space for peek(): the final padding is hashed into copies, never into the live state.
const PEEK_H = new Int32Array(5);
const PEEK_BLOCK = new Uint8Array(64);

export class Sha1 {
  readonly #h = Int32Array.of(0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476, 0xc3d2e1f0 | 0);
  readonly #block = new Uint8Array(64);
  #length = 0;

  static fromState(state: Sha1State): Sha1 {
    const ok =
      state !== null &&
      typeof state === 'object' &&
      Array.isArray(state.words) &&
      state.words.length === 5 &&
      state.words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffff_ffff) &&
      Number.isSafeInteger(state.length) &&
      state.length >= 0 &&
      state.pending instanceof Uint8Array &&
      state.pending.length === state.length % 64;
    if (!ok) throw new ProtocolError('ERR_CRYPTO_STATE', 'not a SHA-1 state');
    const s = new Sha1();
    for (let i = 0; i < 5; i++) s.#h[i] = state.words[i]! | 0;
    s.#block.set(state.pending);
    s.#length = state.length;
    return s;
  }

  exportState(): Sha1State {
    this.#check();
    const h = this.#h;
    return {
      words: [h[0]! >>> 0, h[1]! >>> 0, h[2]! >>> 0, h[3]! >>> 0, h[4]! >>> 0],
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
    this.#check();
    const cp = into ?? { words: new Int32Array(5), pending: new Uint8Array(64), length: 0 };
    cp.words.set(this.#h);
    const used = this.#length % 64;
    const block = this.#block;
    const pending = cp.pending;
    for (let i = 0; i < used; i++) pending[i] = block[i]!;
    cp.length = this.#length;
    return cp;
  }

  restore(cp: Sha1Checkpoint): void {
    this.#h.set(cp.words);
    const used = cp.length % 64;
    const block = this.#block;
    const pending = cp.pending;
    for (let i = 0; i < used; i++) block[i] = pending[i]!;
    this.#length = cp.length;
  }

  get length(): number {
    return this.#length;
  }

  /** Zeroes the state (a freed circuit's digest); later use throws ERR_CRYPTO_STATE. */
  wipe(): void {
    this.#h.fill(0);
    this.#block.fill(0);
    this.#length = -1;
  }

  #check(): void {
    if (this.#length < 0) throw new ProtocolError('ERR_CRYPTO_STATE', 'SHA-1 used after wipe()');
  }

  update(data: Uint8Array): this {
    this.#check();
    const n = data.length;
    const block = this.#block;
    let used = this.#length % 64;
    let at = 0;
    this.#length += n;
    if (used > 0) {
      while (used < 64 && at < n) block[used++] = data[at++]!;
      if (used < 64) return this;
      compress(this.#h, block, 0);
    }
    for (; at + 64 <= n; at += 64) compress(this.#h, data, at);
    for (let i = 0; at < n; ) block[i++] = data[at++]!;
    return this;
  }

  #peekInto(): Int32Array {
    this.#check();
    const h = PEEK_H;
    h.set(this.#h);
    const block = PEEK_BLOCK;
    const used = this.#length % 64;
    const src = this.#block;
    for (let i = 0; i < used; i++) block[i] = src[i]!;
    block[used] = 0x80;
    block.fill(0, used + 1);
    if (used >= 56) {
      compress(h, block, 0);
      block.fill(0, 0, 56);
    }
    const bits = this.#length * 8;
    const hi = Math.floor(bits / 0x1_0000_0000);
    const lo = bits >>> 0;
    block[56] = hi >>> 24;
    block[57] = (hi >>> 16) & 0xff;
    block[58] = (hi >>> 8) & 0xff;
    block[59] = hi & 0xff;
    block[60] = lo >>> 24;
    block[61] = (lo >>> 16) & 0xff;
    block[62] = (lo >>> 8) & 0xff;
    block[63] = lo & 0xff;
    compress(h, block, 0);
    return h;
  }

  /** The 20-byte digest of everything hashed so far; the state is unchanged. */
  peek(): Buffer {
    const h = this.#peekInto();
    const out = Buffer.allocUnsafe(20);
    for (let i = 0; i < 5; i++) out.writeInt32BE(h[i]!, i * 4);
    return out;
  }

  /** The first 4 bytes of `peek()` as an unsigned integer (the relay header's Digest field). */
  peek32(): number {
    return this.#peekInto()[0]! >>> 0;
  }

  /** The SHA-1 of all input (the same as peek(): this digest is never closed). */
  digest(): Buffer {
    return this.peek();
  }
}
