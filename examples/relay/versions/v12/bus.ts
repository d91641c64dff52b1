// v12 publish-subscribe: a clock_skew message {gid, skew} from `or` to btrack.
import type { Publisher } from 'node-libevent/pubsub';
import { create as previous } from '../v9/bus.js';
import type { R } from '../v0/main.js';

export interface ClockSkewMsg { gid: number; skew: number }

export function create(R: R) {
  const base = previous(R);
  const ClockSkew = R.lib.defineMessage<ClockSkewMsg>('clock_skew', 'clock_skew_msg');
  let pub: Publisher<ClockSkewMsg> | undefined;
  return {
    ...base,
    subsystems() {
      return [
        ...base.subsystems(),
        R.lib.defineSubsystem({ name: 'or_skew', level: 21, addPubsub: (con) => void (pub = con.addPub('orconn', ClockSkew)) }),
        R.lib.defineSubsystem({ name: 'btrack_skew', level: 57, addPubsub: (con) => con.addSub('orconn', ClockSkew, (m) => void (R.S.btrack.lastSkew = m.skew)) }),
      ];
    },
    clockSkew(gid: number, skew: number): void {
      pub?.publish({ gid, skew });
    },
  };
}
