/* The C side of the buffered-connection benchmarks, on libevent bufferevents directly:
 *   buffered echo PORT                 echo server (the C baseline)
 *   buffered proxy PORT UPSTREAM       relay in le-proxy's shape (the C baseline for proxies)
 *   buffered sink PORT                 plain epoll echo with large reads (the proxies' upstream)
 *   buffered load PORT CONNS SIZE SECS ping-pong load: CONNS connections each send SIZE bytes
 *                                      and wait for them back; prints one JSON line
 *   buffered stream PORT BYTES         one connection sends BYTES and reads them back; JSON line
 * The clients and the sink use plain sockets, not bufferevents (see below).
 * Servers print "port N" on stdout once listening. Every socket has TCP_NODELAY.
 */
#define _POSIX_C_SOURCE 200809L
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RELAY_HIGH (512 * 1024)
#define RELAY_LOW (256 * 1024)

static struct event_base *base;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void nodelay(evutil_socket_t fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static struct sockaddr_in loopback(int port) {
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_port = htons((unsigned short)port);
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sin;
}

static void close_on_end(struct bufferevent *bev, short what, void *arg) {
  (void)arg;
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) bufferevent_free(bev);
}

/* ---- echo server */

static void echo_read(struct bufferevent *bev, void *arg) {
  (void)arg;
  evbuffer_add_buffer(bufferevent_get_output(bev), bufferevent_get_input(bev));
}

static void echo_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len, void *arg) {
  (void)l; (void)sa; (void)len; (void)arg;
  nodelay(fd);
  struct bufferevent *bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
  bufferevent_setcb(bev, echo_read, NULL, close_on_end, NULL);
  bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* ---- proxy (le-proxy.c's shape) */

static int upstream_port;

static void proxy_read(struct bufferevent *bev, void *arg);

static void proxy_drained(struct bufferevent *bev, void *arg) {
  struct bufferevent *partner = arg;
  bufferevent_setcb(bev, proxy_read, NULL, NULL, partner);
  bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
  if (partner) bufferevent_enable(partner, EV_READ);
}

static void proxy_event(struct bufferevent *bev, short what, void *arg);

static void proxy_read(struct bufferevent *bev, void *arg) {
  struct bufferevent *partner = arg;
  if (!partner) {
    evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
    return;
  }
  struct evbuffer *dst = bufferevent_get_output(partner);
  evbuffer_add_buffer(dst, bufferevent_get_input(bev));
  if (evbuffer_get_length(dst) >= RELAY_HIGH) {
    bufferevent_setcb(partner, proxy_read, proxy_drained, proxy_event, bev);
    bufferevent_setwatermark(partner, EV_WRITE, RELAY_LOW, RELAY_HIGH);
    bufferevent_disable(bev, EV_READ);
  }
}

static void close_when_flushed(struct bufferevent *bev, void *arg) {
  (void)arg;
  if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) bufferevent_free(bev);
}

static void proxy_event(struct bufferevent *bev, short what, void *arg) {
  struct bufferevent *partner = arg;
  if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) return;
  if (partner) {
    proxy_read(bev, partner);
    if (evbuffer_get_length(bufferevent_get_output(partner))) {
      bufferevent_setcb(partner, NULL, close_when_flushed, NULL, NULL);
      bufferevent_disable(partner, EV_READ);
    } else {
      bufferevent_free(partner);
    }
  }
  bufferevent_free(bev);
}

static void proxy_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len, void *arg) {
  (void)l; (void)sa; (void)len; (void)arg;
  nodelay(fd);
  struct bufferevent *in = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
  struct bufferevent *out = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
  struct sockaddr_in up = loopback(upstream_port);
  if (bufferevent_socket_connect(out, (struct sockaddr *)&up, sizeof up) < 0) {
    bufferevent_free(in);
    bufferevent_free(out);
    return;
  }
  nodelay(bufferevent_getfd(out));
  bufferevent_setcb(in, proxy_read, NULL, proxy_event, out);
  bufferevent_setcb(out, proxy_read, NULL, proxy_event, in);
  bufferevent_enable(in, EV_READ | EV_WRITE);
  bufferevent_enable(out, EV_READ | EV_WRITE);
}

static int serve(int port, evconnlistener_cb cb) {
  struct sockaddr_in sin = loopback(port);
  struct evconnlistener *l = evconnlistener_new_bind(base, cb, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 511,
                                                     (struct sockaddr *)&sin, sizeof sin);
  if (!l) {
    perror("listen");
    return 1;
  }
  struct sockaddr_in got;
  socklen_t gl = sizeof got;
  getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&got, &gl);
  printf("port %d\n", ntohs(got.sin_port));
  fflush(stdout);
  event_base_dispatch(base);
  return 0;
}

/* ---- clients and the proxies' upstream: plain nonblocking sockets and epoll, large reads.
 * They are not what is measured; they must cost the machine as little as possible so that the
 * server or proxy under test is the limit (a client on bufferevents would itself read 4 KiB per
 * loop pass, libevent 2.1's EVBUFFER_MAX_READ). */

#define IO_CHUNK (256 * 1024)

static int connect_to(int port) {
  struct sockaddr_in sin = loopback(port);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
    perror("connect");
    exit(1);
  }
  nodelay(fd);
  evutil_make_socket_nonblocking(fd);
  return fd;
}

struct conn {
  int fd;
  size_t sent, got;
  double sent_at;
};

static size_t msg_size;
static char *msg;
static double *lat;
static size_t nlat, caplat;

/* Queues the rest of this connection's message; false when the socket is full. */
static int load_push(struct conn *c) {
  while (c->sent < msg_size) {
    ssize_t n = write(c->fd, msg + c->sent, msg_size - c->sent);
    if (n < 0) return 0;
    c->sent += (size_t)n;
  }
  return 1;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int load(int port, int conns, size_t size, double secs) {
  msg_size = size;
  msg = malloc(size);
  memset(msg, 'x', size);
  char *sink = malloc(IO_CHUNK);
  struct conn *cs = calloc((size_t)conns, sizeof *cs);
  int ep = epoll_create1(0);
  for (int i = 0; i < conns; i++) {
    cs[i].fd = connect_to(port);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
    epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
  }
  double t0 = now_s();
  double measure_from = t0 + 0.5; /* warm-up: connections settle, a JS server's JIT warms */
  double measure_until = measure_from + secs;
  unsigned long long msgs = 0;
  for (int i = 0; i < conns; i++) {
    cs[i].sent_at = now_s();
    load_push(&cs[i]);
  }
  struct epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, 1000);
    if (n < 0) continue;
    if (n == 0) {
      fprintf(stderr, "load: no reply for 1 s\n");
      return 1;
    }
    double t = now_s();
    for (int k = 0; k < n; k++) {
      struct conn *c = evs[k].data.ptr;
      ssize_t r;
      while ((r = read(c->fd, sink, IO_CHUNK)) > 0) c->got += (size_t)r;
      if (r == 0) {
        fprintf(stderr, "load: the server closed a connection\n");
        return 1;
      }
      if (c->sent < msg_size) load_push(c); /* a message larger than the socket buffer */
      if (c->got < msg_size) continue;
      if (t >= measure_from && t < measure_until) {
        msgs++;
        if (nlat == caplat) {
          caplat = caplat ? caplat * 2 : 1 << 16;
          lat = realloc(lat, caplat * sizeof *lat);
        }
        lat[nlat++] = (t - c->sent_at) * 1e6;
      }
      c->got -= msg_size;
      c->sent = 0;
      c->sent_at = t;
      load_push(c);
    }
    if (t >= measure_until) break;
  }
  qsort(lat, nlat, sizeof *lat, cmp_double);
  double p50 = nlat ? lat[nlat / 2] : 0, p99 = nlat ? lat[(size_t)(nlat * 0.99)] : 0;
  printf("{\"conns\":%d,\"size\":%zu,\"seconds\":%.3f,\"msgs\":%llu,\"bytesPerSec\":%.0f,\"p50us\":%.1f,\"p99us\":%.1f}\n", conns,
         size, secs, msgs, msgs * (double)size * 2 / secs, p50, p99);
  return 0;
}

/* One connection sends BYTES and reads them back, both at once. */
static int stream(int port, size_t bytes) {
  static char out[IO_CHUNK], in[IO_CHUNK];
  int fd = connect_to(port);
  size_t sent = 0, got = 0;
  double t0 = now_s();
  while (got < bytes) {
    struct pollfd p = {.fd = fd, .events = POLLIN | (sent < bytes ? POLLOUT : 0)};
    if (poll(&p, 1, 5000) <= 0) {
      fprintf(stderr, "stream: stalled at %zu of %zu bytes back\n", got, bytes);
      return 1;
    }
    if (p.revents & POLLOUT) {
      size_t want = bytes - sent < sizeof out ? bytes - sent : sizeof out;
      ssize_t n = write(fd, out, want);
      if (n > 0) sent += (size_t)n;
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n;
      while ((n = read(fd, in, sizeof in)) > 0) got += (size_t)n;
      if (n == 0 && got < bytes) {
        fprintf(stderr, "stream: closed at %zu of %zu bytes back\n", got, bytes);
        return 1;
      }
    }
  }
  double s = now_s() - t0;
  close(fd);
  printf("{\"bytes\":%zu,\"seconds\":%.4f,\"bytesPerSec\":%.0f}\n", bytes, s, bytes / s);
  return 0;
}

/* The proxies' upstream: echo with plain epoll and large reads (level-triggered; a connection
 * whose echo is blocked waits for EPOLLOUT with its unsent bytes). */
struct sink_conn {
  int fd;
  char *buf;
  size_t len, off;
};

static int sink_echo(int port) {
  struct sockaddr_in sin = loopback(port);
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(lfd, (struct sockaddr *)&sin, sizeof sin) != 0 || listen(lfd, 511) != 0) {
    perror("listen");
    return 1;
  }
  struct sockaddr_in got;
  socklen_t gl = sizeof got;
  getsockname(lfd, (struct sockaddr *)&got, &gl);
  printf("port %d\n", ntohs(got.sin_port));
  fflush(stdout);
  int ep = epoll_create1(0);
  struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
  struct epoll_event evs[64];
  for (;;) {
    int n = epoll_wait(ep, evs, 64, -1);
    for (int k = 0; k < n; k++) {
      struct sink_conn *c = evs[k].data.ptr;
      if (!c) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) continue;
        nodelay(fd);
        evutil_make_socket_nonblocking(fd);
        c = calloc(1, sizeof *c);
        c->fd = fd;
        c->buf = malloc(IO_CHUNK);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        continue;
      }
      int closed = 0;
      for (;;) {
        if (c->off < c->len) {
          ssize_t w = write(c->fd, c->buf + c->off, c->len - c->off);
          if (w < 0) break;
          c->off += (size_t)w;
          if (c->off < c->len) break;
        }
        ssize_t r = read(c->fd, c->buf, IO_CHUNK);
        if (r <= 0) {
          closed = r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
          break;
        }
        c->len = (size_t)r;
        c->off = 0;
      }
      if (closed) {
        close(c->fd);
        free(c->buf);
        free(c);
        continue;
      }
      struct epoll_event ev = {.events = c->off < c->len ? EPOLLOUT : EPOLLIN, .data.ptr = c};
      epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    }
  }
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  base = event_base_new();
  if (argc >= 3 && !strcmp(argv[1], "echo")) return serve(atoi(argv[2]), echo_accept);
  if (argc >= 4 && !strcmp(argv[1], "proxy")) {
    upstream_port = atoi(argv[3]);
    return serve(atoi(argv[2]), proxy_accept);
  }
  if (argc >= 6 && !strcmp(argv[1], "load")) return load(atoi(argv[2]), atoi(argv[3]), (size_t)atol(argv[4]), atof(argv[5]));
  if (argc >= 4 && !strcmp(argv[1], "stream")) return stream(atoi(argv[2]), (size_t)atol(argv[3]));
  if (argc >= 3 && !strcmp(argv[1], "sink")) return sink_echo(atoi(argv[2]));
  fprintf(stderr, "usage: buffered echo PORT | proxy PORT UPSTREAM | sink PORT | load PORT CONNS SIZE SECS | stream PORT BYTES\n");
  return 2;
}
