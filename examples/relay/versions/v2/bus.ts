// v2 publish-subscribe: a new message, descriptor_status {accepted, detail}, from a new
// `relay` subsystem to btrack_desc (which counts accepted uploads in btrack's state).
import { create as previous, messagePair } from '../v0/bus.js';
import type { R } from '../v0/main.js';

export interface DescriptorStatusMsg { accepted: boolean; detail: string }

export function create(R: R) {
  const base = previous(R);
  const status = messagePair<DescriptorStatusMsg>(R, 'descriptor_status', 'orconn', { name: 'relay', level: 50 }, { name: 'btrack_desc', level: 56 }, (m) => {
    if (m.accepted) R.S.btrack.events++;
  });
  return {
    ...base,
    subsystems: () => [...base.subsystems(), ...status.subsystems],
    descriptorStatus: (accepted: boolean, detail: string) => status.publish({ accepted, detail }),
  };
}
