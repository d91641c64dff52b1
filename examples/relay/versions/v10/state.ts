// v10 state: queued cells change representation, from Cell objects to packed 514-byte wire
// buffers (cells.ts). Every cell queued in every circuit is converted; partial input waits in
// each link's CellReader as raw bytes and stays as it is.
import type { CellObj, Circuit } from '../v0/types.js';
import { evolve } from '../v0/state.js';
import { items as previous } from '../v8/state.js';
import { packCell } from './cells.js';

const pack = (cells: CellObj[]) => cells.map((c) => (Buffer.isBuffer(c) ? c : packCell(c)));

export const items = evolve(previous, {
  circuits: {
    transform: (old: Map<number, Circuit>) => new Map([...old].map(([gid, c]) => [gid, { ...c, pQueue: pack(c.pQueue), nQueue: pack(c.nQueue) } as unknown as Circuit])),
  },
});

/** The version whose state table this is: its transforms convert from that version's predecessor only. */
export const changedIn: string = 'v10';
