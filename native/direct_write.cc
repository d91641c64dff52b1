// Writing straight to the socket when a bufferevent's output is empty, as Node does: libevent
// 2.1 only ever appends to the output and writes from its write event, which costs two
// epoll_ctl (add, then delete the write interest) and a loop pass per message. Whatever the
// kernel does not take now goes to the output, and from there libevent's write event, its
// timeouts and its error reporting carry on exactly as before.
//
// The direct path is skipped whenever libevent must see the bytes: pairs (no fd), a rate limit
// or group (their buckets are charged in libevent's write), a connect not yet reported, writing
// disabled (by the user, a write error or a write timeout), or bytes already queued (order).
// Errors other than EAGAIN leave the bytes queued so that libevent's own write meets the error
// and reports WRITING|ERROR as it always did.
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>

#include "buffered.h"

namespace nle {

static bool DirectWritable(BevRec* r) {
  if (r->dead || r->isPair || r->connecting || r->rate || r->group) return false;
  if (!(bufferevent_get_enabled(r->bev) & EV_WRITE)) return false;
  if (evbuffer_get_length(bufferevent_get_output(r->bev)) != 0) return false;
  return bufferevent_getfd(r->bev) >= 0;
}

// After bytes went out directly: the write callback runs as after libevent's own write, deferred
// (BEV_OPT_DEFER_CALLBACKS), and only when the output is at or below the write low watermark.
static void Wrote(BevRec* r) {
  bufferevent_trigger(r->bev, EV_WRITE, BEV_TRIG_DEFER_CALLBACKS);
}

// MSG_NOSIGNAL: a reset peer gives EPIPE, never SIGPIPE (a process may not ignore it as Node does).
static ssize_t SendNow(int fd, struct iovec* iov, int n) {
  ssize_t k;
  if (n == 1) {  // the common case (one message, one chain): send() skips sendmsg's iovec import
    do k = send(fd, iov[0].iov_base, iov[0].iov_len, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (k < 0 && errno == EINTR);
    return k;
  }
  struct msghdr msg = {};
  msg.msg_iov = iov;
  msg.msg_iovlen = static_cast<size_t>(n);
  do k = sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (k < 0 && errno == EINTR);
  return k;
}

size_t DirectWrite(BevRec* r, const uint8_t* data, size_t len) {
  if (len == 0 || !DirectWritable(r)) return 0;
  struct iovec iov = {const_cast<uint8_t*>(data), len};
  ssize_t k = SendNow(bufferevent_getfd(r->bev), &iov, 1);
  if (k <= 0) return 0;
  Wrote(r);
  return static_cast<size_t>(k);
}

size_t DirectWriteBuffer(BevRec* r, struct evbuffer* src) {
  size_t len = evbuffer_get_length(src);
  if (len == 0 || !DirectWritable(r)) return 0;
  constexpr int kMaxVecs = 64;
  struct evbuffer_iovec v[kMaxVecs];
  int nv = evbuffer_peek(src, -1, nullptr, v, kMaxVecs);
  nv = std::min(nv, kMaxVecs);  // more chains than that: the rest is queued
  if (nv <= 0) return 0;
  struct iovec iov[kMaxVecs];
  for (int k = 0; k < nv; k++) {
    iov[k].iov_base = v[k].iov_base;
    iov[k].iov_len = v[k].iov_len;
  }
  ssize_t k = SendNow(bufferevent_getfd(r->bev), iov, nv);
  if (k <= 0) return 0;
  // src is a standalone evbuffer or an input (neither has a frozen start: the caller checked).
  evbuffer_drain(src, static_cast<size_t>(k));
  Wrote(r);
  return static_cast<size_t>(k);
}

}  // namespace nle
