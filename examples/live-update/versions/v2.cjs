// Version 2: renames the read handler, counts what it answered, and says since when it runs.
// The live events of v1 (the listener, every open connection) are rebound to these handlers.
exports.version = 'v2';
exports.renames = { onRead: 'onData' }; // v1's handler onRead is v2's onData

exports.main = (ctx) => {
  const { EV, io } = ctx.lib;
  // A new object built from v1's (v1's stays untouched until the update commits).
  const stats = ctx.state('stats', () => ({ bytes: 0, reads: 0, since: 'start' }), {
    transform: (old, fromVersion) => ({ bytes: old.bytes, reads: old.reads, since: fromVersion }),
  });
  const buf = new Uint8Array(4096);
  const text = new TextDecoder();
  const bytes = new TextEncoder();

  const h = ctx.handlers({
    onAccept(fd) {
      for (let c = io.accept(fd); c >= 0; c = io.accept(fd)) ctx.base.event(c, EV.READ | EV.PERSIST, h.onData).add();
    },
    onData(fd, _what, ev) {
      for (let n = io.read(fd, buf); n !== -1; n = io.read(fd, buf)) {
        if (n === 0) {
          io.close(fd);
          ev.free();
          return;
        }
        stats.bytes += n;
        stats.reads++;
        const got = text.decode(buf.subarray(0, n)).trim();
        io.write(fd, bytes.encode(`v2: got '${got}' (${stats.bytes} bytes, ${stats.reads} reads in all; updated from ${stats.since})\n`));
      }
    },
  });

  if (!ctx.isUpdating()) {
    const fd = io.listen('127.0.0.1', Number(process.env.PORT ?? 7070));
    ctx.base.event(fd, EV.READ | EV.PERSIST, h.onAccept).add();
  }
};
