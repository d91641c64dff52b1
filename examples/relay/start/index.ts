// `npm start`: starts the onion network on loopback, downloads files of several sizes through
// 3-hop circuits via SOCKS5 (slow long downloads stay in flight across every update), applies
// the streak v0 -> v12 to every relay from outside through the project's CLI (plus injected
// failed updates, which must be rolled back), shows live progress, and ends with a summary
// table, a check line, a JSON report and an SVG plot under build/relay/.
//
//   npm start -- [--duration 60] [--clients 1] [--sizes 64k,512k,2m] [--parallel 3]
//                [--no-inject] [--serve] [--socks-port 9050] [--out build/relay] [--quiet]
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { defaultConfig } from '../config.js';
import { formatSize, parseSize } from '../common/content.js';
import { download, type DownloadResult } from './download.js';
import { type Network, repoRoot, startNetwork, updateThroughCli, versionsDir } from './network.js';
import { renderSvg } from './report.js';

const HELP = `usage: npm start -- [options]
  --duration <s>     how long downloads run (default 60; the streak is spread over it)
  --clients <n>      client processes, each with its own SOCKS5 port (default 1)
  --sizes <list>     file sizes for the short downloads (default 64k,512k,2m)
  --parallel <n>     short downloads in flight per client (default 3)
  --long <n>         slow long downloads per client kept in flight across updates (default 2)
  --no-inject        skip the failed-update injections
  --serve            start the network and keep it up until Ctrl-C (no streak)
  --socks-port <p>   the first client's SOCKS5 port with --serve (default 9050)
  --out <dir>        where the JSON report and the SVG plot go (default build/relay)
  --quiet            no live progress line`;

interface UpdateRow {
  relay: string;
  from: string;
  to: string;
  ok: boolean;
  expectedOk: boolean;
  pauseMs: number;
  phases: Record<string, number>;
  eventsRewired: number;
  stateItems: number;
  messagesCarried: number;
  cellsBefore: number;
  circuitsBefore: number;
  circuitsAfter: number;
  at: number;
  error?: string;
}

function versionList(): string[] {
  return readdirSync(versionsDir)
    .filter((d) => /^v\d+$/.test(d))
    .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '60' },
      clients: { type: 'string', default: '1' },
      sizes: { type: 'string', default: '64k,512k,2m' },
      parallel: { type: 'string', default: '3' },
      long: { type: 'string', default: '2' },
      'no-inject': { type: 'boolean', default: false },
      serve: { type: 'boolean', default: false },
      'socks-port': { type: 'string', default: '9050' },
      out: { type: 'string', default: path.join(repoRoot, 'build', 'relay') },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const duration = Number(values.duration);
  const nClients = Number(values.clients);
  const parallel = Number(values.parallel);
  const nLong = Number(values.long);
  const sizes = values.sizes.split(',').map(parseSize);
  if (!(duration > 0) || !(nClients >= 1) || !(parallel >= 0) || !(nLong >= 0)) throw new RangeError('duration, clients, parallel and long must be positive numbers');
  const config = defaultConfig({ clients: nClients, ...(values.serve ? { socksPort: Number(values['socks-port']) } : {}) });
  const say = (line: string) => process.stdout.write(line + '\n');
  const tty = process.stdout.isTTY && !values.quiet;

  say(`starting the network: directory authority, file server, ${config.relays.length} relays (${config.relays.map((r) => r.nickname).join(', ')}), ${nClients} client(s)`);
  const net: Network = await startNetwork(config);
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    await net.stop();
  };
  process.on('SIGINT', () => void shutdown().then(() => process.exit(130)));
  process.on('SIGTERM', () => void shutdown().then(() => process.exit(143)));
  const fs = config.fileserver;

  if (values.serve) {
    const c = config.clients[0]!;
    say(`network is up. SOCKS5 at ${c.host}:${c.socksPort}; files at http://${fs.host}:${fs.port}/bytes/<n>`);
    say(`  curl --socks5-hostname ${c.host}:${c.socksPort} http://${fs.host}:${fs.port}/bytes/1048576 | sha512sum`);
    say(`relays (update one with: npx node-libevent update <pid> ${path.relative(process.cwd(), versionsDir)}/v1/version.js):`);
    for (const r of net.relays) say(`  ${r.name.padEnd(8)} pid ${r.child.pid}  ORPort ${r.ready.port}  control ${r.ready.control}`);
    say('Ctrl-C stops every process.');
    await new Promise(() => {});
  }

  // Reference hashes: one direct download of every size.
  const reference = new Map<number, string>();
  // Long downloads read at 128 KiB/s for the whole run, so they are in flight across every update.
  const longSize = Math.max(256 * 1024, Math.round(duration * 128 * 1024));
  for (const size of [...new Set([...sizes, longSize])]) {
    const r = await download({ target: fs, size });
    if (!r.ok) throw new Error(`direct download of ${size} bytes failed: ${r.error}`);
    reference.set(size, r.sha512);
  }

  // ---- traffic ----
  const t0 = performance.now();
  const results: (DownloadResult & { client: number; long: boolean; match: boolean })[] = [];
  let bytesTotal = 0;
  const samples: { t: number; bytes: number }[] = [];
  let trafficOn = true;
  const inFlight = new Set<Promise<void>>();
  const run = (client: number, size: number, long: boolean) => {
    const c = config.clients[client]!;
    const p = download({ socks: { host: c.host, port: c.socksPort }, target: fs, size, ...(long ? { rate: 128 * 1024 } : {}), onBytes: (n) => (bytesTotal += n) }).then((r) => {
      results.push({ ...r, client, long, match: r.ok && r.sha512 === reference.get(size) });
    });
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
    return p;
  };
  for (let ci = 0; ci < nClients; ci++) {
    for (let j = 0; j < nLong; j++) void run(ci, longSize, true);
    for (let j = 0; j < parallel; j++) {
      let k = j;
      const loop = (): Promise<void> | void => {
        if (!trafficOn) return;
        return run(ci, sizes[k++ % sizes.length]!, false).then(loop);
      };
      void loop();
    }
  }
  const sampler = setInterval(() => samples.push({ t: (performance.now() - t0) / 1000, bytes: bytesTotal }), 250);

  // ---- the streak ----
  const versions = versionList();
  const inject = values['no-inject'] ? [] : [
    { after: 'v4', relay: 0, file: 'broken/transform-throws.js', what: 'a state transform that throws' },
    { after: 'v12', relay: 2, file: 'broken/missing-handler.js', what: 'a version missing a handler' },
  ];
  const steps: { relay: number; file: string; to: string; expectedOk: boolean }[] = [];
  for (const v of versions.slice(1)) {
    for (let i = 0; i < net.relays.length; i++) steps.push({ relay: i, file: path.join(versionsDir, v, 'version.js'), to: v, expectedOk: true });
    for (const inj of inject.filter((x) => x.after === v)) steps.push({ relay: inj.relay, file: path.join(versionsDir, inj.file), to: `${inj.file} (${inj.what})`, expectedOk: false });
  }
  const rows: UpdateRow[] = [];
  const streakSpan = duration * 0.75;
  const warmup = Math.min(3, duration * 0.1);
  const progress = setInterval(() => {
    if (!tty) return;
    const t = (performance.now() - t0) / 1000;
    const last = samples.filter((s) => s.t > t - 2);
    const rate = last.length > 1 ? (last.at(-1)!.bytes - last[0]!.bytes) / (last.at(-1)!.t - last[0]!.t) : 0;
    const per = net.relays.map((r) => `${r.name}:${r.status?.version ?? '?'}`).join(' ');
    const circuits = net.relays.reduce((a, r) => a + (r.status?.circuits ?? 0), 0);
    const streams = net.relays.at(-1)?.status?.streams ?? 0;
    const lastPause = rows.filter((r) => r.ok).at(-1)?.pauseMs;
    process.stdout.write(`\r\x1b[K${t.toFixed(0).padStart(3)}s  ${per}  ${(rate / 1048576).toFixed(2)} MiB/s  circuits ${circuits}  exit streams ${streams}  downloads ${results.length} done, ${inFlight.size} in flight  last pause ${lastPause?.toFixed(2) ?? '-'} ms`);
  }, 500);

  await sleep(warmup * 1000);
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    const due = warmup + ((i + 1) * streakSpan) / steps.length;
    await sleep(Math.max(0, (t0 + due * 1000 - performance.now())));
    const relay = net.relays[step.relay]!;
    const before = relay.status;
    const report = await updateThroughCli(relay.child.pid!, step.file);
    // circuitsAfter is the status the relay printed next (within a second), read at the end.
    rows.push({
      relay: relay.name,
      from: report.from ?? before?.version ?? '?',
      to: report.to || step.to,
      ok: report.ok === true,
      expectedOk: step.expectedOk,
      pauseMs: report.pauseMs ?? 0,
      phases: report.phases ?? {},
      eventsRewired: report.eventsRewired ?? 0,
      stateItems: report.stateItems ?? 0,
      messagesCarried: report.messagesCarried ?? 0,
      cellsBefore: before?.cellsOut ?? 0,
      circuitsBefore: before?.circuits ?? 0,
      circuitsAfter: relay.status?.circuits ?? 0,
      at: (performance.now() - t0) / 1000,
      ...(report.ok ? {} : { error: `${report.error?.phase}: ${report.error?.message}` }),
    });
    if (!tty && !values.quiet) say(`  ${relay.name} ${rows.at(-1)!.from} -> ${rows.at(-1)!.to}: ${report.ok ? `ok, pause ${report.pauseMs.toFixed(2)} ms` : `refused (${rows.at(-1)!.error})`}`);
  }
  const end = t0 + duration * 1000;
  await sleep(Math.max(0, end - performance.now()));
  trafficOn = false;
  // Downloads still running 30 s after the end are reported as stuck (they fail the check).
  const drainDeadline = performance.now() + 30_000;
  while (inFlight.size > 0 && performance.now() < drainDeadline) await Promise.race([...inFlight, sleep(1000)]);
  const stuck = inFlight.size;
  clearInterval(progress);
  clearInterval(sampler);
  if (tty) process.stdout.write('\n');
  await sleep(1100); // one more STATUS from everyone
  const clientStatus = net.clients.map((c) => c.status ?? {});
  const relayStatus = net.relays.map((r) => ({ name: r.name, ...r.status }));
  await shutdown();

  // ---- summary ----
  const ok = rows.filter((r) => r.ok);
  const pauses = ok.map((r) => r.pauseMs).sort((a, b) => a - b);
  const median = pauses.length ? pauses[Math.floor(pauses.length / 2)]! : 0;
  say('');
  say('relay     from  to                                   ok   pause ms  quiesce  load   init  migrate rewire commit  events  state  msgs  cells before');
  for (const r of rows) {
    const ph = r.phases as Record<string, number>;
    say(`${r.relay.padEnd(9)} ${r.from.padEnd(5)} ${r.to.slice(0, 36).padEnd(36)} ${(r.ok ? 'yes' : 'NO').padEnd(4)} ${r.pauseMs.toFixed(2).padStart(8)}  ${[ph.quiesce, ph.load, ph.init, ph.migrate, ph.rewire, ph.commit].map((x) => (x ?? 0).toFixed(2).padStart(6)).join(' ')}  ${String(r.eventsRewired).padStart(6)} ${String(r.stateItems).padStart(6)} ${String(r.messagesCarried).padStart(5)}  ${r.cellsBefore}`);
    if (r.error) say(`          ${r.error.slice(0, 150)}`);
  }
  const hashesOk = results.length > 0 && results.every((r) => r.match);
  const failedDownloads = results.filter((r) => !r.match);
  const circuitsFailed = clientStatus.reduce((a, c) => a + (c.circuitsFailed ?? 0), 0);
  const streamsFailed = clientStatus.reduce((a, c) => a + (c.streamsFailed ?? 0), 0);
  const updatesOk = rows.every((r) => r.ok === r.expectedOk) && rows.some((r) => r.ok);
  const longDone = results.filter((r) => r.long);
  say('');
  say(`downloads: ${results.length} (${longDone.length} long ones of ${formatSize(longSize)} spanning the streak), ${formatSize(results.reduce((a, r) => a + r.bytes, 0))} in ${duration} s; updates: ${ok.length} applied, ${rows.length - ok.length} refused and rolled back; pause median ${median.toFixed(2)} ms, max ${(pauses.at(-1) ?? 0).toFixed(2)} ms`);
  for (const f of failedDownloads.slice(0, 5)) say(`  failed download of ${f.size} bytes: ${f.error ?? 'hash mismatch'}`);
  for (const c of clientStatus) for (const f of c.failures ?? []) say(`  client: ${f}`);
  if (stuck > 0) say(`  ${stuck} download(s) still in flight 30 s after the end (stuck)`);
  if (circuitsFailed + streamsFailed + failedDownloads.length + stuck > 0) {
    for (const p of net.relays) for (const line of p.stderr.filter((l) => l.includes('closing')).slice(-8)) say(`  ${p.name}: ${line}`);
  }
  const pass = stuck === 0 && hashesOk && circuitsFailed === 0 && streamsFailed === 0 && updatesOk;
  say(`check: ${hashesOk ? 'every SHA-512 matched a direct download' : `${failedDownloads.length} download(s) failed or mismatched`}; ${circuitsFailed === 0 && streamsFailed === 0 ? 'no circuit or stream lost' : `${circuitsFailed} circuit(s) and ${streamsFailed} stream(s) lost`}; ${updatesOk ? 'every update succeeded (injected failures rolled back)' : 'some update did not go as expected'} => ${pass ? 'PASS' : 'FAIL'}`);

  mkdirSync(values.out, { recursive: true });
  const report = { when: new Date().toISOString(), node: process.version, duration, clients: nClients, sizes, longSize, updates: rows, downloads: results, relays: relayStatus, clientsStatus: clientStatus, samples, pass, pauseMedianMs: median, pauseMaxMs: pauses.at(-1) ?? 0 };
  writeFileSync(path.join(values.out, 'report.json'), JSON.stringify(report, null, 1));
  writeFileSync(path.join(values.out, 'throughput.svg'), renderSvg(samples, rows.map((r) => ({ t: r.at, label: `${r.relay} ${r.to}`, ok: r.ok }))));
  say(`wrote ${path.relative(process.cwd(), path.join(values.out, 'report.json'))} and throughput.svg`);
  return pass ? 0 : 1;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`npm start: ${err?.stack ?? err}\n`);
    process.exit(2);
  },
);
