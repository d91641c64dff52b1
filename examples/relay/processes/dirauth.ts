// The directory authority: takes relays' signed descriptors (POST /descriptor) and serves a
// consensus of the current ones, signed with its directory keys (GET /consensus), over
// HTTP/1.0 on its own event base. Entries whose descriptor is older than three fetch
// intervals fall out of the consensus.
import { announceReady, configFromEnv } from '../config.js';
import { dirKey } from '../common/dirkeys.js';
import { acceptAll, EvConn } from '../common/evconn.js';
import { RequestParser, sendSimple } from '../common/http.js';
import { loadLib } from '../common/lib.js';
import { consensusEntryOf, type ConsensusEntry, isProtocolError, parseDescriptor, signConsensus, toBase64NoPad } from '../protocol/index.js';

const PARAMS = { circwindow: 1000, sendme_emit_min_version: 0, streamwindow: 500 };

async function main(): Promise<void> {
  const lib = await loadLib();
  const config = configFromEnv();
  const base = new lib.EventBase();
  const keys = [dirKey('A'), dirKey('B')];
  // Accepted descriptors as consensus entries, by identity key (base64), with their times.
  const descriptors = new Map<string, { entry: ConsensusEntry; published: number; received: number }>();
  const stats = { descriptors: 0, rejected: 0, consensusServed: 0 };

  const consensus = (): string => {
    const now = Math.floor(Date.now() / 1000);
    const stale = now - 3 * config.consensusInterval - 30;
    const relays = [...descriptors.values()].filter((d) => d.received >= stale).map((d) => d.entry);
    return signConsensus({ validAfter: now, freshUntil: now + 300, validUntil: now + 3600, params: PARAMS, relays }, keys);
  };

  const listenFd = lib.io.listen(config.dirauth.host, config.dirauth.port);
  const onConn = (fd: number) => {
    const conn: EvConn = new EvConn(lib, base, fd, { data: (c) => parser.push(c), close: () => {} });
    const parser = new RequestParser(
      64 * 1024,
      (req) => {
        if (req.method === 'GET' && req.path === '/consensus') {
          stats.consensusServed++;
          return sendSimple(conn, 200, consensus());
        }
        if (req.method === 'POST' && req.path === '/descriptor') {
          try {
            const d = parseDescriptor(req.body.toString('utf8'));
            // A descriptor replaces an older one of the same identity only. The authority
            // grants the flags a relay asks for, and Running and Valid to every relay it lists.
            const key = toBase64NoPad(d.identity);
            const old = descriptors.get(key);
            if (!old || old.published <= d.published) descriptors.set(key, { entry: consensusEntryOf(d, [...d.flagsWanted, 'Running', 'Valid']), published: d.published, received: Math.floor(Date.now() / 1000) });
            stats.descriptors++;
            return sendSimple(conn, 200, 'accepted\n');
          } catch (err) {
            stats.rejected++;
            return sendSimple(conn, 400, `${isProtocolError(err) ? err.code : 'ERR'}: ${(err as Error).message}\n`);
          }
        }
        if (req.method === 'GET' && req.path === '/status') return sendSimple(conn, 200, JSON.stringify({ relays: descriptors.size, ...stats }) + '\n', 'application/json');
        sendSimple(conn, 404, 'GET /consensus, POST /descriptor\n');
      },
      (status, why) => sendSimple(conn, status, why + '\n'),
    );
  };
  base.event(listenFd, lib.EV.READ | lib.EV.PERSIST, () => acceptAll(lib, listenFd, onConn)).add();
  const stop = () => base.loopexit();
  // SIGTERM only: the launcher starts every process in its own process group, so a Ctrl-C
  // reaches the launcher alone, which then sends SIGTERM (a second libevent signal event on
  // the base currently stops SIGTERM from being caught: reported with a repro).
  base.signal('SIGTERM', stop).add();
  announceReady({ role: 'dirauth', host: config.dirauth.host, port: lib.io.localPort(listenFd) });
  base.dispatch();
  lib.io.close(listenFd);
}

main().catch((err) => {
  process.stderr.write(`dirauth: ${err?.stack ?? err}\n`);
  process.exit(1);
});
