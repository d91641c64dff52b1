// Randomized model test, on every backend: long seeded sequences of create / add / del /
// active / free / removeTimer / loop(ONCE | NONBLOCK) / rewrite / rewire / priority / fd
// writes and closes, with callbacks that act on themselves or on other events (and sometimes
// throw), on bases of one and of two priority levels. A model
// written from libevent 2.1's rules predicts every event's queues; after every step the API
// must agree with it: base.events(), ev.pending(), numEvents(ADDED / ACTIVE), which events
// are pinned, and every callback that runs must be one the model allows, with the newest
// callback. Random garbage (wrong types, stale handles, freed objects) is thrown at the API
// in between: it must throw an error with a code and change nothing.
//
// Reproduce a failure with LOOP_SEED=<seed printed in the failure> npx vitest run test/loop/random.test.ts
// (short timers make a few runs timing-dependent; the same seed usually fails the same way).
// Soak: LOOP_ROUNDS=100 npx vitest run test/loop/random.test.ts
import { randomInt } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { type Callback, COUNT, EV, EVLOOP, type Event, EventBase, io } from '../../lib/index.js';
import { binding } from '../../lib/loop/native.js';
import { INDEX_MODULUS, live } from '../../lib/loop/registry.js';
import { bytes, drain, methods } from './helpers.js';

const ROUNDS = Number(process.env.LOOP_ROUNDS ?? 4); // raise for a soak run
const STEPS = 900; // per round: 3600 steps per backend
const PAIRS = 4;
const MAX_EVENTS = 24;
const FAR = 1_000_000; // a timeout that never expires during the test
const IO_BITS = EV.READ | EV.WRITE;

/** mulberry32: a tiny seeded PRNG. */
function prng(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    chance: (p: number) => next() < p,
    pick<T>(xs: readonly T[]): T {
      return xs[Math.floor(next() * xs.length)]!;
    },
  };
}
type Rng = ReturnType<typeof prng>;

interface Pair {
  a: number; // events watch this end
  b: number; // bytes are written here
  readable: number; // bytes waiting at `a`
}

/** What libevent should hold for one event: its queue memberships and callback generation. */
interface Model {
  id: number;
  ev: Event;
  io: number; // READ/WRITE bits watched, 0 for a timer
  pair: Pair | undefined;
  persist: boolean;
  inserted: boolean; // EVLIST_INSERTED
  timed: boolean; // EVLIST_TIMEOUT
  timeoutMs: number; // the last timeout given to add()
  period: number; // ev_io_timeout of a persistent event (ms), 0 for none
  active: boolean; // EVLIST_ACTIVE
  res: number; // ev_res while active
  gen: number; // which callback the struct must call
  freed: boolean;
  orphan: boolean; // its fd was closed by io.close
  fired: number; // calls in the current pass
}

class Failure extends Error {}
function check(cond: boolean, msg: () => string): asserts cond {
  if (!cond) throw new Failure(msg());
}

const expectedBits = (m: Model) => (m.inserted ? m.io : 0) | (m.active ? m.res : 0) | (m.timed ? EV.TIMEOUT : 0);
const isPending = (m: Model) => m.inserted || m.timed || m.active;

class Run {
  readonly base: EventBase;
  readonly pairs: Pair[] = [];
  readonly models: Model[] = [];
  readonly log: string[] = [];
  readonly stale: number[] = []; // handles of freed events
  nextId = 0;
  inPass = false;
  throwAllowed = false;
  thrown: unknown = undefined;
  readableAtStart = new Map<number, number>();
  touched = new Set<Model>(); // acted on by another event's callback in this pass
  activations = 0; // activations made by callbacks in this pass

  constructor(
    readonly method: string,
    readonly rng: Rng,
    readonly priorities: number,
  ) {
    this.base = new EventBase({ method, priorities });
    for (let i = 0; i < PAIRS; i++) this.pairs.push(this.newPair());
  }

  newPair(): Pair {
    const [a, b] = io.socketpair();
    return { a, b, readable: 0 };
  }

  note(s: string): void {
    this.log.push(s);
    if (this.log.length > 40) this.log.shift();
  }

  get liveModels(): Model[] {
    return this.models.filter((m) => !m.freed);
  }

  // ---- model transitions (libevent 2.1.12's event_add/del/active/remove_timer rules) ----

  mAdd(m: Model, ms: number | undefined): void {
    // event_add inserts I/O interest only when not already inserted or active.
    if (m.io && !m.inserted && !m.active) m.inserted = true;
    if (ms !== undefined) {
      if (m.persist) m.period = ms;
      // Rescheduling the timeout of an event made active by a timeout drops the activation.
      if (m.active && m.res & EV.TIMEOUT) m.active = false;
      m.timed = true;
      m.timeoutMs = ms;
    }
  }
  mDel(m: Model): void {
    m.inserted = m.timed = m.active = false;
  }
  mActive(m: Model, what: number): void {
    if (m.active) m.res |= what;
    else {
      m.active = true;
      m.res = what;
    }
  }
  mRemoveTimer(m: Model): void {
    if (m.timed) {
      m.timed = false;
      m.period = 0;
    }
  }

  // ---- callbacks ----

  callbackFor(m: Model, gen: number): Callback {
    return (fd, what, self) => {
      check(this.inPass, () => `#${m.id} ran outside a loop pass`);
      check(self === m.ev, () => `#${m.id} got another event as its third argument`);
      check(!m.freed, () => `#${m.id} ran after it was freed`);
      check(gen === m.gen, () => `#${m.id} ran callback generation ${gen}, the struct should hold ${m.gen}`);
      check(fd === (m.pair ? m.pair.a : -1), () => `#${m.id} got fd ${fd}`);
      this.checkFire(m, what);
      this.note(`  fire #${m.id} what=${what}`);
      // What libevent did: a timeout that expired deleted the event before activating it;
      // a non-persistent event is deleted before its callback; a persistent one with a
      // period is re-added (re-inserted too) before its callback.
      if (what & EV.TIMEOUT && m.timed) m.inserted = m.timed = false;
      m.active = false;
      m.res = 0;
      if (!m.persist) {
        m.inserted = m.timed = false;
      } else if (m.period > 0) {
        m.timed = true;
        if (m.io) m.inserted = true;
      }
      m.fired++;
      if (this.rng.chance(0.3)) this.callbackOp(m);
    };
  }

  checkFire(m: Model, what: number): void {
    const desc = () => `#${m.id} fired with what=${what}; model ${JSON.stringify({ ...m, ev: undefined, pair: m.pair?.a })}`;
    check(what !== 0 && (what & ~(IO_BITS | EV.TIMEOUT)) === 0, () => `bad bits: ${desc()}`);
    const fromActive = m.active ? m.res : 0;
    if (what & EV.TIMEOUT && !(fromActive & EV.TIMEOUT)) {
      check(m.timed, () => `a timeout that was not pending: ${desc()}`);
      check(m.timeoutMs < FAR, () => `a far timeout expired: ${desc()}`);
    }
    if (m.active && !(what & EV.TIMEOUT && m.timed)) {
      check((what & m.res) === m.res, () => `activation bits lost: ${desc()}`);
    }
    const ioBits = what & IO_BITS & ~fromActive;
    check((ioBits & ~(m.inserted ? m.io : 0)) === 0, () => `I/O bits it does not watch: ${desc()}`);
    if (ioBits & EV.READ) {
      check((this.readableAtStart.get(m.pair!.a) ?? 0) > 0, () => `READ without data: ${desc()}`);
    }
  }

  /**
   * A callback acting on its own event or, sometimes, on another one (which is then exempt
   * from this pass's must-run rules: it may have been deleted or freed before its turn).
   * Another event may already be active from this pass's poll or expired timeouts, which the
   * model learns only when it runs, so only operations whose outcome does not depend on that
   * are made on others: del, active, free, rewrite (add and removeTimer do depend on it).
   */
  callbackOp(self: Model): void {
    const r = this.rng;
    const others = this.liveModels.filter((x) => x !== self && !x.orphan);
    const onOther = others.length > 0 && r.chance(0.3);
    const m = onOther ? r.pick(others) : self;
    if (onOther) this.touched.add(m);
    const op = onOther
      ? r.pick(['del', 'active', 'active', 'free', 'rewrite'] as const)
      : r.pick(['del', 'add', 'add', 'active', 'free', 'rewrite', 'removeTimer', 'rewire', 'throw'] as const);
    switch (op) {
      case 'del':
        this.note(`  op del #${m.id}`);
        m.ev.del();
        this.mDel(m);
        break;
      case 'add': {
        const ms = this.randomTimeout();
        this.note(`  op add #${m.id} ${ms}`);
        m.ev.add(ms);
        this.mAdd(m, ms);
        break;
      }
      case 'active': {
        // Bounded, or a persistent event (or two activating each other) could run forever.
        if (m.fired >= 2 || this.activations++ >= 10) return;
        const what = this.activation(m);
        this.note(`  op active #${m.id} ${what}`);
        m.ev.active(what);
        this.mActive(m, what);
        break;
      }
      case 'free':
        this.note(`  op free #${m.id}`);
        this.free(m);
        break;
      case 'rewrite':
        this.note(`  op rewrite #${m.id}`);
        this.rewrite(m);
        break;
      case 'removeTimer':
        this.note(`  op removeTimer #${m.id}`);
        m.ev.removeTimer();
        this.mRemoveTimer(m);
        break;
      case 'rewire':
        this.note(`  op rewire (from #${m.id})`);
        this.rewire();
        break;
      case 'throw':
        if (m !== self || !this.throwAllowed || this.thrown !== undefined) return;
        this.note(`  op throw #${m.id}`);
        this.thrown = new Error(`thrown by #${m.id}`);
        throw this.thrown;
    }
  }

  // ---- operations ----

  randomTimeout(): number | undefined {
    return this.rng.pick([undefined, undefined, 0, 0, 1, 2, 3, FAR]);
  }
  /**
   * Bits for m.active(). A timed event is never given TIMEOUT: libevent 2.1 would then not
   * tell, when it runs with TIMEOUT, whether its timeout expired (which deletes it first) or
   * the bit came from the activation, and neither can the model.
   */
  activation(m: Model): number {
    const what = this.randomWhat();
    return m.timed ? what & ~EV.TIMEOUT || EV.READ : what;
  }

  randomWhat(): number {
    let w = 0;
    while (w === 0) for (const bit of [EV.TIMEOUT, EV.READ, EV.WRITE]) if (this.rng.chance(0.4)) w |= bit;
    return w;
  }

  create(): void {
    const r = this.rng;
    const persist = r.chance(0.5);
    let m: Model;
    const init = { id: this.nextId++, inserted: false, timed: false, timeoutMs: 0, period: 0, active: false, res: 0, gen: 0, freed: false, orphan: false, fired: 0, persist };
    if (r.chance(0.6)) {
      const pair = r.pick(this.pairs);
      const ioBits = r.pick([EV.READ, EV.READ, EV.WRITE, EV.READ | EV.WRITE]);
      m = { ...init, io: ioBits, pair, ev: undefined as unknown as Event };
      m.ev = this.base.event(pair.a, ioBits | (persist ? EV.PERSIST : 0), this.callbackFor(m, 0));
    } else {
      m = { ...init, io: 0, pair: undefined, ev: undefined as unknown as Event };
      m.ev = this.base.timer(this.callbackFor(m, 0), { persist });
    }
    this.note(`create #${m.id} io=${m.io} fd=${m.pair?.a ?? -1} persist=${persist}`);
    this.models.push(m);
  }

  free(m: Model): void {
    this.stale.push(m.ev._handle);
    m.ev.free();
    m.freed = true;
    this.mDel(m);
  }

  rewrite(m: Model): void {
    const gen = m.gen + 1;
    m.ev.callback = this.callbackFor(m, gen);
    m.gen = gen;
  }

  rewire(): void {
    const r = this.rng;
    const seen = new Set<Event>();
    const chosen = new Map<Model, number>();
    const byEvent = new Map(this.liveModels.map((m) => [m.ev, m]));
    const n = this.base.rewire((ev) => {
      check(!seen.has(ev), () => 'rewire map saw an event twice');
      seen.add(ev);
      const m = byEvent.get(ev);
      check(m !== undefined, () => 'rewire map saw an event that is not live');
      if (!r.chance(0.5)) return undefined;
      chosen.set(m, m.gen + 1);
      return this.callbackFor(m, m.gen + 1);
    });
    check(seen.size === byEvent.size, () => `rewire map saw ${seen.size} of ${byEvent.size} live events`);
    check(n === chosen.size, () => `rewire returned ${n}, ${chosen.size} chosen`);
    for (const [m, gen] of chosen) m.gen = gen;
  }

  loopPass(): void {
    const start = this.liveModels.map((m) => ({ m, bits: expectedBits(m), inserted: m.inserted, active: m.active, timeoutMs: m.timeoutMs, timed: m.timed }));
    this.readableAtStart = new Map(this.pairs.map((p) => [p.a, p.readable]));
    const anything = start.some((s) => s.bits !== 0 || s.inserted);
    for (const m of this.models) m.fired = 0;
    this.touched.clear();
    this.activations = 0;
    this.throwAllowed = this.rng.chance(0.1);
    this.thrown = undefined;
    this.note(`loop${this.throwAllowed ? ' (may throw)' : ''}`);
    let ret: number | undefined;
    let caught: unknown;
    this.inPass = true;
    try {
      ret = this.base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK);
    } catch (err) {
      caught = err;
    } finally {
      this.inPass = false;
    }
    if (caught instanceof Failure) throw caught;
    if (this.thrown !== undefined) {
      check(caught === this.thrown, () => `loop() did not rethrow the callback's error: ${String(caught)}`);
      // The loop broke after that callback: what else the backend made active is unknown to
      // the model until it runs. A second pass runs it all (nothing may be lost).
      this.throwAllowed = false;
      this.readableAtStart = new Map(this.pairs.map((p) => [p.a, p.readable]));
      for (const m of this.models) m.fired = 0;
      this.activations = 0;
      const stillActive = this.liveModels.filter((m) => m.active);
      this.inPass = true;
      try {
        this.base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK);
      } finally {
        this.inPass = false;
      }
      for (const m of stillActive) {
        check(m.fired > 0 || m.freed || this.touched.has(m), () => `#${m.id} was active before a throw and never ran`);
      }
      return;
    }
    check(caught === undefined, () => `loop() threw ${String(caught)}`);
    check(ret === (anything ? 0 : 1), () => `loop() returned ${ret} with${anything ? '' : ' no'} events`);
    // Must-fire rules for a pass without a break: everything active ran, level-triggered
    // ready I/O ran, zero timeouts ran; and nothing is left active.
    for (const s of start) {
      const m = s.m;
      if (this.touched.has(m)) continue;
      const ready =
        s.active ||
        (s.inserted && (m.io & EV.WRITE) !== 0) ||
        (s.inserted && (m.io & EV.READ) !== 0 && (this.readableAtStart.get(m.pair!.a) ?? 0) > 0) ||
        (s.timed && s.timeoutMs === 0);
      check(!ready || m.fired > 0, () => `#${m.id} should have run in this pass: ${JSON.stringify(s.bits)}`);
    }
    for (const m of this.liveModels) check(!m.active, () => `#${m.id} still active after a full pass`);
  }

  /** A call that must throw an error with a code, and change nothing. */
  garbage(): void {
    const r = this.rng;
    const lm = this.liveModels;
    const m = lm.length ? r.pick(lm) : undefined;
    const freed = this.models.filter((x) => x.freed);
    const f = freed.length ? r.pick(freed) : undefined;
    const junk = r.pick<unknown>([NaN, -1, -0.5, Infinity, 1e16, '1', null, {}, [], 3n, Symbol('x'), () => 1, true]);
    const staleHandle = this.stale.length ? r.pick(this.stale) : -1;
    const calls: [string, () => unknown][] = [
      ['event(junk fd)', () => this.base.event(junk as number, EV.READ, () => undefined)],
      ['event(junk bits)', () => this.base.event(this.pairs[0]!.a, (typeof junk === 'number' ? 0x40 : junk) as number, () => undefined)],
      ['event(SIGNAL|READ)', () => this.base.event(10, EV.SIGNAL | EV.READ, () => undefined)],
      ['timer(junk cb)', () => this.base.timer((typeof junk === 'function' ? 5 : junk) as Callback)],
      ['loop(junk)', () => this.base.loop((typeof junk === 'number' ? 99 : junk) as number)],
      ['numEvents(junk)', () => this.base.numEvents((typeof junk === 'number' ? 0 : junk) as number)],
      ['loopexit(junk)', () => this.base.loopexit((typeof junk === 'number' ? -5 : junk) as number)],
      ['once(junk)', () => this.base.once(-1, EV.SIGNAL, () => undefined)],
      ['rewire(junk)', () => this.base.rewire((typeof junk === 'function' ? 'x' : junk) as () => undefined)],
      ['stale eventAdd', () => binding.eventAdd(staleHandle)],
      ['stale eventActive', () => binding.eventActive(staleHandle, EV.READ)],
      ['stale eventDel', () => binding.eventDel(staleHandle)],
      ['stale eventFree', () => binding.eventFree(staleHandle)],
      ['stale eventRelease', () => binding.eventRelease(staleHandle)],
      ['stale eventRewrite', () => binding.eventRewrite(staleHandle, 0)],
      ['stale eventStoredCallback', () => binding.eventStoredCallback(staleHandle)],
      ['junk handle', () => binding.eventPending(junk as number)],
      ['junk handle add', () => binding.eventAdd(junk as number, 5)],
      ['io.read junk', () => io.read(junk as number, new Uint8Array(1))],
    ];
    if (m) {
      // (the map runs only when there is a live event)
      calls.push(
        ['rewire(map returns junk)', () => this.base.rewire(() => (typeof junk === 'function' ? 5 : junk) as Callback)],
        [
          'rewire(map throws)',
          () =>
            this.base.rewire(() => {
              throw Object.assign(new Error('map'), { code: 'TEST_MAP_THREW' });
            }),
        ],
      );
      const wrongGen = m.ev._handle + INDEX_MODULUS * (1 + r.int(5));
      calls.push(
        ['add(junk)', () => m.ev.add((typeof junk === 'number' ? -1 : junk) as number)],
        ['active(junk)', () => m.ev.active((typeof junk === 'number' ? EV.PERSIST : junk) as number)],
        ['pending(junk)', () => m.ev.pending((typeof junk === 'number' ? 0x40 : junk) as number)],
        ['priority=junk', () => (m.ev.priority = (typeof junk === 'number' ? this.priorities : junk) as number)],
        ['callback=junk', () => (m.ev.callback = (typeof junk === 'function' ? 7 : junk) as Callback)],
        ['wrong generation add', () => binding.eventAdd(wrongGen)],
        ['wrong generation free', () => binding.eventFree(wrongGen)],
        ['wrong generation release', () => binding.eventRelease(wrongGen)],
      );
      if (m.active) calls.push(['priority of active', () => (m.ev.priority = 0)]);
    }
    if (f) {
      calls.push(
        ['freed add', () => f.ev.add()],
        ['freed del', () => f.ev.del()],
        ['freed active', () => f.ev.active(EV.READ)],
        ['freed pending', () => f.ev.pending()],
        ['freed removeTimer', () => f.ev.removeTimer()],
        ['freed priority', () => f.ev.priority],
        ['freed callback=', () => (f.ev.callback = () => undefined)],
        ['freed free', () => f.ev.free()],
      );
    }
    const [label, call] = r.pick(calls);
    this.note(`garbage ${label} (${typeof junk === 'symbol' ? 'symbol' : String(junk)})`);
    let threw = false;
    try {
      call();
    } catch (e) {
      threw = true;
      const code = (e as { code?: unknown }).code;
      check(e instanceof Error && typeof code === 'string' && code.length > 0, () => `${label} threw without a code: ${String(e)}`);
    }
    check(threw, () => `${label} did not throw`);
  }

  step(): void {
    const r = this.rng;
    const lm = this.liveModels;
    const usable = lm.filter((m) => !m.orphan);
    const m = usable.length ? r.pick(usable) : undefined;
    const any = lm.length ? r.pick(lm) : undefined;
    const op = r.next();
    if (op < 0.12 && lm.length < MAX_EVENTS) return this.create();
    if (op < 0.25 && m) {
      const ms = this.randomTimeout();
      this.note(`add #${m.id} ${ms}`);
      m.ev.add(ms);
      return this.mAdd(m, ms);
    }
    if (op < 0.31 && any) {
      this.note(`del #${any.id}`);
      any.ev.del();
      return this.mDel(any);
    }
    if (op < 0.4 && m) {
      const what = this.activation(m);
      this.note(`active #${m.id} ${what}`);
      m.ev.active(what);
      return this.mActive(m, what);
    }
    if (op < 0.45 && any) {
      this.note(`free #${any.id}`);
      return this.free(any);
    }
    if (op < 0.5 && any) {
      this.note(`removeTimer #${any.id}`);
      any.ev.removeTimer();
      return this.mRemoveTimer(any);
    }
    if (op < 0.65) return this.loopPass();
    if (op < 0.69 && any) {
      this.note(`rewrite #${any.id}`);
      return this.rewrite(any);
    }
    if (op < 0.72) {
      this.note('rewire');
      return this.rewire();
    }
    if (op < 0.78) {
      const p = r.pick(this.pairs);
      this.note(`write fd ${p.b}`);
      if (io.write(p.b, bytes(1)) === 1) p.readable++;
      return;
    }
    if (op < 0.82) {
      const p = r.pick(this.pairs);
      this.note(`drain fd ${p.a}`);
      check(drain(p.a) === p.readable, () => `fd ${p.a} held other than ${p.readable} bytes`);
      p.readable = 0;
      return;
    }
    if (op < 0.85 && any) {
      // I/O events stay at the lowest level: an always-ready urgent fd would starve the
      // others and keep loop(ONCE | NONBLOCK) polling forever (libevent's rule, not a bug).
      const level = any.io ? this.priorities - 1 : r.int(this.priorities);
      this.note(`priority #${any.id} ${level} (active=${any.active})`);
      if (any.active) {
        try {
          any.ev.priority = level;
          check(false, () => 'setting the priority of an active event did not throw');
        } catch (e) {
          check((e as { code?: unknown }).code === 'ERR_EVENT_ACTIVE', () => `priority of active: ${String(e)}`);
        }
      } else {
        any.ev.priority = level;
        check(any.ev.priority === level, () => 'priority did not stick');
      }
      return;
    }
    if (op < 0.87) return this.closePair(r.int(PAIRS));
    return this.garbage();
  }

  /** io.close() both ends: every event on them is deleted and left an orphan. */
  closePair(i: number): void {
    const p = this.pairs[i]!;
    this.note(`close pair ${p.a}/${p.b}`);
    io.close(p.a);
    io.close(p.b);
    const orphans = this.liveModels.filter((m) => m.pair === p);
    for (const m of orphans) {
      this.mDel(m);
      m.orphan = true;
    }
    this.verify();
    for (const m of orphans) {
      try {
        m.ev.add();
        check(false, () => `#${m.id}: add() on a closed fd did not throw`);
      } catch (e) {
        check((e as { code?: unknown }).code === 'ERR_BAD_FD', () => `add() on a closed fd: ${String(e)}`);
      }
    }
    this.pairs[i] = this.newPair();
  }

  /** The API's view must match the model. */
  verify(): void {
    const lm = this.liveModels;
    const listed = this.base.events();
    check(new Set(listed).size === listed.length, () => 'events() lists an event twice');
    const want = new Set(lm.filter(isPending).map((m) => m.ev));
    check(
      listed.length === want.size && listed.every((e) => want.has(e)),
      () => `events() lists ${listed.length}, the model ${want.size} pending: ${lm.filter(isPending).map((m) => m.id)}`,
    );
    let added = 0;
    let active = 0;
    for (const m of lm) {
      const bits = m.ev.pending();
      check(bits === expectedBits(m), () => `#${m.id} pending()=${bits}, model ${expectedBits(m)} ${JSON.stringify({ ...m, ev: undefined, pair: m.pair?.a })}`);
      const pinned = live[m.ev._handle % INDEX_MODULUS] === m.ev;
      check(pinned === isPending(m), () => `#${m.id} pinned=${pinned} but pending=${isPending(m)}`);
      added += (m.inserted ? 1 : 0) + (m.timed ? 1 : 0) + (m.active ? 1 : 0);
      active += m.active ? 1 : 0;
    }
    const nAdded = this.base.numEvents(COUNT.ADDED);
    const nActive = this.base.numEvents(COUNT.ACTIVE);
    check(nAdded === added, () => `numEvents(ADDED)=${nAdded}, model ${added}`);
    check(nActive === active, () => `numEvents(ACTIVE)=${nActive}, model ${active}`);
    check(this.base.numEvents(COUNT.VIRTUAL) === 0, () => 'virtual events');
  }

  finish(): void {
    const survivors = this.liveModels;
    this.base.free();
    for (const m of survivors) {
      try {
        m.ev.add();
        check(false, () => 'add() after base.free() did not throw');
      } catch (e) {
        check((e as { code?: unknown }).code === 'ERR_BASE_FREED', () => `after base.free(): ${String(e)}`);
      }
    }
    for (const p of this.pairs) {
      io.close(p.a);
      io.close(p.b);
    }
  }
}

const envSeed = process.env.LOOP_SEED;

describe.each(methods)('random model test on %s', (method) => {
  it(`${ROUNDS} × ${STEPS} random steps agree with libevent's own view`, () => {
    const seed = envSeed !== undefined ? Number(envSeed) : randomInt(2 ** 31);
    for (let round = 0; round < ROUNDS; round++) {
      const rng = prng(seed + round * 7919 + methods.indexOf(method) * 104729);
      const run = new Run(method, rng, round % 2 === 0 ? 1 : 2);
      let step = 0;
      try {
        for (; step < STEPS; step++) {
          run.step();
          run.verify();
        }
        run.finish();
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        throw new Error(
          `random test failed on ${method}, seed ${seed} (LOOP_SEED=${seed}), round ${round}, step ${step}: ${msg}\n` +
            `last operations:\n${run.log.join('\n')}`,
          { cause: e },
        );
      }
    }
    expect(true).toBe(true);
  });
});
