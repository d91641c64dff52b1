// Events: creation, add/del/active/pending, priorities, freeing, and the trampoline that
// libevent calls. Every API event's struct event holds EventTrampoline as its callback and
// PackArg(eventIndex, fnIndex) as its argument: the argument names the JS callback slot,
// so the callback really lives in the heap struct (see rewrite.cc).
#include <algorithm>
#include <atomic>
#include <climits>
#include <csignal>
#include <mutex>

#include <sys/stat.h>

#include "common.h"

namespace nle {

static constexpr short kIoBits = EV_READ | EV_WRITE | EV_CLOSED;

void* PackArg(uint32_t index, uint32_t fnIndex) {
  return reinterpret_cast<void*>((static_cast<uintptr_t>(index) << 32) | fnIndex);
}
static inline uint32_t ArgIndex(void* arg) { return static_cast<uint32_t>(reinterpret_cast<uintptr_t>(arg) >> 32); }
static inline uint32_t ArgFn(void* arg) { return static_cast<uint32_t>(reinterpret_cast<uintptr_t>(arg) & 0xffffffffu); }

// Calls the JS dispatcher(fnIndex, eventIndex, fd, what). An exception is kept on the base
// and the loop is broken after this callback, so that loop()/run() can rethrow it.
static void CallDispatcher(BaseRec* b, uint32_t fnIndex, uint32_t index, int fd, int what) {
  napi_env env = b->inst->env;
  if (!b->inst->dispatcher) {
    // Only reachable through the raw binding (the TS layer sets it at load): refuse to run
    // the callback rather than call through a null reference.
    napi_value code, msg, err;
    napi_create_string_utf8(env, "ERR_NO_DISPATCHER", NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, "an event fired before setDispatcher() was called", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, code, msg, &err);
    StorePendingError(b, err);
    if (b->eb) event_base_loopbreak(b->eb);
    return;
  }
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value fn, recv, argv[4], result;
  napi_get_reference_value(env, b->inst->dispatcher, &fn);
  napi_get_undefined(env, &recv);
  napi_create_uint32(env, fnIndex, &argv[0]);
  napi_create_uint32(env, index, &argv[1]);
  napi_create_int32(env, fd, &argv[2]);
  napi_create_int32(env, what, &argv[3]);
  if (napi_call_function(env, recv, fn, 4, argv, &result) != napi_ok) {
    StoreThrownError(b);
    if (b->eb) event_base_loopbreak(b->eb);
  }
  napi_close_handle_scope(env, scope);
}

// libevent's signal closure calls the callback once per caught signal from a loop over a
// local counter (ev_pncalls points at it, but event_active() clears that pointer). After each
// call it decides, from that counter and the break flag alone, whether to call again. So the
// remaining deliveries are settled here, after the JS callback returned:
//  - the event was deleted or freed in the callback: zero the counter (no call on a freed or
//    deleted event);
//  - the callback queued a new activation of the event (ev.active): fold the remaining
//    deliveries into it, so the closure's next rounds cannot overwrite its count;
//  - the loop is breaking (a throw, loopbreak, base.free): queue the remaining deliveries as
//    an activation, so the next loop call makes them (nothing is lost);
//  - otherwise the closure goes on with its counter.
// `left` is the closure's ev_pncalls as read before the call: it points into libevent's
// stack frame, so it is used only here, never kept (libevent clears ev_pncalls before the
// last call, when nothing is left to settle).
static void SettleSignalDeliveries(EventRec* r, short* left) {
  struct event* ev = r->ev;
  BaseRec* b = r->base;
  if (!left || *left <= 0) return;
  if (r->stopDeliveries || r->freeDeferred || r->releaseDeferred || !b->eb || b->freeDeferred) {
    *left = 0;
    return;
  }
  short& queued = ev->ev_.ev_signal.ev_ncalls;
  if (ev->ev_evcallback.evcb_flags & EVLIST_ACTIVE) {
    queued = static_cast<short>(std::min<int>(SHRT_MAX, queued + *left));
    *left = 0;
  } else if (event_base_got_break(b->eb)) {
    event_active(ev, EV_SIGNAL, *left);
    *left = 0;
  }
}

// When the closure's counter is 0 after a call, the closure returns without clearing
// ev_pncalls if a delete zeroed the counter (libevent's event_del writes 0 through it) or we
// did: the pointer is left aimed at a dead stack slot, and the next event_del of this event
// (while ev_ncalls is still non-zero) writes 0 there, into whatever frame lives there by then:
// another signal closure's counter (its deliveries are lost), a saved sigaction, a return
// address. Clear it, and the stale count, while the closure's frame still exists.
static void ForgetEndedClosure(struct event* ev, short* left) {
  if (!left || *left != 0 || ev->ev_.ev_signal.ev_pncalls != left) return;
  ev->ev_.ev_signal.ev_pncalls = nullptr;
  ev->ev_.ev_signal.ev_ncalls = 0;
}

static bool SameFile(const EventRec* r) {
  struct stat st;
  return fstat(r->fd, &st) == 0 && static_cast<uint64_t>(st.st_dev) == r->fdDev && static_cast<uint64_t>(st.st_ino) == r->fdIno;
}

bool CollectClosedFdEvents(BaseRec* b, int onlyFd, napi_value* err) {
  std::vector<int> fds;
  std::vector<uint32_t> deleted;
  BatchSpill(b);  // deleting waiting events takes them off libevent's queue, as it would
  for (EventRec* r : b->events) {
    if (!r->ev || !(r->events & kIoBits) || (r->events & EV_SIGNAL) || (onlyFd >= 0 && r->fd != onlyFd)) continue;
    bool added = r->ev->ev_evcallback.evcb_flags & (EVLIST_INSERTED | EVLIST_ACTIVE);
    if (SameFile(r) || (!added && r->fd != onlyFd)) continue;
    event_del(r->ev);
    NoteDeleted(r);
    deleted.push_back(r->index);
    if (std::find(fds.begin(), fds.end(), r->fd) == fds.end()) fds.push_back(r->fd);
  }
  if (deleted.empty()) return false;
  napi_env env = b->inst->env;
  std::string list;
  for (int fd : fds) list += (list.empty() ? "" : ", ") + std::to_string(fd);
  std::string msg = "fd " + list + " was closed behind the binding (fs.closeSync, or closed and its number reused); " +
                    std::to_string(deleted.size()) + " event(s) on it were deleted: close watched fds with io.close()";
  napi_value code, m, fdArr, evArr, v;
  napi_create_string_utf8(env, "ERR_FD_CLOSED", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg.c_str(), msg.size(), &m);
  napi_create_error(env, code, m, err);
  napi_create_array_with_length(env, fds.size(), &fdArr);
  for (uint32_t i = 0; i < fds.size(); i++) {
    napi_create_int32(env, fds[i], &v);
    napi_set_element(env, fdArr, i, v);
  }
  napi_create_array_with_length(env, deleted.size(), &evArr);
  for (uint32_t i = 0; i < deleted.size(); i++) {
    napi_create_uint32(env, deleted[i], &v);
    napi_set_element(env, evArr, i, v);
  }
  napi_set_named_property(env, *err, "fds", fdArr);
  napi_set_named_property(env, *err, "events", evArr);
  return true;
}

void EventTrampoline(evutil_socket_t fd, short what, void* arg) {
  AddonData* d = CurrentData();
  uint32_t index = ArgIndex(arg);
  EventRec* r = d->events[index];
  struct event* ev = r->ev;
  if (r->base->checkFds && (r->events & kIoBits) && (what & kIoBits) && !SameFile(r)) {
    // poll reports a closed fd as ready (POLLNVAL) on every pass, and a reused number reports
    // another file: instead of spinning in the stale callback, remove the events and report it.
    BaseRec* b = r->base;
    napi_handle_scope hs;
    napi_open_handle_scope(b->inst->env, &hs);
    napi_value err;
    if (CollectClosedFdEvents(b, r->fd, &err)) StorePendingError(b, err);
    napi_close_handle_scope(b->inst->env, hs);
    event_base_loopbreak(b->eb);
    return;
  }
  if (r->spillWhat) {
    what |= r->spillWhat;
    r->spillWhat = 0;
  }
  r->spilled = false;
  if (r->fixDeadline) FixSpilledDeadline(r);
  r->base->callbacks++;
  // Tell JS whether the event left every queue before this call (non-persistent events are
  // deleted first), so it can stop pinning it. A signal closure may still have deliveries to
  // make with the same event: it counts as pending until its last one.
  bool isSignal = (r->events & EV_SIGNAL) != 0;
  short* deliveriesLeft = nullptr;
  if (isSignal) {
    deliveriesLeft = ev->ev_.ev_signal.ev_pncalls;
    if (r->running == 0) r->stopDeliveries = false;
  }
  bool pending = (ev->ev_evcallback.evcb_flags & kPendingFlags) ||
                 (isSignal && ev->ev_.ev_signal.ev_ncalls > 0);
  if (isSignal && !(r->events & EV_PERSIST)) UpdateSignalOwner(r->base);  // libevent deleted it to run it
  int full = what | (pending ? 0 : kWhatNoLongerPending);
  bool recorded = BatchRecordEvent(r->base, r, ArgFn(arg), fd, full);  // reads the state before this call
  if (!(r->events & EV_PERSIST)) {
    r->inserted = r->timed = false;  // libevent deleted it for the call
  } else {
    // A period re-added it (I/O interest too) for the call; a timeout's expiry deleted it.
    r->inserted = (ev->ev_evcallback.evcb_flags & EVLIST_INSERTED) != 0;
    r->timed = (ev->ev_evcallback.evcb_flags & EVLIST_TIMEOUT) != 0;
  }
  if (recorded) return;  // JS runs it with the rest of the pass (batch.cc)
  BaseRec* b = r->base;
  r->running++;
  CallDispatcher(b, ArgFn(arg), index, fd, full);
  // run({ microtasks: 'callback' }) only: nextTicks and promise jobs run now, while the event
  // still counts as running, so what they do to it is settled below as if the callback did it.
  if (!b->pendingError) DrainAfterCallback(b);
  NoteNodeWork(b);
  if (isSignal) {
    SettleSignalDeliveries(r, deliveriesLeft);
    ForgetEndedClosure(ev, deliveriesLeft);
  }
  if (--r->running == 0) {
    if (r->releaseDeferred) {
      DisposeEventRec(r);
    } else if (r->freeDeferred) {
      r->freeDeferred = false;
      FreeEventStruct(r);
    }
  }
}

// ---- Signals: process-wide state libevent keeps without thread support ----
//
// 1. Only one base per process can have signal events added: libevent sends every caught
//    signal to the base that added one last (a global `evsig_base`), so the others' events
//    would never fire. The addon records that base and refuses, with a coded error, to add a
//    signal event to any other base (in any thread) while it has one added.
// 2. When the last event of a signal is deleted, libevent restores the disposition it saved
//    when the first was added, even if Node (process.on, through libuv) installed a handler
//    since: the next signal would then kill the process. The deletes made here keep a handler
//    that is not libevent's own.
static std::mutex signalOwnerMutex;
static BaseRec* signalOwner = nullptr;  // the base with signal events added, or none
static std::atomic<void (*)(int)> libeventSignalHandler{nullptr};

static bool HasSignalAdded(BaseRec* b) {
  for (EventRec* r : b->events)
    if (r->ev && (r->events & EV_SIGNAL) && (r->ev->ev_evcallback.evcb_flags & EVLIST_INSERTED)) return true;
  return false;
}

// After any change to a signal event of b: b owns signal delivery exactly while it has one added.
void UpdateSignalOwner(BaseRec* b) {
  bool added = b->eb && HasSignalAdded(b);
  std::lock_guard<std::mutex> lock(signalOwnerMutex);
  if (added) signalOwner = b;
  else if (signalOwner == b) signalOwner = nullptr;
}

static bool SignalBaseFree(napi_env env, BaseRec* b) {
  std::lock_guard<std::mutex> lock(signalOwnerMutex);
  if (!signalOwner || signalOwner == b) return true;
  ThrowError(env, "ERR_SIGNAL_BASE_CONFLICT",
             "another event base (maybe in another thread) has signal events added: libevent delivers signals to one "
             "base per process; free or delete those first");
  return false;
}

// Runs `del` (an event_del or event_free of r's struct) keeping a signal handler installed
// after libevent's own, which libevent would otherwise overwrite with its saved one.
template <typename Del>
static void DeleteKeepingNewerHandler(EventRec* r, Del del) {
  void (*ours)(int) = libeventSignalHandler.load();
  struct sigaction before;
  bool keep = (r->events & EV_SIGNAL) && ours && sigaction(r->fd, nullptr, &before) == 0 &&
              ((before.sa_flags & SA_SIGINFO) || before.sa_handler != ours);
  del();
  if (keep) sigaction(r->fd, &before, nullptr);
}

// Releases libevent's struct (deleting it first); deferred while its callback runs.
void FreeEventStruct(EventRec* r) {
  if (!r->ev) return;
  if (r->running > 0) {
    // the trampoline also stops a signal closure's remaining deliveries
    DeleteKeepingNewerHandler(r, [r] { event_del(r->ev); });
    r->freeDeferred = true;
    r->stopDeliveries = true;
    if (r->events & EV_SIGNAL) UpdateSignalOwner(r->base);
    return;
  }
  DeleteKeepingNewerHandler(r, [r] { event_free(r->ev); });
  r->ev = nullptr;
  r->freeDeferred = false;
  if (r->events & EV_SIGNAL) UpdateSignalOwner(r->base);
}

// Frees the struct and the record, and the base record if it was waiting for this one.
void DisposeEventRec(EventRec* r) {
  if (r->running > 0) {
    FreeEventStruct(r);
    r->releaseDeferred = true;
    return;
  }
  FreeEventStruct(r);
  BaseRec* b = r->base;
  AddonData* d = b->data;
  EventRec* last = b->events.back();
  b->events[r->posInBase] = last;
  last->posInBase = r->posInBase;
  b->events.pop_back();
  d->events[r->index] = nullptr;
  if (d->eventGenerations[r->index] < kMaxGeneration) {
    d->eventGenerations[r->index]++;
    d->freeEventSlots.push_back(r->index);
  }
  d->liveEvents--;
  delete r;
  ReleaseBaseIfUnused(b);
}

static bool SignalAllowed(int sig) {
  switch (sig) {
    case SIGKILL: case SIGSTOP:                                     // cannot be caught
    case SIGSEGV: case SIGBUS: case SIGFPE: case SIGILL: case SIGTRAP: case SIGSYS:  // synchronous faults
      return false;
    default:
      // glibc keeps the first real-time signals for its threads.
      return sig >= 1 && sig < NSIG && !(sig >= 32 && sig < SIGRTMIN);
  }
}

// Validates an fd + events pair for an event of base b. Throws and returns false on error.
static bool CheckFdEvents(napi_env env, BaseRec* b, int64_t fd, int64_t events) {
  if (events & ~kUserEventBits) {
    ThrowRange(env, "ERR_INVALID_EVENTS", "unknown event bits 0x" + [&] {
      char buf[16];
      snprintf(buf, sizeof buf, "%x", static_cast<unsigned>(events & ~kUserEventBits));
      return std::string(buf);
    }() + " (known: TIMEOUT, READ, WRITE, SIGNAL, PERSIST, ET, CLOSED)");
    return false;
  }
  if (events & EV_SIGNAL) {
    if (events & (EV_READ | EV_WRITE | EV_ET | EV_CLOSED)) {
      ThrowRange(env, "ERR_INVALID_EVENTS", "SIGNAL cannot be combined with READ, WRITE, ET or CLOSED");
      return false;
    }
    if (!SignalAllowed(static_cast<int>(fd))) {
      ThrowRange(env, "ERR_SIGNAL_UNSUPPORTED", "signal " + std::to_string(fd) + " cannot be watched (unknown, uncatchable, a synchronous fault, or reserved)");
      return false;
    }
    if (fd == SIGCHLD) {
      // libuv installs its own SIGCHLD handler at the first child_process.spawn() and keeps it:
      // a libevent event for it would silently stop firing.
      ThrowRange(env, "ERR_SIGNAL_UNSUPPORTED", "SIGCHLD belongs to Node (child_process); use the 'exit' event of a ChildProcess");
      return false;
    }
    if (b->selectBackend && b->selectSignalFd >= FD_SETSIZE) {
      // Adding it would make libevent watch its signal pipe with select: an abort on Debian.
      ThrowRange(env, "ERR_FD_SETSIZE", "this select base's signal pipe is fd " + std::to_string(b->selectSignalFd) +
                                            " (select's limit is 1023): create the base while fewer fds are open");
      return false;
    }
    return true;
  }
  bool io = events & (EV_READ | EV_WRITE | EV_CLOSED);
  if (!io) {
    if (events & EV_ET) {
      ThrowRange(env, "ERR_INVALID_EVENTS", "ET needs READ, WRITE or CLOSED");
      return false;
    }
    if (fd != -1) {
      ThrowRange(env, "ERR_OUT_OF_RANGE", "an event without READ, WRITE, CLOSED or SIGNAL takes fd -1");
      return false;
    }
    return true;
  }
  if (fd < 0) {
    ThrowRange(env, "ERR_OUT_OF_RANGE", "an I/O event needs an fd >= 0");
    return false;
  }
  if ((events & EV_CLOSED) && !(b->features & EV_FEATURE_EARLY_CLOSE)) {
    // libevent accepts it but the backend can never report it: refuse instead of never firing.
    ThrowError(env, "ERR_UNSUPPORTED_EVENTS", "CLOSED needs a backend with early-close detection (" + b->method + " has none)");
    return false;
  }
  if (b->selectBackend && fd >= FD_SETSIZE) {
    // Debian's fortified libevent aborts the process on such an fd with select.
    ThrowRange(env, "ERR_FD_SETSIZE", "the select backend cannot watch fd " + std::to_string(fd) + " (limit 1023)");
    return false;
  }
  if (!FdIsOpen(static_cast<int>(fd))) {
    ThrowError(env, "ERR_BAD_FD", "fd " + std::to_string(fd) + " is not open");
    return false;
  }
  return true;
}

// eventNew(base, fd, events, fnIndex) -> handle
static Napi::Value EventNew(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  AddonData* d = CurrentData();
  BaseRec* b = ArgBase(info, 0);
  int64_t fd, events, fnIndex;
  if (!b || !ArgInt(info, 1, "fd", -1, INT32_MAX, &fd) || !ArgInt(info, 2, "events", 0, 0xffff, &events) ||
      !ArgInt(info, 3, "callback slot", 0, UINT32_MAX, &fnIndex) || !CheckFdEvents(env, b, fd, events))
    return Napi::Value();
  if (d->freeEventSlots.empty() && d->events.size() > kIndexMask) {
    ThrowRange(env, "ERR_TOO_MANY_EVENTS", "too many live events");
    return Napi::Value();
  }
  uint32_t index;
  if (!d->freeEventSlots.empty()) {
    index = d->freeEventSlots.back();
    d->freeEventSlots.pop_back();
  } else {
    d->events.push_back(nullptr);
    d->eventGenerations.push_back(0);
    index = static_cast<uint32_t>(d->events.size() - 1);
  }
  struct event* ev = event_new(b->eb, static_cast<int>(fd), static_cast<short>(events), EventTrampoline,
                               PackArg(index, static_cast<uint32_t>(fnIndex)));
  if (!ev) {
    d->freeEventSlots.push_back(index);
    ThrowError(env, "ERR_LIBEVENT", "event_new failed: " + LastLibeventMessage());
    return Napi::Value();
  }
  EventRec* r = new EventRec();
  r->ev = ev;
  r->base = b;
  r->index = index;
  r->generation = d->eventGenerations[index];
  r->fnIndex = static_cast<uint32_t>(fnIndex);
  r->serial = ++d->eventSerial;
  r->fd = static_cast<int>(fd);
  r->events = static_cast<short>(events);
  struct stat st;
  if ((events & kIoBits) && !(events & EV_SIGNAL) && fstat(r->fd, &st) == 0) {
    r->fdDev = static_cast<uint64_t>(st.st_dev);
    r->fdIno = static_cast<uint64_t>(st.st_ino);
  }
  r->posInBase = static_cast<uint32_t>(b->events.size());
  b->events.push_back(r);
  d->events[index] = r;
  d->liveEvents++;
  return Napi::Number::New(env, HandleOf(r->generation, index));
}

static inline bool IsPending(EventRec* r) { return (r->ev->ev_evcallback.evcb_flags & kPendingFlags) != 0; }

// eventAdd(handle, ms?) -> pending
static Napi::Value EventAdd(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  EventRec* r = ArgEvent(info, 0);
  if (!r) return Napi::Value();
  bool hasTimeout;
  struct timeval tv;
  if (!ArgOptionalMs(info, 1, "timeout", &hasTimeout, &tv)) return Napi::Value();
  if (r->events & (EV_READ | EV_WRITE | EV_CLOSED)) {
    struct stat st;
    if (fstat(r->fd, &st) != 0) {
      ThrowError(env, "ERR_BAD_FD", "fd " + std::to_string(r->fd) + " is no longer open");
      return Napi::Value();
    }
    r->fdDev = static_cast<uint64_t>(st.st_dev);
    r->fdIno = static_cast<uint64_t>(st.st_ino);
  }
  bool isSignal = (r->events & EV_SIGNAL) != 0;
  struct sigaction before;
  if (isSignal && (!SignalBaseFree(env, r->base) || sigaction(r->fd, nullptr, &before) != 0)) return Napi::Value();
  if (event_add(r->ev, hasTimeout ? &tv : nullptr) != 0) {
    ThrowError(env, "ERR_LIBEVENT", "event_add failed: " + LastLibeventMessage());
    return Napi::Value();
  }
  NoteAdded(r, hasTimeout ? &tv : nullptr);
  if (isSignal) {
    struct sigaction now;
    // The first add of a signal installs libevent's handler: note which function that is.
    if (sigaction(r->fd, nullptr, &now) == 0 && !(now.sa_flags & SA_SIGINFO) && now.sa_handler != before.sa_handler)
      libeventSignalHandler.store(now.sa_handler);
    UpdateSignalOwner(r->base);
  }
  return Napi::Boolean::New(env, IsPending(r));
}

static Napi::Value EventDel(const Napi::CallbackInfo& info) {
  EventRec* r = ArgEvent(info, 0);
  if (!r) return Napi::Value();
  if (r->running > 0) r->stopDeliveries = true;  // no further call of a running signal closure
  int rc = 0;
  DeleteKeepingNewerHandler(r, [r, &rc] { rc = event_del(r->ev); });
  if (r->events & EV_SIGNAL) UpdateSignalOwner(r->base);
  if (rc != 0) {
    ThrowError(info.Env(), "ERR_LIBEVENT", "event_del failed: " + LastLibeventMessage());
    return Napi::Value();
  }
  NoteDeleted(r);
  return Napi::Boolean::New(info.Env(), IsPending(r));
}

static Napi::Value EventRemoveTimer(const Napi::CallbackInfo& info) {
  EventRec* r = ArgEvent(info, 0);
  if (!r) return Napi::Value();
  event_remove_timer(r->ev);
  r->timed = false;
  r->fixDeadline = false;
  return Napi::Boolean::New(info.Env(), IsPending(r));
}

static constexpr short kResultBits = EV_TIMEOUT | EV_READ | EV_WRITE | EV_SIGNAL | EV_CLOSED;

static Napi::Value EventActive(const Napi::CallbackInfo& info) {
  EventRec* r = ArgEvent(info, 0);
  int64_t what;
  if (!r || !ArgInt(info, 1, "what", 0, 0xffff, &what)) return Napi::Value();
  if (what == 0 || (what & ~kResultBits)) {
    ThrowRange(info.Env(), "ERR_INVALID_EVENTS", "active() takes a non-empty mix of TIMEOUT, READ, WRITE, SIGNAL, CLOSED");
    return Napi::Value();
  }
  // Queues behind the events a running batch still holds (batch.cc), as libevent would.
  BatchSpill(r->base);
  bool foldSignal = (r->events & EV_SIGNAL) && r->spilled && (r->ev->ev_evcallback.evcb_flags & EVLIST_ACTIVE);
  event_active(r->ev, static_cast<int>(what), 1);
  if (foldSignal) {
    // The spill re-queued this signal's remaining deliveries; the new activation adds one.
    short& calls = r->ev->ev_.ev_signal.ev_ncalls;
    if (calls < SHRT_MAX) calls++;
  }
  return Napi::Boolean::New(info.Env(), IsPending(r));
}

static Napi::Value EventPending(const Napi::CallbackInfo& info) {
  EventRec* r = ArgEvent(info, 0);
  int64_t what = kResultBits;
  if (!r) return Napi::Value();
  int requeued = (r->ev->ev_evcallback.evcb_flags & EVLIST_ACTIVE) ? r->spillWhat : 0;  // see batch.cc
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    if (!ArgInt(info, 1, "what", 0, 0xffff, &what)) return Napi::Value();
    if (what & ~kResultBits) {
      ThrowRange(info.Env(), "ERR_INVALID_EVENTS", "pending() asks about TIMEOUT, READ, WRITE, SIGNAL, CLOSED");
      return Napi::Value();
    }
  }
  return Napi::Number::New(info.Env(), event_pending(r->ev, static_cast<short>(what), nullptr) | (requeued & what));
}

static Napi::Value EventGetPriority(const Napi::CallbackInfo& info) {
  EventRec* r = ArgEvent(info, 0);
  if (!r) return Napi::Value();
  return Napi::Number::New(info.Env(), event_get_priority(r->ev));
}

static Napi::Value EventSetPriority(const Napi::CallbackInfo& info) {
  EventRec* r = ArgEvent(info, 0);
  int64_t p;
  if (!r || !ArgInt(info, 1, "priority", 0, r->base->priorities - 1, &p)) return Napi::Value();
  if (event_priority_set(r->ev, static_cast<int>(p)) != 0) {
    ThrowError(info.Env(), "ERR_EVENT_ACTIVE", "cannot change the priority of an active event");
    return Napi::Value();
  }
  return info.Env().Undefined();
}

static Napi::Value EventFree(const Napi::CallbackInfo& info) {
  EventRec* r = ArgEvent(info, 0);
  if (!r) return Napi::Value();
  DisposeEventRec(r);
  return info.Env().Undefined();
}

// The JS object was collected (or its base went away): drop whatever is left, never throw
// about freed state.
// Returns the callback slot its struct named (the JS side counts the events per slot).
static Napi::Value EventRelease(const Napi::CallbackInfo& info) {
  EventRec* r = ArgEvent(info, 0, false);
  if (!r) return Napi::Value();
  uint32_t slot = r->fnIndex;
  DisposeEventRec(r);
  return Napi::Number::New(info.Env(), slot);
}

void InitEvent(Napi::Env env, Napi::Object exports) {
  exports.Set("eventNew", Napi::Function::New(env, EventNew));
  exports.Set("eventAdd", Napi::Function::New(env, EventAdd));
  exports.Set("eventDel", Napi::Function::New(env, EventDel));
  exports.Set("eventRemoveTimer", Napi::Function::New(env, EventRemoveTimer));
  exports.Set("eventActive", Napi::Function::New(env, EventActive));
  exports.Set("eventPending", Napi::Function::New(env, EventPending));
  exports.Set("eventGetPriority", Napi::Function::New(env, EventGetPriority));
  exports.Set("eventSetPriority", Napi::Function::New(env, EventSetPriority));
  exports.Set("eventFree", Napi::Function::New(env, EventFree));
  exports.Set("eventRelease", Napi::Function::New(env, EventRelease));
}

}  // namespace nle
