// v2's modules: v1's, with the ones v2 changed loaded from this directory.
import { loaders as previous } from '../v1/modules.js';
import { replaceModules } from '../v0/modules.js';

export const loaders = replaceModules(previous, require, ['constants', 'circuit', 'directory', 'bus']);
