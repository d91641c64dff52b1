// v11 directory client (0.2.1.29): a consensus listing more relays than the tables allow is
// refused (the byte cap, maxDirResponseBytes, is lowered in constants.ts), and the request
// callback is renamed connectionDirCallback (version.ts maps dirIo to it in `renames`, so a
// request in flight is rebound). v2's descriptor_status messages stay.
import type { VerifiedConsensus } from '../../protocol/consensus.js';
import { ProtocolError } from '../../protocol/errors.js';
import { create as previous } from '../v2/directory.js';
import type { R } from '../v0/main.js';

export function create(R: R) {
  const base = previous(R);
  const { dirIo, ...handlers } = base.handlers;
  return {
    ...base,
    handlers: { ...handlers, connectionDirCallback: dirIo },
    callbackName: 'connectionDirCallback',
    acceptConsensus(c: VerifiedConsensus): void {
      const max = (R.T as typeof R.T & { maxConsensusEntries: number }).maxConsensusEntries;
      if (c.relays.length > max) throw new ProtocolError('ERR_DIR_MALFORMED', `consensus lists ${c.relays.length} relays (at most ${max})`);
      base.acceptConsensus(c);
    },
  };
}
