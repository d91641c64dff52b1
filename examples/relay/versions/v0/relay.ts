// Relay cells at a relay (Tor's relay.c and connection_edge.c): one AES-CTR layer each way,
// the recognized check with digest rollback, forwarding, and the exit's streams: BEGIN ->
// connect -> CONNECTED, DATA both ways under circuit and stream windows, END, SENDME, and
// queue back-pressure (edge reading stops above the high-water mark, resumes at the low).
import { CellCommand as CMD, decodeExtend2, extendTargetOf } from '../../protocol/cell.js';
import { isProtocolError, ProtocolError } from '../../protocol/errors.js';
import {
  decodeRelayCell, encodeConnected, encodeEnd, encodeRelayCell, RELAY_PAYLOAD_SIZE as RELAY_DATA_MAX, type RelayCell, RelayCommand as RELAY,
} from '../../protocol/relay-cell.js';
import { relayReceiveForward, relaySendBackward } from '../../protocol/relay-crypto.js';
import { collectSendmes, createWindow, noteDelivered, notePackaged, receiveSendme } from '../../protocol/sendme.js';
import type { R } from './main.js';
import type { Circuit, ExitStream } from './types.js';

// Cells packaged per read from a destination: one read of up to 32 × 498 bytes (about the
// 16 KiB Tor reads from an edge at a time), half the read calls of 16.
const PACKAGE_BATCH = 32;
const readBuf = Buffer.allocUnsafe(RELAY_DATA_MAX * PACKAGE_BATCH);

export function create(R: R) {
  const { io, EV } = R.lib;
  const S = () => R.S;

  function sendBackward(circ: Circuit, command: number, streamId: number, data?: Uint8Array): void {
    const body = encodeRelayCell({ command, streamId, ...(data ? { data } : {}) });
    relaySendBackward(circ.crypto, body, true);
    R.circ.queueCell(circ, 'p', CMD.RELAY, body);
  }

  function streamOf(circ: Circuit, streamId: number): ExitStream | undefined {
    const gid = circ.streams.get(streamId);
    return gid === undefined ? undefined : (S().connByGid.get(gid) as ExitStream | undefined);
  }

  function beginStream(circ: Circuit, streamId: number, data: Buffer): void {
    const T = R.T;
    if (!S().options.flags.includes('Exit')) return sendBackward(circ, RELAY.END, streamId, encodeEnd(T.endReason.EXITPOLICY));
    if (streamId === 0 || circ.streams.has(streamId)) throw new ProtocolError('ERR_RELAY_BAD_BODY', 'BEGIN with a stream ID of 0 or in use');
    const nul = data.indexOf(0);
    const target = data.subarray(0, nul < 0 ? data.length : nul).toString('latin1');
    const colon = target.lastIndexOf(':');
    const host = target.slice(0, colon);
    const port = Number(target.slice(colon + 1));
    let fd: number;
    try {
      if (colon <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) throw new Error('bad target');
      fd = io.connect(host === 'localhost' ? '127.0.0.1' : host, port);
    } catch {
      return sendBackward(circ, RELAY.END, streamId, encodeEnd(T.endReason.RESOLVEFAILED));
    }
    const s: ExitStream = {
      gid: S().gids.next++,
      type: T.connType.EXIT,
      fd,
      readEv: R.ctx.base.event(fd, EV.READ | EV.PERSIST, R.h.exitRead!),
      writeEv: R.ctx.base.event(fd, EV.WRITE | EV.PERSIST, R.h.exitWrite!),
      streamId,
      circGid: circ.gid,
      state: 'CONNECTING',
      ...createWindow(T.streamWindow),
      outbuf: [],
      outLen: 0,
      readBlocked: false,
      sentEnd: false,
      marked: false,
      arrayIndex: -1,
      bytesIn: 0,
      bytesOut: 0,
      target,
    };
    R.link.addConnection(s);
    circ.streams.set(streamId, s.gid);
    s.writeEv.add();
    S().stats.streamsOpened++;
  }

  function endStream(s: ExitStream, reason: number): void {
    const circ: Circuit | undefined = S().circuits.get(s.circGid);
    if (circ && !s.sentEnd && !circ.marked) sendBackward(circ, RELAY.END, s.streamId, encodeEnd(reason));
    s.sentEnd = true;
    markStream(s);
  }

  function markStream(s: ExitStream): void {
    if (s.marked) return;
    s.marked = true;
    const circ: Circuit | undefined = S().circuits.get(s.circGid);
    circ?.streams.delete(s.streamId);
    S().closeableConnections.push(s);
    S().loopEvents.postloop.add(0);
  }

  /** Reads from the destination and packages DATA cells while both windows and the queue allow. */
  function packageRawInbuf(s: ExitStream): void {
    const circ: Circuit | undefined = S().circuits.get(s.circGid);
    if (!circ || circ.marked) return markStream(s);
    let room = Math.min(circ.packageWindow, s.packageWindow, PACKAGE_BATCH, R.T.cellQueueHighwater - circ.pQueue.length);
    if (room <= 0) return blockReading(s);
    let n: number;
    try {
      n = io.read(s.fd, readBuf.subarray(0, room * RELAY_DATA_MAX));
    } catch {
      return endStream(s, R.T.endReason.CONNRESET);
    }
    if (n === -1) return;
    if (n === 0) return endStream(s, R.T.endReason.DONE);
    s.bytesIn += n;
    for (let off = 0; off < n; off += RELAY_DATA_MAX) {
      sendBackward(circ, RELAY.DATA, s.streamId, readBuf.subarray(off, Math.min(n, off + RELAY_DATA_MAX)));
      notePackaged(circ, R.T.circuitWindow);
      notePackaged(s, R.T.streamWindow);
      room--;
    }
    if (room <= 0 && (circ.packageWindow <= 0 || s.packageWindow <= 0 || circ.pQueue.length >= R.T.cellQueueHighwater)) blockReading(s);
  }

  function blockReading(s: ExitStream): void {
    if (!s.readBlocked) {
      s.readBlocked = true;
      s.readEv.del();
    }
  }

  function resumeStream(s: ExitStream, circ: Circuit): void {
    if (s.readBlocked && !s.marked && s.state === 'OPEN' && s.packageWindow > 0 && circ.packageWindow > 0 && circ.pQueue.length < R.T.cellQueueHighwater) {
      s.readBlocked = false;
      s.readEv.add();
    }
  }

  function writeStream(s: ExitStream): void {
    while (s.outLen > 0) {
      const data = s.outbuf.length === 1 ? s.outbuf[0]! : Buffer.concat(s.outbuf, s.outLen);
      let n: number;
      try {
        n = io.write(s.fd, data);
      } catch {
        return endStream(s, R.T.endReason.CONNRESET);
      }
      if (n === -1) {
        s.outbuf = [data];
        if (!s.writeEv.pending()) s.writeEv.add();
        return;
      }
      s.bytesOut += n;
      s.outbuf = n === data.length ? [] : [data.subarray(n)];
      s.outLen -= n;
    }
    if (s.writeEv.pending()) s.writeEv.del();
    const circ: Circuit | undefined = S().circuits.get(s.circGid);
    if (circ) R.relay.considerSendingSendme(circ, s);
  }

  function handleData(circ: Circuit, cell: RelayCell): void {
    noteDelivered(circ, R.T.circuitWindow); // an overrun is ERR_WINDOW_OVERRUN: DESTROY(PROTOCOL)
    const s = streamOf(circ, cell.streamId);
    if (s && !s.marked) {
      if (!streamWindowOk(s, () => noteDelivered(s, R.T.streamWindow))) return R.relay.considerSendingSendme(circ, undefined);
      const data = cell.data; // decodeRelayCell's copy: the body is not reused
      s.outbuf.push(data);
      s.outLen += data.length;
      if (s.state === 'OPEN') writeStream(s);
    }
    R.relay.considerSendingSendme(circ, s);
  }

  /** A stream's window step; a peer breaking the stream window ends that stream (END TORPROTOCOL), not the circuit. */
  function streamWindowOk(s: ExitStream, step: () => void): boolean {
    try {
      step();
      return true;
    } catch (err) {
      if (!isProtocolError(err)) throw err;
      R.log(`stream ${s.streamId}: ${err.code}: ${err.message}`);
      endStream(s, err.endReason ?? R.T.endReason.TORPROTOCOL);
      return false;
    }
  }

  const handlers = {
    exitRead(fd: number) {
      const s = S().connByFd.get(fd) as ExitStream | undefined;
      if (!s || s.marked) return;
      packageRawInbuf(s);
      R.ctx.updatePoint('stream');
    },
    exitWrite(fd: number) {
      const s = S().connByFd.get(fd) as ExitStream | undefined;
      if (!s || s.marked) return;
      if (s.state === 'CONNECTING') {
        s.state = 'OPEN';
        const circ: Circuit | undefined = S().circuits.get(s.circGid);
        if (!circ) return markStream(s);
        sendBackward(circ, RELAY.CONNECTED, s.streamId, encodeConnected({ address: '127.0.0.1', ttl: 3600 }));
        s.readEv.add();
      }
      writeStream(s);
    },
  };

  return {
    handlers,
    sendBackward,
    /** A cell from the client side: remove our layer; ours if recognized, else pass it on. */
    receiveForward(circ: Circuit, body: Buffer, cmd: number): string {
      try {
        // At the last hop a cell no layer recognizes is an error (ERR_RELAY_DIGEST / _UNRECOGNIZED).
        if (relayReceiveForward(circ.crypto, body, circ.nLink !== 0)) return R.relay.handleRelayCell(circ, decodeRelayCell(body), cmd);
      } catch (err) {
        if (!isProtocolError(err)) throw err;
        S().stats.protocolErrors++;
        R.log(`circuit ${circ.gid}: ${err.code}: ${err.message}`);
        R.circ.markForClose(circ, R.T.destroyReason.PROTOCOL);
        return 'cell';
      }
      if (cmd === CMD.RELAY_EARLY && --circ.relayEarlyRemaining < 0) {
        R.circ.markForClose(circ, R.T.destroyReason.PROTOCOL);
        return 'cell';
      }
      circ.cellsRelayed++;
      S().stats.cellsRelayed++;
      R.circ.queueCell(circ, 'n', cmd, body);
      return 'cell';
    },
    /** A cell from the next hop: add our layer and send it toward the client. */
    receiveBackward(circ: Circuit, body: Buffer, cmd: number): void {
      if (cmd === CMD.RELAY_EARLY) return R.relay.inboundRelayEarly(circ);
      relaySendBackward(circ.crypto, body, false);
      circ.cellsRelayed++;
      S().stats.cellsRelayed++;
      R.circ.queueCell(circ, 'p', CMD.RELAY, body);
    },
    /** 0.2.1.18: a RELAY_EARLY travelling toward the client closes the circuit. */
    inboundRelayEarly(circ: Circuit): void {
      R.circ.markForClose(circ, R.T.destroyReason.PROTOCOL);
    },
    /** A relay cell for this hop, decoded (decodeRelayCell refuses a length over 498). */
    handleRelayCell(circ: Circuit, cell: RelayCell, cmd: number): string {
      switch (cell.command) {
        case RELAY.EXTEND2: {
          if (cmd !== CMD.RELAY_EARLY) throw new ProtocolError('ERR_EXTEND', 'EXTEND2 outside RELAY_EARLY');
          const ext = decodeExtend2(cell.data);
          R.circ.extend(circ, extendTargetOf(ext), ext.htype, ext.hdata);
          return 'extend';
        }
        case RELAY.BEGIN:
          beginStream(circ, cell.streamId, cell.data);
          return 'begin';
        case RELAY.DATA:
          handleData(circ, cell);
          return 'stream';
        case RELAY.END: {
          const s = streamOf(circ, cell.streamId);
          if (s) {
            s.sentEnd = true; // the other side ended it: no END back
            if (s.outLen > 0) writeStream(s);
            markStream(s);
          }
          return 'stream';
        }
        case RELAY.SENDME: {
          if (cell.streamId === 0) {
            receiveSendme(circ, R.T.circuitWindow, cell.data); // past the maximum: DESTROY(PROTOCOL)
            for (const gid of circ.streams.values()) {
              const s = S().connByGid.get(gid) as ExitStream | undefined;
              if (s) resumeStream(s, circ);
            }
          } else {
            const s = streamOf(circ, cell.streamId);
            if (s && streamWindowOk(s, () => receiveSendme(s, R.T.streamWindow, cell.data))) resumeStream(s, circ);
          }
          return 'stream';
        }
        default:
          return 'cell'; // DROP and unknown relay commands: dropped, but they counted for the digest
      }
    },
    /** SENDMEs toward the client for data delivered here (client uploads). */
    considerSendingSendme(circ: Circuit, s: ExitStream | undefined): void {
      for (const body of collectSendmes(circ, R.T.circuitWindow)) sendBackward(circ, RELAY.SENDME, 0, body);
      // A stream SENDME waits while the destination is not taking the data (sendme.ts: 10 cells).
      if (s && !s.marked) for (const body of collectSendmes(s, R.T.streamWindow, { edgePendingBytes: s.outLen })) sendBackward(circ, RELAY.SENDME, s.streamId, body);
    },
    resumeEdgeReading(circ: Circuit): void {
      for (const gid of circ.streams.values()) {
        const s = S().connByGid.get(gid) as ExitStream | undefined;
        if (s) resumeStream(s, circ);
      }
    },
    /** The circuit is being freed: its streams close without END (Tor's circuit_about_to_free). */
    closeStreamsOf(circ: Circuit): void {
      for (const gid of [...circ.streams.values()]) {
        const s = S().connByGid.get(gid) as ExitStream | undefined;
        if (s) {
          s.sentEnd = true;
          markStream(s);
        }
      }
      circ.streams.clear();
    },
    closeStreamNow(s: ExitStream): void {
      if (!S().connByGid.has(s.gid)) return;
      R.link.removeConnection(s);
      io.close(s.fd);
      s.readEv.free();
      s.writeEv.free();
      S().stats.streamsClosed++;
    },
  };
}
