// v7 circuits: freeing a circuit wipes its whole key state (0.2.1.25 zeroed the whole
// session key, not a pointer's worth) and drops it, so nothing can use a freed circuit's ciphers.
import { create as previous } from '../v5/circuit.js';
import type { R } from '../v0/main.js';

export function create(R: R) {
  const base = previous(R);
  return {
    ...base,
    closeAllMarked(): void {
      const gids: number[] = [...R.S.circuitsPendingClose];
      const circs = gids.map((g) => R.S.circuits.get(g)).filter(Boolean);
      base.closeAllMarked();
      for (const c of circs) {
        c.crypto?.wipe();
        c.crypto = null;
      }
    },
  };
}
