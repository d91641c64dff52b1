// Bad input on every backend: each bad call throws a TypeError, RangeError or Error with a
// `code`, changes nothing, and the base keeps working afterwards. Freed events and bases
// refuse every call with ERR_EVENT_FREED / ERR_BASE_FREED instead of touching freed memory.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { type Callback, COUNT, EV, EVLOOP, Event, EventBase, type EventBaseOptions, io } from '../../lib/index.js';
import { binding } from '../../lib/loop/native.js';
import { expectCode, expectUsable, Fds, methods } from './helpers.js';

const fds = new Fds();
afterEach(() => fds.closeAll());

type Ctor = new (...args: never[]) => Error;
type Case = [label: string, call: () => unknown, type: Ctor, code: string];

const cb: Callback = () => undefined;
const any = <T>(v: unknown) => v as T;

/** Runs every case; after each, the base is untouched and still runs a timer. */
function expectAll(base: EventBase, cases: Case[]): void {
  const before = [base.events().length, base.numEvents()];
  for (const [label, call, type, code] of cases) {
    try {
      expectCode(call, type, code);
    } catch (err) {
      throw new Error(`${label}: ${(err as Error).message}`);
    }
    expect([base.events().length, base.numEvents()], label).toEqual(before);
    expectUsable(base);
  }
}

describe.each(methods)('bad input on %s', (method) => {
  it('refuses bad fds: negative, fractional, NaN, huge or not a number', () => {
    const base = new EventBase({ method });
    const cases: Case[] = [];
    for (const fd of [-1, -2, -1000, 1.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 53]) {
      cases.push([`fd ${fd}`, () => base.event(fd, EV.READ, cb), RangeError, 'ERR_OUT_OF_RANGE']);
    }
    for (const fd of ['3', null, undefined, {}, [3], 3n, true]) {
      cases.push([`fd ${String(fd)}`, () => base.event(any(fd), EV.READ, cb), TypeError, 'ERR_INVALID_ARG_TYPE']);
    }
    expectAll(base, cases);
    base.free();
  });

  it('refuses bad event bits: SIGNAL with I/O, unknown bits, ET without I/O, a timer with an fd', () => {
    const base = new EventBase({ method });
    const [a] = fds.pair();
    const cases: Case[] = [
      ['SIGNAL|READ', () => base.event(10, EV.SIGNAL | EV.READ, cb), RangeError, 'ERR_INVALID_EVENTS'],
      ['SIGNAL|WRITE', () => base.event(10, EV.SIGNAL | EV.WRITE, cb), RangeError, 'ERR_INVALID_EVENTS'],
      ['SIGNAL|ET', () => base.event(10, EV.SIGNAL | EV.ET, cb), RangeError, 'ERR_INVALID_EVENTS'],
      ['bit 0x40', () => base.event(a, EV.READ | 0x40, cb), RangeError, 'ERR_INVALID_EVENTS'],
      ['bit 0x100', () => base.event(a, EV.READ | 0x100, cb), RangeError, 'ERR_INVALID_EVENTS'],
      ['bit 0x4000', () => base.event(a, 0x4000, cb), RangeError, 'ERR_INVALID_EVENTS'],
      ['bits 0x10000', () => base.event(a, 0x10000 | EV.READ, cb), RangeError, 'ERR_OUT_OF_RANGE'],
      ['bits -1', () => base.event(a, -1, cb), RangeError, 'ERR_OUT_OF_RANGE'],
      ['bits 2.5', () => base.event(a, 2.5, cb), RangeError, 'ERR_OUT_OF_RANGE'],
      ['bits "READ"', () => base.event(a, any('READ'), cb), TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['ET alone', () => base.event(-1, EV.ET, cb), RangeError, 'ERR_INVALID_EVENTS'],
      ['timer on an fd', () => base.event(a, EV.PERSIST, cb), RangeError, 'ERR_OUT_OF_RANGE'],
      ['READ on fd -1', () => base.event(-1, EV.READ, cb), RangeError, 'ERR_OUT_OF_RANGE'],
      ['no callback', () => base.event(a, EV.READ, any(undefined)), TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['string callback', () => base.event(a, EV.READ, any('cb')), TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['timer options', () => base.timer(cb, any('persist')), TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['signal name', () => base.signal('SIGNOPE', cb), RangeError, 'ERR_UNKNOWN_SIGNAL'],
      ['SIGKILL', () => base.signal('SIGKILL', cb), RangeError, 'ERR_SIGNAL_UNSUPPORTED'],
      ['SIGSEGV', () => base.signal('SIGSEGV', cb), RangeError, 'ERR_SIGNAL_UNSUPPORTED'],
      ['signal 0', () => base.signal(0, cb), RangeError, 'ERR_SIGNAL_UNSUPPORTED'],
      ['signal 65', () => base.signal(65, cb), RangeError, 'ERR_SIGNAL_UNSUPPORTED'],
    ];
    expectAll(base, cases);
    base.free();
  });

  it('refuses bad timeouts, loop flags, count flags and activation bits', () => {
    const base = new EventBase({ method });
    const [a] = fds.pair();
    const ev = base.event(a, EV.READ, cb);
    const cases: Case[] = [];
    for (const ms of [NaN, -1, -0.5, Infinity, -Infinity, 1e16]) {
      cases.push([`add(${ms})`, () => ev.add(ms), RangeError, 'ERR_OUT_OF_RANGE']);
      cases.push([`loopexit(${ms})`, () => base.loopexit(ms), RangeError, 'ERR_OUT_OF_RANGE']);
    }
    for (const ms of ['5', null, {}, 5n]) {
      cases.push([`add(${String(ms)})`, () => ev.add(any(ms)), TypeError, 'ERR_INVALID_ARG_TYPE']);
    }
    for (const flags of [8, -1, 1.5, NaN, 255]) {
      cases.push([`loop(${flags})`, () => base.loop(flags), RangeError, 'ERR_OUT_OF_RANGE']);
    }
    cases.push(['loop("1")', () => base.loop(any('1')), TypeError, 'ERR_INVALID_ARG_TYPE']);
    for (const flags of [0, 8, -1, 2.5]) {
      cases.push([`numEvents(${flags})`, () => base.numEvents(flags), RangeError, 'ERR_OUT_OF_RANGE']);
    }
    for (const what of [0, EV.PERSIST, EV.ET, 0x40, EV.READ | EV.PERSIST]) {
      cases.push([`active(${what})`, () => ev.active(what), RangeError, 'ERR_INVALID_EVENTS']);
    }
    cases.push(['active("READ")', () => ev.active(any('READ')), TypeError, 'ERR_INVALID_ARG_TYPE']);
    cases.push(['active(-2)', () => ev.active(-2), RangeError, 'ERR_OUT_OF_RANGE']);
    for (const what of [EV.PERSIST, 0x40, EV.ET]) {
      cases.push([`pending(${what})`, () => ev.pending(what), RangeError, 'ERR_INVALID_EVENTS']);
    }
    expectAll(base, cases);
    expect(ev.pending()).toBe(0);
    ev.add(5000); // a valid timeout still works after all that
    expect(ev.pending()).toBe(EV.READ | EV.TIMEOUT);
    base.free();
  });

  it('refuses bad base options: unknown or unavailable methods, features, flags', () => {
    const base = new EventBase({ method });
    const cases: Case[] = [
      ['kqueue', () => new EventBase({ method: 'kqueue' }), Error, 'ERR_METHOD_UNAVAILABLE'],
      ['nope', () => new EventBase({ method: 'nope' }), RangeError, 'ERR_UNKNOWN_METHOD'],
      ['method 3', () => new EventBase({ method: any(3) }), TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['avoid string', () => new EventBase({ avoid: any('epoll') }), TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['avoid nope', () => new EventBase({ avoid: ['nope'] }), RangeError, 'ERR_UNKNOWN_METHOD'],
      ['avoid all', () => new EventBase({ avoid: ['epoll', 'poll', 'select'] }), Error, 'ERR_METHOD_UNAVAILABLE'],
      ['feature', () => new EventBase({ requireFeatures: any(['fast']) }), RangeError, 'ERR_UNKNOWN_FEATURE'],
      ['features string', () => new EventBase({ requireFeatures: any('et') }), TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['preciseTimer', () => new EventBase({ preciseTimer: any('yes') }), TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['options string', () => new EventBase(any('epoll')), TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['options array', () => new EventBase(any(['epoll'])), TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['new Event', () => new Event(any(Symbol('fake')), base, 0, any({ slot: 0, fn: cb }), -1, 0), TypeError, 'ERR_ILLEGAL_CONSTRUCTOR'],
    ];
    expect(() => new EventBase({ method: 'kqueue' })).not.toThrow(RangeError);
    expectAll(base, cases);
    base.free();
  });

  it('refuses a closed fd with ERR_BAD_FD, at creation and at add()', () => {
    const base = new EventBase({ method });
    const [a, b] = fds.pair();
    const ev = base.event(a, EV.READ, cb);
    ev.add();
    fds.close(a); // io.close deletes the event first
    expect(ev.pending()).toBe(0);
    expect(base.events()).toEqual([]);
    const cases: Case[] = [
      ['event on closed fd', () => base.event(a, EV.READ, cb), Error, 'ERR_BAD_FD'],
      ['add on closed fd', () => ev.add(), Error, 'ERR_BAD_FD'],
      ['add on closed fd, with timeout', () => ev.add(10), Error, 'ERR_BAD_FD'],
      ['once on closed fd', () => base.once(a, EV.READ, () => undefined), Error, 'ERR_BAD_FD'],
      [
        'fd 5000 (not open; beyond select)',
        () => base.event(5000, EV.READ, cb),
        method === 'select' ? RangeError : Error,
        method === 'select' ? 'ERR_FD_SETSIZE' : 'ERR_BAD_FD',
      ],
      ['io.read on closed fd', () => io.read(a, new Uint8Array(1)), Error, 'EBADF'],
      ['io.write on closed fd', () => io.write(a, new Uint8Array(1)), Error, 'EBADF'],
      ['io.read fd -1', () => io.read(-1, new Uint8Array(1)), RangeError, 'ERR_OUT_OF_RANGE'],
      ['io.read no buffer', () => io.read(b, any('buf')), TypeError, 'ERR_INVALID_ARG_TYPE'],
      ['io.write Uint16Array', () => io.write(b, any(new Uint16Array(1))), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ];
    expectAll(base, cases);
    ev.free();
    base.free();
  });

  it('reports a regular file as epoll refuses it (ERR_LIBEVENT) or as always ready (poll, select)', () => {
    const base = new EventBase({ method });
    const file = path.join(os.tmpdir(), `node-libevent-${process.pid}-${method}.txt`);
    fs.writeFileSync(file, 'x');
    const fd = fs.openSync(file, 'r');
    try {
      let calls = 0;
      const ev = base.event(fd, EV.READ, () => calls++);
      if (method === 'epoll') {
        expectCode(() => ev.add(), Error, 'ERR_LIBEVENT');
        expect(ev.pending()).toBe(0);
        expect(base.events()).toEqual([]);
      } else {
        ev.add();
        expect(base.dispatch()).toBe(1);
        expect(calls).toBe(1);
      }
      ev.free();
      expectUsable(base);
    } finally {
      fs.closeSync(fd);
      fs.unlinkSync(file);
    }
    base.free();
  });
});

describe.each(methods)('freed objects on %s', (method) => {
  it('refuses every call on a freed event with ERR_EVENT_FREED', () => {
    const base = new EventBase({ method });
    const [a] = fds.pair();
    const ev = base.event(a, EV.READ | EV.PERSIST, cb);
    ev.add(1000);
    ev.free();
    expect(ev.freed).toBe(true);
    expect(base.events()).toEqual([]);
    expect(base.numEvents()).toBe(0);
    const code = 'ERR_EVENT_FREED';
    expectAll(base, [
      ['add', () => ev.add(), Error, code],
      ['add(ms)', () => ev.add(5), Error, code],
      ['del', () => ev.del(), Error, code],
      ['active', () => ev.active(EV.READ), Error, code],
      ['pending', () => ev.pending(), Error, code],
      ['removeTimer', () => ev.removeTimer(), Error, code],
      ['priority get', () => ev.priority, Error, code],
      ['priority set', () => (ev.priority = 0), Error, code],
      ['callback set', () => (ev.callback = cb), Error, code],
      ['free', () => ev.free(), Error, code],
    ]);
    ev[Symbol.dispose](); // disposing twice is fine
    expect(ev.fd).toBe(a);
    base.free();
  });

  it('refuses an event freed from inside its own callback, for the rest of that callback and after', () => {
    const base = new EventBase({ method });
    const codes: unknown[] = [];
    const ev = base.timer(
      (_fd, _what, self) => {
        self.free();
        for (const call of [() => self.add(0), () => self.active(EV.TIMEOUT), () => self.pending()]) {
          try {
            call();
          } catch (err) {
            codes.push((err as { code?: unknown }).code);
          }
        }
      },
      { persist: true },
    );
    ev.add(0);
    expect(base.dispatch()).toBe(1);
    expect(codes).toEqual(['ERR_EVENT_FREED', 'ERR_EVENT_FREED', 'ERR_EVENT_FREED']);
    expectCode(() => ev.add(), Error, 'ERR_EVENT_FREED');
    base.free();
  });

  it('refuses every method and getter of a freed base, and of its events, with ERR_BASE_FREED', async () => {
    const base = new EventBase({ method });
    const [a] = fds.pair();
    const pending = base.event(a, EV.READ | EV.PERSIST, cb).add(1000);
    const idle = base.timer(cb);
    const active = base.timer(cb).active(EV.TIMEOUT);
    base.free();
    expect(base.freed).toBe(true);
    expect(base.running).toBe(false);
    const code = 'ERR_BASE_FREED';
    const cases: [string, () => unknown][] = [
      ['event', () => base.event(a, EV.READ, cb)],
      ['timer', () => base.timer(cb)],
      ['signal', () => base.signal('SIGUSR2', cb)],
      ['once', () => base.once(-1, EV.TIMEOUT, () => undefined)],
      ['dispatch', () => base.dispatch()],
      ['loop', () => base.loop(EVLOOP.NONBLOCK)],
      ['loopexit', () => base.loopexit(1)],
      ['loopbreak', () => base.loopbreak()],
      ['loopcontinue', () => base.loopcontinue()],
      ['gotExit', () => base.gotExit],
      ['gotBreak', () => base.gotBreak],
      ['numEvents', () => base.numEvents(COUNT.ADDED)],
      ['events', () => base.events()],
      ['dumpEvents', () => base.dumpEvents()],
      ['now', () => base.now()],
      ['rewire', () => base.rewire(() => undefined)],
      ['free', () => base.free()],
    ];
    for (const ev of [pending, idle, active]) {
      expect(ev.freed).toBe(true);
      cases.push(
        ['ev.add', () => ev.add()],
        ['ev.del', () => ev.del()],
        ['ev.active', () => ev.active(EV.TIMEOUT)],
        ['ev.pending', () => ev.pending()],
        ['ev.removeTimer', () => ev.removeTimer()],
        ['ev.priority', () => ev.priority],
        ['ev.priority=', () => (ev.priority = 0)],
        ['ev.callback=', () => (ev.callback = cb)],
        ['ev.free', () => ev.free()],
      );
    }
    for (const [label, call] of cases) {
      try {
        expectCode(call, Error, code);
      } catch (err) {
        throw new Error(`${label}: ${(err as Error).message}`);
      }
    }
    await expect(base.run()).rejects.toMatchObject({ code });
    base[Symbol.dispose](); // no throw
    pending[Symbol.dispose]();
    // Other bases are unaffected.
    const other = new EventBase({ method });
    expectUsable(other);
    other.free();
  });
});

describe('EventBase options read by getters and Proxy traps (issue 7, item 26)', () => {
  it('creates nothing when reading an option throws: no base, no fds left behind', () => {
    const boom = () => {
      throw new Error('getter');
    };
    const bad: unknown[] = [
      { get method() { return boom(); } },
      { get priorities() { return boom(); } },
      { get noCacheTime() { return boom(); } },
      new Proxy({}, { get: boom }),
      { avoid: new Proxy([], { get: (t, k) => (k === 'length' ? boom() : Reflect.get(t, k)) }) },
      { requireFeatures: new Proxy(['et'], { get: (t, k) => (k === '0' ? boom() : Reflect.get(t, k)) }) },
    ];
    const before = binding.stats().liveBases;
    const fdsBefore = fs.readdirSync('/proc/self/fd').length;
    for (let i = 0; i < 20; i++) {
      for (const o of bad) expect(() => new EventBase(o as EventBaseOptions)).toThrow();
    }
    expect(binding.stats().liveBases).toBe(before);
    expect(fs.readdirSync('/proc/self/fd').length).toBeLessThanOrEqual(fdsBefore);
  });
});
