// v7 links (0.2.1.25): the link callbacks are renamed connReadCallback / connWriteCallback
// (version.ts maps the old names in `renames`, so every live link's events are rebound), and
// our own address is guessed with what a peer we dialled reports seeing us at in NETINFO
// (0.2.1.25 fixed the refactored resolve_my_address), remembered for the next descriptor.
import type { Netinfo } from '../../protocol/cell.js';
import { create as previous } from '../v0/link.js';
import type { R } from '../v0/main.js';
import type { OrConn } from '../v0/types.js';

export function create(R: R) {
  const base = previous(R);
  const { connRead, connWrite, ...handlers } = base.handlers;
  const link = {
    ...base,
    handlers: { ...handlers, connReadCallback: connRead, connWriteCallback: connWrite },
    callbackNames: { read: 'connReadCallback', write: 'connWriteCallback' },
    netinfoReceived(c: OrConn, info: Netinfo): void {
      // Through R.link, so a later version's guessOwnAddress is the one that runs.
      (R.link as unknown as typeof link).guessOwnAddress(c, info.otherAddress?.address ?? '');
    },
    /** The configured address stays ours; a dialled peer's report of it is kept. */
    guessOwnAddress(c: OrConn, seenAs: string): string {
      const mine = R.S.myAddress;
      if (c.initiator && seenAs && seenAs !== '0.0.0.0') {
        mine.seenAs = seenAs;
        mine.reports++;
      }
      return R.S.options.host;
    },
  };
  return link;
}
