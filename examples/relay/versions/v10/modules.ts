// v10's modules: v9's, with the entries below replaced.
import { loaders as previous } from '../v9/modules.js';
import type { ModuleLoaders } from '../v0/modules.js';

export const loaders: ModuleLoaders = {
  ...previous,
  state: () => require('./state.js'),
  cells: () => require('./cells.js'),
  relay: () => require('./relay.js'),
};
