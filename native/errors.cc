// Errors with a `code`, argument validation, and libevent's log routed where it helps.
#include <fcntl.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <mutex>

#include "common.h"

namespace nle {

static void ThrowWith(napi_env env, napi_status (*make)(napi_env, napi_value, napi_value, napi_value*),
                      const char* code, const std::string& msg) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;  // keep the first, most specific error
  napi_value c, m, err;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c);
  napi_create_string_utf8(env, msg.c_str(), msg.size(), &m);
  make(env, c, m, &err);
  napi_throw(env, err);
}

void ThrowType(napi_env env, const char* code, const std::string& msg) { ThrowWith(env, napi_create_type_error, code, msg); }
void ThrowRange(napi_env env, const char* code, const std::string& msg) { ThrowWith(env, napi_create_range_error, code, msg); }
void ThrowError(napi_env env, const char* code, const std::string& msg) { ThrowWith(env, napi_create_error, code, msg); }

// Node's convention for system errors: code is the errno name, plus errno and syscall.
void ThrowErrno(napi_env env, int err, const char* syscall) {
  const char* name = nullptr;
  switch (err) {
#define E(x) case x: name = #x; break;
    E(EBADF) E(EAGAIN) E(EPIPE) E(ECONNRESET) E(ECONNREFUSED) E(EINVAL) E(EMFILE) E(ENFILE)
    E(EADDRINUSE) E(EADDRNOTAVAIL) E(EACCES) E(ENOTSOCK) E(ENOTCONN) E(EISCONN) E(ENOBUFS) E(ENOMEM)
    E(EAFNOSUPPORT) E(EOPNOTSUPP) E(EPERM) E(EINTR) E(EIO) E(EFAULT) E(ENOENT) E(ETIMEDOUT) E(EHOSTUNREACH)
    E(ENETUNREACH)
#undef E
    default: name = "ESYSTEM";
  }
  std::string msg = std::string(syscall) + ": " + strerror(err) + " (" + name + ")";
  napi_value c, m, e, errnoVal, sc;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &c);
  napi_create_string_utf8(env, msg.c_str(), msg.size(), &m);
  napi_create_error(env, c, m, &e);
  napi_create_int32(env, -err, &errnoVal);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sc);
  napi_set_named_property(env, e, "errno", errnoVal);
  napi_set_named_property(env, e, "syscall", sc);
  napi_throw(env, e);
}

// libevent logs warnings (e.g. "epoll_ctl: Bad file descriptor") to stderr by default. Keep
// the last one so that a failing call can say why, and print nothing on success paths.
// libevent logs from inside its signal handler too ("evsig_handler: received signal N, but
// have no base configured"), on whatever thread the signal hit: that message is dropped before
// touching anything (thread-local storage of a loaded library may allocate on first use), and
// the others are copied into a fixed buffer, never allocated.
static thread_local char lastMessage[256];
static void LogToLast(int severity, const char* msg) {
  (void)severity;
  if (msg && strncmp(msg, "evsig_handler", 13) == 0) return;
  size_t n = 0;
  if (msg)
    for (; n + 1 < sizeof lastMessage && msg[n]; n++) lastMessage[n] = msg[n];
  lastMessage[n] = '\0';
}
std::string LastLibeventMessage() {
  std::string m = lastMessage;
  lastMessage[0] = '\0';
  return m;
}
void InstallLibeventLogging() {
  static std::once_flag once;
  std::call_once(once, [] { event_set_log_callback(LogToLast); });
}

static const char* TypeName(napi_env env, napi_value v) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  switch (t) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "a boolean";
    case napi_number: return "a number";
    case napi_string: return "a string";
    case napi_symbol: return "a symbol";
    case napi_function: return "a function";
    case napi_bigint: return "a bigint";
    default: return "an object";
  }
}

// One N-API call on the common path (napi_get_value_double fails for non-numbers); the
// type is looked up only to word the error.
bool ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t lo, int64_t hi, int64_t* out) {
  napi_env env = info.Env();
  napi_value v = info[i];
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) ThrowType(env, "ERR_INVALID_ARG_TYPE", std::string(name) + " must be a number, got " + TypeName(env, v));
    return false;
  }
  if (!std::isfinite(d) || d != std::floor(d) || d < static_cast<double>(lo) || d > static_cast<double>(hi)) {
    ThrowRange(env, "ERR_OUT_OF_RANGE",
               std::string(name) + " must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                   "], got " + Napi::Value(env, v).ToString().Utf8Value());
    return false;
  }
  *out = static_cast<int64_t>(d);
  return true;
}

// Timeouts are milliseconds, fractional allowed; capped at about 31,700 years so that
// libevent's `now + tv` cannot overflow.
bool MsToTimeval(napi_env env, const Napi::Value& v, const char* name, struct timeval* tv) {
  if (!v.IsNumber()) {
    ThrowType(env, "ERR_INVALID_ARG_TYPE", std::string(name) + " must be a number of milliseconds, got " + TypeName(env, v));
    return false;
  }
  double ms = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(ms) || ms < 0 || ms > 1e15) {
    ThrowRange(env, "ERR_OUT_OF_RANGE",
               std::string(name) + " must be a finite number of milliseconds in [0, 1e15], got " + v.ToString().Utf8Value());
    return false;
  }
  double sec = std::floor(ms / 1000.0);
  double usec = std::round((ms - sec * 1000.0) * 1000.0);
  if (usec >= 1e6) { sec += 1; usec -= 1e6; }
  tv->tv_sec = static_cast<time_t>(sec);
  tv->tv_usec = static_cast<suseconds_t>(usec);
  return true;
}

bool ArgOptionalMs(const Napi::CallbackInfo& info, size_t i, const char* name, bool* present, struct timeval* tv) {
  *present = !(info.Length() <= i || info[i].IsUndefined());
  if (!*present) return true;
  return MsToTimeval(info.Env(), info[i], name, tv);
}

double HandleOf(uint32_t generation, uint32_t index) {
  return static_cast<double>((static_cast<uint64_t>(generation) << kIndexBits) | index);
}

static bool DecodeHandle(const Napi::CallbackInfo& info, size_t i, const char* what, uint32_t* gen, uint32_t* idx) {
  int64_t h;
  if (!ArgInt(info, i, what, 0, static_cast<int64_t>((kMaxGeneration << kIndexBits) | kIndexMask), &h)) return false;
  *idx = static_cast<uint32_t>(static_cast<uint64_t>(h) & kIndexMask);
  *gen = static_cast<uint32_t>(static_cast<uint64_t>(h) >> kIndexBits);
  return true;
}

BaseRec* ArgBase(const Napi::CallbackInfo& info, size_t i, bool mustBeLive) {
  AddonData* d = CurrentData();
  uint32_t gen, idx;
  if (!DecodeHandle(info, i, "base handle", &gen, &idx)) return nullptr;
  BaseRec* b = idx < d->bases.size() ? d->bases[idx] : nullptr;
  if (!b || b->generation != gen || b->released) {
    ThrowError(info.Env(), "ERR_INVALID_HANDLE", "not a live event base handle");
    return nullptr;
  }
  if (mustBeLive && (!b->eb || b->freeDeferred)) {
    ThrowError(info.Env(), "ERR_BASE_FREED", "the event base has been freed");
    return nullptr;
  }
  return b;
}

EventRec* ArgEvent(const Napi::CallbackInfo& info, size_t i, bool mustBeLive) {
  AddonData* d = CurrentData();
  uint32_t gen, idx;
  if (!DecodeHandle(info, i, "event handle", &gen, &idx)) return nullptr;
  EventRec* r = idx < d->events.size() ? d->events[idx] : nullptr;
  if (!r || r->generation != gen) {
    ThrowError(info.Env(), "ERR_INVALID_HANDLE", "not a live event handle");
    return nullptr;
  }
  if (mustBeLive) {
    if (!r->base->eb || r->base->freeDeferred) {
      ThrowError(info.Env(), "ERR_BASE_FREED", "the event's base has been freed");
      return nullptr;
    }
    if (!r->ev || r->freeDeferred) {
      ThrowError(info.Env(), "ERR_EVENT_FREED", "the event has been freed");
      return nullptr;
    }
  }
  BatchTouch(r);  // an event recorded but not yet run goes back to libevent's queue first
  return r;
}

bool FdIsOpen(int fd) { return fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

}  // namespace nle
