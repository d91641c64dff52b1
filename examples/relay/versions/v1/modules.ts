// v1's modules: v0's, with the entries below replaced.
import { loaders as previous } from '../v0/modules.js';
import type { ModuleLoaders } from '../v0/modules.js';

export const loaders: ModuleLoaders = {
  ...previous,
  constants: () => require('./constants.js'),
  state: () => require('./state.js'),
  circuit: () => require('./circuit.js'),
  relay: () => require('./relay.js'),
};
