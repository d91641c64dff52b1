// How long the calling thread waited on the kernel's run queue (ready to run, no CPU given),
// from /proc/thread-self/schedstat: "<ns on CPU> <ns waiting on a run queue> <time slices>".
// The host reads it at the update point and again when the pause ends, so a report can say
// how much of a pause was the thread being preempted rather than the update's own work.
// Linux only; elsewhere, or on a kernel without scheduler statistics, there is no figure.
import { closeSync, openSync, readSync } from 'node:fs';

const PATH = '/proc/thread-self/schedstat';

/** An open schedstat file of the thread that opened it; read it again and again, then close. */
export class RunQueueClock {
  readonly #fd: number;
  readonly #buf = Buffer.alloc(96);

  private constructor(fd: number) {
    this.#fd = fd;
  }

  /** Opens the calling thread's schedstat, or returns undefined where there is none. */
  static open(): RunQueueClock | undefined {
    if (process.platform !== 'linux') return undefined;
    let fd: number;
    try {
      fd = openSync(PATH, 'r');
    } catch {
      return undefined;
    }
    const clock = new RunQueueClock(fd);
    if (clock.waitedNs() === undefined) {
      clock.close();
      return undefined;
    }
    return clock;
  }

  /** Nanoseconds this thread has waited on a run queue since it started, or undefined if unreadable. */
  waitedNs(): number | undefined {
    let n: number;
    try {
      n = readSync(this.#fd, this.#buf, 0, this.#buf.length, 0); // pread at 0: the kernel regenerates it
    } catch {
      return undefined;
    }
    const fields = this.#buf.toString('latin1', 0, n).trim().split(' ');
    const waited = fields.length >= 3 ? Number(fields[1]) : NaN;
    return Number.isSafeInteger(waited) && waited >= 0 ? waited : undefined;
  }

  close(): void {
    try {
      closeSync(this.#fd);
    } catch {
      // already closed: nothing to release
    }
  }
}
