// libevent's flag values, as the C API spells them.

/** Event bits (event_new's `events`, a callback's `what`). */
export const EV = Object.freeze({
  /** EV_TIMEOUT: the timeout expired. */
  TIMEOUT: 0x01,
  /** EV_READ: readable (data, EOF or an error to read). */
  READ: 0x02,
  /** EV_WRITE: writable. */
  WRITE: 0x04,
  /** EV_SIGNAL: the fd is a signal number. */
  SIGNAL: 0x08,
  /** EV_PERSIST: stays added after it fires. */
  PERSIST: 0x10,
  /** EV_ET: edge-triggered (backends with the `et` feature). */
  ET: 0x20,
  /** EV_CLOSED: the peer closed (backends with the `earlyClose` feature). */
  CLOSED: 0x80,
} as const);

/** event_base_loop flags. */
export const EVLOOP = Object.freeze({
  /** Wait for events once, run them, return. */
  ONCE: 1,
  /** Do not wait: run what is ready and return. */
  NONBLOCK: 2,
  /** Keep running with no events added, until loopexit()/loopbreak(). */
  NO_EXIT_ON_EMPTY: 4,
} as const);

/** event_base_get_num_events flags. */
export const COUNT = Object.freeze({
  /** Events in the active queues. */
  ACTIVE: 1,
  /** Virtual events (a pending loopexit counts here). */
  VIRTUAL: 2,
  /** Added events (one with a timeout counts twice). */
  ADDED: 4,
} as const);

/** Set by the addon on `what` when the event left every queue before its callback ran. */
export const WHAT_NO_LONGER_PENDING = 0x100;
