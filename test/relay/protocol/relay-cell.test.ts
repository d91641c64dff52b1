import { describe, expect, it } from 'vitest';

import {
  BeginFlag,
  EndReason,
  RELAY_PAYLOAD_SIZE,
  RelayCommand,
  decodeBegin,
  decodeConnected,
  decodeEnd,
  decodeRelayCell,
  encodeBegin,
  encodeConnected,
  encodeEnd,
  encodeRelayCell,
  endReasonName,
  isKnownRelayCommand,
} from '../../../examples/relay/protocol/relay-cell.js';
import { expectCode } from './helpers.js';

describe('relay cell header', () => {
  it('lays out command, recognized, stream, digest, length and data in 509 bytes', () => {
    const body = encodeRelayCell(
      { command: RelayCommand.DATA, streamId: 0x1234, data: Buffer.from('hi'), digest: 0xdeadbeef },
      { padding: 'zero' },
    );
    expect(body.length).toBe(509);
    expect([...body.subarray(0, 13)]).toEqual([2, 0, 0, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0, 2, 0x68, 0x69]);
    expect(decodeRelayCell(body)).toEqual({
      command: 2,
      recognized: 0,
      streamId: 0x1234,
      digest: 0xdeadbeef,
      data: Buffer.from('hi'),
    });
  });

  it('decodes data as a copy, or as a view into the body with copy: false', () => {
    const body = encodeRelayCell({ command: RelayCommand.DATA, streamId: 3, data: Buffer.from('hello') });
    const copied = decodeRelayCell(body);
    const viewed = decodeRelayCell(body, { copy: false });
    expect(copied.data.toString()).toBe('hello');
    expect(viewed.data.toString()).toBe('hello');
    body[11] = 0x4a; // 'J'
    expect(copied.data.toString()).toBe('hello');
    expect(viewed.data.toString()).toBe('Jello');
  });

  it('pads with four zero bytes, then random bytes', () => {
    const a = encodeRelayCell({ command: RelayCommand.DATA, streamId: 1, data: Buffer.alloc(10, 1) });
    const b = encodeRelayCell({ command: RelayCommand.DATA, streamId: 1, data: Buffer.alloc(10, 1) });
    expect([...a.subarray(21, 25)]).toEqual([0, 0, 0, 0]);
    expect(a.subarray(25).equals(b.subarray(25))).toBe(false);
    const full = encodeRelayCell({ command: 2, streamId: 1, data: Buffer.alloc(RELAY_PAYLOAD_SIZE, 5) });
    expect(decodeRelayCell(full).data.length).toBe(498);
  });

  it('refuses data over 498 bytes on both sides with coded errors', () => {
    expectCode(() => encodeRelayCell({ command: 2, streamId: 1, data: Buffer.alloc(499) }), 'ERR_RELAY_LENGTH');
    const body = encodeRelayCell({ command: 2, streamId: 1 }, { padding: 'zero' });
    body.writeUInt16BE(499, 9);
    const err = expectCode(() => decodeRelayCell(body), 'ERR_RELAY_LENGTH');
    expect(err.destroyReason).toBe(1);
    expectCode(() => decodeRelayCell(Buffer.alloc(10)), 'ERR_CELL_TRUNCATED');
    const short = Buffer.alloc(20);
    short.writeUInt16BE(100, 9);
    expectCode(() => decodeRelayCell(short), 'ERR_CELL_TRUNCATED');
  });

  it('knows the commands it handles', () => {
    expect(isKnownRelayCommand(RelayCommand.EXTEND2)).toBe(true);
    expect(isKnownRelayCommand(RelayCommand.RESOLVE)).toBe(false);
    expect(isKnownRelayCommand(99)).toBe(false);
  });
});

describe('BEGIN, CONNECTED, END', () => {
  it('encodes BEGIN as host:port NUL and flags', () => {
    const data = encodeBegin({ host: 'example.com', port: 80, flags: BeginFlag.IPV6_OK });
    expect(data.toString('latin1')).toBe('example.com:80\0\0\0\0\x01');
    expect(decodeBegin(data)).toEqual({ host: 'example.com', port: 80, flags: 1 });
    expect(decodeBegin(encodeBegin({ host: '::1', port: 443, flags: 0 }))).toEqual({ host: '::1', port: 443, flags: 0 });
    expect(decodeBegin(Buffer.from('a:1\0'))).toEqual({ host: 'a', port: 1, flags: 0 });
  });

  it('refuses malformed BEGIN bodies with END reason TORPROTOCOL', () => {
    for (const text of ['nonul:80', 'noport\0', ':80\0', 'h:0\0', 'h:65536\0', 'h:8x\0']) {
      const err = expectCode(() => decodeBegin(Buffer.from(text, 'latin1')), 'ERR_RELAY_BAD_BODY');
      expect(err.endReason).toBe(EndReason.TORPROTOCOL);
    }
  });

  it('encodes CONNECTED for IPv4, IPv6 and the empty form', () => {
    const v4 = encodeConnected({ address: '127.0.0.1', ttl: 300 });
    expect([...v4]).toEqual([127, 0, 0, 1, 0, 0, 1, 44]);
    expect(decodeConnected(v4)).toEqual({ address: '127.0.0.1', ttl: 300 });
    expect(decodeConnected(encodeConnected({ address: 'fe80::2', ttl: 5 }))).toEqual({ address: 'fe80::2', ttl: 5 });
    expect(decodeConnected(Buffer.alloc(0))).toEqual({ address: null, ttl: 0 });
    expectCode(() => decodeConnected(Buffer.alloc(5)), 'ERR_RELAY_BAD_BODY');
  });

  it('reads an empty END as MISC and accepts unknown reasons', () => {
    expect(decodeEnd(Buffer.alloc(0))).toBe(EndReason.MISC);
    expect(decodeEnd(encodeEnd(EndReason.DONE))).toBe(6);
    expect(decodeEnd(Buffer.from([77]))).toBe(77);
    expect(endReasonName(8)).toBe('NOROUTE');
    expect(endReasonName(77)).toBe('UNKNOWN(77)');
  });
});
