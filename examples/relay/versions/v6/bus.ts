// v6 subsystems: a `crypto` subsystem (level -5) whose initialize checks the crypto library
// while running, not at load (0.2.1.24 checked OpenSSL at run time). On an update it runs
// again in updating mode: it re-checks capabilities but never touches keys.
import { createCipheriv, createHash, getCurves } from 'node:crypto';
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
            const caps = R.S.cryptoCaps;
            caps.hashCopy = typeof createHash('sha1').copy === 'function';
            try {
              createCipheriv('aes-128-ctr', Buffer.alloc(16), Buffer.alloc(16));
              caps.aesCtr = true;
            } catch {
              caps.aesCtr = false;
            }
            caps.x25519 = getCurves().length > 0;
            caps.checks++;
            caps.checkedAt = R.now();
            if (!caps.hashCopy || !caps.aesCtr) throw new Error('the crypto library lacks Hash.copy or AES-128-CTR');
          },
        }),
        ...base.subsystems(),
      ];
    },
  };
}
