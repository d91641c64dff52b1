// DSUTest-style systematic testing: run the same test once to count the update points it
// reaches, then once more for every k, injecting the update v1 -> v2 at the k-th point.
// The test's own invariants are the oracle. v1 has an explicit point inside its read
// handler ('after-read'), so injections land both between loop iterations and mid-callback.
import { describe, expect, it } from 'vitest';

import type { UpdateReport } from '../../lib/update/index.js';
import { allOnCurrentVersion, type RanEntry, startHost, startTraffic, stateOf, updateMethods } from './harness.js';

const CLIENTS = 2;
const BYTES = 160;

/** One run of the scenario; injects the update at point `k` (0 = never). */
async function scenario(method: string, k: number) {
  const { host, reports } = await startHost(method, 'v1.cjs');
  const base = host.base;
  const port = stateOf<{ port: number }>(host, 'listener').port;
  const points: string[] = [];
  let mark = -1;
  host.on('point', (name: string, count: number) => {
    points.push(name);
    if (count === k) {
      mark = stateOf<RanEntry[]>(host, 'ran').length;
      void host.requestUpdate('v2.cjs');
    }
  });
  const traffic = startTraffic(host, port, CLIENTS, BYTES, 16, 2);
  const finisher = host.own(
    base.timer(
      () => {
        if (traffic.done() && host.pointsReached >= k) {
          finisher.free();
          traffic.close();
          base.loopexit(10);
        }
      },
      { persist: true },
    ),
  );
  finisher.add(3);
  expect(host.dispatch()).toBe(0);
  return { host, reports, points, traffic, mark };
}

function checkInvariants(run: Awaited<ReturnType<typeof scenario>>, k: number, reports: UpdateReport[]) {
  const { host, traffic } = run;
  expect(traffic.received, `k=${k}`).toEqual(new Array(CLIENTS).fill(BYTES));
  expect(stateOf<{ bytes: number }>(host, 'stats').bytes, `k=${k}`).toBe(CLIENTS * BYTES);
  if (k > 0) {
    expect(reports.map((r) => [r.ok, r.to]), `k=${k}`).toEqual([[true, 'v2']]);
    expect(reports[0]!.point, `k=${k}`).toBe(run.points[k - 1]);
    const after = stateOf<RanEntry[]>(host, 'ran').slice(run.mark);
    expect(after.every((e) => e[1] === 'v2'), `k=${k}`).toBe(true);
    expect(host.version).toBe('v2');
  }
  expect(allOnCurrentVersion(host), `k=${k}`).toBe(true);
}

describe.each(updateMethods)('update injected at every update point on %s', (method) => {
  it('keeps the invariants wherever the update lands', async () => {
    const reference = await scenario(method, 0);
    checkInvariants(reference, 0, reference.reports);
    const reached = reference.points.length;
    expect(reached).toBeGreaterThan(5);
    expect(new Set(reference.points)).toEqual(new Set(['loop', 'after-read']));
    reference.host.base.free();
    const landed = new Set<string>();
    for (let k = 1; k <= reached; k++) {
      const run = await scenario(method, k);
      checkInvariants(run, k, run.reports);
      landed.add(run.reports[0]!.point);
      run.host.base.free();
    }
    expect(landed).toEqual(new Set(['loop', 'after-read']));
  }, 120_000);
});
