// Relay v0: the baseline, modelled on Tor 0.2.1.18. The update host loads this file.
import type { VersionContext } from 'node-libevent/update';
import { load } from '../load.js';
import { loaders } from './modules.js';

export const version = 'v0';
const modules = load(loaders);
export function main(ctx: VersionContext): void {
  modules.main.run(ctx, modules, version);
}
