// In-place callback rewrite (Kitsune's fourth strategy for Tor).
//
// libevent 2.1 keeps an event's callback in exactly one place: the callback pointer and
// argument words of its heap struct event (ev_evcallback.evcb_cb_union / evcb_arg). No
// backend, evmap, timer heap or active queue copies them, and the dispatch paths read them
// just before each call. Writing both words therefore changes what the event runs next while
// it stays pending: no event_del/event_add, so its timeout, persistent period, queue
// position and any activation already queued are untouched.
//
// Never touched: events that are not ours (their callback word is not our trampoline),
// libevent's internal events, and finalizing events (their union holds a finalizer).
// Rewrites run on the loop's own thread (all JS runs there), so no lock is needed.
#include <algorithm>

#include "common.h"

namespace nle {

static bool Rewritable(const EventRec* r) {
  const struct event* ev = r->ev;
  if (!ev || r->freeDeferred) return false;
  short fl = ev->ev_evcallback.evcb_flags;
  if (fl & (EVLIST_INTERNAL | EVLIST_FINALIZING)) return false;
  return ev->ev_evcallback.evcb_cb_union.evcb_callback == EventTrampoline;
}

// A live record a slot operation counts or moves: not freed, not about to be freed or released.
static inline bool Movable(const EventRec* r) { return r->ev && !r->freeDeferred && !r->releaseDeferred; }

// How many records ahead the slot rewrite fetches (see BaseRewireSlots).
constexpr size_t kFetchAhead = 16;

static inline void WriteCallback(EventRec* r, uint32_t fnIndex) {
  struct event_callback* cb = &r->ev->ev_evcallback;
  cb->evcb_cb_union.evcb_callback = EventTrampoline;
  cb->evcb_arg = PackArg(r->index, fnIndex);
  r->fnIndex = fnIndex;
}

// eventRewrite(handle, fnIndex) -> previous fnIndex
static Napi::Value EventRewrite(const Napi::CallbackInfo& info) {
  EventRec* r = ArgEvent(info, 0);
  int64_t fn;
  if (!r || !ArgInt(info, 1, "callback slot", 0, UINT32_MAX, &fn)) return Napi::Value();
  if (!Rewritable(r)) {
    ThrowError(info.Env(), "ERR_NOT_REWRITABLE", "this event's callback cannot be rewritten in place");
    return Napi::Value();
  }
  uint32_t old = r->fnIndex;
  WriteCallback(r, static_cast<uint32_t>(fn));
  return Napi::Number::New(info.Env(), old);
}

// baseRewire(base, handles: Float64Array, fnIndexes: Uint32Array) -> count.
// Every entry is checked before the first write, so a bad entry changes nothing.
static Napi::Value BaseRewire(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  BaseRec* b = ArgBase(info, 0);
  if (!b) return Napi::Value();
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      !info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
    ThrowType(env, "ERR_INVALID_ARG_TYPE", "rewire takes a Float64Array of handles and a Uint32Array of slots");
    return Napi::Value();
  }
  Napi::Float64Array handles = info[1].As<Napi::Float64Array>();
  Napi::Uint32Array fns = info[2].As<Napi::Uint32Array>();
  size_t n = handles.ElementLength();
  if (fns.ElementLength() != n) {
    ThrowRange(env, "ERR_OUT_OF_RANGE", "handles and slots differ in length");
    return Napi::Value();
  }
  AddonData* d = b->data;
  BatchSpill(b);  // waiting events must run the callbacks written here
  std::vector<EventRec*> recs(n);
  for (size_t i = 0; i < n; i++) {
    double h = handles[i];
    uint64_t u = static_cast<uint64_t>(h);
    EventRec* r = nullptr;
    if (h >= 0 && static_cast<double>(u) == h) {
      uint32_t idx = static_cast<uint32_t>(u & kIndexMask);
      uint32_t gen = static_cast<uint32_t>(u >> kIndexBits);
      if (idx < d->events.size() && d->events[idx] && d->events[idx]->generation == gen) r = d->events[idx];
    }
    if (!r || r->base != b) {
      ThrowError(env, "ERR_INVALID_HANDLE", "entry " + std::to_string(i) + " is not a live event of this base");
      return Napi::Value();
    }
    if (!Rewritable(r)) {
      ThrowError(env, "ERR_NOT_REWRITABLE", "entry " + std::to_string(i) + " cannot be rewritten in place");
      return Napi::Value();
    }
    recs[i] = r;
  }
  for (size_t i = 0; i < n; i++) WriteCallback(recs[i], fns[i]);
  return Napi::Number::New(env, static_cast<double>(n));
}

// Copies the two Uint32Array arguments (old slots, new slots) of equal length.
static bool SlotArrays(const Napi::CallbackInfo& info, std::vector<uint32_t>* from, std::vector<uint32_t>* to) {
  std::vector<uint32_t>* out[2] = {from, to};
  for (size_t i = 0; i < 2; i++) {
    napi_typedarray_type type;
    size_t len = 0;
    void* data = nullptr;
    if (napi_get_typedarray_info(info.Env(), info[i + 1], &type, &len, &data, nullptr, nullptr) != napi_ok ||
        type != napi_uint32_array) {
      bool pending = false;
      napi_is_exception_pending(info.Env(), &pending);
      if (!pending) ThrowType(info.Env(), "ERR_INVALID_ARG_TYPE", "rewire by slot takes two Uint32Arrays (old slots, new slots)");
      return false;
    }
    const uint32_t* p = static_cast<const uint32_t*>(data);
    if (p) out[i]->assign(p, p + len);
  }
  if (from->size() != to->size()) {
    ThrowRange(info.Env(), "ERR_OUT_OF_RANGE", "old and new slots differ in length");
    return false;
  }
  return true;
}

// baseRewireSlots(base, from: Uint32Array, to: Uint32Array) -> Uint32Array of counts.
// Every live event of the base whose struct names slot from[k] gets slot to[k]: one pass over
// the base's events, no JS per event. The old slots must be distinct and none may also be a
// new one. All or nothing: every event to move is checked before the first write.
static Napi::Value BaseRewireSlots(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  BaseRec* b = ArgBase(info, 0);
  std::vector<uint32_t> from, to;
  if (!b || !SlotArrays(info, &from, &to)) return Napi::Value();
  size_t n = from.size();
  // A dense map slot -> pair index (slots are small integers handed out by the JS side).
  uint32_t maxSlot = 0;
  for (size_t k = 0; k < n; k++) maxSlot = std::max({maxSlot, from[k], to[k]});
  if (n > 0 && maxSlot >= (1u << 26)) {
    ThrowRange(env, "ERR_OUT_OF_RANGE", "callback slots must be below 2^26");
    return Napi::Value();
  }
  std::vector<int32_t> pairOf(n > 0 ? maxSlot + 1 : 0, -1);
  for (size_t k = 0; k < n; k++) {
    if (pairOf[from[k]] != -1) {
      ThrowRange(env, "ERR_OUT_OF_RANGE", "old slot " + std::to_string(from[k]) + " is given twice");
      return Napi::Value();
    }
    pairOf[from[k]] = static_cast<int32_t>(k);
  }
  for (size_t k = 0; k < n; k++) {
    if (pairOf[to[k]] != -1) {
      ThrowRange(env, "ERR_OUT_OF_RANGE", "new slot " + std::to_string(to[k]) + " is also an old slot");
      return Napi::Value();
    }
  }
  BatchSpill(b);  // waiting events must run the callbacks written here
  auto match = [&](const EventRec* r) -> int32_t {
    if (!Movable(r) || r->fnIndex >= pairOf.size()) return -1;
    return pairOf[r->fnIndex];
  };
  // One pass over the base's records in order, fetching records and struct events a few
  // ahead (with 100k events these are tens of MB that are not in cache: waiting for each in
  // turn would dominate). Each event is checked just before it is written; if one cannot be
  // rewritten, the ones already written are put back, so the call is still all or nothing.
  const std::vector<EventRec*>& evs = b->events;
  const size_t count = evs.size();
  // (position << 32 | pair) of each event written so far, to put back on a refusal; kept
  // between calls so that a large base does not page in fresh memory at every rewire.
  static thread_local std::vector<uint64_t> written;
  written.clear();
  std::vector<uint32_t> moved(n, 0);
  for (size_t i = 0; i < count; i++) {
    if (i + kFetchAhead < count) __builtin_prefetch(evs[i + kFetchAhead]);
    if (i + kFetchAhead / 2 < count) {
      const EventRec* a = evs[i + kFetchAhead / 2];
      if (match(a) >= 0) __builtin_prefetch(a->ev, 1);
    }
    EventRec* r = evs[i];
    int32_t k = match(r);
    if (k < 0) continue;
    if (!Rewritable(r)) {
      for (uint64_t w : written) WriteCallback(evs[w >> 32], from[w & 0xffffffffu]);
      written.clear();
      ThrowError(env, "ERR_NOT_REWRITABLE", "an event on slot " + std::to_string(r->fnIndex) + " cannot be rewritten in place");
      return Napi::Value();
    }
    WriteCallback(r, to[static_cast<size_t>(k)]);
    written.push_back(static_cast<uint64_t>(i) << 32 | static_cast<uint32_t>(k));
    moved[static_cast<size_t>(k)]++;
  }
  written.clear();
  Napi::Uint32Array counts = Napi::Uint32Array::New(env, n);
  if (n > 0) std::copy(moved.begin(), moved.end(), counts.Data());
  return counts;
}

// baseSlotCensus(base) -> Int32Array, five words per distinct callback slot that a live event
// of the base names: [slot, events, ofWhichHostOwned, fd, events mask], the last two of one of
// its events (for error messages). The update host plans a rewire from this, per slot and not
// per event. Reads only the records, never libevent's structs.
static Napi::Value BaseSlotCensus(const Napi::CallbackInfo& info) {
  BaseRec* b = ArgBase(info, 0);
  if (!b) return Napi::Value();
  constexpr size_t kWords = 5;
  std::vector<int32_t> rowOf;  // slot -> row in `rows`, or -1
  std::vector<int32_t> rows;
  const std::vector<EventRec*>& evs = b->events;
  for (size_t i = 0; i < evs.size(); i++) {
    if (i + kFetchAhead < evs.size()) __builtin_prefetch(evs[i + kFetchAhead]);
    const EventRec* r = evs[i];
    if (!Movable(r)) continue;
    if (r->fnIndex >= rowOf.size()) rowOf.resize(static_cast<size_t>(r->fnIndex) + 1, -1);
    int32_t& row = rowOf[r->fnIndex];
    if (row < 0) {
      row = static_cast<int32_t>(rows.size() / kWords);
      rows.insert(rows.end(), {static_cast<int32_t>(r->fnIndex), 0, 0, r->fd, r->events});
    }
    int32_t* w = &rows[static_cast<size_t>(row) * kWords];
    if (w[1] == w[2] && !r->hostOwned) {  // the sample so far is a host-owned event: prefer this one
      w[3] = r->fd;
      w[4] = r->events;
    }
    w[1]++;
    if (r->hostOwned) w[2]++;
  }
  Napi::Int32Array out = Napi::Int32Array::New(info.Env(), rows.size());
  if (!rows.empty() && out.Data()) std::copy(rows.begin(), rows.end(), out.Data());
  return out;
}

// eventSetHostOwned(handle, owned: boolean): the update host marks its own events, so that a
// slot census tells them apart from the running version's.
static Napi::Value EventSetHostOwned(const Napi::CallbackInfo& info) {
  EventRec* r = ArgEvent(info, 0);
  if (!r) return Napi::Value();
  if (!info[1].IsBoolean()) {
    ThrowType(info.Env(), "ERR_INVALID_ARG_TYPE", "owned must be a boolean");
    return Napi::Value();
  }
  r->hostOwned = info[1].As<Napi::Boolean>().Value();
  return Napi::Value();
}

// eventMark() -> number: the creation serial of the newest event so far (of any base).
static Napi::Value EventMark(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(CurrentData()->eventSerial));
}

// baseEventsSince(base, mark) -> Uint32Array: indexes of the base's live events made after
// eventMark() returned `mark` (what a rolled-back update must free).
static Napi::Value BaseEventsSince(const Napi::CallbackInfo& info) {
  BaseRec* b = ArgBase(info, 0);
  int64_t mark;
  if (!b || !ArgInt(info, 1, "mark", 0, (int64_t{1} << 53) - 1, &mark)) return Napi::Value();
  std::vector<uint32_t> found;
  for (const EventRec* r : b->events)
    if (r->ev && !r->freeDeferred && r->serial > static_cast<uint64_t>(mark)) found.push_back(r->index);
  Napi::Uint32Array out = Napi::Uint32Array::New(info.Env(), found.size());
  if (!found.empty() && out.Data()) std::copy(found.begin(), found.end(), out.Data());
  return out;
}

// baseSlots(base) -> Uint32Array: the distinct callback slots its live events name, ascending.
static Napi::Value BaseSlots(const Napi::CallbackInfo& info) {
  BaseRec* b = ArgBase(info, 0);
  if (!b) return Napi::Value();
  std::vector<bool> seen;  // by slot: one pass, no sort of one entry per event
  for (const EventRec* r : b->events) {
    if (!Movable(r)) continue;
    if (r->fnIndex >= seen.size()) seen.resize(static_cast<size_t>(r->fnIndex) + 1, false);
    seen[r->fnIndex] = true;
  }
  std::vector<uint32_t> slots;
  for (size_t i = 0; i < seen.size(); i++)
    if (seen[i]) slots.push_back(static_cast<uint32_t>(i));
  Napi::Uint32Array out = Napi::Uint32Array::New(info.Env(), slots.size());
  std::copy(slots.begin(), slots.end(), out.Data());
  return out;
}

// The words actually stored in the struct, for tests and diagnostics: [isTrampoline, fnIndex].
static Napi::Value EventStoredCallback(const Napi::CallbackInfo& info) {
  EventRec* r = ArgEvent(info, 0);
  if (!r) return Napi::Value();
  const struct event_callback* cb = &r->ev->ev_evcallback;
  Napi::Array a = Napi::Array::New(info.Env(), 2);
  a.Set(0u, Napi::Boolean::New(info.Env(), cb->evcb_cb_union.evcb_callback == EventTrampoline));
  a.Set(1u, Napi::Number::New(info.Env(), static_cast<double>(reinterpret_cast<uintptr_t>(cb->evcb_arg) & 0xffffffffu)));
  return a;
}

void InitRewrite(Napi::Env env, Napi::Object exports) {
  exports.Set("eventRewrite", Napi::Function::New(env, EventRewrite));
  exports.Set("baseRewire", Napi::Function::New(env, BaseRewire));
  exports.Set("baseRewireSlots", Napi::Function::New(env, BaseRewireSlots));
  exports.Set("baseSlots", Napi::Function::New(env, BaseSlots));
  exports.Set("baseSlotCensus", Napi::Function::New(env, BaseSlotCensus));
  exports.Set("eventSetHostOwned", Napi::Function::New(env, EventSetHostOwned));
  exports.Set("eventMark", Napi::Function::New(env, EventMark));
  exports.Set("baseEventsSince", Napi::Function::New(env, BaseEventsSince));
  exports.Set("eventStoredCallback", Napi::Function::New(env, EventStoredCallback));
}

}  // namespace nle
