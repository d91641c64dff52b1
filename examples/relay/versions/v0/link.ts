// OR links on raw libevent events with the relay's own buffers (Tor 0.2.1's connection.c and
// connection_or.c): the connection list, the VERSIONS/NETINFO handshake, cell framing, the
// output buffer refilled round-robin from the link's active circuits, and mark-then-close.
// Framing and the cell formats are the protocol layer's (CellReader, encodeCell); how a queued
// cell is held in memory is cells.ts.
import { type Cell, CellCommand as CMD, CellReader, encodeCell, type Netinfo } from '../../protocol/cell.js';
import { isProtocolError } from '../../protocol/errors.js';
import { LinkHandshake } from '../../protocol/link-handshake.js';
import type { R } from './main.js';
import type { Circuit, Conn, OrConn } from './types.js';

/**
 * Every link reads into this one buffer, after the bytes of a cell the last read left
 * incomplete, and feeds it to its reader as it is: the reader copies each cell's payload out
 * (a queued cell holds only its own bytes), and whatever it still holds after the read is
 * copied into its own memory before the next read. No read is copied whole.
 */
const scratch = Buffer.allocUnsafe(64 * 1024);
/** A leftover larger than this (cells an update point left unread) is fed behind the read instead. */
const LEFTOVER_IN_FRONT = 8 * 1024;
/** Where flush() lays out one write: queued bytes, then cells encoded straight from the circuits. */
const outScratch = Buffer.allocUnsafe(64 * 1024);
/** A batch from one circuit adds at most this many bytes past the high-water mark. */
const BATCH_OVERSHOOT = 8 * 514;

export function create(R: R) {
  const { io, EV } = R.lib;
  const S = () => R.S;

  function addConnection(c: Conn): void {
    c.arrayIndex = S().connectionArray.length;
    S().connectionArray.push(c);
    S().connByFd.set(c.fd, c);
    S().connByGid.set(c.gid, c);
  }

  /** Removes a connection from the list; the last element moves into its slot (Tor's way). */
  function removeConnection(c: Conn): void {
    const arr: Conn[] = S().connectionArray;
    const last = arr.pop()!;
    if (last !== c) {
      arr[c.arrayIndex] = last;
      last.arrayIndex = c.arrayIndex;
    }
    S().connByFd.delete(c.fd);
    S().connByGid.delete(c.gid);
  }

  function newOrConn(fd: number, initiator: boolean, peerAddr: string, peerId: string | null): OrConn {
    const now = R.now();
    const T = R.T;
    const c: OrConn = {
      gid: S().gids.next++,
      type: T.connType.OR,
      fd,
      readEv: R.ctx.base.event(fd, EV.READ | EV.PERSIST, R.h[R.link.callbackNames.read]!),
      writeEv: R.ctx.base.event(fd, EV.WRITE | EV.PERSIST, R.h[R.link.callbackNames.write]!),
      state: initiator ? T.orconnState.CONNECTING : T.orconnState.HANDSHAKING,
      initiator,
      linkVersion: 0,
      peerId,
      peerAddr,
      reader: new CellReader(),
      // The versions offered are fixed when the link is made: a version that offers more
      // (v12) changes new links only.
      handshake: new LinkHandshake({
        initiator,
        versions: R.T.linkVersions,
        peerAddress: { type: 4, address: peerAddr },
        myAddresses: [{ type: 4, address: S().options.host }],
      }),
      outbuf: [],
      outLen: 0,
      writing: false,
      createdAt: now,
      lastRead: now,
      lastWritten: now,
      lastEmpty: now,
      nCircuits: 0,
      activeCircuits: [],
      activeCursor: 0,
      marked: false,
      holdOpenUntilFlushed: false,
      arrayIndex: -1,
      cellsIn: 0,
      cellsOut: 0,
    };
    addConnection(c);
    if (initiator) {
      c.writing = true;
      c.writeEv.add();
    } else c.readEv.add();
    R.bus.orconnState(c);
    return c;
  }

  function connectTo(host: string, port: number, idHex: string): OrConn {
    const fd = io.connect(host, port);
    return newOrConn(fd, true, host, idHex);
  }

  function writeRaw(c: OrConn, buf: Buffer): void {
    c.outbuf.push(buf);
    c.outLen += buf.length;
    scheduleWrite(c);
  }

  function scheduleWrite(c: OrConn): void {
    if (!c.writing && !c.marked) {
      c.writing = true;
      c.writeEv.add();
    }
  }

  /** VERSIONS, then NETINFO, by the protocol layer's LinkHandshake; anything else before OPEN but padding closes the link. */
  function handshakeCell(c: OrConn, cell: Cell): void {
    const step = c.handshake.receive(cell, R.now());
    if (step.linkVersion !== undefined) {
      c.linkVersion = step.linkVersion;
      c.reader.setLinkVersion(step.linkVersion);
    }
    for (const bytes of step.send) writeRaw(c, bytes);
    if (step.opened) {
      R.link.netinfoReceived(c, c.handshake.peerNetinfo!);
      setOpen(c);
    }
  }

  function setOpen(c: OrConn): void {
    c.state = R.T.orconnState.OPEN;
    R.bus.orconnState(c);
    R.circ.linkOpened(c);
  }

  function processInput(c: OrConn): void {
    while (!c.marked) {
      const cell = c.reader.next();
      if (!cell) return;
      if (c.state !== R.T.orconnState.OPEN) {
        handshakeCell(c, cell);
        continue;
      }
      c.cellsIn++;
      const point = R.circ.processCell(c, cell.circId, cell.command, cell.payload);
      // An update point after every cell: the rest of the input waits in c.reader, so an
      // update here loses nothing (the new version re-activates links with buffered bytes).
      R.ctx.updatePoint(point);
    }
  }

  /**
   * Fills the output from the ring of active circuits, one batch per circuit in turn: as wire
   * Buffers on c.outbuf, or, given `out`, encoded straight into it after c.outLen bytes.
   */
  function fillFromCircuits(c: OrConn, out?: Buffer): void {
    const ring = c.activeCircuits;
    const high = R.T.orConnHighwater;
    while (c.outLen < high && ring.length > 0) {
      if (c.activeCursor >= ring.length) c.activeCursor = 0;
      const gid = ring[c.activeCursor]!;
      const circ: Circuit | undefined = S().circuits.get(gid);
      const queue = circ ? (circ.pLink === c.gid ? circ.pQueue : circ.nQueue) : undefined;
      if (!circ || !queue || queue.length === 0) {
        ring.splice(c.activeCursor, 1);
        continue;
      }
      const batch = Math.min(queue.length, 8);
      for (let i = 0; i < batch; i++) {
        if (out) {
          c.outLen = R.cells.writeWire(c, queue.shift()!, out, c.outLen);
        } else {
          const wire = R.cells.toWire(c, queue.shift()!);
          c.outbuf.push(wire);
          c.outLen += wire.length;
        }
        c.cellsOut++;
      }
      S().stats.cellsOut += batch;
      if (queue === circ.pQueue && queue.length <= R.T.cellQueueLowwater) R.relay.resumeEdgeReading(circ);
      if (queue.length === 0) ring.splice(c.activeCursor, 1);
      else c.activeCursor++;
    }
  }

  /**
   * The next bytes to write. Usually one reused buffer holding what c.outbuf queued and then
   * the cells taken from the circuits, so a cell is encoded once into it (no Buffer per cell
   * and no Buffer.concat per write); c.outbuf is left empty and c.outLen counts the buffer.
   */
  function nextWrite(c: OrConn): Buffer {
    if (c.outLen + R.T.orConnHighwater + BATCH_OVERSHOOT <= outScratch.length) {
      let len = 0;
      for (const piece of c.outbuf) {
        outScratch.set(piece, len);
        len += piece.length;
      }
      c.outbuf = [];
      c.outLen = len;
      if (len < R.T.orConnLowwater) fillFromCircuits(c, outScratch);
      return outScratch.subarray(0, c.outLen);
    }
    if (c.outLen < R.T.orConnLowwater) fillFromCircuits(c);
    return c.outbuf.length === 1 ? c.outbuf[0]! : Buffer.concat(c.outbuf, c.outLen);
  }

  function flush(c: OrConn): void {
    for (;;) {
      const data = nextWrite(c);
      if (c.outLen === 0) break;
      let n: number;
      try {
        n = io.write(c.fd, data);
      } catch (err) {
        c.outbuf = [Buffer.from(data)];
        return markForClose(c, `write: ${(err as Error).message}`);
      }
      if (n === -1) n = 0;
      S().stats.bytesWritten += n;
      if (n > 0) c.lastWritten = R.now();
      // What is left stays queued as its own Buffer: the scratch is reused by the next write.
      c.outbuf = n === data.length ? [] : [data.buffer === outScratch.buffer ? Buffer.from(data.subarray(n)) : data.subarray(n)];
      c.outLen = data.length - n;
      if (c.outLen > 0) return;
    }
    c.lastEmpty = R.now();
    if (c.writing) {
      c.writing = false;
      c.writeEv.del();
    }
    if (c.marked) R.link.closeNow(c);
  }

  function markForClose(c: Conn, why: string): void {
    if (c.marked) return;
    c.marked = true;
    if (c.type === R.T.connType.OR) {
      R.bus.orconnStatus(c as OrConn, why);
      if (why !== 'eof') R.log(`closing link ${c.gid} to ${(c as OrConn).peerId?.slice(0, 8) ?? 'a client'}: ${why}`);
    }
    S().closeableConnections.push(c);
    S().loopEvents.postloop.add(0);
  }

  function findOpenLinkTo(idHex: string): OrConn | undefined {
    for (const c of S().connectionArray as Conn[]) {
      if (c.type === R.T.connType.OR && !c.marked && (c as OrConn).peerId === idHex) return c as OrConn;
    }
    return undefined;
  }

  const handlers = {
    onOrListenerAccept(fd: number) {
      for (let c = io.accept(fd); c >= 0; c = io.accept(fd)) newOrConn(c, false, '127.0.0.1', null);
    },
    connRead(fd: number) {
      const c = S().connByFd.get(fd) as OrConn | undefined;
      if (!c || c.marked) return;
      const reader = c.reader;
      // The incomplete cell the last read left goes in front of this one, so the two are one chunk.
      const kept = reader.bufferedBytes <= LEFTOVER_IN_FRONT ? reader.movePendingTo(scratch) : 0;
      let n: number;
      try {
        n = io.read(fd, kept > 0 ? scratch.subarray(kept) : scratch);
      } catch (err) {
        n = -2;
        markForClose(c, `read: ${(err as Error).message}`);
      }
      if (n === 0) markForClose(c, 'eof');
      try {
        if (n > 0) {
          S().stats.bytesRead += n;
          c.lastRead = R.now();
        }
        const got = kept + Math.max(n, 0);
        if (got > 0) reader.feed(scratch.subarray(0, got));
        // n === -1 (nothing to read) still runs buffered cells: resumeAfterUpdate activates the event for them.
        if (c.marked || reader.bufferedBytes === 0) return;
        processInput(c);
      } catch (err) {
        // isProtocolError, not instanceof: a reader made by an older version's protocol copy throws its own class.
        if (!isProtocolError(err)) throw err;
        S().stats.protocolErrors++;
        markForClose(c, `protocol: ${err.message}`);
      } finally {
        // Also when an update point unwinds processInput: the next read reuses scratch.
        reader.ownPending();
      }
    },
    connWrite(fd: number) {
      const c = S().connByFd.get(fd) as OrConn | undefined;
      if (!c) return;
      if (c.state === R.T.orconnState.CONNECTING) {
        c.state = R.T.orconnState.HANDSHAKING;
        R.bus.orconnState(c);
        c.readEv.add();
        for (const bytes of c.handshake.start()) writeRaw(c, bytes);
      }
      flush(c);
    },
  };

  return {
    handlers,
    newOrConn,
    connectTo,
    writeRaw,
    scheduleWrite,
    flush,
    markForClose,
    findOpenLinkTo,
    removeConnection,
    addConnection,
    /** The named handlers a link's read and write events run (v7 renames them). */
    callbackNames: { read: 'connRead', write: 'connWrite' },
    netinfoReceived(c: OrConn, info: Netinfo): void {
      R.link.resolveMyAddress(c, info.otherAddress?.address ?? '');
    },
    /** What we believe our address is (0.2.1's resolve_my_address); the config decides. */
    resolveMyAddress(_c: OrConn, _seenAs: string): string {
      return S().options.host;
    },
    /** Puts a circuit on a link's ring of active circuits and makes sure the link writes. */
    makeActive(c: OrConn, circGid: number): void {
      if (!c.activeCircuits.includes(circGid)) c.activeCircuits.push(circGid);
      scheduleWrite(c);
    },
    closeNow(c: OrConn): void {
      if (!S().connByGid.has(c.gid)) return;
      removeConnection(c);
      io.close(c.fd);
      c.readEv.free();
      c.writeEv.free();
      R.circ.unlinkAllFromLink(c);
    },
    /** Post-loop: close every marked connection (flushing those held open). */
    closeMarked(): void {
      const list: Conn[] = S().closeableConnections.splice(0);
      for (const c of list) {
        if (c.type === R.T.connType.OR) {
          const oc = c as OrConn;
          if (oc.holdOpenUntilFlushed && oc.outLen > 0) {
            oc.marked = false;
            flush(oc);
            oc.marked = true;
            if (oc.outLen > 0) {
              S().closeableConnections.push(c);
              continue;
            }
          }
          R.link.closeNow(oc);
        } else R.relay.closeStreamNow(c as any);
      }
    },
    /** After an update: cells already buffered would wait for more bytes; run them now. */
    resumeAfterUpdate(): void {
      for (const c of S().connectionArray as Conn[]) {
        if (c.type === R.T.connType.OR && !c.marked && (c as OrConn).reader.bufferedBytes > 0) c.readEv.active(EV.READ);
      }
    },
    housekeeping(c: OrConn, now: number): void {
      if (c.marked) return;
      if (c.state !== R.T.orconnState.OPEN && now - c.createdAt > R.T.keepalivePeriod) return markForClose(c, 'handshake timeout');
      if (c.nCircuits === 0 && now - Math.max(c.lastRead, c.lastWritten) > R.T.idleLinkTimeout) {
        c.holdOpenUntilFlushed = true;
        return markForClose(c, 'idle');
      }
      if (c.state === R.T.orconnState.OPEN && c.outLen === 0 && now - c.lastWritten > R.T.keepalivePeriod) writeRaw(c, encodeCell(c.linkVersion, { circId: 0, command: CMD.PADDING, payload: Buffer.alloc(0) }));
    },
  };
}
