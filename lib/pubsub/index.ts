// node-libevent/pubsub: typed publish–subscribe over the dispatcher (Tor's lib/pubsub).
//
// A message is declared once with `defineMessage<T>(name, typeName)`; the payload type T is
// checked by the compiler on every publish and every hook. Subsystems register through a
// `Connector` handed out by a `PubsubBuilder`: `addPub` returns the subsystem's `Publisher<T>`,
// `addSub` attaches a hook, `registerType` gives a payload type its dispose/format functions.
// Registrations are charged to the connector's subsystem, so the checks can name it.
//
// `finalize()` checks the whole configuration at once (every message has publishers and
// subscribers, nobody subscribes to its own message, one channel and one type per message,
// exclusivity, type functions registered consistently) and reports every problem in one
// PubsubConfigError; a registration that contradicts an earlier one also fails on the spot.
// Then it builds the dispatcher and connects the publishers. A publisher is inert before that
// and after `close()`: publishing returns false and disposes the payload.
//
// How and when queued messages get delivered (alert functions, flushing) is left to the caller,
// typically node-libevent/mainloop. This layer imports only node-libevent/dispatch.

export { defineMessage, type Hook, type MessageDef, type PayloadOf } from './message.js';
export {
  PubsubBuilder,
  type Connector,
  type Publisher,
  type Pubsub,
  type PubsubBuilderOptions,
  type PubsubErrorHandler,
  type PubsubErrorInfo,
  type PubsubFlags,
  type Registration,
  type TypeFunctions,
  type TypeRegistration,
} from './builder.js';
export { PubsubConfigError, type PubsubProblem, type PubsubProblemCode } from './errors.js';
export { flushImmediately, MessageHeader, Naming, type AlertFn } from '../dispatch/index.js';
