// EvBuffer: libevent's chained byte buffer, standalone or as a bufferevent's input/output.
import { stateError, typeError } from '../loop/errors.js';
import { native } from './native.js';

/** evbuffer_readln end-of-line styles. */
export const EOL = Object.freeze({
  /** Any run of CR and LF characters. */
  ANY: 0,
  /** LF, optionally preceded by CR (what text protocols want). */
  CRLF: 1,
  /** Exactly CR LF. */
  CRLF_STRICT: 2,
  /** A bare LF. */
  LF: 3,
  /** A NUL byte. */
  NUL: 4,
} as const);

/** Bytes accepted by add/prepend/write: a string is written as UTF-8. */
export type Bytes = Uint8Array | string;

/** What a view's owner must tell: whether it (or its base) is gone. */
export interface BufferOwner {
  readonly freed: boolean;
  /** @internal */
  _checkLive(): void;
}

const standaloneRegistry = new FinalizationRegistry<number>((handle) => {
  try {
    native.evbufFree(handle);
  } catch {
    // already gone with its environment
  }
});

/** Only BufferEvent makes views of its buffers. */
export const MAKE_VIEW: unique symbol = Symbol('node-libevent:evbuffer-view');

/**
 * libevent's chained byte buffer: standalone (`new EvBuffer()`) or a bufferevent's `input` /
 * `output`. Moving bytes between evbuffers (addBuffer, bev.writeBuffer) relinks chains without
 * copying. A bufferevent's input takes no appends and its output no drains (ERR_EVBUFFER_FROZEN).
 *
 * @example
 * ```ts
 * import { EOL, EvBuffer } from 'node-libevent';
 *
 * const buf = new EvBuffer();
 * buf.add('GET / HTTP/1.0\r\nHost: x\r\n\r\n');
 * console.log(buf.readln(EOL.CRLF)); // GET / HTTP/1.0
 * console.log(buf.search('\r\n\r\n')); // 7
 * buf.free();
 * ```
 */
export class EvBuffer {
  #handle: number;
  #owner: BufferOwner | undefined;
  #freed = false;

  /**
   * A standalone evbuffer (freed by free(), or when collected).
   *
   * @throws Error ERR_LIBEVENT; TypeError ERR_ILLEGAL_CONSTRUCTOR (given arguments)
   */
  constructor();
  /** @internal a bufferevent's input or output */
  constructor(token: typeof MAKE_VIEW, handle: number, owner: BufferOwner);
  constructor(token?: typeof MAKE_VIEW, handle?: number, owner?: BufferOwner) {
    if (token === undefined) {
      this.#handle = native.evbufNew();
      standaloneRegistry.register(this, this.#handle, this);
    } else {
      if (token !== MAKE_VIEW) throw typeError('ERR_ILLEGAL_CONSTRUCTOR', 'new EvBuffer() takes no arguments');
      this.#handle = handle!;
      this.#owner = owner;
    }
  }

  /** @internal */
  get _handle(): number {
    this.#check();
    return this.#handle;
  }

  /** Bytes stored (throws the freed errors of the other calls). */
  get length(): number {
    this.#check();
    return native.evbufLength(this.#handle);
  }

  /**
   * Appends a copy of `data`. Not allowed on a bufferevent's input.
   *
   * @param data - bytes, or a string written as UTF-8
   * @returns this buffer
   * @throws Error ERR_EVBUFFER_FROZEN, ERR_LIBEVENT, ERR_EVBUFFER_FREED (or, for a bufferevent's buffers, ERR_BUFFEREVENT_FREED, ERR_BASE_FREED); TypeError ERR_INVALID_ARG_TYPE
   */
  add(data: Bytes): this {
    this.#check();
    native.evbufAdd(this.#handle, data);
    return this;
  }

  /**
   * Puts a copy of `data` in front. Not allowed on a bufferevent's output.
   *
   * @param data - bytes, or a string written as UTF-8
   * @returns this buffer
   * @throws Error ERR_EVBUFFER_FROZEN, ERR_LIBEVENT, ERR_EVBUFFER_FREED (or, for a bufferevent's buffers, ERR_BUFFEREVENT_FREED, ERR_BASE_FREED); TypeError ERR_INVALID_ARG_TYPE
   */
  prepend(data: Bytes): this {
    this.#check();
    native.evbufPrepend(this.#handle, data);
    return this;
  }

  /**
   * Moves every byte of `other` to the end of this buffer without copying; `other` ends empty.
   *
   * @param other - another evbuffer (not a bufferevent's output, not this one)
   * @returns this buffer
   * @throws Error ERR_EVBUFFER_FROZEN, ERR_INVALID_ARG_VALUE (itself), ERR_EVBUFFER_FREED (or, for a bufferevent's buffers, ERR_BUFFEREVENT_FREED, ERR_BASE_FREED); TypeError ERR_INVALID_ARG_TYPE
   */
  addBuffer(other: EvBuffer): this {
    this.#check();
    if (!(other instanceof EvBuffer)) throw typeError('ERR_INVALID_ARG_TYPE', 'addBuffer takes an EvBuffer');
    native.evbufAddBuffer(this.#handle, other._handle);
    return this;
  }

  /**
   * Discards up to `n` bytes from the front.
   *
   * @param n - how many bytes at most
   * @returns how many went
   * @throws Error ERR_EVBUFFER_FROZEN (a bufferevent's output), ERR_EVBUFFER_FREED (or, for a bufferevent's buffers, ERR_BUFFEREVENT_FREED, ERR_BASE_FREED); RangeError ERR_OUT_OF_RANGE
   */
  drain(n: number): number {
    this.#check();
    return native.evbufDrain(this.#handle, n);
  }

  /**
   * Takes up to `n` bytes from the front.
   *
   * @param n - how many bytes at most
   * @returns a new Buffer with them
   * @throws as drain()
   */
  remove(n: number): Buffer {
    this.#check();
    return native.evbufRemove(this.#handle, n);
  }

  /**
   * A copy of up to `n` bytes starting at `from`, leaving the buffer unchanged.
   *
   * @param n - how many bytes at most
   * @param from - offset of the first byte (default 0)
   * @returns a new Buffer
   * @throws RangeError ERR_OUT_OF_RANGE; Error ERR_EVBUFFER_FREED (or, for a bufferevent's buffers, ERR_BUFFEREVENT_FREED, ERR_BASE_FREED)
   */
  copyout(n: number, from?: number): Buffer {
    this.#check();
    return native.evbufCopyout(this.#handle, n, from);
  }

  /**
   * Same as copyout: look at bytes without consuming them.
   *
   * @param n - how many bytes at most
   * @param from - offset of the first byte (default 0)
   * @returns a new Buffer
   * @throws as copyout()
   */
  peek(n: number, from?: number): Buffer {
    return this.copyout(n, from);
  }

  /**
   * Makes the first `n` bytes (default: all) contiguous in libevent's memory and returns a copy
   * of them, or null when fewer than `n` are stored.
   *
   * @param n - how many bytes (default: all)
   * @returns a copy, or null
   * @throws RangeError ERR_OUT_OF_RANGE; Error ERR_EVBUFFER_FREED (or, for a bufferevent's buffers, ERR_BUFFEREVENT_FREED, ERR_BASE_FREED)
   */
  pullup(n?: number): Buffer | null {
    this.#check();
    return native.evbufPullup(this.#handle, n);
  }

  /**
   * Fills `target` from the front, consuming what it copies. No allocation.
   *
   * @param target - where the bytes go
   * @returns the byte count
   * @throws Error ERR_EVBUFFER_FROZEN, ERR_EVBUFFER_FREED (or, for a bufferevent's buffers, ERR_BUFFEREVENT_FREED, ERR_BASE_FREED); TypeError ERR_INVALID_ARG_TYPE
   */
  removeInto(target: Uint8Array): number {
    this.#check();
    return native.evbufRemoveInto(this.#handle, target);
  }

  /**
   * Fills `target` from the front without consuming. No allocation.
   *
   * @param target - where the bytes go
   * @returns the byte count
   * @throws Error ERR_EVBUFFER_FREED (or, for a bufferevent's buffers, ERR_BUFFEREVENT_FREED, ERR_BASE_FREED); TypeError ERR_INVALID_ARG_TYPE
   */
  copyoutInto(target: Uint8Array): number {
    this.#check();
    return native.evbufCopyoutInto(this.#handle, target);
  }

  /**
   * Takes one line (without its end of line) as a UTF-8 string.
   *
   * @param eol - an {@link EOL} style (default EOL.CRLF)
   * @returns the line, or null if none is complete
   * @throws Error ERR_EVBUFFER_FROZEN, ERR_EVBUFFER_FREED (or, for a bufferevent's buffers, ERR_BUFFEREVENT_FREED, ERR_BASE_FREED); RangeError ERR_OUT_OF_RANGE
   */
  readln(eol: number = EOL.CRLF): string | null {
    this.#check();
    return native.evbufReadln(this.#handle, eol);
  }

  /**
   * Finds bytes.
   *
   * @param what - bytes, or a string as UTF-8
   * @param from - where to start (default 0)
   * @returns the offset of the first occurrence at or after `from`, or -1
   * @throws RangeError ERR_OUT_OF_RANGE; Error ERR_EVBUFFER_FREED (or, for a bufferevent's buffers, ERR_BUFFEREVENT_FREED, ERR_BASE_FREED); TypeError ERR_INVALID_ARG_TYPE
   */
  search(what: Bytes, from?: number): number {
    this.#check();
    return native.evbufSearch(this.#handle, what, from);
  }

  /** True once freed (a view: once its bufferevent or base was freed). */
  get freed(): boolean {
    return this.#freed || (this.#owner?.freed ?? false);
  }

  /**
   * Frees a standalone evbuffer; a bufferevent's buffers go with the bufferevent.
   *
   * @throws Error ERR_INVALID_ARG_VALUE (a bufferevent's buffer), ERR_EVBUFFER_FREED (or, for a bufferevent's buffers, ERR_BUFFEREVENT_FREED, ERR_BASE_FREED)
   */
  free(): void {
    this.#check();
    if (this.#owner) throw stateError('ERR_INVALID_ARG_VALUE', "a bufferevent's input or output is freed with the bufferevent");
    native.evbufFree(this.#handle);
    standaloneRegistry.unregister(this);
    this.#freed = true;
  }

  /** free() for a standalone evbuffer not yet freed; nothing for a bufferevent's buffers. */
  [Symbol.dispose](): void {
    if (!this.#owner && !this.#freed) this.free();
  }

  #check(): void {
    if (this.#owner) this.#owner._checkLive();
    else if (this.#freed) throw stateError('ERR_EVBUFFER_FREED', 'the evbuffer has been freed');
  }
}
