/**
 * Relay cells (tor-spec §6): the 509-byte body of a RELAY or RELAY_EARLY cell, once a hop's layer
 * of encryption is off, is an 11-byte header and up to 498 bytes of data:
 *
 *   Command (1) | Recognized (2) | StreamID (2) | Digest (4) | Length (2) | Data + padding (498)
 *
 * Recognized is 0 and Digest holds the first 4 bytes of the running SHA-1 when a hop originates
 * the cell (relay-crypto.ts sets and checks them). Padding follows proposal 289: four zero bytes
 * after the data, then random bytes, so padding cannot be used to guess keystream.
 *
 * Also the bodies of BEGIN (`host:port\0` + 4 flag bytes), CONNECTED (IPv4 + TTL, or the IPv6
 * form), END (one reason byte) and TRUNCATED, and the command and END-reason tables.
 */
import { randomFillSync } from 'node:crypto';

import { decodeIPv4, decodeIPv6, encodeIPv4, encodeIPv6, isIPv4 } from './address.js';
import { CELL_BODY_LEN } from './cell.js';
import { ProtocolError } from './errors.js';

export const RELAY_HEADER_SIZE = 11;
/** Data bytes in one relay cell (Tor: RELAY_PAYLOAD_SIZE = 509 - 11). */
export const RELAY_PAYLOAD_SIZE = CELL_BODY_LEN - RELAY_HEADER_SIZE;

/** Offsets of the header fields inside the 509-byte body. */
export const RelayHeaderOffset = Object.freeze({ COMMAND: 0, RECOGNIZED: 1, STREAM_ID: 3, DIGEST: 5, LENGTH: 9 });

/** Relay commands (Tor's RELAY_COMMAND_*). The example handles the first five and 14/15, 8/9. */
export const RelayCommand = Object.freeze({
  BEGIN: 1,
  DATA: 2,
  END: 3,
  CONNECTED: 4,
  SENDME: 5,
  EXTEND: 6,
  EXTENDED: 7,
  TRUNCATE: 8,
  TRUNCATED: 9,
  DROP: 10,
  RESOLVE: 11,
  RESOLVED: 12,
  BEGIN_DIR: 13,
  EXTEND2: 14,
  EXTENDED2: 15,
});

const RELAY_NAMES = new Map<number, string>(Object.entries(RelayCommand).map(([k, v]) => [v, k]));
const HANDLED = new Set<number>([1, 2, 3, 4, 5, 8, 9, 14, 15]);

export function relayCommandName(command: number): string {
  return RELAY_NAMES.get(command) ?? `UNKNOWN(${command})`;
}

/** Commands this implementation acts on. A recognized cell with another command is dropped (it still counted for digests). */
export function isKnownRelayCommand(command: number): boolean {
  return HANDLED.has(command);
}

/** Stream END reasons (tor-spec §6.3). NOROUTE (8) was "unallocated" before Tor 0.2.1.27. */
export const EndReason = Object.freeze({
  MISC: 1,
  RESOLVEFAILED: 2,
  CONNECTREFUSED: 3,
  EXITPOLICY: 4,
  DESTROY: 5,
  DONE: 6,
  TIMEOUT: 7,
  NOROUTE: 8,
  HIBERNATING: 9,
  INTERNAL: 10,
  RESOURCELIMIT: 11,
  CONNRESET: 12,
  TORPROTOCOL: 13,
  NOTDIRECTORY: 14,
});

const END_NAMES = new Map<number, string>(Object.entries(EndReason).map(([k, v]) => [v, k]));

export function endReasonName(reason: number): string {
  return END_NAMES.get(reason) ?? `UNKNOWN(${reason})`;
}

export interface RelayCell {
  command: number;
  /** 0 in every cell a hop originates; nonzero means "not for this hop". */
  recognized: number;
  /** 0 for circuit-level commands (EXTEND2, circuit SENDME, TRUNCATE...). */
  streamId: number;
  /** First 4 bytes of the running digest, as an unsigned 32-bit integer. */
  digest: number;
  data: Buffer;
}

// Padding randomness comes from a refilled pool: one randomFillSync per 128 cells, not per cell.
const POOL_SIZE = 64 * 1024;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let poolPos = POOL_SIZE;

function fillRandom(target: Buffer, start: number, end: number): void {
  let at = start;
  while (at < end) {
    if (poolPos >= POOL_SIZE) {
      randomFillSync(pool);
      poolPos = 0;
    }
    const n = Math.min(end - at, POOL_SIZE - poolPos);
    pool.copy(target, at, poolPos, poolPos + n);
    poolPos += n;
    at += n;
  }
}

export interface EncodeRelayOptions {
  /** 'random' (default, proposal 289) or 'zero' (Tor 0.2.1's zero padding, deterministic for tests). */
  padding?: 'random' | 'zero';
}

/** Builds the 509-byte plaintext relay body. `recognized` and `digest` default to 0. */
export function encodeRelayCell(
  cell: { command: number; streamId: number; data?: Uint8Array; recognized?: number; digest?: number },
  options: EncodeRelayOptions = {},
): Buffer {
  const data = cell.data ?? Buffer.alloc(0);
  if (data.length > RELAY_PAYLOAD_SIZE) {
    throw new ProtocolError('ERR_RELAY_LENGTH', `relay data of ${data.length} bytes > ${RELAY_PAYLOAD_SIZE}`);
  }
  if (!Number.isInteger(cell.command) || cell.command < 0 || cell.command > 255) {
    throw new ProtocolError('ERR_CELL_BAD_FIELD', `relay command ${cell.command}`);
  }
  if (!Number.isInteger(cell.streamId) || cell.streamId < 0 || cell.streamId > 0xffff) {
    throw new ProtocolError('ERR_CELL_BAD_FIELD', `stream ID ${cell.streamId}`);
  }
  const body = Buffer.allocUnsafe(CELL_BODY_LEN);
  body[0] = cell.command;
  body.writeUInt16BE(cell.recognized ?? 0, 1);
  body.writeUInt16BE(cell.streamId, 3);
  body.writeUInt32BE((cell.digest ?? 0) >>> 0, 5);
  body.writeUInt16BE(data.length, 9);
  body.set(data, RELAY_HEADER_SIZE);
  const padStart = RELAY_HEADER_SIZE + data.length;
  if (options.padding === 'zero') {
    body.fill(0, padStart);
  } else {
    const zeroEnd = Math.min(CELL_BODY_LEN, padStart + 4);
    body.fill(0, padStart, zeroEnd);
    fillRandom(body, zeroEnd, CELL_BODY_LEN);
  }
  return body;
}

function copyOf(b: Buffer, start: number, end: number): Buffer {
  const out = Buffer.allocUnsafe(end - start);
  b.copy(out, 0, start, end);
  return out;
}

export interface DecodeRelayOptions {
  /** false: `data` is a view into `body` (no copy) for a caller that owns the body; default true. */
  copy?: boolean;
}

/**
 * Reads the header of a decrypted 509-byte body. A length over 498 is ERR_RELAY_LENGTH (the
 * remote heap overflow Tor 0.2.1.28 closed); the circuit is then torn down with PROTOCOL.
 */
export function decodeRelayCell(body: Buffer, options: DecodeRelayOptions = {}): RelayCell {
  if (body.length < RELAY_HEADER_SIZE) {
    throw new ProtocolError('ERR_CELL_TRUNCATED', `relay body of ${body.length} bytes`, { destroyReason: 1 });
  }
  const length = body.readUInt16BE(9);
  if (length > RELAY_PAYLOAD_SIZE) {
    throw new ProtocolError('ERR_RELAY_LENGTH', `relay length ${length} > ${RELAY_PAYLOAD_SIZE}`, { destroyReason: 1 });
  }
  if (body.length < RELAY_HEADER_SIZE + length) {
    throw new ProtocolError('ERR_CELL_TRUNCATED', `relay data truncated (${length} declared)`, { destroyReason: 1 });
  }
  return {
    command: body[0]!,
    recognized: body.readUInt16BE(1),
    streamId: body.readUInt16BE(3),
    digest: body.readUInt32BE(5),
    data: options.copy === false ? body.subarray(RELAY_HEADER_SIZE, RELAY_HEADER_SIZE + length) : copyOf(body, RELAY_HEADER_SIZE, RELAY_HEADER_SIZE + length),
  };
}

// ---------------------------------------------------------------------------------------------
// BEGIN (tor-spec §6.2)

/** BEGIN flag bits (tor-spec §6.2: bit 1 is the least significant). */
export const BeginFlag = Object.freeze({ IPV6_OK: 1, IPV4_NOT_OK: 2, IPV6_PREFERRED: 4 });

export interface Begin {
  host: string;
  port: number;
  flags: number;
}

export function encodeBegin(begin: Begin): Buffer {
  if (!Number.isInteger(begin.port) || begin.port < 1 || begin.port > 0xffff) {
    throw new ProtocolError('ERR_RELAY_BAD_BODY', `BEGIN port ${begin.port}`);
  }
  if (begin.host.length === 0 || begin.host.includes('\0')) throw new ProtocolError('ERR_RELAY_BAD_BODY', 'BEGIN host');
  const host = begin.host.includes(':') ? `[${begin.host}]` : begin.host; // IPv6 literal
  const text = Buffer.from(`${host}:${begin.port}\0`, 'latin1');
  const out = Buffer.alloc(text.length + 4);
  text.copy(out);
  out.writeUInt32BE((begin.flags ?? 0) >>> 0, text.length);
  if (out.length > RELAY_PAYLOAD_SIZE) throw new ProtocolError('ERR_RELAY_LENGTH', 'BEGIN address too long');
  return out;
}

/** Errors carry END reason TORPROTOCOL for the exit to send back. Missing flags read as 0. */
export function decodeBegin(data: Buffer): Begin {
  const fail = (why: string): never => {
    throw new ProtocolError('ERR_RELAY_BAD_BODY', `BEGIN: ${why}`, { endReason: EndReason.TORPROTOCOL });
  };
  const nul = data.indexOf(0);
  if (nul < 0) fail('address not NUL-terminated');
  const text = data.toString('latin1', 0, nul);
  const colon = text.lastIndexOf(':');
  if (colon <= 0) fail(`no port in ${JSON.stringify(text)}`);
  let host = text.slice(0, colon);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const portText = text.slice(colon + 1);
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 0xffff)) fail(`port ${JSON.stringify(portText)}`);
  if (host.length === 0) fail('empty host');
  const rest = data.subarray(nul + 1);
  const flags = rest.length >= 4 ? rest.readUInt32BE(0) : 0;
  return { host, port, flags };
}

// ---------------------------------------------------------------------------------------------
// CONNECTED

export interface Connected {
  /** The address the exit connected to (null when the exit sent an empty body). */
  address: string | null;
  /** Seconds the client may cache the address. */
  ttl: number;
}

export function encodeConnected(c: Connected): Buffer {
  if (c.address === null) return Buffer.alloc(0);
  const ttl = Buffer.allocUnsafe(4);
  ttl.writeUInt32BE(c.ttl >>> 0, 0);
  if (isIPv4(c.address)) return Buffer.concat([encodeIPv4(c.address), ttl]);
  return Buffer.concat([Buffer.alloc(4), Buffer.from([6]), encodeIPv6(c.address), ttl]);
}

export function decodeConnected(data: Buffer): Connected {
  if (data.length === 0) return { address: null, ttl: 0 };
  const bad = (): never => {
    throw new ProtocolError('ERR_RELAY_BAD_BODY', `CONNECTED body of ${data.length} bytes`);
  };
  if (data.length < 8) bad();
  if (data.readUInt32BE(0) !== 0) return { address: decodeIPv4(data), ttl: data.readUInt32BE(4) };
  if (data.length < 25 || data[4] !== 6) bad();
  return { address: decodeIPv6(data, 5), ttl: data.readUInt32BE(21) };
}

// ---------------------------------------------------------------------------------------------
// END and TRUNCATED

export function encodeEnd(reason: number): Buffer {
  if (!Number.isInteger(reason) || reason < 0 || reason > 255) throw new ProtocolError('ERR_RELAY_BAD_BODY', `END reason ${reason}`);
  return Buffer.from([reason]);
}

/** An empty END means MISC; unknown reasons are accepted as they are (tor-spec §6.3). */
export function decodeEnd(data: Buffer): number {
  return data.length > 0 ? data[0]! : EndReason.MISC;
}

/** TRUNCATED carries the DESTROY reason of the hop that went away. */
export const encodeTruncated = encodeEnd;
export function decodeTruncated(data: Buffer): number {
  return data.length > 0 ? data[0]! : 0;
}
