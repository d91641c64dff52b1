// v2 publish-subscribe: a new message, descriptor_status {accepted, detail}, from a new
// `relay` subsystem to btrack_desc (which counts accepted uploads in btrack's state).
import { create as previous, messagePair } from '../v0/bus.js';
import type { R } from '../v0/main.js';

export interface DescriptorStatusMsg { accepted: boolean; detail: string }

export function create(R: R) {
  const base = previous(R);
  const status = messagePair<DescriptorStatusMsg>(R, {
    message: 'descriptor_status',
    type: 'descriptor_status_msg',
    channel: 'orconn',
    publisher: { name: 'relay', level: 50 },
    subscriber: { name: 'btrack_desc', level: 56 },
    deliver: (m) => {
      if (m.accepted) R.S.btrack.events++;
    },
  });
  return {
    ...base,
    subsystems: () => [...base.subsystems(), ...status.subsystems],
    descriptorStatus(accepted: boolean, detail: string): void {
      status.publish({ accepted, detail });
    },
  };
}
