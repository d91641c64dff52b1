/**
 * Onion layers of relay cells (tor-spec §5.5, §6.1; Tor's relay_crypto.c).
 *
 * Each hop shares with the client, per direction, one AES-128-CTR keystream (zero IV, running
 * for the circuit's whole life: cell k uses keystream bytes [509k, 509k+509)) and one running
 * SHA-1 seeded with Df (forward) or Db (backward). `HopCrypto` holds the four of them (Tor's
 * relay_crypto_t). A relay has one per circuit; the client (origin) has one per hop in its
 * `OriginCrypto` (Tor's cpath).
 *
 * Sending at an edge: recognized = 0 and digest = 0 are already in the plaintext body
 * (relay-cell.ts); the whole 509-byte body goes into the sender's running digest, whose first 4
 * bytes are written into the Digest field; then the body is encrypted.
 * Receiving: after a layer is removed, recognized ≠ 0 means "not for this hop". Otherwise the
 * Digest field is zeroed, the body is added to a checkpoint of the running digest, and the first
 * 4 bytes compared; on a mismatch (a chance recognized == 0, p = 2^-16) the digest state and the
 * field are rolled back and the cell is treated as not recognized.
 *
 * Live updates: `exportState()` gives a plain object (each keystream's key and byte offset, each
 * digest's words, pending block and length) and `fromState()` rebuilds objects that continue
 * byte for byte; AES-CTR is re-created at offset n with IV = ⌊n/16⌋ as a 128-bit counter,
 * discarding n mod 16 bytes. The objects can also be carried as they are (opaque handles).
 */
import { createCipheriv, type Cipher } from 'node:crypto';

import { CELL_BODY_LEN } from './cell.js';
import { ProtocolError } from './errors.js';
import type { CircuitKeys } from './ntor.js';
import { RelayHeaderOffset } from './relay-cell.js';
import { Sha1, type Sha1Checkpoint, type Sha1State } from './sha1.js';

// ---------------------------------------------------------------------------------------------
// One AES-128-CTR keystream with a known position

export interface KeystreamState {
  key: Uint8Array;
  /** Bytes of keystream used so far. */
  offset: number;
}

function counterBlock(blockNumber: number): Buffer {
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(Math.floor(blockNumber / 0x1_0000_0000) >>> 0, 8);
  iv.writeUInt32BE(blockNumber >>> 0, 12);
  return iv;
}

/** Keystream is generated ahead in pieces of up to this many bytes (16 cell bodies). */
const PREFETCH_MAX = 16 * CELL_BODY_LEN;
/** The first piece of a new or rebuilt keystream: one cell body (most circuits carry few cells). */
const PREFETCH_FIRST = CELL_BODY_LEN;
const ZEROS = Buffer.alloc(PREFETCH_MAX);
const NO_WORDS = new Int32Array(0);
const NO_BIG_WORDS = new BigUint64Array(0);

/** Keystream.chain's pieces, each with its word views (32-bit from its start, 64-bit over its whole ArrayBuffer). */
export interface KeystreamChain {
  pieces: Buffer[];
  words: Int32Array<ArrayBufferLike>[];
  bigWords: BigUint64Array<ArrayBufferLike>[];
}

/** Word-wise XOR reads the bytes of 32-bit words in memory order, which is little-endian here. */
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

// The Int32Array over the last ArrayBuffer XORed into: cells of one read (or one pool slab)
// share their ArrayBuffer, so one view serves many bodies.
let wordsOf: ArrayBufferLike | null = null;
let wordsView: Int32Array<ArrayBufferLike> = NO_WORDS;
function wordView(buffer: ArrayBufferLike): Int32Array<ArrayBufferLike> {
  if (buffer !== wordsOf) {
    wordsView = new Int32Array(buffer, 0, buffer.byteLength >>> 2);
    wordsOf = buffer;
  }
  return wordsView;
}

/**
 * data[0..n) ^= ks[from..from+n). On little-endian machines 32-bit words at a time through
 * Int32Array views: the data's words are aligned by XORing up to 3 head bytes singly, and when
 * the keystream position is not aligned the same way (a cell body is 509 bytes, so it moves by
 * one byte mod 4 per cell) each keystream word is funnelled from two aligned ones. `ks32` views
 * `ks`, which starts 4-aligned. About 2× faster than DataView reads and writes.
 */
function xorKeystream(data: Uint8Array, n: number, ks: Uint8Array, ks32: Int32Array<ArrayBufferLike>, from: number, ks64?: BigUint64Array<ArrayBufferLike>): void {
  let i = 0;
  if (ks64 !== undefined && n >= 64 && from >= 8) return xorKeystream64(data, n, ks, ks64, from);
  if (LITTLE_ENDIAN && n >= 16) {
    const base = data.byteOffset;
    const head = (4 - (base & 3)) & 3;
    for (; i < head; i++) data[i]! ^= ks[from + i]!;
    const words = (n - head) >>> 2;
    const d32 = wordView(data.buffer);
    const dw = (base + head) >>> 2;
    const p = from + head;
    const q = p >>> 2;
    const s = p & 3;
    let w = 0;
    if (s === 0) {
      for (; w < words; w++) d32[dw + w]! ^= ks32[q + w]!;
    } else {
      const limit = Math.min(words, ks32.length - q - 1);
      const r = 8 * s;
      const l = 32 - r;
      let lo = ks32[q]!;
      for (; w < limit; w++) {
        const hi = ks32[q + w + 1]!;
        d32[dw + w]! ^= (lo >>> r) | (hi << l);
        lo = hi;
      }
    }
    i = head + 4 * w;
  }
  for (; i < n; i++) data[i]! ^= ks[from + i]!;
}

// A BigUint64Array view over the last ArrayBuffer XORed into, eight bytes at a time (as wordView).
let bigOf: ArrayBufferLike | null = null;
let bigView: BigUint64Array<ArrayBufferLike> = new BigUint64Array(0);
function bigWordView(buffer: ArrayBufferLike): BigUint64Array<ArrayBufferLike> {
  if (buffer !== bigOf) {
    bigView = new BigUint64Array(buffer, 0, buffer.byteLength >>> 3);
    bigOf = buffer;
  }
  return bigView;
}

/** A BigUint64Array over the whole ArrayBuffer of a keystream piece (indices are absolute). */
function bigWordsOf(ks: Uint8Array): BigUint64Array<ArrayBufferLike> {
  return new BigUint64Array(ks.buffer, 0, ks.buffer.byteLength >>> 3);
}

function xor64(d64: BigUint64Array<ArrayBufferLike>, k64: BigUint64Array<ArrayBufferLike>, dw: number, kw: number, words: number): void {
  for (let w = 0; w < words; w++) d64[dw + w]! ^= k64[kw + w]!;
}

/**
 * xorKeystream eight bytes at a time, the keystream first moved into line with the data.
 * V8 compiles a BigUint64Array XOR loop to plain 64-bit loads and stores (about twice as fast
 * as the 32-bit loop, four times the funnelled one), but only when both sides share their
 * alignment mod 8, which a 509-byte body against a running keystream rarely does. So the `n`
 * keystream bytes at `from` are first moved back by up to 7 bytes within `ks` (one memmove):
 * the bytes they land on lie before `from`, keystream already used and never read again, since
 * a piece is consumed front to back (the caller's `from >= 8` leaves the room). `k64` views
 * all of `ks`'s ArrayBuffer. The same result, byte for byte.
 */
function xorKeystream64(data: Uint8Array, n: number, ks: Uint8Array, k64: BigUint64Array<ArrayBufferLike>, from: number): void {
  const dataOffset = data.byteOffset;
  const ksOffset = ks.byteOffset;
  const shift = (ksOffset + from - dataOffset) & 7;
  const at = from - shift;
  if (shift !== 0) ks.copyWithin(at, from, from + n);
  const head = (8 - (dataOffset & 7)) & 7;
  let i = 0;
  for (; i < head; i++) data[i]! ^= ks[at + i]!;
  const words = (n - head) >>> 3;
  xor64(bigWordView(data.buffer), k64, (dataOffset + head) >>> 3, (ksOffset + at + head) >>> 3, words);
  for (i = head + 8 * words; i < n; i++) data[i]! ^= ks[at + i]!;
}

/**
 * AES-128-CTR with a zero IV that knows how many keystream bytes it has used. The node:crypto
 * cipher is made on first use, at the current offset: creating one costs several microseconds,
 * so a live update that rebuilds every circuit's keystreams from exported state does not pay
 * that inside its pause, only when each circuit next carries a cell.
 *
 * A call into node:crypto costs about as much as encrypting a few kilobytes, so keystream is
 * generated ahead (encrypting zeros, up to 16 cell bodies at once, growing from one body as the
 * circuit carries cells) and XORed into each body here. Pieces are whole cell bodies, so a body
 * never straddles two; one that would (an odd-sized apply) gets a piece that begins with the
 * unused rest of the last. The prefetched bytes are a cache, not state: `offset` counts only
 * bytes applied, and a rebuilt keystream generates them again.
 */
export class Keystream {
  readonly #key: Buffer;
  #cipher: Cipher | null = null;
  #offset: number;
  #ks: Buffer = ZEROS.subarray(0, 0);
  #ks32: Int32Array<ArrayBufferLike> = NO_WORDS;
  #ks64: BigUint64Array<ArrayBufferLike> = NO_BIG_WORDS;
  #ksPos = 0;
  #next = PREFETCH_FIRST;
  /** Bytes the cipher produced past #offset for a chain(), not cached here. */
  #lent = 0;

  constructor(key: Uint8Array, offset = 0) {
    if (!(key instanceof Uint8Array) || key.length !== 16) {
      throw new ProtocolError('ERR_CRYPTO_STATE', 'AES-128 keys are 16 bytes');
    }
    if (!Number.isSafeInteger(offset) || offset < 0) throw new ProtocolError('ERR_CRYPTO_STATE', `keystream offset ${offset}`);
    this.#key = Buffer.from(key);
    this.#offset = offset;
  }

  static fromState(state: KeystreamState): Keystream {
    return new Keystream(state?.key, state?.offset);
  }

  exportState(): KeystreamState {
    if (this.#offset < 0) throw new ProtocolError('ERR_CRYPTO_STATE', 'keystream exported after wipe()');
    return { key: Buffer.from(this.#key), offset: this.#offset };
  }

  get offset(): number {
    return this.#offset;
  }

  #start(): Cipher {
    const cipher = createCipheriv('aes-128-ctr', this.#key, counterBlock(Math.floor(this.#offset / 16)));
    if (this.#offset % 16 !== 0) cipher.update(Buffer.alloc(this.#offset % 16));
    this.#cipher = cipher;
    return cipher;
  }

  /** Makes at least `n` keystream bytes ready in one piece at #ksPos (the cipher runs ahead of #offset by what is unused). */
  #ready(n: number): void {
    const left = this.#ks.length - this.#ksPos;
    if (left >= n) return;
    const size = Math.max(n - left, this.#next);
    this.#next = Math.min(PREFETCH_MAX, this.#next * 2);
    if (this.#lent > 0) {
      // Lent bytes left unused (a chain was dropped): continue from the offset.
      this.#cipher = null;
      this.#lent = 0;
    }
    const cipher = this.#cipher ?? this.#start();
    let ks = cipher.update(size <= PREFETCH_MAX ? ZEROS.subarray(0, size) : Buffer.alloc(size));
    if (left > 0) ks = Buffer.concat([this.#ks.subarray(this.#ksPos), ks]);
    else if ((ks.byteOffset & 3) !== 0) ks = Buffer.from(ks);
    this.#ks = ks;
    this.#ks32 = new Int32Array(ks.buffer, ks.byteOffset, ks.length >>> 2);
    this.#ks64 = bigWordsOf(ks);
    this.#ksPos = 0;
  }

  /** Zeroes the key and drops the cipher and its prefetched keystream (Tor 0.2.1.25 wiped whole session keys on free). */
  wipe(): void {
    this.#key.fill(0);
    this.#ks.fill(0);
    this.#ks = ZEROS.subarray(0, 0);
    this.#ks32 = NO_WORDS;
    this.#ks64 = NO_BIG_WORDS;
    this.#ksPos = 0;
    this.#cipher = null;
    this.#lent = 0;
    this.#offset = -1;
  }

  /**
   * The keystream byte `i` bytes ahead of the position, without using it; `span` bytes from the
   * position are made ready in one piece (so a later apply of up to `span` bytes uses them).
   */
  peekByte(i: number, span: number): number {
    if (this.#offset < 0) throw new ProtocolError('ERR_CRYPTO_STATE', 'keystream used after wipe()');
    this.#ready(Math.max(span, i + 1));
    return this.#ks[this.#ksPos + i]!;
  }

  /**
   * The next `n` keystream bytes of each stream, chained through node:crypto: piece i is the
   * XOR of the bytes of streams 0..i (AES-CTR encrypting piece i-1 adds stream i's), so the
   * client removes several layers with one JavaScript XOR. Each stream's cipher moves n bytes
   * past its offset without caching them ("lent"): `consumeLent` moves the offset over what a
   * cell used, and any other use first restarts the cipher at the offset (a cache, not state).
   */
  static chain(streams: readonly Keystream[], n: number): KeystreamChain {
    const pieces: Buffer[] = [];
    const words: Int32Array<ArrayBufferLike>[] = [];
    const bigWords: BigUint64Array<ArrayBufferLike>[] = [];
    let x = n <= PREFETCH_MAX ? ZEROS.subarray(0, n) : Buffer.alloc(n);
    for (const k of streams) {
      if (k.#offset < 0) throw new ProtocolError('ERR_CRYPTO_STATE', 'keystream used after wipe()');
      if (k.#ksPos < k.#ks.length || k.#lent > 0) k.#cipher = null; // its cipher is ahead of the offset
      k.#ks = ZEROS.subarray(0, 0);
      k.#ks32 = NO_WORDS;
      k.#ks64 = NO_BIG_WORDS;
      k.#ksPos = 0;
      x = (k.#cipher ?? k.#start()).update(x);
      if ((x.byteOffset & 3) !== 0) x = Buffer.from(x);
      k.#lent = n;
      pieces.push(x);
      words.push(new Int32Array(x.buffer, x.byteOffset, x.length >>> 2));
      bigWords.push(bigWordsOf(x));
    }
    return { pieces, words, bigWords };
  }

  /** Counts `n` lent bytes (from `chain`) as applied. */
  consumeLent(n: number): void {
    if (this.#offset < 0) throw new ProtocolError('ERR_CRYPTO_STATE', 'keystream used after wipe()');
    if (n > this.#lent) throw new ProtocolError('ERR_CRYPTO_STATE', `${n} bytes used, ${this.#lent} lent`);
    this.#lent -= n;
    this.#offset += n;
  }

  /** XORs the next `data.length` keystream bytes into `data`, in place. */
  apply(data: Uint8Array): void {
    if (this.#offset < 0) throw new ProtocolError('ERR_CRYPTO_STATE', 'keystream used after wipe()');
    const n = data.length;
    this.#ready(n);
    xorKeystream(data, n, this.#ks, this.#ks32, this.#ksPos, this.#ks64);
    this.#ksPos += n;
    this.#offset += n;
  }
}

// ---------------------------------------------------------------------------------------------
// One hop's state

export interface HopCryptoState {
  forwardCipher: KeystreamState;
  backwardCipher: KeystreamState;
  forwardDigest: Sha1State;
  backwardDigest: Sha1State;
}

export type Direction = 'forward' | 'backward';

const checkpointScratch: Sha1Checkpoint = { words: new Int32Array(5), pending: new Uint8Array(64), length: 0 };

function checkBody(body: Buffer): void {
  if (body.length !== CELL_BODY_LEN) throw new ProtocolError('ERR_CELL_TRUNCATED', `relay body of ${body.length} bytes`);
}

/** The cipher and digest state one hop shares with the client (Tor: relay_crypto_t). */
export class HopCrypto {
  readonly forwardCipher: Keystream;
  readonly backwardCipher: Keystream;
  readonly forwardDigest: Sha1;
  readonly backwardDigest: Sha1;

  private constructor(fc: Keystream, bc: Keystream, fd: Sha1, bd: Sha1) {
    this.forwardCipher = fc;
    this.backwardCipher = bc;
    this.forwardDigest = fd;
    this.backwardDigest = bd;
  }

  /** From a handshake's keys: Kf/Kb key the ciphers, Df/Db seed the digests. */
  static fromKeys(keys: CircuitKeys): HopCrypto {
    return new HopCrypto(
      new Keystream(keys.Kf),
      new Keystream(keys.Kb),
      new Sha1().update(keys.Df),
      new Sha1().update(keys.Db),
    );
  }

  static fromState(state: HopCryptoState): HopCrypto {
    if (state === null || typeof state !== 'object') throw new ProtocolError('ERR_CRYPTO_STATE', 'not a hop crypto state');
    return new HopCrypto(
      Keystream.fromState(state.forwardCipher),
      Keystream.fromState(state.backwardCipher),
      Sha1.fromState(state.forwardDigest),
      Sha1.fromState(state.backwardDigest),
    );
  }

  exportState(): HopCryptoState {
    return {
      forwardCipher: this.forwardCipher.exportState(),
      backwardCipher: this.backwardCipher.exportState(),
      forwardDigest: this.forwardDigest.exportState(),
      backwardDigest: this.backwardDigest.exportState(),
    };
  }

  #cipher(direction: Direction): Keystream {
    return direction === 'forward' ? this.forwardCipher : this.backwardCipher;
  }

  #digest(direction: Direction): Sha1 {
    return direction === 'forward' ? this.forwardDigest : this.backwardDigest;
  }

  /** Adds one layer, or removes it (CTR is its own inverse). */
  crypt(direction: Direction, body: Buffer): void {
    checkBody(body);
    this.#cipher(direction).apply(body);
  }

  /** At the sending edge: digest the plaintext body and write the Digest field (Tor: relay_set_digest). */
  setDigest(direction: Direction, body: Buffer): void {
    checkBody(body);
    body.writeUInt32BE(0, RelayHeaderOffset.DIGEST);
    const digest = this.#digest(direction);
    digest.update(body);
    body.writeUInt32BE(digest.peek32(), RelayHeaderOffset.DIGEST);
  }

  /**
   * At a receiving edge, on a body with this hop's layer removed: true when the cell is for this
   * hop (recognized == 0 and the digest matches; the running digest moved forward). Otherwise the
   * digest state and the body are left as they were (Tor: relay_digest_matches with rollback).
   */
  isRecognized(direction: Direction, body: Buffer): boolean {
    checkBody(body);
    if (body.readUInt16BE(RelayHeaderOffset.RECOGNIZED) !== 0) return false;
    const received = body.readUInt32BE(RelayHeaderOffset.DIGEST);
    const digest = this.#digest(direction);
    const saved = digest.checkpoint(checkpointScratch);
    body.writeUInt32BE(0, RelayHeaderOffset.DIGEST);
    digest.update(body);
    if (digest.peek32() === received) return true;
    digest.restore(saved);
    body.writeUInt32BE(received, RelayHeaderOffset.DIGEST);
    return false;
  }

  /** Zeroes keys and digest state when the circuit is freed; any later use is ERR_CRYPTO_STATE. */
  wipe(): void {
    this.forwardCipher.wipe();
    this.backwardCipher.wipe();
    this.forwardDigest.wipe();
    this.backwardDigest.wipe();
  }

  /** The full 20-byte running digest of one direction (what an authenticated SENDME carries). */
  runningDigest(direction: Direction): Buffer {
    return this.#digest(direction).peek();
  }
}

// ---------------------------------------------------------------------------------------------
// Relay side

/**
 * A relay receives a forward cell: removes its layer and checks whether it is the destination.
 * True: the plaintext body is for this relay. False: pass the (still layered) body to the next
 * hop. At the last hop (`hasNextHop` false) an unrecognized cell is an error that tears the
 * circuit down: ERR_RELAY_DIGEST if recognized was 0 but the digest failed, ERR_RELAY_UNRECOGNIZED
 * otherwise, both with DESTROY reason PROTOCOL.
 */
export function relayReceiveForward(hop: HopCrypto, body: Buffer, hasNextHop: boolean): boolean {
  hop.crypt('forward', body);
  if (hop.isRecognized('forward', body)) return true;
  if (hasNextHop) return false;
  const zero = body.readUInt16BE(RelayHeaderOffset.RECOGNIZED) === 0;
  throw new ProtocolError(
    zero ? 'ERR_RELAY_DIGEST' : 'ERR_RELAY_UNRECOGNIZED',
    zero ? 'relay cell digest does not match at the last hop' : 'relay cell not recognized at the last hop',
    { destroyReason: 1 },
  );
}

/**
 * A relay sends a cell toward the client: `originate` for a cell it made (sets the digest with
 * Db first), false for a cell it passes back from the next hop. Either way it adds its layer.
 */
export function relaySendBackward(hop: HopCrypto, body: Buffer, originate: boolean): void {
  if (originate) hop.setDigest('backward', body);
  hop.crypt('backward', body);
}

// ---------------------------------------------------------------------------------------------
// Origin side (the client's cpath)

export interface OriginCryptoState {
  hops: HopCryptoState[];
}

/** The client's layers for one circuit: hop 0 is the guard. */
export class OriginCrypto {
  readonly hops: HopCrypto[];
  // The hops' next backward keystream bytes chained (Keystream.chain): a cache, not state.
  #chain: KeystreamChain | null = null;
  #chainPos = 0;
  #chainNext = PREFETCH_FIRST;

  constructor(hops: HopCrypto[] = []) {
    this.hops = hops;
  }

  static fromState(state: OriginCryptoState): OriginCrypto {
    if (!Array.isArray(state?.hops)) throw new ProtocolError('ERR_CRYPTO_STATE', 'not an origin crypto state');
    return new OriginCrypto(state.hops.map((h) => HopCrypto.fromState(h)));
  }

  exportState(): OriginCryptoState {
    return { hops: this.hops.map((h) => h.exportState()) };
  }

  /** Adds the hop whose handshake just completed (CREATED2, then each EXTENDED2). */
  addHop(keys: CircuitKeys): void {
    this.hops.push(HopCrypto.fromKeys(keys));
    this.#chain = null;
  }

  /** Layers a plaintext body for hop `target` (default: the last): digest with its Df, then encrypt from it down to hop 0. */
  encryptForward(body: Buffer, target = this.hops.length - 1): void {
    const hop = this.hops[target];
    if (hop === undefined) throw new ProtocolError('ERR_RELAY_UNRECOGNIZED', `no hop ${target} on this circuit`);
    hop.setDigest('forward', body);
    for (let i = target; i >= 0; i--) this.hops[i]!.crypt('forward', body);
  }

  /**
   * Peels layers from hop 0 outward until a hop recognizes the cell and returns that hop's index;
   * the body is then plaintext. No hop recognizing it is ERR_RELAY_UNRECOGNIZED (drop the cell;
   * every hop's keystream has moved on, the digests have not).
   */
  decryptBackward(body: Buffer): number {
    checkBody(body);
    const hops = this.hops;
    let r = body.readUInt16BE(RelayHeaderOffset.RECOGNIZED);
    let peeled = 0;
    if (hops.length >= 2 && LITTLE_ENDIAN) {
      // Chained keystreams: piece i removes layers 0..i at once. The Recognized field under
      // each is read from the pieces, and the layers come off together up to the first hop
      // where it is 0 (for a DATA cell from the exit, all of them, with one XOR).
      let chain = this.#chain;
      if (chain === null || chain.pieces.length !== hops.length || this.#chainPos + CELL_BODY_LEN > chain.pieces[0]!.length) {
        const size = this.#chainNext;
        this.#chainNext = Math.min(PREFETCH_MAX, size * 2);
        chain = this.#chain = Keystream.chain(hops.map((h) => h.backwardCipher), size);
        this.#chainPos = 0;
      }
      const pos = this.#chainPos;
      let i = 0;
      for (; i < hops.length - 1; i++) {
        const piece = chain.pieces[i]!;
        if ((r ^ ((piece[pos + RelayHeaderOffset.RECOGNIZED]! << 8) | piece[pos + RelayHeaderOffset.RECOGNIZED + 1]!)) === 0) break;
      }
      xorKeystream(body, CELL_BODY_LEN, chain.pieces[i]!, chain.words[i]!, pos, chain.bigWords[i]!);
      for (let j = 0; j <= i; j++) hops[j]!.backwardCipher.consumeLent(CELL_BODY_LEN);
      if (i === hops.length - 1) this.#chainPos = pos + CELL_BODY_LEN;
      else this.#chain = null; // later hops did not see this cell: the pieces are out of step
      peeled = i + 1;
      r = body.readUInt16BE(RelayHeaderOffset.RECOGNIZED);
      if (r === 0 && hops[i]!.isRecognized('backward', body)) return i;
    }
    for (let i = peeled; i < hops.length; i++) {
      const hop = hops[i]!;
      const k = hop.backwardCipher;
      r ^= (k.peekByte(RelayHeaderOffset.RECOGNIZED, CELL_BODY_LEN) << 8) | k.peekByte(RelayHeaderOffset.RECOGNIZED + 1, CELL_BODY_LEN);
      k.apply(body);
      if (r === 0 && hop.isRecognized('backward', body)) return i;
    }
    throw new ProtocolError('ERR_RELAY_UNRECOGNIZED', 'inbound relay cell recognized by no hop');
  }
}
