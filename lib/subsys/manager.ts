import { PubsubBuilder, PubsubConfigError, type Pubsub, type PubsubBuilderOptions } from '../pubsub/index.js';
import { MAX_LEVEL, MIN_LEVEL, SubsystemError, validateSubsystem, type Subsystem, type SubsystemDef } from './subsystem.js';

/** Options of `new SubsystemManager()`. */
export interface SubsystemManagerOptions {
  /**
   * Sort the list by level (stable, so equal levels keep their order). By default the list must
   * already be in non-decreasing level order, and a subsystem out of place is an error.
   */
  readonly sort?: boolean | undefined;
}

/**
 * Runs a fixed list of subsystems through their life: initialization from low to high level,
 * publish–subscribe registration in the same order, shutdown from high to low. Unsupported
 * subsystems are skipped throughout. Everything can be done up to (or down to) a level, and a
 * shut-down subsystem can be initialized again.
 */
export class SubsystemManager {
  /** The validated list, in level order. */
  readonly subsystems: readonly Subsystem[];
  readonly #initialized: boolean[];

  /**
   * @param list - the subsystem definitions, in level order (or pass `sort: true`)
   * @param options - `sort`
   * @throws SubsystemError ERR_SUBSYSTEM_INVALID (a bad definition, a duplicate name, out of order)
   */
  constructor(list: readonly SubsystemDef[], options: SubsystemManagerOptions = {}) {
    const subs: Subsystem[] = list.map((def, i) => {
      validateSubsystem(def, i);
      return Object.freeze({ ...def, supported: def.supported !== false });
    });
    const seen = new Map<string, number>();
    subs.forEach((s, i) => {
      const first = seen.get(s.name);
      if (first !== undefined) {
        throw new SubsystemError(`Subsystem "${s.name}" (at #${i}) has the same name as the subsystem at #${first}.`, s.name);
      }
      seen.set(s.name, i);
    });
    if (options.sort === true) {
      subs.sort((a, b) => a.level - b.level); // Array.prototype.sort is stable
    } else {
      for (let i = 1; i < subs.length; i++) {
        const s = subs[i]!;
        const prev = subs[i - 1]!;
        if (s.level < prev.level) {
          throw new SubsystemError(
            `Subsystem "${s.name}" (at #${i}) is in the wrong position: its level is ${s.level}, ` +
              `but the previous subsystem ("${prev.name}") has level ${prev.level}. Sort the list by level or pass { sort: true }.`,
            s.name,
          );
        }
      }
    }
    this.subsystems = Object.freeze(subs);
    this.#initialized = subs.map(() => false);
  }

  /**
   * Whether the named subsystem is initialized (and not shut down since).
   *
   * @param name - a subsystem name
   * @returns true when initialized
   */
  isInitialized(name: string): boolean {
    const i = this.subsystems.findIndex((s) => s.name === name);
    return i >= 0 && this.#initialized[i]!;
  }

  /**
   * The initialized subsystems.
   *
   * @returns their names, in list order
   */
  initializedNames(): string[] {
    return this.subsystems.filter((_, i) => this.#initialized[i]).map((s) => s.name);
  }

  /**
   * Initializes every supported subsystem not initialized yet.
   *
   * @throws SubsystemError ERR_SUBSYSTEM_INIT (the cause is what `initialize` threw)
   */
  init(): void {
    this.initUpTo(MAX_LEVEL);
  }

  /**
   * Initializes, from low to high level, the supported subsystems with level ≤ `level` that are
   * not initialized yet. A throwing `initialize` stops it with a SubsystemError naming the
   * subsystem (the error it threw is the `cause`); that subsystem is not marked initialized.
   *
   * @param level - MIN_LEVEL … MAX_LEVEL
   * @throws SubsystemError ERR_SUBSYSTEM_INIT; RangeError ERR_OUT_OF_RANGE
   */
  initUpTo(level: number): void {
    checkLevel(level);
    this.subsystems.forEach((s, i) => {
      if (!s.supported || s.level > level || this.#initialized[i]) return;
      try {
        s.initialize?.();
      } catch (err) {
        throw new SubsystemError(`Subsystem "${s.name}" (at #${i}, level ${s.level}) failed to initialize.`, s.name, { cause: err, code: 'ERR_SUBSYSTEM_INIT' });
      }
      this.#initialized[i] = true;
    });
  }

  /**
   * Lets the initialized, supported subsystems with level ≤ `upTo` register with `builder`, in
   * list order, each through a connector for its own name. A registration the builder refuses
   * (a PubsubConfigError) does not stop the others, so that `finalize` can report every
   * problem at once; any other error is fatal and names the subsystem.
   *
   * @param builder - the builder to register with
   * @param upTo - the highest level to include (default MAX_LEVEL)
   * @throws SubsystemError ERR_SUBSYSTEM_PUBSUB; RangeError ERR_OUT_OF_RANGE; Error ERR_PUBSUB_FINALIZED
   */
  addPubsub(builder: PubsubBuilder, upTo: number = MAX_LEVEL): void {
    checkLevel(upTo);
    this.subsystems.forEach((s, i) => {
      if (!s.supported || s.level > upTo || !this.#initialized[i] || s.addPubsub === undefined) return;
      const con = builder.connector(s.name);
      try {
        s.addPubsub(con);
      } catch (err) {
        if (err instanceof PubsubConfigError) return;
        throw new SubsystemError(
          `Subsystem "${s.name}" (at #${i}, level ${s.level}) could not connect to publish-subscribe.`,
          s.name,
          { cause: err, code: 'ERR_SUBSYSTEM_PUBSUB' },
        );
      }
    });
  }

  /**
   * A new builder with every initialized subsystem's registrations, finalized. Throws the
   * PubsubConfigError of `finalize` when the configuration is wrong.
   *
   * @param options - for the builder
   * @returns the finalized publish–subscribe system
   * @throws PubsubConfigError ERR_PUBSUB_CONFIG; SubsystemError ERR_SUBSYSTEM_PUBSUB
   */
  buildPubsub(options?: PubsubBuilderOptions): Pubsub {
    const builder = new PubsubBuilder(options);
    this.addPubsub(builder);
    return builder.finalize();
  }

  /**
   * Shuts down every initialized subsystem, from high to low level.
   *
   * @throws SubsystemError ERR_SUBSYSTEM_SHUTDOWN, or an AggregateError of several
   */
  shutdown(): void {
    this.shutdownDownTo(MIN_LEVEL - 1);
  }

  /**
   * Shuts down, from high to low level, the initialized subsystems with level > `level`. Each
   * is marked not initialized even if its `shutdown` throws; errors are collected and thrown
   * once all of them ran (a SubsystemError, or an AggregateError of them).
   *
   * @param level - MIN_LEVEL - 1 (all) … MAX_LEVEL
   * @throws SubsystemError ERR_SUBSYSTEM_SHUTDOWN, AggregateError; RangeError ERR_OUT_OF_RANGE
   */
  shutdownDownTo(level: number): void {
    if (!Number.isInteger(level) || level < MIN_LEVEL - 1 || level > MAX_LEVEL) {
      throw Object.assign(new RangeError(`Cannot shut down to level ${level}: use an integer from ${MIN_LEVEL - 1} to ${MAX_LEVEL}.`), { code: 'ERR_OUT_OF_RANGE' });
    }
    const errors: SubsystemError[] = [];
    for (let i = this.subsystems.length - 1; i >= 0; i--) {
      const s = this.subsystems[i]!;
      if (s.level <= level) break;
      if (!s.supported || !this.#initialized[i]) continue;
      this.#initialized[i] = false;
      try {
        s.shutdown?.();
      } catch (err) {
        errors.push(new SubsystemError(`Subsystem "${s.name}" (at #${i}, level ${s.level}) failed to shut down.`, s.name, { cause: err, code: 'ERR_SUBSYSTEM_SHUTDOWN' }));
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `${errors.length} subsystems failed to shut down.`);
  }
}

function checkLevel(level: number): void {
  if (!Number.isInteger(level) || level < MIN_LEVEL || level > MAX_LEVEL) {
    throw Object.assign(new RangeError(`Level ${level} is out of range: use an integer from ${MIN_LEVEL} to ${MAX_LEVEL}.`), { code: 'ERR_OUT_OF_RANGE' });
  }
}
