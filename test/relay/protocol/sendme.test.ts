import { randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import type { CircuitKeys } from '../../../examples/relay/protocol/ntor.js';
import { RelayCommand, encodeRelayCell } from '../../../examples/relay/protocol/relay-cell.js';
import { HopCrypto, OriginCrypto, relayReceiveForward } from '../../../examples/relay/protocol/relay-crypto.js';
import {
  CIRCUIT_WINDOW,
  STREAM_WINDOW,
  canPackage,
  collectSendmes,
  createWindow,
  deliveredCellNeedsDigest,
  encodeSendme,
  initialCircuitPackageWindow,
  noteDelivered,
  notePackaged,
  packagedCellNeedsDigest,
  receiveSendme,
  type WindowParams,
} from '../../../examples/relay/protocol/sendme.js';
import { expectCode } from './helpers.js';

/** Runs `cells` DATA cells from a packager to a receiver that answers with SENDMEs; returns SENDME counts. */
function exchange(params: WindowParams, cells: number, version = 0) {
  const sender = createWindow(params);
  const receiver = createWindow(params);
  const sentAt: number[] = [];
  for (let i = 1; i <= cells; i++) {
    expect(canPackage(sender)).toBe(true);
    const digest = randomBytes(20);
    notePackaged(sender, params, digest);
    noteDelivered(receiver, params, digest); // same digest on both ends, as a real circuit computes
    for (const body of collectSendmes(receiver, params, { version })) {
      sentAt.push(i);
      receiveSendme(sender, params, body, { acceptMinVersion: version });
    }
  }
  return { sender, receiver, sentAt };
}

describe('SENDME windows', () => {
  it('circuit windows are 1000/100: a SENDME after every 100 DATA cells', () => {
    const { sender, receiver, sentAt } = exchange(CIRCUIT_WINDOW, 1000);
    expect(sentAt).toEqual([100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
    expect(sender.packageWindow).toBe(1000);
    expect(receiver.deliverWindow).toBe(1000);
  });

  it('stream windows are 500/50', () => {
    const { sentAt } = exchange(STREAM_WINDOW, 200);
    expect(sentAt).toEqual([50, 100, 150, 200]);
  });

  it('reproduces the 0.2.1.19 off-by-one when asked (a SENDME after 101 cells)', () => {
    const { sentAt } = exchange({ ...CIRCUIT_WINDOW, inclusiveThreshold: false }, 300);
    expect(sentAt).toEqual([101, 201, 301].filter((n) => n <= 300));
  });

  it('the packager stops at an empty window and resumes on SENDME', () => {
    const w = createWindow(CIRCUIT_WINDOW);
    for (let i = 0; i < 1000; i++) notePackaged(w, CIRCUIT_WINDOW);
    expect(canPackage(w)).toBe(false);
    expectCode(() => notePackaged(w, CIRCUIT_WINDOW), 'ERR_WINDOW_OVERRUN');
    receiveSendme(w, CIRCUIT_WINDOW, encodeSendme(0));
    expect(w.packageWindow).toBe(100);
  });

  it('a peer that overruns the deliver window is a coded protocol error', () => {
    const circuit = createWindow(CIRCUIT_WINDOW);
    for (let i = 0; i < 1000; i++) noteDelivered(circuit, CIRCUIT_WINDOW); // we never sent SENDMEs back
    const err = expectCode(() => noteDelivered(circuit, CIRCUIT_WINDOW), 'ERR_WINDOW_OVERRUN');
    expect(err.destroyReason).toBe(1);
    const stream = createWindow(STREAM_WINDOW);
    for (let i = 0; i < 500; i++) noteDelivered(stream, STREAM_WINDOW);
    expect(expectCode(() => noteDelivered(stream, STREAM_WINDOW), 'ERR_WINDOW_OVERRUN').endReason).toBe(13);
  });

  it('a SENDME that would push the package window past its maximum is refused', () => {
    const w = createWindow(CIRCUIT_WINDOW);
    expectCode(() => receiveSendme(w, CIRCUIT_WINDOW, encodeSendme(0)), 'ERR_SENDME_UNEXPECTED');
    const s = createWindow(STREAM_WINDOW);
    for (let i = 0; i < 49; i++) notePackaged(s, STREAM_WINDOW);
    expectCode(() => receiveSendme(s, STREAM_WINDOW, Buffer.alloc(0)), 'ERR_SENDME_UNEXPECTED');
  });

  it('stream SENDMEs wait while more than 10 cells wait at the edge', () => {
    const w = createWindow(STREAM_WINDOW);
    for (let i = 0; i < 50; i++) noteDelivered(w, STREAM_WINDOW);
    expect(collectSendmes(w, STREAM_WINDOW, { edgePendingBytes: 11 * 498 })).toEqual([]);
    expect(collectSendmes(w, STREAM_WINDOW, { edgePendingBytes: 10 * 498 })).toHaveLength(1);
    expect(w.deliverWindow).toBe(500);
  });

  it('takes the circuit package start from circwindow, clamped to 100..1000', () => {
    expect(initialCircuitPackageWindow()).toBe(1000);
    expect(initialCircuitPackageWindow(500)).toBe(500);
    expect(initialCircuitPackageWindow(5)).toBe(100);
    expect(initialCircuitPackageWindow(99999)).toBe(1000);
    const w = createWindow(CIRCUIT_WINDOW, initialCircuitPackageWindow(300));
    expect(w.packageWindow).toBe(300);
    expect(w.deliverWindow).toBe(1000);
  });
});

describe('authenticated SENDME (v1)', () => {
  it('v1 over a real circuit: the exit echoes the running digest the client recorded', () => {
    const keys: CircuitKeys[] = [0, 1, 2].map(() => ({
      Df: randomBytes(20),
      Db: randomBytes(20),
      Kf: randomBytes(16),
      Kb: randomBytes(16),
      KH: randomBytes(20),
    }));
    const origin = new OriginCrypto();
    keys.forEach((k) => origin.addHop(k));
    const relays = keys.map((k) => HopCrypto.fromKeys(k));
    const clientWindow = createWindow(CIRCUIT_WINDOW);
    const exitWindow = createWindow(CIRCUIT_WINDOW);
    let sendmes = 0;
    for (let i = 0; i < 350; i++) {
      const body = encodeRelayCell({ command: RelayCommand.DATA, streamId: 1, data: randomBytes(100) });
      origin.encryptForward(body);
      notePackaged(
        clientWindow,
        CIRCUIT_WINDOW,
        packagedCellNeedsDigest(clientWindow, CIRCUIT_WINDOW) ? origin.hops[2]!.runningDigest('forward') : undefined,
      );
      let hop = 0;
      while (!relayReceiveForward(relays[hop]!, body, hop < 2)) hop++;
      expect(hop).toBe(2);
      noteDelivered(
        exitWindow,
        CIRCUIT_WINDOW,
        deliveredCellNeedsDigest(exitWindow, CIRCUIT_WINDOW) ? relays[2]!.runningDigest('forward') : undefined,
      );
      for (const sendme of collectSendmes(exitWindow, CIRCUIT_WINDOW, { version: 1 })) {
        expect(sendme[0]).toBe(1);
        expect(sendme.length).toBe(23);
        receiveSendme(clientWindow, CIRCUIT_WINDOW, sendme, { acceptMinVersion: 1 });
        sendmes++;
      }
    }
    expect(sendmes).toBe(3);
    expect(clientWindow.packageWindow).toBe(1000 - 350 + 300);
    expect(clientWindow.expectedDigests).toHaveLength(0);
  });

  it('refuses a v1 SENDME with a digest we did not send, and v0 when v1 is required', () => {
    const { sender } = exchange(CIRCUIT_WINDOW, 0);
    for (let i = 0; i < 100; i++) notePackaged(sender, CIRCUIT_WINDOW, Buffer.alloc(20, i));
    expect(sender.expectedDigests).toEqual([Buffer.alloc(20, 99)]); // the 100th cell
    expectCode(() => receiveSendme(structuredClone(sender), CIRCUIT_WINDOW, encodeSendme(1, Buffer.alloc(20, 7))), 'ERR_SENDME_AUTH');
    expectCode(() => receiveSendme(structuredClone(sender), CIRCUIT_WINDOW, encodeSendme(0), { acceptMinVersion: 1 }), 'ERR_SENDME_VERSION');
    expectCode(() => receiveSendme(structuredClone(sender), CIRCUIT_WINDOW, Buffer.from([1, 0])), 'ERR_SENDME_AUTH');
    expectCode(() => receiveSendme(structuredClone(sender), CIRCUIT_WINDOW, Buffer.from([1, 0, 19, ...Buffer.alloc(19)])), 'ERR_SENDME_AUTH');
    receiveSendme(sender, CIRCUIT_WINDOW, encodeSendme(1, Buffer.alloc(20, 99)));
    expect(sender.packageWindow).toBe(1000);
    // a v1 SENDME when no digest is expected
    const fresh = createWindow(CIRCUIT_WINDOW);
    for (let i = 0; i < 100; i++) notePackaged(fresh, CIRCUIT_WINDOW); // recorded no digests (v0 sender)
    expectCode(() => receiveSendme(fresh, CIRCUIT_WINDOW, encodeSendme(1, Buffer.alloc(20))), 'ERR_SENDME_AUTH');
  });

  it('the window state is plain data: a structuredClone mid-stream carries on (a live update)', () => {
    let sender = createWindow(CIRCUIT_WINDOW);
    let receiver = createWindow(CIRCUIT_WINDOW);
    let sendmes = 0;
    for (let i = 1; i <= 450; i++) {
      if (i === 150 || i === 200) {
        sender = structuredClone(sender);
        receiver = structuredClone(receiver);
      }
      const digest = randomBytes(20);
      notePackaged(sender, CIRCUIT_WINDOW, digest);
      noteDelivered(receiver, CIRCUIT_WINDOW, digest);
      if (i === 300) receiver = structuredClone(receiver); // a recorded digest waits for its SENDME
      for (const body of collectSendmes(receiver, CIRCUIT_WINDOW, { version: 1 })) {
        receiveSendme(sender, CIRCUIT_WINDOW, body, { acceptMinVersion: 1 });
        sendmes++;
      }
    }
    expect(sendmes).toBe(4);
    expect(sender.packageWindow).toBe(1000 - 450 + 400);
  });
});
