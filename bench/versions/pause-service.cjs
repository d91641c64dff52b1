// Bench-only service for bench/update-pause.mjs: N live events of the kinds the issue lists.
// pause-a.cjs and pause-b.cjs are this code under two version strings, so that every update
// of the benchmark is a real version change (a -> b -> a ...), loaded and evicted like any
// version (this file lives in the versions directory too, so it is reloaded with each one).
//
// Fresh start: reads its shape from globalThis.__nleBenchService (set by the benchmark):
//   { events, pairs, persistEvery }
//   pairs          socketpairs; a READ|PERSIST event with a 10-20 minute timeout on each read end
//   1              signal event (SIGUSR2)
//   every persistEvery-th of the rest: a persistent timer (period 60-120 s)
//   the rest       one-shot timers, distinct timeouts 10-20 minutes out
// The benchmark writes into some pairs and makes some events active just before an update;
// the handlers count, per version, what they ran, so it can tell which code ran after it.
'use strict';

module.exports = function makeVersion(version) {
  return {
    version,
    main(ctx) {
      const { EV, io } = ctx.lib;
      // ran[version] = { read, empty, tick, timeout, signal }; shared by every version.
      const ran = ctx.state('ran', () => ({}));
      // Created by the first handler that runs: prepare must not write into the old state.
      let mine;
      const count = (what) => {
        mine ??= ran[version] ??= { read: 0, empty: 0, tick: 0, timeout: 0, signal: 0 };
        mine[what]++;
      };
      const buf = new Uint8Array(512);

      const h = ctx.handlers({
        onRead(fd, what) {
          if (what & EV.TIMEOUT) {
            count('timeout');
            return;
          }
          let got = false;
          for (let n = io.read(fd, buf); n > 0; n = io.read(fd, buf)) got = true;
          count(got ? 'read' : 'empty'); // empty: an activation made with ev.active(EV.READ): nothing to read
        },
        onTick() {
          count('tick');
        },
        onTimeout() {
          count('timeout');
        },
        onSignal() {
          count('signal');
        },
      });

      if (ctx.isUpdating()) {
        ctx.state('shape', undefined);
        ctx.state('events', undefined);
        return;
      }
      const cfg = globalThis.__nleBenchService;
      if (!cfg) throw new Error('pause-service: globalThis.__nleBenchService is not set');
      const shape = ctx.state('shape', () => ({ ...cfg }));
      ctx.state('events', () => build(ctx, h, shape));
    },
  };

  function build(ctx, h, shape) {
    const { EV, io } = ctx.lib;
    const base = ctx.base;
    const out = { pairs: [], fds: [], socket: [], persistent: [], oneshot: [], signal: null };
    const pairs = Math.min(shape.pairs, shape.events - 1);
    for (let i = 0; i < pairs; i++) {
      const [r, w] = io.socketpair();
      out.fds.push(r, w);
      out.pairs.push([r, w]);
      out.socket.push(base.event(r, EV.READ | EV.PERSIST, h.onRead).add(600_000 + ((i * 7919) % 600_000)));
    }
    out.signal = base.signal('SIGUSR2', h.onSignal).add();
    const rest = shape.events - pairs - 1;
    for (let i = 0; i < rest; i++) {
      if (shape.persistEvery > 0 && i % shape.persistEvery === 0) {
        out.persistent.push(base.timer(h.onTick, { persist: true }).add(60_000 + ((i * 104_729) % 60_000)));
      } else {
        out.oneshot.push(base.timer(h.onTimeout).add(600_000 + ((i * 15_485_863) % 600_000)));
      }
    }
    return out;
  }
};
