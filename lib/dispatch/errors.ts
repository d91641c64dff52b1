/** Codes carried by DispatchError, so callers can tell failures apart without parsing text. */
export type DispatchErrorCode =
  | 'ERR_DISPATCH_NAME' // a name is empty, too long, or a registry is full
  | 'ERR_DISPATCH_ID' // an ID is not a valid small integer
  | 'ERR_DISPATCH_CONFIG' // the configuration cannot be turned into a dispatcher
  | 'ERR_DISPATCH_CHANNEL' // a channel ID the dispatcher does not have
  | 'ERR_DISPATCH_HEADER'; // a message header that disagrees with the configuration

/** A misuse of the dispatch layer (bad name, bad ID, inconsistent message header). */
export class DispatchError extends Error {
  /** Always 'DispatchError'. */
  override readonly name = 'DispatchError';
  /**
   * @param code - which misuse
   * @param message - what was wrong
   */
  constructor(
    /** Which misuse (see {@link DispatchErrorCode}). */
    readonly code: DispatchErrorCode,
    message: string,
  ) {
    super(message);
  }
}
