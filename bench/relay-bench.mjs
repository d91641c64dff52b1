// Relay network benchmark (npm run bench:relay): the onion network of `npm start` against a
// chain of three plain Node `net` forwarders (no crypto, no cells) on the same machine in the
// same run, rounds alternating. Measures:
//   - one stream: MiB/s of one download through the 3 hops (and through the plain chain);
//   - 16 circuits: aggregate MiB/s of 16 parallel downloads (each its own circuit);
//   - time to first byte and circuit build time, on an idle network (short downloads one at a
//     time) and for 16 circuits launched at once (the parallel downloads); first byte both as
//     the client measures it (CONNECTED -> first DATA cell) and as the downloader sees it (SOCKS
//     connect -> first body byte, circuit build included: the client builds on demand);
//   - CPU µs per cell per relay while the 16 circuits run (process CPU / cells written), and
//     CPU ms per MiB of every process of the network (from /proc) while the 16 circuits run;
//   - the per-update pause of the middle relay updated v0 -> v12 while it carries 16 circuits.
// Prints a Markdown table and writes bench/out/relay-latest.json.
//
//   node bench/relay-bench.mjs [--rounds 3] [--size 16m] [--parallel 16]
import { fork } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

import { defaultConfig } from '../dist-examples/relay/config.js';
import { parseSize } from '../dist-examples/relay/common/content.js';
import { download } from '../dist-examples/relay/start/download.js';
import { startNetwork, updateThroughCli, versionsDir } from '../dist-examples/relay/start/network.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, size: { type: 'string', default: '16m' }, parallel: { type: 'string', default: '16' } } });
const rounds = Number(values.rounds);
const size = parseSize(values.size);
const parallel = Number(values.parallel);
const MiB = 1024 * 1024;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const spread = (xs) => (xs.length ? `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}` : '');

/** A plain forwarder in its own process: accept, connect to the next hop, pipe both ways. */
function startForwarder(toPort) {
  return new Promise((resolve) => {
    const child = fork(path.join(here, 'relay-forwarder.mjs'), [String(toPort)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    child.once('message', (port) => resolve({ child, port }));
  });
}

/** A download through a plain chain (HTTP straight to the first forwarder). */
function chainDownload(port, bytes) {
  return download({ target: { host: '127.0.0.1', port }, size: bytes });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const loadStart = os.loadavg().map((x) => x.toFixed(2)).join(' ');
const config = defaultConfig();
const netw = await startNetwork(config);
const fs = config.fileserver;
const client = config.clients[0];
const socks = { host: client.host, port: client.socksPort };
const f3 = await startForwarder(fs.port);
const f2 = await startForwarder(f3.port);
const f1 = await startForwarder(f2.port);
const onion = (bytes) => download({ socks, target: fs, size: bytes });

const results = {
  one: [], oneChain: [], agg: [], aggChain: [],
  ttfbIdle: [], buildIdle: [], firstByteIdle: [], ttfbBurst: [], buildBurst: [],
  cpuPerCell: { guard1: [], middle1: [], exit1: [] }, cpuMsPerMiB: {}, pauses: [], phases: [],
};
/** The client's build and first-byte samples reported since statusHistory[from]. */
const clientSamples = (from) => {
  const h = netw.clients[0].statusHistory.slice(from);
  return { ttfb: h.flatMap((x) => x.status.ttfbMsAll ?? []), build: h.flatMap((x) => x.status.buildMsAll ?? []) };
};
/** CPU ms (user + system) of a process so far, from /proc (Linux). */
const cpuMsOf = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // clock ticks at USER_HZ 100
};
const statusOf = (p) => p.status ?? {};
const waitStatus = () => sleep(1100);

// Warm-up.
await onion(2 * MiB);
await chainDownload(f1.port, 2 * MiB);

for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? ['onion', 'chain'] : ['chain', 'onion'];
  for (const which of order) {
    let t = performance.now();
    const r1 = which === 'onion' ? await onion(size) : await chainDownload(f1.port, size);
    if (!r1.ok) throw new Error(`${which} one-stream download failed: ${r1.error}`);
    (which === 'onion' ? results.one : results.oneChain).push(size / MiB / ((performance.now() - t) / 1000));

    await waitStatus(); // the one-stream download's samples are reported before the burst starts
    const before = netw.relays.map((p) => ({ cpu: statusOf(p).cpuUs, cells: statusOf(p).cellsOut }));
    const cpuBefore = netw.all.map((p) => cpuMsOf(p.child.pid));
    const historyBefore = netw.clients[0].statusHistory.length;
    t = performance.now();
    const each = Math.max(MiB, Math.round(size / 4));
    const runs = Array.from({ length: parallel }, () => (which === 'onion' ? onion(each) : chainDownload(f1.port, each)));
    let updated = 0;
    if (which === 'onion' && round === rounds - 1) {
      // The streak on the middle relay while it carries the 16 circuits.
      await sleep(300);
      for (let v = 1; v <= 12; v++) {
        const rep = await updateThroughCli(netw.relays[1].child.pid, path.join(versionsDir, `v${v}`, 'version.js'));
        if (!rep.ok) throw new Error(`update to v${v} failed: ${rep.error?.message}`);
        results.pauses.push(rep.pauseMs);
        results.phases.push(rep.phases);
        updated++;
      }
    }
    const done = await Promise.all(runs);
    const secs = (performance.now() - t) / 1000;
    if (done.some((r) => !r.ok)) throw new Error(`${which}: a parallel download failed: ${done.find((r) => !r.ok).error}`);
    (which === 'onion' ? results.agg : results.aggChain).push((parallel * each) / MiB / secs);
    if (which === 'onion') {
      if (!updated) {
        netw.all.forEach((p, i) => {
          (results.cpuMsPerMiB[p.name] ??= []).push((cpuMsOf(p.child.pid) - cpuBefore[i]) / ((parallel * each) / MiB));
        });
      }
      await waitStatus();
      const burst = clientSamples(historyBefore);
      results.ttfbBurst.push(...burst.ttfb);
      results.buildBurst.push(...burst.build);
      netw.relays.forEach((p, i) => {
        const s = statusOf(p);
        const cells = s.cellsOut - before[i].cells;
        if (cells > 0 && !updated) results.cpuPerCell[p.name].push((s.cpuUs - before[i].cpu) / cells);
      });
    }
  }
  // Short downloads one at a time on the idle network for time to first byte and build time.
  await waitStatus();
  const historyBefore = netw.clients[0].statusHistory.length;
  for (let i = 0; i < 10; i++) {
    const r = await onion(64 * 1024);
    if (r.ok) results.firstByteIdle.push(r.firstByteMs);
  }
  await waitStatus();
  const idle = clientSamples(historyBefore);
  results.ttfbIdle.push(...idle.ttfb);
  results.buildIdle.push(...idle.build);
}

const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
const loadAtStart = loadStart;
await netw.stop();
for (const f of [f1, f2, f3]) f.child.kill();

const phaseMedian = (k) => median(results.phases.map((p) => p[k]));
const rows = [
  ['one stream, 3 hops (MiB/s)', median(results.one), spread(results.one), median(results.oneChain), spread(results.oneChain)],
  [`${parallel} circuits, aggregate (MiB/s)`, median(results.agg), spread(results.agg), median(results.aggChain), spread(results.aggChain)],
];
const lines = [];
lines.push(`Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}, load average (1, 5, 15 min) at the start ${loadAtStart}, at the end ${load} (the machine is shared with other work).`);
lines.push(`${rounds} rounds, order alternating; one stream = ${values.size}; ${parallel} parallel downloads of ${Math.max(1, size / 4 / MiB)} MiB.`);
lines.push('');
lines.push('| measure | onion network (median) | spread | plain forwarder chain (median) | spread | ratio |');
lines.push('|---|---:|---|---:|---|---:|');
for (const [name, a, sa, b, sb] of rows) lines.push(`| ${name} | ${a.toFixed(2)} | ${sa} | ${b.toFixed(2)} | ${sb} | ${(a / b).toFixed(2)} |`);
lines.push('');
lines.push(`| measure | median | spread | n |`);
lines.push('|---|---:|---|---:|');
const row = (name, xs, digits = 1) => lines.push(`| ${name} | ${median(xs).toFixed(digits)} | ${spread(xs)} | ${xs.length} |`);
row('circuit build, 3 hops, idle network (ms)', results.buildIdle);
row('time to first byte, idle (ms; client: CONNECTED -> first DATA)', results.ttfbIdle);
row('first byte seen by the downloader, idle (ms; SOCKS connect -> first body byte, build included)', results.firstByteIdle);
row(`circuit build, ${parallel} circuits launched at once (ms)`, results.buildBurst);
row(`time to first byte, ${parallel} streams at once (ms)`, results.ttfbBurst);
for (const [name, xs] of Object.entries(results.cpuPerCell)) row(`CPU per cell, ${name} (µs)`, xs, 2);
for (const [name, xs] of Object.entries(results.cpuMsPerMiB)) row(`CPU per MiB carried, ${name} (ms, ${parallel} circuits)`, xs);
const allPerMiB = Object.values(results.cpuMsPerMiB)[0]?.map((_, i) => Object.values(results.cpuMsPerMiB).reduce((a, xs) => a + xs[i], 0)) ?? [];
row('CPU per MiB carried, all processes of the network (ms)', allPerMiB);
lines.push(`| update pause, middle relay under ${parallel} circuits (ms) | ${median(results.pauses).toFixed(2)} | ${spread(results.pauses)} (max ${Math.max(...results.pauses).toFixed(2)}) | ${results.pauses.length} |`);
lines.push(`| … phases (median ms): load ${phaseMedian('load').toFixed(2)}, init ${phaseMedian('init').toFixed(2)}, migrate ${phaseMedian('migrate').toFixed(2)}, rewire ${phaseMedian('rewire').toFixed(2)}, commit ${phaseMedian('commit').toFixed(2)}, quiesce ${phaseMedian('quiesce').toFixed(2)} | | | |`);
const text = lines.join('\n');
process.stdout.write(text + '\n');
mkdirSync(path.join(here, 'out'), { recursive: true });
writeFileSync(path.join(here, 'out', 'relay-latest.json'), JSON.stringify({ when: new Date().toISOString(), node: process.version, loadAtStart, load, results, table: text }, null, 1));
process.exit(0);
