// v9's modules: v8's, with the entries below replaced.
import { loaders as previous } from '../v8/modules.js';
import type { ModuleLoaders } from '../v0/modules.js';

export const loaders: ModuleLoaders = {
  ...previous,
  constants: () => require('./constants.js'),
  bus: () => require('./bus.js'),
};
