// v1 relay cells: an inbound RELAY_EARLY no longer closes the circuit (0.2.1.19, bug 1038);
// it is counted and relayed as RELAY.
import { CellCommand as CMD } from '../../protocol/cell.js';
import { create as previous } from '../v0/relay.js';
import type { R } from '../v0/main.js';
import type { Circuit } from '../v0/types.js';

export function create(R: R) {
  const base = previous(R);
  return {
    ...base,
    receiveBackward(circ: Circuit, body: Buffer, cmd: number): void {
      if (cmd === CMD.RELAY_EARLY) (circ as Circuit & { inboundEarlySeen: number }).inboundEarlySeen++;
      base.receiveBackward(circ, body, CMD.RELAY);
    },
  };
}
