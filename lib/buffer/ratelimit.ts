// RateLimitGroup: one token bucket shared by several socket bufferevents (libevent's
// bufferevent_rate_limit_group); each member gets a fair share of every tick.
import type { EventBase } from '../loop/base.js';
import { stateError, typeError } from '../loop/errors.js';
import { BufferEvent } from './bufferevent.js';
import { native } from './native.js';

export const MAKE_GROUP: unique symbol = Symbol('node-libevent:rate-group');

/**
 * One token bucket shared by several socket bufferevents (libevent's
 * bufferevent_rate_limit_group), made by base.rateLimitGroup(limit).
 *
 * @example
 * ```ts
 * const group = base.rateLimitGroup({ readRate: 64 * 1024, writeRate: 64 * 1024 });  // per second
 * group.add(bev1).add(bev2);                                                          // share it
 * ```
 */
export class RateLimitGroup implements Disposable {
  /** The base it belongs to. */
  readonly base: EventBase;
  #handle: number;
  #freed = false;

  /** @internal use base.rateLimitGroup() */
  constructor(token: typeof MAKE_GROUP, base: EventBase, handle: number) {
    if (token !== MAKE_GROUP) throw typeError('ERR_ILLEGAL_CONSTRUCTOR', 'use base.rateLimitGroup()');
    this.base = base;
    this.#handle = handle;
  }

  /**
   * Puts `bev` under this group's limit (leaving any other group).
   *
   * @param bev - a socket bufferevent of the same base
   * @returns this group
   * @throws Error ERR_INVALID_ARG_VALUE (a pair, another base), ERR_LIBEVENT, ERR_BUFFEREVENT_FREED,
   *   ERR_RATE_GROUP_FREED, ERR_BASE_FREED; TypeError ERR_INVALID_ARG_TYPE
   */
  add(bev: BufferEvent): this {
    this.#check();
    if (!(bev instanceof BufferEvent)) throw typeError('ERR_INVALID_ARG_TYPE', 'add takes a BufferEvent');
    native.groupAdd(this.#handle, bev._handle);
    return this;
  }

  /**
   * Takes `bev` out of its group.
   *
   * @param bev - a bufferevent
   * @returns this group
   * @throws Error ERR_BUFFEREVENT_FREED, ERR_RATE_GROUP_FREED, ERR_BASE_FREED; TypeError ERR_INVALID_ARG_TYPE
   */
  remove(bev: BufferEvent): this {
    this.#check();
    if (!(bev instanceof BufferEvent)) throw typeError('ERR_INVALID_ARG_TYPE', 'remove takes a BufferEvent');
    native.groupRemove(bev._handle);
    return this;
  }

  /** Bytes read and written by members since the group was made. */
  get totals(): {
    /** Bytes read. */
    read: number;
    /** Bytes written. */
    written: number;
  } {
    this.#check();
    const [read, written] = native.groupTotals(this.#handle);
    return { read, written };
  }

  /** True after free(), or once the base was freed. */
  get freed(): boolean {
    return this.#freed || this.base.freed;
  }

  /**
   * Frees the group; its members go on without a group limit.
   *
   * @throws Error ERR_RATE_GROUP_FREED, ERR_BASE_FREED (freed already)
   */
  free(): void {
    this.#check();
    native.groupFree(this.#handle);
    this.#freed = true;
  }

  /** free() unless already freed. */
  [Symbol.dispose](): void {
    if (!this.freed) this.free();
  }

  #check(): void {
    if (this.base.freed) throw stateError('ERR_BASE_FREED', "the group's base has been freed");
    if (this.#freed) throw stateError('ERR_RATE_GROUP_FREED', 'the rate-limit group has been freed');
  }
}
