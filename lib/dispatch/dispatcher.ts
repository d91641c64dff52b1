import { checkId, type DispatchConfig, type Receiver, type ReceiverRecord, type TypeFns } from './config.js';
import { DispatchError } from './errors.js';
import type { MessageHeader } from './header.js';

/**
 * Called when a channel's queue goes from empty to non-empty, after the message was appended
 * (so an alert function that flushes delivers it). Never called for a queue that already held
 * messages.
 */
export type AlertFn = (dispatcher: Dispatcher, channel: number, arg: unknown) => void;

/** Where a delivery error came from. `subsystem` is the failing receiver's, or null for dispose. */
export interface DeliveryErrorInfo {
  /** The message's header. */
  readonly header: MessageHeader;
  /** The failing receiver's subsystem ID, or null for a dispose function. */
  readonly subsystem: number | null;
  /** Whether a receiver or the type's dispose function threw. */
  readonly stage: 'receive' | 'dispose';
}

/**
 * Gets errors thrown by receivers and dispose functions. Delivery of the message to its other
 * receivers goes on either way. Without a handler the error is rethrown when the flush (or the
 * send that dropped the message) has finished.
 */
export type DeliveryErrorHandler = (error: unknown, info: DeliveryErrorInfo) => void;

const noop = (): void => {};
const noFormat = (): string => '<>';

/**
 * The alert function for immediate delivery: it flushes the channel on the sender's stack, so
 * every receiver has run when `send` returns (depth-first when receivers send in turn). The
 * dispatcher recognizes it and then delivers straight from `send` while the queue is empty,
 * which behaves the same but skips the queue.
 */
export const flushImmediately: AlertFn = (dispatcher, channel) => {
  dispatcher.flush(channel);
};

/** Receivers and routing of one message. Immutable once the dispatcher exists. */
class Route {
  /** The sender that used this route last, and its link (most messages have one sender). */
  lastHeader: MessageHeader | null = null;
  lastLink: MessageLink | null = null;

  constructor(
    readonly channel: number,
    readonly type: number,
    readonly fns: readonly Receiver[],
    readonly subsystems: readonly number[],
  ) {}
}

/**
 * One channel's FIFO: a ring of (link, payload) pairs in one array, two slots per entry, whose
 * capacity is a power of two and only grows. A popped payload slot is cleared so the queue
 * keeps no payload alive; link slots are not (links live as long as the dispatcher).
 */
class ChannelQueue {
  ring: unknown[];
  /** Entry index of the oldest message, and the number of messages. */
  head = 0;
  size = 0;
  /** Capacity in entries, minus one. */
  mask: number;
  alert: AlertFn = noop;
  alertArg: unknown = undefined;
  /** True when `alert` is flushImmediately. */
  immediate = false;
  /** True once the dispatcher is closed: sends dispose their payload and are refused. */
  closed = false;

  constructor(
    readonly core: Core,
    readonly channel: number,
    capacity: number,
  ) {
    this.ring = slots(2 * capacity);
    this.mask = capacity - 1;
  }

  grow(): void {
    const cap = this.mask + 1;
    const ring: unknown[] = slots(4 * cap);
    for (let i = 0; i < this.size; i++) {
      const j = (this.head + i) & this.mask;
      ring[2 * i] = this.ring[2 * j];
      ring[2 * i + 1] = this.ring[2 * j + 1];
    }
    this.ring = ring;
    this.head = 0;
    this.mask = 2 * cap - 1;
  }
}

function slots(n: number): undefined[] {
  const a: undefined[] = [];
  for (let i = 0; i < n; i++) a.push(undefined);
  return a;
}

const INITIAL_CAPACITY = 16;

/** What the queues and links of one dispatcher share: the error handler. */
class Core {
  dispatcher: Dispatcher | null = null;
  onError: DeliveryErrorHandler | null = null;

  failed(
    errors: unknown[] | undefined,
    err: unknown,
    header: MessageHeader,
    subsystem: number | null,
    stage: 'receive' | 'dispose',
  ): unknown[] | undefined {
    const handler = this.onError;
    if (handler !== null) {
      try {
        handler(err, { header, subsystem, stage });
        return errors;
      } catch (handlerErr) {
        err = handlerErr;
      }
    }
    (errors ??= []).push(err);
    return errors;
  }
}

/**
 * A sender's message resolved against one dispatcher (`Dispatcher.link`): the header was
 * checked against the configuration once, and the link knows its channel queue, receivers and
 * dispose function, so `send` checks nothing per message. Behaves exactly like
 * `dispatcher.send(link.header, payload)`.
 */
export class MessageLink {
  /** @internal */ readonly queue: ChannelQueue;
  /** @internal */ readonly fns: readonly Receiver[];
  /** @internal */ readonly subsystems: readonly number[];
  /** @internal */ readonly dispose: ((payload: unknown) => void) | null;

  /** @internal */
  constructor(
    /** The header this link sends as. */
    readonly header: MessageHeader,
    route: Route,
    queue: ChannelQueue,
    dispose: ((payload: unknown) => void) | null,
  ) {
    this.queue = queue;
    this.fns = route.fns;
    this.subsystems = route.subsystems;
    this.dispose = dispose;
  }

  /**
   * `Dispatcher.send` for this link's header.
   *
   * @param payload - owned by the dispatcher from here on
   * @returns true when taken, false (payload disposed) once closed
   * @throws an error of an immediate delivery's receiver
   */
  send(payload: unknown): boolean {
    const q = this.queue;
    if (q.size === 0) {
      if (q.closed || this.fns.length === 0) return this.#drop(payload);
      if (q.immediate) {
        // What flushImmediately would do with this message, minus the round trip through the queue.
        deliver(this, payload);
        return true;
      }
    } else if (this.fns.length === 0) {
      return this.#drop(payload);
    }
    if (q.size === q.mask + 1) q.grow();
    const tail = 2 * ((q.head + q.size) & q.mask);
    const ring = q.ring;
    ring[tail] = this;
    ring[tail + 1] = payload;
    if (++q.size === 1) q.alert(q.core.dispatcher!, q.channel, q.alertArg);
    return true;
  }

  /** A message nobody receives, or sent after close: disposed at once, never queued. */
  #drop(payload: unknown): boolean {
    const dispose = this.dispose;
    if (this.queue.closed) {
      if (dispose !== null) dispose(payload);
      return false;
    }
    if (dispose !== null) {
      try {
        dispose(payload);
      } catch (err) {
        const errors = this.queue.core.failed(undefined, err, this.header, null, 'dispose');
        if (errors !== undefined) throw errors[0];
      }
    }
    return true;
  }
}

/** Delivers one message that never entered the queue (immediate delivery). */
function deliver(link: MessageLink, payload: unknown): void {
  const fns = link.fns;
  const header = link.header;
  let errors: unknown[] | undefined;
  for (let k = 0; k < fns.length; k++) {
    try {
      fns[k]!(payload, header);
    } catch (err) {
      errors = link.queue.core.failed(errors, err, header, link.subsystems[k]!, 'receive');
    }
  }
  const dispose = link.dispose;
  if (dispose !== null) {
    try {
      dispose(payload);
    } catch (err) {
      errors = link.queue.core.failed(errors, err, header, null, 'dispose');
    }
  }
  if (errors !== undefined) throwAll(errors);
}

/**
 * The flush loop. One try block covers the whole loop rather than one per call: the message in
 * delivery and the receiver reached live outside it, so after an error the loop goes on with
 * the next receiver (or, when the dispose function threw, the next message).
 */
function drain(q: ChannelQueue, max: number): number {
  let n = 0;
  let errors: unknown[] | undefined;
  let link: MessageLink | null = null;
  let payload: unknown;
  /** The next receiver of `link` to run; -1 while its dispose function runs. */
  let k = 0;
  for (;;) {
    try {
      for (;;) {
        if (link === null) {
          if (n >= max || q.size === 0) break;
          const i = 2 * q.head;
          link = q.ring[i] as MessageLink;
          payload = q.ring[i + 1];
          q.ring[i + 1] = undefined;
          q.head = (q.head + 1) & q.mask;
          q.size--;
          n++;
          k = 0;
        }
        const fns = link.fns;
        const header = link.header;
        while (k < fns.length) fns[k++]!(payload, header);
        k = -1;
        const dispose = link.dispose;
        if (dispose !== null) dispose(payload);
        link = null;
      }
      break;
    } catch (err) {
      const failing = link!;
      if (k < 0) {
        errors = q.core.failed(errors, err, failing.header, null, 'dispose');
        link = null;
      } else {
        errors = q.core.failed(errors, err, failing.header, failing.subsystems[k - 1]!, 'receive');
      }
    }
  }
  if (errors !== undefined) throwAll(errors);
  return n;
}

/**
 * The live dispatcher built from a DispatchConfig (the config is copied, not kept).
 *
 * Ownership: `send` takes the payload. It is disposed exactly once, through its type's dispose
 * function: after its last receiver ran, at once when the message has no receivers, or by
 * `close()` if it is still queued then.
 *
 * Routes are resolved once per sender: `link(header)` checks a header against the
 * configuration and returns a `MessageLink` whose `send` checks nothing per message (the
 * publishers of node-libevent/pubsub use one each). `send(header, payload)` finds the link of
 * its header (the route's last one, or a per-header table) and does the same.
 *
 * @example
 * ```ts
 * import { DispatchConfig, Dispatcher, flushImmediately, MessageHeader } from 'node-libevent/dispatch';
 *
 * const cfg = new DispatchConfig();              // message 0 of type 0 on channel 0
 * cfg.setMessageType(0, 0);
 * cfg.setMessageChannel(0, 0);
 * cfg.addReceiver(0, 1, (payload) => console.log('got', payload));
 * const d = new Dispatcher(cfg);
 * d.setAlert(0, flushImmediately);               // deliver on the sender's stack
 * d.send(new MessageHeader(2, 0, 0, 0), 'hello'); // got hello
 * ```
 */
export class Dispatcher {
  #routes: (Route | undefined)[];
  readonly #queues: ChannelQueue[];
  readonly #core: Core;
  /** Per type; null when the type has no dispose function (saves a call per message). */
  readonly #disposers: (((payload: unknown) => void) | null)[];
  readonly #formatters: ((payload: unknown) => string)[];
  readonly #typeFns: (TypeFns | undefined)[];
  /** Links of headers that were sent with but are not their route's last one. */
  readonly #links = new WeakMap<MessageHeader, MessageLink>();
  #closed = false;

  /**
   * @param cfg - the configuration (copied: later changes to it do not matter)
   * @throws DispatchError ERR_DISPATCH_CONFIG (a message with receivers but no channel or type)
   */
  constructor(cfg: DispatchConfig) {
    const nMsgs = Math.max(cfg.msgType.length, cfg.msgChannel.length, cfg.receivers.length);
    const routes: (Route | undefined)[] = [];
    let maxChannel = -1;
    let maxType = -1;
    for (let msg = 0; msg < nMsgs; msg++) {
      const channel = cfg.msgChannel[msg];
      const type = cfg.msgType[msg];
      const recs = cfg.receivers[msg] ?? [];
      if (channel === undefined || type === undefined) {
        if (recs.length > 0) {
          throw new DispatchError(
            'ERR_DISPATCH_CONFIG',
            `Message ${msg} has receivers but no ${channel === undefined ? 'channel' : 'type'}.`,
          );
        }
        routes.push(undefined);
        continue;
      }
      if (channel > maxChannel) maxChannel = channel;
      if (type > maxType) maxType = type;
      routes.push(
        new Route(
          channel,
          type,
          recs.map((r) => r.fn),
          recs.map((r) => r.subsystem),
        ),
      );
    }
    this.#routes = routes;
    this.#core = new Core();
    this.#core.dispatcher = this;

    const nQueues = Math.max(maxChannel + 1, cfg.minChannels, 1);
    this.#queues = [];
    for (let c = 0; c < nQueues; c++) this.#queues.push(new ChannelQueue(this.#core, c, INITIAL_CAPACITY));

    const nTypes = Math.max(maxType + 1, cfg.typeFns.length);
    this.#disposers = [];
    this.#formatters = [];
    this.#typeFns = [];
    for (let t = 0; t < nTypes; t++) {
      const fns = cfg.typeFns[t];
      this.#disposers.push(fns?.dispose ?? null);
      this.#formatters.push(fns?.format ?? noFormat);
      this.#typeFns.push(fns === undefined ? undefined : { dispose: fns.dispose, format: fns.format });
    }
  }

  /** Number of channel queues (channel IDs 0 … channelCount − 1). */
  get channelCount(): number {
    return this.#queues.length;
  }

  /** True once `close()` ran. A closed dispatcher disposes whatever it is sent and delivers nothing. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The link of `header`: checks once that the header matches the configuration (throws the
   * DispatchError `send` would) and returns an object whose `send(payload)` behaves like
   * `send(header, payload)` with no checks per message. The same header gets the same link.
   * After `close()` existing links refuse (dispose and return false), like `send`; a header
   * never linked before is refused with ERR_DISPATCH_HEADER.
   *
   * @param header - the sender's header
   * @returns its link
   * @throws DispatchError ERR_DISPATCH_HEADER
   */
  link(header: MessageHeader): MessageLink {
    const route = this.#routes[header.msg];
    if (route !== undefined && route.lastHeader === header) return route.lastLink!;
    let link = this.#links.get(header);
    if (link === undefined) {
      if (route === undefined || route.channel !== header.channel || route.type !== header.type) this.#refuse(header);
      link = new MessageLink(header, route!, this.#queues[route!.channel]!, this.#disposers[route!.type]!);
      this.#links.set(header, link);
    }
    route!.lastHeader = header;
    route!.lastLink = link;
    return link;
  }

  /**
   * Queues `payload` as the message described by `header`, and alerts the channel if its queue
   * was empty. A message nobody receives is disposed at once and not queued (no alert).
   * Returns true when the message was taken, false (payload disposed) if the dispatcher is closed.
   * Throws a DispatchError, leaving the payload with the caller, when the header does not match
   * the configuration (unknown message, or another channel or type than configured).
   *
   * @param header - who sends which message on which channel
   * @param payload - owned by the dispatcher from here on
   * @returns true when taken, false (payload disposed) once closed
   * @throws DispatchError ERR_DISPATCH_HEADER; an error of an immediate delivery's receiver
   */
  send(header: MessageHeader, payload: unknown): boolean {
    const route = this.#routes[header.msg];
    if (route !== undefined && route.lastHeader === header) return route.lastLink!.send(payload);
    if (this.#closed) {
      this.dispose(header.type, payload);
      return false;
    }
    return this.link(header).send(payload);
  }

  /**
   * Delivers up to `max` messages queued on `channel`, oldest first; each goes to all its
   * receivers in registration order and is then disposed. Messages sent on the channel while
   * the flush runs are delivered by it too, and count towards `max` (Tor's runtime behaviour).
   * An unknown channel is a no-op. Returns the number of messages delivered.
   *
   * An error thrown by a receiver does not stop the others; it goes to the error handler, or,
   * with none, is rethrown once this flush has finished (several at once as an AggregateError).
   *
   * @param channel - channel ID
   * @param max - most messages to deliver (default all)
   * @returns the number delivered
   * @throws a receiver's or dispose function's error, or an AggregateError of several (with no error handler)
   */
  flush(channel: number, max: number = Infinity): number {
    const q = this.#queues[channel];
    if (q === undefined || q.size === 0) return 0;
    return drain(q, max);
  }

  /**
   * The messages waiting on `channel`, left in place (for inspection and update planning).
   *
   * @param channel - channel ID
   * @returns [header, payload] pairs, oldest first (empty for an unknown channel)
   */
  queued(channel: number): [MessageHeader, unknown][] {
    const q = this.#queues[channel];
    const out: [MessageHeader, unknown][] = [];
    if (q === undefined) return out;
    for (let k = 0; k < q.size; k++) {
      const i = 2 * ((q.head + k) & q.mask);
      out.push([(q.ring[i] as MessageLink).header, q.ring[i + 1]]);
    }
    return out;
  }

  /**
   * Removes every message waiting on `channel` without delivering or disposing it: ownership
   * of the payloads passes to the caller (a live update carries them into a new dispatcher).
   *
   * @param channel - channel ID
   * @returns [header, payload] pairs, oldest first
   */
  take(channel: number): [MessageHeader, unknown][] {
    const out = this.queued(channel);
    const q = this.#queues[channel];
    if (q !== undefined) {
      for (let k = 0; k < q.size; k++) q.ring[2 * ((q.head + k) & q.mask) + 1] = undefined;
      q.head = 0;
      q.size = 0;
    }
    return out;
  }

  /**
   * The number of messages waiting on `channel`.
   *
   * @param channel - channel ID
   * @returns how many (0 for an unknown channel)
   */
  pending(channel: number): number {
    return this.#queues[channel]?.size ?? 0;
  }

  /**
   * Replaces the alert function of `channel`.
   *
   * @param channel - channel ID
   * @param fn - called when the channel's queue stops being empty; null for none
   * @param arg - passed to `fn`
   * @throws DispatchError ERR_DISPATCH_CHANNEL; TypeError ERR_INVALID_ARG_TYPE
   */
  setAlert(channel: number, fn: AlertFn | null, arg?: unknown): void {
    const q = this.#queues[channel];
    if (q === undefined) {
      throw new DispatchError(
        'ERR_DISPATCH_CHANNEL',
        `Cannot set an alert on channel ${String(channel)}: this dispatcher has channels 0 to ${this.#queues.length - 1}.`,
      );
    }
    if (fn !== null && typeof fn !== 'function') throw Object.assign(new TypeError('The alert must be a function or null.'), { code: 'ERR_INVALID_ARG_TYPE' });
    q.alert = fn ?? noop;
    q.alertArg = arg;
    q.immediate = fn === flushImmediately;
  }

  /**
   * Sets (or with null removes) the handler for errors thrown during delivery.
   *
   * @param handler - gets the error and where it came from
   */
  setErrorHandler(handler: DeliveryErrorHandler | null): void {
    this.#core.onError = handler;
  }

  /** The handler for delivery errors, or null (they are rethrown by flush). */
  get errorHandler(): DeliveryErrorHandler | null {
    return this.#core.onError;
  }

  /**
   * Calls the type's format function.
   *
   * @param type - type ID
   * @param payload - a payload of that type
   * @returns its description (`"<>"` when the type has no format function)
   */
  format(type: number, payload: unknown): string {
    return (this.#formatters[type] ?? noFormat)(payload);
  }

  /**
   * Disposes a payload of `type` that never became a message.
   *
   * @param type - type ID
   * @param payload - the payload
   */
  dispose(type: number, payload: unknown): void {
    const dispose = this.#disposers[type];
    if (dispose) dispose(payload);
  }

  /**
   * A one-line description of a message, for logs.
   *
   * @param header - the message's header
   * @param payload - its payload
   * @returns `msg (payload) from sender on channel`
   */
  describe(header: MessageHeader, payload: unknown): string {
    return `${header.msgName} (${this.format(header.type, payload)}) from ${header.senderName} on ${header.channelName}`;
  }

  /**
   * The receivers of `msg`.
   *
   * @param msg - message ID
   * @returns them in delivery order (empty if none or unknown)
   */
  receiversOf(msg: number): readonly ReceiverRecord[] {
    const r = this.#routes[msg];
    if (r === undefined) return [];
    return r.fns.map((fn, i) => ({ fn, subsystem: r.subsystems[i]! }));
  }

  /**
   * The channel and type `msg` was configured with.
   *
   * @param msg - message ID
   * @returns its channel and type, or undefined for an unknown message
   */
  routeOf(msg: number):
    | {
        /** Its channel ID. */
        readonly channel: number;
        /** Its type ID. */
        readonly type: number;
      }
    | undefined {
    const r = this.#routes[msg];
    return r === undefined ? undefined : { channel: r.channel, type: r.type };
  }

  /**
   * The functions registered for `type`.
   *
   * @param type - type ID
   * @returns them, or undefined when none were registered
   */
  typeFnsOf(type: number): TypeFns | undefined {
    return this.#typeFns[type];
  }

  /**
   * Disposes every message still queued (channel by channel, oldest first), drops all alerts
   * and makes later sends dispose their payload and return false. Idempotent. Errors from
   * dispose functions go to the error handler, or are rethrown once everything was disposed.
   *
   * @throws a dispose function's error, or an AggregateError of several (with no error handler)
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#routes = [];
    let errors: unknown[] | undefined;
    for (const q of this.#queues) {
      q.closed = true;
      q.alert = noop;
      q.alertArg = undefined;
      q.immediate = false;
      while (q.size !== 0) {
        const i = 2 * q.head;
        const link = q.ring[i] as MessageLink;
        const payload = q.ring[i + 1];
        q.ring[i] = undefined;
        q.ring[i + 1] = undefined;
        q.head = (q.head + 1) & q.mask;
        q.size--;
        try {
          if (link.dispose !== null) link.dispose(payload);
        } catch (err) {
          errors = this.#core.failed(errors, err, link.header, null, 'dispose');
        }
      }
    }
    if (errors !== undefined) throwAll(errors);
  }

  #refuse(header: MessageHeader): never {
    checkId('message', header.msg);
    checkId('channel', header.channel);
    checkId('type', header.type);
    const route = this.#routes[header.msg];
    if (route === undefined) {
      throw new DispatchError('ERR_DISPATCH_HEADER', `Message ${header.msgName} (${header.msg}) is not configured in this dispatcher.`);
    }
    const what =
      route.channel !== header.channel
        ? `channel ${header.channel}, but it is configured on channel ${route.channel}`
        : `type ${header.type}, but it is configured with type ${route.type}`;
    throw new DispatchError('ERR_DISPATCH_HEADER', `Message ${header.msgName} (${header.msg}) was sent with ${what}.`);
  }
}

function throwAll(errors: unknown[]): never {
  if (errors.length === 1) throw errors[0];
  throw new AggregateError(errors, `${errors.length} errors were thrown while delivering messages.`);
}
