// The servers of the buffered-connection benchmarks, one per process (bench/run-buffered.mjs
// starts them): node bench/buffered-servers.mjs MODE [UPSTREAM_PORT]
//   binding-echo    echo on this binding's bufferevents (writeBuffer moves the input's chains)
//   node-echo       echo on Node's net (socket.pipe(socket))
//   binding-relay   proxy to UPSTREAM with the native relay (no JS per chunk)
//   binding-js      proxy to UPSTREAM with JS read/write callbacks (writeBuffer, pause/resume)
//   node-pipe       proxy to UPSTREAM with Node's net and socket.pipe() both ways
// Each prints "port N" once listening. Every socket has TCP_NODELAY, as in the C programs.
import net from 'node:net';

import { BEV, EV, EventBase } from '../dist/index.js';

const [mode, upstreamArg] = process.argv.slice(2);
const upstream = Number(upstreamArg);
const ready = (port) => console.log(`port ${port}`);
const closeAtEnd = (b, what) => {
  if (what & (BEV.EOF | BEV.ERROR) && !b.freed) b.free();
};

if (mode === 'node-echo' || mode === 'node-pipe') {
  const server = net.createServer({ noDelay: true }, (s) => {
    s.on('error', () => s.destroy());
    if (mode === 'node-echo') return void s.pipe(s);
    const up = net.connect({ port: upstream, host: '127.0.0.1', noDelay: true });
    up.on('error', () => s.destroy());
    s.pipe(up).pipe(s);
  });
  server.listen(0, '127.0.0.1', () => ready(server.address().port));
} else {
  const base = new EventBase();
  const listener = base.listen({ host: '127.0.0.1', noDelay: true }, (conn) => {
    if (mode === 'binding-echo') {
      conn.setCallbacks({ read: (b) => b.writeBuffer(b.input), event: closeAtEnd });
      return;
    }
    const out = base.connect('127.0.0.1', upstream, { noDelay: true });
    if (mode === 'binding-relay') {
      conn.setCallbacks({ event: closeAtEnd });
      out.setCallbacks({ event: closeAtEnd });
      conn.relay(out, { high: 512 * 1024, low: 256 * 1024 });
      return;
    }
    // binding-js: le-proxy in JS. Move the input over; stop reading while the other output is
    // above 512 KiB and resume when its write callback says it fell to 256 KiB.
    const join = (src, dst) => {
      dst.setWatermark(EV.WRITE, 256 * 1024, 512 * 1024);
      src.setCallbacks({
        read: (b) => {
          if (!dst.freed && !dst.writeBuffer(b.input)) b.pause();
        },
        write: (b) => {
          if (!dst.freed && dst.paused) dst.resume();
        },
        event: (b, what) => {
          if (!(what & (BEV.EOF | BEV.ERROR))) return;
          if (!dst.freed) {
            dst.writeBuffer(b.input);
            dst.end();
          }
        },
      });
    };
    join(conn, out);
    join(out, conn);
  });
  ready(listener.port);
  base.dispatch();
}
