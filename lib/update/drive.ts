// Driving the loop: the queue of update requests, the update points where they are taken, and
// the two host loops (cooperative run() and exclusive dispatch()) with an update point between
// iterations. An update asked for from inside a libevent callback unwinds that callback's
// stack (UpdateUnwind) to the host loop, which takes it there.
import { type EventBase, EVLOOP, type RunOptions } from '../loop/index.js';
import { abortError } from '../loop/abort.js';
import { UpdateUnwind } from './errors.js';
import { suspendExitSignals } from './signals.js';
import type { UpdateReport, UpdateRequest } from './types.js';

export interface DriverHost {
  readonly base: EventBase;
  /** Takes one request at `point` and reports how it went. */
  perform(req: UpdateRequest, point: string): UpdateReport;
  /** Hands a report to its requester and to listeners. */
  finish(req: UpdateRequest, report: UpdateReport): void;
  /** Announces an update point. */
  announce(point: string, count: number): void;
}

export class PointDriver {
  #pending: UpdateRequest[] = [];
  #woke = false;
  #points = 0;
  /** An UpdateUnwind is on its way to the host loop: further points in that callback do not throw another. */
  #unwinding = false;
  /** The host closed: its loops return at their next point. */
  #stopped = false;

  constructor(private readonly host: DriverHost) {}

  get pointsReached(): number {
    return this.#points;
  }

  /** Queues `req`; wakes a running loop so it reaches a point within one iteration, or takes it at once. */
  enqueue(req: UpdateRequest): void {
    this.#pending.push(req);
    const base = this.host.base;
    if (base.running) {
      this.#woke = true;
      base.loopbreak();
    } else {
      this.#performPending('loop');
    }
  }

  /** An update point: counted, announced, and where a pending update happens. */
  reach(name: string): void {
    this.#points++;
    this.host.announce(name, this.#points);
    if (this.#pending.length === 0) return;
    // Inside a libevent callback: unwind the old code's stack to the host loop first. Once:
    // two receivers of one message reaching points in one delivery make one update, not two
    // unwinds (which the dispatcher would bundle into an AggregateError).
    if (this.host.base.inCallback) {
      if (this.#unwinding) return;
      this.#unwinding = true;
      throw new UpdateUnwind(name);
    }
    this.#performPending(name);
  }

  /**
   * Cooperative loop (base.run()) with an update point between iterations. `options` go to
   * every base.run(): aborting `signal` ends the running one, whose AbortError ends this loop
   * (an already aborted signal ends it before the next point).
   */
  async run(options: RunOptions): Promise<0 | 1> {
    for (;;) {
      if (this.#stopped) return 0;
      if (options.signal?.aborted) throw abortError(options.signal);
      this.reach('loop');
      let r: 0 | 1;
      try {
        r = await this.host.base.run(options);
      } catch (err) {
        this.#resumeAfter(err);
        continue;
      }
      const end = this.#outcome(r, true); // run() only returns 0 on a break or an exit
      if (end !== undefined) return end;
    }
  }

  /** Exclusive loop (libevent owns the thread), one update point per loop iteration. */
  dispatch(): 0 | 1 {
    const resumeSignals = suspendExitSignals(); // Node could not run its signal listeners meanwhile
    try {
      return this.#dispatchLoop();
    } finally {
      resumeSignals();
    }
  }

  #dispatchLoop(): 0 | 1 {
    for (;;) {
      if (this.#stopped) return 0;
      this.reach('loop');
      let r: 0 | 1;
      const base = this.host.base;
      try {
        r = base.loop(EVLOOP.ONCE);
      } catch (err) {
        this.#resumeAfter(err);
        continue;
      }
      const end = this.#outcome(r, base.gotBreak);
      if (end !== undefined) return end;
    }
  }

  /** Ends run()/dispatch() at their next point (breaking a running loop to get there). */
  stop(): void {
    this.#stopped = true;
    if (this.host.base.running) this.host.base.loopbreak();
  }

  /** A fresh start after stop(). */
  resume(): void {
    this.#stopped = false;
  }

  /** Refuses every waiting request with `err` (the host is closing). */
  rejectAll(err: Error & { code: string }): void {
    const pending = this.#pending;
    this.#pending = [];
    for (const req of pending) req.reject(err);
  }

  #performPending(point: string): void {
    this.#unwinding = false;
    while (this.#pending.length > 0) {
      const req = this.#pending.shift()!;
      this.host.finish(req, this.host.perform(req, point));
    }
  }

  /**
   * A loop call threw: an UpdateUnwind means "update now, then go on"; anything else ends the
   * loop. An AggregateError holding an unwind (receivers of one flush) updates first, then
   * throws what else it holds.
   */
  #resumeAfter(err: unknown): void {
    this.#unwinding = false;
    if (isUnwind(err)) return this.#performPending(err.point);
    if (!(err instanceof AggregateError)) throw err;
    const errors: unknown[] = Array.isArray(err.errors) ? err.errors : [];
    const unwind = errors.find(isUnwind);
    if (unwind === undefined) throw err;
    this.#performPending(unwind.point);
    const rest = errors.filter((e) => !isUnwind(e));
    if (rest.length === 1) throw rest[0];
    if (rest.length > 1) throw new AggregateError(rest, err.message);
  }

  /** A loop call returned: what the host loop returns, or undefined to go on. */
  #outcome(r: 0 | 1, brokeOff: boolean): 0 | 1 | undefined {
    const woke = this.#woke; // our own loopbreak (an update request) is not the user's
    this.#woke = false;
    if (this.#stopped) return 0;
    if (this.#pending.length > 0) return undefined;
    if (r === 1) return 1;
    const base = this.host.base;
    return base.gotExit || (brokeOff && !woke) ? 0 : undefined;
  }
}

function isUnwind(e: unknown): e is UpdateUnwind {
  try {
    return e instanceof UpdateUnwind;
  } catch {
    return false; // a revoked proxy
  }
}
