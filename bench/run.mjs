#!/usr/bin/env node
// The loop benchmarks: how far is the binding from C per callback, in both run modes, on every
// backend; how does it compare with Node's own `net` on the same socketpairs; and what does an
// in-place rewrite of every pending event's callback cost. Writes the "Loop" section of
// docs/benchmarks.md and its plots.
//
// Every configuration runs in fresh processes, one at a time. Each round runs the C program
// and every binding variant of every configuration once, in an order that rotates between
// rounds; each process warms up and then times several runs. Figures are medians over all
// timed runs of all rounds, with p25–p75; ratios are of those medians, and also paired by round.
//
// Usage: node bench/run.mjs [--rounds 3] [--runs 10] [--warmup 5] [--w 1000]
//          [--only loop|rewrite] [--targets] [--quick] [--no-docs] [--from bench/out/loop-latest.json]
// --targets runs only the configurations of issue 8's targets (a partial run: no report).
// Needs the compiled package and a C compiler; `npm run bench:loop` builds the package first.
import { copyFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

import { Load, log, machine, nodeArgv, paired, pinAddon, root, rotate, runChild, suite, summarize } from './lib/harness.mjs';
import { bars, bold, count, machineTable, met, num, ratio, sharedNote, spread, table } from './lib/report.mjs';

const TARGET = { method: 'epoll', n: 1000, a: 100 };
const LOW = { method: 'epoll', n: 100, a: 1 };
const GOALS = { exclusive: 1.2, cooperative: 1.3, cooperativeLow: 1.5, net: 2 };
// Extra variants at the target configuration: how much of the binding's distance is plain
// system-call choice and process shape (see callbacks.c), and Node's own `net`.
const C_VARIANTS = { 'c-rw': ['-s', 'rw'], 'c-rw-thread': ['-s', 'rw', '-t', '1'] };
const isTarget = (c) => c.method === TARGET.method && c.n === TARGET.n && c.a === TARGET.a;
const isLow = (c) => c.method === LOW.method && c.n === LOW.n && c.a === LOW.a;
// run({ microtasks: 'callback' }): the cost of draining nextTicks and promise jobs after every
// callback instead of after each pass (the default), at the two cooperative targets.
const DRAIN_EACH = 'cooperative-callback';

function configs(methods, hardLimit) {
  const out = [];
  for (const method of ['epoll', 'poll', 'select'].filter((m) => methods.includes(m))) {
    for (const n of [100, 1000, 5000]) {
      for (const a of [1, 100]) {
        // select: Debian's fortified libevent aborts on an fd >= FD_SETSIZE (1024).
        if (method === 'select' && 2 * n + 100 >= 1024) continue;
        const fds = 2 * n + 200;
        out.push({ method, n, a, fds, skip: fds > hardLimit ? `needs ${fds} fds, hard limit ${hardLimit}` : undefined });
      }
    }
  }
  return out;
}

function argv(impl, cell, cBin, runs = cell.runs, warmup = cell.warmup) {
  const k = { n: cell.n, a: cell.a, w: cell.w, runs, warmup };
  if (impl === 'c' || impl in C_VARIANTS) {
    const flags = ['-m', cell.method, '-n', k.n, '-a', k.a, '-w', k.w, '-r', k.runs, '-k', k.warmup].map(String);
    return [cBin, ...flags, ...(C_VARIANTS[impl] ?? [])];
  }
  const common = ['--n', k.n, '--a', k.a, '--w', k.w, '--runs', k.runs, '--warmup', k.warmup];
  if (impl === 'net') return nodeArgv('loop-net.mjs', common);
  if (impl === DRAIN_EACH) return nodeArgv('loop-callbacks.mjs', ['--mode', 'cooperative', '--microtasks', 'callback', '--method', cell.method, ...common]);
  return nodeArgv('loop-callbacks.mjs', ['--mode', impl, '--method', cell.method, ...common]);
}

async function runLoop(opt, cBin, hardLimit) {
  const { supportedMethods } = await import('../dist/index.js');
  const [rounds, runs, warmup, w] = [opt.rounds, opt.runs, opt.warmup, opt.w].map(Number);
  const cells = configs(supportedMethods(), hardLimit).filter((c) => !opt.targets || isTarget(c) || isLow(c)).map((c) => ({ ...c, w, samples: {}, processMedians: {}, cpu: {}, cpuProcessMedians: {} }));
  for (const cell of cells.filter((c) => !c.skip)) {
    // Probe with the C program: very slow configurations (poll/select with many idle fds) get
    // fewer timed runs per process, never fewer than 5.
    const probe = runChild(argv('c', cell, cBin, 1, 1), { fds: cell.fds });
    const slow = (probe.usPerCallback[0] * (cell.a + w)) / 1000 > 100;
    cell.runs = slow ? Math.min(runs, 5) : runs;
    cell.warmup = slow ? Math.min(warmup, 2) : warmup;
    cell.impls = ['c', 'exclusive', 'cooperative', ...(isTarget(cell) || isLow(cell) ? [DRAIN_EACH] : []), ...(isTarget(cell) ? [...Object.keys(C_VARIANTS), 'net'] : [])];
    for (const i of cell.impls) [cell.samples[i], cell.processMedians[i], cell.cpu[i], cell.cpuProcessMedians[i]] = [[], [], [], []];
  }
  const load = new Load();
  for (let round = 0; round < rounds; round++) {
    for (const cell of cells.filter((c) => !c.skip)) {
      for (const impl of rotate(cell.impls, round)) {
        load.sample();
        const res = runChild(argv(impl, cell, cBin), { fds: cell.fds });
        load.note(res.env);
        if (res.errors) throw new Error(`${impl} ${cell.method} n=${cell.n} a=${cell.a}: ${res.errors} I/O errors`);
        cell.samples[impl].push(...res.usPerCallback);
        const med = summarize(res.usPerCallback).median;
        cell.processMedians[impl].push(med);
        cell.cpu[impl].push(...res.cpuUsPerCallback);
        cell.cpuProcessMedians[impl].push(summarize(res.cpuUsPerCallback).median);
        log(`round ${round + 1}/${rounds}  ${cell.method.padEnd(6)} n=${String(cell.n).padEnd(4)} a=${String(cell.a).padEnd(3)} ${impl.padEnd(12)} ${med.toFixed(2)} µs/callback`);
      }
    }
  }
  return { rounds, runsPerProcess: runs, warmupPerProcess: warmup, w, load: load.done(), cells, targetsOnly: opt.targets };
}

function runRewrite(opt) {
  const repeats = opt.quick ? 5 : 21;
  return [10_000, 100_000].map((events) => {
    const pairs = Math.min(Math.floor(events / 100), 1000);
    const res = runChild(nodeArgv('rewrite.mjs', ['--events', events, '--repeats', repeats, '--warmup', 3], ['--expose-gc']), { fds: 2 * pairs + 200 });
    log(`rewrite ${events}: rewire ${summarize(res.rewireNsPerEvent).median.toFixed(0)} ns/event, setter ${summarize(res.setterNsPerEvent).median.toFixed(0)} ns/event`);
    return res;
  });
}

async function run(opt) {
  if (opt.quick) Object.assign(opt, { rounds: '1', runs: '5', warmup: '2' });
  if (!existsSync(path.join(root, 'dist/index.js'))) throw new Error('dist/ is missing: run `npx tsc -p tsconfig.build.json` (npm run bench:loop does)');
  const built = spawnSync('/bin/sh', [path.join(root, 'bench/c/build.sh')], { cwd: root, encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`bench/c/build.sh failed:\n${built.stderr}`);
  const pinned = pinAddon();
  const cBin = path.join(pinned.dir, 'callbacks');
  copyFileSync(built.stdout.trim().split('\n').pop(), cBin);
  spawnSync('chmod', ['+x', cBin]);
  const m = { ...(await machine(['lib', 'native', 'bench/c', 'bench/loop-callbacks.mjs', 'bench/loop-net.mjs', 'bench/rewrite.mjs'])), addonBuilt: pinned.built };
  log(`${m.cpu}, ${m.cores} cores, ${m.kernel}, Node ${m.node}, libevent ${m.libevent}`);
  const hard = Number(spawnSync('/bin/sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout) || Infinity;
  return {
    machine: m,
    loop: !opt.only || opt.only === 'loop' ? await runLoop(opt, cBin, hard) : undefined,
    rewrite: !opt.only || opt.only === 'rewrite' ? runRewrite(opt) : undefined,
  };
}

// ---------------------------------------------------------------------------------------
// The report

const stats = (cell, impl, key = 'samples') => (cell[key]?.[impl]?.length ? summarize(cell[key][impl]) : undefined);
const us = (v) => num(v);

/** Binding / C (or net / binding) of pooled medians, the crosswise quartile band, and paired by round. */
function versus(cell, impl, base = 'c') {
  const b = stats(cell, impl);
  const c = stats(cell, base);
  if (!b || !c) return undefined;
  const [bc, cc] = [stats(cell, impl, 'cpu'), stats(cell, base, 'cpu')];
  return { median: b.median / c.median, band: [b.p25 / c.p75, b.p75 / c.p25], paired: paired(cell.processMedians[impl], cell.processMedians[base]), cpu: bc && cc ? bc.median / cc.median : NaN };
}
const pairedText = (v) =>
  (v.paired ? `; paired by round, median ${ratio(v.paired.median)}, min–max ${ratio(v.paired.min)}–${ratio(v.paired.max)} over ${count(v.paired.count, 'round')}` : '') +
  '';
const verdict = (label, v, goal, below = true) => {
  const ok = (x) => met(below ? x <= goal : x >= goal);
  const cpu = Number.isFinite(v.cpu) ? `; on CPU time ${ratio(v.cpu)}, ${ok(v.cpu)}` : '';
  return `- ${label}: wall clock ${ratio(v.median)}, ${ok(v.median)} (quartile band ${ratio(v.band[0])}–${ratio(v.band[1])}${pairedText(v)})${cpu}.`;
};

function render({ machine: m, loop, rewrite, quick }) {
  const L = [];
  const p = (s = '') => L.push(s);
  const plots = {};
  p('## Loop');
  p();
  p(`Measured ${m.date.slice(0, 10)} by \`npm run bench:loop\`${quick ? ' (**quick run**: fewer repeats, figures are indicative only)' : ''}. The C program, the binding and Node's \`net\` ran in the same session on the same machine, one process at a time.`);
  p();
  p(machineTable(m, loop.load, `system library; C baseline built with \`${m.cc}\`, -O2`));
  p(sharedNote(loop.load.max, m.cores));

  const runnable = loop.cells.filter((c) => !c.skip);
  const t = runnable.find(isTarget);
  p('### Callbacks: µs per callback, C vs binding');
  p();
  p(
    `Workload (libevent's \`bench.c\` kind): n socketpairs, each with a persistent READ event; a of them, evenly spaced, get one byte; each callback reads its byte and, while writes remain, writes one byte to the next pair, until w = ${loop.w} writes have been made. ` +
      'A run is timed from the first loop call until every byte written has been read (a + w callbacks, each with one read and at most one write system call).',
  );
  p();
  p("- **C**: `bench/c/callbacks.c`, this project's program linking libevent directly: `event_base_loop(base, EVLOOP_ONCE|EVLOOP_NONBLOCK)` in a loop, `recv`/`send` like bench.c.");
  p('- **exclusive**: `base.loop(EVLOOP.ONCE | EVLOOP.NONBLOCK)` in a JS loop, the callback doing `io.read`/`io.write` (`bench/loop-callbacks.mjs`).');
  p("- **cooperative**: one `await base.run()` per run, inside Node's loop; the last callback calls `base.loopbreak()`.");
  p("- **net** (target configuration only): the same socketpairs as `net.Socket`s inside Node's own loop, a `'data'` listener per reading end writing on with `socket.write` (`bench/loop-net.mjs`).");
  p();
  p(
    `Each process warms up (${loop.warmupPerProcess} runs) and then times ${loop.runsPerProcess} runs (5 and 2 for configurations slower than 100 ms a run); ${count(loop.rounds, 'round')}, the order of the variants rotating between rounds. ` +
      'Cells: median µs per callback (wall clock) over all timed runs, with p25–p75 in parentheses. Ratios: median binding / median C. ' +
      'The CPU-time ratios use each run\'s CPU time of the process instead (user + system, all threads), which does not count time spent descheduled by other load: on a busy machine they are the steadier figure. ' +
      "select runs only for n = 100: more than 1023 fds abort Debian's fortified libevent.",
  );
  p();
  p(
    table(
      ['backend', 'n:', 'a:', 'C:', 'exclusive:', 'cooperative:', 'exclusive / C:', 'cooperative / C:', 'CPU time: exclusive / C:', 'cooperative / C:'],
      loop.cells.map((c) => {
        if (c.skip) return [c.method, c.n, c.a, `skipped: ${c.skip}`, '', '', '', '', '', ''];
        const b = c === t || (c.method === LOW.method && c.n === LOW.n && c.a === LOW.a) ? bold : (s) => s;
        const [ex, co] = [versus(c, 'exclusive'), versus(c, 'cooperative')];
        return [c.method, c.n, c.a, spread(stats(c, 'c')), spread(stats(c, 'exclusive')), spread(stats(c, 'cooperative')), b(ratio(ex?.median)), b(ratio(co?.median)), ratio(ex?.cpu), ratio(co?.cpu)];
      }),
    ),
  );
  const low = runnable.find((c) => c.method === LOW.method && c.n === LOW.n && c.a === LOW.a);
  if (t) {
    p('**Targets** (issue 8; epoll):');
    p();
    p(verdict(`exclusive ≤ ${GOALS.exclusive}× C at n = 1000, a = 100`, versus(t, 'exclusive'), GOALS.exclusive));
    p(verdict(`cooperative ≤ ${GOALS.cooperative}× C at n = 1000, a = 100`, versus(t, 'cooperative'), GOALS.cooperative));
    if (low) p(verdict(`cooperative ≤ ${GOALS.cooperativeLow}× C at n = 100, a = 1`, versus(low, 'cooperative'), GOALS.cooperativeLow));
    const vsNet = ['exclusive', 'cooperative'].map((impl) => [impl, versus(t, 'net', impl)]).filter(([, v]) => v);
    for (const [impl, v] of vsNet) p(verdict(`binding (${impl}) ≥ ${GOALS.net}× faster than \`net\` at n = 1000, a = 100 (net / binding)`, v, GOALS.net, false));
    p();
    p("Each verdict uses the ratio of the pooled medians, on the wall clock and on CPU time. The quartile band sets one side's p25 and p75 against the other's p75 and p25; the paired ratios compare the processes of the same round.");
    p();
    const [c, rw, rwt, ex, nt] = ['c', 'c-rw', 'c-rw-thread', 'exclusive', 'net'].map((i) => stats(t, i));
    if (c && rw && rwt && ex) {
      p('**Where the distance comes from** (same configuration, same rounds). The C program can also use `read`/`write` (as `io.read`/`io.write` do) and start one idle thread (a Node process always has several):');
      p();
      const cpuC = stats(t, 'c', 'cpu');
      const row = (label, s, impl) => {
        const cp = stats(t, impl, 'cpu');
        return [label, spread(s), ratio(s.median / c.median), spread(cp), ratio(cp?.median / cpuC?.median)];
      };
      const rows = [row('C, `recv`/`send`, single-threaded (the baseline)', c, 'c'), row('C, `read`/`write`, single-threaded', rw, 'c-rw'), row('C, `read`/`write`, one idle thread', rwt, 'c-rw-thread'), row('binding, exclusive', ex, 'exclusive')];
      if (nt) rows.push(row("Node's `net`, same socketpairs", nt, 'net'));
      p(table(['variant', 'µs per callback:', 'vs C:', 'CPU µs per callback:', 'vs C:'], rows));
      // On CPU time: steadier than the wall clock when other work shares the machine.
      const [cc, rwtc, exc] = ['c', 'c-rw-thread', 'exclusive'].map((i) => stats(t, i, 'cpu') ?? stats(t, i));
      const added = exc.median - cc.median;
      const kernel = Math.max(0, rwtc.median - cc.median);
      p(
        'Linux looks a descriptor up without touching its reference count only while a process has a single thread; with a second thread every `read`, `write` and `epoll_ctl` does an atomic get and put on the file. ' +
          `Of the ${us(added)} CPU µs per callback the binding adds here, ${us(kernel)} µs (${added > 0 ? Math.round(Math.min(1, kernel / added) * 100) : 0}%) also appear in the C program once it uses \`read\`/\`write\` and has a second thread` +
          (rwtc.p25 <= cc.p75 ? ' (the quartile bands of these two C variants overlap, so this share is uncertain)' : '') +
          ": that part comes from the system calls as a multi-threaded Node process makes them, not from the binding's own code. The rest is the JavaScript boundary between libevent's callbacks and the JS closures.",
      );
      p();
    }
  }
  const drainCells = [t, low].filter((c) => c && stats(c, DRAIN_EACH));
  if (drainCells.length) {
    p("**When promise jobs run in `run()`** (same rounds): by default nextTicks and promise jobs queued by callbacks run after each libevent pass; `run({ microtasks: 'callback' })` runs them after every callback, as Node does between its own callbacks, which takes one call into JavaScript per callback instead of one per pass:");
    p();
    p(
      table(
        ['configuration', 'per pass (default), µs per callback:', "`microtasks: 'callback'`, µs:", 'per pass / C:', "'callback' / C:", "'callback' / per pass:", 'CPU time: per pass / C:', "'callback' / C:"],
        drainCells.map((c) => {
          const [pass, each] = [versus(c, 'cooperative'), versus(c, DRAIN_EACH)];
          const own = versus(c, DRAIN_EACH, 'cooperative');
          return [`${c.method} n = ${c.n}, a = ${c.a}`, spread(stats(c, 'cooperative')), spread(stats(c, DRAIN_EACH)), ratio(pass?.median), ratio(each?.median), `${ratio(own?.median)} (CPU ${ratio(own?.cpu)})`, ratio(pass?.cpu), ratio(each?.cpu)];
        }),
      ),
    );
  }
  for (const method of [...new Set(runnable.map((c) => c.method))]) {
    const cells = runnable.filter((c) => c.method === method);
    const series = [['c', 'C (libevent direct)'], ['exclusive', 'binding, exclusive'], ['cooperative', 'binding, cooperative']].map(([impl, name]) => {
      const st = cells.map((c) => stats(c, impl));
      return { name, values: st.map((s) => s?.median), lo: st.map((s) => s?.p25), hi: st.map((s) => s?.p75) };
    });
    const vals = series.flatMap((s) => s.values).filter((v) => v > 0);
    plots[`loop-${method}.svg`] = bars({
      title: `${method}: µs per callback (median of all timed runs)`,
      subtitle: `n socketpairs, a active, w=${loop.w} writes; lower is better`,
      yLabel: 'µs per callback',
      groups: cells.map((c) => `n=${c.n}\na=${c.a}`),
      series,
      log: Math.max(...vals) / Math.min(...vals) > 30,
    });
    p(`![${method}: µs per callback](plots/loop-${method}.svg)`);
    p();
  }
  plots['loop-ratio.svg'] = bars({
    title: 'Binding / C, µs per callback (median ratio)',
    subtitle: `targets: exclusive ≤ ${GOALS.exclusive}×, cooperative ≤ ${GOALS.cooperative}× (epoll n=1000 a=100); x: backend, n/a`,
    yLabel: 'ratio to C',
    groups: runnable.map((c) => `${c.method}\n${c.n}/${c.a}`),
    series: ['exclusive', 'cooperative'].map((impl) => ({ name: `${impl} / C`, values: runnable.map((c) => versus(c, impl)?.median) })),
    refLines: [{ value: 1, label: '1× C' }, { value: GOALS.exclusive, label: `${GOALS.exclusive}×` }, { value: GOALS.cooperativeLow, label: `${GOALS.cooperativeLow}×` }],
    labels: false,
  });
  plots['loop-ratio-cpu.svg'] = bars({
    title: 'Binding / C, CPU µs per callback (median ratio)',
    subtitle: 'CPU time of the process (user + system), which time spent descheduled by other load does not inflate; x: backend, n/a',
    yLabel: 'ratio to C, CPU time',
    groups: runnable.map((c) => `${c.method}\n${c.n}/${c.a}`),
    series: ['exclusive', 'cooperative'].map((impl) => ({ name: `${impl} / C`, values: runnable.map((c) => versus(c, impl)?.cpu) })),
    refLines: [{ value: 1, label: '1× C' }, { value: GOALS.exclusive, label: `${GOALS.exclusive}×` }, { value: GOALS.cooperativeLow, label: `${GOALS.cooperativeLow}×` }],
    labels: false,
  });
  p('![binding / C ratios](plots/loop-ratio.svg)');
  p();
  p('![binding / C ratios on CPU time](plots/loop-ratio-cpu.svg)');
  p();

  p('### In-place rewrite');
  p();
  p(
    'Pending events on one epoll base: timers with distinct 10–20 minute timeouts, and 1% persistent socketpair READ events (fds are scarce). ' +
      '`base.rewire(ev => fn)` is timed as one whole call (map, checks, the native write of callback and argument words into every `struct event`, and the JS bookkeeping) and divided by the number of events; ' +
      '`ev.callback = fn` is timed as a loop over all events. Each repeat installs a different function. ' +
      `Median over ${rewrite[0].rewireNsPerEvent.length} repeats after 3 warm-up ones, p25–p75 in parentheses${rewrite[0].gcBetweenRepeats ? '; a full GC runs before each repeat, outside the timing' : ''}. ` +
      'After the repeats the script checks that libevent still counts every event as added and that an activation runs the last callback installed.',
  );
  p();
  const f0 = (v) => Math.round(v).toLocaleString('en-US');
  p(
    table(
      ['events:', 'of which socket READ:', '`base.rewire` ns/event:', '`base.rewire` whole call, ms:', '`ev.callback =` ns/event:'],
      rewrite.map((r) => {
        const rw = summarize(r.rewireNsPerEvent);
        return [f0(r.events), f0(r.ioEvents), spread(rw, f0), ((rw.median * r.events) / 1e6).toFixed(2), spread(summarize(r.setterNsPerEvent), f0)];
      }),
    ),
  );
  plots['rewrite.svg'] = bars({
    title: 'In-place callback rewrite: ns per pending event',
    subtitle: 'mostly timers, 1% socket READ events; lower is better',
    yLabel: 'ns per event',
    groups: rewrite.map((r) => `${r.events.toLocaleString('en-US')} events`),
    series: [['rewireNsPerEvent', 'base.rewire(map), whole call'], ['setterNsPerEvent', 'ev.callback = fn, per event']].map(([key, name]) => {
      const s = rewrite.map((r) => summarize(r[key]));
      return { name, values: s.map((x) => x.median), lo: s.map((x) => x.p25), hi: s.map((x) => x.p75) };
    }),
  });
  p('![in-place rewrite, ns per event](plots/rewrite.svg)');
  return { source: 'bench/run.mjs (npm run bench:loop)', markdown: L.join('\n'), plots };
}

await suite({
  name: 'loop',
  options: {
    rounds: { type: 'string', default: '3' },
    runs: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '5' },
    w: { type: 'string', default: '1000' },
    only: { type: 'string' },
    targets: { type: 'boolean', default: false },
  },
  run,
  render,
  complete: (d) => !!(d.loop && d.rewrite && !d.loop.targetsOnly),
});
