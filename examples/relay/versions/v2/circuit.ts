// v2 circuits: a new circuit's package window comes from the consensus parameter circwindow,
// clamped to 100..1000 (0.2.1.20); circuits already open keep theirs.
import { create as previous } from '../v1/circuit.js';
import type { R } from '../v0/main.js';
import type { Circuit } from '../v0/types.js';

export function create(R: R) {
  const base = previous(R);
  const initialPackageWindow = (): number => {
    const param = R.S.dirView.consensus?.params?.circwindow;
    return typeof param === 'number' ? Math.min(1000, Math.max(100, param)) : R.T.circwindowStart;
  };
  return {
    ...base,
    initialPackageWindow,
    enqueueOnionskin(circ: Circuit, hdata: Buffer): void {
      circ.packageWindow = initialPackageWindow();
      base.enqueueOnionskin(circ, hdata);
    },
  };
}
