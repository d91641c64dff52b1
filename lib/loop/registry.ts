// The JS half of the callback path.
//
// The addon calls one dispatcher for every event: dispatcher(slot, index, fd, what). `slot`
// comes from the argument word stored in the event's heap struct, `index` names the event.
// A slot names one callback function of one base: the events of a base that run the same
// function share it, so the update host can move them all to a new function with one native
// call (base._rewireCallbacks) and no JS per event. Each event holds its SlotEntry; when its
// events move, the entry forwards to the new one (followed, and shortened, on next use).
//
// Only pending or active events can fire, so only they are held here ("pinned"): a pending
// event stays alive without user references, like a Node timer, and a non-pending one is
// collectable (a FinalizationRegistry then frees its native side). A slot's function is in
// `callbacks` only while a pinned event uses it.
import { WHAT_NO_LONGER_PENDING } from './constants.js';
import type { Callback, Event } from './event.js';
import { binding } from './native.js';

/** Pinned events by native index. */
export const live: (Event | undefined)[] = [];
/** Callbacks by slot (the value in the struct's argument word), while a pinned event uses it. */
export const callbacks: (Callback | undefined)[] = [];
/** Every event not yet freed, by native index, held weakly (for rewire of non-pending ones). */
export const weakEvents: (WeakRef<Event> | undefined)[] = [];

/** One callback function of one base, and the slot its events' structs name. */
export interface SlotEntry {
  /** -1 once no event uses it any more. */
  slot: number;
  fn: Callback;
  /** Its events moved to this entry (base._rewireCallbacks). */
  next: SlotEntry | undefined;
}

const forwarded: Callback = () => undefined; // the fn of a forwarding entry (keeps no old code alive)

/** The entry an event's struct really names now (follows forwards). */
export function resolve(entry: SlotEntry): SlotEntry {
  while (entry.next !== undefined) entry = entry.next;
  return entry;
}

const slotRefs: number[] = []; // events (not freed) whose struct names the slot
const slotPins: number[] = []; // pinned events among them
const slotEntries: (WeakRef<SlotEntry> | undefined)[] = []; // the entry a base interned for it
const freeSlots: number[] = [];
let nextSlot = 0;

/** A new entry for `fn` with a slot of its own, not yet used by any event. */
export function newEntry(fn: Callback): SlotEntry {
  const slot = freeSlots.length > 0 ? freeSlots.pop()! : nextSlot++;
  const entry: SlotEntry = { slot, fn, next: undefined };
  slotRefs[slot] = 0;
  slotPins[slot] = 0;
  slotEntries[slot] = new WeakRef(entry);
  return entry;
}

/** One more event's struct names `slot`. */
export function addRef(slot: number): void {
  slotRefs[slot]!++;
}

/** One event fewer names `slot` (freed, collected, or moved): the slot goes with the last. */
export function dropRef(slot: number): void {
  if (--slotRefs[slot]! > 0) return;
  freeSlotNow(slot);
}

/** An entry made for a native call that failed: gives its slot back if nothing uses it. */
export function releaseIfUnused(entry: SlotEntry): void {
  if (entry.slot >= 0 && slotRefs[entry.slot] === 0) freeSlotNow(entry.slot);
}

function freeSlotNow(slot: number): void {
  const entry = slotEntries[slot]?.deref();
  if (entry !== undefined && entry.slot === slot) entry.slot = -1;
  slotEntries[slot] = undefined;
  callbacks[slot] = undefined;
  slotRefs[slot] = 0;
  slotPins[slot] = 0;
  freeSlots.push(slot);
}

/**
 * Every event of one base on slot `from` now names slot `to` (the addon moved `moved` of
 * them): the counts follow, `from` is freed, and its entry forwards to `toEntry`, so that the
 * events holding it see the new slot and function without being visited.
 */
export function moveSlot(fromEntry: SlotEntry, toEntry: SlotEntry, moved: number): void {
  const from = fromEntry.slot;
  const to = toEntry.slot;
  slotRefs[to]! += moved;
  slotPins[to]! += slotPins[from]!;
  if (slotPins[to]! > 0) callbacks[to] = toEntry.fn;
  slotRefs[from] = 0;
  freeSlotNow(from);
  fromEntry.next = toEntry;
  fromEntry.fn = forwarded;
}

/** The function a slot names, while some event uses it. */
export function slotFunction(slot: number): Callback | undefined {
  const entry = slotEntries[slot]?.deref();
  return entry !== undefined && entry.slot === slot ? entry.fn : undefined;
}

export const INDEX_MODULUS = 2 ** 26;

export function pin(index: number, ev: Event, entry: SlotEntry): void {
  live[index] = ev;
  entry = resolve(entry);
  if (slotPins[entry.slot]!++ === 0) callbacks[entry.slot] = entry.fn;
}

export function unpin(index: number): void {
  const ev = live[index];
  if (ev === undefined) return;
  live[index] = undefined;
  const slot = ev._entry.slot;
  if (slot >= 0 && --slotPins[slot]! === 0) callbacks[slot] = undefined;
}

function dispatch(slot: number, index: number, fd: number, what: number): void {
  const fn = callbacks[slot];
  const ev = live[index];
  if (fn === undefined || ev === undefined) {
    throw new Error(`node-libevent internal error: no callback for slot ${slot} of event ${index}`);
  }
  if (what & WHAT_NO_LONGER_PENDING) {
    what &= 0xff;
    unpin(index);
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

/** An event was collected: the addon frees it and says which slot its struct named last. */
export const eventRegistry = new FinalizationRegistry<number>((handle) => {
  try {
    const slot = binding.eventRelease(handle);
    if (slot >= 0) dropRef(slot);
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
