// v10 links: a queued cell is its packed wire buffer (0.2.1.28 changed cell_t's payload type
// throughout); v3 links (2-byte CircIDs) repack it when writing.
import { CELL_BODY, packCell } from '../../common/proto.js';
import { create as previous } from '../v8/link.js';
import type { R } from '../v0/main.js';
import type { CellObj, OrConn } from '../v0/types.js';

export function create(R: R) {
  const base = previous(R);
  return {
    ...base,
    makeCell(_c: OrConn, circId: number, command: number, payload: Buffer): CellObj {
      return packCell(4, circId, command, payload) as unknown as CellObj;
    },
    cellToWire(c: OrConn, cell: CellObj): Buffer {
      const packed = cell as unknown as Buffer;
      if (c.linkVersion >= 4) return packed;
      const out = Buffer.allocUnsafe(3 + CELL_BODY);
      out.writeUInt16BE(packed.readUInt32BE(0) & 0xffff, 0);
      packed.copy(out, 2, 4);
      return out;
    },
  };
}
