// Listener: a listening TCP socket served by libevent's evconnlistener. Each accepted socket
// arrives as a BufferEvent that owns it (reading and writing enabled), or as a bare fd (raw).
import type { EventBase } from '../loop/base.js';
import { checkFunction, stateError, typeError } from '../loop/errors.js';
import { BufferEvent, MAKE_BEV, type SystemError, systemError } from './bufferevent.js';
import { INDEX_MODULUS, native } from './native.js';

/** Options of base.listen(). */
export interface ListenOptions {
  /** Numeric IPv4/IPv6 address or 'localhost' (default '0.0.0.0', every interface, as Node). */
  host?: string;
  /** 0 (default) picks a free port; see listener.port. */
  port?: number;
  /** listen() backlog (default 511, as Node). */
  backlog?: number;
  /** SO_REUSEADDR (default true, as Node). */
  reuseAddr?: boolean;
  /** SO_REUSEPORT (default false). */
  reusePort?: boolean;
  /** TCP_NODELAY on accepted sockets (default false, as Node). */
  noDelay?: boolean;
  /** After EMFILE/ENFILE the listener pauses this long before accepting again (default 100 ms). */
  retryMs?: number;
  /** Start accepting at once (default true). */
  enabled?: boolean;
  /** Called for accept errors (EMFILE, ENFILE, ...), after the listener paused itself. */
  error?: (err: SystemError, listener: Listener) => void;
}

/** Gets each accepted connection as a bufferevent that owns its socket (reading and writing enabled). */
export type AcceptCallback = (bev: BufferEvent, listener: Listener) => void;
/** Gets each accepted socket as a bare non-blocking fd; the callback owns and closes it. */
export type RawAcceptCallback = (fd: number, listener: Listener) => void;

const live: (Listener | undefined)[] = [];

/** @internal every live listener of `base`. */
export function liveListeners(base: EventBase): Listener[] {
  return live.filter((l): l is Listener => l !== undefined && l.base === base && !l.freed);
}

export const MAKE_LISTENER: unique symbol = Symbol('node-libevent:listener');

/**
 * A listening TCP socket served by libevent's evconnlistener, made by base.listen(). After
 * EMFILE/ENFILE it reports the error and pauses for `retryMs` instead of spinning. After free()
 * its calls throw ERR_LISTENER_FREED (ERR_BASE_FREED once the base is freed).
 *
 * @example
 * ```ts
 * import { BEV, EventBase } from 'node-libevent';
 *
 * const base = new EventBase();
 * const server = base.listen({ host: '127.0.0.1', port: 0 }, (conn) => {
 *   conn.setCallbacks({ read: (c) => c.writeBuffer(c.input), event: (c, what) => { if (what & (BEV.EOF | BEV.ERROR)) c.free(); } });
 * });
 * console.log(`echo on port ${server.port}`);
 * ```
 */
export class Listener implements Disposable {
  /** The base it belongs to. */
  readonly base: EventBase;
  /** The port really bound (useful with port 0). */
  readonly port: number;
  /** The listening socket (the listener closes it when freed). */
  readonly fd: number;
  /** True when accepted sockets arrive as bare fds (`listen({ raw: true }, …)`). */
  readonly raw: boolean;
  #handle: number;
  #freed = false;
  #accept: AcceptCallback | RawAcceptCallback;
  #error: ListenOptions['error'];

  /** @internal use base.listen() */
  constructor(token: typeof MAKE_LISTENER, base: EventBase, handle: number, raw: boolean, accept: AcceptCallback | RawAcceptCallback, error: ListenOptions['error']) {
    if (token !== MAKE_LISTENER) throw typeError('ERR_ILLEGAL_CONSTRUCTOR', 'use base.listen()');
    this.base = base;
    this.#handle = handle;
    this.raw = raw;
    this.#accept = accept;
    this.#error = error;
    const [fd, port] = native.lisInfo(handle);
    this.fd = fd;
    this.port = port;
    live[handle % INDEX_MODULUS] = this;
  }

  /** @internal */
  get _handle(): number {
    return this.#handle;
  }

  /**
   * The accept callback; may be replaced at any time.
   *
   * @throws (on set) TypeError ERR_INVALID_ARG_TYPE; Error ERR_LISTENER_FREED, ERR_BASE_FREED
   */
  get onAccept(): AcceptCallback | RawAcceptCallback {
    return this.#accept;
  }

  /** Replaces the accept callback. */
  set onAccept(fn: AcceptCallback | RawAcceptCallback) {
    checkFunction(fn, 'onAccept');
    this.#check();
    this.#accept = fn;
  }

  /**
   * The error callback (EMFILE and the like), or undefined.
   *
   * @throws (on set) TypeError ERR_INVALID_ARG_TYPE; Error ERR_LISTENER_FREED, ERR_BASE_FREED
   */
  get onError(): ListenOptions['error'] {
    return this.#error;
  }

  /** Replaces (or with undefined removes) the error callback. */
  set onError(fn: ListenOptions['error']) {
    if (fn !== undefined) checkFunction(fn, 'onError');
    this.#check();
    this.#error = fn;
  }

  /**
   * Accepts connections again.
   *
   * @returns this listener
   * @throws Error ERR_LISTENER_FREED, ERR_BASE_FREED
   */
  enable(): this {
    this.#check();
    native.lisEnable(this.#handle);
    return this;
  }

  /**
   * Stops accepting; connections wait in the kernel's backlog.
   *
   * @returns this listener
   * @throws Error ERR_LISTENER_FREED, ERR_BASE_FREED
   */
  disable(): this {
    this.#check();
    native.lisDisable(this.#handle);
    return this;
  }

  /** Whether accepting is on as asked (enable()/disable()); an EMFILE back-off does not change it. */
  get enabled(): boolean {
    this.#check();
    return native.lisInfo(this.#handle)[4];
  }

  /** Accept errors seen so far. */
  get acceptErrors(): number {
    this.#check();
    return native.lisInfo(this.#handle)[2];
  }

  /** True while paused after EMFILE/ENFILE, waiting for retryMs. */
  get backingOff(): boolean {
    this.#check();
    return native.lisInfo(this.#handle)[3];
  }

  /** True after free(), or once the base was freed. */
  get freed(): boolean {
    return this.#freed || this.base.freed;
  }

  /**
   * Closes the listening socket at once; accepted bufferevents are not affected.
   *
   * @throws Error ERR_LISTENER_FREED, ERR_BASE_FREED (freed already)
   */
  free(): void {
    this.#check();
    native.lisFree(this.#handle);
    this.#freed = true;
    const i = this.#handle % INDEX_MODULUS;
    if (live[i] === this) live[i] = undefined;
  }

  /** free() unless already freed. */
  [Symbol.dispose](): void {
    if (!this.freed) this.free();
  }

  /** @internal the update host rebinds to the new version's functions (already checked). */
  _rebind(accept: AcceptCallback | RawAcceptCallback, error: ListenOptions['error']): void {
    this.#accept = accept;
    this.#error = error;
  }

  /** @internal called by the dispatcher */
  _accepted(value: number, raw: boolean): void {
    if (raw) {
      (this.#accept as RawAcceptCallback)(value, this);
    } else {
      const bev = new BufferEvent(MAKE_BEV, this.base, value);
      (this.#accept as AcceptCallback)(bev, this);
    }
  }

  /** @internal */
  _failed(errno: number): void {
    this.#error?.(systemError(errno, 'accept'), this);
  }

  #check(): void {
    if (this.base.freed) throw stateError('ERR_BASE_FREED', "the listener's base has been freed");
    if (this.#freed) throw stateError('ERR_LISTENER_FREED', 'the listener has been freed');
  }
}

/** @internal the dispatcher's lookup */
export function listenerOf(handle: number): Listener | undefined {
  const l = live[handle % INDEX_MODULUS];
  return l !== undefined && l._handle === handle ? l : undefined;
}
