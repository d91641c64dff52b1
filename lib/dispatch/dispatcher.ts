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
  readonly header: MessageHeader;
  readonly subsystem: number | null;
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
  constructor(
    readonly channel: number,
    readonly type: number,
    readonly fns: readonly Receiver[],
    readonly subsystems: readonly number[],
  ) {}
}

/**
 * One channel's FIFO: a ring of two parallel arrays (header, payload) whose capacity is a power
 * of two and only grows. Popped slots are cleared so the queue keeps no payload alive.
 */
class ChannelQueue {
  headers: (MessageHeader | undefined)[];
  payloads: unknown[];
  head = 0;
  size = 0;
  mask: number;
  alert: AlertFn = noop;
  alertArg: unknown = undefined;
  /** True when `alert` is flushImmediately. */
  immediate = false;

  constructor(capacity: number) {
    this.headers = slots(capacity);
    this.payloads = slots(capacity);
    this.mask = capacity - 1;
  }

  grow(): void {
    const cap = this.headers.length;
    const headers: (MessageHeader | undefined)[] = slots(cap * 2);
    const payloads: unknown[] = slots(cap * 2);
    for (let i = 0; i < this.size; i++) {
      const j = (this.head + i) & this.mask;
      headers[i] = this.headers[j];
      payloads[i] = this.payloads[j];
    }
    this.headers = headers;
    this.payloads = payloads;
    this.head = 0;
    this.mask = cap * 2 - 1;
  }
}

function slots(n: number): undefined[] {
  const a: undefined[] = [];
  for (let i = 0; i < n; i++) a.push(undefined);
  return a;
}

const INITIAL_CAPACITY = 16;

/**
 * The live dispatcher built from a DispatchConfig (the config is copied, not kept).
 *
 * Ownership: `send` takes the payload. It is disposed exactly once, through its type's dispose
 * function: after its last receiver ran, at once when the message has no receivers, or by
 * `close()` if it is still queued then.
 */
export class Dispatcher {
  #routes: (Route | undefined)[];
  readonly #queues: ChannelQueue[];
  /** Per type; null when the type has no dispose function (saves a call per message). */
  readonly #disposers: (((payload: unknown) => void) | null)[];
  readonly #formatters: ((payload: unknown) => string)[];
  readonly #typeFns: (TypeFns | undefined)[];
  #onError: DeliveryErrorHandler | null = null;
  #closed = false;

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

    const nQueues = Math.max(maxChannel + 1, cfg.minChannels, 1);
    this.#queues = [];
    for (let c = 0; c < nQueues; c++) this.#queues.push(new ChannelQueue(INITIAL_CAPACITY));

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
   * Queues `payload` as the message described by `header`, and alerts the channel if its queue
   * was empty. A message nobody receives is disposed at once and not queued (no alert).
   * Returns true when the message was taken, false (payload disposed) if the dispatcher is closed.
   * Throws a DispatchError, leaving the payload with the caller, when the header does not match
   * the configuration (unknown message, or another channel or type than configured).
   */
  send(header: MessageHeader, payload: unknown): boolean {
    const route = this.#routes[header.msg];
    if (route === undefined || route.channel !== header.channel || route.type !== header.type) {
      return this.#refuse(header, payload);
    }
    if (route.fns.length === 0) {
      const dispose = this.#disposers[route.type]!;
      if (dispose !== null) {
        try {
          dispose(payload);
        } catch (err) {
          const errors = this.#failed(undefined, err, header, null, 'dispose');
          if (errors !== undefined) throw errors[0];
        }
      }
      return true;
    }
    const q = this.#queues[route.channel]!;
    if (q.size === 0 && q.immediate) {
      // What flushImmediately would do with this message, minus the round trip through the queue.
      this.#deliver(header, payload, route);
      return true;
    }
    if (q.size === q.payloads.length) q.grow();
    const tail = (q.head + q.size) & q.mask;
    q.headers[tail] = header;
    q.payloads[tail] = payload;
    if (++q.size === 1) q.alert(this, route.channel, q.alertArg);
    return true;
  }

  /**
   * Delivers up to `max` messages queued on `channel`, oldest first; each goes to all its
   * receivers in registration order and is then disposed. Messages sent on the channel while
   * the flush runs are delivered by it too, and count towards `max` (Tor's runtime behaviour).
   * An unknown channel is a no-op. Returns the number of messages delivered.
   *
   * An error thrown by a receiver does not stop the others; it goes to the error handler, or,
   * with none, is rethrown once this flush has finished (several at once as an AggregateError).
   */
  flush(channel: number, max: number = Infinity): number {
    const q = this.#queues[channel];
    if (q === undefined) return 0;
    let n = 0;
    let errors: unknown[] | undefined;
    while (n < max && q.size !== 0) {
      const i = q.head;
      // The header slot is not cleared: headers are long-lived templates, payloads are not.
      const header = q.headers[i]!;
      const payload = q.payloads[i];
      q.payloads[i] = undefined;
      q.head = (i + 1) & q.mask;
      q.size--;
      n++;
      const route = this.#routes[header.msg];
      if (route !== undefined) {
        const fns = route.fns;
        for (let k = 0; k < fns.length; k++) {
          try {
            fns[k]!(payload, header);
          } catch (err) {
            errors = this.#failed(errors, err, header, route.subsystems[k]!, 'receive');
          }
        }
      }
      const dispose = this.#disposers[header.type]!;
      if (dispose !== null) {
        try {
          dispose(payload);
        } catch (err) {
          errors = this.#failed(errors, err, header, null, 'dispose');
        }
      }
    }
    if (errors !== undefined) throwAll(errors);
    return n;
  }

  /** Delivers one message that never entered the queue (immediate delivery). */
  #deliver(header: MessageHeader, payload: unknown, route: Route): void {
    let errors: unknown[] | undefined;
    const fns = route.fns;
    for (let k = 0; k < fns.length; k++) {
      try {
        fns[k]!(payload, header);
      } catch (err) {
        errors = this.#failed(errors, err, header, route.subsystems[k]!, 'receive');
      }
    }
    const dispose = this.#disposers[route.type]!;
    if (dispose !== null) {
      try {
        dispose(payload);
      } catch (err) {
        errors = this.#failed(errors, err, header, null, 'dispose');
      }
    }
    if (errors !== undefined) throwAll(errors);
  }

  /** The messages waiting on `channel`, oldest first, left in place (for inspection and update planning). */
  queued(channel: number): [MessageHeader, unknown][] {
    const q = this.#queues[channel];
    const out: [MessageHeader, unknown][] = [];
    if (q === undefined) return out;
    for (let k = 0; k < q.size; k++) {
      const i = (q.head + k) & q.mask;
      out.push([q.headers[i]!, q.payloads[i]]);
    }
    return out;
  }

  /**
   * Removes every message waiting on `channel` without delivering or disposing it: ownership
   * of the payloads passes to the caller (a live update carries them into a new dispatcher).
   */
  take(channel: number): [MessageHeader, unknown][] {
    const out = this.queued(channel);
    const q = this.#queues[channel];
    if (q !== undefined) {
      for (let k = 0; k < q.size; k++) q.payloads[(q.head + k) & q.mask] = undefined;
      q.head = 0;
      q.size = 0;
    }
    return out;
  }

  /** Number of messages waiting on `channel` (0 for an unknown channel). */
  pending(channel: number): number {
    return this.#queues[channel]?.size ?? 0;
  }

  /** Replaces the alert function of `channel`. Throws a DispatchError for a channel it does not have. */
  setAlert(channel: number, fn: AlertFn | null, arg?: unknown): void {
    const q = this.#queues[channel];
    if (q === undefined) {
      throw new DispatchError(
        'ERR_DISPATCH_CHANNEL',
        `Cannot set an alert on channel ${String(channel)}: this dispatcher has channels 0 to ${this.#queues.length - 1}.`,
      );
    }
    if (fn !== null && typeof fn !== 'function') throw new TypeError('The alert must be a function or null.');
    q.alert = fn ?? noop;
    q.alertArg = arg;
    q.immediate = fn === flushImmediately;
  }

  /** Sets (or with null removes) the handler for errors thrown during delivery. */
  setErrorHandler(handler: DeliveryErrorHandler | null): void {
    this.#onError = handler;
  }

  get errorHandler(): DeliveryErrorHandler | null {
    return this.#onError;
  }

  /** Calls the type's format function (`"<>"` when it has none). */
  format(type: number, payload: unknown): string {
    return (this.#formatters[type] ?? noFormat)(payload);
  }

  /** Disposes a payload of `type` that never became a message. */
  dispose(type: number, payload: unknown): void {
    const dispose = this.#disposers[type];
    if (dispose) dispose(payload);
  }

  /** A one-line description of a message, for logs: `msg (payload) from sender on channel`. */
  describe(header: MessageHeader, payload: unknown): string {
    return `${header.msgName} (${this.format(header.type, payload)}) from ${header.senderName} on ${header.channelName}`;
  }

  /** The receivers of `msg` in delivery order (empty if none or unknown). */
  receiversOf(msg: number): readonly ReceiverRecord[] {
    const r = this.#routes[msg];
    if (r === undefined) return [];
    return r.fns.map((fn, i) => ({ fn, subsystem: r.subsystems[i]! }));
  }

  /** The channel and type `msg` was configured with, or undefined. */
  routeOf(msg: number): { readonly channel: number; readonly type: number } | undefined {
    const r = this.#routes[msg];
    return r === undefined ? undefined : { channel: r.channel, type: r.type };
  }

  /** The functions registered for `type` (undefined when none were). */
  typeFnsOf(type: number): TypeFns | undefined {
    return this.#typeFns[type];
  }

  /**
   * Disposes every message still queued (channel by channel, oldest first), drops all alerts
   * and makes later sends dispose their payload and return false. Idempotent. Errors from
   * dispose functions go to the error handler, or are rethrown once everything was disposed.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#routes = [];
    let errors: unknown[] | undefined;
    for (const q of this.#queues) {
      q.alert = noop;
      q.alertArg = undefined;
      q.immediate = false;
      while (q.size !== 0) {
        const i = q.head;
        const header = q.headers[i]!;
        const payload = q.payloads[i];
        q.headers[i] = undefined;
        q.payloads[i] = undefined;
        q.head = (i + 1) & q.mask;
        q.size--;
        try {
          this.dispose(header.type, payload);
        } catch (err) {
          errors = this.#failed(errors, err, header, null, 'dispose');
        }
      }
    }
    if (errors !== undefined) throwAll(errors);
  }

  #refuse(header: MessageHeader, payload: unknown): boolean {
    if (this.#closed) {
      this.dispose(header.type, payload);
      return false;
    }
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

  #failed(
    errors: unknown[] | undefined,
    err: unknown,
    header: MessageHeader,
    subsystem: number | null,
    stage: 'receive' | 'dispose',
  ): unknown[] | undefined {
    const handler = this.#onError;
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

function throwAll(errors: unknown[]): never {
  if (errors.length === 1) throw errors[0];
  throw new AggregateError(errors, `${errors.length} errors were thrown while delivering messages.`);
}
