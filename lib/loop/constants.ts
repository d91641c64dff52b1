// libevent's flag values, as the C API spells them.

/** Event bits (event_new's `events`, a callback's `what`). */
export const EV = Object.freeze({
  TIMEOUT: 0x01,
  READ: 0x02,
  WRITE: 0x04,
  SIGNAL: 0x08,
  PERSIST: 0x10,
  ET: 0x20,
  CLOSED: 0x80,
} as const);

/** event_base_loop flags. */
export const EVLOOP = Object.freeze({ ONCE: 1, NONBLOCK: 2, NO_EXIT_ON_EMPTY: 4 } as const);

/** event_base_get_num_events flags. */
export const COUNT = Object.freeze({ ACTIVE: 1, VIRTUAL: 2, ADDED: 4 } as const);

/** Set by the addon on `what` when the event left every queue before its callback ran. */
export const WHAT_NO_LONGER_PENDING = 0x100;
