// A buffered stream connection on two raw libevent events (a persistent read event, and a
// write event added only while output is waiting), for the programs that are not live-updated:
// the directory authority, the file server and the client. Relays keep their own buffers in
// their version code instead, as Tor 0.2.1 did.
import type { Event, EventBase, Lib } from './lib.js';

export interface EvConnHandlers {
  /** Bytes arrived (a copy the handler may keep). */
  data(chunk: Buffer): void;
  /** The connection is gone (EOF, error, or close()); called once. */
  close(error?: Error): void;
  /** The write event emptied the output buffer (after every batch it wrote). */
  drained?(): void;
  /** A connect() completed. */
  connected?(): void;
  /**
   * Optional, for a framer fed from this connection: called before each read with the Buffer
   * the read goes into; it puts there the bytes it holds of an incomplete frame and returns how
   * many. `data` then gets them and the read's bytes as one chunk, so the framer never joins a
   * leftover to a whole read by copying it. With it, large reads are handed over in the memory
   * they were read into (no copy; a small read is still copied out so the read buffer is reused).
   */
  readPrefix?(into: Buffer): number;
}

const READ_CHUNK = 256 * 1024;
const scratch = new Uint8Array(READ_CHUNK);
/**
 * With readPrefix, a chunk at least this large keeps the Buffer it was read into (else it is
 * copied out): at most three quarters of a handed-over Buffer go unused, so what a consumer
 * keeps views of costs it at most four times the bytes (a busy link reads whole 256 KiB).
 */
const HAND_OVER = READ_CHUNK / 4;
/** Queued writes are joined into one write() call of up to this many bytes. */
const WRITE_BATCH = 256 * 1024;

export class EvConn {
  readonly fd: number;
  #lib: Lib;
  #readEv: Event;
  #writeEv: Event;
  #out: Buffer[] = [];
  #outHead = 0; // index of the first unwritten buffer in #out
  #pending = 0;
  #connecting: boolean;
  #reading = true;
  #ending = false;
  #writeArmed: boolean; // the write event is added
  #readBuf: Buffer | null = null; // readPrefix: the Buffer the next read goes into
  closed = false;
  bytesIn = 0;
  bytesOut = 0;
  /** write() system calls made (one per batch, not per write()). */
  writeCalls = 0;

  constructor(lib: Lib, base: EventBase, fd: number, readonly handlers: EvConnHandlers, connecting = false) {
    this.#lib = lib;
    this.fd = fd;
    this.#connecting = connecting;
    const { EV } = lib;
    this.#readEv = base.event(fd, EV.READ | EV.PERSIST, () => this.#onRead());
    this.#writeEv = base.event(fd, EV.WRITE | EV.PERSIST, () => this.#onWrite());
    this.#writeArmed = connecting;
    if (connecting) this.#writeEv.add();
    else this.#readEv.add();
  }

  /** Bytes waiting to be written. */
  get pendingOut(): number {
    return this.#pending;
  }

  /**
   * Queues bytes (kept by reference: the caller must not reuse the memory). Nothing is written
   * here: the write event writes everything queued in one system call, so a handler that sends
   * many small pieces (a cell's payload at a time) makes one write, not one per piece, and a
   * drained() handler that refills never recurses through write().
   */
  write(data: Uint8Array): void {
    if (this.closed || this.#ending || data.length === 0) return;
    this.#out.push(Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    this.#pending += data.length;
    if (!this.#writeArmed) {
      this.#writeArmed = true;
      this.#writeEv.add();
    }
  }

  /** Close once everything queued is written. */
  end(): void {
    if (this.closed) return;
    this.#ending = true;
    if (this.#pending === 0 && !this.#connecting) this.close();
  }

  pauseReading(): void {
    if (this.#reading && !this.closed) {
      this.#reading = false;
      if (!this.#connecting) this.#readEv.del();
    }
  }

  resumeReading(): void {
    if (!this.#reading && !this.closed) {
      this.#reading = true;
      if (!this.#connecting) this.#readEv.add();
    }
  }

  close(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.#out = [];
    this.#outHead = 0;
    this.#pending = 0;
    this.#lib.io.close(this.fd);
    this.#readEv.free();
    this.#writeEv.free();
    this.handlers.close(error);
  }

  #onRead(): void {
    if (this.handlers.readPrefix) return this.#onReadFramed(this.handlers.readPrefix);
    for (;;) {
      let n: number;
      try {
        n = this.#lib.io.read(this.fd, scratch);
      } catch (err) {
        return this.close(err as Error);
      }
      if (n === -1) return;
      if (n === 0) return this.close();
      this.bytesIn += n;
      this.handlers.data(Buffer.from(scratch.subarray(0, n)));
      if (this.closed || !this.#reading) return;
      if (n < READ_CHUNK) return;
    }
  }

  /** Reads behind the framer's leftover into a Buffer of this connection's own (see readPrefix). */
  #onReadFramed(prefix: (into: Buffer) => number): void {
    for (;;) {
      const buf = (this.#readBuf ??= Buffer.allocUnsafeSlow(READ_CHUNK));
      const kept = prefix(buf);
      let n: number;
      try {
        n = this.#lib.io.read(this.fd, buf.subarray(kept));
      } catch (err) {
        if (kept > 0) this.handlers.data(Buffer.from(buf.subarray(0, kept)));
        return this.close(err as Error);
      }
      if (n > 0) this.bytesIn += n;
      const got = kept + Math.max(n, 0);
      if (got >= HAND_OVER) {
        this.#readBuf = null; // the chunk keeps it; the next read gets a new one
        this.handlers.data(buf.subarray(0, got));
      } else if (got > 0) this.handlers.data(Buffer.from(buf.subarray(0, got)));
      if (n === -1) return;
      if (n === 0) return this.close();
      if (this.closed || !this.#reading) return;
      if (n < READ_CHUNK - kept) return;
    }
  }

  #onWrite(): void {
    if (this.#connecting) {
      this.#connecting = false;
      // A failed connect shows up as an error on the first read or write.
      if (this.#reading) this.#readEv.add();
      this.handlers.connected?.();
      if (this.closed) return;
    }
    if (!this.#flush()) return;
    if (this.#ending) return this.close();
    this.#writeArmed = false;
    this.#writeEv.del();
    this.handlers.drained?.();
  }

  /** The next piece to write: the head buffer, or several queued ones joined. */
  #nextBatch(): Buffer {
    const out = this.#out;
    const head = out[this.#outHead]!;
    if (head.length >= WRITE_BATCH || this.#outHead === out.length - 1) return head;
    let n = this.#outHead;
    let bytes = 0;
    while (n < out.length && bytes + out[n]!.length <= WRITE_BATCH) bytes += out[n++]!.length;
    if (n === this.#outHead + 1) return head;
    const joined = Buffer.concat(out.slice(this.#outHead, n), bytes);
    // The joined buffer replaces the pieces it holds.
    out.splice(this.#outHead, n - this.#outHead, joined);
    return joined;
  }

  /** Writes until the queue is empty (true) or the socket is full (false: the event stays). */
  #flush(): boolean {
    while (this.#outHead < this.#out.length) {
      const data = this.#nextBatch();
      let n: number;
      try {
        n = this.#lib.io.write(this.fd, data);
      } catch (err) {
        this.close(err as Error);
        return false;
      }
      this.writeCalls++;
      if (n === -1) return false;
      this.bytesOut += n;
      this.#pending -= n;
      if (n === data.length) this.#outHead++;
      else {
        this.#out[this.#outHead] = data.subarray(n);
        return false;
      }
    }
    this.#out = [];
    this.#outHead = 0;
    return true;
  }
}

/** Accepts every pending connection on a listening fd. */
export function acceptAll(lib: Lib, listenFd: number, onConn: (fd: number) => void): void {
  for (let fd = lib.io.accept(listenFd); fd >= 0; fd = lib.io.accept(listenFd)) onConn(fd);
}
