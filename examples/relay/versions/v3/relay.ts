// v3 relay cells: freeing a circuit detaches its streams (circGid = 0) before closing them,
// so nothing can reach the freed circuit through them (0.2.1.21, bug 1150).
import { create as previous } from '../v1/relay.js';
import type { R } from '../v0/main.js';
import type { Circuit, ExitStream } from '../v0/types.js';

export function create(R: R) {
  const base = previous(R);
  return {
    ...base,
    closeStreamsOf(circ: Circuit): void {
      for (const gid of circ.streams.values()) {
        const s = R.S.connByGid.get(gid) as ExitStream | undefined;
        if (s) s.circGid = 0;
      }
      base.closeStreamsOf(circ);
    },
  };
}
