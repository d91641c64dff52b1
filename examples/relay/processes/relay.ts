// A relay process: its own event base, run by an UpdateHost that starts version v0 and takes
// updates from outside through its control socket (`node-libevent update <pid> <path>`).
// Once a second a host-owned timer prints a STATUS line for the launcher; every update report
// is printed as an UPDATE line. SIGTERM ends the loop and close everything.
//
// Environment: RELAY_OPTIONS (this relay's options, JSON), RELAY_INJECT_AT="<k>:<version
// path>" (request that update at the k-th update point: the DSUTest-style tests).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventBase } from 'node-libevent';
import { ControlServer, UpdateHost } from 'node-libevent/update';

// The update host's versions directory is the whole CommonJS tree: the versions and the wire
// protocol they require (a version may only require files inside it; each load evaluates
// fresh copies of all of them, and the host evicts them afterwards).
export const versionsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'relay-cjs');

async function main(): Promise<void> {
  const base = new EventBase(process.env.RELAY_EVENT_METHOD ? { method: process.env.RELAY_EVENT_METHOD } : {});
  const host = new UpdateHost({ base, versionsDir });
  await host.start('versions/v0/version.js');
  const control = new ControlServer(host);
  const say = (kind: string, body: unknown) => process.stdout.write(`${kind} ${JSON.stringify(body)}\n`);
  host.on('update', (report) => say('UPDATE', report));
  // "<k>:<path>" injects at the k-th update point of any kind; "<name>#<n>:<path>" at the
  // n-th point named <name> (e.g. extend#1: in the middle of a circuit extension).
  const inject = process.env.RELAY_INJECT_AT;
  if (inject) {
    const colon = inject.indexOf(':');
    const where = inject.slice(0, colon);
    const file = inject.slice(colon + 1);
    const [wanted, nth] = where.includes('#') ? [where.split('#')[0]!, Number(where.split('#')[1])] : [undefined, Number(where)];
    let seen = 0;
    let done = false;
    host.on('point', (name: string, count: number) => {
      if (done || (wanted !== undefined && name !== wanted)) return;
      if (++seen === nth) {
        done = true;
        say('INJECT', { point: name, count });
        void host.requestUpdate(file);
      }
    });
  }
  const status = () => {
    const s = host.context!.store as Map<string, any>;
    const circuits = s.get('circuits') as Map<number, any>;
    let queued = 0;
    for (const c of circuits.values()) queued += c.pQueue.length + c.nQueue.length;
    const stats = s.get('stats');
    say('STATUS', {
      version: host.version,
      circuits: circuits.size,
      streams: [...(s.get('connectionArray') as any[])].filter((c) => c.streamId !== undefined && !c.marked).length,
      links: [...(s.get('connectionArray') as any[])].filter((c) => c.linkVersion !== undefined && !c.marked).length,
      queuedCells: queued,
      circDetail: [...circuits.values()].slice(0, 6).map((c) => ({ gid: c.gid, p: c.pCircId.toString(16), n: c.nCircId.toString(16), relayed: c.cellsRelayed, pq: c.pQueue.length, nq: c.nQueue.length, pw: c.packageWindow, by: c.createdBy })),
      streamDetail: [...(s.get('connectionArray') as any[])].filter((c) => c.streamId !== undefined).slice(0, 8).map((c) => ({ gid: c.gid, circ: c.circGid, pw: c.packageWindow, cpw: circuits.get(c.circGid)?.packageWindow, blocked: c.readBlocked, state: c.state, outLen: c.outLen, readPending: c.readEv.freed ? -1 : c.readEv.pending(), marked: c.marked, bytesIn: c.bytesIn })),
      linkDetail: [...(s.get('connectionArray') as any[])].filter((c) => c.linkVersion !== undefined).map((c) => ({ gid: c.gid, v: c.linkVersion, state: c.state, outLen: c.outLen, writing: c.writing, writePending: c.writeEv.freed ? -1 : c.writeEv.pending(), readPending: c.readEv.freed ? -1 : c.readEv.pending(), inbuf: c.reader.bufferedBytes, active: c.activeCircuits.length, marked: c.marked })),
      cellsRelayed: stats.cellsRelayed,
      cellsOut: stats.cellsOut,
      bytesRead: stats.bytesRead,
      bytesWritten: stats.bytesWritten,
      stateItems: s.size,
      consensusRelays: s.get('dirView').consensus?.relays.length ?? 0,
      points: host.pointsReached,
      cpuUs: process.cpuUsage().user + process.cpuUsage().system,
    });
  };
  const timer = host.own(base.timer(status, { persist: true }));
  timer.add(1000);
  const stop = () => base.loopexit();
  // SIGTERM through Node, not a libevent signal event: the control server keeps its own Node
  // listener (to remove its socket file), which would override libevent's handler. Node's
  // listeners only run while Node's loop turns, hence host.run() below.
  process.on('SIGTERM', stop);
  const listener = (host.context!.store as Map<string, any>).get('listener');
  say('READY', { pid: process.pid, role: 'relay', port: listener.port, control: control.path, version: host.version });
  // The cooperative loop: in host.dispatch() (libevent owning the thread) Node's signal
  // listeners cannot run, and SIGTERM would end the process without closing (the update
  // host withdraws its listeners for a dispatch()).
  await host.run();
  status();
  control.close();
  host.close();
}

main().catch((err) => {
  process.stderr.write(`relay: ${err?.stack ?? err}\n`);
  process.exit(1);
});
