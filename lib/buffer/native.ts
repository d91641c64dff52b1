// The addon's buffered-connection functions (native/evbuffer.cc, bufferevent.cc, relay.cc, listener.cc).
// Internal: the classes of this layer are the public face.
import { binding } from '../loop/native.js';

export interface NativeBuffered {
  setDispatcher(fn: (kind: number, handle: number, a: number, b: number) => void): void;
  stats(): { bufferevents: number; evbuffers: number; listeners: number; groups: number; chainCacheBytes: number };
  evbufNew(): number;
  evbufFree(h: number): void;
  evbufLength(h: number): number;
  evbufAdd(h: number, data: Uint8Array | string): number;
  evbufPrepend(h: number, data: Uint8Array | string): number;
  evbufAddBuffer(dst: number, src: number): number;
  evbufDrain(h: number, n: number): number;
  evbufRemove(h: number, n: number): Buffer;
  evbufCopyout(h: number, n: number, from?: number): Buffer;
  evbufRemoveInto(h: number, target: Uint8Array): number;
  evbufCopyoutInto(h: number, target: Uint8Array): number;
  evbufPullup(h: number, n?: number): Buffer | null;
  evbufReadln(h: number, eol: number): string | null;
  evbufSearch(h: number, what: Uint8Array | string, from?: number): number;
  bevNew(base: number, fd: number, closeOnFree: boolean, enable: number): number;
  bevConnect(base: number, host: string, port: number, enable: number, noDelay: boolean): number;
  bevPair(base: number, enable: number): [number, number];
  bevBuffers(h: number): [number, number];
  bevSetWants(h: number, mask: number): void;
  bevEnable(h: number, bits: number): void;
  bevDisable(h: number, bits: number): void;
  bevEnabled(h: number): number;
  bevPause(h: number): void;
  bevResume(h: number): void;
  bevPaused(h: number): boolean;
  bevSetWatermark(h: number, bits: number, low: number, high: number): void;
  bevGetWatermark(h: number, bit: number): [number, number];
  bevSetTimeouts(h: number, readMs?: number, writeMs?: number): void;
  bevWrite(h: number, data: Uint8Array | string): boolean;
  bevWriteBuffer(h: number, buf: number): boolean;
  bevFlush(h: number, bits: number, mode: number): number;
  bevEnd(h: number): void;
  bevFree(h: number): void;
  bevInfo(h: number): [fd: number, input: number, output: number, relayed: number, ending: boolean];
  bevRelay(src: number, dst: number, high: number, low: number, endOnEof: boolean, readSize: number): void;
  bevUnrelay(src: number): void;
  bevSetMaxIo(h: number, maxRead: number, maxWrite: number): void;
  bevGetMaxIo(h: number): [number, number];
  bevGetTimeouts(h: number): [number, number];
  bevGetRateLimit(h: number): [number, number, number, number, number] | null;
  bevSetRateLimit(h: number, ...cfg: [] | [number, number, number, number, number]): void;
  groupNew(base: number, readRate: number, readBurst: number, writeRate: number, writeBurst: number, tickMs: number): number;
  groupAdd(group: number, bev: number): void;
  groupRemove(bev: number): void;
  groupFree(group: number): void;
  groupTotals(group: number): [number, number];
  lisNew(
    base: number,
    host: string,
    port: number,
    backlog: number,
    reuseAddr: boolean,
    reusePort: boolean,
    wrap: boolean,
    noDelay: boolean,
    retryMs: number,
    enabled: boolean,
  ): number;
  lisEnable(h: number): void;
  lisDisable(h: number): void;
  lisFree(h: number): void;
  lisInfo(h: number): [fd: number, port: number, errors: number, backingOff: boolean, enabled: boolean];
}

export const native = (binding as unknown as { buffered: NativeBuffered }).buffered;

/** Handles carry a generation above this many index bits (the addon's encoding). */
export const INDEX_MODULUS = 2 ** 26;
