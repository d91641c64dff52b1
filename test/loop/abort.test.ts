// AbortSignal and keepAlive on base.run() and base.once(), and the promise helpers
// base.sleep() / readable() / writable(), on every backend: aborts before, during and after,
// reasons carried as `cause`, nothing left pending, coded errors for bad arguments.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterEach, describe, expect, it } from 'vitest';

import { AbortError, COUNT, EV, EventBase, io } from '../../lib/index.js';
import { binding } from '../../lib/loop/native.js';
import { bytes, expectCode, Fds, methods } from './helpers.js';

const fds = new Fds();
afterEach(() => fds.closeAll());

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The rejection of `p` (fails the test if it fulfils). */
async function rejection(p: Promise<unknown>): Promise<Error & { code?: unknown; cause?: unknown }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: unknown };
  }
  throw new Error('expected a rejection');
}

function expectAbort(err: Error & { code?: unknown; cause?: unknown }, reason: unknown): void {
  expect(err).toBeInstanceOf(AbortError);
  expect(err.name).toBe('AbortError');
  expect(err.code).toBe('ABORT_ERR');
  expect(err.cause).toBe(reason);
}

function expectEmpty(base: EventBase): void {
  expect(base.events()).toEqual([]);
  expect(base.numEvents(COUNT.ADDED | COUNT.ACTIVE)).toBe(0);
}

describe.each(methods)('run({ signal, keepAlive }) on %s', (method) => {
  it('rejects at once with an already aborted signal, without running anything', async () => {
    const base = new EventBase({ method });
    let fired = 0;
    base.once(-1, EV.TIMEOUT, () => fired++);
    const reason = new Error('stop first');
    const err = await rejection(base.run({ signal: AbortSignal.abort(reason) }));
    expectAbort(err, reason);
    expect(fired).toBe(0);
    expect(base.running).toBe(false);
    base.free();
  });

  it('ends a run when aborted during it, keeps its events, and can run again', async () => {
    const base = new EventBase({ method });
    let ticks = 0;
    const t = base.timer(() => ticks++, { persist: true }).add(5);
    const ac = new AbortController();
    const reason = { why: 'shutdown' };
    setTimeout(() => ac.abort(reason), 40);
    const err = await rejection(base.run({ signal: ac.signal }));
    expectAbort(err, reason);
    expect(ticks).toBeGreaterThan(0);
    expect(base.running).toBe(false);
    expect(t.pending(EV.TIMEOUT)).toBeTruthy(); // abort ends the run, not the events
    t.free();
    expect(await base.run()).toBe(1);
    base.free();
  });

  it('ends the run when a libevent callback aborts its signal', async () => {
    const base = new EventBase({ method });
    const ac = new AbortController();
    const t = base.timer(() => ac.abort('from a callback'), { persist: true }).add(1);
    expectAbort(await rejection(base.run({ signal: ac.signal })), 'from a callback');
    t.free();
    base.free();
  });

  it('has no effect when aborted after the run settled', async () => {
    const base = new EventBase({ method });
    const ac = new AbortController();
    base.once(-1, EV.TIMEOUT, () => {});
    expect(await base.run({ signal: ac.signal })).toBe(1);
    ac.abort();
    expect(base.running).toBe(false);
    expect(await base.run()).toBe(1); // the base is untouched
    base.free();
  });

  it('keepAlive stays up with no events until loopbreak()', async () => {
    const base = new EventBase({ method });
    let settled = false;
    const run = base.run({ keepAlive: true }).then((r) => {
      settled = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 30));
    expect(settled).toBe(false);
    expect(base.running).toBe(true);
    expectEmpty(base); // no hidden event keeps it alive
    // Events added while it idles are served.
    let fired = 0;
    base.once(-1, EV.TIMEOUT, () => fired++, 5);
    await new Promise((r) => setTimeout(r, 40));
    expect(fired).toBe(1);
    expect(settled).toBe(false);
    base.loopbreak();
    expect(await run).toBe(0);
    expect(base.gotBreak).toBe(true);
    base.free();
  });

  it('keepAlive ends with loopexit() and with an abort', async () => {
    const base = new EventBase({ method });
    const run = base.run({ keepAlive: true });
    await turn();
    base.loopexit(10);
    expect(await run).toBe(0);
    expect(base.gotExit).toBe(true);
    const ac = new AbortController();
    const again = base.run({ keepAlive: true, signal: ac.signal });
    setTimeout(() => ac.abort('done'), 20);
    expectAbort(await rejection(again), 'done');
    expect(base.running).toBe(false);
    base.free();
  });

  it('the raw binding validates the run flags (only NO_EXIT_ON_EMPTY)', async () => {
    const base = new EventBase({ method });
    expectCode(() => binding.baseRun(base._handle, 1), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => binding.baseRun(base._handle, 8), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => binding.baseRun(base._handle, 'x' as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    expect(base.running).toBe(false);
    expect(await binding.baseRun(base._handle)).toBe(1);
    base.free();
  });

  it('without keepAlive an empty base still ends at once with 1', async () => {
    const base = new EventBase({ method });
    expect(await base.run({})).toBe(1);
    base.free();
  });

  it('refuses bad options with coded TypeErrors and leaves the base usable', async () => {
    const base = new EventBase({ method });
    for (const options of [null, 5, { signal: {} }, { signal: 'x' }, { keepAlive: 1 }]) {
      const err = await rejection(base.run(options as never));
      expect(err).toBeInstanceOf(TypeError);
      expect(err.code).toBe('ERR_INVALID_ARG_TYPE');
    }
    expect(base.running).toBe(false);
    expect(await base.run()).toBe(1);
    base.free();
  });
});

describe.each(methods)('once(…, { signal }) on %s', (method) => {
  it('an abort deletes the pending once event; its callback never runs', async () => {
    const base = new EventBase({ method });
    const [a] = fds.pair();
    const ac = new AbortController();
    const calls: number[] = [];
    base.once(a, EV.READ, (_fd, what) => calls.push(what), { timeoutMs: 20, signal: ac.signal });
    base.once(-1, EV.TIMEOUT, (_fd, what) => calls.push(what), 10, { signal: ac.signal });
    expect(base.events()).toHaveLength(2);
    ac.abort();
    expectEmpty(base);
    expect(base.dispatch()).toBe(1);
    expect(calls).toEqual([]);
    base.free();
  });

  it('an already aborted signal schedules nothing; bad arguments still throw', () => {
    const base = new EventBase({ method });
    const signal = AbortSignal.abort();
    base.once(-1, EV.TIMEOUT, () => {
      throw new Error('must not run');
    }, { signal });
    expectEmpty(base);
    expect(() => base.once(-1, EV.SIGNAL, () => {}, { signal })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_EVENTS' }));
    expect(() => base.once(-1, EV.TIMEOUT, () => {}, { signal: 1 as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => base.once(-1, EV.TIMEOUT, () => {}, '5' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => base.once(-1, EV.TIMEOUT, () => {}, -1, { signal })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expectEmpty(base);
    base.free();
  });

  it('an abort after it fired does nothing and the signal keeps no listener of ours', async () => {
    const base = new EventBase({ method });
    const ac = new AbortController();
    let fired = 0;
    base.once(-1, EV.TIMEOUT, () => fired++, { signal: ac.signal });
    expect(base.dispatch()).toBe(1);
    ac.abort();
    expect(fired).toBe(1);
    expectEmpty(base);
    base.free();
  });

  it('an abort after the base was freed does not throw', () => {
    const base = new EventBase({ method });
    const ac = new AbortController();
    base.once(-1, EV.TIMEOUT, () => {}, 1000, { signal: ac.signal });
    base.free();
    expect(() => ac.abort()).not.toThrow();
  });
});

describe.each(methods)('sleep / readable / writable on %s', (method) => {
  it('sleep() is fulfilled by a libevent timer under run()', async () => {
    const base = new EventBase({ method });
    const run = base.run({ keepAlive: true });
    const t0 = performance.now();
    const p = base.sleep(20);
    expect(base.events()).toHaveLength(1);
    await expect(p).resolves.toBeUndefined();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(20 - 15);
    expectEmpty(base);
    base.loopbreak();
    await run;
    base.free();
  });

  it('sleep() under dispatch(): fulfilled inside the loop, its then() runs after dispatch returns', async () => {
    const base = new EventBase({ method });
    const order: string[] = [];
    void base.sleep(5).then(() => order.push('then'));
    base.once(-1, EV.TIMEOUT, () => order.push('later callback'), 15);
    expect(base.dispatch()).toBe(1);
    order.push('dispatch returned');
    await turn();
    expect(order).toEqual(['later callback', 'dispatch returned', 'then']);
    base.free();
  });

  it('sleep() rejects with the reason when aborted before or during, and frees its timer', async () => {
    const base = new EventBase({ method });
    expectAbort(await rejection(base.sleep(10, { signal: AbortSignal.abort('early') })), 'early');
    expectEmpty(base);
    const ac = new AbortController();
    const p = base.sleep(10_000, { signal: ac.signal });
    expect(base.events()).toHaveLength(1);
    const reason = new Error('late');
    ac.abort(reason);
    expectEmpty(base);
    expectAbort(await rejection(p), reason);
    base.free();
  });

  it('sleep() aborted from a callback inside dispatch() rejects, and dispatch ends empty', async () => {
    const base = new EventBase({ method });
    const ac = new AbortController();
    const p = base.sleep(10_000, { signal: ac.signal });
    base.once(-1, EV.TIMEOUT, () => ac.abort('stop'), 5);
    expect(base.dispatch()).toBe(1); // the 10 s timer is gone: nothing keeps the loop
    expectAbort(await rejection(p), 'stop');
    base.free();
  });

  it('sleep() aborted after it settled keeps its value', async () => {
    const base = new EventBase({ method });
    const ac = new AbortController();
    const p = base.sleep(0, { signal: ac.signal });
    base.dispatch();
    ac.abort();
    await expect(p).resolves.toBeUndefined();
    base.free();
  });

  it('readable() is fulfilled when data arrives, under run()', async () => {
    const base = new EventBase({ method });
    const [a, b] = fds.pair();
    const run = base.run({ keepAlive: true });
    const p = base.readable(a);
    expect(base.numEvents(COUNT.ADDED)).toBe(1);
    setTimeout(() => io.write(b, bytes(3)), 10);
    await expect(p).resolves.toBeUndefined();
    expect(io.read(a, new Uint8Array(8))).toBe(3);
    expectEmpty(base);
    base.loopbreak();
    await run;
    base.free();
  });

  it('writable() is fulfilled on a writable socket, under dispatch()', async () => {
    const base = new EventBase({ method });
    const [a] = fds.pair();
    const p = base.writable(a);
    expect(base.dispatch()).toBe(1);
    await expect(p).resolves.toBeUndefined();
    expectEmpty(base);
    base.free();
  });

  it('readable({ timeoutMs }) rejects with ERR_TIMEOUT from a libevent timeout', async () => {
    const base = new EventBase({ method });
    const [a] = fds.pair();
    const p = base.readable(a, { timeoutMs: 10 });
    expect(base.dispatch()).toBe(1);
    const err = await rejection(p);
    expect(err.code).toBe('ERR_TIMEOUT');
    expect(err.message).toContain(`fd ${a}`);
    expectEmpty(base);
    base.free();
  });

  it('readable() aborted before and during: AbortError with the reason, the event freed', async () => {
    const base = new EventBase({ method });
    const [a] = fds.pair();
    expectAbort(await rejection(base.readable(a, { signal: AbortSignal.abort(7) })), 7);
    expectEmpty(base);
    const ac = new AbortController();
    const p = base.writable(a, { signal: ac.signal, timeoutMs: 10_000 });
    const q = base.readable(a, { signal: ac.signal });
    expect(base.events()).toHaveLength(2);
    ac.abort('bye');
    expectEmpty(base);
    expectAbort(await rejection(p), 'bye');
    expectAbort(await rejection(q), 'bye');
    expect(base.dispatch()).toBe(1);
    base.free();
  });

  it('rejects bad arguments with coded errors, leaving nothing pending', async () => {
    const base = new EventBase({ method });
    const [a, b] = fds.pair();
    const cases: [Promise<unknown>, new (...args: never[]) => Error, string][] = [
      [base.sleep('5' as never), TypeError, 'ERR_INVALID_ARG_TYPE'],
      [base.sleep(-1), RangeError, 'ERR_OUT_OF_RANGE'],
      [base.sleep(Number.NaN), RangeError, 'ERR_OUT_OF_RANGE'],
      [base.sleep(1, null as never), TypeError, 'ERR_INVALID_ARG_TYPE'],
      [base.sleep(1, { signal: {} as never }), TypeError, 'ERR_INVALID_ARG_TYPE'],
      [base.readable('3' as never), TypeError, 'ERR_INVALID_ARG_TYPE'],
      [base.readable(-1), RangeError, 'ERR_OUT_OF_RANGE'],
      [base.readable(a, { timeoutMs: '1' as never }), TypeError, 'ERR_INVALID_ARG_TYPE'],
      [base.writable(a, { timeoutMs: -5 }), RangeError, 'ERR_OUT_OF_RANGE'],
      // validation comes before the abort check, as in Node
      [base.writable(a, { timeoutMs: -5, signal: AbortSignal.abort() }), RangeError, 'ERR_OUT_OF_RANGE'],
    ];
    fds.close(b);
    fds.close(a);
    cases.push([base.readable(a), Error, 'ERR_BAD_FD']);
    for (const [p, type, code] of cases) {
      const err = await rejection(p);
      expect(err).toBeInstanceOf(type);
      expect(err.code).toBe(code);
    }
    expectEmpty(base);
    base.free();
  });

  it('refuses on a freed base with ERR_BASE_FREED', async () => {
    const base = new EventBase({ method });
    base.free();
    for (const p of [base.sleep(1), base.readable(0), base.writable(1), base.run({ keepAlive: true })]) {
      expect((await rejection(p)).code).toBe('ERR_BASE_FREED');
    }
    expect(() => base.once(-1, EV.TIMEOUT, () => {}, { signal: new AbortController().signal })).toThrow(
      expect.objectContaining({ code: 'ERR_BASE_FREED' }),
    );
  });
});

describe.each(methods)('the README sample on %s', (method) => {
  // test/docs/samples.test.ts runs the block verbatim on the default backend; here the same
  // block runs on each backend (its imports dropped, its base given the method).
  it('runs as written', async () => {
    const readme = readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'README.md'), 'utf8');
    const block = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes('keepAlive: true, signal'));
    expect(block).toBeDefined();
    // The sample is a whole program (test/docs/samples.test.ts runs it as one): here its import
    // line gives way to an EventBase that uses this backend and checks nothing is left at free().
    let made: EventBase | undefined;
    class MethodBase extends EventBase {
      constructor(options = {}) {
        super({ method, ...options });
        made = this;
      }
      override free(): void {
        expect(this.running).toBe(false);
        expectEmpty(this);
        super.free();
      }
    }
    const code = block!.replace(/^import .*\n/m, '');
    const logged: unknown[] = [];
    const console = { log: (...args: unknown[]) => logged.push(...args) };
    const AsyncFunction = (async () => {}).constructor as new (...args: string[]) => (...args: unknown[]) => Promise<void>;
    await new AsyncFunction('EventBase', 'io', 'console', code)(MethodBase, io, console);
    expect(logged).toEqual([2]);
    expect(made?.method).toBe(method);
    expect(made?.freed).toBe(true);
  });
});
