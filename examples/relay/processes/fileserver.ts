// The destination: an HTTP/1.0 file server on its own event base. GET /bytes/<n> streams n
// reproducible bytes (common/content.ts); the output buffer is refilled only as it drains.
import { announceReady, configFromEnv } from '../config.js';
import { ContentStream, fileSize } from '../common/content.js';
import { acceptAll, EvConn } from '../common/evconn.js';
import { RequestParser, responseHead, sendSimple } from '../common/http.js';
import { loadLib } from '../common/lib.js';

const REFILL_BELOW = 128 * 1024;

async function main(): Promise<void> {
  const lib = await loadLib();
  const config = configFromEnv();
  const base = new lib.EventBase();
  const listenFd = lib.io.listen(config.fileserver.host, config.fileserver.port);
  let served = 0;

  const onConn = (fd: number) => {
    let stream: ContentStream | undefined;
    const conn: EvConn = new EvConn(lib, base, fd, {
      data: (chunk) => parser.push(chunk),
      close: () => {},
      drained: () => {
        if (!stream) return;
        while (stream.left > 0 && conn.pendingOut < REFILL_BELOW) conn.write(stream.next());
        if (stream.left === 0) {
          stream = undefined;
          served++;
          conn.end();
        }
      },
    });
    const parser = new RequestParser(
      0,
      (req) => {
        const size = fileSize(req.path);
        if (req.method !== 'GET') return sendSimple(conn, 405, 'GET only\n');
        if (size === undefined) return sendSimple(conn, 404, 'try /bytes/<n>\n');
        conn.pauseReading();
        conn.write(responseHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': size }));
        stream = new ContentStream(size);
        conn.handlers.drained!();
      },
      (status, why) => sendSimple(conn, status, why + '\n'),
    );
  };
  const listener = base.event(listenFd, lib.EV.READ | lib.EV.PERSIST, () => acceptAll(lib, listenFd, onConn));
  listener.add();
  const stop = () => base.loopexit();
  // SIGTERM only: the launcher starts every process in its own process group, so a Ctrl-C
  // reaches the launcher alone, which then sends SIGTERM (a second libevent signal event on
  // the base currently stops SIGTERM from being caught: reported with a repro).
  base.signal('SIGTERM', stop).add();
  announceReady({ role: 'fileserver', host: config.fileserver.host, port: lib.io.localPort(listenFd) });
  base.dispatch();
  lib.io.close(listenFd);
  process.stderr.write(`fileserver: served ${served} files\n`);
}

main().catch((err) => {
  process.stderr.write(`fileserver: ${err?.stack ?? err}\n`);
  process.exit(1);
});
