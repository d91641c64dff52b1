// v3 state: every OR link gains handshakeLocked (true once OPEN), in every item that holds
// connections (linkShapeChange converts each link once for all of them).
import type { OrConn } from '../v0/types.js';
import { evolve, linkShapeChange } from '../v0/state.js';
import { items as previous } from '../v1/state.js';

export const items = evolve(previous, linkShapeChange((c: OrConn) => ({ ...c, handshakeLocked: c.state === 8 }) as OrConn));

/** The version whose state table this is: its transforms convert from that version's predecessor only. */
export const changedIn: string = 'v3';
