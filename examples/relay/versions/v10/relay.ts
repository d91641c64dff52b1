// v10 relay cells: a BEGIN whose target is not NUL-terminated within its length is a
// protocol error answered with END(TORPROTOCOL) (0.2.1.28 added bounds checks there).
import { encodeEnd, type RelayCell, RelayCommand as RELAY } from '../../protocol/relay-cell.js';
import { create as previous } from '../v3/relay.js';
import type { R } from '../v0/main.js';
import type { Circuit } from '../v0/types.js';

export function create(R: R) {
  const base = previous(R);
  return {
    ...base,
    handleRelayCell(circ: Circuit, cell: RelayCell, cmd: number): string {
      if (cell.command === RELAY.BEGIN && cell.data.indexOf(0) < 0) {
        base.sendBackward(circ, RELAY.END, cell.streamId, encodeEnd(R.T.endReason.TORPROTOCOL));
        return 'begin';
      }
      return base.handleRelayCell(circ, cell, cmd);
    },
  };
}
