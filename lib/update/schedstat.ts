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
    return this.#field(1);
  }

  /** How many times the kernel has put this thread on a CPU (each return from a switch-out counts one), or undefined if unreadable. */
  timeSlices(): number | undefined {
    return this.#field(2);
  }

  #field(index: number): number | undefined {
    let n: number;
    try {
      n = readSync(this.#fd, this.#buf, 0, this.#buf.length, 0); // pread at 0: the kernel regenerates it
    } catch {
      return undefined;
    }
    const fields = this.#buf.toString('latin1', 0, n).trim().split(' ');
    const value = fields.length >= 3 ? Number(fields[index]) : NaN;
    return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  }

  close(): void {
    try {
      closeSync(this.#fd);
    } catch {
      // already closed: nothing to release
    }
  }
}

/** How many short sleeps yieldCpu tries before it gives up on being switched out. */
const YIELD_TRIES = 4;

/**
 * Sleeps `ms` on `cell` (an Int32Array over a SharedArrayBuffer that stays 0) so that the
 * kernel takes the CPU from this thread and gives it back. A timed wait that short does not
 * always sleep: its deadline is computed before the futex call, and when an interrupt (or a
 * preemption) in between lets it pass, the kernel returns at once. With a clock, a wait after
 * which the thread's time slices did not move is tried again, up to YIELD_TRIES times in all;
 * without one, the single wait is all there is. Returns how many waits it made.
 */
export function yieldCpu(cell: Int32Array, ms: number, clock: RunQueueClock | undefined): number {
  const before = clock?.timeSlices();
  for (let tries = 1; ; tries++) {
    Atomics.wait(cell, 0, 0, ms);
    if (before === undefined || tries === YIELD_TRIES) return tries;
    const now = clock!.timeSlices();
    if (now === undefined || now > before) return tries;
  }
}
