// v10's modules: v9's, with the ones v10 changed loaded from this directory.
import { loaders as previous } from '../v9/modules.js';
import { replaceModules } from '../v0/modules.js';

export const loaders = replaceModules(previous, require, ['state', 'cells', 'relay']);
