// Version 1 of the example service: a TCP server on 127.0.0.1:$PORT (7070) that answers
// every read with what it got and how many bytes it has seen in all.
exports.version = 'v1';

exports.main = (ctx) => {
  const { EV, io } = ctx.lib;
  const stats = ctx.state('stats', () => ({ bytes: 0, reads: 0 }));
  const buf = new Uint8Array(4096);
  const text = new TextDecoder();
  const bytes = new TextEncoder();

  const h = ctx.handlers({
    onAccept(fd) {
      for (let c = io.accept(fd); c >= 0; c = io.accept(fd)) ctx.base.event(c, EV.READ | EV.PERSIST, h.onRead).add();
    },
    onRead(fd, _what, ev) {
      for (let n = io.read(fd, buf); n !== -1; n = io.read(fd, buf)) {
        if (n === 0) {
          io.close(fd); // also deletes the fd's events
          ev.free();
          return;
        }
        stats.bytes += n;
        stats.reads++;
        const got = text.decode(buf.subarray(0, n)).trim();
        io.write(fd, bytes.encode(`v1: got '${got}' (${stats.bytes} bytes in all)\n`));
      }
    },
  });

  if (!ctx.isUpdating()) {
    // Fresh start only: the listening socket and its event outlive every update.
    const fd = io.listen('127.0.0.1', Number(process.env.PORT ?? 7070));
    ctx.base.event(fd, EV.READ | EV.PERSIST, h.onAccept).add();
  }
};
