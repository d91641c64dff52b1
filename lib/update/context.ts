// The `ctx` a version's main(ctx) receives: state, named handlers, update points, and the
// host's event base. One context per loaded version; the host keeps only the current one.
import { type Callback, COUNT, EV, type EventBase, EVLOOP, io } from '../loop/index.js';
import type { DeliveryPolicy, Mainloop } from '../mainloop/index.js';
import { defineMessage } from '../pubsub/index.js';
import { defineSubsystem, type SubsystemDef } from '../subsys/index.js';
import { describeThrown, UpdateError } from './errors.js';
import type { Handler } from './rebind-buffered.js';

/** The libevent API handed to versions (CommonJS versions cannot import this ESM package on Node 20). */
export const versionLib = Object.freeze({
  EV,
  EVLOOP,
  COUNT,
  io,
  /** See defineMessage of node-libevent/pubsub. */
  defineMessage,
  /** See defineSubsystem of node-libevent/subsys. */
  defineSubsystem,
});

/** Options of ctx.state(). */
export interface StateOptions<T> {
  /** Turns the previous version's value into this version's (return a new object; do not mutate `old`). */
  transform?: (old: any, fromVersion: string) => T;
  /** false: re-initialize from this version's code on update (e.g. constant tables). */
  migrate?: boolean;
}

/** Options of ctx.subsystems(). */
export interface SubsystemsOptions {
  /** Delivery policy per channel name (channels not named stay 'never'). */
  policies?: Record<string, DeliveryPolicy>;
  /**
   * Converts a queued message whose payload type changed since the previous version
   * (message name -> fn). Without one, such a message refuses the update.
   */
  messageTransforms?: Record<string, (payload: any, fromVersion: string) => unknown>;
}

/** The previous version's state as the new version's main sees it during an update. */
export interface Carried {
  /** The previous version's `version`. */
  fromVersion: string;
  /** The update point the update happened at. */
  point: string;
  /** The previous version's state items by key. */
  store: ReadonlyMap<string, unknown>;
}

/**
 * What a version's main(ctx) gets. Once the version is replaced, every call throws
 * UpdateError ERR_VERSION_RETIRED.
 */
export interface VersionContext {
  /** The host's event base (the host owns it and its fds). */
  readonly base: EventBase;
  /** EV, EVLOOP, COUNT, io, defineMessage and defineSubsystem, for CommonJS versions. */
  readonly lib: typeof versionLib;
  /** This version's `version`. */
  readonly version: string;
  /** During an update, the previous version's `version`; undefined at a fresh start. */
  readonly fromVersion: string | undefined;
  /**
   * Whether main runs for an update: create fds and events only when it does not.
   *
   * @returns true during an update, false at a fresh start
   */
  isUpdating(): boolean;
  /**
   * Whether main runs for an update taken at the update point `point`.
   *
   * @param point - an update point name ('loop' between loop iterations)
   * @returns true when updating from that point
   */
  isUpdatingFrom(point: string): boolean;
  /**
   * Declares a state item: fresh start, `init()`; update, the previous version's value
   * (through `transform` when given; `migrate: false` re-initializes).
   *
   * @param key - the item's name, stable across versions
   * @param init - makes the initial value (needed at a fresh start and for a new item)
   * @param options - `transform(old, fromVersion)`, `migrate`
   * @returns the value, to keep in a closure
   * @throws UpdateError ERR_STATE_KEY, ERR_STATE_DUPLICATE, ERR_STATE_NO_INIT, ERR_TRANSFORM, ERR_VERSION_RETIRED
   */
  state<T>(key: string, init: (() => T) | undefined, options?: StateOptions<T>): T;
  /**
   * Drops a previous version's state item on purpose (else the update is refused with ERR_STATE_UNDECLARED).
   *
   * @param key - the item's name
   * @throws UpdateError ERR_VERSION_RETIRED
   */
  retire(key: string): void;
  /**
   * Registers callbacks by name: on update, live events, bufferevents and listeners running the
   * old version's handler of a name are rebound to this version's handler of that name (or of
   * its `renames` entry).
   *
   * @param handlers - name → event callback (an untyped parameter is typed from context)
   * @returns the same object
   * @throws UpdateError ERR_HANDLER (not a function, or a name registered twice), ERR_VERSION_RETIRED
   */
  handlers<H extends Record<string, Callback>>(handlers: H): H;
  /**
   * The same, for a set that also names bufferevent read/write/event and listener accept/error
   * callbacks (annotate their parameters).
   *
   * @param handlers - name → callback (event, bufferevent read/write/event, listener accept/error)
   * @returns the same object
   * @throws UpdateError ERR_HANDLER (not a function, or a name registered twice), ERR_VERSION_RETIRED
   */
  handlers<H extends Record<string, Handler>>(handlers: H): H;
  /**
   * An explicit update point: a pending update happens here (from inside a callback, the stack
   * unwinds to the host loop first with an {@link UpdateUnwind}).
   *
   * @param name - the point's name (see isUpdatingFrom)
   * @throws UpdateUnwind ERR_UPDATE_UNWIND (let it pass); UpdateError ERR_VERSION_RETIRED
   */
  updatePoint(name: string): void;
  /**
   * Declares this version's Tor-style subsystems; the host builds publish–subscribe from them.
   *
   * @param list - subsystem definitions, in level order
   * @param options - delivery `policies` per channel, `messageTransforms` for queued messages
   * @throws UpdateError ERR_SUBSYSTEMS (twice, or not an array), ERR_VERSION_RETIRED
   */
  subsystems(list: readonly SubsystemDef[], options?: SubsystemsOptions): void;
  /** The host's mainloop, once subsystems are connected (else UpdateError ERR_NO_PUBSUB). */
  readonly mainloop: Mainloop;
}

export interface ContextHost {
  readonly base: EventBase;
  readonly mainloop: Mainloop | undefined;
  reachPoint(name: string): void;
}

/** The host's implementation of {@link VersionContext}, one per loaded version. */
export class UpdateContext implements VersionContext {
  /** See {@link VersionContext.lib}. */
  readonly lib = versionLib;
  /** State items declared so far, by key (what the next version gets). */
  readonly store = new Map<string, unknown>();
  /** Keys declared with state(). */
  readonly declared = new Set<string>();
  /** Keys retired with retire(). */
  readonly retired = new Set<string>();
  /** Registered handlers by name. */
  readonly handlerByName = new Map<string, Callback>();
  /** Names of the registered handlers. */
  readonly nameOfHandler = new Map<Callback, string>();
  /** What subsystems(list) declared, if anything. */
  subsystemsDecl:
    | {
        /** The subsystem definitions. */
        list: readonly SubsystemDef[];
        /** Their options. */
        options: SubsystemsOptions;
      }
    | undefined;
  /** ms spent in transforms (reported as the migrate phase). */
  migrateMs = 0;
  #carried: Carried | undefined;
  #host: ContextHost;
  #retiredContext = false;

  /**
   * @param host - the update host
   * @param version - the version's name
   * @param carried - the previous version's state, during an update
   */
  constructor(
    host: ContextHost,
    /** See {@link VersionContext.version}. */
    readonly version: string,
    carried?: Carried,
  ) {
    this.#host = host;
    this.#carried = carried;
  }

  /** See {@link VersionContext.base}. */
  get base(): EventBase {
    this.#live();
    return this.#host.base;
  }

  /** See {@link VersionContext.fromVersion}. */
  get fromVersion(): string | undefined {
    return this.#carried?.fromVersion;
  }

  /** {@inheritDoc VersionContext.isUpdating} */
  isUpdating(): boolean {
    return this.#carried !== undefined;
  }

  /** {@inheritDoc VersionContext.isUpdatingFrom} */
  isUpdatingFrom(point: string): boolean {
    return this.#carried?.point === point;
  }

  /** {@inheritDoc VersionContext.state} */
  state<T>(key: string, init: (() => T) | undefined, options: StateOptions<T> = {}): T {
    this.#live();
    if (typeof key !== 'string' || key === '') throw new UpdateError('ERR_STATE_KEY', 'init', 'state keys are non-empty strings');
    if (this.declared.has(key)) throw new UpdateError('ERR_STATE_DUPLICATE', 'init', `state '${key}' is declared twice`);
    this.declared.add(key);
    const carried = this.#carried;
    let value: T;
    if (carried && options.migrate !== false && carried.store.has(key)) {
      const old = carried.store.get(key);
      if (options.transform) {
        const t0 = performance.now();
        try {
          value = options.transform(old, carried.fromVersion);
        } catch (cause) {
          throw new UpdateError('ERR_TRANSFORM', 'migrate', `transform of state '${key}' from ${carried.fromVersion} threw: ${describeThrown(cause)}`, { cause });
        } finally {
          this.migrateMs += performance.now() - t0;
        }
      } else {
        value = old as T;
      }
    } else if (typeof init === 'function') {
      value = init();
    } else {
      throw new UpdateError(
        'ERR_STATE_NO_INIT',
        'migrate',
        carried
          ? `state '${key}' is new in ${this.version} (or not migrated) and has no initializer`
          : `state '${key}' has no initializer`,
      );
    }
    this.store.set(key, value);
    return value;
  }

  /** {@inheritDoc VersionContext.retire} */
  retire(key: string): void {
    this.#live();
    this.retired.add(key);
  }

  // Two overloads: event callbacks alone keep their parameters typed from context (an untyped
  // `ev` is an Event); a set with buffered callbacks takes the wider Handler union.
  /**
   * Registers event callbacks by name (see VersionContext.handlers).
   *
   * @param handlers - name → event callback
   * @returns the same object
   */
  handlers<H extends Record<string, Callback>>(handlers: H): H;
  /**
   * Registers event, bufferevent and listener callbacks by name (see VersionContext.handlers).
   *
   * @param handlers - name → callback
   * @returns the same object
   */
  handlers<H extends Record<string, Handler>>(handlers: H): H;
  handlers<H extends Record<string, Handler>>(handlers: H): H {
    this.#live();
    for (const [name, fn] of Object.entries(handlers)) {
      if (typeof fn !== 'function') throw new UpdateError('ERR_HANDLER', 'init', `handler '${name}' is not a function`);
      if (this.handlerByName.has(name)) throw new UpdateError('ERR_HANDLER', 'init', `handler '${name}' is registered twice`);
      // Kept by identity only: what a handler is bound to (event, bufferevent, listener) picks its type.
      this.handlerByName.set(name, fn as Callback);
      this.nameOfHandler.set(fn as Callback, name);
    }
    return handlers;
  }

  /** {@inheritDoc VersionContext.updatePoint} */
  updatePoint(name: string): void {
    this.#live();
    this.#host.reachPoint(name);
  }

  /**
   * Declares this version's Tor-style subsystems. The host builds publish-subscribe from them
   * (checked at finalize) and delivers on its event base; on update it rebuilds it from the new
   * version's list and carries the messages still queued into it.
   *
   * @param list - subsystem definitions, in level order
   * @param options - delivery `policies` per channel, `messageTransforms` for queued messages
   * @throws UpdateError ERR_SUBSYSTEMS (twice, or not an array), ERR_VERSION_RETIRED
   */
  subsystems(list: readonly SubsystemDef[], options: SubsystemsOptions = {}): void {
    this.#live();
    if (this.subsystemsDecl) throw new UpdateError('ERR_SUBSYSTEMS', 'init', 'subsystems() is called once per version');
    if (!Array.isArray(list)) throw new UpdateError('ERR_SUBSYSTEMS', 'init', 'subsystems() takes an array of subsystem definitions');
    this.subsystemsDecl = { list, options };
  }

  /** The host's publish-subscribe mainloop (after subsystems() and main returned). */
  get mainloop(): Mainloop {
    this.#live();
    const ml = this.#host.mainloop;
    if (!ml) throw new UpdateError('ERR_NO_PUBSUB', 'init', 'no subsystems are connected yet');
    return ml;
  }

  /**
   * Old items neither declared nor retired by this version (the update must be refused).
   *
   * @returns their keys
   */
  undeclaredOldItems(): string[] {
    const carried = this.#carried;
    if (!carried) return [];
    return [...carried.store.keys()].filter((k) => !this.declared.has(k) && !this.retired.has(k));
  }

  /** After commit: the new version no longer needs the old store. */
  dropCarried(): void {
    this.#carried = undefined;
  }

  /** The version was replaced (or its load rolled back): its calls now fail loudly. */
  retireContext(): void {
    this.#retiredContext = true;
    this.#carried = undefined;
  }

  #live(): void {
    if (this.#retiredContext) throw new UpdateError('ERR_VERSION_RETIRED', 'commit', `version ${this.version} is no longer running`);
  }
}
