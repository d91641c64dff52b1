// Why an update was refused or failed, and in which phase.

/** Where an update stopped: the request, waiting for the point, or one of the prepare/commit steps. */
export type UpdatePhase = 'request' | 'quiesce' | 'load' | 'init' | 'migrate' | 'rewire' | 'pubsub' | 'commit';

/**
 * Why an update (or start) was refused or failed: `code` (see the README's error codes) and
 * the `phase` it stopped in; `cause` is what a version threw, if anything.
 */
export class UpdateError extends Error {
  /** Always 'UpdateError'. */
  override readonly name = 'UpdateError';
  /**
   * @param code - e.g. ERR_VERSION_LOAD
   * @param phase - where it stopped
   * @param message - what happened
   * @param options - `cause`
   */
  constructor(
    /** The error code, e.g. ERR_VERSION_LOAD. */
    readonly code: string,
    /** Where it stopped. */
    readonly phase: UpdatePhase,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Thrown by ctx.updatePoint() inside a callback when an update is due: like Kitsune's longjmp
 * back to the driver, it unwinds the old code's stack to the host's loop, which then updates.
 * Do not catch it (or rethrow it if you must catch everything).
 */
export class UpdateUnwind extends Error {
  /** Always 'UpdateUnwind'. */
  override readonly name = 'UpdateUnwind';
  /** Always `'ERR_UPDATE_UNWIND'`. */
  readonly code = 'ERR_UPDATE_UNWIND';
  /** @param point - the update point's name */
  constructor(
    /** The update point's name. */
    readonly point: string,
  ) {
    super(`unwinding to update point '${point}'`);
  }
}

/**
 * A message for any thrown value, safely: a version may throw null-prototype objects, objects
 * whose `message` getter throws, revoked proxies or symbols, and none of them may break the
 * report of the failure.
 */
export function describeThrown(value: unknown): string {
  try {
    if (typeof value === 'string') return value;
    if (typeof value === 'symbol') return value.toString();
    if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return String(value);
    const message = (value as { message?: unknown }).message;
    if (typeof message === 'string') return message;
    const text = String(value);
    return typeof text === 'string' ? text : 'a value that cannot be described';
  } catch {
    return `a thrown ${typeof value} that cannot be described`;
  }
}

/** `value instanceof UpdateError`, for values (a revoked proxy) on which instanceof itself throws. */
export function isUpdateError(value: unknown): value is UpdateError {
  try {
    return value instanceof UpdateError;
  } catch {
    return false;
  }
}

/** A string `code` property of a thrown value, if it has one and reading it does not throw. */
export function codeOf(value: unknown): string | undefined {
  try {
    const code = (value as { code?: unknown } | null)?.code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}
