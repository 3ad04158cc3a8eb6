/* http_int.h: the HTTP port's shared pieces, for http.c (the daemon on the loop, request
 * lifecycle), http_metrics.c (GET /metrics) and http_api.c (the JSON admin API). */
#ifndef DYNA_HTTP_INT_H
#define DYNA_HTTP_INT_H
#include "runtime/http.h"
#include "runtime/server_int.h"
#include "util/buf.h"
#include <microhttpd.h>

/* Limits, each answered with a 4xx (docs/http.md). */
#define DYNA_HTTP_MAX_CONNS 64          /* open HTTP connections; more are refused at accept */
#define DYNA_HTTP_CONN_MEMORY (256 << 10) /* per connection: request line and headers (a
                                           64 KiB key percent-encoded fits); beyond: 414/431 */
#define DYNA_HTTP_MAX_BODY 4096         /* a POST's form body; beyond: 413 */
#define DYNA_HTTP_TIMEOUT_S 30          /* an idle or stalled connection is closed */
#define DYNA_HTTP_POLL_MS 250           /* MHD runs at least this often while connections are open */

typedef enum {
  HTTP_NEW = 0, /* headers in; the body (POST) may be coming */
  HTTP_PENDING, /* waits for a node reply (the connection is suspended) */
  HTTP_DONE     /* status and out are the response */
} http_state_t;

/* HTTP_WAIT_LOGIN: the failed-login delay holds the request before it is routed. */
typedef enum { HTTP_WAIT_NONE = 0, HTTP_WAIT_KEY, HTTP_WAIT_ADMIN, HTTP_WAIT_LOGIN } http_wait_t;

/* Its credentials (when the node asks for them, auth.h): not looked at yet, none given,
 * wrong, or right (http_req_t.user is the user). */
typedef enum { HTTP_AUTH_UNCHECKED = 0, HTTP_AUTH_NONE, HTTP_AUTH_BAD, HTTP_AUTH_OK } http_auth_t;

/* One request, from its headers to the response's end (freed by MHD's completion
 * callback, http.c). Owned by the daemon's list. */
typedef struct http_req {
  struct dyna_http *h;
  struct MHD_Connection *mc;
  struct http_req *prev, *next;
  http_state_t state;
  http_wait_t wait;       /* what the pending node request is */
  int suspended;          /* MHD_suspend_connection was called, not yet resumed */
  int body_too_large;
  dyna_buf_t body;        /* a POST's body, at most DYNA_HTTP_MAX_BODY (owned) */
  uint64_t req_id;        /* the pending node request (0: none) */
  uint64_t t0_ns;         /* when it was submitted */
  unsigned status;        /* the response: HTTP status, content type, body (owned) */
  const char *ctype;
  const char *allow;      /* 405: the methods the path takes */
  dyna_buf_t out;
  dyna_buf_t key;         /* GET /keys/{key}: the decoded key (owned) */
  http_auth_t auth;       /* its credentials' verdict, made once */
  const struct dyna_acl_user *user; /* HTTP_AUTH_OK: who it runs as (the acl's) */
  uint64_t due_ms;        /* HTTP_WAIT_LOGIN: when it goes on (uv_now) */
} http_req_t;

struct dyna_http {
  dyna_server_t *s;
  struct MHD_Daemon *d;
  uv_poll_t poll;         /* MHD's epoll fd readable: MHD_run */
  uv_timer_t timer;       /* MHD_get_timeout: MHD_run (timeouts, buffered data) */
  int handles;            /* poll and timer initialised */
  int had_conns;          /* connections were open at the last run (drive, http.c) */
  dyna_idmap_t pend;      /* node request id -> http_req_t (ptr) */
  http_req_t *reqs;       /* every live request */
  uv_timer_t login_timer; /* the next HTTP_WAIT_LOGIN request due */
  char *tls_cert, *tls_key; /* --http-tls: the PEM files' text, NUL-terminated (owned) */
  uint64_t responses[6];  /* by status class: [2] 2xx .. [5] 5xx (/metrics) */
};

#define DYNA_HTTP_JSON "application/json"

/* The response: status and a JSON body {"error": msg} (msg NUL-terminated). */
void dyna_http_error(http_req_t *q, unsigned status, const char *msg);
/* The response: 200 and the JSON {"ok": true}. */
void dyna_http_ok(http_req_t *q);
/* A request parameter (the query string, or a POST's application/x-www-form-urlencoded
 * body; the query first): 1 and its percent-decoded value in out (NUL-terminated) when
 * present, 0 when absent, -1 when malformed, too long for out or holding a NUL byte. */
int dyna_http_param(http_req_t *q, const char *name, char *out, size_t cap);
/* Percent-decodes p[0..n) into out (plus_space: '+' is a space, as in forms). Returns 0,
 * or -1 for a '%' not followed by two hex digits. */
int dyna_http_pct_decode(const char *p, size_t n, int plus_space, dyna_buf_t *out);
/* Authorises q as the command row cmd ("dyna.get") on key (klen bytes; NULL: none)
 * would be for q's user: 1 when allowed (or no credentials are asked for), else 0 with
 * q's 403 made (the NOPERM words as RESP gives them). */
int dyna_http_allowed(http_req_t *q, const char *cmd, const uint8_t *key, size_t klen);
/* Submits a node request for q (req->id is set here) and marks q pending. Returns 0, or
 * -1 with q's error response made. */
int dyna_http_submit(http_req_t *q, dyna_req_t *req, http_wait_t wait);
/* Marks q pending on a reply the runtime makes itself (dyna_commit_reply_after_writes):
 * its OK leaves once this node's writes so far are durable. */
void dyna_http_after_writes(http_req_t *q);

/* http_metrics.c: GET /metrics. */
void dyna_http_metrics(dyna_server_t *s, http_req_t *q);
/* http_api.c: the JSON endpoints, and a pending request's reply. */
void dyna_http_api_status(dyna_server_t *s, http_req_t *q);
void dyna_http_api_ring(dyna_server_t *s, http_req_t *q);
void dyna_http_api_key(dyna_server_t *s, http_req_t *q, const char *raw, size_t rawlen);
void dyna_http_api_key_reply(dyna_server_t *s, http_req_t *q, const dyna_node_reply_t *r);
void dyna_http_api_repair(dyna_server_t *s, http_req_t *q);
void dyna_http_api_join(dyna_server_t *s, http_req_t *q);
void dyna_http_api_leave(dyna_server_t *s, http_req_t *q);
/* http_dash.c: when url (a GET) names a dashboard file, makes q's response and returns 1. */
int dyna_http_dash(http_req_t *q, const char *url);

#endif
