// v11's modules: v10's, with the entries below replaced.
import { loaders as previous } from '../v10/modules.js';
import type { ModuleLoaders } from '../v0/modules.js';

export const loaders: ModuleLoaders = {
  ...previous,
  constants: () => require('./constants.js'),
  directory: () => require('./directory.js'),
};
