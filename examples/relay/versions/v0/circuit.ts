// Circuits (Tor's command.c, circuitlist.c, circuitbuild.c and onion.c at a relay): the
// (link, CircID) map, CREATE2 answered by the cpuworker event from the onion queue, EXTEND2
// telescoping over a reused or new link, DESTROY, and mark-then-free with the reason rule.
import { randomInt } from 'node:crypto';
import {
  CellCommand as CMD, decodeCreate2Payload, decodeCreated2Payload, encodeCreate2Payload, encodeCreated2Payload, decodeDestroyPayload, encodeDestroyPayload, encodeExtended2,
  type ExtendTarget, HandshakeType,
} from '../../protocol/cell.js';
import { checkPeerCircId, circIdRule } from '../../protocol/circid.js';
import { isProtocolError, ProtocolError } from '../../protocol/errors.js';
import { ntorServerHandshake } from '../../protocol/ntor.js';
import { HopCrypto } from '../../protocol/relay-crypto.js';
import { createWindow } from '../../protocol/sendme.js';
import { RelayCommand as RELAY } from '../../protocol/relay-cell.js';
import type { R } from './main.js';
import type { Circuit, OrConn } from './types.js';

const mapKey = (linkGid: number, circId: number) => linkGid * 4294967296 + circId;

export function create(R: R) {
  const S = () => R.S;

  function lookup(c: OrConn, circId: number): Circuit | undefined {
    const gid = S().circuitMap.get(mapKey(c.gid, circId));
    return gid === undefined ? undefined : S().circuits.get(gid);
  }

  /** A CircID for a new circuit on a link we opened: random, unused, with our MSB (ourCircIdRule). */
  function allocateCircId(c: OrConn): number {
    const { width, highBit } = ourCircIdRule(c);
    const half = width === 4 ? 0x80000000 : 0x8000;
    for (let i = 0; i < R.T.maxCircIdAttempts; i++) {
      const id = highBit === null ? randomInt(1, 2 * half) : (randomInt(1, half) | (highBit ? half : 0)) >>> 0;
      if (!S().circuitMap.has(mapKey(c.gid, id))) return id;
    }
    throw new ProtocolError('ERR_CIRCID_EXHAUSTED', 'no free circuit ID');
  }

  /**
   * The CircID rule of our side of a link (circid.ts): on v4+ whoever opened it sets the MSB; on
   * v3 the identity keys decide, and since links carry no certificates here a relay knows its
   * peer's key only on a link it opened (to the relay it extends to): on an inbound v3 link the
   * peer showed none, so any ID it picks is accepted, as Tor does for a keyless client.
   */
  const ourCircIdRule = (c: OrConn) =>
    circIdRule(c.linkVersion, { initiator: c.initiator, ourIdentity: S().identity.id, peerIdentity: c.initiator && c.peerId ? Buffer.from(c.peerId, 'hex') : null });

  function sendDestroy(c: OrConn, circId: number, reason: number): void {
    if (c.marked) return;
    R.link.writeRaw(c, R.cells.toWire(c, R.cells.make(c, circId, CMD.DESTROY, encodeDestroyPayload(reason))));
    S().stats.destroysSent++;
  }

  function queueCell(circ: Circuit, toward: 'p' | 'n', command: number, payload: Buffer): void {
    const linkGid = toward === 'p' ? circ.pLink : circ.nLink;
    const link = S().connByGid.get(linkGid) as OrConn | undefined;
    if (!link || link.marked) {
      R.log(`circuit ${circ.gid}: cell ${command} dropped, link ${linkGid} ${link ? 'closing' : 'gone'}`);
      return;
    }
    const queue = toward === 'p' ? circ.pQueue : circ.nQueue;
    queue.push(R.cells.make(link, toward === 'p' ? circ.pCircId : circ.nCircId, command, payload));
    if (queue.length === 1) R.link.makeActive(link, circ.gid);
  }

  function newCircuit(c: OrConn, circId: number): Circuit {
    const circ: Circuit = {
      gid: S().gids.next++,
      state: R.T.circState.ONIONSKIN_PENDING,
      pLink: c.gid,
      pCircId: circId,
      nLink: 0,
      nCircId: 0,
      nHop: null,
      pQueue: [],
      nQueue: [],
      crypto: undefined as any,
      ...createWindow(R.T.circuitWindow),
      streams: new Map(),
      relayEarlyRemaining: R.T.maxRelayEarly,
      createdAt: R.now(),
      marked: false,
      markReason: 0,
      markedRemote: false,
      destroyFrom: 0,
      cellsRelayed: 0,
    };
    S().circuits.set(circ.gid, circ);
    S().circuitMap.set(mapKey(c.gid, circId), circ.gid);
    c.nCircuits++;
    S().stats.circuitsCreated++;
    return circ;
  }

  function processCreate2(c: OrConn, circId: number, body: Buffer): void {
    checkPeerCircId(ourCircIdRule(c), circId); // ERR_CIRCID: answered with DESTROY(PROTOCOL) by processCell
    if (lookup(c, circId)) return; // an ID in use: drop
    const { htype, hdata } = decodeCreate2Payload(body);
    if (htype !== HandshakeType.NTOR) return sendDestroy(c, circId, R.T.destroyReason.PROTOCOL);
    const circ = newCircuit(c, circId);
    R.circ.enqueueOnionskin(circ, hdata);
  }

  function markForClose(circ: Circuit, reason: number, remote = false): void {
    if (circ.marked) return;
    if (reason !== R.T.destroyReason.NONE && reason !== R.T.destroyReason.FINISHED && !remote) R.log(`closing circuit ${circ.gid}: reason ${reason}`);
    circ.marked = true;
    circ.markReason = reason;
    circ.markedRemote = remote;
    S().circuitsPendingClose.push(circ.gid);
    S().loopEvents.postloop.add(0);
  }

  /** Frees a marked circuit: DESTROY toward the side that did not close it, streams without END. */
  function aboutToFree(circ: Circuit): void {
    const reasonOut = circ.markedRemote ? R.T.destroyReason.DESTROYED : circ.markReason;
    circ.pQueue.length = 0;
    circ.nQueue.length = 0;
    for (const [linkGid, circId] of [
      [circ.pLink, circ.pCircId],
      [circ.nLink, circ.nCircId],
    ] as const) {
      if (!linkGid) continue;
      S().circuitMap.delete(mapKey(linkGid, circId));
      const link = S().connByGid.get(linkGid) as OrConn | undefined;
      if (!link) continue;
      link.nCircuits--;
      if (circ.destroyFrom !== linkGid) sendDestroy(link, circId, reasonOut);
    }
    R.relay.closeStreamsOf(circ);
    S().circuits.delete(circ.gid);
    S().stats.circuitsClosed++;
    R.bus.ocircEvent(circ, 'CLOSED', circ.markReason);
  }

  function sendCreate(circ: Circuit, link: OrConn): void {
    const hop = circ.nHop!;
    circ.nLink = link.gid;
    circ.nCircId = allocateCircId(link);
    S().circuitMap.set(mapKey(link.gid, circ.nCircId), circ.gid);
    link.nCircuits++;
    queueCell(circ, 'n', CMD.CREATE2, hop.create2);
  }

  function dispatchCell(c: OrConn, circId: number, cmd: number, body: Buffer): string {
    switch (cmd) {
      case CMD.CREATE2:
        processCreate2(c, circId, body);
        return 'create';
      case CMD.CREATED2: {
        const circ = lookup(c, circId);
        if (!circ || circ.nLink !== c.gid || !circ.nHop) return 'cell';
        const reply = decodeCreated2Payload(body);
        circ.nHop = null;
        R.relay.sendBackward(circ, RELAY.EXTENDED2, 0, encodeExtended2(reply));
        R.bus.ocircEvent(circ, 'EXTENDED', 0);
        return 'extended';
      }
      case CMD.RELAY:
      case CMD.RELAY_EARLY: {
        const circ = lookup(c, circId);
        if (!circ || circ.marked) {
          if (!circ) R.log(`link ${c.gid}: relay cell for unknown circuit ${circId.toString(16)}`);
          return 'cell';
        }
        if (circ.pLink === c.gid) {
          if (circ.state !== R.T.circState.OPEN) {
            R.log(`circuit ${circ.gid}: relay cell dropped in state ${circ.state}`);
            return 'cell';
          }
          return R.relay.receiveForward(circ, body, cmd);
        }
        R.relay.receiveBackward(circ, body, cmd);
        return 'cell';
      }
      case CMD.DESTROY: {
        const circ = lookup(c, circId);
        if (!circ) return 'cell';
        circ.destroyFrom = c.gid;
        markForClose(circ, decodeDestroyPayload(body), true);
        return 'destroy';
      }
      default:
        return 'cell'; // PADDING and unknown commands are dropped silently
    }
  }

  const handlers = {
    /** The cpuworker: answers queued CREATE2 cells (Tor hands them to worker processes). */
    cpuworkerRun() {
      const q = S().onionQueue.items as { circGid: number; hdata: Buffer }[];
      const started = performance.now();
      while (q.length > 0) {
        const job = q.shift()!;
        const circ: Circuit | undefined = S().circuits.get(job.circGid);
        if (!circ || circ.marked) continue;
        try {
          const done = R.circ.onionSkinServerHandshake(job.hdata);
          circ.crypto = HopCrypto.fromKeys(done.keys);
          circ.state = R.T.circState.OPEN;
          queueCell(circ, 'p', CMD.CREATED2, encodeCreated2Payload(done.reply));
        } catch (err) {
          if (!isProtocolError(err)) throw err;
          markForClose(circ, R.T.destroyReason.PROTOCOL);
        }
        // Keep the loop responsive under a burst of CREATEs: the rest waits for the next pass.
        if (performance.now() - started > 5 && q.length > 0) {
          S().loopEvents.cpuworker.add(0);
          break;
        }
      }
    },
    postloopCleanup() {
      R.link.closeMarked();
      R.circ.closeAllMarked();
    },
  };

  return {
    handlers,
    lookup,
    queueCell,
    markForClose,
    allocateCircId,
    /**
     * command_process_cell: returns the name of the update point that follows the cell. A
     * malformed circuit cell (a ProtocolError with a DESTROY reason) ends that circuit only;
     * errors fatal to the link go on to the link, which closes.
     */
    processCell(c: OrConn, circId: number, cmd: number, body: Buffer): string {
      const st = S().stats.cellsIn;
      st[cmd] = (st[cmd] ?? 0) + 1;
      try {
        return dispatchCell(c, circId, cmd, body);
      } catch (err) {
        if (!isProtocolError(err) || err.fatalToLink || err.destroyReason === undefined) throw err;
        S().stats.protocolErrors++;
        R.log(`link ${c.gid}: circuit ${circId.toString(16)}: ${err.code}: ${err.message}`);
        // A refused CREATE2 never ends the circuit that already has its ID.
        const circ = cmd === CMD.CREATE2 ? undefined : lookup(c, circId);
        if (circ) markForClose(circ, err.destroyReason);
        else sendDestroy(c, circId, err.destroyReason);
        return 'cell';
      }
    },
    enqueueOnionskin(circ: Circuit, hdata: Buffer): void {
      S().onionQueue.items.push({ circGid: circ.gid, hdata });
      S().loopEvents.cpuworker.add(0);
    },
    onionSkinServerHandshake(hdata: Buffer) {
      const keys = S().onionKeys;
      return ntorServerHandshake(hdata, { nodeId: S().identity.id, onionKeys: keys.previous ? [keys.current, keys.previous] : [keys.current] });
    },
    /** EXTEND2 at this hop: reuse an open link to the target or open one, then CREATE2. */
    extend(circ: Circuit, target: ExtendTarget, htype: number, hdata: Buffer): void {
      if (circ.nLink || circ.nHop) throw new ProtocolError('ERR_EXTEND', 'circuit already extended');
      const idHex = target.identity.toString('hex');
      if (idHex === S().identity.idHex) throw new ProtocolError('ERR_EXTEND', 'extend to ourselves');
      circ.nHop = { target, create2: encodeCreate2Payload({ htype, hdata }), idHex };
      const link = R.link.findOpenLinkTo(idHex);
      if (link && link.state === R.T.orconnState.OPEN) return sendCreate(circ, link);
      circ.state = R.T.circState.OR_WAIT;
      const pending: Map<string, number[]> = S().circuitsPendingLink;
      const list = pending.get(idHex) ?? [];
      list.push(circ.gid);
      pending.set(idHex, list);
      if (!link) R.link.connectTo(target.host, target.port, idHex);
    },
    /** A link finished its handshake: circuits waiting for it send their CREATE2. */
    linkOpened(link: OrConn): void {
      if (!link.peerId) return;
      const list = S().circuitsPendingLink.get(link.peerId) as number[] | undefined;
      if (!list) return;
      S().circuitsPendingLink.delete(link.peerId);
      for (const gid of list) {
        const circ: Circuit | undefined = S().circuits.get(gid);
        if (!circ || circ.marked) continue;
        circ.state = R.T.circState.OPEN;
        sendCreate(circ, link);
      }
    },
    /** A link closed: every circuit on it is marked (0.2.1's OR_CONN_CLOSED). */
    unlinkAllFromLink(link: OrConn): void {
      for (const circ of S().circuits.values() as Iterable<Circuit>) {
        if (circ.pLink === link.gid || circ.nLink === link.gid) {
          circ.destroyFrom = link.gid;
          markForClose(circ, R.T.destroyReason.OR_CONN_CLOSED, true);
        }
      }
      if (link.peerId) {
        for (const gid of S().circuitsPendingLink.get(link.peerId) ?? []) {
          const circ = S().circuits.get(gid);
          if (circ) markForClose(circ, R.T.destroyReason.CONNECTFAILED);
        }
        S().circuitsPendingLink.delete(link.peerId);
      }
    },
    closeAllMarked(): void {
      const list: number[] = S().circuitsPendingClose.splice(0);
      for (const gid of list) {
        const circ = S().circuits.get(gid);
        if (circ) aboutToFree(circ);
      }
    },
  };
}
