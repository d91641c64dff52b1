// v2 publish-subscribe: a new message, descriptor_status {accepted, detail}, from the `or`
// subsystem to btrack (which counts accepted uploads).
import type { Publisher } from 'node-libevent/pubsub';
import { create as previous } from '../v0/bus.js';
import type { R } from '../v0/main.js';

export interface DescriptorStatusMsg { accepted: boolean; detail: string }

export function create(R: R) {
  const base = previous(R);
  const DescriptorStatus = R.lib.defineMessage<DescriptorStatusMsg>('descriptor_status', 'descriptor_status_msg');
  let pub: Publisher<DescriptorStatusMsg> | undefined;
  return {
    ...base,
    subsystems() {
      return [
        ...base.subsystems(),
        R.lib.defineSubsystem({
          name: 'relay',
          level: 50,
          addPubsub(con) {
            pub = con.addPub('orconn', DescriptorStatus);
          },
        }),
        R.lib.defineSubsystem({
          name: 'btrack_desc',
          level: 56,
          addPubsub(con) {
            con.addSub('orconn', DescriptorStatus, (m) => {
              if (m.accepted) R.S.btrack.events++;
            });
          },
        }),
      ];
    },
    descriptorStatus(accepted: boolean, detail: string): void {
      pub?.publish({ accepted, detail });
    },
  };
}
