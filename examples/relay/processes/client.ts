// The client (Tor's "onion proxy"): fetches and checks the consensus, keeps one link to its
// guard, builds a 3-hop circuit (guard, middle, exit; telescoping with CREATE2, then EXTEND2
// in RELAY_EARLY, checking each hop's ntor AUTH) for every SOCKS5 request, and carries the
// stream end to end: BEGIN, DATA both ways under circuit and stream windows, SENDMEs, END.
// Each SOCKS connection gets its own circuit, closed with DESTROY when the stream is done.
// A STATUS line a second tells the launcher what is open, built, failed and how fast.
import { announceReady, configFromEnv } from '../config.js';
import { trustedDirKey } from '../common/dirkeys.js';
import { acceptAll, EvConn } from '../common/evconn.js';
import { parseResponse } from '../common/http.js';
import { loadLib } from '../common/lib.js';
import {
  allocateStreamId, CellCommand as CMD, CellReader, CircIdAllocator, circIdRule, canPackage, CIRCUIT_WINDOW, collectSendmes, createWindow, type FlowWindow,
  initialCircuitPackageWindow, noteDelivered, notePackaged, receiveSendme, STREAM_WINDOW, type ConsensusEntry, decodeCreated2Payload, decodeRelayCell, DestroyReason, encodeDestroyPayload, encodeEnd, EndReason, encodeBegin, encodeCell,
  encodeCreate2Payload, encodeExtend2, encodeRelayCell, HandshakeType, isProtocolError, LinkHandshake,
  ntorClientFinish, ntorClientStart, type NtorClientState, OriginCrypto, parseConsensus, RELAY_PAYLOAD_SIZE as RELAY_DATA_MAX, RelayCommand as RELAY,
  type VerifiedConsensus,
} from '../protocol/index.js';

const LINK_VERSIONS = [3, 4];
// A client trusts both directory keys (key B is the rotated one, see common/dirkeys.ts).
const TRUSTED = [trustedDirKey('A'), trustedDirKey('B')];

interface Hop {
  entry: ConsensusEntry;
  ntor?: NtorClientState;
}

/** Flow control (windows, SENDMEs) is the protocol layer's sendme.ts, as at the relays. */
interface OriginCircuit extends FlowWindow {
  circId: number;
  hops: Hop[];
  /** The onion layers of the hops built so far (Tor's cpath). */
  crypto: OriginCrypto;
  built: number; // hops with keys
  path: ConsensusEntry[];
  state: 'BUILDING' | 'OPEN' | 'CLOSED';
  launchedAt: number;
  stream: SocksStream | undefined;
  /** Stream IDs come from circid.ts's allocateStreamId (one stream per circuit here). */
  nextStreamId: number;
  closedByUs: boolean;
  unrecognized?: number;
  cellsIn?: number;
}

interface SocksStream extends FlowWindow {
  conn: EvConn;
  phase: 'greeting' | 'request' | 'connecting' | 'open' | 'closed';
  inbuf: Buffer;
  target: string;
  streamId: number;
  circ: OriginCircuit | undefined;
  pending: Buffer[]; // bytes from the SOCKS client not packaged yet (before CONNECTED, or windows empty)
  openedAt: number;
  firstByteAt: number;
  bytes: number;
  ended: boolean;
}

async function main(): Promise<void> {
  const lib = await loadLib();
  const config = configFromEnv();
  const me = config.clients[Number(process.env.RELAY_CLIENT_INDEX ?? 0)]!;
  const base = new lib.EventBase();
  const circuits = new Map<number, OriginCircuit>();
  let consensus: VerifiedConsensus | undefined;
  const stats = {
    circuitsBuilt: 0, circuitsFailed: 0, circuitsClosed: 0, streamsOpened: 0, streamsDone: 0, streamsFailed: 0,
    buildMs: [] as number[], ttfbMs: [] as number[], bytes: 0, failures: [] as string[],
  };
  const now = () => performance.now();

  // ---- directory ----
  const fetchConsensus = (then?: () => void) => {
    const chunks: Buffer[] = [];
    const conn = new EvConn(lib, base, lib.io.connect(config.dirauth.host, config.dirauth.port), {
      connected: () => conn.write(Buffer.from('GET /consensus HTTP/1.0\r\n\r\n')),
      data: (c) => chunks.push(c),
      close: () => {
        try {
          const res = parseResponse(Buffer.concat(chunks));
          if (res.status === 200) consensus = parseConsensus(res.body.toString('utf8'), { trusted: TRUSTED });
        } catch (err) {
          process.stderr.write(`client: consensus: ${(err as Error).message}\n`);
        }
        then?.();
      },
    }, true);
  };

  const pickPath = (): ConsensusEntry[] | undefined => {
    const entries = consensus?.relays ?? [];
    const guard = entries.find((e) => e.flags.includes('Guard'));
    const exit = entries.find((e) => e.flags.includes('Exit') && e !== guard);
    const middle = entries.find((e) => e !== guard && e !== exit);
    return guard && middle && exit ? [guard, middle, exit] : undefined;
  };

  // ---- the link to the guard ----
  interface GuardLink {
    conn: EvConn;
    version: number;
    open: boolean;
    reader: CellReader;
    handshake: LinkHandshake;
    guard: ConsensusEntry;
    /** CircIDs on this link (circid.ts), made when VERSIONS fixes their width. */
    circIds: CircIdAllocator | undefined;
    /** Closed circuits whose DESTROY is queued: their IDs stay reserved until the link drains. */
    destroysQueued: number[];
  }
  let link: GuardLink | undefined;
  const waitingForLink: (() => void)[] = [];

  const openLink = (guard: ConsensusEntry) => {
    const l: GuardLink = {
      conn: undefined as unknown as EvConn,
      version: 0,
      open: false,
      circIds: undefined,
      destroysQueued: [],
      // Payloads as views into each read: every cell is handled (and its DATA queued to the
      // SOCKS client) before the next read.
      reader: new CellReader({ copyPayloads: false }),
      // A client sends time 0 and no address of its own in NETINFO (tor-spec §4.5).
      handshake: new LinkHandshake({ initiator: true, versions: LINK_VERSIONS, peerAddress: { type: 4, address: guard.address }, hideTime: true }),
      guard,
    };
    l.conn = new EvConn(lib, base, lib.io.connect(guard.address, guard.orPort), {
      connected: () => l.handshake.start().forEach((bytes) => l.conn.write(bytes)),
      data: (chunk) => {
        try {
          l.reader.feed(chunk);
          linkInput(l);
        } catch (err) {
          if (!isProtocolError(err)) throw err;
          process.stderr.write(`client: link to the guard: ${err.code}: ${err.message}\n`);
          l.conn.close(err);
        }
      },
      // The incomplete cell of the last read goes in front of the next one (no join of whole reads).
      readPrefix: (into) => l.reader.movePendingTo(into),
      drained: () => {
        for (const id of l.destroysQueued.splice(0)) l.circIds?.destroySent(id);
      },
      close: (err) => {
        if (link === l) link = undefined;
        for (const circ of [...circuits.values()]) failCircuit(circ, `link to guard closed${err ? `: ${err.message}` : ''}`);
      },
    }, true);
    link = l;
  };

  const linkInput = (l: GuardLink) => {
    for (let cell = l.reader.next(); cell; cell = l.reader.next()) {
      if (l.open) {
        processCell(cell.circId, cell.command, cell.payload);
        continue;
      }
      const step = l.handshake.receive(cell);
      if (step.linkVersion !== undefined) {
        l.version = step.linkVersion;
        l.reader.setLinkVersion(l.version);
        // circid.ts's rule for a client without an identity key: on v4+ links the opener (us)
        // sets the MSB; on v3 any ID, which the relays accept from a peer that showed no key.
        l.circIds = new CircIdAllocator(circIdRule(l.version, { initiator: true, ourIdentity: null, peerIdentity: l.guard.identityDigest }));
      }
      for (const bytes of step.send) l.conn.write(bytes);
      if (step.opened) {
        l.open = true;
        for (const go of waitingForLink.splice(0)) go();
      }
    }
  };

  const sendCell = (circId: number, cmd: number, payload: Buffer) => link?.conn.write(encodeCell(link.version, { circId, command: cmd, payload }));

  /** A relay cell for hop `to`: digest for that hop, then its layer and every layer before it. */
  const sendRelay = (circ: OriginCircuit, to: number, command: number, streamId: number, data?: Uint8Array, early = false) => {
    const body = encodeRelayCell({ command, streamId, ...(data ? { data } : {}) });
    circ.crypto.encryptForward(body, to);
    sendCell(circ.circId, early ? CMD.RELAY_EARLY : CMD.RELAY, body);
  };

  // ---- circuits ----
  const launchCircuit = (stream: SocksStream) => {
    const path = pickPath();
    if (!path) return socksFail(stream, 1, 'no 3-hop path in the consensus');
    let circId: number;
    try {
      circId = link!.circIds!.allocate();
    } catch (err) {
      if (!isProtocolError(err)) throw err;
      return socksFail(stream, 1, err.message); // ERR_CIRCID_EXHAUSTED
    }
    const circ: OriginCircuit = {
      circId, hops: path.map((entry) => ({ entry })), crypto: new OriginCrypto(), built: 0, path, state: 'BUILDING', launchedAt: now(), stream, closedByUs: false, nextStreamId: 1,
      // The package window starts from the consensus circwindow, as at the relays from v2 on.
      ...createWindow(CIRCUIT_WINDOW, initialCircuitPackageWindow(consensus?.params.circwindow)),
    };
    circuits.set(circId, circ);
    stream.circ = circ;
    const first = circ.hops[0]!;
    const { state, onionskin } = ntorClientStart(first.entry.identityDigest, first.entry.ntorOnionKey);
    first.ntor = state;
    sendCell(circId, CMD.CREATE2, encodeCreate2Payload({ htype: HandshakeType.NTOR, hdata: onionskin }));
  };

  const extendCircuit = (circ: OriginCircuit) => {
    const next = circ.hops[circ.built]!;
    const { state, onionskin } = ntorClientStart(next.entry.identityDigest, next.entry.ntorOnionKey);
    next.ntor = state;
    const data = encodeExtend2({
      linkSpecifiers: [
        { kind: 'ipv4', host: next.entry.address, port: next.entry.orPort },
        { kind: 'legacy-id', identity: next.entry.identityDigest },
      ],
      htype: HandshakeType.NTOR,
      hdata: onionskin,
    });
    sendRelay(circ, circ.built - 1, RELAY.EXTEND2, 0, data, true);
  };

  const hopDone = (circ: OriginCircuit, reply: Buffer) => {
    const hop = circ.hops[circ.built]!;
    circ.crypto.addHop(ntorClientFinish(hop.ntor!, reply));
    hop.ntor = undefined;
    circ.built++;
    if (circ.built < circ.hops.length) return extendCircuit(circ);
    circ.state = 'OPEN';
    stats.circuitsBuilt++;
    stats.buildMs.push(now() - circ.launchedAt);
    const s = circ.stream;
    if (s && s.phase === 'connecting') {
      s.streamId = allocateStreamId(circ, (id) => id === circ.stream?.streamId);
      const colon = s.target.lastIndexOf(':');
      sendRelay(circ, 2, RELAY.BEGIN, s.streamId, encodeBegin({ host: s.target.slice(0, colon), port: Number(s.target.slice(colon + 1)), flags: 0 }));
    }
  };

  const failCircuit = (circ: OriginCircuit, why: string) => {
    if (circ.state === 'CLOSED') return;
    circ.state = 'CLOSED';
    circuits.delete(circ.circId);
    link?.circIds?.destroySent(circ.circId); // the relay destroyed it, or the link is gone
    if (circ.closedByUs) return;
    stats.circuitsFailed++;
    stats.failures.push(`circuit ${circ.circId.toString(16)}: ${why}`);
    const s = circ.stream;
    if (s && s.phase !== 'closed') {
      if (s.phase === 'open') {
        stats.streamsFailed++;
        stats.failures.push(`stream to ${s.target} lost with its circuit after ${s.bytes} bytes`);
        s.phase = 'closed';
        s.conn.close();
      } else socksFail(s, 1, why);
    }
  };

  const closeCircuit = (circ: OriginCircuit) => {
    if (circ.state === 'CLOSED') return;
    circ.closedByUs = true;
    sendCell(circ.circId, CMD.DESTROY, encodeDestroyPayload(DestroyReason.NONE));
    if (link) {
      link.circIds?.markPendingDestroy(circ.circId);
      link.destroysQueued.push(circ.circId);
    }
    circ.state = 'CLOSED';
    circuits.delete(circ.circId);
    stats.circuitsClosed++;
  };

  const processCell = (circId: number, cmd: number, body: Buffer) => {
    const circ = circuits.get(circId);
    if (!circ) return;
    circ.cellsIn = (circ.cellsIn ?? 0) + 1;
    if (cmd === CMD.CREATED2) {
      if (circ.built !== 0) return failCircuit(circ, 'unexpected CREATED2');
      try {
        hopDone(circ, decodeCreated2Payload(body));
      } catch (err) {
        failCircuit(circ, (err as Error).message);
      }
      return;
    }
    if (cmd === CMD.DESTROY) return failCircuit(circ, `DESTROY reason ${body[0]}`);
    if (cmd !== CMD.RELAY) return;
    let from: number;
    try {
      from = circ.crypto.decryptBackward(body);
    } catch (err) {
      if (!isProtocolError(err)) throw err;
      circ.unrecognized = (circ.unrecognized ?? 0) + 1;
      return; // nobody recognized it: dropped
    }
    try {
      const cell = decodeRelayCell(body, { copy: false }); // data: a view, the body is not used again
      relayCell(circ, from, cell.command, cell.streamId, cell.data);
    } catch (err) {
      failCircuit(circ, (err as Error).message);
      closeCircuit(circ);
    }
  };

  const relayCell = (circ: OriginCircuit, from: number, command: number, streamId: number, data: Buffer) => {
    const s = circ.stream;
    switch (command) {
      case RELAY.EXTENDED2:
        if (from !== circ.built - 1) throw new Error('EXTENDED2 from the wrong hop');
        return hopDone(circ, decodeCreated2Payload(data));
      case RELAY.CONNECTED:
        if (!s || s.phase !== 'connecting' || streamId !== s.streamId) return;
        s.phase = 'open';
        s.openedAt = now();
        stats.streamsOpened++;
        s.conn.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 0]));
        packagePending(s);
        return;
      case RELAY.DATA: {
        noteDelivered(circ, CIRCUIT_WINDOW); // an overrun throws: the circuit is closed
        if (!s || streamId !== s.streamId || s.phase !== 'open') return;
        if (s.bytes === 0) {
          s.firstByteAt = now();
          stats.ttfbMs.push(s.firstByteAt - s.openedAt);
        }
        noteDelivered(s, STREAM_WINDOW);
        s.bytes += data.length;
        stats.bytes += data.length;
        s.conn.write(data);
        return considerSendme(circ, s);
      }
      case RELAY.END: {
        if (!s || streamId !== s.streamId) return;
        const reason = data[0] ?? 1;
        if (s.phase === 'connecting') return socksFail(s, reason === 3 ? 5 : reason === 8 ? 4 : 1, `END reason ${reason}`);
        s.ended = true;
        if (reason !== 6) {
          stats.streamsFailed++;
          stats.failures.push(`stream to ${s.target} ended with reason ${reason}`);
        } else stats.streamsDone++;
        s.phase = 'closed';
        s.conn.end();
        closeCircuit(circ);
        return;
      }
      case RELAY.SENDME:
        // One past the window's maximum throws: the circuit is closed.
        if (streamId === 0) receiveSendme(circ, CIRCUIT_WINDOW, data);
        else if (s && streamId === s.streamId) receiveSendme(s, STREAM_WINDOW, data);
        else return;
        if (s && s.phase === 'open') packagePending(s);
        return;
      default:
        return;
    }
  };

  const considerSendme = (circ: OriginCircuit, s: SocksStream) => {
    for (const body of collectSendmes(circ, CIRCUIT_WINDOW)) sendRelay(circ, 2, RELAY.SENDME, 0, body);
    // Stream SENDMEs wait while the SOCKS client is not taking the data (sendme.ts: more than
    // 10 cells' worth queued); drained() asks again once the queue is written.
    if (s.phase === 'open') {
      for (const body of collectSendmes(s, STREAM_WINDOW, { edgePendingBytes: s.conn.pendingOut })) sendRelay(circ, 2, RELAY.SENDME, s.streamId, body);
    }
  };

  /** Packages what the SOCKS client sent while both windows allow; the rest waits for a SENDME, reading paused. */
  const packagePending = (s: SocksStream) => {
    const circ = s.circ!;
    while (s.pending.length > 0 && canPackage(circ) && canPackage(s)) {
      const chunk = s.pending[0]!;
      const piece = chunk.subarray(0, RELAY_DATA_MAX);
      sendRelay(circ, 2, RELAY.DATA, s.streamId, piece);
      notePackaged(circ, CIRCUIT_WINDOW);
      notePackaged(s, STREAM_WINDOW);
      if (piece.length === chunk.length) s.pending.shift();
      else s.pending[0] = chunk.subarray(piece.length);
    }
    if (s.pending.length > 0) s.conn.pauseReading();
    else s.conn.resumeReading();
  };

  // ---- SOCKS5 ----
  const socksFail = (s: SocksStream, rep: number, why: string) => {
    if (s.phase === 'closed') return;
    stats.streamsFailed++;
    stats.failures.push(`SOCKS request for ${s.target || '?'}: ${why}`);
    s.phase = 'closed';
    s.conn.write(Buffer.from([5, rep, 0, 1, 0, 0, 0, 0, 0, 0]));
    s.conn.end();
    if (s.circ) closeCircuit(s.circ);
  };

  const socksInput = (s: SocksStream) => {
    if (s.phase === 'greeting') {
      if (s.inbuf.length < 2) return;
      if (s.inbuf[0] !== 5) return s.conn.close();
      const n = 2 + s.inbuf[1]!;
      if (s.inbuf.length < n) return;
      const methods = s.inbuf.subarray(2, n);
      s.inbuf = s.inbuf.subarray(n);
      if (!methods.includes(0)) {
        s.conn.write(Buffer.from([5, 0xff]));
        return s.conn.end();
      }
      s.conn.write(Buffer.from([5, 0]));
      s.phase = 'request';
    }
    if (s.phase === 'request') {
      const b = s.inbuf;
      if (b.length < 5) return;
      let host: string;
      let end: number;
      if (b[3] === 1) {
        end = 10;
        if (b.length < end) return;
        host = `${b[4]}.${b[5]}.${b[6]}.${b[7]}`;
      } else if (b[3] === 3) {
        end = 5 + b[4]! + 2;
        if (b.length < end) return;
        host = b.subarray(5, 5 + b[4]!).toString('latin1');
      } else return socksFail(s, 8, 'address type not supported');
      const port = b.readUInt16BE(end - 2);
      s.target = `${host}:${port}`;
      s.inbuf = b.subarray(end);
      if (b[1] !== 1) return socksFail(s, 7, 'only CONNECT');
      s.phase = 'connecting';
      if (s.inbuf.length) s.pending.push(s.inbuf);
      s.inbuf = Buffer.alloc(0);
      const go = () => (s.phase === 'connecting' ? launchCircuit(s) : undefined);
      if (!link) openLink(pickPath()?.[0] ?? (consensus?.relays[0] as ConsensusEntry));
      if (link!.open) go();
      else waitingForLink.push(go);
      return;
    }
    if (s.inbuf.length === 0) return;
    if (s.phase === 'connecting' || s.phase === 'open') s.pending.push(s.inbuf);
    s.inbuf = Buffer.alloc(0);
    if (s.phase === 'open') packagePending(s);
  };

  const socksListen = lib.io.listen(me.host, me.socksPort);
  base.event(socksListen, lib.EV.READ | lib.EV.PERSIST, () =>
    acceptAll(lib, socksListen, (fd) => {
      const s: SocksStream = { conn: undefined as unknown as EvConn, phase: 'greeting', inbuf: Buffer.alloc(0), target: '', streamId: 0, circ: undefined, ...createWindow(STREAM_WINDOW), pending: [], openedAt: 0, firstByteAt: 0, bytes: 0, ended: false };
      s.conn = new EvConn(lib, base, fd, {
        data: (chunk) => {
          s.inbuf = s.inbuf.length ? Buffer.concat([s.inbuf, chunk]) : chunk;
          socksInput(s);
        },
        drained: () => {
          if (s.circ && s.phase === 'open') considerSendme(s.circ, s);
        },
        close: () => {
          if (s.phase === 'open' && !s.ended && s.circ) {
            // The application went away first: END(DONE) to the exit, then tear down.
            sendRelay(s.circ, 2, RELAY.END, s.streamId, encodeEnd(EndReason.DONE));
            stats.streamsDone++;
            closeCircuit(s.circ);
          }
          s.phase = 'closed';
        },
      });
    }),
  ).add();

  const statusTimer = base.timer(() => {
    process.stdout.write(`STATUS ${JSON.stringify({
      role: 'client', openDetail: [...circuits.values()].slice(0, 6).map((c) => ({ id: c.circId.toString(16), state: c.state, built: c.built, cdw: c.deliverWindow, sdw: c.stream?.deliverWindow, phase: c.stream?.phase, pending: c.stream?.conn.pendingOut, bytes: c.stream?.bytes, unrec: c.unrecognized, cellsIn: c.cellsIn })), circuitsOpen: [...circuits.values()].filter((c) => c.state === 'OPEN').length, circuitsBuilding: [...circuits.values()].filter((c) => c.state === 'BUILDING').length,
      ...stats, buildMs: undefined, ttfbMs: undefined, failures: stats.failures.slice(-5), buildMsAll: stats.buildMs.splice(0), ttfbMsAll: stats.ttfbMs.splice(0), consensusRelays: consensus?.relays.length ?? 0, cpuUs: process.cpuUsage().user + process.cpuUsage().system,
    })}\n`);
  }, { persist: true });
  statusTimer.add(1000);
  const refresh = base.timer(() => fetchConsensus(), { persist: true });
  refresh.add(config.consensusInterval * 1000);
  const stop = () => base.loopexit();
  // SIGTERM only: the launcher starts every process in its own process group, so a Ctrl-C
  // reaches the launcher alone, which then sends SIGTERM (a second libevent signal event on
  // the base currently stops SIGTERM from being caught: reported with a repro).
  base.signal('SIGTERM', stop).add();

  // Ready once the consensus lists every configured relay.
  const waitReady = () =>
    fetchConsensus(() => {
      if ((consensus?.relays.length ?? 0) >= config.relays.length && pickPath()) announceReady({ role: 'client', socksHost: me.host, socksPort: lib.io.localPort(socksListen) });
      else base.once(-1, lib.EV.TIMEOUT, () => waitReady(), 200);
    });
  waitReady();
  base.dispatch();
}

main().catch((err) => {
  process.stderr.write(`client: ${err?.stack ?? err}\n`);
  process.exit(1);
});
