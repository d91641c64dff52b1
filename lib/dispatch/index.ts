// node-libevent/dispatch: the untyped message dispatcher (Tor's lib/dispatch).
//
// Everything here works on small integers. A `Naming` holds four independent registries
// (messages, channels, payload types, subsystems) that turn names into dense IDs; each
// dispatcher set-up owns its own, so there is no process-wide state. A `DispatchConfig` records
// which channel and type each message uses, the dispose/format functions of each type, and the
// receivers of each message; `new Dispatcher(cfg)` freezes that into routing tables.
//
// A dispatcher keeps one FIFO queue per channel. `send` appends a message to its channel and,
// when the queue was empty, calls the channel's alert function; `flush` delivers queued messages
// to their receivers in registration order. What the alert does decides the delivery policy
// (flush on the spot, schedule a flush, or nothing) and belongs to the layers above. Payloads
// are owned by the dispatcher from `send` on and disposed exactly once.
//
// This layer knows nothing of types, subsystems' lifecycles or event loops; node-libevent/pubsub
// builds typed messages on it. It imports nothing else from the project.

export { MAX_IDS, MAX_NAME_BYTES, Names, Naming } from './names.js';
export { DispatchError, type DispatchErrorCode } from './errors.js';
export { MessageHeader } from './header.js';
export { DispatchConfig, type Receiver, type ReceiverRecord, type TypeFns } from './config.js';
export { Dispatcher, MessageLink, flushImmediately, type AlertFn, type DeliveryErrorHandler, type DeliveryErrorInfo } from './dispatcher.js';
