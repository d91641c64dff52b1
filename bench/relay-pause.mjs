// The per-update pause of loaded relays, A/B: the network of `npm start` from this checkout
// and from a baseline checkout (another commit, built), alternating round by round in one run.
// Each round starts a fresh network, keeps `--parallel` circuits downloading, and updates every
// relay v0 -> v12 through the CLI (one update at a time, as npm start does) while they carry
// them. Prints, per tree, the pause median / p75 / max and the median of every phase, with the
// machine, Node and the load; writes bench/out/relay-pause-latest.json.
//
//   node bench/relay-pause.mjs [--baseline <checkout>] [--rounds 4] [--parallel 16] [--relays all|middle1]
//
// Without --baseline only this checkout runs. A baseline checkout needs its build
// (dist/, dist-examples/, build/ with the addon; node_modules may be a link to this one's).
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const { values: opt } = parseArgs({
  options: {
    baseline: { type: 'string' },
    rounds: { type: 'string', default: '4' },
    parallel: { type: 'string', default: '16' },
    relays: { type: 'string', default: 'all' },
    size: { type: 'string', default: '4' }, // MiB per download; downloads restart until the streak is done
  },
});
const trees = [...(opt.baseline ? [['baseline', path.resolve(opt.baseline)]] : []), ['this', root]];
const MiB = 1024 * 1024;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const i = (s.length - 1) * q;
  const lo = Math.floor(i);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (i - lo);
};

async function round(tree) {
  const imp = (p) => import(pathToFileURL(path.join(tree, 'dist-examples', 'relay', p)).href);
  const { defaultConfig } = await imp('config.js');
  const { download } = await imp('start/download.js');
  const { startNetwork, updateThroughCli, versionsDir } = await imp('start/network.js');
  const config = defaultConfig();
  const netw = await startNetwork(config);
  const reports = [];
  let failed = 0;
  try {
    const socks = { host: config.clients[0].host, port: config.clients[0].socksPort };
    await download({ socks, target: config.fileserver, size: 2 * MiB }); // warm-up
    let streakDone = false;
    const worker = async () => {
      while (!streakDone) {
        const r = await download({ socks, target: config.fileserver, size: Number(opt.size) * MiB });
        if (!r.ok) failed++;
      }
    };
    const workers = Array.from({ length: Number(opt.parallel) }, worker);
    await sleep(500); // every circuit built and carrying
    const relays = netw.relays.filter((p) => opt.relays === 'all' || p.name === opt.relays);
    for (let v = 1; v <= 12; v++) {
      for (const p of relays) {
        const rep = await updateThroughCli(p.child.pid, path.join(versionsDir, `v${v}`, 'version.js'));
        if (!rep.ok) throw new Error(`${p.name}: update to v${v} failed: ${rep.error?.message}`);
        reports.push({ relay: p.name, to: rep.to, pauseMs: rep.pauseMs, phases: rep.phases });
      }
    }
    streakDone = true;
    await Promise.all(workers);
  } finally {
    await netw.stop();
  }
  if (failed) throw new Error(`${failed} downloads failed`);
  return reports;
}

const loadStart = os.loadavg();
const got = Object.fromEntries(trees.map(([name]) => [name, []]));
const loads = [];
for (let r = 0; r < Number(opt.rounds); r++) {
  for (const [name, tree] of r % 2 ? [...trees].reverse() : trees) {
    loads.push(os.loadavg()[0]);
    got[name].push(...(await round(tree)));
    process.stderr.write(`round ${r + 1} ${name}: done (load ${os.loadavg()[0].toFixed(2)})\n`);
  }
}
loads.push(os.loadavg()[0]);

const phases = ['load', 'init', 'migrate', 'rewire', 'commit'];
const f = (x) => x.toFixed(2);
const lines = [
  `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}; 1-min load average ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} during the run (start ${loadStart.map((x) => x.toFixed(2)).join(' ')}); the machine may be shared.`,
  `${opt.rounds} rounds, trees alternating; ${opt.parallel} circuits downloading ${opt.size} MiB files back to back; relays updated v0 -> v12: ${opt.relays}.`,
  '',
  `| tree | updates | pause median ms | p75 | p95 | max | ${phases.map((p) => `${p} median`).join(' | ')} | init max |`,
  `|---|---:|---:|---:|---:|---:|${phases.map(() => '---:').join('|')}|---:|`,
];
for (const [name] of trees) {
  const xs = got[name];
  const pauses = xs.map((x) => x.pauseMs);
  const ph = (k) => xs.map((x) => x.phases[k]);
  lines.push(`| ${name} | ${xs.length} | ${f(quantile(pauses, 0.5))} | ${f(quantile(pauses, 0.75))} | ${f(quantile(pauses, 0.95))} | ${f(Math.max(...pauses))} | ${phases.map((k) => f(quantile(ph(k), 0.5))).join(' | ')} | ${f(Math.max(...ph('init')))} |`);
}
const text = lines.join('\n');
process.stdout.write(text + '\n');
mkdirSync(path.join(here, 'out'), { recursive: true });
writeFileSync(path.join(here, 'out', 'relay-pause-latest.json'), JSON.stringify({ when: new Date().toISOString(), node: process.version, trees: Object.fromEntries(trees), loads, got, table: text }, null, 1));
process.exit(0);
