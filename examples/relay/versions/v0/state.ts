// Every state item of the relay, as a table: key -> how a fresh start makes it, and (in the
// version that changes its shape) how the previous version's value is transformed. A later
// version takes this table, drops the transforms (they convert from *its* predecessor only)
// and adds its own: see `evolve`.
import { randomBytes } from 'node:crypto';
import { generateEd25519KeyPair } from '../../protocol/consensus.js';
import { generateX25519KeyPair, nodeIdOf } from '../../protocol/ntor.js';
import type { Circuit, Conn, DirRequest, DirView, Identity, OnionKeys, OrConn, PeriodicItem, RelayOptions, Stats } from './types.js';
import type { Tables } from './constants.js';
import type { Callback } from 'node-libevent';
import type { VersionContext } from 'node-libevent/update';

export interface StateItem {
  init?: (env: InitEnv) => unknown;
  transform?: (old: any, from: string) => unknown;
  migrate?: false;
  /** The version no longer has this item (ctx.retire). */
  retire?: true;
}

export interface InitEnv {
  options: RelayOptions;
  tables: Tables;
  ctx: VersionContext;
  h: Record<string, Callback>;
}

export type StateTable = Record<string, StateItem>;

export const items: StateTable = {
  tables: { migrate: false }, // made from the running version's constants (see main)
  options: { init: ({ options }) => ({ ...options }) },
  identity: {
    init: (): Identity => {
      const { privateKey, publicKey } = generateEd25519KeyPair();
      const id = nodeIdOf(publicKey);
      return { privateKey, publicKey, id, idHex: id.toString('hex') };
    },
  },
  onionKeys: { init: (): OnionKeys => ({ current: generateX25519KeyPair(), previous: null, rotatedAt: Date.now() / 1000 }) },
  dirView: { init: (): DirView => ({ consensus: null, fetchedAt: 0, descriptorDirty: true, lastPublished: 0, publishAccepted: 0 }) },
  dirRequests: { init: () => new Map<number, DirRequest>() },
  // The connection list (Tor's connection_array with each connection's index), by fd too.
  connectionArray: { init: () => [] as Conn[] },
  connByFd: { init: () => new Map<number, Conn>() },
  connByGid: { init: () => new Map<number, Conn>() },
  closeableConnections: { init: () => [] as Conn[] },
  gids: { init: () => ({ next: 1, secret: randomBytes(8).toString('hex') }) },
  // Circuits: all of them by gid, and the (link gid, CircID) map every arriving cell looks up.
  circuits: { init: () => new Map<number, Circuit>() },
  circuitMap: { init: () => new Map<number, number>() },
  circuitsPendingLink: { init: () => new Map<string, number[]>() },
  circuitsPendingClose: { init: () => [] as number[] },
  onionQueue: { init: () => ({ items: [] as { circGid: number; hdata: Buffer }[], max: 0 }) },
  periodicEvents: { init: () => [] as PeriodicItem[] },
  stats: {
    init: (): Stats => ({ cellsIn: {}, cellsOut: 0, cellsRelayed: 0, bytesRead: 0, bytesWritten: 0, circuitsCreated: 0, circuitsClosed: 0, streamsOpened: 0, streamsClosed: 0, destroysSent: 0, protocolErrors: 0 }),
  },
  btrack: { init: () => ({ orconnBest: 0, circBest: -1, orconnStates: new Map<number, number>(), events: 0 }) },
  // Handles owned by the relay: the ORPort listener, the post-loop cleanup event (Tor's
  // postloop_cleanup_cb) and the cpuworker event that answers queued CREATE2 cells.
  listener: {
    init: ({ ctx, h, options }) => {
      const fd = ctx.lib.io.listen(options.host, options.orPort);
      const ev = ctx.base.event(fd, ctx.lib.EV.READ | ctx.lib.EV.PERSIST, h.onOrListenerAccept!).add();
      return { fd, ev, port: ctx.lib.io.localPort(fd) };
    },
  },
  loopEvents: {
    init: ({ ctx, h }) => ({ postloop: ctx.base.timer(h.postloopCleanup!), cpuworker: ctx.base.timer(h.cpuworkerRun!) }),
  },
  versionLog: { init: () => [] as { version: string; at: number }[] },
};

/** The previous version's table with its transforms dropped, plus `changes`. */
export function evolve(previous: StateTable, changes: StateTable): StateTable {
  const out: StateTable = {};
  for (const [key, item] of Object.entries(previous)) {
    const { transform: _dropped, ...rest } = item;
    out[key] = rest;
  }
  for (const [key, item] of Object.entries(changes)) out[key] = { ...out[key], ...item };
  return out;
}

/**
 * Transforms for a change to every OR link's shape. Connections are shared by four items (the
 * array, the two indexes, the closeable list), so each link is converted once and every item
 * maps through the same old -> new table; exit streams are copied as they are.
 */
export function linkShapeChange(convertLink: (link: OrConn) => OrConn): StateTable {
  const converted = new WeakMap<Conn, Conn>();
  const convert = (c: Conn): Conn => {
    let n = converted.get(c);
    if (!n) {
      n = 'linkVersion' in c ? convertLink(c) : { ...c };
      converted.set(c, n);
    }
    return n;
  };
  const inMap = (old: Map<number, Conn>) => new Map([...old].map(([k, c]) => [k, convert(c)]));
  return {
    connectionArray: { transform: (old: Conn[]) => old.map(convert) },
    connByFd: { transform: inMap },
    connByGid: { transform: inMap },
    closeableConnections: { transform: (old: Conn[]) => old.map(convert) },
  };
}

/** The version whose state table this is: its transforms convert from that version's predecessor only. */
export const changedIn: string = 'v0';
