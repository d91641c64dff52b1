// The native relay between two bufferevents (libevent's le-proxy shape): one side's input goes
// to the other's output without a JS call, as a chain splice or, while that output is empty,
// straight to its socket (direct_write.cc). Reading stops while the other output is above the
// relay's high mark and resumes when libevent's write callback sees it at the low mark (the
// relay borrows the destination's write low watermark while stalled). The read trampoline
// (bufferevent.cc) calls RelayMove for a relaying bufferevent instead of JavaScript.
#include <algorithm>

#include "buffered.h"

namespace nle {

void Unstall(BevRec* src) {
  src->relayStalled = false;
  if (src->relayTo && !src->relayTo->dead)
    bufferevent_setwatermark(src->relayTo->bev, EV_WRITE, src->relayTo->writeLow, 0);
  if (!src->paused && !src->dead) bufferevent_enable(src->bev, EV_READ);
}

void RelayMove(BevRec* src) {
  BevRec* dst = src->relayTo;
  if (!dst || dst->dead) return;
  struct evbuffer* in = bufferevent_get_input(src->bev);
  struct evbuffer* out = bufferevent_get_output(dst->bev);
  size_t n = evbuffer_get_length(in);
  if (n == 0) return;
  DirectWriteBuffer(dst, in);  // dst's output empty: what its socket takes goes at once
  if (evbuffer_get_length(in) && evbuffer_add_buffer(out, in) != 0) return;
  src->bytesRelayed += n;
  if (!src->relayStalled && evbuffer_get_length(out) >= src->relayHigh) {
    src->relayStalled = true;
    bufferevent_disable(src->bev, EV_READ);
    bufferevent_setwatermark(dst->bev, EV_WRITE, src->relayLow, 0);
  }
}

size_t RelayReadBudget(const BevRec* src) {
  // Never read more than would take the other output past the high mark.
  size_t queued = src->relayTo ? evbuffer_get_length(bufferevent_get_output(src->relayTo->bev)) : 0;
  size_t room = queued < src->relayHigh ? src->relayHigh - queued : 0;
  return std::min(src->relayRead, std::max(room, kLibeventMaxRead));
}

// The live record of a pair half's partner (nullptr: a socket, or the partner is being freed).
static BevRec* PairPartner(const BevRec* r) {
  if (!r->isPair) return nullptr;
  struct bufferevent* other = bufferevent_pair_get_partner(r->bev);
  if (!other) return nullptr;
  void* arg = nullptr;
  bufferevent_getcb(other, nullptr, nullptr, nullptr, &arg);  // FreeBev clears it
  auto* rec = static_cast<BevRec*>(arg);
  return rec && !rec->dead ? rec : nullptr;
}

// Would bytes put in dst's output come back to src's input? A pair hands its output straight
// to its partner's input, so relaying a half into its own partner (or round a chain of pairs
// and relays) moves the same bytes round for ever without a system call: one loop call never
// returned. Through sockets the kernel is in the way and each pass ends.
static bool RelayLoopsBack(const BevRec* src, const BevRec* dst) {
  const BevRec* cur = dst;
  for (size_t hops = Buffered()->bevs.items.size(); cur && hops > 0; hops--) {  // each record at most once
    const BevRec* in = PairPartner(cur);  // where cur's output arrives
    if (!in) return false;
    if (in == src) return true;
    cur = in->relayTo;  // and on, if that half relays further
  }
  return false;
}

// bevRelay(src, dst, high, low, endOnEof, readSize): src's input flows to dst's output natively.
static Napi::Value BevRelay(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  BevRec* src = ArgBev(info, 0);
  if (!src) return Napi::Value();
  BevRec* dst = ArgBev(info, 1);
  int64_t high, low, readSize;
  if (!dst || !ArgInt(info, 2, "high", 1, INT32_MAX, &high) || !ArgInt(info, 3, "low", 0, INT32_MAX, &low) ||
      !ArgInt(info, 5, "readSize", 1024, INT32_MAX, &readSize))
    return Napi::Value();
  if (!info[4].IsBoolean()) {
    ThrowType(env, "ERR_INVALID_ARG_TYPE", "endOnEof must be a boolean");
    return Napi::Value();
  }
  if (low > high) {
    ThrowRange(env, "ERR_OUT_OF_RANGE", "the relay's low mark must not exceed its high mark");
    return Napi::Value();
  }
  if (src == dst || src->base != dst->base) {
    ThrowError(env, "ERR_INVALID_ARG_VALUE", "a relay joins two different bufferevents of one base");
    return Napi::Value();
  }
  if (RelayLoopsBack(src, dst)) {
    ThrowError(env, "ERR_INVALID_ARG_VALUE", "that relay would bring the bytes back to where they came from (a pair's other half)");
    return Napi::Value();
  }
  if (src->relayTo || dst->relayFrom) {
    ThrowError(env, "ERR_RELAY_BUSY", "that bufferevent already relays (or is relayed into)");
    return Napi::Value();
  }
  src->relayTo = dst;
  dst->relayFrom = src;
  src->relayHigh = static_cast<size_t>(high);
  src->relayLow = static_cast<size_t>(low);
  src->relayRead = static_cast<size_t>(readSize);
  src->relayEndOnEof = info[4].As<Napi::Boolean>().Value();
  RelayMove(src);  // bytes already waiting
  if (!src->paused && !src->relayStalled) bufferevent_enable(src->bev, EV_READ);
  if (!dst->ended) bufferevent_enable(dst->bev, EV_WRITE);
  return info.Env().Undefined();
}

static Napi::Value BevUnrelay(const Napi::CallbackInfo& info) {
  BevRec* src = ArgBev(info, 0);
  if (!src) return Napi::Value();
  BevRec* dst = src->relayTo;
  if (dst) {
    bool stalled = src->relayStalled;
    src->relayTo = nullptr;
    dst->relayFrom = nullptr;
    if (stalled) {
      src->relayStalled = false;
      bufferevent_setwatermark(dst->bev, EV_WRITE, dst->writeLow, 0);
      if (!src->paused) bufferevent_enable(src->bev, EV_READ);
    }
  }
  return info.Env().Undefined();
}

void InitRelay(Napi::Env env, Napi::Object exports) {
  exports.Set("bevRelay", Napi::Function::New(env, BevRelay));
  exports.Set("bevUnrelay", Napi::Function::New(env, BevUnrelay));
}

}  // namespace nle
