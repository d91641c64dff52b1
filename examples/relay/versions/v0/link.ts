// OR links on raw libevent events with the relay's own buffers (Tor 0.2.1's connection.c and
// connection_or.c): the connection list, the VERSIONS/NETINFO handshake, cell framing, the
// output buffer refilled round-robin from the link's active circuits, and mark-then-close.
import { CMD, cellLen, headerLen, highestCommon, netinfoBody, packCell, packVersions, parseNetinfo, parseVersions, ProtocolError, versionsCellLen } from '../../common/proto.js';
import type { R } from './main.js';
import type { CellObj, Circuit, Conn, OrConn } from './types.js';

const scratch = Buffer.allocUnsafe(64 * 1024);

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
      readEv: R.ctx.base.event(fd, EV.READ | EV.PERSIST, R.h.connRead!),
      writeEv: R.ctx.base.event(fd, EV.WRITE | EV.PERSIST, R.h.connWrite!),
      state: initiator ? T.orconnState.CONNECTING : T.orconnState.HANDSHAKING,
      initiator,
      linkVersion: 0,
      peerId,
      peerAddr,
      inbuf: Buffer.alloc(0),
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

  function sendNetinfo(c: OrConn): void {
    writeRaw(c, packCell(c.linkVersion, 0, CMD.NETINFO, netinfoBody(Math.floor(R.now()), c.peerAddr, S().options.host)));
  }

  /** VERSIONS and NETINFO; anything else before OPEN closes the link. */
  function handshakeInput(c: OrConn): boolean {
    if (c.linkVersion === 0) {
      const n = versionsCellLen(c.inbuf);
      if (n === 0) return false;
      const theirs = parseVersions(c.inbuf.subarray(0, n));
      c.inbuf = c.inbuf.subarray(n);
      c.linkVersion = highestCommon(R.T.linkVersions, theirs);
      if (!c.initiator) writeRaw(c, packVersions(R.T.linkVersions));
      sendNetinfo(c);
      return true;
    }
    const len = cellLen(c.linkVersion);
    if (c.inbuf.length < len) return false;
    const h = headerLen(c.linkVersion);
    const cmd = c.inbuf[h - 1];
    if (cmd === CMD.NETINFO) {
      R.link.netinfoReceived(c, parseNetinfo(c.inbuf.subarray(h, len)));
      c.inbuf = c.inbuf.subarray(len);
      setOpen(c);
      return true;
    }
    if (cmd === CMD.PADDING || cmd === CMD.VERSIONS) {
      c.inbuf = c.inbuf.subarray(len);
      return true;
    }
    throw new ProtocolError('ERR_LINK', `cell ${cmd} before NETINFO`);
  }

  function setOpen(c: OrConn): void {
    c.state = R.T.orconnState.OPEN;
    R.bus.orconnState(c);
    R.circ.linkOpened(c);
  }

  function processInput(c: OrConn): void {
    while (c.state !== R.T.orconnState.OPEN) {
      if (c.marked || !handshakeInput(c)) return;
    }
    const len = cellLen(c.linkVersion);
    const h = headerLen(c.linkVersion);
    const wide = h === 5;
    let buf = c.inbuf;
    let off = 0;
    while (buf.length - off >= len && !c.marked) {
      const circId = wide ? buf.readUInt32BE(off) : buf.readUInt16BE(off);
      const cmd = buf[off + h - 1]!;
      const body = buf.subarray(off + h, off + len);
      off += len;
      c.inbuf = buf.subarray(off);
      c.cellsIn++;
      const point = R.circ.processCell(c, circId, cmd, body);
      // An update point after every cell: the rest of the input is in c.inbuf, so an update
      // here loses nothing (the new version re-activates links with buffered cells).
      R.ctx.updatePoint(point);
      buf = c.inbuf;
      off = 0;
    }
  }

  /** Fills the output buffer from the ring of active circuits, one batch per circuit in turn. */
  function fillFromCircuits(c: OrConn): void {
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
        const wire = R.link.cellToWire(c, queue.shift()!);
        c.outbuf.push(wire);
        c.outLen += wire.length;
        c.cellsOut++;
      }
      S().stats.cellsOut += batch;
      if (queue === circ.pQueue && queue.length <= R.T.cellQueueLowwater) R.relay.resumeEdgeReading(circ);
      if (queue.length === 0) ring.splice(c.activeCursor, 1);
      else c.activeCursor++;
    }
  }

  function flush(c: OrConn): void {
    for (;;) {
      if (c.outLen < R.T.orConnLowwater) fillFromCircuits(c);
      if (c.outLen === 0) break;
      const data = c.outbuf.length === 1 ? c.outbuf[0]! : Buffer.concat(c.outbuf, c.outLen);
      let n: number;
      try {
        n = io.write(c.fd, data);
      } catch (err) {
        return markForClose(c, `write: ${(err as Error).message}`);
      }
      if (n === -1) {
        c.outbuf = [data];
        return;
      }
      S().stats.bytesWritten += n;
      c.lastWritten = R.now();
      c.outbuf = n === data.length ? [] : [data.subarray(n)];
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
      let n: number;
      try {
        n = io.read(fd, scratch);
      } catch (err) {
        return markForClose(c, `read: ${(err as Error).message}`);
      }
      if (n === 0) return markForClose(c, 'eof');
      if (n > 0) {
        S().stats.bytesRead += n;
        c.lastRead = R.now();
        c.inbuf = c.inbuf.length === 0 ? Buffer.from(scratch.subarray(0, n)) : Buffer.concat([c.inbuf, scratch.subarray(0, n)]);
      }
      if (c.inbuf.length === 0) return;
      try {
        processInput(c);
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
        S().stats.protocolErrors++;
        markForClose(c, `protocol: ${err.message}`);
      }
    },
    connWrite(fd: number) {
      const c = S().connByFd.get(fd) as OrConn | undefined;
      if (!c) return;
      if (c.state === R.T.orconnState.CONNECTING) {
        c.state = R.T.orconnState.HANDSHAKING;
        R.bus.orconnState(c);
        c.readEv.add();
        writeRaw(c, packVersions(R.T.linkVersions));
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
    /** The wire form of a queued cell for this link (v0 cells are objects). */
    cellToWire(c: OrConn, cell: CellObj): Buffer {
      return packCell(c.linkVersion, cell.circId, cell.command, cell.payload);
    },
    /** A queued cell for a circuit ID on a link. */
    makeCell(_c: OrConn, circId: number, command: number, payload: Buffer): CellObj {
      return { circId, command, payload };
    },
    netinfoReceived(c: OrConn, info: { time: number; otherAddr: string; myAddrs: string[] }): void {
      R.link.resolveMyAddress(c, info.otherAddr);
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
        if (c.type === R.T.connType.OR && !c.marked && (c as OrConn).inbuf.length > 0) c.readEv.active(EV.READ);
      }
    },
    housekeeping(c: OrConn, now: number): void {
      if (c.marked) return;
      if (c.state !== R.T.orconnState.OPEN && now - c.createdAt > R.T.keepalivePeriod) return markForClose(c, 'handshake timeout');
      if (c.nCircuits === 0 && now - Math.max(c.lastRead, c.lastWritten) > R.T.idleLinkTimeout) {
        c.holdOpenUntilFlushed = true;
        return markForClose(c, 'idle');
      }
      if (c.state === R.T.orconnState.OPEN && c.outLen === 0 && now - c.lastWritten > R.T.keepalivePeriod) writeRaw(c, packCell(c.linkVersion, 0, CMD.PADDING));
    },
  };
}
