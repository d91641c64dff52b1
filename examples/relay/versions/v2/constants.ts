// v2 constants: SENDMEs go out when a deliver window reaches a full increment below its start
// (`<=`), not one cell later (0.2.1.20's off-by-one fix: the protocol layer's sendme.ts
// applies the rule the table names, for every circuit and stream from this version on).
import { tables as previous } from '../v1/constants.js';

export function tables() {
  const t = previous();
  return {
    ...t,
    version: 'v2',
    circuitWindow: { ...t.circuitWindow, inclusiveThreshold: true },
    streamWindow: { ...t.streamWindow, inclusiveThreshold: true },
  };
}
export type Tables = ReturnType<typeof tables>;
