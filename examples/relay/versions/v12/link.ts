// v12 links: NETINFO's time is compared with ours; a skew beyond maxClockSkew is published
// as a clock_skew message, only for links we dialled (we know whom we asked, as 0.2.1.30
// trusted only authorities' reports).
import type { Netinfo } from '../../protocol/cell.js';
import { create as previous } from '../v8/link.js';
import type { R } from '../v0/main.js';
import type { OrConn } from '../v0/types.js';

export function create(R: R) {
  const base = previous(R);
  return {
    ...base,
    netinfoReceived(c: OrConn, info: Netinfo): void {
      const T = R.T as typeof R.T & { maxClockSkew: number };
      const skew = info.time === 0 ? 0 : Math.round(info.time - R.now());
      if (c.initiator && Math.abs(skew) > T.maxClockSkew) (R.bus as any).clockSkew(c.gid, skew);
      base.netinfoReceived(c, info);
    },
  };
}
