// Shared declarations of the addon. native/ is the only place that includes libevent.
//
// Ownership model: every event base and event made through the API has a record (BaseRec,
// EventRec) in per-environment tables (AddonData), so worker threads never share state.
// JavaScript refers to them by handle: (generation << kIndexBits) | index, so a stale
// handle can never reach a slot that was reused.
#pragma once

#include <event2/event.h>
#include <event2/event_struct.h>
#include <napi.h>
#include <uv.h>

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace nle {

constexpr int kIndexBits = 26;
constexpr uint64_t kIndexMask = (uint64_t{1} << kIndexBits) - 1;
constexpr uint64_t kMaxGeneration = (uint64_t{1} << 26) - 1;  // handle stays below 2^52

// Bits added to `what` when the JS dispatcher is called (libevent's own bits fit in 0xff).
constexpr int kWhatNoLongerPending = 0x100;  // the event left every queue before this call

constexpr short kUserEventBits = EV_TIMEOUT | EV_READ | EV_WRITE | EV_SIGNAL | EV_PERSIST | EV_ET | EV_CLOSED;
constexpr short kPendingFlags = EVLIST_INSERTED | EVLIST_TIMEOUT | EVLIST_ACTIVE | EVLIST_ACTIVE_LATER;

struct AddonData;
struct BaseRec;
struct Coop;
struct Batch;

// One loaded copy of the addon in this thread. Loading it again (process.dlopen, or require
// after a require.cache reset) makes another napi_env with its own JS layer and dispatcher;
// every copy in a thread shares that thread's tables, so no handle of another copy goes stale.
struct Instance {
  napi_env env = nullptr;
  napi_ref dispatcher = nullptr;  // JS function(fnIndex, eventIndex, fd, what)
  napi_ref batchDispatcher = nullptr;  // JS function(ring) running a batch of records (batch.cc)
  napi_ref probe = nullptr;       // a no-op JS function: calling it fails once the env is terminating
  napi_ref bufferedDispatcher = nullptr;  // JS function(kind, handle, a, b) of the buffered layer (bufferevent.cc)
};

struct EventRec {
  struct event* ev = nullptr;  // nullptr once freed (by ev.free() or with its base)
  BaseRec* base = nullptr;
  uint32_t index = 0;
  uint32_t generation = 0;
  uint32_t fnIndex = 0;      // JS callback slot named in ev->evcb_arg
  uint32_t posInBase = 0;    // position in base->events
  int fd = -1;
  short events = 0;
  int running = 0;           // trampoline frames of this event on the stack
  bool freeDeferred = false; // ev.free() from inside its own callback: event_free after it returns
  bool releaseDeferred = false;  // record released from inside its own callback: drop it after
  bool stopDeliveries = false;   // del/free inside a signal callback: no further call of this closure
  bool hostOwned = false;    // the update host's own event: counted apart by a slot census (rewrite.cc)
  int32_t batchPos = -1;     // position of its last record in the base's waiting batch (batch.cc)
  short spillWhat = 0;       // result bits a spill could not re-queue (batch.cc), for its next call
  bool spilled = false;      // re-queued by a spill since its last call
  // Our own view of its queues, kept by add/del/removeTimer and by its calls (batch.cc needs
  // the state a non-persistent event had before libevent deleted it for its call).
  bool inserted = false, timed = false;
  int64_t deadlineNs = 0;    // CLOCK_MONOTONIC expiry of its timeout while `timed`
  // A spilled persistent timeout (batch.cc): the deadline and period to put back at its call.
  bool fixDeadline = false;
  struct timeval fixExpiry = {0, 0}, fixPeriod = {0, 0};
  uint64_t fdDev = 0, fdIno = 0; // identity of the file behind fd at the last add (I/O events)
  uint64_t serial = 0;       // creation order in this thread (rewrite.cc: events made since a mark)
};

struct BaseRec {
  AddonData* data = nullptr;
  Instance* inst = nullptr;         // the copy of the addon that made it: its dispatcher and env
  struct event_base* eb = nullptr;  // nullptr once freed
  uint32_t index = 0;
  uint32_t generation = 0;
  std::string method;
  int features = 0;
  int priorities = 1;
  bool selectBackend = false;
  bool checkFds = false;      // poll/select: a closed fd spins (POLLNVAL) or fails the loop (EBADF)
  int selectSignalFd = -1;    // select: where libevent put its signal pipe (select must watch it)
  int loopDepth = 0;          // event_base_loop frames on the stack
  bool freeDeferred = false;  // base.free() from inside a callback: free after the loop returns
  bool released = false;      // JS object gone; record kept only while events refer to it
  bool gotExit = false, gotBreak = false;
  bool userBreak = false;
  bool terminating = false;   // the env began terminating while its exclusive loop ran     // loopbreak() asked by the user (run mode tells it from our own breaks)
  napi_ref pendingError = nullptr;  // exception thrown by a callback, rethrown by loop()/run()
  std::vector<EventRec*> events;    // every live event record of this base
  Coop* coop = nullptr;
  Batch* batch = nullptr;           // batched dispatch state (batch.cc)
  uint32_t callbacks = 0;           // trampoline calls so far (wraps; only compared)
  // Exclusive mode's wake-up for environment teardown (see loop.cc: WatchForTeardown).
  struct event* nodeWatch = nullptr;
  struct event* nodeRetry = nullptr;
  Instance* loopInst = nullptr;  // the copy whose env runs the exclusive loop now
};

struct AddonData {
  std::vector<Instance*> instances;  // the loaded copies of the addon in this thread
  std::vector<BaseRec*> bases;
  std::vector<uint32_t> freeBaseSlots;
  std::vector<EventRec*> events;
  std::vector<uint32_t> freeEventSlots;
  std::vector<uint32_t> baseGenerations, eventGenerations;
  size_t liveEvents = 0, liveBases = 0;
  uint64_t eventSerial = 0;  // the serial of the last event made (EventRec::serial)
  bool tearingDown = false;  // env cleanup: no more JS values may be made
};

// The addon data of the JS thread currently running (the trampoline has only the void* arg).
AddonData* CurrentData();
// The copy of the addon a call came through (by its napi_env).
Instance* InstanceOf(napi_env env);

// errors.cc
void ThrowType(napi_env env, const char* code, const std::string& msg);
void ThrowRange(napi_env env, const char* code, const std::string& msg);
void ThrowError(napi_env env, const char* code, const std::string& msg);
void ThrowErrno(napi_env env, int err, const char* syscall);
std::string LastLibeventMessage();
void InstallLibeventLogging();
// chain_cache.cc: libevent's chain-sized blocks are kept per thread (up to 1 MiB) for reuse.
void InstallChainCache();
void FlushChainCache(bool stop);
size_t ChainCacheBytes();

// Argument helpers: each returns false after throwing a clear error.
bool ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t lo, int64_t hi, int64_t* out);
bool ArgOptionalMs(const Napi::CallbackInfo& info, size_t i, const char* name, bool* present, struct timeval* tv);
bool MsToTimeval(napi_env env, const Napi::Value& v, const char* name, struct timeval* tv);
BaseRec* ArgBase(const Napi::CallbackInfo& info, size_t i, bool mustBeLive = true);
EventRec* ArgEvent(const Napi::CallbackInfo& info, size_t i, bool mustBeLive = true);
double HandleOf(uint32_t generation, uint32_t index);
bool FdIsOpen(int fd);

// base.cc
void FreeBaseNow(BaseRec* b);
void ReleaseBaseIfUnused(BaseRec* b);
bool TakePendingError(BaseRec* b, napi_value* err);
void StorePendingError(BaseRec* b, napi_value err);
void StoreThrownError(BaseRec* b);  // after a failed napi_call_function
void InitBase(Napi::Env env, Napi::Object exports);

// event.cc
void EventTrampoline(evutil_socket_t fd, short what, void* arg);
void* PackArg(uint32_t eventIndex, uint32_t fnIndex);
void FreeEventStruct(EventRec* r);
void UpdateSignalOwner(BaseRec* b);
void DisposeEventRec(EventRec* r);
void InitEvent(Napi::Env env, Napi::Object exports);

// Events whose fd was closed (or closed and reused) behind the binding's back: deletes every
// I/O event of b on such an fd and makes an ERR_FD_CLOSED error naming the fds and the indexes
// of the events deleted (the TS layer unpins them). `onlyFd` >= 0 checks that fd alone.
bool CollectClosedFdEvents(BaseRec* b, int onlyFd, napi_value* err);

// loop.cc (exclusive and cooperative run modes)
void CloseCoop(BaseRec* b);
void CloseTeardownWatch(BaseRec* b);
// How many of the addon's own internal events are in the active queue (libevent counts them
// in COUNT.ACTIVE, unlike in ADDED).
int ActiveInternalEvents(BaseRec* b);
// run({ microtasks: 'callback' }): whether b's callbacks are each followed by a drain of
// nextTicks and promise jobs, and the drain itself (no-op otherwise; call with no JS on the stack).
bool DrainsEachCallback(BaseRec* b);
void DrainAfterCallback(BaseRec* b);
// After a JS call in a run() pass: arms the run's wake for a Node timer the call set, and ends
// a long round of the pass so that libevent polls (loop.cc).
void NoteNodeWork(BaseRec* b);
void InitLoop(Napi::Env env, Napi::Object exports);

// batch.cc (batched dispatch)
bool BatchRecordEvent(BaseRec* b, EventRec* r, uint32_t slot, int fd, int what);
void BatchSpill(BaseRec* b);     // before anything that would see the waiting events' state
void BatchTouch(EventRec* r);    // before any call on r: spills if r is still waiting
bool BatchWaiting(BaseRec* b);   // records made, not yet handed to JS
void BatchBreakAfterFlush(BaseRec* b);
void BatchRunWaiting(BaseRec* b);  // runs waiting records now (before other JS of the pass, after a loop)
void CloseBatch(BaseRec* b);
void NoteAdded(EventRec* r, const struct timeval* tv);
void NoteDeleted(EventRec* r);
void FixSpilledDeadline(EventRec* r);
void InitBatch(Napi::Env env, Napi::Object exports);

// rewrite.cc
void InitRewrite(Napi::Env env, Napi::Object exports);

// strategies.cc
void InitStrategies(Napi::Env env, Napi::Object exports);

// io.cc
void InitIo(Napi::Env env, Napi::Object exports);

// iobuf.cc (socket-aware transfers, registered buffers)
ssize_t FdRead(int fd, uint8_t* p, size_t n);
ssize_t FdWrite(int fd, const uint8_t* p, size_t n);
void ForgetFdKind(int fd);
void InitIoBuffers(Napi::Env env, Napi::Object io);
// bufferevent.cc (buffered connections: bufferevents, evbuffers, listeners; see buffered.h)
void FreeBufferedOfBase(BaseRec* b);  // before event_base_free: they hold pointers into it
void InitBuffered(Napi::Env env, Napi::Object exports);

// ownfds.cc (fds a base owns: refused by io.close, and reinit's check for other event loops)
std::string FdKind(int fd);
int ProbeLowestFree(int* out, int n);
void RecordOwnedFds(const BaseRec* b, const int* candidates, int n);
void ForgetOwnedFds(const BaseRec* b);
std::vector<int> OwnedFdsOf(const BaseRec* b);
bool FdOwnedByABase(int fd);
int ForeignEpollFds();
extern int foreignEpollBaseline;  // at the first load in the main thread; -1 if unknown

// peercred.cc
void InitPeerCred(Napi::Env env, Napi::Object exports);

}  // namespace nle
