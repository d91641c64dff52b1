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

export class EvBuffer {
  #handle: number;
  #owner: BufferOwner | undefined;
  #freed = false;

  /** A standalone evbuffer (freed by free(), or when collected). */
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

  /** Bytes stored. */
  get length(): number {
    this.#check();
    return native.evbufLength(this.#handle);
  }

  /** Appends a copy of `data` (a string as UTF-8). Not allowed on a bufferevent's input. */
  add(data: Bytes): this {
    this.#check();
    native.evbufAdd(this.#handle, data);
    return this;
  }

  /** Puts a copy of `data` in front. Not allowed on a bufferevent's output. */
  prepend(data: Bytes): this {
    this.#check();
    native.evbufPrepend(this.#handle, data);
    return this;
  }

  /** Moves every byte of `other` to the end of this buffer without copying; `other` ends empty. */
  addBuffer(other: EvBuffer): this {
    this.#check();
    if (!(other instanceof EvBuffer)) throw typeError('ERR_INVALID_ARG_TYPE', 'addBuffer takes an EvBuffer');
    native.evbufAddBuffer(this.#handle, other._handle);
    return this;
  }

  /** Discards up to `n` bytes from the front; returns how many went. */
  drain(n: number): number {
    this.#check();
    return native.evbufDrain(this.#handle, n);
  }

  /** Takes up to `n` bytes from the front as a new Buffer. */
  remove(n: number): Buffer {
    this.#check();
    return native.evbufRemove(this.#handle, n);
  }

  /** A copy of up to `n` bytes starting at `from` (default 0), leaving the buffer unchanged. */
  copyout(n: number, from?: number): Buffer {
    this.#check();
    return native.evbufCopyout(this.#handle, n, from);
  }

  /** Same as copyout: look at bytes without consuming them. */
  peek(n: number, from?: number): Buffer {
    return this.copyout(n, from);
  }

  /**
   * Makes the first `n` bytes (default: all) contiguous in libevent's memory and returns a copy
   * of them, or null when fewer than `n` are stored.
   */
  pullup(n?: number): Buffer | null {
    this.#check();
    return native.evbufPullup(this.#handle, n);
  }

  /** Fills `target` from the front, consuming what it copies; returns the byte count. No allocation. */
  removeInto(target: Uint8Array): number {
    this.#check();
    return native.evbufRemoveInto(this.#handle, target);
  }

  /** Fills `target` from the front without consuming; returns the byte count. No allocation. */
  copyoutInto(target: Uint8Array): number {
    this.#check();
    return native.evbufCopyoutInto(this.#handle, target);
  }

  /** Takes one line (without its end of line) as a UTF-8 string, or null if none is complete. */
  readln(eol: number = EOL.CRLF): string | null {
    this.#check();
    return native.evbufReadln(this.#handle, eol);
  }

  /** Offset of the first occurrence of `what` at or after `from`, or -1. */
  search(what: Bytes, from?: number): number {
    this.#check();
    return native.evbufSearch(this.#handle, what, from);
  }

  /** True once freed (a view: once its bufferevent or base was freed). */
  get freed(): boolean {
    return this.#freed || (this.#owner?.freed ?? false);
  }

  /** Frees a standalone evbuffer; a bufferevent's buffers go with the bufferevent. */
  free(): void {
    this.#check();
    if (this.#owner) throw stateError('ERR_INVALID_ARG_VALUE', "a bufferevent's input or output is freed with the bufferevent");
    native.evbufFree(this.#handle);
    standaloneRegistry.unregister(this);
    this.#freed = true;
  }

  [Symbol.dispose](): void {
    if (!this.#owner && !this.#freed) this.free();
  }

  #check(): void {
    if (this.#owner) this.#owner._checkLive();
    else if (this.#freed) throw stateError('ERR_EVBUFFER_FREED', 'the evbuffer has been freed');
  }
}
