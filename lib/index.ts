// node-libevent: the package's main entry is the loop layer (libevent bases and events).
// The other layers have their own entries: node-libevent/dispatch, /pubsub, /subsys,
// /mainloop and /update.
export * from './loop/index.js';
export * from './buffer/index.js';
