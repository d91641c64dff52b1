// Commit cannot fail half-way: whatever connecting the new version's publish-subscribe can
// fail on (a delivery policy naming a channel the version lacks, a policy that does not exist,
// creating a channel's libevent event) is done or checked in prepare, so such an update is
// refused with the running version, its events, its dispatcher and its queued messages exactly
// as they were; and the service goes on, including a good update afterwards.
import { afterEach, describe, expect, it, vi } from 'vitest';

import { EVLOOP, EventBase, io } from '../../lib/index.js';
import type { UpdateHost } from '../../lib/update/index.js';
import { allOnCurrentVersion, startHost, stateOf, updateMethods } from './harness.js';

afterEach(() => {
  vi.restoreAllMocks();
});

/** Echo bytes through the service until `n` bytes_read messages wait on 'stats'. */
function queueMessages(host: UpdateHost, n: number): number {
  const port = stateOf<{ port: number }>(host, 'listener').port;
  const fd = io.connect('127.0.0.1', port);
  const buf = new Uint8Array(64);
  let sent = 0;
  for (let guard = 0; host.mainloop!.pending('stats') < n && guard < 10_000; guard++) {
    if (io.write(fd, new Uint8Array([sent++ & 0xff])) < 0) sent--;
    host.base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK);
    while (io.read(fd, buf) > 0);
  }
  return fd;
}

/** Everything of the running version that a half-done commit would have changed. */
function snapshot(host: UpdateHost) {
  const ml = host.mainloop!;
  const channel = ml.pubsub!.channelId('stats');
  return {
    version: host.version,
    ctx: host.context,
    pubsub: ml.pubsub,
    channelEvents: [...ml.events],
    queued: ml.pubsub!.dispatcher.queued(channel),
    policy: ml.deliveryPolicy('stats'),
    events: host.base._allEvents().filter((ev) => !ev.freed),
    callbacks: host.base._allEvents().map((ev) => ev.callback),
  };
}

function expectUntouched(host: UpdateHost, before: ReturnType<typeof snapshot>): void {
  expect(host.version).toBe(before.version);
  expect(host.context).toBe(before.ctx);
  expect(() => host.context!.isUpdating()).not.toThrow(); // not retired
  const ml = host.mainloop!;
  expect(ml.pubsub).toBe(before.pubsub);
  expect(ml.pubsub!.dispatcher.closed).toBe(false);
  expect([...ml.events]).toEqual(before.channelEvents);
  expect(ml.events.every((ev) => !ev.freed)).toBe(true);
  expect(ml.pubsub!.dispatcher.queued(ml.pubsub!.channelId('stats'))).toEqual(before.queued);
  expect(ml.deliveryPolicy('stats')).toBe(before.policy);
  // No event left behind by the refused version, none of the old ones freed or rewired.
  expect(host.base._allEvents().filter((ev) => !ev.freed)).toEqual(before.events);
  expect(host.base._allEvents().map((ev) => ev.callback)).toEqual(before.callbacks);
  expect(allOnCurrentVersion(host)).toBe(true);
}

/** The old version still serves: its meter gets the queued messages, and a good update goes through. */
async function expectServiceGoesOn(host: UpdateHost, fd: number): Promise<void> {
  host.mainloop!.flush('stats');
  expect(stateOf<{ total: number }>(host, 'metered').total).toBe(stateOf<{ bytes: number }>(host, 'stats').bytes);
  const queued = host.mainloop!.pending('stats');
  const good = await host.requestUpdate('v1.cjs');
  expect(good).toMatchObject({ ok: true, from: 'v0', to: 'v1', messagesCarried: queued });
  expect(allOnCurrentVersion(host)).toBe(true);
  io.close(fd);
}

describe.each(updateMethods)('commit is all or nothing on %s', (method) => {
  it.each([
    ['policy-unknown-channel.cjs', 'ERR_UNKNOWN_CHANNEL', 'nosuch'],
    ['policy-bad-value.cjs', 'ERR_INVALID_ARG_VALUE', 'sometimes'],
  ])('refuses %s in prepare, before any event is rewired', async (file, code, named) => {
    const { host } = await startHost(method);
    const fd = queueMessages(host, 3);
    const before = snapshot(host);
    const report = await host.requestUpdate(file);
    expect(report).toMatchObject({ ok: false, from: 'v0', error: { phase: 'pubsub', code } });
    expect(report.error!.message).toContain(named);
    expectUntouched(host, before);
    await expectServiceGoesOn(host, fd);
    host.base.free();
  });

  it.each(['inplace', 'readd'] as const)('refuses cleanly when a channel event cannot be created (%s)', async (strategy) => {
    const { host } = await startHost(method);
    const fd = queueMessages(host, 3);
    const before = snapshot(host);
    const base = host.base;
    const timer = EventBase.prototype.timer;
    vi.spyOn(EventBase.prototype, 'timer').mockImplementation(function (this: EventBase, ...args) {
      if (this === base) throw Object.assign(new Error('cannot allocate an event'), { code: 'ENOMEM' });
      return timer.apply(this, args); // the host's first-request rehearsal has a base of its own
    });
    const report = await host.requestUpdate('v1.cjs', { strategy });
    vi.restoreAllMocks();
    expect(report).toMatchObject({ ok: false, from: 'v0', error: { phase: 'pubsub', code: 'ENOMEM' } });
    expectUntouched(host, before);
    await expectServiceGoesOn(host, fd);
    host.base.free();
  });

  it.each(['inplace', 'rebase'] as const)('sets the new policies at commit (%s): carried messages are delivered on the next loop pass, not inside it', async (strategy) => {
    const { host } = await startHost(method, 'v0.cjs', strategy);
    const oldBase = host.base;
    const fd = queueMessages(host, 3);
    const queued = host.mainloop!.pending('stats');
    const totalBefore = stateOf<{ total: number }>(host, 'metered').total;
    const report = await host.requestUpdate('policy-prompt.cjs');
    expect(report).toMatchObject({ ok: true, to: 'policy-prompt', messagesCarried: queued });
    // 'rebase' moved every event, the prepared channel events too, to a new base.
    expect(host.base === oldBase).toBe(strategy === 'inplace');
    expect(host.mainloop!.base).toBe(host.base);
    expect(host.mainloop!.events.every((ev) => ev.base === host.base && !ev.freed)).toBe(true);
    expect(host.mainloop!.deliveryPolicy('stats')).toBe('prompt');
    expect(host.mainloop!.pending('stats')).toBe(queued);
    expect(stateOf<{ total: number }>(host, 'metered').total).toBe(totalBefore);
    host.base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK);
    expect(host.mainloop!.pending('stats')).toBe(0);
    expect(stateOf<{ total: number }>(host, 'metered').total).toBe(stateOf<{ bytes: number }>(host, 'stats').bytes);
    // The channel events are the host's: a later update leaves them alone and rebinds the rest.
    expect(host.mainloop!.events.every((ev) => host.isOwn(ev))).toBe(true);
    expect((await host.requestUpdate('v1.cjs')).ok).toBe(true);
    expect(allOnCurrentVersion(host)).toBe(true);
    io.close(fd);
    host.base.free();
  });
});
