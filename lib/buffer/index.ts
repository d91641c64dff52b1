// node-libevent buffered connections: libevent's bufferevents, evbuffers and listeners.
//
// The layer above lib/loop. Importing it (the main entry does) gives every EventBase four
// factories: base.bufferevent(fd, opts) and base.bufferevent.pair(opts), base.connect(host,
// port, opts), base.listen(opts, onAccept) and base.rateLimitGroup(limit). Callbacks run from
// the loop through one native dispatcher; their functions live in JS objects, so the update
// host rebinds them without touching libevent.
import { EventBase } from '../loop/base.js';
import { checkFunction, typeError } from '../loop/errors.js';
import {
  BufferEvent,
  type BufferEventOptions,
  checkEnable,
  type ConnectOptions,
  type IoSizeOptions,
  MAKE_BEV,
  bufferEventOf,
  liveBufferEvents,
  type RateLimit,
  rateArgs,
  type SocketOptions,
} from './bufferevent.js';
import { type AcceptCallback, type ListenOptions, Listener, listenerOf, liveListeners, MAKE_LISTENER, type RawAcceptCallback } from './listener.js';
import { native } from './native.js';
import { MAKE_GROUP, RateLimitGroup } from './ratelimit.js';

export {
  BEV,
  BufferEvent,
  type BufferEventCallbacks,
  type BufferEventOptions,
  type ConnectOptions,
  FLUSH,
  type IoSizeOptions,
  type RateLimit,
  type RelayOptions,
  type SocketOptions,
  type SystemError,
} from './bufferevent.js';
export { type Bytes, EOL, EvBuffer } from './evbuffer.js';
export { type AcceptCallback, type ListenOptions, Listener, type RawAcceptCallback } from './listener.js';
export { RateLimitGroup } from './ratelimit.js';

/** base.bufferevent: a callable factory with a pair() method. */
export interface BufferEventFactory {
  /**
   * A bufferevent over a connected stream socket (made non-blocking).
   *
   * @param fd - a connected stream socket
   * @param options - callbacks, `enable`, `closeOnFree` (default true)
   * @returns the bufferevent
   * @throws Error ERR_INVALID_FD (not a socket), ERR_FD_IN_USE, ERR_FD_OWNED_BY_BASE, ERR_LIBEVENT,
   *   ERR_BASE_FREED; RangeError ERR_FD_SETSIZE, ERR_INVALID_EVENTS, ERR_OUT_OF_RANGE; TypeError ERR_INVALID_ARG_TYPE
   */
  (fd: number, options?: SocketOptions): BufferEvent;
  /**
   * Two linked in-process bufferevents: what one writes, the other reads.
   *
   * @param options - callbacks and `enable`, for both halves
   * @returns the two halves
   * @throws Error ERR_LIBEVENT, ERR_BASE_FREED; RangeError ERR_INVALID_EVENTS; TypeError ERR_INVALID_ARG_TYPE
   */
  pair(options?: BufferEventOptions): [BufferEvent, BufferEvent];
}

declare module '../loop/base.js' {
  interface EventBase {
    /**
     * Bufferevents on this base: `base.bufferevent(fd, options)` over a connected stream socket,
     * `base.bufferevent.pair(options)` for two linked in-process halves.
     */
    readonly bufferevent: BufferEventFactory;
    /**
     * A connecting bufferevent: the event callback gets CONNECTED, or ERROR with the errno.
     *
     * @param host - a numeric IPv4/IPv6 address or 'localhost' (no DNS)
     * @param port - 1–65535
     * @param options - callbacks, `enable`, `noDelay`
     * @returns the bufferevent, connecting
     * @throws Error ERR_INVALID_ADDRESS, ERR_LIBEVENT, ERR_BASE_FREED, errno codes (a failure known
     *   at once); RangeError ERR_SOCKET_BAD_PORT, ERR_FD_SETSIZE, ERR_INVALID_EVENTS; TypeError ERR_INVALID_ARG_TYPE
     */
    connect(host: string, port: number, options?: ConnectOptions): BufferEvent;
    /**
     * A listener; each accepted connection arrives as a BufferEvent that owns its socket.
     *
     * @param options - address, port (0: any free one), backlog, socket options, `retryMs`, `error`
     * @param onAccept - gets each connection
     * @returns the listener, accepting unless `enabled: false`
     * @throws Error ERR_INVALID_ADDRESS, ERR_LIBEVENT, ERR_BASE_FREED, errno codes (EADDRINUSE, EACCES);
     *   RangeError ERR_SOCKET_BAD_PORT, ERR_OUT_OF_RANGE, ERR_FD_SETSIZE; TypeError ERR_INVALID_ARG_TYPE
     */
    listen(options: ListenOptions, onAccept: AcceptCallback): Listener;
    /**
     * A listener handing over bare fds (the caller owns and closes them).
     *
     * @param options - as for the other overload, with `raw: true`
     * @param onAccept - gets each accepted fd
     * @returns the listener
     * @throws as the other overload
     */
    listen(options: ListenOptions & { raw: true }, onAccept: RawAcceptCallback): Listener;
    /**
     * A token bucket shared by the bufferevents added to it.
     *
     * @param limit - rates and bursts per tick, the tick in ms
     * @returns the group, empty
     * @throws RangeError ERR_OUT_OF_RANGE; Error ERR_LIBEVENT, ERR_BASE_FREED; TypeError ERR_INVALID_ARG_TYPE
     */
    rateLimitGroup(limit: RateLimit): RateLimitGroup;
  }
}

function withCallbacks(bev: BufferEvent, options: BufferEventOptions & IoSizeOptions): BufferEvent {
  try {
    bev.setCallbacks({ read: options.read, write: options.write, event: options.event });
    if (options.maxSingleRead !== undefined || options.maxSingleWrite !== undefined) bev.setMaxSingle(options);
  } catch (err) {
    bev.free();
    throw err;
  }
  return bev;
}

function checkOptions<T extends object>(options: T | undefined): T {
  if (options === undefined) return {} as T;
  if (typeof options !== 'object' || options === null) throw typeError('ERR_INVALID_ARG_TYPE', 'options must be an object');
  return options;
}

const factories = new WeakMap<EventBase, BufferEventFactory>();

Object.defineProperty(EventBase.prototype, 'bufferevent', {
  configurable: true,
  get(this: EventBase): BufferEventFactory {
    let f = factories.get(this);
    if (f === undefined) {
      const base = this;
      const make = (fd: number, options?: SocketOptions): BufferEvent => {
        const o = checkOptions(options);
        const closeOnFree = o.closeOnFree ?? true;
        const h = native.bevNew(base._handle, fd, closeOnFree, checkEnable(o.enable));
        return withCallbacks(new BufferEvent(MAKE_BEV, base, h), o);
      };
      make.pair = (options?: BufferEventOptions): [BufferEvent, BufferEvent] => {
        const o = checkOptions(options);
        const [a, b] = native.bevPair(base._handle, checkEnable(o.enable));
        return [withCallbacks(new BufferEvent(MAKE_BEV, base, a), o), withCallbacks(new BufferEvent(MAKE_BEV, base, b), o)];
      };
      f = make;
      factories.set(this, f);
    }
    return f;
  },
});

EventBase.prototype.connect = function connect(this: EventBase, host: string, port: number, options?: ConnectOptions): BufferEvent {
  const o = checkOptions(options);
  const h = native.bevConnect(this._handle, host, port, checkEnable(o.enable), o.noDelay ?? false);
  return withCallbacks(new BufferEvent(MAKE_BEV, this, h), o);
};

EventBase.prototype.listen = function listen(
  this: EventBase,
  options: ListenOptions & { raw?: boolean },
  onAccept: AcceptCallback | RawAcceptCallback,
): Listener {
  const o = checkOptions(options);
  checkFunction(onAccept, 'onAccept');
  if (o.error !== undefined) checkFunction(o.error, 'options.error');
  const raw = o.raw ?? false;
  const h = native.lisNew(
    this._handle,
    o.host ?? '0.0.0.0',
    o.port ?? 0,
    o.backlog ?? 511,
    o.reuseAddr ?? true,
    o.reusePort ?? false,
    !raw,
    o.noDelay ?? false,
    o.retryMs ?? 100,
    o.enabled ?? true,
  );
  return new Listener(MAKE_LISTENER, this, h, raw, onAccept, o.error);
} as EventBase['listen'];

EventBase.prototype.rateLimitGroup = function rateLimitGroup(this: EventBase, limit: RateLimit): RateLimitGroup {
  return new RateLimitGroup(MAKE_GROUP, this, native.groupNew(this._handle, ...rateArgs(limit)));
};

// kind: 0 read, 1 write, 2 event(what, errno), 3 accept(bufferevent handle | fd, raw), 4 accept error(errno)
native.setDispatcher((kind, handle, a, b) => {
  if (kind <= 2) {
    bufferEventOf(handle)?._fire(kind, a, b);
    return;
  }
  const l = listenerOf(handle);
  if (kind === 3) {
    if (l) l._accepted(a, b === 1);
    else if (b === 0) native.bevFree(a); // listener freed meanwhile: nobody wants the connection
  } else {
    l?._failed(a);
  }
});

/**
 * Every bufferevent and listener of `base` not yet freed (what the update host rebinds). They
 * stay reachable while not freed, like Node's sockets and servers.
 *
 * @param base - an event base
 * @returns its live bufferevents and listeners
 */
export function liveBuffered(base: EventBase): {
  /** The bufferevents not yet freed. */
  bufferevents: BufferEvent[];
  /** The listeners not yet freed. */
  listeners: Listener[];
} {
  return { bufferevents: liveBufferEvents(base), listeners: liveListeners(base) };
}
