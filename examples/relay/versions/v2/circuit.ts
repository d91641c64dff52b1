// v2 circuits: a new circuit's package window comes from the consensus parameter circwindow,
// clamped to 100..1000 (0.2.1.20); circuits already open keep theirs.
import { initialCircuitPackageWindow } from '../../protocol/sendme.js';
import { create as previous } from '../v1/circuit.js';
import type { R } from '../v0/main.js';
import type { Circuit } from '../v0/types.js';

export function create(R: R) {
  const base = previous(R);
  const initialPackageWindow = (): number => initialCircuitPackageWindow(R.S.dirView.consensus?.params.circwindow);
  return {
    ...base,
    initialPackageWindow,
    enqueueOnionskin(circ: Circuit, hdata: Buffer): void {
      circ.packageWindow = initialPackageWindow();
      base.enqueueOnionskin(circ, hdata);
    },
  };
}
