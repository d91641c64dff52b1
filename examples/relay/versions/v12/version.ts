// Relay v12: like Tor 0.2.1.30: new links offer link version 5 (existing links keep theirs); a clock-skew message from NETINFO. The update host loads this file.
import type { VersionContext } from 'node-libevent/update';
import { load } from '../load.js';
import { loaders } from './modules.js';

export const version = 'v12';

const modules = load(loaders);
export function main(ctx: VersionContext): void {
  modules.main.run(ctx, modules, version);
}
