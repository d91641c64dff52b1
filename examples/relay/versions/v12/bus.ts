// v12 publish-subscribe: a clock_skew message {gid, skew} from a new `or_skew` subsystem to
// btrack_skew, which keeps the last skew reported.
import { messagePair } from '../v0/bus.js';
import { create as previous } from '../v9/bus.js';
import type { R } from '../v0/main.js';

export interface ClockSkewMsg { gid: number; skew: number }

export function create(R: R) {
  const base = previous(R);
  const skew = messagePair<ClockSkewMsg>(R, {
    message: 'clock_skew',
    type: 'clock_skew_msg',
    channel: 'orconn',
    publisher: { name: 'or_skew', level: 21 },
    subscriber: { name: 'btrack_skew', level: 57 },
    deliver: (m) => void (R.S.btrack.lastSkew = m.skew),
  });
  return {
    ...base,
    subsystems: () => [...base.subsystems(), ...skew.subsystems],
    clockSkew(gid: number, skewSeconds: number): void {
      skew.publish({ gid, skew: skewSeconds });
    },
  };
}
