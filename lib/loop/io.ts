// Non-blocking fd helpers for driving events without Node's streams.
import { binding } from './native.js';
import { unpin } from './registry.js';

export const io = Object.freeze({
  /** An AF_UNIX stream pair, non-blocking, close-on-exec. */
  socketpair: (): [number, number] => binding.io.socketpair(),
  /** A pipe [readEnd, writeEnd], non-blocking, close-on-exec. */
  pipe: (): [number, number] => binding.io.pipe(),
  // read and write are the addon's own functions: no JS frame in between on the hot path.
  /** Bytes read into buf, 0 at EOF, -1 when it would block. */
  read: binding.io.read as (fd: number, buf: Uint8Array) => number,
  /** Bytes written, -1 when it would block. */
  write: binding.io.write as (fd: number, buf: Uint8Array) => number,
  /** Deletes every event still registered on fd (in every base), then closes it. */
  close(fd: number): void {
    for (const index of binding.io.close(fd)) unpin(index);
  },
  /** A listening TCP socket on a numeric address (or 'localhost'); port 0 picks one. */
  listen: (host: string, port: number, backlog?: number): number => binding.io.listen(host, port, backlog),
  localPort: (fd: number): number => binding.io.localPort(fd),
  /** An accepted connection, or -1 when none is pending. */
  accept: (fd: number): number => binding.io.accept(fd),
  /** A non-blocking connect; wait for WRITE to learn it completed. */
  connect: (host: string, port: number): number => binding.io.connect(host, port),
  /** A listening Unix-domain stream socket; the file gets `mode` (default 0o600: owner only). */
  listenUnix: (path: string, mode?: number): number => binding.io.listenUnix(path, mode),
  /** A non-blocking connect to a Unix-domain socket. */
  connectUnix: (path: string): number => binding.io.connectUnix(path),
});
