// v7's modules: v6's, with the ones v7 changed loaded from this directory.
import { loaders as previous } from '../v6/modules.js';
import { replaceModules } from '../v0/modules.js';

export const loaders = replaceModules(previous, require, ['state', 'link', 'circuit']);
