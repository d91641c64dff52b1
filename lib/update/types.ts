// The update host's public types and the small records its phases hand to each other.
import type { EventBase } from '../loop/index.js';
import type { UpdateContext, VersionContext } from './context.js';
import type { UpdatePhase } from './errors.js';

export type Strategy = 'inplace' | 'rebase' | 'reinit' | 'readd';
export const STRATEGIES: readonly Strategy[] = ['inplace', 'rebase', 'reinit', 'readd'];

export interface VersionModule {
  version: string;
  main(ctx: VersionContext): void | Promise<void>;
  /** Handler renames from the previous version: { oldName: newName }. */
  renames?: Record<string, string>;
}

export interface UpdateReport {
  ok: boolean;
  from: string;
  to: string;
  strategy: Strategy;
  /** The update point where it happened ('loop' = between loop iterations). */
  point: string;
  error?: { code: string; phase: UpdatePhase; message: string };
  /** Update point reached → loop resumes, ms. */
  pauseMs: number;
  phases: { quiesce: number; load: number; init: number; migrate: number; rewire: number; commit: number };
  eventsRewired: number;
  stateItems: number;
  /** Messages still queued in the old dispatcher and delivered by the new one. */
  messagesCarried: number;
  /** Names of queued messages the new version no longer has (disposed, not delivered). */
  messagesDropped: string[];
  /** Which handlers the live events were (or, in a dry run, would be) rebound from and to, and how many events each. */
  handlers?: { from: string; to: string; events: number }[];
  /** A dry run: prepared fully, then rolled back; the running version is untouched. */
  dryRun?: boolean;
}

/** What `host.status()` (and `node-libevent status <pid>`) tells about a running host. */
export interface UpdateHostStatus {
  /** The running version, or undefined before start() and after close(). */
  version: string | undefined;
  pid: number;
  /** When the first version started (ms since the epoch), and ms since then. */
  startedAt: number | undefined;
  uptimeMs: number;
  /** Updates that went through, and those refused or failed (dry runs are not counted). */
  updates: number;
  failedUpdates: number;
  /** The last update's report (not a dry run's). */
  lastReport: UpdateReport | undefined;
  pointsReached: number;
  strategy: Strategy;
  versionsDir: string;
}

export interface UpdateHostOptions {
  base: EventBase;
  /** Versions are loaded only from here (after resolving symlinks). */
  versionsDir: string;
  /** How live events are rebound: 'inplace' (default) or one of the comparison strategies. */
  strategy?: Strategy;
  /** Receives one line per update phase. */
  log?: (line: string) => void;
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
