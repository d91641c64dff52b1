// v1 state: every live circuit gains a count of inbound RELAY_EARLY cells.
import type { Circuit } from '../v0/types.js';
import { evolve, items as previous } from '../v0/state.js';

export const items = evolve(previous, {
  circuits: {
    transform: (old: Map<number, Circuit>) => new Map([...old].map(([gid, c]) => [gid, { ...c, inboundEarlySeen: 0 }])),
  },
});

/** The version whose state table this is: its transforms convert from that version's predecessor only. */
export const changedIn: string = 'v1';
