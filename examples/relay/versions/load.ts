// Evaluates a version's module list while the update host is loading the version (so every
// file is evicted with it afterwards).
import type { Modules } from './v0/main.js';
import type { ModuleLoaders } from './v0/modules.js';

export function load(loaders: ModuleLoaders): Modules {
  const out = {} as Record<string, unknown>;
  for (const [name, loader] of Object.entries(loaders)) out[name] = (loader as () => unknown)();
  return out as unknown as Modules;
}
