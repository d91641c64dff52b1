// v5 state: circuits and the consensus view record the version that wrote them (0.2.1.23
// dropped guards chosen by buggy versions by reading such a field).
import type { Circuit, DirView } from '../v0/types.js';
import { evolve } from '../v0/state.js';
import { items as previous } from '../v3/state.js';

export const items = evolve(previous, {
  circuits: { transform: (old: Map<number, Circuit>, from: string) => new Map([...old].map(([gid, c]) => [gid, { ...c, createdBy: from }])) },
  dirView: { transform: (old: DirView, from: string) => ({ ...old, writtenBy: from }) },
});

/** The version whose state table this is: its transforms convert from that version's predecessor only. */
export const changedIn: string = 'v5';
