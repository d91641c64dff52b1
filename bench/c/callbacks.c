/*
 * callbacks: the C baseline for node-libevent's loop benchmark.
 *
 * Workload (the one libevent's test/bench.c made standard): n socketpairs, one persistent
 * EV_READ event on the reading end of each. `a` pairs, evenly spaced, get one byte to start
 * with. Every callback reads its byte and, while writes remain, writes one byte to the next
 * pair, so `a` chains run around the ring until `w` writes have been made. The timed section
 * is event_base_loop(EVLOOP_ONCE | EVLOOP_NONBLOCK) in a loop until every byte written has
 * been read: a + w callbacks, each with one recv and at most one send.
 *
 * The events are created and added once; every run starts from a drained state (all bytes
 * of the previous run were read), so runs are independent without re-adding.
 *
 * Usage: callbacks [-m epoll|poll|select] [-n pairs] [-a active] [-w writes] [-r runs]
 *                  [-k warmup-runs] [-s sr|rw] [-t idle-threads] [-l]
 * Prints one JSON object: the configuration and µs per callback for each timed run.
 *
 * The baseline is bench.c's: recv/send in a single-threaded process. Two switches exist only
 * to explain a binding's distance from it, not to change the baseline:
 *   -s rw  read()/write() instead of recv()/send() (what node-libevent's io.read/io.write use)
 *   -t k   start k threads that only sleep. Linux skips the file reference count on fd
 *          lookups in a single-threaded process; any second thread (Node always has several)
 *          makes every read/write/epoll_ctl pay an atomic get/put on the file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

struct pair {
  int rfd, wfd;
  struct event *ev;
};

static struct pair *pairs;
static int npairs;
static long writes_left; /* writes still to make in this run */
static long bytes_sent;  /* bytes written in this run, initial ones included */
static long bytes_read;  /* bytes read in this run (= callbacks served) */
static long errors;
static int use_rw; /* -s rw */

static ssize_t get_byte(int fd, unsigned char *byte) {
  return use_rw ? read(fd, byte, 1) : recv(fd, byte, 1, 0);
}

static ssize_t put_byte(int fd) {
  return use_rw ? write(fd, "x", 1) : send(fd, "x", 1, 0);
}

static void *idle_thread(void *arg) {
  (void)arg;
  for (;;) pause();
  return NULL;
}

static void on_read(evutil_socket_t fd, short what, void *arg) {
  long idx = (long)(intptr_t)arg;
  unsigned char byte;
  (void)what;
  ssize_t got = get_byte(fd, &byte);
  if (got == 1) bytes_read++;
  else errors++;
  if (writes_left > 0) {
    long next = idx + 1 == npairs ? 0 : idx + 1;
    if (put_byte(pairs[next].wfd) == 1) bytes_sent++;
    else errors++;
    writes_left--;
  }
}

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* CPU time of the whole process (all threads, user + system): unlike the wall clock, it does
   not count time the process spent descheduled by other load. */
static double cpu_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* One run; returns µs per callback (a + w callbacks), and the CPU µs per callback in *cpu. */
static double run_once(struct event_base *base, int active, long writes, double *cpu) {
  int spacing = npairs / active;
  writes_left = writes;
  bytes_sent = 0;
  bytes_read = 0;
  for (int i = 0; i < active; i++) {
    if (put_byte(pairs[i * spacing].wfd) == 1) bytes_sent++;
    else errors++;
  }
  double t0 = now_us();
  double c0 = cpu_us();
  do {
    if (event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK) < 0) {
      fprintf(stderr, "callbacks: event_base_loop failed\n");
      exit(1);
    }
  } while (bytes_read != bytes_sent || writes_left > 0);
  double t1 = now_us();
  *cpu = (cpu_us() - c0) / (double)bytes_read;
  return (t1 - t0) / (double)bytes_read;
}

static void usage(const char *argv0) {
  fprintf(stderr, "usage: %s [-m method] [-n pairs] [-a active] [-w writes] [-r runs] [-k warmup] [-s sr|rw] [-t threads] [-l]\n", argv0);
  exit(2);
}

int main(int argc, char **argv) {
  const char *method = NULL;
  int active = 1, runs = 25, warmup = 3, threads = 0;
  long writes = -1;
  int opt;
  npairs = 100;
  while ((opt = getopt(argc, argv, "m:n:a:w:r:k:s:t:l")) != -1) {
    switch (opt) {
      case 'm': method = optarg; break;
      case 'n': npairs = atoi(optarg); break;
      case 'a': active = atoi(optarg); break;
      case 'w': writes = atol(optarg); break;
      case 'r': runs = atoi(optarg); break;
      case 'k': warmup = atoi(optarg); break;
      case 's':
        if (strcmp(optarg, "rw") == 0) use_rw = 1;
        else if (strcmp(optarg, "sr") == 0) use_rw = 0;
        else usage(argv[0]);
        break;
      case 't': threads = atoi(optarg); break;
      case 'l': {
        const char **m = event_get_supported_methods();
        for (int i = 0; m[i]; i++) printf("%s\n", m[i]);
        return 0;
      }
      default: usage(argv[0]);
    }
  }
  if (writes < 0) writes = npairs;
  if (npairs < 1 || active < 1 || active > npairs || runs < 1 || warmup < 0 || threads < 0) usage(argv[0]);
  for (int i = 0; i < threads; i++) {
    pthread_t t;
    if (pthread_create(&t, NULL, idle_thread, NULL) != 0) {
      fprintf(stderr, "callbacks: pthread_create failed\n");
      return 1;
    }
    pthread_detach(t);
  }

  /* 2n descriptors plus a few for the backend. */
  struct rlimit rl;
  rlim_t need = (rlim_t)npairs * 2 + 50;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need) {
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
      fprintf(stderr, "callbacks: need %lu descriptors, hard limit is %lu\n", (unsigned long)need,
              (unsigned long)rl.rlim_max);
      return 1;
    }
    rl.rlim_cur = need;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
      perror("setrlimit");
      return 1;
    }
  }

  struct event_config *cfg = event_config_new();
  if (method) {
    const char **m = event_get_supported_methods();
    for (int i = 0; m[i]; i++)
      if (strcmp(m[i], method) != 0) event_config_avoid_method(cfg, m[i]);
  }
  struct event_base *base = event_base_new_with_config(cfg);
  event_config_free(cfg);
  if (!base) {
    fprintf(stderr, "callbacks: no event base for method %s\n", method ? method : "(default)");
    return 1;
  }
  if (method && strcmp(event_base_get_method(base), method) != 0) {
    fprintf(stderr, "callbacks: asked for %s, got %s\n", method, event_base_get_method(base));
    return 1;
  }

  pairs = calloc((size_t)npairs, sizeof *pairs);
  for (int i = 0; i < npairs; i++) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
      perror("socketpair");
      return 1;
    }
    if (strcmp(event_base_get_method(base), "select") == 0 && (sv[0] >= 1024 || sv[1] >= 1024)) {
      fprintf(stderr, "callbacks: select cannot watch fd %d (FD_SETSIZE 1024)\n", sv[0]);
      return 1;
    }
    pairs[i].rfd = sv[0];
    pairs[i].wfd = sv[1];
    pairs[i].ev = event_new(base, sv[0], EV_READ | EV_PERSIST, on_read, (void *)(intptr_t)i);
    if (!pairs[i].ev || event_add(pairs[i].ev, NULL) != 0) {
      fprintf(stderr, "callbacks: event_new/event_add failed\n");
      return 1;
    }
  }

  double cpu_ignored;
  for (int i = 0; i < warmup; i++) run_once(base, active, writes, &cpu_ignored);
  double *us = malloc(sizeof(double) * (size_t)runs);
  double *cpu = malloc(sizeof(double) * (size_t)runs);
  for (int i = 0; i < runs; i++) us[i] = run_once(base, active, writes, &cpu[i]);

  printf("{\"impl\":\"c\",\"method\":\"%s\",\"n\":%d,\"a\":%d,\"w\":%ld,\"callbacksPerRun\":%ld,"
         "\"io\":\"%s\",\"idleThreads\":%d,\"libevent\":\"%s\",\"errors\":%ld,\"usPerCallback\":[",
         event_base_get_method(base), npairs, active, writes, (long)active + writes, use_rw ? "read/write" : "recv/send",
         threads, event_get_version(), errors);
  for (int i = 0; i < runs; i++) printf("%s%.4f", i ? "," : "", us[i]);
  printf("],\"cpuUsPerCallback\":[");
  for (int i = 0; i < runs; i++) printf("%s%.4f", i ? "," : "", cpu[i]);
  printf("]}\n");

  for (int i = 0; i < npairs; i++) {
    event_free(pairs[i].ev);
    close(pairs[i].rfd);
    close(pairs[i].wfd);
  }
  free(pairs);
  free(us);
  free(cpu);
  event_base_free(base);
  return errors ? 1 : 0;
}
