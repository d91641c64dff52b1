// v6's modules: v5's, with the entries below replaced.
import { loaders as previous } from '../v5/modules.js';
import type { ModuleLoaders } from '../v0/modules.js';

export const loaders: ModuleLoaders = {
  ...previous,
  state: () => require('./state.js'),
  bus: () => require('./bus.js'),
};
