#!/usr/bin/env node
// Runs the publish–subscribe benchmarks and writes the "Publish–subscribe" section of
// docs/benchmarks.md (between <!-- pubsub:begin --> and <!-- pubsub:end -->; the rest of the
// file is kept), its SVG plots in docs/plots/ and the raw output in bench/out/ (git-ignored).
//
// The four benches (bench/pubsub-*.ts) are compiled with tsc into bench/out/ and each runs in a
// fresh `node --expose-gc` process, one after another; every bench warms up inside its process
// and prints JSON lines. A round runs all four; with several rounds the report gives, per case,
// the median of the per-process medians and the range of those medians.
//
// Usage: node bench/run-pubsub.mjs [--rounds 5] [--no-docs] [--from bench/out/pubsub-latest.json]
// --from: re-renders the section and plots from a saved raw file without running anything.
// `npm run bench:pubsub` runs it. The prompt bench needs the addon (build/Release, or
// NODE_LIBEVENT_ADDON); it is copied aside for the whole run so a rebuild cannot break it.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { lineChart, barChart } from './lib/svg.mjs';
import { pinAddon, root, shell, writeSection } from './lib/report.mjs';
import { quantile } from './lib/stats.mjs';

const rel = (p) => path.relative(root, p);
const log = (msg) => process.stderr.write(msg + '\n');

const { values: opt } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    'no-docs': { type: 'boolean', default: false },
    from: { type: 'string' },
  },
});

const BENCHES = ['immediate', 'prompt', 'fanout', 'alloc'];

// ---------------------------------------------------------------------------------------
// Running

function compile() {
  const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', 'bench/tsconfig.pubsub.json'], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tsc -p bench/tsconfig.pubsub.json failed:\n${r.stdout}${r.stderr}`);
}

// Jiffies of the whole machine from /proc/stat: busy (user, nice, system, irq, softirq) and
// steal (time the hypervisor gave the virtual CPUs' turn to someone else).
const CLK_TCK = Number(shell('getconf CLK_TCK')) || 100;
function cpuJiffies() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return { busy: f[0] + f[1] + f[2] + f[5] + f[6], steal: f[7] ?? 0 };
  } catch {
    return undefined;
  }
}

// Runs one bench in its own process; returns the JSON objects it printed and how busy the
// machine was meanwhile with other work: CPU time of everything else (the machine's busy time
// minus the bench's own, which the shell's `times` reports) and steal, in cores.
function runBench(name, addon) {
  const script = path.join(root, `bench/out/bench/pubsub-${name}.js`);
  const j0 = cpuJiffies();
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/bin/sh', ['-c', '"$@"; s=$?; times >&2; exit $s', 'sh', process.execPath, '--expose-gc', script], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    env: { ...process.env, NODE_LIBEVENT_ADDON: addon },
  });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const j1 = cpuJiffies();
  if (r.status !== 0) throw new Error(`${rel(script)} exited with ${r.status ?? r.signal}\n${r.stderr}`);
  const lines = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
  if (!lines.length) throw new Error(`${rel(script)} printed no results`);
  // `times` prints the shell's user/system time, then its children's: "0m5.120000s 0m0.100000s".
  const secs = (t) => t.split(/\s+/).reduce((acc, x) => {
    const m = x.match(/^(\d+)m([\d.]+)s$/);
    return m ? acc + 60 * Number(m[1]) + Number(m[2]) : acc;
  }, 0);
  const timesLines = r.stderr.trim().split('\n').slice(-2);
  const own = timesLines.length === 2 ? secs(timesLines[1]) : NaN;
  const env =
    j0 && j1 && Number.isFinite(own)
      ? {
          wallS: wall,
          ownCpuS: own,
          otherCores: Math.max(0, (j1.busy - j0.busy) / CLK_TCK - own) / wall,
          stealCores: (j1.steal - j0.steal) / CLK_TCK / wall,
        }
      : { wallS: wall };
  return { lines, env };
}

function machineInfo() {
  const cpus = os.cpus();
  const commit = shell(`git -C '${root}' rev-parse --short HEAD`);
  const dirty = shell(`git -C '${root}' status --porcelain -- lib bench/pubsub-*.ts bench/tsconfig.pubsub.json`) !== '';
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    commit: commit ? commit + (dirty ? ' (with uncommitted changes in lib/ or the pubsub benches)' : '') : 'unknown',
    date: new Date().toISOString(),
  };
}

function runAll() {
  const rounds = Number(opt.rounds);
  if (!(rounds >= 1)) throw new Error('--rounds must be at least 1');
  log('compiling the benches (tsc -p bench/tsconfig.pubsub.json)');
  compile();
  const addon = pinAddon('node-libevent-pubsub-');
  process.on('exit', () => rmSync(addon.dir, { recursive: true, force: true }));
  const machine = { ...machineInfo(), addonBuilt: addon.built };
  log(`${machine.cpu}, ${machine.cores} cores, ${machine.kernel}, Node ${machine.node}`);
  const results = Object.fromEntries(BENCHES.map((b) => [b, []]));
  const contention = Object.fromEntries(BENCHES.map((b) => [b, []]));
  const load = [os.loadavg()[0]];
  for (let round = 0; round < rounds; round++) {
    for (const b of BENCHES) {
      const { lines, env } = runBench(b, addon.path);
      load.push(os.loadavg()[0]);
      results[b].push(lines);
      contention[b].push(env);
      const busy = env.otherCores != null ? `; meanwhile other work ${env.otherCores.toFixed(2)} cores, steal ${env.stealCores.toFixed(2)}` : '';
      log(`round ${round + 1}/${rounds}  pubsub-${b.padEnd(9)} ${env.wallS.toFixed(1)} s, ${lines.length} results${busy}`);
    }
  }
  const libevent = results.prompt[0].find((l) => l.libevent)?.libevent ?? 'unknown';
  return {
    machine: { ...machine, libevent },
    rounds,
    loadavg: { start: load[0], max: Math.max(...load), end: load[load.length - 1] },
    results,
    contention,
  };
}

// ---------------------------------------------------------------------------------------
// Combining rounds

const median = (xs) => quantile(xs, 0.5);

/** Per case name, the list of that case's result objects, one per round. */
function byCase(rounds) {
  const out = new Map();
  for (const lines of rounds) {
    for (const l of lines) {
      if (!out.has(l.case)) out.set(l.case, []);
      out.get(l.case).push(l);
    }
  }
  return out;
}

/** One case measured with mitata in several processes: typical figures and between-run range. */
function combine(list) {
  const meds = list.map((l) => l.median);
  return {
    median: median(meds),
    p25: median(list.map((l) => l.p25)),
    p75: median(list.map((l) => l.p75)),
    runMin: Math.min(...meds),
    runMax: Math.max(...meds),
    runs: list.length,
    perRun: meds,
    samples: list.reduce((a, l) => a + l.samples, 0),
    callsPerSample: Math.min(...list.map((l) => l.callsPerSample ?? NaN)),
  };
}

function find(map, prefix) {
  for (const [name, list] of map) if (name.startsWith(prefix)) return list;
  throw new Error(`no result for "${prefix}"`);
}

function fitLine(xs, ys) {
  const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
  const mx = mean(xs);
  const my = mean(ys);
  const sxy = xs.reduce((acc, x, i) => acc + (x - mx) * (ys[i] - my), 0);
  const sxx = xs.reduce((acc, x) => acc + (x - mx) ** 2, 0);
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  const ssTot = ys.reduce((acc, y) => acc + (y - my) ** 2, 0);
  const ssRes = ys.reduce((acc, y, i) => acc + (y - (intercept + slope * xs[i])) ** 2, 0);
  return { slope, intercept, r2: 1 - ssRes / ssTot };
}

function analyse(data) {
  const imm = byCase(data.results.immediate);
  const emitL = find(imm, 'EventEmitter.emit');
  const pubL = find(imm, 'publish -> hook, immediate');
  const queueL = find(imm, 'publish -> hook, alert calling flush');
  const ratios = pubL.map((p, i) => p.median / emitL[i].median);
  const queueRatios = queueL.map((p, i) => p.median / emitL[i].median);
  const immediate = {
    emit: combine(emitL),
    publish: combine(pubL),
    queue: combine(queueL),
    ratio: { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios), perRun: ratios },
    queueRatio: { median: median(queueRatios), min: Math.min(...queueRatios), max: Math.max(...queueRatios) },
  };

  const pr = byCase(data.results.prompt);
  const prompt = [...pr].map(([name, list]) => ({ method: name.split(':')[0], burst: Number(name.match(/(\d+) publishes/)?.[1]), ...combine(list) }));

  const fo = byCase(data.results.fanout);
  const sizes = [...fo.values()].filter((l) => l[0].subscribers != null);
  const fanRows = sizes.map((list) => ({ subscribers: list[0].subscribers, ...combine(list) })).sort((a, b) => a.subscribers - b.subscribers);
  const fit = fitLine(
    fanRows.map((r) => r.subscribers),
    fanRows.map((r) => r.median),
  );
  // Per-round fits, from each process's own medians.
  const roundFits = data.results.fanout.map((lines) => {
    const rows = lines.filter((l) => l.subscribers != null);
    return fitLine(
      rows.map((l) => l.subscribers),
      rows.map((l) => l.median),
    );
  });
  // Marginal cost of one more subscriber between consecutive powers of ten (1→10, 10→100, …):
  // flat when the cost is fixed + linear; superlinear growth would make it rise decade by decade.
  const decades = fanRows.filter((r) => Number.isInteger(Math.log10(r.subscribers)));
  const marginal = decades.slice(1).map((r, i) => ({
    from: decades[i].subscribers,
    to: r.subscribers,
    ns: (r.median - decades[i].median) / (r.subscribers - decades[i].subscribers),
  }));
  const mvals = marginal.map((m) => m.ns);
  const marginalSpread = Math.max(...mvals) / Math.min(...mvals);
  const fanout = { rows: fanRows, fit, roundFits, marginal, marginalSpread };

  const al = byCase(data.results.alloc);
  const alloc = [...al].map(([name, list]) => {
    const pool = (key) => list.flatMap((l) => l.perRun?.[key] ?? []);
    const sum = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });
    return {
      name,
      messages: list[0].messages,
      burst: list[0].burst,
      runs: pool('bytesPerMessage').length,
      bytes: sum(pool('bytesPerMessage')),
      gcs: sum(pool('gcDuringRun')),
      retained: sum(pool('retainedAfterGcBytes')),
      ns: sum(pool('nsPerMessage')),
    };
  });
  if (alloc.some((a) => !a.runs)) throw new Error('pubsub-alloc printed no perRun figures (bench/out/ is stale?)');
  const dispatcherCases = alloc.filter((a) => !a.name.startsWith('control'));
  const control = alloc.find((a) => a.name.startsWith('control'));

  const targets = {
    immediate: immediate.ratio.median <= 2,
    prompt: Object.fromEntries(prompt.map((p) => [p.method, p.median <= 50])),
    alloc: dispatcherCases.every((a) => a.gcs.max === 0 && a.bytes.median < 0.01),
    fanout: fit.r2 >= 0.99 && mvals.every((v) => v > 0) && marginalSpread <= 1.5,
  };
  // Other work on the machine while each bench process ran (absent in raw files of older runs).
  const others = (b) => (data.contention?.[b] ?? []).map((e) => (e.otherCores == null ? undefined : e.otherCores + e.stealCores));
  const allEnv = Object.values(data.contention ?? {}).flat();
  const contention = allEnv.some((e) => e.otherCores != null)
    ? {
        other: allEnv.map((e) => e.otherCores).filter((v) => v != null),
        steal: allEnv.map((e) => e.stealCores).filter((v) => v != null),
        immediate: others('immediate'),
        prompt: others('prompt'),
      }
    : undefined;
  return { immediate, prompt, fanout, alloc, dispatcherCases, control, targets, contention };
}

// ---------------------------------------------------------------------------------------
// Report

const ns = (v) => {
  if (!Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a < 10) return v.toFixed(2);
  if (a < 100) return v.toFixed(1);
  return Math.round(v).toLocaleString('en-US');
};
const int = (v) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '–');
const x2 = (v) => `${v.toFixed(2)}×`;
const bytes = (v) => (v === 0 ? '0' : Math.abs(v) < 0.001 ? v.toExponential(1) : Number(v.toPrecision(2)).toString());
const spread = (s) => `${ns(s.median)} (${ns(s.p25)}–${ns(s.p75)})`;
const range = (s) => (s.runs > 1 ? `${ns(s.runMin)}–${ns(s.runMax)}` : '–');
const met = (ok) => (ok ? '**met**' : '**not met**');

function renderPlots(a, plotsDir) {
  mkdirSync(plotsDir, { recursive: true });
  const files = [];
  const write = (name, svg) => {
    const file = path.join(plotsDir, name);
    writeFileSync(file, svg);
    files.push(file);
  };
  const rows = a.fanout.rows;
  const maxN = rows[rows.length - 1].subscribers;
  const f = a.fanout.fit;
  write(
    'pubsub-fanout.svg',
    lineChart({
      title: 'Fan-out: ns per publish + flush against subscribers',
      subtitle: `one message, one hook per subscriber; fit ${f.slope.toFixed(2)} ns × n + ${f.intercept.toFixed(1)} ns, R² = ${f.r2.toFixed(5)}`,
      xLabel: 'subscribers',
      yLabel: 'ns per publish (median)',
      series: [
        { name: 'measured (median of runs)', points: rows.map((r) => ({ x: r.subscribers, y: r.median, lo: r.p25, hi: r.p75 })) },
        {
          name: 'least-squares line',
          dashed: true,
          markers: false,
          points: [0, maxN].map((n) => ({ x: n, y: f.intercept + f.slope * n })),
        },
      ],
      width: 640,
    }),
  );
  write(
    'pubsub-fanout-delivery.svg',
    lineChart({
      title: 'Fan-out: ns per delivery (ns per publish ÷ subscribers)',
      subtitle: 'flat = linear scaling; the fixed cost of publish + flush is spread over fewer hooks on the left',
      xLabel: 'subscribers',
      yLabel: 'ns per delivery',
      xLog: true,
      series: [
        {
          name: 'ns per delivery',
          points: rows.map((r) => ({ x: r.subscribers, y: r.median / r.subscribers, lo: r.p25 / r.subscribers, hi: r.p75 / r.subscribers })),
        },
      ],
      refLines: [{ value: f.slope, label: 'slope' }],
      valueLabels: true,
      width: 640,
    }),
  );
  const im = a.immediate;
  write(
    'pubsub-immediate.svg',
    barChart({
      title: 'Immediate delivery, one subscriber: ns per call',
      subtitle: 'same processes, interleaved; target: publish within 2× of EventEmitter.emit',
      yLabel: 'ns per call (median)',
      groups: ['EventEmitter.emit\n1 listener', 'publish → hook\nimmediate', 'publish → hook\nalert calling flush'],
      series: [
        {
          name: 'median of runs',
          values: [im.emit.median, im.publish.median, im.queue.median],
          lo: [im.emit.p25, im.publish.p25, im.queue.p25],
          hi: [im.emit.p75, im.publish.p75, im.queue.p75],
        },
      ],
      refLines: [{ value: 2 * im.emit.median, label: '2× emit' }],
      valueLabels: true,
      width: 560,
    }),
  );
  write(
    'pubsub-prompt.svg',
    barChart({
      title: `Prompt delivery: ns per message, bursts of ${a.prompt[0].burst}`,
      subtitle: 'publishes + one libevent loop pass (event_active, flush callback); target ≤ 50 ns',
      yLabel: 'ns per message (median)',
      groups: a.prompt.map((p) => p.method),
      series: [{ name: 'median of runs', values: a.prompt.map((p) => p.median), lo: a.prompt.map((p) => p.p25), hi: a.prompt.map((p) => p.p75) }],
      refLines: [{ value: 50, label: '50 ns' }],
      valueLabels: true,
      width: 560,
    }),
  );
  return files;
}

function renderSection(data, a) {
  const { machine: m, loadavg } = data;
  const R = data.rounds;
  const procs = R === 1 ? 'one process' : `${R} processes`;
  const mitataCases = [a.immediate.emit, a.immediate.publish, a.immediate.queue, ...a.prompt, ...a.fanout.rows];
  const batches = [...new Set(mitataCases.map((c) => c.callsPerSample))];
  const batchText =
    batches.length === 1 && batches[0] > 1
      ? `every sample is a batch of ${int(batches[0])} calls`
      : `samples are batches of ${batches.map(int).join(' or ')} calls (1 = single calls, clock reads included)`;
  const L = [];
  const p = (s = '') => L.push(s);
  p('<!-- pubsub:begin -->');
  p('<!-- Generated by bench/run-pubsub.mjs (npm run bench:pubsub); edits between these markers are overwritten. -->');
  p('## Publish–subscribe');
  p();
  p(
    `Measured ${m.date.slice(0, 10)} by \`npm run bench:pubsub\`: the four benches \`bench/pubsub-*.ts\`, each in a fresh \`node --expose-gc\` process, one after another, ` +
      `${R} round${R > 1 ? 's' : ''} of all four. ` +
      'The pure-TypeScript layers (dispatch, pubsub) are measured directly; prompt delivery goes through the mainloop and the libevent binding.',
  );
  p();
  p('| machine | |');
  p('|---|---|');
  p(`| CPU | ${m.cpu}, ${m.cores} cores |`);
  p(`| memory | ${m.memoryGiB} GiB |`);
  p(`| kernel | ${m.kernel} |`);
  p(`| Node | ${m.node} |`);
  p(`| libevent | ${m.libevent} (system library, through this project's addon) |`);
  p(`| commit | ${m.commit} |`);
  p(`| 1-min load average | ${loadavg.start.toFixed(2)} at start, ${loadavg.max.toFixed(2)} at most, ${loadavg.end.toFixed(2)} at end |`);
  const cont = a.contention;
  if (cont) {
    const sm = (xs) => `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;
    p(`| other work while a bench ran | ${sm(cont.other)} cores busy with other processes, ${sm(cont.steal)} cores stolen by the hypervisor: median (min–max) over the bench processes |`);
  }
  p();
  p(
    '**How the figures are made.** Timing uses mitata 1.x (`measure`). Within a process every case runs in several interleaved rounds (5 for immediate, 3 for fan-out and prompt) and the samples are pooled, so slow phases of a busy machine hit all cases alike; ' +
      `mitata warms each function up, and ${batchText} (\`bench/pubsub-common.ts\` makes mitata batch every case the same way), so figures are ns per call. ` +
      (R === 1
        ? 'A cell "median (p25–p75)" is the median of the pooled samples with their quartiles; with one process there is no "runs" range. '
        : `A cell "median (p25–p75)" is the median over the ${procs} of each process's median, with the median of their quartiles; "runs" is the lowest and highest process median. `) +
      'Payloads are preallocated everywhere: only delivery is measured.',
  );
  p();

  // Targets.
  const im = a.immediate;
  const t = a.targets;
  p('**Targets** (issue 3):');
  p();
  p('| target | result | |');
  p('|---|---|---|');
  const runsNote = (text) => (R > 1 ? ` (runs ${text})` : '');
  p(`| immediate delivery within 2× of \`EventEmitter.emit\` | ${x2(im.ratio.median)}${runsNote(`${x2(im.ratio.min)}–${x2(im.ratio.max)}`)} | ${met(t.immediate)} |`);
  for (const pr of a.prompt) {
    p(`| prompt delivery ≤ 50 ns per message, bursts of ${pr.burst}, ${pr.method} | ${pr.median.toFixed(2)} ns${runsNote(range(pr))} | ${met(t.prompt[pr.method])} |`);
  }
  const worstGc = Math.max(...a.dispatcherCases.map((c) => c.gcs.max));
  const worstBytes = Math.max(...a.dispatcherCases.map((c) => c.bytes.median));
  p(
    `| no allocation per message | ${worstGc} collections in any run of ${int(a.dispatcherCases[0].messages)} messages, ≤ ${bytes(worstBytes)} bytes/message (control: ${ns(a.control.gcs.median)} collections) | ${met(t.alloc)} |`,
  );
  p(
    `| linear fan-out, 1 to ${int(a.fanout.rows[a.fanout.rows.length - 1].subscribers)} subscribers | R² = ${a.fanout.fit.r2.toFixed(5)}; ns per added subscriber ${a.fanout.marginal.map((m) => ns(m.ns)).join(', ')} (${a.fanout.marginal.map((m) => `${m.from}→${int(m.to)}`).join(', ')}) | ${met(t.fanout)} |`,
  );
  p();
  if (cont && median(cont.other) >= 0.25) {
    p(
      `The machine was shared: other processes kept a median of ${median(cont.other).toFixed(2)} of its ${m.cores} cores busy while the benches ran, so the figures are noisy. ` +
        'The immediate and prompt sections list each run with the competing load measured during it.',
    );
    p();
  }

  // Immediate.
  p('### Immediate delivery, one subscriber (`pubsub-immediate`)');
  p();
  p(
    '`Publisher.publish` → hook against `EventEmitter.emit` with one listener, in the same process and run. ' +
      "The mainloop's `'immediate'` policy installs the channel alert `flushImmediately`, which the dispatcher recognises: while the channel's queue is empty it delivers straight from `send`, with the same order, disposal and error handling as an alert that flushes (\`test/dispatch/dispatcher.test.ts\` runs the two side by side). " +
      'The third case is a hand-written alert that calls `flush`, which takes the way through the channel queue.',
  );
  p();
  p('| case | ns per call, median (p25–p75) | runs | ratio to emit |');
  p('|---|---:|---:|---:|');
  p(`| \`EventEmitter.emit\`, 1 listener | ${spread(im.emit)} | ${range(im.emit)} | 1 |`);
  p(`| \`publish\` → hook, immediate (\`flushImmediately\`) | ${spread(im.publish)} | ${range(im.publish)} | **${x2(im.ratio.median)}** |`);
  p(`| \`publish\` → hook, alert calling \`flush\` (through the queue) | ${spread(im.queue)} | ${range(im.queue)} | ${x2(im.queueRatio.median)} |`);
  p();
  const withOther = (vals, others, f) => vals.map((v, i) => (others?.[i] != null ? `${f(v)} (${others[i].toFixed(2)})` : f(v))).join(', ');
  const otherNote = cont ? ' (in parentheses: cores taken by other processes and by the hypervisor while that process ran)' : '';
  p(
    `Ratios are taken within each process (median publish / median emit of the same run) and then the median over the runs; per run${otherNote}: ${withOther(im.ratio.perRun, cont?.immediate, (r) => r.toFixed(2))}.`,
  );
  p();
  p('![immediate delivery, ns per call](plots/pubsub-immediate.svg)');
  p();

  // Prompt.
  const burst = a.prompt[0].burst;
  p('### Prompt delivery through the mainloop (`pubsub-prompt`)');
  p();
  p(
    `Bursts of ${burst} publishes on a \`'prompt'\` channel, then one \`base.loop(EVLOOP.ONCE)\`: the first publish makes the channel's libevent event active (\`event_active\`), ` +
      `the loop pass runs its callback, which flushes the ${burst} messages and calls \`loopcontinue\`. The time of the whole burst, libevent wake-up included, is divided by ${burst}. ` +
      'After every pass the bench checks that all messages published so far were delivered. One base per backend, both in the same process.',
  );
  p();
  p('| backend | ns per message, median (p25–p75) | runs |');
  p('|---|---:|---:|');
  for (const pr of a.prompt) p(`| ${pr.method} | ${spread(pr)} | ${range(pr)} |`);
  p();
  if (R > 1) {
    p(`Per run${otherNote}: ${a.prompt.map((pr) => `${pr.method} ${withOther(pr.perRun, cont?.prompt, ns)}`).join('; ')}.`);
    p();
  }
  const disp = a.dispatcherCases.find((c) => c.name.startsWith('Publisher'));
  if (disp) {
    p(
      `Of this, about ${ns(disp.ns.median)} ns per message is the typed layer and dispatcher alone (publish + flush in bursts of ${disp.burst}, timed in \`pubsub-alloc\` below); ` +
        `the rest is one event activation, one loop pass and one JS callback per ${burst} messages.`,
    );
    p();
  }
  p('![prompt delivery, ns per message](plots/pubsub-prompt.svg)');
  p();

  // Alloc.
  const c0 = a.alloc[0];
  p('### No allocation per message (`pubsub-alloc`)');
  p();
  p(
    `${int(c0.messages)} messages per run through send + flush in bursts of ${c0.burst} (what prompt delivery does), ${c0.runs} runs per case (${procs}), payload preallocated. ` +
      'For each run: two forced GCs, heapUsed noted, the messages pushed, heapUsed noted again without forcing GC. ' +
      '"Growth" is the difference divided by the number of messages; "collections" counts the GCs that started during the run (`PerformanceObserver` `gc` entries); ' +
      '"retained" is heapUsed after forced GCs at the end minus the start (negative: smaller than before). An allocation of even 16 bytes per message would be 160 MB over a run and force dozens of scavenges; ' +
      'the control, a queue that wraps each message in a small object and does nothing else, shows what that looks like.',
  );
  p();
  p('| case | growth, bytes/message: median (min–max) | collections during the run: median (min–max) | retained after GC, bytes: median (min–max) | ns/message, median |');
  p('|---|---:|---:|---:|---:|');
  for (const c of a.alloc) {
    const label = c.name.replace('Dispatcher.send + flush', '`Dispatcher.send` + `flush`').replace('Publisher.publish + flush (dispose fn)', '`Publisher.publish` + `flush`, type with a dispose function');
    p(
      `| ${label} | ${bytes(c.bytes.median)} (${bytes(c.bytes.min)}–${bytes(c.bytes.max)}) | ${int(c.gcs.median)} (${int(c.gcs.min)}–${int(c.gcs.max)}) | ${int(c.retained.median)} (${int(c.retained.min)}–${int(c.retained.max)}) | ${ns(c.ns.median)} |`,
    );
  }
  p();
  p(
    t.alloc
      ? `The dispatcher allocates nothing per message: no collection started in any of the runs, and the heap grew by at most ${bytes(Math.max(...a.dispatcherCases.map((c) => c.bytes.max)))} bytes per message (a few KB per run in all). ` +
          `The control triggers about ${int(a.control.gcs.median)} collections in the same number of messages, so the method does see per-message allocation; its small "growth" is what was left since the last scavenge.`
      : 'Per-message allocation was seen in the dispatcher cases (collections during a run or growth ≥ 0.01 bytes/message): see the table.',
  );
  p();

  // Fan-out.
  const fan = a.fanout;
  p('### Fan-out, 1 to 1,000 subscribers (`pubsub-fanout`)');
  p();
  p(
    "One message with n subscribers (Tor's many-hooks case), each subscriber a distinct closure registered by its own subsystem; one operation is one publish + one flush of the channel, so it runs every hook once. " +
      'The bench checks at the end that every subscriber received the same, non-zero number of messages.',
  );
  p();
  p('| subscribers | ns per publish, median (p25–p75) | runs | ns per delivery |');
  p('|---:|---:|---:|---:|');
  for (const r of fan.rows) p(`| ${int(r.subscribers)} | ${spread(r)} | ${range(r)} | ${ns(r.median / r.subscribers)} |`);
  p();
  const slopes = fan.roundFits.map((f) => f.slope);
  const r2s = fan.roundFits.map((f) => f.r2);
  p(
    `Least-squares line through the medians: **${fan.fit.slope.toFixed(2)} ns per subscriber + ${fan.fit.intercept.toFixed(1)} ns fixed, R² = ${fan.fit.r2.toFixed(5)}**` +
      (fan.roundFits.length > 1
        ? ` (fitted per run: slope ${Math.min(...slopes).toFixed(2)}–${Math.max(...slopes).toFixed(2)} ns, R² ${Math.min(...r2s).toFixed(5)}–${Math.max(...r2s).toFixed(5)}). `
        : '. ') +
      'An unweighted fit is dominated by the largest n, so linearity is also checked decade by decade, as the cost of one more subscriber between consecutive powers of ten: ' +
      `${fan.marginal.map((m) => `${ns(m.ns)} ns from ${int(m.from)} to ${int(m.to)}`).join(', ')} (largest / smallest = ${fan.marginalSpread.toFixed(2)}; quadratic growth would make it rise about tenfold per decade). ` +
      'The target counts as met when R² ≥ 0.99 and these marginal costs stay within a factor of 1.5 of each other. ' +
      'The cost per delivery falls towards the slope as the fixed cost of publish + flush is shared by more hooks.',
  );
  p();
  p('![fan-out, ns per publish against subscribers](plots/pubsub-fanout.svg)');
  p();
  p('![fan-out, ns per delivery](plots/pubsub-fanout-delivery.svg)');
  p();

  // Running.
  p('### Running the benches');
  p();
  p(
    'Node 20 cannot run TypeScript directly and vitest 4 no longer ships vite-node, so the benches are compiled with `tsc` into `bench/out/` (git-ignored) and run with plain Node. ' +
      '`npm run bench:pubsub` does all of it (`node bench/run-pubsub.mjs --rounds N` for another number of rounds, `--from bench/out/pubsub-latest.json` to re-render this section and its plots, `--no-docs` to leave the docs alone). By hand:',
  );
  p();
  p('```sh');
  p('npx tsc -p bench/tsconfig.pubsub.json');
  p('node --expose-gc bench/out/bench/pubsub-immediate.js');
  p('node --expose-gc bench/out/bench/pubsub-prompt.js     # needs the addon in build/Release');
  p('node --expose-gc bench/out/bench/pubsub-fanout.js');
  p('node --expose-gc bench/out/bench/pubsub-alloc.js      # needs --expose-gc');
  p('```');
  p();
  p(
    'Each prints one JSON line per result, with the machine (`os.cpus()[0].model`, core count, platform) and the Node version. ' +
      '`pubsub-prompt` loads the addon from `build/Release/node_libevent.node`, or from `NODE_LIBEVENT_ADDON` (the runner copies the addon aside and points this variable at the copy, so a rebuild during the run cannot break it).',
  );
  p();
  p('Raw figures of the last run: `bench/out/pubsub-latest.json` (not committed).');
  p('<!-- pubsub:end -->');
  return L.join('\n') + '\n';
}

function main() {
  let data;
  if (opt.from) {
    data = JSON.parse(readFileSync(path.resolve(opt.from), 'utf8'));
  } else {
    data = runAll();
    const outDir = path.join(root, 'bench/out');
    mkdirSync(outDir, { recursive: true });
    const stamp = data.machine.date.replace(/[:.]/g, '-');
    writeFileSync(path.join(outDir, `pubsub-${stamp}.json`), JSON.stringify(data, null, 1));
    writeFileSync(path.join(outDir, 'pubsub-latest.json'), JSON.stringify(data, null, 1));
    log(`raw figures: bench/out/pubsub-${stamp}.json`);
  }
  const a = analyse(data);
  log(
    `immediate/emit ${a.immediate.ratio.median.toFixed(2)}; prompt ${a.prompt.map((p) => `${p.method} ${p.median.toFixed(1)} ns`).join(', ')}; ` +
      `alloc GCs ${a.dispatcherCases.map((c) => c.gcs.max).join('/')} (control ${a.control.gcs.median}); fan-out ${a.fanout.fit.slope.toFixed(2)} ns/subscriber, R² ${a.fanout.fit.r2.toFixed(5)}, marginal ${a.fanout.marginal.map((m) => m.ns.toFixed(2)).join('/')}`,
  );
  if (opt['no-docs']) {
    log('docs not written (--no-docs)');
    return;
  }
  for (const f of renderPlots(a, path.join(root, 'docs/plots'))) log(`wrote ${rel(f)}`);
  writeSection(path.join(root, 'docs/benchmarks.md'), 'pubsub', renderSection(data, a));
  log('wrote docs/benchmarks.md (pubsub section)');
}

try {
  main();
} catch (err) {
  process.stderr.write(`bench/run-pubsub.mjs: ${err.stack ?? err}\n`);
  process.exit(1);
}
