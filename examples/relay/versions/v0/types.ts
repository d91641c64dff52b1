// The shapes of the relay's state (types only: no code, nothing evaluated at run time).
// Cross-references between state items are by gid (a number), not by object, so a version
// that changes one item's shape converts only that item.
import type { Event } from 'node-libevent';
import type { VersionContext } from 'node-libevent/update';
import type { Cell, CellReader, ExtendTarget } from '../../protocol/cell.js';
import type { LinkHandshake } from '../../protocol/link-handshake.js';
import type { VerifiedConsensus } from '../../protocol/consensus.js';
import type { X25519KeyPair } from '../../protocol/ntor.js';
import type { HopCrypto } from '../../protocol/relay-crypto.js';
import type { FlowWindow } from '../../protocol/sendme.js';

/** v0's in-memory cell: the protocol layer's Cell object, encoded when a link writes it (cells.ts). */
export type CellObj = Cell;

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
  /** Frames this link's input; a partial cell waits in it (carried across updates as it is). */
  reader: CellReader;
  /** VERSIONS/NETINFO until the link is open (carried across updates as it is). */
  handshake: LinkHandshake;
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

/** An exit stream is a FlowWindow (packageWindow, deliverWindow) of the protocol layer's sendme.ts. */
export interface ExitStream extends FlowWindow {
  gid: number;
  type: number;
  fd: number;
  readEv: Event;
  writeEv: Event;
  streamId: number;
  circGid: number;
  state: 'CONNECTING' | 'OPEN';
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

/** A relay circuit is a FlowWindow too: its circuit-level package and deliver windows. */
export interface Circuit extends FlowWindow {
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
  /** Ed25519 seed and public key (32 bytes each). */
  privateKey: Buffer;
  publicKey: Buffer;
  /** NODEID: SHA-1 of the public key. */
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

export interface OnionKeys {
  current: X25519KeyPair;
  previous: X25519KeyPair | null;
  rotatedAt: number;
}

export interface DirView {
  consensus: VerifiedConsensus | null;
  fetchedAt: number;
  descriptorDirty: boolean;
  lastPublished: number;
  publishAccepted: number;
}

export interface Ctx extends VersionContext {}
export type { HopCrypto, VerifiedConsensus, X25519KeyPair };
