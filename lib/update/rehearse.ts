// A rehearsal of the update path, once per process, before the first real update's pause.
//
// The host's own update code (the new context's state migration, publish-subscribe planning
// and carrying, the census, the in-place rewrite, the swap) first runs at the first update,
// and V8 compiles each of its functions at that first call: on a relay that made the first
// update of every process about 1 ms slower than the later ones, inside the pause. So the first
// update request, in its load phase (outside the pause), first takes a tiny built-in service
// through one whole update on a private event base, prepare and commit, then frees it. It
// never touches the host's base, state or versions, and whatever goes wrong in it is only
// logged: the real update does not depend on it.
import { EventBase } from '../loop/index.js';
import type { Event } from '../loop/index.js';
import type { Publisher } from '../pubsub/index.js';
import { PubsubCarrier } from './carry.js';
import { commitUpdate } from './commit.js';
import { UpdateContext, type VersionContext } from './context.js';
import { describeThrown } from './errors.js';
import { discardPrepared, PrepareFailure, type PrepareHost, prepareUpdate, snapshotBefore } from './prepare.js';
import { emptyPhases, type Running, type VersionModule } from './types.js';

let rehearsed = false;

/** A version of the rehearsal service: a state item with a transform, a named timer handler, two subsystems and a queued message. */
function rehearsalVersion(version: string): VersionModule {
  return {
    version,
    main(ctx: VersionContext) {
      const { defineMessage, defineSubsystem } = ctx.lib;
      const counter = ctx.state('counter', () => ({ n: 0 }), { transform: (old: { n: number }) => ({ n: old.n }) });
      const h = ctx.handlers({
        onTick() {
          counter.n++;
        },
      });
      const tick = defineMessage<number>('rehearsal_tick', 'rehearsal_count');
      let pub: Publisher<number> | undefined;
      ctx.subsystems(
        [
          defineSubsystem({ name: 'rehearsal_source', level: 10, addPubsub: (con) => void (pub = con.addPub('rehearsal', tick)) }),
          defineSubsystem({ name: 'rehearsal_sink', level: 20, addPubsub: (con) => void con.addSub('rehearsal', tick, () => {}) }),
        ],
        { policies: { rehearsal: 'never' } },
      );
      if (!ctx.isUpdating()) {
        ctx.base.timer(h.onTick, { persist: true }).add(3_600_000);
        pub?.publish(1); // still queued at the update: carried
      }
    },
  };
}

/**
 * Runs the rehearsal if this process has not run one yet.
 *
 * @param log - gets one line: how long it took, or why it failed
 * @returns ms spent (0 when it already ran)
 */
export function rehearseUpdatePathOnce(log: (line: string) => void): number {
  if (rehearsed) return 0;
  rehearsed = true;
  const t = performance.now();
  let base: EventBase | undefined;
  let carrier: PubsubCarrier | undefined;
  const contexts: UpdateContext[] = [];
  try {
    base = new EventBase();
    const own = new WeakSet<Event>();
    carrier = new PubsubCarrier(
      (ev) => {
        own.add(ev); // as UpdateHost.own(): the mainloop's events are the host's, never rebound
        ev.base._setHostOwned(ev);
      },
      () => {},
    );
    const rehearsalBase = base;
    const rehearsalCarrier = carrier;
    const host: PrepareHost = {
      base: rehearsalBase,
      get mainloop() {
        return rehearsalCarrier.mainloop;
      },
      reachPoint: () => {},
      versionsDir: '',
      carrier: rehearsalCarrier,
      isOwn: (ev) => own.has(ev),
      log: () => {},
    };
    const first = rehearsalVersion('rehearsal-1');
    const ctx = new UpdateContext(host, first.version);
    contexts.push(ctx);
    void first.main(ctx);
    carrier.startFrom(ctx, base);
    ctx.dropCarried();
    let running: Running = { module: first, ctx };
    for (const [i, dryRun] of [[2, true], [3, false]] as const) {
      const phases = emptyPhases();
      const prepared = prepareUpdate(host, running, rehearsalVersion(`rehearsal-${i}`), '', 'loop', snapshotBefore(base), phases);
      contexts.push(prepared.ctx);
      if (dryRun) discardPrepared(host, prepared);
      else running = commitUpdate(base, carrier, running, prepared, 'inplace', phases, (ev) => own.has(ev)).running;
    }
    const ms = performance.now() - t;
    log(`rehearsed the update path on a private base in ${ms.toFixed(2)} ms (once per process, outside the pause)`);
    return ms;
  } catch (err) {
    const why = err instanceof PrepareFailure ? `${err.phase}: ${describeThrown(err.error)}` : describeThrown(err);
    log(`the rehearsal of the update path failed (the update goes on without it): ${why}`);
    return performance.now() - t;
  } finally {
    try {
      carrier?.close();
      for (const c of contexts) c.retireContext();
      base?.free();
    } catch (err) {
      log(`the rehearsal's cleanup failed: ${describeThrown(err)}`);
    }
  }
}
