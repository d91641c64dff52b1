// The relay versions in one process, without a network: the whole streak loads and commits,
// state items are carried with the transforms of the step that changed them and only those,
// and a queued cell survives every later update byte for byte.
import { describe, expect, it } from 'vitest';

import { EventBase } from '../../lib/index.js';
import { UpdateHost } from '../../lib/update/index.js';
import path from 'node:path';

import { encodeRelayCell } from '../../examples/relay/protocol/relay-cell.js';
import { HopCrypto, relayReceiveForward, relaySendBackward } from '../../examples/relay/protocol/relay-crypto.js';
import { ensureBuilt, versionsDir } from './harness.js';

const keys = { Df: Buffer.alloc(20, 1), Db: Buffer.alloc(20, 2), Kf: Buffer.alloc(16, 3), Kb: Buffer.alloc(16, 4), KH: Buffer.alloc(20, 5) };
const dataCell = (n: number) => encodeRelayCell({ command: 2, streamId: 1, data: Buffer.alloc(100 + n, n) }, { padding: 'zero' });

function startRelayHost() {
  process.env.RELAY_OPTIONS = JSON.stringify({ nickname: 't', host: '127.0.0.1', orPort: 0, flags: ['Exit'], bandwidth: 1, dirHost: '127.0.0.1', dirPort: 9, consensusInterval: 3600, clique: false });
  const base = new EventBase();
  const host = new UpdateHost({ base, versionsDir: path.dirname(versionsDir) });
  return { base, host };
}

describe('relay versions in process', () => {
  it('apply v0 -> v12 in turn, each ok, carrying state with its own transforms only', async () => {
    ensureBuilt();
    const { base, host } = startRelayHost();
    await host.start('versions/v0/version.js');
    const store = () => host.context!.store as Map<string, any>;
    // A circuit with one queued cell toward the client, as a relay would hold mid-flight.
    const circuits = store().get('circuits') as Map<number, any>;
    const cell = { circId: 0x80000001, command: 3, payload: Buffer.alloc(509, 7) };
    // Its onion layer, already used for a few cells; `model` is the same layer never carried
    // through an update, `client` the other end of the circuit.
    const carried = HopCrypto.fromKeys(keys);
    const model = HopCrypto.fromKeys(keys);
    const client = HopCrypto.fromKeys(keys);
    for (let i = 0; i < 3; i++) for (const hop of [carried, model]) relaySendBackward(hop, dataCell(i), true);
    circuits.set(999, { gid: 999, state: 3, pLink: 0, pCircId: 0x80000001, nLink: 0, nCircId: 0, nHop: null, pQueue: [cell], nQueue: [], streams: new Map(), crypto: carried, packageWindow: 1000, deliverWindow: 1000, relayEarlyRemaining: 8, createdAt: 0, marked: false, markReason: 0, markedRemote: false, destroyFrom: 0, cellsRelayed: 0 });
    let packed: Buffer | undefined;
    for (let v = 1; v <= 12; v++) {
      const report = await host.requestUpdate(`versions/v${v}/version.js`);
      expect(report.ok, `v${v}: ${report.error?.message}`).toBe(true);
      expect(report.to).toBe(`v${v}`);
      const c = (store().get('circuits') as Map<number, any>).get(999);
      expect(c.pQueue).toHaveLength(1);
      if (v === 1) {
        expect(c.inboundEarlySeen).toBe(0);
        c.inboundEarlySeen = 5; // as if cells had arrived: v2 inherits v1's table and must keep it
      }
      if (v >= 2) expect(c.inboundEarlySeen).toBe(5);
      // v2 fixes the SENDME off-by-one through the window table that sendme.ts reads (migrate: false).
      expect(store().get('tables').circuitWindow.inclusiveThreshold).toBe(v >= 2);
      if (v === 5) expect(c.createdBy).toBe('v4');
      if (v >= 5) expect(c.createdBy).toBe('v4'); // written once, by v5's transform, never again
      if (v < 10) expect(c.pQueue[0]).toEqual(cell);
      if (v === 10) {
        packed = Buffer.from(c.pQueue[0]);
        expect(packed.length).toBe(514);
        expect(packed.readUInt32BE(0)).toBe(0x80000001);
        expect(packed[4]).toBe(3);
        expect(packed.subarray(5)).toEqual(cell.payload);
      }
      // v11 and v12 inherit v10's state table: its transform must not pack the cell again.
      if (v > 10) expect(Buffer.from(c.pQueue[0])).toEqual(packed);
      // Cipher and digest state carry exactly (one lost cell of keystream or digest input would
      // break every later cell): the carried layer seals a cell as the model does, and still
      // recognizes what the client sends.
      expect(c.crypto).toBe(carried);
      const [got, expected] = [dataCell(v), dataCell(v)];
      relaySendBackward(c.crypto, got, true);
      relaySendBackward(model, expected, true);
      expect(got).toEqual(expected);
      const inbound = dataCell(50 + v);
      client.setDigest('forward', inbound);
      client.crypt('forward', inbound);
      const forModel = Buffer.from(inbound);
      expect(relayReceiveForward(c.crypto, inbound, false)).toBe(true);
      expect(inbound).toEqual(dataCell(50 + v)); // plaintext again, digest field cleared by the check
      expect(relayReceiveForward(model, forModel, false)).toBe(true);
    }
    expect((store().get('circuits') as Map<number, any>).get(999).crypto.exportState()).toEqual(model.exportState());
    expect(store().get('tables').version).toBe('v12');
    expect(store().get('options').clique).toBeUndefined();
    expect(store().size).toBe(24);
    host.close();
    base.free();
  }, 60_000);

  it('refuses the injected failures and keeps running the old version', async () => {
    ensureBuilt();
    const { base, host } = startRelayHost();
    await host.start('versions/v0/version.js');
    for (let v = 1; v <= 12; v++) expect((await host.requestUpdate(`versions/v${v}/version.js`)).ok).toBe(true);
    const before = host.context!.store.get('circuits');
    const bad = await host.requestUpdate('versions/broken/transform-throws.js');
    expect(bad.ok).toBe(false);
    expect(bad.error?.phase).toBe('migrate');
    expect(host.version).toBe('v12');
    expect(host.context!.store.get('circuits')).toBe(before);
    const missing = await host.requestUpdate('versions/broken/missing-handler.js');
    // No link is open in this process, so no live event needs the missing handler: it loads.
    expect(missing.ok).toBe(true);
    host.close();
    base.free();
  }, 60_000);
});
