// Small fd helpers so tests, benchmarks and services can drive events without Node's
// stream machinery: every fd made here is non-blocking and close-on-exec.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "common.h"

namespace nle {

static bool ArgFd(const Napi::CallbackInfo& info, size_t i, int* fd) {
  int64_t v;
  if (!ArgInt(info, i, "fd", 0, INT32_MAX, &v)) return false;
  *fd = static_cast<int>(v);
  return true;
}

// A Uint8Array (or Buffer) argument, with one N-API call: this is on every io.read/io.write.
static bool ArgBytes(const Napi::CallbackInfo& info, size_t i, uint8_t** data, size_t* len) {
  napi_typedarray_type type;
  void* p;
  if (napi_get_typedarray_info(info.Env(), info[i], &type, len, &p, nullptr, nullptr) != napi_ok || type != napi_uint8_array) {
    bool pending = false;
    napi_is_exception_pending(info.Env(), &pending);
    if (!pending) ThrowType(info.Env(), "ERR_INVALID_ARG_TYPE", "buffer must be a Uint8Array or Buffer");
    return false;
  }
  *data = static_cast<uint8_t*>(p);
  return true;
}

static Napi::Value Pair(napi_env env, int a, int b) {
  Napi::Array arr = Napi::Array::New(env, 2);
  arr.Set(0u, a);
  arr.Set(1u, b);
  return arr;
}

static Napi::Value Socketpair(const Napi::CallbackInfo& info) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
    ThrowErrno(info.Env(), errno, "socketpair");
    return Napi::Value();
  }
  ForgetFdKind(sv[0]);  // a number reused since an fd was closed outside io.close
  ForgetFdKind(sv[1]);
  return Pair(info.Env(), sv[0], sv[1]);
}

static Napi::Value Pipe(const Napi::CallbackInfo& info) {
  int p[2];
  if (pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) {
    ThrowErrno(info.Env(), errno, "pipe2");
    return Napi::Value();
  }
  ForgetFdKind(p[0]);
  ForgetFdKind(p[1]);
  return Pair(info.Env(), p[0], p[1]);
}

// One read(2) or write(2) of `buf`: bytes moved (0 at EOF for reads), -1 when it would block.
// A read into no room would return 0, the EOF value, while data waits: an empty or detached
// buffer is refused for reads, and a detached one for writes.
template <typename Op>
static Napi::Value Transfer(const Napi::CallbackInfo& info, Op op, const char* syscall, bool isRead) {
  int fd;
  uint8_t* data;
  size_t len;
  if (!ArgFd(info, 0, &fd) || !ArgBytes(info, 1, &data, &len)) return Napi::Value();
  if (len == 0) {
    napi_value ab;
    bool detached = false;
    if (napi_get_typedarray_info(info.Env(), info[1], nullptr, nullptr, nullptr, &ab, nullptr) == napi_ok)
      napi_is_detached_arraybuffer(info.Env(), ab, &detached);
    if (detached) {
      ThrowType(info.Env(), "ERR_INVALID_STATE", "buffer's ArrayBuffer is detached (transferred)");
      return Napi::Value();
    }
    if (isRead) {
      ThrowRange(info.Env(), "ERR_OUT_OF_RANGE", "read needs a buffer of at least 1 byte (0 would mean EOF)");
      return Napi::Value();
    }
  }
  ssize_t n;
  do n = op(fd, data, len); while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Napi::Number::New(info.Env(), -1);
    ThrowErrno(info.Env(), errno, syscall);
    return Napi::Value();
  }
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// recv/send on sockets, read/write on anything else (iobuf.cc caches which an fd is).
static Napi::Value Read(const Napi::CallbackInfo& info) { return Transfer(info, FdRead, "read", true); }
static Napi::Value Write(const Napi::CallbackInfo& info) {
  return Transfer(info, [](int fd, uint8_t* p, size_t n) { return FdWrite(fd, p, n); }, "write", false);
}

// close(fd) -> indexes of the events it deleted. Deleting first keeps libevent's evmap in
// step with the kernel: an fd closed with an event still added, then reused, is never
// reported by epoll (the likely cause of the "non-deterministic epoll" trouble Tor's
// update work ran into).
static Napi::Value Close(const Napi::CallbackInfo& info) {
  int fd;
  if (!ArgFd(info, 0, &fd)) return Napi::Value();
  if (FdOwnedByABase(fd)) {
    // libevent exits the process when its signal pipe is closed under it, and spins when the
    // write end goes: an event base's own fds go with base.free().
    ThrowError(info.Env(), "ERR_FD_OWNED_BY_BASE", "fd " + std::to_string(fd) + " belongs to an event base (its backend or signal pipe)");
    return Napi::Value();
  }
  AddonData* d = CurrentData();
  Napi::Array deleted = Napi::Array::New(info.Env());
  uint32_t n = 0;
  for (BaseRec* b : d->bases) {
    if (!b || !b->eb) continue;
    BatchSpill(b);  // deleting a waiting event takes it off libevent's queue, as it would
    for (EventRec* r : b->events) {
      if (!r->ev || r->fd != fd || (r->events & EV_SIGNAL) || !(r->events & (EV_READ | EV_WRITE | EV_CLOSED))) continue;
      event_del(r->ev);
      NoteDeleted(r);
      deleted.Set(n++, r->index);
    }
  }
  ForgetFdKind(fd);
  if (close(fd) != 0 && errno != EINTR) {
    ThrowErrno(info.Env(), errno, "close");
    return Napi::Value();
  }
  return deleted;
}

// A non-blocking, close-on-exec stream socket, or -1 after throwing.
static int StreamSocket(napi_env env, int family) {
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(env, errno, "socket");
  ForgetFdKind(fd);
  return fd;
}

static bool ResolveHost(napi_env env, const Napi::Value& hostV, int port, struct sockaddr_storage* ss, socklen_t* len) {
  if (!hostV.IsString()) {
    ThrowType(env, "ERR_INVALID_ARG_TYPE", "host must be a string");
    return false;
  }
  std::string host = hostV.As<Napi::String>().Utf8Value();
  if (host == "localhost") host = "127.0.0.1";
  memset(ss, 0, sizeof *ss);
  auto* v4 = reinterpret_cast<struct sockaddr_in*>(ss);
  auto* v6 = reinterpret_cast<struct sockaddr_in6*>(ss);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    *len = sizeof *v4;
    return true;
  }
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    *len = sizeof *v6;
    return true;
  }
  ThrowType(env, "ERR_INVALID_ADDRESS", "host must be a numeric IPv4/IPv6 address or 'localhost', got '" + host + "'");
  return false;
}

// listen(host, port, backlog = 511) -> fd
static Napi::Value Listen(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  int64_t port, backlog = 511;
  if (!ArgInt(info, 1, "port", 0, 65535, &port)) return Napi::Value();
  if (info.Length() > 2 && !info[2].IsUndefined() && !ArgInt(info, 2, "backlog", 1, 65535, &backlog)) return Napi::Value();
  struct sockaddr_storage ss;
  socklen_t len;
  if (!ResolveHost(env, info[0], static_cast<int>(port), &ss, &len)) return Napi::Value();
  int fd = StreamSocket(env, ss.ss_family);
  if (fd < 0) return Napi::Value();
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&ss), len) != 0 || listen(fd, static_cast<int>(backlog)) != 0) {
    int e = errno;
    close(fd);
    ThrowErrno(env, e, "listen");
    return Napi::Value();
  }
  return Napi::Number::New(env, fd);
}

static Napi::Value LocalPort(const Napi::CallbackInfo& info) {
  int fd;
  if (!ArgFd(info, 0, &fd)) return Napi::Value();
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<struct sockaddr*>(&ss), &len) != 0) {
    ThrowErrno(info.Env(), errno, "getsockname");
    return Napi::Value();
  }
  if (ss.ss_family == AF_INET) return Napi::Number::New(info.Env(), ntohs(reinterpret_cast<struct sockaddr_in*>(&ss)->sin_port));
  if (ss.ss_family == AF_INET6) return Napi::Number::New(info.Env(), ntohs(reinterpret_cast<struct sockaddr_in6*>(&ss)->sin6_port));
  ThrowError(info.Env(), "ERR_NOT_INET", "fd is not an IPv4/IPv6 socket");
  return Napi::Value();
}

// accept(fd) -> fd, or -1 when no connection is pending
static Napi::Value Accept(const Napi::CallbackInfo& info) {
  int fd;
  if (!ArgFd(info, 0, &fd)) return Napi::Value();
  int c;
  do c = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC); while (c < 0 && errno == EINTR);
  if (c < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Napi::Number::New(info.Env(), -1);
    ThrowErrno(info.Env(), errno, "accept");
    return Napi::Value();
  }
  ForgetFdKind(c);
  int one = 1;
  setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return Napi::Number::New(info.Env(), c);
}

// connect(host, port) -> fd; the connection completes asynchronously (wait for WRITE).
static Napi::Value Connect(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  int64_t port;
  if (!ArgInt(info, 1, "port", 1, 65535, &port)) return Napi::Value();
  struct sockaddr_storage ss;
  socklen_t len;
  if (!ResolveHost(env, info[0], static_cast<int>(port), &ss, &len)) return Napi::Value();
  int fd = StreamSocket(env, ss.ss_family);
  if (fd < 0) return Napi::Value();
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, reinterpret_cast<struct sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) {
    int e = errno;
    close(fd);
    ThrowErrno(env, e, "connect");
    return Napi::Value();
  }
  return Napi::Number::New(env, fd);
}

static bool UnixAddress(napi_env env, const Napi::Value& v, struct sockaddr_un* sa) {
  if (!v.IsString()) {
    ThrowType(env, "ERR_INVALID_ARG_TYPE", "path must be a string");
    return false;
  }
  std::string p = v.As<Napi::String>().Utf8Value();
  memset(sa, 0, sizeof *sa);
  if (p.empty() || p.size() >= sizeof sa->sun_path || p.find('\0') != std::string::npos) {
    ThrowRange(env, "ERR_OUT_OF_RANGE", "a Unix socket path must be 1-107 bytes without NUL");
    return false;
  }
  sa->sun_family = AF_UNIX;
  memcpy(sa->sun_path, p.data(), p.size());
  return true;
}

// listenUnix(path, mode = 0o600) -> fd. The socket file gets `mode` (owner-only by default)
// before anyone can connect. bind() would create it with the process umask applied, and
// changing the umask is process-wide (files made meanwhile by other threads got the wrong
// mode), so: bind inside a fresh private directory next to `path` (mkdtemp makes it 0700),
// chmod the file there, link it into place (EADDRINUSE if `path` exists), then listen.
static Napi::Value ListenUnix(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  struct sockaddr_un sa;
  int64_t mode = 0600;
  if (!UnixAddress(env, info[0], &sa)) return Napi::Value();
  if (info.Length() > 1 && !info[1].IsUndefined() && !ArgInt(info, 1, "mode", 0, 0777, &mode)) return Napi::Value();
  std::string target(sa.sun_path);
  size_t slash = target.rfind('/');
  std::string dir = slash == std::string::npos ? "." : target.substr(0, slash == 0 ? 1 : slash);
  std::string privateDir = dir + "/.nle-XXXXXX";
  struct sockaddr_un inside;
  memset(&inside, 0, sizeof inside);
  inside.sun_family = AF_UNIX;
  if (privateDir.size() + 2 >= sizeof inside.sun_path) {
    ThrowRange(env, "ERR_OUT_OF_RANGE", "a Unix socket path must leave 14 bytes for the private bind directory (directory part at most 93 bytes)");
    return Napi::Value();
  }
  if (mkdtemp(&privateDir[0]) == nullptr) {
    ThrowErrno(env, errno, "mkdtemp");
    return Napi::Value();
  }
  std::string insidePath = privateDir + "/s";
  memcpy(inside.sun_path, insidePath.data(), insidePath.size());
  int fd = StreamSocket(env, AF_UNIX);
  if (fd < 0) {
    rmdir(privateDir.c_str());
    return Napi::Value();
  }
  const char* failed = nullptr;
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&inside), sizeof inside) != 0) failed = "bind";
  else if (chmod(insidePath.c_str(), static_cast<mode_t>(mode)) != 0) failed = "chmod";
  else if (link(insidePath.c_str(), target.c_str()) != 0) failed = "link";
  int e = errno;
  if (failed && strcmp(failed, "link") == 0 && e == EEXIST) e = EADDRINUSE;
  unlink(insidePath.c_str());
  rmdir(privateDir.c_str());
  if (!failed && listen(fd, 16) != 0) {
    failed = "listen";
    e = errno;
    unlink(target.c_str());
  }
  if (failed) {
    close(fd);
    ThrowErrno(env, e, failed);
    return Napi::Value();
  }
  return Napi::Number::New(env, fd);
}

static Napi::Value ConnectUnix(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  struct sockaddr_un sa;
  if (!UnixAddress(env, info[0], &sa)) return Napi::Value();
  int fd = StreamSocket(env, AF_UNIX);
  if (fd < 0) return Napi::Value();
  if (connect(fd, reinterpret_cast<struct sockaddr*>(&sa), sizeof sa) != 0 && errno != EINPROGRESS && errno != EAGAIN) {
    int e = errno;
    close(fd);
    ThrowErrno(env, e, "connect");
    return Napi::Value();
  }
  return Napi::Number::New(env, fd);
}

void InitIo(Napi::Env env, Napi::Object exports) {
  Napi::Object io = Napi::Object::New(env);
  io.Set("socketpair", Napi::Function::New(env, Socketpair));
  io.Set("pipe", Napi::Function::New(env, Pipe));
  io.Set("read", Napi::Function::New(env, Read));
  io.Set("write", Napi::Function::New(env, Write));
  io.Set("close", Napi::Function::New(env, Close));
  io.Set("listen", Napi::Function::New(env, Listen));
  io.Set("localPort", Napi::Function::New(env, LocalPort));
  io.Set("accept", Napi::Function::New(env, Accept));
  io.Set("connect", Napi::Function::New(env, Connect));
  io.Set("listenUnix", Napi::Function::New(env, ListenUnix));
  io.Set("connectUnix", Napi::Function::New(env, ConnectUnix));
  InitIoBuffers(env, io);
  exports.Set("io", io);
}

}  // namespace nle
