/**
 * Relay descriptors and the directory's consensus (a reduced dir-spec §2.1 and §3.4.1).
 *
 * A relay publishes a self-signed **descriptor** (POST /descriptor):
 *
 *   router <nickname> <IPv4> <ORPort>
 *   identity-ed25519 <base64 Ed25519 identity public key>
 *   ntor-onion-key <base64 x25519 onion key>
 *   flags-wanted <flag> ...
 *   bandwidth <bytes per second>
 *   published <YYYY-MM-DD HH:MM:SS>
 *   router-sig-ed25519 <base64 signature>
 *
 * The directory signs a **consensus** (GET /consensus) with its Ed25519 key:
 *
 *   network-status-version 3
 *   vote-status consensus
 *   valid-after / fresh-until / valid-until <YYYY-MM-DD HH:MM:SS>
 *   params <key>=<int32> ...                 (sorted by key)
 *   r <nickname> <base64 identity digest> <IPv4> <ORPort>
 *   ntor-onion-key <base64>
 *   s <flags sorted>
 *   w Bandwidth=<n>
 *   ... one r/ntor-onion-key/s/w group per relay, sorted by identity digest ...
 *   directory-signature ed25519 <base64 signing public key> <base64 signature>
 *
 * Base64 is written without `=` padding, as Tor does. The identity digest is the relay's NODEID
 * (SHA-1 of its Ed25519 identity key, ntor.ts). A signature covers a fixed domain-separation
 * prefix and the document text up to the start of the first signature line. A consensus may
 * carry several signature lines (several directories, or one during a key rotation); verification
 * needs `threshold` valid ones from the trusted-keys table, ignores unknown keys as Tor does with
 * unknown authorities, and refuses a trusted key's bad signature.
 *
 * Times are Unix seconds (plain numbers). Errors: ERR_DIR_MALFORMED (with the line number),
 * ERR_DIR_SIGNATURE, ERR_DIR_UNTRUSTED, ERR_DIR_EXPIRED, ERR_DIR_NOT_YET_VALID.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';

import { encodeIPv4, isIPv4 } from './address.js';
import { ProtocolError } from './errors.js';
import { nodeIdOf } from './ntor.js';

/** Largest descriptor or consensus accepted (bytes). */
export const MAX_DIRECTORY_DOCUMENT = 1 << 20;
const DESCRIPTOR_PREFIX = 'node-libevent relay descriptor signature v1\n';
const CONSENSUS_PREFIX = 'node-libevent consensus signature v1\n';

/** Flags a consensus may give (dir-spec §3.4.1 "s" line); others are dropped. */
export const KNOWN_FLAGS: readonly string[] = Object.freeze(['Exit', 'Fast', 'Guard', 'Running', 'Stable', 'Valid']);

// ---------------------------------------------------------------------------------------------
// Keys, base64, times

export interface Ed25519KeyPair {
  /** 32-byte public key. */
  publicKey: Buffer;
  /** 32-byte private seed. */
  privateKey: Buffer;
}

const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');

export function generateEd25519KeyPair(): Ed25519KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    publicKey: Buffer.from(publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_ED25519.length)),
    privateKey: Buffer.from(privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_ED25519.length)),
  };
}

/**
 * The key pair of a 32-byte Ed25519 seed: a directory with fixed, well-known keys (a demo
 * network's authority, whose public keys the relays and clients carry as constants).
 */
export function ed25519KeyPairFromSeed(seed: Uint8Array): Ed25519KeyPair {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new ProtocolError('ERR_DIR_MALFORMED', 'an Ed25519 seed is 32 bytes');
  const privateKey = Buffer.from(seed);
  const publicKey = createPublicKey(privateKeyObject(privateKey)).export({ format: 'der', type: 'spki' });
  return { publicKey: Buffer.from(publicKey.subarray(SPKI_ED25519.length)), privateKey };
}

function privateKeyObject(seed: Buffer): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: 'der', type: 'pkcs8' });
}

function verifyEd25519(publicKey: Buffer, data: Buffer, signature: Buffer): boolean {
  try {
    const key = createPublicKey({ key: Buffer.concat([SPKI_ED25519, publicKey]), format: 'der', type: 'spki' });
    return verify(null, data, key, signature);
  } catch {
    return false;
  }
}

/** Base64 without padding (Tor's style in directory documents). */
export function toBase64NoPad(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64').replace(/=+$/, '');
}

function fromBase64(text: string, length: number, what: string, line: number): Buffer {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) malformed(`${what} is not base64`, line);
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== length) malformed(`${what} must be ${length} bytes`, line);
  return bytes;
}

function malformed(why: string, line?: number): never {
  throw new ProtocolError('ERR_DIR_MALFORMED', line === undefined ? why : `line ${line}: ${why}`);
}

/** Unix seconds → `YYYY-MM-DD HH:MM:SS` (UTC). */
export function formatDirTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

/** `YYYY-MM-DD HH:MM:SS` (UTC) → Unix seconds. */
export function parseDirTime(text: string, line?: number): number {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text);
  if (!m) malformed(`bad time ${JSON.stringify(text)}`, line);
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  if (!Number.isFinite(ms) || formatDirTime(ms / 1000) !== text) malformed(`bad time ${JSON.stringify(text)}`, line);
  return ms / 1000;
}

function splitLines(text: string): string[] {
  if (typeof text !== 'string') malformed('document is not text');
  if (text.length > MAX_DIRECTORY_DOCUMENT) malformed(`document longer than ${MAX_DIRECTORY_DOCUMENT} bytes`);
  if (!text.endsWith('\n')) malformed('document does not end with a newline');
  return text.slice(0, -1).split('\n');
}

const NICKNAME = /^[A-Za-z0-9]{1,19}$/;

function checkPort(text: string, line: number): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 0xffff)) malformed(`bad port ${JSON.stringify(text)}`, line);
  return port;
}

function checkAddress(text: string, line: number): string {
  if (!isIPv4(text)) malformed(`bad IPv4 address ${JSON.stringify(text)}`, line);
  encodeIPv4(text);
  return text;
}

// ---------------------------------------------------------------------------------------------
// Descriptors

export interface RelayDescriptor {
  nickname: string;
  /** Ed25519 identity public key (32 bytes). */
  identity: Buffer;
  address: string;
  orPort: number;
  /** Current x25519 ntor onion key (32 bytes). */
  ntorOnionKey: Buffer;
  flagsWanted: string[];
  /** Advertised bandwidth, bytes per second. */
  bandwidth: number;
  /** Unix seconds. */
  published: number;
}

function descriptorBody(d: RelayDescriptor): string {
  if (!NICKNAME.test(d.nickname)) malformed(`bad nickname ${JSON.stringify(d.nickname)}`);
  checkAddress(d.address, 0);
  checkPort(String(d.orPort), 0);
  if (d.identity.length !== 32 || d.ntorOnionKey.length !== 32) malformed('keys must be 32 bytes');
  if (!Number.isSafeInteger(d.bandwidth) || d.bandwidth < 0) malformed('bad bandwidth');
  for (const f of d.flagsWanted) if (!/^[A-Za-z]+$/.test(f)) malformed(`bad flag ${JSON.stringify(f)}`);
  return [
    `router ${d.nickname} ${d.address} ${d.orPort}`,
    `identity-ed25519 ${toBase64NoPad(d.identity)}`,
    `ntor-onion-key ${toBase64NoPad(d.ntorOnionKey)}`,
    `flags-wanted ${d.flagsWanted.join(' ')}`.trimEnd(),
    `bandwidth ${d.bandwidth}`,
    `published ${formatDirTime(d.published)}`,
    '',
  ].join('\n');
}

/** The descriptor as text, signed with the relay's identity key (whose public half is `d.identity`). */
export function signDescriptor(d: RelayDescriptor, identityPrivateKey: Buffer): string {
  const body = descriptorBody(d);
  const signature = sign(null, Buffer.from(DESCRIPTOR_PREFIX + body), privateKeyObject(identityPrivateKey));
  return `${body}router-sig-ed25519 ${toBase64NoPad(signature)}\n`;
}

/** Parses a descriptor and checks its self-signature. */
export function parseDescriptor(text: string): RelayDescriptor {
  const lines = splitLines(text);
  const want = ['router', 'identity-ed25519', 'ntor-onion-key', 'flags-wanted', 'bandwidth', 'published', 'router-sig-ed25519'];
  if (lines.length !== want.length) malformed(`descriptor has ${lines.length} lines, not ${want.length}`);
  const fields = lines.map((l, i) => {
    const parts = l.split(' ');
    if (parts[0] !== want[i]) malformed(`expected ${want[i]}`, i + 1);
    return parts.slice(1);
  });
  const [router, identity, ntor, flags, bandwidth, published, sig] = fields as string[][] as [
    string[], string[], string[], string[], string[], string[], string[],
  ];
  if (router.length !== 3 || !NICKNAME.test(router[0]!)) malformed('bad router line', 1);
  if (identity.length !== 1 || ntor.length !== 1 || bandwidth.length !== 1 || sig.length !== 1) malformed('bad field count');
  if (!/^\d{1,15}$/.test(bandwidth[0]!)) malformed('bad bandwidth', 5);
  const d: RelayDescriptor = {
    nickname: router[0]!,
    address: checkAddress(router[1]!, 1),
    orPort: checkPort(router[2]!, 1),
    identity: fromBase64(identity[0]!, 32, 'identity key', 2),
    ntorOnionKey: fromBase64(ntor[0]!, 32, 'ntor onion key', 3),
    flagsWanted: flags.filter((f) => f !== ''),
    bandwidth: Number(bandwidth[0]),
    published: parseDirTime(published.join(' '), 6),
  };
  const signature = fromBase64(sig[0]!, 64, 'signature', 7);
  const signedText = text.slice(0, text.lastIndexOf('router-sig-ed25519 '));
  if (!verifyEd25519(d.identity, Buffer.from(DESCRIPTOR_PREFIX + signedText), signature)) {
    throw new ProtocolError('ERR_DIR_SIGNATURE', `descriptor of ${d.nickname} has a bad signature`);
  }
  return d;
}

// ---------------------------------------------------------------------------------------------
// Consensus

export interface ConsensusEntry {
  nickname: string;
  /** NODEID: SHA-1 of the relay's Ed25519 identity key (20 bytes). */
  identityDigest: Buffer;
  address: string;
  orPort: number;
  ntorOnionKey: Buffer;
  /** Sorted, from KNOWN_FLAGS. */
  flags: string[];
  bandwidth: number;
}

export interface Consensus {
  validAfter: number;
  freshUntil: number;
  validUntil: number;
  /** `params` line: name → int32. */
  params: Record<string, number>;
  relays: ConsensusEntry[];
}

/** A directory key relays and clients trust (a constant table each version brings). */
export interface TrustedDirectoryKey {
  name: string;
  publicKey: Buffer;
}

/** The consensus entry for a descriptor the directory accepted, with the flags it grants. */
export function consensusEntryOf(d: RelayDescriptor, flags: readonly string[]): ConsensusEntry {
  return {
    nickname: d.nickname,
    identityDigest: nodeIdOf(d.identity),
    address: d.address,
    orPort: d.orPort,
    ntorOnionKey: Buffer.from(d.ntorOnionKey),
    flags: [...new Set(flags)].filter((f) => KNOWN_FLAGS.includes(f)).sort(),
    bandwidth: d.bandwidth,
  };
}

function consensusBody(c: Consensus): string {
  if (!(c.validAfter <= c.freshUntil && c.freshUntil <= c.validUntil)) malformed('times out of order');
  const params = Object.keys(c.params)
    .sort()
    .map((k) => {
      const v = c.params[k]!;
      if (!/^[A-Za-z0-9_]+$/.test(k) || !Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) malformed(`bad param ${k}=${v}`);
      return `${k}=${v}`;
    });
  const lines = [
    'network-status-version 3',
    'vote-status consensus',
    `valid-after ${formatDirTime(c.validAfter)}`,
    `fresh-until ${formatDirTime(c.freshUntil)}`,
    `valid-until ${formatDirTime(c.validUntil)}`,
    `params ${params.join(' ')}`.trimEnd(),
  ];
  const relays = [...c.relays].sort((a, b) => Buffer.compare(a.identityDigest, b.identityDigest));
  for (const r of relays) {
    if (!NICKNAME.test(r.nickname)) malformed(`bad nickname ${JSON.stringify(r.nickname)}`);
    if (r.identityDigest.length !== 20 || r.ntorOnionKey.length !== 32) malformed('bad relay key length');
    checkAddress(r.address, 0);
    checkPort(String(r.orPort), 0);
    lines.push(
      `r ${r.nickname} ${toBase64NoPad(r.identityDigest)} ${r.address} ${r.orPort}`,
      `ntor-onion-key ${toBase64NoPad(r.ntorOnionKey)}`,
      `s ${[...r.flags].sort().join(' ')}`.trimEnd(),
      `w Bandwidth=${r.bandwidth}`,
    );
  }
  return lines.join('\n') + '\n';
}

/** The consensus as text, signed by each of `signers` (usually one directory key). */
export function signConsensus(c: Consensus, signers: readonly Ed25519KeyPair[]): string {
  const body = consensusBody(c);
  const data = Buffer.from(CONSENSUS_PREFIX + body);
  const sigs = signers.map(
    (k) => `directory-signature ed25519 ${toBase64NoPad(k.publicKey)} ${toBase64NoPad(sign(null, data, privateKeyObject(k.privateKey)))}\n`,
  );
  return body + sigs.join('');
}

export interface VerifyConsensusOptions {
  trusted: readonly TrustedDirectoryKey[];
  /** Unix seconds; default: the current time. */
  now?: number;
  /** Valid signatures from distinct trusted keys required (default 1). */
  threshold?: number;
  /** Seconds of clock skew tolerated on both ends of the validity period (default 0). */
  skew?: number;
}

export interface VerifiedConsensus extends Consensus {
  /** Names of the trusted keys whose signatures verified. */
  signedBy: string[];
  /** now < fresh-until: no need to fetch a newer one yet. */
  fresh: boolean;
}

/** Parses a consensus without checking signatures or times (parseConsensus checks both). */
export function parseConsensusUnverified(text: string): { consensus: Consensus; signedText: string; signatures: Array<{ key: Buffer; signature: Buffer }> } {
  const lines = splitLines(text);
  let i = 0;
  const expectLine = (keyword: string): string[] => {
    const line = lines[i];
    if (line === undefined) malformed(`missing ${keyword}`, i + 1);
    const parts = line.split(' ');
    if (parts[0] !== keyword) malformed(`expected ${keyword}`, i + 1);
    i++;
    return parts.slice(1);
  };
  if (expectLine('network-status-version').join(' ') !== '3') malformed('unsupported network-status-version', 1);
  if (expectLine('vote-status').join(' ') !== 'consensus') malformed('not a consensus', 2);
  const validAfter = parseDirTime(expectLine('valid-after').join(' '), 3);
  const freshUntil = parseDirTime(expectLine('fresh-until').join(' '), 4);
  const validUntil = parseDirTime(expectLine('valid-until').join(' '), 5);
  if (!(validAfter <= freshUntil && freshUntil <= validUntil)) malformed('times out of order', 5);
  const params: Record<string, number> = {};
  let lastKey = '';
  for (const item of expectLine('params')) {
    const m = /^([A-Za-z0-9_]+)=(-?\d{1,10})$/.exec(item);
    const v = m ? Number(m[2]) : NaN;
    if (!m || v < -(2 ** 31) || v >= 2 ** 31) malformed(`bad param ${JSON.stringify(item)}`, i);
    if (m[1]! <= lastKey) malformed('params not sorted or repeated', i);
    lastKey = m[1]!;
    params[m[1]!] = v;
  }
  const relays: ConsensusEntry[] = [];
  const seen = new Set<string>();
  while (lines[i]?.startsWith('r ')) {
    const at = i + 1;
    const r = expectLine('r');
    if (r.length !== 4 || !NICKNAME.test(r[0]!)) malformed('bad r line', at);
    const identityDigest = fromBase64(r[1]!, 20, 'identity digest', at);
    if (seen.has(r[1]!)) malformed('relay listed twice', at);
    seen.add(r[1]!);
    const address = checkAddress(r[2]!, at);
    const orPort = checkPort(r[3]!, at);
    const ntor = expectLine('ntor-onion-key');
    if (ntor.length !== 1) malformed('bad ntor-onion-key line', i);
    const ntorOnionKey = fromBase64(ntor[0]!, 32, 'ntor onion key', i);
    const flags = expectLine('s').filter((f) => f !== '');
    const w = expectLine('w');
    const bw = w.length === 1 ? /^Bandwidth=(\d{1,15})$/.exec(w[0]!) : null;
    if (!bw) malformed('bad w line', i);
    relays.push({
      nickname: r[0]!,
      identityDigest,
      address,
      orPort,
      ntorOnionKey,
      flags: flags.filter((f) => KNOWN_FLAGS.includes(f)).sort(),
      bandwidth: Number(bw[1]),
    });
  }
  const signedEnd = lines.slice(0, i).reduce((n, l) => n + l.length + 1, 0);
  const signatures: Array<{ key: Buffer; signature: Buffer }> = [];
  while (i < lines.length) {
    const at = i + 1;
    const s = expectLine('directory-signature');
    if (s.length !== 3 || s[0] !== 'ed25519') malformed('bad directory-signature line', at);
    signatures.push({ key: fromBase64(s[1]!, 32, 'signing key', at), signature: fromBase64(s[2]!, 64, 'signature', at) });
  }
  if (signatures.length === 0) malformed('no directory-signature');
  return { consensus: { validAfter, freshUntil, validUntil, params, relays }, signedText: text.slice(0, signedEnd), signatures };
}

/**
 * Parses a consensus and checks it: `threshold` valid signatures by distinct trusted keys
 * (ERR_DIR_UNTRUSTED if too few trusted keys signed, ERR_DIR_SIGNATURE if a trusted key's
 * signature is bad), and `now` inside [valid-after, valid-until] (ERR_DIR_NOT_YET_VALID, ERR_DIR_EXPIRED).
 */
export function parseConsensus(text: string, options: VerifyConsensusOptions): VerifiedConsensus {
  const { consensus, signedText, signatures } = parseConsensusUnverified(text);
  const data = Buffer.from(CONSENSUS_PREFIX + signedText);
  const signedBy: string[] = [];
  for (const { key, signature } of signatures) {
    const trusted = options.trusted.find((t) => t.publicKey.length === 32 && Buffer.from(t.publicKey).equals(key));
    if (trusted === undefined) continue; // a directory we do not know: ignored, as Tor does
    if (!verifyEd25519(key, data, signature)) {
      throw new ProtocolError('ERR_DIR_SIGNATURE', `consensus signature by ${trusted.name} does not verify`);
    }
    if (!signedBy.includes(trusted.name)) signedBy.push(trusted.name);
  }
  const threshold = options.threshold ?? 1;
  if (signedBy.length < threshold) {
    throw new ProtocolError('ERR_DIR_UNTRUSTED', `consensus signed by ${signedBy.length} trusted key(s), ${threshold} needed`);
  }
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const skew = options.skew ?? 0;
  if (now + skew < consensus.validAfter) {
    throw new ProtocolError('ERR_DIR_NOT_YET_VALID', `consensus valid after ${formatDirTime(consensus.validAfter)}`);
  }
  if (now - skew > consensus.validUntil) {
    throw new ProtocolError('ERR_DIR_EXPIRED', `consensus expired at ${formatDirTime(consensus.validUntil)}`);
  }
  return { ...consensus, signedBy, fresh: now < consensus.freshUntil };
}

/** A consensus parameter with its default and bounds (Tor's networkstatus_get_param). */
export function consensusParam(c: Pick<Consensus, 'params'>, name: string, fallback: number, min = -(2 ** 31), max = 2 ** 31 - 1): number {
  const v = c.params[name];
  if (v === undefined) return fallback;
  return Math.min(max, Math.max(min, v));
}
