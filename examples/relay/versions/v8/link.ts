// v8 links: the time a non-padding cell was last queued is kept per link, and idle
// housekeeping measures from it (0.2.1.26).
import { create as previous } from '../v7/link.js';
import type { R } from '../v0/main.js';
import type { OrConn } from '../v0/types.js';

type V8Conn = OrConn & { lastAddedNonpadding: number };

export function create(R: R) {
  const base = previous(R);
  return {
    ...base,
    makeActive(c: OrConn, circGid: number): void {
      (c as V8Conn).lastAddedNonpadding = R.now();
      const circ = R.S.circuits.get(circGid);
      if (circ) circ.lastActive = R.now();
      base.makeActive(c, circGid);
    },
    housekeeping(c: OrConn, now: number): void {
      // A link that carried cells recently is not idle, whatever its last raw write was.
      const last = (c as V8Conn).lastAddedNonpadding ?? c.lastWritten;
      if (c.nCircuits === 0 && now - last <= R.T.idleLinkTimeout && now - Math.max(c.lastRead, c.lastWritten) > R.T.idleLinkTimeout) return;
      base.housekeeping(c, now);
    },
  };
}
