// Commit: the part of an update that changes the running service. Rewrites every live
// event's callback (in place by default), moves publish-subscribe over, makes the new context
// current and retires the old one. Nothing in it can fail half-way: the rewrite checks every
// event before writing any, and prepare has already built everything else.
import { type Event, EventBase, rebindByReadd, rebindByRebase, rebindByReinit, type RebindPair } from '../loop/index.js';
import type { PubsubCarrier } from './carry.js';
import type { Prepared, RewirePlan } from './prepare.js';
import { commitBufferedRebind } from './rebind-buffered.js';
import type { Phases, Running, Strategy } from './types.js';

export interface Committed {
  running: Running;
  /** The host's base afterwards ('rebase' replaces it). */
  base: EventBase;
  carried: number;
  dropped: string[];
}

/**
 * The in-place rewrite was refused by the addon (it checks every event before writing any), so
 * nothing has changed yet and the update can still be undone. `cause` is the addon's error.
 */
export class RewireRefused extends Error {
  readonly code = 'ERR_NOT_REWRITABLE';
  constructor(cause: unknown) {
    super('the in-place rewrite was refused before any event changed', { cause });
  }
}

/** Commits `prepared` over `old` on `base`. Fills the rewire and commit phases. */
export function commitUpdate(base: EventBase, carrier: PubsubCarrier, old: Running, prepared: Prepared, strategy: Strategy, phases: Phases, isOwn: (ev: Event) => boolean): Committed {
  let t = performance.now();
  let next: EventBase;
  try {
    next = applyRewire(base, strategy, prepared.rewire, isOwn);
  } catch (err) {
    if (strategy === 'inplace') throw new RewireRefused(err); // all or nothing: nothing changed
    throw err;
  }
  commitBufferedRebind(prepared.buffered);
  phases.rewire += performance.now() - t;
  t = performance.now();
  const { carried, dropped } = carrier.commit(prepared.pubsub, next);
  old.ctx.retireContext();
  prepared.ctx.dropCarried();
  phases.commit = performance.now() - t;
  return { running: { module: prepared.module, ctx: prepared.ctx }, base: next, carried, dropped };
}

/** Rebinds every planned event to its new callback; returns the base the events now live on. */
function applyRewire(base: EventBase, strategy: Strategy, plan: RewirePlan, isOwn: (ev: Event) => boolean): EventBase {
  if (strategy === 'inplace') {
    // One native call per base moves every event of each old callback's slot (no JS per event).
    if (plan.perEvent) base._rewireEvents(plan.perEvent.events, plan.perEvent.fns);
    else base._rewireCallbacks(plan.byCallback);
    return base;
  }
  // The comparison strategies touch every event; the host's own and the new version's (made
  // during prepare) keep their callbacks.
  const made = new Set(base._eventsSince(plan.mark));
  const pairs: RebindPair[] = base._allEvents().map((ev) => [ev, (isOwn(ev) || made.has(ev) ? undefined : plan.byCallback.get(ev.callback)) ?? ev.callback] as const);
  if (strategy === 'readd') rebindByReadd(pairs);
  else if (strategy === 'reinit') rebindByReinit(base, pairs);
  else {
    const fresh = new EventBase({ method: base.method, priorities: base.priorities });
    rebindByRebase(fresh, pairs);
    base.free();
    return fresh;
  }
  return base;
}
