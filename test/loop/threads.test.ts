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
});
