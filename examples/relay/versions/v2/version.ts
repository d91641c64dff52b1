// Relay v2: like Tor 0.2.1.20: new circuits take their package window from the consensus circwindow; the SENDME threshold off-by-one is fixed; a descriptor status message. The update host loads this file.
import type { VersionContext } from 'node-libevent/update';
import { load } from '../load.js';
import { loaders } from './modules.js';

export const version = 'v2';

const modules = load(loaders);
export function main(ctx: VersionContext): void {
  modules.main.run(ctx, modules, version);
}
