// Bench-only echo service in the shape of the test fixture (test/update/fixtures/service/v0):
// a TCP listener, one READ|PERSIST event per accepted connection echoing what it reads, a
// 20 ms persistent heartbeat and a 300 ms one-shot deadline. echo-a.cjs and echo-b.cjs are
// this code under two version strings.
//
// makeHandlers() is exported as well, so that bench/update-overhead.mjs can run the very same
// handler code on a plain EventBase without the update host, as the baseline.
'use strict';

/**
 * The service's handlers. `base()` returns the event base to create connection events on
 * (ctx.base under the host, which follows a 'rebase' update; the plain base otherwise).
 */
function makeHandlers({ base, EV, io, stats, conns }) {
  const buf = new Uint8Array(4096);
  const h = {
    onAccept(fd) {
      for (let c = io.accept(fd); c >= 0; c = io.accept(fd)) {
        conns.set(c, 0);
        base().event(c, EV.READ | EV.PERSIST, h.onRead).add();
      }
    },
    onRead(fd, what, ev) {
      for (let n = io.read(fd, buf); n !== -1; n = io.read(fd, buf)) {
        if (n === 0) {
          conns.delete(fd);
          io.close(fd);
          ev.free();
          return;
        }
        io.write(fd, buf.subarray(0, n));
        stats.bytes += n;
        conns.set(fd, conns.get(fd) + n);
      }
    },
    onTick() {
      stats.ticks++;
    },
    onDeadline() {
      stats.deadlines++;
    },
  };
  return h;
}

/** Fresh-start setup shared by both runs: listener, heartbeat and deadline. */
function listen({ base, EV, io, h }) {
  const fd = io.listen('127.0.0.1', 0);
  const accept = base.event(fd, EV.READ | EV.PERSIST, h.onAccept).add();
  const tick = base.timer(h.onTick, { persist: true }).add(20);
  const deadline = base.timer(h.onDeadline).add(300);
  return { fd, port: io.localPort(fd), events: { accept, tick, deadline } };
}

module.exports = function makeVersion(version) {
  return {
    version,
    makeHandlers,
    listen,
    main(ctx) {
      const { EV, io } = ctx.lib;
      const stats = ctx.state('stats', () => ({ bytes: 0, ticks: 0, deadlines: 0 }));
      const conns = ctx.state('conns', () => new Map()); // fd -> bytes echoed
      const h = ctx.handlers(makeHandlers({ base: () => ctx.base, EV, io, stats, conns }));
      if (!ctx.isUpdating()) {
        ctx.state('listener', () => listen({ base: ctx.base, EV, io, h }));
      } else {
        ctx.state('listener', undefined);
      }
    },
  };
};
