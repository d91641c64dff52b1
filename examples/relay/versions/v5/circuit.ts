// v5 circuits: each new circuit records the version that created it.
import { create as previous } from '../v3/circuit.js';
import type { R } from '../v0/main.js';
import type { Circuit } from '../v0/types.js';

export function create(R: R) {
  const base = previous(R);
  return {
    ...base,
    enqueueOnionskin(circ: Circuit, hdata: Buffer): void {
      (circ as Circuit & { createdBy: string }).createdBy = R.version;
      base.enqueueOnionskin(circ, hdata);
    },
  };
}
