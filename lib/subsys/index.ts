// node-libevent/subsys: subsystems and their manager (Tor's lib/subsys and subsysmgr).
//
// A subsystem is a named part of a program with a level from -100 to 100 and optional
// `initialize`, `shutdown` and `addPubsub` callbacks. The `SubsystemManager` takes the whole
// list once, validates it (levels in range, no duplicate names, sorted by level unless asked to
// sort), and then initializes from low to high level, lets the initialized subsystems register
// their publishers and subscribers with a PubsubBuilder (each through a connector that carries
// its name), and shuts down from high to low level. Unsupported subsystems are skipped; partial
// runs (`initUpTo`, `shutdownDownTo`) and re-initialization after shutdown are allowed.
//
// Only subsystems publish or subscribe: the connector a subsystem gets is its identity in
// publish–subscribe. This layer imports node-libevent/pubsub (and through it dispatch) only.

export {
  defineSubsystem,
  LIBS_LEVEL,
  MAX_LEVEL,
  MIN_LEVEL,
  SubsystemError,
  type SubsystemErrorCode,
  type Subsystem,
  type SubsystemDef,
} from './subsystem.js';
export { SubsystemManager, type SubsystemManagerOptions } from './manager.js';
