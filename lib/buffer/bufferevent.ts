// BufferEvent: a libevent bufferevent (a socket, a connecting socket, or one half of a pair)
// with its input and output evbuffers. Callbacks always run from the loop, never inside the
// call that caused them (BEV_OPT_DEFER_CALLBACKS).
import { getSystemErrorName } from 'node:util';

import type { EventBase } from '../loop/base.js';
import { EV } from '../loop/constants.js';
import { checkFunction, rangeError, stateError, typeError } from '../loop/errors.js';
import { type Bytes, EvBuffer, MAKE_VIEW } from './evbuffer.js';
import { INDEX_MODULUS, native } from './native.js';

/** Bits of a bufferevent event callback's `what` (libevent's BEV_EVENT_*). */
export const BEV = Object.freeze({
  /** The event happened while reading. */
  READING: 0x01,
  /** The event happened while writing. */
  WRITING: 0x02,
  /** The peer closed its side (end of input). */
  EOF: 0x10,
  /** An error; the callback's `err` has the errno. */
  ERROR: 0x20,
  /** A read or write timeout (setTimeouts) fired. */
  TIMEOUT: 0x40,
  /** A connect finished. */
  CONNECTED: 0x80,
} as const);

/** bufferevent_flush modes. */
export const FLUSH = Object.freeze({
  /** BEV_NORMAL: move what is allowed now. */
  NORMAL: 0,
  /** BEV_FLUSH: move everything now. */
  FLUSH: 1,
  /** BEV_FINISHED: move everything, then signal EOF (pairs). */
  FINISHED: 2,
} as const);

/** A system error as Node reports them: `code` is the errno name, `errno` negative. */
export type SystemError = Error & {
  /** The errno name, e.g. 'ECONNREFUSED' ('ERR_FD_SETSIZE' when select cannot watch the fd). */
  code: string;
  /** The negative errno, as in Node. */
  errno: number;
  /** The call that failed ('bufferevent', 'connect', 'accept', …). */
  syscall: string;
};

/** The three callbacks of a bufferevent; each runs from the loop. */
export interface BufferEventCallbacks {
  /** New input is available (at least the read low watermark). */
  read?: (bev: BufferEvent) => void;
  /** The output fell to the write low watermark (0: fully flushed). */
  write?: (bev: BufferEvent) => void;
  /** CONNECTED, EOF, ERROR or TIMEOUT with READING/WRITING; `err` for ERROR. */
  event?: (bev: BufferEvent, what: number, err: SystemError | undefined) => void;
}

/** Options of base.bufferevent.pair(): the callbacks and the directions to enable. */
export interface BufferEventOptions extends BufferEventCallbacks {
  /** EV.READ / EV.WRITE to enable at once (default both, as a Node socket reads at once). */
  enable?: number;
}

/** Bytes moved per readable / writable event (sockets only). */
export interface IoSizeOptions {
  /**
   * Most bytes read per readable event (default 64 KiB, as Node reads). libevent 2.1 itself
   * stops at 4096; the binding reads on up to this in the same pass. Rate-limited bufferevents
   * keep libevent's own reads (the limit is charged there).
   */
  maxSingleRead?: number;
  /** Most bytes written per writable event (default 64 KiB; libevent's default is 16 KiB). */
  maxSingleWrite?: number;
}

/** Options of base.bufferevent(fd). */
export interface SocketOptions extends BufferEventOptions, IoSizeOptions {
  /** The bufferevent closes the fd when freed (default true); then nobody else may close it. */
  closeOnFree?: boolean;
}

/** Options of base.connect(). */
export interface ConnectOptions extends BufferEventOptions, IoSizeOptions {
  /** TCP_NODELAY (default false, as in Node). */
  noDelay?: boolean;
}

/** Options of bev.relay(). */
export interface RelayOptions {
  /** Stop reading the source when the destination's output reaches this (default 512 KiB). */
  high?: number;
  /** Resume when the destination's output drains to this (default high / 2). */
  low?: number;
  /** When one side reaches EOF, finish the other's output and shut its write side (default true). */
  endOnEof?: boolean;
  /**
   * Most bytes read per readable event while relaying, in place of maxSingleRead (default
   * 256 KiB, at least 1024; never more than would take the other output past `high`).
   */
  readSize?: number;
}

/** A token bucket (libevent's ev_token_bucket_cfg), per bufferevent or per group. */
export interface RateLimit {
  /** Bytes per tick that may be read. */
  readRate: number;
  /** The most that may be read at once (default readRate; at least readRate). */
  readBurst?: number;
  /** Bytes per tick that may be written. */
  writeRate: number;
  /** The most that may be written at once (default writeRate; at least writeRate). */
  writeBurst?: number;
  /** Tick length in ms (default 1000). */
  tickMs?: number;
}

export function rateArgs(cfg: RateLimit): [number, number, number, number, number] {
  if (typeof cfg !== 'object' || cfg === null) throw typeError('ERR_INVALID_ARG_TYPE', 'a rate limit is an object { readRate, writeRate, ... }');
  return [cfg.readRate, cfg.readBurst ?? cfg.readRate, cfg.writeRate, cfg.writeBurst ?? cfg.writeRate, cfg.tickMs ?? 1000];
}

/** Live bufferevents by native index (they stay reachable while not freed, like Node sockets). */
const live: (BufferEvent | undefined)[] = [];

/** @internal every live bufferevent of `base`. */
export function liveBufferEvents(base: EventBase): BufferEvent[] {
  return live.filter((b): b is BufferEvent => b !== undefined && b.base === base && !b.freed);
}

export function systemError(errno: number, syscall: string): SystemError {
  const code = errno === -1 ? 'ERR_FD_SETSIZE' : errno > 0 ? getSystemErrorName(-errno) : 'UNKNOWN';
  const err = new Error(`${syscall}: ${code}`) as SystemError;
  err.code = code;
  err.errno = -errno;
  err.syscall = syscall;
  return err;
}

/** Only the factories make bufferevents. */
export const MAKE_BEV: unique symbol = Symbol('node-libevent:bufferevent');

/**
 * A libevent bufferevent: a socket (or one half of an in-process pair) with an input and an
 * output {@link EvBuffer}. Made by base.bufferevent(fd), base.bufferevent.pair(), base.connect()
 * and base.listen(). Callbacks run from the loop, never inside the call that caused them.
 * After free() every method throws ERR_BUFFEREVENT_FREED, and ERR_BASE_FREED once its base is freed.
 *
 * @example
 * ```ts
 * import { BEV, EventBase } from 'node-libevent';
 *
 * const base = new EventBase();
 * const [a, b] = base.bufferevent.pair();
 * b.setCallbacks({ read: (bev) => { console.log(String(bev.input.remove(bev.input.length))); a.end(); },
 *                  event: (bev, what) => { if (what & BEV.EOF) { a.free(); bev.free(); } } });
 * a.write('hello');
 * base.dispatch(); // prints hello
 * ```
 */
export class BufferEvent implements Disposable {
  /** The base it belongs to. */
  readonly base: EventBase;
  #handle: number;
  #freed = false;
  #input: EvBuffer | undefined;
  #output: EvBuffer | undefined;
  #read: BufferEventCallbacks['read'];
  #write: BufferEventCallbacks['write'];
  #event: BufferEventCallbacks['event'];
  #relayPeer: BufferEvent | undefined;

  /** @internal use base.bufferevent(), base.bufferevent.pair(), base.connect() or base.listen() */
  constructor(token: typeof MAKE_BEV, base: EventBase, handle: number) {
    if (token !== MAKE_BEV) throw typeError('ERR_ILLEGAL_CONSTRUCTOR', 'use base.bufferevent(), base.connect() or base.listen()');
    this.base = base;
    this.#handle = handle;
    live[handle % INDEX_MODULUS] = this;
  }

  /** @internal */
  get _handle(): number {
    return this.#handle;
  }

  /** The input: bytes read and not yet consumed. */
  get input(): EvBuffer {
    this.#check();
    if (!this.#input) this.#views();
    return this.#input!;
  }

  /** The output: bytes written and not yet sent. */
  get output(): EvBuffer {
    this.#check();
    if (!this.#output) this.#views();
    return this.#output!;
  }

  #views(): void {
    const [i, o] = native.bevBuffers(this.#handle);
    this.#input = new EvBuffer(MAKE_VIEW, i, this);
    this.#output = new EvBuffer(MAKE_VIEW, o, this);
  }

  /** The socket (-1 for a pair, or before a connect has made one). */
  get fd(): number {
    this.#check();
    return native.bevInfo(this.#handle)[0];
  }

  /** The three callbacks, as last set. */
  get callbacks(): Readonly<BufferEventCallbacks> {
    return { read: this.#read, write: this.#write, event: this.#event };
  }

  /**
   * Sets all three callbacks at once (bufferevent_setcb): one left out is removed. Allowed at
   * any time, also from inside a callback; the next callback already runs the new one.
   *
   * @param cbs - `read`, `write`, `event`
   * @returns this bufferevent
   * @throws TypeError ERR_INVALID_ARG_TYPE; Error ERR_BUFFEREVENT_FREED, ERR_BASE_FREED
   */
  setCallbacks(cbs: BufferEventCallbacks): this {
    this.#check();
    if (typeof cbs !== 'object' || cbs === null) throw typeError('ERR_INVALID_ARG_TYPE', 'callbacks must be an object { read, write, event }');
    const { read, write, event } = cbs;
    if (read !== undefined) checkFunction(read, 'read');
    if (write !== undefined) checkFunction(write, 'write');
    if (event !== undefined) checkFunction(event, 'event');
    native.bevSetWants(this.#handle, (read ? 1 : 0) | (write ? 2 : 0) | (event ? 4 : 0));
    this.#read = read;
    this.#write = write;
    this.#event = event;
    return this;
  }

  /** @internal the update host rebinds to the new version's functions (already checked). */
  _rebind(cbs: BufferEventCallbacks): void {
    this.#read = cbs.read;
    this.#write = cbs.write;
    this.#event = cbs.event;
  }

  /**
   * Turns on reading and/or writing.
   *
   * @param events - EV.READ and/or EV.WRITE
   * @returns this bufferevent
   * @throws RangeError ERR_INVALID_EVENTS; Error ERR_LIBEVENT, ERR_BUFFEREVENT_FREED, ERR_BASE_FREED
   */
  enable(events: number): this {
    this.#check();
    native.bevEnable(this.#handle, events);
    return this;
  }

  /**
   * Turns off reading and/or writing (bytes already buffered stay).
   *
   * @param events - EV.READ and/or EV.WRITE
   * @returns this bufferevent
   * @throws RangeError ERR_INVALID_EVENTS; Error ERR_BUFFEREVENT_FREED, ERR_BASE_FREED
   */
  disable(events: number): this {
    this.#check();
    native.bevDisable(this.#handle, events);
    return this;
  }

  /** The directions asked for (EV.READ | EV.WRITE); EOF or an error turns its own one off. */
  get enabled(): number {
    this.#check();
    return native.bevEnabled(this.#handle);
  }

  /** Stops reading (and read callbacks) until resume(); the kernel buffers meanwhile. */
  pause(): this {
    this.#check();
    native.bevPause(this.#handle);
    return this;
  }

  /** Reads again; input that piled up is delivered by one read callback. */
  resume(): this {
    this.#check();
    native.bevResume(this.#handle);
    return this;
  }

  /** True between pause() and resume(). */
  get paused(): boolean {
    this.#check();
    return native.bevPaused(this.#handle);
  }

  /**
   * Watermarks for EV.READ and/or EV.WRITE. Read: callbacks wait for `low` bytes, reading
   * stops at `high` until the input is drained below it. Write: the write callback runs when the
   * output falls to `low`; write() returns false at `high` (0: 16 KiB, Node's default).
   *
   * @param events - EV.READ and/or EV.WRITE
   * @param low - the low mark in bytes
   * @param high - the high mark in bytes (0: none for reading, 16 KiB for writing)
   * @returns this bufferevent
   * @throws RangeError ERR_INVALID_EVENTS, ERR_OUT_OF_RANGE (high below low); Error ERR_BUFFEREVENT_FREED, ERR_BASE_FREED
   */
  setWatermark(events: number, low: number, high = 0): this {
    this.#check();
    native.bevSetWatermark(this.#handle, events, low, high);
    return this;
  }

  /**
   * The watermarks of one direction.
   *
   * @param events - exactly one of EV.READ or EV.WRITE
   * @returns `low` and `high` in bytes
   * @throws RangeError ERR_INVALID_EVENTS; Error ERR_BUFFEREVENT_FREED, ERR_BASE_FREED
   */
  getWatermark(events: number): {
    /** The low mark in bytes. */
    low: number;
    /** The high mark in bytes (0: none). */
    high: number;
  } {
    this.#check();
    const [low, high] = native.bevGetWatermark(this.#handle, events);
    return { low, high };
  }

  /**
   * libevent's per-direction timeouts in ms (0 or undefined: none). When one fires, that
   * direction is disabled and the event callback gets TIMEOUT with READING or WRITING.
   *
   * @param readMs - the read timeout
   * @param writeMs - the write timeout
   * @returns this bufferevent
   * @throws RangeError ERR_OUT_OF_RANGE; Error ERR_BUFFEREVENT_FREED, ERR_BASE_FREED
   */
  setTimeouts(readMs?: number, writeMs?: number): this {
    this.#check();
    native.bevSetTimeouts(this.#handle, readMs, writeMs);
    return this;
  }

  /**
   * Bytes per readable / writable event (libevent's bufferevent_set_max_single_read/write,
   * plus the binding's reading on past libevent 2.1's 4096-byte reads). Sockets only; at least
   * 1024 each; 0 or absent keeps that one.
   *
   * @param sizes - `maxSingleRead` and/or `maxSingleWrite` in bytes
   * @returns this bufferevent
   * @throws RangeError ERR_OUT_OF_RANGE; Error ERR_INVALID_ARG_VALUE (a pair), ERR_BUFFEREVENT_FREED, ERR_BASE_FREED; TypeError ERR_INVALID_ARG_TYPE
   */
  setMaxSingle(sizes: IoSizeOptions): this {
    this.#check();
    if (typeof sizes !== 'object' || sizes === null) throw typeError('ERR_INVALID_ARG_TYPE', 'setMaxSingle takes { maxSingleRead, maxSingleWrite }');
    native.bevSetMaxIo(this.#handle, sizes.maxSingleRead ?? 0, sizes.maxSingleWrite ?? 0);
    return this;
  }

  /** Most bytes read per readable event (see setMaxSingle). */
  get maxSingleRead(): number {
    this.#check();
    return native.bevGetMaxIo(this.#handle)[0];
  }

  /** Most bytes written per writable event (see setMaxSingle). */
  get maxSingleWrite(): number {
    this.#check();
    return native.bevGetMaxIo(this.#handle)[1];
  }

  /** The timeouts libevent holds, in ms (0: none). */
  get timeouts(): {
    /** Read timeout in ms (0: none). */
    readMs: number;
    /** Write timeout in ms (0: none). */
    writeMs: number;
  } {
    this.#check();
    const [readMs, writeMs] = native.bevGetTimeouts(this.#handle);
    return { readMs, writeMs };
  }

  /** The rate limit libevent applies to this bufferevent (not a group's), or null. */
  get rateLimit(): Required<RateLimit> | null {
    this.#check();
    const v = native.bevGetRateLimit(this.#handle);
    return v && { readRate: v[0], readBurst: v[1], writeRate: v[2], writeBurst: v[3], tickMs: v[4] };
  }

  /**
   * Queues a copy of `data` on the output.
   *
   * @param data - a string (UTF-8), Uint8Array or Buffer
   * @returns false when the output reached the write high mark: wait for the write callback
   * @throws Error ERR_STREAM_WRITE_AFTER_END, ERR_LIBEVENT, ERR_BUFFEREVENT_FREED, ERR_BASE_FREED; TypeError ERR_INVALID_ARG_TYPE
   */
  write(data: Bytes): boolean {
    this.#check();
    return native.bevWrite(this.#handle, data);
  }

  /**
   * Moves an evbuffer's bytes to the output without copying (it ends empty).
   *
   * @param buf - a standalone evbuffer, or another bufferevent's input
   * @returns as write()
   * @throws Error ERR_STREAM_WRITE_AFTER_END, ERR_EVBUFFER_FROZEN (a bufferevent's output),
   *   ERR_INVALID_HANDLE (its own output), ERR_EVBUFFER_FREED, ERR_BUFFEREVENT_FREED, ERR_BASE_FREED; TypeError ERR_INVALID_ARG_TYPE
   */
  writeBuffer(buf: EvBuffer): boolean {
    this.#check();
    if (!(buf instanceof EvBuffer)) throw typeError('ERR_INVALID_ARG_TYPE', 'writeBuffer takes an EvBuffer');
    return native.bevWriteBuffer(this.#handle, buf._handle);
  }

  /**
   * bufferevent_flush (sockets: a no-op; pairs: move now, FINISHED also sends EOF).
   *
   * @param events - EV.READ and/or EV.WRITE (default EV.WRITE)
   * @param mode - a {@link FLUSH} mode (default FLUSH.FLUSH)
   * @returns bytes moved, or 0
   * @throws RangeError ERR_INVALID_EVENTS, ERR_OUT_OF_RANGE; Error ERR_LIBEVENT, ERR_BUFFEREVENT_FREED, ERR_BASE_FREED
   */
  flush(events: number = EV.WRITE, mode: number = FLUSH.FLUSH): number {
    this.#check();
    return native.bevFlush(this.#handle, events, mode);
  }

  /**
   * Writes `data` if given, then shuts the write side once the output is sent. Later writes throw.
   *
   * @param data - last bytes to send
   * @throws as write()
   */
  end(data?: Bytes): void {
    this.#check();
    if (data !== undefined) this.write(data);
    native.bevEnd(this.#handle);
  }

  /** Bytes the native relay moved out of this bufferevent's input. */
  get bytesRelayed(): number {
    this.#check();
    return native.bevInfo(this.#handle)[3];
  }

  /**
   * Joins this bufferevent and `other` natively in both directions (libevent's le-proxy shape):
   * each input is moved to the other's output without a copy or a JS call; reading stops while
   * the other output is above `high` and resumes at `low`. Only event callbacks reach JS.
   * While an output is empty, the bytes go straight to its socket (as write() does).
   *
   * @param other - another bufferevent of the same base
   * @param options - `high`, `low`, `readSize` (bytes), `endOnEof`
   * @returns this bufferevent
   * @throws Error ERR_RELAY_BUSY, ERR_INVALID_ARG_VALUE (itself, another base, or a pair's own partner: the bytes would come straight back), ERR_BUFFEREVENT_FREED, ERR_BASE_FREED;
   *   RangeError ERR_OUT_OF_RANGE; TypeError ERR_INVALID_ARG_TYPE
   */
  relay(other: BufferEvent, options: RelayOptions = {}): this {
    this.#check();
    if (!(other instanceof BufferEvent)) throw typeError('ERR_INVALID_ARG_TYPE', 'relay takes a BufferEvent');
    other.#check();
    const high = options.high ?? 512 * 1024;
    const low = options.low ?? Math.floor(high / 2);
    const endOnEof = options.endOnEof ?? true;
    const readSize = options.readSize ?? 256 * 1024;
    if (typeof endOnEof !== 'boolean') throw typeError('ERR_INVALID_ARG_TYPE', 'endOnEof must be a boolean');
    native.bevRelay(this.#handle, other.#handle, high, low, endOnEof, readSize);
    try {
      native.bevRelay(other.#handle, this.#handle, high, low, endOnEof, readSize);
    } catch (err) {
      native.bevUnrelay(this.#handle);
      throw err;
    }
    this.#relayPeer = other;
    other.#relayPeer = this;
    return this;
  }

  /**
   * Stops the relay in both directions; bytes already moved stay in the outputs.
   *
   * @returns this bufferevent
   * @throws Error ERR_BUFFEREVENT_FREED, ERR_BASE_FREED
   */
  unrelay(): this {
    this.#check();
    const peer = this.#relayPeer;
    native.bevUnrelay(this.#handle);
    if (peer && !peer.freed) native.bevUnrelay(peer.#handle);
    this.#relayPeer = undefined;
    if (peer) peer.#relayPeer = undefined;
    return this;
  }

  /** The other side of the relay, if any. */
  get relayPeer(): BufferEvent | undefined {
    return this.#relayPeer;
  }

  /**
   * A token-bucket limit for this bufferevent (sockets only), or null to remove it.
   *
   * @param cfg - the rates, bursts and tick, or null
   * @returns this bufferevent
   * @throws Error ERR_INVALID_ARG_VALUE (a pair), ERR_LIBEVENT, ERR_BUFFEREVENT_FREED, ERR_BASE_FREED; RangeError ERR_OUT_OF_RANGE;
   *   TypeError ERR_INVALID_ARG_TYPE
   */
  setRateLimit(cfg: RateLimit | null): this {
    this.#check();
    if (cfg === null) native.bevSetRateLimit(this.#handle);
    else native.bevSetRateLimit(this.#handle, ...rateArgs(cfg));
    return this;
  }

  /** True after free(), or once the base was freed. */
  get freed(): boolean {
    return this.#freed || this.base.freed;
  }

  /**
   * Frees it: no callback runs after this, pending output is dropped, a closeOnFree socket is
   * closed on the loop's next pass. Safe inside its own callbacks. Later calls throw
   * ERR_BUFFEREVENT_FREED.
   *
   * @throws Error ERR_BUFFEREVENT_FREED, ERR_BASE_FREED (freed already)
   */
  free(): void {
    this.#check();
    native.bevFree(this.#handle);
    this.#forget();
  }

  /** free() unless already freed. */
  [Symbol.dispose](): void {
    if (!this.freed) this.free();
  }

  #forget(): void {
    this.#freed = true;
    const i = this.#handle % INDEX_MODULUS;
    if (live[i] === this) live[i] = undefined;
    if (this.#relayPeer) this.#relayPeer.#relayPeer = undefined;
    this.#relayPeer = undefined;
  }

  /** @internal for views */
  _checkLive(): void {
    this.#check();
  }

  /** @internal called by the dispatcher */
  _fire(kind: number, what: number, errno: number): void {
    if (kind === 0) this.#read?.(this);
    else if (kind === 1) this.#write?.(this);
    else this.#event?.(this, what, what & BEV.ERROR ? systemError(errno, 'bufferevent') : undefined);
  }

  #check(): void {
    if (this.base.freed) throw stateError('ERR_BASE_FREED', "the bufferevent's base has been freed");
    if (this.#freed) throw stateError('ERR_BUFFEREVENT_FREED', 'the bufferevent has been freed');
  }
}

/** @internal the dispatcher's lookup */
export function bufferEventOf(handle: number): BufferEvent | undefined {
  const b = live[handle % INDEX_MODULUS];
  return b !== undefined && b._handle === handle ? b : undefined;
}

export function checkEnable(v: number | undefined): number {
  const e = v ?? EV.READ | EV.WRITE;
  if (typeof e !== 'number' || e & ~(EV.READ | EV.WRITE)) throw rangeError('ERR_INVALID_EVENTS', 'enable takes EV.READ and/or EV.WRITE');
  return e;
}
