// Several threads with bases of their own at once: process-wide libevent state must be safe
// from any number of worker threads. Each case runs in a child process so a crash or a hang
// fails the case instead of the runner.
import { describe, expect, it } from 'vitest';

import { runChild } from './helpers.js';

describe('worker threads', () => {
  it('create poll/select/epoll bases and list the supported methods from 4 threads at once', () => {
    const r = runChild(`
      const { Worker } = require('node:worker_threads');
      const body = \`
        const { parentPort, workerData } = require('node:worker_threads');
        const b = require(workerData);
        let made = 0;
        for (let i = 0; i < 300; i++) {
          const methods = b.supportedMethods();
          const h = b.baseNew({ method: methods[i % methods.length] }).handle;
          b.baseFree(h);
          b.baseRelease(h);
          made++;
        }
        parentPort.postMessage(made);
      \`;
      let done = 0, total = 0;
      for (let w = 0; w < 4; w++) {
        new Worker(body, { eval: true, workerData: ADDON }).on('message', (n) => {
          total += n;
          if (++done === 4) console.log('made', total);
        });
      }
    `, 60_000);
    expect(r.signal).toBe(null);
    expect(r.out.trim()).toBe('made 1200');
    expect(r.status).toBe(0);
  });

  // A worker whose thread is blocked in dispatch() with a far timer (issue 7, item 8).
  const blockedWorker = (method: string, run: 'loop' | 'run') => `
    const { Worker } = require('node:worker_threads');
    const body = \`
      const { parentPort, workerData } = require('node:worker_threads');
      const b = require(workerData.addon);
      b.setDispatcher(() => {});
      const base = b.baseNew({ method: workerData.method }).handle;
      b.eventAdd(b.eventNew(base, -1, 0, 0), 1e9);
      parentPort.postMessage('blocking');
      if (workerData.run === 'run') b.baseRun(base); else b.baseLoop(base, 0);
    \`;
    const w = new Worker(body, { eval: true, workerData: { addon: ADDON, method: ${JSON.stringify(method)}, run: ${JSON.stringify(run)} } });
    const blocked = new Promise((resolve) => w.once('message', () => setTimeout(resolve, 100)));
  `;

  for (const method of ['epoll', 'poll', 'select']) {
    for (const run of ['loop', 'run'] as const) {
      it(`worker.terminate() ends a ${method} ${run === 'loop' ? 'dispatch()' : 'run()'} blocked in a worker`, () => {
        const r = runChild(`${blockedWorker(method, run)}
          blocked.then(() => w.terminate()).then((code) => console.log('terminated', code));
        `);
        expect(r.signal).toBe(null);
        expect(r.out.trim()).toBe('terminated 1');
        expect(r.status).toBe(0);
      });
    }

    it(`process.exit() in the main thread ends a worker blocked in a ${method} dispatch()`, () => {
      const r = runChild(`${blockedWorker(method, 'loop')}
        process.on('exit', (code) => console.log('exit', code));
        blocked.then(() => process.exit(0));
      `);
      expect(r.signal).toBe(null);
      expect(r.out.trim()).toBe('exit 0');
      expect(r.status).toBe(0);
    });
  }

  it('ordinary Node work (messages to the worker) does not end its dispatch()', () => {
    const r = runChild(`
      const { Worker } = require('node:worker_threads');
      const body = \`
        const { parentPort, workerData } = require('node:worker_threads');
        const b = require(workerData);
        let fired = 0;
        b.setDispatcher(() => fired++);
        const base = b.baseNew({}).handle;
        b.eventAdd(b.eventNew(base, -1, 0, 0), 300);
        parentPort.postMessage('blocking');
        const t0 = Date.now();
        const rc = b.baseLoop(base, 0);
        parentPort.postMessage('done ' + rc + ' ' + fired + ' ' + (Date.now() - t0 >= 250));
      \`;
      const w = new Worker(body, { eval: true, workerData: ADDON });
      const spam = setInterval(() => w.postMessage('work'), 5);
      w.on('message', (m) => {
        if (m === 'blocking') return;
        console.log(m);
        clearInterval(spam);
        w.terminate();
      });
    `);
    expect(r.out.trim()).toBe('done 1 1 true');
    expect(r.status).toBe(0);
  });
});
