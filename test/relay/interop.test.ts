// The network's wire code (examples/relay/common/proto.ts) and relay-proto's protocol layer
// (examples/relay/protocol/) agree on the ntor handshake in both directions: a client of one
// completes with a server of the other and both derive the same Df, Db, Kf, Kb.
import { describe, expect, it } from 'vitest';

import * as net from '../../examples/relay/common/proto.js';
import * as ntor from '../../examples/relay/protocol/ntor.js';

const rawPrivate = (pair: net.X25519Pair) => Buffer.from(pair.privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(16));
const joined = (k: ntor.CircuitKeys) => Buffer.concat([k.Df, k.Db, k.Kf, k.Kb]);

describe('ntor between the two implementations', () => {
  const id = net.nodeId(Buffer.alloc(32, 5));
  const onion = net.x25519Pair();

  it("network client, protocol layer's server", () => {
    const { state, onionskin } = net.ntorClientStart(id, onion.raw);
    const server = ntor.ntorServerHandshake(onionskin, { nodeId: id, onionKeys: [{ publicKey: onion.raw, privateKey: rawPrivate(onion) }] });
    const keys = net.ntorClientFinish(state, server.reply);
    expect(keys).toEqual(joined(server.keys));
  });

  it("protocol layer's client, network server", () => {
    const { state, onionskin } = ntor.ntorClientStart(id, onion.raw);
    const server = net.ntorServer(onionskin, id, [onion]);
    expect(joined(ntor.ntorClientFinish(state, server.reply))).toEqual(server.keys);
  });

  it('a reply for another onion key fails AUTH on both', () => {
    const other = net.x25519Pair();
    const { state, onionskin } = net.ntorClientStart(id, onion.raw);
    const forged = Buffer.from(onionskin);
    other.raw.copy(forged, 20);
    const server = net.ntorServer(forged, id, [other]);
    expect(() => net.ntorClientFinish(state, server.reply)).toThrow(/did not prove/);
  });
});
