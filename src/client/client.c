/* client.c: libdyna's connection and its blocking request/reply calls (see dyna.h). */
#include "client/client_int.h"
#include "core/buf.h"
#include "core/mem.h"
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

struct dyna_client {
  int fd;
  int timeout_ms;
  dyna_buf_t in;   /* received, not yet parsed */
  dyna_buf_t out;  /* command being sent */
  dyna_resp_limits_t lim;
  char errmsg[256];
};

static int fail(dyna_client_t *c, int code, const char *fmt, const char *detail) {
  snprintf(c->errmsg, sizeof(c->errmsg), fmt, detail);
  return code;
}

const char *dyna_client_errmsg(const dyna_client_t *c) { return c->errmsg; }

void dyna_client_set_errmsg(dyna_client_t *c, const char *msg) {
  snprintf(c->errmsg, sizeof(c->errmsg), "%s", msg);
}

/* Waits until fd is ready for events (POLLIN/POLLOUT) within the call's timeout. */
static int wait_fd(dyna_client_t *c, short events) {
  struct pollfd p = {c->fd, events, 0};
  int rc;
  do rc = poll(&p, 1, c->timeout_ms);
  while (rc < 0 && errno == EINTR);
  if (rc == 0) return fail(c, DYNA_ETIMEDOUT, "no answer within the timeout%s", "");
  if (rc < 0) return fail(c, DYNA_ECONN, "poll: %s", strerror(errno));
  return 0;
}

static int connect_one(dyna_client_t *c, const struct addrinfo *ai) {
  int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
  if (fd < 0) return -1;
  c->fd = fd;
  if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) return 0;
  if (errno == EINPROGRESS && wait_fd(c, POLLOUT) == 0) {
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (!err) return 0;
    errno = err;
  }
  int saved = errno;
  close(fd);
  c->fd = -1;
  errno = saved;
  return -1;
}

int dyna_client_connect(const char *host, int port, int timeout_ms, dyna_client_t **out) {
  *out = NULL;
  if (!host || port <= 0 || port > 65535) return DYNA_EINVAL;
  dyna_client_t *c = dyna_calloc(1, sizeof(*c));
  if (!c) return DYNA_ENOMEM;
  c->fd = -1;
  c->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
  dyna_resp_limits_default(&c->lim);
  char portstr[16];
  snprintf(portstr, sizeof(portstr), "%d", port);
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_socktype = SOCK_STREAM;
  int gai = getaddrinfo(host, portstr, &hints, &res);
  *out = c; /* even on failure, so that dyna_client_errmsg can say why */
  if (gai) {
    snprintf(c->errmsg, sizeof(c->errmsg), "cannot resolve %s: %s", host, gai_strerror(gai));
    return DYNA_ECONN;
  }
  int rc = -1;
  for (struct addrinfo *ai = res; ai && rc; ai = ai->ai_next) rc = connect_one(c, ai);
  freeaddrinfo(res);
  if (rc) {
    snprintf(c->errmsg, sizeof(c->errmsg), "cannot connect to %s:%d: %s", host, port, strerror(errno));
    return DYNA_ECONN;
  }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return 0;
}

void dyna_client_close(dyna_client_t *c) {
  if (!c) return;
  if (c->fd >= 0) close(c->fd);
  dyna_buf_free(&c->in);
  dyna_buf_free(&c->out);
  dyna_free(c);
}

static int send_all(dyna_client_t *c) {
  size_t off = 0;
  while (off < c->out.len) {
    ssize_t n = send(c->fd, c->out.data + off, c->out.len - off, MSG_NOSIGNAL);
    if (n > 0) { off += (size_t)n; continue; }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int rc = wait_fd(c, POLLOUT);
      if (rc) return rc;
      continue;
    }
    return fail(c, DYNA_ECONN, "send: %s", strerror(errno));
  }
  return 0;
}

static int recv_reply(dyna_client_t *c, dyna_resp_value_t *out) {
  for (;;) {
    size_t used = 0;
    int rc = dyna_resp_parse_reply(&c->lim, c->in.data, c->in.len, out, &used);
    if (rc == 0) { dyna_buf_consume(&c->in, used); return 0; }
    if (rc != DYNA_EAGAIN) return fail(c, DYNA_EPROTO, "malformed reply from server%s", "");
    if (dyna_buf_reserve(&c->in, 64 * 1024)) return fail(c, DYNA_ENOMEM, "out of memory%s", "");
    ssize_t n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, 0);
    if (n > 0) { c->in.len += (size_t)n; continue; }
    if (n == 0) return fail(c, DYNA_ECONN, "connection closed by server%s", "");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      rc = wait_fd(c, POLLIN);
      if (rc) return rc;
      continue;
    }
    return fail(c, DYNA_ECONN, "recv: %s", strerror(errno));
  }
}

int dyna_client_command(dyna_client_t *c, size_t argc, const uint8_t *const *argv,
                        const size_t *argl, dyna_resp_value_t *out) {
  c->errmsg[0] = 0;
  memset(out, 0, sizeof(*out));
  if (c->fd < 0) return fail(c, DYNA_ECONN, "not connected%s", "");
  dyna_buf_reset(&c->out);
  dyna_resp_put_cmd(&c->out, argc, argv, argl);
  if (c->out.oom) return fail(c, DYNA_ENOMEM, "out of memory%s", "");
  int rc = send_all(c);
  if (!rc) rc = recv_reply(c, out);
  if (rc == DYNA_ECONN || rc == DYNA_EPROTO || rc == DYNA_ETIMEDOUT) {
    /* The stream is out of step with our requests: it cannot be used again. */
    close(c->fd);
    c->fd = -1;
  }
  return rc;
}

int dyna_client_remote_error(dyna_client_t *c, const dyna_resp_value_t *v) {
  snprintf(c->errmsg, sizeof(c->errmsg), "%s", (const char *)v->str);
  static const struct { const char *word; int code; } map[] = {
      {"NOQUORUM", DYNA_ENOQUORUM}, {"TOOBIG", DYNA_ETOOBIG}, {"BUSY", DYNA_EBUSY},
      {"TIMEOUT", DYNA_ETIMEDOUT},  {"ERR invalid context", DYNA_ECONTEXT}};
  for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
    if (!strncmp((const char *)v->str, map[i].word, strlen(map[i].word))) return map[i].code;
  return DYNA_EREMOTE;
}

void dyna_str_free(char *s) { dyna_free(s); }
