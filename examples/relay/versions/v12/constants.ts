// v12 constants: new links offer link version 5 as well (0.2.1.30 changed a link-handshake
// constant for new connections only); links already open keep the version they negotiated.
// A peer's NETINFO time further off than maxClockSkew is reported.
import { tables as previous } from '../v11/constants.js';

export function tables() {
  return { ...previous(), version: 'v12', linkVersions: [3, 4, 5], maxClockSkew: 3600 };
}
export type Tables = ReturnType<typeof tables>;
