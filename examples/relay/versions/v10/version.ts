// Relay v10: like Tor 0.2.1.28: queued cells are packed wire buffers instead of objects (every queued cell is converted); relay lengths are checked. The update host loads this file.
import type { VersionContext } from 'node-libevent/update';
import { load } from '../load.js';
import { loaders } from './modules.js';

export const version = 'v10';

const modules = load(loaders);
export function main(ctx: VersionContext): void {
  modules.main.run(ctx, modules, version);
}
