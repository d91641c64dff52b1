// Signal events: delivery, coexistence with Node's own process.on handlers, and restoring
// the handler that was there before.
import { constants } from 'node:os';
import { describe, expect, it } from 'vitest';

import { EV, EventBase } from '../../lib/index.js';
import { methods } from './helpers.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe.each(methods)('signals on %s', (method) => {
  it('delivers a signal to its callback with the signal number', () => {
    const base = new EventBase({ method });
    const got: [number, number][] = [];
    const s = base.signal('SIGUSR2', (signo, what, ev) => {
      got.push([signo, what]);
      ev.free();
    });
    s.add();
    expect(s.pending(EV.SIGNAL)).toBe(EV.SIGNAL);
    process.kill(process.pid, 'SIGUSR2');
    expect(base.dispatch()).toBe(1);
    expect(got).toEqual([[constants.signals.SIGUSR2, EV.SIGNAL]]);
    base.free();
  });

  it("leaves Node's handlers for other signals working, and restores the previous handler on free", async () => {
    const base = new EventBase({ method });
    const nodeSeen: string[] = [];
    const onHup = () => nodeSeen.push('SIGHUP');
    const onUsr2 = () => nodeSeen.push('SIGUSR2');
    process.on('SIGHUP', onHup);
    process.on('SIGUSR2', onUsr2);
    try {
      let libeventSeen = 0;
      const s = base.signal('SIGUSR2', () => libeventSeen++).add();
      const running = base.run();
      process.kill(process.pid, 'SIGUSR2');
      await sleep(30);
      process.kill(process.pid, 'SIGHUP');
      await sleep(30);
      expect(libeventSeen).toBe(1); // libevent owns SIGUSR2 while its event exists
      expect(nodeSeen).toEqual(['SIGHUP']); // Node still gets the others
      s.free(); // gives SIGUSR2 back to Node's handler
      expect(await running).toBe(1);
      process.kill(process.pid, 'SIGUSR2');
      await sleep(30);
      expect(nodeSeen).toEqual(['SIGHUP', 'SIGUSR2']);
      expect(libeventSeen).toBe(1);
    } finally {
      process.off('SIGHUP', onHup);
      process.off('SIGUSR2', onUsr2);
      base.free();
    }
  });

  it('rejects signals it cannot watch, with a code', () => {
    const base = new EventBase({ method });
    expect(() => base.signal('SIGNOPE', () => {})).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_UNKNOWN_SIGNAL' }));
    for (const sig of ['SIGKILL', 'SIGSTOP', 'SIGSEGV', 'SIGBUS', 'SIGFPE', 'SIGILL']) {
      expect(() => base.signal(sig, () => {})).toThrow(expect.objectContaining({ code: 'ERR_SIGNAL_UNSUPPORTED' }));
    }
    expect(() => base.signal(0, () => {})).toThrow(expect.objectContaining({ code: 'ERR_SIGNAL_UNSUPPORTED' }));
    expect(() => base.signal(1000, () => {})).toThrow(expect.objectContaining({ code: 'ERR_SIGNAL_UNSUPPORTED' }));
    expect(() => base.signal(Number.NaN, () => {})).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => base.signal({} as unknown as string, () => {})).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => base.event(12, EV.SIGNAL | EV.READ, () => {})).toThrow(expect.objectContaining({ code: 'ERR_INVALID_EVENTS' }));
    // still usable
    let fired = false;
    base.timer(() => { fired = true; }).add(0);
    base.dispatch();
    expect(fired).toBe(true);
    base.free();
  });
});
