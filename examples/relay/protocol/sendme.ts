/**
 * Flow control with SENDME cells (tor-spec §7.3–§7.4; Tor's sendme.c).
 *
 * Each circuit hop and each stream has a package window (cells we may still send) and a deliver
 * window (cells the peer may still send us). Only RELAY_DATA counts. When the deliver window falls
 * to start − increment or below, the receiver sends a SENDME and adds the increment; a received
 * SENDME adds the increment to the package window. Circuits: 1000/100 (the consensus `circwindow`
 * may lower the package start, 100..1000); streams: 500/50, and a stream SENDME waits while more
 * than 10 cells of data wait to be flushed at the edge.
 *
 * Errors: a peer that sends DATA past our deliver window (ERR_WINDOW_OVERRUN), or a SENDME that
 * would raise our package window past its maximum (ERR_SENDME_UNEXPECTED), kills the circuit with
 * PROTOCOL (or the stream with END TORPROTOCOL).
 *
 * SENDME v0 has an empty body. v1 (authenticated, Tor 0.4.1+) carries VERSION 1 | DATA_LEN 20 |
 * the 20-byte running digest of the DATA cell that triggered it: the packager remembers the digest
 * of every increment-th cell it sends and checks SENDMEs against them in order, so an endpoint
 * cannot acknowledge cells it never received. Stream SENDMEs stay v0, as in Tor.
 *
 * State is a plain object (`FlowWindow`) so it migrates as is; limits are `WindowParams`, a
 * constant table each version brings along. `inclusiveThreshold: false` reproduces the 0.2.1.19
 * off-by-one (`<` for `<=`: a SENDME after 101 cells) that 0.2.1.20 fixed.
 */
import { ProtocolError } from './errors.js';
import { RELAY_PAYLOAD_SIZE } from './relay-cell.js';

export interface WindowParams {
  kind: 'circuit' | 'stream';
  start: number;
  increment: number;
  /** The most a package window may reach (Tor: CIRCWINDOW_START_MAX / STREAMWINDOW_START_MAX). */
  max: number;
  /** Send at deliver ≤ start − increment (true, the fixed rule) or < (0.2.1.19's off-by-one). */
  inclusiveThreshold?: boolean;
}

export const CIRCWINDOW_START = 1000;
export const CIRCWINDOW_START_MIN = 100;
export const CIRCWINDOW_START_MAX = 1000;
export const CIRCWINDOW_INCREMENT = 100;
export const STREAMWINDOW_START = 500;
export const STREAMWINDOW_INCREMENT = 50;
/** A stream SENDME waits while more than this many cells' worth of data wait at the edge. */
export const STREAM_SENDME_MAX_PENDING_CELLS = 10;

export const CIRCUIT_WINDOW: WindowParams = Object.freeze({
  kind: 'circuit',
  start: CIRCWINDOW_START,
  increment: CIRCWINDOW_INCREMENT,
  max: CIRCWINDOW_START_MAX,
});

export const STREAM_WINDOW: WindowParams = Object.freeze({
  kind: 'stream',
  start: STREAMWINDOW_START,
  increment: STREAMWINDOW_INCREMENT,
  max: STREAMWINDOW_START,
});

/** The initial circuit package window from the consensus `circwindow` parameter, clamped to 100..1000. */
export function initialCircuitPackageWindow(circwindow?: number): number {
  if (circwindow === undefined || !Number.isFinite(circwindow)) return CIRCWINDOW_START;
  return Math.min(CIRCWINDOW_START_MAX, Math.max(CIRCWINDOW_START_MIN, Math.trunc(circwindow)));
}

/** Window state of one circuit hop or one stream. */
export interface FlowWindow {
  packageWindow: number;
  deliverWindow: number;
  /** v1, packager side: digests of sent cells a SENDME must echo, oldest first. */
  expectedDigests: Uint8Array[];
  /** v1, receiver side: the digest of the last cell that reached a SENDME threshold. */
  deliverDigest: Uint8Array | null;
}

export function createWindow(params: WindowParams, packageStart = params.start): FlowWindow {
  return { packageWindow: packageStart, deliverWindow: params.start, expectedDigests: [], deliverDigest: null };
}

/** True when the cell about to be sent or received is the increment-th since the last SENDME point. */
function atSendmePoint(window: number, params: WindowParams): boolean {
  return (window - 1) % params.increment === 0;
}

export function canPackage(w: FlowWindow): boolean {
  return w.packageWindow > 0;
}

/** True when the DATA cell about to be packaged needs its digest recorded (v1): pass it to notePackaged. */
export function packagedCellNeedsDigest(w: FlowWindow, params: WindowParams): boolean {
  return atSendmePoint(w.packageWindow, params);
}

/**
 * Counts one DATA cell sent. `digest` (the sending direction's running digest just after this
 * cell) is recorded when packagedCellNeedsDigest() said so. Sending with an empty window is a
 * caller bug: ERR_WINDOW_OVERRUN.
 */
export function notePackaged(w: FlowWindow, params: WindowParams, digest?: Buffer): void {
  if (w.packageWindow <= 0) {
    throw new ProtocolError('ERR_WINDOW_OVERRUN', `${params.kind} package window is empty`);
  }
  if (digest !== undefined && atSendmePoint(w.packageWindow, params)) w.expectedDigests.push(Buffer.from(digest));
  w.packageWindow--;
}

/** True when the DATA cell just received needs its digest recorded for a v1 SENDME. */
export function deliveredCellNeedsDigest(w: FlowWindow, params: WindowParams): boolean {
  return atSendmePoint(w.deliverWindow, params);
}

/**
 * Counts one DATA cell received. A peer that overruns the window gets ERR_WINDOW_OVERRUN with
 * DESTROY PROTOCOL (circuit) or END TORPROTOCOL (stream).
 */
export function noteDelivered(w: FlowWindow, params: WindowParams, digest?: Buffer): void {
  if (digest !== undefined && atSendmePoint(w.deliverWindow, params)) w.deliverDigest = Buffer.from(digest);
  w.deliverWindow--;
  if (w.deliverWindow < 0) {
    throw new ProtocolError('ERR_WINDOW_OVERRUN', `peer overran the ${params.kind} deliver window`, {
      destroyReason: params.kind === 'circuit' ? 1 : undefined,
      endReason: params.kind === 'stream' ? 13 : undefined,
    });
  }
}

function dueForSendme(w: FlowWindow, params: WindowParams): boolean {
  const threshold = params.start - params.increment;
  return params.inclusiveThreshold === false ? w.deliverWindow < threshold : w.deliverWindow <= threshold;
}

const NONE_DUE: readonly Buffer[] = Object.freeze([]);

export interface CollectSendmeOptions {
  /** 0 (empty body, the default) or 1 (authenticated; circuits only). */
  version?: number;
  /** Streams: bytes still waiting to be written at this edge. */
  edgePendingBytes?: number;
}

/**
 * The SENDME bodies to send now (usually none or one), with the deliver window raised for each.
 * Call after noteDelivered and after the edge flushed.
 */
export function collectSendmes(w: FlowWindow, params: WindowParams, options: CollectSendmeOptions = {}): readonly Buffer[] {
  // Called for every DATA cell delivered; nothing is due 99 times in 100.
  if (!dueForSendme(w, params)) return NONE_DUE;
  const out: Buffer[] = [];
  const version = params.kind === 'stream' ? 0 : (options.version ?? 0);
  while (dueForSendme(w, params)) {
    if (params.kind === 'stream' && (options.edgePendingBytes ?? 0) > STREAM_SENDME_MAX_PENDING_CELLS * RELAY_PAYLOAD_SIZE) break;
    if (version >= 1) {
      if (w.deliverDigest === null) {
        throw new ProtocolError('ERR_SENDME_AUTH', 'no digest recorded for an authenticated SENDME');
      }
      out.push(encodeSendme(1, w.deliverDigest));
      w.deliverDigest = null;
    } else {
      out.push(encodeSendme(0));
    }
    w.deliverWindow += params.increment;
  }
  return out;
}

export function encodeSendme(version: number, digest?: Uint8Array): Buffer {
  if (version === 0) return Buffer.alloc(0);
  if (version !== 1 || digest === undefined || digest.length !== 20) {
    throw new ProtocolError('ERR_SENDME_VERSION', `cannot encode SENDME v${version}`);
  }
  const out = Buffer.alloc(3 + 20);
  out[0] = 1;
  out.writeUInt16BE(20, 1);
  out.set(digest, 3);
  return out;
}

export interface ReceiveSendmeOptions {
  /** The lowest SENDME version accepted (Tor's consensus `sendme_accept_min_version`); default 0. */
  acceptMinVersion?: number;
}

/**
 * Handles a SENDME from the peer: checks it (version, v1 digest, window maximum) and adds the
 * increment to the package window. Every error carries DESTROY PROTOCOL (circuit) or END
 * TORPROTOCOL (stream). As in Tor, the oldest expected digest is consumed whatever the version,
 * so a v0 peer does not make the list grow; versions above 1 are accepted like v0.
 */
export function receiveSendme(w: FlowWindow, params: WindowParams, body: Buffer, options: ReceiveSendmeOptions = {}): void {
  const reasons = {
    destroyReason: params.kind === 'circuit' ? 1 : undefined,
    endReason: params.kind === 'stream' ? 13 : undefined,
  };
  if (w.packageWindow + params.increment > params.max) {
    throw new ProtocolError('ERR_SENDME_UNEXPECTED', `unexpected ${params.kind} SENDME (window ${w.packageWindow})`, reasons);
  }
  if (params.kind === 'circuit') {
    const version = body.length > 0 ? body[0]! : 0;
    if (version < (options.acceptMinVersion ?? 0)) {
      throw new ProtocolError('ERR_SENDME_VERSION', `SENDME v${version} below the accepted minimum`, reasons);
    }
    const expected = w.expectedDigests.shift();
    if (version === 1) {
      if (body.length < 3) throw new ProtocolError('ERR_SENDME_AUTH', 'SENDME v1 truncated', reasons);
      const len = body.readUInt16BE(1);
      const digest = body.subarray(3, 3 + len);
      if (len !== 20 || digest.length !== 20 || expected === undefined || !digest.equals(expected)) {
        throw new ProtocolError('ERR_SENDME_AUTH', 'SENDME v1 digest does not match a cell we sent', reasons);
      }
    }
  }
  w.packageWindow += params.increment;
}
