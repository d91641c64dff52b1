// Bufferevents over sockets, connecting ones and pairs; their JS callbacks, the native relay
// and rate limits. Every bufferevent uses BEV_OPT_DEFER_CALLBACKS, so no call from JS
// (write, flush, enable) runs a JS callback before it returns.
//
// Traps of libevent 2.1.12 handled here:
// - libevent#891: a read callback that leaves the input at the read high watermark is called
//   again at once, forever. The binding stops reading at the mark after the callback and
//   resumes when the input is drained below it (an evbuffer callback on the input).
// - libevent#1809: disable() does not cancel a read callback already scheduled: pause() gates.
// - libevent#93: freeing one half of a pair tells the other nothing: a FINISHED flush first.
// - bufferevent_free finishes on the next loop pass; the record is forgotten at once and no
//   callback can reach it (libevent clears them first).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "buffered.h"
// After bufferevent.h (buffered.h), which declares the callback types it uses.
#include <event2/bufferevent_struct.h>

namespace nle {

static thread_local BufferedData* bufferedData = nullptr;
BufferedData* Buffered() { return bufferedData; }

bool BaseUsable(napi_env env, BaseRec* b) {
  if (!b->eb || b->freeDeferred) {
    ThrowError(env, "ERR_BASE_FREED", "the event base has been freed");
    return false;
  }
  return true;
}

bool ArgHandleNumber(const Napi::CallbackInfo& info, size_t i, const char* what, double* out) {
  int64_t h;
  if (!ArgInt(info, i, what, 0, static_cast<int64_t>((kMaxGeneration << kIndexBits) | kIndexMask), &h)) return false;
  *out = static_cast<double>(h);
  return true;
}

bool ArgBytesOrString(const Napi::CallbackInfo& info, size_t i, const char* name, std::string* holder,
                      const uint8_t** data, size_t* len) {
  napi_env env = info.Env();
  napi_value v = info[i];
  napi_typedarray_type type;
  void* p;
  if (napi_get_typedarray_info(env, v, &type, len, &p, nullptr, nullptr) == napi_ok) {
    if (type != napi_uint8_array) {
      ThrowType(env, "ERR_INVALID_ARG_TYPE", std::string(name) + " must be a string, a Uint8Array or a Buffer");
      return false;
    }
    *data = static_cast<const uint8_t*>(p);
    return true;
  }
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return false;
  if (!info[i].IsString()) {
    ThrowType(env, "ERR_INVALID_ARG_TYPE", std::string(name) + " must be a string, a Uint8Array or a Buffer");
    return false;
  }
  *holder = info[i].As<Napi::String>().Utf8Value();
  *data = reinterpret_cast<const uint8_t*>(holder->data());
  *len = holder->size();
  return true;
}

// Calls the JS dispatcher(kind, handle, a, b). A thrown exception is kept on the base and the
// loop broken, exactly as for event callbacks, so loop()/run() rethrow it.
void CallBufferedDispatcher(BaseRec* b, int kind, double handle, double a, double c) {
  BufferedData* bd = Buffered();
  if (!bd || bd->tearingDown || !b || !b->inst->bufferedDispatcher) return;
  BatchRunWaiting(b);  // events recorded earlier in this pass run first (batch.cc)
  napi_env env = b->inst->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value fn, recv, argv[4], result;
  napi_get_reference_value(env, b->inst->bufferedDispatcher, &fn);
  napi_get_undefined(env, &recv);
  napi_create_int32(env, kind, &argv[0]);
  napi_create_double(env, handle, &argv[1]);
  napi_create_double(env, a, &argv[2]);
  napi_create_double(env, c, &argv[3]);
  if (napi_call_function(env, recv, fn, 4, argv, &result) != napi_ok) {
    StoreThrownError(b);
    if (b->eb) event_base_loopbreak(b->eb);
  } else {
    DrainAfterCallback(b);  // run({ microtasks: 'callback' }) only; the caller's frame still holds the object
  }
  NoteNodeWork(b);
  napi_close_handle_scope(env, scope);
}

static double Handle(const BevRec* r) { return HandleOf(r->generation, r->index); }

static void DeleteBevRec(BevRec* r) {
  Buffered()->bevs.Remove(r);
  delete r;
}

// Trampoline frames keep the record alive: a callback may free its own bufferevent.
struct Frame {
  BevRec* r;
  explicit Frame(BevRec* rec) : r(rec) { r->running++; }
  ~Frame() {
    if (--r->running == 0 && r->dead) DeleteBevRec(r);
  }
};

static void ShutWrite(BevRec* r) {
  r->ending = false;
  r->ended = true;
  if (r->isPair) {
    bufferevent_flush(r->bev, EV_WRITE, BEV_FINISHED);  // the partner sees READING|EOF
  } else {
    int fd = bufferevent_getfd(r->bev);
    if (fd >= 0) shutdown(fd, SHUT_WR);
  }
}

void StartEnd(BevRec* r) {
  if (r->ended || r->dead) return;
  r->ending = true;
  if (evbuffer_get_length(bufferevent_get_output(r->bev)) == 0) ShutWrite(r);
}

// libevent 2.1 reads at most 4096 bytes per readable event (EVBUFFER_MAX_READ), so bulk data
// costs a loop pass and a callback per 4 KiB. Called from the read trampoline right after
// libevent's own read, this reads on into the input (its end unfrozen, as libevent does around
// its reads) until maxRead bytes (a relay's readSize) or the socket is empty. It stays out of
// the way of everything libevent enforces: rate limits (their buckets would not be charged),
// the read high watermark (never read past it), disabled or paused reading. EOF is left for libevent's next read (a
// socket at EOF stays readable); an error is reported as libevent would: READING|ERROR, with
// reading disabled.
static void TopUpRead(BevRec* r) {
  // libevent's read got less than its 4096 cap: the socket had no more (saves a readv that
  // would only say EAGAIN, one per message for small messages).
  size_t last = r->lastRead;
  r->lastRead = 0;
  if (last < kLibeventMaxRead) return;
  size_t maxRead = r->relayTo ? RelayReadBudget(r) : r->maxRead;
  if (r->isPair || maxRead <= kLibeventMaxRead || r->rate || r->group || r->paused || r->wmPaused) return;
  // Exactly 4096: the socket may or may not hold more. Messages of exactly that size (a 4 KiB
  // ping-pong) would pay a readv that only says EAGAIN every time, so after such a dry top-up
  // only every kDryProbe-th ambiguous read tries again; bulk data finds its way back within
  // kDryProbe passes of 4 KiB.
  if (r->topUpDry && ++r->topUpSkips % kDryProbe != 0) return;
  if (!(bufferevent_get_enabled(r->bev) & EV_READ)) return;
  int fd = bufferevent_getfd(r->bev);
  if (fd < 0) return;
  struct evbuffer* in = bufferevent_get_input(r->bev);
  size_t budget = maxRead - kLibeventMaxRead;
  if (r->readHigh) {
    size_t have = evbuffer_get_length(in);
    if (have >= r->readHigh) return;
    budget = std::min(budget, r->readHigh - have);
  }
  // Ask how much is there before reserving room for it, as libevent does: reserving the whole
  // budget on a dry socket allocated (and soon freed) a chain of up to 60 KiB per probe, and
  // with many connections that churn made glibc grow and trim its heap, so readv paid page
  // faults for fresh pages. 0 (nothing, or EOF / an error libevent's next read will meet): dry.
  // A failing FIONREAD (the fd was closed behind the binding and its number reused by a device
  // such as /dev/zero) counts as dry too: reading "up to maxSingleRead" there read 2 GiB.
  int avail = 0;
  if (ioctl(fd, FIONREAD, &avail) != 0 || avail <= 0) {
    r->topUpDry = true;
    r->topUpSkips = 0;
    return;
  }
  budget = std::min(budget, static_cast<size_t>(avail));
  int err = 0;
  size_t got = 0;
  evbuffer_unfreeze(in, 0);  // 0: the end (new bytes go there)
  while (budget > 0) {
    struct evbuffer_iovec v[2];
    int nv = evbuffer_reserve_space(in, static_cast<ev_ssize_t>(budget), v, 2);
    if (nv <= 0) break;
    struct iovec iov[2];
    size_t want = 0;
    for (int k = 0; k < nv; k++) {
      iov[k].iov_base = v[k].iov_base;
      iov[k].iov_len = std::min(v[k].iov_len, budget - want);
      want += iov[k].iov_len;
      v[k].iov_len = iov[k].iov_len;
    }
    ssize_t n = readv(fd, iov, nv);
    if (n <= 0) {
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) err = errno;
      evbuffer_commit_space(in, v, 0);
      break;
    }
    // Commit exactly the n bytes read, in the vectors' order.
    size_t left = static_cast<size_t>(n);
    for (int k = 0; k < nv; k++) {
      v[k].iov_len = std::min(v[k].iov_len, left);
      left -= v[k].iov_len;
    }
    evbuffer_commit_space(in, v, nv);
    budget -= static_cast<size_t>(n);
    got += static_cast<size_t>(n);
    if (static_cast<size_t>(n) < want) break;  // the socket is empty
  }
  evbuffer_freeze(in, 0);
  r->lastRead = 0;  // our own commits went through InputChanged too
  r->topUpDry = got == 0;
  r->topUpSkips = 0;
  if (err) {
    bufferevent_disable(r->bev, EV_READ);
    EVUTIL_SET_SOCKET_ERROR(err);
    bufferevent_trigger_event(r->bev, BEV_EVENT_READING | BEV_EVENT_ERROR, 0);  // deferred, after this read callback
  }
}

// Stops reading when the input sits at the read high watermark after a read callback: libevent
// itself would re-run the callback in a loop (libevent#891).
static void GateHighWatermark(BevRec* r) {
  if (r->dead || !r->readHigh || r->paused || r->wmPaused) return;
  if (!(bufferevent_get_enabled(r->bev) & EV_READ)) return;
  if (evbuffer_get_length(bufferevent_get_input(r->bev)) < r->readHigh) return;
  r->wmPaused = true;
  bufferevent_disable(r->bev, EV_READ);
}

// Synchronous evbuffer callback on the input: resume reading once it is drained below the mark.
static void InputChanged(struct evbuffer* buf, const struct evbuffer_cb_info* info, void* arg) {
  BevRec* r = static_cast<BevRec*>(arg);
  if (r->dead) return;
  if (info->n_added) r->lastRead = info->n_added;
  if (!r->wmPaused || info->n_deleted == 0) return;
  if (evbuffer_get_length(buf) >= r->readHigh) return;
  r->wmPaused = false;
  if (!r->paused) bufferevent_enable(r->bev, EV_READ);
}

// Nothing runs for a freed bufferevent, or once base.free() was asked from a callback (the
// deferred runner would otherwise go on to this bufferevent's next callback in the same batch).
static inline bool Silent(const BevRec* r) { return r->dead || r->base->freeDeferred || Buffered()->tearingDown; }

static void ReadCb(struct bufferevent* bev, void* arg) {
  BevRec* r = static_cast<BevRec*>(arg);
  if (Silent(r)) return;
  if (r->relayTo) {
    if (!r->relayStalled) TopUpRead(r);
    RelayMove(r);
    return;
  }
  if (r->paused) return;  // scheduled before pause(): not delivered (libevent#1809)
  TopUpRead(r);
  Frame f(r);
  if (r->wants & 1) CallBufferedDispatcher(r->base, kRead, Handle(r), 0, 0);
  GateHighWatermark(r);
}

static void WriteCb(struct bufferevent* bev, void* arg) {
  BevRec* r = static_cast<BevRec*>(arg);
  if (Silent(r)) return;
  Frame f(r);
  size_t left = evbuffer_get_length(bufferevent_get_output(bev));
  BevRec* src = r->relayFrom;
  if (src && !src->dead && src->relayStalled && left <= src->relayLow) Unstall(src);
  if (r->ending && left == 0) ShutWrite(r);
  // Deferred: more may have been written since the output fell to the low mark (a direct write
  // schedules this at once, and the caller usually goes on writing). The callback means "drained
  // to low", so it waits for libevent's write that gets there.
  size_t low = 0;
  bufferevent_getwatermark(bev, EV_WRITE, &low, nullptr);
  if (left > low) return;
  if ((r->wants & 2) && !r->dead) CallBufferedDispatcher(r->base, kWrite, Handle(r), 0, 0);
}

static void EventCb(struct bufferevent* bev, short what, void* arg) {
  int err = EVUTIL_SOCKET_ERROR();  // the deferred runner restored the errno of this event
  BevRec* r = static_cast<BevRec*>(arg);
  if (Silent(r)) return;
  Frame f(r);
  if (what & BEV_EVENT_CONNECTED) r->fd = bufferevent_getfd(bev);
  if (what & (BEV_EVENT_CONNECTED | BEV_EVENT_ERROR)) r->connecting = false;
  if (r->relayTo && (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) {
    RelayMove(r);
    if ((what & BEV_EVENT_EOF) && r->relayEndOnEof && r->relayTo) StartEnd(r->relayTo);
  }
  if (r->wants & 4) CallBufferedDispatcher(r->base, kEvent, Handle(r), what, (what & BEV_EVENT_ERROR) ? err : 0);
}

static BevRec* Register(BaseRec* b, struct bufferevent* bev, int fd, bool ownsFd) {
  BevRec* r = new BevRec();
  r->bev = bev;
  r->base = b;
  r->fd = fd;
  r->ownsFd = ownsFd;
  Buffered()->bevs.Add(r);
  if (ownsFd && fd >= 0) Buffered()->ownedFds.insert(fd);
  r->input = NewBufRec(bufferevent_get_input(bev), r);
  r->output = NewBufRec(bufferevent_get_output(bev), r);
  r->inputCb = evbuffer_add_cb(bufferevent_get_input(bev), InputChanged, r);
  bufferevent_setcb(bev, ReadCb, WriteCb, EventCb, r);
  return r;
}

// libevent's own caps follow ours: its write cap is what it writes per writable event, and its
// read cap (at most 4096 effective) is where the read trampoline's top-up starts from.
static void ApplyMaxIo(BevRec* r, size_t maxRead, size_t maxWrite) {
  r->maxRead = maxRead;
  r->maxWrite = maxWrite;
  bufferevent_set_max_single_read(r->bev, maxRead);
  bufferevent_set_max_single_write(r->bev, maxWrite);
}

BevRec* WrapSocket(BaseRec* b, int fd, bool closeOnFree, int enable) {
  struct bufferevent* bev =
      bufferevent_socket_new(b->eb, fd, BEV_OPT_DEFER_CALLBACKS | (closeOnFree ? BEV_OPT_CLOSE_ON_FREE : 0));
  if (!bev) return nullptr;
  BevRec* r = Register(b, bev, fd, closeOnFree);
  ApplyMaxIo(r, kDefaultMaxRead, kDefaultMaxWrite);
  if (enable) bufferevent_enable(bev, static_cast<short>(enable));
  return r;
}

void FreeBev(BevRec* r) {
  if (r->dead) return;
  r->dead = true;
  if (r->ownsFd && r->fd >= 0) Buffered()->ownedFds.erase(r->fd);  // libevent closes it on the next pass
  if (r->relayTo && r->relayTo->relayFrom == r) {
    BevRec* dst = r->relayTo;
    dst->relayFrom = nullptr;
    // It borrowed dst's write low watermark while stalled: dst's write callback is the user's again.
    if (r->relayStalled && !dst->dead) bufferevent_setwatermark(dst->bev, EV_WRITE, dst->writeLow, 0);
  }
  if (r->relayFrom) {
    BevRec* src = r->relayFrom;
    src->relayTo = nullptr;
    src->relayStalled = false;  // its reading stays off: nothing is left to relay into
  }
  r->relayTo = r->relayFrom = nullptr;
  struct bufferevent* bev = r->bev;
  if (r->group) {
    bufferevent_remove_from_rate_limit_group(bev);
    r->group->members--;
    r->group = nullptr;
  }
  if (r->rate) {
    bufferevent_set_rate_limit(bev, nullptr);
    ev_token_bucket_cfg_free(r->rate);
    r->rate = nullptr;
  }
  if (r->inputCb) evbuffer_remove_cb_entry(bufferevent_get_input(bev), r->inputCb);
  r->inputCb = nullptr;
  if (r->isPair && bufferevent_pair_get_partner(bev)) bufferevent_flush(bev, EV_WRITE, BEV_FINISHED);
  bufferevent_setcb(bev, nullptr, nullptr, nullptr, nullptr);
  bufferevent_disable(bev, EV_READ | EV_WRITE);
  bufferevent_free(bev);  // libevent finishes (and closes a closeOnFree fd) on the next loop pass
  r->bev = nullptr;
  DropBufRec(r->input);
  DropBufRec(r->output);
  r->input = r->output = nullptr;
  if (r->running == 0) DeleteBevRec(r);
}

static void FreeGroup(GroupRec* g) {
  BufferedData* bd = Buffered();
  for (BevRec* r : bd->bevs.items)
    if (r && r->group == g) {
      bufferevent_remove_from_rate_limit_group(r->bev);
      r->group = nullptr;
    }
  bufferevent_rate_limit_group_free(g->g);
  bd->groups.Remove(g);
  delete g;
}

// Everything buffered on base b goes before the base (base.free(), its release, env teardown).
void FreeBufferedOfBase(BaseRec* b) {
  BufferedData* bd = Buffered();
  if (!bd) return;
  for (LisRec* l : bd->listeners.items)
    if (l && l->base == b) FreeListener(l);
  for (BevRec* r : bd->bevs.items)
    if (r && r->base == b) FreeBev(r);
  for (GroupRec* g : bd->groups.items)
    if (g && g->base == b) FreeGroup(g);
}

// Every copy in a thread belongs to the same Node environment, so the first copy's hook sees
// the whole environment ending: it frees every object; the last one drops the tables.
static void CleanupBuffered(void*) {
  BufferedData* bd = Buffered();
  bd->tearingDown = true;
  for (LisRec* l : bd->listeners.items)
    if (l) FreeListener(l);
  for (BevRec* r : bd->bevs.items)
    if (r) FreeBev(r);
  for (GroupRec* g : bd->groups.items)
    if (g) FreeGroup(g);
  for (BufRec* r : bd->bufs.items)
    if (r) DropBufRec(r);
  if (--bd->copies > 0) return;
  bufferedData = nullptr;
  delete bd;
  FlushChainCache(true);  // what libevent frees later on this thread goes straight back to malloc
}

// ---- arguments

BevRec* ArgBev(const Napi::CallbackInfo& info, size_t i) {
  double h;
  if (!ArgHandleNumber(info, i, "bufferevent handle", &h)) return nullptr;
  BevRec* r = Buffered()->bevs.Find(h);
  if (!r) {
    ThrowError(info.Env(), "ERR_INVALID_HANDLE", "not a live bufferevent handle");
    return nullptr;
  }
  if (r->dead) {
    ThrowError(info.Env(), "ERR_BUFFEREVENT_FREED", "the bufferevent has been freed");
    return nullptr;
  }
  if (!BaseUsable(info.Env(), r->base)) return nullptr;
  return r;
}

static bool ArgIoBits(const Napi::CallbackInfo& info, size_t i, int* out) {
  int64_t v;
  if (!ArgInt(info, i, "events", 0, 0xffff, &v)) return false;
  if (v & ~(EV_READ | EV_WRITE)) {
    ThrowRange(info.Env(), "ERR_INVALID_EVENTS", "only EV.READ and EV.WRITE apply to a bufferevent");
    return false;
  }
  *out = static_cast<int>(v);
  return true;
}

static bool CheckSocketFd(napi_env env, BaseRec* b, int fd) {
  if (!FdIsOpen(fd)) {
    ThrowError(env, "EBADF", "fd " + std::to_string(fd) + " is not open");
    return false;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
    ThrowError(env, "ERR_INVALID_FD", "a bufferevent needs a stream socket; fd " + std::to_string(fd) + " is not a socket");
    return false;
  }
  if (b->selectBackend && fd >= FD_SETSIZE) {
    ThrowRange(env, "ERR_FD_SETSIZE", "the select backend cannot watch fd " + std::to_string(fd) + " (limit 1023)");
    return false;
  }
  if (FdOwnedByABase(fd)) {
    // A bufferevent would read libevent's signal pipe and close it when freed.
    ThrowError(env, "ERR_FD_OWNED_BY_BASE", "fd " + std::to_string(fd) + " belongs to an event base (its backend or signal pipe)");
    return false;
  }
  if (Buffered()->ownedFds.count(fd)) {
    ThrowError(env, "ERR_FD_IN_USE", "fd " + std::to_string(fd) + " already belongs to a bufferevent that closes it");
    return false;
  }
  return true;
}

static Napi::Value Created(napi_env env, BevRec* r) { return Napi::Number::New(env, Handle(r)); }

// bevNew(base, fd, closeOnFree, enable) -> handle
static Napi::Value BevNew(const Napi::CallbackInfo& info) {
  BaseRec* b = ArgBase(info, 0);
  int64_t fd;
  int enable;
  if (!b || !ArgInt(info, 1, "fd", 0, INT32_MAX, &fd) || !ArgIoBits(info, 3, &enable)) return Napi::Value();
  if (!info[2].IsBoolean()) {
    ThrowType(info.Env(), "ERR_INVALID_ARG_TYPE", "closeOnFree must be a boolean");
    return Napi::Value();
  }
  int f = static_cast<int>(fd);
  if (!CheckSocketFd(info.Env(), b, f)) return Napi::Value();
  if (evutil_make_socket_nonblocking(f) != 0) {
    ThrowErrno(info.Env(), errno, "fcntl");
    return Napi::Value();
  }
  BevRec* r = WrapSocket(b, f, info[2].As<Napi::Boolean>().Value(), enable);
  if (!r) {
    ThrowError(info.Env(), "ERR_LIBEVENT", "bufferevent_socket_new failed");
    return Napi::Value();
  }
  return Created(info.Env(), r);
}

bool ParseAddress(napi_env env, const Napi::Value& hostV, const Napi::Value& portV, struct sockaddr_storage* ss,
                         socklen_t* len, const char* what) {
  if (!hostV.IsString()) {
    ThrowType(env, "ERR_INVALID_ARG_TYPE", std::string(what) + " host must be a string");
    return false;
  }
  std::string host = hostV.As<Napi::String>().Utf8Value();
  if (!portV.IsNumber()) {
    ThrowType(env, "ERR_INVALID_ARG_TYPE", std::string(what) + " port must be a number");
    return false;
  }
  double p = portV.As<Napi::Number>().DoubleValue();
  if (!(p >= 0 && p <= 65535) || p != static_cast<int>(p)) {
    ThrowRange(env, "ERR_SOCKET_BAD_PORT", std::string(what) + " port must be an integer in [0, 65535]");
    return false;
  }
  if (host == "localhost") host = "127.0.0.1";
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  memset(ss, 0, sizeof *ss);
  auto* v4 = reinterpret_cast<struct sockaddr_in*>(ss);
  auto* v6 = reinterpret_cast<struct sockaddr_in6*>(ss);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(p));
    *len = sizeof *v4;
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(p));
    *len = sizeof *v6;
  } else {
    ThrowError(env, "ERR_INVALID_ADDRESS",
               std::string(what) + " takes a numeric IPv4 or IPv6 address or 'localhost' (no DNS lookups), got '" +
                   hostV.As<Napi::String>().Utf8Value() + "'");
    return false;
  }
  return true;
}

// bevConnect(base, host, port, enable, noDelay) -> handle. A synchronous failure throws (and no
// callback follows); otherwise CONNECTED or ERROR arrives through the event callback.
static Napi::Value BevConnect(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  BaseRec* b = ArgBase(info, 0);
  int enable;
  if (!b || !ArgIoBits(info, 3, &enable)) return Napi::Value();
  struct sockaddr_storage ss;
  socklen_t len;
  if (!ParseAddress(env, info[1], info[2], &ss, &len, "connect()")) return Napi::Value();
  bool noDelay = info[4].IsBoolean() && info[4].As<Napi::Boolean>().Value();
  // Our own socket, so the select backend's fd limit is checked before libevent registers it.
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ThrowErrno(env, errno, "socket");
    return Napi::Value();
  }
  if (b->selectBackend && fd >= FD_SETSIZE) {
    close(fd);
    ThrowRange(env, "ERR_FD_SETSIZE", "the select backend cannot watch fd " + std::to_string(fd) + " (limit 1023)");
    return Napi::Value();
  }
  if (noDelay) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  BevRec* r = WrapSocket(b, fd, true, 0);
  if (!r) {
    close(fd);
    ThrowError(env, "ERR_LIBEVENT", "bufferevent_socket_new failed");
    return Napi::Value();
  }
  r->connecting = true;
  if (bufferevent_socket_connect(r->bev, reinterpret_cast<struct sockaddr*>(&ss), static_cast<int>(len)) != 0) {
    int err = errno ? errno : ECONNREFUSED;
    FreeBev(r);  // closes fd (closeOnFree) at the next pass; nobody else holds it
    ThrowErrno(env, err, "connect");
    return Napi::Value();
  }
  if (enable) bufferevent_enable(r->bev, static_cast<short>(enable));
  return Created(env, r);
}

// bevPair(base, enable) -> [handleA, handleB]
static Napi::Value BevPair(const Napi::CallbackInfo& info) {
  BaseRec* b = ArgBase(info, 0);
  int enable;
  if (!b || !ArgIoBits(info, 1, &enable)) return Napi::Value();
  struct bufferevent* pair[2];
  if (bufferevent_pair_new(b->eb, BEV_OPT_DEFER_CALLBACKS, pair) != 0) {
    ThrowError(info.Env(), "ERR_LIBEVENT", "bufferevent_pair_new failed");
    return Napi::Value();
  }
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  for (uint32_t k = 0; k < 2; k++) {
    BevRec* r = Register(b, pair[k], -1, false);
    r->isPair = true;
    if (enable) bufferevent_enable(pair[k], static_cast<short>(enable));
    out.Set(k, Handle(r));
  }
  return out;
}

static Napi::Value BevBuffers(const Napi::CallbackInfo& info) {
  BevRec* r = ArgBev(info, 0);
  if (!r) return Napi::Value();
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, HandleOf(r->input->generation, r->input->index));
  out.Set(1u, HandleOf(r->output->generation, r->output->index));
  return out;
}

static Napi::Value BevSetWants(const Napi::CallbackInfo& info) {
  BevRec* r = ArgBev(info, 0);
  int64_t w;
  if (!r || !ArgInt(info, 1, "callback mask", 0, 7, &w)) return Napi::Value();
  r->wants = static_cast<int>(w);
  return info.Env().Undefined();
}

static Napi::Value BevEnable(const Napi::CallbackInfo& info) {
  BevRec* r = ArgBev(info, 0);
  int bits;
  if (!r || !ArgIoBits(info, 1, &bits)) return Napi::Value();
  if (bits & EV_READ) {
    r->paused = false;
    // Still at the high mark: stay stopped until the input is drained (libevent#891).
    if (r->wmPaused && evbuffer_get_length(bufferevent_get_input(r->bev)) >= r->readHigh) bits &= ~EV_READ;
    else r->wmPaused = false;
    if (r->relayStalled) bits &= ~EV_READ;
  }
  if (bits && bufferevent_enable(r->bev, static_cast<short>(bits)) != 0) {
    ThrowError(info.Env(), "ERR_LIBEVENT", "bufferevent_enable failed: " + LastLibeventMessage());
    return Napi::Value();
  }
  return info.Env().Undefined();
}

static Napi::Value BevDisable(const Napi::CallbackInfo& info) {
  BevRec* r = ArgBev(info, 0);
  int bits;
  if (!r || !ArgIoBits(info, 1, &bits)) return Napi::Value();
  if (bits & EV_READ) r->wmPaused = false;
  bufferevent_disable(r->bev, static_cast<short>(bits));
  return info.Env().Undefined();
}

// The user's wish: reading stopped by the binding's high-watermark gate still counts as enabled.
static Napi::Value BevEnabled(const Napi::CallbackInfo& info) {
  BevRec* r = ArgBev(info, 0);
  if (!r) return Napi::Value();
  int e = bufferevent_get_enabled(r->bev);
  if (r->wmPaused || r->relayStalled) e |= EV_READ;
  return Napi::Number::New(info.Env(), e);
}

static Napi::Value BevPause(const Napi::CallbackInfo& info) {
  BevRec* r = ArgBev(info, 0);
  if (!r) return Napi::Value();
  r->paused = true;
  bufferevent_disable(r->bev, EV_READ);
  return info.Env().Undefined();
}

// resume(): reading on again, and what piled up in the input is delivered (deferred).
static Napi::Value BevResume(const Napi::CallbackInfo& info) {
  BevRec* r = ArgBev(info, 0);
  if (!r) return Napi::Value();
  r->paused = false;
  size_t in = evbuffer_get_length(bufferevent_get_input(r->bev));
  if (!(r->wmPaused && in >= r->readHigh) && !r->relayStalled) {
    r->wmPaused = false;
    bufferevent_enable(r->bev, EV_READ);
  }
  if (in > 0) bufferevent_trigger(r->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
  return info.Env().Undefined();
}

static Napi::Value BevPaused(const Napi::CallbackInfo& info) {
  BevRec* r = ArgBev(info, 0);
  if (!r) return Napi::Value();
  return Napi::Boolean::New(info.Env(), r->paused);
}

// setWatermark(events, low, high); high 0 means none. The write high mark is the binding's
// backpressure threshold for write() (socket bufferevents ignore it).
static Napi::Value BevSetWatermark(const Napi::CallbackInfo& info) {
  BevRec* r = ArgBev(info, 0);
  int bits;
  int64_t low, high;
  if (!r || !ArgIoBits(info, 1, &bits) || !ArgInt(info, 2, "low", 0, INT32_MAX, &low) ||
      !ArgInt(info, 3, "high", 0, INT32_MAX, &high))
    return Napi::Value();
  if (high != 0 && high < low) {
    ThrowRange(info.Env(), "ERR_OUT_OF_RANGE", "the high watermark must be 0 (none) or at least the low one");
    return Napi::Value();
  }
  if (bits & EV_READ) {
    bufferevent_setwatermark(r->bev, EV_READ, static_cast<size_t>(low), static_cast<size_t>(high));
    r->readHigh = static_cast<size_t>(high);
    if (!high && r->wmPaused) {
      r->wmPaused = false;
      if (!r->paused && !r->relayStalled) bufferevent_enable(r->bev, EV_READ);
    }
  }
  if (bits & EV_WRITE) {
    r->writeLow = static_cast<size_t>(low);
    r->writeHigh = high ? static_cast<size_t>(high) : 16384;
    if (!(r->relayFrom && r->relayFrom->relayStalled)) bufferevent_setwatermark(r->bev, EV_WRITE, r->writeLow, 0);
  }
  return info.Env().Undefined();
}

static Napi::Value BevGetWatermark(const Napi::CallbackInfo& info) {
  BevRec* r = ArgBev(info, 0);
  int bits;
  if (!r || !ArgIoBits(info, 1, &bits)) return Napi::Value();
  if (bits != EV_READ && bits != EV_WRITE) {
    ThrowRange(info.Env(), "ERR_INVALID_EVENTS", "getWatermark takes exactly one of EV.READ or EV.WRITE");
    return Napi::Value();
  }
  size_t low = 0, high = 0;
  if (bits == EV_READ) bufferevent_getwatermark(r->bev, EV_READ, &low, &high);
  else { low = r->writeLow; high = r->writeHigh; }
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, static_cast<double>(low));
  out.Set(1u, static_cast<double>(high));
  return out;
}

// setTimeouts(readMs, writeMs): 0 or undefined clears that direction's timeout.
static Napi::Value BevSetTimeouts(const Napi::CallbackInfo& info) {
  BevRec* r = ArgBev(info, 0);
  if (!r) return Napi::Value();
  struct timeval rt, wt;
  bool hasR, hasW;
  if (!ArgOptionalMs(info, 1, "readMs", &hasR, &rt) || !ArgOptionalMs(info, 2, "writeMs", &hasW, &wt)) return Napi::Value();
  hasR = hasR && (rt.tv_sec || rt.tv_usec);
  hasW = hasW && (wt.tv_sec || wt.tv_usec);
  bufferevent_set_timeouts(r->bev, hasR ? &rt : nullptr, hasW ? &wt : nullptr);
  return info.Env().Undefined();
}

// [readMs, writeMs] as libevent holds them (0: none). libevent 2.1 has no getter; the fields
// are in its public bufferevent_struct.h, read here and nowhere written.
static Napi::Value BevGetTimeouts(const Napi::CallbackInfo& info) {
  BevRec* r = ArgBev(info, 0);
  if (!r) return Napi::Value();
  auto ms = [](const struct timeval& tv) { return tv.tv_sec * 1000.0 + tv.tv_usec / 1000.0; };
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, ms(r->bev->timeout_read));
  out.Set(1u, ms(r->bev->timeout_write));
  return out;
}

static bool Writable(napi_env env, BevRec* r) {
  if (r->ending || r->ended) {
    ThrowError(env, "ERR_STREAM_WRITE_AFTER_END", "write after end()");
    return false;
  }
  return true;
}

// write(data) -> output still below the write high mark (Node's write() contract).
static Napi::Value BevWrite(const Napi::CallbackInfo& info) {
  BevRec* r = ArgBev(info, 0);
  if (!r || !Writable(info.Env(), r)) return Napi::Value();
  std::string holder;
  const uint8_t* p;
  size_t n;
  if (!ArgBytesOrString(info, 1, "data", &holder, &p, &n)) return Napi::Value();
  size_t sent = DirectWrite(r, p, n);
  if (n > sent && bufferevent_write(r->bev, p + sent, n - sent) != 0) {
    ThrowError(info.Env(), "ERR_LIBEVENT", "bufferevent_write failed");
    return Napi::Value();
  }
  return Napi::Boolean::New(info.Env(), evbuffer_get_length(bufferevent_get_output(r->bev)) < r->writeHigh);
}

// writeBuffer(evbuffer): moves its chains to the output (no copy).
static Napi::Value BevWriteBuffer(const Napi::CallbackInfo& info) {
  BevRec* r = ArgBev(info, 0);
  if (!r || !Writable(info.Env(), r)) return Napi::Value();
  double h;
  if (!ArgHandleNumber(info, 1, "evbuffer handle", &h)) return Napi::Value();
  BufRec* src = Buffered()->bufs.Find(h);
  if (!src || src == r->output) {
    ThrowError(info.Env(), "ERR_INVALID_HANDLE", src ? "cannot write a bufferevent's output into itself" : "not a live evbuffer handle");
    return Napi::Value();
  }
  // A bufferevent's output cannot be drained from here (libevent freezes its start): no direct write.
  bool frozenStart = src->owner && src == src->owner->output;
  if (!frozenStart) DirectWriteBuffer(r, src->buf);
  if (bufferevent_write_buffer(r->bev, src->buf) != 0) {
    ThrowError(info.Env(), "ERR_EVBUFFER_FROZEN", "that evbuffer cannot be drained here (a bufferevent's output)");
    return Napi::Value();
  }
  return Napi::Boolean::New(info.Env(), evbuffer_get_length(bufferevent_get_output(r->bev)) < r->writeHigh);
}

static Napi::Value BevFlush(const Napi::CallbackInfo& info) {
  BevRec* r = ArgBev(info, 0);
  int bits;
  int64_t mode;
  if (!r || !ArgIoBits(info, 1, &bits) || !ArgInt(info, 2, "flush mode", BEV_NORMAL, BEV_FINISHED, &mode)) return Napi::Value();
  // A pair whose other half was freed has nowhere to flush to (that half saw EOF already).
  if (r->isPair && !bufferevent_pair_get_partner(r->bev)) return Napi::Number::New(info.Env(), 0);
  int rc = bufferevent_flush(r->bev, static_cast<short>(bits), static_cast<enum bufferevent_flush_mode>(mode));
  if (rc < 0) {
    ThrowError(info.Env(), "ERR_LIBEVENT", "bufferevent_flush failed");
    return Napi::Value();
  }
  return Napi::Number::New(info.Env(), rc);
}

static Napi::Value BevEnd(const Napi::CallbackInfo& info) {
  BevRec* r = ArgBev(info, 0);
  if (!r) return Napi::Value();
  StartEnd(r);
  return info.Env().Undefined();
}

static Napi::Value BevFree(const Napi::CallbackInfo& info) {
  BevRec* r = ArgBev(info, 0);
  if (!r) return Napi::Value();
  FreeBev(r);
  return info.Env().Undefined();
}

// [fd, input length, output length, bytes relayed, ended]
static Napi::Value BevInfo(const Napi::CallbackInfo& info) {
  BevRec* r = ArgBev(info, 0);
  if (!r) return Napi::Value();
  Napi::Array out = Napi::Array::New(info.Env(), 5);
  out.Set(0u, r->isPair ? -1 : bufferevent_getfd(r->bev));
  out.Set(1u, static_cast<double>(evbuffer_get_length(bufferevent_get_input(r->bev))));
  out.Set(2u, static_cast<double>(evbuffer_get_length(bufferevent_get_output(r->bev))));
  out.Set(3u, static_cast<double>(r->bytesRelayed));
  out.Set(4u, r->ended || r->ending);
  return out;
}

// bevSetMaxIo(h, maxRead, maxWrite): bytes per readable / writable event; 0 keeps that one.
static Napi::Value BevSetMaxIo(const Napi::CallbackInfo& info) {
  BevRec* r = ArgBev(info, 0);
  int64_t rd, wr;
  if (!r || !ArgInt(info, 1, "maxSingleRead", 0, INT32_MAX, &rd) || !ArgInt(info, 2, "maxSingleWrite", 0, INT32_MAX, &wr))
    return Napi::Value();
  if ((rd && rd < 1024) || (wr && wr < 1024)) {
    ThrowRange(info.Env(), "ERR_OUT_OF_RANGE", "maxSingleRead and maxSingleWrite are at least 1024 bytes (0 keeps the current one)");
    return Napi::Value();
  }
  if (r->isPair) {
    ThrowError(info.Env(), "ERR_INVALID_ARG_VALUE", "pairs move whole buffers: maxSingleRead/maxSingleWrite apply to sockets only");
    return Napi::Value();
  }
  ApplyMaxIo(r, rd ? static_cast<size_t>(rd) : r->maxRead, wr ? static_cast<size_t>(wr) : r->maxWrite);
  return info.Env().Undefined();
}

static Napi::Value BevGetMaxIo(const Napi::CallbackInfo& info) {
  BevRec* r = ArgBev(info, 0);
  if (!r) return Napi::Value();
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, static_cast<double>(r->maxRead));
  out.Set(1u, static_cast<double>(r->maxWrite));
  return out;
}

// ---- rate limits

static struct ev_token_bucket_cfg* ArgRateCfg(const Napi::CallbackInfo& info, size_t i) {
  int64_t rr, rb, wr, wb;
  struct timeval tick;
  if (!ArgInt(info, i, "readRate", 1, INT32_MAX, &rr) || !ArgInt(info, i + 1, "readBurst", 1, INT32_MAX, &rb) ||
      !ArgInt(info, i + 2, "writeRate", 1, INT32_MAX, &wr) || !ArgInt(info, i + 3, "writeBurst", 1, INT32_MAX, &wb) ||
      !MsToTimeval(info.Env(), info[i + 4], "tickMs", &tick))
    return nullptr;
  if (rb < rr || wb < wr) {
    ThrowRange(info.Env(), "ERR_OUT_OF_RANGE", "a burst must be at least its rate (bytes per tick)");
    return nullptr;
  }
  if (tick.tv_sec == 0 && tick.tv_usec < 1000) {
    ThrowRange(info.Env(), "ERR_OUT_OF_RANGE", "tickMs must be at least 1 (libevent counts whole milliseconds)");
    return nullptr;
  }
  struct ev_token_bucket_cfg* cfg = ev_token_bucket_cfg_new(static_cast<size_t>(rr), static_cast<size_t>(rb),
                                                            static_cast<size_t>(wr), static_cast<size_t>(wb), &tick);
  if (!cfg) ThrowError(info.Env(), "ERR_LIBEVENT", "ev_token_bucket_cfg_new failed");
  return cfg;
}

// bevSetRateLimit(h, readRate, readBurst, writeRate, writeBurst, tickMs), or (h) to remove it.
static Napi::Value BevSetRateLimit(const Napi::CallbackInfo& info) {
  BevRec* r = ArgBev(info, 0);
  if (!r) return Napi::Value();
  if (r->isPair) {
    ThrowError(info.Env(), "ERR_INVALID_ARG_VALUE", "libevent rate-limits socket bufferevents only, not pairs");
    return Napi::Value();
  }
  struct ev_token_bucket_cfg* cfg = nullptr;
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    cfg = ArgRateCfg(info, 1);
    if (!cfg) return Napi::Value();
  }
  // libevent keeps the pointer without a reference: the old cfg goes only after the swap.
  if (bufferevent_set_rate_limit(r->bev, cfg) != 0) {
    if (cfg) ev_token_bucket_cfg_free(cfg);
    ThrowError(info.Env(), "ERR_LIBEVENT", "bufferevent_set_rate_limit failed");
    return Napi::Value();
  }
  if (r->rate) ev_token_bucket_cfg_free(r->rate);
  r->rate = cfg;
  for (int k = 0; k < 5; k++) r->rateArgs[k] = cfg && info[1 + k].IsNumber() ? info[1 + k].As<Napi::Number>().DoubleValue() : 0;
  return info.Env().Undefined();
}

// [readRate, readBurst, writeRate, writeBurst, tickMs], or null: the limit libevent applies
// (its cfg pointer is checked to be still ours).
static Napi::Value BevGetRateLimit(const Napi::CallbackInfo& info) {
  BevRec* r = ArgBev(info, 0);
  if (!r) return Napi::Value();
  const struct ev_token_bucket_cfg* live = r->isPair ? nullptr : bufferevent_get_token_bucket_cfg(r->bev);
  if (!live || live != r->rate) return info.Env().Null();
  Napi::Array out = Napi::Array::New(info.Env(), 5);
  for (uint32_t k = 0; k < 5; k++) out.Set(k, r->rateArgs[k]);
  return out;
}

static GroupRec* ArgGroup(const Napi::CallbackInfo& info, size_t i) {
  double h;
  if (!ArgHandleNumber(info, i, "rate group handle", &h)) return nullptr;
  GroupRec* g = Buffered()->groups.Find(h);
  if (!g) {
    ThrowError(info.Env(), "ERR_INVALID_HANDLE", "not a live rate-limit group handle");
    return nullptr;
  }
  if (!BaseUsable(info.Env(), g->base)) return nullptr;
  return g;
}

static Napi::Value GroupNew(const Napi::CallbackInfo& info) {
  BaseRec* b = ArgBase(info, 0);
  if (!b) return Napi::Value();
  struct ev_token_bucket_cfg* cfg = ArgRateCfg(info, 1);
  if (!cfg) return Napi::Value();
  struct bufferevent_rate_limit_group* g = bufferevent_rate_limit_group_new(b->eb, cfg);
  ev_token_bucket_cfg_free(cfg);  // the group keeps its own copy
  if (!g) {
    ThrowError(info.Env(), "ERR_LIBEVENT", "bufferevent_rate_limit_group_new failed");
    return Napi::Value();
  }
  GroupRec* rec = new GroupRec();
  rec->g = g;
  rec->base = b;
  Buffered()->groups.Add(rec);
  return Napi::Number::New(info.Env(), HandleOf(rec->generation, rec->index));
}

static Napi::Value GroupAdd(const Napi::CallbackInfo& info) {
  GroupRec* g = ArgGroup(info, 0);
  if (!g) return Napi::Value();
  BevRec* r = ArgBev(info, 1);
  if (!r) return Napi::Value();
  if (r->isPair || r->base != g->base) {
    ThrowError(info.Env(), "ERR_INVALID_ARG_VALUE", "a rate group takes socket bufferevents of its own base");
    return Napi::Value();
  }
  if (r->group == g) return info.Env().Undefined();
  if (r->group) r->group->members--;
  if (bufferevent_add_to_rate_limit_group(r->bev, g->g) != 0) {
    r->group = nullptr;
    ThrowError(info.Env(), "ERR_LIBEVENT", "bufferevent_add_to_rate_limit_group failed");
    return Napi::Value();
  }
  r->group = g;
  g->members++;
  return info.Env().Undefined();
}

static Napi::Value GroupRemove(const Napi::CallbackInfo& info) {
  BevRec* r = ArgBev(info, 0);
  if (!r) return Napi::Value();
  if (r->group) {
    bufferevent_remove_from_rate_limit_group(r->bev);
    r->group->members--;
    r->group = nullptr;
  }
  return info.Env().Undefined();
}

static Napi::Value GroupFree(const Napi::CallbackInfo& info) {
  GroupRec* g = ArgGroup(info, 0);
  if (!g) return Napi::Value();
  FreeGroup(g);
  return info.Env().Undefined();
}

// [bytes read, bytes written] by the group's members since it was made.
static Napi::Value GroupTotals(const Napi::CallbackInfo& info) {
  GroupRec* g = ArgGroup(info, 0);
  if (!g) return Napi::Value();
  ev_uint64_t rd = 0, wr = 0;
  bufferevent_rate_limit_group_get_totals(g->g, &rd, &wr);
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, static_cast<double>(rd));
  out.Set(1u, static_cast<double>(wr));
  return out;
}

static Napi::Value SetBufferedDispatcher(const Napi::CallbackInfo& info) {
  Instance* inst = InstanceOf(info.Env());
  if (!info[0].IsFunction()) {
    ThrowType(info.Env(), "ERR_INVALID_ARG_TYPE", "dispatcher must be a function");
    return Napi::Value();
  }
  if (inst->bufferedDispatcher) napi_delete_reference(inst->env, inst->bufferedDispatcher);
  napi_create_reference(inst->env, info[0], 1, &inst->bufferedDispatcher);
  return info.Env().Undefined();
}

// Live counts, for tests that check nothing leaks.
static Napi::Value BufferedStats(const Napi::CallbackInfo& info) {
  BufferedData* bd = Buffered();
  auto count = [](const auto& t) {
    double n = 0;
    for (auto* x : t.items) n += x != nullptr;
    return n;
  };
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("bufferevents", count(bd->bevs));
  o.Set("evbuffers", count(bd->bufs));
  o.Set("listeners", count(bd->listeners));
  o.Set("groups", count(bd->groups));
  o.Set("chainCacheBytes", static_cast<double>(ChainCacheBytes()));  // chain_cache.cc, this thread
  return o;
}

void InitBuffered(Napi::Env env, Napi::Object exports) {
  if (!bufferedData) bufferedData = new BufferedData();
  bufferedData->copies++;
  // Registered after the addon's own hook, so it runs first: bases are still alive here. The
  // argument is only told apart per copy (Node refuses one hook twice with the same argument).
  napi_add_env_cleanup_hook(env, CleanupBuffered, InstanceOf(env));
  Napi::Object o = Napi::Object::New(env);
  o.Set("setDispatcher", Napi::Function::New(env, SetBufferedDispatcher));
  o.Set("stats", Napi::Function::New(env, BufferedStats));
  o.Set("bevNew", Napi::Function::New(env, BevNew));
  o.Set("bevConnect", Napi::Function::New(env, BevConnect));
  o.Set("bevPair", Napi::Function::New(env, BevPair));
  o.Set("bevBuffers", Napi::Function::New(env, BevBuffers));
  o.Set("bevSetWants", Napi::Function::New(env, BevSetWants));
  o.Set("bevEnable", Napi::Function::New(env, BevEnable));
  o.Set("bevDisable", Napi::Function::New(env, BevDisable));
  o.Set("bevEnabled", Napi::Function::New(env, BevEnabled));
  o.Set("bevPause", Napi::Function::New(env, BevPause));
  o.Set("bevResume", Napi::Function::New(env, BevResume));
  o.Set("bevPaused", Napi::Function::New(env, BevPaused));
  o.Set("bevSetWatermark", Napi::Function::New(env, BevSetWatermark));
  o.Set("bevGetWatermark", Napi::Function::New(env, BevGetWatermark));
  o.Set("bevSetTimeouts", Napi::Function::New(env, BevSetTimeouts));
  o.Set("bevWrite", Napi::Function::New(env, BevWrite));
  o.Set("bevWriteBuffer", Napi::Function::New(env, BevWriteBuffer));
  o.Set("bevFlush", Napi::Function::New(env, BevFlush));
  o.Set("bevEnd", Napi::Function::New(env, BevEnd));
  o.Set("bevFree", Napi::Function::New(env, BevFree));
  o.Set("bevInfo", Napi::Function::New(env, BevInfo));
  o.Set("bevSetRateLimit", Napi::Function::New(env, BevSetRateLimit));
  o.Set("bevSetMaxIo", Napi::Function::New(env, BevSetMaxIo));
  o.Set("bevGetTimeouts", Napi::Function::New(env, BevGetTimeouts));
  o.Set("bevGetRateLimit", Napi::Function::New(env, BevGetRateLimit));
  o.Set("bevGetMaxIo", Napi::Function::New(env, BevGetMaxIo));
  o.Set("groupNew", Napi::Function::New(env, GroupNew));
  o.Set("groupAdd", Napi::Function::New(env, GroupAdd));
  o.Set("groupRemove", Napi::Function::New(env, GroupRemove));
  o.Set("groupFree", Napi::Function::New(env, GroupFree));
  o.Set("groupTotals", Napi::Function::New(env, GroupTotals));
  InitRelay(env, o);
  InitEvbuffer(env, o);
  InitListener(env, o);
  exports.Set("buffered", o);
}

}  // namespace nle
