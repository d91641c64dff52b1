// v3's modules: v2's, with the ones v3 changed loaded from this directory.
import { loaders as previous } from '../v2/modules.js';
import { replaceModules } from '../v0/modules.js';

export const loaders = replaceModules(previous, require, ['state', 'circuit', 'relay']);
