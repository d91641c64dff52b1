// v9's modules: v8's, with the ones v9 changed loaded from this directory.
import { loaders as previous } from '../v8/modules.js';
import { replaceModules } from '../v0/modules.js';

export const loaders = replaceModules(previous, require, ['constants', 'bus']);
