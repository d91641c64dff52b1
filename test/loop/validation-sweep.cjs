// The argument table every loop-layer entry point of the raw binding is checked against (run
// by validation.test.ts in a child process, so that a crash fails the test, not the runner).
// For each function and each argument, every junk value is passed while the other arguments
// are valid; the call must either accept the value (only where the table allows it) or throw
// an Error with a string `code`. Prints one JSON line of problems.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const b = require(process.argv[2]);
process.chdir(fs.mkdtempSync(path.join(os.tmpdir(), 'nle-sweep-')));
b.setDispatcher(() => {});

const detached = new Uint8Array(8);
structuredClone(detached.buffer, { transfer: [detached.buffer] });
const JUNK = {
  undefined: undefined, null: null, true: true, string: 'x', emptyString: '', object: {}, array: [],
  function: () => 0, symbol: Symbol('s'), bigint: 10n, NaN: NaN, Infinity: Infinity, minusOne: -1,
  fraction: 1.5, huge: 2 ** 53, negHuge: -(2 ** 40), uint16array: new Uint16Array(2), emptyBytes: new Uint8Array(0),
  detachedBytes: detached, proxy: new Proxy({}, { get() { throw new Error('trap'); } }),
};

// Valid value makers and the junk names a kind accepts.
const fresh = () => b.baseNew({}).handle;
const KINDS = {
  base: { valid: fresh, accepts: [] },
  optBase: { valid: () => undefined, accepts: ['undefined'] },
  event: { valid: () => b.eventNew(fresh(), -1, 0, 0), accepts: [] },
  fn: { valid: () => () => {}, accepts: ['function'] },
  options: { valid: () => ({}), accepts: ['undefined', 'object', 'function', 'array', 'uint16array', 'emptyBytes', 'detachedBytes'] },
  optMs: { valid: () => 5, accepts: ['undefined', 'fraction'] }, // fractional ms are allowed
  countFlags: { valid: () => 1, accepts: [] },
  loopFlags: { valid: () => 1 | 2, accepts: [] },
  what: { valid: () => 1, accepts: [] },
  optWhat: { valid: () => undefined, accepts: ['undefined'] },
  priority: { valid: () => 0, accepts: [] },
  slot: { valid: () => 0, accepts: [] },
  fd: { valid: () => b.io.socketpair()[0], accepts: [] },
  timerFd: { valid: () => -1, accepts: ['minusOne'] },
  events: { valid: () => 0, accepts: [] },
  bytes: { valid: () => new Uint8Array(4), accepts: [] },
  writeBytes: { valid: () => new Uint8Array(4), accepts: ['emptyBytes'] },
  host: { valid: () => '127.0.0.1', accepts: [] },
  port: { valid: () => 0, accepts: [] },
  connectPort: { valid: () => 9, accepts: [] },
  optBacklog: { valid: () => undefined, accepts: ['undefined'] },
  path: { valid: () => 'sock', accepts: ['string'] },
  optMode: { valid: () => undefined, accepts: ['undefined'] },
  handles: { valid: () => new Float64Array(0), accepts: [] },
  slots: { valid: () => new Uint32Array(0), accepts: [] },
};

const TABLE = {
  setDispatcher: ['fn'],
  baseNew: ['options'],
  baseFree: ['base'], baseRelease: ['base'], baseDump: ['base'], baseNow: ['base'], baseGotExit: ['base'],
  baseGotBreak: ['base'], baseRunning: ['base'], baseInPass: ['base'], baseLoopbreak: ['base'],
  baseLoopcontinue: ['base'], basePendingEvents: ['base'], baseAllEvents: ['base'],
  baseNumEvents: ['base', 'countFlags'],
  baseLoop: ['base', 'loopFlags'],
  baseLoopexit: ['base', 'optMs'],
  baseRewire: ['base', 'handles', 'slots'],
  eventNew: ['base', 'timerFd', 'events', 'slot'],
  eventAdd: ['event', 'optMs'],
  eventDel: ['event'], eventRemoveTimer: ['event'], eventGetPriority: ['event'], eventFree: ['event'],
  eventRelease: ['event'], eventStoredCallback: ['event'], eventRemainingMs: ['event'], eventListFlags: ['event'],
  eventActive: ['event', 'what'],
  eventPending: ['event', 'optWhat'],
  eventSetPriority: ['event', 'priority'],
  eventRewrite: ['event', 'slot'],
  eventReassign: ['event', 'slot', 'optBase'],
  'io.read': ['fd', 'bytes'],
  'io.write': ['fd', 'writeBytes'],
  'io.close': ['fd'],
  'io.localPort': ['fd'],
  'io.accept': ['fd'],
  'io.listen': ['host', 'port', 'optBacklog'],
  'io.connect': ['host', 'connectPort'],
  'io.listenUnix': ['path', 'optMode'],
  'io.connectUnix': ['path'],
};

const problems = [];
let calls = 0;
for (const [name, kinds] of Object.entries(TABLE)) {
  const fn = name.startsWith('io.') ? b.io[name.slice(3)] : b[name];
  if (typeof fn !== 'function') {
    problems.push(`${name}: missing`);
    continue;
  }
  for (let i = 0; i < kinds.length; i++) {
    for (const [junkName, junk] of Object.entries(JUNK)) {
      const args = kinds.map((k) => KINDS[k].valid());
      args[i] = junk;
      calls++;
      try {
        fn(...args);
        if (!KINDS[kinds[i]].accepts.includes(junkName)) problems.push(`${name} arg ${i} (${kinds[i]}) accepted ${junkName}`);
      } catch (err) {
        const own = err instanceof Error && err.message === 'trap'; // the caller's own exception, passed through
        if (!own && (!(err instanceof Error) || typeof err.code !== 'string')) {
          problems.push(`${name} arg ${i} (${kinds[i]}) ${junkName}: no code (${String(err && err.message)})`);
        }
      }
      if (name === 'setDispatcher') b.setDispatcher(() => {});
    }
  }
}
try { fs.rmSync(process.cwd(), { recursive: true, force: true }); } catch {}
console.log(JSON.stringify({ calls, problems }));
