/* client.c: libdyna's engine: nodes and their connections, routing, the request FIFOs,
 * the poll loop with timeouts, and ring refreshes (see dyna.h for the contract).
 *
 * Request flow:
 *
 *   submit ─▶ choose node (ring: first reachable of the key's preference list;
 *             else first reachable seed; then any node) ─▶ choose its connection with
 *             the fewest requests in flight (open one while fewer than conns_per_node)
 *          ─▶ encode into conn->out, append to conn FIFO
 *   poll   ─▶ send conn->out ─▶ epoll_wait ─▶ recv into conn->in ─▶ parse replies, each
 *             completes the FIFO head (RESP answers in order) ─▶ callback
 *          ─▶ a FIFO head past its deadline fails its connection: every request on it
 *             ends with DYNA_ETIMEDOUT, the stream being out of step
 *
 * A connection error or timeout marks the node down for down_backoff_ms and asks for a
 * ring refresh; refreshes are ordinary requests (DYNA.RING) on the same machinery.
 * Connecting is blocking (bounded by connect_timeout_ms) and happens inside submit. */
#include "client/client_int.h"
#include "util/alloc.h"
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct dyna_client {
  dyna_options_t opt;
  dyna_cnode_t **nodes; /* seeds first */
  size_t nnodes, cap;
  dyna_cring_t ring;
  int have_ring;
  dyna_cnode_t **ring_node;   /* ring.nmembers: member index -> node */
  uint64_t next_refresh_ns;
  uint64_t last_refresh_ns;
  int refresh_inflight;
  int refresh_due;
  size_t pending;             /* submitted, callback not yet run */
  size_t completed;           /* callbacks run (dyna_poll's count) */
  dyna_creq_t *free_reqs;
  int in_cb;
  dyna_resp_limits_t lim;
  int epfd;                   /* epoll instance watching every open connection (owned) */
  struct epoll_event ev[64];
  void *tls_ctx;              /* TLS client context (tls.c; owned), NULL: plain */
  char tls_sni[256];          /* the name to verify servers against ("" : each host) */
  char *user, *password;      /* opt.user / opt.password, copied (owned; NULL: none) */
  char errmsg[256];
};

uint64_t dyna_client_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int fail(dyna_client_t *c, int code, const char *fmt, const char *detail) {
  snprintf(c->errmsg, sizeof(c->errmsg), fmt, detail);
  return code;
}

const char *dyna_client_errmsg(const dyna_client_t *c) { return c ? c->errmsg : ""; }

void dyna_client_set_errmsg(dyna_client_t *c, const char *msg) {
  snprintf(c->errmsg, sizeof(c->errmsg), "%s", msg);
}

void dyna_options_init(dyna_options_t *o) { memset(o, 0, sizeof(*o)); }

static void normalise(dyna_options_t *o) {
  if (o->timeout_ms <= 0) o->timeout_ms = 5000;
  if (o->connect_timeout_ms <= 0) o->connect_timeout_ms = 1000;
  if (o->conns_per_node <= 0) o->conns_per_node = 1;
  if (o->ring_refresh_ms == 0) o->ring_refresh_ms = 2000;
  if (o->down_backoff_ms <= 0) o->down_backoff_ms = 1000;
  if (o->routing != DYNA_ROUTE_NONE) o->routing = DYNA_ROUTE_RING;
}

/* ---------------------------------------------------------------- nodes */

static dyna_cnode_t *find_node(dyna_client_t *c, const char *host, int port) {
  for (size_t i = 0; i < c->nnodes; i++)
    if (c->nodes[i]->port == port && !strcmp(c->nodes[i]->host, host)) return c->nodes[i];
  return NULL;
}

static dyna_cnode_t *add_node(dyna_client_t *c, const char *host, int port, int seed) {
  dyna_cnode_t *n = find_node(c, host, port);
  if (n) return n;
  if (c->nnodes == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 8;
    dyna_cnode_t **nn = dyna_realloc(c->nodes, cap * sizeof(*nn));
    if (!nn) return NULL;
    c->nodes = nn;
    c->cap = cap;
  }
  n = dyna_calloc(1, sizeof(*n));
  if (!n) return NULL;
  snprintf(n->host, sizeof(n->host), "%s", host);
  n->port = port;
  snprintf(n->addr, sizeof(n->addr), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
  n->seed = seed;
  c->nodes[c->nnodes++] = n;
  return n;
}

/* Waits until fd is ready for events within timeout_ms: 0, DYNA_ETIMEDOUT or DYNA_ECONN. */
static int wait_fd(int fd, short events, int timeout_ms) {
  struct pollfd p = {fd, events, 0};
  int rc;
  do rc = poll(&p, 1, timeout_ms);
  while (rc < 0 && errno == EINTR);
  if (rc == 0) return DYNA_ETIMEDOUT;
  if (rc < 0) return DYNA_ECONN;
  return 0;
}

static int connect_ai(const struct addrinfo *ai, int timeout_ms) {
  int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
  if (fd < 0) return -1;
  if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) return fd;
  if (errno == EINPROGRESS) {
    int rc = wait_fd(fd, POLLOUT, timeout_ms);
    if (rc == 0) {
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (!err) return fd;
      errno = err;
    } else {
      errno = rc == DYNA_ETIMEDOUT ? ETIMEDOUT : errno;
    }
  }
  int saved = errno;
  close(fd);
  errno = saved;
  return -1;
}

/* Logs the new connection fd (over tls when not NULL) to node n in (AUTH [user] password, opt.user/password)
 * before it carries anything else: sends the command and waits up to timeout_ms for its
 * one-line answer. 0 (nothing to do, or +OK), or DYNA_ECONN with errmsg (the server's
 * refusal, a timeout, or a closed connection). */
static int conn_auth(dyna_client_t *c, const dyna_cnode_t *n, int fd, void *tls) {
  if (!c->password) return 0;
  const char *args[3] = {"AUTH", c->user, c->password};
  size_t argc = c->user ? 3 : 2, off = 0;
  if (!c->user) args[1] = c->password;
  dyna_buf_t cmd = {0};
  char head[32];
  snprintf(head, sizeof(head), "*%zu\r\n", argc);
  dyna_buf_put(&cmd, head, strlen(head));
  for (size_t i = 0; i < argc; i++) {
    snprintf(head, sizeof(head), "$%zu\r\n", strlen(args[i]));
    dyna_buf_put(&cmd, head, strlen(head));
    dyna_buf_put(&cmd, args[i], strlen(args[i]));
    dyna_buf_put(&cmd, "\r\n", 2);
  }
  int rc = cmd.oom ? DYNA_ENOMEM : 0;
  uint64_t deadline = dyna_client_now_ns() + (uint64_t)c->opt.timeout_ms * 1000000ull;
  while (!rc && off < cmd.len) {
    ssize_t w = tls ? dyna_ctls_send(tls, cmd.data + off, cmd.len - off)
                    : send(fd, cmd.data + off, cmd.len - off, MSG_NOSIGNAL);
    if (w > 0) off += (size_t)w;
    else if (w < 0 && (errno == EAGAIN || errno == EINTR)) rc = wait_fd(fd, POLLOUT, c->opt.timeout_ms);
    else rc = DYNA_ECONN;
  }
  dyna_buf_free(&cmd);
  char line[256];
  size_t got = 0;
  while (!rc && (got < 2 || memcmp(line + got - 2, "\r\n", 2))) {
    if (got == sizeof(line) - 1) break; /* a long error line: what we have says enough */
    /* byte by byte: nothing past the answer (TLS keeps the rest of a record itself) */
    ssize_t r = tls ? dyna_ctls_recv(tls, line + got, 1) : recv(fd, line + got, 1, 0);
    if (r == 1) { got++; continue; }
    if (r == 0 || (errno != EAGAIN && errno != EINTR)) { rc = DYNA_ECONN; break; }
    uint64_t now = dyna_client_now_ns();
    rc = now >= deadline ? DYNA_ETIMEDOUT : wait_fd(fd, POLLIN, (int)((deadline - now) / 1000000ull) + 1);
  }
  line[got] = 0;
  if (!rc && got >= 3 && !memcmp(line, "+OK", 3)) return 0;
  while (got && (line[got - 1] == '\r' || line[got - 1] == '\n')) line[--got] = 0;
  if (rc) snprintf(c->errmsg, sizeof(c->errmsg), "AUTH on %.150s: %.60s", n->addr, dyna_strerror(rc));
  else snprintf(c->errmsg, sizeof(c->errmsg), "AUTH refused by %.80s: %.120s", n->addr, line[0] == '-' ? line + 1 : line);
  return DYNA_ECONN;
}

/* Opens conn's socket (blocking up to connect_timeout_ms) and logs it in when the client
 * has a password. 0 or DYNA_ECONN (errmsg set). */
static int conn_open(dyna_client_t *c, dyna_cconn_t *k) {
  dyna_cnode_t *n = k->node;
  char portstr[16];
  snprintf(portstr, sizeof(portstr), "%d", n->port);
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_socktype = SOCK_STREAM;
  int gai = getaddrinfo(n->host, portstr, &hints, &res);
  if (gai) {
    snprintf(c->errmsg, sizeof(c->errmsg), "cannot resolve %.150s: %.60s", n->host, gai_strerror(gai));
    return DYNA_ECONN;
  }
  int fd = -1;
  for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
    fd = connect_ai(ai, c->opt.connect_timeout_ms);
  freeaddrinfo(res);
  if (fd < 0) {
    snprintf(c->errmsg, sizeof(c->errmsg), "cannot connect to %.150s: %.60s", n->addr, strerror(errno));
    return DYNA_ECONN;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  k->tls = NULL;
  if (c->tls_ctx) {
    char why[200];
    k->tls = dyna_ctls_connect(c->tls_ctx, fd, n->host, c->tls_sni, c->opt.connect_timeout_ms, why, sizeof(why));
    if (!k->tls) {
      snprintf(c->errmsg, sizeof(c->errmsg), "%.80s: %.170s", n->addr, why);
      close(fd);
      return DYNA_ECONN;
    }
  }
  if (conn_auth(c, n, fd, k->tls)) {
    dyna_ctls_free(k->tls);
    k->tls = NULL;
    close(fd);
    return DYNA_ECONN;
  }
  /* Edge-triggered, registered once for the connection's life: no epoll_ctl per
   * request. An edge only sets k->readable; dyna_poll reads k when it has requests in
   * flight, so an idle connection is left alone as with poll(). */
  struct epoll_event e = {0};
  e.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  e.data.ptr = k;
  if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &e)) {
    snprintf(c->errmsg, sizeof(c->errmsg), "cannot watch the connection to %.150s: %.60s", n->addr,
             strerror(errno));
    dyna_ctls_free(k->tls);
    k->tls = NULL;
    close(fd);
    return DYNA_ECONN;
  }
  k->fd = fd;
  k->readable = 0;
  return 0;
}

/* Closes k's socket (and stops watching it: a forked child may still hold the socket,
 * which would keep its registration alive). */
static void conn_close_fd(dyna_client_t *c, dyna_cconn_t *k) {
  if (k->fd < 0) return;
  epoll_ctl(c->epfd, EPOLL_CTL_DEL, k->fd, NULL);
  dyna_ctls_free(k->tls);
  k->tls = NULL;
  close(k->fd);
  k->fd = -1;
  k->readable = 0;
}

static void node_down(dyna_client_t *c, dyna_cnode_t *n) {
  n->down_until_ns = dyna_client_now_ns() + (uint64_t)c->opt.down_backoff_ms * 1000000ull;
  c->refresh_due = 1;
}

static int node_is_down(const dyna_cnode_t *n, uint64_t now) { return n->down_until_ns > now; }

/* The connection of n to send on: an idle open one; else a new one while fewer than
 * conns_per_node are open (and n is not marked down); else the open one with the fewest
 * requests in flight. NULL when n cannot be reached (n is then marked down). */
static dyna_cconn_t *node_conn(dyna_client_t *c, dyna_cnode_t *n) {
  dyna_cconn_t *best = NULL, *slot = NULL;
  int open = 0;
  for (int i = 0; i < n->nconns; i++) {
    dyna_cconn_t *k = n->conns[i];
    if (k->fd < 0) { if (!slot) slot = k; continue; }
    open++;
    if (!best || k->npending < best->npending) best = k;
  }
  if (best && best->npending == 0) return best;
  if (open >= c->opt.conns_per_node || node_is_down(n, dyna_client_now_ns())) return best;
  if (!slot) {
    dyna_cconn_t **nc = dyna_realloc(n->conns, (size_t)(n->nconns + 1) * sizeof(*nc));
    if (!nc) return best;
    n->conns = nc;
    slot = dyna_calloc(1, sizeof(*slot));
    if (!slot) return best;
    slot->fd = -1;
    slot->node = n;
    n->conns[n->nconns++] = slot;
  }
  if (conn_open(c, slot)) {
    node_down(c, n);
    return best;
  }
  return slot;
}

/* ---------------------------------------------------------------- completing requests */

dyna_creq_t *dyna_creq_get(dyna_client_t *c) {
  dyna_creq_t *q = c->free_reqs;
  if (q) c->free_reqs = q->next;
  else q = dyna_malloc(sizeof(*q));
  if (q) memset(q, 0, sizeof(*q));
  return q;
}

static void dyna_creq_put(dyna_client_t *c, dyna_creq_t *q) {
  q->next = c->free_reqs;
  c->free_reqs = q;
}

int dyna_client_remote_error(dyna_client_t *c, const dyna_resp_value_t *v) {
  snprintf(c->errmsg, sizeof(c->errmsg), "%s", (const char *)v->str);
  return dyna_word_status((const char *)v->str);
}

static void adopt_ring(dyna_client_t *c, dyna_cring_t *r, const dyna_cnode_t *from);

/* Ends q with reply v (may be NULL) or status. Runs the callback; frees what it left. */
static void complete(dyna_client_t *c, dyna_creq_t *q, dyna_resp_value_t *v, int status,
                     dyna_cnode_t *node, const char *why) {
  dyna_result_t res;
  memset(&res, 0, sizeof(res));
  char msg[256];
  msg[0] = 0;
  res.node = node ? node->addr : "";
  res.latency_ns = dyna_client_now_ns() - q->start_ns;
  if (!status && v && v->type == DYNA_RESP_ERROR && q->kind != DYNA_CREQ_RAW) {
    status = dyna_word_status((const char *)v->str);
    snprintf(msg, sizeof(msg), "%s", (const char *)v->str);
    if (status == DYNA_EBUSY) c->refresh_due = 1;
  } else if (status) {
    snprintf(msg, sizeof(msg), "%s", why ? why : dyna_strerror(status));
  } else {
    switch (q->kind) {
    case DYNA_CREQ_GET:
      status = dyna_siblings_from_reply(v, &res.siblings);
      if (status == DYNA_EPROTO) snprintf(msg, sizeof(msg), "unexpected reply shape");
      break;
    case DYNA_CREQ_PUT:
    case DYNA_CREQ_DEL:
      if (v->type != DYNA_RESP_BULK) {
        status = DYNA_EPROTO;
        snprintf(msg, sizeof(msg), "unexpected reply shape");
      } else if (!(res.context = dyna_strndup(v->str, v->len))) {
        status = DYNA_ENOMEM;
      }
      break;
    case DYNA_CREQ_CMD:
      if (v->type == DYNA_RESP_BULK || v->type == DYNA_RESP_STRING) {
        res.value.data = v->str;
        res.value.len = v->len;
      } else if (v->type == DYNA_RESP_INTEGER) {
        res.integer = v->integer;
      }
      break;
    case DYNA_CREQ_RING: {
      dyna_cring_t r;
      status = dyna_ring_reply_decode(v, &r);
      if (!status) {
        adopt_ring(c, &r, node);
        dyna_ring_reply_free(&r);
      } else {
        snprintf(msg, sizeof(msg), "malformed DYNA.RING reply");
      }
      break;
    }
    default:
      break;
    }
  }
  res.status = status;
  res.errmsg = msg;
  if (status && msg[0]) snprintf(c->errmsg, sizeof(c->errmsg), "%s", msg);
  c->pending--;
  c->completed++;
  if (q->kind == DYNA_CREQ_RAW) {
    if (!status && v) {
      *q->raw_out = *v;
      memset(v, 0, sizeof(*v));
    }
    *q->raw_status = status;
    *q->raw_done = 1;
  } else if (q->kind == DYNA_CREQ_RING) {
    c->refresh_inflight = 0;
    c->next_refresh_ns = dyna_client_now_ns() +
        (uint64_t)(status ? c->opt.down_backoff_ms : (c->opt.ring_refresh_ms > 0 ? c->opt.ring_refresh_ms : 3600000)) * 1000000ull;
    if (q->raw_status) *q->raw_status = status;
    if (q->raw_done) *q->raw_done = 1;
  } else if (q->cb) {
    c->in_cb++;
    q->cb(c, &res, q->arg);
    c->in_cb--;
  }
  dyna_siblings_free(&res.siblings);
  dyna_free(res.context);
  dyna_creq_put(c, q);
}

/* Closes k and ends every request on it with status. */
static void conn_fail(dyna_client_t *c, dyna_cconn_t *k, int status, const char *why) {
  conn_close_fd(c, k);
  dyna_buf_reset(&k->in);
  dyna_buf_reset(&k->out);
  k->out_off = 0;
  dyna_creq_t *q = k->head;
  k->head = k->tail = NULL;
  k->npending = 0;
  node_down(c, k->node);
  char msg[256];
  snprintf(msg, sizeof(msg), "%.120s: %.120s", k->node->addr, why);
  while (q) {
    dyna_creq_t *next = q->next;
    complete(c, q, NULL, status, k->node, msg);
    q = next;
  }
}

/* ---------------------------------------------------------------- routing */

/* The connection a request should go on: by the key's preference list (route != NULL,
 * ring routing, ring known), else the first reachable seed, else any reachable node. */
static dyna_cconn_t *choose(dyna_client_t *c, const void *route, size_t klen) {
  dyna_cconn_t *k;
  if (route && c->opt.routing == DYNA_ROUTE_RING && c->have_ring) {
    const uint16_t *idx;
    size_t np = dyna_cring_prefs(&c->ring, route, klen, &idx);
    for (size_t i = 0; i < np; i++) {
      dyna_cnode_t *n = c->ring_node[idx[i]];
      if (n && (k = node_conn(c, n)) != NULL) return k;
    }
  }
  for (int pass = 0; pass < 2; pass++) /* seeds, then the others */
    for (size_t i = 0; i < c->nnodes; i++)
      if (c->nodes[i]->seed == !pass && (k = node_conn(c, c->nodes[i])) != NULL) return k;
  /* Everything is marked down: try each once more regardless of its backoff. */
  for (size_t i = 0; i < c->nnodes; i++) {
    c->nodes[i]->down_until_ns = 0;
    if ((k = node_conn(c, c->nodes[i])) != NULL) return k;
  }
  return NULL;
}

static void maybe_refresh(dyna_client_t *c, uint64_t now);

int dyna_client_submit(dyna_client_t *c, dyna_creq_t *q, size_t argc,
                       const uint8_t *const *argv, const size_t *argl, const void *route,
                       size_t klen) {
  dyna_cconn_t *k = choose(c, route, klen);
  if (!k) {
    dyna_creq_put(c, q);
    if (!c->errmsg[0]) fail(c, DYNA_ECONN, "no node reachable%s", "");
    return DYNA_ECONN;
  }
  size_t before = k->out.len;
  dyna_resp_put_cmd(&k->out, argc, argv, argl);
  if (k->out.oom) {
    k->out.oom = 0;
    k->out.len = before;
    dyna_creq_put(c, q);
    return fail(c, DYNA_ENOMEM, "out of memory%s", "");
  }
  q->start_ns = dyna_client_now_ns();
  q->deadline_ns = q->start_ns + (uint64_t)c->opt.timeout_ms * 1000000ull;
  q->next = NULL;
  if (k->tail) k->tail->next = q;
  else k->head = q;
  k->tail = q;
  k->npending++;
  c->pending++;
  if (q->kind != DYNA_CREQ_RING) maybe_refresh(c, q->start_ns);
  return 0;
}

/* ---------------------------------------------------------------- ring refresh */

static void submit_ring(dyna_client_t *c, int *status, int *done) {
  dyna_creq_t *q = dyna_creq_get(c);
  if (!q) return;
  q->kind = DYNA_CREQ_RING;
  q->raw_status = status;
  q->raw_done = done;
  const uint8_t *argv[] = {(const uint8_t *)"DYNA.RING"};
  size_t argl[] = {9};
  c->refresh_inflight = 1;
  c->refresh_due = 0;
  c->last_refresh_ns = dyna_client_now_ns();
  if (dyna_client_submit(c, q, 1, argv, argl, NULL, 0)) {
    c->refresh_inflight = 0;
    c->next_refresh_ns = dyna_client_now_ns() + (uint64_t)c->opt.down_backoff_ms * 1000000ull;
  }
}

/* Fetches the ring when it is time, or soon after an error asked for it (at most one
 * fetch in flight, and at most one per 100 ms). */
static void maybe_refresh(dyna_client_t *c, uint64_t now) {
  if (c->opt.routing != DYNA_ROUTE_RING || c->refresh_inflight) return;
  if (now < c->next_refresh_ns && !(c->refresh_due && now >= c->last_refresh_ns + 100000000ull))
    return;
  submit_ring(c, NULL, NULL);
}

/* Makes r the routing map when its version differs from the one in use. Members
 * advertising a wildcard host (0.0.0.0, ::) are reached at the host of the node that sent
 * the map. */
static void adopt_ring(dyna_client_t *c, dyna_cring_t *r, const dyna_cnode_t *from) {
  if (c->have_ring && r->version == c->ring.version && r->nmembers == c->ring.nmembers) return;
  dyna_cnode_t **map = dyna_calloc(r->nmembers ? r->nmembers : 1, sizeof(*map));
  if (!map) return;
  for (size_t i = 0; i < r->nmembers; i++) {
    char host[256];
    int port;
    if (dyna_addr_split(r->members[i].addr, host, sizeof(host), &port)) continue;
    if ((!strcmp(host, "0.0.0.0") || !strcmp(host, "::")) && from)
      snprintf(host, sizeof(host), "%s", from->host);
    map[i] = add_node(c, host, port, 0);
  }
  dyna_free(c->ring_node);
  dyna_ring_reply_free(&c->ring);
  c->ring = *r;
  memset(r, 0, sizeof(*r));
  c->ring_node = map;
  c->have_ring = 1;
}

/* ---------------------------------------------------------------- I/O */

/* Sends what k has queued without blocking. 0 or an error (k failed). */
static int conn_flush(dyna_client_t *c, dyna_cconn_t *k) {
  while (k->out_off < k->out.len) {
    ssize_t n = k->tls ? dyna_ctls_send(k->tls, k->out.data + k->out_off, k->out.len - k->out_off)
                       : send(k->fd, k->out.data + k->out_off, k->out.len - k->out_off, MSG_NOSIGNAL);
    if (n > 0) { k->out_off += (size_t)n; continue; }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    char why[192];
    if (k->tls) snprintf(why, sizeof(why), "send: %s", dyna_ctls_error());
    else snprintf(why, sizeof(why), "send: %s", strerror(errno));
    conn_fail(c, k, DYNA_ECONN, why);
    return DYNA_ECONN;
  }
  dyna_buf_reset(&k->out);
  k->out_off = 0;
  return 0;
}

/* Reads what k has and completes every whole reply. */
static void conn_read(dyna_client_t *c, dyna_cconn_t *k) {
  for (;;) {
    if (dyna_buf_reserve(&k->in, 64 * 1024)) { conn_fail(c, k, DYNA_ENOMEM, "out of memory"); return; }
    ssize_t n = k->tls ? dyna_ctls_recv(k->tls, k->in.data + k->in.len, k->in.cap - k->in.len)
                       : recv(k->fd, k->in.data + k->in.len, k->in.cap - k->in.len, 0);
    if (n > 0) {
      k->in.len += (size_t)n;
      /* A short read drained the socket; TLS reads a record at a time, so it reads on
       * until the session says it would block. */
      if (!k->tls && k->in.len < k->in.cap) { k->readable = 0; break; }
      continue;
    }
    if (n == 0) { conn_fail(c, k, DYNA_ECONN, "connection closed by server"); return; }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) { k->readable = 0; break; }
    char why[192];
    if (k->tls) snprintf(why, sizeof(why), "recv: %s", dyna_ctls_error());
    else snprintf(why, sizeof(why), "recv: %s", strerror(errno));
    conn_fail(c, k, DYNA_ECONN, why);
    return;
  }
  size_t off = 0;
  while (off < k->in.len) {
    dyna_resp_value_t v;
    size_t used = 0;
    int rc = dyna_resp_parse_reply(&c->lim, k->in.data + off, k->in.len - off, &v, &used);
    if (rc == DYNA_EAGAIN) break;
    if (rc || !k->head) {
      if (!rc) dyna_resp_value_free(&v);
      conn_fail(c, k, DYNA_EPROTO, rc ? "malformed reply from server" : "reply to no request");
      return;
    }
    off += used;
    dyna_creq_t *q = k->head;
    k->head = q->next;
    if (!k->head) k->tail = NULL;
    k->npending--;
    complete(c, q, &v, 0, k->node, NULL);
    dyna_resp_value_free(&v);
    if (k->fd < 0) return; /* a callback cannot close k, but be safe */
  }
  dyna_buf_consume(&k->in, off);
}

int dyna_poll(dyna_client_t *c, int timeout_ms) {
  if (c->in_cb) return DYNA_EINVAL;
  size_t done0 = c->completed;
  maybe_refresh(c, dyna_client_now_ns());
  /* 1. Send, and see whether anything is to be waited for. */
  int watch = 0, ready = 0;
  uint64_t now = dyna_client_now_ns(), first_deadline = UINT64_MAX;
  for (size_t i = 0; i < c->nnodes; i++) {
    dyna_cnode_t *n = c->nodes[i];
    for (int j = 0; j < n->nconns; j++) {
      dyna_cconn_t *k = n->conns[j];
      if (k->fd < 0 || (!k->npending && k->out_off == k->out.len)) continue;
      if (k->out_off < k->out.len && conn_flush(c, k)) continue;
      if (k->head && k->head->deadline_ns < first_deadline) first_deadline = k->head->deadline_ns;
      watch = 1;
      if (k->readable && k->npending) ready = 1; /* bytes came while it was idle */
    }
  }
  /* 2. Wait, no longer than the nearest deadline. */
  int wait_ms = timeout_ms;
  if (first_deadline != UINT64_MAX) {
    uint64_t left = first_deadline > now ? (first_deadline - now + 999999) / 1000000 : 0;
    if (wait_ms < 0 || (uint64_t)wait_ms > left) wait_ms = (int)left;
  }
  if (c->completed != done0 || ready) wait_ms = 0; /* flush failures already ended requests */
  if (watch) {
    int ne = epoll_wait(c->epfd, c->ev, (int)(sizeof(c->ev) / sizeof(c->ev[0])), wait_ms);
    if (ne < 0 && errno != EINTR) return fail(c, DYNA_ECONN, "epoll_wait: %s", strerror(errno));
    for (int i = 0; i < ne; i++) {
      dyna_cconn_t *k = c->ev[i].data.ptr;
      uint32_t ev = c->ev[i].events;
      if (k->fd < 0) continue;
      if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) k->readable = 1;
      if ((ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && k->out_off < k->out.len) conn_flush(c, k);
    }
  }
  /* 3. Read every connection with bytes and requests (callbacks run here), then time out
   *    those whose oldest request is past its deadline. Callbacks may open connections,
   *    so the arrays are indexed afresh each time. */
  now = dyna_client_now_ns();
  for (size_t i = 0; i < c->nnodes; i++) {
    for (int j = 0; j < c->nodes[i]->nconns; j++) {
      dyna_cconn_t *k = c->nodes[i]->conns[j];
      if (k->fd >= 0 && k->readable && k->npending) conn_read(c, k);
      if (k->head && k->head->deadline_ns <= now) {
        char why[64];
        snprintf(why, sizeof(why), "no answer within %d ms", c->opt.timeout_ms);
        conn_fail(c, k, DYNA_ETIMEDOUT, why);
      }
    }
  }
  return (int)(c->completed - done0);
}

int dyna_wait(dyna_client_t *c, int timeout_ms) {
  if (c->in_cb) return DYNA_EINVAL;
  uint64_t end = timeout_ms < 0 ? UINT64_MAX
                                : dyna_client_now_ns() + (uint64_t)timeout_ms * 1000000ull;
  while (c->pending) {
    uint64_t now = dyna_client_now_ns();
    if (now >= end) return DYNA_ETIMEDOUT;
    int w = end == UINT64_MAX ? -1 : (int)((end - now + 999999) / 1000000);
    int rc = dyna_poll(c, w);
    if (rc < 0) return rc;
  }
  return 0;
}

size_t dyna_pending(const dyna_client_t *c) { return c->pending; }

int dyna_client_in_callback(const dyna_client_t *c) { return c->in_cb > 0; }

/* Polls until *done is set (the request's deadline bounds this). */
static int wait_done(dyna_client_t *c, const int *done) {
  while (!*done) {
    int rc = dyna_poll(c, -1);
    if (rc < 0) return rc;
  }
  return 0;
}

/* ---------------------------------------------------------------- opening and closing */

/* Sets c up for TLS with o (NULL: plain). 0, or DYNA_EINVAL with errmsg set. */
static int client_tls(dyna_client_t *c, const dyna_tls_options_t *o) {
  if (!o) return 0;
  c->tls_ctx = dyna_ctls_ctx_new(o, c->errmsg, sizeof(c->errmsg));
  if (!c->tls_ctx) return DYNA_EINVAL;
  snprintf(c->tls_sni, sizeof(c->tls_sni), "%s", o->sni ? o->sni : "");
  return 0;
}

/* A copy of s (dyna_malloc; the caller frees it with dyna_free), or NULL for NULL or when
 * memory is short. */
static char *copy_str(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *p = dyna_malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

static dyna_client_t *client_new(const dyna_options_t *opt) {
  dyna_client_t *c = dyna_calloc(1, sizeof(*c));
  if (!c) return NULL;
  if (opt) c->opt = *opt;
  normalise(&c->opt);
  /* the caller's strings are copied: the client keeps no pointer of theirs */
  c->user = copy_str(c->opt.user);
  c->password = copy_str(c->opt.password);
  c->opt.user = c->opt.password = NULL;
  dyna_resp_limits_default(&c->lim);
  c->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (c->epfd < 0 || (opt && opt->user && !c->user) || (opt && opt->password && !c->password)) {
    if (c->epfd >= 0) close(c->epfd);
    dyna_free(c->user);
    dyna_free(c->password);
    dyna_free(c);
    return NULL;
  }
  return c;
}

int dyna_client_refresh_ring(dyna_client_t *c) {
  if (c->in_cb) return DYNA_EINVAL;
  c->errmsg[0] = 0;
  while (c->refresh_inflight) { /* one is on its way: let it land first */
    int rc = dyna_poll(c, -1);
    if (rc < 0) return rc;
  }
  int status = DYNA_ECONN, done = 0;
  submit_ring(c, &status, &done);
  if (!c->refresh_inflight && !done) return c->errmsg[0] ? DYNA_ECONN : DYNA_ENOMEM;
  int rc = wait_done(c, &done);
  return rc ? rc : status;
}

int dyna_client_open(const char *seeds, const dyna_options_t *opt, dyna_client_t **out) {
  return dyna_client_open_tls(seeds, opt, NULL, out);
}

int dyna_client_open_tls(const char *seeds, const dyna_options_t *opt, const dyna_tls_options_t *tls,
                         dyna_client_t **out) {
  *out = NULL;
  if (!seeds) return DYNA_EINVAL;
  dyna_client_t *c = client_new(opt);
  if (!c) return DYNA_ENOMEM;
  *out = c;
  if (client_tls(c, tls)) return DYNA_EINVAL;
  const char *p = seeds;
  while (*p) {
    const char *e = strchr(p, ',');
    size_t l = e ? (size_t)(e - p) : strlen(p);
    char addr[300], host[256];
    int port;
    if (l == 0 || l >= sizeof(addr)) return fail(c, DYNA_EINVAL, "bad seed list%s", "");
    memcpy(addr, p, l);
    addr[l] = 0;
    if (dyna_addr_split(addr, host, sizeof(host), &port))
      return fail(c, DYNA_EINVAL, "bad seed address %.200s (want HOST:PORT)", addr);
    if (!add_node(c, host, port, 1)) return fail(c, DYNA_ENOMEM, "out of memory%s", "");
    p += l;
    if (*p == ',') p++;
  }
  if (!c->nnodes) return fail(c, DYNA_EINVAL, "empty seed list%s", "");
  int rc = dyna_ping(c);
  if (rc) {
    if (rc != DYNA_ECONN) { /* the server's own words, when it answered (NOAUTH, NOPERM) */
      char why[sizeof(c->errmsg)];
      memcpy(why, c->errmsg, sizeof(why));
      snprintf(c->errmsg, sizeof(c->errmsg), "no seed answered PING (%s%s%.180s)", dyna_strerror(rc),
               why[0] ? ": " : "", why);
    }
    return DYNA_ECONN;
  }
  if (c->opt.routing == DYNA_ROUTE_RING) {
    dyna_client_refresh_ring(c); /* failure tolerated: seeds serve until a later refresh */
    c->errmsg[0] = 0;
  }
  return 0;
}

int dyna_client_connect(const char *host, int port, int timeout_ms, dyna_client_t **out) {
  return dyna_client_connect_tls(host, port, timeout_ms, NULL, out);
}

int dyna_client_connect_tls(const char *host, int port, int timeout_ms, const dyna_tls_options_t *tls,
                            dyna_client_t **out) {
  *out = NULL;
  if (!host || port <= 0 || port > 65535) return DYNA_EINVAL;
  dyna_options_t o;
  dyna_options_init(&o);
  o.timeout_ms = timeout_ms;
  o.connect_timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
  o.routing = DYNA_ROUTE_NONE;
  dyna_client_t *c = client_new(&o);
  if (!c) return DYNA_ENOMEM;
  *out = c; /* even on failure, so that dyna_client_errmsg can say why */
  if (client_tls(c, tls)) return DYNA_EINVAL;
  dyna_cnode_t *n = add_node(c, host, port, 1);
  if (!n) return fail(c, DYNA_ENOMEM, "out of memory%s", "");
  dyna_cconn_t *k = node_conn(c, n);
  if (!k) {
    if (!c->errmsg[0]) fail(c, DYNA_ECONN, "cannot connect%s", "");
    return DYNA_ECONN;
  }
  return 0;
}

void dyna_client_close(dyna_client_t *c) {
  if (!c) return;
  for (size_t i = 0; i < c->nnodes; i++) {
    dyna_cnode_t *n = c->nodes[i];
    for (int j = 0; j < n->nconns; j++) {
      dyna_cconn_t *k = n->conns[j];
      conn_close_fd(c, k);
      for (dyna_creq_t *q = k->head; q;) {
        dyna_creq_t *next = q->next;
        dyna_free(q);
        q = next;
      }
      dyna_buf_free(&k->in);
      dyna_buf_free(&k->out);
      dyna_free(k);
    }
    dyna_free(n->conns);
    dyna_free(n);
  }
  while (c->free_reqs) {
    dyna_creq_t *q = c->free_reqs;
    c->free_reqs = q->next;
    dyna_free(q);
  }
  dyna_free(c->nodes);
  dyna_free(c->ring_node);
  dyna_ring_reply_free(&c->ring);
  close(c->epfd);
  dyna_ctls_ctx_free(c->tls_ctx);
  if (c->password) explicit_bzero(c->password, strlen(c->password));
  dyna_free(c->user);
  dyna_free(c->password);
  dyna_free(c);
}

void dyna_client_set_conns_per_node(dyna_client_t *c, int n) {
  c->opt.conns_per_node = n > 0 ? n : 1;
}

uint64_t dyna_client_ring_version(const dyna_client_t *c) {
  return c->have_ring ? c->ring.version : 0;
}

size_t dyna_client_node_count(const dyna_client_t *c) { return c->nnodes; }

int dyna_client_route(dyna_client_t *c, const void *key, size_t klen, char *addr,
                      size_t addr_size, char *pref, size_t pref_size) {
  if (pref && pref_size) {
    pref[0] = 0;
    if (c->have_ring) {
      const uint16_t *idx;
      size_t np = dyna_cring_prefs(&c->ring, key, klen, &idx), used = 0;
      for (size_t i = 0; i < np && used < pref_size; i++) {
        const char *a = c->ring_node[idx[i]] ? c->ring_node[idx[i]]->addr : c->ring.members[idx[i]].addr;
        int w = snprintf(pref + used, pref_size - used, "%s%s", i ? "," : "", a);
        if (w < 0) break;
        used += (size_t)w;
      }
    }
  }
  dyna_cconn_t *k = choose(c, key, klen);
  if (!k) return DYNA_ECONN;
  if (addr && addr_size) snprintf(addr, addr_size, "%s", k->node->addr);
  return 0;
}

/* ---------------------------------------------------------------- raw commands */

int dyna_client_command(dyna_client_t *c, size_t argc, const uint8_t *const *argv,
                        const size_t *argl, dyna_resp_value_t *out) {
  return dyna_client_command_key(c, argc, argv, argl, NULL, 0, out);
}

int dyna_client_command_key(dyna_client_t *c, size_t argc, const uint8_t *const *argv,
                            const size_t *argl, const void *route, size_t klen,
                            dyna_resp_value_t *out) {
  memset(out, 0, sizeof(*out));
  if (c->in_cb) return DYNA_EINVAL;
  c->errmsg[0] = 0;
  dyna_creq_t *q = dyna_creq_get(c);
  if (!q) return fail(c, DYNA_ENOMEM, "out of memory%s", "");
  int status = 0, done = 0;
  q->kind = DYNA_CREQ_RAW;
  q->raw_out = out;
  q->raw_status = &status;
  q->raw_done = &done;
  int rc = dyna_client_submit(c, q, argc, argv, argl, route, klen);
  if (rc) return rc;
  rc = wait_done(c, &done);
  return rc ? rc : status;
}

void dyna_str_free(char *s) { dyna_free(s); }
