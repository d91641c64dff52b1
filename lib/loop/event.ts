// An event made by EventBase.event(), .timer() or .signal(): a thin, typed face over one
// libevent struct event owned by the addon.
import type { EventBase } from './base.js';
import { checkFunction, stateError, typeError } from './errors.js';
import { binding } from './native.js';
import { addRef, dropRef, eventRegistry, INDEX_MODULUS, live, pin, releaseIfUnused, resolve, type SlotEntry, unpin, weakEvents } from './registry.js';

/** An event callback: `fd` (the signal number for signals), the bits that fired, the event. */
export type Callback = (fd: number, what: number, ev: Event) => void;

/** Only EventBase makes events. */
export const MAKE_EVENT: unique symbol = Symbol('node-libevent:make-event');

/**
 * One libevent `struct event`, made by base.event(), base.timer() or base.signal(). Its callback
 * can be replaced while it is pending (`ev.callback = fn`): the struct is rewritten in place and
 * keeps its timeout, persistence and any queued activation.
 *
 * @example
 * ```ts
 * import { EventBase } from 'node-libevent';
 *
 * const base = new EventBase();
 * const ev = base.timer(() => console.log('first'), { persist: true }).add(50);
 * ev.callback = () => { console.log('second'); ev.free(); };  // still pending, same timeout
 * base.dispatch();                                             // prints second
 * ```
 */
export class Event implements Disposable {
  #base: EventBase;
  /** The watched fd, the signal number for signal events, or -1 for timers. */
  readonly fd: number;
  /** The EV bits it was created with. */
  readonly events: number;
  #handle: number;
  #index: number;
  #entry: SlotEntry;
  #freed = false;

  /**
   * Not for direct use (it needs a token only EventBase has): use base.event(), base.timer() or base.signal(); `entry` already counts it.
   * @hidden
   */
  constructor(token: typeof MAKE_EVENT, base: EventBase, handle: number, entry: SlotEntry, fd: number, events: number) {
    if (token !== MAKE_EVENT) throw typeError('ERR_ILLEGAL_CONSTRUCTOR', 'use base.event(), base.timer() or base.signal()');
    this.#base = base;
    this.#handle = handle;
    this.#index = handle % INDEX_MODULUS;
    this.#entry = entry;
    this.fd = fd;
    this.events = events;
    weakEvents[this.#index] = new WeakRef(this);
    eventRegistry.register(this, handle, this);
  }

  /** The base this event belongs to. */
  get base(): EventBase {
    return this.#base;
  }

  /** @internal strategy 1 moved the native event to another base. */
  _moveTo(base: EventBase): void {
    this.#base = base;
  }

  /**
   * The callback. Setting it rewrites the callback in the live struct event, in place.
   *
   * @throws (on set) TypeError ERR_INVALID_ARG_TYPE; Error ERR_NOT_REWRITABLE, ERR_EVENT_FREED,
   *   ERR_BASE_FREED
   */
  get callback(): Callback {
    return this._entry.fn;
  }

  /** Rewrites the callback in place (see the getter). */
  set callback(fn: Callback) {
    checkFunction(fn, 'callback');
    this.#check();
    const entry = this.#base._entryFor(fn);
    try {
      binding.eventRewrite(this.#handle, entry.slot);
    } catch (err) {
      releaseIfUnused(entry);
      throw err;
    }
    this._retarget(entry);
  }

  /** @internal the slot entry its struct names (shared with the base's other events running the same function). */
  get _entry(): SlotEntry {
    const e = this.#entry;
    return e.next === undefined ? e : (this.#entry = resolve(e));
  }

  /** @internal after the addon wrote `entry.slot` into the struct: move the JS side along. */
  _retarget(entry: SlotEntry): void {
    const pinned = live[this.#index] === this;
    if (pinned) unpin(this.#index);
    const old = this._entry;
    addRef(entry.slot);
    this.#entry = entry;
    dropRef(old.slot);
    if (pinned) pin(this.#index, this, entry);
  }

  /** @internal */
  get _handle(): number {
    return this.#handle;
  }

  /**
   * Adds the event; a timeout (ms, fractional allowed) replaces any earlier one.
   *
   * @param timeoutMs - fire with EV.TIMEOUT after this long (a persistent event: every this long)
   * @returns this event
   * @throws RangeError ERR_OUT_OF_RANGE; Error ERR_BAD_FD (the fd was closed), ERR_EVENT_FREED,
   *   ERR_BASE_FREED, ERR_LIBEVENT; TypeError ERR_INVALID_ARG_TYPE
   */
  add(timeoutMs?: number): this {
    this.#check();
    this.#sync(binding.eventAdd(this.#handle, timeoutMs));
    return this;
  }

  /**
   * Removes the event from every queue: added, timeout and active.
   *
   * @returns this event
   * @throws Error ERR_EVENT_FREED, ERR_BASE_FREED, ERR_LIBEVENT
   */
  del(): this {
    this.#check();
    this.#sync(binding.eventDel(this.#handle));
    return this;
  }

  /**
   * Makes the event active with `what` (ORed into a queued activation), added or not.
   *
   * @param what - EV bits the callback will see (TIMEOUT, READ, WRITE, SIGNAL, CLOSED)
   * @returns this event
   * @throws RangeError ERR_INVALID_EVENTS, ERR_OUT_OF_RANGE; Error ERR_EVENT_FREED, ERR_BASE_FREED
   */
  active(what: number): this {
    this.#check();
    this.#sync(binding.eventActive(this.#handle, what));
    return this;
  }

  /**
   * The bits of `what` (default: all) still pending or active.
   *
   * @param what - the EV bits to ask about
   * @returns the subset of them that is pending or active (0: neither)
   * @throws RangeError ERR_INVALID_EVENTS; Error ERR_EVENT_FREED, ERR_BASE_FREED
   */
  pending(what?: number): number {
    this.#check();
    return binding.eventPending(this.#handle, what);
  }

  /**
   * Removes only the timeout; I/O and signal interest stay.
   *
   * @returns this event
   * @throws Error ERR_EVENT_FREED, ERR_BASE_FREED
   */
  removeTimer(): this {
    this.#check();
    this.#sync(binding.eventRemoveTimer(this.#handle));
    return this;
  }

  /**
   * The priority, 0 (most urgent) to base.priorities - 1; new events get the middle one.
   *
   * @throws (on set) RangeError ERR_OUT_OF_RANGE; Error ERR_EVENT_ACTIVE (while active),
   *   ERR_EVENT_FREED, ERR_BASE_FREED
   */
  get priority(): number {
    this.#check();
    return binding.eventGetPriority(this.#handle);
  }

  /** Sets the priority (see the getter). */
  set priority(value: number) {
    this.#check();
    binding.eventSetPriority(this.#handle, value);
  }

  /** True after free(), or once the base was freed. */
  get freed(): boolean {
    return this.#freed || this.base.freed;
  }

  /**
   * Deletes and frees the event; any later call throws ERR_EVENT_FREED. Safe inside its own callback.
   *
   * @throws Error ERR_EVENT_FREED (freed already), ERR_BASE_FREED
   */
  free(): void {
    this.#check();
    this.#release();
    binding.eventFree(this.#handle);
  }

  /** free() unless already freed, for `using ev = base.timer(...)`. */
  [Symbol.dispose](): void {
    if (!this.freed) this.free();
  }

  /** @internal the base was freed: forget the JS side (the record goes with the object). */
  _baseFreed(): void {
    unpin(this.#index);
  }

  #release(): void {
    unpin(this.#index);
    dropRef(this._entry.slot);
    if (weakEvents[this.#index]?.deref() === this) weakEvents[this.#index] = undefined;
    eventRegistry.unregister(this);
    this.#freed = true;
  }

  #sync(pending: boolean): void {
    if (pending) {
      if (live[this.#index] !== this) pin(this.#index, this, this.#entry);
    } else {
      unpin(this.#index);
    }
  }

  #check(): void {
    if (this.base.freed) throw stateError('ERR_BASE_FREED', "the event's base has been freed");
    if (this.#freed) throw stateError('ERR_EVENT_FREED', 'the event has been freed');
  }
}

