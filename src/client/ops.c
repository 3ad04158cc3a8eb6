/* ops.c: libdyna's key operations (get, put, del, ping) on top of client.c. */
#include "client/client_int.h"
#include "core/mem.h"
#include <stdio.h>
#include <string.h>

static char *dup_str(const uint8_t *p, size_t n) {
  char *s = dyna_malloc(n + 1);
  if (!s) return NULL;
  memcpy(s, p, n);
  s[n] = 0;
  return s;
}

/* Runs a command and turns a RESP error reply into its DYNA_E* code. */
static int run(dyna_client_t *c, size_t argc, const uint8_t *const *argv, const size_t *argl,
               dyna_resp_value_t *v) {
  int rc = dyna_client_command(c, argc, argv, argl, v);
  if (rc) return rc;
  if (v->type == DYNA_RESP_ERROR) {
    rc = dyna_client_remote_error(c, v);
    dyna_resp_value_free(v);
  }
  return rc;
}

int dyna_ping(dyna_client_t *c) {
  const uint8_t *argv[] = {(const uint8_t *)"PING"};
  size_t argl[] = {4};
  dyna_resp_value_t v;
  int rc = run(c, 1, argv, argl, &v);
  if (rc) return rc;
  int ok = v.type == DYNA_RESP_STRING && v.len == 4 && !memcmp(v.str, "PONG", 4);
  dyna_resp_value_free(&v);
  return ok ? 0 : DYNA_EPROTO;
}

/* Converts a [context, [values...]] reply into *out. */
static int to_siblings(const dyna_resp_value_t *v, dyna_siblings_t *out) {
  if (v->type != DYNA_RESP_ARRAY || v->n != 2 || v->elem[0].type != DYNA_RESP_BULK ||
      v->elem[1].type != DYNA_RESP_ARRAY)
    return DYNA_EPROTO;
  const dyna_resp_value_t *vals = &v->elem[1];
  for (size_t i = 0; i < vals->n; i++)
    if (vals->elem[i].type != DYNA_RESP_BULK) return DYNA_EPROTO;
  memset(out, 0, sizeof(*out));
  out->context = dup_str(v->elem[0].str, v->elem[0].len);
  out->values = dyna_calloc(vals->n, sizeof(dyna_value_t));
  if (!out->context || !out->values) goto oom;
  for (size_t i = 0; i < vals->n; i++) {
    out->values[i].data = (uint8_t *)dup_str(vals->elem[i].str, vals->elem[i].len);
    if (!out->values[i].data) goto oom;
    out->values[i].len = vals->elem[i].len;
    out->n++;
  }
  return 0;
oom:
  dyna_siblings_free(out);
  return DYNA_ENOMEM;
}

static int read_cmd(dyna_client_t *c, const char *cmd, const void *key, size_t klen, int r,
                    dyna_siblings_t *out) {
  char rs[16];
  snprintf(rs, sizeof(rs), "%d", r);
  const uint8_t *argv[] = {(const uint8_t *)cmd, key, (const uint8_t *)"R", (const uint8_t *)rs};
  size_t argl[] = {strlen(cmd), klen, 1, strlen(rs)};
  dyna_resp_value_t v;
  int rc = run(c, r > 0 ? 4 : 2, argv, argl, &v);
  if (rc) return rc;
  rc = to_siblings(&v, out);
  dyna_resp_value_free(&v);
  if (rc == DYNA_EPROTO) dyna_client_set_errmsg(c, "unexpected reply shape");
  return rc;
}

int dyna_get(dyna_client_t *c, const void *key, size_t klen, int r, dyna_siblings_t *out) {
  return read_cmd(c, "DYNA.GET", key, klen, r, out);
}

int dyna_get_local(dyna_client_t *c, const void *key, size_t klen, dyna_siblings_t *out) {
  return read_cmd(c, "DYNA.LOCAL", key, klen, 0, out);
}

static int write_cmd(dyna_client_t *c, int del, const void *key, size_t klen,
                     const char *context, const void *val, size_t vlen, int w, char **new_context) {
  char ws[16];
  snprintf(ws, sizeof(ws), "%d", w);
  const char *ctx = context ? context : "";
  const uint8_t *argv[6];
  size_t argl[6], argc = 0;
  const char *name = del ? "DYNA.DEL" : "DYNA.PUT";
  argv[argc] = (const uint8_t *)name; argl[argc++] = strlen(name);
  argv[argc] = key; argl[argc++] = klen;
  argv[argc] = (const uint8_t *)ctx; argl[argc++] = strlen(ctx);
  if (!del) { argv[argc] = val ? val : (const void *)""; argl[argc++] = vlen; }
  if (w > 0) {
    argv[argc] = (const uint8_t *)"W"; argl[argc++] = 1;
    argv[argc] = (const uint8_t *)ws; argl[argc++] = strlen(ws);
  }
  dyna_resp_value_t v;
  int rc = run(c, argc, argv, argl, &v);
  if (rc) return rc;
  if (v.type != DYNA_RESP_BULK) rc = DYNA_EPROTO;
  else if (new_context && !(*new_context = dup_str(v.str, v.len))) rc = DYNA_ENOMEM;
  dyna_resp_value_free(&v);
  return rc;
}

int dyna_put(dyna_client_t *c, const void *key, size_t klen, const char *context,
             const void *val, size_t vlen, int w, char **new_context) {
  return write_cmd(c, 0, key, klen, context, val, vlen, w, new_context);
}

int dyna_del(dyna_client_t *c, const void *key, size_t klen, const char *context, int w,
             char **new_context) {
  return write_cmd(c, 1, key, klen, context, NULL, 0, w, new_context);
}

void dyna_siblings_free(dyna_siblings_t *s) {
  if (!s) return;
  for (size_t i = 0; i < s->n; i++) dyna_free(s->values[i].data);
  dyna_free(s->values);
  dyna_free(s->context);
  memset(s, 0, sizeof(*s));
}
