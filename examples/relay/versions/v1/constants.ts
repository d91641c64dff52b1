// v1 constants: the onion queue is capped (0.2.1.19 fixed the refused-CREATE path).
import { tables as previous } from '../v0/constants.js';

export function tables() {
  return { ...previous(), version: 'v1', maxOnionQueue: 100 };
}
export type Tables = ReturnType<typeof tables>;
