// base.once() with cancellation, and the promise helpers built on it: base.sleep(),
// base.readable(), base.writable(). Each is one libevent event (a timer, or a one-shot
// EV_READ/EV_WRITE with an optional timeout), so it runs in the base's own loop, under run()
// as under dispatch(), and an abort frees that event at once: nothing is left pending.
import { abortError, checkOptions, checkSignal, listenAbort } from './abort.js';
import type { EventBase } from './base.js';
import { EV } from './constants.js';
import { checkFunction, rangeError, stateError, typeError } from './errors.js';

/** Options of base.once(). */
export interface OnceOptions {
  /** Fire with EV.TIMEOUT after this many ms if `fd` is not ready by then (fractional allowed). */
  timeoutMs?: number;
  /** Aborting it deletes and frees the event; the callback never runs. */
  signal?: AbortSignal;
}

/** Options of base.sleep(). */
export interface SleepOptions {
  /** Aborting it frees the timer and rejects with an AbortError. */
  signal?: AbortSignal;
}

/** Options of base.readable() and base.writable(). */
export interface WaitOptions {
  /** Aborting it frees the event and rejects with an AbortError. */
  signal?: AbortSignal;
  /** Reject with ERR_TIMEOUT if `fd` is not ready after this many ms (a libevent timeout). */
  timeoutMs?: number;
}

/** @internal base.once(): its arguments (a number or an options object in 4th place). */
export function onceOptions(timeoutOrOptions: unknown, options: unknown): { timeoutMs?: number; signal?: AbortSignal } {
  // An options object in 4th place (arrays and byte views are junk, refused as timeouts below).
  if (typeof timeoutOrOptions === 'object' && timeoutOrOptions !== null && !Array.isArray(timeoutOrOptions) && !ArrayBuffer.isView(timeoutOrOptions)) {
    if (options !== undefined) throw typeError('ERR_INVALID_ARG_TYPE', 'once() takes its options once: (fd, events, cb, options) or (fd, events, cb, timeoutMs, options)');
    options = timeoutOrOptions;
    timeoutOrOptions = (timeoutOrOptions as OnceOptions).timeoutMs;
  }
  checkOptions(options);
  const signal = (options as OnceOptions | undefined)?.signal;
  checkSignal(signal);
  if (timeoutOrOptions !== undefined && typeof timeoutOrOptions !== 'number') {
    throw typeError('ERR_INVALID_ARG_TYPE', `the timeout must be a number of milliseconds, got ${timeoutOrOptions === null ? 'null' : typeof timeoutOrOptions}`);
  }
  return { timeoutMs: timeoutOrOptions, signal };
}

/**
 * @internal The body of base.once(). Returns false when `signal` was already aborted (then
 * nothing was scheduled, as addEventListener ignores an aborted signal). `onAbort` runs after
 * an abort freed the event.
 */
export function scheduleOnce(
  base: EventBase,
  fd: number,
  events: number,
  callback: (fd: number, what: number) => void,
  timeoutMs: number | undefined,
  signal: AbortSignal | undefined,
  onAbort?: () => void,
): boolean {
  checkFunction(callback, 'callback');
  if (typeof events !== 'number' || !Number.isInteger(events) || events < 0 || events > 0xff || events & ~(EV.TIMEOUT | EV.READ | EV.WRITE | EV.CLOSED)) {
    throw rangeError('ERR_INVALID_EVENTS', 'once() takes only TIMEOUT, READ, WRITE and CLOSED (no SIGNAL, PERSIST or ET)');
  }
  const io = events & (EV.READ | EV.WRITE | EV.CLOSED);
  if (!io && fd !== -1) throw rangeError('ERR_OUT_OF_RANGE', 'a pure timer once() takes fd -1');
  let stopListening = (): void => {};
  const ev = base.event(fd, io, (f, what, self) => {
    stopListening();
    self.free();
    callback(f, what);
  });
  try {
    if (io || (timeoutMs !== undefined && timeoutMs !== 0)) ev.add(timeoutMs);
    else ev.active(EV.TIMEOUT);
  } catch (err) {
    ev.free();
    throw err;
  }
  // Checked after add() so that bad arguments are reported even with an aborted signal.
  if (signal?.aborted) {
    ev.free();
    return false;
  }
  stopListening = listenAbort(signal, () => {
    if (ev.freed) return; // the base was freed with it
    ev.free();
    onAbort?.();
  });
  return true;
}

/** @internal base.sleep(). */
export function sleep(base: EventBase, ms: number, options?: SleepOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (base.freed) throw stateError('ERR_BASE_FREED', 'the event base has been freed');
    if (typeof ms !== 'number') throw typeError('ERR_INVALID_ARG_TYPE', `ms must be a number of milliseconds, got ${ms === null ? 'null' : typeof ms}`);
    checkOptions(options);
    const signal = options?.signal;
    checkSignal(signal);
    const scheduled = scheduleOnce(base, -1, EV.TIMEOUT, () => resolve(), ms, signal, () => reject(abortError(signal!)));
    if (!scheduled) reject(abortError(signal!));
  });
}

/** @internal base.readable() / base.writable(). */
export function waitFor(base: EventBase, fd: number, what: typeof EV.READ | typeof EV.WRITE, options?: WaitOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (base.freed) throw stateError('ERR_BASE_FREED', 'the event base has been freed');
    checkOptions(options);
    const signal = options?.signal;
    checkSignal(signal);
    const timeoutMs = options?.timeoutMs;
    if (timeoutMs !== undefined && typeof timeoutMs !== 'number') {
      throw typeError('ERR_INVALID_ARG_TYPE', `options.timeoutMs must be a number of milliseconds, got ${timeoutMs === null ? 'null' : typeof timeoutMs}`);
    }
    const word = what === EV.READ ? 'readable' : 'writable';
    const done = (_fd: number, fired: number): void => {
      if (fired & what) resolve();
      else reject(stateError('ERR_TIMEOUT', `fd ${fd} was not ${word} within ${timeoutMs} ms`));
    };
    const scheduled = scheduleOnce(base, fd, what, done, timeoutMs, signal, () => reject(abortError(signal!)));
    if (!scheduled) reject(abortError(signal!));
  });
}
