// Loads the compiled addon and describes its raw surface. Everything here is internal: the
// typed classes in base.ts / event.ts are the public face.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BaseInfo {
  handle: number;
  method: string;
  features: { et: boolean; o1: boolean; fds: boolean; earlyClose: boolean };
  priorities: number;
}

export interface NativeIo {
  socketpair(): [number, number];
  pipe(): [number, number];
  read(fd: number, buf: Uint8Array): number;
  write(fd: number, buf: Uint8Array): number;
  close(fd: number): number[];
  listen(host: string, port: number, backlog?: number): number;
  localPort(fd: number): number;
  accept(fd: number): number;
  connect(host: string, port: number): number;
  listenUnix(path: string, mode?: number): number;
  connectUnix(path: string): number;
  bufferNew(size: number): [number, Uint8Array];
  bufferFree(id: number): void;
  bufferRead(fd: number, id: number, length: number, offset: number): number;
  bufferWrite(fd: number, id: number, length: number, offset: number): number;
}

export interface NativeBinding {
  setDispatcher(fn: (slot: number, index: number, fd: number, what: number) => void): void;
  setBatchDispatcher(fn: ((ring: Int32Array) => void) | null): void;
  libeventVersion(): string;
  supportedMethods(): string[];
  stats(): { liveEvents: number; liveBases: number };
  baseNew(options: unknown): BaseInfo;
  baseFree(base: number): void;
  baseRelease(base: number): void;
  baseNumEvents(base: number, flags: number): number;
  basePendingEvents(base: number): Uint32Array;
  baseAllEvents(base: number): Uint32Array;
  baseDump(base: number): string;
  baseNow(base: number): number;
  baseLoop(base: number, flags: number): 0 | 1;
  baseRun(base: number, flags?: number, drainEachCallback?: boolean): Promise<0 | 1>;
  baseLoopexit(base: number, ms?: number): void;
  baseLoopbreak(base: number): void;
  baseLoopcontinue(base: number): void;
  baseGotExit(base: number): boolean;
  baseGotBreak(base: number): boolean;
  baseRunning(base: number): boolean;
  baseInPass(base: number): boolean;
  baseRewire(base: number, handles: Float64Array, slots: Uint32Array): number;
  baseRewireSlots(base: number, from: Uint32Array, to: Uint32Array): Uint32Array;
  baseSlots(base: number): Uint32Array;
  baseSlotCensus(base: number): Int32Array;
  eventSetHostOwned(ev: number, owned: boolean): void;
  eventMark(): number;
  baseEventsSince(base: number, mark: number): Uint32Array;
  eventNew(base: number, fd: number, events: number, slot: number): number;
  eventAdd(ev: number, ms?: number): boolean;
  eventDel(ev: number): boolean;
  eventRemoveTimer(ev: number): boolean;
  eventActive(ev: number, what: number): boolean;
  eventPending(ev: number, what?: number): number;
  eventGetPriority(ev: number): number;
  eventSetPriority(ev: number, priority: number): void;
  eventFree(ev: number): void;
  eventRelease(ev: number): number;
  eventRewrite(ev: number, slot: number): number;
  eventStoredCallback(ev: number): [boolean, number];
  eventRemainingMs(ev: number): number;
  eventListFlags(ev: number): number;
  eventReassign(ev: number, slot: number, base?: number): void;
  baseReinit(base: number): void;
  io: NativeIo;
}

// node-gyp-build picks build/Release/*.node (a source build) first, then the packaged
// prebuilds/linux-x64/node.napi.glibc.node. NODE_LIBEVENT_ADDON names one file instead (the
// ASan and cmake-js builds, benchmarks that pin a copy).
type GypBuildResolver = { path(dir: string): string };

function load(): NativeBinding {
  const requireHere = createRequire(import.meta.url);
  const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  let file = process.env.NODE_LIBEVENT_ADDON ? path.resolve(process.env.NODE_LIBEVENT_ADDON) : undefined;
  try {
    file ??= (requireHere('node-gyp-build') as GypBuildResolver).path(packageRoot);
    return requireHere(file) as NativeBinding;
  } catch (cause) {
    const err = new Error(
      `node-libevent: could not load the native addon${file ? ` at ${file}` : ` (no build in ${packageRoot}/build/Release and no prebuilt binary for ${process.platform}-${process.arch})`}.\n` +
        'Possible causes:\n' +
        '- the addon was not built: run `npm rebuild node-libevent` (a source build needs build-essential, python3, libevent-dev and pkg-config)\n' +
        '- a source build is used but libevent 2.1 is missing at run time: install libevent-dev (Debian/Ubuntu) or libevent-devel (Fedora)\n' +
        `- the platform is not supported: node-libevent runs on Linux (this is ${process.platform}-${process.arch})`,
      { cause },
    );
    (err as Error & { code: string }).code = 'ERR_ADDON_LOAD';
    throw err;
  }
}

export const binding: NativeBinding = load();
