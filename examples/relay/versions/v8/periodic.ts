// v8 periodic events: expire_old_circuits_serverside closes circuits at the edge with no
// streams and no next hop that have been idle past idleCircuitTimeout.
import { create as previous } from '../v0/periodic.js';
import type { R } from '../v0/main.js';
import type { Circuit } from '../v0/types.js';

export function create(R: R) {
  const base = previous(R);
  return {
    ...base,
    handlers: {
      ...base.handlers,
      expireOldCircuitsServerside() {
        base.dispatch('expire_old_circuits_serverside', (now) => {
          const T = R.T as typeof R.T & { idleCircuitTimeout: number };
          for (const circ of R.S.circuits.values() as Iterable<Circuit & { lastActive?: number }>) {
            if (circ.marked || circ.nLink || circ.nHop || circ.streams.size > 0) continue;
            if (now - (circ.lastActive ?? circ.createdAt) > T.idleCircuitTimeout) R.circ.markForClose(circ, T.destroyReason.FINISHED);
          }
          return 11;
        });
      },
    },
  };
}
