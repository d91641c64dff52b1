#!/usr/bin/env node
// Buffered-connection benchmarks, same machine, same run, then the "Buffered connections"
// section of docs/benchmarks.md (between <!-- buffered:begin --> and <!-- buffered:end -->),
// its plots in docs/plots/ and the raw figures in bench/out/buffered-latest.json.
//
// - Echo: a C load generator on libevent (bench/c/buffered.c) keeps 1, 10 or 100 connections
//   in ping-pong (each sends --size bytes and waits for them back) against three servers: the
//   C program's own bufferevent echo, this binding's (bench/buffered-servers.mjs), Node's net.
// - Proxy: one connection sends --proxy-mib MiB through a proxy to the C echo server and reads
//   it back (so the proxy relays it both ways): the C le-proxy shape, the binding's native
//   relay, the binding with JS read/write callbacks, Node's socket.pipe().
// - Rebinding: ns per live bufferevent when an update rebinds 10k of them (bench/buffered-rebind.mjs).
//
// Every server runs in its own process; each round runs every variant once, in an order that
// rotates between rounds. Figures are medians over rounds (and runs) with min–max.
// Usage: node bench/run-buffered.mjs [--rounds 3] [--secs 2] [--size 4096] [--proxy-mib 64]
//          [--proxy-runs 3] [--quick] [--no-docs] [--from bench/out/buffered-latest.json]
// Needs the compiled package (npx tsc -p tsconfig.build.json) and a C compiler; `npm run
// bench:buffered` does both.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

import { Load, log, machine, pinAddon, root, rotate, shell, suite, summarize } from './lib/harness.mjs';
import { bars, machineTable } from './lib/report.mjs';

const ECHO = ['c', 'binding', 'node'];
const PROXY = ['c', 'binding-relay', 'binding-js', 'node-pipe'];
const CONNS = [1, 10, 100];

function buildC() {
  const out = path.join(root, 'build', 'bench');
  mkdirSync(out, { recursive: true });
  const exe = path.join(out, 'buffered');
  const cflags = shell('pkg-config --cflags libevent_core');
  const libs = shell('pkg-config --libs libevent_core');
  const r = spawnSync('/bin/sh', ['-c', `cc -O2 -Wall -Wextra -std=c11 ${cflags} -o ${exe} ${path.join(root, 'bench/c/buffered.c')} ${libs}`], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('building bench/c/buffered.c failed');
  return exe;
}

/** Starts a server process and resolves with { port, stop } once it printed its port. */
function startServer(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
    let text = '';
    child.stdout.on('data', (d) => {
      text += d;
      const m = /port (\d+)/.exec(text);
      if (m) resolve({ port: Number(m[1]), stop: () => new Promise((r) => (child.exitCode !== null ? r() : (child.once('exit', r), child.kill()))) });
    });
    child.once('exit', (code) => reject(new Error(`${cmd} ${args.join(' ')} exited (${code}) before listening`)));
  });
}

function runJson(exe, args) {
  const r = spawnSync(exe, args, { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`${exe} ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
}

const servers = path.join(root, 'bench', 'buffered-servers.mjs');
function echoServer(exe, variant) {
  if (variant === 'c') return startServer(exe, ['echo', '0']);
  return startServer(process.execPath, [servers, variant === 'binding' ? 'binding-echo' : 'node-echo']);
}
function proxyServer(exe, variant, upstream) {
  if (variant === 'c') return startServer(exe, ['proxy', '0', String(upstream)]);
  return startServer(process.execPath, [servers, variant, String(upstream)]);
}
async function measure(opt) {
  const rounds = opt.quick ? 1 : Number(opt.rounds);
  const secs = opt.quick ? 0.5 : Number(opt.secs);
  const size = Number(opt.size);
  const proxyBytes = (opt.quick ? 8 : Number(opt['proxy-mib'])) * 1024 * 1024;
  const proxyRuns = opt.quick ? 1 : Number(opt['proxy-runs']);
  const exe = buildC();
  const pinned = pinAddon();
  const m = { ...(await machine(['lib', 'native', 'bench/c/buffered.c', 'bench/buffered-servers.mjs', 'bench/buffered-rebind.mjs'])), addonBuilt: pinned.built };
  const echo = {}; // `${variant}/${conns}` -> [{bytesPerSec, p50us, p99us}]
  const proxy = {}; // variant -> [bytesPerSec]
  const load = new Load();
  {
    for (let r = 0; r < rounds; r++) {
      load.sample();
      for (const conns of CONNS) {
        for (const v of rotate(ECHO, r)) {
          const s = await echoServer(exe, v);
          try {
            const res = runJson(exe, ['load', String(s.port), String(conns), String(size), String(secs)]);
            (echo[`${v}/${conns}`] ??= []).push(res);
            log(`round ${r + 1} echo ${v} x${conns}: ${(res.bytesPerSec / 1e6).toFixed(1)} MB/s p50 ${res.p50us} µs p99 ${res.p99us} µs`);
          } finally {
            await s.stop();
          }
        }
      }
      const up = await startServer(exe, ['echo', '0']);
      try {
        for (const v of rotate(PROXY, r)) {
          const s = await proxyServer(exe, v, up.port);
          try {
            for (let k = 0; k < proxyRuns; k++) {
              const res = runJson(exe, ['stream', String(s.port), String(proxyBytes)]);
              (proxy[v] ??= []).push(res.bytesPerSec);
              log(`round ${r + 1} proxy ${v}: ${(res.bytesPerSec / 1e6).toFixed(1)} MB/s`);
            }
          } finally {
            await s.stop();
          }
        }
      } finally {
        await up.stop();
      }
    }
    const rb = spawnSync(process.execPath, [path.join(root, 'bench', 'buffered-rebind.mjs'), '10000', opt.quick ? '5' : '15'], { encoding: 'utf8', env: process.env });
    if (rb.status !== 0) throw new Error(`buffered-rebind.mjs failed: ${rb.stderr}`);
    const rebind = JSON.parse(rb.stdout.trim());
    return { machine: m, load: load.done(), params: { rounds, secs, size, proxyMiB: proxyBytes / 1024 / 1024, proxyRuns }, echo, proxy, rebind };
  }
}

const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const mb = (x) => fmt(x / 1e6);

function render(raw) {
  const echoCell = (v, c, key) => summarize((raw.echo[`${v}/${c}`] ?? []).map((x) => x[key]));
  const lines = [];
  lines.push('## Buffered connections');
  lines.push('');
  lines.push(`Measured ${raw.machine.date.slice(0, 10)} by \`npm run bench:buffered\`${raw.quick ? ' (**quick run**: figures are indicative only)' : ''}; the machine was shared with other jobs during the run (see the load average).`);
  lines.push('');
  lines.push(machineTable(raw.machine, raw.load));
  lines.push(`Each server runs in its own process and the client is a C program on libevent (\`bench/c/buffered.c\`), the same for every server. ${raw.params.rounds} rounds; each round runs every variant once, rotating the order. Medians over rounds, min–max in brackets.`);
  lines.push('');
  lines.push(`### Echo (ping-pong, ${raw.params.size}-byte messages, ${raw.params.secs} s per measurement after 0.5 s warm-up)`);
  lines.push('');
  lines.push('Throughput counts bytes both ways. Latency is one message\'s round trip as the client sees it.');
  lines.push('');
  lines.push('| connections | C bufferevents MB/s | binding MB/s | Node net MB/s | binding / C | binding / Node | p50 µs C / binding / Node | p99 µs C / binding / Node |');
  lines.push('|---|---|---|---|---|---|---|---|');
  for (const c of CONNS) {
    const t = Object.fromEntries(ECHO.map((v) => [v, echoCell(v, c, 'bytesPerSec')]));
    const p50 = ECHO.map((v) => fmt(echoCell(v, c, 'p50us').median, 0)).join(' / ');
    const p99 = ECHO.map((v) => fmt(echoCell(v, c, 'p99us').median, 0)).join(' / ');
    const cell = (s) => `${mb(s.median)} [${mb(s.min)}–${mb(s.max)}]`;
    lines.push(`| ${c} | ${cell(t.c)} | ${cell(t.binding)} | ${cell(t.node)} | ${fmt(t.binding.median / t.c.median, 2)}× | ${fmt(t.binding.median / t.node.median, 2)}× | ${p50} | ${p99} |`);
  }
  lines.push('');
  lines.push('![echo throughput](plots/buffered-echo.svg)');
  lines.push('');
  lines.push(`### Proxy (${raw.params.proxyMiB} MiB through the proxy and back, one connection, ${raw.params.proxyRuns} transfers per round)`);
  lines.push('');
  lines.push('| proxy | MB/s (one direction) | / C le-proxy | / Node pipe() |');
  lines.push('|---|---|---|---|');
  const px = Object.fromEntries(PROXY.map((v) => [v, summarize(raw.proxy[v] ?? [])]));
  const names = { c: 'C, le-proxy shape', 'binding-relay': 'binding, native relay', 'binding-js': 'binding, JS read/write callbacks', 'node-pipe': "Node net, socket.pipe()" };
  for (const v of PROXY) {
    const s = px[v];
    lines.push(`| ${names[v]} | ${mb(s.median)} [${mb(s.min)}–${mb(s.max)}] | ${fmt(s.median / px.c.median, 2)}× | ${fmt(s.median / px['node-pipe'].median, 2)}× |`);
  }
  lines.push('');
  lines.push('![proxy throughput](plots/buffered-proxy.svg)');
  lines.push('');
  const rb = summarize(raw.rebind.nsPerBufferevent);
  lines.push(`### Rebinding in an update`);
  lines.push('');
  lines.push(`${raw.rebind.n} live bufferevents with three named callbacks each: resolving them to the new version's handlers (prepare) and swapping them (commit) costs **${fmt(rb.median, 0)} ns per bufferevent** (median of ${rb.count} updates after 3 warm-up ones, [${fmt(rb.min, 0)}–${fmt(rb.max, 0)}]). No libevent call is made.`);
  lines.push('');
  lines.push('Targets of issue 9: echo ≥ 0.8× C and ≥ 1.5× Node net; native relay ≥ 0.9× C and ≥ 2× Node pipe().');
  lines.push('');
  lines.push('Reading the figures: where the min–max ranges of two variants overlap, this run cannot tell them apart (the other jobs on the machine move every figure by several times). One difference is structural: libevent 2.1.12 reads at most 4096 bytes per readable event into a bufferevent (`EVBUFFER_MAX_READ`), for the C program and the binding alike, while Node reads up to 64 KiB per call; on bulk transfers (the proxy) that is 16 times the read calls per byte, which is why the libevent-based proxies trail `pipe()` here. With many connections, libevent also runs at most about 32 deferred bufferevent callbacks per loop iteration (`MAX_DEFERREDS_QUEUED`) and polls again for the rest; the binding needs `BEV_OPT_DEFER_CALLBACKS` (no JS re-entry), and the C program uses it too so that the comparison stays like for like. The native relay does move bytes without a JS call per chunk: its JS calls are the connection events only (test/buffer/relay.test.ts counts them).');

  const echoSvg = bars({
    title: 'Echo throughput (ping-pong, both directions)',
    subtitle: `${raw.params.size}-byte messages; C load client; higher is better`,
    whiskers: 'min–max',
    yLabel: 'MB/s',
    groups: CONNS.map((c) => `${c} conn${c > 1 ? 's' : ''}`),
    series: ECHO.map((v) => ({
      name: { c: 'C bufferevents', binding: 'binding', node: 'Node net' }[v],
      values: CONNS.map((c) => echoCell(v, c, 'bytesPerSec').median / 1e6),
      lo: CONNS.map((c) => echoCell(v, c, 'bytesPerSec').min / 1e6),
      hi: CONNS.map((c) => echoCell(v, c, 'bytesPerSec').max / 1e6),
    })),
  });
  const proxySvg = bars({
    title: `Proxy throughput (${raw.params.proxyMiB} MiB through and back)`,
    subtitle: 'one connection; higher is better',
    whiskers: 'min–max',
    yLabel: 'MB/s',
    groups: PROXY.map((v) => names[v].replace(', ', '\n')),
    series: [{ name: 'MB/s', values: PROXY.map((v) => px[v].median / 1e6), lo: PROXY.map((v) => px[v].min / 1e6), hi: PROXY.map((v) => px[v].max / 1e6) }],
  });
  return { source: 'bench/run-buffered.mjs (npm run bench:buffered)', markdown: lines.join('\n'), plots: { 'buffered-echo.svg': echoSvg, 'buffered-proxy.svg': proxySvg } };
}

await suite({
  name: 'buffered',
  options: {
    rounds: { type: 'string', default: '3' },
    secs: { type: 'string', default: '2' },
    size: { type: 'string', default: '4096' },
    'proxy-mib': { type: 'string', default: '64' },
    'proxy-runs': { type: 'string', default: '3' },
  },
  run: measure,
  render,
});
