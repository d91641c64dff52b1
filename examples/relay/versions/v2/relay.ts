// v2 relay cells: SENDMEs go out when a deliver window reaches a full increment below its
// start (<=), not one cell later (0.2.1.20's off-by-one fix).
import { RELAY_PAYLOAD_SIZE, RelayCommand as RELAY } from '../../protocol/relay-cell.js';
import { create as previous } from '../v1/relay.js';
import type { R } from '../v0/main.js';
import type { Circuit, ExitStream } from '../v0/types.js';

const STREAM_OUT_LIMIT = 10 * RELAY_PAYLOAD_SIZE;

export function create(R: R) {
  const base = previous(R);
  return {
    ...base,
    considerSendingSendme(circ: Circuit, s: ExitStream | undefined): void {
      const T = R.T;
      while (circ.deliverWindow <= T.circwindowStart - T.circwindowIncrement) {
        circ.deliverWindow += T.circwindowIncrement;
        base.sendBackward(circ, RELAY.SENDME, 0);
      }
      while (s && !s.marked && s.outLen < STREAM_OUT_LIMIT && s.deliverWindow <= T.streamwindowStart - T.streamwindowIncrement) {
        s.deliverWindow += T.streamwindowIncrement;
        base.sendBackward(circ, RELAY.SENDME, s.streamId);
      }
    },
  };
}
