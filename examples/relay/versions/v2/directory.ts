// v2 directory client: the consensus keeps its params (used by circwindow), and each answer
// to a descriptor upload is published as a descriptor_status message (0.2.1.20's
// "accepted-server-descriptor" status).
import { create as previous } from '../v0/directory.js';
import type { R } from '../v0/main.js';

export function create(R: R) {
  const base = previous(R);
  return {
    ...base,
    handleResponse(kind: 'descriptor' | 'consensus', status: number, body: string): void {
      base.handleResponse(kind, status, body);
      if (kind === 'descriptor') (R.bus as any).descriptorStatus(status === 200, body.trim());
    },
  };
}
