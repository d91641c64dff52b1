// AbortSignal support for the loop layer, shaped like Node's own (timers/promises, events.once):
// a bad `signal` is an ERR_INVALID_ARG_TYPE TypeError, and an abort rejects with an AbortError
// (code 'ABORT_ERR') whose `cause` is `signal.reason`.
import { typeError } from './errors.js';

/**
 * The rejection of an operation cancelled through its AbortSignal. Like Node's own AbortError:
 * `name` is 'AbortError', `code` is 'ABORT_ERR', `cause` is the signal's `reason`.
 *
 * @example
 * ```ts
 * try {
 *   await base.sleep(1000, { signal });
 * } catch (err) {
 *   if (err instanceof AbortError) console.log('cancelled because', err.cause);
 * }
 * ```
 */
export class AbortError extends Error {
  /** Always `'ABORT_ERR'`, as Node's. */
  readonly code = 'ABORT_ERR';

  /**
   * @param message - defaults to Node's wording, 'The operation was aborted'
   * @param options - `cause`: the signal's reason
   */
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AbortError';
  }
}

/** @internal the AbortError for an aborted `signal`. */
export function abortError(signal: AbortSignal): AbortError {
  return new AbortError(undefined, { cause: signal.reason });
}

/**
 * @internal Checks an optional `signal` option as Node does (anything with an `aborted`
 * property and addEventListener passes, so signals of other realms work too).
 * @throws TypeError ERR_INVALID_ARG_TYPE when it is not an AbortSignal
 */
export function checkSignal(signal: unknown, name = 'options.signal'): asserts signal is AbortSignal | undefined {
  if (signal === undefined) return;
  if (
    typeof signal !== 'object' ||
    signal === null ||
    !('aborted' in signal) ||
    typeof (signal as { addEventListener?: unknown }).addEventListener !== 'function'
  ) {
    throw typeError('ERR_INVALID_ARG_TYPE', `${name} must be an AbortSignal, got ${signal === null ? 'null' : typeof signal}`);
  }
}

/** @internal Checks that `options` is undefined or an object. */
export function checkOptions(options: unknown, name = 'options'): asserts options is object | undefined {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw typeError('ERR_INVALID_ARG_TYPE', `${name} must be an object, got ${options === null ? 'null' : typeof options}`);
  }
}

/**
 * @internal Calls `onAbort` once when `signal` aborts; returns the function that stops
 * listening (call it when the operation settles, so a long-lived signal keeps no listener).
 */
export function listenAbort(signal: AbortSignal | undefined, onAbort: () => void): () => void {
  if (signal === undefined) return () => {};
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}
