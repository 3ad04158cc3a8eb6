/* ops.c: libdyna's key operations (get, put, del, ping, any command), asynchronous
 * (dyna_submit_*) and blocking (dyna_get, ...: submit, then poll until the callback ran),
 * on top of client.c's engine. */
#include "client/client_int.h"
#include "util/alloc.h"
#include <stdio.h>
#include <string.h>

int dyna_siblings_from_reply(const dyna_resp_value_t *v, dyna_siblings_t *out) {
  memset(out, 0, sizeof(*out));
  if (v->type != DYNA_RESP_ARRAY || v->n != 2 || v->elem[0].type != DYNA_RESP_BULK ||
      v->elem[1].type != DYNA_RESP_ARRAY)
    return DYNA_EPROTO;
  const dyna_resp_value_t *vals = &v->elem[1];
  for (size_t i = 0; i < vals->n; i++)
    if (vals->elem[i].type != DYNA_RESP_BULK) return DYNA_EPROTO;
  out->context = dyna_strndup(v->elem[0].str, v->elem[0].len);
  out->values = dyna_calloc(vals->n ? vals->n : 1, sizeof(dyna_value_t));
  if (!out->context || !out->values) goto oom;
  for (size_t i = 0; i < vals->n; i++) {
    out->values[i].data = (uint8_t *)dyna_strndup(vals->elem[i].str, vals->elem[i].len);
    if (!out->values[i].data) goto oom;
    out->values[i].len = vals->elem[i].len;
    out->n++;
  }
  return 0;
oom:
  dyna_siblings_free(out);
  return DYNA_ENOMEM;
}

void dyna_siblings_free(dyna_siblings_t *s) {
  if (!s) return;
  for (size_t i = 0; i < s->n; i++) dyna_free(s->values[i].data);
  dyna_free(s->values);
  dyna_free(s->context);
  memset(s, 0, sizeof(*s));
}

/* ---------------------------------------------------------------- asynchronous */

/* Builds and queues one request; route = key to route by (NULL: first seed). */
static int submit(dyna_client_t *c, int kind, size_t argc, const uint8_t *const *argv,
                  const size_t *argl, const void *route, size_t klen, dyna_callback_t cb,
                  void *arg) {
  dyna_creq_t *q = dyna_creq_get(c);
  if (!q) {
    dyna_client_set_errmsg(c, "out of memory");
    return DYNA_ENOMEM;
  }
  q->kind = kind;
  q->cb = cb;
  q->arg = arg;
  return dyna_client_submit(c, q, argc, argv, argl, route, klen);
}

static int submit_read(dyna_client_t *c, const char *cmd, const void *key, size_t klen, int r,
                       int routed, dyna_callback_t cb, void *arg) {
  if (!key && klen) return DYNA_EINVAL;
  char rs[16];
  snprintf(rs, sizeof(rs), "%d", r);
  const uint8_t *argv[] = {(const uint8_t *)cmd, key ? key : (const void *)"", (const uint8_t *)"R",
                           (const uint8_t *)rs};
  size_t argl[] = {strlen(cmd), klen, 1, strlen(rs)};
  return submit(c, DYNA_CREQ_GET, r > 0 ? 4 : 2, argv, argl, routed ? argv[1] : NULL, klen,
                cb, arg);
}

int dyna_submit_get(dyna_client_t *c, const void *key, size_t klen, int r,
                    dyna_callback_t cb, void *arg) {
  return submit_read(c, "DYNA.GET", key, klen, r, 1, cb, arg);
}

static int submit_write(dyna_client_t *c, int del, const void *key, size_t klen,
                        const char *context, const void *val, size_t vlen, int w,
                        dyna_callback_t cb, void *arg) {
  if ((!key && klen) || (!val && vlen)) return DYNA_EINVAL;
  char ws[16];
  snprintf(ws, sizeof(ws), "%d", w);
  const char *ctx = context ? context : "";
  const uint8_t *argv[6];
  size_t argl[6], argc = 0;
  const char *name = del ? "DYNA.DEL" : "DYNA.PUT";
  argv[argc] = (const uint8_t *)name; argl[argc++] = strlen(name);
  argv[argc] = key ? key : (const void *)""; argl[argc++] = klen;
  argv[argc] = (const uint8_t *)ctx; argl[argc++] = strlen(ctx);
  if (!del) { argv[argc] = val ? val : (const void *)""; argl[argc++] = vlen; }
  if (w > 0) {
    argv[argc] = (const uint8_t *)"W"; argl[argc++] = 1;
    argv[argc] = (const uint8_t *)ws; argl[argc++] = strlen(ws);
  }
  return submit(c, del ? DYNA_CREQ_DEL : DYNA_CREQ_PUT, argc, argv, argl, argv[1], klen, cb, arg);
}

int dyna_submit_put(dyna_client_t *c, const void *key, size_t klen, const char *context,
                    const void *val, size_t vlen, int w, dyna_callback_t cb, void *arg) {
  return submit_write(c, 0, key, klen, context, val, vlen, w, cb, arg);
}

int dyna_submit_del(dyna_client_t *c, const void *key, size_t klen, const char *context,
                    int w, dyna_callback_t cb, void *arg) {
  return submit_write(c, 1, key, klen, context, NULL, 0, w, cb, arg);
}

int dyna_submit_command(dyna_client_t *c, size_t argc, const uint8_t *const *argv,
                        const size_t *argl, size_t key_arg, dyna_callback_t cb, void *arg) {
  if (argc == 0 || key_arg >= argc) return DYNA_EINVAL;
  return submit(c, DYNA_CREQ_CMD, argc, argv, argl, key_arg ? argv[key_arg] : NULL,
                key_arg ? argl[key_arg] : 0, cb, arg);
}

/* ---------------------------------------------------------------- blocking */

typedef struct sync_call {
  int done;
  int status;
  dyna_siblings_t siblings;
  char *context;
  int pong;
} sync_call_t;

static void sync_cb(dyna_client_t *c, dyna_result_t *res, void *arg) {
  (void)c;
  sync_call_t *s = arg;
  s->done = 1;
  s->status = res->status;
  s->siblings = res->siblings;
  memset(&res->siblings, 0, sizeof(res->siblings));
  s->context = res->context;
  res->context = NULL;
  s->pong = res->value.data && res->value.len == 4 && !memcmp(res->value.data, "PONG", 4);
}

/* Waits for s's callback; returns its status. */
static int finish(dyna_client_t *c, int rc, sync_call_t *s) {
  if (rc) return rc;
  while (!s->done) {
    rc = dyna_poll(c, -1);
    if (rc < 0) return rc;
  }
  return s->status;
}

/* Blocking calls must not run inside a callback (they would poll recursively). */
static int blocking_ok(dyna_client_t *c) {
  if (dyna_client_in_callback(c)) {
    dyna_client_set_errmsg(c, "blocking call from inside a callback");
    return 0;
  }
  dyna_client_set_errmsg(c, "");
  return 1;
}

int dyna_ping(dyna_client_t *c) {
  if (!blocking_ok(c)) return DYNA_EINVAL;
  const uint8_t *argv[] = {(const uint8_t *)"PING"};
  size_t argl[] = {4};
  sync_call_t s = {0};
  int rc = finish(c, submit(c, DYNA_CREQ_CMD, 1, argv, argl, NULL, 0, sync_cb, &s), &s);
  if (!rc && !s.pong) {
    dyna_client_set_errmsg(c, "unexpected answer to PING");
    rc = DYNA_EPROTO;
  }
  return rc;
}

static int read_sync(dyna_client_t *c, const char *cmd, const void *key, size_t klen, int r,
                     int routed, dyna_siblings_t *out) {
  memset(out, 0, sizeof(*out));
  if (!blocking_ok(c)) return DYNA_EINVAL;
  sync_call_t s = {0};
  int rc = finish(c, submit_read(c, cmd, key, klen, r, routed, sync_cb, &s), &s);
  if (rc == DYNA_ECONN) { /* a stale idle connection: reads are safe to send again */
    dyna_siblings_free(&s.siblings);
    memset(&s, 0, sizeof(s));
    rc = finish(c, submit_read(c, cmd, key, klen, r, routed, sync_cb, &s), &s);
  }
  if (!rc) *out = s.siblings;
  else dyna_siblings_free(&s.siblings);
  return rc;
}

int dyna_get(dyna_client_t *c, const void *key, size_t klen, int r, dyna_siblings_t *out) {
  return read_sync(c, "DYNA.GET", key, klen, r, 1, out);
}

int dyna_get_local(dyna_client_t *c, const void *key, size_t klen, dyna_siblings_t *out) {
  return read_sync(c, "DYNA.LOCAL", key, klen, 0, 0, out);
}

static int write_sync(dyna_client_t *c, int del, const void *key, size_t klen,
                      const char *context, const void *val, size_t vlen, int w,
                      char **new_context) {
  if (new_context) *new_context = NULL;
  if (!blocking_ok(c)) return DYNA_EINVAL;
  sync_call_t s = {0};
  int rc = finish(c, submit_write(c, del, key, klen, context, val, vlen, w, sync_cb, &s), &s);
  if (!rc && new_context) {
    *new_context = s.context;
    s.context = NULL;
  }
  dyna_free(s.context);
  return rc;
}

int dyna_put(dyna_client_t *c, const void *key, size_t klen, const char *context,
             const void *val, size_t vlen, int w, char **new_context) {
  return write_sync(c, 0, key, klen, context, val, vlen, w, new_context);
}

int dyna_del(dyna_client_t *c, const void *key, size_t klen, const char *context, int w,
             char **new_context) {
  return write_sync(c, 1, key, klen, context, NULL, 0, w, new_context);
}
