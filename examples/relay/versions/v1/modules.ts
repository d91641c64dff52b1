// v1's modules: v0's, with the ones v1 changed loaded from this directory.
import { loaders as previous } from '../v0/modules.js';
import { replaceModules } from '../v0/modules.js';

export const loaders = replaceModules(previous, require, ['constants', 'state', 'circuit', 'relay']);
