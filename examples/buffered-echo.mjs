// A TCP echo server on libevent bufferevents. Each connection's input is moved to its output
// without a copy; it is freed at EOF or on an error. Run: node examples/buffered-echo.mjs [port]
import { BEV, EventBase } from 'node-libevent';

const base = new EventBase();
const server = base.listen({ host: '127.0.0.1', port: Number(process.argv[2] ?? 0) }, (conn) => {
  conn.setCallbacks({
    read: (c) => c.writeBuffer(c.input),
    event: (c, what) => {
      if (what & (BEV.EOF | BEV.ERROR)) c.free();
    },
  });
});
console.log(`echo server on 127.0.0.1:${server.port}`);
base.dispatch(); // libevent's loop owns the thread from here
