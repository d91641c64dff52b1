// Live update of the fixture service under traffic: nothing is lost, everything runs the new
// code afterwards, timers keep their remaining time and periods.
import { describe, expect, it } from 'vitest';

import type { Event } from '../../lib/loop/index.js';
import { binding } from '../../lib/loop/native.js';

import { allOnCurrentVersion, type RanEntry, startHost, startTraffic, stateOf, updateMethods } from './harness.js';

describe.each(updateMethods)('live update on %s', (method) => {
  it('updates v0 -> v1 -> v2 under traffic without losing a byte; timers keep time', async () => {
    const t0 = performance.now(); // the deadline timer is added during start()
    const { host, reports } = await startHost(method);
    const port = stateOf<{ port: number }>(host, 'listener').port;
    const traffic = startTraffic(host, port, 4, 4000);
    const base = host.base;
    const marks: number[] = [];
    // The deadline's schedule as libevent keeps it, read at the start and after each update:
    // when its callback runs is up to the machine's load, where libevent keeps its deadline is
    // not. A sample whose two clock reads are far apart (preempted between them) is dropped.
    const deadline = stateOf<{ deadline: Event }>(host, 'timers').deadline;
    const scheduled: number[] = [];
    const sampleDeadline = () => {
      const before = performance.now();
      const left = binding.eventRemainingMs(deadline._handle);
      const at = performance.now();
      if (left > 0 && at - before < 1) scheduled.push(at - t0 + left);
    };
    sampleDeadline();
    host.on('update', () => {
      marks.push(stateOf<RanEntry[]>(host, 'ran').length);
      sampleDeadline();
    });
    // Requests come from inside callbacks, as a control socket's would: the loop is woken and
    // the update happens at the top of the next iteration.
    host.own(base.timer(() => void host.requestUpdate('v1.cjs'))).add(60);
    host.own(base.timer(() => void host.requestUpdate('v2.cjs'))).add(130);
    const finisher = host.own(
      base.timer(
        () => {
          if (traffic.done() && performance.now() - t0 > 360) {
            traffic.close();
            finisher.free();
            base.loopexit(20);
          }
        },
        { persist: true },
      ),
    );
    finisher.add(5);
    expect(host.dispatch()).toBe(0);

    expect(reports.map((r) => [r.ok, r.from, r.to, r.point])).toEqual([
      [true, 'v0', 'v1', 'loop'],
      [true, 'v1', 'v2', 'loop'],
    ]);
    // service events: listener, 4 connections, heartbeat and deadline timers
    expect(reports.map((r) => r.eventsRewired)).toEqual([7, 7]);
    expect(traffic.sent).toEqual([4000, 4000, 4000, 4000]);
    expect(traffic.received).toEqual([4000, 4000, 4000, 4000]);
    const stats = stateOf<{ bytes: number; ticks: number; updates: number }>(host, 'stats');
    expect(stats.bytes).toBe(16000);
    expect(stats.updates).toBe(2);
    // every bytes_read message reached a meter, across both dispatcher rebuilds
    host.mainloop!.flush('stats');
    expect(stateOf<{ total: number }>(host, 'metered').total).toBe(16000);

    const ran = stateOf<RanEntry[]>(host, 'ran');
    const before = ran.slice(0, marks[0]);
    const middle = ran.slice(marks[0], marks[1]);
    const after = ran.slice(marks[1]);
    expect(new Set(before.map((e) => e[1]))).toEqual(new Set(['v0']));
    expect(new Set(middle.map((e) => e[1]))).toEqual(new Set(['v1']));
    expect(new Set(after.map((e) => e[1]))).toEqual(new Set(['v2']));
    expect(after.some((e) => e[0] === 'onRead')).toBe(true);
    expect(after.some((e) => e[0] === 'onHeartbeat')).toBe(true);

    // The 300 ms deadline was added by v0 and fired once, on time, in v2's code.
    const deadlines = ran.filter((e) => e[0] === 'onDeadline');
    expect(deadlines.map((e) => e[1])).toEqual(['v2']);
    // Neither update moved it (a re-add would have put it 300 ms after the update), and it
    // did not fire early. libevent's default clock is the coarse monotonic one, which lags
    // by a few ms, more under load: 15 ms of slack.
    expect(scheduled.length).toBeGreaterThanOrEqual(2);
    const first = scheduled[0]!;
    expect(first).toBeGreaterThanOrEqual(300 - 15); // added 300 ms ahead, after t0
    for (const at of scheduled) expect(Math.abs(at - first)).toBeLessThan(15);
    expect(deadlines[0]![2] - t0).toBeGreaterThanOrEqual(first - 15);
    // a sanity bound only: how late the call runs is the machine's load
    expect(deadlines[0]![2] - t0).toBeLessThan(first + 2000);
    // The 20 ms heartbeat kept its period across both updates (no phase reset, no burst).
    const beats = ran.filter((e) => e[0] === 'onTick' || e[0] === 'onHeartbeat').map((e) => e[2]);
    const gaps = beats.slice(1).map((b, i) => b - beats[i]!);
    const median = gaps.sort((a, b) => a - b)[Math.floor(gaps.length / 2)]!;
    expect(median).toBeGreaterThanOrEqual(18);
    expect(median).toBeLessThan(30);

    expect(allOnCurrentVersion(host)).toBe(true);
    expect(host.version).toBe('v2');
    host.base.free();
  });

  it('updates v -> v (same code) as a smoke test, twice in a row', async () => {
    const { host, reports } = await startHost(method);
    const stats = stateOf<object>(host, 'stats');
    expect((await host.requestUpdate('v0.cjs')).ok).toBe(true);
    expect((await host.requestUpdate('v0.cjs')).ok).toBe(true);
    expect(reports.map((r) => r.to)).toEqual(['v0', 'v0']);
    // no transform: the same state object carries over
    expect(stateOf<object>(host, 'stats')).toBe(stats);
    expect(allOnCurrentVersion(host)).toBe(true);
    host.base.free();
  });

  it('keeps all invariants over a streak of twenty updates v0 -> v1 -> v2 -> v1 -> v2 ... under traffic', async () => {
    const { host, reports } = await startHost(method);
    const port = stateOf<{ port: number }>(host, 'listener').port;
    const traffic = startTraffic(host, port, 3, 3000, 8, 1);
    const base = host.base;
    const streak = ['v1.cjs', ...Array.from({ length: 19 }, (_, i) => (i % 2 === 0 ? 'v2.cjs' : 'v1.cjs'))];
    let next = 0;
    const updater = host.own(
      base.timer(
        () => {
          if (next < streak.length) void host.requestUpdate(streak[next++]!);
          else if (traffic.done()) {
            updater.free();
            traffic.close();
            base.loopexit(20);
          }
        },
        { persist: true },
      ),
    );
    updater.add(7);
    expect(host.dispatch()).toBe(0);
    expect(reports).toHaveLength(20);
    expect(reports.every((r) => r.ok)).toBe(true);
    expect(reports.map((r) => r.to).join(',')).toBe(streak.map((s) => s.replace('.cjs', '')).join(','));
    expect(traffic.received).toEqual([3000, 3000, 3000]);
    expect(stateOf<{ bytes: number; updates: number }>(host, 'stats')).toMatchObject({ bytes: 9000, updates: 20 });
    host.mainloop!.flush('stats');
    expect(stateOf<{ total: number }>(host, 'metered').total).toBe(9000);
    expect(reports.some((r) => r.messagesCarried > 0)).toBe(true);
    expect(allOnCurrentVersion(host)).toBe(true);
    host.base.free();
  });
});
