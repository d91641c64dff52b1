// Relay v1: like Tor 0.2.1.19: inbound RELAY_EARLY is counted instead of closing the circuit; the onion queue gets a limit. The update host loads this file.
import type { VersionContext } from 'node-libevent/update';
import { load } from '../load.js';
import { loaders } from './modules.js';

export const version = 'v1';

const modules = load(loaders);
export function main(ctx: VersionContext): void {
  modules.main.run(ctx, modules, version);
}
