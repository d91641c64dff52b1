// v12 publish-subscribe: a clock_skew message {gid, skew} from a new `or_skew` subsystem to
// btrack_skew, which keeps the last skew reported.
import { messagePair } from '../v0/bus.js';
import { create as previous } from '../v9/bus.js';
import type { R } from '../v0/main.js';

export interface ClockSkewMsg { gid: number; skew: number }

export function create(R: R) {
  const base = previous(R);
  const clockSkew = messagePair<ClockSkewMsg>(R, 'clock_skew', 'orconn', { name: 'or_skew', level: 21 }, { name: 'btrack_skew', level: 57 }, (m) => {
    R.S.btrack.lastSkew = m.skew;
  });
  return { ...base, subsystems: () => [...base.subsystems(), ...clockSkew.subsystems], clockSkew: (gid: number, skew: number) => clockSkew.publish({ gid, skew }) };
}
