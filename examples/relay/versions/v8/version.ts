// Relay v8: like Tor 0.2.1.26: a new periodic event expires idle server-side circuits; idle links close after 180 s; the clique option is gone. The update host loads this file.
import type { VersionContext } from 'node-libevent/update';
import { load } from '../load.js';
import { loaders } from './modules.js';

export const version = 'v8';

const modules = load(loaders);
export function main(ctx: VersionContext): void {
  modules.main.run(ctx, modules, version);
}
