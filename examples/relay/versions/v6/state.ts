// v6 state: what the crypto subsystem found the crypto library can do.
import { evolve } from '../v0/state.js';
import { items as previous } from '../v5/state.js';

export const items = evolve(previous, {
  cryptoCaps: { init: () => ({ checkedAt: 0, checks: 0, aesCtr: false, x25519: false, hmacSha256: false }) },
});

/** The version whose state table this is: its transforms convert from that version's predecessor only. */
export const changedIn: string = 'v6';
