// The node-libevent command line (bin/node-libevent.mjs runs it).
//
// `update` finds the control socket of the process asked for and checks it before it sends
// anything: the socket's directory must be a real directory of the target's user, closed to
// everyone else, and the process listening on it (SO_PEERCRED) must be that pid, running as
// that user. A socket planted by someone else is refused, and nothing is sent to it.
import { lstatSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { EV, EventBase, io } from '../loop/index.js';
import { checkControlDir, controlSocketDir } from './control.js';
import { peerCredentials } from './peer.js';

/**
 * Exit statuses, one per failure kind: the update (or status, or dry run) went through; the
 * version failed in prepare and was rolled back; bad usage or no such host; the socket is not
 * trusted (nothing was sent); the host refused the request before trying it (bad path, outside
 * the versions directory, unknown strategy, no version running, host closing, bad request); no
 * reply in time (whether the update happened is unknown: ask `status`).
 */
export const EXIT = Object.freeze({ OK: 0, FAILED: 1, NO_HOST: 2, UNTRUSTED: 3, REFUSED: 4, NO_REPLY: 5 });

const EXIT_TEXT = `exit status: 0 done, 1 the version failed in prepare (rolled back, the old version runs),
  2 bad usage or no such host, 3 socket not trusted (nothing sent), 4 request refused by the host
  (bad or outside path, unknown strategy, no version running, host closing), 5 no reply in time
`;

const HELP: Record<string, string> = {
  main: `usage: node-libevent <command> [options]

commands:
  update <pid> <version-path>   update a running UpdateHost to another version (or --dry-run)
  status <pid>                  the running version, uptime, updates done, the last report
  help [command]                this text, or a command's

Run 'node-libevent help <command>' for its options.
`,
  update: `usage: node-libevent update <pid> <version-path> [--dry-run] [--json] [--strategy <name>] [--socket <path>] [--timeout <ms>]

Sends an update request to the UpdateHost of process <pid> through its control socket, shows
the host's log lines while the update runs (on stderr) and prints the UpdateReport.
<version-path> must lie inside the host's versions directory.

  --dry-run           prepare the update fully at an update point (load, main, state, publish-
                      subscribe, handler map), report what would happen, then discard it: the
                      running version is untouched
  --json              print the report as JSON (default: readable text)
  --strategy <name>   inplace (default of the host), rebase, reinit or readd
  --socket <path>     the control socket (default: found from the process's environment)
  --timeout <ms>      give up waiting for the report after this long (default 60000)

Before sending, the socket's directory must be a real directory of the process's user with
mode 0700, and the peer of the connection (SO_PEERCRED) must be <pid> running as that user.

${EXIT_TEXT}`,
  status: `usage: node-libevent status <pid> [--json] [--socket <path>] [--timeout <ms>]

Asks the UpdateHost of process <pid> for its running version, uptime, how many updates went
through or failed, and the last update's report. The socket is checked as for update.

${EXIT_TEXT}`,
};

export interface CliOutput {
  write(text: string): unknown;
}

const VALUE_OPTIONS = new Set(['--strategy', '--socket', '--timeout']);
const FLAGS: Record<string, readonly string[]> = { update: ['--dry-run', '--json'], status: ['--json'] };

export async function runCli(argv: readonly string[], stdout: CliOutput = process.stdout, stderr: CliOutput = process.stderr): Promise<number> {
  const say = (text: string) => stderr.write(`node-libevent: ${text}\n`);
  warnIfNpxInCheckout(say);
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    const topic = command === 'help' ? rest[0] : undefined;
    if (topic !== undefined && !(topic in HELP)) {
      say(`no help for '${topic}'`);
      return EXIT.NO_HOST;
    }
    (command === undefined ? stderr : stdout).write(HELP[topic ?? 'main']!);
    return command === undefined ? EXIT.NO_HOST : EXIT.OK;
  }
  if (command !== 'update' && command !== 'status') {
    say(`unknown command '${command}' (try --help)`);
    return EXIT.NO_HOST;
  }
  const positional: string[] = [];
  const options: Record<string, string> = {};
  const flags = new Set<string>();
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--help' || a === '-h') {
      stdout.write(HELP[command]!);
      return EXIT.OK;
    }
    if (VALUE_OPTIONS.has(a) && (command === 'update' || a !== '--strategy')) {
      const v = rest[++i];
      if (v === undefined) {
        say(`${a} needs a value`);
        return EXIT.NO_HOST;
      }
      options[a.slice(2)] = v;
    } else if (FLAGS[command]!.includes(a)) flags.add(a);
    else if (a.startsWith('--')) {
      say(`unknown option '${a}' (try node-libevent help ${command})`);
      return EXIT.NO_HOST;
    } else positional.push(a);
  }
  const wanted = command === 'update' ? 2 : 1;
  const [pidText, versionPath] = positional;
  const pid = Number(pidText);
  const timeoutMs = options.timeout === undefined ? 60_000 : Number(options.timeout);
  if (!Number.isInteger(pid) || pid <= 0 || positional.length !== wanted || (command === 'update' && !versionPath)) {
    say(command === 'update' ? 'need a pid and a version path (try node-libevent help update)' : 'need a pid (try node-libevent help status)');
    return EXIT.NO_HOST;
  }
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    say('--timeout is a positive number of milliseconds');
    return EXIT.NO_HOST;
  }
  const owner = processUid(pid);
  if (owner === undefined) {
    say(`no process ${pid}`);
    return EXIT.NO_HOST;
  }
  const socketPath = options.socket ?? findSocket(pid, owner);
  try {
    checkControlDir(path.dirname(socketPath), owner);
    const st = lstatSync(socketPath);
    if (!st.isSocket()) throw new Error(`${socketPath} is not a socket`);
    if (st.uid !== owner) throw new Error(`${socketPath} belongs to uid ${st.uid}, not to the user of process ${pid} (${owner})`);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT') {
      say(`no update host at ${socketPath} (ENOENT)`);
      return EXIT.NO_HOST;
    }
    say(`refusing ${socketPath}: ${(err as Error).message}`);
    return code === 'ERR_CONTROL_DIR' && /cannot be read/.test((err as Error).message) ? EXIT.NO_HOST : EXIT.UNTRUSTED;
  }
  const json = flags.has('--json');
  const dryRun = flags.has('--dry-run');
  const request =
    command === 'status'
      ? { status: true }
      : { update: path.resolve(versionPath!), stream: true, ...(options.strategy ? { strategy: options.strategy } : {}), ...(dryRun ? { dryRun: true } : {}) };
  const line = Buffer.from(JSON.stringify(request) + '\n');
  // The host's phase log, as it comes (stderr, so that stdout holds only the report).
  const onLog = (text: string) => stderr.write(`host: ${text}\n`);
  // A full backlog (the host is busy, or resting after running out of descriptors) refuses the
  // connection with EAGAIN: try again for a few seconds.
  let result = exchange(socketPath, pid, owner, line, timeoutMs, onLog);
  for (let attempt = 0; attempt < 40 && 'failed' in result && result.failed === 'not connected'; attempt++) {
    await new Promise((r) => setTimeout(r, 100));
    result = exchange(socketPath, pid, owner, line, timeoutMs, onLog);
  }
  if ('refused' in result) {
    say(`refusing ${socketPath}: ${result.refused}`);
    return EXIT.UNTRUSTED;
  }
  if ('failed' in result) {
    if (result.timedOut) {
      say(`no reply from ${socketPath} within ${timeoutMs} ms (${result.failed}); the outcome is unknown: ask 'node-libevent status ${pid}'`);
      return EXIT.NO_REPLY;
    }
    say(`no update host at ${socketPath} (${result.failed})`);
    return EXIT.NO_HOST;
  }
  let reply: Record<string, any>;
  try {
    reply = JSON.parse(result.reply) as Record<string, any>;
    if (reply === null || typeof reply !== 'object') throw new Error('not an object');
  } catch {
    say(`unreadable reply: ${result.reply.slice(0, 200)}`);
    return EXIT.NO_HOST;
  }
  stdout.write(json ? JSON.stringify(reply, null, 2) + '\n' : command === 'status' && reply.ok === true ? describeStatus(reply) : describeReport(reply, versionPath ?? ''));
  if (reply.ok === true) return EXIT.OK;
  return reply.error?.phase === 'request' || reply.error?.code === 'ERR_BAD_REQUEST' ? EXIT.REFUSED : EXIT.FAILED;
}

const ms = (v: unknown) => (typeof v === 'number' ? v.toFixed(2) : '?');

/** An UpdateReport as an operator reads it. */
export function describeReport(r: Record<string, any>, asked: string): string {
  const lines: string[] = [];
  if (r.ok !== true) {
    const e = r.error ?? {};
    const phase = e.phase ? ` in ${e.phase}` : '';
    lines.push(`${r.dryRun ? 'dry run' : 'update'} ${r.from || '?'} -> ${r.to || asked}: ${e.phase === 'request' || e.code === 'ERR_BAD_REQUEST' ? 'REFUSED' : 'FAILED'}${phase}`);
    lines.push(`  ${e.code ?? 'error'}: ${e.message ?? '(no message)'}`);
    if (r.from) lines.push(`  ${r.from} still runs, untouched`);
    return lines.join('\n') + '\n';
  }
  const handlers: { from: string; to: string; events: number }[] = Array.isArray(r.handlers) ? r.handlers : [];
  const rebound = handlers.map((h) => (h.from === h.to ? `${h.from} ${h.events}` : `${h.from} -> ${h.to} ${h.events}`)).join(', ');
  const dropped: string[] = Array.isArray(r.messagesDropped) ? r.messagesDropped : [];
  const p = r.phases ?? {};
  if (r.dryRun) lines.push(`dry run ${r.from} -> ${r.to} at point '${r.point}' (${r.strategy}): would go through; discarded, ${r.from} still runs`);
  else lines.push(`updated ${r.from} -> ${r.to} at point '${r.point}' (${r.strategy}), paused ${ms(r.pauseMs)} ms`);
  const would = r.dryRun ? 'would be ' : '';
  lines.push(`  events ${would}rebound: ${r.eventsRewired}${rebound ? ` (${rebound})` : ''}`);
  lines.push(`  state items: ${r.stateItems}`);
  lines.push(`  messages ${would}carried: ${r.messagesCarried}, ${would}dropped: ${dropped.length ? dropped.join(', ') : 'none'}`);
  lines.push(`  phases (ms): quiesce ${ms(p.quiesce)}, load ${ms(p.load)}, init ${ms(p.init)}, migrate ${ms(p.migrate)}, rewire ${ms(p.rewire)}, commit ${ms(p.commit)}`);
  // Time the host's thread was ready but had no CPU: tells a preempted pause from slow work.
  if (typeof r.runQueueWaitMs === 'number') lines.push(`  run-queue wait: ${ms(r.runQueueWaitMs)} ms of the pause (ready, another process on the CPU)`);
  return lines.join('\n') + '\n';
}

/** A host's status as an operator reads it. */
export function describeStatus(s: Record<string, any>): string {
  const lines = [`pid ${s.pid}: running ${s.version ?? '(nothing)'} for ${duration(s.uptimeMs)} (strategy ${s.strategy})`];
  lines.push(`  updates: ${s.updates} done, ${s.failedUpdates} failed; update points reached: ${s.pointsReached}`);
  lines.push(`  versions directory: ${s.versionsDir}`);
  const last = s.lastReport as Record<string, any> | undefined;
  if (!last) lines.push('  last update: none');
  else if (last.ok) {
    const waited = typeof last.runQueueWaitMs === 'number' ? ` (run-queue wait ${ms(last.runQueueWaitMs)} ms)` : '';
    lines.push(`  last update: ${last.from} -> ${last.to}, paused ${ms(last.pauseMs)} ms${waited}, ${last.eventsRewired} events rebound`);
  }
  else lines.push(`  last update: ${last.from} -> ${last.to || '?'} failed in ${last.error?.phase}: ${last.error?.code} ${last.error?.message}`);
  return lines.join('\n') + '\n';
}

function duration(msTotal: unknown): string {
  if (typeof msTotal !== 'number' || !Number.isFinite(msTotal)) return '?';
  const s = Math.floor(msTotal / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

/**
 * `npx node-libevent …` inside this package's own checkout: npx treats the checkout as a
 * package to install, and its install script rebuilds the addon (seconds, under a running
 * service). Say so, and how to run the CLI directly.
 */
function warnIfNpxInCheckout(say: (text: string) => void): void {
  if (process.env.npm_command !== 'exec') return; // npx and npm exec set it; npm run does not
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  let cwd = path.resolve(process.cwd());
  for (;;) {
    if (cwd === root || isOwnCheckout(cwd)) {
      say(`warning: run through npx inside node-libevent's own checkout (${cwd}); npx may reinstall and rebuild the package there. Run 'node bin/node-libevent.mjs …' instead.`);
      return;
    }
    const up = path.dirname(cwd);
    if (up === cwd) return;
    cwd = up;
  }
}

function isOwnCheckout(dir: string): boolean {
  try {
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown };
    return pkg.name === 'node-libevent' && lstatExists(path.join(dir, 'native'));
  } catch {
    return false;
  }
}

/** The effective uid of process `pid`, or undefined when there is no such process. */
function processUid(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^Uid:\s+\d+\s+(\d+)/m.exec(status);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Where process `pid` (of user `owner`) has its control socket, from its own environment when readable. */
function findSocket(pid: number, owner: number): string {
  const envs: NodeJS.ProcessEnv[] = [];
  try {
    const env: NodeJS.ProcessEnv = {};
    for (const entry of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    envs.push(env);
  } catch {
    // another user's process: fall back to the usual places
  }
  if (typeof process.getuid === 'function' && process.getuid() === owner) envs.push(process.env);
  envs.push({ XDG_RUNTIME_DIR: `/run/user/${owner}` }, {});
  const candidates = envs.map((env) => path.join(controlSocketDir(env, owner), `update-${pid}.sock`));
  return candidates.find((p) => lstatExists(p)) ?? candidates[0]!;
}

function lstatExists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

type Exchange = { reply: string } | { refused: string } | { failed: string; timedOut?: boolean };

/**
 * Connects, checks the peer, sends `request` and reads to EOF. Lines {"log": "..."} go to
 * `onLog` as they arrive; the reply is the last other line.
 */
function exchange(socketPath: string, pid: number, owner: number, request: Buffer, timeoutMs: number, onLog: (line: string) => void): Exchange {
  let fd: number;
  try {
    fd = io.connectUnix(socketPath);
  } catch (err) {
    const code = (err as { code?: string }).code;
    return { failed: code === 'EAGAIN' ? 'not connected' : String(code ?? (err as Error).message) };
  }
  const base = new EventBase();
  let result: Exchange = { failed: 'timed out' };
  let out = request;
  let pending = Buffer.alloc(0);
  let reply = '';
  const takeLines = () => {
    for (let nl = pending.indexOf(0x0a); nl >= 0; nl = pending.indexOf(0x0a)) {
      const text = pending.subarray(0, nl).toString('utf8');
      pending = pending.subarray(nl + 1);
      const log = logLine(text);
      if (log !== undefined) onLog(log);
      else reply = text;
    }
  };
  const buf = new Uint8Array(65_536);
  let checked = false;
  const finish = (r: Exchange) => {
    result = r;
    writer.del();
    reader.del();
  };
  const reader = base.event(fd, EV.READ | EV.PERSIST, (_fd, what) => {
    if (what & EV.TIMEOUT) return finish({ failed: 'timed out waiting for the report', timedOut: true });
    try {
      for (let n = io.read(fd, buf); n !== -1; n = io.read(fd, buf)) {
        if (n === 0) {
          if (pending.length > 0) reply = logLine(pending.toString('utf8')) === undefined ? pending.toString('utf8') : reply;
          return finish({ reply });
        }
        pending = Buffer.concat([pending, buf.subarray(0, n)]);
        takeLines();
      }
    } catch (err) {
      finish({ failed: String((err as { code?: string }).code ?? err) });
    }
  });
  const writer = base.event(fd, EV.WRITE | EV.PERSIST, (_fd, what) => {
    if (what & EV.TIMEOUT) return finish({ failed: 'timed out connecting', timedOut: true });
    try {
      if (!checked) {
        const peer = peerCredentials(fd);
        if (peer.pid === 0) return finish({ failed: 'not connected' });
        if (peer.pid !== pid || peer.uid !== owner) {
          return finish({ refused: `it is served by pid ${peer.pid} (uid ${peer.uid}), not by process ${pid} (uid ${owner})` });
        }
        checked = true;
      }
      while (out.length > 0) {
        const n = io.write(fd, out);
        if (n === -1) return;
        out = out.subarray(n);
      }
      writer.del();
      reader.add(timeoutMs);
    } catch (err) {
      finish({ failed: String((err as { code?: string }).code ?? err) });
    }
  });
  writer.add(timeoutMs);
  try {
    base.dispatch();
  } finally {
    io.close(fd);
    base.free();
  }
  return result;
}

/** The text of a streamed {"log": "..."} line, or undefined for any other line. */
function logLine(text: string): string | undefined {
  if (!text.startsWith('{"log":')) return undefined;
  try {
    const v = JSON.parse(text) as { log?: unknown };
    return typeof v.log === 'string' && Object.keys(v).length === 1 ? v.log : undefined;
  } catch {
    return undefined;
  }
}
