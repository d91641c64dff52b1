// v12's modules: v11's, with the entries below replaced.
import { loaders as previous } from '../v11/modules.js';
import type { ModuleLoaders } from '../v0/modules.js';

export const loaders: ModuleLoaders = {
  ...previous,
  constants: () => require('./constants.js'),
  link: () => require('./link.js'),
  bus: () => require('./bus.js'),
};
