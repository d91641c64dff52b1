// Prepare: everything an update builds before it may change anything. Loads the new code,
// runs its main(ctx) in updating mode (state migrates into new objects), checks that every
// old state item is declared or retired, builds the new publish-subscribe and maps every live
// event to the new version's handler of the same name. Touches nothing of the running
// version; a failure frees what prepare created and leaves that version running.
import { realpathSync } from 'node:fs';
import path from 'node:path';

import type { Callback, Event, EventBase } from '../loop/index.js';
import type { PubsubCarrier, PubsubPlan } from './carry.js';
import { type ContextHost, UpdateContext } from './context.js';
import { describeThrown, isUpdateError, UpdateError, type UpdatePhase } from './errors.js';
import { loadVersionModule } from './loader.js';
import { type BufferedRebindPlan, freeBufferedCreatedSince, planBufferedRebind, snapshotBuffered } from './rebind-buffered.js';
import type { Phases, Running, Strategy, VersionModule } from './types.js';

/** Live events of the old version and the new version's callback for each, in step. */
export interface RewirePlan {
  events: Event[];
  fns: Callback[];
  /** Old callback -> new one; `bySlot` when no host-owned event runs one of the old ones. */
  byCallback: Map<Callback, Callback>;
  bySlot: boolean;
}

/** A new version ready to commit. */
export interface Prepared {
  module: VersionModule;
  ctx: UpdateContext;
  pubsub: PubsubPlan | undefined;
  rewire: RewirePlan;
  /** Bufferevents and listeners rebound with the events (rebind-buffered.ts). */
  buffered: BufferedRebindPlan;
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
  const m = exports as Partial<VersionModule> | null;
  if (!m || typeof m.version !== 'string' || m.version === '' || typeof m.main !== 'function') {
    throw new UpdateError('ERR_VERSION_SHAPE', 'load', 'a version module exports `version` (a string) and `main(ctx)`');
  }
  if (m.renames !== undefined && (typeof m.renames !== 'object' || m.renames === null)) {
    throw new UpdateError('ERR_VERSION_SHAPE', 'load', '`renames` must be an object { oldName: newName }');
  }
  return m as VersionModule;
}

/** Loads and checks the version at `resolved` (a path from resolveVersionPath). */
export function loadVersion(resolved: string, versionsDir: string): VersionModule {
  return validateVersion(loadVersionModule(resolved, versionsDir).exports);
}

/** A version loaded ahead of its update point, or why it could not be. */
export type Loaded = { module: VersionModule; file: string; loadMs: number } | { failure: PrepareFailure };

/**
 * Resolves, loads and checks the version at `file`. Runs when the update is asked for, before
 * the update point and outside the pause: loading reads no running state (main has not run),
 * and a failure here leaves the running version as untouched as one at the point would.
 */
export function loadRequested(versionsDir: string, file: string): Loaded {
  let phase: UpdatePhase = 'request';
  try {
    const resolved = resolveVersionPath(versionsDir, file);
    phase = 'load';
    const t = performance.now();
    const module = loadVersion(resolved, versionsDir);
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
  before: readonly Event[],
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
    pubsub = host.carrier.plan(ctx, from);
    phases.init += performance.now() - t;

    phase = 'rewire';
    t = performance.now();
    const rewire = planRewire(host, old, ctx, module, before);
    const buffered = planBufferedRebind(bufferedBefore, old, ctx, module, strategy);
    phases.rewire += performance.now() - t;
    return { module, ctx, pubsub, rewire, buffered };
  } catch (err) {
    host.carrier.abandon(pubsub);
    freeCreatedSince(host.base, before);
    freeBufferedCreatedSince(host.base, bufferedBefore);
    ctx?.retireContext();
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
 * Maps every live event of the old version to the new version's handler of the same name.
 * Names are resolved once per distinct old callback (a service has a few handlers and many
 * events), and the result is two parallel arrays, committed as they are.
 */
function planRewire(host: PrepareHost, old: Running, ctx: UpdateContext, module: VersionModule, before: readonly Event[]): RewirePlan {
  const events: Event[] = [];
  const fns: Callback[] = [];
  const renames = module.renames ?? {};
  const resolved = new Map<Callback, Callback>();
  const ownCallbacks = new Set<Callback>();
  const what = (ev: Event) => `event (fd ${ev.fd}, events 0x${ev.events.toString(16)})`;
  for (const ev of before) {
    if (ev.freed) continue;
    if (host.isOwn(ev)) {
      ownCallbacks.add(ev.callback);
      continue;
    }
    const cb = ev.callback;
    let fn = resolved.get(cb);
    if (fn === undefined) {
      const name = old.ctx.nameOfHandler.get(cb);
      if (name === undefined) {
        throw new UpdateError('ERR_UNNAMED_CALLBACK', 'rewire', `${what(ev)} runs a callback that ${old.module.version} did not register with ctx.handlers(), so ${module.version} cannot replace it`);
      }
      const newName = Object.hasOwn(renames, name) ? renames[name]! : name;
      fn = ctx.handlerByName.get(newName);
      if (fn === undefined) {
        throw new UpdateError('ERR_MISSING_HANDLER', 'rewire', `${what(ev)} runs handler '${name}' of ${old.module.version}, and ${module.version} provides no handler '${newName}'`);
      }
      resolved.set(cb, fn);
    }
    events.push(ev);
    fns.push(fn);
  }
  return { events, fns, byCallback: resolved, bySlot: ![...ownCallbacks].some((cb) => resolved.has(cb)) };
}

/** Frees every event of `base` created after the snapshot `before` (a rollback). */
export function freeCreatedSince(base: EventBase, before: readonly Event[]): void {
  const had = new Set(before);
  for (const ev of base._allEvents()) if (!had.has(ev) && !ev.freed) ev.free();
}
