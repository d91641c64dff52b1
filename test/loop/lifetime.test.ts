// Event and base lifetime: pending events live without references, idle ones are collected,
// freeing is safe from inside callbacks, and worker threads have bases of their own.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';

import { EV, type Event, EventBase, io } from '../../lib/index.js';
import { binding } from '../../lib/loop/native.js';
import { callbacks } from '../../lib/loop/registry.js';
import { methods } from './helpers.js';

const gc = (globalThis as { gc?: () => void }).gc!;
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** GC until the live counts stop changing (garbage of earlier tests collected), then read them. */
async function settledStats(): Promise<{ liveEvents: number; liveBases: number }> {
  let last = binding.stats();
  for (let stable = 0, i = 0; stable < 3 && i < 40; i++) {
    gc();
    await turn();
    const now = binding.stats();
    stable = now.liveEvents === last.liveEvents && now.liveBases === last.liveBases ? stable + 1 : 0;
    last = now;
  }
  return last;
}

/**
 * GC until the FinalizationRegistry callbacks had a chance to run: four rounds, then more (up
 * to 40) while `done` says the expected state is not reached yet. V8 may keep the last closure
 * made in a scope alive for a few more collections (seen on Node 24: one of 2000 events after
 * four rounds), so a fixed count is a timing assumption; a real leak still fails after 40.
 */
async function collect(done: () => boolean = () => true): Promise<void> {
  for (let i = 0; i < 40 && (i < 4 || !done()); i++) {
    gc();
    await turn();
  }
}

describe.each(methods)('lifetime on %s', (method) => {
  it('keeps a pending event alive without any JS reference (like a Node timer)', async () => {
    const base = new EventBase({ method });
    let fired = 0;
    (() => {
      base.timer(() => fired++).add(20);
      const [a, b] = io.socketpair();
      base.event(a, EV.READ, () => { fired++; io.close(a); io.close(b); }).add();
      io.write(b, new Uint8Array([1]));
    })();
    await collect();
    expect(base.dispatch()).toBe(1);
    expect(fired).toBe(2);
    base.free();
  });

  it('frees the native side of unreachable idle events, even ones whose callback refers to them', async () => {
    const base = new EventBase({ method });
    const before = (await settledStats()).liveEvents;
    (() => {
      for (let i = 0; i < 2000; i++) {
        const ev: Event = base.timer(() => ev.del());
        if (i % 2) ev.add(1); // pending now, idle after it fires
      }
    })();
    expect(binding.stats().liveEvents).toBe(before + 2000);
    expect(base.dispatch()).toBe(1);
    // At most `before`: an earlier test's garbage may be collected in the same rounds.
    await collect(() => binding.stats().liveEvents <= before);
    expect(binding.stats().liveEvents).toBeLessThanOrEqual(before);
    base.free();
  });

  it('returns the callback slots of collected events for reuse', async () => {
    const base = new EventBase({ method });
    // Each event takes a slot, is rewritten (a second slot), fires (slots appear in the
    // callback table while pinned) and is then dropped without free().
    const batch = () => {
      for (let i = 0; i < 1000; i++) base.timer(() => {}).add(0).callback = () => {};
      base.dispatch();
    };
    batch();
    await collect();
    const size = callbacks.length;
    batch();
    await collect();
    expect(callbacks.length).toBe(size);
    base.free();
  });

  it('frees an unreachable base and its idle events', async () => {
    // Counted against the state right after they were made: an earlier test's base may still
    // be collected during these rounds, which only lowers the counts further.
    let made = { liveEvents: 0, liveBases: 0 };
    (() => {
      const base = new EventBase({ method });
      for (let i = 0; i < 10; i++) base.timer(() => {});
      made = binding.stats();
    })();
    const freed = () => {
      const now = binding.stats();
      return now.liveBases <= made.liveBases - 1 && now.liveEvents <= made.liveEvents - 10;
    };
    await collect(freed);
    expect(freed(), JSON.stringify({ made, now: binding.stats() })).toBe(true);
  });

  it('lets an event free itself inside its own callback (I/O, timer, persistent)', () => {
    const base = new EventBase({ method });
    const [a, b] = io.socketpair();
    const seen: string[] = [];
    const rd = base.event(a, EV.READ | EV.PERSIST, (_fd, _w, ev) => { seen.push('io'); ev.free(); });
    rd.add();
    base.timer((_fd, _w, ev) => { seen.push('timer'); ev.free(); }).add(1);
    base.timer((_fd, _w, ev) => { seen.push('persist'); ev.free(); }, { persist: true }).add(2);
    io.write(b, new Uint8Array([1, 2, 3]));
    expect(base.dispatch()).toBe(1);
    expect(seen.sort()).toEqual(['io', 'persist', 'timer']);
    expect(rd.freed).toBe(true);
    expect(() => rd.add()).toThrow(expect.objectContaining({ code: 'ERR_EVENT_FREED' }));
    io.close(a);
    io.close(b);
    base.free();
  });

  it('frees the base from inside a callback: the loop stops, everything after throws ERR_BASE_FREED', async () => {
    const base = new EventBase({ method });
    const ran: string[] = [];
    const first = base.timer(() => { ran.push('first'); base.free(); });
    const second = base.timer(() => ran.push('second'));
    first.active(EV.TIMEOUT);
    second.active(EV.TIMEOUT);
    expect(base.dispatch()).toBe(0);
    expect(ran).toEqual(['first']);
    expect(base.freed).toBe(true);
    for (const call of [
      () => base.dispatch(), () => base.loop(), () => base.loopexit(), () => base.loopbreak(), () => base.loopcontinue(),
      () => base.gotExit, () => base.gotBreak, () => base.numEvents(), () => base.events(), () => base.dumpEvents(),
      () => base.now(), () => base.rewire(() => undefined), () => base.free(), () => base.event(-1, 0, () => {}),
      () => base.timer(() => {}), () => base.signal('SIGUSR2', () => {}), () => base.once(-1, EV.TIMEOUT, () => {}),
      () => second.add(), () => second.del(), () => second.active(EV.READ), () => second.pending(), () => second.removeTimer(),
      () => second.priority, () => { second.priority = 0; }, () => { second.callback = () => {}; }, () => second.free(),
    ]) {
      expect(call).toThrow(expect.objectContaining({ code: 'ERR_BASE_FREED' }));
    }
    await expect(base.run()).rejects.toMatchObject({ code: 'ERR_BASE_FREED' });
  });
});

describe('worker threads', () => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const addon = path.resolve(here, '..', '..', 'build', 'Release', 'node_libevent.node');
  const addonPath = process.env.NODE_LIBEVENT_ADDON ? path.resolve(process.env.NODE_LIBEVENT_ADDON) : addon;

  // Workers load the raw addon (they cannot import TypeScript sources): this checks that the
  // addon is context-aware and that each environment has its own bases.
  const workerSource = `
    const { parentPort, workerData } = require('node:worker_threads');
    const b = require(workerData.addon);
    let fired = 0;
    b.setDispatcher(() => { fired++; });
    const base = b.baseNew({ method: workerData.method });
    for (let i = 0; i < 5; i++) b.eventAdd(b.eventNew(base.handle, -1, 0, i), i);
    b.baseLoop(base.handle, 0);
    if (workerData.leave) {
      // End with a pending event, a persistent timer and an active cooperative run.
      b.eventAdd(b.eventNew(base.handle, -1, 0x10, 9), 1);
      b.baseRun(base.handle);
      parentPort.postMessage({ fired, started: true });
    } else {
      b.baseFree(base.handle);
      parentPort.postMessage({ fired, stats: b.stats() });
    }
  `;

  function runWorker(method: string, leave: boolean) {
    const worker = new Worker(workerSource, { eval: true, workerData: { addon: addonPath, method, leave } });
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
    const message = new Promise<Record<string, unknown>>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    return { worker, exited, message };
  }

  it.each(methods)('create, run and end bases in workers on %s, including one torn down mid-run', async (method) => {
    const before = binding.stats();
    const done = [runWorker(method, false), runWorker(method, false)];
    const mid = runWorker(method, true);
    for (const w of done) {
      expect(await w.message).toEqual({ fired: 5, stats: { liveEvents: 5, liveBases: 1 } });
      expect(await w.exited).toBe(0); // nothing of ours keeps a finished worker alive
    }
    expect(await mid.message).toEqual({ fired: 5, started: true });
    await mid.worker.terminate(); // env teardown with a pending event and an active run
    expect(await mid.exited).toBe(1);
    // The main thread's tables are untouched by the workers.
    expect(binding.stats()).toEqual(before);
  });
});
