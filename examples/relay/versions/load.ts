// Evaluates a version's module list while the update host is loading the version (so every
// file is evicted with it afterwards).
import type { Modules } from './v0/main.js';
import type { ModuleLoaders } from './v0/modules.js';

export function load(loaders: ModuleLoaders): Modules {
  const out = {} as Record<string, unknown>;
  for (const [name, loader] of Object.entries(loaders)) out[name] = (loader as () => unknown)();
  const modules = out as unknown as Modules;
  // The constant tables depend on no running state: built now, while the host loads the
  // version (outside the update's pause), for main to use.
  modules.tables = modules.constants.tables();
  return modules;
}
