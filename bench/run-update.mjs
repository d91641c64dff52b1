#!/usr/bin/env node
// Runs the live-update benchmarks and writes the "Live update" section of docs/benchmarks.md
// (between <!-- update:begin --> and <!-- update:end -->, placed after the loop section; the
// rest of the file is kept), SVG plots in docs/plots/ and the raw figures in bench/out/
// (git-ignored).
//
//   pause     bench/update-pause.mjs --scenario mixed: 1k, 10k, 100k live events, every
//             strategy, epoll and poll; each configuration in fresh processes, --rounds times
//             in an order that rotates between rounds
//   clients   bench/update-pause.mjs --scenario clients: the echo service with 0 and 100
//             connected clients carrying traffic, every strategy, epoll and poll
//   overhead  bench/update-overhead.mjs: the echo service under the host vs the same handlers
//             on a plain base, alternating in one process; max(2 × --rounds, 8) processes per
//             backend (one process's pairs share a bias of a few percent, so many processes)
//   memory    bench/update-memory.mjs: 30 generations of an 8 MiB module, four techniques,
//             each in its own process
//
// Usage: node bench/run-update.mjs [--rounds 2] [--repeats 15] [--warmup 5] [--quick]
//          [--only pause,clients,overhead,memory] [--no-docs] [--from bench/out/update-latest.json]
// --quick: one round, fewer repeats, for trying things out; writes bench/out/ but not the docs.
// --only: runs some parts; the docs are written only from a complete run (or --from).
// Needs the compiled package: `npm run bench:update` runs tsc first.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { summarize } from './lib/stats.mjs';
import { fdLimits, pinAddon, root, shell, writeSection } from './lib/report.mjs';
import { barChart } from './lib/svg.mjs';

const rel = (p) => path.relative(root, p);
const PARTS = ['pause', 'clients', 'overhead', 'memory'];
const STRATEGIES = ['inplace', 'readd', 'reinit', 'rebase'];
const METHODS = ['epoll', 'poll'];
const SIZES = [1000, 10_000, 100_000];
const MAX_PAIRS = 2000; // socketpairs in the mixed service (2 fds each); the rest are timers
const CLIENTS = [0, 100];
const KITSUNE_MS = [2.2, 2.8]; // vsftpd updates with no clients connected (Kitsune, OOPSLA 2012)

const { values: opt } = parseArgs({
  options: {
    rounds: { type: 'string', default: '2' },
    repeats: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '5' },
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'no-docs': { type: 'boolean', default: false },
    from: { type: 'string' },
  },
});

const log = (msg) => process.stderr.write(msg + '\n');

// ---------------------------------------------------------------------------------------
// Running

/** Runs a bench script in a fresh Node process (with --expose-gc) under a high enough fd limit. */
function runNode(script, args, fdsNeeded, limits) {
  const want = Math.max(limits.soft, fdsNeeded);
  if (want > limits.hard) throw new Error(`needs ${fdsNeeded} descriptors; the hard limit is ${limits.hard}`);
  const argv = [process.execPath, '--expose-gc', path.join(root, 'bench', script), ...args.map(String)];
  const r = spawnSync('/bin/sh', ['-c', `ulimit -n ${want} || exit 97; exec "$@"`, 'sh', ...argv], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`${script} ${args.join(' ')} exited with ${r.status ?? r.signal}\n${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

// The addon is copied aside for the whole run: a rebuild in the middle (node-gyp empties
// build/) must neither break the run nor mix two builds in one report.
async function machineInfo() {
  const { libeventVersion } = await import('../dist/index.js');
  const cpus = os.cpus();
  const commit = shell(`git -C '${root}' rev-parse --short HEAD`);
  // Only the code measured here: other benchmarks' work in progress does not count.
  const dirty = shell(`git -C '${root}' status --porcelain -- lib native 'bench/update-*' bench/versions bench/run-update.mjs bench/lib`) !== '';
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    libevent: libeventVersion(),
    commit: commit ? commit + (dirty ? ' (with uncommitted changes in lib/, native/ or the update benchmarks)' : '') : 'unknown',
    date: new Date().toISOString(),
  };
}

class Load {
  start = os.loadavg()[0];
  max = this.start;
  sample() {
    this.max = Math.max(this.max, os.loadavg()[0]);
  }
  done() {
    return { start: this.start, max: this.max, end: os.loadavg()[0] };
  }
}

const rotate = (list, k) => list.map((_, i) => list[(i + k) % list.length]);

function runPause(limits, rounds, repeats, warmup) {
  const cells = [];
  for (const method of METHODS) {
    for (const events of SIZES) {
      for (const strategy of STRATEGIES) {
        const pairs = Math.min(MAX_PAIRS, Math.floor(events / 10));
        cells.push({ method, events, strategy, pairs, runs: [] });
      }
    }
  }
  const load = new Load();
  for (let round = 0; round < rounds; round++) {
    for (const cell of rotate(cells, round * 5)) {
      load.sample();
      const res = runNode(
        'update-pause.mjs',
        ['--scenario', 'mixed', '--method', cell.method, '--strategy', cell.strategy, '--events', cell.events, '--pairs', cell.pairs, '--repeats', repeats, '--warmup', warmup],
        2 * cell.pairs + 200,
        limits,
      );
      cell.runs.push(res);
      const med = summarize(res.reports.map((r) => r.pauseMs)).median;
      log(`pause   round ${round + 1}/${rounds}  ${cell.method.padEnd(5)} ${String(cell.events).padStart(6)} events  ${cell.strategy.padEnd(7)} ${med.toFixed(2)} ms`);
    }
  }
  // Where the in-place rewire goes: the parts that can be timed on their own.
  const split = [];
  for (const method of METHODS) {
    for (const events of SIZES) {
      load.sample();
      const res = runNode('update-rewire-split.mjs', ['--method', method, '--events', events], 2 * Math.min(events / 100, 1000) + 200, limits);
      split.push(res);
      log(`split   ${method.padEnd(5)} ${String(events).padStart(6)} events  commit ${summarize(res.commitNsPerEvent).median.toFixed(0)} ns/event, native ${summarize(res.nativeNsPerEvent).median.toFixed(0)} ns/event`);
    }
  }
  return { rounds, repeats, warmup, load: load.done(), cells, split };
}

function runClients(limits, rounds, repeats, warmup) {
  const cells = [];
  for (const method of METHODS) for (const clients of CLIENTS) for (const strategy of STRATEGIES) cells.push({ method, clients, strategy, runs: [] });
  const load = new Load();
  for (let round = 0; round < rounds; round++) {
    for (const cell of rotate(cells, round * 3)) {
      load.sample();
      const res = runNode(
        'update-pause.mjs',
        // No collection before the requests here: traffic runs and GC happens when it happens.
        ['--scenario', 'clients', '--method', cell.method, '--strategy', cell.strategy, '--clients', cell.clients, '--repeats', repeats, '--warmup', warmup, '--every', 20, '--no-gc'],
        2 * cell.clients + 200,
        limits,
      );
      cell.runs.push(res);
      const med = summarize(res.reports.map((r) => r.pauseMs)).median;
      log(`clients round ${round + 1}/${rounds}  ${cell.method.padEnd(5)} ${String(cell.clients).padStart(3)} clients  ${cell.strategy.padEnd(7)} ${med.toFixed(2)} ms`);
    }
  }
  return { rounds, repeats, warmup, load: load.done(), cells };
}

function runOverhead(limits, rounds, quick) {
  const cells = METHODS.map((method) => ({ method, runs: [] }));
  const load = new Load();
  const args = quick ? ['--runs', 4, '--warmup', 2, '--messages', 10000] : ['--runs', 10, '--warmup', 3, '--messages', 20000];
  for (let round = 0; round < rounds; round++) {
    for (const cell of rotate(cells, round)) {
      load.sample();
      // Which variant is set up first alternates between rounds, so that fd numbers and memory
      // placement do not always favour the same one.
      const first = round % 2 === 0 ? 'host' : 'plain';
      const res = runNode('update-overhead.mjs', ['--method', cell.method, '--clients', 50, '--first', first, ...args], 400, limits);
      cell.runs.push(res);
      log(`overhead round ${round + 1}/${rounds}  ${cell.method.padEnd(5)} host/plain paired median ${summarize(res.pairedRatio).median.toFixed(3)}`);
    }
  }
  return { rounds, load: load.done(), cells };
}

function runMemory(generations) {
  const out = [];
  for (const technique of ['esm', 'cjs-cache', 'loader', 'host']) {
    const res = runNode('update-memory.mjs', ['--technique', technique, '--generations', generations], 200, fdLimits());
    log(`memory  ${technique.padEnd(10)} alive ${res.alive}/${res.loaded}, arrayBuffers ${res.after.arrayBuffers.toFixed(1)} MiB`);
    out.push(res);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Report

const PHASES = ['load', 'init', 'migrate', 'rewire', 'commit'];
const f2 = (v) => (!Number.isFinite(v) ? '–' : v < 0.1 ? v.toFixed(3) : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0));
const spread = (s) => (s ? `${f2(s.median)} (${f2(s.p25)}–${f2(s.p75)})` : '–');
const fint = (v) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '–');
const mib = (v) => v.toFixed(1);

/** All timed updates of a cell, over all its rounds. */
const updatesOf = (cell) => cell.runs.flatMap((r) => r.reports);
const pauseStats = (cell) => summarize(updatesOf(cell).map((u) => u.pauseMs));
const phaseStats = (cell, p) => summarize(updatesOf(cell).map((u) => u.phases[p]));
// pauseMs minus the reported phases (quiesce is before the point): logging and report assembly.
const otherStats = (cell) => summarize(updatesOf(cell).map((u) => u.pauseMs - PHASES.reduce((a, p) => a + u.phases[p], 0)));
const nsStats = (cell) => summarize(updatesOf(cell).map((u) => u.rewireNsPerEvent));

function renderPlots(data, plotsDir) {
  mkdirSync(plotsDir, { recursive: true });
  const written = [];
  const write = (name, svg) => {
    const file = path.join(plotsDir, name);
    writeFileSync(file, svg);
    written.push(file);
  };
  for (const method of METHODS) {
    const cells = data.pause.cells.filter((c) => c.method === method);
    const series = STRATEGIES.map((strategy) => {
      const st = SIZES.map((n) => pauseStats(cells.find((c) => c.events === n && c.strategy === strategy)));
      return { name: strategy === 'inplace' ? 'in place (rewire)' : strategy, values: st.map((s) => s.median), lo: st.map((s) => s.p25), hi: st.map((s) => s.p75) };
    });
    write(
      `update-pause-${method}.svg`,
      barChart({
        title: `${method}: update pause vs live events (median)`,
        subtitle: 'update point reached → loop resumes; mixed sockets, timers, one signal, 100 active; lower is better',
        yLabel: 'pause, ms',
        groups: SIZES.map((n) => `${n.toLocaleString('en-US')} events`),
        series,
        log: true,
        refLines: [{ value: 5, label: '5 ms' }],
        valueLabels: true,
        width: 720,
      }),
    );
  }
  // Rewire phase per event, in place, both backends.
  write(
    'update-rewire-ns.svg',
    barChart({
      title: 'In-place rewire phase: ns per live event (median)',
      subtitle: 'phases.rewire / events: handler planning + the in-place rewrite',
      yLabel: 'ns per event',
      groups: SIZES.map((n) => `${n.toLocaleString('en-US')} events`),
      series: METHODS.map((method) => {
        const st = SIZES.map((n) => nsStats(data.pause.cells.find((c) => c.method === method && c.events === n && c.strategy === 'inplace')));
        return { name: method, values: st.map((s) => s.median), lo: st.map((s) => s.p25), hi: st.map((s) => s.p75) };
      }),
      refLines: [{ value: 50, label: '50 ns' }],
      valueLabels: true,
      width: 600,
    }),
  );
  write(
    'update-memory.svg',
    barChart({
      title: `Memory after ${data.memory[0].generations} generations of an 8 MiB + 8 MiB module`,
      subtitle: 'after forced GC; only the latest generation is referenced; lower is better',
      yLabel: 'MiB',
      groups: data.memory.map((m) => m.technique),
      series: [
        { name: 'heapUsed', values: data.memory.map((m) => m.after.heapUsed) },
        { name: 'arrayBuffers', values: data.memory.map((m) => m.after.arrayBuffers) },
        { name: 'rss', values: data.memory.map((m) => m.after.rss) },
      ],
      valueLabels: true,
      width: 640,
    }),
  );
  return written;
}

function renderSection(data) {
  const { machine, pause, clients, overhead, memory } = data;
  const L = [];
  const p = (s = '') => L.push(s);
  p('<!-- update:begin -->');
  p('<!-- Generated by bench/run-update.mjs (npm run bench:update); edits between these markers are overwritten. -->');
  p('## Live update');
  p();
  p(
    `Measured ${machine.date.slice(0, 10)} by \`npm run bench:update\`${data.quick ? ' (**quick run**: fewer repeats, figures are indicative only)' : ''}, ` +
      'every figure in the same session on the same machine, one process at a time.',
  );
  p();
  p('| machine | |');
  p('|---|---|');
  p(`| CPU | ${machine.cpu}, ${machine.cores} cores |`);
  p(`| memory | ${machine.memoryGiB} GiB |`);
  p(`| kernel | ${machine.kernel} |`);
  p(`| Node | ${machine.node} |`);
  p(`| libevent | ${machine.libevent} (system library) |`);
  p(`| commit | ${machine.commit} |`);
  const ld = (l) => `${l.start.toFixed(2)} at start, ${l.max.toFixed(2)} at most, ${l.end.toFixed(2)} at end`;
  p(`| 1-min load average | pause runs: ${ld(pause.load)}; clients: ${ld(clients.load)}; overhead: ${ld(overhead.load)} |`);
  p();
  p(
    'The machine is shared (other work was running; see the load average): single updates that land on a busy moment show in the p75 and max columns, which is why medians over many updates and rounds are given.',
  );
  p();

  // ---- pause ----
  p('### Pause time and phases');
  p();
  p(
    'Service `bench/versions/pause-{a,b}.cjs` (bench-only versions: CommonJS, `version` and `main(ctx)`, handlers through `ctx.handlers`), started fresh with N live events: ' +
      `min(N/10, ${MAX_PAIRS}) socketpair READ|PERSIST events with 10–20 minute timeouts, one SIGUSR2 signal event, persistent timers (every tenth of the rest, 60–120 s periods) and one-shot timers (10–20 minutes). ` +
      'The host loop runs (`host.dispatch()`); a host-owned timer writes one byte into 10 socketpairs, makes 100 other socket events active with `ev.active(EV.READ)` (90 at 1k events, which have 100 sockets) and requests the next update (a → b → a …), which happens at the loop-top update point. ' +
      `Each configuration runs in ${pause.rounds} fresh processes (${pause.warmup} warm-up updates each, then ${pause.repeats} timed); a full GC runs before each request, outside the pause. ` +
      'Cells: median over all timed updates, p25–p75 in parentheses, ms. **pause** is `report.pauseMs` (update point reached → loop resumes); the phase columns are `report.phases`; **other** is the pause minus the phases (logging and assembling the report). ' +
      '**queued** is how many of the 100 activations queued just before the update then ran on the new version\'s code.',
  );
  p();
  for (const method of METHODS) {
    p(`**${method}**`);
    p();
    p('| events | strategy | pause | load | init | rewire | commit | other | rewire ns/event | queued |');
    p('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const events of SIZES) {
      for (const strategy of STRATEGIES) {
        const c = pause.cells.find((x) => x.method === method && x.events === events && x.strategy === strategy);
        const kept = summarize(c.runs.flatMap((r) => r.activationsKept)).median;
        const active = c.runs[0].active;
        const ps = pauseStats(c);
        const bold = strategy === 'inplace' ? (s) => `**${s}**` : (s) => s;
        p(
          `| ${events.toLocaleString('en-US')} | ${strategy} | ${bold(spread(ps))} | ${f2(phaseStats(c, 'load').median)} | ${f2(phaseStats(c, 'init').median + phaseStats(c, 'migrate').median)} | ${f2(phaseStats(c, 'rewire').median)} | ${f2(phaseStats(c, 'commit').median)} | ${f2(otherStats(c).median)} | ${fint(nsStats(c).median)} | ${kept}/${active} |`,
        );
      }
    }
    p();
  }
  for (const method of METHODS) {
    p(`![${method}: pause vs live events](plots/update-pause-${method}.svg)`);
    p();
  }
  p('![in-place rewire, ns per event](plots/update-rewire-ns.svg)');
  p();
  if (pause.split?.length) {
    p(
      '**Where the in-place rewire goes**, ns per event. *rewire phase* is `phases.rewire / events` from the runs above; the other columns are timed on their own by `bench/update-rewire-split.mjs` (pending timers and 1% socket events on one base, median of 21 calls after 5 warm-up ones, a GC before each): ' +
        '*commit* = `base._rewireEvents` (what the host commits: new callback slots, the native write, the JS bookkeeping of each event); *native* = the addon\'s `baseRewire` alone (check every record, then write the callback and argument words of every `struct event`); ' +
        '*snapshot* = `base._allEvents()`, the live events the host lists before prepare (counted in the rewire phase); *plan* ≈ rewire phase − snapshot − commit (the host mapping each event to the new version\'s handler).',
    );
    p();
    p('| backend | events | rewire phase | plan ≈ | commit | of which native | snapshot |');
    p('|---|---:|---:|---:|---:|---:|---:|');
    for (const sp of pause.split) {
      const c = pause.cells.find((x) => x.method === sp.method && x.events === sp.events && x.strategy === 'inplace');
      const rw = nsStats(c).median;
      const commit = summarize(sp.commitNsPerEvent).median;
      p(
        `| ${sp.method} | ${sp.events.toLocaleString('en-US')} | ${fint(rw)} | ${fint(Math.max(0, rw - commit - summarize(sp.snapshotNsPerEvent).median))} | ${fint(commit)} | ${fint(summarize(sp.nativeNsPerEvent).median)} | ${fint(summarize(sp.snapshotNsPerEvent).median)} |`,
      );
    }
    p();
  }

  // ---- targets ----
  const cellOf = (method, events, strategy = 'inplace') => pause.cells.find((x) => x.method === method && x.events === events && x.strategy === strategy);
  p('**Targets** (from the issue):');
  p();
  const nsAll = METHODS.flatMap((m) => SIZES.map((n) => ({ m, n, s: nsStats(cellOf(m, n)) })));
  const nsMet = nsAll.every((x) => x.s.median <= 50);
  p(
    `- in-place rewrite ≤ 50 ns per event (\`phases.rewire / events\`): ${nsAll.map((x) => `${x.m} ${x.n.toLocaleString('en-US')}: ${fint(x.s.median)} ns`).join('; ')}. **${nsMet ? 'met' : 'not met'}**.`,
  );
  const p10 = METHODS.map((m) => ({ m, s: pauseStats(cellOf(m, 10_000)) }));
  const p10Met = p10.every((x) => x.s.median <= 5);
  p(
    `- whole update of a service with 10k live events ≤ 5 ms pause (in place): ${p10.map((x) => `${x.m} ${f2(x.s.median)} ms (p75 ${f2(x.s.p75)}, max ${f2(x.s.max)})`).join('; ')}. **${p10Met ? 'met' : 'not met'}** at the median${p10.every((x) => x.s.p75 <= 5) ? ' and at p75' : ''}.`,
  );
  const cl = clients.cells.filter((c) => c.strategy === 'inplace' && c.clients === Math.max(...CLIENTS));
  const clStats = cl.map((c) => ({ m: c.method, s: summarize(updatesOf(c).map((u) => u.pauseMs)) }));
  p(
    `- Kitsune's vsftpd updates took ${KITSUNE_MS[0]}–${KITSUNE_MS[1]} ms with no clients connected; here, with ${Math.max(...CLIENTS)} clients connected and carrying traffic: ${clStats.map((x) => `${x.m} ${f2(x.s.median)} ms (p75 ${f2(x.s.p75)}, max ${f2(x.s.max)})`).join('; ')}. ` +
      `**${clStats.every((x) => x.s.median < KITSUNE_MS[0]) ? 'Below their range at the median' : 'Not below their range at the median'}** (different program, machine and decade: an order-of-magnitude comparison, not a head-to-head one).`,
  );
  const ov = overhead.cells.map((c) => ({
    m: c.method,
    wall: summarize(c.runs.flatMap((r) => r.pairedRatio)),
    cpu: summarize(c.runs.flatMap((r) => r.pairedCpuRatio)),
  }));
  p(
    `- the service under the update host within 3% of the same code without it (steady-state throughput, host / plain time per round trip, median of paired runs): ${ov.map((x) => `${x.m} ${x.wall.median.toFixed(3)} wall, ${x.cpu.median.toFixed(3)} CPU`).join('; ')}. ` +
      `**${ov.every((x) => x.wall.median <= 1.03 && x.cpu.median <= 1.03) ? 'met' : 'not met'}** at the median (single pairs spread ${ov.map((x) => `${x.wall.p25.toFixed(2)}–${x.wall.p75.toFixed(2)}`).join(' and ')} p25–p75 on wall-clock time).`,
  );
  p();

  // ---- clients ----
  p('### Updating a service with clients connected');
  p();
  p(
    'Service `bench/versions/echo-{a,b}.cjs`, the shape of the test fixture: a TCP listener, one READ|PERSIST echo event per connection, a 20 ms heartbeat, a 300 ms deadline. ' +
      'With 0 clients it is the idle server (Kitsune\'s vsftpd condition); with 100, loopback TCP clients on the same base (host-owned events) do closed-loop ping-pong of 64-byte messages the whole time. ' +
      `An update (a → b → a …) is requested every 20 ms from a host-owned timer; ${clients.warmup} warm-up updates, then ${clients.repeats} timed, ${clients.rounds} processes per configuration; no forced GC (the traffic makes garbage and collections fall where they fall). ` +
      '**RTT p50** is the clients\' median round trip over the whole run; **RTT across update** the median, over updates, of the longest round trip in flight while an update happened.',
  );
  p();
  p('| backend | clients | service events | strategy | pause ms | max | load | init | rewire | RTT p50 ms | RTT across update ms |');
  p('|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const method of METHODS) {
    for (const n of CLIENTS) {
      for (const strategy of STRATEGIES) {
        const c = clients.cells.find((x) => x.method === method && x.clients === n && x.strategy === strategy);
        const ps = pauseStats(c);
        const rtt = n > 0 ? summarize(c.runs.map((r) => r.rttMs.p50)).median : NaN;
        const span = n > 0 ? summarize(c.runs.flatMap((r) => r.spanningRttMs)).median : NaN;
        p(
          `| ${method} | ${n} | ${c.runs[0].serviceEvents} | ${strategy} | ${spread(ps)} | ${f2(ps.max)} | ${f2(phaseStats(c, 'load').median)} | ${f2(phaseStats(c, 'init').median + phaseStats(c, 'migrate').median)} | ${f2(phaseStats(c, 'rewire').median)} | ${f2(rtt)} | ${f2(span)} |`,
        );
      }
    }
  }
  p();
  p(
    'At this size the pause is mostly loading and evaluating the new version (`load`: reading and compiling two small CommonJS files and evicting them from the module cache) and running its `main` (`init`), not the rewrite.',
  );
  p();

  // ---- overhead ----
  p('### Steady-state overhead of the update host');
  p();
  p(
    'The same echo service, 50 loopback TCP clients in closed-loop ping-pong (64 bytes), two ways in one process: **host** = loaded as a version by `UpdateHost` (handlers through `ctx.handlers`, state through `ctx.state`) and served by `host.dispatch()`, which reaches an update point between loop iterations; ' +
      '**plain** = the same module\'s `makeHandlers()`/`listen()` on a plain `EventBase` served by `base.dispatch()`. ' +
      `A run is ${overhead.cells[0].runs[0].messages.toLocaleString('en-US')} round trips; the two alternate run by run (the order flips every pair) after ${overhead.cells[0].runs[0].warmup} warm-up pairs, ${overhead.cells[0].runs[0].runs} timed pairs per process, ${overhead.rounds} processes per backend (which of the two is set up first alternates between processes), a full GC before each run. ` +
      'Cells: µs per round trip (wall clock), median (p25–p75). **paired ratio**: host / plain of each adjacent pair, median (p25–p75), on wall-clock time and on the CPU time of the process (user + system; time spent descheduled by other load does not count). ' +
      '**iterations/round trip**: host loop iterations (update points reached) per round trip.',
  );
  p();
  p('| backend | host µs/round trip | plain µs/round trip | paired ratio, wall | paired ratio, CPU | iterations/round trip | within 3% |');
  p('|---|---:|---:|---:|---:|---:|---|');
  const r3 = (s) => `${s.median.toFixed(3)} (${s.p25.toFixed(3)}–${s.p75.toFixed(3)})`;
  for (const c of overhead.cells) {
    const h = summarize(c.runs.flatMap((r) => r.usPerRoundTrip.host));
    const pl = summarize(c.runs.flatMap((r) => r.usPerRoundTrip.plain));
    const pr = summarize(c.runs.flatMap((r) => r.pairedRatio));
    const pc = summarize(c.runs.flatMap((r) => r.pairedCpuRatio));
    const it = summarize(c.runs.map((r) => r.hostIterationsPerRoundTrip)).median;
    const ok = pr.median <= 1.03 && pc.median <= 1.03 ? 'yes (medians)' : 'no';
    p(`| ${c.method} | ${spread(h)} | ${spread(pl)} | ${r3(pr)} | ${r3(pc)} | ${it.toFixed(3)} | ${ok} |`);
  }
  p();
  p(
    'The quartile bands are wide because single runs on this shared machine vary by ±10%; the medians of many adjacent pairs are the figure to read. ' +
      'What the host adds per loop iteration (an update point: a counter, an `emit`, two flag reads, and `loop(ONCE)` instead of one long `loop(0)`) is shared by all the callbacks of that iteration.',
  );
  p();

  // ---- memory ----
  p('### Old versions become garbage');
  p();
  p(
    `${memory[0].generations} generations of \`bench/versions/mem-big.{cjs,mjs}\`, a module holding two 8 MiB constants (a Float64Array, counted in arrayBuffers, and an array of 2^20 doubles, counted in heapUsed), only the latest generation referenced; then four forced full GCs (\`--expose-gc\`). Each technique in its own process (\`bench/update-memory.mjs\`). **alive**: generations whose constant a WeakRef still reaches.`,
  );
  p();
  p('| technique | alive | heapUsed MiB | arrayBuffers MiB | rss MiB | growth: heapUsed / arrayBuffers / rss |');
  p('|---|---:|---:|---:|---:|---:|');
  const desc = {
    esm: "ESM `import('./mem-big.mjs?v=N')`",
    'cjs-cache': 'CommonJS, `delete require.cache[file]` only',
    loader: '`loadVersionModule` (require.cache and parents\' `children`)',
    host: '`UpdateHost` updates (whole path)',
  };
  for (const m of memory) {
    p(
      `| ${desc[m.technique] ?? m.technique} | ${m.alive}/${m.loaded} | ${mib(m.after.heapUsed)} | ${mib(m.after.arrayBuffers)} | ${mib(m.after.rss)} | +${mib(m.delta.heapUsed)} / +${mib(m.delta.arrayBuffers)} / +${mib(m.delta.rss)} |`,
    );
  }
  p();
  p(
    'ESM re-import keeps every generation (Node\'s ESM cache cannot be emptied), and so does deleting the `require.cache` entry alone (the module stays in its parent\'s `children`). The project\'s loader and the host keep only the running generation.',
  );
  p();
  p('![memory after 30 generations](plots/update-memory.svg)');
  p();
  p('Raw figures of the last run: `bench/out/update-latest.json` (not committed).');
  p('<!-- update:end -->');
  return L.join('\n') + '\n';
}

async function main() {
  let data;
  if (opt.from) {
    data = JSON.parse(readFileSync(path.resolve(opt.from), 'utf8'));
  } else {
    if (!existsSync(path.join(root, 'dist/update/index.js'))) {
      throw new Error('dist/ is missing: run `npx tsc -p tsconfig.build.json` first (npm run bench:update does)');
    }
    const rounds = opt.quick ? 1 : Number(opt.rounds);
    const repeats = opt.quick ? 5 : Number(opt.repeats);
    const warmup = opt.quick ? 3 : Number(opt.warmup);
    const only = opt.only ? opt.only.split(',') : PARTS;
    for (const part of only) if (!PARTS.includes(part)) throw new Error(`--only: unknown part '${part}' (${PARTS.join(', ')})`);
    const limits = fdLimits();
    const pinned = pinAddon('node-libevent-bench-update-');
    process.on('exit', () => rmSync(pinned.dir, { recursive: true, force: true }));
    const machine = { ...(await machineInfo()), addonBuilt: pinned.built };
    log(`${machine.cpu}, ${machine.cores} cores, ${machine.kernel}, Node ${machine.node}, libevent ${machine.libevent}; fd limits ${limits.soft}/${limits.hard}`);
    data = { machine, quick: opt.quick, fdLimits: limits, parts: only };
    if (only.includes('pause')) data.pause = runPause(limits, rounds, repeats, warmup);
    if (only.includes('clients')) data.clients = runClients(limits, rounds, repeats, warmup);
    if (only.includes('overhead')) data.overhead = runOverhead(limits, opt.quick ? 1 : Math.max(2 * rounds, 8), opt.quick);
    if (only.includes('memory')) data.memory = runMemory(30);
    const outDir = path.join(root, 'bench/out');
    mkdirSync(outDir, { recursive: true });
    const stamp = machine.date.replace(/[:.]/g, '-');
    writeFileSync(path.join(outDir, `update-${stamp}.json`), JSON.stringify(data, null, 1));
    writeFileSync(path.join(outDir, 'update-latest.json'), JSON.stringify(data, null, 1));
    log(`raw figures: bench/out/update-${stamp}.json`);
  }
  if (opt['no-docs'] || (opt.quick && !opt.from)) {
    log('docs not written (--no-docs, or --quick: a quick run is not a report)');
    return;
  }
  if (!PARTS.every((part) => data[part])) {
    log('docs not written: a partial run (--only) has no complete section');
    return;
  }
  for (const f of renderPlots(data, path.join(root, 'docs/plots'))) log(`wrote ${rel(f)}`);
  writeSection(path.join(root, 'docs/benchmarks.md'), 'update', renderSection(data));
  log('wrote docs/benchmarks.md (live update section)');
}

main().catch((err) => {
  process.stderr.write(`bench/run-update.mjs: ${err.stack ?? err}\n`);
  process.exit(1);
});
