// File-descriptor limits: where libevent itself would end the process (exit(1) when a base
// cannot make its own fds; abort in Debian's fortified FD_SET for fd >= 1024 on select), the
// binding throws an error with a code instead.
import fs from 'node:fs';

import { describe, expect, it } from 'vitest';

import { EV, EventBase, io } from '../../lib/index.js';
import { expectCode, expectUsable, methods } from './helpers.js';

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
});
