// Listeners (evconnlistener): libevent's accept4 loop; each accepted socket is handed to JS as
// a bufferevent that owns it (or as the bare fd).
//
// On EMFILE/ENFILE libevent calls the error callback and stays enabled, and the connection
// left in the kernel's queue makes the listening fd readable again at once: a hot loop
// (libevent#71). The binding disables the listener, tells JS, and re-enables it from a timer.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "buffered.h"

namespace nle {

static double Handle(const LisRec* l) { return HandleOf(l->generation, l->index); }

struct LisFrame {
  LisRec* l;
  explicit LisFrame(LisRec* rec) : l(rec) { l->running++; }
  ~LisFrame() {
    if (--l->running == 0 && l->dead) {
      Buffered()->listeners.Remove(l);
      delete l;
    }
  }
};

static void AcceptCb(struct evconnlistener* lev, evutil_socket_t fd, struct sockaddr* sa, int socklen, void* arg) {
  LisRec* l = static_cast<LisRec*>(arg);
  if (l->dead || l->base->freeDeferred || Buffered()->tearingDown) {
    close(fd);
    return;
  }
  LisFrame f(l);
  if (l->base->selectBackend && fd >= FD_SETSIZE) {
    close(fd);  // select cannot watch it; the client sees a reset
    l->acceptErrors++;
    CallBufferedDispatcher(l->base, kAcceptError, Handle(l), -1, 0);
    return;
  }
  if (!l->wrap) {
    CallBufferedDispatcher(l->base, kAccept, Handle(l), fd, 1);
    return;
  }
  if (l->noDelay) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  BevRec* r = WrapSocket(l->base, fd, true, EV_READ | EV_WRITE);
  if (!r) {
    close(fd);
    return;
  }
  CallBufferedDispatcher(l->base, kAccept, Handle(l), HandleOf(r->generation, r->index), 0);
}

static void RetryCb(evutil_socket_t, short, void* arg) {
  LisRec* l = static_cast<LisRec*>(arg);
  l->backingOff = false;
  if (!l->dead && l->userEnabled) evconnlistener_enable(l->lev);
}

static void ErrorCb(struct evconnlistener* lev, void* arg) {
  int err = EVUTIL_SOCKET_ERROR();
  LisRec* l = static_cast<LisRec*>(arg);
  if (l->dead || l->base->freeDeferred) return;
  LisFrame f(l);
  l->acceptErrors++;
  evconnlistener_disable(lev);
  l->backingOff = true;
  struct timeval tv = {l->retryMs / 1000, (l->retryMs % 1000) * 1000};
  event_add(l->retry, &tv);
  CallBufferedDispatcher(l->base, kAcceptError, Handle(l), err, 0);
}

void FreeListener(LisRec* l) {
  if (l->dead) return;
  l->dead = true;
  if (l->retry) event_free(l->retry);
  l->retry = nullptr;
  evconnlistener_free(l->lev);  // synchronous (postponed by libevent inside its own callback)
  l->lev = nullptr;
  if (l->running == 0) {
    Buffered()->listeners.Remove(l);
    delete l;
  }
}

static LisRec* ArgLis(const Napi::CallbackInfo& info, size_t i) {
  double h;
  if (!ArgHandleNumber(info, i, "listener handle", &h)) return nullptr;
  LisRec* l = Buffered()->listeners.Find(h);
  if (!l) {
    ThrowError(info.Env(), "ERR_INVALID_HANDLE", "not a live listener handle");
    return nullptr;
  }
  if (l->dead) {
    ThrowError(info.Env(), "ERR_LISTENER_FREED", "the listener has been freed");
    return nullptr;
  }
  if (!BaseUsable(info.Env(), l->base)) return nullptr;
  return l;
}

static bool ArgBool(const Napi::CallbackInfo& info, size_t i, const char* name, bool* out) {
  if (!info[i].IsBoolean()) {
    ThrowType(info.Env(), "ERR_INVALID_ARG_TYPE", std::string(name) + " must be a boolean");
    return false;
  }
  *out = info[i].As<Napi::Boolean>().Value();
  return true;
}

// lisNew(base, host, port, backlog, reuseAddr, reusePort, wrap, noDelay, retryMs, enabled) -> handle
static Napi::Value LisNew(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  BaseRec* b = ArgBase(info, 0);
  if (!b) return Napi::Value();
  struct sockaddr_storage ss;
  socklen_t len;
  int64_t backlog, retryMs;
  bool reuseAddr, reusePort, wrap, noDelay, enabled;
  if (!ParseAddress(env, info[1], info[2], &ss, &len, "listen()") || !ArgInt(info, 3, "backlog", 1, 65535, &backlog) ||
      !ArgBool(info, 4, "reuseAddr", &reuseAddr) || !ArgBool(info, 5, "reusePort", &reusePort) ||
      !ArgBool(info, 6, "wrap", &wrap) || !ArgBool(info, 7, "noDelay", &noDelay) ||
      !ArgInt(info, 8, "retryMs", 1, 3600000, &retryMs) || !ArgBool(info, 9, "enabled", &enabled))
    return Napi::Value();
  // Our own socket (not evconnlistener_new_bind): no SO_KEEPALIVE, as in Node, and the fd
  // limit of select is checked before libevent registers it.
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ThrowErrno(env, errno, "socket");
    return Napi::Value();
  }
  auto fail = [&](const char* call) {
    int e = errno;
    close(fd);
    ThrowErrno(env, e, call);
    return Napi::Value();
  };
  if (b->selectBackend && fd >= FD_SETSIZE) {
    close(fd);
    ThrowRange(env, "ERR_FD_SETSIZE", "the select backend cannot watch fd " + std::to_string(fd) + " (limit 1023)");
    return Napi::Value();
  }
  int one = 1;
  if (reuseAddr && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) return fail("setsockopt");
  if (reusePort && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) return fail("setsockopt");
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&ss), len) != 0) return fail("bind");
  if (listen(fd, static_cast<int>(backlog)) != 0) return fail("listen");
  LisRec* l = new LisRec();
  l->base = b;
  l->fd = fd;
  l->wrap = wrap;
  l->noDelay = noDelay;
  l->retryMs = static_cast<int>(retryMs);
  l->userEnabled = enabled;
  l->retry = event_new(b->eb, -1, 0, RetryCb, l);
  unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | (enabled ? 0 : LEV_OPT_DISABLED);
  // backlog 0: the socket is already listening.
  l->lev = l->retry ? evconnlistener_new(b->eb, AcceptCb, l, flags, 0, fd) : nullptr;
  if (!l->lev) {
    if (l->retry) event_free(l->retry);
    delete l;
    close(fd);
    ThrowError(env, "ERR_LIBEVENT", "evconnlistener_new failed");
    return Napi::Value();
  }
  evconnlistener_set_error_cb(l->lev, ErrorCb);
  Buffered()->listeners.Add(l);
  return Napi::Number::New(env, Handle(l));
}

static Napi::Value LisEnable(const Napi::CallbackInfo& info) {
  LisRec* l = ArgLis(info, 0);
  if (!l) return Napi::Value();
  l->userEnabled = true;
  if (!l->backingOff) evconnlistener_enable(l->lev);
  return info.Env().Undefined();
}

static Napi::Value LisDisable(const Napi::CallbackInfo& info) {
  LisRec* l = ArgLis(info, 0);
  if (!l) return Napi::Value();
  l->userEnabled = false;
  evconnlistener_disable(l->lev);
  return info.Env().Undefined();
}

static Napi::Value LisFree(const Napi::CallbackInfo& info) {
  LisRec* l = ArgLis(info, 0);
  if (!l) return Napi::Value();
  FreeListener(l);
  return info.Env().Undefined();
}

// [fd, port, accept errors so far, backing off]
static Napi::Value LisInfo(const Napi::CallbackInfo& info) {
  LisRec* l = ArgLis(info, 0);
  if (!l) return Napi::Value();
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int port = -1;
  if (getsockname(l->fd, reinterpret_cast<struct sockaddr*>(&ss), &len) == 0) {
    if (ss.ss_family == AF_INET) port = ntohs(reinterpret_cast<struct sockaddr_in*>(&ss)->sin_port);
    else if (ss.ss_family == AF_INET6) port = ntohs(reinterpret_cast<struct sockaddr_in6*>(&ss)->sin6_port);
  }
  Napi::Array out = Napi::Array::New(info.Env(), 5);
  out.Set(0u, l->fd);
  out.Set(1u, port);
  out.Set(2u, static_cast<double>(l->acceptErrors));
  out.Set(3u, l->backingOff);
  out.Set(4u, l->userEnabled);
  return out;
}

void InitListener(Napi::Env env, Napi::Object exports) {
  exports.Set("lisNew", Napi::Function::New(env, LisNew));
  exports.Set("lisEnable", Napi::Function::New(env, LisEnable));
  exports.Set("lisDisable", Napi::Function::New(env, LisDisable));
  exports.Set("lisFree", Napi::Function::New(env, LisFree));
  exports.Set("lisInfo", Napi::Function::New(env, LisInfo));
}

}  // namespace nle
