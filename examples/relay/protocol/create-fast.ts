/**
 * CREATE_FAST / CREATED_FAST (tor-spec §5.1.1, §5.2.1): a first-hop handshake without public-key
 * crypto, deprecated in Tor but kept here as an optional shortcut, and because a relay that sees
 * CREATE_FAST knows it is the first hop (so it can refuse BEGIN on that circuit).
 *
 *   CREATE_FAST body:  X (20 random bytes)
 *   CREATED_FAST body: Y (20 random bytes) | KH (20)
 *   K0 = X | Y;  K = SHA1(K0 | 00) | SHA1(K0 | 01) | ...   (KDF-TOR)
 *   split as KH (20) | Df (20) | Db (20) | Kf (16) | Kb (16)
 *
 * The client checks that the relay's KH equals its own: that proves the relay saw X, nothing more
 * (the link itself must be trusted, which is why Tor stopped using it). Keys come out in the
 * same `CircuitKeys` shape as ntor's, so relay-crypto.ts takes them unchanged.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

import { ProtocolError } from './errors.js';
import type { CircuitKeys } from './ntor.js';

export const CREATE_FAST_LEN = 20;
export const CREATED_FAST_LEN = 40;

/** KDF-TOR: SHA-1(K0 | i) for i = 0, 1, ... concatenated up to `length` bytes. */
export function kdfTor(k0: Buffer, length: number): Buffer {
  const blocks: Buffer[] = [];
  for (let i = 0; blocks.length * 20 < length; i++) {
    blocks.push(createHash('sha1').update(k0).update(Buffer.from([i])).digest());
  }
  return Buffer.concat(blocks).subarray(0, length);
}

function keysOf(x: Buffer, y: Buffer): CircuitKeys {
  const k = kdfTor(Buffer.concat([x, y]), 92);
  const take = (start: number, len: number) => Buffer.from(k.subarray(start, start + len));
  return { KH: take(0, 20), Df: take(20, 20), Db: take(40, 20), Kf: take(60, 16), Kb: take(76, 16) };
}

/** What the client keeps until CREATED_FAST arrives: X. */
export interface CreateFastClientState {
  x: Buffer;
}

export function createFastClientStart(x: Buffer = randomBytes(CREATE_FAST_LEN)): { body: Buffer; state: CreateFastClientState } {
  if (x.length !== CREATE_FAST_LEN) throw new ProtocolError('ERR_CELL_BAD_FIELD', 'CREATE_FAST X is 20 bytes');
  return { body: Buffer.from(x), state: { x: Buffer.from(x) } };
}

/** The relay's side: reads X from the cell body (trailing padding ignored), answers Y | KH. */
export function createFastServer(body: Buffer, y: Buffer = randomBytes(20)): { reply: Buffer; keys: CircuitKeys } {
  if (body.length < CREATE_FAST_LEN) {
    throw new ProtocolError('ERR_CELL_TRUNCATED', 'CREATE_FAST body truncated', { destroyReason: 1 });
  }
  const keys = keysOf(Buffer.from(body.subarray(0, CREATE_FAST_LEN)), y);
  return { reply: Buffer.concat([y, keys.KH]), keys };
}

/** The client's side: ERR_CELL_TRUNCATED on a short body, ERR_FAST_AUTH when KH does not match. */
export function createFastClientFinish(state: CreateFastClientState, reply: Buffer): CircuitKeys {
  if (reply.length < CREATED_FAST_LEN) {
    throw new ProtocolError('ERR_CELL_TRUNCATED', 'CREATED_FAST body truncated', { destroyReason: 1 });
  }
  const keys = keysOf(Buffer.from(state.x), Buffer.from(reply.subarray(0, 20)));
  if (!timingSafeEqual(keys.KH, reply.subarray(20, 40))) {
    throw new ProtocolError('ERR_FAST_AUTH', 'CREATED_FAST key hash does not match', { destroyReason: 1 });
  }
  return keys;
}
