/**
 * Circuit IDs on one link (tor-spec §5.1.1; Tor's get_unique_circ_id_by_chan).
 *
 * A CircID belongs to one link and is picked by the side that sends CREATE2; 0 is reserved for
 * link-level cells. So that both ends never pick the same ID, each side owns half the space,
 * told apart by the most significant bit:
 *   - link v4+: whoever opened the TCP connection sets the MSB, the other side clears it;
 *   - link v3 (and below): the node with the lower identity key clears the MSB, the other sets
 *     it; a client without an identity key may use any ID, so a relay whose peer showed no key
 *     accepts any ID from it (Tor's CIRC_ID_TYPE_NEITHER; Tor never picks an ID on such a link).
 * IDs are random, with up to 64 attempts (Tor's MAX_CIRCID_ATTEMPTS) before giving up; Tor 0.2.1
 * counted sequentially instead (`next_circ_id`), kept here as the 'sequential' strategy.
 *
 * `CircIdAllocator` tracks the IDs in use on one link, including "pending destroy" placeholders:
 * after a circuit is closed its ID stays taken until its DESTROY has been flushed, so a new
 * circuit cannot reuse it while the peer still thinks the old one exists.
 *
 * Stream IDs (nonzero, unique per circuit, picked by the client) come from `allocateStreamId`.
 */
import { randomBytes } from 'node:crypto';

import { ProtocolError } from './errors.js';

/** Tor's MAX_CIRCID_ATTEMPTS. */
export const MAX_CIRCID_ATTEMPTS = 64;

export interface CircIdRule {
  /** 2 or 4 bytes: the link's CircID width. */
  width: 2 | 4;
  /** The MSB this side puts in IDs it picks; null when any ID is allowed (a keyless v3 client). */
  highBit: boolean | null;
}

function compareKeys(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length));
}

/**
 * The rule for IDs this side picks on a link, and so for the IDs it accepts from the peer
 * (checkPeerCircId). `initiator`: we opened the TCP connection. For v3 links the identity keys
 * decide; when either side has none (ours null: we are a client without a key; the peer's null:
 * it showed none, a keyless client) there is no split, and any ID goes both ways.
 */
export function circIdRule(
  linkVersion: number,
  side: { initiator: boolean; ourIdentity?: Uint8Array | null; peerIdentity?: Uint8Array | null },
): CircIdRule {
  if (linkVersion >= 4) return { width: 4, highBit: side.initiator };
  if (!side.ourIdentity) return { width: 2, highBit: null };
  // The peer is a keyless client: it may pick anything, so nothing it picks may be refused.
  if (!side.peerIdentity) return { width: 2, highBit: null };
  return { width: 2, highBit: compareKeys(side.ourIdentity, side.peerIdentity) > 0 };
}

function msb(width: 2 | 4): number {
  return width === 4 ? 0x8000_0000 : 0x8000;
}

function hasHighBit(id: number, width: 2 | 4): boolean {
  return (id & msb(width)) !== 0;
}

/**
 * Checks an ID the peer picked (an incoming CREATE2): nonzero, within the width, and with the
 * peer's MSB (the opposite of ours, when our rule has one). Failures: ERR_CIRCID with DESTROY PROTOCOL.
 */
export function checkPeerCircId(rule: CircIdRule, id: number): void {
  const max = rule.width === 4 ? 0xffff_ffff : 0xffff;
  if (!Number.isInteger(id) || id <= 0 || id > max) {
    throw new ProtocolError('ERR_CIRCID', `circuit ID ${id} is not usable`, { destroyReason: 1 });
  }
  if (rule.highBit !== null && hasHighBit(id, rule.width) === rule.highBit) {
    throw new ProtocolError('ERR_CIRCID', `circuit ID ${id} has the wrong high bit for the peer`, { destroyReason: 1 });
  }
}

export type CircIdStatus = 'open' | 'pending-destroy';

export interface CircIdAllocatorState {
  rule: CircIdRule;
  strategy: 'random' | 'sequential';
  /** Sequential strategy: the next ID to try (without the high bit). */
  nextCircId: number;
  ids: Array<[number, CircIdStatus]>;
}

export interface CircIdAllocatorOptions {
  strategy?: 'random' | 'sequential';
  /** Source of random IDs (tests inject one); the default draws from node:crypto. */
  random?: () => number;
}

function cryptoRandom32(): number {
  return randomBytes(4).readUInt32BE(0);
}

/** The CircIDs in use on one link. */
export class CircIdAllocator {
  readonly rule: CircIdRule;
  readonly strategy: 'random' | 'sequential';
  readonly #random: () => number;
  readonly #ids = new Map<number, CircIdStatus>();
  #nextCircId = 1;

  constructor(rule: CircIdRule, options: CircIdAllocatorOptions = {}) {
    this.rule = { ...rule };
    this.strategy = options.strategy ?? 'random';
    this.#random = options.random ?? cryptoRandom32;
  }

  static fromState(state: CircIdAllocatorState, options: Omit<CircIdAllocatorOptions, 'strategy'> = {}): CircIdAllocator {
    const a = new CircIdAllocator(state.rule, { ...options, strategy: state.strategy });
    a.#nextCircId = state.nextCircId;
    for (const [id, status] of state.ids) a.#ids.set(id, status);
    return a;
  }

  exportState(): CircIdAllocatorState {
    return { rule: { ...this.rule }, strategy: this.strategy, nextCircId: this.#nextCircId, ids: [...this.#ids] };
  }

  /** IDs in use, pending-destroy placeholders included. */
  get size(): number {
    return this.#ids.size;
  }

  status(id: number): CircIdStatus | undefined {
    return this.#ids.get(id);
  }

  #shape(raw: number): number {
    const { width, highBit } = this.rule;
    const mask = width === 4 ? 0xffff_ffff : 0xffff;
    let id = raw & mask;
    if (highBit === true) id |= msb(width);
    else if (highBit === false) id &= ~msb(width) & mask;
    return id >>> 0;
  }

  /** Picks a fresh ID for a circuit we open on this link; ERR_CIRCID_EXHAUSTED after 64 misses. */
  allocate(): number {
    for (let attempt = 0; attempt < MAX_CIRCID_ATTEMPTS; attempt++) {
      let id: number;
      if (this.strategy === 'sequential') {
        const span = this.rule.highBit === null ? (this.rule.width === 4 ? 0xffff_ffff : 0xffff) : msb(this.rule.width) - 1;
        if (this.#nextCircId > span || this.#nextCircId < 1) this.#nextCircId = 1;
        id = this.#shape(this.#nextCircId++);
      } else {
        id = this.#shape(this.#random());
      }
      if (id !== 0 && !this.#ids.has(id)) {
        this.#ids.set(id, 'open');
        return id;
      }
    }
    throw new ProtocolError('ERR_CIRCID_EXHAUSTED', `no free circuit ID after ${MAX_CIRCID_ATTEMPTS} attempts`, {
      destroyReason: 5 /* RESOURCELIMIT */,
    });
  }

  /**
   * Takes an ID the peer picked (incoming CREATE2). Wrong shape: ERR_CIRCID with DESTROY PROTOCOL.
   * Already in use (or still pending destroy): ERR_CIRCID without a DESTROY reason, since a DESTROY
   * would hit the live circuit with that ID; Tor drops such a CREATE.
   */
  claim(id: number): void {
    checkPeerCircId(this.rule, id);
    if (this.#ids.has(id)) throw new ProtocolError('ERR_CIRCID', `circuit ID ${id} is already in use`);
    this.#ids.set(id, 'open');
  }

  /** The circuit is closed and its DESTROY queued: keep the ID reserved until `destroySent`. */
  markPendingDestroy(id: number): void {
    if (this.#ids.has(id)) this.#ids.set(id, 'pending-destroy');
  }

  /** The DESTROY for `id` went out (or the peer destroyed it): the ID is free again. */
  destroySent(id: number): void {
    this.#ids.delete(id);
  }

  /** Frees an ID at once (a circuit that never reached the peer). */
  release(id: number): void {
    this.#ids.delete(id);
  }
}

// ---------------------------------------------------------------------------------------------
// Stream IDs (per circuit, picked by the client; Tor's get_unique_stream_id_by_circ)

/** The part of an origin circuit stream-ID allocation needs: a plain counter that migrates as is. */
export interface StreamIdCounter {
  /** The next ID to try, 1..65535. */
  nextStreamId: number;
}

/**
 * A nonzero stream ID not in use on the circuit: Tor counts up from the last one, wraps to 1
 * after 65535 and skips IDs in use. All 65535 in use: ERR_CIRCID_EXHAUSTED with END RESOURCELIMIT.
 */
export function allocateStreamId(counter: StreamIdCounter, inUse: (id: number) => boolean): number {
  for (let tries = 0; tries < 0xffff; tries++) {
    let id = counter.nextStreamId;
    if (!Number.isInteger(id) || id < 1 || id > 0xffff) id = 1;
    counter.nextStreamId = id === 0xffff ? 1 : id + 1;
    if (!inUse(id)) return id;
  }
  throw new ProtocolError('ERR_CIRCID_EXHAUSTED', 'every stream ID of the circuit is in use', { endReason: 11 });
}
