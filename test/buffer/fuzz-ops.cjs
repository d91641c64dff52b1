// Buffered-layer operations for the multi-base fuzzer (test/loop/fuzz-runner.cjs), raw binding
// only: bufferevents on socketpairs (owning their fds, or not: those fds the runner closes
// through io.close() and behind the binding, numbers reused), pairs, writes of every size
// (the direct write to the socket when the output is empty, libevent's write otherwise),
// read-on sizes (maxSingleRead up to 2^31-1, read high watermarks), native relays set up and
// torn down at random (self, a pair's partner, another base: refused with a code), partners
// and bases freed mid-transfer and from inside read, write and event callbacks, peers that
// reset, rate limits and groups. Checked: no callback for a bufferevent the model has freed;
// every error coded.
//
// Relays join only pair halves and sockets whose other end is a raw fd of this module (fed,
// drained and closed here): a relay cycle through the kernel (say between the two ends of one
// socketpair) moves bytes for ever without JS, and loop(NONBLOCK) rightly never returns then.
// Cycles through pairs alone are refused by the addon (and tried here).
'use strict';

module.exports = function bufferedOps({ b, rand, pick, chance, attempt, violations, pairs, liveBases, freeBaseModel }) {
  const B = b.buffered;
  const bevs = new Map(); // handle -> { h, base, pair: boolean, peer: handle | undefined }
  const list = []; // the same records, for picking
  const bufs = []; // standalone evbuffer handles
  const raw = []; // our ends of sockets whose other end a relayable bufferevent owns
  const MAX_BEVS = 120;
  const READ_SIZES = [0, 1024, 4096, 4097, 8192, 65536, 1 << 20, 2 ** 31 - 1];
  let depth = 0;
  let calls = 0;

  function add(h, base, pair, relayable) {
    const r = { h, base, pair, relayable, at: list.length };
    bevs.set(h, r);
    list.push(r);
    return r;
  }
  function forget(r) {
    if (!bevs.delete(r.h)) return;
    const last = list.pop();
    if (last !== r) { list[r.at] = last; last.at = r.at; }
  }
  function free(r) {
    if (attempt(() => (B.bevFree(r.h), true))) forget(r);
  }
  const pickBev = () => (list.length ? pick(list) : undefined);
  // Mostly one of the same base (another base's is refused with a code).
  function pickRelayable(base) {
    const from = chance(0.9) ? list.filter((r) => r.base === base && r.relayable) : list;
    for (let k = 0; k < 8 && from.length; k++) { const r = pick(from); if (r.relayable) return r; }
    return undefined;
  }
  // Everything of a freed base went with it (bufferevents, their relays).
  function baseFreed(base) {
    for (const r of list.slice()) if (r.base === base) forget(r);
  }

  function setup(r) {
    if (chance(0.5)) attempt(() => B.bevSetWants(r.h, Math.floor(rand() * 8)));
    if (!r.pair && chance(0.3)) attempt(() => B.bevSetMaxIo(r.h, pick(READ_SIZES), pick(READ_SIZES)));
    if (chance(0.2)) attempt(() => B.bevSetWatermark(r.h, 2, 0, pick([0, 1, 4096, 4097, 70_000])));
  }

  function newBevs(base) {
    if (list.length >= MAX_BEVS) return;
    const k = rand();
    if (k < 0.3) {
      // both ends wrapped: they talk to each other (direct writes, echoes from callbacks)
      const ends = attempt(() => b.io.socketpair());
      if (!ends) return;
      for (const fd of ends) {
        const h = attempt(() => B.bevNew(base.h, fd, true, Math.floor(rand() * 7)));
        if (h === undefined) attempt(() => b.io.close(fd));
        else setup(add(h, base, false, false));
      }
    } else if (k < 0.55) {
      const ends = attempt(() => b.io.socketpair());
      if (!ends) return;
      const h = attempt(() => B.bevNew(base.h, ends[0], true, pick([2, 4, 6])));
      if (h === undefined) attempt(() => b.io.close(ends[0]));
      else setup(add(h, base, false, true));
      if (raw.length < 60) raw.push(ends[1]);
      else attempt(() => b.io.close(ends[1]));
    } else if (k < 0.85) {
      const hs = attempt(() => B.bevPair(base.h, pick([0, 2, 4, 6])));
      if (hs) for (const h of hs) setup(add(h, base, true, true));
    } else if (pairs.length > 0) {
      // Not owning its fd: the runner may close it (io.close or behind the binding) and reuse it.
      const fd = pick(pick(pairs));
      const h = attempt(() => B.bevNew(base.h, fd, false, 6));
      if (h !== undefined) setup(add(h, base, false, false));
    }
  }

  function write(r) {
    const n = chance(0.7) ? Math.floor(rand() * 600) : Math.floor(rand() * 150_000);
    attempt(() => B.bevWrite(r.h, chance(0.1) ? 'x'.repeat(n % 100) : new Uint8Array(n)));
  }

  function writeBuffer(r) {
    let src;
    if (chance(0.5) || bufs.length === 0) {
      const other = pickBev();
      if (other) src = attempt(() => B.bevBuffers(other.h)[chance(0.8) ? 0 : 1]); // its input, or (refused) an output
    } else {
      src = pick(bufs);
    }
    if (src !== undefined) attempt(() => B.bevWriteBuffer(r.h, src));
  }

  function relay(r) {
    if (!r.relayable) return;
    const other = chance(0.1) ? r : pickRelayable(r.base);
    if (!other) return;
    const high = pick([1, 1024, 65536, 512 * 1024]);
    const low = Math.floor(rand() * (high + 1));
    attempt(() => B.bevRelay(r.h, other.h, high, low, chance(0.5), pick([1024, 4096, 65536, 256 * 1024, 2 ** 31 - 1])));
    if (chance(0.7)) attempt(() => B.bevRelay(other.h, r.h, high, low, chance(0.5), pick([4096, 256 * 1024])));
  }

  // The other end of a relayable socket: feed it, drain it, or close it (the peer resets).
  function rawOp() {
    const i = Math.floor(rand() * raw.length);
    const fd = raw[i];
    const x = rand();
    if (x < 0.45) attempt(() => b.io.write(fd, new Uint8Array(chance(0.8) ? 1 + Math.floor(rand() * 5000) : 100_000)));
    else if (x < 0.9) { const buf = new Uint8Array(65536); for (let k = 0; k < 8 && attempt(() => b.io.read(fd, buf)) > 0; k++); }
    else { attempt(() => b.io.close(fd)); raw.splice(i, 1); }
  }

  function op(r) {
    switch (Math.floor(rand() * 18)) {
      case 0: case 1: case 2: write(r); break;
      case 3: writeBuffer(r); break;
      case 4: case 5: relay(r); break;
      case 6: attempt(() => B.bevUnrelay(r.h)); break;
      case 7: free(r); break;
      case 8: attempt(() => B.bevEnable(r.h, pick([2, 4, 6]))); break;
      case 9: attempt(() => B.bevDisable(r.h, pick([2, 4, 6]))); break;
      case 10: attempt(() => (chance(0.5) ? B.bevPause(r.h) : B.bevResume(r.h))); break;
      case 11: attempt(() => B.bevEnd(r.h)); break;
      case 12: {
        const [input] = attempt(() => B.bevBuffers(r.h)) || [];
        if (input !== undefined) attempt(() => B.evbufDrain(input, Math.floor(rand() * 100_000)));
        break;
      }
      case 13:
        if (chance(0.5)) attempt(() => B.bevSetRateLimit(r.h, 4096, 8192, 4096, 8192, 1 + Math.floor(rand() * 5)));
        else attempt(() => B.bevSetRateLimit(r.h));
        break;
      case 14: {
        const g = attempt(() => B.groupNew(r.base.h, 8192, 16384, 8192, 16384, 2));
        if (g !== undefined) {
          attempt(() => B.groupAdd(g, r.h));
          if (chance(0.5)) attempt(() => B.groupFree(g));
        }
        break;
      }
      case 15: attempt(() => B.bevSetTimeouts(r.h, chance(0.5) ? rand() * 5 : undefined, chance(0.5) ? rand() * 5 : undefined)); break;
      case 16: attempt(() => B.bevFlush(r.h, pick([2, 4, 6]), pick([0, 1, 2]))); break;
      default: setup(r);
    }
  }

  function inCallback(r, kind) {
    const x = rand();
    if (x < 0.15) free(r);
    else if (x < 0.25) { const other = pickBev(); if (other) free(other); } // often the relay partner or pair half
    else if (x < 0.28) { if (attempt(() => (b.baseFree(r.base.h), true))) freeBaseModel(r.base); }
    else if (x < 0.3) attempt(() => b.baseLoopbreak(r.base.h));
    else if (x < 0.32) throw new Error('fuzz-throw');
    else if (x < 0.5 && kind === 0) {
      const [input] = attempt(() => B.bevBuffers(r.h)) || [];
      if (input !== undefined) attempt(() => B.evbufDrain(input, chance(0.5) ? 1e9 : Math.floor(rand() * 5000)));
    } else if (x < 0.6) write(r);
    else if (x < 0.7) relay(r);
    else if (x < 0.75) newBevs(r.base);
    else op(r);
  }

  B.setDispatcher((kind, h) => {
    calls++;
    if (kind > 2) { violations.push(`listener callback kind ${kind} without listeners`); return; }
    const r = bevs.get(h);
    if (!r) { violations.push(`buffered callback ${kind} for a bufferevent freed or never made (${h})`); return; }
    if (depth > 1) return;
    depth++;
    try {
      const n = Math.floor(rand() * 3);
      for (let i = 0; i < n && bevs.has(h); i++) inCallback(r, kind);
    } finally {
      depth--;
    }
  });

  return {
    baseFreed,
    // A few operations on one base's bufferevents, from the runner's main loop (bases live
    // some tens of operations there: single operations rarely built a relay before the base went).
    step() {
      const bases = liveBases();
      if (bases.length === 0) return;
      const base = pick(bases);
      let mine = list.filter((r) => r.base === base);
      if (mine.length < 4 || chance(0.15)) { newBevs(base); mine = list.filter((r) => r.base === base); }
      const x = rand();
      if (x < 0.05) { if (bufs.length < 20) { const h = attempt(() => B.evbufNew()); if (h !== undefined) { bufs.push(h); attempt(() => B.evbufAdd(h, new Uint8Array(Math.floor(rand() * 20_000)))); } } }
      else if (x < 0.07 && bufs.length) { const i = Math.floor(rand() * bufs.length); attempt(() => B.evbufFree(bufs[i])); bufs.splice(i, 1); }
      else if (x < 0.2 && raw.length) rawOp();
      for (let k = 0; k < 3 && mine.length; k++) {
        const r = pick(mine);
        if (bevs.has(r.h) && !r.base.freed) op(r);
      }
    },
    // In an event callback of the loop layer: act on a bufferevent of that base.
    inEventCallback(base) {
      const mine = list.filter((r) => r.base === base);
      if (mine.length) op(pick(mine));
    },
    finish() {
      for (const h of bufs) attempt(() => B.evbufFree(h));
      bufs.length = 0;
      for (const fd of raw) attempt(() => b.io.close(fd));
      raw.length = 0;
      return { bufferedCalls: calls, bufferevents: list.length };
    },
    stats: () => B.stats(),
  };
};
