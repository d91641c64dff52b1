import { createCipheriv, createHash, randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import type { CircuitKeys } from '../../../examples/relay/protocol/ntor.js';
import { RelayCommand, decodeRelayCell, encodeRelayCell } from '../../../examples/relay/protocol/relay-cell.js';
import {
  HopCrypto,
  Keystream,
  OriginCrypto,
  relayReceiveForward,
  relaySendBackward,
} from '../../../examples/relay/protocol/relay-crypto.js';
import { expectCode } from './helpers.js';

const randomKeys = (): CircuitKeys => ({
  Df: randomBytes(20),
  Db: randomBytes(20),
  Kf: randomBytes(16),
  Kb: randomBytes(16),
  KH: randomBytes(20),
});

const dataCell = (text: string, streamId = 1) =>
  encodeRelayCell({ command: RelayCommand.DATA, streamId, data: Buffer.from(text) }, { padding: 'zero' });

/** A client and three relays sharing keys, as after a 3-hop build. */
function circuit(keys: CircuitKeys[] = [randomKeys(), randomKeys(), randomKeys()]) {
  const origin = new OriginCrypto();
  for (const k of keys) origin.addHop(k);
  const relays = keys.map((k) => HopCrypto.fromKeys(k));
  /** Sends body from the origin to `target`; returns the index of the relay that recognized it. */
  const forward = (body: Buffer, target = keys.length - 1): number => {
    origin.encryptForward(body, target);
    for (let i = 0; i < relays.length; i++) {
      if (relayReceiveForward(relays[i]!, body, i < relays.length - 1)) return i;
    }
    return -1;
  };
  /** Relay `from` originates body toward the origin; returns the hop index the origin recognized. */
  const backward = (body: Buffer, from = keys.length - 1): number => {
    relaySendBackward(relays[from]!, body, true);
    for (let i = from - 1; i >= 0; i--) relaySendBackward(relays[i]!, body, false);
    return origin.decryptBackward(body);
  };
  return { origin, relays, forward, backward, keys };
}

describe('Keystream (AES-128-CTR with a known position)', () => {
  it('equals one long CTR stream, and rebuilds at any byte offset', () => {
    const key = randomBytes(16);
    const whole = createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(509 * 5));
    const ks = new Keystream(key);
    const got: Buffer[] = [];
    for (let i = 0; i < 5; i++) {
      const b = Buffer.alloc(509);
      ks.apply(b);
      got.push(b);
    }
    expect(Buffer.concat(got)).toEqual(whole);
    for (const offset of [0, 1, 15, 16, 17, 509, 1018, 2000]) {
      const b = Buffer.alloc(100);
      new Keystream(key, offset).apply(b);
      expect(b, `offset ${offset}`).toEqual(whole.subarray(offset, offset + 100));
    }
  });
});

describe('Keystream prefetching (keystream generated ahead of the cells that use it)', () => {
  const key = randomBytes(16);
  const whole = createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(509 * 80));

  it('gives the same bytes for pieces of any size, in place, whatever was prefetched', () => {
    const ks = new Keystream(key);
    const sizes = [509, 509, 1, 3, 7, 8, 9, 509 * 16, 509 * 17 + 5, 4, 509, 2000, 31];
    let at = 0;
    for (const n of sizes) {
      const plain = randomBytes(n);
      const body = Buffer.from(plain);
      ks.apply(body);
      for (let i = 0; i < n; i++) plain[i]! ^= whole[at + i]!;
      expect(body.equals(plain), `piece of ${n} at ${at}`).toBe(true);
      at += n;
      expect(ks.offset).toBe(at);
    }
  });

  it('works on bodies inside a larger buffer (cells read from a link), touching nothing else', () => {
    const ks = new Keystream(key);
    const wire = Buffer.alloc(514 * 3, 0xaa);
    for (let c = 0; c < 3; c++) ks.apply(wire.subarray(514 * c + 5, 514 * c + 514));
    for (let c = 0; c < 3; c++) {
      expect(wire.subarray(514 * c, 514 * c + 5).every((b) => b === 0xaa)).toBe(true);
      const expected = Buffer.from(whole.subarray(509 * c, 509 * c + 509)).map((b) => b ^ 0xaa);
      expect(wire.subarray(514 * c + 5, 514 * c + 514).equals(Buffer.from(expected))).toBe(true);
    }
  });

  it('XORs word-wise at every alignment of the data and of the keystream position', () => {
    // The 32-bit loop aligns the data and funnels keystream words when the two are misaligned;
    // the 64-bit one first moves the keystream into line: each of the 8 × 8 combinations, and
    // lengths around the word, head and 64-byte boundaries.
    for (let dataAlign = 0; dataAlign < 8; dataAlign++) {
      for (let ksAlign = 0; ksAlign < 8; ksAlign++) {
        for (const n of [15, 16, 17, 19, 63, 64, 65, 509, 1021]) {
          const ks = new Keystream(key);
          ks.apply(Buffer.alloc(ksAlign + 509)); // the next piece then starts ksAlign bytes into a word
          const at = ksAlign + 509;
          const wire = Buffer.alloc(n + 16, 0x5c);
          const plain = randomBytes(n);
          const view = wire.subarray(4 + dataAlign, 4 + dataAlign + n);
          plain.copy(view);
          ks.apply(view);
          const expected = Buffer.from(plain.map((b, i) => b ^ whole[at + i]!));
          expect(view.equals(expected), `data +${dataAlign}, keystream +${ksAlign}, ${n} bytes`).toBe(true);
          expect(wire.subarray(0, 4 + dataAlign).every((b) => b === 0x5c)).toBe(true);
          expect(wire.subarray(4 + dataAlign + n).every((b) => b === 0x5c)).toBe(true);
        }
      }
    }
  });

  it('bodies at scattered offsets, one after another through whole pieces, each get exactly their keystream', () => {
    // The 64-bit path moves a body's keystream back over bytes already used: the bytes after
    // it, the next bodies' keystream, must stay as they were.
    const ks = new Keystream(key);
    const wire = Buffer.alloc(64 * 1024, 0x5c);
    let at = 0;
    let offset = 3;
    for (let i = 0; i < 70; i++) {
      const view = wire.subarray(offset, offset + 509);
      const plain = randomBytes(509);
      plain.copy(view);
      ks.apply(view);
      expect(view.equals(Buffer.from(plain.map((b, j) => b ^ whole[at + j]!))), `body ${i}`).toBe(true);
      at += 509;
      offset = (offset + 509 + (i % 5)) % (wire.length - 600);
    }
    expect(ks.offset).toBe(at);
  });

  it('exports only the bytes applied: a keystream rebuilt mid-prefetch continues exactly', () => {
    const ks = new Keystream(key);
    for (let i = 0; i < 7; i++) ks.apply(Buffer.alloc(509)); // several pieces prefetched by now
    const state = ks.exportState();
    expect(state.offset).toBe(7 * 509);
    const rebuilt = Keystream.fromState(state);
    const a = Buffer.alloc(509 * 3);
    const b = Buffer.alloc(509 * 3);
    ks.apply(a);
    rebuilt.apply(b);
    expect(a).toEqual(whole.subarray(7 * 509, 10 * 509));
    expect(b).toEqual(a);
  });

  it('wipe() drops the prefetched keystream with the key', () => {
    const ks = new Keystream(key);
    ks.apply(Buffer.alloc(10));
    ks.wipe();
    expectCode(() => ks.apply(Buffer.alloc(509)), 'ERR_CRYPTO_STATE');
    expectCode(() => ks.exportState(), 'ERR_CRYPTO_STATE');
  });
});

describe('relay crypto on a 3-hop circuit', () => {
  it('delivers forward cells to the hop they are for, and backward cells from any hop', () => {
    const c = circuit();
    for (let round = 0; round < 20; round++) {
      const target = round % 3;
      const body = dataCell(`to hop ${target} #${round}`);
      expect(c.forward(body, target)).toBe(target);
      expect(decodeRelayCell(body).data.toString()).toBe(`to hop ${target} #${round}`);
      const back = dataCell(`from hop ${target} #${round}`);
      expect(c.backward(back, target)).toBe(target);
      expect(decodeRelayCell(back).data.toString()).toBe(`from hop ${target} #${round}`);
    }
  });

  it('peels all three layers in one pass at any body alignment and keystream phase', () => {
    // Cells from the guard and the middle now and then move the three keystreams out of step,
    // so the exit's cells meet every mix of keystream alignments; bodies sit at offsets 0–3.
    const c = circuit();
    for (let round = 0; round < 120; round++) {
      const from = round % 7 === 3 ? 0 : round % 11 === 5 ? 1 : 2;
      const text = `cell ${round} from hop ${from} `.repeat(12);
      const wire = Buffer.alloc(509 + 8, 0x33);
      const body = wire.subarray(round % 4, (round % 4) + 509);
      dataCell(text).copy(body);
      expect(c.backward(body, from), `round ${round}`).toBe(from);
      expect(decodeRelayCell(body).data.toString()).toBe(text);
      expect(wire.subarray(0, round % 4).every((b) => b === 0x33)).toBe(true);
      expect(wire.subarray((round % 4) + 509).every((b) => b === 0x33)).toBe(true);
    }
  });

  it('puts exactly the spec bytes on the wire (checked against a model from node:crypto)', () => {
    // One hop: wire = AES-CTR(Kf) of the body whose Digest field is the first 4 bytes of
    // SHA-1(Df | body_1 | ... | body_k), each body digested with its Digest field zeroed.
    const keys = randomKeys();
    const origin = new OriginCrypto();
    origin.addHop(keys);
    const aes = createCipheriv('aes-128-ctr', keys.Kf, Buffer.alloc(16));
    const sha = createHash('sha1').update(keys.Df);
    for (let k = 0; k < 4; k++) {
      const plain = dataCell(`cell ${k}`);
      const wire = Buffer.from(plain);
      origin.encryptForward(wire);
      sha.update(plain);
      const expected = Buffer.from(plain);
      sha.copy().digest().copy(expected, 5, 0, 4);
      expect(wire).toEqual(aes.update(expected));
    }
  });

  it('a relay passes on cells for later hops untouched in digest state', () => {
    const c = circuit();
    const before = c.relays[1]!.runningDigest('forward');
    expect(c.forward(dataCell('for the exit'), 2)).toBe(2);
    expect(c.relays[1]!.runningDigest('forward')).toEqual(before);
  });

  /** The first cell index k at which key's keystream bytes 1..2 of that cell equal `want`. */
  function findCell(key: Buffer, want: [number, number]): number {
    const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
    const chunkCells = 4096;
    for (let base = 0; ; base += chunkCells) {
      const ks = cipher.update(Buffer.alloc(chunkCells * 509));
      for (let k = 0; k < chunkCells; k++) {
        if (ks[k * 509 + 1] === want[0] && ks[k * 509 + 2] === want[1]) return base + k;
      }
    }
  }

  /** A circuit whose hops' keystreams start at the given cell indexes (built through fromState). */
  function circuitAt(keys: CircuitKeys[], forwardCell: number[], backwardCell: number[]) {
    const states = keys.map((k, i) => {
      const st = HopCrypto.fromKeys(k).exportState();
      st.forwardCipher.offset = forwardCell[i]! * 509;
      st.backwardCipher.offset = backwardCell[i]! * 509;
      return st;
    });
    const c = circuit(keys);
    const origin = OriginCrypto.fromState({ hops: states });
    const relays = states.map((st) => HopCrypto.fromState(st));
    return { ...c, origin, relays };
  }

  it('rolls the digest back when recognized is 0 by chance at a middle hop', () => {
    // Start the exit's forward keystream at a cell whose bytes 1..2 are zero: the middle hop then
    // sees recognized == 0 on that cell for the exit, its digest check fails, and it must roll back.
    const keys = [randomKeys(), randomKeys(), randomKeys()];
    const k = findCell(keys[2]!.Kf, [0, 0]);
    const c = circuitAt(keys, [0, 0, k], [0, 0, 0]);
    const body = dataCell('for the exit');
    c.origin.encryptForward(body, 2);
    expect(relayReceiveForward(c.relays[0]!, body, true)).toBe(false);
    const middleDigest = c.relays[1]!.runningDigest('forward');
    const middleView = Buffer.from(body);
    HopCrypto.fromState(c.relays[1]!.exportState()).crypt('forward', middleView); // a twin: no side effect
    expect(middleView.readUInt16BE(1)).toBe(0); // the case under test really happens
    expect(relayReceiveForward(c.relays[1]!, body, true)).toBe(false);
    expect(c.relays[1]!.runningDigest('forward')).toEqual(middleDigest);
    expect(relayReceiveForward(c.relays[2]!, body, false)).toBe(true);
    expect(decodeRelayCell(body).data.toString()).toBe('for the exit');
    // the next cells for the middle and the exit are still recognized
    const next = dataCell('for the middle');
    c.origin.encryptForward(next, 1);
    expect(relayReceiveForward(c.relays[0]!, next, true)).toBe(false);
    expect(relayReceiveForward(c.relays[1]!, next, true)).toBe(true);
  });

  it('rolls back at the origin when an inner layer shows recognized 0 by chance', () => {
    // Backward from the exit: after removing the guard's layer the origin sees
    // plain XOR ks_exit XOR ks_middle; start the exit's keystream where it equals the middle's.
    const keys = [randomKeys(), randomKeys(), randomKeys()];
    const ksMiddle = createCipheriv('aes-128-ctr', keys[1]!.Kb, Buffer.alloc(16)).update(Buffer.alloc(3));
    const k = findCell(keys[2]!.Kb, [ksMiddle[1]!, ksMiddle[2]!]);
    const c = circuitAt(keys, [0, 0, 0], [0, 0, k]);
    const guardDigest = c.origin.hops[0]!.runningDigest('backward');
    const back = (body: Buffer, from: number) => {
      relaySendBackward(c.relays[from]!, body, true);
      for (let i = from - 1; i >= 0; i--) relaySendBackward(c.relays[i]!, body, false);
      return c.origin.decryptBackward(body);
    };
    expect(back(dataCell('from the exit'), 2)).toBe(2);
    expect(c.origin.hops[0]!.runningDigest('backward')).toEqual(guardDigest);
    expect(back(dataCell('from the guard'), 0)).toBe(0);
    expect(back(dataCell('from the exit'), 2)).toBe(2);
  });

  it('a tampered cell fails at the last hop with ERR_RELAY_DIGEST, a garbled one with ERR_RELAY_UNRECOGNIZED', () => {
    const c = circuit();
    const body = dataCell('tamper me');
    c.origin.encryptForward(body, 2);
    body[20]! ^= 0x01; // a data byte: recognized stays 0, the digest no longer matches
    expect(relayReceiveForward(c.relays[0]!, body, true)).toBe(false);
    expect(relayReceiveForward(c.relays[1]!, body, true)).toBe(false);
    const err = expectCode(() => relayReceiveForward(c.relays[2]!, body, false), 'ERR_RELAY_DIGEST');
    expect(err.destroyReason).toBe(1);

    const c2 = circuit();
    const garbled = dataCell('garbled');
    c2.origin.encryptForward(garbled, 2);
    garbled[1]! ^= 0x80; // recognized becomes nonzero at every hop
    expect(relayReceiveForward(c2.relays[0]!, garbled, true)).toBe(false);
    expect(relayReceiveForward(c2.relays[1]!, garbled, true)).toBe(false);
    expectCode(() => relayReceiveForward(c2.relays[2]!, garbled, false), 'ERR_RELAY_UNRECOGNIZED');
  });

  it('the origin drops a backward cell no hop recognizes, and keeps working', () => {
    const c = circuit();
    expect(c.backward(dataCell('first'), 2)).toBe(2);
    const digests = c.origin.hops.map((h) => h.runningDigest('backward'));
    const junk = randomBytes(509);
    junk.writeUInt16BE(0, 1); // even with recognized 0 after the guard's layer is removed by chance
    expectCode(() => c.origin.decryptBackward(junk), 'ERR_RELAY_UNRECOGNIZED');
    expect(c.origin.hops.map((h) => h.runningDigest('backward'))).toEqual(digests);
  });

  it('wipe() zeroes a freed circuit\'s keys; any later use is a coded error', () => {
    const keys = randomKeys();
    const hop = HopCrypto.fromKeys(keys);
    const body = dataCell('x');
    hop.crypt('forward', body);
    expect(hop.forwardCipher.exportState().key).toEqual(keys.Kf);
    hop.wipe();
    expectCode(() => hop.crypt('forward', dataCell('y')), 'ERR_CRYPTO_STATE');
    expectCode(() => hop.crypt('backward', dataCell('y')), 'ERR_CRYPTO_STATE');
    expectCode(() => hop.setDigest('forward', dataCell('y')), 'ERR_CRYPTO_STATE');
    expectCode(() => hop.runningDigest('backward'), 'ERR_CRYPTO_STATE');
    expectCode(() => hop.exportState(), 'ERR_CRYPTO_STATE');
  });

  it('refuses bodies that are not 509 bytes and an unknown hop', () => {
    const c = circuit();
    expectCode(() => c.origin.encryptForward(Buffer.alloc(508)), 'ERR_CELL_TRUNCATED');
    expectCode(() => c.origin.encryptForward(dataCell('x'), 5), 'ERR_RELAY_UNRECOGNIZED');
  });
});

describe('carrying relay crypto across a live update', () => {
  it('an origin exported while its chained keystreams run ahead continues exactly', () => {
    // Runs of cells from the exit keep the chained pieces in use (each hop's cipher ahead of
    // its offset); the export must count only what the cells used, wherever in a piece it is.
    const keys = [randomKeys(), randomKeys(), randomKeys()];
    const live = circuit(keys);
    const fromExit = (c: ReturnType<typeof circuit>, origin: OriginCrypto, i: number) => {
      const b = dataCell(`exit cell ${i}`);
      relaySendBackward(c.relays[2]!, b, true);
      relaySendBackward(c.relays[1]!, b, false);
      relaySendBackward(c.relays[0]!, b, false);
      expect(origin.decryptBackward(b), `cell ${i}`).toBe(2);
      expect(decodeRelayCell(b).data.toString()).toBe(`exit cell ${i}`);
    };
    for (let i = 0; i < 21; i++) fromExit(live, live.origin, i); // 21: inside the fifth piece (1+2+4+8+16 bodies)
    const rebuilt = OriginCrypto.fromState(structuredClone(live.origin.exportState()));
    const twin = circuit(keys);
    for (let i = 0; i < 21; i++) fromExit(twin, twin.origin, i);
    for (let i = 21; i < 60; i++) {
      fromExit(live, rebuilt, i); // the relays go on; the origin is the rebuilt one
      fromExit(twin, twin.origin, i);
    }
    expect(rebuilt.exportState()).toEqual(twin.origin.exportState());
    // A cell from the guard in between (the chain falls out of step), then exit cells again.
    const g = dataCell('guard');
    relaySendBackward(live.relays[0]!, g, true);
    expect(rebuilt.decryptBackward(g)).toBe(0);
    for (let i = 60; i < 70; i++) fromExit(live, rebuilt, i);
  });

  it('export → import mid-stream continues byte for byte, on every side', () => {
    const keys = [randomKeys(), randomKeys(), randomKeys()];
    const live = circuit(keys);
    const twin = circuit(keys);
    const wire: Buffer[] = [];
    const run = (c: ReturnType<typeof circuit>, from: number, to: number, log: Buffer[]) => {
      for (let i = from; i < to; i++) {
        const f = dataCell(`f${i}`.repeat(i % 40));
        c.origin.encryptForward(f, i % 3);
        log.push(Buffer.from(f));
        for (let h = 0; h < 3 && !relayReceiveForward(c.relays[h]!, f, h < 2); h++);
        const b = dataCell(`b${i}`);
        const from = (i * 7) % 3;
        relaySendBackward(c.relays[from]!, b, true);
        for (let h = from - 1; h >= 0; h--) relaySendBackward(c.relays[h]!, b, false);
        log.push(Buffer.from(b));
        expect(c.origin.decryptBackward(b)).toBe(from);
      }
    };
    run(live, 0, 13, wire);
    // "update": export everything to plain data (structuredClone proves it is plain) and rebuild
    const exported = structuredClone({
      origin: live.origin.exportState(),
      relays: live.relays.map((r) => r.exportState()),
    });
    const updated = {
      ...live,
      origin: OriginCrypto.fromState(exported.origin),
      relays: exported.relays.map((s) => HopCrypto.fromState(s)),
    };
    run(updated, 13, 30, wire);
    const twinWire: Buffer[] = [];
    run(twin, 0, 30, twinWire);
    expect(wire.length).toBe(twinWire.length);
    wire.forEach((w, i) => expect(w.equals(twinWire[i]!), `cell ${i}`).toBe(true));
    expect(updated.relays[2]!.exportState()).toEqual(twin.relays[2]!.exportState());
  });

  it('refuses malformed exported state with ERR_CRYPTO_STATE', () => {
    const good = HopCrypto.fromKeys(randomKeys()).exportState();
    expectCode(() => HopCrypto.fromState({ ...good, forwardCipher: { key: Buffer.alloc(3), offset: 0 } }), 'ERR_CRYPTO_STATE');
    expectCode(() => HopCrypto.fromState({ ...good, backwardCipher: { key: Buffer.alloc(16), offset: -1 } }), 'ERR_CRYPTO_STATE');
    expectCode(() => HopCrypto.fromState(undefined as never), 'ERR_CRYPTO_STATE');
    expectCode(() => OriginCrypto.fromState({} as never), 'ERR_CRYPTO_STATE');
  });
});
