// v7 state: the address peers report seeing us at (from NETINFO).
import { evolve } from '../v0/state.js';
import { items as previous } from '../v6/state.js';

export const items = evolve(previous, {
  myAddress: { init: () => ({ seenAs: '', reports: 0 }) },
});

/** The version whose state table this is: its transforms convert from that version's predecessor only. */
export const changedIn: string = 'v7';
