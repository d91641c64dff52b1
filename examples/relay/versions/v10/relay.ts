// v10 relay cells: a BEGIN whose target is not NUL-terminated within its length is a
// protocol error answered with END(TORPROTOCOL) (0.2.1.28 added bounds checks there).
import { readRelayHeader, RELAY, relayData } from '../../common/proto.js';
import { create as previous } from '../v3/relay.js';
import type { R } from '../v0/main.js';
import type { Circuit } from '../v0/types.js';

export function create(R: R) {
  const base = previous(R);
  return {
    ...base,
    handleRelayCell(circ: Circuit, body: Buffer, cmd: number): string {
      const header = readRelayHeader(body);
      if (header.command === RELAY.BEGIN && relayData(body).indexOf(0) < 0) {
        base.sendBackward(circ, RELAY.END, header.streamId, Buffer.from([R.T.endReason.TORPROTOCOL]));
        return 'begin';
      }
      return base.handleRelayCell(circ, body, cmd);
    },
  };
}
