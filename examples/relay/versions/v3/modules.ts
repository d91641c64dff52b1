// v3's modules: v2's, with the entries below replaced.
import { loaders as previous } from '../v2/modules.js';
import type { ModuleLoaders } from '../v0/modules.js';

export const loaders: ModuleLoaders = {
  ...previous,
  state: () => require('./state.js'),
  circuit: () => require('./circuit.js'),
  relay: () => require('./relay.js'),
};
