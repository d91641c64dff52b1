// v4 constants: the trusted directory table is replaced (0.2.1.22 changed two authorities'
// keys). Key B is the directory's new key; key A stays trusted for the transition, so the
// consensus fetched under v3 is kept until it expires.
import { dirKey } from '../v0/constants.js';
import { tables as previous } from '../v2/constants.js';

export function tables() {
  return {
    ...previous(),
    version: 'v4',
    trustedDirKeys: [
      dirKey('B', '4966867d4a74647c05ef2e6dcbbbe57f9e0ff615c9bb612fd4fb0cd41bfd041b'),
      dirKey('A', '1d36db8cb35ee9fea81ed722009205f1cec26f0bb65708c5d5ee50637a54a456'),
    ],
  };
}
export type Tables = ReturnType<typeof tables>;
