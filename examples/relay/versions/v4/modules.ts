// v4's modules: v3's, with the ones v4 changed loaded from this directory.
import { loaders as previous } from '../v3/modules.js';
import { replaceModules } from '../v0/modules.js';

export const loaders = replaceModules(previous, require, ['constants']);
