// Argument validation, table-driven (issue 7, "Also"): every entry point of the public API and
// of the raw binding gets every junk value in every argument position, the others valid. Each
// call must accept the value only where the table says so, or else throw an Error with a
// string `code` (a caller's own exception, from a Proxy trap, passes through unchanged).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { EV, type Event, EventBase, io } from '../../lib/index.js';
import { runChild } from './helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));

describe('the raw binding against the argument table', () => {
  it('refuses every junk value with a coded error, and never crashes', () => {
    const direct = runChild(
      `process.argv[2] = ADDON; require(${JSON.stringify(path.join(here, 'validation-sweep.cjs'))});`,
      60_000,
    );
    expect(direct.signal).toBe(null);
    const last = direct.out.trim().split('\n').pop()!;
    const result = JSON.parse(last) as { calls: number; problems: string[] };
    expect(result.problems).toEqual([]);
    expect(result.calls).toBeGreaterThan(1000);
  });
});

const detached = new Uint8Array(8);
structuredClone(detached.buffer, { transfer: [detached.buffer] });
const JUNK: Record<string, unknown> = {
  undefined: undefined, null: null, true: true, string: 'x', object: {}, array: [], function: () => 0,
  symbol: Symbol('s'), bigint: 10n, NaN: NaN, Infinity: Infinity, minusOne: -1, fraction: 1.5, huge: 2 ** 53,
  emptyBytes: new Uint8Array(0), detachedBytes: detached,
};

describe('the public API against the argument table', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nle-api-sweep-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const cb = () => undefined;

  it('refuses every junk value with a coded error', () => {
    const base = new EventBase();
    const [a, b] = io.socketpair();
    const timer = () => base.timer(cb);
    // [name, arg makers (valid values), call, junk names accepted per position]
    type Row = [string, (() => unknown)[], (...args: unknown[]) => unknown, string[][]];
    const rows: Row[] = [
      ['new EventBase', [() => ({})], (o) => new EventBase(o as never).free(), [['undefined', 'object', 'function', 'array', 'emptyBytes', 'detachedBytes']]],
      ['base.event', [() => a, () => EV.READ, () => cb], (fd, ev, f) => base.event(fd as number, ev as number, f as never).free(), [[], [], ['function']]],
      ['base.timer', [() => cb, () => ({})], (f, o) => base.timer(f as never, o as never).free(), [['function'], ['undefined', 'object', 'function', 'array', 'emptyBytes', 'detachedBytes']]],
      ['base.signal', [() => 'SIGUSR2', () => cb], (s, f) => base.signal(s as never, f as never).free(), [[], ['function']]],
      ['base.once', [() => -1, () => EV.TIMEOUT, () => cb, () => 1e6], (fd, ev, f, ms) => base.once(fd as number, ev as number, f as never, ms as number), [['minusOne'], [], ['function'], ['undefined', 'fraction']]],
      ['base.loopexit', [() => 1e6], (ms) => base.loopexit(ms as number), [['undefined', 'fraction']]],
      ['base.numEvents', [() => 1], (f) => base.numEvents(f as number), [['undefined']]],
      ['base.rewire', [() => () => undefined, () => ({})], (m, o) => base.rewire(m as never, o as never), [[], ['undefined', 'object', 'function', 'array', 'emptyBytes', 'detachedBytes']]],
      ['ev.add', [() => 1e6], (ms) => timer().add(ms as number).free(), [['undefined', 'fraction']]],
      ['ev.active', [() => EV.TIMEOUT], (w) => timer().active(w as number).free(), [[]]],
      ['ev.pending', [() => EV.TIMEOUT], (w) => timer().pending(w as number), [['undefined']]],
      ['ev.priority =', [() => 0], (p) => { const t = timer(); t.priority = p as number; t.free(); }, [[]]],
      ['ev.callback =', [() => cb], (f) => { const t = timer(); t.callback = f as never; t.free(); }, [['function']]],
      ['io.read', [() => a, () => new Uint8Array(4)], (fd, buf) => io.read(fd as number, buf as Uint8Array), [[], []]],
      ['io.write', [() => b, () => new Uint8Array(1)], (fd, buf) => io.write(fd as number, buf as Uint8Array), [[], ['emptyBytes']]],
      ['io.close', [() => io.pipe()[0]], (fd) => io.close(fd as number), [[]]],
      ['io.accept', [() => a], (fd) => io.accept(fd as number), [[]]],
      ['io.listen', [() => '127.0.0.1', () => 0, () => undefined], (h, p, bl) => io.close(io.listen(h as string, p as number, bl as number)), [[], [], ['undefined']]],
      ['io.listenUnix', [() => path.join(tmp, 's'), () => undefined], (p, m) => { fs.rmSync(path.join(tmp, 's'), { force: true }); io.close(io.listenUnix(p as string, m as number)); }, [['string'], ['undefined']]],
    ];
    const problems: string[] = [];
    let calls = 0;
    for (const [name, makers, call, accepts] of rows) {
      for (let i = 0; i < makers.length; i++) {
        for (const [junkName, junk] of Object.entries(JUNK)) {
          const args = makers.map((m) => m());
          args[i] = junk;
          calls++;
          try {
            call(...args);
            if (!accepts[i]!.includes(junkName)) problems.push(`${name} arg ${i} accepted ${junkName}`);
          } catch (err) {
            if (!(err instanceof Error) || typeof (err as { code?: unknown }).code !== 'string') {
              problems.push(`${name} arg ${i} ${junkName}: no code (${String((err as Error)?.message)})`);
            }
          }
        }
      }
    }
    expect(problems).toEqual([]);
    expect(calls).toBeGreaterThan(300);
    for (const ev of base.events() as Event[]) ev.free();
    io.close(a);
    io.close(b);
    base.free();
  });
});
