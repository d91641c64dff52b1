// The in-memory representation of a queued cell (Tor's cell_t): what a circuit's queues hold
// between the cell being made and a link writing it. v0 keeps the protocol layer's Cell
// objects and encodes one for its link's version when the link writes it; v10 replaces this
// module with packed wire buffers (and converts every queued cell).
import { encodeCell, encodeCellInto } from '../../protocol/cell.js';
import type { R } from './main.js';
import type { CellObj, OrConn } from './types.js';

export function create(_R: R) {
  return {
    /** A cell to queue for a circuit ID on a link. */
    make(_c: OrConn, circId: number, command: number, payload: Buffer): CellObj {
      return { circId, command, payload };
    },
    /** The wire form of a queued cell for this link. */
    toWire(c: OrConn, cell: CellObj): Buffer {
      return encodeCell(c.linkVersion, cell);
    },
    /** Writes the wire form into a link's output buffer at `at`; returns the offset after it. */
    writeWire(c: OrConn, cell: CellObj, out: Buffer, at: number): number {
      return encodeCellInto(c.linkVersion, cell, out, at);
    },
  };
}
