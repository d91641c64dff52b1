#!/usr/bin/env node
// A/B of one change to the update path: the pause of the 100-client echo service (the
// `clients` scenario of bench/update-pause.mjs, in-place strategy) measured in this checkout
// and in a baseline checkout (another commit, built: npm ci there), alternating process by
// process in one run. Prints a markdown table with the machine, Node and the load.
//
//   node bench/update-preload-ab.mjs --baseline /path/to/old/checkout [--rounds 3] [--repeats 30]
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { root, shell, summarize } from './lib/harness.mjs';

const { values: opt } = parseArgs({
  options: { baseline: { type: 'string' }, rounds: { type: 'string', default: '3' }, repeats: { type: 'string', default: '30' } },
});
if (!opt.baseline) throw new Error('--baseline <checkout> is required');
const trees = [
  ['baseline', path.resolve(opt.baseline)],
  ['this', root],
];

function run(tree, method) {
  const args = ['--scenario', 'clients', '--method', method, '--strategy', 'inplace', '--clients', '100', '--repeats', opt.repeats, '--warmup', '5', '--every', '20', '--no-gc'];
  const script = path.join(tree, 'bench', 'update-pause.mjs');
  const r = spawnSync('/bin/sh', ['-c', 'ulimit -n 1024 && exec "$@"', 'sh', process.execPath, '--expose-gc', script, ...args], { cwd: tree, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${script} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)).reports;
}

const loads = [];
const rows = [];
for (const method of ['epoll', 'poll']) {
  const got = Object.fromEntries(trees.map(([name]) => [name, { reports: [], medians: [] }]));
  for (let round = 0; round < Number(opt.rounds); round++) {
    for (const [name, tree] of round % 2 ? [...trees].reverse() : trees) {
      loads.push(os.loadavg()[0]);
      const reports = run(tree, method);
      got[name].reports.push(...reports);
      got[name].medians.push(summarize(reports.map((r) => r.pauseMs)).median);
    }
  }
  for (const [name] of trees) {
    const { reports, medians } = got[name];
    const s = summarize(reports.map((r) => r.pauseMs));
    const ph = (k) => summarize(reports.map((r) => r.phases[k])).median.toFixed(3);
    rows.push(`| ${method} | ${name} | ${s.median.toFixed(3)} | ${s.p75.toFixed(3)} | ${Math.min(...medians).toFixed(3)}–${Math.max(...medians).toFixed(3)} | ${ph('load')} | ${ph('init')} | ${ph('rewire')} |`);
  }
}
const cpu = os.cpus()[0]?.model ?? '?';
console.log(`machine: ${os.cpus().length} × ${cpu}, Node ${process.version}, this ${shell(`git -C '${root}' rev-parse --short HEAD`)}, baseline ${shell(`git -C '${trees[0][1]}' rev-parse --short HEAD`) || trees[0][1]}`);
console.log(`1-min load average during the runs: ${summarize(loads).min.toFixed(1)}–${summarize(loads).max.toFixed(1)}\n`);
console.log('| backend | tree | pause median ms | p75 | round medians | load ms | init ms | rewire ms |');
console.log('|---|---|---:|---:|---:|---:|---:|---:|');
for (const r of rows) console.log(r);
