// Live update of a bufferevent service: bufferevents and listeners are rebound to the new
// version's handlers by name, with bytes waiting in both their input and output buffers, and
// their watermarks, timeouts, enabled bits and rate limits unchanged. An update that would
// leave one on a missing or unnamed handler is refused before anything changes.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { type BufferEvent, EV, EventBase, io, type Listener, liveBuffered } from '../../lib/index.js';
import { UpdateHost, type UpdateReport } from '../../lib/update/index.js';

const versionsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'buffered');

async function start(method: string, first = 'v1.cjs') {
  const base = new EventBase({ method });
  const host = new UpdateHost({ base, versionsDir });
  await host.start(first);
  const reports: UpdateReport[] = [];
  host.on('update', (r: UpdateReport) => reports.push(r));
  const store = host.context!.store;
  return { base, host, reports, conns: store.get('conns') as BufferEvent[], listener: store.get('listener') as Listener };
}

/** A raw client (host-owned events, so never rebound) that collects what comes back. */
function client(host: UpdateHost, port: number) {
  const fd = io.connect('127.0.0.1', port);
  let text = '';
  const buf = new Uint8Array(65536);
  const reader = host.own(
    host.base.event(fd, EV.READ | EV.PERSIST, () => {
      for (let n = io.read(fd, buf); n > 0; n = io.read(fd, buf)) text += Buffer.from(buf.subarray(0, n)).toString('latin1');
    }),
  );
  const pending: Buffer[] = [];
  const writer = host.own(
    host.base.event(fd, EV.WRITE | EV.PERSIST, () => {
      while (pending.length > 0) {
        const n = io.write(fd, pending[0]!);
        if (n < 0) return;
        if (n < pending[0]!.length) pending[0] = pending[0]!.subarray(n);
        else pending.shift();
      }
      writer.del();
    }),
  );
  return {
    send(s: string) {
      pending.push(Buffer.from(s, 'latin1'));
      writer.add();
    },
    reading(on: boolean) {
      if (on) reader.add();
      else reader.del();
    },
    text: () => text,
    close() {
      io.close(fd);
    },
  };
}

/** Everything about a bufferevent that an update must leave as it was (libevent's own state). */
function settingsOf(bev: BufferEvent) {
  return {
    fd: bev.fd,
    handle: bev._handle,
    enabled: bev.enabled,
    paused: bev.paused,
    readWatermark: bev.getWatermark(EV.READ),
    writeWatermark: bev.getWatermark(EV.WRITE),
    timeouts: bev.timeouts,
    rateLimit: bev.rateLimit,
    maxSingle: [bev.maxSingleRead, bev.maxSingleWrite],
  };
}

function listenerState(l: Listener) {
  return { fd: l.fd, port: l.port, handle: l._handle, enabled: l.enabled, backingOff: l.backingOff, freed: l.freed };
}

const lines = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `line-${from + i}-${'x'.repeat(40)}`);

describe.each(['epoll', 'poll', 'select'])('bufferevent live update (%s)', (method) => {
  it('mid-transfer, with bytes in both buffers: nothing lost, settings kept, new handlers run', async () => {
    const { base, host, reports, conns, listener } = await start(method);
    const c = client(host, listener.port);
    let late: ReturnType<typeof client> | undefined;
    const first = lines(0, 3000);
    c.send(first.join('\n') + '\npartial-'); // the tail has no end of line yet
    let seen: { input: number; output: number; settings: unknown; listener: unknown } | undefined;
    // Wait until the server holds the partial line in its input and replies in its output
    // (its write rate limit keeps them there), then update from a callback, as a control
    // socket would.
    const watcher = host.own(
      base.timer(
        () => {
          const bev = conns[0];
          if (!bev || seen || bev.input.length === 0 || bev.output.length < 8192) return;
          seen = { input: bev.input.length, output: bev.output.length, settings: settingsOf(bev), listener: listenerState(listener) };
          void host.requestUpdate('v2.cjs');
        },
        { persist: true },
      ),
    );
    watcher.add(2);
    c.reading(true);
    const finisher = host.own(
      base.timer(
        () => {
          if (reports.length === 1 && !c.text().includes('tail-done')) {
            const bev = conns[0]!;
            // Settings survived, on the same native bufferevent and listener.
            expect(settingsOf(bev)).toEqual(seen!.settings);
            expect(listenerState(listener)).toEqual(seen!.listener);
            // Both run the new version's handlers now.
            const ctx = host.context!;
            expect(ctx.version).toBe('v2');
            expect([bev.callbacks.read, bev.callbacks.event]).toEqual([ctx.handlerByName.get('onText'), ctx.handlerByName.get('onEvent')]); // onLine was renamed
            expect(listener.onAccept).toBe(ctx.handlerByName.get('onAccept'));
            late = client(host, listener.port); // accepted by v2's onAccept
            late.reading(true);
            late.send('late-client\n');
            c.send('tail-done\n' + lines(3000, 3100).join('\n') + '\n');
            finisher.free();
          }
        },
        { persist: true },
      ),
    );
    finisher.add(5);
    const stop = host.own(
      base.timer(
        () => {
          if (c.text().includes('line-3099-') && late?.text().includes('\n')) base.loopexit(0);
        },
        { persist: true },
      ),
    );
    stop.add(5);
    const guard = host.own(base.timer(() => base.loopexit(0))).add(20_000);
    host.dispatch();
    guard.free();
    watcher.free();
    stop.free();

    expect(reports.map((r) => [r.ok, r.from, r.to, r.error?.code])).toEqual([[true, 'v1', 'v2', undefined]]);
    expect(reports[0]!.eventsRewired).toBe(0); // libevent's own events of bufferevents and listeners are never rewritten
    expect(seen!.input).toBeGreaterThan(0);
    expect(seen!.output).toBeGreaterThan(0);
    const replies = c.text().split('\n').filter((l) => l !== '');
    // Every line exactly once, in order; the ones before the update from v1, the rest from v2.
    const bodies = replies.map((l) => l.slice(l.indexOf(':') + 1));
    expect(bodies).toEqual([...first, 'partial-tail-done', ...lines(3000, 3100)]);
    const versions = replies.map((l) => l.slice(0, l.indexOf(':')));
    const firstV2 = versions.indexOf('v2');
    expect(firstV2).toBeGreaterThan(0);
    expect(versions.slice(0, firstV2).every((v) => v === 'v1')).toBe(true);
    expect(versions.slice(firstV2).every((v) => v === 'v2')).toBe(true);
    expect(replies[first.length]).toBe('v2:partial-tail-done'); // the partial line finished under v2
    expect(late!.text()).toBe('v2:late-client\n');
    expect(conns.length).toBe(2);
    expect(settingsOf(conns[1]!)).toMatchObject({ timeouts: { readMs: 60_000, writeMs: 60_000 } }); // v2's accept set it up
    late!.close();
    c.close();
    base.free();
  });

  it('a version missing a bufferevent handler is refused before anything changes; the rollback frees what it made', async () => {
    const { base, host, reports, conns, listener } = await start(method);
    const c = client(host, listener.port);
    c.reading(true);
    c.send('hello\n');
    const guard = host.own(base.timer(() => base.loopexit(0))).add(10_000);
    let asked = false;
    let sentAgain = false;
    const step = host.own(
      base.timer(
        () => {
          if (c.text() === 'v1:hello\n' && !asked) {
            asked = true;
            void host.requestUpdate('extra-then-fail.cjs');
          } else if (reports.length === 1 && !sentAgain) {
            sentAgain = true;
            c.send('again\n');
          } else if (c.text().includes('again')) base.loopexit(0);
        },
        { persist: true },
      ),
    );
    step.add(5);
    const listenersBefore = liveBuffered(base).listeners.length;
    host.dispatch();
    guard.free();
    step.free();
    expect(reports.map((r) => [r.ok, r.error?.code, r.error?.phase])).toEqual([[false, 'ERR_MISSING_HANDLER', 'rewire']]);
    expect(c.text()).toBe('v1:hello\nv1:again\n'); // still the old code
    expect(host.context!.nameOfHandler.get(conns[0]!.callbacks.read as never)).toBe('onLine');
    expect(liveBuffered(base).listeners.length).toBe(listenersBefore); // the new listener was freed
    c.close();
    base.free();
  });

  it('an unnamed bufferevent callback refuses the update; rebase is refused with live bufferevents', async () => {
    const { base, host, reports, listener } = await start(method, 'anon.cjs');
    const c = client(host, listener.port);
    c.send('x\n');
    c.reading(true);
    let asked = 0;
    const step = host.own(
      base.timer(
        () => {
          if (c.text() !== 'v1-anon:x\n') return;
          if (asked === 0) {
            asked++;
            void host.requestUpdate('v1.cjs');
          } else if (reports.length === 1 && asked === 1) {
            asked++;
            void host.requestUpdate('v1.cjs', { strategy: 'rebase' });
          } else if (reports.length === 2) base.loopexit(0);
        },
        { persist: true },
      ),
    );
    step.add(5);
    const guard = host.own(base.timer(() => base.loopexit(0))).add(10_000);
    host.dispatch();
    guard.free();
    step.free();
    expect(reports[0]).toMatchObject({ ok: false, error: { code: 'ERR_UNNAMED_CALLBACK', phase: 'rewire' } });
    expect(reports[1]).toMatchObject({ ok: false, error: { code: 'ERR_STRATEGY_UNSUPPORTED', phase: 'rewire' } });
    expect(reports.length).toBe(2);
    c.close();
    base.free();
  });
});
