// Every entry point of the buffered layer's raw binding (binding.buffered) gets every junk value
// in every argument position, the others valid: it must throw an Error with a string `code`
// or accept the value, and never crash (run in a child by bufferevent.test.ts, under ASan by
// npm run test:asan). Prints one JSON line: { calls, problems }.
'use strict';
const b = require(process.argv[2]);
const B = b.buffered;
b.setDispatcher(() => {});
B.setDispatcher(() => {});

const detached = new Uint8Array(8);
structuredClone(detached.buffer, { transfer: [detached.buffer] });
const JUNK = {
  undefined: undefined, null: null, true: true, string: 'x', emptyString: '', object: {}, array: [],
  function: () => 0, symbol: Symbol('s'), bigint: 10n, NaN: NaN, Infinity: Infinity, minusInfinity: -Infinity,
  minusOne: -1, fraction: 1.5, huge: 2 ** 53, int32Past: 2 ** 31, int32Max: 2 ** 31 - 1, negHuge: -(2 ** 40),
  zero: 0, uint16array: new Uint16Array(2), emptyBytes: new Uint8Array(0), detachedBytes: detached,
  proxy: new Proxy({}, { get() { throw new Error('trap'); } }),
};

// Per call: what the valid arguments made, freed after it.
let bases = [];
let fds = [];
let bufs = [];
const base = () => { const h = b.baseNew({}).handle; bases.push(h); return h; };
const socket = () => { const [x, y] = b.io.socketpair(); fds.push(x); return y; };
let shared; // the base of the call's first bufferevent (a relay needs both on one base)
const bev = () => B.bevNew(shared ?? (shared = base()), socket(), true, 6);
const buf = () => { const h = B.evbufNew(); bufs.push(h); return h; };
const MAKE = {
  base, bev, pairBev: () => B.bevPair(shared ?? (shared = base()), 6)[0], buf, fd: () => { const [x, y] = b.io.socketpair(); fds.push(x, y); return x; },
  bool: () => true, bits: () => 2, mode: () => 0, size: () => 1024, ms: () => 5, rate: () => 4096,
  data: () => 'x', host: () => '127.0.0.1', port: () => 0, connectPort: () => 9, high: () => 4096, low: () => 0,
  mask: () => 7, eol: () => 0,
};

const TABLE = {
  bevNew: ['base', 'fd', 'bool', 'bits'], bevConnect: ['base', 'host', 'connectPort', 'bits', 'bool'], bevPair: ['base', 'bits'],
  bevBuffers: ['bev'], bevSetWants: ['bev', 'mask'], bevEnable: ['bev', 'bits'], bevDisable: ['bev', 'bits'], bevEnabled: ['bev'],
  bevPause: ['bev'], bevResume: ['bev'], bevPaused: ['bev'], bevSetWatermark: ['bev', 'bits', 'low', 'high'],
  bevGetWatermark: ['bev', 'bits'], bevSetTimeouts: ['bev', 'ms', 'ms'], bevWrite: ['bev', 'data'], bevWriteBuffer: ['bev', 'buf'],
  bevFlush: ['bev', 'bits', 'mode'], bevEnd: ['bev'], bevFree: ['bev'], bevInfo: ['bev'],
  bevRelay: ['bev', 'bev', 'high', 'low', 'bool', 'size'], bevUnrelay: ['bev'], bevSetMaxIo: ['bev', 'size', 'size'],
  bevGetMaxIo: ['bev'], bevGetTimeouts: ['bev'], bevGetRateLimit: ['bev'],
  bevSetRateLimit: ['bev', 'rate', 'rate', 'rate', 'rate', 'ms'],
  groupNew: ['base', 'rate', 'rate', 'rate', 'rate', 'ms'],
  evbufNew: [], evbufFree: ['buf'], evbufLength: ['buf'], evbufAdd: ['buf', 'data'], evbufPrepend: ['buf', 'data'],
  evbufAddBuffer: ['buf', 'buf'], evbufDrain: ['buf', 'size'], evbufRemove: ['buf', 'size'], evbufCopyout: ['buf', 'size', 'mode'],
  evbufRemoveInto: ['buf', 'data'], evbufCopyoutInto: ['buf', 'data'], evbufPullup: ['buf', 'size'], evbufReadln: ['buf', 'eol'],
  evbufSearch: ['buf', 'data', 'mode'],
  lisNew: ['base', 'host', 'port', 'size', 'bool', 'bool', 'bool', 'bool', 'ms', 'bool'],
  stats: [], setDispatcher: ['bool'],
};

const problems = [];
let calls = 0;
for (const [name, kinds] of Object.entries(TABLE)) {
  if (typeof B[name] !== 'function') { problems.push(`${name}: missing`); continue; }
  for (let i = 0; i < kinds.length; i++) {
    for (const [junkName, junk] of Object.entries(JUNK)) {
      shared = undefined;
      const args = kinds.map((k, j) => (j === i ? junk : MAKE[k]()));
      calls++;
      try {
        B[name](...args);
      } catch (err) {
        const own = err instanceof Error && err.message === 'trap'; // the caller's own exception, passed through
        if (!own && (!(err instanceof Error) || typeof err.code !== 'string')) {
          problems.push(`${name} arg ${i} (${kinds[i]}) ${junkName}: no code (${String(err && err.message)})`);
        }
      }
      if (name === 'setDispatcher') B.setDispatcher(() => {});
      for (const h of bufs) { try { B.evbufFree(h); } catch {} }
      for (const h of bases) { b.baseFree(h); b.baseRelease(h); } // with their bufferevents, listeners, groups
      for (const fd of fds) { try { b.io.close(fd); } catch {} }
      bases = []; fds = []; bufs = [];
    }
  }
}
const left = B.stats();
if (left.bufferevents || left.listeners || left.groups) problems.push(`left alive: ${JSON.stringify(left)}`);
console.log(JSON.stringify({ calls, problems }));
