/**
 * The ntor circuit handshake (tor-spec §5.1.4) and its key expansion (§5.2.2), on node:crypto.
 *
 *   client → relay   NODEID (20) | KEYID = B (32) | X (32)              84 bytes (NTOR_ONIONSKIN_LEN)
 *   relay  → client  Y (32) | AUTH (32)                                 64 bytes (NTOR_REPLY_LEN)
 *
 *   secret_input = EXP(X,y) | EXP(X,b) | ID | B | X | Y | PROTOID       (relay; the client computes
 *                  EXP(Y,x) | EXP(B,x) | ID | B | X | Y | PROTOID, the same bytes)
 *   KEY_SEED = H(secret_input, t_key)     verify = H(secret_input, t_verify)
 *   auth_input = verify | ID | B | Y | X | PROTOID | "Server"    AUTH = H(auth_input, t_mac)
 *   keys = HKDF-SHA256(salt t_key, IKM secret_input, info m_expand) → Df 20 | Db 20 | Kf 16 | Kb 16 | KH 20
 *
 * H(x, t) is HMAC-SHA256 keyed with t; t_mac, t_key, t_verify and m_expand are PROTOID followed by
 * ":mac", ":key_extract", ":verify" and ":key_expand". In this example a relay's NODEID is the
 * SHA-1 of its Ed25519 identity public key (Tor hashes its RSA identity key instead).
 *
 * As Tor does (onion_ntor.c), a relay that does not hold the KEYID the client named still answers,
 * computed with a junk keypair, so a stale onion key shows only as a bad AUTH at the client and
 * costs the relay the same time. All key material is plain Buffers so a live update (or a client
 * in the middle of extending a circuit) can carry it.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  timingSafeEqual,
  createHmac,
  type KeyObject,
} from 'node:crypto';

import { ProtocolError } from './errors.js';

export const PROTOID = 'ntor-curve25519-sha256-1';
const T_MAC = Buffer.from(`${PROTOID}:mac`);
const T_KEY = Buffer.from(`${PROTOID}:key_extract`);
const T_VERIFY = Buffer.from(`${PROTOID}:verify`);
const M_EXPAND = Buffer.from(`${PROTOID}:key_expand`);
const PROTOID_BYTES = Buffer.from(PROTOID);
const SERVER = Buffer.from('Server');

export const NODE_ID_LEN = 20;
export const NTOR_KEY_LEN = 32;
export const NTOR_ONIONSKIN_LEN = NODE_ID_LEN + 2 * NTOR_KEY_LEN; // 84
export const NTOR_REPLY_LEN = 2 * NTOR_KEY_LEN; // 64
/** Df | Db | Kf | Kb | KH (Tor: CPATH_KEY_MATERIAL_LEN 72, plus the 20-byte KH nonce). */
export const NTOR_KEY_MATERIAL_LEN = 92;

/** The keys one hop shares with the client after a handshake. */
export interface CircuitKeys {
  /** Seed of the forward (client → relay) running SHA-1 digest. */
  Df: Buffer;
  /** Seed of the backward running digest. */
  Db: Buffer;
  /** Forward AES-128-CTR key. */
  Kf: Buffer;
  /** Backward AES-128-CTR key. */
  Kb: Buffer;
  /** Nonce for later protocols (hidden-service rendezvous in Tor); unused by the example. */
  KH: Buffer;
}

/** A raw x25519 keypair: 32-byte public and private keys. */
export interface X25519KeyPair {
  publicKey: Buffer;
  privateKey: Buffer;
}

const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');

export function generateX25519KeyPair(): X25519KeyPair {
  const { privateKey } = generateKeyPairSync('x25519');
  // JWK export is a copy of the raw key; DER export (and import) costs tens of times more.
  const jwk = privateKey.export({ format: 'jwk' });
  const pair = { publicKey: Buffer.from(jwk.x!, 'base64url'), privateKey: Buffer.from(jwk.d!, 'base64url') };
  privateKeyObjects.set(pair.privateKey, privateKey);
  return pair;
}

// KeyObjects are made once per raw private key: long-lived onion keys are used for every
// CREATE2, and a fresh ephemeral pair keeps the KeyObject it was generated as.
const privateKeyObjects = new WeakMap<Buffer, KeyObject>();

function privateKeyObject(raw: Buffer): KeyObject {
  let key = privateKeyObjects.get(raw);
  if (key === undefined) {
    key = createPrivateKey({ key: Buffer.concat([PKCS8_X25519, raw]), format: 'der', type: 'pkcs8' });
    privateKeyObjects.set(raw, key);
  }
  return key;
}

/** A public KeyObject from 32 raw bytes (through JWK: several times cheaper than SPKI DER). */
function publicKeyObject(raw: Uint8Array): KeyObject {
  const x = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64url');
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' });
}

/** EXP(peer, own) of the spec. A low-order peer key (the point at infinity) is ERR_NTOR_DH. */
export function x25519(ownPrivate: Buffer, peerPublic: Buffer): Buffer {
  if (ownPrivate.length !== NTOR_KEY_LEN || peerPublic.length !== NTOR_KEY_LEN) {
    throw new ProtocolError('ERR_NTOR_LENGTH', 'x25519 keys are 32 bytes', { destroyReason: 1 });
  }
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey: privateKeyObject(ownPrivate), publicKey: publicKeyObject(peerPublic) });
  } catch (cause) {
    throw new ProtocolError('ERR_NTOR_DH', 'x25519 with a low-order or invalid public key', { destroyReason: 1, cause });
  }
  if (shared.every((b) => b === 0)) {
    throw new ProtocolError('ERR_NTOR_DH', 'x25519 result is all zeros', { destroyReason: 1 });
  }
  return shared;
}

/** NODEID of a relay: SHA-1 of its 32-byte Ed25519 identity public key. */
export function nodeIdOf(ed25519PublicKey: Buffer): Buffer {
  return createHash('sha1').update(ed25519PublicKey).digest();
}

function mac(key: Buffer, ...parts: Buffer[]): Buffer {
  const h = createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** Splits 92 bytes of key material in Tor's order. */
export function splitKeyMaterial(material: Buffer): CircuitKeys {
  if (material.length < NTOR_KEY_MATERIAL_LEN) throw new ProtocolError('ERR_NTOR_LENGTH', 'short key material');
  const take = (start: number, len: number) => Buffer.from(material.subarray(start, start + len));
  return { Df: take(0, 20), Db: take(20, 20), Kf: take(40, 16), Kb: take(56, 16), KH: take(72, 20) };
}

function deriveKeys(secretInput: Buffer): CircuitKeys {
  return splitKeyMaterial(Buffer.from(hkdfSync('sha256', secretInput, T_KEY, M_EXPAND, NTOR_KEY_MATERIAL_LEN)));
}

function authOf(secretInput: Buffer, id: Buffer, B: Buffer, X: Buffer, Y: Buffer): Buffer {
  const verify = mac(T_VERIFY, secretInput);
  return mac(T_MAC, verify, id, B, Y, X, PROTOID_BYTES, SERVER);
}

// ---------------------------------------------------------------------------------------------
// Client

/** What a client keeps between sending CREATE2/EXTEND2 and receiving CREATED2/EXTENDED2. */
export interface NtorClientState {
  nodeId: Buffer;
  onionKey: Buffer;
  /** The ephemeral pair (x, X). */
  ephemeral: X25519KeyPair;
}

/** Starts a handshake with the relay `nodeId` whose ntor onion key (from the consensus) is `onionKey`. */
export function ntorClientStart(
  nodeId: Buffer,
  onionKey: Buffer,
  ephemeral: X25519KeyPair = generateX25519KeyPair(),
): { onionskin: Buffer; state: NtorClientState } {
  if (nodeId.length !== NODE_ID_LEN || onionKey.length !== NTOR_KEY_LEN) {
    throw new ProtocolError('ERR_NTOR_LENGTH', 'NODEID is 20 bytes and the onion key 32');
  }
  const onionskin = Buffer.concat([nodeId, onionKey, ephemeral.publicKey]);
  return { onionskin, state: { nodeId: Buffer.from(nodeId), onionKey: Buffer.from(onionKey), ephemeral } };
}

/** Checks the relay's reply. A wrong AUTH (wrong relay, stale onion key, tampering) is ERR_NTOR_AUTH. */
export function ntorClientFinish(state: NtorClientState, reply: Buffer): CircuitKeys {
  if (reply.length < NTOR_REPLY_LEN) {
    throw new ProtocolError('ERR_NTOR_LENGTH', `ntor reply of ${reply.length} bytes`, { destroyReason: 1 });
  }
  const Y = reply.subarray(0, 32);
  const auth = reply.subarray(32, 64);
  const { nodeId, onionKey: B, ephemeral } = state;
  const X = ephemeral.publicKey;
  const secretInput = Buffer.concat([
    x25519(ephemeral.privateKey, Y),
    x25519(ephemeral.privateKey, B),
    nodeId,
    B,
    X,
    Y,
    PROTOID_BYTES,
  ]);
  if (!timingSafeEqual(authOf(secretInput, nodeId, B, X, Y), auth)) {
    throw new ProtocolError('ERR_NTOR_AUTH', 'ntor AUTH does not verify', { destroyReason: 1 });
  }
  return deriveKeys(secretInput);
}

// ---------------------------------------------------------------------------------------------
// Relay

export interface NtorServerIdentity {
  nodeId: Buffer;
  /** The current onion key first, then previous ones still accepted (Tor keeps them a week). */
  onionKeys: readonly X25519KeyPair[];
  /** Used when no onion key matches KEYID; one is generated per process if omitted. */
  junkKey?: X25519KeyPair;
}

let processJunkKey: X25519KeyPair | null = null;

export interface NtorServerResult {
  reply: Buffer;
  keys: CircuitKeys;
  /** Which of `onionKeys` matched KEYID, or -1 (the reply was made with the junk key and will fail AUTH). */
  onionKeyIndex: number;
}

/**
 * Answers an 84-byte onionskin. A NODEID naming another relay is ERR_NTOR_NODEID (Tor refuses it
 * too); a bad length ERR_NTOR_LENGTH; a low-order X ERR_NTOR_DH. All carry DESTROY reason PROTOCOL.
 */
export function ntorServerHandshake(
  onionskin: Buffer,
  identity: NtorServerIdentity,
  ephemeral: X25519KeyPair = generateX25519KeyPair(),
): NtorServerResult {
  if (onionskin.length !== NTOR_ONIONSKIN_LEN) {
    throw new ProtocolError('ERR_NTOR_LENGTH', `ntor onionskin of ${onionskin.length} bytes`, { destroyReason: 1 });
  }
  const id = onionskin.subarray(0, 20);
  const keyId = onionskin.subarray(20, 52);
  const X = onionskin.subarray(52, 84);
  if (!timingSafeEqual(id, identity.nodeId)) {
    throw new ProtocolError('ERR_NTOR_NODEID', 'onionskin is for another relay', { destroyReason: 1 });
  }
  let onionKeyIndex = -1;
  identity.onionKeys.forEach((k, i) => {
    if (onionKeyIndex < 0 && timingSafeEqual(k.publicKey, keyId)) onionKeyIndex = i;
  });
  const b = onionKeyIndex >= 0 ? identity.onionKeys[onionKeyIndex]! : (identity.junkKey ?? (processJunkKey ??= generateX25519KeyPair()));
  // B in the transcript is the KEYID the client sent, as in Tor, even when we answer with junk.
  const B = Buffer.from(keyId);
  const Y = ephemeral.publicKey;
  const secretInput = Buffer.concat([
    x25519(ephemeral.privateKey, X),
    x25519(b.privateKey, X),
    identity.nodeId,
    B,
    X,
    Y,
    PROTOID_BYTES,
  ]);
  const auth = authOf(secretInput, identity.nodeId, B, X, Y);
  return { reply: Buffer.concat([Y, auth]), keys: deriveKeys(secretInput), onionKeyIndex };
}
