// Non-blocking fd helpers for driving events without Node's streams.
import { typeError } from './errors.js';
import { binding } from './native.js';
import { unpin } from './registry.js';

const bufferRead = binding.io.bufferRead;
const bufferWrite = binding.io.bufferWrite;
const bufferRegistry = new FinalizationRegistry<number>((id) => {
  try {
    binding.io.bufferFree(id);
  } catch {
    // already freed with its environment
  }
});

/**
 * Bytes registered with the addon once (io.buffer(size)), for the cheapest read and write
 * calls: each call passes only numbers. `bytes` stays usable after free(); only the calls stop.
 */
export class IoBuffer implements Disposable {
  /** The registered bytes. */
  readonly bytes: Uint8Array;
  #id: number;
  #freed = false;

  /** @internal use io.buffer(size) */
  constructor(size: number) {
    const [id, bytes] = binding.io.bufferNew(size);
    this.#id = id;
    this.bytes = bytes;
    bufferRegistry.register(this, id, this);
  }

  /**
   * Reads up to `length` bytes into bytes[offset..].
   *
   * @param fd - an open fd (recv on sockets, read otherwise)
   * @param length - at most this many bytes (default: to the end of `bytes`)
   * @param offset - where in `bytes` to put them
   * @returns bytes read, 0 at EOF, -1 when it would block
   * @throws Error ERR_BUFFER_FREED, errno codes (e.g. EBADF); RangeError ERR_OUT_OF_RANGE
   */
  read(fd: number, length?: number, offset = 0): number {
    return bufferRead(fd, this.#id, length === undefined ? this.bytes.length - offset : length, offset);
  }

  /**
   * Writes bytes[offset..offset+length].
   *
   * @param fd - an open fd (send on sockets, write otherwise)
   * @param length - this many bytes (default: to the end of `bytes`)
   * @param offset - where in `bytes` they start
   * @returns bytes written, -1 when it would block
   * @throws Error ERR_BUFFER_FREED, errno codes (e.g. EPIPE); RangeError ERR_OUT_OF_RANGE
   */
  write(fd: number, length?: number, offset = 0): number {
    return bufferWrite(fd, this.#id, length === undefined ? this.bytes.length - offset : length, offset);
  }

  /** True after free(). */
  get freed(): boolean {
    return this.#freed;
  }

  /** Drops the registration; later read/write calls throw ERR_BUFFER_FREED. */
  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    bufferRegistry.unregister(this);
    binding.io.bufferFree(this.#id);
  }

  /** free(), for `using buf = io.buffer(n)`. */
  [Symbol.dispose](): void {
    this.free();
  }
}

/**
 * Non-blocking fd calls for driving events without Node's streams. Failures of the system
 * call throw an Error whose `code` is the errno name (`EBADF`, `ECONNREFUSED`, …) and whose
 * `syscall` names the call; bad arguments throw TypeError ERR_INVALID_ARG_TYPE or RangeError
 * ERR_OUT_OF_RANGE.
 */
export const io = Object.freeze({
  /** An AF_UNIX stream pair, non-blocking, close-on-exec. */
  socketpair: (): [number, number] => binding.io.socketpair(),
  /** A pipe [readEnd, writeEnd], non-blocking, close-on-exec. */
  pipe: (): [number, number] => binding.io.pipe(),
  // read and write are the addon's own functions: no JS frame in between on the hot path.
  // Both use recv/send on sockets (the fd's kind is looked up once and cached), read/write
  // on anything else.
  /** Bytes read into buf, 0 at EOF, -1 when it would block (ERR_INVALID_STATE: a detached buffer). */
  read: binding.io.read as (fd: number, buf: Uint8Array) => number,
  /** Bytes written, -1 when it would block. */
  write: binding.io.write as (fd: number, buf: Uint8Array) => number,
  /** `size` bytes registered once, read and written with numbers only (see IoBuffer); ERR_TOO_MANY_BUFFERS, ERR_NO_MEMORY, ERR_UNSUPPORTED. */
  buffer(size: number): IoBuffer {
    if (typeof size !== 'number') throw typeError('ERR_INVALID_ARG_TYPE', `size must be a number, got ${typeof size}`);
    return new IoBuffer(size);
  },
  /** Deletes every event still registered on fd (in every base), then closes it (ERR_FD_OWNED_BY_BASE: a base's own fd). */
  close(fd: number): void {
    for (const index of binding.io.close(fd)) unpin(index);
  },
  /** A listening TCP socket on a numeric address (or 'localhost', else ERR_INVALID_ADDRESS); port 0 picks one. */
  listen: (host: string, port: number, backlog?: number): number => binding.io.listen(host, port, backlog),
  /** The local port of a TCP socket (ERR_NOT_INET for other sockets). */
  localPort: (fd: number): number => binding.io.localPort(fd),
  /** An accepted connection, or -1 when none is pending. */
  accept: (fd: number): number => binding.io.accept(fd),
  /** A non-blocking connect (numeric host or 'localhost', else ERR_INVALID_ADDRESS); wait for WRITE to learn it completed. */
  connect: (host: string, port: number): number => binding.io.connect(host, port),
  /** A listening Unix-domain stream socket; the file gets `mode` (default 0o600: owner only). Paths are 1–107 bytes (ERR_OUT_OF_RANGE). */
  listenUnix: (path: string, mode?: number): number => binding.io.listenUnix(path, mode),
  /** A non-blocking connect to a Unix-domain socket. */
  connectUnix: (path: string): number => binding.io.connectUnix(path),
});
