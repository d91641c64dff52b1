import {
  DispatchConfig,
  Dispatcher,
  MessageHeader,
  Naming,
  type AlertFn,
  type MessageLink,
  type Receiver,
  type TypeFns,
} from '../dispatch/index.js';
import { PubsubConfigError, type PubsubProblem, pubsubUsageError } from './errors.js';
import type { Hook, MessageDef } from './message.js';

/** Registration flags. */
export interface PubsubFlags {
  /** No other registration of the same kind (publish or subscribe) may exist for this message. */
  readonly exclusive?: boolean | undefined;
  /**
   * Counts for the checks but does nothing: a stub subscriber registers no hook, a stub
   * publisher is a normal publisher that only exists to satisfy the pairing rule.
   */
  readonly stub?: boolean | undefined;
}

/** Per-type functions; both optional (dispose does nothing, format gives `"<>"`). */
export interface TypeFunctions<T = unknown> {
  /** Releases what a payload owns; runs exactly once per published payload. */
  readonly dispose?: ((payload: T) => void) | undefined;
  /** Describes a payload for logs. */
  readonly format?: ((payload: T) => string) | undefined;
}

/** One publish or subscribe registration, as recorded by the builder. */
export interface Registration {
  /** Publish or subscribe. */
  readonly kind: 'pub' | 'sub';
  /** The registering subsystem. */
  readonly subsystem: string;
  /** The channel name. */
  readonly channel: string;
  /** The message name. */
  readonly message: string;
  /** The payload type name. */
  readonly type: string;
  /** Registered with `exclusive`. */
  readonly exclusive: boolean;
  /** Registered with `stub`. */
  readonly stub: boolean;
  /** Where the registration was made (`file:line:column`), or `"unknown"`. */
  readonly location: string;
}

/** One `registerType` call. */
export interface TypeRegistration {
  /** The type name. */
  readonly type: string;
  /** The registering subsystem. */
  readonly subsystem: string;
  /** The functions it registered. */
  readonly fns: TypeFunctions;
  /** Where (`file:line:column`), or `"unknown"`. */
  readonly location: string;
}

/** Builder options. */
export interface PubsubBuilderOptions {
  /** The name registries to use; a fresh `Naming` by default. */
  readonly naming?: Naming | undefined;
  /** Gets the informational notes of `finalize` (unused messages, types never registered). */
  readonly onNote?: ((note: string) => void) | undefined;
}

/** Where an error thrown during delivery came from, with names resolved. */
export interface PubsubErrorInfo {
  /** The message name. */
  readonly message: string;
  /** The channel name. */
  readonly channel: string;
  /** The publishing subsystem. */
  readonly sender: string;
  /** The subscriber whose hook threw, or null when the type's dispose function threw. */
  readonly subscriber: string | null;
  /** Whether a hook or the type's dispose function threw. */
  readonly stage: 'receive' | 'dispose';
  /** The message's header. */
  readonly header: MessageHeader;
}

/** Gets each error a hook or dispose function throws during delivery (delivery goes on). */
export type PubsubErrorHandler = (error: unknown, info: PubsubErrorInfo) => void;

/** A message's publish capability. Inert (returns false, disposes the payload) unless connected. */
export interface Publisher<T> {
  /** The message it publishes. */
  readonly message: MessageDef<T>;
  /** The prebuilt header every message from this publisher carries. */
  readonly header: MessageHeader;
  /** The dispatcher this publisher sends to; null before finalize and after teardown. */
  readonly dispatcher: Dispatcher | null;
  /**
   * Hands `payload` to the dispatcher, which then owns it. Returns true when it was taken (queued,
   * or dropped and disposed because nobody subscribes), false when this publisher is not
   * connected; the payload is then disposed through its type, if that type is registered.
   *
   * @param payload - the message's payload, owned by the dispatcher from here on
   * @returns true when taken, false when not connected
   * @throws an error of a hook when the channel delivers immediately and has no error handler
   */
  publish(payload: T): boolean;
}

/** The per-subsystem registration interface handed out by a builder. */
export interface Connector {
  /** The subsystem every registration is charged to. */
  readonly subsystem: string;
  /**
   * Registers the dispose/format functions of a payload type. Identical re-registration is fine.
   *
   * @param typeName - the type name messages were defined with
   * @param fns - `dispose`, `format`
   * @throws PubsubConfigError ERR_PUBSUB_CONFIG (other functions than an earlier registration);
   *   Error ERR_PUBSUB_FINALIZED; DispatchError ERR_DISPATCH_NAME
   */
  registerType<T>(typeName: string, fns: TypeFunctions<T>): void;
  /**
   * Registers this subsystem as a publisher of `msg` on `channel`.
   *
   * @param channel - the channel name
   * @param msg - from defineMessage()
   * @param flags - `exclusive`, `stub`
   * @returns the publisher, inert until finalize()
   * @throws PubsubConfigError ERR_PUBSUB_CONFIG (contradicts an earlier registration);
   *   Error ERR_PUBSUB_FINALIZED; TypeError ERR_INVALID_ARG_TYPE; DispatchError ERR_DISPATCH_NAME
   */
  addPub<T>(channel: string, msg: MessageDef<T>, flags?: PubsubFlags): Publisher<T>;
  /**
   * Registers `hook` to receive `msg` on `channel`.
   *
   * @param channel - the channel name
   * @param msg - from defineMessage()
   * @param hook - gets a read-only payload and the header
   * @param flags - `exclusive`, `stub`
   * @throws as addPub()
   */
  addSub<T>(channel: string, msg: MessageDef<T>, hook: Hook<T>, flags?: PubsubFlags): void;
}

/** The finalized system: the dispatcher, with names, the registrations and teardown. */
export interface Pubsub {
  /** The dispatcher built by finalize(). */
  readonly dispatcher: Dispatcher;
  /** The name registries behind the IDs. */
  readonly naming: Naming;
  /** Every publish and subscribe registration. */
  readonly registrations: readonly Registration[];
  /** Every registerType call. */
  readonly typeRegistrations: readonly TypeRegistration[];
  /** Informational findings of finalize (unused messages, unregistered types). */
  readonly notes: readonly string[];
  /** True after close(). */
  readonly closed: boolean;
  /**
   * The ID of a channel name.
   *
   * @param channel - a channel name
   * @returns its ID
   * @throws RangeError ERR_UNKNOWN_CHANNEL (a name no registration used)
   */
  channelId(channel: string): number;
  /**
   * Delivers up to `max` messages queued on `channel` (see Dispatcher.flush).
   *
   * @param channel - a channel name or ID
   * @param max - most messages to deliver (default all)
   * @returns the number delivered
   * @throws RangeError ERR_UNKNOWN_CHANNEL; a hook's error (with no error handler)
   */
  flush(channel: string | number, max?: number): number;
  /**
   * The messages waiting on `channel`.
   *
   * @param channel - a channel name or ID
   * @returns how many
   * @throws RangeError ERR_UNKNOWN_CHANNEL
   */
  pending(channel: string | number): number;
  /**
   * Sets the channel's alert (what happens when its queue stops being empty).
   *
   * @param channel - a channel name or ID
   * @param fn - the alert, or null for none
   * @param arg - passed to `fn`
   * @throws RangeError ERR_UNKNOWN_CHANNEL; TypeError ERR_INVALID_ARG_TYPE; DispatchError ERR_DISPATCH_CHANNEL
   */
  setAlert(channel: string | number, fn: AlertFn | null, arg?: unknown): void;
  /**
   * Sets (or with null removes) the handler of errors thrown during delivery, with names resolved.
   *
   * @param handler - gets the error and where it came from
   */
  setErrorHandler(handler: PubsubErrorHandler | null): void;
  /** Disconnects every publisher, then disposes every queued message. Idempotent. */
  close(): void;
}

type TypeTable = Map<string, TypeFunctions<never>>;

let connectPublisher: (p: PublisherImpl<unknown>, d: Dispatcher | null) => void;

class PublisherImpl<T> implements Publisher<T> {
  #dispatcher: Dispatcher | null = null;
  /** The header's route, resolved once at connect time. */
  #link: MessageLink | null = null;
  readonly #types: TypeTable;

  constructor(
    readonly message: MessageDef<T>,
    readonly header: MessageHeader,
    types: TypeTable,
  ) {
    this.#types = types;
  }

  get dispatcher(): Dispatcher | null {
    return this.#dispatcher;
  }

  publish(payload: T): boolean {
    const link = this.#link;
    if (link !== null) return link.send(payload);
    const dispose = this.#types.get(this.message.typeName)?.dispose as ((p: T) => void) | undefined;
    if (dispose !== undefined) dispose(payload);
    return false;
  }

  static {
    connectPublisher = (p, d) => {
      p.#link = d === null ? null : d.link(p.header);
      p.#dispatcher = d;
    };
  }
}

class Item implements Registration {
  publisher: PublisherImpl<unknown> | null = null;
  readonly #where: () => string;
  constructor(
    readonly kind: 'pub' | 'sub',
    readonly subsystem: string,
    readonly channel: string,
    readonly message: string,
    readonly type: string,
    readonly exclusive: boolean,
    readonly stub: boolean,
    where: () => string,
    readonly msgId: number,
  ) {
    this.#where = where;
  }

  get location(): string {
    return this.#where();
  }
}

/**
 * Collects the registrations of all subsystems, then `finalize()` checks them as a whole and
 * builds the dispatcher. A builder is consumed by `finalize`, successful or not.
 *
 * @example
 * ```ts
 * import { defineMessage, flushImmediately, PubsubBuilder } from 'node-libevent/pubsub';
 *
 * const Hello = defineMessage<string>('hello', 'string');
 * const builder = new PubsubBuilder();
 * const pub = builder.connector('greeter').addPub('main', Hello);
 * builder.connector('printer').addSub('main', Hello, (text) => console.log(text));
 * const pubsub = builder.finalize();          // PubsubConfigError if anything is unpaired
 * pubsub.setAlert('main', flushImmediately);
 * pub.publish('hi');                          // hi
 * pubsub.close();
 * ```
 */
export class PubsubBuilder {
  /** The name registries (shared with the dispatcher finalize() builds). */
  readonly naming: Naming;
  readonly #cfg = new DispatchConfig();
  readonly #items: Item[] = [];
  readonly #typeItems: TypeRegistration[] = [];
  readonly #types: TypeTable = new Map();
  readonly #typeProblems: PubsubProblem[] = [];
  readonly #onNote: ((note: string) => void) | undefined;
  #finalized = false;

  /** @param options - `naming` to share, `onNote` for finalize's informational notes */
  constructor(options: PubsubBuilderOptions = {}) {
    this.naming = options.naming ?? new Naming();
    this.#onNote = options.onNote;
  }

  /** True once `finalize` ran (whatever its outcome). */
  get finalized(): boolean {
    return this.#finalized;
  }

  /** Everything registered so far, in order. */
  get registrations(): readonly Registration[] {
    return this.#items.slice();
  }

  /** Every registerType call so far, in order. */
  get typeRegistrations(): readonly TypeRegistration[] {
    return this.#typeItems.slice();
  }

  /**
   * The registration interface for subsystem `subsystem`; every registration is charged to it.
   *
   * @param subsystem - the subsystem's name
   * @returns its connector
   * @throws Error ERR_PUBSUB_FINALIZED; DispatchError ERR_DISPATCH_NAME
   */
  connector(subsystem: string): Connector {
    this.#assertOpen(subsystem);
    const subsysId = this.naming.subsystems.id(subsystem);
    return Object.freeze({
      subsystem,
      registerType: <T>(typeName: string, fns: TypeFunctions<T>): void => this.#registerType(subsystem, typeName, fns),
      addPub: <T>(channel: string, msg: MessageDef<T>, flags?: PubsubFlags): Publisher<T> =>
        this.#add('pub', subsystem, subsysId, channel, msg, null, flags) as PublisherImpl<T>,
      addSub: <T>(channel: string, msg: MessageDef<T>, hook: Hook<T>, flags?: PubsubFlags): void => {
        if (typeof hook !== 'function') {
          throw pubsubUsageError(new TypeError(`The hook of subsystem "${subsystem}" for message "${msg?.name}" is not a function.`), 'ERR_INVALID_ARG_TYPE');
        }
        this.#add('sub', subsystem, subsysId, channel, msg, hook as Receiver, flags);
      },
    });
  }

  /**
   * Checks every registration and builds the dispatcher, connecting every publisher to it.
   * Throws a PubsubConfigError listing every problem found. Either way the builder is consumed.
   *
   * @returns the finalized system
   * @throws PubsubConfigError ERR_PUBSUB_CONFIG (with every problem); Error ERR_PUBSUB_FINALIZED
   */
  finalize(): Pubsub {
    if (this.#finalized) throw pubsubUsageError(new Error('This PubsubBuilder was already finalized; a builder can be finalized only once.'), 'ERR_PUBSUB_FINALIZED');
    this.#finalized = true;
    const notes: string[] = [];
    const problems = checkRegistrations(this.naming, this.#items, notes);
    problems.push(...this.#typeProblems);
    for (const type of new Set(this.#items.map((i) => i.type))) {
      if (!this.#types.has(type)) {
        notes.push(`Type "${type}" has no registered functions: its payloads are neither disposed nor formatted.`);
      }
    }
    if (this.#onNote) for (const n of notes) this.#onNote(n);
    if (problems.length > 0) throw new PubsubConfigError(problems);

    this.#cfg.reserveChannels(this.naming.channels.size);
    const dispatcher = new Dispatcher(this.#cfg);
    const publishers: PublisherImpl<unknown>[] = [];
    for (const item of this.#items) {
      if (item.publisher !== null) {
        connectPublisher(item.publisher, dispatcher);
        publishers.push(item.publisher);
      }
    }
    return new PubsubImpl(dispatcher, this.naming, this.#items.slice(), this.#typeItems.slice(), notes, publishers);
  }

  #assertOpen(subsystem: string): void {
    if (this.#finalized) {
      throw pubsubUsageError(new Error(`The PubsubBuilder was already finalized; subsystem "${subsystem}" cannot register anything now.`), 'ERR_PUBSUB_FINALIZED');
    }
  }

  #registerType(subsystem: string, typeName: string, fns: TypeFunctions<never>): void {
    this.#assertOpen(subsystem);
    const where = callerLocation();
    const typeId = this.naming.types.id(typeName);
    const reg: TypeRegistration = {
      type: typeName,
      subsystem,
      fns: { dispose: fns.dispose, format: fns.format } as TypeFunctions,
      get location() {
        return where();
      },
    };
    this.#typeItems.push(reg);
    if (this.#cfg.setTypeFns(typeId, reg.fns as TypeFns)) {
      if (!this.#types.has(typeName)) this.#types.set(typeName, reg.fns);
      return;
    }
    const first = this.#typeItems.find((t) => t.type === typeName)!;
    const problem: PubsubProblem = {
      code: 'type-redefined',
      text:
        `Type "${typeName}" is registered by subsystem "${subsystem}" with other dispose/format functions ` +
        `than the ones subsystem "${first.subsystem}" registered first.`,
      type: typeName,
      subsystems: unique([first.subsystem, subsystem]),
      channels: [],
      registrations: [first, reg].map((t) => `${t.subsystem} TYPE: ${t.type} at ${t.location}`),
    };
    this.#typeProblems.push(problem);
    throw new PubsubConfigError([problem]);
  }

  #add(
    kind: 'pub' | 'sub',
    subsystem: string,
    subsysId: number,
    channel: string,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- MessageDef is invariant in T
    msg: MessageDef<any>,
    hook: Receiver | null,
    flags: PubsubFlags | undefined,
  ): PublisherImpl<unknown> | null {
    this.#assertOpen(subsystem);
    if (msg === null || typeof msg !== 'object' || typeof msg.name !== 'string' || typeof msg.typeName !== 'string') {
      throw pubsubUsageError(new TypeError(`Subsystem "${subsystem}" registered something that is not a message made by defineMessage().`), 'ERR_INVALID_ARG_TYPE');
    }
    const where = callerLocation();
    const naming = this.naming;
    const channelId = naming.channels.id(channel);
    const msgId = naming.messages.id(msg.name);
    const typeId = naming.types.id(msg.typeName);
    const item = new Item(
      kind,
      subsystem,
      channel,
      msg.name,
      msg.typeName,
      flags?.exclusive === true,
      flags?.stub === true,
      where,
      msgId,
    );
    this.#items.push(item);

    const cfg = this.#cfg;
    const typeOk = cfg.setMessageType(msgId, typeId);
    const channelOk = cfg.setMessageChannel(msgId, channelId);
    if (!typeOk || !channelOk) {
      const first = this.#items.find((i) => i.msgId === msgId)!;
      const [what, mine, theirs] = channelOk ? ['type', item.type, first.type] : ['channel', item.channel, first.channel];
      throw new PubsubConfigError([
        {
          code: channelOk ? 'inconsistent-types' : 'inconsistent-channels',
          text:
            `Message "${msg.name}" is ${kind === 'pub' ? 'published' : 'subscribed'} by subsystem "${subsystem}" with ${what} ` +
            `"${mine}", but subsystem "${first.subsystem}" registered it with ${what} "${theirs}".`,
          message: msg.name,
          subsystems: unique([first.subsystem, subsystem]),
          channels: unique([first.channel, channel]),
          registrations: [describeItem(first), describeItem(item)],
        },
      ]);
    }
    if (kind === 'sub') {
      if (!item.stub) cfg.addReceiver(msgId, subsysId, hook!);
      return null;
    }
    const publisher = new PublisherImpl(msg, new MessageHeader(subsysId, channelId, msgId, typeId, naming), this.#types);
    item.publisher = publisher;
    return publisher;
  }
}

class PubsubImpl implements Pubsub {
  readonly #publishers: PublisherImpl<unknown>[];

  constructor(
    readonly dispatcher: Dispatcher,
    readonly naming: Naming,
    readonly registrations: readonly Registration[],
    readonly typeRegistrations: readonly TypeRegistration[],
    readonly notes: readonly string[],
    publishers: PublisherImpl<unknown>[],
  ) {
    this.#publishers = publishers;
  }

  get closed(): boolean {
    return this.dispatcher.closed;
  }

  channelId(channel: string): number {
    const id = this.naming.channels.find(channel);
    if (id === undefined || id >= this.dispatcher.channelCount) {
      throw pubsubUsageError(new RangeError(`Unknown channel "${channel}": no registration uses it.`), 'ERR_UNKNOWN_CHANNEL');
    }
    return id;
  }

  flush(channel: string | number, max?: number): number {
    return this.dispatcher.flush(this.#chan(channel), max);
  }

  pending(channel: string | number): number {
    return this.dispatcher.pending(this.#chan(channel));
  }

  setAlert(channel: string | number, fn: AlertFn | null, arg?: unknown): void {
    this.dispatcher.setAlert(this.#chan(channel), fn, arg);
  }

  setErrorHandler(handler: PubsubErrorHandler | null): void {
    if (handler === null) {
      this.dispatcher.setErrorHandler(null);
      return;
    }
    const naming = this.naming;
    this.dispatcher.setErrorHandler((error, info) => {
      const h = info.header;
      handler(error, {
        message: h.msgName,
        channel: h.channelName,
        sender: h.senderName,
        subscriber: info.subsystem === null ? null : naming.subsystems.name(info.subsystem),
        stage: info.stage,
        header: h,
      });
    });
  }

  close(): void {
    for (const p of this.#publishers) connectPublisher(p, null);
    this.dispatcher.close();
  }

  #chan(channel: string | number): number {
    return typeof channel === 'string' ? this.channelId(channel) : channel;
  }
}

/** Tor's pubsub_builder_check: every message is checked and every problem reported. */
function checkRegistrations(naming: Naming, items: readonly Item[], notes: string[]): PubsubProblem[] {
  const problems: PubsubProblem[] = [];
  const byMsg: Item[][] = [];
  for (let m = 0; m < naming.messages.size; m++) byMsg.push([]);
  for (const item of items) byMsg[item.msgId]!.push(item);

  for (let m = 0; m < byMsg.length; m++) {
    const name = naming.messages.name(m);
    const pubs = byMsg[m]!.filter((i) => i.kind === 'pub');
    const subs = byMsg[m]!.filter((i) => i.kind === 'sub');
    if (pubs.length === 0 && subs.length === 0) {
      notes.push(`Nobody is publishing or subscribing to message "${name}".`);
      continue;
    }
    const all = [...pubs, ...subs];
    let registrations: string[] | undefined; // described only for a message with a problem
    const problem = (code: PubsubProblem['code'], text: string, involved: readonly Item[]): void => {
      registrations ??= all.map(describeItem);
      problems.push({
        code,
        text,
        message: name,
        subsystems: unique(involved.map((i) => i.subsystem)),
        channels: unique(involved.map((i) => i.channel)),
        registrations,
      });
    };
    if (pubs.length === 0) problem('no-publishers', `Message "${name}" has subscribers, but no publishers.`, subs);
    if (subs.length === 0) problem('no-subscribers', `Message "${name}" has publishers, but no subscribers.`, pubs);
    const pubSystems = new Set(pubs.map((i) => i.subsystem));
    for (const s of unique(subs.map((i) => i.subsystem))) {
      if (pubSystems.has(s)) {
        problem(
          'same-subsystem',
          `Message "${name}" is published and subscribed by the same subsystem "${s}".`,
          all.filter((i) => i.subsystem === s),
        );
      }
    }
    if (all.some((i) => i.channel !== all[0]!.channel)) {
      problem('inconsistent-channels', `Message "${name}" is associated with multiple inconsistent channels.`, all);
    }
    if (all.some((i) => i.type !== all[0]!.type)) {
      problem('inconsistent-types', `Message "${name}" is associated with multiple inconsistent message types.`, all);
    }
    if (pubs.length > 1 && pubs.some((i) => i.exclusive)) {
      problem('exclusive-publisher', `Message "${name}" has multiple publishers, but at least one is marked as exclusive.`, pubs);
    }
    if (subs.length > 1 && subs.some((i) => i.exclusive)) {
      problem('exclusive-subscriber', `Message "${name}" has multiple subscribers, but at least one is marked as exclusive.`, subs);
    }
  }
  return problems;
}

function describeItem(i: Item): string {
  const flags = [i.exclusive ? 'EXCL' : '', i.stub ? 'STUB' : ''].filter(Boolean).join(' ');
  return `${i.subsystem} ${i.kind === 'pub' ? 'PUB' : 'SUB'}: ${i.message}{${i.type}} on ${i.channel}${flags ? ` (${flags})` : ''} at ${i.location}`;
}

function unique<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}

const moduleDir = new URL('.', import.meta.url);
const moduleDirPath = decodeURIComponent(moduleDir.pathname);

/**
 * Where a registration call is being made: the first stack frame outside this module. The
 * frames are captured now and formatted into text only when the location is first read (a
 * problem report, `registrations`): formatting costs several times the capture, more for code
 * just loaded (its line positions are computed first), and a live update registers every
 * subsystem's publishers and subscribers again inside its pause.
 */
function callerLocation(): () => string {
  // A few frames are enough (this module, maybe the subsystem manager, then the caller); a short
  // trace keeps registration cheap when stack traces are source-mapped.
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 8;
  let trace: Error | undefined = new Error();
  Error.stackTraceLimit = limit;
  let text: string | undefined;
  return () => {
    if (text === undefined) {
      text = locationIn(trace?.stack);
      trace = undefined; // the captured frames are not needed any more
    }
    return text;
  };
}

function locationIn(stack: string | undefined): string {
  if (stack === undefined) return 'unknown';
  for (const line of stack.split('\n').slice(1)) {
    if (line.includes(moduleDir.href) || line.includes(moduleDirPath)) continue;
    const m = /\((.*)\)\s*$/.exec(line) ?? /at (.*)$/.exec(line);
    if (m) return m[1]!.replace(/^file:\/\//, '');
  }
  return 'unknown';
}
