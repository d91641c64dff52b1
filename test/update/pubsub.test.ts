// Publish-subscribe across updates: the dispatcher is rebuilt from the new version's
// subsystems, and messages still queued are carried into it, transformed when their payload
// type changed, or disposed and reported when the new version no longer has them.
import { describe, expect, it } from 'vitest';

import { EVLOOP, io } from '../../lib/index.js';
import type { UpdateHost } from '../../lib/update/index.js';
import { allOnCurrentVersion, startHost, stateOf, updateMethods } from './harness.js';

/** Echo some bytes through the service until `n` bytes_read messages wait on 'stats'. */
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

describe.each(updateMethods)('publish-subscribe across updates on %s', (method) => {
  it('carries queued messages into the new dispatcher, transforming a changed payload type', async () => {
    const { host } = await startHost(method);
    const fd = queueMessages(host, 5);
    const queued = host.mainloop!.pending('stats');
    expect(queued).toBeGreaterThanOrEqual(5);
    const report = await host.requestUpdate('v2.cjs'); // bytes_read: count -> { n, fd }
    expect(report).toMatchObject({ ok: true, to: 'v2', messagesCarried: queued, messagesDropped: [] });
    expect(host.mainloop!.pending('stats')).toBe(queued);
    host.mainloop!.flush('stats'); // delivered to v2's meter, which reads r.n
    const stats = stateOf<{ bytes: number }>(host, 'stats');
    expect(stateOf<{ total: number }>(host, 'metered').total).toBe(stats.bytes);
    expect(allOnCurrentVersion(host)).toBe(true);
    io.close(fd);
    host.base.free();
  });

  it('refuses a payload type change without a transform, leaving the queue as it was', async () => {
    const { host } = await startHost(method);
    const fd = queueMessages(host, 3);
    const before = host.mainloop!.pubsub!.dispatcher.queued(host.mainloop!.pubsub!.channelId('stats'));
    const report = await host.requestUpdate('message-type-changed.cjs');
    expect(report).toMatchObject({ ok: false, error: { phase: 'pubsub', code: 'ERR_MESSAGE_TYPE_CHANGED' } });
    expect(report.error!.message).toContain("'bytes_read'");
    const after = host.mainloop!.pubsub!.dispatcher.queued(host.mainloop!.pubsub!.channelId('stats'));
    expect(after).toEqual(before);
    host.mainloop!.flush('stats'); // still v0's meter
    expect(stateOf<{ total: number }>(host, 'metered').total).toBe(stateOf<{ bytes: number }>(host, 'stats').bytes);
    io.close(fd);
    host.base.free();
  });

  it('refuses a new version whose publish-subscribe configuration is wrong', async () => {
    const { host } = await startHost(method);
    const report = await host.requestUpdate('pubsub-unpaired.cjs');
    expect(report).toMatchObject({ ok: false, error: { phase: 'pubsub' } });
    expect(report.error!.message).toContain('bytes_read');
    expect(host.version).toBe('v0');
    expect((await host.requestUpdate('v1.cjs')).ok).toBe(true);
    host.base.free();
  });

  it('disposes and reports queued messages the new version no longer has', async () => {
    const { host } = await startHost(method);
    const fd = queueMessages(host, 4);
    const queued = host.mainloop!.pending('stats');
    const report = await host.requestUpdate('no-meter.cjs');
    expect(report).toMatchObject({ ok: true, messagesCarried: 0 });
    expect(report.messagesDropped).toEqual(new Array(queued).fill('bytes_read'));
    io.close(fd);
    host.base.free();
  });
});
