// The raw binding, used without the TypeScript layer (docs/design.md: it must not be
// crashable from JavaScript either). Each case runs in a child process so that a crash
// fails the case instead of the runner.
import { constants } from 'node:os';

import { describe, expect, it } from 'vitest';

import { EV, EVLOOP } from '../../lib/index.js';

import { methods, runChild } from './helpers.js';

describe.each(methods)('raw binding on %s', (method) => {
  it('refuses to run a loop before setDispatcher(), and never calls through a missing dispatcher', () => {
    const r = runChild(`
      const b = require(ADDON);
      const base = b.baseNew({ method: ${JSON.stringify(method)} }).handle;
      const ev = b.eventNew(base, -1, 0, 0);
      b.eventActive(ev, 1);
      for (const run of [() => b.baseLoop(base, 0), () => b.baseRun(base)]) {
        try { run(); console.log('no throw'); } catch (e) { console.log(e.code); }
      }
      b.setDispatcher(() => console.log('called'));
      console.log(b.baseLoop(base, 0));
    `);
    expect(r.signal).toBe(null);
    expect(r.out.trim().split('\n')).toEqual(['ERR_NO_DISPATCHER', 'ERR_NO_DISPATCHER', 'called', '1']);
    expect(r.status).toBe(0);
  });

  it('survives baseRelease then eventFree/eventRelease from inside the loop', () => {
    const r = runChild(`
      const b = require(ADDON);
      const fns = [];
      b.setDispatcher((slot, index, fd, what) => fns[slot](fd, what));
      const base = b.baseNew({ method: ${JSON.stringify(method)} }).handle;
      const e1 = b.eventNew(base, -1, 0, 0);
      const e2 = b.eventNew(base, -1, 0, 1);
      const e3 = b.eventNew(base, -1, 0, 2);
      fns[0] = () => {
        b.baseRelease(base);
        try { b.eventFree(e2); } catch (e) { console.log('eventFree', e.code); }
        b.eventRelease(e2);
        b.eventRelease(e1); // its own callback is running
        b.eventRelease(e3);
      };
      fns[1] = fns[2] = () => console.log('must not run');
      b.eventActive(e1, 1); b.eventActive(e2, 1); b.eventActive(e3, 1);
      console.log('loop', b.baseLoop(base, 0));
      try { b.baseLoop(base, 0); } catch (e) { console.log('after', e.code); }
      console.log(JSON.stringify(b.stats()));
      // the same from a loop that goes on: release inside the loop of a second base
      const base2 = b.baseNew({ method: ${JSON.stringify(method)} }).handle;
      const t = b.eventNew(base2, -1, 0, 3);
      fns[3] = () => { b.baseRelease(base2); b.eventRelease(t); };
      b.eventAdd(t, 1);
      console.log('loop', b.baseLoop(base2, 0));
      console.log(JSON.stringify(b.stats()));
    `);
    expect(r.signal).toBe(null);
    expect(r.out.trim().split('\n')).toEqual([
      'eventFree ERR_BASE_FREED',
      'loop 0',
      'after ERR_INVALID_HANDLE',
      '{"liveEvents":0,"liveBases":0}',
      'loop 0',
      '{"liveEvents":0,"liveBases":0}',
    ]);
    expect(r.status).toBe(0);
  });

  it('keeps every base and event of a first copy working when the addon is loaded again in the same thread', () => {
    const r = runChild(`
      const load1 = require(ADDON);
      const seen = [];
      load1.setDispatcher((slot) => seen.push('A' + slot));
      const baseA = load1.baseNew({ method: ${JSON.stringify(method)} }).handle;
      const evA = load1.eventNew(baseA, -1, 0, 7);
      // a second copy: through require after a cache reset, and through process.dlopen
      delete require.cache[ADDON];
      const load2 = require(ADDON);
      const m = { exports: {} };
      process.dlopen(m, ADDON);
      const load3 = m.exports;
      console.log('distinct', load1 !== load2 && load2 !== load3);
      load2.setDispatcher((slot) => seen.push('B' + slot));
      const baseB = load2.baseNew({ method: ${JSON.stringify(method)} }).handle;
      const evB = load2.eventNew(baseB, -1, 0, 8);
      load1.eventAdd(evA, 1);
      load2.eventAdd(evB, 1);
      console.log(load1.baseLoop(baseA, 0), load2.baseLoop(baseB, 0));
      // the third copy has no dispatcher: its own bases refuse to loop, the others still run
      const baseC = load3.baseNew({}).handle;
      load3.eventActive(load3.eventNew(baseC, -1, 0, 9), 1);
      try { load3.baseLoop(baseC, 0); } catch (e) { console.log(e.code); }
      load1.eventActive(evA, 1);
      console.log(load1.baseLoop(baseA, 0));
      console.log(seen.join(' '));
      console.log(JSON.stringify(load1.stats()));
    `);
    expect(r.signal).toBe(null);
    expect(r.out.trim().split('\n')).toEqual([
      'distinct true',
      '1 1',
      'ERR_NO_DISPATCHER',
      '1',
      'A7 B8 A7',
      '{"liveEvents":3,"liveBases":3}',
    ]);
    expect(r.status).toBe(0);
  });

  // The buffered layer had one table per loaded copy, each starting at handle 0: the second
  // copy's table replaced the first's, a first-copy handle named a second-copy bufferevent, and
  // the exit freed the first table's records through the cleared one (SIGSEGV).
  it('shares the buffered tables between copies loaded in one thread; each base calls back the copy that made it', () => {
    const r = runChild(`
      const load1 = require(ADDON);
      load1.setDispatcher(() => {});
      const seen = [];
      load1.buffered.setDispatcher((kind, h) => seen.push('A' + kind));
      const baseA = load1.baseNew({ method: ${JSON.stringify(method)} }).handle;
      const [a1, a2] = load1.buffered.bevPair(baseA, 6);
      delete require.cache[ADDON];
      const load2 = require(ADDON);
      load2.setDispatcher(() => {});
      load2.buffered.setDispatcher((kind, h) => seen.push('B' + kind));
      const baseB = load2.baseNew({ method: ${JSON.stringify(method)} }).handle;
      const [b1, b2] = load2.buffered.bevPair(baseB, 6);
      console.log('distinct', new Set([a1, a2, b1, b2]).size);
      load1.buffered.bevSetWants(a2, 1);
      load2.buffered.bevSetWants(b2, 1);
      load1.buffered.bevWrite(a1, 'to a2');
      load2.buffered.bevWrite(b2, 'to b1');
      load2.buffered.bevWrite(b1, 'to b2');
      load1.baseLoop(baseA, 1);
      load2.baseLoop(baseB, 1);
      console.log(seen.join(' '));
      load1.buffered.bevFree(a1);
      console.log(JSON.stringify(load2.buffered.stats().bufferevents), load2.buffered.bevInfo(b1)[2]);
      // a2, b1 and b2 are left for the environment's teardown
    `);
    expect(r.signal, r.out).toBe(null);
    expect(r.out.trim().split('\n')).toEqual(['distinct 4', 'A0 B0', '3 0']);
    expect(r.status).toBe(0);
  });
});

describe.each(methods)("a base's own fds on %s (issue 7, item 27)", (method) => {
  it('io.close() refuses the fds libevent made for a base (backend, signal pipe); base.free() closes them', () => {
    const r = runChild(`
      const fs = require('node:fs');
      const b = require(ADDON);
      let calls = 0;
      b.setDispatcher(() => calls++);
      const links = () => {
        const m = new Map();
        for (const fd of fs.readdirSync('/proc/self/fd')) {
          try { m.set(Number(fd), fs.readlinkSync('/proc/self/fd/' + fd)); } catch {}
        }
        return m;
      };
      const before = links();
      const base = b.baseNew({ method: ${JSON.stringify(method)}, preciseTimer: true }).handle;
      const own = [...links()]
        .filter(([fd, link]) => /^(anon_inode|pipe):/.test(link) && before.get(fd) !== link)
        .map(([fd]) => fd);
      const list = () => new Set(links().keys());
      console.log('own', own.length > 0);
      for (const fd of own) {
        try { b.io.close(fd); console.log('closed', fd); } catch (e) { console.log(e.code); }
      }
      // the base still works, signals included
      const sig = b.eventNew(base, ${constants.signals.SIGUSR2}, ${EV.SIGNAL | EV.PERSIST}, 0);
      b.eventAdd(sig);
      process.kill(process.pid, 'SIGUSR2');
      b.baseLoop(base, ${EVLOOP.ONCE});
      console.log('calls', calls);
      b.baseFree(base);
      console.log('left open', own.filter((fd) => list().has(fd)).length);
    `);
    expect(r.signal).toBe(null);
    const lines = r.out.trim().split('\n');
    expect(lines[0]).toBe('own true');
    expect(lines.slice(1, -2).every((l) => l === 'ERR_FD_OWNED_BY_BASE')).toBe(true);
    expect(lines.slice(-2)).toEqual(['calls 1', 'left open 0']);
    expect(r.status).toBe(0);
  });
});

describe('the reinit strategy and other threads (issue 7, item 25)', () => {
  it('refuses event_reinit while a worker thread exists or thread-pool requests are in flight, allows it after', () => {
    const r = runChild(`
      const fs = require('node:fs');
      const { Worker } = require('node:worker_threads');
      const b = require(ADDON);
      const base = b.baseNew({}).handle;
      const reinit = () => { try { b.baseReinit(base); return 'ok'; } catch (e) { return e.code; } };
      console.log('idle', reinit());
      const reading = fs.promises.readFile(__filename === '[eval]' ? '/proc/self/status' : __filename);
      console.log('fs in flight', reinit());
      reading.then(async () => {
        console.log('fs done', reinit());
        const w = new Worker('setInterval(() => require("node:fs").readFileSync("/proc/self/status"), 1)', { eval: true });
        await new Promise((resolve) => w.once('online', resolve));
        console.log('worker', reinit());
        await w.terminate();
        console.log('worker gone', reinit());
      });
    `);
    expect(r.out.trim().split('\n')).toEqual([
      'idle ok',
      'fs in flight ERR_REINIT_UNSAFE',
      'fs done ok',
      'worker ERR_REINIT_UNSAFE',
      'worker gone ok',
    ]);
    expect(r.status).toBe(0);
  });
});
