// Batched dispatch: one call into JavaScript per priority level of a loop pass, not one per
// event.
//
// libevent runs a pass by taking the active events of the most urgent non-empty priority
// queue one by one: it removes each from the queue (and, for a non-persistent event, deletes
// it; for a persistent one with a timeout, re-arms it), then calls its callback. Here the
// trampoline only records (slot, index, fd, what) and returns. When it records the first
// event of a pass it activates an internal "flush" event at that same priority: it joins the
// queue behind every event already in it, so libevent calls it right after the last of them,
// and it hands all records to JS in one call. The JS side (registry.ts) runs them in order.
//
// Running a callback later than libevent took its event off the queue is invisible as long
// as no callback of the batch looks at or changes the events still waiting in it (the
// "leftovers", recorded but not yet run) or at the loop's queue. Every native entry point that
// could therefore first "spills": it puts the leftovers back into libevent's queue, in their
// order, exactly as they were (active with the same result bits), and cuts the batch short.
// A spill is made before:
//   - any call on a leftover event (ArgEvent does it: add, del, free, pending, priority,
//     rewrite, ...);
//   - active() on any event (so it queues behind the leftovers, and a more urgent one makes
//     libevent stop the queue after this callback, as it would have);
//   - loopbreak(), loopcontinue(), base.free(), a callback's exception (the rest of the pass
//     is then delivered by the next loop call), numEvents(), events(), dumpEvents(), io.close,
//     and the rewire and rebind calls.
// The queue is empty behind the leftovers at that point (the flush event was last), so
// re-activating them restores libevent's order. Two things a re-activation cannot restore
// exactly are documented in docs/design.md (the callback-path section).
#include <algorithm>
#include <climits>
#include <cstdlib>
#include <ctime>

#include <event2/util.h>

#include "common.h"

namespace nle {

struct BatchRecord {
  uint32_t index, generation;
  int32_t what;
  // Whether its I/O interest was added before libevent took it off the queue: a
  // non-persistent event was deleted for its call, a persistent one with a period was added
  // again (I/O interest too); a spill puts either back as it was. For a non-persistent
  // event also whether it was timed, and the expiry.
  bool wasInserted, wasTimed;
  int64_t deadlineNs;
};

static int64_t MonotonicNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Called first thing by the trampoline when it runs a spilled persistent timeout: the deadline
// libevent armed before the spill comes back (the re-run re-armed it from its own time), with
// its period. A deadline already missed stays as the re-run armed it, now + period: libevent's
// own rule for a missed period.
void FixSpilledDeadline(EventRec* r) {
  r->fixDeadline = false;
  struct timeval now, left = {0, 0};
  if (event_base_gettimeofday_cached(r->base->eb, &now) != 0 || !evutil_timercmp(&r->fixExpiry, &now, >)) return;
  evutil_timersub(&r->fixExpiry, &now, &left);
  event_add(r->ev, &left);
  r->ev->ev_.ev_io.ev_timeout = r->fixPeriod;  // event_add made `left` the period; the real one is this
}

void NoteAdded(EventRec* r, const struct timeval* tv) {
  r->fixDeadline = false;  // the caller's timeout wins
  // Read back, not assumed: libevent adds no I/O interest to an event that is active.
  r->inserted = (r->ev->ev_evcallback.evcb_flags & EVLIST_INSERTED) != 0;
  if (tv) {
    r->timed = true;
    r->deadlineNs = MonotonicNs() + static_cast<int64_t>(tv->tv_sec) * 1000000000 + static_cast<int64_t>(tv->tv_usec) * 1000;
  }
}

void NoteDeleted(EventRec* r) {
  r->inserted = r->timed = false;
  r->fixDeadline = false;
  r->spillWhat = 0;  // a re-queued activation goes with it
}

// The records as JS sees them: an Int32Array over memory owned here. Header: [0] records that
// may run (native writes), [1] the next record to run (JS writes before each callback), then
// 4 ints per record: slot, index, fd, what. The memory goes when both the base's batch and
// the JS ArrayBuffer have let go of it, so a detached or collected array is harmless.
struct RingMemory {
  int32_t* data = nullptr;
  size_t records = 0;  // capacity
  int owners = 2;
};

constexpr size_t kRingHeader = 4;

struct Batch {
  struct event* flush = nullptr;
  std::vector<BatchRecord> records;
  size_t limit = 0;          // records [cursor, limit) still to run
  bool flushing = false;     // JS is running the records
  bool breakAfter = false;   // the run mode's wake-up arrived while records waited
  RingMemory* ring = nullptr;
  napi_ref ringRef = nullptr;
  napi_env env = nullptr;
};

static void DropRing(RingMemory* m) {
  if (--m->owners > 0) return;
  free(m->data);
  delete m;
}

static void FinalizeRing(napi_env, void*, void* hint) { DropRing(static_cast<RingMemory*>(hint)); }

// A new ring of `records` capacity (its first `keep` records copied from the old one).
static bool NewRing(Batch* bt, size_t records, size_t keep) {
  RingMemory* m = new RingMemory();
  m->records = records;
  m->data = static_cast<int32_t*>(calloc(kRingHeader + 4 * records, sizeof(int32_t)));
  if (!m->data) {
    delete m;
    return false;
  }
  napi_env env = bt->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value ab, arr;
  bool ok = napi_create_external_arraybuffer(env, m->data, (kRingHeader + 4 * records) * sizeof(int32_t), FinalizeRing, m, &ab) == napi_ok &&
            napi_create_typedarray(env, napi_int32_array, kRingHeader + 4 * records, ab, 0, &arr) == napi_ok;
  if (!ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
    }
    free(m->data);
    delete m;
    napi_close_handle_scope(env, scope);
    return false;
  }
  if (bt->ring) {
    std::copy(bt->ring->data, bt->ring->data + kRingHeader + 4 * keep, m->data);
    napi_delete_reference(env, bt->ringRef);
    DropRing(bt->ring);
  }
  napi_create_reference(env, arr, 1, &bt->ringRef);
  bt->ring = m;
  napi_close_handle_scope(env, scope);
  return true;
}

static void FlushCallback(evutil_socket_t, short, void* arg);

static Batch* EnsureBatch(BaseRec* b, napi_env env) {
  if (b->batch) return b->batch;
  Batch* bt = new Batch();
  bt->env = env;
  bt->flush = event_new(b->eb, -1, 0, FlushCallback, b);
  if (!bt->flush || !NewRing(bt, 64, 0)) {
    if (bt->flush) event_free(bt->flush);
    delete bt;
    return nullptr;
  }
  bt->flush->ev_evcallback.evcb_flags |= EVLIST_INTERNAL;  // before any activation, as libevent marks its own
  b->batch = bt;
  return bt;
}

bool BatchRecordEvent(BaseRec* b, EventRec* r, uint32_t slot, int fd, int what) {
  if (!b->inst->batchDispatcher || b->data->tearingDown) return false;
  Batch* bt = EnsureBatch(b, b->inst->env);
  if (!bt || bt->flushing) return false;  // never while its own records run (the loop is not re-entrant)
  size_t n = bt->records.size();
  if (n == bt->ring->records && !NewRing(bt, n * 2, n)) return false;  // out of memory
  if (n == 0) {
    event_priority_set(bt->flush, r->ev->ev_evcallback.evcb_pri);
    event_active(bt->flush, EV_TIMEOUT, 1);
  }
  BatchRecord rec{r->index, r->generation, what, false, false, 0};
  bool byTimeout = (what & EV_TIMEOUT) && r->timed;  // timeout_process deleted it before activating
  rec.wasInserted = r->inserted && !byTimeout;
  if (!(r->events & EV_PERSIST)) {
    rec.wasTimed = r->timed && !byTimeout;
    rec.deadlineNs = r->deadlineNs;
  }
  bt->records.push_back(rec);
  int32_t* out = bt->ring->data + kRingHeader + 4 * n;
  out[0] = static_cast<int32_t>(slot);
  out[1] = static_cast<int32_t>(r->index);
  out[2] = fd;
  out[3] = what;
  bt->limit = n + 1;
  r->batchPos = static_cast<int32_t>(n);
  return true;
}

static size_t Cursor(const Batch* bt) {
  int32_t c = bt->ring->data[1];
  return c < 0 ? 0 : std::min(static_cast<size_t>(c), bt->limit);
}

static EventRec* LiveRecord(AddonData* d, const BatchRecord& rec) {
  EventRec* r = rec.index < d->events.size() ? d->events[rec.index] : nullptr;
  return r && r->generation == rec.generation && r->ev ? r : nullptr;
}

void BatchSpill(BaseRec* b) {
  Batch* bt = b->batch;
  if (!bt || !bt->flushing) return;
  size_t cursor = Cursor(bt);
  AddonData* d = b->data;
  for (size_t k = cursor; k < bt->limit; k++) {
    EventRec* r = LiveRecord(d, bt->records[k]);
    if (!r) continue;
    r->batchPos = -1;
    struct event* ev = r->ev;
    int what = bt->records[k].what & 0xff;
    if (r->events & EV_SIGNAL) {
      // One record per delivery of the signal closure, all in a row: one activation for all.
      short calls = 1;
      while (k + 1 < bt->limit && bt->records[k + 1].index == r->index && bt->records[k + 1].generation == r->generation) {
        k++;
        calls = static_cast<short>(std::min(SHRT_MAX, calls + 1));
      }
      if (ev->ev_evcallback.evcb_flags & EVLIST_ACTIVE) {
        short& queued = ev->ev_.ev_signal.ev_ncalls;
        queued = static_cast<short>(std::min(SHRT_MAX, queued + calls));
      } else {
        event_active(ev, EV_SIGNAL, calls);
      }
      r->spilled = true;
    } else if (r->events & EV_PERSIST) {
      // A persistent event with a period was added again (I/O interest and timeout) before
      // the record was made. Left added for I/O when it was not before (activated after a
      // del, or added while active), the next poll would merge I/O results it never asked
      // for into the waiting activation: it comes off the fd until its call adds it again.
      const BatchRecord& rec = bt->records[k];
      struct timeval expiry, period = ev->ev_.ev_io.ev_timeout;
      bool armed = event_pending(ev, EV_TIMEOUT, &expiry);
      bool offFd = !rec.wasInserted && (ev->ev_evcallback.evcb_flags & EVLIST_INSERTED);
      if (what & EV_TIMEOUT) {
        // libevent re-armed its period before the record was made, and will re-arm it again
        // when it runs the re-queued activation (from the wrong base time). The trampoline
        // puts back the deadline armed the first time, and the period (EventTrampoline); the
        // callback still sees TIMEOUT. Until then the timeout is off the heap, where libevent
        // keeps no timed-out persistent event waiting to run: left there, a pass longer than
        // the period let it expire again, re-queued at the tail behind a callback that
        // spilled it again, pass after pass (two events activating each other starved it).
        if (armed) {
          r->fixDeadline = true;
          r->fixExpiry = expiry;
          r->fixPeriod = period;
        }
        if (offFd) event_del(ev);
        else if (armed) event_remove_timer(ev);
        ev->ev_.ev_io.ev_timeout = period;  // remove_timer clears the period: the re-run re-arms from it
        r->spillWhat |= EV_TIMEOUT;
        event_active(ev, what & ~EV_TIMEOUT, 1);
      } else if (offFd) {
        // Deleted and activated first, then timed again: libevent adds no I/O interest to
        // an active event. The activation has no TIMEOUT bit, so the add keeps it.
        event_del(ev);
        event_active(ev, what, 1);
        struct timeval now, left = {0, 0};
        if (armed && event_base_gettimeofday_cached(b->eb, &now) == 0) {
          if (evutil_timercmp(&expiry, &now, >)) evutil_timersub(&expiry, &now, &left);
          event_add(ev, &left);
        }
        ev->ev_.ev_io.ev_timeout = period;  // event_add made `left` the period
      } else {
        event_active(ev, what, 1);
      }
      if (offFd) r->inserted = false;
      r->spilled = true;
    } else {
      const BatchRecord& rec = bt->records[k];
      // Non-persistent: libevent deleted it for its call; it was still added until then.
      struct timeval left = {0, 0};
      if (rec.wasTimed) {
        int64_t ns = std::max<int64_t>(0, rec.deadlineNs - MonotonicNs());
        left.tv_sec = static_cast<time_t>(ns / 1000000000);
        left.tv_usec = static_cast<suseconds_t>((ns % 1000000000) / 1000);
      }
      if (rec.wasInserted) {
        event_add(ev, rec.wasTimed ? &left : nullptr);
        event_active(ev, what, 1);
      } else {
        // Timed but not added for I/O (it was added while active): activated first, so the
        // add arms the timeout alone. wasTimed means the result has no TIMEOUT bit, which
        // would make the add drop the activation.
        event_active(ev, what, 1);
        if (rec.wasTimed) event_add(ev, &left);
      }
      if (rec.wasInserted || rec.wasTimed) {
        r->inserted = rec.wasInserted;
        r->timed = rec.wasTimed;
        r->deadlineNs = rec.deadlineNs;
      }
      r->spilled = true;
    }
  }
  bt->limit = cursor;
  bt->ring->data[0] = static_cast<int32_t>(cursor);
}

void BatchTouch(EventRec* r) {
  BaseRec* b = r->base;
  if (r->batchPos >= 0 && b->batch && b->batch->flushing && static_cast<size_t>(r->batchPos) >= Cursor(b->batch)) BatchSpill(b);
}

bool BatchWaiting(BaseRec* b) { return b->batch && !b->batch->flushing && !b->batch->records.empty(); }

void BatchBreakAfterFlush(BaseRec* b) { b->batch->breakAfter = true; }

static void ClearRecords(BaseRec* b) {
  Batch* bt = b->batch;
  AddonData* d = b->data;
  for (const BatchRecord& rec : bt->records)
    if (EventRec* r = LiveRecord(d, rec)) r->batchPos = -1;
  bt->records.clear();
  bt->limit = 0;
}

// Runs the waiting records in JS (one call; one per record, each followed by a drain of
// nextTicks and promise jobs, under run({ microtasks: 'callback' })), settles an exception,
// and resets the batch.
static void RunRecords(BaseRec* b) {
  Batch* bt = b->batch;
  napi_env env = bt->env;
  bt->ring->data[0] = static_cast<int32_t>(bt->limit);
  bt->ring->data[1] = 0;
  bt->flushing = true;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value fn, recv, ring, result;
  bool called = b->inst->batchDispatcher && napi_get_reference_value(env, b->inst->batchDispatcher, &fn) == napi_ok &&
                napi_get_reference_value(env, bt->ringRef, &ring) == napi_ok;
  napi_get_undefined(env, &recv);
  // run({ microtasks: 'callback' }): JS runs one record per call, and nextTicks and promise
  // jobs are drained after each, as Node does between its own callbacks. They may touch the
  // waiting records like a callback can (a spill lowers bt->limit).
  bool each = called && DrainsEachCallback(b);
  for (bool more = true; more;) {
    if (each) bt->ring->data[0] = static_cast<int32_t>(Cursor(bt) + 1);
    if (!called || napi_call_function(env, recv, fn, 1, &ring, &result) != napi_ok) {
      StoreThrownError(b);
      // The throwing callback counts as run; the rest of the pass is delivered next time.
      BatchSpill(b);
      if (b->eb) event_base_loopbreak(b->eb);
      break;
    }
    if (!each) break;
    DrainAfterCallback(b);
    more = Cursor(bt) < bt->limit;
  }
  napi_close_handle_scope(env, scope);
  bt->flushing = false;
  ClearRecords(b);
  NoteNodeWork(b);
  if (bt->breakAfter) {
    bt->breakAfter = false;
    if (b->eb) event_base_loopbreak(b->eb);
  }
}

static void FlushCallback(evutil_socket_t, short, void* arg) {
  BaseRec* b = static_cast<BaseRec*>(arg);
  if (b->batch && !b->batch->records.empty()) RunRecords(b);
}

void BatchRunWaiting(BaseRec* b) {
  // Runs the records now, ahead of their flush event, which is taken back: before another
  // callback of the pass calls into JS (bufferevents: their callbacks must see the earlier
  // events' effects), and when a loop returns with records waiting (a pass broken early, as
  // by a closed-fd check), so none is lost.
  if (!BatchWaiting(b)) return;
  event_del(b->batch->flush);
  RunRecords(b);
}

void CloseBatch(BaseRec* b) {
  Batch* bt = b->batch;
  if (!bt) return;
  ClearRecords(b);
  event_free(bt->flush);
  if (bt->ringRef && !b->data->tearingDown) napi_delete_reference(bt->env, bt->ringRef);
  DropRing(bt->ring);
  delete bt;
  b->batch = nullptr;
}

// setBatchDispatcher(fn | null): the JS function that runs a batch of records for the bases
// of this copy of the addon; null turns batching off (every event then calls the per-event
// dispatcher, as before).
static Napi::Value SetBatchDispatcher(const Napi::CallbackInfo& info) {
  AddonData* d = CurrentData();
  Instance* inst = InstanceOf(info.Env());
  if (!info[0].IsFunction() && !info[0].IsNull()) {
    ThrowType(info.Env(), "ERR_INVALID_ARG_TYPE", "batch dispatcher must be a function or null");
    return Napi::Value();
  }
  for (BaseRec* b : d->bases) {
    if (b && b->inst == inst && b->batch && (b->batch->flushing || !b->batch->records.empty())) {
      ThrowError(info.Env(), "ERR_LOOP_RUNNING", "cannot change the batch dispatcher while a batch is waiting or running");
      return Napi::Value();
    }
  }
  if (inst->batchDispatcher) napi_delete_reference(inst->env, inst->batchDispatcher);
  inst->batchDispatcher = nullptr;
  if (info[0].IsFunction()) napi_create_reference(inst->env, info[0], 1, &inst->batchDispatcher);
  return info.Env().Undefined();
}

void InitBatch(Napi::Env env, Napi::Object exports) {
  exports.Set("setBatchDispatcher", Napi::Function::New(env, SetBatchDispatcher));
}

}  // namespace nle
