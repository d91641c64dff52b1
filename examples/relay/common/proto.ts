// The wire protocol the relays, the client and the directory share: cell framing, the ntor
// handshake, per-hop relay crypto, relay headers, descriptors and the consensus. Pure
// functions and small stateful objects on node:crypto, no event loop. It lives outside the
// versions directory: every relay version uses the same copy, and the objects it makes
// (ciphers, digests) are carried across updates as they are.
import { createCipheriv, createHash, createHmac, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, randomBytes, sign, verify, type Cipher, type Hash, type KeyObject } from 'node:crypto';

export const CELL_BODY = 509;
export const RELAY_HEADER = 11;
export const RELAY_DATA_MAX = CELL_BODY - RELAY_HEADER; // 498

export const CMD = { PADDING: 0, RELAY: 3, DESTROY: 4, VERSIONS: 7, NETINFO: 8, RELAY_EARLY: 9, CREATE2: 10, CREATED2: 11 } as const;
export const RELAY = { BEGIN: 1, DATA: 2, END: 3, CONNECTED: 4, SENDME: 5, DROP: 10, EXTEND2: 14, EXTENDED2: 15 } as const;

/** Header bytes before the body: CircID then command. */
export function headerLen(linkVersion: number): number {
  return linkVersion >= 4 ? 5 : 3;
}
export function cellLen(linkVersion: number): number {
  return headerLen(linkVersion) + CELL_BODY;
}

/** A fixed-size cell on the wire for link version `v`. `body` is at most 509 bytes (NUL padded). */
export function packCell(v: number, circId: number, command: number, body?: Uint8Array): Buffer {
  const h = headerLen(v);
  const out = Buffer.alloc(h + CELL_BODY);
  if (h === 5) out.writeUInt32BE(circId >>> 0, 0);
  else out.writeUInt16BE(circId & 0xffff, 0);
  out[h - 1] = command;
  if (body) {
    if (body.length > CELL_BODY) throw new RangeError(`cell body of ${body.length} bytes (max ${CELL_BODY})`);
    out.set(body, h);
  }
  return out;
}

/** VERSIONS is variable-length and always uses a 2-byte CircID. */
export function packVersions(versions: readonly number[]): Buffer {
  const out = Buffer.alloc(5 + versions.length * 2);
  out[2] = CMD.VERSIONS;
  out.writeUInt16BE(versions.length * 2, 3);
  versions.forEach((v, i) => out.writeUInt16BE(v, 5 + i * 2));
  return out;
}

/** Bytes of a VERSIONS cell at the start of `buf`, or 0 when incomplete. Throws when it is not one. */
export function versionsCellLen(buf: Uint8Array): number {
  if (buf.length < 5) return 0;
  if (buf[2] !== CMD.VERSIONS) throw new ProtocolError('ERR_LINK', 'the first cell on a link must be VERSIONS');
  const len = (buf[3]! << 8) | buf[4]!;
  if (len % 2 !== 0 || len > 64) throw new ProtocolError('ERR_LINK', `VERSIONS body of ${len} bytes`);
  return buf.length >= 5 + len ? 5 + len : 0;
}

export function parseVersions(cell: Uint8Array): number[] {
  const b = Buffer.from(cell.buffer, cell.byteOffset, cell.byteLength);
  const n = b.readUInt16BE(3) / 2;
  return Array.from({ length: n }, (_, i) => b.readUInt16BE(5 + i * 2));
}

export function highestCommon(mine: readonly number[], theirs: readonly number[]): number {
  const common = theirs.filter((v) => mine.includes(v));
  if (common.length === 0) throw new ProtocolError('ERR_LINK', `no common link version (ours ${mine}, theirs ${theirs})`);
  return Math.max(...common);
}

export class ProtocolError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

// ---- NETINFO: time (4), other address (type 4, len 4, IPv4), 1 own address ----

export function netinfoBody(time: number, otherAddr: string, myAddr: string): Buffer {
  const b = Buffer.alloc(4 + 6 + 1 + 6);
  b.writeUInt32BE(time >>> 0, 0);
  b[4] = 4;
  b[5] = 4;
  ipv4(otherAddr).copy(b, 6);
  b[10] = 1;
  b[11] = 4;
  b[12] = 4;
  ipv4(myAddr).copy(b, 13);
  return b;
}

export function parseNetinfo(body: Uint8Array): { time: number; otherAddr: string; myAddrs: string[] } {
  const b = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const time = b.readUInt32BE(0);
  let off = 4;
  const readAddr = (): string => {
    const type = b[off]!;
    const len = b[off + 1]!;
    const addr = type === 4 && len === 4 ? `${b[off + 2]}.${b[off + 3]}.${b[off + 4]}.${b[off + 5]}` : '';
    off += 2 + len;
    return addr;
  };
  const otherAddr = readAddr();
  const n = b[off++] ?? 0;
  const myAddrs: string[] = [];
  for (let i = 0; i < n && off + 2 <= b.length; i++) myAddrs.push(readAddr());
  return { time, otherAddr, myAddrs };
}

export function ipv4(text: string): Buffer {
  const parts = text.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new ProtocolError('ERR_ADDRESS', `not an IPv4 address: ${text}`);
  return Buffer.from(parts);
}

// ---- CREATE2 / CREATED2 / EXTEND2 / EXTENDED2 ----

export const HTYPE_NTOR = 2;

export function create2Body(hdata: Uint8Array): Buffer {
  const b = Buffer.alloc(4 + hdata.length);
  b.writeUInt16BE(HTYPE_NTOR, 0);
  b.writeUInt16BE(hdata.length, 2);
  b.set(hdata, 4);
  return b;
}

export function parseCreate2(body: Uint8Array): { htype: number; hdata: Buffer } {
  const b = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const htype = b.readUInt16BE(0);
  const hlen = b.readUInt16BE(2);
  if (4 + hlen > b.length) throw new ProtocolError('ERR_CELL', `CREATE2 HLEN ${hlen} overruns the body`);
  return { htype, hdata: Buffer.from(b.subarray(4, 4 + hlen)) };
}

export function created2Body(hdata: Uint8Array): Buffer {
  const b = Buffer.alloc(2 + hdata.length);
  b.writeUInt16BE(hdata.length, 0);
  b.set(hdata, 2);
  return b;
}

export function parseCreated2(body: Uint8Array): Buffer {
  const b = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const hlen = b.readUInt16BE(0);
  if (2 + hlen > b.length) throw new ProtocolError('ERR_CELL', `CREATED2 HLEN ${hlen} overruns the body`);
  return Buffer.from(b.subarray(2, 2 + hlen));
}

export interface ExtendTarget {
  host: string;
  port: number;
  /** 20-byte identity digest (link specifier 02). */
  identity: Buffer;
}

export function extend2Body(t: ExtendTarget, hdata: Uint8Array): Buffer {
  const specs = Buffer.alloc(1 + 2 + 6 + 2 + 20);
  specs[0] = 2;
  specs[1] = 0;
  specs[2] = 6;
  ipv4(t.host).copy(specs, 3);
  specs.writeUInt16BE(t.port, 7);
  specs[9] = 2;
  specs[10] = 20;
  t.identity.copy(specs, 11);
  return Buffer.concat([specs, create2Body(hdata)]);
}

export function parseExtend2(body: Uint8Array): { target: ExtendTarget; htype: number; hdata: Buffer } {
  const b = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const n = b[0]!;
  let off = 1;
  let host = '';
  let port = 0;
  let identity: Buffer | undefined;
  for (let i = 0; i < n; i++) {
    if (off + 2 > b.length) throw new ProtocolError('ERR_CELL', 'EXTEND2 link specifiers truncated');
    const type = b[off]!;
    const len = b[off + 1]!;
    const spec = b.subarray(off + 2, off + 2 + len);
    if (spec.length !== len) throw new ProtocolError('ERR_CELL', 'EXTEND2 link specifier truncated');
    if (type === 0 && len === 6) {
      host = `${spec[0]}.${spec[1]}.${spec[2]}.${spec[3]}`;
      port = spec.readUInt16BE(4);
    } else if (type === 2 && len === 20) {
      if (identity) throw new ProtocolError('ERR_CELL', 'EXTEND2 names two identities');
      identity = Buffer.from(spec);
    }
    off += 2 + len;
  }
  if (!host || !identity) throw new ProtocolError('ERR_CELL', 'EXTEND2 without an IPv4 address and an identity');
  if (identity.every((x) => x === 0)) throw new ProtocolError('ERR_CELL', 'EXTEND2 to an all-zero identity');
  const { htype, hdata } = parseCreate2(b.subarray(off));
  return { target: { host, port, identity }, htype, hdata };
}

// ---- relay cells: command(1) recognized(2) streamId(2) digest(4) length(2) data(498) ----

export interface RelayHeader {
  command: number;
  recognized: number;
  streamId: number;
  length: number;
}

export function relayBody(command: number, streamId: number, data?: Uint8Array): Buffer {
  const len = data?.length ?? 0;
  if (len > RELAY_DATA_MAX) throw new RangeError(`relay data of ${len} bytes (max ${RELAY_DATA_MAX})`);
  const b = Buffer.alloc(CELL_BODY);
  b[0] = command;
  b.writeUInt16BE(streamId, 3);
  b.writeUInt16BE(len, 9);
  if (data) b.set(data, RELAY_HEADER);
  return b;
}

export function readRelayHeader(body: Buffer): RelayHeader {
  return { command: body[0]!, recognized: body.readUInt16BE(1), streamId: body.readUInt16BE(3), length: body.readUInt16BE(9) };
}

export function relayData(body: Buffer): Buffer {
  const len = body.readUInt16BE(9);
  if (len > RELAY_DATA_MAX) throw new ProtocolError('ERR_RELAY_LENGTH', `relay length ${len} > ${RELAY_DATA_MAX}`);
  return body.subarray(RELAY_HEADER, RELAY_HEADER + len);
}

// ---- per-hop relay crypto: AES-128-CTR (zero IV) and running SHA-1, one each way ----

export interface HopCrypto {
  fCipher: Cipher;
  bCipher: Cipher;
  fDigest: Hash;
  bDigest: Hash;
}

/** From the first 72 bytes of key material: Df | Db | Kf | Kb. */
export function hopCrypto(keys: Buffer): HopCrypto {
  const iv = Buffer.alloc(16);
  return {
    fDigest: createHash('sha1').update(keys.subarray(0, 20)),
    bDigest: createHash('sha1').update(keys.subarray(20, 40)),
    fCipher: createCipheriv('aes-128-ctr', keys.subarray(40, 56), iv),
    bCipher: createCipheriv('aes-128-ctr', keys.subarray(56, 72), iv),
  };
}

/** One AES-CTR layer over a 509-byte body, in place. */
export function crypt(cipher: Cipher, body: Buffer): void {
  cipher.update(body).copy(body);
}

/** Seals a body this hop (or the origin for this hop) originates: digest into the header. */
export function setDigest(digest: Hash, body: Buffer): void {
  body.writeUInt16BE(0, 1);
  body.writeUInt32BE(0, 5);
  digest.update(body);
  digest.copy().digest().copy(body, 5, 0, 4);
}

/**
 * Whether a decrypted body is for this hop: recognized 0 and the digest matches a trial copy
 * of the running digest. Only a match moves the running digest forward (the rollback rule).
 */
export function recognize(digest: Hash, body: Buffer): boolean {
  if (body[1] !== 0 || body[2] !== 0) return false;
  const got = body.readUInt32BE(5);
  body.writeUInt32BE(0, 5);
  const trial = digest.copy().update(body).digest();
  if (trial.readUInt32BE(0) !== got) {
    body.writeUInt32BE(got, 5);
    return false;
  }
  digest.update(body);
  body.writeUInt32BE(got, 5);
  return true;
}

// ---- keys ----

const X25519_SPKI = Buffer.from('302a300506032b656e032100', 'hex');
const ED25519_SPKI = Buffer.from('302a300506032b6570032100', 'hex');
const ED25519_PKCS8 = Buffer.from('302e020100300506032b657004220420', 'hex');

export function rawPublic(key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'spki' }).subarray(-32);
}
export function x25519Public(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([X25519_SPKI, raw]), format: 'der', type: 'spki' });
}
export function ed25519Public(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI, raw]), format: 'der', type: 'spki' });
}
export function ed25519FromSeed(seed: Uint8Array): { privateKey: KeyObject; publicKey: KeyObject } {
  const privateKey = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8, seed]), format: 'der', type: 'pkcs8' });
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

export interface X25519Pair {
  privateKey: KeyObject;
  publicKey: KeyObject;
  raw: Buffer;
}
export function x25519Pair(): X25519Pair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  return { privateKey, publicKey, raw: rawPublic(publicKey) };
}

/** NODEID: SHA-1 of the Ed25519 identity public key (Tor hashes its RSA key instead). */
export function nodeId(identityRaw: Uint8Array): Buffer {
  return createHash('sha1').update(identityRaw).digest();
}

// ---- ntor ----

const PROTOID = 'ntor-curve25519-sha256-1';
const T_MAC = PROTOID + ':mac';
const T_KEY = PROTOID + ':key_extract';
const T_VERIFY = PROTOID + ':verify';
const M_EXPAND = PROTOID + ':key_expand';
export const NTOR_ONIONSKIN_LEN = 84;
export const NTOR_REPLY_LEN = 64;
export const KEY_MATERIAL_LEN = 72;

const H = (msg: Uint8Array, tweak: string) => createHmac('sha256', tweak).update(msg).digest();

/** HKDF-Expand (RFC 5869) with KEY_SEED as the PRK and m_expand as info, as tor-spec 5.2.2. */
function expand(keySeed: Buffer, n: number): Buffer {
  const out: Buffer[] = [];
  let prev = Buffer.alloc(0);
  for (let i = 1; out.length * 32 < n; i++) {
    prev = createHmac('sha256', keySeed).update(Buffer.concat([prev, Buffer.from(M_EXPAND), Buffer.from([i])])).digest();
    out.push(prev);
  }
  return Buffer.concat(out).subarray(0, n);
}

function dh(priv: KeyObject, pubRaw: Uint8Array): Buffer {
  const s = diffieHellman({ privateKey: priv, publicKey: x25519Public(pubRaw) });
  if (s.every((x) => x === 0)) throw new ProtocolError('ERR_NTOR_DH', 'ntor: all-zero Diffie-Hellman result');
  return s;
}

export interface NtorClientState {
  id: Buffer;
  B: Buffer;
  x: KeyObject;
  X: Buffer;
}

export function ntorClientStart(id: Buffer, B: Buffer): { state: NtorClientState; onionskin: Buffer } {
  const pair = x25519Pair();
  return { state: { id, B, x: pair.privateKey, X: pair.raw }, onionskin: Buffer.concat([id, B, pair.raw]) };
}

/** Server side: the reply (Y | AUTH) and the key material, or a ProtocolError. */
export function ntorServer(onionskin: Buffer, id: Buffer, onionKeys: readonly X25519Pair[]): { reply: Buffer; keys: Buffer } {
  if (onionskin.length !== NTOR_ONIONSKIN_LEN) throw new ProtocolError('ERR_NTOR_LENGTH', `ntor onionskin of ${onionskin.length} bytes`);
  if (!onionskin.subarray(0, 20).equals(id)) throw new ProtocolError('ERR_NTOR_NODEID', 'ntor onionskin for another relay');
  const B = onionskin.subarray(20, 52);
  const X = onionskin.subarray(52, 84);
  const b = onionKeys.find((k) => k.raw.equals(B));
  if (!b) throw new ProtocolError('ERR_NTOR_KEYID', 'ntor onionskin for an onion key we do not hold');
  const y = x25519Pair();
  const secret = Buffer.concat([dh(y.privateKey, X), dh(b.privateKey, X), id, B, X, y.raw, Buffer.from(PROTOID)]);
  const keySeed = H(secret, T_KEY);
  const verifyV = H(secret, T_VERIFY);
  const auth = H(Buffer.concat([verifyV, id, B, y.raw, X, Buffer.from(PROTOID + 'Server')]), T_MAC);
  return { reply: Buffer.concat([y.raw, auth]), keys: expand(keySeed, KEY_MATERIAL_LEN) };
}

export function ntorClientFinish(state: NtorClientState, reply: Buffer): Buffer {
  if (reply.length !== NTOR_REPLY_LEN) throw new ProtocolError('ERR_NTOR_LENGTH', `ntor reply of ${reply.length} bytes`);
  const Y = reply.subarray(0, 32);
  const secret = Buffer.concat([dh(state.x, Y), dh(state.x, state.B), state.id, state.B, state.X, Y, Buffer.from(PROTOID)]);
  const keySeed = H(secret, T_KEY);
  const verifyV = H(secret, T_VERIFY);
  const auth = H(Buffer.concat([verifyV, state.id, state.B, Y, state.X, Buffer.from(PROTOID + 'Server')]), T_MAC);
  if (!auth.equals(reply.subarray(32, 64))) throw new ProtocolError('ERR_NTOR_AUTH', 'ntor: the relay did not prove its onion key');
  return expand(keySeed, KEY_MATERIAL_LEN);
}

// ---- descriptors and the consensus ----

export interface Descriptor {
  nickname: string;
  identity: string; // base64 Ed25519 public key
  address: string;
  orPort: number;
  ntorKey: string; // base64 x25519
  flags: string[];
  bandwidth: number;
  published: number;
}

export function signDescriptor(d: Descriptor, key: KeyObject): string {
  const text = [
    `router ${d.nickname} ${d.address} ${d.orPort}`,
    `identity-ed25519 ${d.identity}`,
    `ntor-onion-key ${d.ntorKey}`,
    `flags ${d.flags.join(' ')}`,
    `bandwidth ${d.bandwidth}`,
    `published ${d.published}`,
    '',
  ].join('\n');
  return text + `router-signature ${sign(null, Buffer.from(text), key).toString('base64')}\n`;
}

export function verifyDescriptor(text: string): Descriptor {
  const at = text.lastIndexOf('router-signature ');
  if (at < 0) throw new ProtocolError('ERR_DIR_MALFORMED', 'descriptor without a signature');
  const signed = text.slice(0, at);
  const fields = new Map(signed.split('\n').filter(Boolean).map((l) => [l.split(' ')[0]!, l.split(' ').slice(1)]));
  const r = fields.get('router');
  const id = fields.get('identity-ed25519')?.[0];
  const ntor = fields.get('ntor-onion-key')?.[0];
  if (!r || r.length !== 3 || !id || !ntor) throw new ProtocolError('ERR_DIR_MALFORMED', 'descriptor misses router, identity or onion key');
  const sig = Buffer.from(text.slice(at + 'router-signature '.length).trim(), 'base64');
  if (!verify(null, Buffer.from(signed), ed25519Public(Buffer.from(id, 'base64')), sig)) throw new ProtocolError('ERR_DIR_SIGNATURE', `descriptor of ${r[0]} has a bad signature`);
  return {
    nickname: r[0]!,
    address: r[1]!,
    orPort: Number(r[2]),
    identity: id,
    ntorKey: ntor,
    flags: fields.get('flags') ?? [],
    bandwidth: Number(fields.get('bandwidth')?.[0] ?? 0),
    published: Number(fields.get('published')?.[0] ?? 0),
  };
}

export interface ConsensusEntry {
  nickname: string;
  /** base64 of the 20-byte identity digest (NODEID). */
  digest: string;
  identity: string;
  address: string;
  orPort: number;
  ntorKey: string;
  flags: string[];
  bandwidth: number;
}

export interface Consensus {
  validAfter: number;
  freshUntil: number;
  validUntil: number;
  params: Record<string, number>;
  entries: ConsensusEntry[];
  /** Hex key ids (first 8 bytes of SHA-256 of the public key) whose signature verified. */
  signedBy: string[];
}

export function keyId(publicRaw: Uint8Array): string {
  return createHash('sha256').update(publicRaw).digest().subarray(0, 8).toString('hex');
}

export function consensusBody(c: Omit<Consensus, 'signedBy'>): string {
  const lines = ['network-status-version 3-mini', `valid-after ${c.validAfter}`, `fresh-until ${c.freshUntil}`, `valid-until ${c.validUntil}`];
  lines.push(`params ${Object.keys(c.params).sort().map((k) => `${k}=${c.params[k]}`).join(' ')}`);
  for (const e of c.entries) {
    lines.push(`r ${e.nickname} ${e.digest} ${e.address} ${e.orPort}`, `id ed25519 ${e.identity}`, `ntor ${e.ntorKey}`, `s ${e.flags.join(' ')}`, `w Bandwidth=${e.bandwidth}`);
  }
  return lines.join('\n') + '\n';
}

export function signConsensus(body: string, keys: readonly { privateKey: KeyObject; publicKey: KeyObject }[]): string {
  let out = body;
  for (const k of keys) out += `directory-signature ${keyId(rawPublic(k.publicKey))} ${sign(null, Buffer.from(body), k.privateKey).toString('base64')}\n`;
  return out;
}

/**
 * Parses a consensus and checks its signatures against `trusted` (key id -> raw public key).
 * At least one trusted signature must verify; `signedBy` lists those that did.
 */
export function parseConsensus(text: string, trusted: Readonly<Record<string, string>>, now = Date.now() / 1000): Consensus {
  const at = text.indexOf('directory-signature ');
  if (at < 0) throw new ProtocolError('ERR_DIR_MALFORMED', 'consensus without signatures');
  const body = text.slice(0, at);
  const signedBy: string[] = [];
  for (const line of text.slice(at).split('\n').filter(Boolean)) {
    const [word, id, sig] = line.split(' ');
    if (word !== 'directory-signature' || !id || !sig) throw new ProtocolError('ERR_DIR_MALFORMED', `bad signature line '${line}'`);
    const pub = trusted[id];
    if (pub && verify(null, Buffer.from(body), ed25519Public(Buffer.from(pub, 'hex')), Buffer.from(sig, 'base64'))) signedBy.push(id);
  }
  if (signedBy.length === 0) throw new ProtocolError('ERR_DIR_UNTRUSTED', 'no signature by a trusted directory key');
  const c: Consensus = { validAfter: 0, freshUntil: 0, validUntil: 0, params: {}, entries: [], signedBy };
  let e: ConsensusEntry | undefined;
  for (const line of body.split('\n')) {
    const [word, ...rest] = line.split(' ');
    if (word === 'valid-after') c.validAfter = Number(rest[0]);
    else if (word === 'fresh-until') c.freshUntil = Number(rest[0]);
    else if (word === 'valid-until') c.validUntil = Number(rest[0]);
    else if (word === 'params') for (const kv of rest) c.params[kv.split('=')[0]!] = Number(kv.split('=')[1]);
    else if (word === 'r') c.entries.push((e = { nickname: rest[0]!, digest: rest[1]!, address: rest[2]!, orPort: Number(rest[3]), identity: '', ntorKey: '', flags: [], bandwidth: 0 }));
    else if (word === 'id' && e) e.identity = rest[1]!;
    else if (word === 'ntor' && e) e.ntorKey = rest[0]!;
    else if (word === 's' && e) e.flags = rest;
    else if (word === 'w' && e) e.bandwidth = Number(rest[0]!.split('=')[1]);
  }
  if (now > c.validUntil) throw new ProtocolError('ERR_DIR_EXPIRED', 'consensus has expired');
  return c;
}

export { randomBytes };
