// The relay's directory client: publishes its signed descriptor (POST /descriptor) and fetches
// the consensus (GET /consensus) over HTTP/1.0, on raw libevent events bound to the named
// handler dirIo (so a request in flight survives an update like any connection).
import { parseConsensus, signDescriptor, type VerifiedConsensus } from '../../protocol/consensus.js';
import { isProtocolError } from '../../protocol/errors.js';
import { parseResponse } from '../../common/http.js';
import type { R } from './main.js';
import type { DirRequest } from './types.js';

const scratch = Buffer.allocUnsafe(16 * 1024);

export function create(R: R) {
  const { io, EV } = R.lib;
  const S = () => R.S;

  function start(kind: DirRequest['kind'], request: Buffer): void {
    const o = S().options;
    let fd: number;
    try {
      fd = io.connect(o.dirHost, o.dirPort);
    } catch (err) {
      R.log(`directory connect failed: ${(err as Error).message}`);
      return;
    }
    const ev = R.ctx.base.event(fd, EV.WRITE | EV.READ | EV.PERSIST, R.h[R.dir.callbackName]!);
    ev.add(10_000);
    S().dirRequests.set(fd, { fd, ev, kind, out: request, inbuf: [], startedAt: R.now() });
  }

  function finish(req: DirRequest, ok: boolean): void {
    S().dirRequests.delete(req.fd);
    io.close(req.fd);
    req.ev.free();
    if (!ok) return;
    const raw = Buffer.concat(req.inbuf);
    try {
      const res = parseResponse(raw);
      R.dir.handleResponse(req.kind, res.status, res.body.toString('utf8'));
    } catch (err) {
      R.log(`directory ${req.kind}: ${(err as Error).message}`);
    }
  }

  const handlers = {
    dirIo(fd: number, what: number) {
      const req = S().dirRequests.get(fd) as DirRequest | undefined;
      if (!req) return;
      if (what & EV.TIMEOUT) return finish(req, false);
      try {
        if (req.out.length > 0 && what & EV.WRITE) {
          const n = io.write(fd, req.out);
          if (n > 0) req.out = req.out.subarray(n);
        }
        if (what & EV.READ) {
          for (;;) {
            const n = io.read(fd, scratch);
            if (n === -1) break;
            if (n === 0) return finish(req, true);
            req.inbuf.push(Buffer.from(scratch.subarray(0, n)));
            if (req.inbuf.reduce((a, b) => a + b.length, 0) > R.T.maxDirResponseBytes) return finish(req, false);
          }
        }
        // Done writing: wait for the reply only.
        if (req.out.length === 0 && req.ev.events & EV.WRITE) {
          req.ev.free();
          req.ev = R.ctx.base.event(fd, EV.READ | EV.PERSIST, R.h[R.dir.callbackName]!);
          req.ev.add(10_000);
        }
      } catch (err) {
        R.log(`directory ${req.kind}: ${(err as Error).message}`);
        finish(req, false);
      }
    },
  };

  return {
    handlers,
    /** The named handler a directory request's event runs (v11 renames it). */
    callbackName: 'dirIo',
    fetchConsensus(_now: number): number {
      start('consensus', Buffer.from(`GET /consensus HTTP/1.0\r\nHost: ${S().options.dirHost}\r\n\r\n`));
      return S().options.consensusInterval;
    },
    checkDescriptor(now: number): number {
      const view = S().dirView;
      if (view.descriptorDirty || now - view.lastPublished > 3 * S().options.consensusInterval) R.dir.publishDescriptor(now);
      return S().options.consensusInterval;
    },
    publishDescriptor(now: number): void {
      const o = S().options;
      const id = S().identity;
      const text = signDescriptor(
        {
          nickname: o.nickname,
          identity: id.publicKey,
          address: o.host,
          orPort: S().listener.port,
          ntorOnionKey: S().onionKeys.current.publicKey,
          flagsWanted: o.flags,
          bandwidth: o.bandwidth,
          published: Math.floor(now),
        },
        id.privateKey,
      );
      const body = Buffer.from(text);
      start('descriptor', Buffer.concat([Buffer.from(`POST /descriptor HTTP/1.0\r\nContent-Length: ${body.length}\r\n\r\n`), body]));
      S().dirView.lastPublished = now;
    },
    handleResponse(kind: DirRequest['kind'], status: number, body: string): void {
      const view = S().dirView;
      if (kind === 'descriptor') {
        if (status === 200) {
          view.descriptorDirty = false;
          view.publishAccepted++;
        } else R.log(`descriptor refused: ${status} ${body.trim()}`);
        return;
      }
      if (status !== 200) return R.log(`consensus fetch: HTTP ${status}`);
      try {
        R.dir.acceptConsensus(parseConsensus(body, { trusted: R.T.trustedDirKeys, skew: 60 }));
      } catch (err) {
        if (!isProtocolError(err)) throw err;
        R.log(`consensus refused: ${err.code} ${err.message}`);
      }
    },
    /** A consensus whose signatures and times checked out becomes the relay's view. */
    acceptConsensus(c: VerifiedConsensus): void {
      const view = S().dirView;
      view.consensus = c;
      view.fetchedAt = R.now();
    },
  };
}
