// v8 state: links gain lastAddedNonpadding (filled from the last write); the removed clique
// option leaves the live config.
import type { Conn, RelayOptions } from '../v0/types.js';
import { evolve } from '../v0/state.js';
import { items as previous } from '../v7/state.js';

const converted = new WeakMap<Conn, Conn>();
const convert = (c: Conn): Conn => {
  let n = converted.get(c);
  if (!n) {
    n = 'linkVersion' in c ? ({ ...c, lastAddedNonpadding: c.lastWritten } as Conn) : { ...c };
    converted.set(c, n);
  }
  return n;
};

export const items = evolve(previous, {
  options: {
    transform: (old: RelayOptions) => {
      const { clique: _removed, ...rest } = old;
      return rest;
    },
  },
  connectionArray: { transform: (old: Conn[]) => old.map(convert) },
  connByFd: { transform: (old: Map<number, Conn>) => new Map([...old].map(([k, c]) => [k, convert(c)])) },
  connByGid: { transform: (old: Map<number, Conn>) => new Map([...old].map(([k, c]) => [k, convert(c)])) },
  closeableConnections: { transform: (old: Conn[]) => old.map(convert) },
});

/** The version whose state table this is: its transforms convert from that version's predecessor only. */
export const changedIn: string = 'v8';
