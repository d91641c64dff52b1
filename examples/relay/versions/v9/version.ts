// Relay v9: like Tor 0.2.1.27: END reason NOROUTE is known (exits still send MISC); circuit events carry the reason's name (a changed message type). The update host loads this file.
import type { VersionContext } from 'node-libevent/update';
import { load } from '../load.js';
import { loaders } from './modules.js';

export const version = 'v9';

const modules = load(loaders);
export function main(ctx: VersionContext): void {
  modules.main.run(ctx, modules, version);
}
