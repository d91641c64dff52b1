// Driving the loop: the queue of update requests, the update points where they are taken, and
// the two host loops (cooperative run() and exclusive dispatch()) with an update point between
// iterations. An update asked for from inside a libevent callback unwinds that callback's
// stack (UpdateUnwind) to the host loop, which takes it there.
import { type EventBase, EVLOOP } from '../loop/index.js';
import { UpdateUnwind } from './errors.js';
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
    // Inside a libevent callback: unwind the old code's stack to the host loop first.
    if (this.host.base.inCallback) throw new UpdateUnwind(name);
    this.#performPending(name);
  }

  /** Cooperative loop (base.run()) with an update point between iterations. */
  async run(): Promise<0 | 1> {
    for (;;) {
      this.reach('loop');
      let r: 0 | 1;
      try {
        r = await this.host.base.run();
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
    for (;;) {
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

  #performPending(point: string): void {
    while (this.#pending.length > 0) {
      const req = this.#pending.shift()!;
      this.host.finish(req, this.host.perform(req, point));
    }
  }

  /** A loop call threw: an UpdateUnwind means "update now, then go on"; anything else ends the loop. */
  #resumeAfter(err: unknown): void {
    if (!(err instanceof UpdateUnwind)) throw err;
    this.#performPending(err.point);
  }

  /** A loop call returned: what the host loop returns, or undefined to go on. */
  #outcome(r: 0 | 1, brokeOff: boolean): 0 | 1 | undefined {
    const woke = this.#woke; // our own loopbreak (an update request) is not the user's
    this.#woke = false;
    if (this.#pending.length > 0) return undefined;
    if (r === 1) return 1;
    const base = this.host.base;
    return base.gotExit || (brokeOff && !woke) ? 0 : undefined;
  }
}
