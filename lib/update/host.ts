// UpdateHost: runs one version of a service on a host-owned event base and replaces it with
// another at an update point, Kitsune-style, in two phases.
//
// prepare  load the new code, run its main(ctx) in updating mode (state migrates into new
//          objects), check that every old state item is declared or retired, and map every
//          live event to the new version's handler of the same name. Touches nothing of the
//          running version; any failure frees what prepare created and leaves it running.
// commit   rewrite every live event's callback (in place by default), make the new context
//          current, retire the old one. Nothing in it can fail half-way: the rewrite checks
//          every event before writing any.
import { EventEmitter } from 'node:events';
import { realpathSync } from 'node:fs';
import path from 'node:path';

import {
  type Callback,
  type Event,
  EventBase,
  EVLOOP,
  rebindByReadd,
  rebindByRebase,
  rebindByReinit,
  type RebindPair,
} from '../loop/index.js';
import { MessageHeader } from '../dispatch/index.js';
import { Mainloop } from '../mainloop/index.js';
import { type Pubsub, PubsubBuilder } from '../pubsub/index.js';
import { SubsystemManager } from '../subsys/index.js';
import { type Carried, type ContextHost, type SubsystemsOptions, UpdateContext, type VersionContext } from './context.js';
import { UpdateError, type UpdatePhase, UpdateUnwind } from './errors.js';
import { loadVersionModule } from './loader.js';

export type Strategy = 'inplace' | 'rebase' | 'reinit' | 'readd';
const STRATEGIES: readonly Strategy[] = ['inplace', 'rebase', 'reinit', 'readd'];

export interface VersionModule {
  version: string;
  main(ctx: VersionContext): void | Promise<void>;
  /** Handler renames from the previous version: { oldName: newName }. */
  renames?: Record<string, string>;
}

export interface UpdateReport {
  ok: boolean;
  from: string;
  to: string;
  strategy: Strategy;
  /** The update point where it happened ('loop' = between loop iterations). */
  point: string;
  error?: { code: string; phase: UpdatePhase; message: string };
  /** Update point reached → loop resumes, ms. */
  pauseMs: number;
  phases: { quiesce: number; load: number; init: number; migrate: number; rewire: number; commit: number };
  eventsRewired: number;
  stateItems: number;
  /** Messages still queued in the old dispatcher and delivered by the new one. */
  messagesCarried: number;
  /** Names of queued messages the new version no longer has (disposed, not delivered). */
  messagesDropped: string[];
}

/** A queued message as it will enter the new dispatcher. */
interface Carry {
  header: MessageHeader;
  payload: unknown;
  /** The old payload, disposed at commit when a transform replaced it. */
  replaced?: { type: number; payload: unknown };
}

/** The new version's publish-subscribe, built and checked in prepare, connected at commit. */
interface PubsubPlan {
  manager: SubsystemManager;
  pubsub: Pubsub;
  options: SubsystemsOptions;
  carry: Carry[];
  drop: { type: number; payload: unknown; name: string }[];
}

export interface UpdateHostOptions {
  base: EventBase;
  /** Versions are loaded only from here (after resolving symlinks). */
  versionsDir: string;
  /** How live events are rebound: 'inplace' (default) or one of the comparison strategies. */
  strategy?: Strategy;
  /** Receives one line per update phase. */
  log?: (line: string) => void;
}

/** Live events of the old version and the new version's callback for each, in step. */
interface RewirePlan {
  events: Event[];
  fns: Callback[];
}

interface Running {
  module: VersionModule;
  ctx: UpdateContext;
}

interface Request {
  file: string;
  strategy: Strategy;
  requestedAt: number;
  resolve: (r: UpdateReport) => void;
}

export class UpdateHost extends EventEmitter implements ContextHost {
  #base: EventBase;
  readonly versionsDir: string;
  readonly strategy: Strategy;
  #log: (line: string) => void;
  #current: Running | undefined;
  #pending: Request[] = [];
  #woke = false;
  #points = 0;
  #mainloop: Mainloop | undefined;
  #manager: SubsystemManager | undefined;
  readonly #hostEvents = new WeakSet<Event>();

  constructor(options: UpdateHostOptions) {
    super();
    if (!(options?.base instanceof EventBase)) throw new TypeError('UpdateHost needs { base: EventBase }');
    this.#base = options.base;
    this.versionsDir = realpathSync(options.versionsDir);
    this.strategy = options.strategy ?? 'inplace';
    if (!STRATEGIES.includes(this.strategy)) throw new RangeError(`unknown strategy '${String(this.strategy)}'`);
    this.#log = options.log ?? (() => {});
  }

  /** The host-owned base (a 'rebase' update replaces it). */
  get base(): EventBase {
    return this.#base;
  }

  /** The running version's `version` string. */
  get version(): string | undefined {
    return this.#current?.module.version;
  }

  /** The publish-subscribe mainloop, once a version declared subsystems. */
  get mainloop(): Mainloop | undefined {
    return this.#mainloop?.connected ? this.#mainloop : undefined;
  }

  /** The running version's context (its state store and handler names), for inspection. */
  get context(): UpdateContext | undefined {
    return this.#current?.ctx;
  }

  /** How many update points have been reached so far. */
  get pointsReached(): number {
    return this.#points;
  }

  /** Marks an event as the host's own: never rebound to a version's handler. */
  own(ev: Event): Event {
    this.#hostEvents.add(ev);
    return ev;
  }

  /** True for events marked with own(). */
  isOwn(ev: Event): boolean {
    return this.#hostEvents.has(ev);
  }

  /** Loads the first version and runs its main(ctx) as a fresh start. */
  async start(file: string): Promise<void> {
    if (this.#current) throw new UpdateError('ERR_ALREADY_STARTED', 'request', 'this host already runs a version');
    const resolved = this.#resolve(file);
    const module = this.#validate(loadVersionModule(resolved, this.versionsDir).exports);
    const ctx = this.#newContext(module.version);
    const before = this.#base._allEvents();
    try {
      await module.main(ctx);
      if (ctx.subsystemsDecl) {
        const manager = new SubsystemManager(ctx.subsystemsDecl.list);
        manager.init();
        const builder = new PubsubBuilder();
        manager.addPubsub(builder);
        this.#connect({ manager, pubsub: builder.finalize(), options: ctx.subsystemsDecl.options, carry: [], drop: [] });
      }
    } catch (err) {
      this.#mainloop?.disconnect();
      this.#freeCreatedSince(before);
      ctx.retireContext();
      throw err;
    }
    ctx.dropCarried();
    this.#current = { module, ctx };
    this.#log(`start ${module.version}`);
  }

  /**
   * Asks for an update to the version at `file` (inside versionsDir). It happens at the next
   * update point: the loop is woken, so that is within one iteration even when idle; with no
   * loop running it happens at once. Resolves with the report, ok or not.
   */
  requestUpdate(file: string, options: { strategy?: Strategy } = {}): Promise<UpdateReport> {
    const strategy = options.strategy ?? this.strategy;
    return new Promise((resolve) => {
      const req: Request = { file, strategy, requestedAt: performance.now(), resolve };
      let problem: UpdateError | undefined;
      if (!this.#current) problem = new UpdateError('ERR_NOT_STARTED', 'request', 'no version is running yet');
      else if (!STRATEGIES.includes(strategy)) problem = new UpdateError('ERR_UNKNOWN_STRATEGY', 'request', `unknown strategy '${String(strategy)}'`);
      if (problem) {
        this.#finish(req, this.#failedReport(req, 'request', problem, emptyPhases()));
        return;
      }
      this.#pending.push(req);
      if (this.#base.running) {
        this.#woke = true;
        this.#base.loopbreak();
      } else {
        this.#performPending('loop');
      }
    });
  }

  /** An update point: counted, announced ('point' event), and where a pending update happens. */
  reachPoint(name: string): void {
    this.#points++;
    this.emit('point', name, this.#points);
    if (this.#pending.length === 0) return;
    // Inside a libevent callback: unwind the old code's stack to the host loop first.
    if (this.#base.inCallback) throw new UpdateUnwind(name);
    this.#performPending(name);
  }

  /** Cooperative loop (base.run()) with an update point between iterations. */
  async run(): Promise<0 | 1> {
    for (;;) {
      this.reachPoint('loop');
      let r: 0 | 1;
      try {
        r = await this.#base.run();
      } catch (err) {
        this.#resumeAfter(err);
        continue;
      }
      const end = this.#outcome(r, true); // run() only returns 0 on a break or an exit
      if (end !== undefined) return end;
    }
  }

  /** Exclusive loop (libevent owns the thread), one update point per loop iteration. */
  dispatch(): 0 | 1 {
    for (;;) {
      this.reachPoint('loop');
      let r: 0 | 1;
      try {
        r = this.#base.loop(EVLOOP.ONCE);
      } catch (err) {
        this.#resumeAfter(err);
        continue;
      }
      const end = this.#outcome(r, this.#base.gotBreak);
      if (end !== undefined) return end;
    }
  }

  /** A loop call threw: an UpdateUnwind means "update now, then go on"; anything else ends the loop. */
  #resumeAfter(err: unknown): void {
    if (!(err instanceof UpdateUnwind)) throw err;
    this.#performPending(err.point);
  }

  /** A loop call returned: what the host loop returns, or undefined to go on. */
  #outcome(r: 0 | 1, brokeOff: boolean): 0 | 1 | undefined {
    const woke = this.#woke; // our own loopbreak (an update request) is not the user's
    this.#woke = false;
    if (this.#pending.length > 0) return undefined;
    if (r === 1) return 1;
    return this.#base.gotExit || (brokeOff && !woke) ? 0 : undefined;
  }

  #newContext(version: string, carried?: Carried): UpdateContext {
    return new UpdateContext(this, version, carried);
  }

  #resolve(file: string): string {
    if (typeof file !== 'string' || file === '') throw new UpdateError('ERR_VERSION_PATH', 'request', 'a version path is a non-empty string');
    let real: string;
    try {
      real = realpathSync(path.resolve(this.versionsDir, file));
    } catch (cause) {
      throw new UpdateError('ERR_VERSION_PATH', 'request', `no version at ${file}`, { cause });
    }
    if (!real.startsWith(this.versionsDir + path.sep)) {
      throw new UpdateError('ERR_OUTSIDE_VERSIONS_DIR', 'request', `${file} is outside the versions directory ${this.versionsDir}`);
    }
    return real;
  }

  #validate(exports: unknown): VersionModule {
    const m = exports as Partial<VersionModule> | null;
    if (!m || typeof m.version !== 'string' || m.version === '' || typeof m.main !== 'function') {
      throw new UpdateError('ERR_VERSION_SHAPE', 'load', 'a version module exports `version` (a string) and `main(ctx)`');
    }
    if (m.renames !== undefined && (typeof m.renames !== 'object' || m.renames === null)) {
      throw new UpdateError('ERR_VERSION_SHAPE', 'load', '`renames` must be an object { oldName: newName }');
    }
    return m as VersionModule;
  }

  #performPending(point: string): void {
    while (this.#pending.length > 0) {
      const req = this.#pending.shift()!;
      this.#finish(req, this.#update(req, point));
    }
  }

  #finish(req: Request, report: UpdateReport): void {
    req.resolve(report);
    this.emit('update', report);
  }

  #failedReport(req: Request, phase: UpdatePhase, err: unknown, phases: UpdateReport['phases'], to = ''): UpdateReport {
    const e =
      err instanceof UpdateError
        ? err
        : new UpdateError(phase === 'load' ? 'ERR_VERSION_LOAD' : 'ERR_VERSION_INIT', phase, String((err as Error)?.message ?? err), { cause: err });
    this.#log(`update ${this.version ?? '?'} -> ${to || req.file}: FAILED in ${e.phase}: ${e.message}`);
    return {
      ok: false,
      from: this.version ?? '',
      to,
      strategy: req.strategy,
      point: '',
      error: { code: e.code, phase: e.phase, message: e.message },
      pauseMs: 0,
      phases,
      eventsRewired: 0,
      stateItems: this.#current?.ctx.store.size ?? 0,
      messagesCarried: 0,
      messagesDropped: [],
    };
  }

  #update(req: Request, point: string): UpdateReport {
    const reached = performance.now();
    const phases = emptyPhases();
    phases.quiesce = reached - req.requestedAt;
    const old = this.#current!;
    const from = old.module.version;
    let phase: UpdatePhase = 'request';
    let to = '';
    let ctx: UpdateContext | undefined;
    // The live events before prepare (what to rebind, and what a rollback must leave): part
    // of the rewire phase's time.
    let t = performance.now();
    const before = this.#base._allEvents();
    phases.rewire = performance.now() - t;
    let plan: RewirePlan;
    let module: VersionModule;
    let pubsubPlan: PubsubPlan | undefined;
    try {
      // ---- prepare: nothing of the running version changes below ----
      const resolved = this.#resolve(req.file);
      phase = 'load';
      t = performance.now();
      module = this.#validate(loadVersionModule(resolved, this.versionsDir).exports);
      to = module.version;
      phases.load = performance.now() - t;
      this.#log(`update ${from} -> ${to}: loaded ${path.basename(resolved)} at point '${point}'`);

      phase = 'init';
      t = performance.now();
      ctx = this.#newContext(to, { fromVersion: from, point, store: old.ctx.store });
      const result = module.main(ctx);
      if (result && typeof (result as Promise<void>).then === 'function') {
        throw new UpdateError('ERR_ASYNC_MAIN', 'init', 'main(ctx) must finish synchronously during an update');
      }
      phases.migrate = ctx.migrateMs;
      phases.init = performance.now() - t - ctx.migrateMs;
      phase = 'migrate';
      const missing = ctx.undeclaredOldItems();
      if (missing.length > 0) {
        throw new UpdateError('ERR_STATE_UNDECLARED', 'migrate', `${to} neither declares nor retires state ${missing.map((k) => `'${k}'`).join(', ')} of ${from}`);
      }
      this.#log(`update ${from} -> ${to}: state ready (${ctx.store.size} items)`);

      // Building the new publish-subscribe counts as init: it is the new version's objects.
      phase = 'pubsub';
      t = performance.now();
      pubsubPlan = this.#planPubsub(ctx, from);
      phases.init += performance.now() - t;

      phase = 'rewire';
      t = performance.now();
      plan = this.#planRewire(old, ctx, module, before);
      phases.rewire += performance.now() - t;
    } catch (err) {
      pubsubPlan?.pubsub.close();
      this.#freeCreatedSince(before);
      ctx?.retireContext();
      return this.#failedReport(req, err instanceof UpdateError ? err.phase : phase, err, phases, to);
    }

    // ---- commit ----
    t = performance.now();
    this.#applyRewire(req.strategy, plan);
    phases.rewire += performance.now() - t;
    t = performance.now();
    const carried = this.#commitPubsub(pubsubPlan);
    old.ctx.retireContext();
    ctx.dropCarried();
    this.#current = { module, ctx };
    phases.commit = performance.now() - t;
    const report: UpdateReport = {
      ok: true,
      from,
      to,
      strategy: req.strategy,
      point,
      pauseMs: performance.now() - reached,
      phases,
      eventsRewired: plan.events.length,
      stateItems: ctx.store.size,
      messagesCarried: carried.carried,
      messagesDropped: carried.dropped,
    };
    this.#log(`update ${from} -> ${to}: done in ${report.pauseMs.toFixed(3)} ms (${plan.events.length} events, ${req.strategy})`);
    return report;
  }

  /**
   * Builds the new version's publish-subscribe (finalize runs its checks here) and works out
   * what happens to each message still queued in the old one: carried (transformed if its
   * payload type changed) or dropped because the new version no longer has the message.
   * Only reads the old dispatcher.
   */
  #planPubsub(ctx: UpdateContext, from: string): PubsubPlan | undefined {
    const oldPubsub = this.#mainloop?.pubsub ?? null;
    const decl = ctx.subsystemsDecl;
    if (!decl && !oldPubsub) return undefined;
    let pubsub: Pubsub | undefined;
    try {
      const manager = new SubsystemManager(decl?.list ?? []);
      // initialize() runs at every load, as a version's main does: it can tell a fresh start
      // from an update with ctx.isUpdating(). The old version's subsystems are not shut down:
      // what they own lives on in migrated state.
      manager.init();
      const builder = new PubsubBuilder();
      manager.addPubsub(builder);
      pubsub = builder.finalize();
      const plan: PubsubPlan = { manager, pubsub, options: decl?.options ?? {}, carry: [], drop: [] };
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
              throw new UpdateError('ERR_TRANSFORM', 'pubsub', `messageTransforms['${name}'] threw: ${String(cause)}`, { cause });
            }
          }
          const sender = pubsub.naming.subsystems.find(h.senderName) ?? pubsub.naming.subsystems.id(h.senderName);
          plan.carry.push({
            header: new MessageHeader(sender, route.channel, msg, route.type, pubsub.naming),
            payload: next,
            ...(transform !== undefined ? { replaced: { type: h.type, payload } } : {}),
          });
        }
      }
      return plan;
    } catch (err) {
      pubsub?.close();
      if (err instanceof UpdateError) throw err;
      throw new UpdateError((err as { code?: string }).code ?? 'ERR_PUBSUB', 'pubsub', String((err as Error)?.message ?? err), { cause: err });
    }
  }

  /** Moves the queued messages over and connects the new system. Returns what was carried. */
  #commitPubsub(plan: PubsubPlan | undefined): { carried: number; dropped: string[] } {
    if (!plan) return { carried: 0, dropped: [] };
    const old = this.#mainloop?.pubsub?.dispatcher;
    if (old) {
      for (let ch = 0; ch < old.channelCount; ch++) old.take(ch); // ownership is ours now
      const disposeOld = (type: number, payload: unknown) => {
        try {
          old.dispose(type, payload);
        } catch (err) {
          this.#log(`dispose of a replaced message failed: ${String(err)}`);
        }
      };
      for (const c of plan.carry) if (c.replaced) disposeOld(c.replaced.type, c.replaced.payload);
      for (const d of plan.drop) disposeOld(d.type, d.payload);
    }
    this.#connect(plan);
    return { carried: plan.carry.length, dropped: plan.drop.map((d) => d.name) };
  }

  /** Connects `plan.pubsub` on the host's base: queue the carried messages, then set policies. */
  #connect(plan: PubsubPlan): void {
    if (this.#mainloop?.base !== this.#base) {
      this.#mainloop?.disconnect(); // a 'rebase' update replaced the base
      this.#mainloop = new Mainloop(this.#base);
    }
    const ml = this.#mainloop;
    ml.connect(plan.pubsub);
    for (const ev of ml.events) this.own(ev);
    // Queued while every channel is still 'never', so no hook runs inside the commit; setting
    // the policies then schedules their delivery on the next loop pass.
    for (const c of plan.carry) plan.pubsub.dispatcher.send(c.header, c.payload);
    for (const [channel, policy] of Object.entries(plan.options.policies ?? {})) ml.setDeliveryPolicy(channel, policy);
    this.#manager = plan.manager;
  }

  /** Shuts the service down: disconnects publish-subscribe and shuts subsystems down. */
  close(): void {
    this.#mainloop?.disconnect();
    this.#manager?.shutdown();
    this.#current?.ctx.retireContext();
    this.#current = undefined;
  }

  /**
   * Maps every live event of the old version to the new version's handler of the same name.
   * Names are resolved once per distinct old callback (a service has a few handlers and many
   * events), and the result is two parallel arrays, committed as they are.
   */
  #planRewire(old: Running, ctx: UpdateContext, module: VersionModule, before: readonly Event[]): RewirePlan {
    const events: Event[] = [];
    const fns: Callback[] = [];
    const renames = module.renames ?? {};
    const resolved = new Map<Callback, Callback>();
    const what = (ev: Event) => `event (fd ${ev.fd}, events 0x${ev.events.toString(16)})`;
    for (const ev of before) {
      if (this.#hostEvents.has(ev) || ev.freed) continue;
      const cb = ev.callback;
      let fn = resolved.get(cb);
      if (fn === undefined) {
        const name = old.ctx.nameOfHandler.get(cb);
        if (name === undefined) {
          throw new UpdateError('ERR_UNNAMED_CALLBACK', 'rewire', `${what(ev)} runs a callback that ${old.module.version} did not register with ctx.handlers(), so ${module.version} cannot replace it`);
        }
        const newName = Object.hasOwn(renames, name) ? renames[name]! : name;
        fn = ctx.handlerByName.get(newName);
        if (fn === undefined) {
          throw new UpdateError('ERR_MISSING_HANDLER', 'rewire', `${what(ev)} runs handler '${name}' of ${old.module.version}, and ${module.version} provides no handler '${newName}'`);
        }
        resolved.set(cb, fn);
      }
      events.push(ev);
      fns.push(fn);
    }
    return { events, fns };
  }

  #applyRewire(strategy: Strategy, plan: RewirePlan): void {
    const base = this.#base;
    if (strategy === 'inplace') {
      base._rewireEvents(plan.events, plan.fns);
      return;
    }
    // The comparison strategies touch every event, the host's own included.
    const byEvent = new Map<Event, Callback>();
    plan.events.forEach((ev, k) => byEvent.set(ev, plan.fns[k]!));
    const pairs: RebindPair[] = base._allEvents().map((ev) => [ev, byEvent.get(ev) ?? ev.callback] as const);
    if (strategy === 'readd') rebindByReadd(pairs);
    else if (strategy === 'reinit') rebindByReinit(base, pairs);
    else {
      const fresh = new EventBase({ method: base.method, priorities: base.priorities });
      rebindByRebase(fresh, pairs);
      this.#base = fresh;
      base.free();
    }
  }

  #freeCreatedSince(before: readonly Event[]): void {
    const had = new Set(before);
    for (const ev of this.#base._allEvents()) if (!had.has(ev) && !ev.freed) ev.free();
  }
}

function emptyPhases(): UpdateReport['phases'] {
  return { quiesce: 0, load: 0, init: 0, migrate: 0, rewire: 0, commit: 0 };
}
