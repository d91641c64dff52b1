// Rebinding events without writing the struct in place: the three strategies that the
// Tor/Kitsune team tried first, kept to compare against the in-place rewrite (base.rewire).
// They use only libevent's public API, as an application would, so their defects are real:
// queued activations are dropped (event_del), the persistent period becomes the re-add
// interval, the priority resets (event_assign), timeouts drift (wall-clock arithmetic), and
// event_reinit / a base switch briefly restore a signal's previous disposition.
import type { EventBase } from './base.js';
import type { Callback, Event } from './event.js';
import { binding } from './native.js';
import { INDEX_MODULUS, releaseIfUnused, unpin } from './registry.js';

/** An event and the callback it should run after the rebind. */
export type RebindPair = readonly [Event, Callback];

const EVLIST_INSERTED = 0x02;

function readdOne(ev: Event, fn: Callback, target?: EventBase): void {
  const h = ev._handle;
  const remaining = binding.eventRemainingMs(h);
  const inserted = (binding.eventListFlags(h) & EVLIST_INSERTED) !== 0;
  const entry = (target ?? ev.base)._entryFor(fn);
  try {
    binding.eventReassign(h, entry.slot, target?._handle);
  } catch (err) {
    releaseIfUnused(entry);
    throw err;
  }
  unpin(h % INDEX_MODULUS);
  ev._retarget(entry);
  if (target) ev._moveTo(target);
  if (remaining >= 0) ev.add(remaining);
  else if (inserted) ev.add();
}

/**
 * Strategy 3: event_del, event_assign with the new callback, event_add with the time left.
 *
 * @param pairs - the events and their new callbacks
 * @throws Error ERR_EVENT_RUNNING (an event inside its own callback), ERR_EVENT_FREED, ERR_BASE_FREED
 */
export function rebindByReadd(pairs: readonly RebindPair[]): void {
  for (const [ev, fn] of pairs) readdOne(ev, fn);
}

/**
 * Strategy 2: event_reinit on the base, then strategy 3 (reinit alone cannot change callbacks).
 * event_reinit closes the base's signal pipe twice, which can close a file another thread
 * opened in between, so the addon refuses it (ERR_REINIT_UNSAFE) outside the main thread, while
 * any worker thread (another event loop) exists, or while libuv thread-pool requests are in
 * flight. Nothing has changed when it throws.
 *
 * @param base - the base to reinitialize
 * @param pairs - its events and their new callbacks
 * @throws Error ERR_REINIT_UNSAFE, ERR_LOOP_REENTRANT (from inside the loop), and as rebindByReadd
 */
export function rebindByReinit(base: EventBase, pairs: readonly RebindPair[]): void {
  binding.baseReinit(base._handle);
  rebindByReadd(pairs);
}

/**
 * Strategy 1: move every event to `target` (a new base) with its new callback and the time
 * left; the caller frees the old base afterwards. Each event is deleted from the old base
 * before it is added to the new one (the other order leaves a signal at SIG_DFL).
 *
 * @param target - the new base
 * @param pairs - the events (of the old base) and their new callbacks
 * @throws Error ERR_EVENT_RUNNING, ERR_SIGNAL_BASE_CONFLICT, ERR_EVENT_FREED, ERR_BASE_FREED
 */
export function rebindByRebase(target: EventBase, pairs: readonly RebindPair[]): void {
  for (const [ev, fn] of pairs) readdOne(ev, fn, target);
}
