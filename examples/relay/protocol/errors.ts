/**
 * Coded errors of the relay protocol layer.
 *
 * Every decoder and state machine in examples/relay/protocol throws only `ProtocolError`, so a
 * relay can catch one type, log `code`, and act: drop the cell, close the stream (`endReason`),
 * tear the circuit down with DESTROY (`destroyReason`), or close the link (`fatalToLink`).
 * Bad input from a peer must never surface as a TypeError or RangeError from a Buffer read.
 */

/** Every code this layer produces. Codes are a contract: the relay and its tests switch on them. */
export type ProtocolErrorCode =
  // framing (cell.ts)
  | 'ERR_CELL_TRUNCATED' // fewer bytes than the header or the declared length needs
  | 'ERR_CELL_TOO_LONG' // a declared length beyond what the format or our limit allows
  | 'ERR_CELL_UNKNOWN_COMMAND' // a command this layer does not know (callers drop these silently)
  | 'ERR_CELL_BAD_FIELD' // a field with a value the format forbids (address type, HTYPE, ...)
  | 'ERR_LINK_VERSION' // an unsupported or unnegotiated link protocol version
  | 'ERR_LINK_NO_COMMON_VERSION' // VERSIONS lists share no version
  | 'ERR_LINK_HANDSHAKE' // a cell out of order in the link handshake (link-handshake.ts)
  | 'ERR_CIRCID' // a circuit ID that is 0, has the wrong high bit, or is unknown/in use
  | 'ERR_CIRCID_EXHAUSTED' // no free circuit ID after the allowed attempts
  | 'ERR_EXTEND' // an EXTEND2 a relay cannot act on (outside RELAY_EARLY, a second one, to itself)
  // relay cells (relay-cell.ts, relay-crypto.ts)
  | 'ERR_RELAY_LENGTH' // relay header length > 498
  | 'ERR_RELAY_BAD_BODY' // a relay command's body does not parse (BEGIN without NUL, bad port...)
  | 'ERR_RELAY_DIGEST' // recognized == 0 but the running digest does not match
  | 'ERR_RELAY_UNRECOGNIZED' // a cell no hop recognized (at the origin, or at the last hop)
  | 'ERR_CRYPTO_STATE' // exported cipher/digest state that cannot be imported
  // ntor (ntor.ts)
  | 'ERR_NTOR_LENGTH' // onionskin or reply of the wrong size
  | 'ERR_NTOR_NODEID' // the onionskin names another relay
  | 'ERR_NTOR_DH' // a Diffie-Hellman result at the point at infinity (all-zero)
  | 'ERR_NTOR_AUTH' // the relay's AUTH does not verify
  | 'ERR_FAST_AUTH' // CREATED_FAST's key hash does not match (create-fast.ts)
  // flow control (sendme.ts)
  | 'ERR_WINDOW_OVERRUN' // the peer sent more DATA than the window allows
  | 'ERR_SENDME_UNEXPECTED' // a SENDME that would push a package window past its maximum
  | 'ERR_SENDME_AUTH' // an authenticated SENDME whose digest we did not expect
  | 'ERR_SENDME_VERSION' // a SENDME version below the accepted minimum
  // directory (consensus.ts)
  | 'ERR_DIR_MALFORMED' // a descriptor or consensus that does not parse
  | 'ERR_DIR_SIGNATURE' // a signature that does not verify
  | 'ERR_DIR_UNTRUSTED' // signed by a key not in the trusted table
  | 'ERR_DIR_EXPIRED' // outside its validity period
  | 'ERR_DIR_NOT_YET_VALID';

export interface ProtocolErrorOptions {
  /** The DESTROY reason to send toward the client when this ends a circuit (cell.ts DestroyReason). */
  destroyReason?: number;
  /** The END reason to send when this ends a stream (relay-cell.ts EndReason). */
  endReason?: number;
  /** True when the link's byte stream cannot be trusted any more (framing lost): close the link. */
  fatalToLink?: boolean;
  cause?: unknown;
}

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly code: ProtocolErrorCode;
  readonly destroyReason: number | undefined;
  readonly endReason: number | undefined;
  readonly fatalToLink: boolean;

  constructor(code: ProtocolErrorCode, message: string, options: ProtocolErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.destroyReason = options.destroyReason;
    this.endReason = options.endReason;
    this.fatalToLink = options.fatalToLink ?? false;
  }
}

/**
 * True for a ProtocolError from any copy of this module. A live update loads fresh copies of the
 * protocol modules, so an error thrown by the previous version's code fails `instanceof`.
 */
export function isProtocolError(value: unknown): value is ProtocolError {
  return (
    value instanceof Error &&
    value.name === 'ProtocolError' &&
    typeof (value as { code?: unknown }).code === 'string'
  );
}
