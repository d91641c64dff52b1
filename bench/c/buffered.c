/* The C side of the buffered-connection benchmarks, on libevent bufferevents directly:
 *   buffered echo PORT                 echo server (the C baseline)
 *   buffered proxy PORT UPSTREAM       relay in le-proxy's shape (the C baseline for proxies)
 *   buffered load PORT CONNS SIZE SECS ping-pong load: CONNS connections each send SIZE bytes
 *                                      and wait for them back; prints one JSON line
 *   buffered stream PORT BYTES         one connection sends BYTES and reads them back; JSON line
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
#include <sys/socket.h>
#include <time.h>

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

/* ---- ping-pong load */

struct conn {
  struct bufferevent *bev;
  size_t got;
  double sent_at;
};

static size_t msg_size;
static char *msg;
static double measure_from, measure_until;
static unsigned long long msgs;
static double *lat;
static size_t nlat, caplat;

static void load_send(struct conn *c) {
  c->got = 0;
  c->sent_at = now_s();
  bufferevent_write(c->bev, msg, msg_size);
}

static void load_read(struct bufferevent *bev, void *arg) {
  struct conn *c = arg;
  struct evbuffer *in = bufferevent_get_input(bev);
  size_t n = evbuffer_get_length(in);
  evbuffer_drain(in, n);
  c->got += n;
  if (c->got < msg_size) return;
  double t = now_s();
  if (t >= measure_from && t < measure_until) {
    msgs++;
    if (nlat == caplat) {
      caplat = caplat ? caplat * 2 : 1 << 16;
      lat = realloc(lat, caplat * sizeof *lat);
    }
    lat[nlat++] = (t - c->sent_at) * 1e6;
  }
  if (t >= measure_until) {
    event_base_loopbreak(base);
    return;
  }
  load_send(c);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int load(int port, int conns, size_t size, double secs) {
  msg_size = size;
  msg = malloc(size);
  memset(msg, 'x', size);
  struct conn *cs = calloc((size_t)conns, sizeof *cs);
  struct sockaddr_in sin = loopback(port);
  for (int i = 0; i < conns; i++) {
    cs[i].bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (bufferevent_socket_connect(cs[i].bev, (struct sockaddr *)&sin, sizeof sin) < 0) {
      perror("connect");
      return 1;
    }
    nodelay(bufferevent_getfd(cs[i].bev));
    bufferevent_setcb(cs[i].bev, load_read, NULL, NULL, &cs[i]);
    bufferevent_enable(cs[i].bev, EV_READ | EV_WRITE);
  }
  double t0 = now_s();
  measure_from = t0 + 0.5; /* warm-up: connections settle, JIT of a JS server warms */
  measure_until = measure_from + secs;
  for (int i = 0; i < conns; i++) load_send(&cs[i]);
  event_base_dispatch(base);
  qsort(lat, nlat, sizeof *lat, cmp_double);
  double p50 = nlat ? lat[nlat / 2] : 0, p99 = nlat ? lat[(size_t)(nlat * 0.99)] : 0;
  printf("{\"conns\":%d,\"size\":%zu,\"seconds\":%.3f,\"msgs\":%llu,\"bytesPerSec\":%.0f,\"p50us\":%.1f,\"p99us\":%.1f}\n", conns,
         size, secs, msgs, msgs * (double)size * 2 / secs, p50, p99);
  return 0;
}

/* ---- one-connection stream */

static size_t stream_total, stream_sent, stream_got;
static double stream_t0;

static void stream_fill(struct bufferevent *bev, void *arg) {
  (void)arg;
  static char chunk[65536];
  struct evbuffer *out = bufferevent_get_output(bev);
  while (stream_sent < stream_total && evbuffer_get_length(out) < RELAY_HIGH) {
    size_t n = stream_total - stream_sent < sizeof chunk ? stream_total - stream_sent : sizeof chunk;
    evbuffer_add(out, chunk, n);
    stream_sent += n;
  }
}

static void stream_read(struct bufferevent *bev, void *arg) {
  (void)arg;
  struct evbuffer *in = bufferevent_get_input(bev);
  size_t n = evbuffer_get_length(in);
  evbuffer_drain(in, n);
  stream_got += n;
  if (stream_got >= stream_total) event_base_loopbreak(base);
}

static int stream(int port, size_t bytes) {
  stream_total = bytes;
  struct sockaddr_in sin = loopback(port);
  struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
  if (bufferevent_socket_connect(bev, (struct sockaddr *)&sin, sizeof sin) < 0) {
    perror("connect");
    return 1;
  }
  nodelay(bufferevent_getfd(bev));
  bufferevent_setwatermark(bev, EV_WRITE, RELAY_LOW, 0);
  bufferevent_setcb(bev, stream_read, stream_fill, NULL, NULL);
  bufferevent_enable(bev, EV_READ | EV_WRITE);
  stream_t0 = now_s();
  stream_fill(bev, NULL);
  event_base_dispatch(base);
  double s = now_s() - stream_t0;
  printf("{\"bytes\":%zu,\"seconds\":%.4f,\"bytesPerSec\":%.0f}\n", bytes, s, bytes / s);
  return 0;
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
  fprintf(stderr, "usage: buffered echo PORT | proxy PORT UPSTREAM | load PORT CONNS SIZE SECS | stream PORT BYTES\n");
  return 2;
}
