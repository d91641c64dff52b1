// The little HTTP/1.0 the network needs: the directory authority serves GET /consensus and
// takes POST /descriptor, the file server serves GET /bytes/<n>. One request per connection,
// the server closes after the response, as HTTP/1.0 does by default.
import type { EvConn } from './evconn.js';

export interface HttpRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

const MAX_HEAD = 16 * 1024;

/** Collects one request from a connection's bytes; calls `done` once it is complete. */
export class RequestParser {
  #buf: Buffer = Buffer.alloc(0);
  #head: Omit<HttpRequest, 'body'> | undefined;
  #want = 0;
  #finished = false;

  constructor(
    readonly maxBody: number,
    readonly done: (req: HttpRequest) => void,
    readonly fail: (status: number, why: string) => void,
  ) {}

  push(chunk: Buffer): void {
    if (this.#finished) return;
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    if (!this.#head) {
      const end = this.#buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (this.#buf.length > MAX_HEAD) this.#fail(431, 'request head too large');
        return;
      }
      const lines = this.#buf.subarray(0, end).toString('latin1').split('\r\n');
      const [method, target, proto] = lines[0]!.split(' ');
      if (!method || !target || !proto?.startsWith('HTTP/1.')) return this.#fail(400, 'bad request line');
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      this.#head = { method, path: target, headers };
      this.#want = Number(headers['content-length'] ?? 0);
      if (!Number.isInteger(this.#want) || this.#want < 0) return this.#fail(400, 'bad Content-Length');
      if (this.#want > this.maxBody) return this.#fail(413, 'body too large');
      this.#buf = this.#buf.subarray(end + 4);
    }
    if (this.#buf.length >= this.#want) {
      this.#finished = true;
      this.done({ ...this.#head, body: this.#buf.subarray(0, this.#want) });
    }
  }

  #fail(status: number, why: string): void {
    this.#finished = true;
    this.fail(status, why);
  }
}

const REASONS: Record<number, string> = { 200: 'OK', 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 413: 'Payload Too Large', 431: 'Request Header Fields Too Large', 503: 'Service Unavailable' };

export function responseHead(status: number, headers: Record<string, string | number>): Buffer {
  let text = `HTTP/1.0 ${status} ${REASONS[status] ?? 'Status'}\r\n`;
  for (const [k, v] of Object.entries(headers)) text += `${k}: ${v}\r\n`;
  return Buffer.from(text + '\r\n', 'latin1');
}

export function sendSimple(conn: EvConn, status: number, body: string | Buffer, type = 'text/plain'): void {
  const data = typeof body === 'string' ? Buffer.from(body) : body;
  conn.write(responseHead(status, { 'Content-Type': type, 'Content-Length': data.length }));
  conn.write(data);
  conn.end();
}

/** Parses a complete HTTP/1.0 response (head + body) collected until EOF. */
export function parseResponse(raw: Buffer): { status: number; headers: Record<string, string>; body: Buffer } {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) throw new Error('HTTP response without a complete head');
  const lines = raw.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(lines[0]!.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status, headers, body: raw.subarray(end + 4) };
}
