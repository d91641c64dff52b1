import { describe, expect, it } from 'vitest';

import {
  encodeCellInto,
  CELL_BODY_LEN,
  type Cell,
  CellCommand,
  CellReader,
  DestroyReason,
  HandshakeType,
  SUPPORTED_LINK_VERSIONS,
  cellSize,
  decodeCell,
  decodeCreate2Payload,
  decodeCreated2Payload,
  decodeExtend2,
  decodeExtended2,
  decodeNetinfoPayload,
  decodeVersionsPayload,
  destroyReasonName,
  encodeCell,
  encodeCreate2Payload,
  encodeCreated2Payload,
  encodeDestroyPayload,
  encodeExtend2,
  encodeExtended2,
  encodeNetinfoPayload,
  encodeVersionsCell,
  extendTargetOf,
  isKnownCellCommand,
  negotiateLinkVersion,
  packedCircId,
  packedCommand,
  packedPayload,
  parseCell,
  repackCell,
  setPackedCircId,
} from '../../../examples/relay/protocol/cell.js';
import { isProtocolError } from '../../../examples/relay/protocol/errors.js';
import { expectCode } from './helpers.js';

describe('cell framing', () => {
  it('v3 cells are 512 bytes with a 2-byte CircID, v4 cells 514 with a 4-byte CircID', () => {
    expect(cellSize(3)).toBe(512);
    expect(cellSize(4)).toBe(514);
    const v3 = encodeCell(3, { circId: 0x8001, command: CellCommand.DESTROY, payload: encodeDestroyPayload(9) });
    expect(v3.length).toBe(512);
    expect([...v3.subarray(0, 4)]).toEqual([0x80, 0x01, 4, 9]);
    const v4 = encodeCell(4, { circId: 0x80000001, command: CellCommand.DESTROY, payload: Buffer.from([9]) });
    expect(v4.length).toBe(514);
    expect([...v4.subarray(0, 6)]).toEqual([0x80, 0, 0, 1, 4, 9]);
    expect(v4.subarray(6).every((b) => b === 0)).toBe(true); // NUL padding
  });

  it('round-trips through the reader on both link versions', () => {
    for (const version of [3, 4]) {
      const payload = Buffer.alloc(CELL_BODY_LEN, 0xab);
      const bytes = encodeCell(version, { circId: 77, command: CellCommand.RELAY, payload });
      const cell = decodeCell(version, bytes);
      expect(cell).toEqual({ circId: 77, command: CellCommand.RELAY, payload });
    }
  });

  it('refuses a CircID wider than the link and an oversized fixed body', () => {
    expectCode(() => encodeCell(3, { circId: 0x10000, command: 3, payload: Buffer.alloc(0) }), 'ERR_CIRCID');
    expectCode(() => encodeCell(4, { circId: 1, command: 3, payload: Buffer.alloc(510) }), 'ERR_CELL_TOO_LONG');
  });

  it('VERSIONS is variable-length with a 2-byte CircID and no padding', () => {
    const bytes = encodeVersionsCell([3, 4]);
    expect([...bytes]).toEqual([0, 0, 7, 0, 4, 0, 3, 0, 4]);
  });

  it('keeps partial input and frames byte by byte, switching width after VERSIONS', () => {
    const stream = Buffer.concat([
      encodeVersionsCell([3, 4]),
      encodeCell(4, { circId: 0x80000005, command: CellCommand.CREATE2, payload: Buffer.alloc(10, 1) }),
      encodeCell(4, { circId: 0, command: 200, payload: Buffer.from('vpad') }), // unknown variable-length
      encodeCell(4, { circId: 9, command: 77, payload: Buffer.alloc(3) }), // unknown fixed-length
    ]);
    const reader = new CellReader();
    const cells: Cell[] = [];
    for (const byte of stream) {
      reader.feed(Buffer.from([byte]));
      for (let c = reader.next(); c; c = reader.next()) {
        cells.push(c);
        if (c.command === CellCommand.VERSIONS) {
          reader.setLinkVersion(negotiateLinkVersion(SUPPORTED_LINK_VERSIONS, decodeVersionsPayload(c.payload)));
        }
      }
    }
    expect(cells.map((c) => [c.circId, c.command, c.payload.length])).toEqual([
      [0, 7, 4],
      [0x80000005, 10, 509],
      [0, 200, 4],
      [9, 77, 509],
    ]);
    expect(reader.bufferedBytes).toBe(0);
    expect(() => reader.finish()).not.toThrow();
    // unknown commands are surfaced, and parseCell gives them a code to drop on
    expect(isKnownCellCommand(200)).toBe(false);
    expectCode(() => parseCell(cells[3]!), 'ERR_CELL_UNKNOWN_COMMAND');
    expectCode(() => parseCell(cells[2]!), 'ERR_CELL_UNKNOWN_COMMAND');
  });

  it('returns null on a truncated cell, and finish() reports the truncation', () => {
    const bytes = encodeCell(4, { circId: 1, command: CellCommand.RELAY, payload: Buffer.alloc(509) });
    const reader = new CellReader({ linkVersion: 4 });
    reader.feed(bytes.subarray(0, 300));
    expect(reader.next()).toBeNull();
    expect(reader.bufferedBytes).toBe(300);
    expectCode(() => reader.finish(), 'ERR_CELL_TRUNCATED');
    expectCode(() => decodeCell(4, bytes.subarray(0, 513)), 'ERR_CELL_TRUNCATED');
    expectCode(() => decodeCell(4, Buffer.concat([bytes, Buffer.from([0])])), 'ERR_CELL_TOO_LONG');
  });

  it('a variable-length cell over the limit fails the reader for good, with a code', () => {
    const reader = new CellReader({ linkVersion: 4, maxVariableBody: 100 });
    reader.feed(Buffer.from([0, 0, 0, 0, 129, 0xff, 0xff]));
    const err = expectCode(() => reader.next(), 'ERR_CELL_TOO_LONG');
    expect(err.fatalToLink).toBe(true);
    expectCode(() => reader.next(), 'ERR_CELL_TOO_LONG');
    expectCode(() => reader.feed(Buffer.alloc(1)), 'ERR_CELL_TOO_LONG');
  });

  it('exports and rebuilds a reader with a partial cell (a live update carries it)', () => {
    const bytes = encodeCell(3, { circId: 5, command: CellCommand.RELAY, payload: Buffer.alloc(509, 7) });
    const reader = new CellReader({ linkVersion: 3 });
    reader.feed(bytes.subarray(0, 100));
    const state = reader.exportState();
    const rebuilt = CellReader.fromState(state);
    rebuilt.feed(bytes.subarray(100));
    expect(rebuilt.next()).toEqual({ circId: 5, command: 3, payload: Buffer.alloc(509, 7) });
  });

  it('copyPayloads: false returns views into the fed chunk, and the option survives export', () => {
    const a = encodeCell(4, { circId: 0x8000_0001, command: CellCommand.RELAY, payload: Buffer.alloc(509, 1) });
    const b = encodeCell(4, { circId: 0x8000_0002, command: CellCommand.RELAY, payload: Buffer.alloc(509, 2) });
    const chunk = Buffer.concat([a, b, b.subarray(0, 10)]);
    const reader = new CellReader({ linkVersion: 4, copyPayloads: false });
    reader.feed(chunk);
    const first = reader.next()!;
    expect(first.payload.buffer).toBe(chunk.buffer);
    expect(first.payload.byteOffset).toBe(chunk.byteOffset + 5);
    first.payload.fill(9); // the caller may modify it: the reader is past those bytes
    expect(reader.next()).toEqual({ circId: 0x8000_0002, command: 3, payload: Buffer.alloc(509, 2) });
    const rebuilt = CellReader.fromState(reader.exportState());
    rebuilt.feed(b.subarray(10));
    const third = rebuilt.next()!;
    expect(third.payload).toEqual(Buffer.alloc(509, 2));
    expect(rebuilt.exportState().copyPayloads).toBe(false);
    const copying = new CellReader({ linkVersion: 4 });
    copying.feed(Buffer.from(a));
    expect(copying.next()!.payload.length).toBe(509);
    expect(copying.exportState().copyPayloads).toBe(true);
  });


  it('a link reading into one reused buffer: the leftover moves in front of the next read, ownPending detaches the rest', () => {
    const cells = [1, 2, 3].map((n) => encodeCell(4, { circId: 0x8000_0000 + n, command: CellCommand.RELAY, payload: Buffer.alloc(509, n) }));
    const wire = Buffer.concat(cells);
    const scratch = Buffer.alloc(2048);
    const reader = new CellReader({ linkVersion: 4 });
    const got: number[] = [];
    // Reads of 300 bytes: each cell spans two or three of them.
    for (let at = 0; at < wire.length; at += 300) {
      const kept = reader.movePendingTo(scratch);
      expect(reader.bufferedBytes).toBe(0);
      const piece = wire.subarray(at, at + 300);
      scratch.set(piece, kept);
      reader.feed(scratch.subarray(0, kept + piece.length));
      for (let cell = reader.next(); cell; cell = reader.next()) got.push(cell.payload[0]!);
      reader.ownPending();
      scratch.fill(0xee); // the next read overwrites the buffer: nothing the reader holds may point into it
    }
    expect(got).toEqual([1, 2, 3]);
    expect(reader.bufferedBytes).toBe(0);
    // A leftover larger than the target stays where it is; so does everything in a failed reader.
    reader.feed(cells[0]!.subarray(0, 200));
    expect(reader.movePendingTo(Buffer.alloc(100))).toBe(0);
    expect(reader.bufferedBytes).toBe(200);
    reader.ownPending();
    reader.feed(cells[0]!.subarray(200));
    expect(reader.next()!.payload).toEqual(Buffer.alloc(509, 1));
    const failed = new CellReader({ linkVersion: 4, maxVariableBody: 10 });
    const tooLong = Buffer.from([0, 0, 0, 0, CellCommand.VERSIONS, 0, 200]);
    expect(() => failed.feed(tooLong) ?? failed.next()).toThrow();
    expect(failed.movePendingTo(scratch)).toBe(0);
  });
  it('never throws anything but a coded error on random garbage', () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let round = 0; round < 200; round++) {
      const reader = new CellReader({ linkVersion: round % 2 ? 4 : 3, maxVariableBody: 600 });
      const junk = Buffer.from(Array.from({ length: 2000 }, rand));
      try {
        reader.feed(junk);
        for (let c = reader.next(); c; c = reader.next()) {
          try {
            parseCell(c);
          } catch (e) {
            expect(isProtocolError(e)).toBe(true);
          }
        }
      } catch (e) {
        expect(isProtocolError(e)).toBe(true);
      }
    }
  });
});

describe('encodeCellInto (cells laid out one after another in a link\'s output buffer)', () => {
  it('writes exactly what encodeCell makes, at any offset, and returns the offset after it', () => {
    const cells = [
      { v: 4, cell: { circId: 0x8000_0001, command: 3, payload: Buffer.alloc(509, 7) } },
      { v: 4, cell: { circId: 0x8000_0002, command: 4, payload: Buffer.from([9]) } }, // padded with zeros
      { v: 3, cell: { circId: 0x8001, command: 3, payload: Buffer.alloc(509, 1) } },
      { v: 0, cell: { circId: 0, command: 7, payload: Buffer.from([0, 3, 0, 4]) } }, // variable-length
    ];
    const out = Buffer.alloc(4096, 0xee);
    let at = 3;
    for (const { v, cell } of cells) {
      const want = encodeCell(v, cell);
      const next = encodeCellInto(v, cell, out, at);
      expect(next - at).toBe(want.length);
      expect(out.subarray(at, next)).toEqual(want);
      at = next;
    }
    expect(out.subarray(0, 3).every((b) => b === 0xee)).toBe(true);
    expect(out.subarray(at).every((b) => b === 0xee)).toBe(true);
  });

  it('refuses a cell that does not fit, and checks fields as encodeCell does', () => {
    const cell = { circId: 0x8000_0001, command: 3, payload: Buffer.alloc(509) };
    expectCode(() => encodeCellInto(4, cell, Buffer.alloc(600), 100), 'ERR_CELL_TOO_LONG');
    expectCode(() => encodeCellInto(3, cell, Buffer.alloc(600), 0), 'ERR_CIRCID');
    expectCode(() => encodeCellInto(4, { ...cell, payload: Buffer.alloc(510) }, Buffer.alloc(600), 0), 'ERR_CELL_TOO_LONG');
  });
});

describe('packed cells (a cell kept as its wire bytes)', () => {
  it('nextPacked returns the wire bytes, interleaving with next()', () => {
    const a = encodeCell(4, { circId: 0x80000009, command: CellCommand.RELAY, payload: Buffer.alloc(509, 1) });
    const b = encodeCell(4, { circId: 0, command: 129, payload: Buffer.from('certs') });
    const c = encodeCell(4, { circId: 3, command: CellCommand.DESTROY, payload: Buffer.from([2]) });
    const reader = new CellReader({ linkVersion: 4 });
    reader.feed(Buffer.concat([a, b, c]).subarray(0, 520));
    expect(reader.nextPacked()).toEqual(a);
    expect(reader.nextPacked()).toBeNull(); // b is not complete yet
    reader.feed(Buffer.concat([a, b, c]).subarray(520));
    expect(reader.nextPacked()).toEqual(b);
    expect(reader.next()).toEqual({ circId: 3, command: 4, payload: c.subarray(5) });
    expect(reader.bufferedBytes).toBe(0);
  });

  it('reads and rewrites fields in place; the payload is a view', () => {
    const packed = encodeCell(4, { circId: 0x80000009, command: CellCommand.RELAY, payload: Buffer.alloc(509, 1) });
    expect(packedCircId(4, packed)).toBe(0x80000009);
    expect(packedCommand(4, packed)).toBe(CellCommand.RELAY);
    const body = packedPayload(4, packed);
    expect(body.length).toBe(509);
    body[0] = 0xee;
    expect(packed[5]).toBe(0xee);
    setPackedCircId(4, packed, 0x1234);
    expect(decodeCell(4, packed).circId).toBe(0x1234);
    expectCode(() => setPackedCircId(3, encodeCell(3, { circId: 1, command: 3, payload: Buffer.alloc(0) }), 0x10000), 'ERR_CIRCID');
    expectCode(() => packedCircId(4, Buffer.alloc(3)), 'ERR_CELL_TRUNCATED');
    const versions = encodeVersionsCell([3, 4]);
    expect([...packedPayload(0, versions)]).toEqual([0, 3, 0, 4]);
  });

  it('repacks across link versions (v3 link to v4 link) and in place for the same version', () => {
    const v3 = encodeCell(3, { circId: 7, command: CellCommand.RELAY, payload: Buffer.alloc(509, 3) });
    const v4 = repackCell(3, 4, v3, 0x80000007);
    expect(v4.length).toBe(514);
    expect(decodeCell(4, v4)).toEqual({ circId: 0x80000007, command: 3, payload: Buffer.alloc(509, 3) });
    const same = repackCell(4, 4, v4, 0x80000008);
    expect(same).toBe(v4);
    expect(packedCircId(4, v4)).toBe(0x80000008);
    expect(repackCell(4, 3, v4, 9).length).toBe(512);
  });
});

describe('VERSIONS and NETINFO', () => {
  it('negotiates the highest common version and refuses none in common', () => {
    expect(negotiateLinkVersion([3, 4], [1, 2, 3, 4, 5])).toBe(4);
    expect(negotiateLinkVersion([3, 4], [3])).toBe(3);
    const err = expectCode(() => negotiateLinkVersion([3, 4], [1, 2]), 'ERR_LINK_NO_COMMON_VERSION');
    expect(err.fatalToLink).toBe(true);
  });

  it('refuses an odd-length VERSIONS body', () => {
    expectCode(() => decodeVersionsPayload(Buffer.from([0, 3, 0])), 'ERR_CELL_BAD_FIELD');
  });

  it('round-trips NETINFO with IPv4 and IPv6 addresses and ignores padding', () => {
    const info = {
      time: 1_700_000_000,
      otherAddress: { type: 4 as const, address: '127.0.0.1' },
      myAddresses: [
        { type: 4 as const, address: '10.1.2.3' },
        { type: 6 as const, address: '2001:db8::1' },
      ],
    };
    const cell = encodeCell(4, { circId: 0, command: CellCommand.NETINFO, payload: encodeNetinfoPayload(info) });
    const parsed = parseCell(decodeCell(4, cell));
    expect(parsed).toEqual({ command: 'NETINFO', circId: 0, netinfo: info });
  });

  it('skips unknown address types and reports truncation', () => {
    const body = Buffer.from([0, 0, 0, 1, 9, 2, 0xaa, 0xbb, 1, 4, 4, 1, 2, 3, 4]);
    expect(decodeNetinfoPayload(body)).toEqual({
      time: 1,
      otherAddress: null,
      myAddresses: [{ type: 4, address: '1.2.3.4' }],
    });
    expectCode(() => decodeNetinfoPayload(body.subarray(0, 13)), 'ERR_CELL_TRUNCATED');
    expectCode(() => decodeNetinfoPayload(Buffer.from([0, 0])), 'ERR_CELL_TRUNCATED');
  });

  it('link-level commands need CircID 0, circuit commands a nonzero one', () => {
    expectCode(() => parseCell({ circId: 3, command: CellCommand.NETINFO, payload: Buffer.alloc(509) }), 'ERR_CIRCID');
    expectCode(() => parseCell({ circId: 0, command: CellCommand.CREATE2, payload: Buffer.alloc(509) }), 'ERR_CIRCID');
    expectCode(() => parseCell({ circId: 0, command: CellCommand.RELAY, payload: Buffer.alloc(509) }), 'ERR_CIRCID');
  });
});

describe('CREATE2, CREATED2, EXTEND2, EXTENDED2, DESTROY', () => {
  const hdata = Buffer.alloc(84, 0x42);
  const identity = Buffer.alloc(20, 0x11);

  it('round-trips CREATE2 and CREATED2 inside cells', () => {
    const payload = encodeCreate2Payload({ htype: HandshakeType.NTOR, hdata });
    const cell = decodeCell(4, encodeCell(4, { circId: 0x80000002, command: CellCommand.CREATE2, payload }));
    expect(parseCell(cell)).toEqual({ command: 'CREATE2', circId: 0x80000002, create: { htype: 2, hdata } });
    const reply = Buffer.alloc(64, 9);
    const created = decodeCell(3, encodeCell(3, { circId: 2, command: CellCommand.CREATED2, payload: encodeCreated2Payload(reply) }));
    expect(parseCell(created)).toEqual({ command: 'CREATED2', circId: 2, hdata: reply });
  });

  it('refuses an HLEN past the body with a coded error and DESTROY reason PROTOCOL', () => {
    const body = Buffer.alloc(509);
    body.writeUInt16BE(2, 0);
    body.writeUInt16BE(506, 2);
    const err = expectCode(() => decodeCreate2Payload(body), 'ERR_CELL_TOO_LONG');
    expect(err.destroyReason).toBe(DestroyReason.PROTOCOL);
    expectCode(() => decodeCreate2Payload(Buffer.from([0, 2, 0, 84, 1, 2])), 'ERR_CELL_TRUNCATED');
    expectCode(() => decodeCreated2Payload(Buffer.from([0, 64, 1])), 'ERR_CELL_TRUNCATED');
  });

  it('round-trips EXTEND2 with [00 IPv4:port][02 identity] and finds its target', () => {
    const ext = {
      linkSpecifiers: [
        { kind: 'ipv4' as const, host: '127.0.0.1', port: 9001 },
        { kind: 'legacy-id' as const, identity },
      ],
      htype: HandshakeType.NTOR,
      hdata,
    };
    const body = encodeExtend2(ext);
    expect([...body.subarray(0, 10)]).toEqual([2, 0, 6, 127, 0, 0, 1, 0x23, 0x29, 2]);
    const parsed = decodeExtend2(body);
    expect(parsed).toEqual(ext);
    expect(extendTargetOf(parsed)).toEqual({ host: '127.0.0.1', port: 9001, identity });
    expect(decodeExtended2(encodeExtended2(Buffer.alloc(64, 3)))).toEqual(Buffer.alloc(64, 3));
  });

  it('keeps unknown link specifiers and refuses bad, duplicate or zero identities', () => {
    const base = { htype: 2, hdata };
    const withUnknown = decodeExtend2(
      encodeExtend2({
        ...base,
        linkSpecifiers: [
          { kind: 'unknown', type: 9, data: Buffer.from('x') },
          { kind: 'ipv4', host: '1.2.3.4', port: 1 },
          { kind: 'legacy-id', identity },
        ],
      }),
    );
    expect(withUnknown.linkSpecifiers[0]).toEqual({ kind: 'unknown', type: 9, data: Buffer.from('x') });
    expect(extendTargetOf(withUnknown).host).toBe('1.2.3.4');
    const dup = { ...base, linkSpecifiers: [{ kind: 'ipv4' as const, host: '1.2.3.4', port: 1 }, { kind: 'legacy-id' as const, identity }, { kind: 'legacy-id' as const, identity }] };
    expectCode(() => extendTargetOf(dup), 'ERR_CELL_BAD_FIELD');
    const zero = { ...base, linkSpecifiers: [{ kind: 'ipv4' as const, host: '1.2.3.4', port: 1 }, { kind: 'legacy-id' as const, identity: Buffer.alloc(20) }] };
    expectCode(() => extendTargetOf(zero), 'ERR_CELL_BAD_FIELD');
    expectCode(() => decodeExtend2(Buffer.from([1, 0, 5, 1, 2, 3, 4, 5])), 'ERR_CELL_BAD_FIELD'); // IPv4 spec of 5 bytes
    expectCode(() => decodeExtend2(Buffer.from([2, 0, 6, 1, 2])), 'ERR_CELL_TRUNCATED');
    expectCode(() => decodeExtend2(Buffer.alloc(0)), 'ERR_CELL_TRUNCATED');
  });

  it('has the DESTROY reason table of tor-spec §5.4', () => {
    expect(DestroyReason.CHANNEL_CLOSED).toBe(8);
    expect(DestroyReason.DESTROYED).toBe(11);
    expect(destroyReasonName(5)).toBe('RESOURCELIMIT');
    expect(destroyReasonName(200)).toBe('UNKNOWN(200)');
    const cell = decodeCell(4, encodeCell(4, { circId: 4, command: CellCommand.DESTROY, payload: encodeDestroyPayload(DestroyReason.FINISHED) }));
    expect(parseCell(cell)).toEqual({ command: 'DESTROY', circId: 4, reason: 9 });
  });
});
