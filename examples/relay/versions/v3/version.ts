// Relay v3: like Tor 0.2.1.21: streams are detached before a circuit frees them; a link that finished its handshake refuses another one. The update host loads this file.
import type { VersionContext } from 'node-libevent/update';
import { load } from '../load.js';
import { loaders } from './modules.js';

export const version = 'v3';

const modules = load(loaders);
export function main(ctx: VersionContext): void {
  modules.main.run(ctx, modules, version);
}
