// Bad input through the whole receive path a relay runs on every cell: framing, parseCell, the
// onion layer and recognized check, the relay header, and the body decoders. Whatever a peer
// sends, the protocol layer answers with a ProtocolError carrying a code (and, where it ends a
// circuit or stream, the reason to send) — never another exception.
import { randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import {
  CellCommand,
  CellReader,
  decodeCreate2Payload,
  decodeExtend2,
  encodeCell,
  encodeCreate2Payload,
  encodeExtend2,
  extendTargetOf,
  parseCell,
} from '../../../examples/relay/protocol/cell.js';
import { CircIdAllocator, circIdRule } from '../../../examples/relay/protocol/circid.js';
import { isProtocolError, type ProtocolError } from '../../../examples/relay/protocol/errors.js';
import { generateX25519KeyPair, nodeIdOf, ntorClientStart, ntorServerHandshake } from '../../../examples/relay/protocol/ntor.js';
import {
  RelayCommand,
  decodeBegin,
  decodeConnected,
  decodeRelayCell,
  encodeBegin,
  encodeRelayCell,
} from '../../../examples/relay/protocol/relay-cell.js';
import { HopCrypto, OriginCrypto, relayReceiveForward } from '../../../examples/relay/protocol/relay-crypto.js';
import { noteDelivered, createWindow, STREAM_WINDOW, receiveSendme, CIRCUIT_WINDOW } from '../../../examples/relay/protocol/sendme.js';

const onion = generateX25519KeyPair();
const nodeId = nodeIdOf(randomBytes(32));

/** What an exit does with one cell from a link; returns what happened or the coded error. */
function exitReceives(reader: CellReader, hop: HopCrypto, ids: CircIdAllocator, bytes: Buffer): Array<string | ProtocolError> {
  const out: Array<string | ProtocolError> = [];
  try {
    reader.feed(bytes);
    for (let cell = reader.next(); cell; cell = reader.next()) {
      try {
        const parsed = parseCell(cell);
        switch (parsed.command) {
          case 'CREATE2': {
            ids.claim(parsed.circId);
            ntorServerHandshake(parsed.create.hdata, { nodeId, onionKeys: [onion] });
            out.push('created');
            break;
          }
          case 'RELAY':
          case 'RELAY_EARLY': {
            if (ids.status(parsed.circId) === undefined) {
              out.push('unknown circuit: dropped');
              break;
            }
            relayReceiveForward(hop, parsed.body, false);
            const rc = decodeRelayCell(parsed.body);
            if (rc.command === RelayCommand.BEGIN) decodeBegin(rc.data);
            if (rc.command === RelayCommand.EXTEND2) extendTargetOf(decodeExtend2(rc.data));
            if (rc.command === RelayCommand.CONNECTED) decodeConnected(rc.data);
            if (rc.command === RelayCommand.SENDME) receiveSendme(createWindow(CIRCUIT_WINDOW, 900), CIRCUIT_WINDOW, rc.data);
            if (rc.command === RelayCommand.DATA) noteDelivered(createWindow(STREAM_WINDOW), STREAM_WINDOW);
            out.push(`relay ${rc.command}`);
            break;
          }
          default:
            out.push(parsed.command);
        }
      } catch (e) {
        if (!isProtocolError(e)) throw e;
        out.push(e);
      }
    }
  } catch (e) {
    if (!isProtocolError(e)) throw e;
    out.push(e);
  }
  return out;
}

function setup() {
  const keys = { Df: randomBytes(20), Db: randomBytes(20), Kf: randomBytes(16), Kb: randomBytes(16), KH: randomBytes(20) };
  const origin = new OriginCrypto();
  origin.addHop(keys);
  const exit = HopCrypto.fromKeys(keys);
  const ids = new CircIdAllocator(circIdRule(4, { initiator: false }));
  ids.claim(0x8000_0001);
  const reader = new CellReader({ linkVersion: 4 });
  return { origin, exit, ids, reader };
}

const codeOf = (r: string | ProtocolError) => (typeof r === 'string' ? r : r.code);

describe('bad input on the receive path', () => {
  it('handles a well-formed stream of cells', () => {
    const s = setup();
    const begin = encodeRelayCell({ command: RelayCommand.BEGIN, streamId: 1, data: encodeBegin({ host: 'a', port: 80, flags: 0 }) });
    s.origin.encryptForward(begin);
    const { onionskin } = ntorClientStart(nodeId, onion.publicKey);
    const wire = Buffer.concat([
      encodeCell(4, { circId: 0x8000_0002, command: CellCommand.CREATE2, payload: encodeCreate2Payload({ htype: 2, hdata: onionskin }) }),
      encodeCell(4, { circId: 0x8000_0001, command: CellCommand.RELAY, payload: begin }),
    ]);
    expect(exitReceives(s.reader, s.exit, s.ids, wire)).toEqual(['created', 'relay 1']);
  });

  it('gives each named kind of bad input its code', () => {
    const s = setup();
    const results = (bytes: Buffer) => exitReceives(s.reader, s.exit, s.ids, bytes).map(codeOf);
    // unknown command: surfaced, coded, the next cell still read
    expect(results(encodeCell(4, { circId: 1, command: 42, payload: Buffer.alloc(0) }))).toEqual(['ERR_CELL_UNKNOWN_COMMAND']);
    // wrong circuit IDs: 0 on a circuit cell, our own half, one in use, one unknown
    expect(results(encodeCell(4, { circId: 0, command: CellCommand.RELAY, payload: Buffer.alloc(509) }))).toEqual(['ERR_CIRCID']);
    const create = (id: number) => encodeCell(4, { circId: id, command: CellCommand.CREATE2, payload: encodeCreate2Payload({ htype: 2, hdata: Buffer.alloc(84) }) });
    expect(results(create(0x10))).toEqual(['ERR_CIRCID']);
    expect(results(create(0x8000_0001))).toEqual(['ERR_CIRCID']);
    expect(results(encodeCell(4, { circId: 0x8000_0077, command: CellCommand.RELAY, payload: Buffer.alloc(509) }))).toEqual(['unknown circuit: dropped']);
    // a CREATE2 whose onionskin is for another relay / is short / has an oversized HLEN
    const other = ntorClientStart(nodeIdOf(randomBytes(32)), onion.publicKey).onionskin;
    expect(results(encodeCell(4, { circId: 0x8000_0100, command: CellCommand.CREATE2, payload: encodeCreate2Payload({ htype: 2, hdata: other }) }))).toEqual(['ERR_NTOR_NODEID']);
    expect(results(encodeCell(4, { circId: 0x8000_0101, command: CellCommand.CREATE2, payload: encodeCreate2Payload({ htype: 2, hdata: Buffer.alloc(20) }) }))).toEqual(['ERR_NTOR_LENGTH']);
    const hlen = Buffer.alloc(509);
    hlen.writeUInt16BE(600, 2);
    expect(results(encodeCell(4, { circId: 0x8000_0102, command: CellCommand.CREATE2, payload: hlen }))).toEqual(['ERR_CELL_TOO_LONG']);
    // bad digest: a relay cell whose data was changed in flight
    const tampered = encodeRelayCell({ command: RelayCommand.DATA, streamId: 1, data: Buffer.from('x') });
    s.origin.encryptForward(tampered);
    tampered[30]! ^= 4;
    expect(results(encodeCell(4, { circId: 0x8000_0001, command: CellCommand.RELAY, payload: tampered }))).toEqual(['ERR_RELAY_DIGEST']);
  });

  it('a relay header with an oversized length is ERR_RELAY_LENGTH, after the digest checked out', () => {
    const s = setup();
    const body = encodeRelayCell({ command: RelayCommand.DATA, streamId: 1, data: Buffer.alloc(10) });
    body.writeUInt16BE(600, 9); // the sender lies about the length; the digest covers the lie
    s.origin.encryptForward(body);
    const r = exitReceives(s.reader, s.exit, s.ids, encodeCell(4, { circId: 0x8000_0001, command: CellCommand.RELAY, payload: body }));
    expect(r.map(codeOf)).toEqual(['ERR_RELAY_LENGTH']);
    expect((r[0] as ProtocolError).destroyReason).toBe(1);
  });

  it('a truncated link and an oversized variable-length cell are coded and fatal to the link', () => {
    const s = setup();
    const cell = encodeCell(4, { circId: 0x8000_0001, command: CellCommand.RELAY, payload: Buffer.alloc(509) });
    expect(exitReceives(s.reader, s.exit, s.ids, cell.subarray(0, 200))).toEqual([]);
    let err: unknown;
    try {
      s.reader.finish();
    } catch (e) {
      err = e;
    }
    expect(isProtocolError(err) && err.code === 'ERR_CELL_TRUNCATED' && err.fatalToLink).toBe(true);
    const s2 = setup();
    const r = exitReceives(s2.reader, s2.exit, s2.ids, Buffer.from([0, 0, 0, 0, 130, 0xff, 0xff]));
    expect(r.map(codeOf)).toEqual(['ERR_CELL_TOO_LONG']);
    expect((r[0] as ProtocolError).fatalToLink).toBe(true);
  });

  it('survives thousands of mutated cells with only coded errors', () => {
    let seed = 99;
    const rnd = (n: number) => {
      seed = (seed * 1664525 + 1013904223) >>> 0;
      return seed % n;
    };
    const { onionskin } = ntorClientStart(nodeId, onion.publicKey);
    const templates = [
      () => encodeCell(4, { circId: 0x8000_0000 + rnd(4), command: CellCommand.CREATE2, payload: encodeCreate2Payload({ htype: 2, hdata: onionskin }) }),
      () => encodeCell(4, { circId: 0, command: CellCommand.NETINFO, payload: Buffer.from([0, 0, 0, 0, 4, 4, 127, 0, 0, 1, 1, 4, 4, 1, 2, 3, 4]) }),
      () => encodeCell(4, { circId: 0, command: CellCommand.VERSIONS, payload: Buffer.from([0, 3, 0, 4]) }),
      () => encodeCell(4, { circId: 0x8000_0001, command: CellCommand.DESTROY, payload: Buffer.from([3]) }),
    ];
    let coded = 0;
    for (let round = 0; round < 1500; round++) {
      const s = setup();
      let bytes: Buffer;
      if (round % 2 === 0) {
        // a valid, encrypted relay cell of a random kind, then mutated before or after encryption
        const kinds = [
          () => encodeBegin({ host: 'example.com', port: 443, flags: 0 }),
          () => encodeExtend2({ linkSpecifiers: [{ kind: 'ipv4', host: '10.0.0.1', port: 9001 }, { kind: 'legacy-id', identity: randomBytes(20) }], htype: 2, hdata: onionskin }),
          () => randomBytes(rnd(40)),
        ];
        const command = [RelayCommand.BEGIN, RelayCommand.EXTEND2, RelayCommand.CONNECTED, RelayCommand.SENDME, RelayCommand.DATA][rnd(5)]!;
        const body = encodeRelayCell({ command, streamId: rnd(3), data: kinds[rnd(3)]!() });
        if (rnd(2) === 0) for (let k = 0; k < 1 + rnd(4); k++) body[rnd(509)] = rnd(256);
        s.origin.encryptForward(body);
        if (rnd(3) === 0) body[rnd(509)] ^= 1 << rnd(8);
        bytes = encodeCell(4, { circId: 0x8000_0001, command: rnd(5) === 0 ? CellCommand.RELAY_EARLY : CellCommand.RELAY, payload: body });
      } else {
        bytes = Buffer.from(templates[rnd(templates.length)]!());
        for (let k = 0; k < 1 + rnd(6); k++) bytes[rnd(bytes.length)] = rnd(256);
        if (rnd(4) === 0) bytes = bytes.subarray(0, rnd(bytes.length));
      }
      for (const r of exitReceives(s.reader, s.exit, s.ids, bytes)) if (typeof r !== 'string') coded++;
      try {
        s.reader.finish();
      } catch (e) {
        expect(isProtocolError(e)).toBe(true);
      }
    }
    expect(coded).toBeGreaterThan(250); // the mutations really produced errors, all of them coded
  });

  it('CREATE2 and EXTEND2 decoders refuse every truncation with a code', () => {
    const body = encodeExtend2({
      linkSpecifiers: [{ kind: 'ipv4', host: '10.0.0.1', port: 9001 }, { kind: 'legacy-id', identity: randomBytes(20) }],
      htype: 2,
      hdata: randomBytes(84),
    });
    for (let cut = 0; cut < body.length; cut++) {
      try {
        decodeExtend2(body.subarray(0, cut));
        throw new Error(`no error at ${cut}`);
      } catch (e) {
        expect(isProtocolError(e), String(e)).toBe(true);
      }
    }
    const create = encodeCreate2Payload({ htype: 2, hdata: randomBytes(84) });
    for (let cut = 0; cut < create.length; cut++) {
      expect(() => decodeCreate2Payload(create.subarray(0, cut))).toThrow(/truncated/);
    }
  });
});
