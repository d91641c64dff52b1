// v3 state: every OR link gains handshakeLocked (true once OPEN). Connections are shared by
// three items (the array and the two indexes), so the array's transform makes the new
// objects and the indexes map through the same old -> new table.
import type { Conn } from '../v0/types.js';
import { evolve } from '../v0/state.js';
import { items as previous } from '../v1/state.js';

const converted = new WeakMap<Conn, Conn>();
const convert = (c: Conn): Conn => {
  let n = converted.get(c);
  if (!n) {
    n = 'linkVersion' in c ? ({ ...c, handshakeLocked: c.state === 8 } as Conn) : { ...c };
    converted.set(c, n);
  }
  return n;
};

export const items = evolve(previous, {
  connectionArray: { transform: (old: Conn[]) => old.map(convert) },
  connByFd: { transform: (old: Map<number, Conn>) => new Map([...old].map(([k, c]) => [k, convert(c)])) },
  connByGid: { transform: (old: Map<number, Conn>) => new Map([...old].map(([k, c]) => [k, convert(c)])) },
  closeableConnections: { transform: (old: Conn[]) => old.map(convert) },
});

/** The version whose state table this is: its transforms convert from that version's predecessor only. */
export const changedIn: string = 'v3';
