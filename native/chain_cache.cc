// A small per-thread cache of the memory libevent allocates for evbuffer chains (4-256 KiB).
//
// Why: with BEV_OPT_DEFER_CALLBACKS, one loop pass over N readable sockets first runs libevent's
// N reads (each mallocs an 8 KiB chain for a 4 KiB message) and only then the N read callbacks,
// which send the bytes and free the chains. With a hundred connections that is 800 KiB taken
// from the top of glibc's heap and given back in one go, above glibc's 128 KiB trim threshold,
// so every pass shrinks the heap with brk and the next one grows it again, and the reads fault
// in fresh zeroed pages: about one page fault per message, a fifth of the server's CPU at 100
// echo connections (measured; none at 10). Keeping up to kCacheBytes of freed chain-sized
// blocks per thread and handing them back to libevent's next allocations ends that churn.
//
// The functions are compatible with plain malloc/free both ways (a block is a malloc block
// whatever path it took), so libevent memory allocated before they were installed, or by
// another user of a shared libevent, is freed correctly. Under AddressSanitizer a cached block
// is poisoned, so a use after libevent freed it is still reported.
#include <malloc.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>

#include <event2/event.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NLE_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define NLE_ASAN 1
#endif
#ifdef NLE_ASAN
#include <sanitizer/asan_interface.h>
#define NLE_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define NLE_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define NLE_POISON(p, n) ((void)(p), (void)(n))
#define NLE_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace nle {

namespace {

constexpr int kMinShift = 12;                       // 4 KiB: smaller blocks glibc's bins serve well
constexpr int kMaxShift = 18;                       // 256 KiB: a relay's reads (readSize) make chains this big
constexpr int kClasses = kMaxShift - kMinShift + 1;
constexpr size_t kCacheBytes = 1024 * 1024;         // per thread, over all classes
constexpr int kPerClass = kCacheBytes >> kMinShift;  // enough slots for kCacheBytes of the smallest

struct ChainCache {
  void* blocks[kClasses][kPerClass];
  int count[kClasses];
  size_t bytes;
  bool off;  // set when the thread's addon instance is torn down: plain malloc/free from then on
};

thread_local ChainCache cache;

int FloorShift(size_t n) {
  int s = 0;
  while ((size_t{2} << s) <= n) s++;
  return s;
}

int CeilShift(size_t n) {
  int s = FloorShift(n);
  return (size_t{1} << s) < n ? s + 1 : s;
}

void* CachedMalloc(size_t n) {
  if (n > (size_t{1} << (kMinShift - 1)) && n <= (size_t{1} << kMaxShift) && !cache.off) {
    // Any cached block of class k holds at least 2^k usable bytes.
    int k = std::max(CeilShift(n), kMinShift) - kMinShift;
    if (cache.count[k] > 0) {
      void* p = cache.blocks[k][--cache.count[k]];
      size_t usable = malloc_usable_size(p);
      cache.bytes -= usable;
      NLE_UNPOISON(p, usable);
      return p;
    }
  }
  return malloc(n);
}

void* CachedRealloc(void* p, size_t n) { return realloc(p, n); }

void CachedFree(void* p) {
  if (!p) return;
  size_t usable = malloc_usable_size(p);
  if (!cache.off && usable >= (size_t{1} << kMinShift) && usable < (size_t{2} << kMaxShift) &&
      cache.bytes + usable <= kCacheBytes) {
    int k = FloorShift(usable) - kMinShift;
    if (cache.count[k] < kPerClass) {
      NLE_POISON(p, usable);
      cache.blocks[k][cache.count[k]++] = p;
      cache.bytes += usable;
      return;
    }
  }
  free(p);
}

}  // namespace

void InstallChainCache() {
  // Idempotent (the same three functions every time); libevent reads them on each allocation.
  event_set_mem_functions(CachedMalloc, CachedRealloc, CachedFree);
}

void FlushChainCache(bool stop) {
  for (int k = 0; k < kClasses; k++) {
    while (cache.count[k] > 0) {
      void* p = cache.blocks[k][--cache.count[k]];
      NLE_UNPOISON(p, malloc_usable_size(p));
      free(p);
    }
  }
  cache.bytes = 0;
  if (stop) cache.off = true;
}

size_t ChainCacheBytes() { return cache.bytes; }

}  // namespace nle
