// What every benchmark runner shares: options, the machine and its load, fresh child processes
// with a pinned addon and enough descriptors, rotation of rounds, statistics, the raw file in
// bench/out/, and handing the result to the report writer (./report.mjs). A runner supplies
// only its workload (`run`) and its question (`render`); see bench/README.md.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { writeReport } from './report.mjs';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const rel = (p) => path.relative(root, p);
export const log = (msg) => process.stderr.write(msg + '\n');

/** stdout of a shell command, or '' when it fails. */
export function shell(cmd) {
  const r = spawnSync('/bin/sh', ['-c', cmd], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : '';
}

// ---- statistics ------------------------------------------------------------------------

/** Quantile q in [0, 1], linear interpolation between order statistics. */
export function quantile(values, q) {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo] + (s[Math.ceil(pos)] - s[lo]) * (pos - lo);
}
export const median = (xs) => quantile(xs, 0.5);

/** Median, quartiles, extremes and count. */
export function summarize(values) {
  return {
    count: values.length,
    median: quantile(values, 0.5),
    p25: quantile(values, 0.25),
    p75: quantile(values, 0.75),
    min: values.length ? Math.min(...values) : NaN,
    max: values.length ? Math.max(...values) : NaN,
  };
}

/** Ratios of paired measurements (same round, same process…), summarized; undefined if none. */
export function paired(num, den) {
  const rs = num.map((v, k) => v / den[k]).filter(Number.isFinite);
  return rs.length ? { ...summarize(rs), perRun: rs } : undefined;
}

/** Least-squares line y = slope·x + intercept, with R². */
export function fitLine(xs, ys) {
  const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
  const mx = mean(xs);
  const my = mean(ys);
  const slope = xs.reduce((s, x, i) => s + (x - mx) * (ys[i] - my), 0) / xs.reduce((s, x) => s + (x - mx) ** 2, 0);
  const intercept = my - slope * mx;
  const ssRes = ys.reduce((s, y, i) => s + (y - intercept - slope * xs[i]) ** 2, 0);
  const ssTot = ys.reduce((s, y) => s + (y - my) ** 2, 0);
  return { slope, intercept, r2: 1 - ssRes / ssTot };
}

/** `list` rotated by k: round r runs its cells starting at another one, so drift hits all alike. */
export const rotate = (list, k) => list.map((_, i) => list[(i + k) % list.length]);

// ---- the machine -----------------------------------------------------------------------

/** The soft and hard limits on open files. */
export function fdLimits() {
  const num = (s) => (s === 'unlimited' ? Infinity : Number(s) || 1024);
  return { soft: num(shell('ulimit -n')), hard: num(shell('ulimit -Hn')) };
}

/**
 * What the figures were measured on. `measured` lists the paths whose uncommitted changes make
 * the commit "dirty" (the code under test and the benchmark's own files).
 */
export async function machine(measured) {
  const cpus = os.cpus();
  let libevent = 'unknown';
  try {
    libevent = (await import('../../dist/index.js')).libeventVersion();
  } catch {
    // dist/ not built (the pubsub benches compile their own copy): the runner fills it in.
  }
  const commit = shell(`git -C '${root}' rev-parse --short HEAD`);
  // Not shell(): its trim would eat the status column of the first line.
  const dirty = spawnSync('/bin/sh', ['-c', `git -C '${root}' status --porcelain -- ${measured.join(' ')}`], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean)
    .map((l) => l.slice(3));
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    libevent,
    cc: shell('cc --version | head -1'),
    commit: commit || 'unknown',
    dirty,
    date: new Date().toISOString(),
  };
}

/**
 * The 1-minute load average at start, at most (sampled before each child) and at the end, and
 * the cores other work took while each child ran (`note(child.env)`, see runChild).
 */
export class Load {
  start = os.loadavg()[0];
  max = this.start;
  other = [];
  sample() {
    this.max = Math.max(this.max, os.loadavg()[0]);
  }
  note(env) {
    if (Number.isFinite(env?.otherCores)) this.other.push(env.otherCores + (env.stealCores ?? 0));
  }
  done() {
    return { start: this.start, max: this.max, end: os.loadavg()[0], other: this.other };
  }
}

// Jiffies of the whole machine: busy (user, nice, system, irq, softirq) and steal (time the
// hypervisor gave the virtual CPUs' turn to someone else).
const CLK_TCK = Number(shell('getconf CLK_TCK')) || 100;
function jiffies() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return { busy: f[0] + f[1] + f[2] + f[5] + f[6], steal: f[7] ?? 0 };
  } catch {
    return undefined;
  }
}

/**
 * Copies the addon into a temporary directory for the whole run and points NODE_LIBEVENT_ADDON
 * at the copy (read by the loop layer, here and in children): a rebuild of build/ during a
 * long run can neither break it nor mix two builds in one report. Removed at exit.
 */
export function pinAddon() {
  const addon = process.env.NODE_LIBEVENT_ADDON
    ? path.resolve(process.env.NODE_LIBEVENT_ADDON)
    : path.join(root, 'build/Release/node_libevent.node');
  if (!existsSync(addon)) throw new Error(`no addon at ${rel(addon)}: run node scripts/build-addon.mjs`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'node-libevent-bench-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const pinned = path.join(dir, 'node_libevent.node');
  copyFileSync(addon, pinned);
  process.env.NODE_LIBEVENT_ADDON = pinned;
  return { dir, path: pinned, built: statSync(addon).mtime.toISOString() };
}

// ---- children --------------------------------------------------------------------------

/** argv of `node [flags] bench/<script> args…`. */
export const nodeArgv = (script, args = [], flags = []) => [process.execPath, ...flags, path.join(root, 'bench', script), ...args.map(String)];

/**
 * Runs argv in a fresh process under `ulimit -n` high enough for `fds`, and returns every JSON
 * object it printed on a line of its own (`all`), or the last one, together with how busy the
 * machine was meanwhile with other work: other processes' CPU time (the machine's busy time
 * minus the child's own, from the shell's `times`) and steal, in cores.
 */
export function runChild(argv, { fds = 0, all = false } = {}) {
  const limits = fdLimits();
  const want = Math.max(limits.soft, fds);
  if (want > limits.hard) throw new Error(`needs ${fds} descriptors; the hard limit is ${limits.hard}`);
  const j0 = jiffies();
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/bin/sh', ['-c', `ulimit -n ${want} || exit 97; "$@"; s=$?; times >&2; exit $s`, 'sh', ...argv], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  const j1 = jiffies();
  if (r.status !== 0) throw new Error(`${argv.map((a) => rel(a) || a).join(' ')} exited with ${r.status ?? r.signal}\n${r.stderr}`);
  const objects = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
  if (!objects.length) throw new Error(`${argv.map(rel).join(' ')} printed no result`);
  // `times` prints the shell's user/system time, then its children's: "0m5.120000s 0m0.100000s".
  const secs = (t) => t.split(/\s+/).reduce((acc, x) => {
    const m = x.match(/^(\d+)m([\d.]+)s$/);
    return m ? acc + 60 * Number(m[1]) + Number(m[2]) : acc;
  }, 0);
  const times = r.stderr.trim().split('\n').slice(-2);
  const own = times.length === 2 ? secs(times[1]) : NaN;
  const env = { wallS };
  if (j0 && j1 && Number.isFinite(own)) {
    env.otherCores = Math.max(0, (j1.busy - j0.busy) / CLK_TCK - own) / wallS;
    env.stealCores = (j1.steal - j0.steal) / CLK_TCK / wallS;
  }
  return all ? { lines: objects, env } : { ...objects[objects.length - 1], env };
}

// ---- a benchmark suite -----------------------------------------------------------------

/**
 * Runs one suite: parses its options (plus the common --quick, --no-docs, --from), runs the
 * workload or re-reads a raw file, saves the raw figures as bench/out/<name>-<date>.json (and
 * <name>-latest.json for complete runs), then writes its section of docs/benchmarks.md and
 * its plots through the report writer.
 *
 * `run(opt)` returns the data (with `machine`); `complete(data)` says whether it may become a
 * report (a partial run may not); `render(data)` returns { markdown, plots } for report.mjs.
 */
export async function suite({ name, options = {}, run, render, complete = () => true }) {
  const { values: opt } = parseArgs({
    options: {
      ...options,
      quick: { type: 'boolean', default: false },
      'no-docs': { type: 'boolean', default: false },
      from: { type: 'string' },
    },
  });
  try {
    let data;
    if (opt.from) {
      data = JSON.parse(readFileSync(path.resolve(opt.from), 'utf8'));
    } else {
      data = await run(opt);
      data.quick = opt.quick;
      const dir = path.join(root, 'bench/out');
      mkdirSync(dir, { recursive: true });
      const file = path.join(dir, `${name}-${data.machine.date.replace(/[:.]/g, '-')}.json`);
      writeFileSync(file, JSON.stringify(data, null, 1));
      if (complete(data) && !opt.quick) writeFileSync(path.join(dir, `${name}-latest.json`), JSON.stringify(data, null, 1));
      log(`raw figures: ${rel(file)}`);
    }
    if (opt['no-docs'] || (opt.quick && !opt.from)) return log('docs not written (--no-docs, or --quick: a quick run is not a report)');
    if (!complete(data)) return log('docs not written: a partial run (--only) is not a complete section');
    for (const file of await writeReport(name, render(data))) log(`wrote ${rel(file)}`);
  } catch (err) {
    log(`bench ${name}: ${err.stack ?? err}`);
    process.exit(1);
  }
}
