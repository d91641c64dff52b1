// The `ctx` a version's main(ctx) receives: state, named handlers, update points, and the
// host's event base. One context per loaded version; the host keeps only the current one.
import { type Callback, COUNT, EV, type EventBase, EVLOOP, io } from '../loop/index.js';
import type { DeliveryPolicy, Mainloop } from '../mainloop/index.js';
import { defineMessage } from '../pubsub/index.js';
import { defineSubsystem, type SubsystemDef } from '../subsys/index.js';
import { describeThrown, UpdateError } from './errors.js';
import type { Handler } from './rebind-buffered.js';

/** The libevent API handed to versions (CommonJS versions cannot import this ESM package on Node 20). */
export const versionLib = Object.freeze({ EV, EVLOOP, COUNT, io, defineMessage, defineSubsystem });

export interface StateOptions<T> {
  /** Turns the previous version's value into this version's (return a new object; do not mutate `old`). */
  transform?: (old: any, fromVersion: string) => T;
  /** false: re-initialize from this version's code on update (e.g. constant tables). */
  migrate?: boolean;
}

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
  fromVersion: string;
  point: string;
  store: ReadonlyMap<string, unknown>;
}

/** What a version's main(ctx) gets. */
export interface VersionContext {
  readonly base: EventBase;
  readonly lib: typeof versionLib;
  readonly version: string;
  readonly fromVersion: string | undefined;
  isUpdating(): boolean;
  isUpdatingFrom(point: string): boolean;
  state<T>(key: string, init: (() => T) | undefined, options?: StateOptions<T>): T;
  retire(key: string): void;
  /** Names this version's callbacks (events, bufferevents, listeners) so an update can rebind them. */
  handlers<H extends Record<string, Handler>>(handlers: H): H;
  updatePoint(name: string): void;
  subsystems(list: readonly SubsystemDef[], options?: SubsystemsOptions): void;
  readonly mainloop: Mainloop;
}

export interface ContextHost {
  readonly base: EventBase;
  readonly mainloop: Mainloop | undefined;
  reachPoint(name: string): void;
}

export class UpdateContext implements VersionContext {
  readonly lib = versionLib;
  readonly store = new Map<string, unknown>();
  readonly declared = new Set<string>();
  readonly retired = new Set<string>();
  readonly handlerByName = new Map<string, Callback>();
  readonly nameOfHandler = new Map<Callback, string>();
  /** What subsystems(list) declared, if anything. */
  subsystemsDecl: { list: readonly SubsystemDef[]; options: SubsystemsOptions } | undefined;
  /** ms spent in transforms (reported as the migrate phase). */
  migrateMs = 0;
  #carried: Carried | undefined;
  #host: ContextHost;
  #retiredContext = false;

  constructor(host: ContextHost, readonly version: string, carried?: Carried) {
    this.#host = host;
    this.#carried = carried;
  }

  get base(): EventBase {
    this.#live();
    return this.#host.base;
  }

  get fromVersion(): string | undefined {
    return this.#carried?.fromVersion;
  }

  isUpdating(): boolean {
    return this.#carried !== undefined;
  }

  isUpdatingFrom(point: string): boolean {
    return this.#carried?.point === point;
  }

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

  retire(key: string): void {
    this.#live();
    this.retired.add(key);
  }

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

  updatePoint(name: string): void {
    this.#live();
    this.#host.reachPoint(name);
  }

  /**
   * Declares this version's Tor-style subsystems. The host builds publish-subscribe from them
   * (checked at finalize) and delivers on its event base; on update it rebuilds it from the new
   * version's list and carries the messages still queued into it.
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

  /** Old items neither declared nor retired by this version (the update must be refused). */
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
