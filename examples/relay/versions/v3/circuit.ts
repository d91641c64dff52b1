// v3 circuits: once a link's handshake is done it is locked, and a later VERSIONS or
// NETINFO is a protocol error that closes the link (0.2.1.21 blocked renegotiation).
import { CellCommand as CMD } from '../../protocol/cell.js';
import { ProtocolError } from '../../protocol/errors.js';
import { create as previous } from '../v2/circuit.js';
import type { R } from '../v0/main.js';
import type { OrConn } from '../v0/types.js';

type Locked = OrConn & { handshakeLocked?: boolean };

export function create(R: R) {
  const base = previous(R);
  return {
    ...base,
    processCell(c: OrConn, circId: number, cmd: number, body: Buffer): string {
      if ((cmd === CMD.VERSIONS || cmd === CMD.NETINFO) && (c as Locked).handshakeLocked) throw new ProtocolError('ERR_LINK_HANDSHAKE', 'a second link handshake on a locked link', { fatalToLink: true });
      return base.processCell(c, circId, cmd, body);
    },
    linkOpened(link: OrConn): void {
      (link as Locked).handshakeLocked = true;
      base.linkOpened(link);
    },
  };
}
