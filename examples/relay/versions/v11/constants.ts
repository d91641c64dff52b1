// v11 constants: caps on what the directory client accepts (0.2.1.29 refused directory data
// with an implausible size).
import { tables as previous } from '../v9/constants.js';

export function tables() {
  return { ...previous(), version: 'v11', maxConsensusBytes: 256 * 1024, maxConsensusEntries: 64 };
}
export type Tables = ReturnType<typeof tables>;
