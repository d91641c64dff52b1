// v2's modules: v1's, with the entries below replaced.
import { loaders as previous } from '../v1/modules.js';
import type { ModuleLoaders } from '../v0/modules.js';

export const loaders: ModuleLoaders = {
  ...previous,
  circuit: () => require('./circuit.js'),
  relay: () => require('./relay.js'),
  directory: () => require('./directory.js'),
  bus: () => require('./bus.js'),
};
