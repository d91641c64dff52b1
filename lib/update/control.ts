// Update requests from outside the process: a Unix-domain socket, owner-only, served by
// libevent events of the host (so it works in both run modes). One request per connection,
// one JSON line each way: {"update": "<version path>", "strategy"?: "...", "dryRun"?: true}
// -> UpdateReport, or {"status": true} -> { ok: true, ...UpdateHostStatus }. With "stream": true
// the host's log lines of the update come first, one {"log": "..."} line each.
//
// One bad client must never hurt the service: every callback here catches what it meets and
// drops that client; idle clients are dropped, the number of clients is capped, running out
// of descriptors pauses the listener instead of ending the loop, and replies of any size are
// written as the client reads them.
import { lstatSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { abortError, checkSignal, listenAbort } from '../loop/abort.js';
import { EV, type Event, io } from '../loop/index.js';
import { codeOf } from './errors.js';
import type { UpdateHost } from './host.js';
import { onExitSignal } from './signals.js';
import { kRequestUpdate, type Strategy, type UpdateReport } from './types.js';

/** Options of `new ControlServer()`. */
export interface ControlServerOptions {
  /** A client that sends nothing (or reads nothing of its reply) for this long is dropped. Default 10 000. */
  idleMs?: number;
  /** Clients served at once; further connections wait in the backlog. Default 32. */
  maxClients?: number;
  /** Longest request line accepted, in bytes. Default 64 KiB. */
  maxRequestBytes?: number;
  /**
   * Aborting it closes the server (as close(): clients dropped, socket file removed), like the
   * `signal` of Node's server.listen(). An already aborted signal makes nothing: the constructor
   * throws an AbortError.
   */
  signal?: AbortSignal;
}

const uid = (): number => (typeof process.getuid === 'function' ? process.getuid() : 0);

function controlError(message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code: 'ERR_CONTROL_DIR' });
}

/**
 * Checks that `dir` can hold a control socket owned by `owner`: a real directory (lstat, so
 * not a symlink), owned by `owner`, and closed to everyone else (no group or other bits).
 *
 * @param dir - the directory
 * @param owner - the uid that must own it (default: this process's)
 * @throws Error ERR_CONTROL_DIR naming what is wrong
 */
export function checkControlDir(dir: string, owner: number = uid()): void {
  let st;
  try {
    st = lstatSync(dir);
  } catch (cause) {
    throw Object.assign(controlError(`control socket directory ${dir} cannot be read: ${(cause as Error).message}`), { cause });
  }
  if (st.isSymbolicLink()) throw controlError(`control socket directory ${dir} is a symbolic link`);
  if (!st.isDirectory()) throw controlError(`control socket directory ${dir} is not a directory`);
  if (st.uid !== owner) throw controlError(`control socket directory ${dir} belongs to uid ${st.uid}, not ${owner}`);
  if ((st.mode & 0o077) !== 0) throw controlError(`control socket directory ${dir} is open to others (mode ${(st.mode & 0o777).toString(8)}, needs 700)`);
}

/** $XDG_RUNTIME_DIR when it is set and safe for `owner` (a private directory of theirs). */
function runtimeDir(env: NodeJS.ProcessEnv, owner: number): string | undefined {
  const dir = env.XDG_RUNTIME_DIR;
  if (!dir || !path.isAbsolute(dir)) return undefined;
  try {
    checkControlDir(dir, owner);
    return dir;
  } catch {
    return undefined;
  }
}

/**
 * The directory holding the control sockets of `owner`'s processes: `$XDG_RUNTIME_DIR/node-libevent`
 * when that runtime directory is usable, else `$TMPDIR/node-libevent-<uid>`.
 *
 * @param env - the environment to read XDG_RUNTIME_DIR and TMPDIR from
 * @param owner - the uid (default: this process's)
 * @returns the directory's path (it may not exist yet)
 */
export function controlSocketDir(env: NodeJS.ProcessEnv = process.env, owner: number = uid()): string {
  const runtime = runtimeDir(env, owner);
  if (runtime) return path.join(runtime, 'node-libevent');
  const tmp = env.TMPDIR && path.isAbsolute(env.TMPDIR) ? env.TMPDIR : os.tmpdir();
  return path.join(tmp.length > 1 ? tmp.replace(/\/+$/, '') : tmp, `node-libevent-${owner}`);
}

/**
 * Where the control socket of process `pid` lives (see controlSocketDir).
 *
 * @param pid - the host's process id (default: this process)
 * @returns the socket's path
 */
export function controlSocketPath(pid: number = process.pid): string {
  return path.join(controlSocketDir(), `update-${pid}.sock`);
}

/** Creates the default socket directory if needed (mode 0700, never through a symlink), then checks it. */
function ensureControlDir(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o700 }); // not recursive: its parent must already exist
  } catch (err) {
    if ((err as { code?: string }).code !== 'EEXIST') throw Object.assign(controlError(`cannot create ${dir}: ${(err as Error).message}`), { cause: err });
  }
  checkControlDir(dir);
}

/** Removes `update-<pid>.sock` files in `dir` whose process is gone (killed without cleaning up). */
function removeStaleSockets(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^update-(\d+)\.sock$/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || processExists(pid)) continue;
    const file = path.join(dir, name);
    try {
      const st = lstatSync(file);
      if (st.isSocket() && st.uid === uid()) rmSync(file, { force: true });
    } catch {
      // gone meanwhile
    }
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return codeOf(err) === 'EPERM'; // exists, owned by someone else
  }
}

/** One connection: reading its request, waiting for the update, or writing the reply. */
interface Client {
  fd: number;
  ev: Event;
  chunks: Buffer[];
  size: number;
  /** Bytes still to write. */
  out?: Buffer;
  /** The last line (the reply) is queued: close once `out` is written. */
  last: boolean;
  /** `ev` waits for writability (else for reading, or nothing). */
  writing: boolean;
  /** `ev` is a write event (it starts as the read event for the request). */
  writeEvent?: boolean;
  gone: boolean;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * The update host's control socket: a Unix socket (mode 0600, in a private per-user directory)
 * that takes one JSON request per connection from `node-libevent update|status <pid>` and
 * answers with the report. It runs on the host's own event base, so it answers under
 * host.run() and host.dispatch() alike. The socket file is removed by close(), at process
 * exit and on SIGTERM/SIGINT under host.run(); stale files of dead processes are removed when
 * a server starts in the default directory.
 *
 * @example
 * ```ts
 * import { EventBase } from 'node-libevent';
 * import { ControlServer, UpdateHost } from 'node-libevent/update';
 *
 * const host = new UpdateHost({ base: new EventBase(), versionsDir: './versions' });
 * await host.start('v1.cjs');
 * using control = new ControlServer(host);      // npx node-libevent update <pid> versions/v2.cjs
 * console.log(`control socket ${control.path}`);
 * await host.run();
 * ```
 */
export class ControlServer implements Disposable {
  /** The socket file. */
  readonly path: string;
  #listenFd: number;
  #listener: Event;
  #resume: Event;
  #clients = new Set<Client>();
  #paused = false;
  #closed = false;
  readonly #idleMs: number;
  readonly #maxClients: number;
  readonly #maxRequest: number;
  readonly #buf = new Uint8Array(4096);

  /**
   * @param host - the host it serves (its base runs the socket's events)
   * @param socketPath - default: `controlSocketPath()`, i.e. update-<pid>.sock in the private directory
   * @param options - client limits
   * @throws Error ERR_CONTROL_DIR (the directory is not private to this user), errno codes
   *   (EADDRINUSE…); RangeError ERR_OUT_OF_RANGE (options, a socket path too long)
   */
  constructor(
    /** The host it serves. */
    readonly host: UpdateHost,
    socketPath?: string,
    options: ControlServerOptions = {},
  ) {
    this.#idleMs = positiveInt(options.idleMs, 10_000, 'idleMs');
    this.#maxClients = positiveInt(options.maxClients, 32, 'maxClients');
    this.#maxRequest = positiveInt(options.maxRequestBytes, 65_536, 'maxRequestBytes');
    const signal = options.signal;
    checkSignal(signal);
    if (signal?.aborted) throw abortError(signal);
    const dir = path.dirname(socketPath ?? controlSocketPath());
    if (socketPath === undefined) {
      ensureControlDir(dir);
      removeStaleSockets(dir);
      socketPath = path.join(dir, `update-${process.pid}.sock`);
    } else {
      checkControlDir(dir); // a path given by the caller must sit in a private directory too
    }
    this.path = socketPath;
    rmSync(socketPath, { force: true });
    this.#listenFd = io.listenUnix(socketPath, 0o600);
    this.#listener = host.own(host.base.event(this.#listenFd, EV.READ | EV.PERSIST, () => this.#guard(() => this.#accept())));
    this.#listener.add();
    // Out of descriptors: the listener rests, then tries again (the backlog keeps the connection).
    this.#resume = host.own(host.base.timer(() => this.#guard(() => this.#unpause())));
    // The socket file goes with the process: at exit, and on SIGTERM/SIGINT (see signals.ts).
    process.on('exit', this.#onExit);
    this.#cancelSignal = onExitSignal(this.#onExit);
    this.#stopListening = listenAbort(signal, () => this.close());
  }

  #stopListening: () => void;

  #cancelSignal: () => void;

  readonly #onExit = (): void => {
    rmSync(this.path, { force: true });
  };

  #forgetProcess(): void {
    process.off('exit', this.#onExit);
    this.#cancelSignal();
  }

  /** `using control = new ControlServer(host)`: close() at the end of the scope. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Clients connected now. */
  get clients(): number {
    return this.#clients.size;
  }

  /** Drops the clients, stops listening and removes the socket file. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of [...this.#clients]) this.#drop(c);
    io.close(this.#listenFd);
    this.#listener.free();
    this.#resume.free();
    this.#forgetProcess();
    this.#stopListening();
    rmSync(this.path, { force: true });
  }

  /** Runs a callback body; whatever it throws stays here (the loop must never see it). */
  #guard(body: () => void, client?: Client): void {
    try {
      body();
    } catch {
      if (client) this.#drop(client);
    }
  }

  #accept(): void {
    while (this.#clients.size < this.#maxClients) {
      let fd: number;
      try {
        fd = io.accept(this.#listenFd);
      } catch (err) {
        if (codeOf(err) === 'ECONNABORTED') continue; // that one client is gone
        // Out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM), or anything else:
        // rest and try again rather than spin or end the loop.
        this.#pause();
        this.#resume.add(100);
        return;
      }
      if (fd < 0) return;
      const client: Client = { fd, ev: undefined as unknown as Event, chunks: [], size: 0, last: false, writing: false, gone: false };
      try {
        client.ev = this.host.own(this.host.base.event(fd, EV.READ | EV.PERSIST, (_fd, what) => this.#guard(() => this.#readable(client, what), client)));
      } catch {
        io.close(fd);
        continue;
      }
      this.#clients.add(client);
      client.ev.add(this.#idleMs);
    }
    this.#pause(); // at the cap: accept again when a client leaves
  }

  #pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#listener.del();
  }

  #unpause(): void {
    if (!this.#paused || this.#closed) return;
    this.#paused = false;
    this.#listener.add();
  }

  #readable(client: Client, what: number): void {
    if (what & EV.TIMEOUT) return this.#drop(client);
    let eof = false;
    let lineEnded = false;
    while (client.size <= this.#maxRequest) {
      const n = io.read(client.fd, this.#buf);
      if (n === -1) break;
      if (n === 0) {
        eof = true;
        break;
      }
      // Bytes are kept until the line is whole: a UTF-8 character may straddle two reads.
      const chunk = Buffer.from(this.#buf.subarray(0, n));
      const nl = chunk.indexOf(0x0a);
      lineEnded = nl >= 0;
      const part = lineEnded ? chunk.subarray(0, nl) : chunk;
      client.chunks.push(part);
      client.size += part.length;
      if (lineEnded) break;
    }
    if (client.size > this.#maxRequest) return this.#replyError(client, `a request is one line of at most ${this.#maxRequest} bytes`);
    // A half-closed client (request, then shutdown of its sending side) is served too.
    if (lineEnded || (eof && client.size > 0)) return this.#serve(client, Buffer.concat(client.chunks, client.size));
    if (eof) this.#drop(client); // closed without a request
  }

  #serve(client: Client, line: Buffer): void {
    client.ev.del();
    let request: unknown;
    try {
      request = JSON.parse(decoder.decode(line)) as unknown;
    } catch {
      return this.#replyError(client, 'a request is one line of UTF-8 JSON');
    }
    if (request === null || typeof request !== 'object' || Array.isArray(request)) {
      return this.#replyError(client, 'expected {"update": "<path>", "strategy"?: "<name>"}');
    }
    const { update, strategy, dryRun, stream, status } = request as { update?: unknown; strategy?: unknown; dryRun?: unknown; stream?: unknown; status?: unknown };
    if (status === true && update === undefined) return this.#reply(client, { ok: true, ...this.host.status() });
    if (typeof update !== 'string') return this.#replyError(client, 'expected {"update": "<path>"} or {"status": true}');
    if (strategy !== undefined && typeof strategy !== 'string') return this.#replyError(client, '"strategy" is a string');
    if (dryRun !== undefined && typeof dryRun !== 'boolean') return this.#replyError(client, '"dryRun" is a boolean');
    if (stream !== undefined && typeof stream !== 'boolean') return this.#replyError(client, '"stream" is a boolean');
    const options = { ...(strategy !== undefined ? { strategy: strategy as Strategy } : {}), ...(dryRun === true ? { dryRun: true } : {}) };
    // The host's log lines while this update runs (other requests' lines too, if several overlap).
    // Lines and the reply of an update are only queued here, and the client's write event writes
    // them once the loop runs again: most of them come from inside the update's pause, where a
    // write would wake the waiting CLI and hand it the CPU in the middle of the pause.
    this.#armWriteEvent(client, false);
    const onLog = stream === true ? (line: string) => this.#guard(() => this.#send(client, { log: line }, false, true), client) : undefined;
    if (onLog) this.host.on('log', onLog);
    this.host[kRequestUpdate](update, options, (report: UpdateReport | undefined, error?: { code: string; message: string }) => {
      if (onLog) this.host.off('log', onLog);
      this.#guard(() => this.#send(client, report ?? { ok: false, error }, true, true), client);
    });
  }

  #replyError(client: Client, message: string): void {
    this.#reply(client, { ok: false, error: { code: 'ERR_BAD_REQUEST', message } });
  }

  /** Queues the reply (the last line) and closes the client once it is written. */
  #reply(client: Client, body: unknown): void {
    this.#send(client, body, true);
  }

  /**
   * Queues one JSON line; writes as much as the socket takes now (unless `deferred`: then the
   * write event writes all of it), the rest when it is writable again.
   */
  #send(client: Client, body: unknown, last: boolean, deferred = false): void {
    if (client.gone || client.last) return; // vanished while its update ran, or already answered
    const line = Buffer.from(JSON.stringify(body) + '\n');
    client.out = client.out && client.out.length > 0 ? Buffer.concat([client.out, line]) : line;
    client.last = last;
    if (client.writing || (!deferred && this.#flush(client))) return;
    this.#armWriteEvent(client, true);
  }

  /** Makes `ev` the client's write event (made once, outside any pause), added if `add`. */
  #armWriteEvent(client: Client, add: boolean): void {
    if (!client.writeEvent) {
      client.ev.free();
      client.ev = this.host.own(this.host.base.event(client.fd, EV.WRITE | EV.PERSIST, (_fd, what) => this.#guard(() => this.#writable(client, what), client)));
      client.writeEvent = true;
    }
    if (add && !client.writing) {
      client.writing = true;
      client.ev.add(this.#idleMs);
    }
  }

  #writable(client: Client, what: number): void {
    if (what & EV.TIMEOUT) return this.#drop(client);
    if (this.#flush(client) && !client.gone) {
      // All written, reply still to come: stop waiting for writability (it would spin).
      client.ev.del();
      client.writing = false;
    }
  }

  /** True when everything queued is written (and, after the reply, the client closed). */
  #flush(client: Client): boolean {
    let out = client.out!;
    while (out.length > 0) {
      const n = io.write(client.fd, out); // EPIPE and ECONNRESET throw: the guard drops the client
      if (n === -1) break;
      out = out.subarray(n);
    }
    client.out = out;
    if (out.length > 0) return false;
    if (client.last) this.#drop(client);
    return true;
  }

  #drop(client: Client): void {
    if (client.gone) return;
    client.gone = true;
    this.#clients.delete(client);
    try {
      io.close(client.fd);
    } finally {
      if (client.ev && !client.ev.freed) client.ev.free();
      if (this.#paused && !this.#closed && !this.#resume.pending()) this.#unpause();
    }
  }
}

function positiveInt(v: number | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v <= 0) throw Object.assign(new RangeError(`${name} must be a positive integer`), { code: 'ERR_OUT_OF_RANGE' });
  return v;
}
