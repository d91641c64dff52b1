// Profiles every process of the onion network during a parallel download (node --cpu-prof in
// each child, written when the network stops), and prints the client's build and first-byte
// timings of a few short downloads. For finding where CPU and latency go, not for figures.
//
//   node bench/relay-profile.mjs [--parallel 16] [--size 4m] [--dir bench/out/prof] [--no-prof]
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { parallel: { type: 'string', default: '16' }, size: { type: 'string', default: '4m' }, dir: { type: 'string', default: 'bench/out/prof' }, 'no-prof': { type: 'boolean', default: false }, short: { type: 'string', default: '20' } } });
const dir = path.resolve(values.dir);
if (!values['no-prof']) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  process.env.RELAY_NODE_ARGS = `--cpu-prof --cpu-prof-dir=${dir}`;
}
const { defaultConfig } = await import('../dist-examples/relay/config.js');
const { parseSize } = await import('../dist-examples/relay/common/content.js');
const { download } = await import('../dist-examples/relay/start/download.js');
const { startNetwork } = await import('../dist-examples/relay/start/network.js');

const config = defaultConfig();
const netw = await startNetwork(config);
const socks = { host: config.clients[0].host, port: config.clients[0].socksPort };
const onion = (bytes) => download({ socks, target: config.fileserver, size: bytes });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

await onion(1 << 20);
const each = parseSize(values.size);
const n = Number(values.parallel);
const pids = Object.fromEntries(netw.all.map((p) => [p.name, p.child.pid]));
console.log('pids', JSON.stringify(pids));
const ticks = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10; // ms at 100 Hz
};
const cpuAll = () => Object.fromEntries([...Object.entries(pids), ['bench', process.pid]].map(([k, pid]) => [k, ticks(pid)]));
const cpu0 = cpuAll();
let t = performance.now();
const done = await Promise.all(Array.from({ length: n }, () => onion(each)));
const secs = (performance.now() - t) / 1000;
console.log(`${n} × ${values.size}: ${((n * each) / 1048576 / secs).toFixed(2)} MiB/s aggregate, ${done.filter((d) => !d.ok).length} failed`);
const cpu1 = cpuAll();
console.log(`CPU share of one core during it: ${Object.keys(cpu1).map((k) => `${k} ${((cpu1[k] - cpu0[k]) / secs / 10).toFixed(0)}%`).join(', ')}`);
const mib = (n * each) / 1048576;
console.log(`CPU ms per MiB: ${Object.keys(cpu1).map((k) => `${k} ${((cpu1[k] - cpu0[k]) / mib).toFixed(1)}`).join(', ')}; all ${(Object.keys(cpu1).reduce((a, k) => a + cpu1[k] - cpu0[k], 0) / mib).toFixed(1)}`);
t = performance.now();
const one = await onion(4 * each);
console.log(`one stream ${values.size}×4: ${((4 * each) / 1048576 / ((performance.now() - t) / 1000)).toFixed(2)} MiB/s ok=${one.ok}`);
await sleep(1100);
netw.clients[0].statusHistory.length = 0;
const ttfbOutside = [];
for (let i = 0; i < Number(values.short); i++) {
  const r = await onion(64 * 1024);
  ttfbOutside.push(r.firstByteMs);
}
await sleep(1100);
const ttfb = [], build = [];
for (const h of netw.clients[0].statusHistory) {
  ttfb.push(...(h.status.ttfbMsAll ?? []));
  build.push(...(h.status.buildMsAll ?? []));
}
console.log(`short downloads: build median ${median(build)?.toFixed(2)} ms [${build.map((x) => x.toFixed(1)).join(' ')}]`);
console.log(`ttfb (client, CONNECTED -> first DATA) median ${median(ttfb)?.toFixed(2)} ms [${ttfb.map((x) => x.toFixed(1)).join(' ')}]`);
console.log(`first byte seen by the downloader (from connect) median ${median(ttfbOutside)?.toFixed(2)} ms`);
console.log(`load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
await netw.stop();
process.exit(0);
