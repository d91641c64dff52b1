// Which module files make up v0. Every later version's modules.ts starts from its
// predecessor's list and replaces only the entries it changed, so a version directory holds
// only the files that changed. The entries are loaders: version.ts calls them while the
// update host loads the version, so only the files in use are evaluated, each load gets fresh
// copies, and the host evicts them all afterwards (old versions are collected).
import type { Modules } from './main.js';

export type ModuleLoaders = { [K in keyof Modules]: () => Modules[K] };

export const loaders: ModuleLoaders = {
  constants: () => require('./constants.js'),
  state: () => require('./state.js'),
  cells: () => require('./cells.js'),
  link: () => require('./link.js'),
  circuit: () => require('./circuit.js'),
  relay: () => require('./relay.js'),
  periodic: () => require('./periodic.js'),
  directory: () => require('./directory.js'),
  bus: () => require('./bus.js'),
  main: () => require('./main.js'),
};

/**
 * A version's module list: its predecessor's, with `changed` loaded from the version's own
 * directory (`req` is that directory's require, so each version names only the files it holds).
 */
export function replaceModules(previous: ModuleLoaders, req: NodeRequire, changed: readonly (keyof Modules)[]): ModuleLoaders {
  const out: Record<string, () => unknown> = { ...previous };
  for (const name of changed) out[name] = () => req(`./${name}.js`);
  return out as ModuleLoaders;
}
