import { flushImmediately, type AlertFn, type Dispatcher } from '../dispatch/index.js';
import { EV, type Event, type EventBase } from '../loop/index.js';
import { type Pubsub, PubsubBuilder, type PubsubErrorHandler } from '../pubsub/index.js';

/**
 * How a channel's messages get delivered.
 * - `prompt`: the channel's libevent event is made active when its queue stops being empty;
 *   its callback delivers the messages queued at that moment. Whatever that delivery makes
 *   active (including more messages) runs only after libevent has polled again.
 * - `immediate`: on the publisher's stack, before `publish` returns (depth-first).
 * - `never`: only an explicit `flush` delivers.
 */
export type DeliveryPolicy = 'prompt' | 'immediate' | 'never';

const POLICIES: readonly DeliveryPolicy[] = ['prompt', 'immediate', 'never'];

/** The prompt alert: its argument is the channel's event. */
const activateEvent: AlertFn = (_d, _channel, ev) => {
  (ev as Event).active(EV.TIMEOUT);
};

interface Connection {
  readonly pubsub: Pubsub;
  readonly dispatcher: Dispatcher;
  /** One libevent event per channel ID, idle until activated. */
  readonly events: Event[];
  readonly policies: DeliveryPolicy[];
}

/**
 * Joins publish–subscribe with an event base: `connect` finalizes a builder and gives every
 * channel a libevent event; delivery policies decide what the dispatcher's alerts do.
 * Every channel starts as `never` until a policy is set. Calls other than connect() and
 * disconnect() throw ERR_NOT_CONNECTED while nothing is connected, and RangeError
 * ERR_UNKNOWN_CHANNEL for a channel the connected system does not have.
 *
 * @example
 * ```ts
 * import { EventBase } from 'node-libevent';
 * import { Mainloop } from 'node-libevent/mainloop';
 * import { defineMessage, PubsubBuilder } from 'node-libevent/pubsub';
 *
 * const base = new EventBase();
 * const Tick = defineMessage<number>('tick', 'int');
 * const builder = new PubsubBuilder();
 * const pub = builder.connector('clock').addPub('main', Tick);
 * builder.connector('printer').addSub('main', Tick, (n) => console.log('tick', n));
 * const mainloop = new Mainloop(base).connect(builder);
 * mainloop.setDeliveryPolicy('main', 'prompt');     // delivered by a libevent event
 * pub.publish(1);
 * base.dispatch();                                  // tick 1
 * mainloop.disconnect();
 * ```
 */
export class Mainloop implements Disposable {
  /** The event base whose events deliver the messages. */
  readonly base: EventBase;
  #conn: Connection | null = null;
  #onError: PubsubErrorHandler | null = null;

  /** @param base - the event base to deliver on */
  constructor(base: EventBase) {
    this.base = base;
  }

  /** The connected system, or null. */
  get pubsub(): Pubsub | null {
    return this.#conn?.pubsub ?? null;
  }

  /** True between connect() and disconnect(). */
  get connected(): boolean {
    return this.#conn !== null;
  }

  /**
   * Tears down what is connected now, then finalizes `builder` and creates one event per
   * channel. If finalize fails (a PubsubConfigError) nothing stays connected. An already
   * finalized system (`builder.finalize()`'s result) is accepted too: a live update
   * finalizes first, where failing is harmless, and connects later.
   *
   * @param builder - a builder to finalize, or a system it finalized
   * @returns this mainloop
   * @throws PubsubConfigError ERR_PUBSUB_CONFIG; Error ERR_PUBSUB_FINALIZED, ERR_BASE_FREED
   */
  connect(builder: PubsubBuilder | Pubsub): this {
    this.disconnect();
    const pubsub = builder instanceof PubsubBuilder ? builder.finalize() : builder;
    const dispatcher = pubsub.dispatcher;
    const events: Event[] = [];
    try {
      const base = this.base;
      const conn: Connection = { pubsub, dispatcher, events, policies: [] };
      for (let ch = 0; ch < dispatcher.channelCount; ch++) {
        events.push(base.timer(() => this.#onChannelEvent(conn, ch)));
        conn.policies.push('never');
      }
      if (this.#onError !== null) pubsub.setErrorHandler(this.#onError);
      this.#conn = conn;
    } catch (err) {
      for (const ev of events) if (!ev.freed) ev.free();
      pubsub.close();
      throw err;
    }
    return this;
  }

  /**
   * Sets how `channel` delivers. On a channel that already holds messages, their delivery is scheduled.
   *
   * @param channel - a channel name
   * @param policy - 'prompt', 'immediate' or 'never'
   * @throws Error ERR_NOT_CONNECTED; RangeError ERR_UNKNOWN_CHANNEL, ERR_INVALID_ARG_VALUE (another policy)
   */
  setDeliveryPolicy(channel: string, policy: DeliveryPolicy): void {
    const conn = this.#require();
    if (!POLICIES.includes(policy)) {
      throw Object.assign(new RangeError(`Unknown delivery policy "${String(policy)}": use 'prompt', 'immediate' or 'never'.`), { code: 'ERR_INVALID_ARG_VALUE' });
    }
    const ch = this.#channel(conn, channel);
    const ev = conn.events[ch]!;
    conn.policies[ch] = policy;
    if (policy === 'immediate') conn.dispatcher.setAlert(ch, flushImmediately);
    else if (policy === 'prompt') conn.dispatcher.setAlert(ch, activateEvent, ev);
    else {
      conn.dispatcher.setAlert(ch, null);
      ev.del(); // a delivery already scheduled is cancelled: only flush() delivers now
    }
    // The alert only fires when a queue stops being empty; a backlog would never be noticed.
    if (policy !== 'never' && conn.dispatcher.pending(ch) > 0) ev.active(EV.TIMEOUT);
  }

  /**
   * The policy of `channel` (every channel starts as 'never').
   *
   * @param channel - a channel name
   * @returns its policy
   * @throws Error ERR_NOT_CONNECTED; RangeError ERR_UNKNOWN_CHANNEL
   */
  deliveryPolicy(channel: string): DeliveryPolicy {
    const conn = this.#require();
    return conn.policies[this.#channel(conn, channel)]!;
  }

  /**
   * Delivers up to `max` queued messages of `channel` now (the dispatcher's flush: messages
   * published meanwhile are delivered too and count towards `max`). If a limit leaves
   * messages on a prompt or immediate channel, their delivery is scheduled.
   *
   * @param channel - a channel name
   * @param max - most messages to deliver (default all)
   * @returns the number delivered
   * @throws Error ERR_NOT_CONNECTED; RangeError ERR_UNKNOWN_CHANNEL; a hook's error (no error handler)
   */
  flush(channel: string, max: number = Infinity): number {
    const conn = this.#require();
    const ch = this.#channel(conn, channel);
    try {
      return conn.dispatcher.flush(ch, max);
    } finally {
      this.#reschedule(conn, ch);
    }
  }

  /** The channel events (host-owned: a live update must not rebind them). */
  get events(): readonly Event[] {
    return this.#conn?.events ?? [];
  }

  /**
   * Number of messages waiting on `channel`.
   *
   * @param channel - a channel name
   * @returns how many
   * @throws Error ERR_NOT_CONNECTED; RangeError ERR_UNKNOWN_CHANNEL
   */
  pending(channel: string): number {
    const conn = this.#require();
    return conn.dispatcher.pending(this.#channel(conn, channel));
  }

  /**
   * Where errors thrown by hooks go (also for later connections). Without a handler, an error
   * is rethrown once its delivery finished: to the publisher under `immediate`, to the caller
   * of `flush`, or out of the event base's loop under `prompt`.
   *
   * @param handler - gets the error and where it came from; null to remove it
   */
  setErrorHandler(handler: PubsubErrorHandler | null): void {
    this.#onError = handler;
    this.#conn?.pubsub.setErrorHandler(handler);
  }

  /**
   * Disconnects every publisher, cancels scheduled deliveries (frees the channel events) and
   * disposes every queued message. Idempotent.
   */
  disconnect(): void {
    const conn = this.#conn;
    if (conn === null) return;
    this.#conn = null;
    if (!conn.dispatcher.closed) {
      for (let ch = 0; ch < conn.events.length; ch++) conn.dispatcher.setAlert(ch, null);
    }
    for (const ev of conn.events) if (!ev.freed) ev.free();
    conn.pubsub.close();
  }

  /** disconnect(), for `using mainloop = new Mainloop(base)`. */
  [Symbol.dispose](): void {
    this.disconnect();
  }

  #onChannelEvent(conn: Connection, ch: number): void {
    if (this.#conn !== conn) return;
    const d = conn.dispatcher;
    try {
      d.flush(ch, d.pending(ch)); // only what was queued when the event fired
    } finally {
      this.#reschedule(conn, ch);
      // Tor's postloop rule: no other callback of this pass runs after a channel flush, so
      // whatever the flush made active (other channels, the rest of this one) runs only after
      // libevent polled again, and channels feeding each other cannot starve I/O or timers.
      if (!this.base.freed) this.base.loopcontinue();
    }
  }

  #reschedule(conn: Connection, ch: number): void {
    if (this.#conn === conn && conn.policies[ch] !== 'never' && conn.dispatcher.pending(ch) > 0) {
      const ev = conn.events[ch]!;
      if (!ev.freed) ev.active(EV.TIMEOUT);
    }
  }

  #require(): Connection {
    if (this.#conn === null) throw Object.assign(new Error('The mainloop is not connected: call connect(builder) first.'), { code: 'ERR_NOT_CONNECTED' });
    return this.#conn;
  }

  #channel(conn: Connection, channel: string): number {
    const id = conn.pubsub.naming.channels.find(channel);
    if (id === undefined || id >= conn.events.length) {
      throw Object.assign(new RangeError(`Unknown channel "${channel}": it was not known when the mainloop connected.`), { code: 'ERR_UNKNOWN_CHANNEL' });
    }
    return id;
  }
}
