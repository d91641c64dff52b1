// Relay v7: like Tor 0.2.1.25: the link callbacks get Tor's names (conn_read_callback ...), a freed circuit drops its key state, our address is guessed from NETINFO. The update host loads this file.
import type { VersionContext } from 'node-libevent/update';
import { load } from '../load.js';
import { loaders } from './modules.js';

export const version = 'v7';
export const renames = { connRead: 'connReadCallback', connWrite: 'connWriteCallback' };
const modules = load(loaders);
export function main(ctx: VersionContext): void {
  modules.main.run(ctx, modules, version);
}
