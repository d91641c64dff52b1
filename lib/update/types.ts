// The update host's public types and the small records its phases hand to each other.
import type { EventBase } from '../loop/index.js';
import type { UpdateContext, VersionContext } from './context.js';
import type { UpdatePhase } from './errors.js';

/**
 * How an update rebinds live events: 'inplace' rewrites each struct event (the default, and
 * the only one that keeps timeouts, persistence and queued activations exactly); 'rebase',
 * 'reinit' and 'readd' are the public-API strategies kept for comparison.
 */
export type Strategy = 'inplace' | 'rebase' | 'reinit' | 'readd';
export const STRATEGIES: readonly Strategy[] = ['inplace', 'rebase', 'reinit', 'readd'];

/** What a version's CommonJS module exports (see defineVersion). */
export interface VersionModule {
  /** A name for the version, e.g. 'v2' (reports and `status` show it). */
  version: string;
  /**
   * Runs at a fresh start (may be async) and at every update to this version (must finish
   * synchronously then, or ERR_ASYNC_MAIN).
   *
   * @returns nothing, or a promise (awaited at a fresh start only)
   */
  main(
    /** The version's context: base, state, handlers, update points. */
    ctx: VersionContext,
  ): void | Promise<void>;
  /** Handler renames from the previous version: { oldName: newName }. */
  renames?: Record<string, string>;
}

/** The result of one update (or dry run), ok or not; what requestUpdate resolves with. */
export interface UpdateReport {
  /** True when the update went through (a dry run: when it would). */
  ok: boolean;
  /** The version that ran before. */
  from: string;
  /** The version asked for ('' if it never loaded). */
  to: string;
  /** The strategy used. */
  strategy: Strategy;
  /** The update point where it happened ('loop' = between loop iterations). */
  point: string;
  /** Why it was refused or failed; the running version is untouched then. */
  error?: {
    /** The error code, e.g. ERR_VERSION_INIT. */
    code: string;
    /** Where it stopped. */
    phase: UpdatePhase;
    /** What happened. */
    message: string;
  };
  /** Update point reached → loop resumes, ms. */
  pauseMs: number;
  /**
   * How much of the pause the host's thread spent waiting on the kernel's run queue (ready but
   * preempted, another process on the CPU), ms, from /proc/thread-self/schedstat read at the
   * update point and when the pause ends. A large share means the machine was busy, not the
   * update slow. Absent where the kernel gives no such figure (not Linux), and on updates that
   * did not happen.
   */
  runQueueWaitMs?: number;
  /** ms per phase. */
  phases: {
    /** Waiting for the update point. */
    quiesce: number;
    /** Loading the new code (outside the pause). */
    load: number;
    /** The new version's main(ctx). */
    init: number;
    /** State transforms. */
    migrate: number;
    /** Planning and writing the event rebinds. */
    rewire: number;
    /** Swapping versions. */
    commit: number;
  };
  /** Live events rebound to the new version's handlers. */
  eventsRewired: number;
  /** State items the new version holds. */
  stateItems: number;
  /** Messages still queued in the old dispatcher and delivered by the new one. */
  messagesCarried: number;
  /** Names of queued messages the new version no longer has (disposed, not delivered). */
  messagesDropped: string[];
  /** Which handlers the live events were (or, in a dry run, would be) rebound from and to, and how many events each. */
  handlers?: {
    /** The old handler name. */
    from: string;
    /** The new handler name. */
    to: string;
    /** Live events rebound from one to the other. */
    events: number;
  }[];
  /** A dry run: prepared fully, then rolled back; the running version is untouched. */
  dryRun?: boolean;
}

/** What `host.status()` (and `node-libevent status <pid>`) tells about a running host. */
export interface UpdateHostStatus {
  /** The running version, or undefined before start() and after close(). */
  version: string | undefined;
  /** The host's process id. */
  pid: number;
  /** When the first version started (ms since the epoch), and ms since then. */
  startedAt: number | undefined;
  /** ms since startedAt (0 before start). */
  uptimeMs: number;
  /** Updates that went through, and those refused or failed (dry runs are not counted). */
  updates: number;
  /** Updates refused or failed. */
  failedUpdates: number;
  /** The last update's report (not a dry run's). */
  lastReport: UpdateReport | undefined;
  /** Update points reached so far. */
  pointsReached: number;
  /** The host's default strategy. */
  strategy: Strategy;
  /** Where versions are loaded from. */
  versionsDir: string;
}

/** Options of `new UpdateHost()`. */
export interface UpdateHostOptions {
  /** The event base the host owns and runs. */
  base: EventBase;
  /** Versions are loaded only from here (after resolving symlinks). */
  versionsDir: string;
  /** How live events are rebound: 'inplace' (default) or one of the comparison strategies. */
  strategy?: Strategy;
  /** Receives one line per update phase. */
  log?: (line: string) => void;
  /**
   * Compile every function of a version when it loads (when the update is asked for, outside
   * the pause) instead of at each function's first call, which for the new main, what it calls
   * and the handlers is inside the pause. Default true; false keeps V8's lazy compilation
   * (less memory for large versions whose code mostly never runs).
   */
  eagerCompile?: boolean;
  /**
   * At the update point, sleep briefly (about 50 µs) before the pause starts, so that the pause
   * begins on a fresh scheduler time slice: on a busy machine a service that has been running
   * for a while is otherwise likely to be preempted by the kernel in the middle of the pause,
   * stretching it by other processes' time slices. It moves that preemption before the pause;
   * it adds no work. Default true; false when the service has a core to itself.
   */
  yieldBeforePause?: boolean;
}

/** The version that runs now. */
export interface Running {
  module: VersionModule;
  ctx: UpdateContext;
}

/** An update asked for and not yet taken. */
export interface UpdateRequest {
  file: string;
  strategy: Strategy;
  requestedAt: number;
  /** Prepare, report, then roll back instead of committing. */
  dryRun?: boolean;
  /** The version, loaded when the update was asked for (outside the pause). */
  loaded?: import('./prepare.js').Loaded;
  resolve: (r: UpdateReport) => void;
  /** The request could not be taken at all (the host closed while it waited). */
  reject: (err: Error & { code: string }) => void;
}

/**
 * The host's request entry with a plain callback instead of a promise, for the control server:
 * its reply must not wait for a microtask checkpoint, which an exclusive dispatch() never reaches.
 */
export const kRequestUpdate = Symbol('node-libevent.requestUpdate');

export type Phases = UpdateReport['phases'];

export function emptyPhases(): Phases {
  return { quiesce: 0, load: 0, init: 0, migrate: 0, rewire: 0, commit: 0 };
}
