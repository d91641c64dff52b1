// v8 constants: idle links with no circuits close after 180 s (IDLE_OR_CONN_TIMEOUT), and a
// new periodic event expires idle server-side circuits every 11 s (0.2.1.26; modern Tor's
// expire_old_circuits_serverside).
import { tables as previous } from '../v4/constants.js';

export function tables() {
  const t = previous();
  return {
    ...t,
    version: 'v8',
    idleLinkTimeout: 180,
    idleCircuitTimeout: 60,
    periodicEvents: { ...t.periodicEvents, expire_old_circuits_serverside: ['expireOldCircuitsServerside', 11] } as Record<string, [string, number]>,
  };
}
export type Tables = ReturnType<typeof tables>;
