// The cheap I/O path: socket-aware read/write and buffers registered once.
//
// Sockets: recv(2)/send(2) cost less in the kernel than read(2)/write(2) on a socket. An fd's
// kind (socket or not) is found once with fstat and cached per fd number; io.close forgets
// it. An fd closed some other way and reused keeps a stale entry, which is still safe: a
// stale "socket" gets ENOTSOCK from recv/send and is re-learned (then read/write is used), a
// stale "other" uses read/write, which works on sockets too.
//
// Registered buffers: io.buffer(size) allocates the bytes here and hands JavaScript an
// external ArrayBuffer over them. Each call then names the buffer by a small integer id, so
// the hot path decodes only numbers (no typed-array lookup per call). The memory is freed
// when both the registration is dropped and the ArrayBuffer is collected, so neither a
// detached nor a collected ArrayBuffer can leave the addon with a dangling pointer.
//
// The hot functions are plain Node-API callbacks (no node-addon-api wrapper objects).
// V8's fast API calls would save more, but they are V8's C++ API, not Node-API: an addon
// using them must be rebuilt for every Node major version, which this package avoids.
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "common.h"

namespace nle {

// ---------------------------------------------------------------------------------------
// fd kinds (process-wide: fd numbers are shared by every thread)

enum : uint8_t { kKindUnknown = 0, kKindSocket = 1, kKindOther = 2 };
constexpr int kKindSlots = 1 << 16;
static std::atomic<uint8_t> fdKinds[kKindSlots];

static uint8_t KindOf(int fd) {
  if (fd >= kKindSlots) return kKindOther;
  uint8_t k = fdKinds[fd].load(std::memory_order_relaxed);
  if (k != kKindUnknown) return k;
  struct stat st;
  if (fstat(fd, &st) != 0) return kKindOther;  // let read/write report the error
  k = S_ISSOCK(st.st_mode) ? kKindSocket : kKindOther;
  fdKinds[fd].store(k, std::memory_order_relaxed);
  return k;
}

void ForgetFdKind(int fd) {
  if (fd >= 0 && fd < kKindSlots) fdKinds[fd].store(kKindUnknown, std::memory_order_relaxed);
}

ssize_t FdRead(int fd, uint8_t* p, size_t n) {
  ssize_t got;
  if (KindOf(fd) == kKindSocket) {
    do got = recv(fd, p, n, 0); while (got < 0 && errno == EINTR);
    if (got >= 0 || errno != ENOTSOCK) return got;
    fdKinds[fd].store(kKindOther, std::memory_order_relaxed);
  }
  do got = read(fd, p, n); while (got < 0 && errno == EINTR);
  return got;
}

ssize_t FdWrite(int fd, const uint8_t* p, size_t n) {
  ssize_t put;
  if (KindOf(fd) == kKindSocket) {
    // MSG_NOSIGNAL: a closed peer is an EPIPE error, never a SIGPIPE (as with Node's sockets).
    do put = send(fd, p, n, MSG_NOSIGNAL); while (put < 0 && errno == EINTR);
    if (put >= 0 || errno != ENOTSOCK) return put;
    fdKinds[fd].store(kKindOther, std::memory_order_relaxed);
  }
  do put = write(fd, p, n); while (put < 0 && errno == EINTR);
  return put;
}

// ---------------------------------------------------------------------------------------
// Registered buffers (per environment: each JS thread has its own table)

struct IoBuffer {
  uint8_t* data = nullptr;
  size_t length = 0;
  int owners = 2;  // the registration and the ArrayBuffer
};

static void DropOwner(IoBuffer* b) {
  if (--b->owners > 0) return;
  free(b->data);
  delete b;
}

struct BufferTable {
  std::vector<IoBuffer*> slots;
  std::vector<uint32_t> generations;
  std::vector<uint32_t> freeSlots;
};
static thread_local BufferTable* buffers = nullptr;

constexpr int kBufIndexBits = 20;
constexpr uint32_t kBufIndexMask = (1u << kBufIndexBits) - 1;
constexpr uint32_t kBufMaxGeneration = (1u << 11) - 1;  // ids stay below 2^31

static void CleanupBuffers(void* arg) {
  BufferTable* t = static_cast<BufferTable*>(arg);
  for (IoBuffer* b : t->slots)
    if (b) DropOwner(b);
  if (buffers == t) buffers = nullptr;
  delete t;
}

static void FinalizeArrayBuffer(napi_env, void*, void* hint) { DropOwner(static_cast<IoBuffer*>(hint)); }

static napi_value Undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

// An integer argument in [lo, hi] from one napi call; throws and returns false otherwise.
static bool IntArg(napi_env env, napi_value v, const char* name, double lo, double hi, double* out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) ThrowType(env, "ERR_INVALID_ARG_TYPE", std::string(name) + " must be a number");
    return false;
  }
  if (!(d >= lo && d <= hi) || std::trunc(d) != d) {
    ThrowRange(env, "ERR_OUT_OF_RANGE", std::string(name) + " must be an integer in [" + std::to_string(static_cast<int64_t>(lo)) +
                                            ", " + std::to_string(static_cast<int64_t>(hi)) + "]");
    return false;
  }
  *out = d;
  return true;
}

// bufferNew(size) -> [id, Uint8Array over the registered bytes]
static napi_value BufferNew(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  double size;
  if (!IntArg(env, argc > 0 ? argv[0] : Undefined(env), "size", 1, 1 << 30, &size)) return nullptr;
  BufferTable* t = buffers;
  if (t->freeSlots.empty() && t->slots.size() > kBufIndexMask) {
    ThrowRange(env, "ERR_TOO_MANY_BUFFERS", "too many registered buffers");
    return nullptr;
  }
  IoBuffer* b = new IoBuffer();
  b->length = static_cast<size_t>(size);
  b->data = static_cast<uint8_t*>(calloc(b->length, 1));
  if (!b->data) {
    delete b;
    ThrowError(env, "ERR_NO_MEMORY", "could not allocate the buffer");
    return nullptr;
  }
  napi_value ab;
  napi_status st = napi_create_external_arraybuffer(env, b->data, b->length, FinalizeArrayBuffer, b, &ab);
  if (st != napi_ok) {
    free(b->data);
    delete b;
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) ThrowError(env, "ERR_UNSUPPORTED", "this runtime does not allow external ArrayBuffers (use io.read/io.write)");
    return nullptr;
  }
  uint32_t index;
  if (!t->freeSlots.empty()) {
    index = t->freeSlots.back();
    t->freeSlots.pop_back();
  } else {
    t->slots.push_back(nullptr);
    t->generations.push_back(0);
    index = static_cast<uint32_t>(t->slots.size() - 1);
  }
  t->slots[index] = b;
  napi_value u8, id, pair;
  napi_create_typedarray(env, napi_uint8_array, b->length, ab, 0, &u8);
  napi_create_uint32(env, (t->generations[index] << kBufIndexBits) | index, &id);
  napi_create_array_with_length(env, 2, &pair);
  napi_set_element(env, pair, 0, id);
  napi_set_element(env, pair, 1, u8);
  return pair;
}

static IoBuffer* Lookup(double id, uint32_t* index) {
  uint32_t u = static_cast<uint32_t>(id);
  uint32_t i = u & kBufIndexMask;
  BufferTable* t = buffers;
  if (i >= t->slots.size() || !t->slots[i] || t->generations[i] != (u >> kBufIndexBits)) return nullptr;
  *index = i;
  return t->slots[i];
}

// bufferFree(id): the id stops working; the bytes stay valid while the ArrayBuffer lives.
static napi_value BufferFree(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  double id;
  uint32_t index;
  if (!IntArg(env, argc > 0 ? argv[0] : Undefined(env), "buffer id", 0, 2147483647.0, &id)) return nullptr;
  IoBuffer* b = Lookup(id, &index);
  if (!b) {
    ThrowError(env, "ERR_BUFFER_FREED", "this buffer has been freed");
    return nullptr;
  }
  BufferTable* t = buffers;
  t->slots[index] = nullptr;
  if (t->generations[index] < kBufMaxGeneration) {
    t->generations[index]++;
    t->freeSlots.push_back(index);
  }
  DropOwner(b);
  return Undefined(env);
}

// bufferRead(fd, id, length, offset) / bufferWrite(fd, id, length, offset) -> bytes moved
// (0 at EOF for reads), -1 when it would block.
template <bool kWrite>
static napi_value BufferTransfer(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < 4) {
    ThrowType(env, "ERR_INVALID_ARG_TYPE", "expected (fd, buffer id, length, offset)");
    return nullptr;
  }
  double fd, id, length, offset;
  uint32_t index;
  if (!IntArg(env, argv[0], "fd", 0, INT32_MAX, &fd) || !IntArg(env, argv[1], "buffer id", 0, 2147483647.0, &id) ||
      !IntArg(env, argv[2], "length", 0, 1 << 30, &length) || !IntArg(env, argv[3], "offset", 0, 1 << 30, &offset))
    return nullptr;
  IoBuffer* b = Lookup(id, &index);
  if (!b) {
    ThrowError(env, "ERR_BUFFER_FREED", "this buffer has been freed");
    return nullptr;
  }
  if (offset + length > static_cast<double>(b->length)) {
    ThrowRange(env, "ERR_OUT_OF_RANGE", "offset + length exceed the buffer's " + std::to_string(b->length) + " bytes");
    return nullptr;
  }
  uint8_t* p = b->data + static_cast<size_t>(offset);
  size_t n = static_cast<size_t>(length);
  int f = static_cast<int>(fd);
  ssize_t moved = kWrite ? FdWrite(f, p, n) : FdRead(f, p, n);
  napi_value out;
  if (moved < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      ThrowErrno(env, errno, kWrite ? "write" : "read");
      return nullptr;
    }
    moved = -1;
  }
  napi_create_int32(env, static_cast<int32_t>(moved), &out);
  return out;
}

static void SetFn(napi_env env, napi_value obj, const char* name, napi_callback cb) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, nullptr, &fn);
  napi_set_named_property(env, obj, name, fn);
}

void InitIoBuffers(Napi::Env env, Napi::Object io) {
  // Every copy of the addon loaded in this thread shares the table (they share a Node
  // environment, so they end together).
  if (!buffers) {
    buffers = new BufferTable();
    napi_add_env_cleanup_hook(env, CleanupBuffers, buffers);
  }
  SetFn(env, io, "bufferNew", BufferNew);
  SetFn(env, io, "bufferFree", BufferFree);
  SetFn(env, io, "bufferRead", BufferTransfer<false>);
  SetFn(env, io, "bufferWrite", BufferTransfer<true>);
}

}  // namespace nle
