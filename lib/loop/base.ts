// EventBase: one libevent event_base, its events, and its two run modes.
import { constants as osConstants } from 'node:os';

import { abortError, checkOptions, checkSignal, listenAbort } from './abort.js';
import { COUNT, EV, EVLOOP } from './constants.js';
import { checkFunction, rangeError, stateError, typeError } from './errors.js';
import { type Callback, Event, MAKE_EVENT } from './event.js';
import { binding } from './native.js';
import { type OnceOptions, onceOptions, scheduleOnce, sleep, type SleepOptions, type WaitOptions, waitFor } from './promises.js';
import { addRef, baseRegistry, live, moveSlot, newEntry, releaseIfUnused, type SlotEntry, slotFunction, unpin, weakEvents } from './registry.js';

/** A libevent backend name; `supportedMethods()` lists the ones this build has. */
export type Method = 'epoll' | 'poll' | 'select' | (string & {});
/** A backend feature (event_method_feature): edge triggering, O(1) add/del, any fd kind, early close. */
export type Feature = 'et' | 'o1' | 'fds' | 'earlyClose';

/** Options of `new EventBase()` (libevent's event_config). */
export interface EventBaseOptions {
  /** Use exactly this backend (every other one is avoided). */
  method?: Method;
  /** Backends not to use. */
  avoid?: Method[];
  /** Only backends with all these features. */
  requireFeatures?: Feature[];
  /** Number of priority levels, 1–255 (0 is the most urgent). */
  priorities?: number;
  /** EVENT_BASE_FLAG_PRECISE_TIMER: a precise clock instead of the coarse monotonic one. */
  preciseTimer?: boolean;
  /** EVENT_BASE_FLAG_NO_CACHE_TIME: read the clock at every now() instead of once per pass. */
  noCacheTime?: boolean;
}

/** Options of base.run(). */
export interface RunOptions {
  /** Aborting it ends the run and rejects it with an AbortError (cause: `signal.reason`). */
  signal?: AbortSignal;
  /** Keep running with no events left (EVLOOP_NO_EXIT_ON_EMPTY) until loopbreak/loopexit/abort. */
  keepAlive?: boolean;
  /**
   * When `process.nextTick` callbacks and promise jobs queued by callbacks run: `'pass'` (the
   * default) after each libevent pass, once every callback that was ready together has run;
   * `'callback'` after every callback, as Node does between its own timers and I/O callbacks
   * (a promise resolved by one callback has its `.then` run before the next callback), at the
   * cost of one call into JavaScript per callback (see docs/design.md, *The two run modes*).
   */
  microtasks?: 'pass' | 'callback';
}

function runOptions(options: unknown): RunOptions {
  checkOptions(options);
  const { signal, keepAlive, microtasks } = (options ?? {}) as RunOptions;
  checkSignal(signal);
  if (keepAlive !== undefined && typeof keepAlive !== 'boolean') {
    throw typeError('ERR_INVALID_ARG_TYPE', `options.keepAlive must be a boolean, got ${keepAlive === null ? 'null' : typeof keepAlive}`);
  }
  if (microtasks !== undefined && microtasks !== 'pass' && microtasks !== 'callback') {
    throw typeError('ERR_INVALID_ARG_VALUE', `options.microtasks must be 'pass' or 'callback', got ${typeof microtasks === 'string' ? `'${microtasks}'` : String(microtasks)}`);
  }
  return { signal, keepAlive, microtasks };
}

/**
 * One row of the update host's census of a base's callbacks: how many live events run one
 * callback. Not stripped from the declarations, because the update layer's declarations name it.
 */
export interface CallbackCensus {
  /** The callback. */
  fn: Callback;
  /** Live events running `fn`. */
  events: number;
  /** Of which marked host-owned. */
  owned: number;
  /** The fd (a signal event: its signal number; a timer: -1) of one of them. */
  fd: number;
  /** The EV bits of that one. */
  what: number;
}

/** Options of base.rewire(). */
export interface RewireOptions {
  /** Only 'inplace' here; the update host adds the comparison strategies. */
  strategy?: 'inplace';
}

/**
 * ERR_FD_CLOSED (poll/select: an fd closed behind the binding): the addon deleted those events,
 * so they are no longer pinned.
 */
function forgetClosedFdEvents(err: unknown): unknown {
  const e = err as { code?: unknown; events?: unknown };
  if (e !== null && typeof e === 'object' && e.code === 'ERR_FD_CLOSED' && Array.isArray(e.events)) {
    for (const index of e.events as number[]) unpin(index);
  }
  return err;
}

/**
 * One libevent `event_base`: a backend (epoll, poll or select), its events, and two ways to run
 * it: `dispatch()`/`loop()` (libevent owns the thread, as in Tor) or `run()` (cooperative,
 * inside Node's loop). Everything made on a base is freed with it.
 *
 * @example
 * ```ts
 * import { EventBase, EV, io } from 'node-libevent';
 *
 * using base = new EventBase({ method: 'poll' });
 * const [a, b] = io.socketpair();
 * base.event(a, EV.READ, (fd) => console.log(io.read(fd, new Uint8Array(16)))).add(1000);
 * io.write(b, new Uint8Array([1, 2, 3]));
 * base.dispatch(); // prints 3, then returns: no events left
 * ```
 */
export class EventBase implements Disposable {
  /** The backend really in use. */
  readonly method: Method;
  /** What the backend in use can do (see {@link Feature}). */
  readonly features: Readonly<{
    /** Edge-triggered events (EV.ET). */
    et: boolean;
    /** O(1) event add and delete. */
    o1: boolean;
    /** Any kind of fd, not only sockets. */
    fds: boolean;
    /** Early close detection (EV.CLOSED). */
    earlyClose: boolean;
  }>;
  /** Number of priority levels. */
  readonly priorities: number;
  #handle: number;
  #freed = false;
  /** The slot of each callback function its events run (see registry.ts). */
  #entries = new WeakMap<Callback, SlotEntry>();

  /**
   * @param options - the backend to use or avoid, required features, priority levels, clock flags
   * @throws RangeError ERR_UNKNOWN_METHOD, ERR_UNKNOWN_FEATURE, ERR_OUT_OF_RANGE (priorities);
   *   Error ERR_METHOD_UNAVAILABLE (no backend meets the options), ERR_LIBEVENT;
   *   TypeError ERR_INVALID_ARG_TYPE
   */
  constructor(options: EventBaseOptions = {}) {
    const info = binding.baseNew(options);
    this.#handle = info.handle;
    this.method = info.method;
    this.features = Object.freeze(info.features);
    this.priorities = info.priorities;
    baseRegistry.register(this, info.handle);
  }

  /** True after free(). */
  get freed(): boolean {
    return this.#freed;
  }

  /** @internal the addon's handle, for the rebind strategies. */
  get _handle(): number {
    return this.#handle;
  }

  /**
   * A new event on `fd` for `events` (EV bits); created, not yet added.
   *
   * @param fd - an open fd (below 1024 with the select backend), or -1 for a timer
   * @param events - EV.READ, EV.WRITE, EV.CLOSED, EV.PERSIST, EV.ET (or EV.SIGNAL with a signal number)
   * @param callback - runs with (fd, what, event) from the loop
   * @returns the event, not yet added: call add()
   * @throws RangeError ERR_INVALID_EVENTS, ERR_FD_SETSIZE, ERR_OUT_OF_RANGE, ERR_SIGNAL_UNSUPPORTED,
   *   ERR_TOO_MANY_EVENTS; Error ERR_BAD_FD, ERR_UNSUPPORTED_EVENTS, ERR_FD_OWNED_BY_BASE,
   *   ERR_SIGNAL_BASE_CONFLICT, ERR_BASE_FREED, ERR_LIBEVENT; TypeError ERR_INVALID_ARG_TYPE
   */
  event(fd: number, events: number, callback: Callback): Event {
    checkFunction(callback, 'callback');
    this.#check();
    const entry = this._entryFor(callback);
    let handle: number;
    try {
      handle = binding.eventNew(this.#handle, fd, events, entry.slot);
    } catch (err) {
      releaseIfUnused(entry);
      throw err;
    }
    addRef(entry.slot);
    return new Event(MAKE_EVENT, this, handle, entry, fd, events);
  }

  /** @internal the slot entry of `fn` on this base (made on first use). */
  _entryFor(fn: Callback): SlotEntry {
    let entry = this.#entries.get(fn);
    if (entry === undefined || entry.slot < 0 || entry.fn !== fn) {
      entry = newEntry(fn);
      this.#entries.set(fn, entry);
    }
    return entry;
  }

  /**
   * A timer (fd -1); persistent timers repeat with the timeout given to add().
   *
   * @param callback - runs with (-1, EV.TIMEOUT, event)
   * @param options - `persist`: repeat every add() timeout until deleted
   * @returns the timer, not yet added: call add(ms)
   * @throws TypeError ERR_INVALID_ARG_TYPE; Error ERR_BASE_FREED
   */
  timer(callback: Callback, options: { persist?: boolean } = {}): Event {
    if (typeof options !== 'object' || options === null) throw typeError('ERR_INVALID_ARG_TYPE', 'options must be an object');
    return this.event(-1, options.persist ? EV.PERSIST : 0, callback);
  }

  /**
   * A persistent signal event. The previous handler comes back when the event is freed.
   *
   * @param signal - a name such as 'SIGUSR2' or a signal number
   * @param callback - runs with (signo, EV.SIGNAL, event) from the loop, once per delivery batch
   * @returns the event, not yet added: call add()
   * @throws RangeError ERR_UNKNOWN_SIGNAL, ERR_SIGNAL_UNSUPPORTED (uncatchable, faults, SIGCHLD),
   *   ERR_FD_SETSIZE; Error ERR_SIGNAL_BASE_CONFLICT (another base has signal events), ERR_BASE_FREED
   */
  signal(signal: string | number, callback: (signo: number, what: number, ev: Event) => void): Event {
    let signo: number;
    if (typeof signal === 'string') {
      const n = (osConstants.signals as Record<string, number | undefined>)[signal];
      if (n === undefined) throw rangeError('ERR_UNKNOWN_SIGNAL', `unknown signal name '${signal}'`);
      signo = n;
    } else {
      signo = signal;
    }
    return this.event(signo, EV.SIGNAL | EV.PERSIST, callback);
  }

  /**
   * Runs `callback(fd, what)` once: when `fd` is ready for `events`, or after `timeoutMs`.
   * With fd -1 it is a pure timer (no timeout: as soon as the loop runs). Freed after it runs,
   * and with the base if it never does. Aborting `signal` deletes and frees the event (the
   * callback never runs); an already aborted signal schedules nothing, as addEventListener.
   *
   * @param fd - the fd to watch, or -1 for a pure timer
   * @param events - EV.READ, EV.WRITE, EV.CLOSED (any of them), or EV.TIMEOUT with fd -1
   * @param callback - gets the fd and the bits that fired (EV.TIMEOUT when the timeout did)
   * @param timeoutMs - a timeout in ms, or the options `{ timeoutMs, signal }`
   * @param options - `{ signal }` when the timeout is given as a number
   * @throws RangeError ERR_INVALID_EVENTS (SIGNAL, PERSIST or ET bits), ERR_OUT_OF_RANGE (a
   *   pure timer on an fd, a bad fd or timeout); TypeError ERR_INVALID_ARG_TYPE (a callback,
   *   timeout, options or signal of the wrong type); Error ERR_BAD_FD, ERR_BASE_FREED
   * @example
   * ```ts
   * const ac = new AbortController();
   * base.once(fd, EV.READ, (fd, what) => console.log(what & EV.TIMEOUT ? 'late' : 'ready'), { timeoutMs: 500, signal: ac.signal });
   * ac.abort(); // the event is gone: base.events() no longer lists it
   * ```
   */
  once(fd: number, events: number, callback: (fd: number, what: number) => void, timeoutMs?: number | OnceOptions, options?: OnceOptions): void {
    const opts = onceOptions(timeoutMs, options);
    scheduleOnce(this, fd, events, callback, opts.timeoutMs, opts.signal);
  }

  /**
   * A promise resolved by a libevent timer of this base after `ms` (like Node's
   * timers/promises setTimeout, but in this base's loop: it settles only while the base runs).
   * Under dispatch() the promise is fulfilled inside the loop and its `.then` callbacks run
   * after dispatch() returns; under run() they run right after the pass that fired it.
   *
   * @param ms - milliseconds, fractional allowed, in [0, 1e15]
   * @param options - `signal`: aborting it frees the timer and rejects the promise
   * @returns a promise fulfilled with undefined
   * @throws (as a rejection) AbortError ABORT_ERR (cause: the signal's reason); TypeError
   *   ERR_INVALID_ARG_TYPE; RangeError ERR_OUT_OF_RANGE; Error ERR_BASE_FREED
   * @example
   * ```ts
   * const running = base.run();
   * await base.sleep(20);
   * base.loopbreak();
   * await running;
   * ```
   */
  sleep(ms: number, options?: SleepOptions): Promise<void> {
    return sleep(this, ms, options);
  }

  /**
   * A promise fulfilled when `fd` is readable (data, EOF or an error to read), seen by a
   * one-shot EV_READ event of this base. It settles only while the base runs.
   *
   * @param fd - an open fd (below 1024 with the select backend)
   * @param options - `signal`: aborting it frees the event and rejects; `timeoutMs`: reject
   *   with ERR_TIMEOUT if the fd is not readable by then (a libevent timeout)
   * @returns a promise fulfilled with undefined
   * @throws (as a rejection) AbortError ABORT_ERR; Error ERR_TIMEOUT, ERR_BAD_FD,
   *   ERR_BASE_FREED; RangeError ERR_OUT_OF_RANGE, ERR_FD_SETSIZE; TypeError ERR_INVALID_ARG_TYPE
   * @example
   * ```ts
   * const running = base.run();
   * await base.readable(fd, { timeoutMs: 1000 });
   * const n = io.read(fd, buf);
   * ```
   */
  readable(fd: number, options?: WaitOptions): Promise<void> {
    return waitFor(this, fd, EV.READ, options);
  }

  /**
   * A promise fulfilled when `fd` is writable, seen by a one-shot EV_WRITE event of this base;
   * otherwise as {@link EventBase.readable}.
   *
   * @param fd - an open fd (below 1024 with the select backend)
   * @param options - `signal` and `timeoutMs`, as for readable()
   * @returns a promise fulfilled with undefined
   * @throws (as a rejection) AbortError ABORT_ERR; Error ERR_TIMEOUT, ERR_BAD_FD,
   *   ERR_BASE_FREED; RangeError ERR_OUT_OF_RANGE, ERR_FD_SETSIZE; TypeError ERR_INVALID_ARG_TYPE
   */
  writable(fd: number, options?: WaitOptions): Promise<void> {
    return waitFor(this, fd, EV.WRITE, options);
  }

  /**
   * Runs libevent's own loop on this thread until no events are left or loopexit()/loopbreak().
   *
   * @returns 1 when no events were left, 0 after loopexit()/loopbreak()
   * @throws a callback's error (after the loop stopped); Error ERR_LOOP_REENTRANT, ERR_LOOP_RUNNING,
   *   ERR_FD_CLOSED, ERR_BASE_FREED, ERR_LIBEVENT
   */
  dispatch(): 0 | 1 {
    return this.loop(0);
  }

  /**
   * event_base_loop with EVLOOP flags; a callback's exception is rethrown after loopbreak.
   *
   * @param flags - EVLOOP.ONCE, EVLOOP.NONBLOCK, EVLOOP.NO_EXIT_ON_EMPTY (ORed)
   * @returns 1 when no events were left, 0 otherwise
   * @throws as dispatch(); RangeError ERR_OUT_OF_RANGE (unknown flags)
   */
  loop(flags = 0): 0 | 1 {
    this.#check();
    try {
      return binding.baseLoop(this.#handle, flags);
    } catch (err) {
      throw forgetClosedFdEvents(err);
    }
  }

  /**
   * Cooperative run: serves libevent events inside Node's loop, so Node's timers, sockets,
   * fs and promises keep working. Resolves like dispatch(); rejects with a callback's error.
   *
   * @param options - `signal`: aborting it ends the run (as loopbreak() does) and rejects with
   *   an AbortError; `keepAlive`: stay up with no events left, as loop(EVLOOP.NO_EXIT_ON_EMPTY)
   *   (the run then ends only by loopbreak(), loopexit(), abort or a callback's error);
   *   `microtasks`: `'pass'` (default) runs nextTicks and promise jobs queued by callbacks
   *   after each libevent pass, `'callback'` after every callback, as Node does
   * @returns 1 when no events were left, 0 after loopbreak()/loopexit()
   * @throws (as a rejection) AbortError ABORT_ERR (cause: the signal's reason), a callback's
   *   error, Error ERR_LOOP_RUNNING, ERR_LOOP_REENTRANT, ERR_FD_CLOSED, ERR_BASE_FREED;
   *   TypeError ERR_INVALID_ARG_TYPE (bad options), ERR_INVALID_ARG_VALUE (bad `microtasks`)
   * @example
   * ```ts
   * const ac = new AbortController();
   * setTimeout(() => ac.abort(), 1000);
   * await base.run({ signal: ac.signal, keepAlive: true }).catch((err) => {
   *   if (err.code !== 'ABORT_ERR') throw err;
   * });
   * ```
   */
  async run(options: RunOptions = {}): Promise<0 | 1> {
    this.#check();
    const { signal, keepAlive, microtasks } = runOptions(options);
    if (signal?.aborted) throw abortError(signal);
    let aborted = false;
    let result: Promise<0 | 1>;
    try {
      result = binding.baseRun(this.#handle, keepAlive ? EVLOOP.NO_EXIT_ON_EMPTY : 0, microtasks === 'callback');
    } catch (err) {
      throw forgetClosedFdEvents(err);
    }
    const stopListening = listenAbort(signal, () => {
      if (this.#freed || !binding.baseRunning(this.#handle)) return; // already over: no effect
      aborted = true;
      this.loopbreak();
    });
    try {
      const r = await result;
      if (aborted) throw abortError(signal!);
      return r;
    } catch (err) {
      throw forgetClosedFdEvents(err);
    } finally {
      stopListening();
    }
  }

  /** True while dispatch()/loop()/run() is active. */
  get running(): boolean {
    return !this.#freed && binding.baseRunning(this.#handle);
  }

  /** True while a callback of this base is on the stack (inside a pass of the loop). */
  get inCallback(): boolean {
    return !this.#freed && binding.baseInPass(this.#handle);
  }

  /**
   * Ends the loop after `ms` (default: after the current pass of callbacks).
   *
   * @param ms - delay in ms, fractional allowed
   * @throws RangeError ERR_OUT_OF_RANGE; Error ERR_BASE_FREED, ERR_LIBEVENT
   */
  loopexit(ms?: number): void {
    this.#check();
    binding.baseLoopexit(this.#handle, ms);
  }

  /**
   * Ends the loop after the current callback; remaining active callbacks run next time.
   *
   * @throws Error ERR_BASE_FREED
   */
  loopbreak(): void {
    this.#check();
    binding.baseLoopbreak(this.#handle);
  }

  /**
   * Stops processing active callbacks after this one and polls again before going on.
   *
   * @throws Error ERR_BASE_FREED
   */
  loopcontinue(): void {
    this.#check();
    binding.baseLoopcontinue(this.#handle);
  }

  /** event_base_got_exit: the last loop ended by loopexit() (cleared when a loop starts). */
  get gotExit(): boolean {
    this.#check();
    return binding.baseGotExit(this.#handle);
  }

  /** event_base_got_break: the last loop ended by loopbreak() (cleared when a loop starts). */
  get gotBreak(): boolean {
    this.#check();
    return binding.baseGotBreak(this.#handle);
  }

  /**
   * event_base_get_num_events: queue memberships of non-internal events (an added event with a
   * timeout counts twice in ADDED; a pending loopexit counts as well, as in libevent).
   *
   * @param flags - COUNT.ACTIVE, COUNT.VIRTUAL, COUNT.ADDED (ORed; default all three)
   * @returns the count
   * @throws RangeError ERR_OUT_OF_RANGE; Error ERR_BASE_FREED
   */
  numEvents(flags: number = COUNT.ACTIVE | COUNT.VIRTUAL | COUNT.ADDED): number {
    this.#check();
    return binding.baseNumEvents(this.#handle, flags);
  }

  /**
   * Every pending or active event created through this API, each once.
   *
   * @returns the events
   * @throws Error ERR_BASE_FREED
   */
  events(): Event[] {
    this.#check();
    const out: Event[] = [];
    for (const i of binding.basePendingEvents(this.#handle)) {
      const ev = live[i];
      if (ev !== undefined) out.push(ev);
    }
    return out;
  }

  /**
   * event_base_dump_events (a debugging aid; its format is libevent's).
   *
   * @returns libevent's text
   * @throws Error ERR_BASE_FREED
   */
  dumpEvents(): string {
    this.#check();
    return binding.baseDump(this.#handle);
  }

  /**
   * The loop's cached wall-clock time (the same for every callback of one pass).
   *
   * @returns ms since the epoch
   * @throws Error ERR_BASE_FREED
   */
  now(): number {
    this.#check();
    return binding.baseNow(this.#handle);
  }

  /**
   * Rewrites, in place, the callback of every live event of this base for which `map`
   * returns a function (events it maps to undefined keep theirs). Pending events stay
   * pending with their timeouts and queued activations. All or nothing: if `map` throws or
   * an event cannot be rewritten, no event changes.
   *
   * @param map - gets each live event, returns its new callback or undefined
   * @param options - `strategy`: only 'inplace' (the update host has the others)
   * @returns the number of events rewritten
   * @throws RangeError ERR_UNKNOWN_STRATEGY; Error ERR_NOT_REWRITABLE, ERR_BASE_FREED;
   *   TypeError ERR_INVALID_ARG_TYPE (map, options, or a returned value that is not a function);
   *   whatever `map` throws
   * @example
   * ```ts
   * const tick = base.timer(() => console.log('old'), { persist: true }).add(100);
   * base.rewire((ev) => (ev === tick ? () => console.log('new') : undefined)); // 1
   * ```
   */
  rewire(map: (ev: Event) => Callback | undefined, options: RewireOptions = {}): number {
    checkFunction(map, 'map');
    if (typeof options !== 'object' || options === null) throw typeError('ERR_INVALID_ARG_TYPE', 'rewire options must be an object');
    this.#check();
    if (options.strategy !== undefined && options.strategy !== 'inplace') {
      throw rangeError('ERR_UNKNOWN_STRATEGY', `base.rewire only rewrites in place; got strategy '${String(options.strategy)}'`);
    }
    const chosen: Event[] = [];
    const fns: Callback[] = [];
    for (const ev of this._allEvents()) {
      const fn = map(ev);
      if (fn === undefined) continue;
      checkFunction(fn, 'the callback returned by map');
      chosen.push(ev);
      fns.push(fn);
    }
    return this._rewireEvents(chosen, fns);
  }

  /**
   * @internal rewire() for a list already made: rewrites `chosen[k]` to `fns[k]` in place, all
   * or nothing (the addon checks every event belongs to this base and is live before writing
   * any). The update host plans its list during prepare and commits it with this, without a
   * second pass over the base and a lookup per event. `fns` must all be functions.
   */
  _rewireEvents(chosen: readonly Event[], fns: readonly Callback[]): number {
    this.#check();
    if (fns.length !== chosen.length) throw rangeError('ERR_OUT_OF_RANGE', 'events and callbacks differ in length');
    const handles = new Float64Array(chosen.length);
    const slots = new Uint32Array(chosen.length);
    const entries: SlotEntry[] = [];
    for (let k = 0; k < chosen.length; k++) {
      handles[k] = chosen[k]!._handle;
      entries.push(this._entryFor(fns[k]!));
      slots[k] = entries[k]!.slot;
    }
    try {
      binding.baseRewire(this.#handle, handles, slots);
    } catch (err) {
      for (const e of entries) releaseIfUnused(e);
      throw err;
    }
    for (let k = 0; k < chosen.length; k++) chosen[k]!._retarget(entries[k]!);
    return chosen.length;
  }

  /**
   * @internal The callback functions this base's live events run, each once (the update host
   * maps these, not every event). An event freed from inside its own callback is left out.
   */
  _callbacks(): Callback[] {
    this.#check();
    const out: Callback[] = [];
    for (const slot of binding.baseSlots(this.#handle)) {
      const fn = slotFunction(slot);
      if (fn !== undefined) out.push(fn);
    }
    return out;
  }

  /**
   * @internal Rewrites, in place, every live event of this base that runs a key of `map` to
   * run its value instead: one native call moves every event from the old function's slot to
   * the new one's, and no event is visited in JS. All or nothing, like rewire(). Returns the
   * number of events rewritten.
   */
  _rewireCallbacks(map: ReadonlyMap<Callback, Callback>): number {
    this.#check();
    const from: SlotEntry[] = [];
    const to: SlotEntry[] = [];
    for (const [oldFn, newFn] of map) {
      checkFunction(newFn, 'a replacement callback');
      const entry = this.#entries.get(oldFn);
      if (entry === undefined || entry.slot < 0 || entry.fn !== oldFn || oldFn === newFn) continue;
      from.push(entry);
      to.push(this._entryFor(newFn));
    }
    if (to.some((e) => from.includes(e))) {
      for (const e of to) releaseIfUnused(e);
      throw rangeError('ERR_OUT_OF_RANGE', 'a replacement callback is itself being replaced (swap the functions in two calls)');
    }
    const olds = Uint32Array.from(from, (e) => e.slot);
    const news = Uint32Array.from(to, (e) => e.slot);
    let moved: Uint32Array;
    try {
      moved = binding.baseRewireSlots(this.#handle, olds, news);
    } catch (err) {
      for (const e of to) releaseIfUnused(e);
      throw err;
    }
    let total = 0;
    for (let k = 0; k < from.length; k++) {
      this.#entries.delete(from[k]!.fn);
      moveSlot(from[k]!, to[k]!, moved[k]!);
      total += moved[k]!;
    }
    return total;
  }

  /**
   * @internal Per callback function this base's live events run: how many events run it, how
   * many of those are marked host-owned (binding.eventSetHostOwned), and the fd and EV bits of
   * one of them (for messages). One pass in the addon over its records; no event is visited in
   * JS, so it costs the same for 10 events or 100k on a handful of callbacks. Events whose JS
   * object was collected (never to fire again, their records about to be released) are left out.
   */
  _callbackCensus(): CallbackCensus[] {
    this.#check();
    const words = binding.baseSlotCensus(this.#handle);
    const out: CallbackCensus[] = [];
    for (let k = 0; k + 4 < words.length; k += 5) {
      const fn = slotFunction(words[k]!);
      if (fn !== undefined) out.push({ fn, events: words[k + 1]!, owned: words[k + 2]!, fd: words[k + 3]!, what: words[k + 4]! });
    }
    return out;
  }

  /** @internal Where events made from now on start (for _eventsSince): a number, O(1). */
  _eventMark(): number {
    return binding.eventMark();
  }

  /** @internal Marks `ev` (an event of this base) as the update host's own, for _callbackCensus(). */
  _setHostOwned(ev: Event): void {
    this.#check();
    if (ev.base !== this) throw rangeError('ERR_OUT_OF_RANGE', 'the event belongs to another base');
    if (!ev.freed) binding.eventSetHostOwned(ev._handle, true);
  }

  /**
   * @internal The events of this base made after `mark` (a value of binding.eventMark()) and
   * not yet freed: what a rolled-back update frees. Only those events are visited.
   */
  _eventsSince(mark: number): Event[] {
    this.#check();
    const out: Event[] = [];
    for (const i of binding.baseEventsSince(this.#handle, mark)) {
      const ev = live[i] ?? weakEvents[i]?.deref();
      if (ev !== undefined) out.push(ev);
    }
    return out;
  }

  /** @internal every event of this base not yet freed, pending or not (idle ones if still referenced). */
  _allEvents(): Event[] {
    this.#check();
    const out: Event[] = [];
    for (const i of binding.baseAllEvents(this.#handle)) {
      const ev = live[i] ?? weakEvents[i]?.deref();
      if (ev !== undefined) out.push(ev); // undefined: collected, its record is about to be released
    }
    return out;
  }

  /**
   * Frees the base and all its events. From inside one of its callbacks the loop stops first
   * and the memory goes when it returns. Every later call throws ERR_BASE_FREED.
   *
   * @throws Error ERR_BASE_FREED (freed already)
   */
  free(): void {
    this.#check();
    binding.baseFree(this.#handle);
    this.#freed = true;
    for (const ev of live) if (ev !== undefined && ev.base === this) ev._baseFreed();
  }

  /** free() unless already freed, for `using base = new EventBase()`. */
  [Symbol.dispose](): void {
    if (!this.#freed) this.free();
  }

  #check(): void {
    if (this.#freed) throw stateError('ERR_BASE_FREED', 'the event base has been freed');
  }
}
