// The directory authority's signing keys. This is a demo network: the keys come from fixed
// seeds so that the relays' trusted-key tables can be constants in their code (Tor hard-codes
// its authorities the same way). Key A signs from the start; key B is the rotated key that
// relay v4 switches to (like 0.2.1.22's new authority keys). The authority signs with both.
import { createHash } from 'node:crypto';
import { ed25519KeyPairFromSeed, type Ed25519KeyPair, type TrustedDirectoryKey } from '../protocol/consensus.js';

export const DIR_KEY_SEEDS = { A: 'node-libevent relay demo: directory key A', B: 'node-libevent relay demo: directory key B (2010)' } as const;

export function dirKey(which: keyof typeof DIR_KEY_SEEDS): Ed25519KeyPair {
  return ed25519KeyPairFromSeed(createHash('sha256').update(DIR_KEY_SEEDS[which]).digest());
}

/** The trusted-key entry (as a relay's or client's table holds it) for one of the keys. */
export function trustedDirKey(which: keyof typeof DIR_KEY_SEEDS): TrustedDirectoryKey {
  return { name: which, publicKey: dirKey(which).publicKey };
}
