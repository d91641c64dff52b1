// v4's modules: v3's, with the entries below replaced.
import { loaders as previous } from '../v3/modules.js';
import type { ModuleLoaders } from '../v0/modules.js';

export const loaders: ModuleLoaders = {
  ...previous,
  constants: () => require('./constants.js'),
};
