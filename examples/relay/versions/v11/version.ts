// Relay v11: like Tor 0.2.1.29: the directory client caps the size of what it accepts; its callback is renamed. The update host loads this file.
import type { VersionContext } from 'node-libevent/update';
import { load } from '../load.js';
import { loaders } from './modules.js';

export const version = 'v11';
export const renames = { dirIo: 'connectionDirCallback' };
const modules = load(loaders);
export function main(ctx: VersionContext): void {
  modules.main.run(ctx, modules, version);
}
