// Shared by the relay network tests: the build the processes run from, a network with
// downloads, and the streak driven through the CLI.
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';

import { defaultConfig, type NetworkConfig } from '../../examples/relay/config.js';
import { download, type DownloadPhase, type DownloadResult } from '../../examples/relay/start/download.js';
import { type Network, type Proc, repoRoot, startNetwork, updateThroughCli, versionsDir } from '../../examples/relay/start/network.js';

export { download, type DownloadResult, type Network, startNetwork, updateThroughCli, versionsDir };

/** Builds examples/relay when the build is missing or older than the v0 sources. */
export function ensureBuilt(): void {
  const marker = path.join(versionsDir, 'v12', 'version.js');
  const src = path.join(repoRoot, 'examples', 'relay', 'versions', 'v0', 'link.ts');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(src).mtimeMs) return;
  execFileSync(process.execPath, [path.join(repoRoot, 'examples', 'relay', 'build.mjs')], { stdio: 'inherit' });
}

export function testConfig(): NetworkConfig {
  return defaultConfig({ clients: 1 });
}

export const versionFile = (v: string) => path.join(versionsDir, v.includes('/') ? `${v}.js` : `${v}/version.js`);

/** A download a test started, as far as it got (kept live for the failure report). */
interface TrackedDownload {
  label: string;
  startedAt: number;
  phase: DownloadPhase;
  bytes: number;
  result?: DownloadResult;
}

/**
 * What a network test saw, for the report it prints when it fails: each download's stage and
 * bytes, the processes' INJECT and UPDATE lines, and (from the network) every process's last
 * STATUS and stderr lines. Pass `onLine` to startNetwork and `log` to checkedDownload.
 */
export class NetworkLog {
  readonly #t0 = performance.now();
  readonly downloads: TrackedDownload[] = [];
  readonly lines: string[] = [];

  readonly onLine = (p: Proc, kind: string, body: any): void => {
    if (kind === 'STATUS') return;
    const what = kind === 'UPDATE' ? `${body.from} -> ${body.to} ok=${body.ok} point=${body.point || '-'} pause=${Number(body.pauseMs).toFixed(2)} ms${body.error ? ` error ${body.error.code} in ${body.error.phase}: ${body.error.message}` : ''}` : JSON.stringify(body);
    this.lines.push(`${this.#at()} ${p.name} ${kind} ${what}`);
  };

  track(label: string): TrackedDownload {
    const d: TrackedDownload = { label, startedAt: performance.now(), phase: 'greet', bytes: 0 };
    this.downloads.push(d);
    return d;
  }

  #at(t = performance.now()): string {
    return `+${((t - this.#t0) / 1000).toFixed(2)}s`;
  }

  /** The report: downloads, the client's circuits and streams, each relay's state, lines, stderr tails. */
  report(net: Network | undefined): string {
    const out = ['--- network report (times since the test started) ---', 'downloads:'];
    for (const d of this.downloads) {
      const r = d.result;
      const state = r ? (r.ok ? 'done' : `FAILED: ${r.error}`) : `in flight for ${((performance.now() - d.startedAt) / 1000).toFixed(1)} s`;
      out.push(`  ${d.label}: started ${this.#at(d.startedAt)}, phase ${d.phase}, ${d.bytes} body bytes, ${state}`);
    }
    if (net) {
      const client = net.clients[0];
      const cs = client?.statusHistory.at(-1);
      out.push(`client (status at ${cs ? this.#at(cs.t) : 'never'}): ${cs ? `open ${cs.status.circuitsOpen}, building ${cs.status.circuitsBuilding}, built ${cs.status.circuitsBuilt}, failed ${cs.status.circuitsFailed}, streams opened ${cs.status.streamsOpened} done ${cs.status.streamsDone} failed ${cs.status.streamsFailed}, failures ${JSON.stringify(cs.status.failures)}` : ''}`);
      for (const c of cs?.status.openDetail ?? []) out.push(`  circuit ${c.id}: ${clientStage(c)} (${JSON.stringify(c)})`);
      for (const p of net.all) {
        const st = p.statusHistory.at(-1);
        const exited = p.child.exitCode !== null || p.child.signalCode !== null ? ` EXITED ${p.child.exitCode ?? p.child.signalCode}` : '';
        if (p.role === 'relay') {
          const s = st?.status;
          out.push(`${p.name} (status at ${st ? this.#at(st.t) : 'never'})${exited}: ${s ? `${s.version}, ${s.circuits} circuits, ${s.streams} streams, ${s.links} links, ${s.queuedCells} cells queued, ${s.cellsRelayed} relayed, ${s.points} update points` : ''}`);
          for (const key of ['circDetail', 'streamDetail', 'linkDetail']) for (const x of s?.[key] ?? []) out.push(`  ${key.replace('Detail', '')} ${JSON.stringify(x)}`);
        } else if (exited) out.push(`${p.name}${exited}`);
      }
    }
    out.push('lines:', ...this.lines.map((l) => `  ${l}`));
    for (const p of net?.all ?? []) if (p.stderr.length) out.push(`${p.name} stderr (last lines):`, ...collapseRepeats(p.stderr.slice(-60)).slice(-15).map((l) => `  ${l}`));
    return out.join('\n');
  }

  /**
   * Runs `body`; if it throws (a failed expectation, a download that timed out), the report is
   * appended to the error's message, so the CI log tells where every download and circuit was.
   */
  async explainFailures<T>(net: Network, body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (err) {
      await freshStatuses(net, 1500); // every process prints one a second: show where it is now
      const report = this.report(net);
      if (err instanceof Error) err.message += `\n${report}`;
      else process.stderr.write(`${report}\n`);
      throw err;
    }
  }
}

/** Waits until every running process printed a STATUS line after now, or `ms` passed. */
async function freshStatuses(net: Network, ms: number): Promise<void> {
  const counts = net.all.map((p) => p.statusHistory.length);
  const until = performance.now() + ms;
  while (performance.now() < until && net.all.some((p, i) => p.child.exitCode === null && (p.role === 'relay' || p.role === 'client') && p.statusHistory.length === counts[i])) {
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Consecutive equal lines as one, with their count. */
function collapseRepeats(lines: string[]): string[] {
  const out: string[] = [];
  let n = 0;
  lines.forEach((line, i) => {
    n++;
    if (lines[i + 1] === line) return;
    out.push(n > 1 ? `${line} (×${n})` : line);
    n = 0;
  });
  return out;
}

/** Where a client circuit is: SOCKS, build (CREATE2 to the guard), extend (hop n), begin (BEGIN sent), data. */
function clientStage(c: { state: string; built?: number; phase?: string; bytes?: number }): string {
  if (c.state === 'BUILDING') return c.built ? `extend (${c.built} of 3 hops built)` : 'build (CREATE2 to the guard, no CREATED2 yet)';
  if (c.state === 'CLOSED') return 'closed';
  if (c.phase === 'greeting' || c.phase === 'request') return `SOCKS ${c.phase}`;
  if (c.phase === 'connecting') return 'begin (BEGIN sent, no CONNECTED yet)';
  if (c.phase === 'open') return `data (${c.bytes ?? 0} bytes received)`;
  return `open, stream ${c.phase ?? 'none'}`;
}

/** Options of checkedDownload. */
export interface CheckedDownloadOptions {
  /** Cap on the reading rate of the onion download (bytes/s). */
  rate?: number;
  /** Each of the two downloads fails (with its phase and bytes) if it has not ended by then, ms. */
  timeoutMs?: number;
  /** Where the downloads are tracked for the failure report. */
  log?: NetworkLog;
}

/** Downloads `size` through the client's SOCKS port and checks it against a direct download. */
export async function checkedDownload(net: Network, size: number, rateOrOptions?: number | CheckedDownloadOptions): Promise<DownloadResult & { match: boolean }> {
  const o: CheckedDownloadOptions = typeof rateOrOptions === 'number' ? { rate: rateOrOptions } : (rateOrOptions ?? {});
  const c = net.config.clients[0]!;
  const n = (o.log?.downloads.length ?? 0) / 2 + 1;
  const one = (label: string, socks: { host: string; port: number } | undefined, rate?: number) => {
    const t = o.log?.track(`#${n} ${size} B ${label}`);
    return download({
      target: net.config.fileserver,
      size,
      ...(socks ? { socks } : {}),
      ...(rate ? { rate } : {}),
      ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
      onPhase: (phase) => void (t && (t.phase = phase)),
      onBytes: (bytes) => void (t && (t.bytes += bytes)),
    }).then((r) => {
      if (t) t.result = r;
      return r;
    });
  };
  const [direct, via] = await Promise.all([one('direct', undefined), one('through the network', { host: c.host, port: c.socksPort }, o.rate)]);
  return { ...via, match: direct.ok && via.ok && direct.sha512 === via.sha512 };
}

/** The client's next STATUS line (rejects after `timeoutMs`: the client stopped reporting). */
export function nextStatus(net: Network, timeoutMs = 10_000): Promise<Record<string, any>> {
  const p = net.clients[0]!;
  const n = p.statusHistory.length;
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const t = setInterval(() => {
      if (p.statusHistory.length > n) {
        clearInterval(t);
        resolve(p.status!);
      } else if (performance.now() - started > timeoutMs) {
        clearInterval(t);
        reject(new Error(`the client printed no STATUS line within ${timeoutMs} ms`));
      }
    }, 50);
  });
}
