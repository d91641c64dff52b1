import { describe, expect, it } from 'vitest';

import {
  CircIdAllocator,
  MAX_CIRCID_ATTEMPTS,
  allocateStreamId,
  checkPeerCircId,
  circIdRule,
} from '../../../examples/relay/protocol/circid.js';
import { expectCode } from './helpers.js';

describe('circuit ID rules', () => {
  it('v4: the side that opened the connection sets the MSB, the other clears it', () => {
    const opener = new CircIdAllocator(circIdRule(4, { initiator: true }));
    const responder = new CircIdAllocator(circIdRule(4, { initiator: false }));
    for (let i = 0; i < 200; i++) {
      const a = opener.allocate();
      const b = responder.allocate();
      expect(a >= 0x8000_0000 && a <= 0xffff_ffff).toBe(true);
      expect(b > 0 && b < 0x8000_0000).toBe(true);
      // each side accepts the other's IDs and refuses IDs from its own half
      checkPeerCircId(responder.rule, a);
      checkPeerCircId(opener.rule, b);
      expectCode(() => checkPeerCircId(opener.rule, a), 'ERR_CIRCID');
    }
  });

  it('v3: the node with the lower identity key clears the MSB; a keyless client may use any ID', () => {
    const low = Buffer.alloc(32, 1);
    const high = Buffer.alloc(32, 2);
    expect(circIdRule(3, { initiator: true, ourIdentity: low, peerIdentity: high })).toEqual({ width: 2, highBit: false });
    expect(circIdRule(3, { initiator: false, ourIdentity: high, peerIdentity: low })).toEqual({ width: 2, highBit: true });
    expect(circIdRule(3, { initiator: true, ourIdentity: null, peerIdentity: high })).toEqual({ width: 2, highBit: null });
    const any = new CircIdAllocator({ width: 2, highBit: null });
    for (let i = 0; i < 100; i++) expect(any.allocate()).toBeLessThanOrEqual(0xffff);
    checkPeerCircId({ width: 2, highBit: null }, 0x8001);
    checkPeerCircId({ width: 2, highBit: null }, 1);
  });

  it('v3: a relay accepts every ID a keyless client picks (its rule for a peer without a key has no split)', () => {
    const relayKey = Buffer.alloc(32, 9);
    const client = new CircIdAllocator(circIdRule(3, { initiator: true, ourIdentity: null, peerIdentity: relayKey }));
    const relaySide = circIdRule(3, { initiator: false, ourIdentity: relayKey, peerIdentity: null });
    expect(relaySide).toEqual({ width: 2, highBit: null });
    let withBit = 0;
    for (let i = 0; i < 200; i++) {
      const id = client.allocate();
      if (id & 0x8000) withBit++;
      checkPeerCircId(relaySide, id); // before: refused every ID with the MSB set (DESTROY PROTOCOL)
    }
    expect(withBit).toBeGreaterThan(0); // the client really uses both halves
    // v4+: the opener's MSB rule holds for a keyless client too.
    const v4 = new CircIdAllocator(circIdRule(4, { initiator: true, ourIdentity: null }));
    for (let i = 0; i < 50; i++) checkPeerCircId(circIdRule(4, { initiator: false, ourIdentity: relayKey, peerIdentity: null }), v4.allocate());
  });

  it('0 and out-of-range IDs are refused with DESTROY PROTOCOL', () => {
    const rule = circIdRule(4, { initiator: false });
    expect(expectCode(() => checkPeerCircId(rule, 0), 'ERR_CIRCID').destroyReason).toBe(1);
    expectCode(() => checkPeerCircId(rule, 2 ** 32), 'ERR_CIRCID');
    expectCode(() => checkPeerCircId(circIdRule(3, { initiator: false, ourIdentity: null }), 0x10000), 'ERR_CIRCID');
  });

  it('never returns 0 or an ID in use, retrying random draws up to 64 times', () => {
    const draws = [0, 0x8000_0000, 5, 5, 5, 6]; // 0 → reserved; 0x80000000 with MSB cleared is 0 too
    let i = 0;
    const a = new CircIdAllocator({ width: 4, highBit: false }, { random: () => draws[i++]! });
    expect(a.allocate()).toBe(5);
    expect(a.allocate()).toBe(6); // 5, 5 were taken
    const stuck = new CircIdAllocator({ width: 4, highBit: true }, { random: () => 7 });
    expect(stuck.allocate()).toBe(0x8000_0007);
    let calls = 0;
    const counting = new CircIdAllocator({ width: 4, highBit: true }, { random: () => (calls++, 7) });
    counting.allocate();
    calls = 0;
    const err = expectCode(() => counting.allocate(), 'ERR_CIRCID_EXHAUSTED');
    expect(calls).toBe(MAX_CIRCID_ATTEMPTS);
    expect(err.destroyReason).toBe(5);
  });

  it('keeps an ID reserved while its DESTROY is pending', () => {
    const a = new CircIdAllocator({ width: 2, highBit: false }, { random: () => 42 });
    expect(a.allocate()).toBe(42);
    a.markPendingDestroy(42);
    expect(a.status(42)).toBe('pending-destroy');
    expectCode(() => a.allocate(), 'ERR_CIRCID_EXHAUSTED');
    a.destroySent(42);
    expect(a.allocate()).toBe(42);
  });

  it('refuses a peer CREATE2 on an ID in use or pending destroy, without a DESTROY reason', () => {
    const a = new CircIdAllocator(circIdRule(4, { initiator: false }));
    a.claim(0x8000_0010);
    const err = expectCode(() => a.claim(0x8000_0010), 'ERR_CIRCID');
    expect(err.destroyReason).toBeUndefined();
    a.markPendingDestroy(0x8000_0010);
    expectCode(() => a.claim(0x8000_0010), 'ERR_CIRCID');
    expectCode(() => a.claim(0x10), 'ERR_CIRCID'); // our own half
  });

  it("sequential strategy counts like Tor 0.2.1's next_circ_id, wrapping and skipping IDs in use", () => {
    const a = new CircIdAllocator({ width: 2, highBit: true }, { strategy: 'sequential' });
    expect([a.allocate(), a.allocate(), a.allocate()]).toEqual([0x8001, 0x8002, 0x8003]);
    const state = a.exportState();
    state.nextCircId = 0x7fff;
    const b = CircIdAllocator.fromState(state);
    expect(b.allocate()).toBe(0xffff);
    expect(b.allocate()).toBe(0x8001 + 3); // wrapped to 1; 1..3 are in use
  });

  it('exports and rebuilds its IDs (a live update carries them)', () => {
    const a = new CircIdAllocator(circIdRule(4, { initiator: true }));
    const ids = [a.allocate(), a.allocate(), a.allocate()];
    a.markPendingDestroy(ids[1]!);
    const b = CircIdAllocator.fromState(structuredClone(a.exportState()));
    expect(b.size).toBe(3);
    expect(b.status(ids[0]!)).toBe('open');
    expect(b.status(ids[1]!)).toBe('pending-destroy');
    expect(b.rule).toEqual({ width: 4, highBit: true });
  });

  it('stream IDs count up per circuit, skip 0 and IDs in use, wrap after 65535', () => {
    const counter = { nextStreamId: 1 };
    const open = new Set<number>();
    const take = () => {
      const id = allocateStreamId(counter, (i) => open.has(i));
      open.add(id);
      return id;
    };
    expect([take(), take(), take()]).toEqual([1, 2, 3]);
    open.delete(2);
    counter.nextStreamId = 0xffff;
    expect(take()).toBe(0xffff);
    expect(take()).toBe(2); // wrapped: 1 in use, 2 free again
    const full = { nextStreamId: 7 };
    const err = expectCode(() => allocateStreamId(full, () => true), 'ERR_CIRCID_EXHAUSTED');
    expect(err.endReason).toBe(11);
  });
});
