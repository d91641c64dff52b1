// Relay v6: like Tor 0.2.1.24: a crypto subsystem checks the crypto library's capabilities when it initializes, not at load. The update host loads this file.
import type { VersionContext } from 'node-libevent/update';
import { load } from '../load.js';
import { loaders } from './modules.js';

export const version = 'v6';

const modules = load(loaders);
export function main(ctx: VersionContext): void {
  modules.main.run(ctx, modules, version);
}
