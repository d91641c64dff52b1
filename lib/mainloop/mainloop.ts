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
  /** The mainloop whose callbacks the events run: the one it is committed to. */
  owner: Mainloop;
}

const kConnection = Symbol('connection');

/**
 * A system made ready to connect by {@link Mainloop.prepare}: finalized, one libevent event per
 * channel created (idle), the delivery policies checked. Nothing delivers through it until
 * {@link Mainloop.commit}, which cannot fail; {@link Mainloop.abandon} frees it instead.
 */
export class PreparedConnection {
  /** @internal */ readonly [kConnection]: Connection;
  /** @internal the policies to set at commit, by channel ID */
  readonly initialPolicies: readonly (readonly [channel: number, policy: DeliveryPolicy])[];
  #state: 'prepared' | 'committed' | 'abandoned' = 'prepared';

  /** @internal */
  constructor(conn: Connection, policies: readonly (readonly [number, DeliveryPolicy])[]) {
    this[kConnection] = conn;
    this.initialPolicies = policies;
  }

  /** The finalized system. */
  get pubsub(): Pubsub {
    return this[kConnection].pubsub;
  }

  /** Its channel events (idle until committed and a policy schedules them). */
  get events(): readonly Event[] {
    return this[kConnection].events;
  }

  /** 'prepared' until commit() or abandon(). */
  get state(): 'prepared' | 'committed' | 'abandoned' {
    return this.#state;
  }

  /** @internal */
  _settle(state: 'committed' | 'abandoned'): void {
    this.#state = state;
  }
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
   * finalized system (`builder.finalize()`'s result) is accepted too. To replace a connected
   * system only once its successor is known to work, use prepare() and commit() instead.
   *
   * @param builder - a builder to finalize, or a system it finalized
   * @returns this mainloop
   * @throws PubsubConfigError ERR_PUBSUB_CONFIG; Error ERR_PUBSUB_FINALIZED, ERR_BASE_FREED
   */
  connect(builder: PubsubBuilder | Pubsub): this {
    this.disconnect();
    this.commit(this.prepare(builder));
    return this;
  }

  /**
   * Everything connect() does that can fail, without touching what is connected now:
   * finalizes `builder` (if it is one), creates one idle libevent event per channel on this
   * mainloop's base, and checks `policies` (set by commit(), every other channel 'never').
   * On failure the events are freed and the system is closed. Used by a live update, which
   * must not fail after it started to change the running version.
   *
   * @param builder - a builder to finalize, or a system it finalized
   * @param policies - delivery policy per channel name, applied at commit
   * @returns the prepared connection, for commit() or abandon()
   * @throws PubsubConfigError ERR_PUBSUB_CONFIG; RangeError ERR_UNKNOWN_CHANNEL,
   *   ERR_INVALID_ARG_VALUE (a policy); Error ERR_PUBSUB_FINALIZED, ERR_BASE_FREED
   */
  prepare(builder: PubsubBuilder | Pubsub, policies: Readonly<Record<string, DeliveryPolicy>> = {}): PreparedConnection {
    const pubsub = builder instanceof PubsubBuilder ? builder.finalize() : builder;
    const dispatcher = pubsub.dispatcher;
    const events: Event[] = [];
    try {
      const conn: Connection = { pubsub, dispatcher, events, policies: [], owner: this };
      const initial: [number, DeliveryPolicy][] = [];
      for (const [channel, policy] of Object.entries(policies ?? {})) initial.push([channelIdOf(pubsub, dispatcher, channel), checkPolicy(policy)]);
      const base = this.base;
      for (let ch = 0; ch < dispatcher.channelCount; ch++) {
        events.push(base.timer(() => conn.owner.#onChannelEvent(conn, ch)));
        conn.policies.push('never');
      }
      return new PreparedConnection(conn, initial);
    } catch (err) {
      for (const ev of events) if (!ev.freed) ev.free();
      pubsub.close();
      throw err;
    }
  }

  /**
   * Connects a prepared system in place of the connected one (disconnected first: its
   * publishers become inert, its events are freed), then sets the prepared policies; on a
   * channel that already holds messages their delivery is scheduled, never run here. Makes no
   * libevent event and checks nothing that can fail but the argument itself (before any change).
   * The prepared events must live on this mainloop's base (another mainloop may have prepared
   * them, for a base they were moved to).
   *
   * @param prepared - from prepare(), neither committed nor abandoned
   * @throws Error ERR_NOT_PREPARED (committed or abandoned already, or its events on another base),
   *   before any change; a dispose function's error from the old system's queued messages, after
   *   the swap is complete
   */
  commit(prepared: PreparedConnection): void {
    const conn = prepared instanceof PreparedConnection ? prepared[kConnection] : undefined;
    if (conn === undefined || prepared.state !== 'prepared' || conn.events.some((ev) => ev.freed || ev.base !== this.base)) {
      throw Object.assign(new Error('commit() takes a connection this mainloop prepared for its base, once'), { code: 'ERR_NOT_PREPARED' });
    }
    let disposeFailed: { error: unknown } | undefined;
    try {
      this.disconnect();
    } catch (error) {
      disposeFailed = { error }; // the old system is closed all the same: finish the swap first
    }
    prepared._settle('committed');
    conn.owner = this;
    if (this.#onError !== null) conn.pubsub.setErrorHandler(this.#onError);
    this.#conn = conn;
    for (const [ch, policy] of prepared.initialPolicies) this.#applyPolicy(conn, ch, policy);
    if (disposeFailed) throw disposeFailed.error;
  }

  /**
   * Discards a prepared system that will not be committed: frees its events and closes it
   * (disposing what was queued in it). Idempotent; a committed one is left alone.
   *
   * @param prepared - from prepare()
   */
  abandon(prepared: PreparedConnection): void {
    if (!(prepared instanceof PreparedConnection) || prepared.state !== 'prepared') return;
    prepared._settle('abandoned');
    const conn = prepared[kConnection];
    for (const ev of conn.events) if (!ev.freed) ev.free();
    conn.pubsub.close();
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
    checkPolicy(policy);
    this.#applyPolicy(conn, this.#channel(conn, channel), policy);
  }

  /** setDeliveryPolicy() past its checks. */
  #applyPolicy(conn: Connection, ch: number, policy: DeliveryPolicy): void {
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
    return channelIdOf(conn.pubsub, conn.dispatcher, channel);
  }
}

function checkPolicy(policy: DeliveryPolicy): DeliveryPolicy {
  if (!POLICIES.includes(policy)) {
    throw Object.assign(new RangeError(`Unknown delivery policy "${String(policy)}": use 'prompt', 'immediate' or 'never'.`), { code: 'ERR_INVALID_ARG_VALUE' });
  }
  return policy;
}

function channelIdOf(pubsub: Pubsub, dispatcher: Dispatcher, channel: string): number {
  const id = pubsub.naming.channels.find(channel);
  if (id === undefined || id >= dispatcher.channelCount) {
    throw Object.assign(new RangeError(`Unknown channel "${channel}": it was not known when the mainloop connected.`), { code: 'ERR_UNKNOWN_CHANNEL' });
  }
  return id;
}
