// v6's modules: v5's, with the ones v6 changed loaded from this directory.
import { loaders as previous } from '../v5/modules.js';
import { replaceModules } from '../v0/modules.js';

export const loaders = replaceModules(previous, require, ['state', 'bus']);
