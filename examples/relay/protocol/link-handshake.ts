/**
 * The link handshake in its reduced form (tor-spec §4 without TLS, CERTS or AUTHENTICATE):
 *
 *   initiator → VERSIONS                     (2-byte CircID, before any version is agreed)
 *   responder → VERSIONS, NETINFO            (on the initiator's VERSIONS)
 *   initiator → NETINFO                      (on the responder's VERSIONS)
 *   both: the link is open once the peer's NETINFO has arrived.
 *
 * Each side picks the highest version in both VERSIONS lists (link v3 or v4, which fixes the
 * CircID width for the link's whole life). Before the peer's VERSIONS only VERSIONS and padding
 * may arrive; before its NETINFO only NETINFO and padding; anything else closes the link. Once
 * open, a repeated VERSIONS or NETINFO is ignored, as tor-spec §4.1 says of VERSIONS, unless
 * `lockAfterOpen` is set, which makes it a protocol error (Tor 0.2.1.21 blocked renegotiation
 * once the handshake was done). The peer's NETINFO time gives the clock skew (0 means "not
 * given", as clients send).
 *
 * Pure: `receive()` takes a framed cell and returns the bytes to send; the caller owns the socket
 * and its CellReader (it must call reader.setLinkVersion(result.linkVersion) when it is set).
 * The state is plain data (`exportState`/`fromState`) so a live update can carry a handshake
 * in progress. Errors are ProtocolError ERR_LINK_HANDSHAKE (or the VERSIONS errors of cell.ts),
 * all `fatalToLink`.
 */
import {
  CellCommand,
  SUPPORTED_LINK_VERSIONS,
  decodeNetinfoPayload,
  decodeVersionsPayload,
  encodeCell,
  encodeNetinfoPayload,
  encodeVersionsCell,
  negotiateLinkVersion,
  type Cell,
  type NetAddress,
  type Netinfo,
} from './cell.js';
import { ProtocolError } from './errors.js';

export type LinkHandshakeStage = 'waiting-versions' | 'waiting-netinfo' | 'open';

export interface LinkHandshakeOptions {
  /** True for the side that opened the TCP connection. */
  initiator: boolean;
  /** Versions offered (default SUPPORTED_LINK_VERSIONS). */
  versions?: readonly number[];
  /** The peer's address as we see it (NETINFO "other address"). */
  peerAddress?: NetAddress | null;
  /** Our own addresses; a client without an ORPort sends none. */
  myAddresses?: NetAddress[];
  /** Send 0 as our NETINFO time, as tor-spec asks of clients. */
  hideTime?: boolean;
  /** A VERSIONS or NETINFO after the link is open is a protocol error instead of being ignored. */
  lockAfterOpen?: boolean;
}

export interface LinkHandshakeState {
  options: Required<Omit<LinkHandshakeOptions, 'peerAddress'>> & { peerAddress: NetAddress | null };
  stage: LinkHandshakeStage;
  /** 0 until VERSIONS is negotiated. */
  linkVersion: number;
  /** The peer's NETINFO once received. */
  peerNetinfo: Netinfo | null;
}

export interface LinkHandshakeStep {
  /** Wire bytes to send, in order. */
  send: Buffer[];
  /** Set when this cell fixed the link version: switch the CellReader to it now. */
  linkVersion?: number;
  /** True when this cell opened the link. */
  opened?: boolean;
  /** True when the cell was a link-level cell the handshake consumed or ignored. */
  consumed: boolean;
}

const fail = (why: string): never => {
  throw new ProtocolError('ERR_LINK_HANDSHAKE', why, { fatalToLink: true });
};

export class LinkHandshake {
  #s: LinkHandshakeState;

  constructor(options: LinkHandshakeOptions) {
    this.#s = {
      options: {
        initiator: options.initiator,
        versions: [...(options.versions ?? SUPPORTED_LINK_VERSIONS)],
        peerAddress: options.peerAddress ?? null,
        myAddresses: [...(options.myAddresses ?? [])],
        hideTime: options.hideTime ?? false,
        lockAfterOpen: options.lockAfterOpen ?? false,
      },
      stage: 'waiting-versions',
      linkVersion: 0,
      peerNetinfo: null,
    };
  }

  static fromState(state: LinkHandshakeState): LinkHandshake {
    const h = new LinkHandshake(state.options);
    h.#s = structuredClone(state);
    return h;
  }

  exportState(): LinkHandshakeState {
    return structuredClone(this.#s);
  }

  get stage(): LinkHandshakeStage {
    return this.#s.stage;
  }

  get linkVersion(): number {
    return this.#s.linkVersion;
  }

  get peerNetinfo(): Netinfo | null {
    return this.#s.peerNetinfo;
  }

  /** Turns on lockAfterOpen on a live handshake (a version that adds the rule). */
  lock(): void {
    this.#s.options.lockAfterOpen = true;
  }

  /** Seconds the peer's clock is ahead of ours (null until its NETINFO, or when it sent time 0). */
  clockSkew(nowSeconds: number): number | null {
    const t = this.#s.peerNetinfo?.time;
    return t === undefined || t === 0 ? null : t - nowSeconds;
  }

  /** What to send when the connection is up: the initiator's VERSIONS, or nothing. */
  start(): Buffer[] {
    return this.#s.options.initiator ? [encodeVersionsCell(this.#s.options.versions)] : [];
  }

  #netinfo(nowSeconds: number): Buffer {
    const o = this.#s.options;
    const payload = encodeNetinfoPayload({
      time: o.hideTime ? 0 : Math.floor(nowSeconds),
      otherAddress: o.peerAddress,
      myAddresses: o.myAddresses,
    });
    return encodeCell(this.#s.linkVersion, { circId: 0, command: CellCommand.NETINFO, payload });
  }

  /**
   * Feeds one cell from the link. While the handshake runs every cell is for it; once open,
   * `consumed` is false for every cell that is not VERSIONS, NETINFO or padding.
   */
  receive(cell: Cell, nowSeconds: number = Date.now() / 1000): LinkHandshakeStep {
    const s = this.#s;
    const padding = cell.command === CellCommand.PADDING || cell.command === CellCommand.VPADDING;
    if (padding) return { send: [], consumed: true };
    if (s.stage === 'open') {
      if (cell.command !== CellCommand.VERSIONS && cell.command !== CellCommand.NETINFO) return { send: [], consumed: false };
      if (s.options.lockAfterOpen) fail(`${cell.command === CellCommand.VERSIONS ? 'VERSIONS' : 'NETINFO'} after the handshake`);
      return { send: [], consumed: true };
    }
    if (s.stage === 'waiting-versions') {
      if (cell.command !== CellCommand.VERSIONS) fail(`cell command ${cell.command} before VERSIONS`);
      const version = negotiateLinkVersion(s.options.versions, decodeVersionsPayload(cell.payload));
      const send: Buffer[] = [];
      if (!s.options.initiator) send.push(encodeVersionsCell(s.options.versions));
      s.linkVersion = version;
      s.stage = 'waiting-netinfo';
      send.push(this.#netinfo(nowSeconds));
      return { send, linkVersion: version, consumed: true };
    }
    // waiting-netinfo
    if (cell.command === CellCommand.VERSIONS) return { send: [], consumed: true }; // a second VERSIONS: ignored
    if (cell.command !== CellCommand.NETINFO) fail(`cell command ${cell.command} before NETINFO`);
    if (cell.circId !== 0) fail('NETINFO with a circuit ID');
    s.peerNetinfo = decodeNetinfoPayload(cell.payload);
    s.stage = 'open';
    return { send: [], opened: true, consumed: true };
  }
}
