// UpdateHost: runs one version of a service on a host-owned event base and replaces it with
// another at an update point, Kitsune-style, in two phases. This class holds the host's state
// and composes the phases, each in its own file:
//
// prepare.ts  load the new code, run its main(ctx) in updating mode, check state and map every
//             live event to the new handler; touches nothing of the running version
// carry.ts    the new publish-subscribe, and the messages still queued in the old one
// commit.ts   rewrite the live events' callbacks, connect publish-subscribe, swap contexts
// drive.ts    the request queue, update points and the host loops (run / dispatch)
// report.ts   the UpdateReport of each outcome
import { EventEmitter } from 'node:events';
import { realpathSync } from 'node:fs';

import { checkOptions, checkSignal } from '../loop/abort.js';
import { typeError } from '../loop/errors.js';
import { type Event, EventBase, type RunOptions } from '../loop/index.js';
import type { Mainloop } from '../mainloop/index.js';
import { PubsubCarrier } from './carry.js';
import { commitUpdate, RewireRefused } from './commit.js';
import { type ContextHost, UpdateContext } from './context.js';
import { PointDriver } from './drive.js';
import { codeOf, describeThrown, UpdateError, type UpdatePhase } from './errors.js';
import { discardPrepared, freeCreatedSince, loadRequested, loadVersion, PrepareFailure, type PrepareHost, prepareUpdate, resolveVersionPath, snapshotBefore } from './prepare.js';
import { freeBufferedCreatedSince, snapshotBuffered } from './rebind-buffered.js';
import { rehearseUpdatePathOnce } from './rehearse.js';
import { failedReport, preparedReport, withRunQueueWait } from './report.js';
import { RunQueueClock, yieldCpu } from './schedstat.js';
import { emptyPhases, type Phases, type Running, STRATEGIES, type Strategy, type UpdateHostOptions, type UpdateHostStatus, type UpdateReport, type UpdateRequest, kRequestUpdate } from './types.js';

export type { Strategy, UpdateHostOptions, UpdateHostStatus, UpdateReport, VersionModule } from './types.js';

/** How long the host sleeps at an update point before the pause (yieldBeforePause), ms. */
const YIELD_MS = 0.05;

/** The events of an UpdateHost and their arguments. */
export interface UpdateHostEvents {
  /** Every update, done or refused (the report requestUpdate resolves with). */
  update: [report: UpdateReport];
  /** An update point was reached: its name, and how many points were reached so far. */
  point: [name: string, count: number];
  /** One line per phase, as the `log` option gets it. */
  log: [line: string];
}

/**
 * Runs a service's versions on one event base and replaces them live: start() the first,
 * requestUpdate() (or the CLI through a {@link ControlServer}) the next ones. An update
 * happens at an update point, in two phases: prepare (load, the new main, state, event map;
 * any failure leaves the running version untouched) and commit (rewrite every live event's
 * callback, swap versions). Emits 'update' (UpdateReport), 'point' and 'log'.
 *
 * @example
 * ```ts
 * import { EventBase } from 'node-libevent';
 * import { UpdateHost } from 'node-libevent/update';
 *
 * await using host = new UpdateHost({ base: new EventBase(), versionsDir: './versions' });
 * host.on('update', (r) => console.log(r.ok ? `now ${r.to}` : `refused: ${r.error?.code}`));
 * await host.start('v1.cjs');
 * setTimeout(() => void host.requestUpdate('v2.cjs'), 1000);
 * await host.run();                    // until host.close()
 * ```
 */
export class UpdateHost extends EventEmitter<UpdateHostEvents> implements ContextHost, Disposable, AsyncDisposable {
  #base: EventBase;
  /** The real path of the versions directory. */
  readonly versionsDir: string;
  /** The default strategy of updates. */
  readonly strategy: Strategy;
  /** Versions are compiled when they load (see UpdateHostOptions.eagerCompile). */
  readonly eagerCompile: boolean;
  /** The host sleeps briefly at an update point before the pause (see UpdateHostOptions.yieldBeforePause). */
  readonly yieldBeforePause: boolean;
  /** What the host sleeps on (Atomics.wait, never notified): a timed sleep in the kernel. */
  readonly #sleeper = new Int32Array(new SharedArrayBuffer(4));
  #log: (line: string) => void;
  #current: Running | undefined;
  /** A start() is under way (an async main may take a while): a second one is refused. */
  #starting = false;
  #closed = false;
  readonly #hostEvents = new WeakSet<Event>();
  readonly #carrier: PubsubCarrier;
  readonly #driver: PointDriver;
  readonly #prepareHost: PrepareHost;
  #startedAt: number | undefined;
  #updates = 0;
  #failedUpdates = 0;
  #lastReport: UpdateReport | undefined;

  /**
   * @param options - the base, the versions directory, the default strategy, a log function
   * @throws TypeError ERR_INVALID_ARG_TYPE (no EventBase); RangeError ERR_UNKNOWN_STRATEGY;
   *   errno codes (ENOENT: no versions directory)
   */
  constructor(options: UpdateHostOptions) {
    super();
    if (!(options?.base instanceof EventBase)) throw Object.assign(new TypeError('UpdateHost needs { base: EventBase }'), { code: 'ERR_INVALID_ARG_TYPE' });
    this.#base = options.base;
    this.versionsDir = realpathSync(options.versionsDir);
    this.strategy = options.strategy ?? 'inplace';
    if (!STRATEGIES.includes(this.strategy)) throw Object.assign(new RangeError(`unknown strategy '${String(this.strategy)}'`), { code: 'ERR_UNKNOWN_STRATEGY' });
    for (const key of ['eagerCompile', 'yieldBeforePause'] as const) {
      const v = options[key];
      if (v !== undefined && typeof v !== 'boolean') throw typeError('ERR_INVALID_ARG_TYPE', `options.${key} must be a boolean, got ${v === null ? 'null' : typeof v}`);
    }
    this.eagerCompile = options.eagerCompile ?? true;
    this.yieldBeforePause = options.yieldBeforePause ?? true;
    const log = options.log ?? (() => {});
    this.#log = (line) => {
      log(line);
      this.emit('log', line);
    };
    const host = this; // the getters below read the current base, which 'rebase' replaces
    this.#carrier = new PubsubCarrier(
      (ev) => this.own(ev),
      (line) => this.#log(line),
    );
    this.#driver = new PointDriver({
      get base() {
        return host.#base;
      },
      perform: (req, point) => this.#update(req, point),
      finish: (req, report) => this.#finish(req, report),
      announce: (point, count) => this.emit('point', point, count),
    });
    this.#prepareHost = {
      get base() {
        return host.#base;
      },
      get mainloop() {
        return host.mainloop;
      },
      reachPoint: (name) => this.reachPoint(name),
      versionsDir: this.versionsDir,
      carrier: this.#carrier,
      isOwn: (ev) => this.isOwn(ev),
      log: (line) => this.#log(line),
    };
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
    return this.#carrier.mainloop;
  }

  /** The running version's context (its state store and handler names), for inspection. */
  get context(): UpdateContext | undefined {
    return this.#current?.ctx;
  }

  /** How many update points have been reached so far. */
  get pointsReached(): number {
    return this.#driver.pointsReached;
  }

  /**
   * Marks an event as the host's own: never rebound to a version's handler.
   *
   * @param ev - an event of the host's base
   * @returns the same event
   */
  own(ev: Event): Event {
    this.#hostEvents.add(ev);
    if (!ev.freed && !ev.base.freed) ev.base._setHostOwned(ev); // the addon counts them apart when a rewire is planned
    return ev;
  }

  /**
   * Whether an event is the host's own.
   *
   * @param ev - any event
   * @returns true for events marked with own()
   */
  isOwn(ev: Event): boolean {
    return this.#hostEvents.has(ev);
  }

  /**
   * Loads the first version and runs its main(ctx) as a fresh start. If main throws, what it
   * created on the base is freed again.
   *
   * @param file - the version's file, relative to versionsDir (or absolute inside it)
   * @throws (as a rejection) UpdateError ERR_ALREADY_STARTED, ERR_VERSION_PATH,
   *   ERR_OUTSIDE_VERSIONS_DIR, ERR_VERSION_TYPESCRIPT, ERR_VERSION_ESM, ERR_VERSION_SHAPE;
   *   whatever loading the module or its main throws
   */
  async start(file: string): Promise<void> {
    if (this.#current || this.#starting) throw new UpdateError('ERR_ALREADY_STARTED', 'request', 'this host already runs (or is starting) a version');
    this.#starting = true;
    try {
      const module = loadVersion(resolveVersionPath(this.versionsDir, file), this.versionsDir, { eagerCompile: this.eagerCompile });
      const ctx = new UpdateContext(this, module.version);
      const mark = this.#base._eventMark();
      const bufferedBefore = snapshotBuffered(this.#base);
      try {
        await module.main(ctx);
        this.#carrier.startFrom(ctx, this.#base);
      } catch (err) {
        this.#carrier.disconnect();
        freeCreatedSince(this.#base, mark);
        freeBufferedCreatedSince(this.#base, bufferedBefore);
        ctx.retireContext();
        throw err;
      }
      ctx.dropCarried();
      this.#current = { module, ctx };
      this.#startedAt ??= Date.now();
      this.#closed = false;
      this.#driver.resume();
      this.#log(`start ${module.version}`);
    } finally {
      this.#starting = false;
    }
  }

  /**
   * Asks for an update to the version at `file` (inside versionsDir). It happens at the next
   * update point: the loop is woken, so that is within one iteration even when idle; with no
   * loop running it happens at once. Resolves with the report, ok or not.
   *
   * @param file - the new version's file, relative to versionsDir
   * @param options - `strategy` (default the host's), `dryRun`: prepare, report, discard
   * @returns the report; a refusal or failure is a report with `ok: false` and `error.code`
   * @throws (as a rejection) UpdateError ERR_HOST_CLOSED (closed before the update could happen)
   */
  requestUpdate(file: string, options: { strategy?: Strategy; dryRun?: boolean } = {}): Promise<UpdateReport> {
    return new Promise((resolve, reject) => {
      this[kRequestUpdate](file, options, (report, error) => (report ? resolve(report) : reject(error)));
    });
  }

  /** @internal requestUpdate with a callback: `done(report)`, or `done(undefined, error)` if never taken. */
  [kRequestUpdate](file: string, options: { strategy?: Strategy; dryRun?: boolean }, done: (report: UpdateReport | undefined, error?: UpdateError) => void): void {
    const strategy = options?.strategy ?? this.strategy;
    const req: UpdateRequest = {
      file,
      strategy,
      requestedAt: performance.now(),
      ...(options?.dryRun === true ? { dryRun: true } : {}),
      resolve: (report) => done(report),
      reject: (error) => done(undefined, error as UpdateError),
    };
    let problem: UpdateError | undefined;
    if (!this.#current) problem = new UpdateError('ERR_NOT_STARTED', 'request', 'no version is running yet');
    else if (!STRATEGIES.includes(strategy)) problem = new UpdateError('ERR_UNKNOWN_STRATEGY', 'request', `unknown strategy '${describeThrown(strategy)}'`);
    if (problem) {
      this.#finish(req, this.#failedReport(req, 'request', problem, emptyPhases()));
      return;
    }
    // The first request of the process first takes a built-in service through a whole update
    // on a private base, so the host's own update code is compiled before any pause (its time
    // counts in this update's load phase).
    const rehearsalMs = rehearseUpdatePathOnce((line) => this.#log(line));
    // Load and compile now, outside the pause; a version that cannot load is reported at once.
    req.loaded = loadRequested(this.versionsDir, file, { eagerCompile: this.eagerCompile });
    if ('loadMs' in req.loaded) req.loaded.loadMs += rehearsalMs;
    if ('failure' in req.loaded) {
      const { phase, error, to } = req.loaded.failure;
      this.#finish(req, this.#failedReport(req, phase, error, emptyPhases(), to));
      return;
    }
    this.#driver.enqueue(req);
  }

  /**
   * An update point: counted, announced ('point' event), and where a pending update happens.
   *
   * @param name - the point's name
   * @throws UpdateUnwind ERR_UPDATE_UNWIND (from inside a callback, when an update is due)
   */
  reachPoint(name: string): void {
    this.#driver.reach(name);
  }

  /**
   * Cooperative loop (base.run()) with an update point between iterations. Under it, SIGTERM
   * and SIGINT remove a ControlServer's socket file before they end the process.
   *
   * @param options - as for base.run(): `signal` ends the loop when aborted (at once if it
   *   already is, before any update point) and rejects with an AbortError; `keepAlive` keeps it
   *   up with no events left. An update asked for and not yet taken stays queued for the next
   *   run() or dispatch().
   * @returns 1 when no events were left, 0 after loopbreak()/loopexit() or close()
   * @throws (as a rejection) AbortError ABORT_ERR (cause: the signal's reason), a callback's
   *   error; TypeError ERR_INVALID_ARG_TYPE (bad options)
   * @example
   * ```ts
   * const ac = new AbortController();
   * process.once('SIGTERM', () => ac.abort());
   * await host.run({ signal: ac.signal }).catch((err) => {
   *   if (err.code !== 'ABORT_ERR') throw err;
   * });
   * ```
   */
  async run(options: RunOptions = {}): Promise<0 | 1> {
    checkOptions(options);
    const { signal, keepAlive } = options;
    checkSignal(signal);
    if (keepAlive !== undefined && typeof keepAlive !== 'boolean') {
      throw typeError('ERR_INVALID_ARG_TYPE', `options.keepAlive must be a boolean, got ${keepAlive === null ? 'null' : typeof keepAlive}`);
    }
    return this.#driver.run({ ...(signal ? { signal } : {}), ...(keepAlive ? { keepAlive } : {}) });
  }

  /**
   * Exclusive loop (libevent owns the thread), one update point per loop iteration.
   *
   * @returns 1 when no events are left, 0 after close()
   * @throws a callback's error, as base.dispatch()
   */
  dispatch(): 0 | 1 {
    return this.#driver.dispatch();
  }

  /**
   * Shuts the service down: refuses waiting requests (ERR_HOST_CLOSED), ends host.run() and
   * host.dispatch() (they return 0 at their next update point), disconnects publish-subscribe
   * and shuts subsystems down. The version's events stay on the base (free it, or them).
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#driver.rejectAll(new UpdateError('ERR_HOST_CLOSED', 'request', 'the update host was closed before this update could happen'));
    this.#driver.stop();
    this.#carrier.close();
    this.#current?.ctx.retireContext();
    this.#current = undefined;
  }

  /** `using host = new UpdateHost(…)`: close() at the end of the scope. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** `await using host = new UpdateHost(…)`: close() at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }

  /**
   * The running version, uptime, how many updates went through or failed, and the last report.
   * @returns a new object each call (safe to keep or serialize).
   */
  status(): UpdateHostStatus {
    return {
      version: this.version,
      pid: process.pid,
      startedAt: this.#startedAt,
      uptimeMs: this.#startedAt === undefined ? 0 : Date.now() - this.#startedAt,
      updates: this.#updates,
      failedUpdates: this.#failedUpdates,
      lastReport: this.#lastReport,
      pointsReached: this.pointsReached,
      strategy: this.strategy,
      versionsDir: this.versionsDir,
    };
  }

  #finish(req: UpdateRequest, report: UpdateReport): void {
    if (req.dryRun) report.dryRun = true;
    else {
      if (report.ok) this.#updates++;
      else this.#failedUpdates++;
      this.#lastReport = report;
    }
    req.resolve(report);
    this.emit('update', report);
  }

  #failedReport(req: UpdateRequest, phase: UpdatePhase, err: unknown, phases: Phases, to = ''): UpdateReport {
    const { report, error } = failedReport(req, phase, err, phases, this.#current, to);
    this.#log(`update ${this.version ?? '?'} -> ${to || req.file}: FAILED in ${error.phase}: ${error.message}`);
    return report;
  }

  /** One update, prepare then commit, at update point `point`. */
  #update(req: UpdateRequest, point: string): UpdateReport {
    const clock = RunQueueClock.open(); // opened before the pause, read inside it
    try {
      return this.#updateTimed(req, point, clock);
    } finally {
      clock?.close();
    }
  }

  #updateTimed(req: UpdateRequest, point: string, clock: RunQueueClock | undefined): UpdateReport {
    // Give the CPU up for a moment: the kernel runs whatever else is waiting now, and the pause
    // then starts on a fresh time slice instead of being preempted half-way.
    if (this.yieldBeforePause) yieldCpu(this.#sleeper, YIELD_MS, clock);
    const waitedBefore = clock?.waitedNs();
    const reached = performance.now();
    const phases = emptyPhases();
    phases.quiesce = reached - req.requestedAt;
    const old = this.#current;
    const loaded = req.loaded;
    if (!old || !loaded || 'failure' in loaded) {
      return this.#failedReport(req, 'request', new UpdateError('ERR_NOT_STARTED', 'request', 'no version is running'), phases);
    }
    // What the base holds before prepare (the callbacks to rebind, where a rollback's events
    // start): one native pass, part of the rewire phase's time.
    const t = performance.now();
    const before = snapshotBefore(this.#base);
    phases.rewire = performance.now() - t;
    let prepared;
    try {
      phases.load = loaded.loadMs; // before the point: not part of pauseMs
      prepared = prepareUpdate(this.#prepareHost, old, loaded.module, loaded.file, point, before, phases, req.strategy);
    } catch (failure) {
      if (!(failure instanceof PrepareFailure)) throw failure;
      return this.#failedReport(req, failure.phase, failure.error, phases, failure.to);
    }
    if (req.dryRun) {
      // Everything an update would do up to the commit has run; undo it, as a failed prepare is undone.
      discardPrepared(this.#prepareHost, prepared);
      const report = withRunQueueWait(preparedReport(req, old, prepared, point, reached, phases, 'dry run'), waitedBefore, clock?.waitedNs());
      this.#log(`dry run ${report.from} -> ${report.to}: would rebind ${report.eventsRewired} events, ${report.stateItems} state items, carry ${report.messagesCarried} messages; discarded`);
      return report;
    }
    let done;
    try {
      done = commitUpdate(this.#base, this.#carrier, old, prepared, req.strategy, phases, (ev) => this.isOwn(ev));
    } catch (err) {
      if (!(err instanceof RewireRefused)) throw err;
      // The addon refused the rewrite before writing anything: undo prepare, keep the old version.
      discardPrepared(this.#prepareHost, prepared);
      const code = codeOf(err.cause) ?? 'ERR_NOT_REWRITABLE';
      return this.#failedReport(req, 'rewire', new UpdateError(code, 'rewire', describeThrown(err.cause), { cause: err.cause }), phases, prepared.module.version);
    }
    this.#base = done.base;
    this.#current = done.running;
    const report = withRunQueueWait(preparedReport(req, old, prepared, point, reached, phases, done), waitedBefore, clock?.waitedNs());
    this.#log(`update ${report.from} -> ${report.to}: done in ${report.pauseMs.toFixed(3)} ms (${report.eventsRewired} events, ${req.strategy})`);
    return report;
  }
}
