// A misbehaving peer on a relay's ORPort, speaking the protocol layer directly over a plain
// socket: malformed circuit cells get a DESTROY for that circuit only, unknown cells are
// dropped, and the same link goes on to build a circuit. The relay runs v0 (its own process).
import net from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { trustedDirKey } from '../../examples/relay/common/dirkeys.js';
import { type Cell, CellCommand, CellReader, decodeCreated2Payload, decodeVersionsPayload, DestroyReason, encodeCell, encodeCreate2Payload, encodeNetinfoPayload, encodeVersionsCell, HandshakeType, negotiateLinkVersion } from '../../examples/relay/protocol/cell.js';
import { type ConsensusEntry, parseConsensus } from '../../examples/relay/protocol/consensus.js';
import { ntorClientFinish, ntorClientStart } from '../../examples/relay/protocol/ntor.js';
import { encodeRelayCell, RelayCommand } from '../../examples/relay/protocol/relay-cell.js';
import { OriginCrypto } from '../../examples/relay/protocol/relay-crypto.js';
import { ensureBuilt, type Network, startNetwork, testConfig } from './harness.js';

let network: Network;

beforeAll(async () => {
  ensureBuilt();
  network = await startNetwork({ ...testConfig(), clients: [] });
}, 120_000);

afterAll(async () => {
  await network?.stop();
});

async function fetchConsensus(): Promise<ConsensusEntry[]> {
  const { host, port } = network.config.dirauth;
  const res = await fetch(`http://${host}:${port}/consensus`);
  return parseConsensus(await res.text(), { trusted: [trustedDirKey('A'), trustedDirKey('B')], skew: 60 }).relays;
}

/** A raw link to a relay: send cells, wait for the next cell (or for the link to close). */
function rawLink(host: string, port: number, versions = [3, 4]) {
  const socket = net.connect(port, host);
  const reader = new CellReader();
  const cells: Cell[] = [];
  const waiters: (() => void)[] = [];
  let closed = false;
  const wake = () => waiters.splice(0).forEach((w) => w());
  socket.on('data', (chunk) => {
    reader.feed(chunk);
    for (let c = reader.next(); c; c = reader.next()) {
      if (c.command === CellCommand.VERSIONS) reader.setLinkVersion(negotiateLinkVersion(versions, decodeVersionsPayload(c.payload)));
      cells.push(c);
    }
    wake();
  });
  socket.on('close', () => {
    closed = true;
    wake();
  });
  socket.on('error', () => {});
  return {
    socket,
    get closed() {
      return closed;
    },
    write: (bytes: Buffer) => socket.write(bytes),
    send: (cell: Cell) => socket.write(encodeCell(reader.linkVersion, cell)),
    async next(ms = 5000): Promise<Cell | null> {
      const deadline = Date.now() + ms;
      while (cells.length === 0 && !closed && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
      return cells.shift() ?? null;
    },
  };
}

describe('a misbehaving peer on the ORPort', () => {
  it('gets a DESTROY for each bad circuit cell, has unknown cells dropped, and keeps its link', async () => {
    const relays = await fetchConsensus();
    const guardConfig = network.config.relays.find((r) => r.flags.includes('Guard'))!;
    const guard = relays.find((r) => r.nickname === guardConfig.nickname)!;
    const link = rawLink(guard.address, guard.orPort);
    link.write(encodeVersionsCell([3, 4]));
    expect((await link.next())?.command).toBe(CellCommand.VERSIONS);
    expect((await link.next())?.command).toBe(CellCommand.NETINFO);
    link.send({ circId: 0, command: CellCommand.NETINFO, payload: encodeNetinfoPayload({ time: 0, otherAddress: { type: 4, address: guard.address }, myAddresses: [] }) });

    // CREATE2 whose HLEN overruns the cell: DESTROY(PROTOCOL) for that circuit ID.
    const overrun = Buffer.alloc(4);
    overrun.writeUInt16BE(HandshakeType.NTOR, 0);
    overrun.writeUInt16BE(0xffff, 2);
    link.send({ circId: 0x8000_0001, command: CellCommand.CREATE2, payload: overrun });
    expect(await link.next()).toMatchObject({ circId: 0x8000_0001, command: CellCommand.DESTROY });
    // We opened the link, so our CircIDs must have the high bit: one without it is refused.
    link.send({ circId: 5, command: CellCommand.CREATE2, payload: encodeCreate2Payload({ htype: HandshakeType.NTOR, hdata: Buffer.alloc(84) }) });
    const wrongBit = await link.next();
    expect(wrongBit).toMatchObject({ circId: 5, command: CellCommand.DESTROY });
    expect(wrongBit!.payload[0]).toBe(DestroyReason.PROTOCOL);
    // A relay cell for a circuit that does not exist, and a command nobody knows: dropped.
    link.send({ circId: 0x8000_0777, command: CellCommand.RELAY, payload: Buffer.alloc(509, 1) });
    link.send({ circId: 0x8000_0778, command: 50, payload: Buffer.alloc(10) });

    // The same link still builds a circuit: CREATE2 with a real onionskin gets CREATED2.
    const { state, onionskin } = ntorClientStart(guard.identityDigest, guard.ntorOnionKey);
    link.send({ circId: 0x8000_0002, command: CellCommand.CREATE2, payload: encodeCreate2Payload({ htype: HandshakeType.NTOR, hdata: onionskin }) });
    const created = await link.next();
    expect(created).toMatchObject({ circId: 0x8000_0002, command: CellCommand.CREATED2 });
    const origin = new OriginCrypto();
    origin.addHop(ntorClientFinish(state, decodeCreated2Payload(created!.payload)));

    // An EXTEND2 whose body does not parse ends that circuit with DESTROY(PROTOCOL), nothing more.
    const extend = encodeRelayCell({ command: RelayCommand.EXTEND2, streamId: 0, data: Buffer.from([1, 0, 3, 1, 2, 3]) });
    origin.encryptForward(extend, 0);
    link.send({ circId: 0x8000_0002, command: CellCommand.RELAY_EARLY, payload: extend });
    const destroyed = await link.next();
    expect(destroyed).toMatchObject({ circId: 0x8000_0002, command: CellCommand.DESTROY });
    expect(destroyed!.payload[0]).toBe(DestroyReason.PROTOCOL);

    const again = ntorClientStart(guard.identityDigest, guard.ntorOnionKey);
    link.send({ circId: 0x8000_0003, command: CellCommand.CREATE2, payload: encodeCreate2Payload({ htype: HandshakeType.NTOR, hdata: again.onionskin }) });
    expect(await link.next()).toMatchObject({ circId: 0x8000_0003, command: CellCommand.CREATED2 });
    expect(link.closed).toBe(false);
    link.socket.destroy();
  }, 60_000);

  it('on a v3 link a client without a key may pick any CircID: both halves get CREATED2', async () => {
    const relays = await fetchConsensus();
    const guardConfig = network.config.relays.find((r) => r.flags.includes('Guard'))!;
    const guard = relays.find((r) => r.nickname === guardConfig.nickname)!;
    const link = rawLink(guard.address, guard.orPort, [3]);
    link.write(encodeVersionsCell([3]));
    expect((await link.next())?.command).toBe(CellCommand.VERSIONS);
    expect((await link.next())?.command).toBe(CellCommand.NETINFO);
    link.send({ circId: 0, command: CellCommand.NETINFO, payload: encodeNetinfoPayload({ time: 0, otherAddress: { type: 4, address: guard.address }, myAddresses: [] }) });
    // 2-byte CircIDs, with and without the MSB (the relay used to refuse those without it).
    for (const circId of [0x0005, 0x8006]) {
      const { onionskin } = ntorClientStart(guard.identityDigest, guard.ntorOnionKey);
      link.send({ circId, command: CellCommand.CREATE2, payload: encodeCreate2Payload({ htype: HandshakeType.NTOR, hdata: onionskin }) });
      expect(await link.next()).toMatchObject({ circId, command: CellCommand.CREATED2 });
    }
    expect(link.closed).toBe(false);
    link.socket.destroy();
  }, 60_000);
});
