// The shapes of the relay's state (types only: no code, nothing evaluated at run time).
// Cross-references between state items are by gid (a number), not by object, so a version
// that changes one item's shape converts only that item.
import type { Event } from 'node-libevent';
import type { VersionContext } from 'node-libevent/update';
import type { Consensus, ExtendTarget, HopCrypto, X25519Pair } from '../../common/proto.js';
import type { KeyObject } from 'node:crypto';

/** v0's in-memory cell: an object, packed to the wire when a link writes it. */
export interface CellObj {
  circId: number;
  command: number;
  payload: Buffer;
}

export interface OrConn {
  gid: number;
  type: number;
  fd: number;
  readEv: Event;
  writeEv: Event;
  state: number;
  initiator: boolean;
  linkVersion: number;
  /** hex NODEID of the peer when we dialled it (links are not authenticated: ntor is). */
  peerId: string | null;
  peerAddr: string;
  inbuf: Buffer;
  outbuf: Buffer[];
  outLen: number;
  writing: boolean;
  createdAt: number;
  lastRead: number;
  lastWritten: number;
  lastEmpty: number;
  nCircuits: number;
  /** Ring of circuits with cells queued for this link (gids), and the round-robin cursor. */
  activeCircuits: number[];
  activeCursor: number;
  marked: boolean;
  holdOpenUntilFlushed: boolean;
  arrayIndex: number;
  cellsIn: number;
  cellsOut: number;
}

export interface ExitStream {
  gid: number;
  type: number;
  fd: number;
  readEv: Event;
  writeEv: Event;
  streamId: number;
  circGid: number;
  state: 'CONNECTING' | 'OPEN';
  packageWindow: number;
  deliverWindow: number;
  outbuf: Buffer[];
  outLen: number;
  readBlocked: boolean;
  sentEnd: boolean;
  marked: boolean;
  arrayIndex: number;
  bytesIn: number;
  bytesOut: number;
  target: string;
}

export type Conn = OrConn | ExitStream;

export interface Circuit {
  gid: number;
  state: number;
  pLink: number;
  pCircId: number;
  nLink: number;
  nCircId: number;
  /** The pending extension: where to, and the CREATE2 body to send when the link is open. */
  nHop: { target: ExtendTarget; create2: Buffer; idHex: string } | null;
  /** Cells toward the client (on pLink) and toward the next hop (on nLink). */
  pQueue: CellObj[];
  nQueue: CellObj[];
  crypto: HopCrypto;
  packageWindow: number;
  deliverWindow: number;
  streams: Map<number, number>; // streamId -> exit stream gid
  relayEarlyRemaining: number;
  createdAt: number;
  marked: boolean;
  markReason: number;
  markedRemote: boolean;
  /** The link a DESTROY (or a link close) came from: no DESTROY goes back on it. */
  destroyFrom: number;
  cellsRelayed: number;
}

export interface Identity {
  privateKey: KeyObject;
  publicKey: KeyObject;
  raw: Buffer;
  id: Buffer;
  idHex: string;
}

export interface PeriodicItem {
  name: string;
  handler: string;
  ev: Event;
  lastAction: number;
  enabled: boolean;
}

export interface RelayOptions {
  nickname: string;
  host: string;
  orPort: number;
  flags: string[];
  bandwidth: number;
  dirHost: string;
  dirPort: number;
  consensusInterval: number;
  /** Allow single-hop exits (off: BEGIN at a first hop is refused). */
  clique: boolean;
}

export interface DirRequest {
  fd: number;
  ev: Event;
  kind: 'descriptor' | 'consensus';
  out: Buffer;
  inbuf: Buffer[];
  startedAt: number;
}

export interface Stats {
  cellsIn: Record<number, number>;
  cellsOut: number;
  cellsRelayed: number;
  bytesRead: number;
  bytesWritten: number;
  circuitsCreated: number;
  circuitsClosed: number;
  streamsOpened: number;
  streamsClosed: number;
  destroysSent: number;
  protocolErrors: number;
}

export interface DirView {
  consensus: Consensus | null;
  fetchedAt: number;
  descriptorDirty: boolean;
  lastPublished: number;
  publishAccepted: number;
}

export interface Ctx extends VersionContext {}
export type { Consensus, HopCrypto, X25519Pair };
