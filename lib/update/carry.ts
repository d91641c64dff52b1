// Publish-subscribe across an update: the new version's system is built and checked in
// prepare (reading the old dispatcher only), together with everything connecting it needs that
// can fail: its channel events, its delivery policies, the links its carried messages enter by.
// At commit the messages still queued in the old one move over (transformed where their
// payload type changed) or are disposed, and the prepared connection is swapped in; nothing
// there can fail.
import { MessageHeader, type MessageLink } from '../dispatch/index.js';
import type { EventBase, Event } from '../loop/index.js';
import { Mainloop, type PreparedConnection } from '../mainloop/index.js';
import { type Pubsub, PubsubBuilder } from '../pubsub/index.js';
import { SubsystemManager } from '../subsys/index.js';
import type { SubsystemsOptions, UpdateContext } from './context.js';
import { codeOf, describeThrown, isUpdateError, UpdateError } from './errors.js';

/** A queued message as it will enter the new dispatcher. */
interface Carry {
  header: MessageHeader;
  /** Where it enters the new dispatcher (resolved in prepare: sending can then only queue). */
  link: MessageLink;
  payload: unknown;
  /** The old payload, disposed at commit when a transform replaced it. */
  replaced?: { type: number; payload: unknown };
}

/** The new version's publish-subscribe, built and checked in prepare, connected at commit. */
export interface PubsubPlan {
  manager: SubsystemManager;
  pubsub: Pubsub;
  options: SubsystemsOptions;
  carry: Carry[];
  drop: { type: number; payload: unknown; name: string }[];
  /** Its channel events (made and owned by the host) and checked policies, committed as they are. */
  connection: PreparedConnection;
  /** The mainloop that prepared it: the host's, or a new one when the running version had none. */
  mainloop: Mainloop;
}

/** Owns the host's mainloop and subsystem manager from one version to the next. */
export class PubsubCarrier {
  #mainloop: Mainloop | undefined;
  #manager: SubsystemManager | undefined;

  constructor(
    private readonly own: (ev: Event) => void,
    private readonly log: (line: string) => void,
  ) {}

  /** The connected mainloop, if a version declared subsystems. */
  get mainloop(): Mainloop | undefined {
    return this.#mainloop?.connected ? this.#mainloop : undefined;
  }

  /** A fresh start: builds and connects what ctx declared (nothing to carry). */
  startFrom(ctx: UpdateContext, base: EventBase): void {
    const decl = ctx.subsystemsDecl;
    if (!decl) return;
    const manager = new SubsystemManager(decl.list);
    manager.init();
    const builder = new PubsubBuilder();
    manager.addPubsub(builder);
    const pubsub = builder.finalize();
    const mainloop = this.#mainloopFor(base);
    const connection = this.#prepareConnection(mainloop, pubsub, decl.options);
    this.commit({ manager, pubsub, options: decl.options, carry: [], drop: [], connection, mainloop }, base);
  }

  /** The host's mainloop if it runs on `base`, else a new one (not installed before commit). */
  #mainloopFor(base: EventBase): Mainloop {
    return this.#mainloop?.base === base ? this.#mainloop : new Mainloop(base);
  }

  /** Channel events made (host-owned) and policies checked; throws with nothing left behind. */
  #prepareConnection(mainloop: Mainloop, pubsub: Pubsub, options: SubsystemsOptions): PreparedConnection {
    const connection = mainloop.prepare(pubsub, options.policies ?? {});
    try {
      for (const ev of connection.events) this.own(ev);
    } catch (err) {
      mainloop.abandon(connection);
      throw err;
    }
    return connection;
  }

  /**
   * Builds the new version's publish-subscribe (finalize runs its checks here) and works out
   * what happens to each message still queued in the old one: carried (transformed if its
   * payload type changed) or dropped because the new version no longer has the message.
   * Only reads the old dispatcher.
   */
  plan(ctx: UpdateContext, from: string, base: EventBase): PubsubPlan | undefined {
    const oldPubsub = this.#mainloop?.pubsub ?? null;
    const decl = ctx.subsystemsDecl;
    if (!decl && !oldPubsub) return undefined;
    let pubsub: Pubsub | undefined;
    let plan: PubsubPlan | undefined;
    try {
      const manager = new SubsystemManager(decl?.list ?? []);
      // initialize() runs at every load, as a version's main does: it can tell a fresh start
      // from an update with ctx.isUpdating(). The old version's subsystems are not shut down:
      // what they own lives on in migrated state.
      manager.init();
      const builder = new PubsubBuilder();
      manager.addPubsub(builder);
      pubsub = builder.finalize();
      const options = decl?.options ?? {};
      const mainloop = this.#mainloopFor(base);
      // Everything connecting can fail on happens here, before the commit changes anything.
      const connection = this.#prepareConnection(mainloop, pubsub, options);
      plan = { manager, pubsub, options, carry: [], drop: [], connection, mainloop };
      const old = oldPubsub?.dispatcher;
      for (let ch = 0; old && ch < old.channelCount; ch++) {
        for (const [h, payload] of old.queued(ch)) {
          const name = h.msgName;
          const msg = pubsub.naming.messages.find(name);
          const route = msg === undefined ? undefined : pubsub.dispatcher.routeOf(msg);
          if (msg === undefined || route === undefined || pubsub.dispatcher.receiversOf(msg).length === 0) {
            plan.drop.push({ type: h.type, payload, name });
            continue;
          }
          const newType = pubsub.naming.types.name(route.type);
          const transform = plan.options.messageTransforms?.[name];
          if (newType !== h.typeName && transform === undefined) {
            throw new UpdateError('ERR_MESSAGE_TYPE_CHANGED', 'pubsub', `message '${name}' changed type from '${h.typeName}' to '${newType}' and ${ctx.version} gives no messageTransforms['${name}'] for the ones still queued`);
          }
          let next = payload;
          if (transform !== undefined) {
            try {
              next = transform(payload, from);
            } catch (cause) {
              throw new UpdateError('ERR_TRANSFORM', 'pubsub', `messageTransforms['${name}'] threw: ${describeThrown(cause)}`, { cause });
            }
          }
          const sender = pubsub.naming.subsystems.find(h.senderName) ?? pubsub.naming.subsystems.id(h.senderName);
          const header = new MessageHeader(sender, route.channel, msg, route.type, pubsub.naming);
          plan.carry.push({
            header,
            link: pubsub.dispatcher.link(header),
            payload: next,
            ...(transform !== undefined ? { replaced: { type: h.type, payload } } : {}),
          });
        }
      }
      return plan;
    } catch (err) {
      if (plan) this.abandon(plan);
      else pubsub?.close();
      if (isUpdateError(err)) throw err;
      throw new UpdateError(codeOf(err) ?? 'ERR_PUBSUB', 'pubsub', describeThrown(err), { cause: err });
    }
  }

  /** A refused update: disposes the payloads transforms made, closes what plan() built. */
  abandon(plan: PubsubPlan | undefined): void {
    if (!plan) return;
    this.#disposeProduced(plan);
    plan.mainloop.abandon(plan.connection); // frees its channel events, closes the new system
    plan.pubsub.close();
  }

  /**
   * The payloads that transforms produced for a plan that will not be committed belong to no
   * dispatcher yet: dispose each once, through the new version's type. The old payloads stay
   * queued in the old dispatcher, which still owns them.
   */
  #disposeProduced(plan: PubsubPlan): void {
    const carry = plan.carry;
    plan.carry = [];
    for (const c of carry) {
      if (!c.replaced) continue;
      try {
        plan.pubsub.dispatcher.dispose(c.header.type, c.payload);
      } catch (err) {
        this.log(`dispose of a transformed message failed: ${describeThrown(err)}`);
      }
    }
  }

  /**
   * Moves the queued messages over and swaps the prepared system in. Makes no event and checks
   * nothing that can fail: prepare did both. Returns what was carried.
   */
  commit(plan: PubsubPlan | undefined, base: EventBase): { carried: number; dropped: string[] } {
    if (!plan) return { carried: 0, dropped: [] };
    const old = this.#mainloop?.pubsub?.dispatcher;
    if (old) {
      for (let ch = 0; ch < old.channelCount; ch++) old.take(ch); // ownership is ours now
      const disposeOld = (type: number, payload: unknown) => {
        try {
          old.dispose(type, payload);
        } catch (err) {
          this.log(`dispose of a replaced message failed: ${describeThrown(err)}`);
        }
      };
      for (const c of plan.carry) if (c.replaced) disposeOld(c.replaced.type, c.replaced.payload);
      for (const d of plan.drop) disposeOld(d.type, d.payload);
    }
    // Queued while every channel of the new system is still 'never' (no alert), so no hook runs
    // inside the commit; the policies set by mainloop.commit() schedule their delivery on the
    // next loop pass.
    for (const c of plan.carry) c.link.send(c.payload);
    // A 'rebase' update moved the prepared channel events to the new base with every other
    // event: a mainloop of that base takes them over.
    const mainloop = plan.mainloop.base === base ? plan.mainloop : new Mainloop(base);
    if (this.#mainloop !== mainloop) this.#mainloop?.disconnect();
    mainloop.commit(plan.connection);
    this.#mainloop = mainloop;
    this.#manager = plan.manager;
    return { carried: plan.carry.length, dropped: plan.drop.map((d) => d.name) };
  }

  /** Disconnects publish-subscribe (a failed start, or close). */
  disconnect(): void {
    this.#mainloop?.disconnect();
  }

  /** Shuts the service's publish-subscribe down. */
  close(): void {
    this.#mainloop?.disconnect();
    this.#manager?.shutdown();
  }
}
