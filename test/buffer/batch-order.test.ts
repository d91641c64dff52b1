// Batched dispatch (native/batch.cc) and bufferevents in one pass: a bufferevent callback
// runs after the plain events libevent ran before it, as with one JS call per event.
import { describe, expect, it } from 'vitest';

import { EV, EventBase, EVLOOP, io } from '../../lib/index.js';
import { setBatching } from '../../lib/loop/registry.js';
import { methods } from './helpers.js';

describe.each(methods)('batched events and bufferevents (%s)', (method) => {
  it('keeps libevent order between a batched event and a bufferevent callback of the same pass', () => {
    const traces: string[][] = [];
    for (const on of [false, true]) {
      setBatching(on);
      const base = new EventBase({ method });
      const log: string[] = [];
      const [fa, fb] = io.socketpair();
      const bev = base.bufferevent(fa, { enable: EV.READ });
      bev.setCallbacks({ read: (b) => log.push(`bev ${b.input.remove(100).toString()}`) });
      const timer = base.timer(() => log.push('timer'));
      timer.active(EV.TIMEOUT); // queued before the poll that finds the bufferevent's data
      io.write(fb, new TextEncoder().encode('hi'));
      base.loop(EVLOOP.ONCE);
      traces.push(log);
      bev.free();
      io.close(fb);
      base.free();
    }
    setBatching(true);
    expect(traces[1]).toEqual(traces[0]);
    expect(traces[1]).toEqual(['timer', 'bev hi']);
  });
});
