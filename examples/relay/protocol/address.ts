/**
 * IPv4 and IPv6 addresses as they appear in cells: 4 or 16 raw bytes, big-endian.
 *
 * Used by NETINFO (cell.ts), EXTEND2 link specifiers (cell.ts) and CONNECTED (relay-cell.ts).
 * Text forms are dotted quads and RFC 4291 hex groups (`::` accepted on input, written in the
 * RFC 5952 shortest form). Parse failures throw ProtocolError ERR_CELL_BAD_FIELD.
 */
import { ProtocolError } from './errors.js';

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function isIPv4(text: string): boolean {
  const m = IPV4.exec(text);
  return m !== null && m.slice(1).every((part) => Number(part) <= 255);
}

export function encodeIPv4(text: string): Buffer {
  const m = IPV4.exec(text);
  if (m === null || !m.slice(1).every((part) => Number(part) <= 255)) {
    throw new ProtocolError('ERR_CELL_BAD_FIELD', `not an IPv4 address: ${JSON.stringify(text)}`);
  }
  return Buffer.from(m.slice(1).map(Number));
}

export function decodeIPv4(bytes: Uint8Array, offset = 0): string {
  if (bytes.length < offset + 4) throw new ProtocolError('ERR_CELL_TRUNCATED', 'IPv4 address truncated');
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

export function encodeIPv6(text: string): Buffer {
  const bad = (): never => {
    throw new ProtocolError('ERR_CELL_BAD_FIELD', `not an IPv6 address: ${JSON.stringify(text)}`);
  };
  const halves = text.split('::');
  if (halves.length > 2) bad();
  const groups = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  const last = (tail.length > 0 ? tail : head).at(-1);
  if (last !== undefined && last.includes('.')) {
    const v4 = encodeIPv4(last);
    const list = tail.length > 0 ? tail : head;
    list.splice(list.length - 1, 1, v4.readUInt16BE(0).toString(16), v4.readUInt16BE(2).toString(16));
  }
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) bad();
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  const out = Buffer.alloc(16);
  all.forEach((group, i) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) bad();
    out.writeUInt16BE(parseInt(group, 16), i * 2);
  });
  return out;
}

export function decodeIPv6(bytes: Uint8Array, offset = 0): string {
  if (bytes.length < offset + 16) throw new ProtocolError('ERR_CELL_TRUNCATED', 'IPv6 address truncated');
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((bytes[offset + 2 * i]! << 8) | bytes[offset + 2 * i + 1]!);
  // RFC 5952: compress the longest run (length >= 2) of zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
