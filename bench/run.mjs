#!/usr/bin/env node
// Runs the loop benchmarks (C baseline and binding, same machine, same run) and the in-place
// rewrite benchmark, then writes the "Loop" section of docs/benchmarks.md (between
// <!-- loop:begin --> and <!-- loop:end -->; the rest of the file is kept), SVG plots in
// docs/plots/ and the raw figures in bench/out/ (git-ignored).
//
// Every configuration runs in fresh processes, one at a time. Each round runs the C program,
// the exclusive mode and the cooperative mode of every configuration once, in an order that
// rotates from round to round so that slow drift does not always favour the same one; each
// process warms up and then times several runs. The figures are medians over all timed runs
// of all rounds, with p25–p75 and min–max.
//
// Usage: node bench/run.mjs [--rounds 3] [--runs 10] [--warmup 5] [--w 1000]
//          [--only loop|rewrite] [--quick] [--no-docs] [--from bench/out/loop-latest.json]
// --quick: one round of 5 runs, for trying things out; it writes bench/out/ but not the docs.
// --from: re-renders the docs and plots from a saved raw file without running anything.
// Needs the compiled package (npx tsc -p tsconfig.build.json) and a C compiler; `npm run
// bench:loop` does both.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { barChart } from './lib/svg.mjs';
import { fdLimits, pinAddon, root, shell, writeSection } from './lib/report.mjs';
import { summarize } from './lib/stats.mjs';

const rel = (p) => path.relative(root, p);

const { values: opt } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    runs: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '5' },
    w: { type: 'string', default: '1000' },
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'no-docs': { type: 'boolean', default: false },
    from: { type: 'string' },
  },
});

const log = (msg) => process.stderr.write(msg + '\n');

// ---------------------------------------------------------------------------------------
// Running

// Runs argv[0] with argv[1..] under `ulimit -n` high enough for `fdsNeeded`; returns the
// JSON object printed on the last line of its stdout.
function runChild(argv, fdsNeeded, limits) {
  const want = Math.max(limits.soft, fdsNeeded);
  if (want > limits.hard) throw new Error(`needs ${fdsNeeded} descriptors; the hard limit is ${limits.hard}`);
  const r = spawnSync('/bin/sh', ['-c', `ulimit -n ${want} || exit 97; exec "$@"`, 'sh', ...argv], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) {
    throw new Error(`${argv.map((a) => rel(a) || a).join(' ')} exited with ${r.status ?? r.signal}\n${r.stderr}`);
  }
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

function buildC() {
  const r = spawnSync('/bin/sh', [path.join(root, 'bench/c/build.sh')], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bench/c/build.sh failed:\n${r.stderr}`);
  return r.stdout.trim().split('\n').pop();
}

// The binaries are copied aside for the whole run: a rebuild of the addon (node-gyp empties
// build/) in the middle of a run must neither break it nor mix two builds in one report.
/** The addon (see pinAddon) and the C program, copied aside for the whole run. */
function pinBinaries(cBin) {
  const pinned = pinAddon('node-libevent-bench-');
  const pinnedC = path.join(pinned.dir, 'callbacks');
  copyFileSync(cBin, pinnedC);
  spawnSync('chmod', ['+x', pinnedC]);
  return { dir: pinned.dir, addon: pinned.path, cBin: pinnedC, addonBuilt: pinned.built };
}

const IMPLS = ['c', 'exclusive', 'cooperative'];
// Extra C variants for the target configuration: how much of the binding's distance is
// plain system-call choice and process shape rather than the binding (see callbacks.c).
const C_VARIANTS = { 'c-rw': ['-s', 'rw'], 'c-rw-thread': ['-s', 'rw', '-t', '1'] };
const TARGET = { method: 'epoll', n: 1000, a: 100 };

function configs(methods, limits) {
  const out = [];
  for (const method of ['epoll', 'poll', 'select']) {
    if (!methods.includes(method)) continue;
    for (const n of [100, 1000, 5000]) {
      for (const a of [1, 100]) {
        // select: Debian's fortified libevent aborts on an fd >= FD_SETSIZE (1024); the
        // process already holds a few dozen fds, and each pair takes two.
        if (method === 'select' && 2 * n + 100 >= 1024) continue;
        const fds = 2 * n + 200;
        const skip = fds > limits.hard ? `needs ${fds} fds, hard limit ${limits.hard}` : undefined;
        out.push({ method, n, a, skip });
      }
    }
  }
  return out;
}

function implArgv(impl, cfg, w, runs, warmup, cBin) {
  const common = { n: cfg.n, a: cfg.a, w, runs, warmup };
  if (impl === 'c' || impl in C_VARIANTS) {
    return [
      cBin,
      ...['-m', cfg.method, '-n', common.n, '-a', common.a, '-w', common.w, '-r', common.runs, '-k', common.warmup].map(String),
      ...(C_VARIANTS[impl] ?? []),
    ];
  }
  return [
    process.execPath,
    path.join(root, 'bench/loop-callbacks.mjs'),
    ...['--mode', impl, '--method', cfg.method, '--n', common.n, '--a', common.a, '--w', common.w, '--runs', common.runs, '--warmup', common.warmup].map(String),
  ];
}

async function machineInfo() {
  const { libeventVersion } = await import('../dist/index.js');
  const cpus = os.cpus();
  const commit = shell(`git -C '${root}' rev-parse --short HEAD`);
  // The code under test: the library, the addon and this benchmark's own files.
  const measured = 'lib native bench/c bench/loop-callbacks.mjs bench/rewrite.mjs';
  const dirty = shell(`git -C '${root}' status --porcelain -- ${measured}`) !== '';
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    libevent: libeventVersion(),
    cc: shell('cc --version | head -1'),
    commit: commit ? commit + (dirty ? ' (with uncommitted changes in lib/, native/ or the loop benchmark)' : '') : 'unknown',
    date: new Date().toISOString(),
  };
}

async function runLoop(limits, cBin) {
  const { supportedMethods } = await import('../dist/index.js');
  const rounds = Number(opt.rounds);
  const runs = Number(opt.runs);
  const warmup = Number(opt.warmup);
  const w = Number(opt.w);
  const list = configs(supportedMethods(), limits);
  const cells = [];
  for (const cfg of list) {
    if (cfg.skip) {
      log(`skip ${cfg.method} n=${cfg.n} a=${cfg.a}: ${cfg.skip}`);
      cells.push({ ...cfg, w, samples: {} });
      continue;
    }
    // Probe with the C program: very slow configurations (poll/select with many idle fds)
    // get fewer timed runs per process, never fewer than 5.
    const probe = runChild(implArgv('c', cfg, w, 1, 1, cBin), 2 * cfg.n + 100, limits);
    const msPerRun = (probe.usPerCallback[0] * (cfg.a + w)) / 1000;
    const slow = msPerRun > 100;
    const impls = [...IMPLS];
    if (cfg.method === TARGET.method && cfg.n === TARGET.n && cfg.a === TARGET.a) impls.push(...Object.keys(C_VARIANTS));
    cells.push({
      ...cfg,
      w,
      runs: slow ? Math.min(runs, 5) : runs,
      warmup: slow ? Math.min(warmup, 2) : warmup,
      impls,
      samples: Object.fromEntries(impls.map((i) => [i, []])),
      processMedians: Object.fromEntries(impls.map((i) => [i, []])),
      loadavg: [],
    });
  }
  const loadStart = os.loadavg()[0];
  let maxLoad = loadStart;
  for (let round = 0; round < rounds; round++) {
    for (const cell of cells) {
      if (cell.skip) continue;
      const order = cell.impls.map((_, k) => cell.impls[(k + round) % cell.impls.length]);
      for (const impl of order) {
        const load = os.loadavg()[0];
        maxLoad = Math.max(maxLoad, load);
        cell.loadavg.push(load);
        const res = runChild(implArgv(impl, cell, cell.w, cell.runs, cell.warmup, cBin), 2 * cell.n + 200, limits);
        if (res.errors) throw new Error(`${impl} ${cell.method} n=${cell.n} a=${cell.a}: ${res.errors} I/O errors`);
        cell.samples[impl].push(...res.usPerCallback);
        const med = summarize(res.usPerCallback).median;
        cell.processMedians[impl].push(med);
        log(`round ${round + 1}/${rounds}  ${cell.method.padEnd(6)} n=${String(cell.n).padEnd(4)} a=${String(cell.a).padEnd(3)} ${impl.padEnd(12)} ${med.toFixed(2)} µs/callback`);
      }
    }
  }
  return { rounds, runsPerProcess: runs, warmupPerProcess: warmup, w, loadavgStart: loadStart, loadavgMax: maxLoad, loadavgEnd: os.loadavg()[0], cells };
}

function runRewrite(limits) {
  const out = [];
  const repeats = opt.quick ? 5 : 21;
  for (const events of [10_000, 100_000]) {
    const pairs = Math.min(Math.floor(events / 100), 1000);
    const res = runChild(
      [process.execPath, '--expose-gc', path.join(root, 'bench/rewrite.mjs'), '--events', String(events), '--repeats', String(repeats), '--warmup', '3'],
      2 * pairs + 200,
      limits,
    );
    log(`rewrite ${events}: rewire ${summarize(res.rewireNsPerEvent).median.toFixed(0)} ns/event, setter ${summarize(res.setterNsPerEvent).median.toFixed(0)} ns/event`);
    out.push(res);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Report

const us = (v) => (!Number.isFinite(v) ? '–' : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0));
const ratio = (v) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '–');
const cellStats = (cell, impl) => (cell.samples[impl]?.length ? summarize(cell.samples[impl]) : undefined);
const spread = (s) => (s ? `${us(s.median)} (${us(s.p25)}–${us(s.p75)})` : '–');

function ratios(cell) {
  const c = cellStats(cell, 'c');
  const ex = cellStats(cell, 'exclusive');
  const co = cellStats(cell, 'cooperative');
  const r = (b) => (b && c ? b.median / c.median : NaN);
  // Conservative band: the binding's quartiles against the C quartiles, crosswise.
  const band = (b) => (b && c ? [b.p25 / c.p75, b.p75 / c.p25] : [NaN, NaN]);
  // Paired by round: each round's binding process against the same round's C process, so
  // that load which comes and goes during the session hits both sides of each ratio.
  const paired = (impl) => {
    const b = cell.processMedians?.[impl] ?? [];
    const cm = cell.processMedians?.c ?? [];
    const rs = b.map((v, k) => v / cm[k]).filter(Number.isFinite);
    return rs.length ? summarize(rs) : undefined;
  };
  return {
    exclusive: r(ex),
    cooperative: r(co),
    exclusiveBand: band(ex),
    cooperativeBand: band(co),
    exclusivePaired: paired('exclusive'),
    cooperativePaired: paired('cooperative'),
  };
}

function renderPlots(loop, rewrite, plotsDir) {
  mkdirSync(plotsDir, { recursive: true });
  const written = [];
  if (loop) {
    const runnable = loop.cells.filter((c) => !c.skip);
    for (const method of [...new Set(runnable.map((c) => c.method))]) {
      const cells = runnable.filter((c) => c.method === method);
      const series = [
        ['c', 'C (libevent direct)'],
        ['exclusive', 'binding, exclusive'],
        ['cooperative', 'binding, cooperative'],
      ].map(([impl, name]) => {
        const st = cells.map((c) => cellStats(c, impl));
        return { name, values: st.map((s) => s?.median ?? null), lo: st.map((s) => s?.p25 ?? null), hi: st.map((s) => s?.p75 ?? null) };
      });
      const vals = series.flatMap((s) => s.values).filter((v) => v > 0);
      const svg = barChart({
        title: `${method}: µs per callback (median of all timed runs)`,
        subtitle: `n socketpairs, a active, w=${loop.w} writes; lower is better`,
        yLabel: 'µs per callback',
        groups: cells.map((c) => `n=${c.n}\na=${c.a}`),
        series,
        log: Math.max(...vals) / Math.min(...vals) > 30,
        valueLabels: true,
        width: Math.max(680, 120 * cells.length + 120), // room for the legend and the whisker note
      });
      const file = path.join(plotsDir, `loop-${method}.svg`);
      writeFileSync(file, svg);
      written.push(file);
    }
    const svg = barChart({
      title: 'Binding / C, µs per callback (median ratio)',
      subtitle: 'targets at epoll n=1000 a=100: exclusive ≤ 1.5×, cooperative ≤ 2×',
      yLabel: 'ratio to C',
      groups: runnable.map((c) => `${c.method}\n${c.n}/${c.a}`),
      series: [
        { name: 'exclusive / C', values: runnable.map((c) => ratios(c).exclusive) },
        { name: 'cooperative / C', values: runnable.map((c) => ratios(c).cooperative) },
      ],
      refLines: [
        { value: 1, label: '1× C' },
        { value: 1.5, label: '1.5×' },
        { value: 2, label: '2×' },
      ],
      valueLabels: false,
      note: 'x labels: backend, n/a',
      width: Math.max(640, 62 * runnable.length + 100),
    });
    const file = path.join(plotsDir, 'loop-ratio.svg');
    writeFileSync(file, svg);
    written.push(file);
  }
  if (rewrite?.length) {
    const st = (key) => rewrite.map((r) => summarize(r[key]));
    const series = [
      ['rewireNsPerEvent', 'base.rewire(map), whole call'],
      ['setterNsPerEvent', 'ev.callback = fn, per event'],
    ].map(([key, name]) => {
      const s = st(key);
      return { name, values: s.map((x) => x.median), lo: s.map((x) => x.p25), hi: s.map((x) => x.p75) };
    });
    const svg = barChart({
      title: 'In-place callback rewrite: ns per pending event',
      subtitle: 'mostly timers, 1% socket READ events; lower is better',
      yLabel: 'ns per event',
      groups: rewrite.map((r) => `${r.events.toLocaleString('en-US')} events`),
      series,
      valueLabels: true,
      width: 660,
    });
    const file = path.join(plotsDir, 'rewrite.svg');
    writeFileSync(file, svg);
    written.push(file);
  }
  return written;
}

function renderSection(data) {
  const { machine, loop, rewrite } = data;
  const L = [];
  L.push('<!-- loop:begin -->');
  L.push('<!-- Generated by bench/run.mjs (npm run bench:loop); edits between these markers are overwritten. -->');
  L.push('## Loop');
  L.push('');
  L.push(
    `Measured ${machine.date.slice(0, 10)} by \`npm run bench:loop\`${data.quick ? ' (**quick run**: fewer repeats, figures are indicative only)' : ''}. ` +
      'The C program and the binding ran in the same session on the same machine, one process at a time.',
  );
  L.push('');
  L.push('| machine | |');
  L.push('|---|---|');
  L.push(`| CPU | ${machine.cpu}, ${machine.cores} cores |`);
  L.push(`| memory | ${machine.memoryGiB} GiB |`);
  L.push(`| kernel | ${machine.kernel} |`);
  L.push(`| Node | ${machine.node} |`);
  L.push(`| libevent | ${machine.libevent} (system library; C baseline built with \`${machine.cc}\`, -O2) |`);
  L.push(`| commit | ${machine.commit} |`);
  if (loop) {
    L.push(
      `| 1-min load average | ${loop.loadavgStart.toFixed(2)} at start, ${loop.loadavgMax.toFixed(2)} at most, ${loop.loadavgEnd.toFixed(2)} at end |`,
    );
  }
  L.push('');
  // The benchmark's own process counts for about 1 in the load average.
  if (loop && loop.loadavgMax - 1 > 0.25 * machine.cores) {
    L.push(
      `Other work shared the machine during this run (1-min load average up to ${loop.loadavgMax.toFixed(2)} on ${machine.cores} cores, about 1 of it this benchmark's own process). ` +
        'The rotating rounds spread it over C and binding alike and medians damp it, but the quartile bands are wider than on an idle machine.',
    );
    L.push('');
  }

  if (loop) {
    const t = loop.cells.find((c) => c.method === TARGET.method && c.n === TARGET.n && c.a === TARGET.a && !c.skip);
    L.push('### Callbacks: µs per callback, C vs binding');
    L.push('');
    L.push(
      `Workload (libevent's \`bench.c\` kind): n socketpairs, each with a persistent READ event; a of them, evenly spaced, get one byte; ` +
        `each callback reads its byte and, while writes remain, writes one byte to the next pair, until w = ${loop.w} writes have been made. ` +
        'A run is timed from the first loop call until every byte written has been read (a + w callbacks, each with one read and at most one write system call).',
    );
    L.push('');
    L.push('- **C**: `bench/c/callbacks.c`, this project\'s program linking libevent directly: `event_base_loop(base, EVLOOP_ONCE|EVLOOP_NONBLOCK)` in a loop, `recv`/`send` like bench.c.');
    L.push('- **exclusive**: `base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK)` in a JS loop, the callback doing `io.read`/`io.write` (`bench/loop-callbacks.mjs`).');
    L.push('- **cooperative**: one `await base.run()` per run, inside Node\'s loop; the last callback calls `base.loopbreak()`.');
    L.push('');
    L.push(
      `Each process warms up (${loop.warmupPerProcess} runs) and then times ${loop.runsPerProcess} runs (5 and 2 for configurations slower than 100 ms a run); ` +
        `${loop.rounds} rounds, the order of C/exclusive/cooperative rotating between rounds. ` +
        'Cells: median µs per callback over all timed runs, with p25–p75 in parentheses. Ratios: median binding / median C. ' +
        'select runs only for n = 100: more than 1023 fds abort Debian\'s fortified libevent.',
    );
    L.push('');
    L.push('| backend | n | a | C | exclusive | cooperative | exclusive / C | cooperative / C |');
    L.push('|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const cell of loop.cells) {
      if (cell.skip) {
        L.push(`| ${cell.method} | ${cell.n} | ${cell.a} | skipped: ${cell.skip} | | | | |`);
        continue;
      }
      const r = ratios(cell);
      const bold = cell === t ? (s) => `**${s}**` : (s) => s;
      L.push(
        `| ${cell.method} | ${cell.n} | ${cell.a} | ${spread(cellStats(cell, 'c'))} | ${spread(cellStats(cell, 'exclusive'))} | ${spread(cellStats(cell, 'cooperative'))} | ${bold(ratio(r.exclusive))} | ${bold(ratio(r.cooperative))} |`,
      );
    }
    L.push('');
    if (t) {
      const r = ratios(t);
      const verdict = (v, lim) => (v <= lim ? '**met**' : '**not met**');
      L.push('**Targets** (epoll, n = 1000, a = 100):');
      L.push('');
      const pairedText = (p) =>
        p ? `; paired by round, median ${ratio(p.median)}, min–max ${ratio(p.min)}–${ratio(p.max)} over ${p.count} rounds` : '';
      L.push(
        `- exclusive within 1.5× of C: ${ratio(r.exclusive)}, ${verdict(r.exclusive, 1.5)} ` +
          `(quartile band ${ratio(r.exclusiveBand[0])}–${ratio(r.exclusiveBand[1])}${pairedText(r.exclusivePaired)}).`,
      );
      L.push(
        `- cooperative within 2× of C: ${ratio(r.cooperative)}, ${verdict(r.cooperative, 2)} ` +
          `(quartile band ${ratio(r.cooperativeBand[0])}–${ratio(r.cooperativeBand[1])}${pairedText(r.cooperativePaired)}).`,
      );
      L.push('');
      L.push(
        'The verdict uses the ratio of the pooled medians. The quartile band sets the binding\'s p25 and p75 against C\'s p75 and p25; ' +
          'the paired ratios compare the C and binding processes of the same round.',
      );
      L.push('');
      const c = cellStats(t, 'c');
      const rw = cellStats(t, 'c-rw');
      const rwt = cellStats(t, 'c-rw-thread');
      const ex = cellStats(t, 'exclusive');
      if (c && rw && rwt && ex) {
        L.push('**Where the distance comes from** (same configuration, same rounds). The C program can also use `read`/`write` (as `io.read`/`io.write` do) and start one idle thread (a Node process always has several):');
        L.push('');
        L.push('| variant | µs per callback | vs C |');
        L.push('|---|---:|---:|');
        L.push(`| C, \`recv\`/\`send\`, single-threaded (the baseline) | ${spread(c)} | 1.00× |`);
        L.push(`| C, \`read\`/\`write\`, single-threaded | ${spread(rw)} | ${ratio(rw.median / c.median)} |`);
        L.push(`| C, \`read\`/\`write\`, one idle thread | ${spread(rwt)} | ${ratio(rwt.median / c.median)} |`);
        L.push(`| binding, exclusive | ${spread(ex)} | ${ratio(ex.median / c.median)} |`);
        L.push('');
        const added = ex.median - c.median;
        const kernelSide = rwt.median - c.median;
        const share = added > 0 ? Math.max(0, Math.min(1, kernelSide / added)) : 0;
        L.push(
          'Linux looks a descriptor up without touching its reference count only while a process has a single thread; with a second thread every `read`, `write` and `epoll_ctl` does an atomic get and put on the file. ' +
            `Of the ${us(added)} µs per callback the binding adds here, ${us(Math.max(0, kernelSide))} µs (${(share * 100).toFixed(0)}%) also appear in the C program once it uses \`read\`/\`write\` and has a second thread` +
            (rwt.p25 <= c.p75 ? ' (the quartile bands of these two C variants overlap, so this share is uncertain)' : '') +
            ': that part comes from the system calls as a multi-threaded Node process makes them, not from the binding\'s own code. ' +
            'The rest is the JavaScript boundary: per callback one call from the native trampoline into the JS dispatcher and two calls back into the addon for `io.read`/`io.write`, plus one `base.loop()` call per pass.',
        );
        L.push('');
      }
    }
    for (const method of [...new Set(loop.cells.filter((c) => !c.skip).map((c) => c.method))]) {
      L.push(`![${method}: µs per callback](plots/loop-${method}.svg)`);
      L.push('');
    }
    L.push('![binding / C ratios](plots/loop-ratio.svg)');
    L.push('');
  }

  if (rewrite?.length) {
    L.push('### In-place rewrite');
    L.push('');
    L.push(
      'Pending events on one epoll base: timers with distinct 10–20 minute timeouts, and 1% persistent socketpair READ events (fds are scarce). ' +
        '`base.rewire(ev => fn)` is timed as one whole call (map, checks, the native write of callback and argument words into every `struct event`, and the JS bookkeeping) and divided by the number of events; ' +
        '`ev.callback = fn` is timed as a loop over all events. Each repeat installs a different function. ' +
        `Median over ${rewrite[0].rewireNsPerEvent.length} repeats after 3 warm-up ones, p25–p75 in parentheses${rewrite[0].gcBetweenRepeats ? '; a full GC runs before each repeat, outside the timing' : ''}. ` +
        'After the repeats the script checks that libevent still counts every event as added and that an activation runs the last callback installed.',
    );
    L.push('');
    L.push('| events | of which socket READ | `base.rewire` ns/event | `base.rewire` whole call, ms | `ev.callback =` ns/event |');
    L.push('|---:|---:|---:|---:|---:|');
    for (const r of rewrite) {
      const rw = summarize(r.rewireNsPerEvent);
      const st = summarize(r.setterNsPerEvent);
      const f = (s) => `${s.median.toFixed(0)} (${s.p25.toFixed(0)}–${s.p75.toFixed(0)})`;
      L.push(`| ${r.events.toLocaleString('en-US')} | ${r.ioEvents.toLocaleString('en-US')} | ${f(rw)} | ${((rw.median * r.events) / 1e6).toFixed(2)} | ${f(st)} |`);
    }
    L.push('');
    L.push('![in-place rewrite, ns per event](plots/rewrite.svg)');
    L.push('');
  }
  L.push('Raw figures of the last run: `bench/out/loop-latest.json` (not committed).');
  L.push('<!-- loop:end -->');
  return L.join('\n') + '\n';
}

async function main() {
  if (opt.quick) {
    opt.rounds = '1';
    opt.runs = '5';
    opt.warmup = '2';
  }
  let data;
  if (opt.from) {
    data = JSON.parse(readFileSync(path.resolve(opt.from), 'utf8'));
  } else {
    if (!existsSync(path.join(root, 'dist/index.js'))) {
      throw new Error('dist/ is missing: run `npx tsc -p tsconfig.build.json` first (npm run bench:loop does)');
    }
    const limits = fdLimits();
    const pinned = pinBinaries(buildC());
    const cBin = pinned.cBin;
    process.on('exit', () => rmSync(pinned.dir, { recursive: true, force: true }));
    const machine = { ...(await machineInfo()), addonBuilt: pinned.addonBuilt };
    log(`${machine.cpu}, ${machine.cores} cores, ${machine.kernel}, Node ${machine.node}, libevent ${machine.libevent}; fd limits ${limits.soft}/${limits.hard}`);
    const only = opt.only;
    const loop = !only || only === 'loop' ? await runLoop(limits, cBin) : undefined;
    const rewrite = !only || only === 'rewrite' ? runRewrite(limits) : undefined;
    data = { machine, quick: opt.quick, fdLimits: limits, loop, rewrite };
    const outDir = path.join(root, 'bench/out');
    mkdirSync(outDir, { recursive: true });
    const stamp = machine.date.replace(/[:.]/g, '-');
    writeFileSync(path.join(outDir, `loop-${stamp}.json`), JSON.stringify(data, null, 1));
    // loop-latest.json is what the report points at: only complete, full runs replace it.
    if (loop && rewrite && !opt.quick) writeFileSync(path.join(outDir, 'loop-latest.json'), JSON.stringify(data, null, 1));
    log(`raw figures: bench/out/loop-${stamp}.json`);
  }
  if (opt['no-docs'] || (opt.quick && !opt.from)) {
    log('docs not written (--no-docs, or --quick: a quick run is not a report)');
    return;
  }
  if (!data.loop || !data.rewrite) {
    log('docs not written: a partial run (--only) has no complete section; use --from to merge or run everything');
    return;
  }
  for (const f of renderPlots(data.loop, data.rewrite, path.join(root, 'docs/plots'))) log(`wrote ${rel(f)}`);
  writeSection(path.join(root, 'docs/benchmarks.md'), 'loop', renderSection(data));
  log('wrote docs/benchmarks.md (loop section)');
}

main().catch((err) => {
  process.stderr.write(`bench/run.mjs: ${err.stack ?? err}\n`);
  process.exit(1);
});
