// v7's modules: v6's, with the entries below replaced.
import { loaders as previous } from '../v6/modules.js';
import type { ModuleLoaders } from '../v0/modules.js';

export const loaders: ModuleLoaders = {
  ...previous,
  state: () => require('./state.js'),
  link: () => require('./link.js'),
  circuit: () => require('./circuit.js'),
};
