// DSUTest-style: the same download scenario, with the update v0 -> v1 injected at a chosen
// update point of one relay: the n-th point of a kind (in the middle of a circuit extension,
// right after an EXTENDED2, at a BEGIN, in the middle of a stream's data) or the k-th point of
// any kind. The scenario's own checks are the oracle: every hash matches, nothing is lost,
// the report is ok and names the point where the update happened.
//
// A failure (or a download that does not end within DOWNLOAD_TIMEOUT_MS) carries a report of
// where every download, client circuit and relay was: SOCKS, build, extend, begin, bytes
// received; each relay's circuits, streams and links; the INJECT and UPDATE lines.
import { describe, expect, it } from 'vitest';

import { checkedDownload, ensureBuilt, NetworkLog, nextStatus, startNetwork, testConfig, versionFile } from './harness.js';

/** Each download normally takes well under a second; a hung one fails with its stage well before the test's timeout. */
const DOWNLOAD_TIMEOUT_MS = 20_000;

const GUARD = 0;
const MIDDLE = 1;
const EXIT = 2;

const cases: { name: string; relay: number; at: string; point: string }[] = [
  { name: 'middle', relay: MIDDLE, at: 'extend#1', point: 'extend' }, // CREATE2 sent on to the exit, CREATED2 not back yet
  { name: 'guard', relay: GUARD, at: 'extend#1', point: 'extend' },
  { name: 'middle', relay: MIDDLE, at: 'extended#1', point: 'extended' },
  { name: 'exit', relay: EXIT, at: 'create#1', point: 'create' },
  { name: 'exit', relay: EXIT, at: 'begin#1', point: 'begin' },
  { name: 'exit', relay: EXIT, at: 'stream#25', point: 'stream' }, // inside the exit's read callback, mid-download
  { name: 'middle', relay: MIDDLE, at: 'cell#300', point: 'cell' }, // cells relayed mid-download
  { name: 'guard', relay: GUARD, at: '60', point: '' }, // the 60th point of any kind
];

describe('update injected at chosen update points of a relay', () => {
  it.each(cases)('$name at $at', async ({ relay, at, point }) => {
    ensureBuilt();
    const updates: any[] = [];
    const log = new NetworkLog();
    const net = await startNetwork(testConfig(), {
      relayEnv: (i): Record<string, string> => (i === relay ? { RELAY_INJECT_AT: `${at}:${versionFile('v1')}` } : {}),
      onLine: (p, kind, body) => {
        log.onLine(p, kind, body);
        if (kind === 'UPDATE' && p.name === testConfig().relays[relay]!.nickname) updates.push(body);
      },
    });
    try {
      await log.explainFailures(net, async () => {
        const opts = { timeoutMs: DOWNLOAD_TIMEOUT_MS, log };
        const first = await Promise.all([checkedDownload(net, 600_000, opts), checkedDownload(net, 250_000, opts)]);
        const then = await checkedDownload(net, 300_000, opts);
        for (const r of [...first, then]) expect(r.match, r.error).toBe(true);
        expect(updates).toHaveLength(1);
        expect(updates[0].ok).toBe(true);
        expect(updates[0].to).toBe('v1');
        if (point) expect(updates[0].point).toBe(point);
        const status = await nextStatus(net);
        expect(status.circuitsFailed).toBe(0);
        expect(status.streamsFailed).toBe(0);
      });
    } finally {
      await net.stop();
    }
  }, 75_000);
});
