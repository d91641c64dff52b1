#!/usr/bin/env node
// A/B of a change to the update path: the same update-pause.mjs configurations run from this
// checkout and from a baseline checkout (another commit, built: npm ci, or build/ and dist/
// copied there), alternating process by process in one run. Prints a markdown table with the
// machine, Node and the load, and the ratios baseline / this.
//
//   node bench/update-ab.mjs --baseline /path/to/old/checkout [--rounds 3] [--repeats 15]
//        [--cells clients,mixed-10000,mixed-100000] [--methods epoll,poll]
//
//   clients       the 100-client echo service (closed-loop traffic, no forced GC)
//   mixed-N       the mixed service with N live events (a GC before each request)
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { root, shell, summarize } from './lib/harness.mjs';

const { values: opt } = parseArgs({
  options: {
    baseline: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    repeats: { type: 'string', default: '15' },
    cells: { type: 'string', default: 'clients,mixed-10000,mixed-100000' },
    methods: { type: 'string', default: 'epoll,poll' },
  },
});
if (!opt.baseline) throw new Error('--baseline <checkout> is required');
const trees = [
  ['baseline', path.resolve(opt.baseline)],
  ['this', root],
];

function argsOf(cell, method) {
  const common = ['--method', method, '--strategy', 'inplace', '--repeats', opt.repeats, '--warmup', '5'];
  if (cell === 'clients') return [...common, '--scenario', 'clients', '--clients', '100', '--every', '20', '--no-gc'];
  const m = /^mixed-(\d+)$/.exec(cell);
  if (!m) throw new Error(`unknown cell '${cell}'`);
  const events = Number(m[1]);
  return [...common, '--scenario', 'mixed', '--events', events, '--pairs', Math.min(2000, events / 10)];
}

function run(tree, cell, method) {
  const script = path.join(tree, 'bench', 'update-pause.mjs');
  const r = spawnSync('/bin/sh', ['-c', 'ulimit -n 8192 && exec "$@"', 'sh', process.execPath, '--expose-gc', script, ...argsOf(cell, method).map(String)], { cwd: tree, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${script} failed: ${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1));
  const events = cell === 'clients' ? Math.max(out.serviceEvents ?? 1, 1) : out.shape.events;
  return out.reports.map((u) => ({ pauseMs: u.pauseMs, rewireMs: u.phases.rewire, rewireNs: (u.phases.rewire * 1e6) / events }));
}

const loads = [];
const rows = [];
const f = (v, d = 3) => v.toFixed(d);
for (const method of opt.methods.split(',')) {
  for (const cell of opt.cells.split(',')) {
    const got = Object.fromEntries(trees.map(([name]) => [name, []]));
    for (let round = 0; round < Number(opt.rounds); round++) {
      for (const [name, tree] of round % 2 ? [...trees].reverse() : trees) {
        loads.push(os.loadavg()[0]);
        got[name].push(...run(tree, cell, method));
      }
    }
    const s = Object.fromEntries(trees.map(([name]) => [name, { pause: summarize(got[name].map((u) => u.pauseMs)), rewire: summarize(got[name].map((u) => u.rewireMs)), ns: summarize(got[name].map((u) => u.rewireNs)) }]));
    for (const [name] of trees) {
      const x = s[name];
      rows.push(`| ${method} | ${cell} | ${name} | ${f(x.pause.median)} (${f(x.pause.p25)}–${f(x.pause.p75)}) | ${f(x.rewire.median)} | ${f(x.ns.median, 0)} | ${name === 'this' ? `${f(s.baseline.pause.median / x.pause.median, 1)}× / ${f(s.baseline.rewire.median / x.rewire.median, 1)}×` : ''} |`);
    }
  }
}
const cpu = os.cpus()[0]?.model ?? '?';
console.log(`machine: ${os.cpus().length} × ${cpu}, Node ${process.version}, this ${shell(`git -C '${root}' rev-parse --short HEAD`)}, baseline ${shell(`git -C '${trees[0][1]}' rev-parse --short HEAD`) || trees[0][1]}; ${opt.rounds} processes per tree and cell, ${opt.repeats} timed updates each`);
console.log(`1-min load average during the runs: ${summarize(loads).min.toFixed(1)}–${summarize(loads).max.toFixed(1)}\n`);
console.log('| backend | service | tree | pause median ms (p25–p75) | rewire ms | rewire ns/event | baseline / this: pause / rewire |');
console.log('|---|---|---|---:|---:|---:|---:|');
for (const r of rows) console.log(r);
