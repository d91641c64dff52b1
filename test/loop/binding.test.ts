// The raw binding, used without the TypeScript layer (docs/design.md: it must not be
// crashable from JavaScript either). Each case runs in a child process so that a crash
// fails the case instead of the runner.
import { describe, expect, it } from 'vitest';

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
});
