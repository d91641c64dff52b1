// Starts and stops the network's processes (each its own Node process on its own event base)
// and collects what they print: READY once, STATUS every second, UPDATE for each update.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { NetworkConfig } from '../config.js';

// This file runs from dist-examples/relay/start (npm start) or from its source in
// examples/relay/start (the tests); both are three levels below the repository root, and the
// processes always run from the build.
const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..', '..');
export const processesDir = path.join(repoRoot, 'dist-examples', 'relay', 'processes');
export const versionsDir = path.join(repoRoot, 'dist-examples', 'relay-cjs', 'versions');
export const cliPath = path.join(repoRoot, 'bin', 'node-libevent.mjs');

export interface Proc {
  name: string;
  role: string;
  child: ChildProcess;
  ready: Record<string, any>;
  status: Record<string, any> | undefined;
  statusHistory: { t: number; status: Record<string, any> }[];
  stderr: string[];
  exited: Promise<number | null>;
}

export async function startProcess(name: string, script: string, env: Record<string, string>, onLine?: (p: Proc, kind: string, body: any) => void): Promise<Proc> {
  // RELAY_NODE_ARGS: extra Node options for every process (bench/relay-profile.mjs passes --cpu-prof).
  const nodeArgs = (process.env.RELAY_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, path.join(processesDir, script)], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const proc: Proc = { name, role: '', child, ready: {}, status: undefined, statusHistory: [], stderr: [], exited: new Promise((r) => child.on('exit', (code) => r(code))) };
  createInterface({ input: child.stderr! }).on('line', (line) => {
    proc.stderr.push(line);
    if (proc.stderr.length > 200) proc.stderr.shift();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 20 s:\n${proc.stderr.join('\n')}`)), 20_000);
    const early = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before it was ready:\n${proc.stderr.join('\n')}`));
    };
    child.on('exit', early);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const sp = line.indexOf(' ');
      const kind = line.slice(0, sp);
      let body: any;
      try {
        body = JSON.parse(line.slice(sp + 1));
      } catch {
        return;
      }
      if (kind === 'READY') {
        proc.ready = body;
        proc.role = body.role;
        clearTimeout(timer);
        child.off('exit', early);
        resolve(proc);
      } else if (kind === 'STATUS') {
        proc.status = body;
        proc.statusHistory.push({ t: performance.now(), status: body });
      }
      onLine?.(proc, kind, body);
    });
  });
}

export interface Network {
  config: NetworkConfig;
  fileserver: Proc;
  dirauth: Proc;
  relays: Proc[];
  clients: Proc[];
  all: Proc[];
  stop(): Promise<void>;
}

export async function startNetwork(config: NetworkConfig, options: { relayEnv?: (i: number) => Record<string, string>; onLine?: (p: Proc, kind: string, body: any) => void } = {}): Promise<Network> {
  const started: Proc[] = [];
  const stop = async () => {
    for (const p of started.reverse()) if (p.child.exitCode === null) p.child.kill('SIGTERM');
    const deadline = setTimeout(() => started.forEach((p) => p.child.exitCode === null && p.child.kill('SIGKILL')), 5000);
    await Promise.all(started.map((p) => p.exited));
    clearTimeout(deadline);
  };
  try {
    const env = () => ({ RELAY_NETWORK_CONFIG: JSON.stringify(config) });
    const fileserver = await startProcess('fileserver', 'fileserver.js', env(), options.onLine);
    started.push(fileserver);
    config.fileserver.port = fileserver.ready.port;
    const dirauth = await startProcess('dirauth', 'dirauth.js', env(), options.onLine);
    started.push(dirauth);
    config.dirauth.port = dirauth.ready.port;
    const relays = await Promise.all(
      config.relays.map(async (r, i) => {
        const relayOptions = { ...r, dirHost: config.dirauth.host, dirPort: config.dirauth.port, consensusInterval: config.consensusInterval, clique: false };
        const p = await startProcess(r.nickname, 'relay.js', { ...env(), RELAY_OPTIONS: JSON.stringify(relayOptions), ...(options.relayEnv?.(i) ?? {}) }, options.onLine);
        started.push(p);
        r.orPort = p.ready.port;
        return p;
      }),
    );
    const clients = await Promise.all(
      config.clients.map(async (c, i) => {
        const p = await startProcess(c.nickname, 'client.js', { ...env(), RELAY_CLIENT_INDEX: String(i) }, options.onLine);
        started.push(p);
        c.socksPort = p.ready.socksPort;
        return p;
      }),
    );
    return { config, fileserver, dirauth, relays, clients, all: [...started], stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** One update through the project's CLI, as an operator would run it. */
export function updateThroughCli(pid: number, versionFile: string): Promise<any> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, 'update', String(pid), versionFile, '--json'], { timeout: 30_000 }, (err, stdout, stderr) => {
      try {
        resolve(JSON.parse(stdout));
      } catch {
        resolve({ ok: false, error: { code: 'ERR_CLI', phase: 'request', message: `${err?.message ?? ''} ${stderr}`.trim() } });
      }
    });
  });
}
