/* typed_hash.c: the hash commands over an object (typed.h), thin handlers over
 * core/crdt_ops.h's map of fields: fields are add-wins with observed removes (HDEL
 * removes what its coordinator observed), HINCRBY / HINCRBYFLOAT fields are counters
 * whose increments on both sides of a partition add up.
 *
 * A field written by HSET concurrently on two sides holds both values (siblings).
 * HGET shows one of them, the same on every replica whatever the merge order: the one
 * written with the greatest wall-clock stamp (dyna_tenv_stamp of its coordinator), ties
 * broken by the greater dot counter, then the greater actor id (crdt_ops.h,
 * dyna_crdt_hget); increments it did not observe are added to it when it is a number.
 * DYNA.HSIBLINGS key field shows every sibling.
 *
 * Numbers are shown as Redis shows them: integers in decimal, floats in the shortest
 * decimal that reads back to the same double, without an exponent (Redis prints a
 * long double: digits beyond a double's 17 may differ; docs/compatibility.md). */
#include "core/crdt_ops.h"
#include "core/typed.h"
#include "proto/resp.h"
#include "util/alloc.h"
#include "util/err.h"
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ERR_HASH_NOT_INT "ERR hash value is not an integer"
#define ERR_HASH_NOT_FLOAT "ERR hash value is not a float"
#define ERR_OVERFLOW DYNA_WORD_ERR " " DYNA_MSG_OVERFLOW
#define ERR_NAN_INF "ERR value is NaN or Infinity"
#define ERR_PRODUCE_NAN "ERR increment would produce NaN or Infinity"
#define NUMBUF 400 /* "%.0f" of the greatest double is 309 digits */

/* d as Redis shows a float it computed (HINCRBYFLOAT): plain decimal, no exponent, no
 * trailing zeros; the shortest digits that read back as d. */
static size_t fmt_human(double d, char *out) {
  if (d == floor(d) && fabs(d) < 1e308) return (size_t)snprintf(out, NUMBUF, "%.0f", d == 0 ? 0.0 : d);
  char e[40];
  for (int p = 0; p <= 17; p++) {
    snprintf(e, sizeof(e), "%.*e", p, d);
    if (strtod(e, NULL) == d) break;
  }
  /* e is [-]D[.DDD]e[+-]XX: lay its digits out around the decimal point. */
  char dig[24];
  size_t nd = 0, n = 0;
  const char *q = e;
  if (*q == '-') out[n++] = *q++;
  for (; *q && *q != 'e'; q++)
    if (*q != '.') dig[nd++] = *q;
  long x = strtol(q + 1, NULL, 10);
  if (x < 0) {
    out[n++] = '0';
    out[n++] = '.';
    for (long z = -1; z > x; z--) out[n++] = '0';
    for (size_t k = 0; k < nd; k++) out[n++] = dig[k];
  } else {
    for (long k = 0; k <= x || (size_t)k < nd; k++) {
      if (k == x + 1) out[n++] = '.';
      out[n++] = (size_t)k < nd ? dig[k] : '0';
    }
  }
  while (n > 1 && out[n - 1] == '0' && memchr(out, '.', n)) n--;
  if (out[n - 1] == '.') n--;
  out[n] = 0;
  return n;
}

/* The bytes a field shows (tmp: NUMBUF bytes for a number). */
static void show(const dyna_crdt_hval_t *v, char *tmp, const uint8_t **p, size_t *n) {
  if (v->kind == DYNA_CRDT_HV_BYTES) {
    *p = v->data;
    *n = v->len;
    return;
  }
  *n = v->kind == DYNA_CRDT_HV_INT ? (size_t)snprintf(tmp, NUMBUF, "%" PRId64, v->i)
                                   : fmt_human(v->d, tmp);
  *p = (const uint8_t *)tmp;
}

static void put_field(dyna_buf_t *resp, int proto, const dyna_crdt_t *s, const uint8_t *f, size_t flen) {
  dyna_crdt_hval_t v;
  if (!s || dyna_crdt_hget(s, f, flen, &v)) {
    dyna_resp_put_null(resp, proto);
    return;
  }
  char tmp[NUMBUF];
  const uint8_t *p;
  size_t n;
  show(&v, tmp, &p, &n);
  dyna_resp_put_bulk(resp, p, n);
}

static const dyna_crdt_t *hash_of(const dyna_obj_t *o, const dyna_tenv_t *env) {
  return dyna_typed_read_state(o, DYNA_CRDT_HASH, env);
}

static int has_field(const dyna_crdt_t *s, const uint8_t *f, size_t flen) {
  dyna_crdt_hval_t v;
  return s && dyna_crdt_hget(s, f, flen, &v) == 0;
}

/* The live fields, in byte order: *out allocated here (dyna_free; NULL when none). */
static int live_fields(const dyna_crdt_t *s, const dyna_crdt_elem_t ***out, size_t *n) {
  *out = NULL;
  *n = s ? dyna_crdt_count(s) : 0;
  if (!*n) return 0;
  const dyna_crdt_elem_t **v = dyna_malloc(*n * sizeof(*v));
  if (!v) return DYNA_ENOMEM;
  size_t cur = 0, k = 0;
  const dyna_crdt_elem_t *e;
  while (k < *n && (e = dyna_crdt_next(s, &cur)) != NULL) v[k++] = e;
  *n = k;
  *out = v;
  return 0;
}

/* ---- writes ------------------------------------------------------------------------ */

/* Starts a write of the hash (after the checks), mapping errors to resp. */
static int begin(dyna_obj_t *o, const dyna_tenv_t *env, dyna_buf_t *resp, dyna_crdt_t **s) {
  int rc = dyna_obj_typed_for_write(o, DYNA_CRDT_HASH, env->actor, env->now_ms, s);
  if (rc == 0) return 0;
  return rc == DYNA_ENOMEM ? rc : (dyna_typed_error(rc, resp), 1);
}

static int hset_pairs(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                      dyna_buf_t *resp, int *changed, int ok_reply) {
  *changed = 0;
  if (a->argc < 4 || a->argc % 2) {
    char msg[80];
    snprintf(msg, sizeof(msg), "ERR wrong number of arguments for '%s' command",
             ok_reply ? "hmset" : "hset");
    dyna_resp_put_error(resp, msg);
    return 0;
  }
  if (!dyna_typed_kind_ok(o, DYNA_KIND_HASH, env, resp)) return 0;
  const dyna_crdt_t *r = hash_of(o, env);
  size_t have = r ? r->n : 0;
  for (size_t i = 2; i < a->argc; i += 2) /* refuse before anything changes */
    if (a->argl[i] > DYNA_CRDT_MAX_KEY_BYTES || a->argl[i + 1] > DYNA_CRDT_MAX_VAL_BYTES ||
        have + (a->argc - 2) / 2 > DYNA_CRDT_MAX_ELEMS)
      return dyna_typed_error(DYNA_ETOOBIG, resp);
  dyna_crdt_t *s;
  int rc = begin(o, env, resp, &s);
  if (rc) return rc == 1 ? 0 : rc;
  int64_t added = 0;
  for (size_t i = 2; i < a->argc; i += 2) {
    rc = dyna_crdt_hset(s, env->actor, a->argv[i], a->argl[i], a->argv[i + 1], a->argl[i + 1],
                        dyna_tenv_stamp(env));
    if (rc < 0) { /* o holds part of the write: the caller must not store it */
      dyna_obj_typed_done(o);
      return dyna_typed_error(rc, resp);
    }
    added += rc;
  }
  dyna_obj_typed_done(o);
  *changed = 1;
  if (ok_reply) dyna_resp_put_simple(resp, "OK");
  else dyna_resp_put_int(resp, added);
  return 0;
}

static int cmd_hset(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env, dyna_buf_t *resp,
                    int *changed) {
  return hset_pairs(o, a, env, resp, changed, 0);
}

static int cmd_hmset(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                     dyna_buf_t *resp, int *changed) {
  return hset_pairs(o, a, env, resp, changed, 1);
}

static int cmd_hsetnx(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                      dyna_buf_t *resp, int *changed) {
  *changed = 0;
  if (!dyna_typed_kind_ok(o, DYNA_KIND_HASH, env, resp)) return 0;
  if (has_field(hash_of(o, env), a->argv[2], a->argl[2])) {
    dyna_resp_put_int(resp, 0);
    return 0;
  }
  return hset_pairs(o, a, env, resp, changed, 0); /* answers 1 */
}

static int cmd_hdel(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env, dyna_buf_t *resp,
                    int *changed) {
  *changed = 0;
  if (!dyna_typed_kind_ok(o, DYNA_KIND_HASH, env, resp)) return 0;
  const dyna_crdt_t *r = hash_of(o, env);
  int any = 0;
  for (size_t i = 2; i < a->argc && !any; i++) any = has_field(r, a->argv[i], a->argl[i]);
  if (!any) {
    dyna_resp_put_int(resp, 0);
    return 0;
  }
  dyna_crdt_t *s;
  int rc = begin(o, env, resp, &s);
  if (rc) return rc == 1 ? 0 : rc;
  int64_t removed = 0;
  for (size_t i = 2; i < a->argc && rc >= 0; i++) {
    rc = dyna_crdt_hdel(s, env->actor, a->argv[i], a->argl[i]);
    if (rc > 0) removed += rc;
  }
  /* Emptied: delete the key and its deadline (crdt_ops.h: the old TTL must not carry
   * over to the key's next life; the deadline lives in the object's KEY state). */
  if (rc >= 0 && !dyna_crdt_exists(s)) {
    rc = dyna_crdt_delete(s, env->actor, env->now_ms);
    if (rc == 0) rc = dyna_obj_drop_deadline(o, env->actor);
  }
  dyna_obj_typed_done(o);
  if (rc < 0) return dyna_typed_error(rc, resp); /* partial: not to be stored */
  *changed = 1;
  dyna_resp_put_int(resp, removed);
  return 0;
}

static int cmd_hincrby(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                       dyna_buf_t *resp, int *changed) {
  *changed = 0;
  int64_t n, cur = 0, out;
  if (dyna_typed_parse_i64(a->argv[3], a->argl[3], &n)) {
    dyna_resp_put_error(resp, DYNA_TYPED_NOT_INT);
    return 0;
  }
  if (!dyna_typed_kind_ok(o, DYNA_KIND_HASH, env, resp)) return 0;
  const dyna_crdt_t *r = hash_of(o, env);
  dyna_crdt_hval_t v;
  if (r && dyna_crdt_hget(r, a->argv[2], a->argl[2], &v) == 0) {
    int ok = 1;
    if (v.kind == DYNA_CRDT_HV_BYTES) ok = dyna_typed_parse_i64(v.data, v.len, &cur) == 0;
    else if (v.kind == DYNA_CRDT_HV_INT) cur = v.i;
    else ok = v.d == floor(v.d) && fabs(v.d) < 9007199254740992.0, cur = ok ? (int64_t)v.d : 0;
    if (!ok) {
      dyna_resp_put_error(resp, ERR_HASH_NOT_INT);
      return 0;
    }
  }
  if ((n > 0 && cur > INT64_MAX - n) || (n < 0 && cur < INT64_MIN - n)) {
    dyna_resp_put_error(resp, ERR_OVERFLOW);
    return 0;
  }
  if (a->argl[2] > DYNA_CRDT_MAX_KEY_BYTES) return dyna_typed_error(DYNA_ETOOBIG, resp);
  dyna_crdt_t *s;
  int rc = begin(o, env, resp, &s);
  if (rc) return rc == 1 ? 0 : rc;
  rc = dyna_crdt_hincrby(s, env->actor, a->argv[2], a->argl[2], n, &out);
  dyna_obj_typed_done(o);
  if (rc == DYNA_EINVAL) dyna_resp_put_error(resp, ERR_HASH_NOT_INT);
  else if (rc) return dyna_typed_error(rc, resp);
  else dyna_resp_put_int(resp, out), *changed = 1;
  return 0;
}

static int cmd_hincrbyfloat(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                            dyna_buf_t *resp, int *changed) {
  *changed = 0;
  double x, out;
  if (dyna_typed_parse_double(a->argv[3], a->argl[3], &x)) {
    dyna_resp_put_error(resp, DYNA_TYPED_NOT_FLOAT);
    return 0;
  }
  if (!isfinite(x)) {
    dyna_resp_put_error(resp, ERR_NAN_INF);
    return 0;
  }
  if (!dyna_typed_kind_ok(o, DYNA_KIND_HASH, env, resp)) return 0;
  const dyna_crdt_t *r = hash_of(o, env);
  dyna_crdt_hval_t v;
  double cur = 0;
  if (r && dyna_crdt_hget(r, a->argv[2], a->argl[2], &v) == 0) {
    if (v.kind == DYNA_CRDT_HV_BYTES && dyna_typed_parse_double(v.data, v.len, &cur)) {
      dyna_resp_put_error(resp, ERR_HASH_NOT_FLOAT);
      return 0;
    }
    if (v.kind != DYNA_CRDT_HV_BYTES) cur = v.kind == DYNA_CRDT_HV_INT ? (double)v.i : v.d;
  }
  if (!isfinite(cur + x)) {
    dyna_resp_put_error(resp, ERR_PRODUCE_NAN);
    return 0;
  }
  if (a->argl[2] > DYNA_CRDT_MAX_KEY_BYTES) return dyna_typed_error(DYNA_ETOOBIG, resp);
  dyna_crdt_t *s;
  int rc = begin(o, env, resp, &s);
  if (rc) return rc == 1 ? 0 : rc;
  rc = dyna_crdt_hincrbyfloat(s, env->actor, a->argv[2], a->argl[2], x, &out);
  dyna_obj_typed_done(o);
  if (rc == DYNA_EINVAL) {
    dyna_resp_put_error(resp, ERR_HASH_NOT_FLOAT);
  } else if (rc) {
    return dyna_typed_error(rc, resp);
  } else {
    char tmp[NUMBUF];
    size_t n = fmt_human(out, tmp);
    dyna_resp_put_bulk(resp, tmp, n);
    *changed = 1;
  }
  return 0;
}

/* ---- reads ------------------------------------------------------------------------- */

static int cmd_hget(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                    dyna_buf_t *resp) {
  if (!dyna_typed_kind_ok(o, DYNA_KIND_HASH, env, resp)) return 0;
  put_field(resp, env->proto, hash_of(o, env), a->argv[2], a->argl[2]);
  return 0;
}

static int cmd_hmget(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                     dyna_buf_t *resp) {
  if (!dyna_typed_kind_ok(o, DYNA_KIND_HASH, env, resp)) return 0;
  const dyna_crdt_t *s = hash_of(o, env);
  dyna_resp_put_array(resp, a->argc - 2);
  for (size_t i = 2; i < a->argc; i++) put_field(resp, env->proto, s, a->argv[i], a->argl[i]);
  return 0;
}

static int cmd_hexists(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                       dyna_buf_t *resp) {
  if (!dyna_typed_kind_ok(o, DYNA_KIND_HASH, env, resp)) return 0;
  dyna_resp_put_int(resp, has_field(hash_of(o, env), a->argv[2], a->argl[2]));
  return 0;
}

static int cmd_hstrlen(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                       dyna_buf_t *resp) {
  if (!dyna_typed_kind_ok(o, DYNA_KIND_HASH, env, resp)) return 0;
  const dyna_crdt_t *s = hash_of(o, env);
  dyna_crdt_hval_t v;
  size_t n = 0;
  if (s && dyna_crdt_hget(s, a->argv[2], a->argl[2], &v) == 0) {
    char tmp[NUMBUF];
    const uint8_t *p;
    show(&v, tmp, &p, &n);
  }
  dyna_resp_put_int(resp, (int64_t)n);
  return 0;
}

static int cmd_hlen(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                    dyna_buf_t *resp) {
  (void)a;
  if (!dyna_typed_kind_ok(o, DYNA_KIND_HASH, env, resp)) return 0;
  const dyna_crdt_t *s = hash_of(o, env);
  dyna_resp_put_int(resp, s ? (int64_t)dyna_crdt_count(s) : 0);
  return 0;
}

enum { ALL_KEYS = 1, ALL_VALS = 2 };

static int all(const dyna_obj_t *o, const dyna_tenv_t *env, dyna_buf_t *resp, int what) {
  if (!dyna_typed_kind_ok(o, DYNA_KIND_HASH, env, resp)) return 0;
  const dyna_crdt_elem_t **f;
  size_t n;
  int rc = live_fields(hash_of(o, env), &f, &n);
  if (rc) return rc;
  const dyna_crdt_t *s = hash_of(o, env);
  if (what == (ALL_KEYS | ALL_VALS)) dyna_resp_put_map(resp, env->proto, n); /* HGETALL */
  else dyna_resp_put_array(resp, n);
  for (size_t i = 0; i < n; i++) {
    if (what & ALL_KEYS) dyna_resp_put_bulk(resp, f[i]->key, f[i]->klen);
    if (what & ALL_VALS) put_field(resp, env->proto, s, f[i]->key, f[i]->klen);
  }
  dyna_free(f);
  return 0;
}

static int cmd_hgetall(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                       dyna_buf_t *resp) {
  (void)a;
  return all(o, env, resp, ALL_KEYS | ALL_VALS);
}

static int cmd_hkeys(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                     dyna_buf_t *resp) {
  (void)a;
  return all(o, env, resp, ALL_KEYS);
}

static int cmd_hvals(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                     dyna_buf_t *resp) {
  (void)a;
  return all(o, env, resp, ALL_VALS);
}

/* HRANDFIELD key [count [WITHVALUES]]: count > 0 distinct fields (at most all), count < 0
 * |count| fields with repeats, as Redis; randomness from env->rand only. */
static int cmd_hrandfield(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                          dyna_buf_t *resp) {
  int64_t count = 1;
  int withvalues = 0;
  if (a->argc >= 3) {
    if (dyna_typed_parse_i64(a->argv[2], a->argl[2], &count)) {
      dyna_resp_put_error(resp, DYNA_TYPED_NOT_INT);
      return 0;
    }
    if (count == INT64_MIN) {
      dyna_resp_put_error(resp, DYNA_TYPED_RANGE_LL);
      return 0;
    }
    if (a->argc > 4 ||
        (a->argc == 4 && (a->argl[3] != 10 || strncasecmp((const char *)a->argv[3], "withvalues", 10)))) {
      dyna_resp_put_error(resp, DYNA_TYPED_SYNTAX);
      return 0;
    }
    withvalues = a->argc == 4;
    if (withvalues && (count < -INT64_MAX / 2 || count > INT64_MAX / 2)) {
      dyna_resp_put_error(resp, "ERR value is out of range");
      return 0;
    }
  }
  if (!dyna_typed_kind_ok(o, DYNA_KIND_HASH, env, resp)) return 0;
  const dyna_crdt_t *s = hash_of(o, env);
  const dyna_crdt_elem_t **f;
  size_t n;
  int rc = live_fields(s, &f, &n);
  if (rc) return rc;
  uint64_t rng = env->rand;
  if (a->argc == 2) {
    if (!n) dyna_resp_put_null(resp, env->proto);
    else {
      const dyna_crdt_elem_t *e = f[dyna_typed_next_rand(&rng) % n];
      dyna_resp_put_bulk(resp, e->key, e->klen);
    }
    dyna_free(f);
    return 0;
  }
  size_t k;
  if (!n || count == 0) k = 0;
  else if (count < 0) k = (size_t)(uint64_t)(-count);
  else k = (uint64_t)count < n ? (size_t)count : n;
  /* WITHVALUES: RESP3 answers [field, value] pairs, RESP2 one flat array. */
  int pairs = withvalues && env->proto == DYNA_RESP3;
  size_t start = resp->len;
  dyna_resp_put_array(resp, withvalues && !pairs ? 2 * k : k);
  for (size_t i = 0; i < k && !resp->oom && !dyna_typed_reply_over(resp, start); i++) {
    size_t j = i;
    if (count < 0) {
      j = (size_t)(dyna_typed_next_rand(&rng) % n);
    } else { /* a partial Fisher-Yates over f: distinct fields */
      j = i + (size_t)(dyna_typed_next_rand(&rng) % (n - i));
      const dyna_crdt_elem_t *t = f[i];
      f[i] = f[j];
      f[j] = t;
      j = i;
    }
    if (pairs) dyna_resp_put_array(resp, 2);
    dyna_resp_put_bulk(resp, f[j]->key, f[j]->klen);
    if (withvalues) put_field(resp, env->proto, s, f[j]->key, f[j]->klen);
  }
  dyna_free(f);
  return resp->oom ? DYNA_ENOMEM : 0;
}

/* DYNA.HSIBLINGS key field: every value a concurrent HSET left in the field (in dot
 * order: actor, then counter), where HGET shows the chosen one; a field that only had
 * increments shows its number; an absent field, an empty array. */
static int cmd_hsiblings(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                         dyna_buf_t *resp) {
  if (!dyna_typed_kind_ok(o, DYNA_KIND_HASH, env, resp)) return 0;
  const dyna_crdt_t *s = hash_of(o, env);
  if (!has_field(s, a->argv[2], a->argl[2])) {
    dyna_resp_put_array(resp, 0);
    return 0;
  }
  const dyna_crdt_elem_t *e = dyna_crdt_get(s, a->argv[2], a->argl[2]);
  const unsigned reg = DYNA_CRDT_F_LIVE | DYNA_CRDT_F_BYTES;
  size_t k = 0;
  for (size_t j = 0; j < e->nvals; j++) k += (e->vals[j].flags & reg) == reg;
  if (!k) {
    dyna_resp_put_array(resp, 1);
    put_field(resp, env->proto, s, a->argv[2], a->argl[2]);
    return 0;
  }
  dyna_resp_put_array(resp, k);
  for (size_t j = 0; j < e->nvals; j++)
    if ((e->vals[j].flags & reg) == reg) dyna_resp_put_bulk(resp, e->vals[j].data, e->vals[j].len);
  return 0;
}

const dyna_typed_cmd_t dyna_typed_hash_cmds[] = {
    {"hset", cmd_hset, NULL, -4},
    {"hmset", cmd_hmset, NULL, -4},
    {"hsetnx", cmd_hsetnx, NULL, 4},
    {"hdel", cmd_hdel, NULL, -3},
    {"hincrby", cmd_hincrby, NULL, 4},
    {"hincrbyfloat", cmd_hincrbyfloat, NULL, 4},
    {"hget", NULL, cmd_hget, 3},
    {"hmget", NULL, cmd_hmget, -3},
    {"hexists", NULL, cmd_hexists, 3},
    {"hstrlen", NULL, cmd_hstrlen, 3},
    {"hlen", NULL, cmd_hlen, 2},
    {"hgetall", NULL, cmd_hgetall, 2},
    {"hkeys", NULL, cmd_hkeys, 2},
    {"hvals", NULL, cmd_hvals, 2},
    {"hrandfield", NULL, cmd_hrandfield, -2},
    {"dyna.hsiblings", NULL, cmd_hsiblings, 3},
    {0},
};
