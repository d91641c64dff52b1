// Shared by the relay network tests: the build the processes run from, a network with
// downloads, and the streak driven through the CLI.
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';

import { defaultConfig, type NetworkConfig } from '../../examples/relay/config.js';
import { download, type DownloadResult } from '../../examples/relay/start/download.js';
import { type Network, repoRoot, startNetwork, updateThroughCli, versionsDir } from '../../examples/relay/start/network.js';

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

/** Downloads `size` through the client's SOCKS port and checks it against a direct download. */
export async function checkedDownload(net: Network, size: number, rate?: number): Promise<DownloadResult & { match: boolean }> {
  const c = net.config.clients[0]!;
  const [direct, via] = await Promise.all([
    download({ target: net.config.fileserver, size }),
    download({ socks: { host: c.host, port: c.socksPort }, target: net.config.fileserver, size, ...(rate ? { rate } : {}) }),
  ]);
  return { ...via, match: direct.ok && via.ok && direct.sha512 === via.sha512 };
}

/** The client's next STATUS line. */
export function nextStatus(net: Network): Promise<Record<string, any>> {
  const p = net.clients[0]!;
  const n = p.statusHistory.length;
  return new Promise((resolve) => {
    const t = setInterval(() => {
      if (p.statusHistory.length > n) {
        clearInterval(t);
        resolve(p.status!);
      }
    }, 50);
  });
}
