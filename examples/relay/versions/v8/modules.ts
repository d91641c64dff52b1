// v8's modules: v7's, with the entries below replaced.
import { loaders as previous } from '../v7/modules.js';
import type { ModuleLoaders } from '../v0/modules.js';

export const loaders: ModuleLoaders = {
  ...previous,
  constants: () => require('./constants.js'),
  state: () => require('./state.js'),
  periodic: () => require('./periodic.js'),
  link: () => require('./link.js'),
};
