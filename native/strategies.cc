// The three update strategies the Tor/Kitsune team tried before rewriting callbacks in place,
// kept so that their costs and defects can be measured next to it. They use libevent's public
// API the way an application would, flaws included:
//   1 rebase: move every event to a new event_base (event_del, event_assign on the new base);
//   2 reinit: event_reinit on the base, then re-add every event as in 3;
//   3 readd:  event_del, event_assign with the new callback, event_add with the remaining time.
#include <sys/time.h>

#include "common.h"

namespace nle {

// Remaining timeout in ms as an application sees it: event_pending gives an absolute
// wall-clock expiry, minus gettimeofday(). -1 when no timeout is pending.
static Napi::Value EventRemainingMs(const Napi::CallbackInfo& info) {
  EventRec* r = ArgEvent(info, 0);
  if (!r) return Napi::Value();
  struct timeval expiry, now;
  if (!event_pending(r->ev, EV_TIMEOUT, &expiry)) return Napi::Number::New(info.Env(), -1);
  gettimeofday(&now, nullptr);
  double ms = (expiry.tv_sec - now.tv_sec) * 1000.0 + (expiry.tv_usec - now.tv_usec) / 1000.0;
  return Napi::Number::New(info.Env(), ms < 0 ? 0 : ms);
}

// eventReassign(handle, slot, baseHandle?) -> void
// event_del, then event_assign with the new callback slot, on the same base or on another
// one. Loses queued activations, the priority and the persistent period, as assign does.
static Napi::Value EventReassign(const Napi::CallbackInfo& info) {
  EventRec* r = ArgEvent(info, 0);
  int64_t slot;
  if (!r || !ArgInt(info, 1, "callback slot", 0, UINT32_MAX, &slot)) return Napi::Value();
  BaseRec* target = r->base;
  if (info.Length() > 2 && !info[2].IsUndefined()) {
    target = ArgBase(info, 2);
    if (!target) return Napi::Value();
  }
  if (r->running > 0) {
    ThrowError(info.Env(), "ERR_EVENT_RUNNING", "cannot reassign an event from inside its own callback");
    return Napi::Value();
  }
  event_del(r->ev);
  NoteDeleted(r);
  if (r->events & EV_SIGNAL) UpdateSignalOwner(r->base);
  if (event_assign(r->ev, target->eb, r->fd, r->events, EventTrampoline, PackArg(r->index, static_cast<uint32_t>(slot))) != 0) {
    ThrowError(info.Env(), "ERR_LIBEVENT", "event_assign failed: " + LastLibeventMessage());
    return Napi::Value();
  }
  r->fnIndex = static_cast<uint32_t>(slot);
  if (target != r->base) {
    BaseRec* old = r->base;
    EventRec* last = old->events.back();
    old->events[r->posInBase] = last;
    last->posInBase = r->posInBase;
    old->events.pop_back();
    r->base = target;
    r->posInBase = static_cast<uint32_t>(target->events.size());
    target->events.push_back(r);
    ReleaseBaseIfUnused(old);
  }
  return info.Env().Undefined();
}

static Napi::Value BaseReinit(const Napi::CallbackInfo& info) {
  BaseRec* b = ArgBase(info, 0);
  if (!b) return Napi::Value();
  if (b->loopDepth > 0) {
    ThrowError(info.Env(), "ERR_LOOP_REENTRANT", "event_reinit is not safe while the loop runs");
    return Napi::Value();
  }
  // event_reinit closes the base's signal pipe twice (once itself, once in the backend's
  // dealloc), so another thread that opens a file in between loses it. That cannot be guarded
  // from outside libevent: refuse while another event loop (a worker thread) exists or this
  // thread's libuv has thread-pool requests in flight.
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(info.Env(), &loop);
  int foreign = ForeignEpollFds();
  if (foreignEpollBaseline < 0 || foreign < 0 || foreign > foreignEpollBaseline || !loop || loop != uv_default_loop()) {
    ThrowError(info.Env(), "ERR_REINIT_UNSAFE",
               "event_reinit closes fds twice and could close another thread's: refused while worker threads (or other "
               "event loops) exist, and outside the main thread");
    return Napi::Value();
  }
  if (loop->active_reqs.count > 0) {
    ThrowError(info.Env(), "ERR_REINIT_UNSAFE",
               "event_reinit closes fds twice and could close one the thread pool opens: refused while " +
                   std::to_string(loop->active_reqs.count) + " libuv requests are in flight; retry when idle");
    return Napi::Value();
  }
  int probe[4];
  int probed = ProbeLowestFree(probe, 4);
  std::vector<int> candidates = OwnedFdsOf(b);
  candidates.insert(candidates.end(), probe, probe + probed);
  if (event_reinit(b->eb) != 0) {
    RecordOwnedFds(b, candidates.data(), static_cast<int>(candidates.size()));
    ThrowError(info.Env(), "ERR_LIBEVENT", "event_reinit failed: " + LastLibeventMessage());
    return Napi::Value();
  }
  RecordOwnedFds(b, candidates.data(), static_cast<int>(candidates.size()));  // new epoll fd and pipe
  return info.Env().Undefined();
}

// The EVLIST_* bits of the struct (INSERTED 0x02, TIMEOUT 0x01, ACTIVE 0x08, ...).
static Napi::Value EventListFlags(const Napi::CallbackInfo& info) {
  EventRec* r = ArgEvent(info, 0);
  if (!r) return Napi::Value();
  return Napi::Number::New(info.Env(), r->ev->ev_evcallback.evcb_flags);
}

void InitStrategies(Napi::Env env, Napi::Object exports) {
  exports.Set("eventListFlags", Napi::Function::New(env, EventListFlags));
  exports.Set("eventRemainingMs", Napi::Function::New(env, EventRemainingMs));
  exports.Set("eventReassign", Napi::Function::New(env, EventReassign));
  exports.Set("baseReinit", Napi::Function::New(env, BaseReinit));
}

}  // namespace nle
