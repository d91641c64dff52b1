// CPU per MiB of every process of the onion network, A/B: this checkout against a baseline
// checkout (another commit, built), a fresh network per round, trees alternating, in one run.
// Each round downloads `--parallel` files of `--size` through 16 circuits after a warm-up and
// reads every process's CPU (user + system, /proc) and each relay's cells written, so the
// figures are CPU ms per MiB carried and µs per cell, which hold on a machine shared with
// other work far better than wall-clock throughput. `--strace` also counts every process's
// system calls during the download (strace -c -f attached to each), per MiB.
//
//   node bench/relay-cpu.mjs [--baseline <checkout>] [--rounds 4] [--parallel 16] [--size 4m] [--strace]
//                            [--node-args '<options for this checkout's processes>']
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
    size: { type: 'string', default: '4m' },
    strace: { type: 'boolean', default: false },
    // Extra Node options for every process of this checkout's network only (RELAY_NODE_ARGS).
    'node-args': { type: 'string' },
  },
});
const trees = [...(opt.baseline ? [['baseline', path.resolve(opt.baseline)]] : []), ['this', root]];
const MiB = 1024 * 1024;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
/** [user, system] CPU ms of a process so far (clock ticks at USER_HZ 100). */
const cpuOf = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return [Number(f[11]) * 10, Number(f[12]) * 10];
};

/** strace -c -f on one process until stopped; resolves to the total number of calls. */
function straceCount(pid) {
  const child = spawn('strace', ['-c', '-f', '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const done = new Promise((resolve) =>
    child.on('close', () => {
      const total = /^\s*100\.00\s+\S+\s+\S+\s+(\d+)\s+(?:\d+\s+)?total/m.exec(err) ?? /(\d+)\s+(?:\d+\s+)?total\s*$/m.exec(err);
      const byName = {};
      for (const m of err.matchAll(/^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$/gm)) byName[m[2]] = Number(m[1]);
      resolve({ total: total ? Number(total[1]) : NaN, byName });
    }),
  );
  return { stop: () => child.kill('SIGINT'), done };
}

async function round(tree, nodeArgs) {
  if (nodeArgs === undefined) delete process.env.RELAY_NODE_ARGS;
  else process.env.RELAY_NODE_ARGS = nodeArgs;
  const imp = (p) => import(pathToFileURL(path.join(tree, 'dist-examples', 'relay', p)).href);
  const { defaultConfig } = await imp('config.js');
  const { parseSize } = await imp('common/content.js');
  const { download } = await imp('start/download.js');
  const { startNetwork } = await imp('start/network.js');
  const config = defaultConfig();
  const netw = await startNetwork(config);
  try {
    const socks = { host: config.clients[0].host, port: config.clients[0].socksPort };
    // A download that stalls fails its round (reported, not counted) instead of hanging the run.
    const onion = (bytes) => download({ socks, target: config.fileserver, size: bytes, timeoutMs: 120_000 });
    await onion(2 * MiB); // warm-up
    await Promise.all(Array.from({ length: 4 }, () => onion(MiB)));
    await sleep(1100); // the relays' status lines after the warm-up
    const each = parseSize(opt.size);
    const n = Number(opt.parallel);
    const statusOf = (p) => p.status ?? {};
    const before = netw.relays.map((p) => ({ cpu: statusOf(p).cpuUs, cells: statusOf(p).cellsOut }));
    const tracers = opt.strace ? netw.all.map((p) => straceCount(p.child.pid)) : [];
    if (opt.strace) await sleep(300);
    const cpu0 = netw.all.map((p) => cpuOf(p.child.pid));
    const t = performance.now();
    const done = await Promise.all(Array.from({ length: n }, () => onion(each)));
    const secs = (performance.now() - t) / 1000;
    const cpu1 = netw.all.map((p) => cpuOf(p.child.pid));
    for (const tr of tracers) tr.stop();
    const calls = await Promise.all(tracers.map((tr) => tr.done));
    await sleep(1100);
    if (done.some((d) => !d.ok)) throw new Error(`a download failed: ${done.find((d) => !d.ok).error}`);
    const mib = (n * each) / MiB;
    const out = { mibps: mib / secs, perMiB: {}, sysPerMiB: {}, perCell: {}, syscallsPerMiB: {}, syscalls: {} };
    netw.all.forEach((p, i) => {
      out.perMiB[p.name] = (cpu1[i][0] + cpu1[i][1] - cpu0[i][0] - cpu0[i][1]) / mib;
      out.sysPerMiB[p.name] = (cpu1[i][1] - cpu0[i][1]) / mib;
      if (opt.strace) {
        out.syscallsPerMiB[p.name] = calls[i].total / mib;
        out.syscalls[p.name] = calls[i].byName;
      }
    });
    netw.relays.forEach((p, i) => {
      const s = statusOf(p);
      const cells = s.cellsOut - before[i].cells;
      if (cells > 0) out.perCell[p.name] = (s.cpuUs - before[i].cpu) / cells;
    });
    return out;
  } finally {
    await netw.stop();
  }
}

const loadStart = os.loadavg();
const got = Object.fromEntries(trees.map(([name]) => [name, []]));
for (let r = 0; r < Number(opt.rounds); r++) {
  const order = r % 2 === 0 ? trees : [...trees].reverse();
  for (const [name, tree] of order) {
    let res;
    try {
      res = await round(tree, name === 'this' ? opt['node-args'] : undefined);
    } catch (err) {
      console.log(`round ${r} ${name}: failed, not counted: ${err.message}`);
      continue;
    }
    got[name].push(res);
    const all = Object.values(res.perMiB).reduce((a, b) => a + b, 0);
    console.log(`round ${r} ${name}: ${res.mibps.toFixed(1)} MiB/s, CPU ms/MiB all ${all.toFixed(1)} (${Object.entries(res.perMiB).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}); µs/cell ${Object.entries(res.perCell).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}${opt.strace ? `; syscalls/MiB ${Object.entries(res.syscallsPerMiB).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}` : ''}; load ${os.loadavg()[0].toFixed(2)}`);
  }
}
console.log('');
console.log(`Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}; 1-min load ${loadStart[0].toFixed(2)} at the start, ${os.loadavg()[0].toFixed(2)} at the end.`);
console.log(`${opt.rounds} rounds per tree, alternating; ${opt.parallel} × ${opt.size} per round. Medians; per process: CPU ms per MiB (of it in the kernel):`);
console.log('');
const names = Object.keys(got[trees[0][0]][0].perMiB);
const relays = Object.keys(got[trees[0][0]][0].perCell);
console.log(`| tree | MiB/s | CPU ms/MiB, all | ${names.join(' | ')} | ${relays.map((r) => `µs/cell ${r}`).join(' | ')}${opt.strace ? ` | syscalls/MiB ${names.join(' | ')}` : ''} |`);
console.log(`|---|${'---:|'.repeat(2 + names.length + relays.length + (opt.strace ? names.length : 0))}`);
for (const [name] of trees) {
  const rs = got[name];
  const cells = [
    median(rs.map((x) => x.mibps)).toFixed(1),
    median(rs.map((x) => Object.values(x.perMiB).reduce((a, b) => a + b, 0))).toFixed(1),
    ...names.map((k) => `${median(rs.map((x) => x.perMiB[k])).toFixed(1)} (${median(rs.map((x) => x.sysPerMiB[k])).toFixed(1)})`),
    ...relays.map((k) => median(rs.map((x) => x.perCell[k])).toFixed(2)),
    ...(opt.strace ? names.map((k) => median(rs.map((x) => x.syscallsPerMiB[k])).toFixed(0)) : []),
  ];
  console.log(`| ${name} | ${cells.join(' | ')} |`);
}
if (opt.strace) {
  console.log('');
  for (const [name] of trees) {
    const last = got[name].at(-1);
    console.log(`${name}, last round, calls by process: ${Object.entries(last.syscalls).map(([p, by]) => `${p}: ${Object.entries(by).sort((a, b) => b[1] - a[1]).slice(0, 5).map(([c, k]) => `${c} ${k}`).join(' ')}`).join('; ')}`);
  }
}
process.exit(0);
