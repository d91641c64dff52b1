// The UpdateReport of each outcome: refused or failed (with the phase and a coded error), done,
// or a dry run. Plain functions of what the host knows; the host logs and hands them out.
import { describeThrown, isUpdateError, UpdateError, type UpdatePhase } from './errors.js';
import type { Prepared } from './prepare.js';
import type { Phases, Running, UpdateReport, UpdateRequest } from './types.js';

/**
 * The report of an update that did not happen: `err` as a coded UpdateError (a thrown value
 * that is not one becomes ERR_VERSION_LOAD in the load phase, ERR_VERSION_INIT elsewhere).
 */
export function failedReport(req: UpdateRequest, phase: UpdatePhase, err: unknown, phases: Phases, current: Running | undefined, to = ''): { report: UpdateReport; error: UpdateError } {
  const error = isUpdateError(err)
    ? err
    : new UpdateError(phase === 'load' ? 'ERR_VERSION_LOAD' : 'ERR_VERSION_INIT', phase, describeThrown(err), { cause: err });
  const report: UpdateReport = {
    ok: false,
    from: current?.module.version ?? '',
    to,
    strategy: req.strategy,
    point: '',
    error: { code: error.code, phase: error.phase, message: error.message },
    pauseMs: 0,
    phases,
    eventsRewired: 0,
    stateItems: current?.ctx.store.size ?? 0,
    messagesCarried: 0,
    messagesDropped: [],
  };
  return { report, error };
}

/**
 * The report of an update prepared at `point` (reached at time `reached`) and then committed
 * (`carried`: what publish-subscribe carried), or discarded as a dry run.
 */
export function preparedReport(req: UpdateRequest, old: Running, prepared: Prepared, point: string, reached: number, phases: Phases, carried: { carried: number; dropped: string[] } | 'dry run'): UpdateReport {
  const dry = carried === 'dry run';
  return {
    ok: true,
    from: old.module.version,
    to: prepared.module.version,
    strategy: req.strategy,
    point,
    pauseMs: performance.now() - reached,
    phases,
    eventsRewired: prepared.rewire.events,
    stateItems: prepared.ctx.store.size,
    messagesCarried: dry ? (prepared.pubsub?.carry.length ?? 0) : carried.carried,
    messagesDropped: dry ? (prepared.pubsub?.drop.map((d) => d.name) ?? []) : carried.dropped,
    handlers: prepared.rewire.handlers,
    ...(dry ? { dryRun: true } : {}),
  };
}

/**
 * Adds the run-queue wait of the pause to `report`: the thread's schedstat wait counter at the
 * update point and when the pause ended (read just after pauseMs was taken), in ns. Left out
 * when either is unknown.
 */
export function withRunQueueWait(report: UpdateReport, beforeNs: number | undefined, afterNs: number | undefined): UpdateReport {
  if (beforeNs !== undefined && afterNs !== undefined && afterNs >= beforeNs) report.runQueueWaitMs = (afterNs - beforeNs) / 1e6;
  return report;
}
