// v12's modules: v11's, with the ones v12 changed loaded from this directory.
import { loaders as previous } from '../v11/modules.js';
import { replaceModules } from '../v0/modules.js';

export const loaders = replaceModules(previous, require, ['constants', 'link', 'bus']);
