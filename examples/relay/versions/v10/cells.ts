// v10 cells (0.2.1.28 changed cell_t's payload type throughout): a queued cell is its packed
// wire buffer, always with a 4-byte CircID (514 bytes), made once when the cell is queued.
// A link of version 4 or more writes it as it is; a v3 link (2-byte CircIDs) repacks it.
import { type Cell, encodeCell, packedCircId, repackCell } from '../../protocol/cell.js';
import type { R } from '../v0/main.js';
import type { CellObj, OrConn } from '../v0/types.js';

/** The packed form every queued cell takes from v10 on (state.ts converts v9's objects with it). */
export const packCell = (cell: Cell): Buffer => encodeCell(4, cell);

export function create(_R: R) {
  return {
    make(_c: OrConn, circId: number, command: number, payload: Buffer): CellObj {
      return packCell({ circId, command, payload }) as unknown as CellObj;
    },
    toWire(c: OrConn, cell: CellObj): Buffer {
      const packed = cell as unknown as Buffer;
      return c.linkVersion >= 4 ? packed : repackCell(4, c.linkVersion, packed, packedCircId(4, packed));
    },
    writeWire(c: OrConn, cell: CellObj, out: Buffer, at: number): number {
      const wire = this.toWire(c, cell);
      if (at + wire.length > out.length) throw new RangeError(`no room for a ${wire.length}-byte cell at ${at}`);
      out.set(wire, at);
      return at + wire.length;
    },
  };
}
