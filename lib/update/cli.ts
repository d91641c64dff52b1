// The node-libevent command line (bin/node-libevent.mjs runs it).
//
// `update` finds the control socket of the process asked for and checks it before it sends
// anything: the socket's directory must be a real directory of the target's user, closed to
// everyone else, and the process listening on it (SO_PEERCRED) must be that pid, running as
// that user. A socket planted by someone else is refused, and nothing is sent to it.
import { lstatSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { EV, EventBase, io } from '../loop/index.js';
import { checkControlDir, controlSocketDir } from './control.js';
import { peerCredentials } from './peer.js';

/** Exit statuses: the update went through; it was refused or failed; bad usage or no host; the socket is not trustworthy. */
export const EXIT = Object.freeze({ OK: 0, REFUSED: 1, NO_HOST: 2, UNTRUSTED: 3 });

const HELP: Record<string, string> = {
  main: `usage: node-libevent <command> [options]

commands:
  update <pid> <version-path>   update a running UpdateHost to another version
  help [command]                this text, or a command's

Run 'node-libevent help update' for the options of update.
`,
  update: `usage: node-libevent update <pid> <version-path> [--strategy <name>] [--socket <path>] [--timeout <ms>]

Sends an update request to the UpdateHost of process <pid> through its control socket and
prints the UpdateReport as JSON. <version-path> must lie inside the host's versions directory.

  --strategy <name>   inplace (default of the host), rebase, reinit or readd
  --socket <path>     the control socket (default: found from the process's environment)
  --timeout <ms>      give up waiting for the report after this long (default 60000)

Before sending, the socket's directory must be a real directory of the process's user with
mode 0700, and the peer of the connection (SO_PEERCRED) must be <pid> running as that user.

exit status: 0 updated, 1 refused or failed, 2 bad usage or no such host, 3 socket not trusted
`,
};

export interface CliOutput {
  write(text: string): unknown;
}

export async function runCli(argv: readonly string[], stdout: CliOutput = process.stdout, stderr: CliOutput = process.stderr): Promise<number> {
  const say = (text: string) => stderr.write(`node-libevent: ${text}\n`);
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
  if (command !== 'update') {
    say(`unknown command '${command}' (try --help)`);
    return EXIT.NO_HOST;
  }
  const positional: string[] = [];
  const options: Record<string, string> = {};
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--help' || a === '-h') {
      stdout.write(HELP.update!);
      return EXIT.OK;
    }
    if (a === '--strategy' || a === '--socket' || a === '--timeout') {
      const v = rest[++i];
      if (v === undefined) {
        say(`${a} needs a value`);
        return EXIT.NO_HOST;
      }
      options[a.slice(2)] = v;
    } else if (a.startsWith('--')) {
      say(`unknown option '${a}' (try node-libevent help update)`);
      return EXIT.NO_HOST;
    } else positional.push(a);
  }
  const [pidText, versionPath] = positional;
  const pid = Number(pidText);
  const timeoutMs = options.timeout === undefined ? 60_000 : Number(options.timeout);
  if (!Number.isInteger(pid) || pid <= 0 || !versionPath || positional.length > 2) {
    say('need a pid and a version path (try node-libevent help update)');
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
  const request = { update: path.resolve(versionPath), ...(options.strategy ? { strategy: options.strategy } : {}) };
  // A full backlog (the host is busy, or resting after running out of descriptors) refuses the
  // connection with EAGAIN: try again for a few seconds.
  let result = exchange(socketPath, pid, owner, Buffer.from(JSON.stringify(request) + '\n'), timeoutMs);
  for (let attempt = 0; attempt < 40 && 'failed' in result && result.failed === 'not connected'; attempt++) {
    await new Promise((r) => setTimeout(r, 100));
    result = exchange(socketPath, pid, owner, Buffer.from(JSON.stringify(request) + '\n'), timeoutMs);
  }
  if ('refused' in result) {
    say(`refusing ${socketPath}: ${result.refused}`);
    return EXIT.UNTRUSTED;
  }
  if ('failed' in result) {
    say(`no update host at ${socketPath} (${result.failed})`);
    return EXIT.NO_HOST;
  }
  let report: { ok?: unknown };
  try {
    report = JSON.parse(result.reply) as { ok?: unknown };
  } catch {
    say(`unreadable reply: ${result.reply.slice(0, 200)}`);
    return EXIT.NO_HOST;
  }
  stdout.write(JSON.stringify(report, null, 2) + '\n');
  return report.ok === true ? EXIT.OK : EXIT.REFUSED;
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

type Exchange = { reply: string } | { refused: string } | { failed: string };

/** Connects, checks the peer, sends `request` and reads the reply to EOF. */
function exchange(socketPath: string, pid: number, owner: number, request: Buffer, timeoutMs: number): Exchange {
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
  const chunks: Buffer[] = [];
  const buf = new Uint8Array(65_536);
  let checked = false;
  const finish = (r: Exchange) => {
    result = r;
    writer.del();
    reader.del();
  };
  const reader = base.event(fd, EV.READ | EV.PERSIST, (_fd, what) => {
    if (what & EV.TIMEOUT) return finish({ failed: 'timed out waiting for the report' });
    try {
      for (let n = io.read(fd, buf); n !== -1; n = io.read(fd, buf)) {
        if (n === 0) return finish({ reply: Buffer.concat(chunks).toString('utf8') });
        chunks.push(Buffer.from(buf.subarray(0, n)));
      }
    } catch (err) {
      finish({ failed: String((err as { code?: string }).code ?? err) });
    }
  });
  const writer = base.event(fd, EV.WRITE | EV.PERSIST, (_fd, what) => {
    if (what & EV.TIMEOUT) return finish({ failed: 'timed out connecting' });
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
