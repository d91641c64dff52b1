// The library as the relay programs see it. They are CommonJS (so versions can be evicted),
// and node-libevent is an ES module package, so the programs load it with import() once at
// start-up and pass it around; relay versions get the same API from ctx.lib.
export type Lib = typeof import('node-libevent');
export type EventBase = import('node-libevent').EventBase;
export type Event = import('node-libevent').Event;

export function loadLib(): Promise<Lib> {
  return import('node-libevent');
}
