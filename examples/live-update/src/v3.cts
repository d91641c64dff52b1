// Version 3, written in TypeScript. `npm run build` compiles it with ../tsconfig.json into
// versions/v3.cjs (CommonJS: the host refuses ES modules, which Node never frees). Update to
// the compiled file, not to this one.
// `import … = require()`: the CommonJS form, which also passes under "verbatimModuleSyntax".
import update = require('node-libevent/update');

const { defineVersion } = update;

interface Stats {
  bytes: number;
  reads: number;
  since: string;
}

export = defineVersion({
  version: 'v3',
  main(ctx) {
    const { EV, io } = ctx.lib;
    const stats = ctx.state<Stats>('stats', () => ({ bytes: 0, reads: 0, since: 'start' }), {
      transform: (old: Stats, fromVersion) => ({ ...old, since: fromVersion }),
    });
    const buf = new Uint8Array(4096);
    const text = new TextDecoder();
    const bytes = new TextEncoder();

    const h = ctx.handlers({
      onAccept(fd: number) {
        for (let c = io.accept(fd); c >= 0; c = io.accept(fd)) ctx.base.event(c, EV.READ | EV.PERSIST, h.onData).add();
      },
      onData(fd: number, _what: number, ev) {
        for (let n = io.read(fd, buf); n !== -1; n = io.read(fd, buf)) {
          if (n === 0) {
            io.close(fd);
            ev.free();
            return;
          }
          stats.bytes += n;
          stats.reads++;
          const got = text.decode(buf.subarray(0, n)).trim().toUpperCase();
          io.write(fd, bytes.encode(`v3: got '${got}' (${stats.bytes} bytes in all; updated from ${stats.since})\n`));
        }
      },
    });

    if (!ctx.isUpdating()) {
      const fd = io.listen('127.0.0.1', Number(process.env.PORT ?? 7070));
      ctx.base.event(fd, EV.READ | EV.PERSIST, h.onAccept).add();
    }
  },
});
