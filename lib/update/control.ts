// Update requests from outside the process: a Unix-domain socket, owner-only, served by
// libevent events of the host (so it works in both run modes). One request per connection,
// one JSON line each way: {"update": "<version path>", "strategy"?: "..."} -> UpdateReport.
import { chmodSync, mkdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { EV, type Event, io } from '../loop/index.js';
import type { UpdateHost } from './host.js';
import type { Strategy } from './types.js';

/** Where the control socket of process `pid` lives (a per-user directory, mode 0700). */
export function controlSocketPath(pid: number = process.pid): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  return path.join(os.tmpdir(), `node-libevent-${uid}`, `update-${pid}.sock`);
}

export class ControlServer {
  readonly path: string;
  #listenFd: number;
  #listener: Event;
  #clients = new Set<Event>();

  constructor(readonly host: UpdateHost, socketPath: string = controlSocketPath()) {
    this.path = socketPath;
    const dir = path.dirname(socketPath);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // An existing directory must be ours and closed to others, or anyone could swap the socket.
    const st = statSync(dir);
    if (typeof process.getuid === 'function' && st.uid !== process.getuid()) {
      throw Object.assign(new Error(`control socket directory ${dir} belongs to another user`), { code: 'ERR_CONTROL_DIR' });
    }
    if (st.mode & 0o077 && dir !== os.tmpdir()) chmodSync(dir, 0o700);
    rmSync(socketPath, { force: true });
    this.#listenFd = io.listenUnix(socketPath, 0o600);
    this.#listener = host.own(host.base.event(this.#listenFd, EV.READ | EV.PERSIST, () => this.#accept()));
    this.#listener.add();
  }

  close(): void {
    for (const c of this.#clients) io.close(c.fd);
    this.#clients.clear();
    io.close(this.#listenFd);
    this.#listener.free();
    rmSync(this.path, { force: true });
  }

  #accept(): void {
    for (let fd = io.accept(this.#listenFd); fd >= 0; fd = io.accept(this.#listenFd)) {
      let text = '';
      const buf = new Uint8Array(4096);
      const client = this.host.own(
        this.host.base.event(fd, EV.READ | EV.PERSIST, () => {
          for (let n = io.read(fd, buf); n !== -1; n = io.read(fd, buf)) {
            if (n === 0) return this.#drop(client);
            text += Buffer.from(buf.subarray(0, n)).toString('utf8');
            if (text.length > 65536) return this.#drop(client);
          }
          const nl = text.indexOf('\n');
          if (nl >= 0) this.#serve(client, text.slice(0, nl));
        }),
      );
      this.#clients.add(client);
      client.add(10_000);
    }
  }

  #serve(client: Event, line: string): void {
    client.del();
    let request: { update?: unknown; strategy?: unknown };
    try {
      request = JSON.parse(line) as typeof request;
    } catch {
      return this.#reply(client, { ok: false, error: { code: 'ERR_BAD_REQUEST', message: 'not JSON' } });
    }
    if (typeof request.update !== 'string') {
      return this.#reply(client, { ok: false, error: { code: 'ERR_BAD_REQUEST', message: 'expected {"update": "<path>"}' } });
    }
    const options = typeof request.strategy === 'string' ? { strategy: request.strategy as Strategy } : {};
    void this.host.requestUpdate(request.update, options).then((report) => this.#reply(client, report));
  }

  #reply(client: Event, body: unknown): void {
    if (!client.freed) {
      io.write(client.fd, Buffer.from(JSON.stringify(body) + '\n'));
      this.#drop(client);
    }
  }

  #drop(client: Event): void {
    this.#clients.delete(client);
    if (!client.freed) {
      io.close(client.fd);
      client.free();
    }
  }
}
