// Shared helpers for the loop tests: the backends to run every case on, error and fd helpers.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';

import { EventBase, EVLOOP, io, supportedMethods } from '../../lib/index.js';

/** Every backend this libevent offers (epoll, poll, select on Linux). */
export const methods = supportedMethods();

/** Backends where the case applies to fds below 1024 (select's limit). */
export const allMethods = methods;

/** An error as thrown by the API: every one carries a string `code`. */
export type CodedError = Error & { code?: unknown };

/** Calls fn and returns what it threw; fails the test if it returned normally. */
export function thrown(fn: () => unknown): CodedError {
  try {
    fn();
  } catch (err) {
    return err as CodedError;
  }
  throw new Error(`expected a throw from ${fn.toString()}`);
}

/** Asserts that fn throws an instance of `type` whose `code` is `code`. */
export function expectCode(fn: () => unknown, type: new (...args: never[]) => Error, code: string): CodedError {
  const err = thrown(fn);
  if (!(err instanceof type) || err.code !== code) {
    throw new Error(
      `expected ${type.name} with code ${code} from ${fn.toString()}, got ${err?.constructor?.name} ` +
        `code=${String(err?.code)}: ${err?.message}`,
    );
  }
  return err;
}

/** Blocks the thread for `ms` (a stalled callback). */
export function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin
  }
}

/** One byte, or `n` bytes of a recognisable pattern. */
export function bytes(n = 1, seed = 0): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

/** Reads everything available on a non-blocking fd; returns the byte count (EOF stops too). */
export function drain(fd: number): number {
  const buf = new Uint8Array(4096);
  let total = 0;
  for (;;) {
    const n = io.read(fd, buf);
    if (n <= 0) return total;
    total += n;
  }
}

/** Socketpairs that close themselves at the end of a test: `const [a, b] = fds.pair()`. */
export class Fds {
  #open = new Set<number>();
  pair(): [number, number] {
    const p = io.socketpair();
    for (const fd of p) this.#open.add(fd);
    return p;
  }
  close(fd: number): void {
    if (this.#open.delete(fd)) io.close(fd);
  }
  closeAll(): void {
    for (const fd of this.#open) io.close(fd);
    this.#open.clear();
  }
}

/** Asserts the base still runs events: a fresh zero timer fires on the next pass. */
export function expectUsable(base: EventBase): void {
  let fired = 0;
  const t = base.timer(() => fired++);
  t.add(0);
  base.loop(EVLOOP.ONCE);
  t.free();
  if (fired !== 1) throw new Error(`the base no longer runs a timer (fired ${fired})`);
}

/** The GC: the one --expose-gc gives, else one obtained at run time. */
export const gc: () => void =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as () => void;
  })();

/** The addon file the suite runs against (the sanitized one under `npm run test:asan`). */
export const addonPath: string = process.env.NODE_LIBEVENT_ADDON
  ? path.resolve(process.env.NODE_LIBEVENT_ADDON)
  : path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'build', 'Release', 'node_libevent.node');

/**
 * Runs a CommonJS script in a fresh Node process (`ADDON` is the addon's path), so that a
 * crash or a hang fails the test instead of the test runner. Returns status, signal, output.
 */
export function runChild(script: string, timeoutMs = 15_000): { status: number | null; signal: string | null; out: string } {
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', `const ADDON = ${JSON.stringify(addonPath)};\n${script}`], {
    encoding: 'utf8',
    timeout: timeoutMs,
    env: process.env,
  });
  return { status: r.status, signal: r.signal, out: `${r.stdout}${r.stderr}` };
}
