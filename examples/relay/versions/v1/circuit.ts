// v1 circuits: a CREATE2 that finds the onion queue full is refused with
// DESTROY(RESOURCELIMIT) and its onionskin dropped (0.2.1.19's leak fix).
import { CellCommand as CMD, encodeDestroyPayload } from '../../protocol/cell.js';
import { create as previous } from '../v0/circuit.js';
import type { R } from '../v0/main.js';
import type { Circuit, OrConn } from '../v0/types.js';

export function create(R: R) {
  const base = previous(R);
  return {
    ...base,
    enqueueOnionskin(circ: Circuit, hdata: Buffer): void {
      (circ as Circuit & { inboundEarlySeen: number }).inboundEarlySeen = 0;
      const q = R.S.onionQueue.items as unknown[];
      if (R.T.maxOnionQueue > 0 && q.length >= R.T.maxOnionQueue) {
        const link = R.S.connByGid.get(circ.pLink) as OrConn | undefined;
        if (link) R.link.writeRaw(link, R.cells.toWire(link, R.cells.make(link, circ.pCircId, CMD.DESTROY, encodeDestroyPayload(R.T.destroyReason.RESOURCELIMIT))));
        circ.destroyFrom = circ.pLink; // the refusal went out already
        base.markForClose(circ, R.T.destroyReason.RESOURCELIMIT);
        return;
      }
      base.enqueueOnionskin(circ, hdata);
    },
  };
}
