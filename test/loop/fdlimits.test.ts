// File-descriptor limits: where libevent itself would end the process (exit(1) when a base
// cannot make its own fds; abort in Debian's fortified FD_SET for fd >= 1024 on select), the
// binding throws an error with a code instead.
import fs from 'node:fs';

import { describe, expect, it } from 'vitest';

import { EV, EventBase, io } from '../../lib/index.js';
import { expectCode, expectUsable, methods, runChild } from './helpers.js';

const cb = () => undefined;

function closeAll(pairs: number[][]): void {
  for (const p of pairs) for (const fd of p) io.close(fd);
  pairs.length = 0;
}

describe('fd limits', () => {
  it.each(methods)('refuses a new %s base with EMFILE when the process is out of fds', (method) => {
    const held: number[] = [];
    try {
      const codes = new Set<unknown>();
      for (const open of [() => held.push(...io.socketpair()), () => held.push(fs.openSync('/dev/null', 'r'))]) {
        try {
          for (;;) open();
        } catch (err) {
          codes.add((err as { code?: unknown }).code);
        }
      }
      expect([...codes]).toEqual(['EMFILE']);
      // 0 to 3 free fds: too few for a base's own (backend fd, timerfd, signal pipe).
      for (let free = 0; free < 4; free++) {
        expectCode(() => new EventBase({ method }), Error, 'EMFILE');
        io.close(held.pop()!);
      }
      const base = new EventBase({ method });
      expect(base.method).toBe(method);
      expectUsable(base);
      base.free();
    } finally {
      for (const fd of held) io.close(fd);
    }
  });

  it('refuses a signal event on a select base whose signal pipe landed above fd 1023', () => {
    const pairs: number[][] = [];
    try {
      while ((pairs.at(-1)?.[0] ?? 0) < 1030) pairs.push(io.socketpair());
      const high = new EventBase({ method: 'select' });
      expectCode(() => high.signal('SIGUSR2', cb), RangeError, 'ERR_FD_SETSIZE');
      expectCode(() => high.event(pairs.at(-1)![0]!, EV.READ, cb), RangeError, 'ERR_FD_SETSIZE');
      expectUsable(high);
      // The other backends have no such limit.
      for (const method of methods.filter((m) => m !== 'select')) {
        const base = new EventBase({ method });
        base.signal('SIGUSR2', cb).free();
        base.event(pairs.at(-1)![0]!, EV.READ, cb).free();
        base.free();
      }
      closeAll(pairs);
      // Made while low fds are free again, a select base takes signals.
      const low = new EventBase({ method: 'select' });
      low.signal('SIGUSR2', cb).free();
      low.free();
      high.free();
    } finally {
      closeAll(pairs);
    }
  });

  it('refuses a signal on a select base whose signal pipe another thread pushed above fd 1023 while the base was made', () => {
    // The binding notes the lowest free fd before event_base_new, where select puts its signal
    // pipe; a worker opening fds in between moves the pipe up. With fds 0..1021 taken, a worker
    // that keeps taking and giving back 1022 and 1023 puts some pipes at 1024 and up, past the
    // note. Adding a signal there would make Debian's fortified FD_SET abort the process, so
    // it runs in a child, and every base whose pipe (a FIFO new at 1022..1040) is above 1023
    // must refuse. Built without the check of new high pipes (2570d34), the child aborted in
    // each of 8 runs, within the first few hundred bases.
    const r = runChild(
      `
      const b = require(ADDON);
      const fs = require('node:fs');
      const { Worker } = require('node:worker_threads');
      const flag = new Int32Array(new SharedArrayBuffer(8)); // [0]: worker ready, [1]: stop
      const worker = new Worker(\`
        const { workerData: flag } = require('node:worker_threads');
        const fs = require('node:fs');
        Atomics.store(flag, 0, 1);
        while (Atomics.load(flag, 0) !== 2) Atomics.wait(flag, 0, 1, 10);
        while (Atomics.load(flag, 1) === 0) {
          const a = fs.openSync('/dev/null', 'r'), c = fs.openSync('/dev/null', 'r');
          fs.closeSync(a); fs.closeSync(c);
        }
      \`, { eval: true, workerData: flag });
      while (Atomics.load(flag, 0) !== 1) Atomics.wait(flag, 0, 0, 10); // its own fds come first
      const held = [];
      for (let fd = fs.openSync('/dev/null', 'r'); ; fd = fs.openSync('/dev/null', 'r')) {
        held.push(fd);
        if (fd >= 1021) break;
      }
      const fifos = () => {
        const out = [];
        for (let fd = 1022; fd <= 1040; fd++) {
          try { if (fs.fstatSync(fd).isFIFO()) out.push(fd); } catch {}
        }
        return out;
      };
      Atomics.store(flag, 0, 2);
      const seen = { bases: 0, high: 0, refused: 0, wrong: [] };
      for (let i = 0; i < 800; i++) {
        const before = fifos();
        const base = b.baseNew({ method: 'select' }).handle;
        const pipe = fifos().filter((fd) => !before.includes(fd));
        seen.bases++;
        let refused = false;
        try {
          const ev = b.eventNew(base, 12, 0x08, 0); // SIGUSR2
          b.eventAdd(ev);
          b.eventFree(ev);
        } catch (err) {
          if (err.code !== 'ERR_FD_SETSIZE') throw err;
          refused = true;
        }
        if (pipe.some((fd) => fd >= 1024)) {
          seen.high++;
          if (!refused) seen.wrong.push(pipe);
        }
        if (refused) seen.refused++;
        b.baseFree(base);
      }
      Atomics.store(flag, 1, 1);
      worker.terminate().then(() => console.log(JSON.stringify(seen)));
    `,
      120_000,
    );
    expect(r.signal, r.out).toBe(null);
    expect(r.status, r.out).toBe(0);
    const seen = JSON.parse(r.out.trim().split('\n').pop()!) as { bases: number; high: number; refused: number; wrong: number[][] };
    expect(seen.bases).toBe(800);
    expect(seen.wrong).toEqual([]);
    expect(seen.refused).toBeGreaterThanOrEqual(seen.high);
  }, 130_000);
});
