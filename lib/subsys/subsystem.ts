import type { Connector } from '../pubsub/index.js';

/** Lowest subsystem level. */
export const MIN_LEVEL = -100;
/** Highest subsystem level. */
export const MAX_LEVEL = 100;
/** Libraries should stay at or below this level, so the program's own subsystems come after them. */
export const LIBS_LEVEL = -10;

/** What a subsystem provides. Every callback is optional. */
export interface SubsystemDef {
  /** Unique name; it is also the subsystem's name in publish–subscribe. */
  readonly name: string;
  /** An integer in MIN_LEVEL … MAX_LEVEL: initialized low to high, shut down high to low. */
  readonly level: number;
  /** False for a subsystem that is compiled in but not available here: it is skipped. Default true. */
  readonly supported?: boolean | undefined;
  /** Set up what does not depend on configuration. Throwing is fatal. */
  readonly initialize?: (() => void) | undefined;
  /** Undo `initialize` so that it could run again. */
  readonly shutdown?: (() => void) | undefined;
  /** Register publishers, subscribers and types. */
  readonly addPubsub?: ((con: Connector) => void) | undefined;
}

/** A validated, frozen subsystem definition. */
export interface Subsystem extends SubsystemDef {
  readonly supported: boolean;
}

/** What went wrong with a subsystem: {@link SubsystemError.code}. */
export type SubsystemErrorCode =
  | 'ERR_SUBSYSTEM_INVALID' // a bad definition or list (name, level, order, duplicate, callbacks)
  | 'ERR_SUBSYSTEM_INIT' // initialize() threw (the cause)
  | 'ERR_SUBSYSTEM_PUBSUB' // addPubsub() threw something other than a PubsubConfigError
  | 'ERR_SUBSYSTEM_SHUTDOWN'; // shutdown() threw (the cause)

/** Misuse or failure of a subsystem; `subsystem` names it when there is one. */
export class SubsystemError extends Error {
  /** Always 'SubsystemError'. */
  override readonly name = 'SubsystemError';
  /** Which kind of failure; a callback's own error is the `cause`. */
  readonly code: SubsystemErrorCode;
  /**
   * @param message - what happened, naming the subsystem and its position
   * @param subsystem - the subsystem's name, or null when it has none
   * @param options - `cause`, and `code` (default `'ERR_SUBSYSTEM_INVALID'`)
   */
  constructor(
    message: string,
    /** The subsystem concerned, or null when it has no name. */
    readonly subsystem: string | null,
    options?: ErrorOptions & { code?: SubsystemErrorCode },
  ) {
    super(message, options);
    this.code = options?.code ?? 'ERR_SUBSYSTEM_INVALID';
  }
}

/**
 * Validates and freezes a subsystem definition.
 *
 * @param def - name, level and the optional callbacks
 * @returns the frozen subsystem (`supported` filled in)
 * @throws SubsystemError ERR_SUBSYSTEM_INVALID (no name, a level outside MIN_LEVEL…MAX_LEVEL,
 *   a callback that is not a function)
 * @example
 * ```ts
 * const logger = defineSubsystem({ name: 'log', level: -50, initialize: () => console.log('log up') });
 * ```
 */
export function defineSubsystem(def: SubsystemDef): Subsystem {
  validateSubsystem(def, null);
  return Object.freeze({
    name: def.name,
    level: def.level,
    supported: def.supported !== false,
    initialize: def.initialize,
    shutdown: def.shutdown,
    addPubsub: def.addPubsub,
  });
}

/** @internal */
export function validateSubsystem(def: SubsystemDef, position: number | null): void {
  const at = position === null ? '' : ` (at #${position})`;
  if (def === null || typeof def !== 'object') throw new SubsystemError(`Subsystem${at} is not an object.`, null);
  if (typeof def.name !== 'string' || def.name.length === 0) {
    throw new SubsystemError(`Subsystem${at} has no name; a name must be a non-empty string.`, null);
  }
  if (!Number.isInteger(def.level) || def.level < MIN_LEVEL || def.level > MAX_LEVEL) {
    throw new SubsystemError(
      `Subsystem "${def.name}"${at} has an invalid level ${String(def.level)}; ` +
        `levels are integers from ${MIN_LEVEL} to ${MAX_LEVEL} (inclusive).`,
      def.name,
    );
  }
  for (const fn of ['initialize', 'shutdown', 'addPubsub'] as const) {
    if (def[fn] !== undefined && typeof def[fn] !== 'function') {
      throw new SubsystemError(`Subsystem "${def.name}"${at}: ${fn} must be a function.`, def.name);
    }
  }
}
