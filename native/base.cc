// Event bases: creation from options, introspection, counts, once-events and freeing.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "common.h"

namespace nle {

static std::vector<int> HighPipes();

static const char* const kKnownMethods[] = {"epoll", "poll", "select", "kqueue", "devpoll", "evport", "win32"};
static const struct { const char* name; int bit; } kFeatures[] = {
    {"et", EV_FEATURE_ET}, {"o1", EV_FEATURE_O1}, {"fds", EV_FEATURE_FDS}, {"earlyClose", EV_FEATURE_EARLY_CLOSE}};

static bool IsKnownMethod(const std::string& m) {
  for (const char* k : kKnownMethods)
    if (m == k) return true;
  return false;
}

// event_get_supported_methods() rebuilds a static array on every call, without a lock: two
// threads calling it at once corrupt the heap. It is called once, here, and copied.
static const std::vector<std::string>& SupportedMethodList() {
  static std::once_flag once;
  static std::vector<std::string> list;
  std::call_once(once, [] {
    const char** all = event_get_supported_methods();
    for (int i = 0; all && all[i]; i++) list.emplace_back(all[i]);
  });
  return list;
}

static bool IsSupportedMethod(const std::string& m) {
  for (const std::string& s : SupportedMethodList())
    if (m == s) return true;
  return false;
}

// Whether libevent can pick select for these options: the method named, or else no poll (which
// precedes select in libevent's order, never fails to start, and has every feature select
// has) and no feature select lacks. EVENT_NOPOLL in the environment disables poll as avoid does.
static bool MaySelect(const std::string& chosen, const std::vector<std::string>& avoided, int required) {
  if (!IsSupportedMethod("select")) return false;
  if (!chosen.empty()) return chosen == "select";
  if (required & (EV_FEATURE_ET | EV_FEATURE_O1 | EV_FEATURE_EARLY_CLOSE)) return false;
  bool pollUsable = IsSupportedMethod("poll") && !getenv("EVENT_NOPOLL") &&
                    std::find(avoided.begin(), avoided.end(), "poll") == avoided.end();
  return !pollUsable;
}

// Validates a method name: unknown names are a RangeError, known ones missing here an Error.
static bool CheckMethodName(napi_env env, const Napi::Value& v, const char* what, std::string* out) {
  if (!v.IsString()) {
    ThrowType(env, "ERR_INVALID_ARG_TYPE", std::string(what) + " must be a method name string");
    return false;
  }
  *out = v.As<Napi::String>().Utf8Value();
  if (!IsKnownMethod(*out)) {
    ThrowRange(env, "ERR_UNKNOWN_METHOD", std::string("unknown event method '") + *out +
                                              "' (libevent knows epoll, poll, select, kqueue, devpoll, evport, win32)");
    return false;
  }
  return true;
}

static Napi::Value SupportedMethods(const Napi::CallbackInfo& info) {
  const std::vector<std::string>& all = SupportedMethodList();
  Napi::Array arr = Napi::Array::New(info.Env(), all.size());
  for (uint32_t i = 0; i < all.size(); i++) arr.Set(i, Napi::String::New(info.Env(), all[i]));
  return arr;
}

static Napi::Value LibeventVersion(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), event_get_version());
}

static uint32_t AllocSlot(std::vector<BaseRec*>& table, std::vector<uint32_t>& freeSlots, std::vector<uint32_t>& gens) {
  if (!freeSlots.empty()) {
    uint32_t i = freeSlots.back();
    freeSlots.pop_back();
    return i;
  }
  table.push_back(nullptr);
  gens.push_back(0);
  return static_cast<uint32_t>(table.size() - 1);
}

static bool ThrewInJs(napi_env env) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  return pending;
}

// baseNew(options) -> { handle, method, features, priorities }. Every option (getters and
// Proxy traps included) is read and validated before anything is created: a throwing getter
// or a bad value leaves no base behind.
static Napi::Value BaseNew(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  AddonData* d = CurrentData();
  Napi::Object opts = Napi::Object::New(env);
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    if (!info[0].IsObject() || info[0].IsArray()) {
      ThrowType(env, "ERR_INVALID_ARG_TYPE", "EventBase options must be an object");
      return Napi::Value();
    }
    opts = info[0].As<Napi::Object>();
  }
  struct event_config* cfg = event_config_new();
  if (!cfg) {
    ThrowError(env, "ERR_LIBEVENT", "event_config_new failed");
    return Napi::Value();
  }
  struct CfgGuard { struct event_config* c; ~CfgGuard() { event_config_free(c); } } guard{cfg};

  Napi::Value method = opts.Get("method");
  Napi::Value avoid = opts.Get("avoid");
  Napi::Value req = opts.Get("requireFeatures");
  Napi::Value timerFlags[2] = {opts.Get("preciseTimer"), opts.Get("noCacheTime")};
  Napi::Value pr = opts.Get("priorities");
  if (ThrewInJs(env)) return Napi::Value();
  std::string chosen;            // options.method, if given
  std::vector<std::string> avoided;  // options.avoid
  if (!method.IsUndefined()) {
    std::string m;
    if (!CheckMethodName(env, method, "options.method", &m)) return Napi::Value();
    if (!IsSupportedMethod(m)) {
      ThrowError(env, "ERR_METHOD_UNAVAILABLE", "event method '" + m + "' is not available in this libevent build");
      return Napi::Value();
    }
    for (const std::string& other : SupportedMethodList())
      if (m != other) event_config_avoid_method(cfg, other.c_str());
    chosen = m;
  }
  if (!avoid.IsUndefined()) {
    if (!avoid.IsArray()) {
      ThrowType(env, "ERR_INVALID_ARG_TYPE", "options.avoid must be an array of method names");
      return Napi::Value();
    }
    Napi::Array a = avoid.As<Napi::Array>();
    uint32_t n = a.Length();
    for (uint32_t i = 0; i < n; i++) {
      std::string m;
      Napi::Value v = a.Get(i);
      if (ThrewInJs(env) || !CheckMethodName(env, v, "options.avoid[]", &m)) return Napi::Value();
      event_config_avoid_method(cfg, m.c_str());
      avoided.push_back(m);
    }
  }
  int required = 0;
  if (!req.IsUndefined()) {
    if (!req.IsArray()) {
      ThrowType(env, "ERR_INVALID_ARG_TYPE", "options.requireFeatures must be an array of 'et', 'o1', 'fds', 'earlyClose'");
      return Napi::Value();
    }
    Napi::Array a = req.As<Napi::Array>();
    uint32_t n = a.Length();
    for (uint32_t i = 0; i < n; i++) {
      Napi::Value f = a.Get(i);
      if (ThrewInJs(env)) return Napi::Value();
      std::string name = f.IsString() ? f.As<Napi::String>().Utf8Value() : "";
      int bit = 0;
      for (auto& k : kFeatures)
        if (name == k.name) bit = k.bit;
      if (!bit) {
        ThrowRange(env, "ERR_UNKNOWN_FEATURE", "options.requireFeatures entries must be 'et', 'o1', 'fds' or 'earlyClose'");
        return Napi::Value();
      }
      required |= bit;
    }
    event_config_require_features(cfg, required);
  }
  int flags = 0;
  for (int k = 0; k < 2; k++) {
    const char* name = k == 0 ? "preciseTimer" : "noCacheTime";
    Napi::Value v = timerFlags[k];
    if (v.IsUndefined()) continue;
    if (!v.IsBoolean()) {
      ThrowType(env, "ERR_INVALID_ARG_TYPE", std::string("options.") + name + " must be a boolean");
      return Napi::Value();
    }
    if (v.As<Napi::Boolean>().Value())
      flags |= strcmp(name, "preciseTimer") == 0 ? EVENT_BASE_FLAG_PRECISE_TIMER : EVENT_BASE_FLAG_NO_CACHE_TIME;
  }
  event_config_set_flag(cfg, flags);
  int priorities = 1;
  if (!pr.IsUndefined()) {
    if (!pr.IsNumber()) {
      ThrowType(env, "ERR_INVALID_ARG_TYPE", "options.priorities must be a number");
      return Napi::Value();
    }
    double p = pr.As<Napi::Number>().DoubleValue();
    // event_base_priority_init takes 1 .. EVENT_MAX_PRIORITIES - 1.
    if (!(p >= 1 && p < EVENT_MAX_PRIORITIES) || p != static_cast<int>(p)) {
      ThrowRange(env, "ERR_OUT_OF_RANGE", "options.priorities must be an integer in [1, 255]");
      return Napi::Value();
    }
    priorities = static_cast<int>(p);
  }

  // libevent exits the process (event_sock_err) when it cannot make a base's own fds: the
  // backend's (epoll fd, timerfd) and the signal pipe, at most 4. And select puts its signal
  // pipe on the lowest free fds, where Debian's fortified FD_SET aborts on fd >= FD_SETSIZE
  // once a signal event is added. So check that 4 fds are free, and note the lowest one.
  if (ThrewInJs(env)) return Napi::Value();  // e.g. a Proxy's trap in IsArray or Length
  int probe[4];
  int probed = ProbeLowestFree(probe, 4);
  int probeErrno = errno;
  int lowestFree = probed > 0 ? probe[0] : -1;
  if (probed < 4) {
    ThrowErrno(env, probeErrno, "event_base_new (no fds left for the base's own)");
    return Napi::Value();
  }
  // The scan of /proc/self/fd costs milliseconds in a process with thousands of fds: only
  // for a base that can turn out to be select.
  bool maySelect = MaySelect(chosen, avoided, required);
  std::vector<int> highPipesBefore = maySelect ? HighPipes() : std::vector<int>();
  struct event_base* eb = event_base_new_with_config(cfg);
  if (!eb) {
    std::string why = LastLibeventMessage();
    ThrowError(env, "ERR_METHOD_UNAVAILABLE",
               "no event method satisfies these options" + (why.empty() ? std::string() : " (libevent: " + why + ")"));
    return Napi::Value();
  }
  if (priorities != 1 && event_base_priority_init(eb, priorities) != 0) {
    event_base_free(eb);
    ThrowError(env, "ERR_LIBEVENT", "event_base_priority_init failed");
    return Napi::Value();
  }
  BaseRec* b = new BaseRec();
  b->data = d;
  b->inst = InstanceOf(env);
  b->eb = eb;
  b->method = event_base_get_method(eb);
  // "epoll (with changelist)" is still the epoll backend; report the family name.
  size_t sp = b->method.find(' ');
  if (sp != std::string::npos) b->method.resize(sp);
  b->features = event_base_get_features(eb);
  RecordOwnedFds(b, probe, 4);  // libevent's fds took (some of) the lowest free ones
  b->priorities = event_base_get_npriorities(eb);
  b->selectBackend = b->method == "select";
  b->checkFds = b->selectBackend || b->method == "poll";
  if (b->selectBackend) {
    b->selectSignalFd = lowestFree;  // pipe2's read end: the lowest free fd, unless another thread raced
    // Without a list from before (MaySelect wrong for this libevent), every high pipe counts:
    // signal events are then refused rather than risking libevent's abort.
    for (int fd : HighPipes())
      if (!maySelect || std::find(highPipesBefore.begin(), highPipesBefore.end(), fd) == highPipesBefore.end())
        b->selectSignalFd = std::max(b->selectSignalFd, fd);
  }
  b->index = AllocSlot(d->bases, d->freeBaseSlots, d->baseGenerations);
  b->generation = d->baseGenerations[b->index];
  d->bases[b->index] = b;
  d->liveBases++;

  Napi::Object out = Napi::Object::New(env);
  out.Set("handle", HandleOf(b->generation, b->index));
  out.Set("method", b->method);
  Napi::Object feats = Napi::Object::New(env);
  for (auto& k : kFeatures) feats.Set(k.name, Napi::Boolean::New(env, (b->features & k.bit) != 0));
  out.Set("features", feats);
  out.Set("priorities", b->priorities);
  return out;
}

// The thrown value is kept inside a holder object: Node-API 8 references only objects,
// functions and symbols, and a callback may throw anything (a string, a number, undefined).
bool TakePendingError(BaseRec* b, napi_value* err) {
  if (!b->pendingError) return false;
  napi_env env = b->inst->env;
  napi_value holder;
  napi_get_reference_value(env, b->pendingError, &holder);
  napi_get_element(env, holder, 0, err);
  napi_delete_reference(env, b->pendingError);
  b->pendingError = nullptr;
  return true;
}

void StorePendingError(BaseRec* b, napi_value err) {
  if (b->pendingError) return;  // the loop breaks after the first error; later ones would be masked anyway
  napi_env env = b->inst->env;
  napi_value holder;
  napi_create_array_with_length(env, 1, &holder);
  napi_set_element(env, holder, 0, err);
  napi_create_reference(env, holder, 1, &b->pendingError);
}

// Pipes at fd >= FD_SETSIZE, as listed in /proc/self/fd. The lowest-free probe before a
// select base is made races with other threads opening fds, so the pipes above select's
// limit are also compared before and after: a new one may be the base's signal pipe.
static std::vector<int> HighPipes() {
  std::vector<int> out;
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return out;
  while (struct dirent* e = readdir(dir)) {
    char* end;
    long fd = strtol(e->d_name, &end, 10);
    struct stat st;
    if (*end || fd < FD_SETSIZE || fd == dirfd(dir)) continue;
    if (fstat(static_cast<int>(fd), &st) == 0 && S_ISFIFO(st.st_mode)) out.push_back(static_cast<int>(fd));
  }
  closedir(dir);
  return out;
}

// A JS call from a trampoline failed: keep the exception it left (if any) for the loop's caller.
void StoreThrownError(BaseRec* b) {
  napi_env env = b->inst->env;
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) return;
  napi_value err;
  napi_get_and_clear_last_exception(env, &err);
  StorePendingError(b, err);
}

// Frees libevent's side of a base. Records stay until JS lets go of them, so that every
// later call gets ERR_BASE_FREED instead of touching freed memory.
void FreeBaseNow(BaseRec* b) {
  if (!b->eb) return;
  CloseCoop(b);
  CloseBatch(b);
  FreeBufferedOfBase(b);
  CloseTeardownWatch(b);
  for (EventRec* r : b->events) FreeEventStruct(r);  // deletes first: restores signal handlers
  event_base_free(b->eb);
  b->eb = nullptr;
  ForgetOwnedFds(b);
  UpdateSignalOwner(b);  // gives up signal delivery
  b->freeDeferred = false;
  if (b->pendingError) {
    napi_delete_reference(b->inst->env, b->pendingError);
    b->pendingError = nullptr;
  }
}

// Drops a released base once no event record refers to it. Never while its loop is on the
// stack: BaseLoop and OnCheck still use the record when event_base_loop returns, and call
// this again then.
void ReleaseBaseIfUnused(BaseRec* b) {
  if (!b->released || !b->events.empty() || b->loopDepth > 0) return;
  AddonData* d = b->data;
  FreeBaseNow(b);
  d->bases[b->index] = nullptr;
  if (d->baseGenerations[b->index] < kMaxGeneration) {
    d->baseGenerations[b->index]++;
    d->freeBaseSlots.push_back(b->index);
  }
  d->liveBases--;
  delete b;
}

static Napi::Value BaseFree(const Napi::CallbackInfo& info) {
  BaseRec* b = ArgBase(info, 0);
  if (!b) return Napi::Value();
  BatchSpill(b);
  if (b->loopDepth > 0) {
    // Inside one of its own callbacks: libevent is still on the stack. Stop the loop now and
    // free when it returns; from here on every call already reports ERR_BASE_FREED.
    b->freeDeferred = true;
    event_base_loopbreak(b->eb);
  } else {
    FreeBaseNow(b);
  }
  return info.Env().Undefined();
}

// JS object collected (or env teardown): free everything once no event record needs it.
static Napi::Value BaseRelease(const Napi::CallbackInfo& info) {
  BaseRec* b = ArgBase(info, 0, false);
  if (!b) return Napi::Value();
  BatchSpill(b);
  if (b->loopDepth == 0) {
    FreeBaseNow(b);
  } else if (b->eb) {
    // Released from inside its own loop (raw binding): stop it and free when it returns.
    b->freeDeferred = true;
    event_base_loopbreak(b->eb);
  }
  b->released = true;
  ReleaseBaseIfUnused(b);
  return info.Env().Undefined();
}

static Napi::Value BaseNumEvents(const Napi::CallbackInfo& info) {
  BaseRec* b = ArgBase(info, 0);
  int64_t flags;
  if (!b || !ArgInt(info, 1, "count flags", 1, 7, &flags)) return Napi::Value();
  BatchSpill(b);
  int n = event_base_get_num_events(b->eb, static_cast<unsigned>(flags));
  if (flags & EVENT_BASE_COUNT_ACTIVE) n -= ActiveInternalEvents(b);
  return Napi::Number::New(info.Env(), n);
}

// Indexes of this base's live (not freed) API events as a Uint32Array, all of them or only
// the pending or active ones (each once). The update host reads every event at each update:
// one typed array costs a fraction of a JS array filled element by element through N-API.
static Napi::Value EventIndexes(const Napi::CallbackInfo& info, bool pendingOnly) {
  BaseRec* b = ArgBase(info, 0);
  if (b && pendingOnly) BatchSpill(b);
  if (!b) return Napi::Value();
  auto wanted = [pendingOnly](const EventRec* r) {
    return r->ev && !r->freeDeferred && (!pendingOnly || (r->ev->ev_evcallback.evcb_flags & kPendingFlags));
  };
  size_t n = 0;
  for (EventRec* r : b->events) n += wanted(r);
  Napi::Uint32Array arr = Napi::Uint32Array::New(info.Env(), n);
  uint32_t* out = arr.Data();
  if (!out) return arr;  // empty (no buffer), or N-API failed with an exception pending
  for (EventRec* r : b->events)
    if (wanted(r)) *out++ = r->index;
  return arr;
}

static Napi::Value BasePendingEvents(const Napi::CallbackInfo& info) { return EventIndexes(info, true); }
static Napi::Value BaseAllEvents(const Napi::CallbackInfo& info) { return EventIndexes(info, false); }

static Napi::Value BaseDump(const Napi::CallbackInfo& info) {
  BaseRec* b = ArgBase(info, 0);
  if (b) BatchSpill(b);
  if (!b) return Napi::Value();
  char* buf = nullptr;
  size_t len = 0;
  FILE* f = open_memstream(&buf, &len);
  if (!f) {
    ThrowErrno(info.Env(), errno, "open_memstream");
    return Napi::Value();
  }
  event_base_dump_events(b->eb, f);
  fclose(f);
  Napi::String s = Napi::String::New(info.Env(), buf, len);
  free(buf);
  return s;
}

static Napi::Value BaseNow(const Napi::CallbackInfo& info) {
  BaseRec* b = ArgBase(info, 0);
  if (!b) return Napi::Value();
  struct timeval tv;
  event_base_gettimeofday_cached(b->eb, &tv);
  return Napi::Number::New(info.Env(), static_cast<double>(tv.tv_sec) * 1000.0 + tv.tv_usec / 1000.0);
}

static Napi::Value BaseStats(const Napi::CallbackInfo& info) {
  AddonData* d = CurrentData();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("liveEvents", static_cast<double>(d->liveEvents));
  o.Set("liveBases", static_cast<double>(d->liveBases));
  return o;
}

void InitBase(Napi::Env env, Napi::Object exports) {
  exports.Set("supportedMethods", Napi::Function::New(env, SupportedMethods));
  exports.Set("libeventVersion", Napi::Function::New(env, LibeventVersion));
  exports.Set("baseNew", Napi::Function::New(env, BaseNew));
  exports.Set("baseFree", Napi::Function::New(env, BaseFree));
  exports.Set("baseRelease", Napi::Function::New(env, BaseRelease));
  exports.Set("baseNumEvents", Napi::Function::New(env, BaseNumEvents));
  exports.Set("basePendingEvents", Napi::Function::New(env, BasePendingEvents));
  exports.Set("baseAllEvents", Napi::Function::New(env, BaseAllEvents));
  exports.Set("baseDump", Napi::Function::New(env, BaseDump));
  exports.Set("baseNow", Napi::Function::New(env, BaseNow));
  exports.Set("stats", Napi::Function::New(env, BaseStats));
}

}  // namespace nle
