/* typed.c: libdyna's typed calls (dyna_incrby, dyna_sadd, ... dyna_type): each builds
 * one Redis command, sends it routed by its key (dyna_client_command_key), checks the
 * answer's shape and hands back an integer, a score or a dyna_values_t the caller frees
 * with dyna_values_free. Thin wrappers: the merging is the server's. */
#include "client/client_int.h"
#include "util/alloc.h"
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Arguments of one command: the name, the key, then words and strings. Fixed words and
 * numbers are kept in num[] so that argv can point at them. */
typedef struct targs {
  size_t argc, cap;
  const uint8_t **argv;
  size_t *argl;
  char num[4][32];
  int nnum;
  int oom;
} targs_t;

static void targs_add(targs_t *a, const void *p, size_t len) {
  if (a->oom) return;
  if (a->argc == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 8;
    const uint8_t **v = dyna_realloc(a->argv, cap * sizeof(*v));
    if (!v) { a->oom = 1; return; }
    a->argv = v;
    size_t *l = dyna_realloc(a->argl, cap * sizeof(*l));
    if (!l) { a->oom = 1; return; }
    a->argl = l;
    a->cap = cap;
  }
  a->argv[a->argc] = p ? p : (const void *)"";
  a->argl[a->argc++] = len;
}

static void targs_word(targs_t *a, const char *w) { targs_add(a, w, strlen(w)); }

static void targs_i64(targs_t *a, int64_t x) {
  char *s = a->num[a->nnum++];
  snprintf(s, sizeof(a->num[0]), "%" PRId64, x);
  targs_word(a, s);
}

/* %.17g round-trips every double; Redis parses it back exactly. */
static void targs_double(targs_t *a, char *buf, size_t size, double x) {
  if (isinf(x)) snprintf(buf, size, "%s", x > 0 ? "+inf" : "-inf");
  else snprintf(buf, size, "%.17g", x);
  targs_word(a, buf);
}

static void targs_free(targs_t *a) {
  dyna_free(a->argv);
  dyna_free(a->argl);
}

/* Starts a command: name, key. */
static void targs_start(targs_t *a, const char *name, const void *key, size_t klen) {
  memset(a, 0, sizeof(*a));
  targs_word(a, name);
  targs_add(a, key, klen);
}

/* Checks what every typed call checks before sending. */
static int call_ok(dyna_client_t *c, const void *key, size_t klen) {
  if (dyna_client_in_callback(c)) {
    dyna_client_set_errmsg(c, "blocking call from inside a callback");
    return 0;
  }
  dyna_client_set_errmsg(c, "");
  return key || !klen;
}

/* Sends a (routed by argv[1]) and reads the answer into *v (freed by the caller with
 * dyna_resp_value_free, also on error). read: a read, sent again once after DYNA_ECONN.
 * An error answer becomes its code, with its text in errmsg. */
static int run(dyna_client_t *c, targs_t *a, int read, dyna_resp_value_t *v) {
  memset(v, 0, sizeof(*v));
  if (a->oom) {
    targs_free(a);
    dyna_client_set_errmsg(c, "out of memory");
    return DYNA_ENOMEM;
  }
  int rc = dyna_client_command_key(c, a->argc, a->argv, a->argl, a->argv[1], a->argl[1], v);
  if (rc == DYNA_ECONN && read) {
    dyna_resp_value_free(v);
    rc = dyna_client_command_key(c, a->argc, a->argv, a->argl, a->argv[1], a->argl[1], v);
  }
  targs_free(a);
  if (!rc && v->type == DYNA_RESP_ERROR) rc = dyna_client_remote_error(c, v);
  return rc;
}

static int bad_shape(dyna_client_t *c) {
  dyna_client_set_errmsg(c, "unexpected reply shape");
  return DYNA_EPROTO;
}

/* A command answered with an integer, into *out (may be NULL). */
static int run_int(dyna_client_t *c, targs_t *a, int read, int64_t *out) {
  dyna_resp_value_t v;
  int rc = run(c, a, read, &v);
  if (!rc && v.type != DYNA_RESP_INTEGER) rc = bad_shape(c);
  if (!rc && out) *out = v.integer;
  dyna_resp_value_free(&v);
  return rc;
}

/* A score (a bulk string as Redis sends it) into *out. */
static int parse_score(const dyna_resp_value_t *v, double *out) {
  if (v->type != DYNA_RESP_BULK || !v->len || v->len > 64) return DYNA_EPROTO;
  char buf[72], *end;
  memcpy(buf, v->str, v->len);
  buf[v->len] = 0;
  errno = 0;
  double d = strtod(buf, &end);
  if (*end || isnan(d)) return DYNA_EPROTO;
  *out = d;
  return 0;
}

void dyna_values_free(dyna_values_t *v) {
  if (!v) return;
  for (size_t i = 0; i < v->n; i++) dyna_free(v->values[i].data);
  dyna_free(v->values);
  dyna_free(v->scores);
  memset(v, 0, sizeof(*v));
}

/* Copies the bulk strings v[0..n) (every step-th from first; none leaves out empty,
 * with nothing allocated) into out. 0, DYNA_EPROTO or DYNA_ENOMEM (out freed). */
static int values_from(const dyna_resp_value_t *elems, size_t n, size_t first, size_t step,
                       dyna_values_t *out) {
  size_t k = n > first ? (n - first + step - 1) / step : 0;
  if (k == 0) return 0; /* nothing allocated: an empty answer needs no free */
  out->values = dyna_calloc(k, sizeof(*out->values));
  if (!out->values) return DYNA_ENOMEM;
  for (size_t i = first; i < n; i += step) {
    const dyna_resp_value_t *e = &elems[i];
    if (e->type != DYNA_RESP_BULK) {
      dyna_values_free(out);
      return DYNA_EPROTO;
    }
    out->values[out->n].data = (uint8_t *)dyna_strndup(e->str, e->len);
    if (!out->values[out->n].data) {
      dyna_values_free(out);
      return DYNA_ENOMEM;
    }
    out->values[out->n++].len = e->len;
  }
  return 0;
}

/* A command answered with an array of bulk strings (or nil, or one bulk string when
 * single is set), into out. */
static int run_values(dyna_client_t *c, targs_t *a, int read, int single, dyna_values_t *out) {
  dyna_resp_value_t v;
  int rc = run(c, a, read, &v);
  if (!rc) {
    if (v.type == DYNA_RESP_ARRAY) rc = values_from(v.elem, v.n, 0, 1, out);
    else if (v.type == DYNA_RESP_NIL) rc = values_from(NULL, 0, 0, 1, out);
    else if (single && v.type == DYNA_RESP_BULK) rc = values_from(&v, 1, 0, 1, out);
    else rc = DYNA_EPROTO;
    if (rc == DYNA_EPROTO) bad_shape(c);
    else if (rc) dyna_client_set_errmsg(c, "out of memory");
  }
  dyna_resp_value_free(&v);
  return rc;
}

/* Writes of a list of strings: NAME key s... -> integer. */
static int list_write(dyna_client_t *c, const char *name, const void *key, size_t klen,
                      size_t n, const uint8_t *const *s, const size_t *sl, int64_t *out) {
  if (!call_ok(c, key, klen) || n == 0 || !s || !sl) return DYNA_EINVAL;
  targs_t a;
  targs_start(&a, name, key, klen);
  for (size_t i = 0; i < n; i++) targs_add(&a, s[i], sl[i]);
  return run_int(c, &a, 0, out);
}

/* Reads of the whole key: NAME key [words] -> array. */
static int key_read(dyna_client_t *c, const char *name, const void *key, size_t klen,
                    dyna_values_t *out) {
  memset(out, 0, sizeof(*out));
  if (!call_ok(c, key, klen)) return DYNA_EINVAL;
  targs_t a;
  targs_start(&a, name, key, klen);
  return run_values(c, &a, 1, 0, out);
}

/* ---------------------------------------------------------------- counters, sets */

int dyna_incrby(dyna_client_t *c, const void *key, size_t klen, int64_t by, int64_t *out) {
  if (!call_ok(c, key, klen)) return DYNA_EINVAL;
  targs_t a;
  targs_start(&a, "INCRBY", key, klen);
  targs_i64(&a, by);
  return run_int(c, &a, 0, out);
}

int dyna_sadd(dyna_client_t *c, const void *key, size_t klen, size_t n,
              const uint8_t *const *m, const size_t *ml, int64_t *added) {
  return list_write(c, "SADD", key, klen, n, m, ml, added);
}

int dyna_srem(dyna_client_t *c, const void *key, size_t klen, size_t n,
              const uint8_t *const *m, const size_t *ml, int64_t *removed) {
  return list_write(c, "SREM", key, klen, n, m, ml, removed);
}

int dyna_smembers(dyna_client_t *c, const void *key, size_t klen, dyna_values_t *out) {
  return key_read(c, "SMEMBERS", key, klen, out);
}

/* ---------------------------------------------------------------- hashes */

int dyna_hset(dyna_client_t *c, const void *key, size_t klen, size_t n,
              const uint8_t *const *f, const size_t *fl, const uint8_t *const *v,
              const size_t *vl, int64_t *added) {
  if (!call_ok(c, key, klen) || n == 0 || !f || !fl || !v || !vl) return DYNA_EINVAL;
  targs_t a;
  targs_start(&a, "HSET", key, klen);
  for (size_t i = 0; i < n; i++) {
    targs_add(&a, f[i], fl[i]);
    targs_add(&a, v[i], vl[i]);
  }
  return run_int(c, &a, 0, added);
}

int dyna_hget(dyna_client_t *c, const void *key, size_t klen, const void *field, size_t flen,
              dyna_values_t *out) {
  memset(out, 0, sizeof(*out));
  if (!call_ok(c, key, klen) || (!field && flen)) return DYNA_EINVAL;
  targs_t a;
  targs_start(&a, "HGET", key, klen);
  targs_add(&a, field, flen);
  dyna_resp_value_t v;
  int rc = run(c, &a, 1, &v);
  if (!rc) {
    if (v.type == DYNA_RESP_BULK) rc = values_from(&v, 1, 0, 1, out);
    else if (v.type == DYNA_RESP_NIL) rc = values_from(NULL, 0, 0, 1, out);
    else rc = bad_shape(c);
  }
  dyna_resp_value_free(&v);
  return rc;
}

int dyna_hgetall(dyna_client_t *c, const void *key, size_t klen, dyna_values_t *out) {
  int rc = key_read(c, "HGETALL", key, klen, out);
  if (!rc && out->n % 2) {
    dyna_values_free(out);
    rc = bad_shape(c);
  }
  return rc;
}

/* ---------------------------------------------------------------- sorted sets */

int dyna_zadd(dyna_client_t *c, const void *key, size_t klen, size_t n, const double *score,
              const uint8_t *const *m, const size_t *ml, int64_t *added) {
  if (!call_ok(c, key, klen) || n == 0 || !score || !m || !ml) return DYNA_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (isnan(score[i])) return DYNA_EINVAL;
  char (*buf)[32] = dyna_calloc(n, sizeof(*buf));
  if (!buf) return DYNA_ENOMEM;
  targs_t a;
  targs_start(&a, "ZADD", key, klen);
  for (size_t i = 0; i < n; i++) {
    targs_double(&a, buf[i], sizeof(buf[i]), score[i]);
    targs_add(&a, m[i], ml[i]);
  }
  int rc = run_int(c, &a, 0, added);
  dyna_free(buf);
  return rc;
}

int dyna_zincrby(dyna_client_t *c, const void *key, size_t klen, double by,
                 const void *member, size_t mlen, double *out) {
  if (!call_ok(c, key, klen) || isnan(by) || (!member && mlen)) return DYNA_EINVAL;
  char buf[32];
  targs_t a;
  targs_start(&a, "ZINCRBY", key, klen);
  targs_double(&a, buf, sizeof(buf), by);
  targs_add(&a, member, mlen);
  dyna_resp_value_t v;
  double d = 0;
  int rc = run(c, &a, 0, &v);
  if (!rc && parse_score(&v, &d)) rc = bad_shape(c);
  if (!rc && out) *out = d;
  dyna_resp_value_free(&v);
  return rc;
}

int dyna_zrange_withscores(dyna_client_t *c, const void *key, size_t klen, int64_t start,
                           int64_t stop, dyna_values_t *out) {
  memset(out, 0, sizeof(*out));
  if (!call_ok(c, key, klen)) return DYNA_EINVAL;
  targs_t a;
  targs_start(&a, "ZRANGE", key, klen);
  targs_i64(&a, start);
  targs_i64(&a, stop);
  targs_word(&a, "WITHSCORES");
  dyna_resp_value_t v;
  int rc = run(c, &a, 1, &v);
  if (!rc && (v.type != DYNA_RESP_ARRAY || v.n % 2)) rc = bad_shape(c);
  if (!rc) {
    rc = values_from(v.elem, v.n, 0, 2, out);
    if (!rc && out->n && !(out->scores = dyna_calloc(out->n, sizeof(double)))) rc = DYNA_ENOMEM;
    for (size_t i = 0; !rc && i < out->n; i++)
      if (parse_score(&v.elem[2 * i + 1], &out->scores[i])) rc = DYNA_EPROTO;
    if (rc) {
      dyna_values_free(out);
      if (rc == DYNA_EPROTO) bad_shape(c);
      else dyna_client_set_errmsg(c, "out of memory");
    }
  }
  dyna_resp_value_free(&v);
  return rc;
}

/* ---------------------------------------------------------------- lists */

int dyna_lpush(dyna_client_t *c, const void *key, size_t klen, size_t n,
               const uint8_t *const *v, const size_t *vl, int64_t *len) {
  return list_write(c, "LPUSH", key, klen, n, v, vl, len);
}

int dyna_rpush(dyna_client_t *c, const void *key, size_t klen, size_t n,
               const uint8_t *const *v, const size_t *vl, int64_t *len) {
  return list_write(c, "RPUSH", key, klen, n, v, vl, len);
}

int dyna_lrange(dyna_client_t *c, const void *key, size_t klen, int64_t start, int64_t stop,
                dyna_values_t *out) {
  memset(out, 0, sizeof(*out));
  if (!call_ok(c, key, klen)) return DYNA_EINVAL;
  targs_t a;
  targs_start(&a, "LRANGE", key, klen);
  targs_i64(&a, start);
  targs_i64(&a, stop);
  return run_values(c, &a, 1, 0, out);
}

int dyna_lpop(dyna_client_t *c, const void *key, size_t klen, size_t count,
              dyna_values_t *out) {
  memset(out, 0, sizeof(*out));
  if (!call_ok(c, key, klen) || count > INT64_MAX) return DYNA_EINVAL;
  targs_t a;
  targs_start(&a, "LPOP", key, klen);
  if (count) targs_i64(&a, (int64_t)count);
  return run_values(c, &a, 0, !count, out);
}

/* ---------------------------------------------------------------- expiry, type */

int dyna_expire(dyna_client_t *c, const void *key, size_t klen, int64_t seconds, int *set) {
  if (!call_ok(c, key, klen)) return DYNA_EINVAL;
  targs_t a;
  targs_start(&a, "EXPIRE", key, klen);
  targs_i64(&a, seconds);
  int64_t x = 0;
  int rc = run_int(c, &a, 0, &x);
  if (!rc && set) *set = x != 0;
  return rc;
}

int dyna_ttl(dyna_client_t *c, const void *key, size_t klen, int64_t *ttl) {
  if (!call_ok(c, key, klen)) return DYNA_EINVAL;
  targs_t a;
  targs_start(&a, "TTL", key, klen);
  return run_int(c, &a, 1, ttl);
}

int dyna_persist(dyna_client_t *c, const void *key, size_t klen, int *removed) {
  if (!call_ok(c, key, klen)) return DYNA_EINVAL;
  targs_t a;
  targs_start(&a, "PERSIST", key, klen);
  int64_t x = 0;
  int rc = run_int(c, &a, 0, &x);
  if (!rc && removed) *removed = x != 0;
  return rc;
}

int dyna_type(dyna_client_t *c, const void *key, size_t klen, char *type, size_t size) {
  if (size) type[0] = 0;
  if (!call_ok(c, key, klen) || !size) return DYNA_EINVAL;
  targs_t a;
  targs_start(&a, "TYPE", key, klen);
  dyna_resp_value_t v;
  int rc = run(c, &a, 1, &v);
  if (!rc && v.type != DYNA_RESP_STRING) rc = bad_shape(c);
  if (!rc) snprintf(type, size, "%.*s", (int)v.len, (const char *)v.str);
  dyna_resp_value_free(&v);
  return rc;
}
