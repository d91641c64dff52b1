// v5's modules: v4's, with the ones v5 changed loaded from this directory.
import { loaders as previous } from '../v4/modules.js';
import { replaceModules } from '../v0/modules.js';

export const loaders = replaceModules(previous, require, ['state', 'circuit']);
