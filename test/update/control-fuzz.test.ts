// Control-protocol fuzz test (issue 7, "keep them from coming back"): malformed, binary, huge,
// split, half-closed, slow and vanishing clients, several at once, against a running host. The
// service must keep running, every valid request must still get its report, and no client may
// stay behind. Seeded: NLE_FUZZ_SEED=<n> replays a run (the seed is in every failure message).
import net from 'node:net';
import { describe, expect, it } from 'vitest';

import { serve, sleep } from './control-helpers.js';
import { updateMethods } from './harness.js';

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KINDS = ['valid', 'malformed', 'binary', 'huge', 'split', 'halfClosed', 'slow', 'vanish', 'vanishAfterRequest', 'vanishMidLine'] as const;
type Kind = (typeof KINDS)[number];
const MAX_REQUEST = 8192;

interface Outcome {
  kind: Kind;
  reply: string;
  target?: string;
}

/** One client of `kind`; resolves with what it got back (empty when it left early). */
function client(socketPath: string, kind: Kind, rand: () => number): Promise<Outcome> {
  const target = rand() < 0.5 ? 'v0' : 'v1';
  const valid = Buffer.from(JSON.stringify({ update: `${target}.cjs` }) + '\n');
  return new Promise((resolve) => {
    const s = net.connect(socketPath);
    const chunks: Buffer[] = [];
    const done = () => resolve({ kind, reply: Buffer.concat(chunks).toString('utf8'), ...(expectsUpdate(kind) ? { target } : {}) });
    s.on('data', (c) => chunks.push(c));
    s.on('error', () => {}); // the server may drop a misbehaving client mid-write
    s.on('close', done);
    s.on('connect', async () => {
      switch (kind) {
        case 'valid':
          s.write(valid);
          break;
        case 'malformed': {
          const alphabet = '{}[]":,0123456789abcdefnulltrue \\\t';
          let line = '';
          for (let i = 0, n = 1 + Math.floor(rand() * 200); i < n; i++) line += alphabet[Math.floor(rand() * alphabet.length)];
          s.write(line.replace(/\n/g, '') + '\n');
          break;
        }
        case 'binary': {
          const bytes = Buffer.alloc(1 + Math.floor(rand() * 3000));
          for (let i = 0; i < bytes.length; i++) bytes[i] = 0x80 + Math.floor(rand() * 0x80); // never a newline, never valid UTF-8 start
          s.write(Buffer.concat([bytes, Buffer.from('\n')]));
          break;
        }
        case 'huge':
          s.write(Buffer.alloc(MAX_REQUEST + 1 + Math.floor(rand() * 50_000), 0x61));
          break;
        case 'split':
          for (let at = 0; at < valid.length; ) {
            const n = 1 + Math.floor(rand() * 6);
            s.write(valid.subarray(at, at + n));
            at += n;
            await sleep(Math.floor(rand() * 3));
          }
          break;
        case 'halfClosed':
          s.end(rand() < 0.5 ? valid : valid.subarray(0, valid.length - 1));
          break;
        case 'slow':
          for (const byte of valid) {
            if (s.destroyed) break;
            s.write(Buffer.from([byte]));
            await sleep(1 + Math.floor(rand() * 3));
          }
          break;
        case 'vanish':
          s.destroy();
          break;
        case 'vanishAfterRequest':
          s.write(valid, () => s.destroy());
          break;
        case 'vanishMidLine':
          s.write(valid.subarray(0, Math.floor(rand() * (valid.length - 1))), () => s.destroy());
          break;
      }
    });
  });
}

function expectsUpdate(kind: Kind): boolean {
  return kind === 'valid' || kind === 'split' || kind === 'halfClosed' || kind === 'slow';
}

describe.each(updateMethods)('control protocol fuzz on %s', (method) => {
  it('bad, slow and vanishing clients never stop the service and valid requests always work', async () => {
    const seed = Number(process.env.NLE_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const rand = prng(seed);
    const tag = `(seed ${seed}; replay with NLE_FUZZ_SEED=${seed})`;
    const s = await serve(method, { maxRequestBytes: MAX_REQUEST, idleMs: 3000, maxClients: 6 });
    const outcomes: Outcome[] = [];
    const rounds = 12;
    for (let round = 0; round < rounds; round++) {
      const batch: Promise<Outcome>[] = [];
      for (let i = 0, n = 2 + Math.floor(rand() * 8); i < n; i++) batch.push(client(s.socketPath, KINDS[Math.floor(rand() * KINDS.length)]!, rand));
      outcomes.push(...(await Promise.all(batch)));
      expect(s.settled(), `host.run() settled in round ${round} ${tag}`).toBe(false);
    }
    for (const o of outcomes) {
      if (expectsUpdate(o.kind)) {
        expect(JSON.parse(o.reply), `${o.kind} ${tag}`).toMatchObject({ ok: true, to: o.target });
      } else if (o.kind === 'malformed' || o.kind === 'binary' || o.kind === 'huge') {
        // a reply when the client was still there to read it; always a refusal
        if (o.reply !== '') expect(JSON.parse(o.reply), `${o.kind} ${tag}`).toMatchObject({ ok: false, error: { code: 'ERR_BAD_REQUEST' } });
      }
    }
    expect(outcomes.some((o) => expectsUpdate(o.kind)), tag).toBe(true);
    for (let i = 0; i < 100 && s.control.clients > 0; i++) await sleep(10);
    expect(s.control.clients, `clients left behind ${tag}`).toBe(0);
    const last = await new Promise<string>((resolve) => {
      const c = net.connect(s.socketPath, () => c.write(JSON.stringify({ update: 'v1.cjs' }) + '\n'));
      let r = '';
      c.on('data', (d) => (r += d));
      c.on('close', () => resolve(r));
    });
    expect(JSON.parse(last), tag).toMatchObject({ ok: true, to: 'v1' });
    expect(await s.stop(), tag).toBe(0);
  });
});
