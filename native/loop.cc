// The two run modes.
//
// Exclusive (loop/dispatch): event_base_loop runs on the JS thread and owns it until it
// returns, like Tor's main loop. Node's loop is not serviced meanwhile.
//
// Cooperative (run): libevent blocks *inside* Node's loop. A uv_check handle runs one
// libevent pass per libuv iteration; an idle handle of ours keeps libuv's own poll from
// blocking, so libevent is the one place that sleeps. Before each pass we read
// uv_backend_timeout() (Node's next timer), and two internal libevent events wake the pass
// when Node has work: one on libuv's backend fd (an epoll fd, pollable by epoll and poll
// alike) and one timer for that timeout (a third breaks the pass once its ready callbacks ran).
// All are marked EVLIST_INTERNAL, as libevent marks its own, so they never count as "events
// left" and never show in counts.
#include "common.h"

namespace nle {

struct Coop {
  BaseRec* owner = nullptr;
  napi_env env = nullptr;
  uv_loop_t* loop = nullptr;
  uv_check_t check;
  uv_idle_t idle;
  int openHandles = 0;
  struct event* uvfdEvent = nullptr;
  struct event* timerEvent = nullptr;
  struct event* breakEvent = nullptr;  // activated by a wake: breaks once the pass's ready callbacks ran
  bool active = false;
  bool inPass = false;
  bool stopRequested = false;
  bool woke = false;               // the last pass was ended for Node (its fd or its timer)
  int wokeBy = 0;                  // this pass: 1 Node's fd woke it, 2 Node's timer (WakeForNode)
  int nodeTimeout = -1;            // the uv_backend_timeout() timerEvent is armed for, this turn
  uint32_t roundCalls = 0;         // JS calls since the last time check (NoteNodeWork)
  uint64_t roundStart = 0;         // uv_hrtime() when the pass began or its round was last ended
  int keepFlags = 0;               // EVLOOP_NO_EXIT_ON_EMPTY for run({ keepAlive: true })
  bool drainEach = false;          // run({ microtasks: 'callback' }): drain after every callback
  bool scopeOpen = false;          // `scope` is open (the check callback is running)
  napi_callback_scope scope = nullptr;
  napi_value resourceValue = nullptr;  // valid while the check callback's handle scope is open
  uint32_t callbacksBefore = 0;    // b->callbacks when the last pass began
  napi_deferred deferred = nullptr;
  napi_ref resource = nullptr;
  napi_async_context asyncContext = nullptr;
  napi_async_cleanup_hook_handle hook = nullptr;
};

// Node has work (its fd or its next timer). The pass ends for it, but only after the callbacks
// that were ready with the wake: libevent's backends report ready fds in an order of their own
// (poll and select start at a random fd), and a break in the middle would split callbacks that
// became ready together over two passes, with Node's microtasks between them.
//
// With priorities, the two wake events are the most urgent (0) and the break event the least:
// the break still comes after every ready callback of every priority, and the wake is seen even
// while more urgent events keep becoming ready. libevent runs a lower priority only once the
// higher ones are empty, so such events kept the break event (and, at the middle priority,
// the wake events themselves) waiting for ever, and the pass with them: Node never ran again.
// So the same wake again, in a later round of the pass, breaks at once: Node's fd is
// level-triggered and the timer is re-armed to fire at the next round.
static void WakeForNode(evutil_socket_t fd, short, void* arg) {
  BaseRec* b = static_cast<BaseRec*>(arg);
  Coop* c = b->coop;
  int source = fd >= 0 ? 1 : 2;
  if (c->wokeBy & source) {
    event_base_loopbreak(b->eb);
    return;
  }
  c->wokeBy |= source;
  c->woke = true;
  if (source == 2) {
    static const struct timeval kNow = {0, 0};
    event_add(c->timerEvent, &kNow);
  }
  // Events recorded earlier in this queue run first (their flush event is behind us).
  if (BatchWaiting(b)) BatchBreakAfterFlush(b);
  else event_active(c->breakEvent, EV_TIMEOUT, 0);  // queued behind the ready callbacks
}

// Arms timerEvent for Node's next timer when it is sooner than the one the turn waits for. A
// callback (or a promise job between passes) may set a timer of Node's, and a timer is not an
// fd: libuv's fd does not show it. A pass whose callbacks keep activating events never ends
// by itself, so Node's timer waited for the pass, for ever under a ping-pong of events.
// libuv's clock was read before the turn, so the time the turn has taken since counts.
static void ArmForNodeTimer(Coop* c) {
  int t = uv_backend_timeout(c->loop);
  if (t < 0 || (c->nodeTimeout >= 0 && t >= c->nodeTimeout)) return;  // nothing sooner
  c->nodeTimeout = t;
  int64_t elapsed = static_cast<int64_t>(uv_hrtime() / 1000000) - static_cast<int64_t>(uv_now(c->loop));
  int64_t ms = t - (elapsed > 0 ? elapsed : 0);
  if (ms <= 0) {
    event_active(c->timerEvent, EV_TIMEOUT, 0);  // due (or an immediate): the wake now
    return;
  }
  struct timeval tv = {static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
  event_add(c->timerEvent, &tv);
}

// libevent polls (and runs its timers, ours among them) only between rounds of a pass, and a
// round lasts until its active queue is empty, which callbacks that keep activating events
// never let happen: then neither Node's fd nor its timer could end the pass. So a round that
// ran for kRoundMs is ended (event_base_loopcontinue: the pass goes on after a poll; the
// callbacks still active run first, in order). Checked every kCallsPerCheck calls.
constexpr uint32_t kCallsPerCheck = 32;
constexpr uint64_t kRoundNs = 1000000;

void NoteNodeWork(BaseRec* b) {
  Coop* c = b->coop;
  if (!c || !c->active || !c->inPass) return;
  ArmForNodeTimer(c);
  if (++c->roundCalls < kCallsPerCheck) return;
  c->roundCalls = 0;
  uint64_t now = uv_hrtime();
  if (now - c->roundStart < kRoundNs) return;
  c->roundStart = now;
  event_base_loopcontinue(b->eb);
}

static void BreakForNode(evutil_socket_t, short, void* arg) {
  event_base_loopbreak(static_cast<BaseRec*>(arg)->eb);
}

static struct event* NewInternalEvent(BaseRec* b, int fd, short events, int priority, event_callback_fn cb) {
  struct event* ev = event_new(b->eb, fd, events, cb, b);
  if (!ev) return nullptr;
  ev->ev_evcallback.evcb_flags |= EVLIST_INTERNAL;  // set before any add, as libevent does
  event_priority_set(ev, priority);
  return ev;
}

// Ends an active run: stops the handles and settles the promise (not during env teardown).
static void FinishRun(Coop* c, napi_value error, int result) {
  if (!c->active) return;
  c->active = false;
  uv_check_stop(&c->check);
  uv_idle_stop(&c->idle);
  if (c->owner && c->owner->eb) {
    event_del(c->uvfdEvent);
    event_del(c->timerEvent);
    event_del(c->breakEvent);
  }
  napi_env env = c->env;
  bool teardown = !c->owner || c->owner->data->tearingDown;
  if (!teardown) {
    napi_value v;
    if (error) {
      napi_reject_deferred(env, c->deferred, error);
    } else {
      napi_create_int32(env, result, &v);
      napi_resolve_deferred(env, c->deferred, v);
    }
    napi_async_destroy(env, c->asyncContext);
  }
  c->deferred = nullptr;
  c->asyncContext = nullptr;
  if (c->resource) napi_delete_reference(env, c->resource);
  c->resource = nullptr;
}

static void OnHandleClosed(uv_handle_t* h) {
  Coop* c = static_cast<Coop*>(h->data);
  if (--c->openHandles > 0) return;
  if (c->hook) napi_remove_async_cleanup_hook(c->hook);
  delete c;
}

static void CloseHandles(Coop* c) {
  if (c->openHandles != 2) return;  // already closing
  uv_close(reinterpret_cast<uv_handle_t*>(&c->check), OnHandleClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&c->idle), OnHandleClosed);
}

// Detaches the run machinery from its base (before the base is freed) and closes it.
void CloseCoop(BaseRec* b) {
  Coop* c = b->coop;
  if (!c) return;
  FinishRun(c, nullptr, 0);
  event_free(c->uvfdEvent);
  event_free(c->timerEvent);
  event_free(c->breakEvent);
  c->owner = nullptr;
  b->coop = nullptr;
  CloseHandles(c);
}

// A worker (or the process) is ending: uv handles must be closed before its loop goes.
static void AsyncCleanup(napi_async_cleanup_hook_handle, void* arg) {
  Coop* c = static_cast<Coop*>(arg);
  if (c->owner) {
    c->owner->data->tearingDown = true;
    CloseCoop(c->owner);
    return;
  }
  CloseHandles(c);
}

constexpr int kMaxPassesPerTurn = 16;

// The check callback's callback scope: closing it (at depth 1, with no JS on the stack) runs
// the nextTicks and promise jobs queued since it was opened.
static void OpenScope(Coop* c) {
  napi_open_callback_scope(c->env, c->resourceValue, c->asyncContext, &c->scope);
  c->scopeOpen = true;
}

static void CloseScope(Coop* c) {
  c->scopeOpen = false;
  napi_close_callback_scope(c->env, c->scope);
}

bool DrainsEachCallback(BaseRec* b) {
  Coop* c = b->coop;
  return c && c->drainEach && c->inPass && c->scopeOpen;
}

void DrainAfterCallback(BaseRec* b) {
  if (!DrainsEachCallback(b)) return;
  Coop* c = b->coop;
  CloseScope(c);  // libevent's frames only are on the stack here: this is a real checkpoint
  OpenScope(c);
}

static int RunPass(Coop* c, BaseRec* b, int flags) {
  c->woke = false;
  c->wokeBy = 0;
  event_del(c->breakEvent);  // left active by a pass that another break ended first
  c->roundCalls = 0;
  c->roundStart = uv_hrtime();
  c->callbacksBefore = b->callbacks;
  b->loopDepth++;
  c->inPass = true;
  int r = event_base_loop(b->eb, flags);
  BatchRunWaiting(b);
  c->inPass = false;
  b->loopDepth--;
  return r;
}

// The last pass ran callbacks and nothing asks to stop or to let Node run.
static bool MoreWork(Coop* c, BaseRec* b) {
  return b->callbacks != c->callbacksBefore && !c->woke && !b->userBreak && !b->pendingError && !b->freeDeferred &&
         !event_base_got_exit(b->eb) && !event_base_got_break(b->eb);
}

static void OnCheck(uv_check_t* h) {
  Coop* c = static_cast<Coop*>(h->data);
  BaseRec* b = c->owner;
  uv_idle_stop(&c->idle);
  napi_env env = c->env;
  napi_handle_scope hs;
  napi_open_handle_scope(env, &hs);
  if (c->stopRequested) {
    b->gotBreak = true;
    FinishRun(c, nullptr, 0);
    napi_close_handle_scope(env, hs);
    return;
  }
  napi_get_reference_value(env, c->resource, &c->resourceValue);
  OpenScope(c);

  int timeout = uv_backend_timeout(c->loop);
  int flags = EVLOOP_ONCE | c->keepFlags;
  c->nodeTimeout = timeout;
  if (timeout == 0) {
    flags |= EVLOOP_NONBLOCK;
  } else if (timeout > 0) {
    struct timeval tv = {timeout / 1000, (timeout % 1000) * 1000};
    event_add(c->timerEvent, &tv);
  }
  int r = RunPass(c, b, flags);
  // While the callbacks keep finding work, run more non-blocking passes in this turn of
  // libuv's loop: a libuv iteration costs more than a libevent pass. Node is not kept
  // waiting: its fd and its next timer are in libevent's poll set (they end a pass once its
  // ready callbacks ran), and the passes are bounded, and end when a promise job or nextTick
  // between two passes gave Node work of its own (an immediate). Promise jobs and nextTicks
  // still run after each pass.
  int maxPasses = timeout == 0 ? 1 : kMaxPassesPerTurn;  // 0: Node has work ready now
  for (int passes = 1; r == 0 && passes < maxPasses && MoreWork(c, b); passes++) {
    CloseScope(c);
    if (!c->active || c->owner != b || c->stopRequested) {
      // A promise job stopped or freed the run: the next check (soon: idle) settles it.
      if (c->active) uv_idle_start(&c->idle, [](uv_idle_t*) {});
      napi_close_handle_scope(env, hs);
      return;
    }
    OpenScope(c);
    if (uv_backend_timeout(c->loop) == 0) break;  // a job gave Node work (an immediate): its turn now
    ArmForNodeTimer(c);                            // or a timer sooner than the one armed
    r = RunPass(c, b, EVLOOP_ONCE | EVLOOP_NONBLOCK | c->keepFlags);
  }

  napi_value err = nullptr;
  bool failed = TakePendingError(b, &err);
  if (b->freeDeferred) {
    FreeBaseNow(b);  // settles the run with 0
  } else {
    event_del(c->timerEvent);
    if (failed || (r == -1 && b->checkFds && CollectClosedFdEvents(b, -1, &err))) {
      FinishRun(c, err, 0);
    } else if (r == 1) {
      FinishRun(c, nullptr, 1);
    } else if (r == -1) {
      napi_value code, msg;
      napi_create_string_utf8(env, "ERR_LIBEVENT", NAPI_AUTO_LENGTH, &code);
      std::string m = "event_base_loop failed: " + LastLibeventMessage();
      napi_create_string_utf8(env, m.c_str(), m.size(), &msg);
      napi_create_error(env, code, msg, &err);
      FinishRun(c, err, 0);
    } else if (event_base_got_exit(b->eb) || b->userBreak) {
      b->gotExit = event_base_got_exit(b->eb);
      b->gotBreak = b->userBreak;
      FinishRun(c, nullptr, 0);
    } else {
      uv_idle_start(&c->idle, [](uv_idle_t*) {});
    }
  }
  CloseScope(c);  // runs nextTicks and microtasks queued by callbacks
  napi_close_handle_scope(env, hs);
  ReleaseBaseIfUnused(b);  // released from inside this pass: its record can go now
}

static bool CheckDispatcher(napi_env env, BaseRec* b) {
  if (b->inst->dispatcher) return true;
  ThrowError(env, "ERR_NO_DISPATCHER", "setDispatcher() must be called before a loop runs events");
  return false;
}

static Napi::Value BaseRun(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  BaseRec* b = ArgBase(info, 0);
  int64_t keepFlags = 0;  // optional: EVLOOP_NO_EXIT_ON_EMPTY only (the run's own flags are fixed)
  if (!b || (info.Length() > 1 && !info[1].IsUndefined() &&
             !ArgInt(info, 1, "run flags", 0, EVLOOP_NO_EXIT_ON_EMPTY, &keepFlags)))
    return Napi::Value();
  if (keepFlags & ~EVLOOP_NO_EXIT_ON_EMPTY) {
    ThrowRange(env, "ERR_OUT_OF_RANGE", "run flags take only EVLOOP_NO_EXIT_ON_EMPTY");
    return Napi::Value();
  }
  // optional: true to run nextTicks and promise jobs after every callback, not after each pass
  bool drainEach = false;
  if (info.Length() > 2 && !info[2].IsUndefined()) {
    if (!info[2].IsBoolean()) {
      ThrowType(env, "ERR_INVALID_ARG_TYPE", "drain after each callback must be a boolean");
      return Napi::Value();
    }
    drainEach = info[2].As<Napi::Boolean>().Value();
  }
  if (!CheckDispatcher(env, b)) return Napi::Value();
  if (b->loopDepth > 0) {
    ThrowError(env, "ERR_LOOP_REENTRANT", "run() called from inside a callback of the same base");
    return Napi::Value();
  }
  if (b->coop && b->coop->active) {
    ThrowError(env, "ERR_LOOP_RUNNING", "run() is already active on this base");
    return Napi::Value();
  }
  Coop* c = b->coop;
  if (!c) {
    c = new Coop();
    c->owner = b;
    c->env = env;
    if (napi_get_uv_event_loop(env, &c->loop) != napi_ok) {
      delete c;
      ThrowError(env, "ERR_LIBEVENT", "no libuv loop for this environment");
      return Napi::Value();
    }
    int uvfd = uv_backend_fd(c->loop);
    if (uvfd < 0 || (b->selectBackend && uvfd >= FD_SETSIZE)) {
      delete c;
      ThrowError(env, "ERR_RUN_UNSUPPORTED", "libuv's backend fd cannot be watched by this base");
      return Napi::Value();
    }
    int least = event_base_get_npriorities(b->eb) - 1;  // see WakeForNode
    c->uvfdEvent = NewInternalEvent(b, uvfd, EV_READ | EV_PERSIST, 0, WakeForNode);
    c->timerEvent = NewInternalEvent(b, -1, 0, 0, WakeForNode);
    c->breakEvent = NewInternalEvent(b, -1, 0, least, BreakForNode);
    if (!c->uvfdEvent || !c->timerEvent || !c->breakEvent) {
      if (c->uvfdEvent) event_free(c->uvfdEvent);
      if (c->timerEvent) event_free(c->timerEvent);
      if (c->breakEvent) event_free(c->breakEvent);
      delete c;
      ThrowError(env, "ERR_LIBEVENT", "could not create the run mode's internal events");
      return Napi::Value();
    }
    uv_check_init(c->loop, &c->check);
    uv_idle_init(c->loop, &c->idle);
    c->check.data = c;
    c->idle.data = c;
    c->openHandles = 2;
    napi_add_async_cleanup_hook(env, AsyncCleanup, c, &c->hook);
    b->coop = c;
  }
  napi_value promise, resource, name;
  napi_create_promise(env, &c->deferred, &promise);
  napi_create_object(env, &resource);
  napi_create_string_utf8(env, "node-libevent:run", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, resource, name, &c->asyncContext);
  napi_create_reference(env, resource, 1, &c->resource);
  c->active = true;
  c->keepFlags = static_cast<int>(keepFlags);
  c->drainEach = drainEach;
  c->stopRequested = false;
  b->userBreak = b->gotBreak = b->gotExit = false;
  event_add(c->uvfdEvent, nullptr);
  uv_check_start(&c->check, OnCheck);
  uv_idle_start(&c->idle, [](uv_idle_t*) {});
  return Napi::Value(env, promise);
}

// Exclusive mode and environment teardown. worker.terminate() (and process.exit() in the main
// thread, which terminates every worker) runs on another thread: it stops V8 and wakes the
// worker's libuv loop with uv_async_send, which makes libuv's backend fd readable. libevent is
// built without thread support here, so nothing else could wake a blocked event_base_loop. So
// a base that runs exclusively watches that fd with an internal event; when it is readable the
// env is probed (a call into a no-op JS function fails once termination started) and the loop
// is broken. Node's ordinary work makes the fd readable too, and stays so while libevent owns
// the thread: then the watch sleeps 50 ms before looking again, instead of waking at once.
static bool EnvTerminating(Instance* inst) {
  napi_env env = inst->env;
  napi_handle_scope hs;
  if (napi_open_handle_scope(env, &hs) != napi_ok) return true;
  napi_value fn = nullptr, recv, result;
  if (!inst->probe) {
    napi_value src;
    napi_create_string_utf8(env, "(function nodeLibeventProbe() {})", NAPI_AUTO_LENGTH, &src);
    if (napi_run_script(env, src, &fn) == napi_ok) napi_create_reference(env, fn, 1, &inst->probe);
  } else {
    napi_get_reference_value(env, inst->probe, &fn);
  }
  napi_get_undefined(env, &recv);
  bool terminating = !fn || napi_call_function(env, recv, fn, 0, nullptr, &result) != napi_ok;
  if (terminating) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    napi_value ignored;
    if (pending) napi_get_and_clear_last_exception(env, &ignored);
  }
  napi_close_handle_scope(env, hs);
  return terminating;
}

static void OnNodeWork(evutil_socket_t, short, void* arg) {
  BaseRec* b = static_cast<BaseRec*>(arg);
  if (b->loopInst && EnvTerminating(b->loopInst)) {
    b->terminating = true;
    event_base_loopbreak(b->eb);
    return;
  }
  event_del(b->nodeWatch);
  struct timeval tv = {0, 50 * 1000};
  event_add(b->nodeRetry, &tv);
}

static void OnNodeRetry(evutil_socket_t, short, void* arg) {
  BaseRec* b = static_cast<BaseRec*>(arg);
  event_add(b->nodeWatch, nullptr);
}

// Adds the watch (once per base; it stays added between loop calls, costing nothing then).
static void WatchForTeardown(napi_env env, BaseRec* b) {
  if (b->nodeWatch) return;
  uv_loop_t* loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return;
  if (loop == uv_default_loop()) return;  // the main thread: no other thread terminates it
  int fd = uv_backend_fd(loop);
  if (fd < 0 || (b->selectBackend && fd >= FD_SETSIZE)) return;  // then terminate cannot wake it
  b->nodeWatch = event_new(b->eb, fd, EV_READ | EV_PERSIST, OnNodeWork, b);
  b->nodeRetry = event_new(b->eb, -1, 0, OnNodeRetry, b);
  if (!b->nodeWatch || !b->nodeRetry) {
    CloseTeardownWatch(b);
    return;
  }
  b->nodeWatch->ev_evcallback.evcb_flags |= EVLIST_INTERNAL;  // not counted, as libevent's own
  b->nodeRetry->ev_evcallback.evcb_flags |= EVLIST_INTERNAL;
  event_add(b->nodeWatch, nullptr);
}

int ActiveInternalEvents(BaseRec* b) {
  int n = 0;
  for (struct event* ev : {b->nodeWatch, b->nodeRetry, b->coop ? b->coop->uvfdEvent : nullptr,
                           b->coop ? b->coop->timerEvent : nullptr, b->coop ? b->coop->breakEvent : nullptr})
    if (ev && (ev->ev_evcallback.evcb_flags & EVLIST_ACTIVE)) n++;
  return n;
}

void CloseTeardownWatch(BaseRec* b) {
  if (b->nodeWatch) event_free(b->nodeWatch);
  if (b->nodeRetry) event_free(b->nodeRetry);
  b->nodeWatch = b->nodeRetry = nullptr;
}

// baseLoop(handle, flags) -> 0 | 1; rethrows a callback's exception.
static Napi::Value BaseLoop(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  BaseRec* b = ArgBase(info, 0);
  int64_t flags;
  if (!b || !ArgInt(info, 1, "loop flags", 0, EVLOOP_ONCE | EVLOOP_NONBLOCK | EVLOOP_NO_EXIT_ON_EMPTY, &flags) ||
      !CheckDispatcher(env, b))
    return Napi::Value();
  if (b->loopDepth > 0) {
    ThrowError(env, "ERR_LOOP_REENTRANT", "the loop of this base is already running (called from one of its callbacks)");
    return Napi::Value();
  }
  if (b->coop && b->coop->active) {
    ThrowError(env, "ERR_LOOP_RUNNING", "run() is active on this base; stop it with loopbreak() first");
    return Napi::Value();
  }
  b->userBreak = false;
  WatchForTeardown(env, b);
  Instance* outer = b->loopInst;
  b->loopInst = InstanceOf(env);
  b->loopDepth++;
  int r = event_base_loop(b->eb, static_cast<int>(flags));
  BatchRunWaiting(b);
  b->loopDepth--;
  b->loopInst = outer;
  if (b->terminating) return Napi::Value();  // the env is ending: no JS runs any more
  b->gotExit = event_base_got_exit(b->eb);
  b->gotBreak = event_base_got_break(b->eb);
  napi_value err;
  bool failed = TakePendingError(b, &err);
  // select fails the whole pass with EBADF on a closed fd: delete those events and say so;
  // the next loop call runs.
  if (!failed && r < 0 && !b->freeDeferred && b->checkFds) failed = CollectClosedFdEvents(b, -1, &err);
  if (b->freeDeferred) FreeBaseNow(b);
  ReleaseBaseIfUnused(b);  // released from inside the loop (raw binding): b may be gone now
  if (failed) {
    napi_throw(env, err);
    return Napi::Value();
  }
  if (r < 0) {
    ThrowError(env, "ERR_LIBEVENT", "event_base_loop failed: " + LastLibeventMessage());
    return Napi::Value();
  }
  return Napi::Number::New(env, r);
}

static Napi::Value BaseLoopexit(const Napi::CallbackInfo& info) {
  BaseRec* b = ArgBase(info, 0);
  if (!b) return Napi::Value();
  bool has;
  struct timeval tv;
  if (!ArgOptionalMs(info, 1, "delay", &has, &tv)) return Napi::Value();
  if (event_base_loopexit(b->eb, has ? &tv : nullptr) != 0) {
    ThrowError(info.Env(), "ERR_LIBEVENT", "event_base_loopexit failed");
    return Napi::Value();
  }
  return info.Env().Undefined();
}

static Napi::Value BaseLoopbreak(const Napi::CallbackInfo& info) {
  BaseRec* b = ArgBase(info, 0);
  if (!b) return Napi::Value();
  b->userBreak = true;
  BatchSpill(b);  // the events a running batch still holds stay queued for the next call
  if (b->coop && b->coop->active && !b->coop->inPass) b->coop->stopRequested = true;
  else event_base_loopbreak(b->eb);
  return info.Env().Undefined();
}

static Napi::Value BaseLoopcontinue(const Napi::CallbackInfo& info) {
  BaseRec* b = ArgBase(info, 0);
  if (!b) return Napi::Value();
  BatchSpill(b);
  event_base_loopcontinue(b->eb);
  return info.Env().Undefined();
}

static Napi::Value BaseGotExit(const Napi::CallbackInfo& info) {
  BaseRec* b = ArgBase(info, 0);
  if (!b) return Napi::Value();
  return Napi::Boolean::New(info.Env(), b->gotExit);
}

static Napi::Value BaseGotBreak(const Napi::CallbackInfo& info) {
  BaseRec* b = ArgBase(info, 0);
  if (!b) return Napi::Value();
  return Napi::Boolean::New(info.Env(), b->gotBreak);
}

static Napi::Value BaseRunning(const Napi::CallbackInfo& info) {
  BaseRec* b = ArgBase(info, 0);
  if (!b) return Napi::Value();
  return Napi::Boolean::New(info.Env(), b->loopDepth > 0 || (b->coop && b->coop->active));
}

// True while one of this base's callbacks is on the stack (a pass of event_base_loop).
static Napi::Value BaseInPass(const Napi::CallbackInfo& info) {
  BaseRec* b = ArgBase(info, 0);
  if (!b) return Napi::Value();
  return Napi::Boolean::New(info.Env(), b->loopDepth > 0);
}

void InitLoop(Napi::Env env, Napi::Object exports) {
  exports.Set("baseInPass", Napi::Function::New(env, BaseInPass));
  exports.Set("baseLoop", Napi::Function::New(env, BaseLoop));
  exports.Set("baseRun", Napi::Function::New(env, BaseRun));
  exports.Set("baseLoopexit", Napi::Function::New(env, BaseLoopexit));
  exports.Set("baseLoopbreak", Napi::Function::New(env, BaseLoopbreak));
  exports.Set("baseLoopcontinue", Napi::Function::New(env, BaseLoopcontinue));
  exports.Set("baseGotExit", Napi::Function::New(env, BaseGotExit));
  exports.Set("baseGotBreak", Napi::Function::New(env, BaseGotBreak));
  exports.Set("baseRunning", Napi::Function::New(env, BaseRunning));
}

}  // namespace nle
