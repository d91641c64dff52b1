// The fds an event base owns: its backend's (epoll fd, timerfd) and its signal pipe. libevent
// gives no way to list them, so they are found where the kernel must have put them: base
// creation (and event_reinit) take the lowest free fds, which the caller probes just before.
// Kept process-wide, with each file's identity, so that io.close() from any thread refuses
// them (libevent exits the process when its signal pipe goes away) and so that reinit can
// tell whether other event loops (worker threads) exist.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "common.h"

namespace nle {

struct OwnedFd {
  const BaseRec* base;
  int fd;
  dev_t dev;
  ino_t ino;
};

static std::mutex ownedMutex;
static std::vector<OwnedFd> owned;

// What /proc/self/fd says an fd is: "anon_inode:[eventpoll]", "pipe:[123]", ...
std::string FdKind(int fd) {
  char path[64], target[128];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(path, target, sizeof target - 1);
  if (n < 0) return "";
  target[n] = '\0';
  return target;
}

static bool LooksLibeventOwned(int fd) {
  std::string k = FdKind(fd);
  return k == "anon_inode:[eventpoll]" || k == "anon_inode:[timerfd]" || k == "anon_inode:[eventfd]" ||
         k.compare(0, 5, "pipe:") == 0;
}

void RecordOwnedFds(const BaseRec* b, const int* candidates, int n) {
  std::lock_guard<std::mutex> lock(ownedMutex);
  for (size_t k = 0; k < owned.size();)
    if (owned[k].base == b) owned.erase(owned.begin() + static_cast<ptrdiff_t>(k));
    else k++;
  for (int i = 0; i < n; i++) {
    struct stat st;
    if (candidates[i] < 0 || fstat(candidates[i], &st) != 0 || !LooksLibeventOwned(candidates[i])) continue;
    owned.push_back({b, candidates[i], st.st_dev, st.st_ino});
  }
}

void ForgetOwnedFds(const BaseRec* b) { RecordOwnedFds(b, nullptr, 0); }

std::vector<int> OwnedFdsOf(const BaseRec* b) {
  std::lock_guard<std::mutex> lock(ownedMutex);
  std::vector<int> out;
  for (const OwnedFd& o : owned)
    if (o.base == b) out.push_back(o.fd);
  return out;
}

bool FdOwnedByABase(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return false;
  std::lock_guard<std::mutex> lock(ownedMutex);
  for (const OwnedFd& o : owned)
    if (o.fd == fd && o.dev == st.st_dev && o.ino == st.st_ino) return true;
  return false;
}

// Epoll fds of this process that no base owns: libuv's loops (the main thread's, Node's own
// helper threads', one per worker thread) and any other library's.
int ForeignEpollFds() {
  std::vector<int> ours;
  {
    std::lock_guard<std::mutex> lock(ownedMutex);
    for (const OwnedFd& o : owned) ours.push_back(o.fd);
  }
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return -1;
  int count = 0;
  int self = dirfd(dir);
  while (struct dirent* e = readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    int fd = atoi(e->d_name);
    if (fd == self || FdKind(fd) != "anon_inode:[eventpoll]") continue;
    bool mine = false;
    for (int o : ours) mine |= o == fd;
    if (!mine) count++;
  }
  closedir(dir);
  return count;
}

// The lowest `n` free fd numbers right now (opened and closed again), or fewer on EMFILE.
int ProbeLowestFree(int* out, int n) {
  int got = 0;
  for (; got < n; got++) {
    out[got] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (out[got] < 0) break;
  }
  for (int i = 0; i < got; i++) close(out[i]);
  return got;
}

}  // namespace nle
