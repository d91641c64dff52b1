// Prepare: everything an update builds before it may change anything. Loads the new code,
// runs its main(ctx) in updating mode (state migrates into new objects), checks that every
// old state item is declared or retired, builds the new publish-subscribe and maps every live
// event to the new version's handler of the same name. Touches nothing of the running
// version; a failure frees what prepare created and leaves that version running.
import { realpathSync } from 'node:fs';
import path from 'node:path';

import type { Callback, CallbackCensus, Event, EventBase } from '../loop/index.js';
import type { PubsubCarrier, PubsubPlan } from './carry.js';
import { type ContextHost, UpdateContext } from './context.js';
import { checkVersionShape } from './define.js';
import { describeThrown, isUpdateError, UpdateError, type UpdatePhase } from './errors.js';
import { type LoadOptions, loadVersionModule } from './loader.js';
import { type BufferedRebindPlan, type BufferedSnapshot, freeBufferedCreatedSince, planBufferedRebind, snapshotBuffered } from './rebind-buffered.js';
import type { Phases, Running, Strategy, VersionModule } from './types.js';

/**
 * How the running version's live events move to the new version's handlers: per handler, not
 * per event. Commit hands `byCallback` to one native call that rewrites every event of each
 * old callback's slot.
 */
export interface RewirePlan {
  /** Old callback -> new one, for every callback a live event of the running version runs. */
  byCallback: Map<Callback, Callback>;
  /** Live events of the running version, all rewired. */
  events: number;
  /** Old handler name -> new name, with the number of live events on each pair. */
  handlers: { from: string; to: string; events: number }[];
  /**
   * The events to rewrite one by one instead, with their new callbacks: only when a host-owned
   * event runs one of the old callbacks too (a slot moves all its events), or a new handler is
   * itself an old callback being replaced (a swap, or a function both versions share). Undefined
   * on the usual path.
   */
  perEvent: { events: Event[]; fns: Callback[] } | undefined;
  /** Events made after this creation mark are the new version's: never rebound. */
  mark: number;
}

/**
 * What the base holds at the update point, before prepare runs anything: where the events
 * made from then on start, and per callback how many live events run it. One native pass over
 * the records, no JS per event.
 */
export interface BeforePrepare {
  mark: number;
  callbacks: CallbackCensus[];
}

/** Takes the BeforePrepare of `base`. */
export function snapshotBefore(base: EventBase): BeforePrepare {
  return { mark: base._eventMark(), callbacks: base._callbackCensus() };
}

/** A new version ready to commit. */
export interface Prepared {
  module: VersionModule;
  ctx: UpdateContext;
  pubsub: PubsubPlan | undefined;
  rewire: RewirePlan;
  /** Bufferevents and listeners rebound with the events (rebind-buffered.ts). */
  buffered: BufferedRebindPlan;
  /** What existed before prepare: a rollback frees everything else. */
  rollback: Rollback;
}

/** What a rollback of prepare needs: where its events start, and the bufferevents before it. */
export interface Rollback {
  mark: number;
  bufferedBefore: BufferedSnapshot;
}

/**
 * Undoes a prepare: disposes what the new publish-subscribe produced, frees the events and
 * bufferevents created since the snapshot, retires the new context. The running version is
 * left exactly as it was. Used when prepare fails, and for a dry run after it succeeded.
 */
export function rollbackPrepare(host: PrepareHost, rollback: Rollback, pubsub: PubsubPlan | undefined, ctx: UpdateContext | undefined): void {
  host.carrier.abandon(pubsub);
  freeCreatedSince(host.base, rollback.mark);
  freeBufferedCreatedSince(host.base, rollback.bufferedBefore);
  ctx?.retireContext();
}

/** Discards a prepared update without committing it (a dry run). */
export function discardPrepared(host: PrepareHost, prepared: Prepared): void {
  rollbackPrepare(host, prepared.rollback, prepared.pubsub, prepared.ctx);
}

/** Why prepare stopped, with the phase it was in and the version it was loading. */
export class PrepareFailure {
  constructor(
    readonly phase: UpdatePhase,
    readonly error: unknown,
    readonly to: string,
  ) {}
}

/** What prepare needs of the host. */
export interface PrepareHost extends ContextHost {
  readonly versionsDir: string;
  readonly carrier: PubsubCarrier;
  isOwn(ev: Event): boolean;
  log(line: string): void;
}

/** The real path of version `file` (relative to versionsDir or absolute), refused outside it. */
export function resolveVersionPath(versionsDir: string, file: string): string {
  if (typeof file !== 'string' || file === '') throw new UpdateError('ERR_VERSION_PATH', 'request', 'a version path is a non-empty string');
  let real: string;
  try {
    real = realpathSync(path.resolve(versionsDir, file));
  } catch (cause) {
    throw new UpdateError('ERR_VERSION_PATH', 'request', `no version at ${file}`, { cause });
  }
  if (!real.startsWith(versionsDir + path.sep)) {
    throw new UpdateError('ERR_OUTSIDE_VERSIONS_DIR', 'request', `${file} is outside the versions directory ${versionsDir}`);
  }
  return real;
}

/** Checks a loaded module's exports against the version shape. */
export function validateVersion(exports: unknown): VersionModule {
  // TypeScript's `export default defineVersion(…)` compiled to CommonJS: exports.default.
  const m = exports as { __esModule?: unknown; default?: unknown } | null;
  const candidate = m && typeof m === 'object' && m.__esModule === true && m.default !== undefined && !('main' in m) ? m.default : exports;
  checkVersionShape(candidate);
  return candidate;
}

/** Loads and checks the version at `resolved` (a path from resolveVersionPath). */
export function loadVersion(resolved: string, versionsDir: string, options: LoadOptions = {}): VersionModule {
  return validateVersion(loadVersionModule(resolved, versionsDir, options).exports);
}

/** A version loaded ahead of its update point, or why it could not be. */
export type Loaded = { module: VersionModule; file: string; loadMs: number } | { failure: PrepareFailure };

/**
 * Resolves, loads and checks the version at `file`. Runs when the update is asked for, before
 * the update point and outside the pause: loading reads no running state (main has not run),
 * and a failure here leaves the running version as untouched as one at the point would.
 * With `eagerCompile` every function of the load is compiled here too, not at its first call
 * inside the pause.
 */
export function loadRequested(versionsDir: string, file: string, options: LoadOptions = {}): Loaded {
  let phase: UpdatePhase = 'request';
  try {
    const resolved = resolveVersionPath(versionsDir, file);
    phase = 'load';
    const t = performance.now();
    const module = loadVersion(resolved, versionsDir, options);
    return { module, file: resolved, loadMs: performance.now() - t };
  } catch (err) {
    return { failure: new PrepareFailure(isUpdateError(err) ? err.phase : phase, err, '') };
  }
}

/**
 * Prepares the update from `old` to `module` (loaded by loadRequested), at update point
 * `point`. Fills `phases` as it goes; throws a PrepareFailure after undoing what it created.
 */
export function prepareUpdate(
  host: PrepareHost,
  old: Running,
  module: VersionModule,
  file: string,
  point: string,
  before: BeforePrepare,
  phases: Phases,
  strategy: Strategy = 'inplace',
): Prepared {
  const from = old.module.version;
  const bufferedBefore = snapshotBuffered(host.base);
  const to = module.version;
  let phase: UpdatePhase = 'init';
  let ctx: UpdateContext | undefined;
  let pubsub: PubsubPlan | undefined;
  try {
    host.log(`update ${from} -> ${to}: loaded ${path.basename(file)} at point '${point}'`);
    let t = performance.now();
    ctx = new UpdateContext(host, to, { fromVersion: from, point, store: old.ctx.store });
    const result = module.main(ctx);
    if (isThenable(result)) {
      // Refused, but the promise lives on: whatever it settles with must not reach the process
      // as an unhandled rejection (its ctx is retired below, so touching it after an await throws).
      try {
        result.then(undefined, (err: unknown) => host.log(`update ${from} -> ${to}: the refused async main rejected: ${describeThrown(err)}`));
      } catch {
        // a thenable whose then() throws: nothing will settle later
      }
      throw new UpdateError('ERR_ASYNC_MAIN', 'init', 'main(ctx) must finish synchronously during an update');
    }
    phases.migrate = ctx.migrateMs;
    phases.init = performance.now() - t - ctx.migrateMs;
    phase = 'migrate';
    const missing = ctx.undeclaredOldItems();
    if (missing.length > 0) {
      throw new UpdateError('ERR_STATE_UNDECLARED', 'migrate', `${to} neither declares nor retires state ${missing.map((k) => `'${k}'`).join(', ')} of ${from}`);
    }
    host.log(`update ${from} -> ${to}: state ready (${ctx.store.size} items)`);

    // Building the new publish-subscribe counts as init: it is the new version's objects.
    phase = 'pubsub';
    t = performance.now();
    pubsub = host.carrier.plan(ctx, from, host.base);
    phases.init += performance.now() - t;

    phase = 'rewire';
    t = performance.now();
    const rewire = planRewire(host, old, ctx, module, before);
    const buffered = planBufferedRebind(bufferedBefore, old, ctx, module, strategy);
    phases.rewire += performance.now() - t;
    return { module, ctx, pubsub, rewire, buffered, rollback: { mark: before.mark, bufferedBefore } };
  } catch (err) {
    rollbackPrepare(host, { mark: before.mark, bufferedBefore }, pubsub, ctx);
    throw new PrepareFailure(isUpdateError(err) ? err.phase : phase, err, to);
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  try {
    return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
  } catch {
    return false;
  }
}

/**
 * Maps each callback the running version's live events run (from the census taken before
 * prepare) to the new version's handler of the same name, or refuses: an unnamed callback, or
 * a name the new version lacks, stops the update before anything changes. Per callback, not per
 * event: a service has a few handlers and many events.
 */
function planRewire(host: PrepareHost, old: Running, ctx: UpdateContext, module: VersionModule, before: BeforePrepare): RewirePlan {
  const renames = module.renames ?? {};
  const byCallback = new Map<Callback, Callback>();
  const handlers: RewirePlan['handlers'] = [];
  const shared = new Set<Callback>();
  let events = 0;
  // "an event (fd 5, events 0x12) runs" / "3 events (one: fd 5, events 0x12) run"
  const what = (row: CallbackCensus, verb: string) => {
    const n = row.events - row.owned;
    const one = `fd ${row.fd}, events 0x${row.what.toString(16)}`;
    return n === 1 ? `an event (${one}) ${verb}s` : `${n} events (one: ${one}) ${verb}`;
  };
  for (const row of before.callbacks) {
    if (row.events === row.owned) continue; // only the host's own events run it
    const name = old.ctx.nameOfHandler.get(row.fn);
    if (name === undefined) {
      throw new UpdateError('ERR_UNNAMED_CALLBACK', 'rewire', `${what(row, 'run')} a callback that ${old.module.version} did not register with ctx.handlers(), so ${module.version} cannot replace it`);
    }
    const newName = Object.hasOwn(renames, name) ? renames[name]! : name;
    const fn = ctx.handlerByName.get(newName);
    if (fn === undefined) {
      throw new UpdateError('ERR_MISSING_HANDLER', 'rewire', `${what(row, 'run')} handler '${name}' of ${old.module.version}, and ${module.version} provides no handler '${newName}'`);
    }
    byCallback.set(row.fn, fn);
    if (row.owned > 0) shared.add(row.fn);
    events += row.events - row.owned;
    handlers.push({ from: name, to: newName, events: row.events - row.owned });
  }
  // A slot moves every event on it: a callback that host-owned events share, or a new handler
  // that is an old callback being replaced (the new version's events may run it), needs the
  // one-by-one path.
  const reused = [...ctx.handlerByName.values()].some((fn) => byCallback.has(fn) && byCallback.get(fn) !== fn);
  const perEvent = shared.size > 0 || reused ? listEvents(host, byCallback, before.mark) : undefined;
  return { byCallback, events, handlers: mergeHandlers(handlers), perEvent, mark: before.mark };
}

/** The running version's events with their new callbacks, one by one (the rare path). */
function listEvents(host: PrepareHost, byCallback: ReadonlyMap<Callback, Callback>, mark: number): { events: Event[]; fns: Callback[] } {
  const events: Event[] = [];
  const fns: Callback[] = [];
  const made = new Set(host.base._eventsSince(mark)); // the new version's, during prepare
  for (const ev of host.base._allEvents()) {
    const fn = ev.freed || host.isOwn(ev) || made.has(ev) ? undefined : byCallback.get(ev.callback);
    if (fn === undefined) continue;
    events.push(ev);
    fns.push(fn);
  }
  return { events, fns };
}

/** One row per (old name, new name) pair: two old callbacks may carry one name (two bases' closures). */
function mergeHandlers(rows: RewirePlan['handlers']): RewirePlan['handlers'] {
  const byPair = new Map<string, RewirePlan['handlers'][number]>();
  for (const row of rows) {
    const key = `${row.from}\0${row.to}`;
    const seen = byPair.get(key);
    if (seen) seen.events += row.events;
    else byPair.set(key, { ...row });
  }
  return [...byPair.values()];
}

/** Frees every event of `base` made after `mark` (base._eventMark()): a rollback. */
export function freeCreatedSince(base: EventBase, mark: number): void {
  for (const ev of base._eventsSince(mark)) if (!ev.freed) ev.free();
}
