#!/usr/bin/env node
// The live-update benchmarks: how long does an update pause the loop, and in which phases, as
// the number of live events grows; what does it cost a service with clients connected; what
// does the update host cost in steady state; and do old versions become garbage. Writes the
// "Live update" section of docs/benchmarks.md and its plots.
//
//   pause     bench/update-pause.mjs --scenario mixed: 1k, 10k, 100k live events, every
//             strategy, epoll and poll, in fresh processes; rounds rotate the order
//   clients   bench/update-pause.mjs --scenario clients: the echo service with 0 and 100
//             connected clients carrying traffic
//   overhead  bench/update-overhead.mjs: host vs plain base, alternating in one process;
//             max(2 × --rounds, 8) processes per backend
//   memory    bench/update-memory.mjs: 30 generations of an 8 MiB module, four techniques
//
// Usage: node bench/run-update.mjs [--rounds 2] [--repeats 15] [--warmup 5] [--quick]
//          [--only pause,clients,overhead,memory] [--no-docs] [--from bench/out/update-latest.json]
// Needs the compiled package: `npm run bench:update` runs tsc first.
import { existsSync } from 'node:fs';
import path from 'node:path';

import { Load, log, machine, nodeArgv, pinAddon, root, rotate, runChild, suite, summarize } from './lib/harness.mjs';
import { bars, bold, count, int, machineTable, met, num, spread, table } from './lib/report.mjs';

const PARTS = ['pause', 'clients', 'overhead', 'memory'];
const STRATEGIES = ['inplace', 'readd', 'reinit', 'rebase'];
const METHODS = ['epoll', 'poll'];
const SIZES = [1000, 10_000, 100_000];
const MAX_PAIRS = 2000; // socketpairs in the mixed service (2 fds each); the rest are timers
const CLIENTS = [0, 100];
const KITSUNE_MS = [2.2, 2.8]; // vsftpd updates with no clients connected (Kitsune, OOPSLA 2012)
const GOALS = { rewireNs: 50, pause10k: 5, pause100k: 8, pauseClients: 0.6, overhead: 1.03 };

const child = (script, args, fds) => runChild(nodeArgv(script, args, ['--expose-gc']), { fds });
const pauseMedian = (res) => summarize(res.reports.map((r) => r.pauseMs)).median;

/** Runs every cell once per round (in an order rotated by `shift` each round), collecting its runs. */
function rounds(cells, n, shift, once, label) {
  const load = new Load();
  for (let round = 0; round < n; round++) {
    for (const cell of rotate(cells, (round * shift) % cells.length)) {
      load.sample();
      const res = once(cell, round);
      load.note(res.env);
      cell.runs.push(res);
      log(`${label(cell)}  round ${round + 1}/${n}: ${res.summary}`);
    }
  }
  return load.done();
}

function runPause(n, repeats, warmup) {
  const cells = METHODS.flatMap((method) => SIZES.flatMap((events) => STRATEGIES.map((strategy) => ({ method, events, strategy, pairs: Math.min(MAX_PAIRS, events / 10), runs: [] }))));
  const load = rounds(cells, n, 5, (c) => {
    const res = child('update-pause.mjs', ['--scenario', 'mixed', '--method', c.method, '--strategy', c.strategy, '--events', c.events, '--pairs', c.pairs, '--repeats', repeats, '--warmup', warmup], 2 * c.pairs + 200);
    return { ...res, summary: `${pauseMedian(res).toFixed(2)} ms` };
  }, (c) => `pause   ${c.method.padEnd(5)} ${String(c.events).padStart(6)} events  ${c.strategy.padEnd(7)}`);
  // Where the in-place rewire goes: the parts that can be timed on their own.
  const split = METHODS.flatMap((method) => SIZES.map((events) => child('update-rewire-split.mjs', ['--method', method, '--events', events], 2 * Math.min(events / 100, 1000) + 200)));
  return { rounds: n, repeats, warmup, load, cells, split };
}

function runClients(n, repeats, warmup) {
  const cells = METHODS.flatMap((method) => CLIENTS.flatMap((clients) => STRATEGIES.map((strategy) => ({ method, clients, strategy, runs: [] }))));
  // No collection before the requests here: traffic runs and GC happens when it happens.
  const load = rounds(cells, n, 3, (c) => {
    const res = child('update-pause.mjs', ['--scenario', 'clients', '--method', c.method, '--strategy', c.strategy, '--clients', c.clients, '--repeats', repeats, '--warmup', warmup, '--every', 20, '--no-gc'], 2 * c.clients + 200);
    return { ...res, summary: `${pauseMedian(res).toFixed(2)} ms` };
  }, (c) => `clients ${c.method.padEnd(5)} ${String(c.clients).padStart(3)} clients  ${c.strategy.padEnd(7)}`);
  return { rounds: n, repeats, warmup, load, cells };
}

function runOverhead(n, quick) {
  const cells = METHODS.map((method) => ({ method, runs: [] }));
  const args = quick ? ['--runs', 4, '--warmup', 2, '--messages', 10000] : ['--runs', 10, '--warmup', 3, '--messages', 20000];
  // Which variant is set up first alternates between processes (fd numbers, memory placement).
  const load = rounds(cells, n, 1, (c, round) => {
    const res = child('update-overhead.mjs', ['--method', c.method, '--clients', 50, '--first', round % 2 ? 'plain' : 'host', ...args], 400);
    return { ...res, summary: `host/plain paired median ${summarize(res.pairedRatio).median.toFixed(3)}` };
  }, (c) => `overhead ${c.method}`);
  return { rounds: n, load, cells };
}

const runMemory = (generations) => ['esm', 'cjs-cache', 'loader', 'host'].map((technique) => child('update-memory.mjs', ['--technique', technique, '--generations', generations], 200));

async function run(opt) {
  if (!existsSync(path.join(root, 'dist/update/index.js'))) throw new Error('dist/ is missing: run `npx tsc -p tsconfig.build.json` (npm run bench:update does)');
  const n = opt.quick ? 1 : Number(opt.rounds);
  const repeats = opt.quick ? 5 : Number(opt.repeats);
  const warmup = opt.quick ? 3 : Number(opt.warmup);
  const only = opt.only ? opt.only.split(',') : PARTS;
  for (const part of only) if (!PARTS.includes(part)) throw new Error(`--only: unknown part '${part}' (${PARTS.join(', ')})`);
  const pinned = pinAddon();
  const m = { ...(await machine(['lib', 'native', "'bench/update-*'", 'bench/versions', 'bench/run-update.mjs'])), addonBuilt: pinned.built };
  log(`${m.cpu}, ${m.cores} cores, ${m.kernel}, Node ${m.node}, libevent ${m.libevent}`);
  const data = { machine: m, parts: only };
  if (only.includes('pause')) data.pause = runPause(n, repeats, warmup);
  if (only.includes('clients')) data.clients = runClients(n, repeats, warmup);
  if (only.includes('overhead')) data.overhead = runOverhead(opt.quick ? 1 : Math.max(2 * n, 8), opt.quick);
  if (only.includes('memory')) data.memory = runMemory(30);
  return data;
}

// ---------------------------------------------------------------------------------------
// The report

const PHASES = ['load', 'init', 'migrate', 'rewire', 'commit'];
const updates = (cell) => cell.runs.flatMap((r) => r.reports);
const of = (cell, f) => summarize(updates(cell).map(f));
const pause = (c) => of(c, (u) => u.pauseMs);
const phase = (c, name) => of(c, (u) => u.phases[name]).median;
// pauseMs minus the reported phases (quiesce is before the point): logging and report assembly.
const other = (c) => of(c, (u) => u.pauseMs - PHASES.reduce((a, k) => a + u.phases[k], 0)).median;
const nsPerEvent = (c) => of(c, (u) => u.rewireNsPerEvent);
const k = (n) => n.toLocaleString('en-US');
const whiskered = (name, list) => ({ name, values: list.map((s) => s.median), lo: list.map((s) => s.p25), hi: list.map((s) => s.p75) });

function render({ machine: m, pause: P, clients: C, overhead: O, memory: M, quick }) {
  const L = [];
  const p = (s = '') => L.push(s);
  const plots = {};
  const cellOf = (method, events, strategy = 'inplace') => P.cells.find((x) => x.method === method && x.events === events && x.strategy === strategy);
  p('## Live update');
  p();
  p(`Measured ${m.date.slice(0, 10)} by \`npm run bench:update\`${quick ? ' (**quick run**: fewer repeats, figures are indicative only)' : ''}, every figure in the same session on the same machine, one process at a time.`);
  p();
  p(machineTable(m, [['pause runs', P.load], ['clients', C.load], ['overhead', O.load]]));
  p('The machine is shared (other work was running; see the load average): single updates that land on a busy moment show in the p75 and max columns, which is why medians over many updates and rounds are given.');
  p();

  p('### Pause time and phases');
  p();
  p(
    'Service `bench/versions/pause-{a,b}.cjs` (bench-only versions: CommonJS, `version` and `main(ctx)`, handlers through `ctx.handlers`), started fresh with N live events: ' +
      `min(N/10, ${MAX_PAIRS}) socketpair READ|PERSIST events with 10–20 minute timeouts, one SIGUSR2 signal event, persistent timers (every tenth of the rest, 60–120 s periods) and one-shot timers (10–20 minutes). ` +
      'The host loop runs (`host.dispatch()`); a host-owned timer writes one byte into 10 socketpairs, makes 100 other socket events active with `ev.active(EV.READ)` (90 at 1k events, which have 100 sockets) and requests the next update (a → b → a …), which happens at the loop-top update point. ' +
      `Each configuration runs in ${P.rounds} fresh process${P.rounds === 1 ? '' : 'es'} (${P.warmup} warm-up updates each, then ${P.repeats} timed); a full GC runs before each request, outside the pause. ` +
      'Cells: median over all timed updates, p25–p75 in parentheses, ms. **pause** is `report.pauseMs` (update point reached → loop resumes); the phase columns are `report.phases`; **other** is the pause minus the phases (logging and assembling the report). ' +
      "**queued** is how many of the 100 activations queued just before the update then ran on the new version's code.",
  );
  p();
  for (const method of METHODS) {
    p(`**${method}**`);
    p();
    const rows = SIZES.flatMap((events) =>
      STRATEGIES.map((strategy) => {
        const c = cellOf(method, events, strategy);
        const kept = summarize(c.runs.flatMap((r) => r.activationsKept)).median;
        const b = strategy === 'inplace' ? bold : (s) => s;
        return [k(events), strategy, b(spread(pause(c))), num(phase(c, 'load')), num(phase(c, 'init') + phase(c, 'migrate')), num(phase(c, 'rewire')), num(phase(c, 'commit')), num(other(c)), int(nsPerEvent(c).median), `${kept}/${c.runs[0].active}`];
      }),
    );
    p(table(['events:', 'strategy', 'pause:', 'load:', 'init:', 'rewire:', 'commit:', 'other:', 'rewire ns/event:', 'queued:'], rows));
    plots[`update-pause-${method}.svg`] = bars({
      title: `${method}: update pause vs live events (median)`,
      subtitle: 'update point reached → loop resumes; mixed sockets, timers, one signal, 100 active; lower is better',
      yLabel: 'pause, ms',
      groups: SIZES.map((n) => `${k(n)} events`),
      series: STRATEGIES.map((s) => whiskered(s === 'inplace' ? 'in place (rewire)' : s, SIZES.map((n) => pause(cellOf(method, n, s))))),
      log: true,
      refLines: [{ value: GOALS.pause10k, label: `${GOALS.pause10k} ms` }],
    });
  }
  plots['update-rewire-ns.svg'] = bars({
    title: 'In-place rewire phase: ns per live event (median)',
    subtitle: 'phases.rewire / events: handler planning + the in-place rewrite',
    yLabel: 'ns per event',
    groups: SIZES.map((n) => `${k(n)} events`),
    series: METHODS.map((method) => whiskered(method, SIZES.map((n) => nsPerEvent(cellOf(method, n))))),
    refLines: [{ value: GOALS.rewireNs, label: `${GOALS.rewireNs} ns` }],
  });
  for (const method of METHODS) {
    p(`![${method}: pause vs live events](plots/update-pause-${method}.svg)`);
    p();
  }
  p('![in-place rewire, ns per event](plots/update-rewire-ns.svg)');
  p();
  p(
    '**Where the in-place rewire goes**, ns per event. *rewire phase* is `phases.rewire / events` from the runs above; the other columns are timed on their own by `bench/update-rewire-split.mjs` (pending timers and 1% socket events on one base, on three callbacks; median of 21 calls after 5 warm-up ones, a full GC before each so every call starts with cold caches): ' +
      "*census* = `base._callbackCensus()`, one native pass counting the live events per callback, taken before prepare; *commit* = `base._rewireCallbacks` (one native pass rewriting every event of each old callback's slot, then the JS bookkeeping per slot), *of which native* = the addon's `baseRewireSlots` alone; " +
      '*slot path* = census + mapping each callback + commit, timed as one call; *per-event path* = what the host did before, on the same events in the same process (list every event with `base._allEvents()`, map each in JS, count the report\'s handler pairs per event, commit the list with `base._rewireEvents`); *ratio* = per-event path / slot path.',
  );
  p();
  const med = (xs) => summarize(xs).median;
  p(
    table(['backend', 'events:', 'rewire phase:', 'census:', 'commit:', 'of which native:', 'slot path:', 'per-event path:', 'ratio:'], P.split.map((sp) => {
      const rw = nsPerEvent(cellOf(sp.method, sp.events)).median;
      const [census, commit, native, slot, perEvent] = [sp.censusNsPerEvent, sp.commitNsPerEvent, sp.nativeNsPerEvent, sp.slotPathNsPerEvent, sp.perEventNsPerEvent].map(med);
      return [sp.method, k(sp.events), int(rw), int(census), int(commit), int(native), int(slot), int(perEvent), `${(perEvent / slot).toFixed(1)}×`];
    })),
  );

  const clientCells = C.cells.filter((c) => c.strategy === 'inplace' && c.clients === Math.max(...CLIENTS)).map((c) => ({ m: c.method, s: pause(c) }));
  const ov = O.cells.map((c) => ({ m: c.method, wall: summarize(c.runs.flatMap((r) => r.pairedRatio)), cpu: summarize(c.runs.flatMap((r) => r.pairedCpuRatio)) }));
  const ns = METHODS.flatMap((mm) => SIZES.map((n) => ({ mm, n, s: nsPerEvent(cellOf(mm, n)) })));
  const p10 = METHODS.map((mm) => ({ mm, s: pause(cellOf(mm, 10_000)) }));
  const p100 = METHODS.map((mm) => ({ mm, s: pause(cellOf(mm, 100_000)) }));
  const at = (x) => `${num(x.s.median)} ms (p75 ${num(x.s.p75)}, max ${num(x.s.max)})`;
  p('**Targets** (from the issues):');
  p();
  p(`- in-place rewrite ≤ ${GOALS.rewireNs} ns per event at 10k and 100k events (\`phases.rewire / events\`; 1k shown too): ${ns.map((x) => `${x.mm} ${k(x.n)}: ${int(x.s.median)} ns`).join('; ')}. ${met(ns.filter((x) => x.n >= 10_000).every((x) => x.s.median <= GOALS.rewireNs))}.`);
  p(`- whole update of a service with 10k live events ≤ ${GOALS.pause10k} ms pause (in place): ${p10.map((x) => `${x.mm} ${at(x)}`).join('; ')}. ${met(p10.every((x) => x.s.median <= GOALS.pause10k))} at the median${p10.every((x) => x.s.p75 <= GOALS.pause10k) ? ' and at p75' : ''}.`);
  p(`- whole update of a service with 100k live events ≤ ${GOALS.pause100k} ms pause (in place): ${p100.map((x) => `${x.mm} ${at(x)}`).join('; ')}. ${met(p100.every((x) => x.s.median <= GOALS.pause100k))} at the median${p100.every((x) => x.s.p75 <= GOALS.pause100k) ? ' and at p75' : ''}.`);
  p(`- pause of the ${Math.max(...CLIENTS)}-client echo service ≤ ${GOALS.pauseClients} ms median (in place): ${clientCells.map((x) => `${x.m} ${at(x)}`).join('; ')}. ${met(clientCells.every((x) => x.s.median <= GOALS.pauseClients))}.`);
  p(
    `- Kitsune's vsftpd updates took ${KITSUNE_MS[0]}–${KITSUNE_MS[1]} ms with no clients connected; here, with ${Math.max(...CLIENTS)} clients connected and carrying traffic, the figures above are ` +
      `**${clientCells.every((x) => x.s.median < KITSUNE_MS[0]) ? 'below their range at the median' : 'not below their range at the median'}** (different program, machine and decade: an order-of-magnitude comparison, not a head-to-head one).`,
  );
  p(
    `- the service under the update host within 3% of the same code without it (steady-state throughput, host / plain time per round trip, median of paired runs): ${ov.map((x) => `${x.m} ${x.wall.median.toFixed(3)} wall, ${x.cpu.median.toFixed(3)} CPU`).join('; ')}. ` +
      `${met(ov.every((x) => x.wall.median <= GOALS.overhead && x.cpu.median <= GOALS.overhead))} at the median (single pairs spread ${ov.map((x) => `${x.wall.p25.toFixed(2)}–${x.wall.p75.toFixed(2)}`).join(' and ')} p25–p75 on wall-clock time).`,
  );
  p();

  p('### Updating a service with clients connected');
  p();
  p(
    'Service `bench/versions/echo-{a,b}.cjs`, the shape of the test fixture: a TCP listener, one READ|PERSIST echo event per connection, a 20 ms heartbeat, a 300 ms deadline. ' +
      "With 0 clients it is the idle server (Kitsune's vsftpd condition); with 100, loopback TCP clients on the same base (host-owned events) do closed-loop ping-pong of 64-byte messages the whole time. " +
      `An update (a → b → a …) is requested every 20 ms from a host-owned timer; ${C.warmup} warm-up updates, then ${C.repeats} timed, ${C.rounds} process${C.rounds === 1 ? '' : 'es'} per configuration; no forced GC (the traffic makes garbage and collections fall where they fall). ` +
      "**RTT p50** is the clients' median round trip over the whole run; **RTT across update** the median, over updates, of the longest round trip in flight while an update happened.",
  );
  p();
  const clientRows = METHODS.flatMap((method) => CLIENTS.flatMap((n) => STRATEGIES.map((strategy) => {
    const c = C.cells.find((x) => x.method === method && x.clients === n && x.strategy === strategy);
    const s = pause(c);
    const rtt = n > 0 ? med(c.runs.map((r) => r.rttMs.p50)) : NaN;
    const span = n > 0 ? med(c.runs.flatMap((r) => r.spanningRttMs)) : NaN;
    return [method, n, c.runs[0].serviceEvents, strategy, spread(s), num(s.max), num(phase(c, 'load')), num(phase(c, 'init') + phase(c, 'migrate')), num(phase(c, 'rewire')), num(rtt), num(span)];
  })));
  p(table(['backend', 'clients:', 'service events:', 'strategy', 'pause ms:', 'max:', 'load:', 'init:', 'rewire:', 'RTT p50 ms:', 'RTT across update ms:'], clientRows));
  p('At this size the pause is mostly loading and evaluating the new version (`load`: reading and compiling two small CommonJS files and evicting them from the module cache) and running its `main` (`init`), not the rewrite.');
  p();

  const r0 = O.cells[0].runs[0];
  p('### Steady-state overhead of the update host');
  p();
  p(
    'The same echo service, 50 loopback TCP clients in closed-loop ping-pong (64 bytes), two ways in one process: **host** = loaded as a version by `UpdateHost` (handlers through `ctx.handlers`, state through `ctx.state`) and served by `host.dispatch()`, which reaches an update point between loop iterations; ' +
      "**plain** = the same module's `makeHandlers()`/`listen()` on a plain `EventBase` served by `base.dispatch()`. " +
      `A run is ${k(r0.messages)} round trips; the two alternate run by run (the order flips every pair) after ${r0.warmup} warm-up pairs, ${r0.runs} timed pairs per process, ${O.rounds} processes per backend (which of the two is set up first alternates between processes), a full GC before each run. ` +
      'Cells: µs per round trip (wall clock), median (p25–p75). **paired ratio**: host / plain of each adjacent pair, median (p25–p75), on wall-clock time and on the CPU time of the process (user + system; time spent descheduled by other load does not count). ' +
      '**iterations/round trip**: host loop iterations (update points reached) per round trip.',
  );
  p();
  const f3 = (v) => v.toFixed(3);
  p(
    table(['backend', 'host µs/round trip:', 'plain µs/round trip:', 'paired ratio, wall:', 'paired ratio, CPU:', 'iterations/round trip:', 'within 3%'], O.cells.map((c) => {
      const all = (key) => summarize(c.runs.flatMap((r) => r[key]));
      const [wall, cpu] = [all('pairedRatio'), all('pairedCpuRatio')];
      return [c.method, spread(summarize(c.runs.flatMap((r) => r.usPerRoundTrip.host))), spread(summarize(c.runs.flatMap((r) => r.usPerRoundTrip.plain))), spread(wall, f3), spread(cpu, f3), f3(med(c.runs.map((r) => r.hostIterationsPerRoundTrip))), wall.median <= GOALS.overhead && cpu.median <= GOALS.overhead ? 'yes (medians)' : 'no'];
    })),
  );
  p(
    'The quartile bands are wide because single runs on this shared machine vary by ±10%; the medians of many adjacent pairs are the figure to read. ' +
      'What the host adds per loop iteration (an update point: a counter, an `emit`, two flag reads, and `loop(ONCE)` instead of one long `loop(0)`) is shared by all the callbacks of that iteration.',
  );
  p();

  p('### Old versions become garbage');
  p();
  p(
    `${M[0].generations} generations of \`bench/versions/mem-big.{cjs,mjs}\`, a module holding two 8 MiB constants (a Float64Array, counted in arrayBuffers, and an array of 2^20 doubles, counted in heapUsed), only the latest generation referenced; then four forced full GCs (\`--expose-gc\`). Each technique in its own process (\`bench/update-memory.mjs\`). **alive**: generations whose constant a WeakRef still reaches.`,
  );
  p();
  const desc = { esm: "ESM `import('./mem-big.mjs?v=N')`", 'cjs-cache': 'CommonJS, `delete require.cache[file]` only', loader: "`loadVersionModule` (require.cache and parents' `children`)", host: '`UpdateHost` updates (whole path)' };
  const mib = (v) => v.toFixed(1);
  p(
    table(['technique', 'alive:', 'heapUsed MiB:', 'arrayBuffers MiB:', 'rss MiB:', 'growth: heapUsed / arrayBuffers / rss:'], M.map((x) => [desc[x.technique] ?? x.technique, `${x.alive}/${x.loaded}`, mib(x.after.heapUsed), mib(x.after.arrayBuffers), mib(x.after.rss), `+${mib(x.delta.heapUsed)} / +${mib(x.delta.arrayBuffers)} / +${mib(x.delta.rss)}`])),
  );
  p("ESM re-import keeps every generation (Node's ESM cache cannot be emptied), and so does deleting the `require.cache` entry alone (the module stays in its parent's `children`). The project's loader and the host keep only the running generation.");
  p();
  plots['update-memory.svg'] = bars({
    title: `Memory after ${M[0].generations} generations of an 8 MiB + 8 MiB module`,
    subtitle: 'after forced GC; only the latest generation is referenced; lower is better',
    yLabel: 'MiB',
    groups: M.map((x) => x.technique),
    series: ['heapUsed', 'arrayBuffers', 'rss'].map((key) => ({ name: key, values: M.map((x) => x.after[key]) })),
  });
  p('![memory after 30 generations](plots/update-memory.svg)');
  return { source: 'bench/run-update.mjs (npm run bench:update)', markdown: L.join('\n'), plots };
}

await suite({
  name: 'update',
  options: {
    rounds: { type: 'string', default: '2' },
    repeats: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '5' },
    only: { type: 'string' },
  },
  run,
  render,
  complete: (d) => PARTS.every((part) => d[part]),
});
