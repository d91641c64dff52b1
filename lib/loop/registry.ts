// The JS half of the callback path.
//
// The addon calls one dispatcher for every event: dispatcher(slot, index, fd, what). `slot`
// comes from the argument word stored in the event's heap struct, `index` names the event.
// Only pending or active events can fire, so only they are held here ("pinned"): a pending
// event stays alive without user references, like a Node timer, and a non-pending one is
// collectable (a FinalizationRegistry then frees its native side).
import { WHAT_NO_LONGER_PENDING } from './constants.js';
import type { Callback, Event } from './event.js';
import { binding } from './native.js';

/** Pinned events by native index. */
export const live: (Event | undefined)[] = [];
/** Callback slot of each pinned event, by native index. */
export const liveSlot: number[] = [];
/** Callbacks of pinned events, by slot (the value in the struct's argument word). */
export const callbacks: (Callback | undefined)[] = [];
/** Every event not yet freed, by native index, held weakly (for rewire of non-pending ones). */
export const weakEvents: (WeakRef<Event> | undefined)[] = [];

const freeSlots: number[] = [];
let nextSlot = 0;

export function allocSlot(): number {
  return freeSlots.length > 0 ? freeSlots.pop()! : nextSlot++;
}

export function freeSlot(slot: number): void {
  callbacks[slot] = undefined;
  freeSlots.push(slot);
}

export const INDEX_MODULUS = 2 ** 26;

export function pin(index: number, ev: Event, slot: number, fn: Callback): void {
  live[index] = ev;
  liveSlot[index] = slot;
  callbacks[slot] = fn;
}

export function unpin(index: number): void {
  if (live[index] === undefined) return;
  callbacks[liveSlot[index]!] = undefined;
  live[index] = undefined;
}

function dispatch(slot: number, index: number, fd: number, what: number): void {
  const fn = callbacks[slot];
  const ev = live[index];
  if (fn === undefined || ev === undefined) {
    throw new Error(`node-libevent internal error: no callback for slot ${slot} of event ${index}`);
  }
  if (what & WHAT_NO_LONGER_PENDING) {
    what &= 0xff;
    live[index] = undefined;
    callbacks[slot] = undefined;
  }
  fn(fd, what, ev);
}

/**
 * Runs a batch of records (native/batch.cc): ring[0] is how many may run (the addon lowers it
 * when it puts the rest back into libevent's queue), ring[1] the next one, written before
 * each callback so the addon knows which are still waiting; then slot, index, fd, what.
 */
/** @internal exported for the tests (they count its calls). */
export function dispatchBatch(ring: Int32Array): void {
  for (let k = ring[1]!; k < ring[0]!; k = ring[1]!) {
    const o = 4 + 4 * k;
    ring[1] = k + 1;
    dispatch(ring[o]! >>> 0, ring[o + 1]!, ring[o + 2]!, ring[o + 3]!);
  }
}

binding.setDispatcher(dispatch);
binding.setBatchDispatcher(dispatchBatch);

/**
 * @internal Batched dispatch (the default) or one call into JS per event: the tests run the
 * same cases both ways. Refused while a batch is waiting or running.
 */
export function setBatching(on: boolean): void {
  binding.setBatchDispatcher(on ? dispatchBatch : null);
}

/** What an event's finalizer needs: its handle and its current callback slot (rewrites move it). */
export interface EventTicket {
  handle: number;
  slot: number;
}

export const eventRegistry = new FinalizationRegistry<EventTicket>((ticket) => {
  freeSlot(ticket.slot);
  try {
    binding.eventRelease(ticket.handle);
  } catch {
    // already released with its environment
  }
});

export const baseRegistry = new FinalizationRegistry<number>((handle) => {
  try {
    binding.baseRelease(handle);
  } catch {
    // already released with its environment
  }
});
