/**
 * Cells on a link: link protocols v3 and v4 of tor-spec §3–§5, reduced to what the example uses.
 *
 * A cell is CircID | Command | Body. Fixed-length cells have a 509-byte body (Tor's
 * CELL_PAYLOAD_SIZE), so a cell is 512 bytes on v3 (2-byte CircID) and 514 bytes on v4 (4-byte
 * CircID). VERSIONS (7) and commands >= 128 are variable-length: a 2-byte Length follows the
 * command. Before VERSIONS has been negotiated (link version 0 here) a link uses 2-byte CircIDs,
 * which is why the first VERSIONS cell always carries a 2-byte CircID; after negotiation every
 * cell, variable-length ones included, uses the link's width (as Tor's fetch_var_cell_from_buf).
 *
 * Commands kept: PADDING 0, RELAY 3, DESTROY 4, CREATE_FAST 5, CREATED_FAST 6 (create-fast.ts),
 * VERSIONS 7, NETINFO 8, RELAY_EARLY 9, CREATE2 10, CREATED2 11. The others of Tor's table have names here (for logs) but `isKnownCellCommand` is
 * false for them: a relay drops such cells without a warning, as tor-spec §3 asks.
 *
 * Also here: VERSIONS/NETINFO bodies and version negotiation, CREATE2/CREATED2 bodies, the
 * EXTEND2/EXTENDED2 relay bodies (they carry CREATE2/CREATED2 contents), and the DESTROY reasons.
 * Pure functions over Buffers; decoders throw only ProtocolError (errors.ts).
 */
import { decodeIPv4, decodeIPv6, encodeIPv4, encodeIPv6 } from './address.js';
import { ProtocolError } from './errors.js';

// ---------------------------------------------------------------------------------------------
// Sizes and link versions

/** Body length of a fixed-length cell (Tor: CELL_PAYLOAD_SIZE; the spec book: CELL_BODY_LEN). */
export const CELL_BODY_LEN = 509;
/** The link protocol versions this implementation speaks, lowest first. */
export const SUPPORTED_LINK_VERSIONS: readonly number[] = Object.freeze([3, 4]);
/** First link version with 4-byte CircIDs (Tor: MIN_LINK_PROTO_FOR_WIDE_CIRC_IDS). */
export const MIN_LINK_VERSION_WIDE_CIRC_IDS = 4;
/** A relay closes a circuit that sends it more RELAY_EARLY cells than this (Tor: MAX_RELAY_EARLY_CELLS_PER_CIRCUIT). */
export const MAX_RELAY_EARLY_CELLS_PER_CIRCUIT = 8;
/** Largest variable-length body CellReader accepts by default; VERSIONS needs a few bytes. */
export const DEFAULT_MAX_VAR_CELL_BODY = 4096;

/** CircID width on a link: 2 bytes before negotiation (version 0) and on v1–v3, 4 bytes on v4+. */
export function circIdLength(linkVersion: number): 2 | 4 {
  return linkVersion >= MIN_LINK_VERSION_WIDE_CIRC_IDS ? 4 : 2;
}

/** Size on the wire of a fixed-length cell: 512 (v3 or unnegotiated) or 514 (v4). */
export function cellSize(linkVersion: number): number {
  return circIdLength(linkVersion) + 1 + CELL_BODY_LEN;
}

/** Largest CircID a link version can carry. */
export function maxCircId(linkVersion: number): number {
  return circIdLength(linkVersion) === 4 ? 0xffff_ffff : 0xffff;
}

// ---------------------------------------------------------------------------------------------
// Commands

/** Cell command values (tor-spec §3; Tor's CELL_*). */
export const CellCommand = Object.freeze({
  PADDING: 0,
  CREATE: 1,
  CREATED: 2,
  RELAY: 3,
  DESTROY: 4,
  CREATE_FAST: 5,
  CREATED_FAST: 6,
  VERSIONS: 7,
  NETINFO: 8,
  RELAY_EARLY: 9,
  CREATE2: 10,
  CREATED2: 11,
  PADDING_NEGOTIATE: 12,
  VPADDING: 128,
  CERTS: 129,
  AUTH_CHALLENGE: 130,
  AUTHENTICATE: 131,
  AUTHORIZE: 132,
});

const COMMAND_NAMES = new Map<number, string>(Object.entries(CellCommand).map(([k, v]) => [v, k]));
const KNOWN_COMMANDS = new Set<number>([
  CellCommand.PADDING,
  CellCommand.RELAY,
  CellCommand.DESTROY,
  CellCommand.VERSIONS,
  CellCommand.NETINFO,
  CellCommand.RELAY_EARLY,
  CellCommand.CREATE2,
  CellCommand.CREATED2,
  CellCommand.CREATE_FAST,
  CellCommand.CREATED_FAST,
]);

/** VERSIONS and every command >= 128 are variable-length (tor-spec §3, link v3+). */
export function isVariableLengthCommand(command: number): boolean {
  return command === CellCommand.VERSIONS || command >= 128;
}

/** True for the commands this implementation handles; drop any other cell silently. */
export function isKnownCellCommand(command: number): boolean {
  return KNOWN_COMMANDS.has(command);
}

export function cellCommandName(command: number): string {
  return COMMAND_NAMES.get(command) ?? `UNKNOWN(${command})`;
}

/** One cell as it travels on a link; `payload` is the body (509 bytes for fixed-length cells). */
export interface Cell {
  circId: number;
  command: number;
  payload: Buffer;
}

// ---------------------------------------------------------------------------------------------
// Encoding

function checkCircId(linkVersion: number, circId: number): void {
  if (!Number.isInteger(circId) || circId < 0 || circId > maxCircId(linkVersion)) {
    throw new ProtocolError(
      'ERR_CIRCID',
      `circuit ID ${circId} does not fit a ${circIdLength(linkVersion)}-byte CircID (link v${linkVersion})`,
    );
  }
}

/**
 * Encodes one cell for a link of `linkVersion` (0 = not negotiated yet). A fixed-length body
 * shorter than 509 bytes is padded with zeros; a longer one is refused (ERR_CELL_TOO_LONG).
 */
export function encodeCell(linkVersion: number, cell: Cell): Buffer {
  const out = Buffer.allocUnsafe(encodedCellLength(linkVersion, cell));
  encodeCellInto(linkVersion, cell, out, 0);
  return out;
}

/** Bytes `cell` takes on a link of `linkVersion` (checks the same as encodeCell). */
export function encodedCellLength(linkVersion: number, cell: Cell): number {
  checkCircId(linkVersion, cell.circId);
  if (!Number.isInteger(cell.command) || cell.command < 0 || cell.command > 255) {
    throw new ProtocolError('ERR_CELL_BAD_FIELD', `cell command ${cell.command} is not a byte`);
  }
  const width = circIdLength(linkVersion);
  if (isVariableLengthCommand(cell.command)) {
    if (cell.payload.length > 0xffff) {
      throw new ProtocolError('ERR_CELL_TOO_LONG', `variable-length body of ${cell.payload.length} bytes`);
    }
    return width + 3 + cell.payload.length;
  }
  if (cell.payload.length > CELL_BODY_LEN) {
    throw new ProtocolError('ERR_CELL_TOO_LONG', `cell body of ${cell.payload.length} bytes > ${CELL_BODY_LEN}`);
  }
  return width + 1 + CELL_BODY_LEN;
}

/**
 * Encodes one cell into `out` at `at`, as encodeCell would, and returns the offset after it: a
 * link can lay its output cells one after another in one buffer (one copy of each body, no
 * Buffer per cell). ERR_CELL_TOO_LONG when `out` has no room for it.
 */
export function encodeCellInto(linkVersion: number, cell: Cell, out: Buffer, at: number): number {
  const size = encodedCellLength(linkVersion, cell);
  if (!Number.isInteger(at) || at < 0 || at + size > out.length) {
    throw new ProtocolError('ERR_CELL_TOO_LONG', `no room for a ${size}-byte cell at ${at} of ${out.length}`);
  }
  const width = circIdLength(linkVersion);
  const payload = cell.payload;
  if (isVariableLengthCommand(cell.command)) {
    out.writeUInt16BE(payload.length, at + width + 1);
    out.set(payload, at + width + 3);
  } else {
    out.set(payload, at + width + 1);
    out.fill(0, at + width + 1 + payload.length, at + size);
  }
  if (width === 4) out.writeUInt32BE(cell.circId, at);
  else out.writeUInt16BE(cell.circId, at);
  out[at + width] = cell.command;
  return at + size;
}

// ---------------------------------------------------------------------------------------------
// Reading

export interface CellReaderOptions {
  /** Link version to frame with; 0 (the default) until VERSIONS has been negotiated. */
  linkVersion?: number;
  /** Largest variable-length body accepted; a longer declared length is fatal to the link. */
  maxVariableBody?: number;
  /**
   * false: next() returns payloads as views into the fed chunks instead of copies (still free
   * to modify in place). For a reader whose caller is done with each cell soon, like the
   * client; a relay that queues cells keeps copies, so a queued cell does not hold a whole read.
   */
  copyPayloads?: boolean;
}

/** The part of a CellReader a live update must carry: bytes of a cell not complete yet. */
export interface CellReaderState {
  linkVersion: number;
  maxVariableBody: number;
  pending: Buffer;
  /** Absent in states exported before it existed: copies. */
  copyPayloads?: boolean;
}

/**
 * Frames cells out of a link's byte stream. `feed()` bytes as they arrive, then call `next()`
 * until it returns null; an incomplete cell stays buffered for the next feed. Framing uses the
 * link version current when `next()` reaches the cell, so a caller that sees VERSIONS can call
 * `setLinkVersion()` before pulling the cells behind it.
 *
 * Cells with unknown commands are returned like any other (check `isKnownCellCommand`, or let
 * `parseCell` throw ERR_CELL_UNKNOWN_COMMAND): framing never depends on knowing a command.
 * A variable-length cell declaring more than `maxVariableBody` bytes throws ERR_CELL_TOO_LONG
 * with `fatalToLink`; the reader stays failed and rethrows it, since the stream can't be trusted.
 *
 * The reader keeps a reference to fed chunks until their bytes are consumed: do not reuse or
 * modify a Buffer after feeding it. Returned payloads are copies (or views, `copyPayloads:
 * false`), free to modify in place.
 */
/** An empty buffer the reader holds when it has nothing (zero bytes: nothing to write into). */
const NOTHING = Buffer.alloc(0);

export class CellReader {
  #linkVersion: number;
  readonly #maxVariableBody: number;
  readonly #copyPayloads: boolean;
  #buf: Buffer = Buffer.alloc(0);
  #pos = 0;
  #failed: ProtocolError | null = null;

  constructor(options: CellReaderOptions = {}) {
    this.#linkVersion = options.linkVersion ?? 0;
    this.#maxVariableBody = options.maxVariableBody ?? DEFAULT_MAX_VAR_CELL_BODY;
    this.#copyPayloads = options.copyPayloads ?? true;
  }

  static fromState(state: CellReaderState): CellReader {
    const reader = new CellReader({ linkVersion: state.linkVersion, maxVariableBody: state.maxVariableBody, copyPayloads: state.copyPayloads ?? true });
    reader.feed(Buffer.from(state.pending));
    return reader;
  }

  exportState(): CellReaderState {
    return {
      linkVersion: this.#linkVersion,
      maxVariableBody: this.#maxVariableBody,
      pending: Buffer.from(this.#buf.subarray(this.#pos)),
      copyPayloads: this.#copyPayloads,
    };
  }

  get linkVersion(): number {
    return this.#linkVersion;
  }

  setLinkVersion(version: number): void {
    if (!Number.isInteger(version) || version < 0 || version > 0xffff) {
      throw new ProtocolError('ERR_LINK_VERSION', `link version ${version}`);
    }
    this.#linkVersion = version;
  }

  /** Bytes received but not yet returned as a cell. */
  get bufferedBytes(): number {
    return this.#buf.length - this.#pos;
  }

  feed(chunk: Uint8Array): void {
    if (this.#failed) throw this.#failed;
    if (chunk.length === 0) return;
    const data = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    if (this.#pos >= this.#buf.length) {
      this.#buf = data;
    } else {
      this.#buf = Buffer.concat([this.#buf.subarray(this.#pos), data]);
    }
    this.#pos = 0;
  }

  /**
   * Copies the bytes fed but not returned as cells to the start of `target` and forgets them;
   * returns how many (0 when none, when they do not fit or the reader failed: then they stay). A link that reads
   * into one reused buffer puts them in front of its next read and feeds both as one chunk, so
   * no read is joined to a leftover by copying the whole read.
   */
  movePendingTo(target: Uint8Array): number {
    const n = this.bufferedBytes;
    if (this.#failed || n === 0 || n > target.length) return 0;
    target.set(this.#buf.subarray(this.#pos), 0);
    this.#buf = NOTHING;
    this.#pos = 0;
    return n;
  }

  /**
   * Copies the bytes still buffered into memory of the reader's own, so the caller may reuse
   * the Buffer it fed (a read buffer) once the cells it wanted are taken. Payloads already
   * returned as views (`copyPayloads: false`) still point into the fed chunk.
   */
  ownPending(): void {
    this.#buf = this.bufferedBytes === 0 ? NOTHING : Buffer.from(this.#buf.subarray(this.#pos));
    this.#pos = 0;
  }

  /** Where the next complete cell lies in the buffer, or null when more bytes are needed. */
  #frame(): { start: number; bodyStart: number; end: number; width: 2 | 4 } | null {
    if (this.#failed) throw this.#failed;
    const buf = this.#buf;
    const start = this.#pos;
    const available = buf.length - start;
    const width = circIdLength(this.#linkVersion);
    if (available < width + 1) return null;
    const command = buf[start + width]!;
    let bodyStart: number;
    let bodyLength: number;
    if (isVariableLengthCommand(command)) {
      if (available < width + 3) return null;
      bodyLength = buf.readUInt16BE(start + width + 1);
      if (bodyLength > this.#maxVariableBody) {
        this.#failed = new ProtocolError(
          'ERR_CELL_TOO_LONG',
          `${cellCommandName(command)} cell declares ${bodyLength} body bytes (limit ${this.#maxVariableBody})`,
          { fatalToLink: true },
        );
        throw this.#failed;
      }
      bodyStart = start + width + 3;
    } else {
      bodyLength = CELL_BODY_LEN;
      bodyStart = start + width + 1;
    }
    const end = bodyStart + bodyLength;
    return buf.length < end ? null : { start, bodyStart, end, width };
  }

  #consume(end: number): void {
    this.#pos = end;
    if (this.#pos === this.#buf.length) {
      this.#buf = NOTHING;
      this.#pos = 0;
    }
  }

  /** The next complete cell, or null when more bytes are needed. */
  next(): Cell | null {
    const f = this.#frame();
    if (f === null) return null;
    const buf = this.#buf;
    const circId = f.width === 4 ? buf.readUInt32BE(f.start) : buf.readUInt16BE(f.start);
    const command = buf[f.start + f.width]!;
    let payload: Buffer;
    if (this.#copyPayloads) {
      payload = Buffer.allocUnsafe(f.end - f.bodyStart);
      buf.copy(payload, 0, f.bodyStart, f.end);
    } else payload = buf.subarray(f.bodyStart, f.end);
    this.#consume(f.end);
    return { circId, command, payload };
  }

  /**
   * The next complete cell as one Buffer of its wire bytes (a copy), or null. A relay can keep
   * cells in this packed form (Tor's packed_cell_t): remove a layer in place through
   * `packedPayload`, rewrite the CircID with `setPackedCircId`, and queue the same Buffer on the
   * next link, with no re-encoding, when both links use the same link version.
   */
  nextPacked(): Buffer | null {
    const f = this.#frame();
    if (f === null) return null;
    const packed = Buffer.allocUnsafe(f.end - f.start);
    this.#buf.copy(packed, 0, f.start, f.end);
    this.#consume(f.end);
    return packed;
  }

  /** Every complete cell buffered now. */
  readAll(): Cell[] {
    const cells: Cell[] = [];
    for (let cell = this.next(); cell !== null; cell = this.next()) cells.push(cell);
    return cells;
  }

  /** At end of stream: throws ERR_CELL_TRUNCATED when part of a cell is still buffered. */
  finish(): void {
    if (this.#failed) throw this.#failed;
    if (this.bufferedBytes > 0) {
      throw new ProtocolError('ERR_CELL_TRUNCATED', `link closed inside a cell (${this.bufferedBytes} bytes left)`, {
        fatalToLink: true,
      });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Packed cells: a cell kept as its wire bytes

function packedWidth(linkVersion: number, packed: Buffer): 2 | 4 {
  const width = circIdLength(linkVersion);
  if (packed.length < width + 1) throw new ProtocolError('ERR_CELL_TRUNCATED', `packed cell of ${packed.length} bytes`);
  return width;
}

export function packedCircId(linkVersion: number, packed: Buffer): number {
  return packedWidth(linkVersion, packed) === 4 ? packed.readUInt32BE(0) : packed.readUInt16BE(0);
}

export function setPackedCircId(linkVersion: number, packed: Buffer, circId: number): void {
  checkCircId(linkVersion, circId);
  if (packedWidth(linkVersion, packed) === 4) packed.writeUInt32BE(circId, 0);
  else packed.writeUInt16BE(circId, 0);
}

export function packedCommand(linkVersion: number, packed: Buffer): number {
  return packed[packedWidth(linkVersion, packed)]!;
}

/** The body of a packed cell as a view into it: changes to it change the packed cell. */
export function packedPayload(linkVersion: number, packed: Buffer): Buffer {
  const width = packedWidth(linkVersion, packed);
  const start = width + (isVariableLengthCommand(packed[width]!) ? 3 : 1);
  if (packed.length < start) throw new ProtocolError('ERR_CELL_TRUNCATED', 'packed cell header truncated');
  return packed.subarray(start);
}

/**
 * Re-encodes a packed cell for another link: new CircID, and the other link's CircID width
 * when the link versions differ (a v3 link and a v4 link). Same version: rewritten in place.
 */
export function repackCell(fromVersion: number, toVersion: number, packed: Buffer, circId: number): Buffer {
  if (circIdLength(fromVersion) === circIdLength(toVersion)) {
    setPackedCircId(toVersion, packed, circId);
    return packed;
  }
  const cell = decodeCell(fromVersion, packed);
  return encodeCell(toVersion, { ...cell, circId });
}

/** Decodes exactly one cell from `bytes` (throws ERR_CELL_TRUNCATED if incomplete, ERR_CELL_TOO_LONG if longer). */
export function decodeCell(linkVersion: number, bytes: Uint8Array, options: { maxVariableBody?: number } = {}): Cell {
  const reader = new CellReader({ linkVersion, ...options });
  reader.feed(Buffer.from(bytes));
  const cell = reader.next();
  if (cell === null) throw new ProtocolError('ERR_CELL_TRUNCATED', `${bytes.length} bytes are not a whole cell`);
  if (reader.bufferedBytes > 0) {
    throw new ProtocolError('ERR_CELL_TOO_LONG', `${reader.bufferedBytes} bytes after the cell`);
  }
  return cell;
}

// ---------------------------------------------------------------------------------------------
// VERSIONS

export function encodeVersionsPayload(versions: readonly number[]): Buffer {
  const out = Buffer.allocUnsafe(versions.length * 2);
  versions.forEach((v, i) => {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new ProtocolError('ERR_LINK_VERSION', `link version ${v}`);
    out.writeUInt16BE(v, i * 2);
  });
  return out;
}

/** The VERSIONS cell that opens a link: CircID 0, 2-byte CircID, no padding. */
export function encodeVersionsCell(versions: readonly number[] = SUPPORTED_LINK_VERSIONS): Buffer {
  return encodeCell(0, { circId: 0, command: CellCommand.VERSIONS, payload: encodeVersionsPayload(versions) });
}

/** A VERSIONS body of odd length is a protocol violation that closes the link (tor-spec §4.1). */
export function decodeVersionsPayload(payload: Buffer): number[] {
  if (payload.length % 2 !== 0) {
    throw new ProtocolError('ERR_CELL_BAD_FIELD', `VERSIONS body of odd length ${payload.length}`, { fatalToLink: true });
  }
  const versions: number[] = [];
  for (let i = 0; i < payload.length; i += 2) versions.push(payload.readUInt16BE(i));
  return versions;
}

/** The highest version in both lists (tor-spec §4.1); none is fatal to the link. */
export function negotiateLinkVersion(ours: readonly number[], theirs: readonly number[]): number {
  let best = -1;
  for (const v of theirs) if (ours.includes(v) && v > best) best = v;
  if (best < 0) {
    throw new ProtocolError(
      'ERR_LINK_NO_COMMON_VERSION',
      `no common link version: ours [${ours.join(',')}], theirs [${theirs.join(',')}]`,
      { fatalToLink: true },
    );
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// NETINFO

/** An address in NETINFO: ATYPE 4 (IPv4) or 6 (IPv6). */
export interface NetAddress {
  type: 4 | 6;
  address: string;
}

export interface Netinfo {
  /** Seconds since the epoch (clients send 0). */
  time: number;
  /** The peer's address as the sender sees it; null when it was of an unknown type. */
  otherAddress: NetAddress | null;
  /** The sender's own addresses (unknown types skipped). */
  myAddresses: NetAddress[];
}

function encodeNetAddress(a: NetAddress): Buffer {
  const raw = a.type === 4 ? encodeIPv4(a.address) : encodeIPv6(a.address);
  return Buffer.concat([Buffer.from([a.type, raw.length]), raw]);
}

export function encodeNetinfoPayload(info: Netinfo): Buffer {
  if (!Number.isInteger(info.time) || info.time < 0 || info.time > 0xffff_ffff) {
    throw new ProtocolError('ERR_CELL_BAD_FIELD', `NETINFO time ${info.time}`);
  }
  if (info.myAddresses.length > 255) throw new ProtocolError('ERR_CELL_TOO_LONG', 'more than 255 NETINFO addresses');
  const time = Buffer.allocUnsafe(4);
  time.writeUInt32BE(info.time, 0);
  const other = info.otherAddress
    ? encodeNetAddress(info.otherAddress)
    : Buffer.from([4, 4, 0, 0, 0, 0]); // "unknown" is sent as 0.0.0.0
  const body = Buffer.concat([time, other, Buffer.from([info.myAddresses.length]), ...info.myAddresses.map(encodeNetAddress)]);
  if (body.length > CELL_BODY_LEN) throw new ProtocolError('ERR_CELL_TOO_LONG', 'NETINFO body does not fit a cell');
  return body;
}

function decodeNetAddress(payload: Buffer, offset: number): { address: NetAddress | null; next: number } {
  if (payload.length < offset + 2) throw new ProtocolError('ERR_CELL_TRUNCATED', 'NETINFO address header truncated');
  const type = payload[offset]!;
  const len = payload[offset + 1]!;
  const next = offset + 2 + len;
  if (payload.length < next) throw new ProtocolError('ERR_CELL_TRUNCATED', 'NETINFO address truncated');
  if (type === 4 && len === 4) return { address: { type: 4, address: decodeIPv4(payload, offset + 2) }, next };
  if (type === 6 && len === 16) return { address: { type: 6, address: decodeIPv6(payload, offset + 2) }, next };
  return { address: null, next }; // unknown type, or a length that does not match: skipped
}

/** Trailing bytes (padding) are ignored, as tor-spec §4.5 asks. */
export function decodeNetinfoPayload(payload: Buffer): Netinfo {
  if (payload.length < 4) throw new ProtocolError('ERR_CELL_TRUNCATED', 'NETINFO time truncated');
  const time = payload.readUInt32BE(0);
  const other = decodeNetAddress(payload, 4);
  if (payload.length < other.next + 1) throw new ProtocolError('ERR_CELL_TRUNCATED', 'NETINFO address count truncated');
  const count = payload[other.next]!;
  let offset = other.next + 1;
  const myAddresses: NetAddress[] = [];
  for (let i = 0; i < count; i++) {
    const a = decodeNetAddress(payload, offset);
    if (a.address) myAddresses.push(a.address);
    offset = a.next;
  }
  return { time, otherAddress: other.address, myAddresses };
}

// ---------------------------------------------------------------------------------------------
// CREATE2 / CREATED2 (tor-spec §5.1)

/** HTYPE values (Tor's ONION_HANDSHAKE_TYPE_*); the example speaks ntor only. */
export const HandshakeType = Object.freeze({ TAP: 0, FAST: 1, NTOR: 2, NTOR_V3: 3 });

export interface Create2 {
  htype: number;
  hdata: Buffer;
}

const malformed = (what: string): ProtocolError =>
  new ProtocolError('ERR_CELL_TRUNCATED', what, { destroyReason: 1 /* PROTOCOL */ });

export function encodeCreate2Payload(create: Create2): Buffer {
  if (create.hdata.length > CELL_BODY_LEN - 4) throw new ProtocolError('ERR_CELL_TOO_LONG', 'CREATE2 handshake too long');
  const out = Buffer.alloc(4 + create.hdata.length);
  out.writeUInt16BE(create.htype, 0);
  out.writeUInt16BE(create.hdata.length, 2);
  out.set(create.hdata, 4);
  return out;
}

export function decodeCreate2Payload(payload: Buffer): Create2 {
  if (payload.length < 4) throw malformed('CREATE2 header truncated');
  const htype = payload.readUInt16BE(0);
  const hlen = payload.readUInt16BE(2);
  if (hlen > CELL_BODY_LEN - 4) {
    throw new ProtocolError('ERR_CELL_TOO_LONG', `CREATE2 HLEN ${hlen}`, { destroyReason: 1 });
  }
  if (payload.length < 4 + hlen) throw malformed('CREATE2 handshake truncated');
  return { htype, hdata: Buffer.from(payload.subarray(4, 4 + hlen)) };
}

export function encodeCreated2Payload(hdata: Buffer): Buffer {
  if (hdata.length > CELL_BODY_LEN - 2) throw new ProtocolError('ERR_CELL_TOO_LONG', 'CREATED2 handshake too long');
  const out = Buffer.alloc(2 + hdata.length);
  out.writeUInt16BE(hdata.length, 0);
  out.set(hdata, 2);
  return out;
}

export function decodeCreated2Payload(payload: Buffer): Buffer {
  if (payload.length < 2) throw malformed('CREATED2 header truncated');
  const hlen = payload.readUInt16BE(0);
  if (hlen > CELL_BODY_LEN - 2) throw new ProtocolError('ERR_CELL_TOO_LONG', `CREATED2 HLEN ${hlen}`, { destroyReason: 1 });
  if (payload.length < 2 + hlen) throw malformed('CREATED2 handshake truncated');
  return Buffer.from(payload.subarray(2, 2 + hlen));
}

// ---------------------------------------------------------------------------------------------
// EXTEND2 / EXTENDED2 relay bodies (tor-spec §5.1.2)

export const LinkSpecifierType = Object.freeze({ IPV4: 0, IPV6: 1, LEGACY_ID: 2, ED25519_ID: 3 });

export type LinkSpecifier =
  | { kind: 'ipv4'; host: string; port: number }
  | { kind: 'ipv6'; host: string; port: number }
  /** 20-byte identity digest (in this example: SHA-1 of the relay's Ed25519 identity key). */
  | { kind: 'legacy-id'; identity: Buffer }
  | { kind: 'ed25519-id'; key: Buffer }
  /** A type this implementation does not know; kept so it can be passed on, ignored otherwise. */
  | { kind: 'unknown'; type: number; data: Buffer };

export interface Extend2 {
  linkSpecifiers: LinkSpecifier[];
  htype: number;
  hdata: Buffer;
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 0xffff) throw new ProtocolError('ERR_CELL_BAD_FIELD', `port ${port}`);
}

function encodeLinkSpecifier(spec: LinkSpecifier): Buffer {
  let type: number;
  let data: Buffer;
  switch (spec.kind) {
    case 'ipv4':
    case 'ipv6': {
      checkPort(spec.port);
      const addr = spec.kind === 'ipv4' ? encodeIPv4(spec.host) : encodeIPv6(spec.host);
      data = Buffer.alloc(addr.length + 2);
      data.set(addr, 0);
      data.writeUInt16BE(spec.port, addr.length);
      type = spec.kind === 'ipv4' ? LinkSpecifierType.IPV4 : LinkSpecifierType.IPV6;
      break;
    }
    case 'legacy-id':
      if (spec.identity.length !== 20) throw new ProtocolError('ERR_CELL_BAD_FIELD', 'legacy identity must be 20 bytes');
      [type, data] = [LinkSpecifierType.LEGACY_ID, spec.identity];
      break;
    case 'ed25519-id':
      if (spec.key.length !== 32) throw new ProtocolError('ERR_CELL_BAD_FIELD', 'Ed25519 identity must be 32 bytes');
      [type, data] = [LinkSpecifierType.ED25519_ID, spec.key];
      break;
    case 'unknown':
      if (spec.data.length > 255) throw new ProtocolError('ERR_CELL_TOO_LONG', 'link specifier too long');
      [type, data] = [spec.type, spec.data];
      break;
  }
  return Buffer.concat([Buffer.from([type, data.length]), data]);
}

/** Body of a RELAY_EXTEND2 (at most 498 bytes: it travels in one relay cell). */
export function encodeExtend2(ext: Extend2): Buffer {
  if (ext.linkSpecifiers.length > 255) throw new ProtocolError('ERR_CELL_TOO_LONG', 'too many link specifiers');
  const body = Buffer.concat([
    Buffer.from([ext.linkSpecifiers.length]),
    ...ext.linkSpecifiers.map(encodeLinkSpecifier),
    encodeCreate2Payload({ htype: ext.htype, hdata: ext.hdata }),
  ]);
  if (body.length > 498) throw new ProtocolError('ERR_CELL_TOO_LONG', `EXTEND2 body of ${body.length} bytes`);
  return body;
}

export function decodeExtend2(data: Buffer): Extend2 {
  if (data.length < 1) throw malformed('EXTEND2 truncated');
  const count = data[0]!;
  let offset = 1;
  const linkSpecifiers: LinkSpecifier[] = [];
  for (let i = 0; i < count; i++) {
    if (data.length < offset + 2) throw malformed('EXTEND2 link specifier header truncated');
    const type = data[offset]!;
    const len = data[offset + 1]!;
    const start = offset + 2;
    offset = start + len;
    if (data.length < offset) throw malformed('EXTEND2 link specifier truncated');
    const spec = data.subarray(start, offset);
    const bad = (): never => {
      throw new ProtocolError('ERR_CELL_BAD_FIELD', `link specifier type ${type} with length ${len}`, {
        destroyReason: 1,
      });
    };
    if (type === LinkSpecifierType.IPV4) {
      if (len !== 6) bad();
      linkSpecifiers.push({ kind: 'ipv4', host: decodeIPv4(spec), port: spec.readUInt16BE(4) });
    } else if (type === LinkSpecifierType.IPV6) {
      if (len !== 18) bad();
      linkSpecifiers.push({ kind: 'ipv6', host: decodeIPv6(spec), port: spec.readUInt16BE(16) });
    } else if (type === LinkSpecifierType.LEGACY_ID) {
      if (len !== 20) bad();
      linkSpecifiers.push({ kind: 'legacy-id', identity: Buffer.from(spec) });
    } else if (type === LinkSpecifierType.ED25519_ID) {
      if (len !== 32) bad();
      linkSpecifiers.push({ kind: 'ed25519-id', key: Buffer.from(spec) });
    } else {
      linkSpecifiers.push({ kind: 'unknown', type, data: Buffer.from(spec) });
    }
  }
  const create = decodeCreate2Payload(data.subarray(offset));
  return { linkSpecifiers, htype: create.htype, hdata: create.hdata };
}

/** Where an EXTEND2 asks to go: one IPv4 address and port, and the 20-byte identity to check. */
export interface ExtendTarget {
  host: string;
  port: number;
  identity: Buffer;
}

/**
 * The target of an EXTEND2, checked as tor-spec §5.1.2 asks: exactly one IPv4 specifier and one
 * legacy identity (a duplicate is refused), and an identity that is not all zeros. Any failure is
 * ERR_CELL_BAD_FIELD with DESTROY reason PROTOCOL.
 */
export function extendTargetOf(ext: Extend2): ExtendTarget {
  const fail = (why: string): never => {
    throw new ProtocolError('ERR_CELL_BAD_FIELD', `EXTEND2: ${why}`, { destroyReason: 1 });
  };
  const v4 = ext.linkSpecifiers.filter((s) => s.kind === 'ipv4');
  const ids = ext.linkSpecifiers.filter((s) => s.kind === 'legacy-id');
  if (v4.length !== 1) fail(`${v4.length} IPv4 specifiers`);
  if (ids.length !== 1) fail(`${ids.length} identity specifiers`);
  const addr = v4[0] as { host: string; port: number };
  const identity = (ids[0] as { identity: Buffer }).identity;
  if (identity.every((b) => b === 0)) fail('all-zero identity');
  return { host: addr.host, port: addr.port, identity };
}

/** EXTENDED2 carries the CREATED2 body (HLEN | HDATA) unchanged. */
export const encodeExtended2 = encodeCreated2Payload;
export const decodeExtended2 = decodeCreated2Payload;

// ---------------------------------------------------------------------------------------------
// DESTROY (tor-spec §5.4)

/** DESTROY reasons (Tor's END_CIRC_REASON_*). CHANNEL_CLOSED was OR_CONN_CLOSED in 0.2.1, same value. */
export const DestroyReason = Object.freeze({
  NONE: 0,
  PROTOCOL: 1,
  INTERNAL: 2,
  REQUESTED: 3,
  HIBERNATING: 4,
  RESOURCELIMIT: 5,
  CONNECTFAILED: 6,
  OR_IDENTITY: 7,
  CHANNEL_CLOSED: 8,
  FINISHED: 9,
  TIMEOUT: 10,
  DESTROYED: 11,
  NOSUCHSERVICE: 12,
});

const DESTROY_NAMES = new Map<number, string>(Object.entries(DestroyReason).map(([k, v]) => [v, k]));

export function destroyReasonName(reason: number): string {
  return DESTROY_NAMES.get(reason) ?? `UNKNOWN(${reason})`;
}

export function encodeDestroyPayload(reason: number): Buffer {
  if (!Number.isInteger(reason) || reason < 0 || reason > 255) {
    throw new ProtocolError('ERR_CELL_BAD_FIELD', `DESTROY reason ${reason}`);
  }
  return Buffer.from([reason]);
}

/** The reason byte; an empty body (never sent by this code) reads as NONE. */
export function decodeDestroyPayload(payload: Buffer): number {
  return payload.length > 0 ? payload[0]! : DestroyReason.NONE;
}

// ---------------------------------------------------------------------------------------------
// One decoder for every kept command

export type ParsedCell =
  | { command: 'PADDING'; circId: number }
  | { command: 'VERSIONS'; circId: number; versions: number[] }
  | { command: 'NETINFO'; circId: number; netinfo: Netinfo }
  | { command: 'CREATE2'; circId: number; create: Create2 }
  | { command: 'CREATED2'; circId: number; hdata: Buffer }
  /** X (20 bytes): hand it to createFastServer. */
  | { command: 'CREATE_FAST'; circId: number; x: Buffer }
  /** Y | KH (40 bytes): hand it to createFastClientFinish. */
  | { command: 'CREATED_FAST'; circId: number; reply: Buffer }
  | { command: 'DESTROY'; circId: number; reason: number }
  /** The 509-byte relay body, still encrypted (relay-crypto.ts takes it from here). */
  | { command: 'RELAY' | 'RELAY_EARLY'; circId: number; body: Buffer };

/**
 * Decodes a cell's body by command. Also checks where the CircID must be 0 (VERSIONS, NETINFO,
 * PADDING) or nonzero (circuit cells): a violation is ERR_CIRCID. An unknown command throws
 * ERR_CELL_UNKNOWN_COMMAND, which a relay treats as "drop silently".
 */
export function parseCell(cell: Cell): ParsedCell {
  const { circId, command, payload } = cell;
  const linkLevel = command === CellCommand.VERSIONS || command === CellCommand.NETINFO || command === CellCommand.PADDING;
  if (isKnownCellCommand(command)) {
    if (linkLevel && circId !== 0 && command !== CellCommand.PADDING) {
      throw new ProtocolError('ERR_CIRCID', `${cellCommandName(command)} with circuit ID ${circId}`);
    }
    if (!linkLevel && circId === 0) {
      throw new ProtocolError('ERR_CIRCID', `${cellCommandName(command)} with circuit ID 0`);
    }
  }
  switch (command) {
    case CellCommand.PADDING:
      return { command: 'PADDING', circId };
    case CellCommand.VERSIONS:
      return { command: 'VERSIONS', circId, versions: decodeVersionsPayload(payload) };
    case CellCommand.NETINFO:
      return { command: 'NETINFO', circId, netinfo: decodeNetinfoPayload(payload) };
    case CellCommand.CREATE2:
      return { command: 'CREATE2', circId, create: decodeCreate2Payload(payload) };
    case CellCommand.CREATED2:
      return { command: 'CREATED2', circId, hdata: decodeCreated2Payload(payload) };
    case CellCommand.DESTROY:
      return { command: 'DESTROY', circId, reason: decodeDestroyPayload(payload) };
    case CellCommand.CREATE_FAST:
      if (payload.length < 20) throw malformed('CREATE_FAST body truncated');
      return { command: 'CREATE_FAST', circId, x: Buffer.from(payload.subarray(0, 20)) };
    case CellCommand.CREATED_FAST:
      if (payload.length < 40) throw malformed('CREATED_FAST body truncated');
      return { command: 'CREATED_FAST', circId, reply: Buffer.from(payload.subarray(0, 40)) };
    case CellCommand.RELAY:
    case CellCommand.RELAY_EARLY:
      if (payload.length !== CELL_BODY_LEN) throw new ProtocolError('ERR_CELL_TRUNCATED', 'relay cell body is not 509 bytes');
      return { command: command === CellCommand.RELAY ? 'RELAY' : 'RELAY_EARLY', circId, body: payload };
    default:
      throw new ProtocolError('ERR_CELL_UNKNOWN_COMMAND', `cell command ${cellCommandName(command)}`);
  }
}
