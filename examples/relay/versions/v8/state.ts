// v8 state: links gain lastAddedNonpadding (filled from the last write); the removed clique
// option leaves the live config.
import type { OrConn, RelayOptions } from '../v0/types.js';
import { evolve, linkShapeChange } from '../v0/state.js';
import { items as previous } from '../v7/state.js';

export const items = evolve(previous, {
  options: {
    transform: (old: RelayOptions) => {
      const { clique: _removed, ...rest } = old;
      return rest;
    },
  },
  ...linkShapeChange((c: OrConn) => ({ ...c, lastAddedNonpadding: c.lastWritten }) as OrConn),
});

/** The version whose state table this is: its transforms convert from that version's predecessor only. */
export const changedIn: string = 'v8';
