// v6 subsystems: a `crypto` subsystem (level -5) whose initialize checks the crypto library
// while running, not at load (0.2.1.24 checked OpenSSL at run time). On an update it runs
// again in updating mode: it re-checks capabilities but never touches keys.
import { createCipheriv, createHmac, generateKeyPairSync } from 'node:crypto';
import { create as previous } from '../v2/bus.js';
import type { R } from '../v0/main.js';

export function create(R: R) {
  const base = previous(R);
  return {
    ...base,
    subsystems() {
      return [
        R.lib.defineSubsystem({
          name: 'crypto',
          level: -5,
          initialize() {
            // What the protocol layer needs of node:crypto: AES-128-CTR (onion layers),
            // x25519 (ntor) and HMAC-SHA256 (ntor's key derivation). SHA-1 is its own.
            const caps = R.S.cryptoCaps;
            const works = (probe: () => unknown): boolean => {
              try {
                probe();
                return true;
              } catch {
                return false;
              }
            };
            caps.aesCtr = works(() => createCipheriv('aes-128-ctr', Buffer.alloc(16), Buffer.alloc(16)));
            // Making a key pair costs tens of µs inside an update's pause: x25519 is probed until it has worked once.
            caps.x25519 = caps.x25519 || works(() => generateKeyPairSync('x25519'));
            caps.hmacSha256 = works(() => createHmac('sha256', 'k').update('m').digest());
            caps.checks++;
            caps.checkedAt = R.now();
            if (!caps.aesCtr || !caps.x25519 || !caps.hmacSha256) throw new Error('the crypto library lacks AES-128-CTR, x25519 or HMAC-SHA256');
          },
        }),
        ...base.subsystems(),
      ];
    },
  };
}
