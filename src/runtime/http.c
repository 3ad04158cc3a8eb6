/* http.c: dynad's HTTP port, libmicrohttpd (MHD) driven from the node's libuv loop.
 *
 * MHD runs in its "external epoll" mode: it keeps its listening and connection sockets
 * in one epoll fd of its own, which the loop watches like any socket (a uv_poll), and a
 * uv_timer wakes it when MHD_get_timeout says (idle timeouts, data already buffered).
 * Every MHD callback therefore runs on the loop thread, between two events, and reads
 * the node, the cluster and the counters directly: no lock, no copy, no thread.
 *
 *   epoll fd readable / timer ─▶ MHD_run ─▶ on_request (parsed by MHD) ─▶ route:
 *     /metrics /status /ring     the answer is made at once from the loop's state
 *     /keys/{key}, /admin/...    a node request (or an OK held until the writes are
 *                                durable): the connection is suspended; its reply comes
 *                                back through dyna_server_route_reply ─▶ dyna_http_route_reply
 *                                ─▶ the response is made ─▶ MHD_resume_connection
 *
 * No handler blocks: the answers made at once cost O(members + partitions + command
 * rows); everything that waits on the network waits suspended. The request line and
 * headers are parsed by MHD (malformed ones get its 400, oversized ones its 414/431,
 * a body over DYNA_HTTP_MAX_BODY our 413), with a bounded memory per connection and a
 * bounded number of connections (http_int.h). URLs reach us still percent-encoded (the
 * identity unescape callback below), so a key may hold any byte, NUL and '/' included,
 * and a bad escape is our 400 rather than a silent guess.
 *
 * Authentication (docs/http.md, docs/security.md). When the node asks clients for a
 * password (requirepass, or users besides default: auth.h), every request must carry
 * HTTP Basic credentials, checked against the same users as AUTH: none, or wrong ones,
 * get 401 (wrong ones counted and fed to the failed-login delay as a failed AUTH is).
 * The delay holds the request suspended on a timer (login_timer), as AUTH's answer is
 * held: the loop never sleeps. route() then authorises each path as the RESP command it
 * stands for (403 when the user may not run it or name the key). */
#include "runtime/http_int.h"
#include "runtime/auth.h"
#include "runtime/log.h"
#include "util/alloc.h"
#include "util/b64.h"
#include "util/err.h"
#include "util/json.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---------- responses ---------- */

static void set_response(http_req_t *q, unsigned status, const char *ctype) {
  q->status = status;
  q->ctype = ctype;
  q->state = HTTP_DONE;
}

void dyna_http_error(http_req_t *q, unsigned status, const char *msg) {
  dyna_json_t j;
  dyna_buf_reset(&q->out);
  dyna_json_init(&j, &q->out);
  dyna_json_obj_open(&j);
  dyna_json_key(&j, "error");
  dyna_json_str(&j, msg);
  dyna_json_obj_close(&j);
  dyna_buf_put(&q->out, "\n", 1);
  set_response(q, status, DYNA_HTTP_JSON);
}

void dyna_http_ok(http_req_t *q) {
  dyna_buf_reset(&q->out);
  dyna_buf_put(&q->out, "{\"ok\":true}\n", 12);
  set_response(q, 200, DYNA_HTTP_JSON);
}

/* Queues q's response on its connection. */
static enum MHD_Result respond(http_req_t *q) {
  if (q->out.oom) {
    dyna_buf_free(&q->out);
    dyna_http_error(q, 500, "out of memory");
  }
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(q->out.len, q->out.data ? q->out.data : (uint8_t *)"", MHD_RESPMEM_MUST_COPY);
  if (!resp) return MHD_NO; /* no memory: MHD closes the connection */
  MHD_add_response_header(resp, "Content-Type", q->ctype);
  MHD_add_response_header(resp, "Cache-Control", "no-store");
  if (q->allow) MHD_add_response_header(resp, "Allow", q->allow);
  if (q->status == 401) MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Basic realm=\"dyna\"");
  enum MHD_Result rc = MHD_queue_response(q->mc, q->status, resp);
  MHD_destroy_response(resp);
  if (q->status / 100 < 6) q->h->responses[q->status / 100]++;
  return rc;
}

/* ---------- parameters ---------- */

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int dyna_http_pct_decode(const char *p, size_t n, int plus_space, dyna_buf_t *out) {
  for (size_t i = 0; i < n; i++) {
    uint8_t c = (uint8_t)p[i];
    if (c == '%') {
      if (i + 2 >= n || hexval(p[i + 1]) < 0 || hexval(p[i + 2]) < 0) return -1;
      c = (uint8_t)(hexval(p[i + 1]) << 4 | hexval(p[i + 2]));
      i += 2;
    } else if (c == '+' && plus_space) {
      c = ' ';
    }
    dyna_buf_put(out, &c, 1);
  }
  return 0;
}

/* Copies the decoded value of raw[0..n) into out. 1, or -1 when bad (see dyna_http_param). */
static int param_value(const char *raw, size_t n, char *out, size_t cap) {
  dyna_buf_t v = DYNA_BUF_INIT;
  int rc = dyna_http_pct_decode(raw, n, 1, &v) || v.oom || v.len >= cap || (v.len && memchr(v.data, 0, v.len)) ? -1 : 1;
  if (rc == 1) {
    if (v.len) memcpy(out, v.data, v.len);
    out[v.len] = 0;
  }
  dyna_buf_free(&v);
  return rc;
}

int dyna_http_param(http_req_t *q, const char *name, char *out, size_t cap) {
  const char *raw = MHD_lookup_connection_value(q->mc, MHD_GET_ARGUMENT_KIND, name);
  if (raw) return param_value(raw, strlen(raw), out, cap);
  /* the form body: name=value&name=value, percent-encoded */
  if (!q->body.len) return 0;
  const char *p = (const char *)q->body.data, *end = p + q->body.len;
  size_t nlen = strlen(name);
  while (p && p < end) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *fe = amp ? amp : end;
    const char *eq = memchr(p, '=', (size_t)(fe - p));
    const char *ke = eq ? eq : fe;
    if ((size_t)(ke - p) == nlen && !memcmp(p, name, nlen))
      return eq ? param_value(eq + 1, (size_t)(fe - eq - 1), out, cap) : param_value("", 0, out, cap);
    p = amp ? amp + 1 : end;
  }
  return 0;
}

/* ---------- node requests ---------- */

int dyna_http_submit(http_req_t *q, dyna_req_t *req, http_wait_t wait) {
  dyna_server_t *s = q->h->s;
  req->id = ++s->next_req;
  if (dyna_idmap_put(&q->h->pend, req->id, q, 0)) {
    dyna_http_error(q, 503, "out of memory");
    return -1;
  }
  q->req_id = req->id;
  q->wait = wait;
  q->state = HTTP_PENDING;
  q->t0_ns = uv_hrtime();
  if (dyna_node_request(s->node, req, dyna_server_time(s))) {
    dyna_idmap_take(&q->h->pend, req->id, NULL);
    q->req_id = 0;
    dyna_http_error(q, 503, "out of memory");
    return -1;
  }
  return 0;
}

void dyna_http_after_writes(http_req_t *q) {
  dyna_server_t *s = q->h->s;
  dyna_node_reply_t r;
  memset(&r, 0, sizeof(r));
  r.req_id = ++s->next_req;
  if (dyna_idmap_put(&q->h->pend, r.req_id, q, 0)) {
    dyna_http_error(q, 503, "out of memory");
    return;
  }
  q->req_id = r.req_id;
  q->wait = HTTP_WAIT_ADMIN;
  q->state = HTTP_PENDING;
  dyna_commit_reply_after_writes(s, &r); /* may come back at once (synchronous engines) */
}

static void on_timer(uv_timer_t *t);

/* q's response is made: a suspended connection goes on (MHD_run sends it). */
static void finish(http_req_t *q) {
  if (q->state != HTTP_DONE) dyna_http_error(q, 500, "no response made");
  if (q->suspended) {
    q->suspended = 0;
    MHD_resume_connection(q->mc);
    if (q->h->handles) uv_timer_start(&q->h->timer, on_timer, 0, 0);
  }
}

int dyna_http_route_reply(dyna_http_t *h, dyna_node_reply_t *r) {
  dyna_idmap_entry_t e;
  if (!h || !dyna_idmap_take(&h->pend, r->req_id, &e)) return 0;
  http_req_t *q = e.ptr;
  q->req_id = 0;
  if (q->wait == HTTP_WAIT_KEY) {
    dyna_http_api_key_reply(h->s, q, r);
  } else if (r->status) {
    char msg[160];
    snprintf(msg, sizeof(msg), "%s%s%s", dyna_strerror(r->status), r->msg[0] ? ": " : "", r->msg);
    dyna_http_error(q, 500, msg);
  } else {
    dyna_http_ok(q);
  }
  finish(q);
  return 1;
}

/* ---------- credentials ---------- */

static void on_login_timer(uv_timer_t *t);

/* Arms the login timer for the earliest held request (O(live requests)). */
static void login_timer_arm(dyna_http_t *h, uint64_t now) {
  uint64_t due = UINT64_MAX;
  for (http_req_t *q = h->reqs; q; q = q->next)
    if (q->state == HTTP_PENDING && q->wait == HTTP_WAIT_LOGIN && q->due_ms < due) due = q->due_ms;
  if (due == UINT64_MAX) uv_timer_stop(&h->login_timer);
  else uv_timer_start(&h->login_timer, on_login_timer, due > now ? due - now : 0, 0);
}

/* The held requests that are due go on: resumed, MHD calls on_request again, which
 * routes them (their verdict is made already). */
static void on_login_timer(uv_timer_t *t) {
  dyna_http_t *h = t->data;
  uint64_t now = uv_now(h->s->loop);
  int any = 0;
  for (http_req_t *q = h->reqs; q; q = q->next) {
    if (q->state != HTTP_PENDING || q->wait != HTTP_WAIT_LOGIN || q->due_ms > now) continue;
    q->state = HTTP_NEW;
    q->wait = HTTP_WAIT_NONE;
    if (q->suspended) {
      q->suspended = 0;
      MHD_resume_connection(q->mc);
    }
    any = 1;
  }
  if (any) uv_timer_start(&h->timer, on_timer, 0, 0);
  login_timer_arm(h, now);
}

/* q's verdict, from its Authorization header ("Basic " base64(user ":" pass), RFC 7617),
 * made once. A header that is there but is not that counts as a failed login. When the
 * failed-login delay asks for it, q is held (pending, suspended by the caller). */
static void check_credentials(dyna_http_t *h, http_req_t *q) {
  if (!dyna_auth_http_required(h->s)) {
    q->auth = HTTP_AUTH_OK;
    q->user = NULL; /* everything allowed, as for a RESP client with no login to make */
    return;
  }
  const char *v = MHD_lookup_connection_value(q->mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
  if (!v) {
    q->auth = HTTP_AUTH_NONE;
    return;
  }
  dyna_buf_t dec = DYNA_BUF_INIT; /* user:pass, freed below */
  const uint8_t *user = (const uint8_t *)"", *pass = (const uint8_t *)"";
  size_t ulen = 0, plen = 0;
  while (*v == ' ' || *v == '\t') v++;
  if (!strncasecmp(v, "Basic", 5) && (v[5] == ' ' || v[5] == '\t')) {
    const char *b = v + 6;
    while (*b == ' ' || *b == '\t') b++;
    size_t n = strlen(b);
    while (n && (b[n - 1] == ' ' || b[n - 1] == '\t')) n--;
    const uint8_t *colon = !dyna_b64_decode(b, n, &dec) && dec.len ? memchr(dec.data, ':', dec.len) : NULL;
    if (colon) {
      user = dec.data;
      ulen = (size_t)(colon - dec.data);
      pass = colon + 1;
      plen = dec.len - ulen - 1;
    }
  }
  uint64_t delay = 0;
  q->user = dyna_auth_http_login(h->s, user, ulen, pass, plen, &delay);
  q->auth = q->user ? HTTP_AUTH_OK : HTTP_AUTH_BAD;
  dyna_buf_free(&dec);
  if (delay) {
    uint64_t now = uv_now(h->s->loop);
    q->state = HTTP_PENDING;
    q->wait = HTTP_WAIT_LOGIN;
    q->due_ms = now + delay;
    login_timer_arm(h, now);
  }
}

int dyna_http_allowed(http_req_t *q, const char *cmd, const uint8_t *key, size_t klen) {
  char msg[160];
  if (!q->user) return 1;
  if (!dyna_auth_http_refuses(q->h->s, q->user, cmd, key, klen, msg, sizeof(msg))) return 1;
  dyna_http_error(q, 403, msg);
  return 0;
}

/* ---------- routing ---------- */

static int is(const char *url, const char *path) { return !strcmp(url, path); }

static void route(dyna_http_t *h, http_req_t *q, const char *url, const char *method) {
  dyna_server_t *s = h->s;
  int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
  int post = !strcmp(method, "POST");
  if (q->auth != HTTP_AUTH_OK) {
    dyna_http_error(q, 401, q->auth == HTTP_AUTH_NONE ? "NOAUTH Authentication required."
                                                      : "WRONGPASS invalid username-password pair or user is disabled.");
    return;
  }
  if (q->body_too_large) { dyna_http_error(q, 413, "request body too large (at most 4096 bytes)"); return; }
  if (is(url, "/metrics") || is(url, "/status") || is(url, "/ring") || !strncmp(url, "/keys/", 6)) {
    if (!get) {
      q->allow = "GET, HEAD";
      dyna_http_error(q, 405, "method not allowed (GET)");
    } else if (is(url, "/metrics")) {
      if (dyna_http_allowed(q, "info", NULL, 0)) dyna_http_metrics(s, q);
    } else if (is(url, "/status")) {
      if (dyna_http_allowed(q, "dyna.status", NULL, 0)) dyna_http_api_status(s, q);
    } else if (is(url, "/ring")) {
      if (dyna_http_allowed(q, "dyna.ring", NULL, 0)) dyna_http_api_ring(s, q);
    } else {
      dyna_http_api_key(s, q, url + 6, strlen(url + 6)); /* authorised there, as DYNA.GET on the key */
    }
    return;
  }
  if (is(url, "/admin/repair") || is(url, "/admin/leave") || is(url, "/admin/join")) {
    const char *ct = MHD_lookup_connection_value(q->mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!post) {
      q->allow = "POST";
      dyna_http_error(q, 405, "method not allowed (POST)");
    } else if (q->body.len && (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33))) {
      dyna_http_error(q, 415, "the body must be application/x-www-form-urlencoded (or give query parameters)");
    } else if (is(url, "/admin/repair")) {
      if (dyna_http_allowed(q, "dyna.admin|repair", NULL, 0)) dyna_http_api_repair(s, q);
    } else if (is(url, "/admin/leave")) {
      if (dyna_http_allowed(q, "dyna.admin|leave", NULL, 0)) dyna_http_api_leave(s, q);
    } else {
      if (dyna_http_allowed(q, "dyna.admin|join", NULL, 0)) dyna_http_api_join(s, q);
    }
    return;
  }
  if (get && dyna_http_dash(q, url)) return; /* the web dashboard: /, /dash.js, ... */
  dyna_http_error(q, 404, "not found (see docs/http.md: /, /metrics, /status, /ring, /keys/{key}, /admin/...)");
}

/* ---------- MHD callbacks ---------- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
  dyna_http_t *h = cls;
  http_req_t *q = *con_cls;
  (void)version;
  if (!q) { /* the headers are in: the body, if any, comes in the next calls */
    q = dyna_calloc(1, sizeof(*q));
    if (!q) return MHD_NO;
    q->h = h;
    q->mc = mc;
    q->next = h->reqs;
    if (h->reqs) h->reqs->prev = q;
    h->reqs = q;
    *con_cls = q;
    return MHD_YES;
  }
  if (*upload_data_size) {
    if (q->body.len + *upload_data_size > DYNA_HTTP_MAX_BODY) q->body_too_large = 1;
    else dyna_buf_put(&q->body, upload_data, *upload_data_size);
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (q->state == HTTP_NEW && q->auth == HTTP_AUTH_UNCHECKED) check_credentials(h, q);
  if (q->state == HTTP_NEW) route(h, q, url, method);
  if (q->state == HTTP_PENDING) {
    if (!q->suspended) {
      q->suspended = 1;
      MHD_suspend_connection(mc);
    }
    return MHD_YES;
  }
  return respond(q);
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  dyna_http_t *h = cls;
  http_req_t *q = *con_cls;
  (void)mc;
  (void)toe;
  if (!q) return;
  if (q->req_id) dyna_idmap_take(&h->pend, q->req_id, NULL); /* a reply that comes later is dropped */
  if (q->prev) q->prev->next = q->next;
  else h->reqs = q->next;
  if (q->next) q->next->prev = q->prev;
  dyna_buf_free(&q->body);
  dyna_buf_free(&q->out);
  dyna_buf_free(&q->key);
  dyna_free(q);
  *con_cls = NULL;
}

/* URLs and arguments reach us as they came (percent-encoded): see the top of the file. */
static size_t keep_escaped(void *cls, struct MHD_Connection *c, char *s) {
  (void)cls;
  (void)c;
  return strlen(s);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
  char msg[256];
  (void)cls;
  vsnprintf(msg, sizeof(msg), fmt, ap);
  size_t n = strlen(msg);
  while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = 0;
  LOG_DEBUG("http: %s", msg);
}

/* ---------- HTTPS ---------- */

#define DYNA_HTTP_PEM_MAX (1 << 20) /* a certificate chain or key file: at most 1 MiB */

/* The text of the file at path, NUL-terminated (the caller frees), or NULL with err. */
static char *read_pem(const char *what, const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "--http-tls: cannot read %s %s: %s", what, path, strerror(errno));
    return NULL;
  }
  char *text = dyna_malloc(DYNA_HTTP_PEM_MAX + 1);
  size_t n = text ? fread(text, 1, DYNA_HTTP_PEM_MAX + 1, f) : 0;
  int bad = !text || ferror(f) || n > DYNA_HTTP_PEM_MAX || !n;
  fclose(f);
  if (bad) {
    snprintf(err, errlen, "--http-tls: cannot read %s %s: %s", what, path,
             !text ? "out of memory" : n > DYNA_HTTP_PEM_MAX ? "over 1 MiB" : !n ? "empty" : "read error");
    dyna_free(text);
    return NULL;
  }
  text[n] = 0;
  return text;
}

/* ---------- the loop ---------- */

/* Runs MHD over whatever is ready, then arms the timer for its next deadline. Twice: the
 * connections closed in the first run are cleaned up only at the start of the next, and
 * only then, when the connection limit was reached, does MHD watch its listening socket
 * again; with no event to come, a connection waiting in the backlog would wait for the
 * next idle timeout. */
static void drive(dyna_http_t *h) {
  if (!h->d) return;
  MHD_run(h->d);
  MHD_run(h->d);
  MHD_UNSIGNED_LONG_LONG ms = 0;
  int has_timeout = MHD_get_timeout(h->d, &ms) == MHD_YES;
  /* While connections are open, and once more after the last has gone, MHD runs at least
   * every DYNA_HTTP_POLL_MS too: a safety net, so that anything MHD leaves for a later run
   * without an event to wake us (as above; the listening socket, when the last connections
   * of a full port closed together) waits that long at most. */
  const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
  int conns = di && di->num_connections;
  uint64_t wait = has_timeout ? (uint64_t)ms : UINT64_MAX;
  if ((conns || h->had_conns) && wait > DYNA_HTTP_POLL_MS) wait = DYNA_HTTP_POLL_MS;
  h->had_conns = conns;
  if (wait != UINT64_MAX) uv_timer_start(&h->timer, on_timer, wait, 0);
  else uv_timer_stop(&h->timer);
  dyna_server_flush(h->s); /* node requests made by handlers: frames to peers */
}

static void on_poll(uv_poll_t *p, int status, int events) {
  (void)status;
  (void)events;
  drive(p->data);
}

static void on_timer(uv_timer_t *t) { drive(t->data); }

int dyna_http_open(dyna_server_t *s, dyna_http_t **out, char *err, size_t errlen) {
  *out = NULL;
  const dyna_config_t *cfg = &s->cfg;
  if (!cfg->http_host[0]) return 0;
  struct sockaddr_storage addr;
  memset(&addr, 0, sizeof(addr));
  unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
  if (uv_ip4_addr(cfg->http_host, cfg->http_port, (struct sockaddr_in *)&addr)) {
    if (uv_ip6_addr(cfg->http_host, cfg->http_port, (struct sockaddr_in6 *)&addr)) {
      snprintf(err, errlen, "invalid http address %s", cfg->http_host);
      return -1;
    }
    flags |= MHD_USE_IPv6;
  }
  dyna_http_t *h = dyna_calloc(1, sizeof(*h));
  if (!h) { snprintf(err, errlen, "out of memory"); return -1; }
  h->s = s;
  dyna_idmap_init(&h->pend);
  /* --http-tls: MHD's TLS (GnuTLS in Debian's build) with the node's certificate and key,
   * read once here (a certificate rotated later is not seen by the HTTP port). */
  struct MHD_OptionItem tls[3] = {{MHD_OPTION_END, 0, NULL}, {MHD_OPTION_END, 0, NULL}, {MHD_OPTION_END, 0, NULL}};
  if (cfg->http_tls) {
    if (!cfg->tls_cert_file[0] || !cfg->tls_key_file[0]) {
      snprintf(err, errlen, "--http-tls needs tls-cert-file and tls-key-file");
      dyna_http_free(h);
      return -1;
    }
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
      snprintf(err, errlen, "--http-tls: this libmicrohttpd is built without TLS");
      dyna_http_free(h);
      return -1;
    }
    h->tls_cert = read_pem("certificate", cfg->tls_cert_file, err, errlen);
    h->tls_key = h->tls_cert ? read_pem("key", cfg->tls_key_file, err, errlen) : NULL;
    if (!h->tls_key) {
      dyna_http_free(h);
      return -1;
    }
    flags |= MHD_USE_TLS;
    tls[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert};
    tls[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key};
  }
  errno = 0;
  h->d = MHD_start_daemon(flags, (uint16_t)cfg->http_port, NULL, NULL, on_request, h,
                          MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                          MHD_OPTION_CONNECTION_LIMIT, (unsigned)DYNA_HTTP_MAX_CONNS,
                          MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)DYNA_HTTP_CONN_MEMORY,
                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)DYNA_HTTP_TIMEOUT_S,
                          MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                          MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, h,
                          MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
                          MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
                          MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
                          MHD_OPTION_ARRAY, tls,
                          MHD_OPTION_END);
  if (!h->d) {
    snprintf(err, errlen, "cannot listen on %s:%d for HTTP%s: %s", cfg->http_host, cfg->http_port,
             cfg->http_tls ? "S" : "",
             errno ? strerror(errno) : cfg->http_tls ? "libmicrohttpd refused to start (is the key or certificate bad?)"
                                                     : "libmicrohttpd refused to start");
    dyna_http_free(h);
    return -1;
  }
  const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
  if (!di || uv_poll_init(s->loop, &h->poll, di->epoll_fd)) {
    snprintf(err, errlen, "cannot watch the HTTP daemon's epoll fd");
    MHD_stop_daemon(h->d);
    h->d = NULL;
    dyna_http_free(h);
    return -1;
  }
  h->poll.data = h;
  uv_poll_start(&h->poll, UV_READABLE, on_poll);
  uv_timer_init(s->loop, &h->timer);
  h->timer.data = h;
  uv_timer_init(s->loop, &h->login_timer);
  h->login_timer.data = h;
  h->handles = 1;
  LOG_INFO("HTTP%s (metrics, admin API) on %s:%d: %s", cfg->http_tls ? "S" : "", cfg->http_host, cfg->http_port,
           dyna_auth_http_required(s) ? "HTTP Basic credentials checked against the users"
                                      : "no authentication (no password set), for a trusted network only");
  *out = h;
  return 0;
}

void dyna_http_close(dyna_http_t *h) {
  if (!h || !h->d) return;
  for (http_req_t *q = h->reqs; q; q = q->next) {
    if (q->state != HTTP_PENDING) continue;
    if (q->req_id) dyna_idmap_take(&h->pend, q->req_id, NULL);
    q->req_id = 0;
    dyna_http_error(q, 503, "shutting down");
    finish(q);
  }
  /* Best effort: let the resumed connections send their 503 before MHD closes them all
   * (a few non-blocking rounds; a client that does not read gets the close). */
  for (int i = 0; i < 3; i++) MHD_run(h->d);
  if (h->handles) {
    uv_poll_stop(&h->poll);
    uv_close((uv_handle_t *)&h->poll, NULL);
    uv_close((uv_handle_t *)&h->timer, NULL);
    uv_close((uv_handle_t *)&h->login_timer, NULL);
  }
  MHD_stop_daemon(h->d); /* every connection closes; on_completed frees the requests */
  h->d = NULL;
}

void dyna_http_free(dyna_http_t *h) {
  if (!h) return;
  if (h->d) MHD_stop_daemon(h->d);
  while (h->reqs) { /* none are left after MHD_stop_daemon; kept for safety */
    http_req_t *q = h->reqs;
    h->reqs = q->next;
    dyna_buf_free(&q->body);
    dyna_buf_free(&q->out);
    dyna_buf_free(&q->key);
    dyna_free(q);
  }
  dyna_idmap_free(&h->pend);
  dyna_free(h->tls_cert);
  dyna_free(h->tls_key);
  dyna_free(h);
}
