// Downloads through the network as any SOCKS5 application would (RFC 1928, CONNECT with a
// domain name, no authentication), and directly from the file server for the reference hash.
import { createHash } from 'node:crypto';
import net from 'node:net';

/** How far a download got: SOCKS greeting, SOCKS CONNECT (the circuit is built and BEGIN sent meanwhile), HTTP head, body. */
export type DownloadPhase = 'greet' | 'connect' | 'head' | 'body';

export interface DownloadResult {
  ok: boolean;
  size: number;
  bytes: number;
  /** The phase it ended in (a failure says where it stopped). */
  phase: DownloadPhase;
  sha512: string;
  startedAt: number;
  endedAt: number;
  firstByteMs: number;
  error?: string;
}

export interface DownloadOptions {
  socks?: { host: string; port: number };
  target: { host: string; port: number };
  size: number;
  /** Cap on the reading rate (bytes/s): a slow reader keeps a long download in flight. */
  rate?: number;
  onBytes?: (n: number) => void;
  /** Called when the download enters a phase. */
  onPhase?: (phase: DownloadPhase) => void;
  /** Fail the download (ok: false, the phase and bytes so far in `error`) if it has not ended by then, ms. */
  timeoutMs?: number;
}

export function download(o: DownloadOptions): Promise<DownloadResult> {
  const startedAt = performance.now();
  return new Promise((resolve) => {
    const hash = createHash('sha512');
    let phase: DownloadPhase = o.socks ? 'greet' : 'head';
    const enter = (p: DownloadPhase) => {
      phase = p;
      o.onPhase?.(p);
    };
    o.onPhase?.(phase);
    let buf: Buffer = Buffer.alloc(0);
    let bytes = 0;
    let firstByteMs = -1;
    let done = false;
    let expected = -1;
    const sock = o.socks ? net.connect(o.socks.port, o.socks.host) : net.connect(o.target.port, o.target.host);
    const timer = o.timeoutMs === undefined ? undefined : setTimeout(() => finish(false, `timed out after ${o.timeoutMs} ms in phase ${phase} (${bytes} of ${o.size} body bytes)`), o.timeoutMs);
    const finish = (ok: boolean, error?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ ok, size: o.size, bytes, phase, sha512: hash.digest('hex'), startedAt, endedAt: performance.now(), firstByteMs, ...(error ? { error } : {}) });
    };
    const request = () => sock.write(`GET /bytes/${o.size} HTTP/1.0\r\nHost: ${o.target.host}\r\n\r\n`);
    sock.on('connect', () => {
      if (o.socks) sock.write(Buffer.from([5, 1, 0]));
      else request();
    });
    let windowStart = performance.now();
    let windowBytes = 0;
    const body = (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
      o.onBytes?.(chunk.length);
      if (o.rate) {
        windowBytes += chunk.length;
        const ahead = windowBytes / o.rate - (performance.now() - windowStart) / 1000;
        if (ahead > 0.01) {
          sock.pause();
          setTimeout(() => sock.resume(), ahead * 1000);
        }
        if (performance.now() - windowStart > 2000) {
          windowStart = performance.now();
          windowBytes = 0;
        }
      }
    };
    sock.on('data', (chunk: Buffer) => {
      if (phase === 'body') return body(chunk);
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      if (phase === 'greet') {
        if (buf.length < 2) return;
        if (buf[0] !== 5 || buf[1] !== 0) return finish(false, 'SOCKS greeting refused');
        buf = buf.subarray(2);
        const name = Buffer.from(o.target.host);
        const req = Buffer.alloc(7 + name.length);
        req.set([5, 1, 0, 3, name.length]);
        name.copy(req, 5);
        req.writeUInt16BE(o.target.port, 5 + name.length);
        sock.write(req);
        enter('connect');
      }
      if (phase === 'connect') {
        if (buf.length < 10) return;
        if (buf[1] !== 0) return finish(false, `SOCKS CONNECT failed with reply ${buf[1]}`);
        buf = buf.subarray(10);
        enter('head');
        request();
      }
      if (phase === 'head') {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        if (firstByteMs < 0) firstByteMs = performance.now() - startedAt;
        const head = buf.subarray(0, end).toString('latin1');
        if (!/^HTTP\/1\.[01] 200/.test(head)) return finish(false, `HTTP: ${head.split('\r\n')[0]}`);
        expected = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? -1);
        enter('body');
        const rest = buf.subarray(end + 4);
        buf = Buffer.alloc(0);
        if (rest.length) body(rest);
      }
    });
    sock.on('end', () => {
      if (phase !== 'body') return finish(false, `connection closed during ${phase}`);
      if (bytes !== expected || bytes !== o.size) return finish(false, `got ${bytes} of ${o.size} bytes`);
      finish(true);
    });
    sock.on('error', (err) => finish(false, err.message));
  });
}
