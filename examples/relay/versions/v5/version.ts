// Relay v5: like Tor 0.2.1.23: long-lived records carry the version that wrote them. The update host loads this file.
import type { VersionContext } from 'node-libevent/update';
import { load } from '../load.js';
import { loaders } from './modules.js';

export const version = 'v5';

const modules = load(loaders);
export function main(ctx: VersionContext): void {
  modules.main.run(ctx, modules, version);
}
