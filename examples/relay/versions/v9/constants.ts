// v9 constants: END reason 8 NOROUTE is defined and named (0.2.1.27). Exits still send MISC
// for unreachable hosts until clients know the new code: the sender does not change here.
import { tables as previous } from '../v8/constants.js';

export function tables() {
  const t = previous();
  const endReasonNames = [...t.endReasonNames];
  endReasonNames[8] = 'NOROUTE';
  return { ...t, version: 'v9', endReason: { ...t.endReason, NOROUTE: 8 }, endReasonNames };
}
export type Tables = ReturnType<typeof tables>;
