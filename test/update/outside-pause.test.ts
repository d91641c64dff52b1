// Work the update host does outside the pause, so that less happens inside it:
// - eagerCompile (default on): a version's functions are compiled when it loads, when the
//   update is asked for, not at their first call, which for the new main, what it calls and its
//   handlers is inside the pause. Observed through V8's own function events
//   (--log-function-events) in a child process: 'parse-function' is V8 compiling a function
//   lazily, at its first call.
// - yieldBeforePause (default on): at the update point the host sleeps a moment before the
//   pause starts (the loop thread is switched out and back in), so the pause begins on a
//   fresh scheduler slice.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import { EventBase } from '../../lib/index.js';
import { UpdateHost } from '../../lib/update/index.js';
import { RunQueueClock, yieldCpu } from '../../lib/update/schedstat.js';
import { updateMethods, versionsDir } from './harness.js';

const here = path.dirname(fileURLToPath(import.meta.url));

const files = {
  'versions/v1.cjs': `exports.version = 'v1';
exports.main = function main(ctx) { ctx.handlers({ onTick() {} }); };
`,
  // Everything here first runs inside the update: main, tables() (through the new state
  // item's init) and row(), a function nested in it.
  'versions/v2.cjs': `exports.version = 'v2';
function tables() {
  function row(i) { return i * 2; }
  return [1, 2, 3].map(row);
}
exports.main = function main(ctx) {
  ctx.state('table', () => tables());
  ctx.handlers({ onTick() {} });
};
`,
  'versions/throws.cjs': `function neverCalled() { return 1; }
throw new Error('this version fails while it loads');
`,
  'after-1.cjs': `exports.run = function run() { function inner() { return 1; } return inner(); };\n`,
  'after-2.cjs': `exports.run = function run() { function inner() { return 2; } return inner(); };\n`,
};

/** V8's function events per script file name: [event, function name] in order. */
function functionEvents(log: string): Map<string, [string, string][]> {
  const urls = new Map<string, string>();
  const byUrl = new Map<string, [string, string][]>();
  for (const line of log.split('\n')) {
    const f = line.split(',');
    if (f[0] === 'script-details') urls.set(f[1]!, f[2]!);
    else if (f[0] === 'function') {
      const url = urls.get(f[2]!);
      if (url === undefined) continue;
      if (!byUrl.has(url)) byUrl.set(url, []);
      byUrl.get(url)!.push([f[1]!, f[7] ?? '']);
    }
  }
  return byUrl;
}

function run(eager: boolean) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nle-compile-'));
  mkdirSync(path.join(dir, 'versions'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  const logfile = path.join(dir, 'v8.log');
  const r = spawnSync(
    process.execPath,
    ['--log-function-events', `--logfile=${logfile}`, '--no-logfile-per-isolate', path.join(here, 'fixtures', 'compile-host.mjs'), path.join(dir, 'versions'), eager ? '1' : '0', dir],
    { encoding: 'utf8', timeout: 30_000 },
  );
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const events = functionEvents(readFileSync(logfile, 'utf8'));
  const lazilyCompiled = (file: string) => (events.get(path.join(dir, file)) ?? []).filter(([e]) => e === 'parse-function').map(([, name]) => name);
  return { out: JSON.parse(r.stdout), lazilyCompiled };
}

describe('eager compilation of versions', () => {
  it('compiles every function of the new version when it loads; code loaded afterwards is lazy again, also after a version that failed to load', () => {
    const { out, lazilyCompiled } = run(true);
    expect(out).toEqual({ broken: 'ERR_VERSION_LOAD', ok: true, table: [2, 4, 6], after1: 1, after2: 2 });
    expect(lazilyCompiled('versions/v2.cjs')).toEqual([]);
    // V8's lazy compilation is back on for what loads after the version.
    expect(lazilyCompiled('after-1.cjs')).toEqual(expect.arrayContaining(['run', 'inner']));
    expect(lazilyCompiled('after-2.cjs')).toEqual(expect.arrayContaining(['run', 'inner']));
  });

  it('with eagerCompile: false, the new version compiles lazily, inside the update', () => {
    const { out, lazilyCompiled } = run(false);
    expect(out).toEqual({ broken: 'ERR_VERSION_LOAD', ok: true, table: [2, 4, 6], after1: 1, after2: 2 });
    expect(lazilyCompiled('versions/v2.cjs')).toEqual(expect.arrayContaining(['main', 'tables', 'row']));
  });

  it('refuses an eagerCompile or yieldBeforePause that is not a boolean', () => {
    const base = new EventBase();
    try {
      for (const key of ['eagerCompile', 'yieldBeforePause']) {
        expect(() => new UpdateHost({ base, versionsDir: here, [key]: 'yes' })).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }));
      }
      const host = new UpdateHost({ base, versionsDir: here });
      expect([host.eagerCompile, host.yieldBeforePause]).toEqual([true, true]);
    } finally {
      base.free();
    }
  });
});

/** This thread's context switches so far, voluntary and not (Linux). */
function contextSwitches(): number {
  const status = readFileSync('/proc/thread-self/status', 'utf8');
  return Number(/\nvoluntary_ctxt_switches:\s*(\d+)/.exec(status)![1]) + Number(/\nnonvoluntary_ctxt_switches:\s*(\d+)/.exec(status)![1]);
}

describe.runIf(existsSync('/proc/thread-self/status'))('yieldCpu', () => {
  const cell = new Int32Array(new SharedArrayBuffer(4));

  it('waits again while the thread was not switched out, up to four waits', () => {
    let reads = 0;
    const stuck = { timeSlices: () => (reads++, 7) } as unknown as RunQueueClock;
    expect(yieldCpu(cell, 0.01, stuck)).toBe(4);
    expect(reads).toBe(4); // one before, one after each wait but the last
    const readings = [7, 7, 8];
    const movesAfterSecond = { timeSlices: () => readings.shift() } as unknown as RunQueueClock;
    expect(yieldCpu(cell, 0.01, movesAfterSecond)).toBe(2);
    expect(readings).toEqual([]);
    expect(yieldCpu(cell, 0.01, undefined)).toBe(1); // no clock: one wait and no way to tell
  });

  it('switches the thread out on every call (5 000 calls)', () => {
    // A single 50 µs Atomics.wait returned without sleeping 1 to 7 times in 20 000 calls on a
    // 2-core machine: its deadline had passed before the kernel armed the timer.
    const clock = RunQueueClock.open()!;
    let missed = 0;
    try {
      for (let i = 0; i < 5_000; i++) {
        const before = contextSwitches();
        yieldCpu(cell, 0.05, clock);
        if (contextSwitches() === before) missed++;
      }
    } finally {
      clock.close();
    }
    expect(missed).toBe(0);
  });
});

describe.each(updateMethods)('yield before the pause on %s', (method) => {
  it.runIf(existsSync('/proc/thread-self/status'))('the loop thread gives up the CPU between reaching the update point and updating', async () => {
    const base = new EventBase({ method });
    const host = new UpdateHost({ base, versionsDir });
    try {
      await host.start('v0.cjs');
      // No loop runs, so each request is taken at once, inside requestUpdate; nothing else in
      // it sleeps (with yieldBeforePause: false these counts are 0 unless the kernel preempts it).
      let before = 0;
      const switches: number[] = [];
      host.on('update', () => void switches.push(contextSwitches() - before));
      for (let i = 0; i < 6; i++) {
        before = contextSwitches();
        const report = await host.requestUpdate(i % 2 ? 'v0.cjs' : 'v1.cjs');
        expect(report.ok).toBe(true);
      }
      expect(switches).toHaveLength(6);
      for (const n of switches) expect(n).toBeGreaterThanOrEqual(1);
    } finally {
      host.close();
      base.free();
    }
  });
});
