// Why an update was refused or failed, and in which phase.
export type UpdatePhase = 'request' | 'quiesce' | 'load' | 'init' | 'migrate' | 'rewire' | 'pubsub' | 'commit';

export class UpdateError extends Error {
  override readonly name = 'UpdateError';
  constructor(
    readonly code: string,
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
  override readonly name = 'UpdateUnwind';
  constructor(readonly point: string) {
    super(`unwinding to update point '${point}'`);
  }
}
