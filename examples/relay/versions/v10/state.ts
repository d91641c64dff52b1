// v10 state: queued cells change representation, from {circId, command, payload} objects to
// packed 514-byte wire buffers (4-byte CircID; a v3 link repacks to 512 when writing). Every
// cell queued in every circuit is converted; partial input is raw bytes and stays as it is.
import { packCell } from '../../common/proto.js';
import type { CellObj, Circuit } from '../v0/types.js';
import { evolve } from '../v0/state.js';
import { items as previous } from '../v8/state.js';

const pack = (cells: CellObj[]) => cells.map((c) => (Buffer.isBuffer(c) ? c : packCell(4, c.circId, c.command, c.payload)));

export const items = evolve(previous, {
  circuits: {
    transform: (old: Map<number, Circuit>) => new Map([...old].map(([gid, c]) => [gid, { ...c, pQueue: pack(c.pQueue), nQueue: pack(c.nQueue) } as unknown as Circuit])),
  },
});

/** The version whose state table this is: its transforms convert from that version's predecessor only. */
export const changedIn: string = 'v10';
