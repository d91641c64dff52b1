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
  /** The output buffer emptied. */
  drained?(): void;
  /** A connect() completed. */
  connected?(): void;
}

const READ_CHUNK = 64 * 1024;
const scratch = new Uint8Array(READ_CHUNK);

export class EvConn {
  readonly fd: number;
  #lib: Lib;
  #readEv: Event;
  #writeEv: Event;
  #out: Buffer[] = [];
  #outOffset = 0;
  #pending = 0;
  #connecting: boolean;
  #reading = true;
  #ending = false;
  #blocked = false;
  closed = false;
  bytesIn = 0;
  bytesOut = 0;

  constructor(lib: Lib, base: EventBase, fd: number, readonly handlers: EvConnHandlers, connecting = false) {
    this.#lib = lib;
    this.fd = fd;
    this.#connecting = connecting;
    const { EV } = lib;
    this.#readEv = base.event(fd, EV.READ | EV.PERSIST, () => this.#onRead());
    this.#writeEv = base.event(fd, EV.WRITE | EV.PERSIST, () => this.#onWrite());
    if (connecting) this.#writeEv.add();
    else this.#readEv.add();
  }

  /** Bytes waiting to be written. */
  get pendingOut(): number {
    return this.#pending;
  }

  write(data: Uint8Array): void {
    if (this.closed || this.#ending || data.length === 0) return;
    this.#out.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    this.#pending += data.length;
    if (!this.#connecting) this.#flush(false);
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
    this.#pending = 0;
    this.#lib.io.close(this.fd);
    this.#readEv.free();
    this.#writeEv.free();
    this.handlers.close(error);
  }

  #onRead(): void {
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

  #onWrite(): void {
    if (this.#connecting) {
      this.#connecting = false;
      // A failed connect shows up as an error on the first read or write.
      if (this.#reading) this.#readEv.add();
      this.handlers.connected?.();
      if (this.closed) return;
    }
    this.#flush(true);
  }

  // `notify`: tell the handler when the buffer empties (only from the write event, so that a
  // handler refilling from drained() never recurses through write()).
  #flush(notify: boolean): void {
    while (this.#out.length > 0) {
      const head = this.#out[0]!;
      let n: number;
      try {
        n = this.#lib.io.write(this.fd, head.subarray(this.#outOffset));
      } catch (err) {
        return this.close(err as Error);
      }
      if (n === -1) {
        this.#blocked = true;
        if (!this.#writeEv.pending()) this.#writeEv.add();
        return;
      }
      this.bytesOut += n;
      this.#pending -= n;
      this.#outOffset += n;
      if (this.#outOffset === head.length) {
        this.#out.shift();
        this.#outOffset = 0;
      }
    }
    if (this.#ending) return this.close();
    // Emptied by a write() after being backed up: keep the write event, so that it fires
    // once more and tells the handler (a reader waiting for "drained" must hear of it).
    if (!notify && this.#blocked) return;
    if (this.#writeEv.pending()) this.#writeEv.del();
    const wasBlocked = this.#blocked;
    this.#blocked = false;
    if (notify && wasBlocked) this.handlers.drained?.();
  }
}

/** Accepts every pending connection on a listening fd. */
export function acceptAll(lib: Lib, listenFd: number, onConn: (fd: number) => void): void {
  for (let fd = lib.io.accept(listenFd); fd >= 0; fd = lib.io.accept(listenFd)) onConn(fd);
}
