// Periodic events (Tor's periodic_event_item_t): each one a timer bound to a named handler
// whose work function returns the seconds until its next run. second_elapsed is the
// once-a-second housekeeping: connection housekeeping for every link, circuit expiry, and
// the once-a-second flush of the ocirc channel (delivered to btrack).
import type { R } from './main.js';
import type { Conn, OrConn, PeriodicItem } from './types.js';

export const PERIODIC_EVENT_NO_UPDATE = -1;

export function create(R: R) {
  const S = () => R.S;

  /** Runs a periodic event's work and re-arms its timer with the returned interval. */
  function dispatch(name: string, work: (now: number) => number): void {
    const item = (S().periodicEvents as PeriodicItem[]).find((p) => p.name === name);
    if (!item || !item.enabled) return;
    const now = R.now();
    let next = work(now);
    if (next === PERIODIC_EVENT_NO_UPDATE) next = 1;
    else item.lastAction = now;
    if (!(next > 0 && next < 86400)) throw new Error(`periodic event ${name} returned ${next}`);
    item.ev.add(next * 1000);
  }

  function secondElapsed(now: number): number {
    for (const c of [...(S().connectionArray as Conn[])]) {
      if (c.type === R.T.connType.OR) R.link.housekeeping(c as OrConn, now);
    }
    R.bus.flushCircuitEvents();
    return 1;
  }

  const handlers = {
    secondElapsed() {
      dispatch('second_elapsed', secondElapsed);
    },
    fetchNetworkstatus() {
      dispatch('fetch_networkstatus', (now) => R.dir.fetchConsensus(now));
    },
    checkDescriptor() {
      dispatch('check_descriptor', (now) => R.dir.checkDescriptor(now));
    },
  };

  function makeItem(name: string, handler: string, firstRun: number): PeriodicItem {
    const fn = R.h[handler];
    if (!fn) throw new Error(`periodic event ${name}: no handler ${handler}`);
    const ev = R.ctx.base.timer(fn);
    ev.add(firstRun * 1000);
    return { name, handler, ev, lastAction: 0, enabled: true };
  }

  return {
    handlers,
    dispatch,
    startAll(): void {
      for (const [name, [handler, first]] of Object.entries(R.T.periodicEvents)) S().periodicEvents.push(makeItem(name, handler, first));
    },
    /**
     * After an update: the live table gains the events this version adds (first run as its
     * table says) and loses the ones it dropped. Existing ones keep their timers; the host
     * rebinds them to this version's handlers.
     */
    reconcile(): void {
      const live = S().periodicEvents as PeriodicItem[];
      for (const [name, [handler, first]] of Object.entries(R.T.periodicEvents)) {
        const item = live.find((p) => p.name === name);
        if (!item) live.push(makeItem(name, handler, first));
        else item.handler = handler;
      }
      for (let i = live.length - 1; i >= 0; i--) {
        if (!(live[i]!.name in R.T.periodicEvents)) {
          live[i]!.ev.free();
          live.splice(i, 1);
        }
      }
    },
  };
}
