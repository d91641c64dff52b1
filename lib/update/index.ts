// node-libevent/update: live update of a running service, Kitsune-style.
//
// A version is a CommonJS module exporting `version` and `main(ctx)`. The host loads it,
// runs main, and later replaces it with another version at an update point (between loop
// iterations, or an explicit ctx.updatePoint(name)), in two phases: prepare builds the new
// version's state and handler map without touching the running one; commit rewrites the
// callback of every live event inside its struct event (or uses one of the three comparison
// strategies) and swaps versions. Connections, timers and pending events survive.
//
// Imports the loop layer (events, rewrite) and nothing above it.
export { type Carried, type StateOptions, type SubsystemsOptions, UpdateContext, type VersionContext, versionLib } from './context.js';
export { checkControlDir, ControlServer, type ControlServerOptions, controlSocketDir, controlSocketPath } from './control.js';
export { UpdateError, type UpdatePhase, UpdateUnwind } from './errors.js';
export { type Strategy, UpdateHost, type UpdateHostEvents, type UpdateHostOptions, type UpdateHostStatus, type UpdateReport, type VersionModule } from './host.js';
export { defineVersion } from './define.js';
export type { BufferEventDataHandler, BufferEventEventHandler, Handler, ListenerErrorHandler } from './rebind-buffered.js';
export { type LoadedModule, type LoadOptions, loadVersionModule } from './loader.js';
