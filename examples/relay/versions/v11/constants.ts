// v11 constants: caps on what the directory client accepts (0.2.1.29 refused directory data
// with an implausible size): a smaller response, and at most 64 relays in a consensus.
import { tables as previous } from '../v9/constants.js';

export function tables() {
  return { ...previous(), version: 'v11', maxDirResponseBytes: 256 * 1024, maxConsensusEntries: 64 };
}
export type Tables = ReturnType<typeof tables>;
