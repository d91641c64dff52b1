// What the file server serves: /bytes/<n> is n bytes of an AES-128-CTR keystream keyed by n,
// so every file is reproducible and incompressible without storing anything.
import { createCipheriv, createHash, type Cipher } from 'node:crypto';

export const MAX_FILE = 1 << 30;

export class ContentStream {
  #cipher: Cipher;
  #left: number;
  static readonly #zeros = Buffer.alloc(64 * 1024);

  constructor(readonly size: number) {
    const key = createHash('sha256').update(`relay-file:${size}`).digest().subarray(0, 16);
    this.#cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
    this.#left = size;
  }

  get left(): number {
    return this.#left;
  }

  next(max = 64 * 1024): Buffer {
    const n = Math.min(max, this.#left, ContentStream.#zeros.length);
    this.#left -= n;
    return this.#cipher.update(ContentStream.#zeros.subarray(0, n));
  }
}

/** Parses "/bytes/<n>"; undefined when the path is not one. */
export function fileSize(path: string): number | undefined {
  const m = /^\/bytes\/(\d{1,10})$/.exec(path);
  if (!m) return undefined;
  const n = Number(m[1]);
  return n <= MAX_FILE ? n : undefined;
}

/** Human sizes for options and tables: 64k, 1m, 1.5m. */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([kmg]?)i?b?$/i.exec(text.trim());
  if (!m) throw new RangeError(`not a size: '${text}' (use e.g. 64k, 1m, 8m)`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Math.round(Number(m[1]) * mult);
}

export function formatSize(n: number): string {
  if (n >= 1024 ** 2) return `${+(n / 1024 ** 2).toFixed(2)} MiB`;
  if (n >= 1024) return `${+(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}
