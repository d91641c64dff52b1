// Buffered connections: evbuffers, bufferevents, listeners and rate-limit groups.
//
// Ownership: every object has a record in a per-thread table (one per Node environment, like
// AddonData) and JavaScript refers to it by a generation-checked handle, so a stale handle
// never reaches a reused slot. libevent calls fixed trampolines whose argument is the record;
// the JS callbacks stay in JS, so a live update swaps functions there and never touches libevent.
// A bufferevent is freed with bufferevent_free (libevent finishes it on the next loop pass);
// its record goes at once, or after its own callback returns when freed from inside it.
#pragma once

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include <unordered_set>

#include "common.h"

namespace nle {

struct BevRec;

constexpr size_t kLibeventMaxRead = 4096;        // EVBUFFER_MAX_READ in libevent 2.1's buffer.c
// 64 KiB per event, as Node reads: measured cheaper per byte on a relay than 32 KiB (more
// passes) and than 256 KiB (larger chains, more page faults). libevent's own write default is 16 KiB.
constexpr size_t kDefaultMaxRead = 64 * 1024;
constexpr size_t kDefaultMaxWrite = 64 * 1024;
constexpr uint32_t kDryProbe = 4;  // see TopUpRead
// A relay never touches the bytes it moves and sends them on at once, so larger reads only mean
// fewer system calls and wake-ups: measured about a third less proxy CPU than 64 KiB.
constexpr size_t kRelayReadSize = 256 * 1024;

struct BufRec {
  struct evbuffer* buf = nullptr;
  BevRec* owner = nullptr;  // the bufferevent whose input/output this is (nullptr: standalone)
  uint32_t index = 0, generation = 0;
};

struct GroupRec;

struct BevRec {
  struct bufferevent* bev = nullptr;
  BaseRec* base = nullptr;
  uint32_t index = 0, generation = 0;
  int fd = -1;               // the socket this bufferevent owns (-1: pair, or connect not begun)
  bool ownsFd = false;       // closeOnFree: libevent closes fd in its finalizer, nobody else may
  bool isPair = false;
  bool connecting = false;   // base.connect() not yet reported CONNECTED or ERROR (no direct writes)
  BufRec* input = nullptr;
  BufRec* output = nullptr;
  int wants = 0;             // JS callbacks present: 1 read, 2 write, 4 event
  int running = 0;           // trampoline frames of this record on the stack
  bool dead = false;         // freed; the record goes when running reaches 0
  bool paused = false;       // pause(): read disabled and read callbacks gated
  bool wmPaused = false;     // reading stopped by the binding at the read high watermark (libevent#891)
  bool ending = false;       // end(): shut the write side once the output is empty
  bool ended = false;        // the write side was shut
  size_t readHigh = 0;       // read high watermark as set (the binding's #891 gate needs it)
  size_t writeHigh = 16384;  // write() returns false at or above this (Node's default highWaterMark)
  size_t writeLow = 0;       // the user's write low watermark (the relay borrows it while stalled)
  struct evbuffer_cb_entry* inputCb = nullptr;
  // Native relay (le-proxy shape): input goes to relayTo's output without JS.
  BevRec* relayTo = nullptr;
  BevRec* relayFrom = nullptr;  // who relays into our output
  size_t relayHigh = 0, relayLow = 0;
  size_t relayRead = kRelayReadSize;  // bytes per readable event while relaying
  bool relayStalled = false;    // our reading stopped because relayTo's output passed relayHigh
  bool relayEndOnEof = true;
  struct ev_token_bucket_cfg* rate = nullptr;
  double rateArgs[5] = {0, 0, 0, 0, 0};  // as given: readRate, readBurst, writeRate, writeBurst, tickMs
  GroupRec* group = nullptr;
  uint64_t bytesRelayed = 0;
  // Bytes per readable/writable event. libevent 2.1 reads at most 4096 per event whatever its
  // max_single_read says (EVBUFFER_MAX_READ); the read trampoline tops the input up to maxRead.
  size_t maxRead = kDefaultMaxRead, maxWrite = kDefaultMaxWrite;
  size_t lastRead = 0;  // bytes the last append to the input brought (libevent's read, seen by InputChanged)
  bool topUpDry = false;     // the last read-on after a full 4096-byte libevent read found nothing
  uint32_t topUpSkips = 0;   // ambiguous reads since then that did not read on
};

struct GroupRec {
  struct bufferevent_rate_limit_group* g = nullptr;
  BaseRec* base = nullptr;
  uint32_t index = 0, generation = 0;
  size_t members = 0;
};

struct LisRec {
  struct evconnlistener* lev = nullptr;
  BaseRec* base = nullptr;
  uint32_t index = 0, generation = 0;
  int fd = -1;
  bool wrap = true;          // hand JS a bufferevent (true) or the raw fd
  bool noDelay = false;
  bool userEnabled = true;   // the user's wish; the EMFILE back-off disables underneath it
  bool backingOff = false;
  int retryMs = 100;
  struct event* retry = nullptr;  // timer that re-enables after EMFILE/ENFILE (not an API event)
  int running = 0;
  bool dead = false;
  uint64_t acceptErrors = 0;
};

// A slot table with generation-checked handles (the same encoding as bases and events).
template <class T>
struct Table {
  std::vector<T*> items;
  std::vector<uint32_t> gens, freeSlots;
  void Add(T* r) {
    uint32_t i;
    if (!freeSlots.empty()) {
      i = freeSlots.back();
      freeSlots.pop_back();
    } else {
      i = static_cast<uint32_t>(items.size());
      items.push_back(nullptr);
      gens.push_back(0);
    }
    items[i] = r;
    r->index = i;
    r->generation = gens[i];
  }
  void Remove(T* r) {
    items[r->index] = nullptr;
    if (gens[r->index] < kMaxGeneration) {
      gens[r->index]++;
      freeSlots.push_back(r->index);
    }
  }
  T* Find(double handle) const {
    uint64_t h = static_cast<uint64_t>(handle);
    uint32_t idx = static_cast<uint32_t>(h & kIndexMask), gen = static_cast<uint32_t>(h >> kIndexBits);
    if (idx >= items.size() || !items[idx] || items[idx]->generation != gen) return nullptr;
    return items[idx];
  }
};

// One per thread, shared by every copy of the addon loaded in it (like AddonData): a second
// table would hand out the same handles again, and each copy's records would go through the
// other's. A callback goes to the dispatcher of the copy that made the object's base.
struct BufferedData {
  int copies = 0;  // loaded copies whose cleanup hook has not run yet
  Table<BufRec> bufs;
  Table<BevRec> bevs;
  Table<LisRec> listeners;
  Table<GroupRec> groups;
  std::unordered_set<int> ownedFds;  // sockets a live closeOnFree bufferevent owns
  bool tearingDown = false;
};

// Kinds passed to the JS dispatcher.
enum DispatchKind { kRead = 0, kWrite = 1, kEvent = 2, kAccept = 3, kAcceptError = 4 };

BufferedData* Buffered();
void CallBufferedDispatcher(BaseRec* b, int kind, double handle, double a, double c);
bool ArgHandleNumber(const Napi::CallbackInfo& info, size_t i, const char* what, double* out);
bool ArgBytesOrString(const Napi::CallbackInfo& info, size_t i, const char* name, std::string* holder,
                      const uint8_t** data, size_t* len);
bool BaseUsable(napi_env env, BaseRec* b);
// A numeric IPv4/IPv6 host (or 'localhost') and a port; no DNS lookups on the loop's thread.
bool ParseAddress(napi_env env, const Napi::Value& host, const Napi::Value& port, struct sockaddr_storage* ss,
                  socklen_t* len, const char* what);

// evbuffer.cc
BufRec* NewBufRec(struct evbuffer* buf, BevRec* owner);
void DropBufRec(BufRec* r);
void InitEvbuffer(Napi::Env env, Napi::Object exports);

// bufferevent.cc
BevRec* WrapSocket(BaseRec* b, int fd, bool closeOnFree, int enable);
void FreeBev(BevRec* r);

// direct_write.cc: bytes the socket took at once (0: none; queue everything on the output).
size_t DirectWrite(BevRec* r, const uint8_t* data, size_t len);
size_t DirectWriteBuffer(BevRec* r, struct evbuffer* src);
void InitBufferevent(Napi::Env env, Napi::Object exports);
void StartEnd(BevRec* r);  // end(): shut the write side once the output is sent
BevRec* ArgBev(const Napi::CallbackInfo& info, size_t i);  // a live bufferevent handle, or throws

// relay.cc
void RelayMove(BevRec* src);      // src's input to its partner's output
void Unstall(BevRec* src);        // the partner's output fell to the low mark: read again
size_t RelayReadBudget(const BevRec* src);  // bytes one readable event may read while relaying
void InitRelay(Napi::Env env, Napi::Object exports);

// listener.cc
void FreeListener(LisRec* r);
void InitListener(Napi::Env env, Napi::Object exports);

}  // namespace nle
