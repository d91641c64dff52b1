// v8's modules: v7's, with the ones v8 changed loaded from this directory.
import { loaders as previous } from '../v7/modules.js';
import { replaceModules } from '../v0/modules.js';

export const loaders = replaceModules(previous, require, ['constants', 'state', 'periodic', 'link']);
