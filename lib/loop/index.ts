// node-libevent/loop: libevent 2.1 event bases for TypeScript.
//
// The lowest layer. A native addon (native/) owns every libevent object; this module is its
// typed face: EventBase (a struct event_base with its two run modes), Event (a struct
// event whose callback can be rewritten in place), libevent's flag values, and fd helpers.
// Nothing here knows about publish-subscribe or updates.
import { binding } from './native.js';

export { AbortError } from './abort.js';
export { type CallbackCensus, EventBase, type EventBaseOptions, type Feature, type Method, type RewireOptions, type RunOptions } from './base.js';
export { COUNT, EV, EVLOOP } from './constants.js';
export { Event, type Callback } from './event.js';
export { io, type IoBuffer } from './io.js';
export { type OnceOptions, type SleepOptions, type WaitOptions } from './promises.js';
export { rebindByReadd, rebindByRebase, rebindByReinit, type RebindPair } from './rebind.js';

/**
 * The backends this libevent offers, most preferred first.
 *
 * @returns e.g. ['epoll', 'poll', 'select']
 */
export function supportedMethods(): string[] {
  return binding.supportedMethods();
}

/**
 * The libevent version loaded.
 *
 * @returns e.g. '2.1.12-stable'
 */
export function libeventVersion(): string {
  return binding.libeventVersion();
}
