// v11's modules: v10's, with the ones v11 changed loaded from this directory.
import { loaders as previous } from '../v10/modules.js';
import { replaceModules } from '../v0/modules.js';

export const loaders = replaceModules(previous, require, ['constants', 'directory']);
