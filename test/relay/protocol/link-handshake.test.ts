import { describe, expect, it } from 'vitest';

import { CellCommand, CellReader, encodeCell, encodeVersionsCell } from '../../../examples/relay/protocol/cell.js';
import { LinkHandshake, type LinkHandshakeOptions } from '../../../examples/relay/protocol/link-handshake.js';
import { expectCode } from './helpers.js';

/** One side of a link: a handshake, a reader, and the bytes it has sent. */
function side(options: LinkHandshakeOptions) {
  const hs = new LinkHandshake(options);
  const reader = new CellReader();
  return { hs, reader };
}

type Side = ReturnType<typeof side>;

/** Delivers bytes to `to`, returns what `to` sends back. */
function deliver(to: Side, bytes: Buffer[], now = 1_000_000): Buffer[] {
  const out: Buffer[] = [];
  for (const b of bytes) {
    to.reader.feed(b);
    for (let cell = to.reader.next(); cell; cell = to.reader.next()) {
      const step = to.hs.receive(cell, now);
      if (step.linkVersion !== undefined) to.reader.setLinkVersion(step.linkVersion);
      out.push(...step.send);
    }
  }
  return out;
}

function run(a: Side, b: Side, nowA = 1_000_000, nowB = 1_000_000) {
  let toB = a.hs.start();
  let toA = b.hs.start();
  for (let i = 0; i < 5 && (toA.length || toB.length); i++) {
    const fromB = deliver(b, toB, nowB);
    const fromA = deliver(a, toA, nowA);
    toA = fromB;
    toB = fromA;
  }
}

describe('link handshake', () => {
  it('negotiates v4 and opens both sides, exchanging NETINFO with addresses and time', () => {
    const a = side({ initiator: true, peerAddress: { type: 4, address: '127.0.0.2' }, hideTime: true });
    const b = side({ initiator: false, peerAddress: { type: 4, address: '127.0.0.1' }, myAddresses: [{ type: 4, address: '127.0.0.2' }] });
    run(a, b, 1_000_000, 1_000_030);
    expect(a.hs.stage).toBe('open');
    expect(b.hs.stage).toBe('open');
    expect(a.hs.linkVersion).toBe(4);
    expect(b.hs.linkVersion).toBe(4);
    expect(a.reader.linkVersion).toBe(4);
    expect(a.hs.peerNetinfo).toEqual({ time: 1_000_030, otherAddress: { type: 4, address: '127.0.0.1' }, myAddresses: [{ type: 4, address: '127.0.0.2' }] });
    expect(b.hs.peerNetinfo?.time).toBe(0); // the client hid its time
    expect(a.hs.clockSkew(1_000_000)).toBe(30);
    expect(b.hs.clockSkew(1_000_030)).toBeNull();
  });

  it('settles on v3 with a peer that offers only v3 (2-byte CircIDs from then on)', () => {
    const a = side({ initiator: true });
    const b = side({ initiator: false, versions: [3] });
    run(a, b);
    expect([a.hs.linkVersion, b.hs.linkVersion]).toEqual([3, 3]);
    expect([a.reader.linkVersion, b.reader.linkVersion]).toEqual([3, 3]);
    expect(a.hs.stage).toBe('open');
    expect(b.hs.stage).toBe('open');
  });

  it('refuses cells out of order and VERSIONS with nothing in common, fatally for the link', () => {
    const b = new LinkHandshake({ initiator: false });
    const err = expectCode(
      () => b.receive({ circId: 0, command: CellCommand.NETINFO, payload: Buffer.alloc(509) }),
      'ERR_LINK_HANDSHAKE',
    );
    expect(err.fatalToLink).toBe(true);
    expectCode(() => new LinkHandshake({ initiator: false }).receive({ circId: 5, command: CellCommand.CREATE2, payload: Buffer.alloc(509) }), 'ERR_LINK_HANDSHAKE');
    expectCode(() => new LinkHandshake({ initiator: false }).receive({ circId: 0, command: CellCommand.VERSIONS, payload: Buffer.from([0, 1, 0, 2]) }), 'ERR_LINK_NO_COMMON_VERSION');
    expectCode(() => new LinkHandshake({ initiator: false }).receive({ circId: 0, command: CellCommand.VERSIONS, payload: Buffer.from([0, 4, 0]) }), 'ERR_CELL_BAD_FIELD');
    const c = new LinkHandshake({ initiator: false });
    c.receive({ circId: 0, command: CellCommand.VERSIONS, payload: Buffer.from([0, 4]) });
    expectCode(() => c.receive({ circId: 1, command: CellCommand.RELAY, payload: Buffer.alloc(509) }), 'ERR_LINK_HANDSHAKE');
  });

  it('ignores padding and a second VERSIONS; after opening, ignores or (locked) refuses renegotiation', () => {
    const a = side({ initiator: true });
    const b = side({ initiator: false });
    let toB = a.hs.start();
    const fromB = deliver(b, toB);
    expect(b.hs.stage).toBe('waiting-netinfo');
    const padding = encodeCell(4, { circId: 0, command: CellCommand.PADDING, payload: Buffer.alloc(0) });
    expect(deliver(b, [padding])).toEqual([]);
    expect(b.hs.stage).toBe('waiting-netinfo');
    expect(b.hs.receive({ circId: 0, command: CellCommand.VERSIONS, payload: Buffer.from([0, 3]) }).consumed).toBe(true);
    expect(b.hs.linkVersion).toBe(4);
    toB = deliver(a, fromB);
    deliver(b, toB);
    expect(b.hs.stage).toBe('open');
    const again = { circId: 0, command: CellCommand.VERSIONS, payload: Buffer.from([0, 3]) };
    expect(b.hs.receive(again)).toEqual({ send: [], consumed: true });
    expect(b.hs.receive({ circId: 9, command: CellCommand.RELAY, payload: Buffer.alloc(509) }).consumed).toBe(false);
    b.hs.lock();
    expectCode(() => b.hs.receive(again), 'ERR_LINK_HANDSHAKE');
    expectCode(() => b.hs.receive({ circId: 0, command: CellCommand.NETINFO, payload: Buffer.alloc(509) }), 'ERR_LINK_HANDSHAKE');
  });

  it('carries a handshake in progress across export/import (a live update mid-handshake)', () => {
    const a = side({ initiator: true });
    const b = side({ initiator: false });
    const fromB = deliver(b, a.hs.start());
    const carried = { hs: LinkHandshake.fromState(structuredClone(a.hs.exportState())), reader: a.reader };
    const toB = deliver(carried, fromB);
    deliver(b, toB);
    expect(carried.hs.stage).toBe('open');
    expect(b.hs.stage).toBe('open');
    expect(encodeVersionsCell().length).toBe(9); // VERSIONS [3, 4]: 2-byte CircID, command, length, 4 bytes
  });
});
