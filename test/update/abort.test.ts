// Issue 12: host.run({ signal, keepAlive }) and ControlServer's { signal }, shaped like
// base.run() and Node's server.listen({ signal }): an abort ends the loop with an AbortError
// (cause: the reason), closes the control server, and leaves nothing of either behind: no
// host event, no socket file, no abort or process listener. The service's own events stay.
import { existsSync, mkdtempSync } from 'node:fs';
import { getEventListeners } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { AbortError, EventBase } from '../../lib/index.js';
import { ControlServer, UpdateHost } from '../../lib/update/index.js';
import { expectCode } from '../loop/helpers.js';
import { updateMethods, versionsDir } from './harness.js';

async function rejection(p: Promise<unknown>): Promise<Error & { code?: unknown; cause?: unknown }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: unknown; cause?: unknown };
  }
  throw new Error('expected a rejection');
}

function expectAbort(err: Error & { code?: unknown; cause?: unknown }, reason: unknown): void {
  expect(err).toBeInstanceOf(AbortError);
  expect(err.code).toBe('ABORT_ERR');
  expect(err.cause).toBe(reason);
}

const socketIn = (name: string) => path.join(mkdtempSync(path.join(os.tmpdir(), `nle-abort-${name}-`)), 'update.sock');

afterEach(() => {
  globalThis.nodeLibeventFanout = undefined;
});

describe.each(updateMethods)('host.run({ signal }) on %s', (method) => {
  it('rejects at once with an already aborted signal, before any update point', async () => {
    const base = new EventBase({ method });
    const host = new UpdateHost({ base, versionsDir });
    await host.start('v0.cjs');
    const reason = new Error('not today');
    const points = host.pointsReached;
    expectAbort(await rejection(host.run({ signal: AbortSignal.abort(reason) })), reason);
    expect(host.pointsReached).toBe(points);
    expect(base.running).toBe(false);
    base.free();
  });

  it('ends the loop and closes the control server on abort, leaving no host event, socket or listener', async () => {
    const base = new EventBase({ method });
    const host = new UpdateHost({ base, versionsDir });
    await host.start('v0.cjs');
    const serviceEvents = new Set(base._allEvents());
    const pendingBefore = base.events().map((ev) => [ev, ev.pending()] as const);
    const exitListeners = process.listenerCount('exit');
    const ac = new AbortController();
    const control = new ControlServer(host, socketIn(method), { signal: ac.signal });
    expect(existsSync(control.path)).toBe(true);
    expect(base._allEvents().length).toBeGreaterThan(serviceEvents.size); // the server's own events
    const reason = { why: 'shutdown' };
    setTimeout(() => ac.abort(reason), 60);
    expectAbort(await rejection(host.run({ signal: ac.signal })), reason);
    expect(host.pointsReached).toBeGreaterThan(0); // it ran, from an update point

    expect(base.running).toBe(false);
    expect(existsSync(control.path)).toBe(false);
    expect(new Set(base._allEvents())).toEqual(serviceEvents); // nothing of the server is left
    for (const [ev, bits] of pendingBefore) expect(ev.pending()).toBe(bits); // the service's events stay
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    expect(process.listenerCount('exit')).toBe(exitListeners);

    // the host goes on: an update, then another run
    expect(await host.requestUpdate('v1.cjs')).toMatchObject({ ok: true, to: 'v1' });
    base.loopexit(30);
    expect(await host.run()).toBe(0);
    base.free();
  });

  it('keeps a signal it is not aborted by free of listeners after the run ends', async () => {
    const base = new EventBase({ method });
    const host = new UpdateHost({ base, versionsDir });
    await host.start('v0.cjs');
    const ac = new AbortController();
    base.loopexit(30);
    expect(await host.run({ signal: ac.signal })).toBe(0);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    base.free();
  });

  it('with keepAlive stays up with no events, takes an update, and ends on abort', async () => {
    globalThis.nodeLibeventFanout = { beat: 0, tick: 0 };
    const base = new EventBase({ method });
    const host = new UpdateHost({ base, versionsDir });
    await host.start('fanout-a.cjs');
    expect(base._allEvents()).toEqual([]);
    expect(await host.run()).toBe(1); // nothing to wait for
    const ac = new AbortController();
    const updated = new Promise((resolve) => setTimeout(() => resolve(host.requestUpdate('fanout-b.cjs')), 30));
    // Aborted a moment after the update was taken, not at a fixed time: a stalled process ran
    // both Node timers in one turn, the abort before the loop reached its update point, and
    // the update stayed queued for a next run that never came.
    const abortSoon = () => setTimeout(() => ac.abort('done'), 20);
    updated.then(abortSoon, abortSoon);
    expectAbort(await rejection(host.run({ signal: ac.signal, keepAlive: true })), 'done');
    expect(await updated).toMatchObject({ ok: true, to: 'fanout-b' });
    expect(host.version).toBe('fanout-b');
    expect(base._allEvents()).toEqual([]);
    base.free();
  });

  it('refuses bad options with coded TypeErrors before reaching a point', async () => {
    const base = new EventBase({ method });
    const host = new UpdateHost({ base, versionsDir });
    await host.start('v0.cjs');
    const points = host.pointsReached;
    for (const bad of [5, null, { signal: 1 }, { signal: {} }, { keepAlive: 'yes' }]) {
      const err = await rejection(host.run(bad as never));
      expect(err).toBeInstanceOf(TypeError);
      expect(err.code).toBe('ERR_INVALID_ARG_TYPE');
    }
    expect(host.pointsReached).toBe(points);
    base.free();
  });

  it('a control server given an aborted signal makes nothing', async () => {
    const base = new EventBase({ method });
    const host = new UpdateHost({ base, versionsDir });
    await host.start('v0.cjs');
    const events = base._allEvents().length;
    const socketPath = socketIn(`${method}-pre`);
    const reason = new Error('already');
    const err = expectCode(() => new ControlServer(host, socketPath, { signal: AbortSignal.abort(reason) }), AbortError, 'ABORT_ERR');
    expect(err.cause).toBe(reason);
    expectCode(() => new ControlServer(host, socketPath, { signal: 'no' as never }), TypeError, 'ERR_INVALID_ARG_TYPE');
    expect(existsSync(socketPath)).toBe(false);
    expect(base._allEvents()).toHaveLength(events);
    base.free();
  });
});
