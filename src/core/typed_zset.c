/* typed_zset.c: the sorted-set commands over an object (typed.h), each a thin handler
 * over core/crdt_ops.h's zset API, with Redis 7.0's replies and errors.
 *
 * Merges (crdt_zset.c): a ZADD writes the member's score as a base over the
 * increments it observed, so concurrent ZADDs of one member resolve to one score on
 * every replica (the greatest dot) while concurrent ZINCRBYs add like a counter (a
 * best-seller list where every region adds its sales). A write that would change
 * nothing (ZADD XX of an absent member, ZADD of the score a member already has, ZREM of
 * absent members) leaves the object exactly as it was and sets *changed = 0: the
 * decisions are taken on the state as read before dyna_obj_typed_for_write.
 * Scores print as Redis 7.0 prints them (dyna_resp_put_double: "%.17g", "inf"; a double in
 * RESP3, a bulk string in RESP2).
 * Range reads and removals by range build the sorted view (dyna_crdt_zview): O(n log n)
 * per command; pops of a few members select them in one pass (dyna_crdt_zextremes);
 * ZRANK counts in O(n); ZSCORE, ZMSCORE, ZCARD and ZRANDMEMBER build nothing. */
#include "core/crdt_ops.h"
#include "core/typed.h"
#include "core/typed_zset.h"
#include "proto/resp.h"
#include "util/alloc.h"
#include "util/err.h"
#include <math.h>
#include <string.h>
#include <strings.h>

#define ZERR_NOTFLOAT "ERR min or max is not a float"
#define ZERR_NOTLEX "ERR min or max not valid string range item"
#define ZERR_NAN "ERR resulting score is not a number (NaN)"

static int arg_is(const dyna_targs_t *a, size_t i, const char *w) {
  return strlen(w) == a->argl[i] && !strncasecmp((const char *)a->argv[i], w, a->argl[i]);
}

/* A score: RESP3's double, RESP2's bulk string of the same text. */
static void put_score(dyna_buf_t *resp, int proto, double d) { dyna_resp_put_double(resp, proto, d); }

/* Redis's getPositiveLongFromObjectOrReply for pop counts: 0, or -1 with the error
 * appended (a non-integer gets the same text as a negative). */
static int parse_count(const uint8_t *p, size_t n, int64_t *out, dyna_buf_t *resp) {
  if (dyna_typed_parse_i64(p, n, out) != 0 || *out < 0) {
    dyna_resp_put_error(resp, "ERR value is out of range, must be positive");
    return -1;
  }
  return 0;
}

/* ---- ranges ---------------------------------------------------------------------- */

typedef struct zrange_score {
  double min, max;
  int minex, maxex;
} zrange_score_t;

static int parse_score_bound(const uint8_t *p, size_t n, double *v, int *ex) {
  *ex = n > 0 && p[0] == '(';
  if (*ex) p++, n--;
  if (n == 0) { /* Redis's strtod takes "" (and so "(") as 0 */
    *v = 0.0;
    return 0;
  }
  return dyna_typed_parse_double(p, n, v);
}

static int parse_score_range(const uint8_t *mn, size_t mnl, const uint8_t *mx, size_t mxl,
                             zrange_score_t *r) {
  return parse_score_bound(mn, mnl, &r->min, &r->minex) || parse_score_bound(mx, mxl, &r->max, &r->maxex)
             ? -1
             : 0;
}

static int score_gte_min(double v, const zrange_score_t *r) { return r->minex ? v > r->min : v >= r->min; }
static int score_lte_max(double v, const zrange_score_t *r) { return r->maxex ? v < r->max : v <= r->max; }

/* A lex bound: kind -1 "-", +1 "+", 0 a member (p, n) inclusive unless ex. */
typedef struct zlex_bound {
  int kind, ex;
  const uint8_t *p;
  size_t n;
} zlex_bound_t;

static int parse_lex_bound(const uint8_t *p, size_t n, zlex_bound_t *b) {
  memset(b, 0, sizeof(*b));
  if (n == 1 && p[0] == '-') b->kind = -1;
  else if (n == 1 && p[0] == '+') b->kind = 1;
  else if (n >= 1 && (p[0] == '(' || p[0] == '[')) {
    b->ex = p[0] == '(';
    b->p = p + 1;
    b->n = n - 1;
  } else return -1;
  return 0;
}

static int lexcmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
  int c = memcmp(a, b, al < bl ? al : bl);
  if (c) return c;
  return al < bl ? -1 : al > bl;
}

static int lex_gte_min(const dyna_crdt_zitem_t *it, const zlex_bound_t *b) {
  if (b->kind) return b->kind < 0;
  int c = lexcmp(it->m, it->len, b->p, b->n);
  return b->ex ? c > 0 : c >= 0;
}
static int lex_lte_max(const dyna_crdt_zitem_t *it, const zlex_bound_t *b) {
  if (b->kind) return b->kind > 0;
  int c = lexcmp(it->m, it->len, b->p, b->n);
  return b->ex ? c < 0 : c <= 0;
}

enum { ZR_AUTO = 0, ZR_RANK, ZR_SCORE, ZR_LEX };
enum { ZD_AUTO = 0, ZD_FWD, ZD_REV };

/* Redis's rank clamp: [*start, *end] within n, or 0 when the range is empty. */
static int clamp_ranks(int64_t start, int64_t end, size_t n, size_t *s, size_t *e) {
  int64_t len = (int64_t)n;
  if (start < 0) start += len;
  if (end < 0) end += len;
  if (start < 0) start = 0;
  if (start > end || start >= len) return 0;
  if (end >= len) end = len - 1;
  *s = (size_t)start;
  *e = (size_t)end;
  return 1;
}

/* ---- ZADD / ZINCRBY ------------------------------------------------------------- */

/* The actor's own ZINCRBY total for member m in s (0 when none). */
static double actor_total(const dyna_crdt_t *s, uint64_t actor, const uint8_t *m, size_t mlen) {
  const dyna_crdt_elem_t *e = s ? dyna_crdt_get(s, m, mlen) : NULL;
  if (!e) return 0.0;
  for (size_t i = 0; i < e->ncontrib; i++)
    if (e->contrib[i].actor == actor) return e->contrib[i].d;
  return 0.0;
}

/* Adds the pairs argv[first..] under flags; replies as ZADD (or ZINCRBY when incr_reply). */
static int zadd_pairs(dyna_obj_t *o, const dyna_targs_t *a, size_t first, const double *scores,
                      int flags, int ch, const dyna_tenv_t *env, dyna_buf_t *resp, int *changed) {
  *changed = 0;
  if (!dyna_typed_kind_ok(o, DYNA_KIND_ZSET, env, resp)) return 0;
  for (size_t i = first + 1; i < a->argc; i += 2) /* refuse before any change */
    if (a->argl[i] > DYNA_CRDT_MAX_KEY_BYTES) return dyna_typed_error(DYNA_ETOOBIG, resp);
  const dyna_crdt_t *rs = dyna_typed_read_state(o, DYNA_CRDT_ZSET, env);
  dyna_crdt_t *s = NULL;
  int64_t added = 0, updated = 0;
  int incr = flags & DYNA_CRDT_ZADD_INCR, skipped = 0;
  double last = 0.0;
  for (size_t k = 0; first + 2 * k + 1 < a->argc; k++) {
    const uint8_t *m = a->argv[first + 2 * k + 1];
    size_t ml = a->argl[first + 2 * k + 1];
    double sc = scores[k], cur = 0.0;
    const dyna_crdt_t *view = s ? s : rs;
    int exists = view && dyna_crdt_zscore(view, m, ml, &cur) == 0;
    /* Take every refusal before the first change, as dyna_crdt_zadd would. */
    if (((flags & DYNA_CRDT_ZADD_NX) && exists) || ((flags & DYNA_CRDT_ZADD_XX) && !exists)) {
      skipped = 1;
      continue;
    }
    double nw = incr ? cur + sc : sc;
    if (nw != nw || (incr && !isfinite(actor_total(view, env->actor, m, ml) + sc))) {
      dyna_resp_put_error(resp, ZERR_NAN);
      return 0; /* INCR: a single pair, nothing changed yet */
    }
    if (exists && (((flags & DYNA_CRDT_ZADD_GT) && !(nw > cur)) ||
                   ((flags & DYNA_CRDT_ZADD_LT) && !(nw < cur)))) {
      skipped = 1;
      continue;
    }
    last = nw;
    skipped = 0;
    if (exists && nw == cur) continue; /* nothing to write: the score it already has */
    if (!s) {
      int rc = dyna_obj_typed_for_write(o, DYNA_CRDT_ZSET, env->actor, env->now_ms, &s);
      if (rc) return rc;
    }
    int r = dyna_crdt_zadd(s, env->actor, m, ml, sc, flags, &last);
    if (r < 0) {
      dyna_obj_typed_done(o);
      if (r == DYNA_EINVAL) {
        dyna_resp_put_error(resp, ZERR_NAN);
        return 0;
      }
      return dyna_typed_error(r, resp);
    }
    *changed = 1;
    if (r & DYNA_CRDT_ZADDED) added++;
    if (r & DYNA_CRDT_ZCHANGED) updated++;
  }
  if (s) dyna_obj_typed_done(o);
  if (incr) {
    if (skipped) dyna_resp_put_null(resp, env->proto);
    else put_score(resp, env->proto, last);
  } else {
    dyna_resp_put_int(resp, ch ? added + updated : added);
  }
  return 0;
}

static int cmd_zadd(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env, dyna_buf_t *resp,
                    int *changed) {
  *changed = 0;
  int flags = 0, ch = 0;
  size_t j = 2;
  for (; j < a->argc; j++) {
    if (arg_is(a, j, "nx")) flags |= DYNA_CRDT_ZADD_NX;
    else if (arg_is(a, j, "xx")) flags |= DYNA_CRDT_ZADD_XX;
    else if (arg_is(a, j, "gt")) flags |= DYNA_CRDT_ZADD_GT;
    else if (arg_is(a, j, "lt")) flags |= DYNA_CRDT_ZADD_LT;
    else if (arg_is(a, j, "ch")) ch = 1;
    else if (arg_is(a, j, "incr")) flags |= DYNA_CRDT_ZADD_INCR;
    else break;
  }
  size_t elems = a->argc - j;
  if (elems == 0 || elems % 2) {
    dyna_resp_put_error(resp, DYNA_TYPED_SYNTAX);
    return 0;
  }
  if ((flags & DYNA_CRDT_ZADD_INCR) && elems > 2) {
    dyna_resp_put_error(resp, "ERR INCR option supports a single increment-element pair");
    return 0;
  }
  if ((flags & DYNA_CRDT_ZADD_NX) && (flags & DYNA_CRDT_ZADD_XX)) {
    dyna_resp_put_error(resp, "ERR XX and NX options at the same time are not compatible");
    return 0;
  }
  int gt = flags & DYNA_CRDT_ZADD_GT, lt = flags & DYNA_CRDT_ZADD_LT, nx = flags & DYNA_CRDT_ZADD_NX;
  if ((gt && nx) || (lt && nx) || (gt && lt)) {
    dyna_resp_put_error(resp, "ERR GT, LT, and/or NX options at the same time are not compatible");
    return 0;
  }
  double *scores = dyna_malloc((elems / 2) * sizeof(double));
  if (!scores) return DYNA_ENOMEM;
  for (size_t k = 0; k < elems / 2; k++)
    if (dyna_typed_parse_double(a->argv[j + 2 * k], a->argl[j + 2 * k], &scores[k])) {
      dyna_free(scores);
      dyna_resp_put_error(resp, DYNA_TYPED_NOT_FLOAT);
      return 0;
    }
  int rc = zadd_pairs(o, a, j, scores, flags, ch, env, resp, changed);
  dyna_free(scores);
  return rc;
}

/* ZINCRBY key increment member */
static int cmd_zincrby(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                       dyna_buf_t *resp, int *changed) {
  *changed = 0;
  double inc;
  if (dyna_typed_parse_double(a->argv[2], a->argl[2], &inc)) {
    dyna_resp_put_error(resp, DYNA_TYPED_NOT_FLOAT);
    return 0;
  }
  return zadd_pairs(o, a, 2, &inc, DYNA_CRDT_ZADD_INCR, 0, env, resp, changed);
}

/* ---- removals ---------------------------------------------------------------------- */

/* Removes the members named by items[0..n) (pointers into rs, which the write does
 * not change before they are copied) and deletes the key when it is left empty. */
typedef struct zname {
  const uint8_t *m;
  size_t len;
} zname_t;

static int remove_members(dyna_obj_t *o, const zname_t *names, size_t n, const dyna_tenv_t *env,
                          dyna_buf_t *resp) {
  dyna_crdt_t *s;
  int rc = dyna_obj_typed_for_write(o, DYNA_CRDT_ZSET, env->actor, env->now_ms, &s);
  if (rc) return rc;
  for (size_t i = 0; i < n && rc >= 0; i++) rc = dyna_crdt_zrem(s, env->actor, names[i].m, names[i].len);
  int emptied = rc >= 0 && dyna_crdt_count(s) == 0;
  if (emptied) rc = dyna_crdt_delete(s, env->actor, env->now_ms);
  dyna_obj_typed_done(o);
  if (emptied && rc == 0) rc = dyna_obj_drop_deadline(o, env->actor);
  return rc < 0 ? dyna_typed_error(rc, resp) : 0;
}

static int cmd_zrem(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env, dyna_buf_t *resp,
                    int *changed) {
  *changed = 0;
  if (!dyna_typed_kind_ok(o, DYNA_KIND_ZSET, env, resp)) return 0;
  const dyna_crdt_t *rs = dyna_typed_read_state(o, DYNA_CRDT_ZSET, env);
  zname_t *names = dyna_malloc((a->argc - 2) * sizeof(*names));
  if (!names) return DYNA_ENOMEM;
  size_t n = 0;
  double sc;
  for (size_t i = 2; i < a->argc; i++) {
    if (!rs || dyna_crdt_zscore(rs, a->argv[i], a->argl[i], &sc)) continue;
    int dup = 0; /* ZREM z a a removes a once */
    for (size_t k = 0; k < n && !dup; k++)
      dup = names[k].len == a->argl[i] && !memcmp(names[k].m, a->argv[i], a->argl[i]);
    if (!dup) names[n++] = (zname_t){a->argv[i], a->argl[i]};
  }
  int rc = 0;
  size_t before = resp->len;
  if (n) rc = remove_members(o, names, n, env, resp);
  dyna_free(names);
  if (rc || resp->len != before) return rc;
  *changed = n > 0;
  dyna_resp_put_int(resp, (int64_t)n);
  return 0;
}

/* Removes view[idx[0..n)] (copying the names first: the write frees the view's bytes). */
static int remove_view_items(dyna_obj_t *o, const dyna_crdt_zitem_t *view, const size_t *idx,
                             size_t n, const dyna_tenv_t *env, dyna_buf_t *resp, int *changed) {
  if (n == 0) return 0;
  size_t total = 0;
  for (size_t i = 0; i < n; i++) total += view[idx[i]].len;
  zname_t *names = dyna_malloc(n * sizeof(*names));
  uint8_t *bytes = dyna_malloc(total ? total : 1);
  if (!names || !bytes) {
    dyna_free(names);
    dyna_free(bytes);
    return DYNA_ENOMEM;
  }
  size_t off = 0;
  for (size_t i = 0; i < n; i++) {
    memcpy(bytes + off, view[idx[i]].m, view[idx[i]].len);
    names[i] = (zname_t){bytes + off, view[idx[i]].len};
    off += view[idx[i]].len;
  }
  size_t before = resp->len;
  int rc = remove_members(o, names, n, env, resp);
  dyna_free(names);
  dyna_free(bytes);
  if (rc == 0 && resp->len == before) *changed = 1;
  return rc;
}

/* ZPOPMIN / ZPOPMAX key [count]. Pops are writes; two replicas of a partition that pop
 * concurrently may pop the same member (at-least-once): the merge then removes it
 * once, it never comes back or appears twice. */
static int zpop(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env, dyna_buf_t *resp,
                int *changed, int max) {
  *changed = 0;
  int64_t count = 1;
  if (a->argc > 3) {
    dyna_resp_put_error(resp, DYNA_TYPED_SYNTAX);
    return 0;
  }
  if (a->argc == 3 && parse_count(a->argv[2], a->argl[2], &count, resp)) return 0;
  if (count == 0) {
    dyna_resp_put_array(resp, 0);
    return 0;
  }
  if (!dyna_typed_kind_ok(o, DYNA_KIND_ZSET, env, resp)) return 0;
  const dyna_crdt_t *rs = dyna_typed_read_state(o, DYNA_CRDT_ZSET, env);
  dyna_crdt_zitem_t *view = NULL; /* the members to pop, in pop order */
  size_t k = 0;
  if (rs) {
    size_t want = (uint64_t)count < DYNA_CRDT_MAX_ELEMS ? (size_t)count : DYNA_CRDT_MAX_ELEMS;
    int rc = dyna_crdt_zextremes(rs, want, max, &view, &k);
    if (rc) return rc;
  }
  size_t *idx = dyna_malloc((k ? k : 1) * sizeof(size_t));
  if (!idx) {
    dyna_free(view);
    return DYNA_ENOMEM;
  }
  /* The reply is built first (the removal frees the view's bytes) and sent only when
   * the removal succeeded. */
  dyna_buf_t out = DYNA_BUF_INIT;
  /* RESP3 (as Redis 7.0): with a count, [member, score] pairs; without, one flat pair. */
  int pairs = env->proto == DYNA_RESP3 && a->argc == 3;
  dyna_resp_put_array(&out, pairs ? k : 2 * k);
  for (size_t i = 0; i < k; i++) {
    idx[i] = i;
    if (pairs) dyna_resp_put_array(&out, 2);
    dyna_resp_put_bulk(&out, view[idx[i]].m, view[idx[i]].len);
    put_score(&out, env->proto, view[idx[i]].score);
  }
  size_t before = resp->len;
  int rc = out.oom ? DYNA_ENOMEM : remove_view_items(o, view, idx, k, env, resp, changed);
  if (rc == 0 && resp->len == before) {
    dyna_buf_put(resp, out.data, out.len);
    if (resp->oom) rc = DYNA_ENOMEM;
  }
  dyna_buf_free(&out);
  dyna_free(idx);
  dyna_free(view);
  return rc;
}

static int cmd_zpopmin(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                       dyna_buf_t *resp, int *changed) {
  return zpop(o, a, env, resp, changed, 0);
}
static int cmd_zpopmax(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                       dyna_buf_t *resp, int *changed) {
  return zpop(o, a, env, resp, changed, 1);
}

/* ZREMRANGEBYRANK key start stop / ZREMRANGEBYSCORE key min max / ZREMRANGEBYLEX key
 * min max (by: ZR_RANK, ZR_SCORE, ZR_LEX). */
static int zremrange(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env, dyna_buf_t *resp,
                     int *changed, int by) {
  *changed = 0;
  int64_t start = 0, end = 0;
  zrange_score_t r;
  zlex_bound_t lo, hi;
  if (by == ZR_SCORE) {
    if (parse_score_range(a->argv[2], a->argl[2], a->argv[3], a->argl[3], &r)) {
      dyna_resp_put_error(resp, ZERR_NOTFLOAT);
      return 0;
    }
  } else if (by == ZR_LEX) {
    if (parse_lex_bound(a->argv[2], a->argl[2], &lo) || parse_lex_bound(a->argv[3], a->argl[3], &hi)) {
      dyna_resp_put_error(resp, ZERR_NOTLEX);
      return 0;
    }
  } else if (dyna_typed_parse_i64(a->argv[2], a->argl[2], &start) ||
             dyna_typed_parse_i64(a->argv[3], a->argl[3], &end)) {
    dyna_resp_put_error(resp, DYNA_TYPED_NOT_INT);
    return 0;
  }
  if (!dyna_typed_kind_ok(o, DYNA_KIND_ZSET, env, resp)) return 0;
  const dyna_crdt_t *rs = dyna_typed_read_state(o, DYNA_CRDT_ZSET, env);
  dyna_crdt_zitem_t *view = NULL;
  size_t n = 0, k = 0, *idx = NULL;
  int rc = rs ? dyna_crdt_zview(rs, &view, &n) : 0;
  if (rc == 0 && n && !(idx = dyna_malloc(n * sizeof(size_t)))) rc = DYNA_ENOMEM;
  if (rc == 0 && n) {
    size_t s0, e0;
    if (by == ZR_SCORE) {
      for (size_t i = 0; i < n; i++)
        if (score_gte_min(view[i].score, &r) && score_lte_max(view[i].score, &r)) idx[k++] = i;
    } else if (by == ZR_LEX) {
      for (size_t i = 0; i < n; i++)
        if (lex_gte_min(&view[i], &lo) && lex_lte_max(&view[i], &hi)) idx[k++] = i;
    } else if (clamp_ranks(start, end, n, &s0, &e0)) {
      for (size_t i = s0; i <= e0; i++) idx[k++] = i;
    }
  }
  size_t before = resp->len;
  if (rc == 0) rc = remove_view_items(o, view, idx, k, env, resp, changed);
  if (rc == 0 && resp->len == before) dyna_resp_put_int(resp, (int64_t)k);
  dyna_free(idx);
  dyna_free(view);
  return rc;
}

static int cmd_zremrangebyrank(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                               dyna_buf_t *resp, int *changed) {
  return zremrange(o, a, env, resp, changed, ZR_RANK);
}
static int cmd_zremrangebyscore(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                                dyna_buf_t *resp, int *changed) {
  return zremrange(o, a, env, resp, changed, ZR_SCORE);
}
static int cmd_zremrangebylex(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                              dyna_buf_t *resp, int *changed) {
  return zremrange(o, a, env, resp, changed, ZR_LEX);
}

/* ---- reads ----------------------------------------------------------------------- */

/* The zset to read (NULL: absent or expired), or NULL with WRONGTYPE appended and
 * *bad set. */
static const dyna_crdt_t *zread(const dyna_obj_t *o, const dyna_tenv_t *env, dyna_buf_t *resp,
                                int *bad) {
  *bad = !dyna_typed_kind_ok(o, DYNA_KIND_ZSET, env, resp);
  return *bad ? NULL : dyna_typed_read_state(o, DYNA_CRDT_ZSET, env);
}

static int cmd_zscore(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                      dyna_buf_t *resp) {
  int bad;
  const dyna_crdt_t *s = zread(o, env, resp, &bad);
  double d;
  if (bad) return 0;
  if (s && dyna_crdt_zscore(s, a->argv[2], a->argl[2], &d) == 0) put_score(resp, env->proto, d);
  else dyna_resp_put_null(resp, env->proto);
  return 0;
}

static int cmd_zmscore(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                       dyna_buf_t *resp) {
  int bad;
  const dyna_crdt_t *s = zread(o, env, resp, &bad);
  if (bad) return 0;
  dyna_resp_put_array(resp, a->argc - 2);
  for (size_t i = 2; i < a->argc; i++) {
    double d;
    if (s && dyna_crdt_zscore(s, a->argv[i], a->argl[i], &d) == 0) put_score(resp, env->proto, d);
    else dyna_resp_put_null(resp, env->proto);
  }
  return 0;
}

static int cmd_zcard(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                     dyna_buf_t *resp) {
  (void)a;
  int bad;
  const dyna_crdt_t *s = zread(o, env, resp, &bad);
  if (!bad) dyna_resp_put_int(resp, s ? (int64_t)dyna_crdt_count(s) : 0);
  return 0;
}

/* ZCOUNT key min max / ZLEXCOUNT key min max */
static int zcount(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                  dyna_buf_t *resp, int lex) {
  zrange_score_t r;
  zlex_bound_t lo, hi;
  if (lex ? parse_lex_bound(a->argv[2], a->argl[2], &lo) || parse_lex_bound(a->argv[3], a->argl[3], &hi)
          : parse_score_range(a->argv[2], a->argl[2], a->argv[3], a->argl[3], &r)) {
    dyna_resp_put_error(resp, lex ? ZERR_NOTLEX : ZERR_NOTFLOAT);
    return 0;
  }
  int bad;
  const dyna_crdt_t *s = zread(o, env, resp, &bad);
  if (bad) return 0;
  int64_t c = 0;
  size_t cur = 0;
  const dyna_crdt_elem_t *e;
  while (s && (e = dyna_crdt_next(s, &cur)) != NULL) {
    dyna_crdt_zitem_t it = {e->key, e->klen, 0.0};
    if (lex) {
      c += lex_gte_min(&it, &lo) && lex_lte_max(&it, &hi);
    } else {
      (void)dyna_crdt_zscore(s, e->key, e->klen, &it.score);
      c += score_gte_min(it.score, &r) && score_lte_max(it.score, &r);
    }
  }
  dyna_resp_put_int(resp, c);
  return 0;
}

static int cmd_zcount(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                      dyna_buf_t *resp) {
  return zcount(o, a, env, resp, 0);
}
static int cmd_zlexcount(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                         dyna_buf_t *resp) {
  return zcount(o, a, env, resp, 1);
}

static int zrank(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                 dyna_buf_t *resp, int rev) {
  int bad;
  const dyna_crdt_t *s = zread(o, env, resp, &bad);
  size_t r;
  if (bad) return 0;
  if (s && dyna_crdt_zrank(s, a->argv[2], a->argl[2], &r) == 0)
    dyna_resp_put_int(resp, (int64_t)(rev ? dyna_crdt_count(s) - 1 - r : r));
  else dyna_resp_put_null(resp, env->proto);
  return 0;
}

static int cmd_zrank(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                     dyna_buf_t *resp) {
  return zrank(o, a, env, resp, 0);
}
static int cmd_zrevrank(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                        dyna_buf_t *resp) {
  return zrank(o, a, env, resp, 1);
}


/* A parsed range query of zrangeGenericCommand (Redis 7.0). */
typedef struct zrange_q {
  int type, dir, withscores;
  int64_t offset, limit, start, end;
  zrange_score_t sr;
  zlex_bound_t lo, hi;
} zrange_q_t;

/* Parses a range query whose source key is argument `key` (1: ZRANGE and its fixed
 * forms; 2: ZRANGESTORE, which has no WITHSCORES): min and max follow it, then the
 * options. type and dir are fixed by the command or ZR_AUTO/ZD_AUTO (ZRANGE's options
 * choose). Returns 0, or -1 with Redis's error appended (checked in Redis's order, all
 * before the key is looked at). */
static int zrange_parse(const dyna_targs_t *a, size_t key, int store, int type, int dir,
                        zrange_q_t *q, dyna_buf_t *resp) {
  memset(q, 0, sizeof(*q));
  q->limit = -1;
  for (size_t j = key + 3; j < a->argc; j++) {
    size_t left = a->argc - j - 1;
    if (!store && arg_is(a, j, "withscores")) q->withscores = 1;
    else if (arg_is(a, j, "limit") && left >= 2) {
      if (dyna_typed_parse_i64(a->argv[j + 1], a->argl[j + 1], &q->offset) ||
          dyna_typed_parse_i64(a->argv[j + 2], a->argl[j + 2], &q->limit)) {
        dyna_resp_put_error(resp, DYNA_TYPED_NOT_INT);
        return -1;
      }
      j += 2;
    } else if (dir == ZD_AUTO && arg_is(a, j, "rev")) dir = ZD_REV;
    else if (type == ZR_AUTO && arg_is(a, j, "bylex")) type = ZR_LEX;
    else if (type == ZR_AUTO && arg_is(a, j, "byscore")) type = ZR_SCORE;
    else {
      dyna_resp_put_error(resp, DYNA_TYPED_SYNTAX);
      return -1;
    }
  }
  if (dir == ZD_AUTO) dir = ZD_FWD;
  if (type == ZR_AUTO) type = ZR_RANK;
  q->type = type;
  q->dir = dir;
  if (q->limit != -1 && type == ZR_RANK) {
    dyna_resp_put_error(resp, "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
    return -1;
  }
  if (q->withscores && type == ZR_LEX) {
    dyna_resp_put_error(resp, "ERR syntax error, WITHSCORES not supported in combination with BYLEX");
    return -1;
  }
  size_t mi = key + 1, ma = key + 2;
  if (dir == ZD_REV && type != ZR_RANK) mi = key + 2, ma = key + 1; /* given as max min */
  if (type == ZR_RANK) {
    if (dyna_typed_parse_i64(a->argv[key + 1], a->argl[key + 1], &q->start) ||
        dyna_typed_parse_i64(a->argv[key + 2], a->argl[key + 2], &q->end)) {
      dyna_resp_put_error(resp, DYNA_TYPED_NOT_INT);
      return -1;
    }
  } else if (type == ZR_SCORE) {
    if (parse_score_range(a->argv[mi], a->argl[mi], a->argv[ma], a->argl[ma], &q->sr)) {
      dyna_resp_put_error(resp, ZERR_NOTFLOAT);
      return -1;
    }
  } else if (parse_lex_bound(a->argv[mi], a->argl[mi], &q->lo) ||
             parse_lex_bound(a->argv[ma], a->argl[ma], &q->hi)) {
    dyna_resp_put_error(resp, ZERR_NOTLEX);
    return -1;
  }
  return 0;
}

/* The members q selects from s (may be NULL: none), in reply order: *view (the sorted
 * view) and *pick (indexes into it), both allocated here (dyna_free; NULL when
 * empty), *k picked. 0 or DYNA_ENOMEM. O(n log n). */
static int zrange_select(const dyna_crdt_t *s, const zrange_q_t *q, dyna_crdt_zitem_t **view,
                         size_t **pick, size_t *k) {
  *view = NULL;
  *pick = NULL;
  *k = 0;
  size_t n = 0;
  if (s) {
    int rc = dyna_crdt_zview(s, view, &n);
    if (rc) return rc;
  }
  if (!n) return 0;
  size_t *p = dyna_malloc(n * sizeof(size_t));
  if (!p) {
    dyna_free(*view);
    *view = NULL;
    return DYNA_ENOMEM;
  }
  size_t c = 0;
  int rev = q->dir == ZD_REV;
  if (q->type == ZR_RANK) {
    size_t s0, e0;
    if (clamp_ranks(q->start, q->end, n, &s0, &e0))
      for (size_t i = s0; i <= e0; i++) p[c++] = rev ? n - 1 - i : i;
  } else if (q->offset >= 0) {
    int64_t skip = q->offset, take = q->limit;
    for (size_t i = 0; i < n && take != 0; i++) {
      const dyna_crdt_zitem_t *it = &(*view)[rev ? n - 1 - i : i];
      int in = q->type == ZR_SCORE ? score_gte_min(it->score, &q->sr) && score_lte_max(it->score, &q->sr)
                                   : lex_gte_min(it, &q->lo) && lex_lte_max(it, &q->hi);
      if (!in) continue;
      if (skip > 0) {
        skip--;
        continue;
      }
      p[c++] = rev ? n - 1 - i : i;
      if (take > 0) take--;
    }
  }
  *pick = p;
  *k = c;
  return 0;
}

/* Redis 7.0's zrangeGenericCommand: ZRANGE (type and direction from the options) and
 * the fixed ZREVRANGE / ZRANGEBYSCORE / ZREVRANGEBYSCORE / ZRANGEBYLEX / ZREVRANGEBYLEX. */
static int zrange_generic(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                          dyna_buf_t *resp, int type, int dir) {
  zrange_q_t q;
  if (zrange_parse(a, 1, 0, type, dir, &q, resp)) return 0;
  int bad;
  const dyna_crdt_t *s = zread(o, env, resp, &bad);
  if (bad) return 0;
  dyna_crdt_zitem_t *view;
  size_t *pick, k;
  int rc = zrange_select(s, &q, &view, &pick, &k);
  if (rc) return rc;
  /* WITHSCORES: RESP3 answers [member, score] pairs, RESP2 one flat array. */
  int pairs = q.withscores && env->proto == DYNA_RESP3;
  dyna_resp_put_array(resp, q.withscores && !pairs ? 2 * k : k);
  for (size_t i = 0; i < k; i++) {
    if (pairs) dyna_resp_put_array(resp, 2);
    dyna_resp_put_bulk(resp, view[pick[i]].m, view[pick[i]].len);
    if (q.withscores) put_score(resp, env->proto, view[pick[i]].score);
  }
  dyna_free(pick);
  dyna_free(view);
  return 0;
}

static int cmd_zrange(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                      dyna_buf_t *resp) {
  return zrange_generic(o, a, env, resp, ZR_AUTO, ZD_AUTO);
}
static int cmd_zrevrange(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                         dyna_buf_t *resp) {
  return zrange_generic(o, a, env, resp, ZR_RANK, ZD_REV);
}
static int cmd_zrangebyscore(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                             dyna_buf_t *resp) {
  return zrange_generic(o, a, env, resp, ZR_SCORE, ZD_FWD);
}
static int cmd_zrevrangebyscore(const dyna_obj_t *o, const dyna_targs_t *a,
                                const dyna_tenv_t *env, dyna_buf_t *resp) {
  return zrange_generic(o, a, env, resp, ZR_SCORE, ZD_REV);
}
static int cmd_zrangebylex(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                           dyna_buf_t *resp) {
  return zrange_generic(o, a, env, resp, ZR_LEX, ZD_FWD);
}
static int cmd_zrevrangebylex(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                              dyna_buf_t *resp) {
  return zrange_generic(o, a, env, resp, ZR_LEX, ZD_REV);
}

#define ZERR_RANGE_LL                                                                      \
  "ERR value is out of range, value must between -9223372036854775807 and "                \
  "9223372036854775807"

/* ZRANDMEMBER key [count [WITHSCORES]]: Redis 7.0's checks (the count and the syntax
 * before the key's type); no count: one member or nil; count > 0: distinct members
 * (at most the zset's size); count < 0: |count| draws with repetition. The draws come
 * from env->rand; no sorted view is built (O(n) to list the live members). */
static int cmd_zrandmember(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                           dyna_buf_t *resp) {
  int64_t count = 1;
  int withscores = 0;
  if (a->argc >= 3) {
    if (dyna_typed_parse_i64(a->argv[2], a->argl[2], &count)) {
      dyna_resp_put_error(resp, DYNA_TYPED_NOT_INT);
      return 0;
    }
    if (count == INT64_MIN) {
      dyna_resp_put_error(resp, ZERR_RANGE_LL);
      return 0;
    }
    if (a->argc > 4 || (a->argc == 4 && !arg_is(a, 3, "withscores"))) {
      dyna_resp_put_error(resp, DYNA_TYPED_SYNTAX);
      return 0;
    }
    withscores = a->argc == 4;
    if (withscores && (count < -INT64_MAX / 2 || count > INT64_MAX / 2)) {
      dyna_resp_put_error(resp, "ERR value is out of range");
      return 0;
    }
  }
  int bad;
  const dyna_crdt_t *s = zread(o, env, resp, &bad);
  if (bad) return 0;
  size_t n = s ? dyna_crdt_count(s) : 0;
  const dyna_crdt_elem_t **m = n ? dyna_malloc(n * sizeof(*m)) : NULL;
  if (n && !m) return DYNA_ENOMEM;
  size_t cur = 0, got = 0;
  const dyna_crdt_elem_t *e;
  while (got < n && (e = dyna_crdt_next(s, &cur)) != NULL) m[got++] = e;
  n = got;
  uint64_t rng = env->rand;
  if (a->argc == 2) {
    if (!n) dyna_resp_put_null(resp, env->proto);
    else {
      e = m[dyna_typed_next_rand(&rng) % n];
      dyna_resp_put_bulk(resp, e->key, e->klen);
    }
    dyna_free(m);
    return 0;
  }
  size_t k;
  if (!n || count == 0) k = 0;
  else if (count < 0) k = (size_t)(uint64_t)(-count);
  else k = (uint64_t)count < n ? (size_t)count : n;
  int pairs = withscores && env->proto == DYNA_RESP3; /* RESP3: [member, score] pairs */
  size_t start = resp->len;
  dyna_resp_put_array(resp, withscores && !pairs ? 2 * k : k);
  for (size_t i = 0; i < k && !resp->oom && !dyna_typed_reply_over(resp, start); i++) {
    size_t j;
    if (count < 0) {
      j = (size_t)(dyna_typed_next_rand(&rng) % n);
    } else { /* a partial Fisher-Yates over m: distinct members */
      j = i + (size_t)(dyna_typed_next_rand(&rng) % (n - i));
      e = m[i];
      m[i] = m[j];
      m[j] = e;
      j = i;
    }
    if (pairs) dyna_resp_put_array(resp, 2);
    dyna_resp_put_bulk(resp, m[j]->key, m[j]->klen);
    if (withscores) {
      double d = 0.0;
      (void)dyna_crdt_zscore(s, m[j]->key, m[j]->klen, &d);
      put_score(resp, env->proto, d);
    }
  }
  dyna_free(m);
  return resp->oom ? DYNA_ENOMEM : 0;
}

/* ---- ZRANGESTORE (typed_zset.h) ------------------------------------------------- */

/* dst := exactly the members names[i] with scores sc[i] (i < k; names borrowed, may
 * point into dst's own state: copied first). Any kind and expiry dst had is superseded
 * as far as its coordinator observed it; an empty result deletes dst. Appends the
 * number of distinct members stored. */
static int zstore_result(dyna_obj_t *dst, const zname_t *names, const double *sc, size_t k,
                         const dyna_tenv_t *env, dyna_buf_t *resp, int *changed) {
  *changed = 0;
  if (k == 0 && dyna_obj_kind(dst, env->now_ms) == DYNA_KIND_NONE) {
    dyna_resp_put_int(resp, 0);
    return 0;
  }
  if (k > DYNA_CRDT_MAX_ELEMS) return dyna_typed_error(DYNA_ETOOBIG, resp);
  size_t total = 0;
  for (size_t i = 0; i < k; i++) {
    if (names[i].len > DYNA_CRDT_MAX_KEY_BYTES) return dyna_typed_error(DYNA_ETOOBIG, resp);
    total += names[i].len;
  }
  uint8_t *bytes = dyna_malloc(total ? total : 1);
  zname_t *r = dyna_malloc((k ? k : 1) * sizeof(*r));
  if (!bytes || !r) {
    dyna_free(bytes);
    dyna_free(r);
    return DYNA_ENOMEM;
  }
  for (size_t i = 0, off = 0; i < k; off += names[i].len, i++) {
    memcpy(bytes + off, names[i].m, names[i].len);
    r[i] = (zname_t){bytes + off, names[i].len};
  }
  dyna_crdt_t *s;
  int rc = dyna_obj_typed_for_write(dst, DYNA_CRDT_ZSET, env->actor, env->now_ms, &s);
  int64_t stored = 0;
  if (rc == 0) {
    /* Remove every member observed, last first (a removal moves no element before it). */
    for (size_t i = s->n; rc >= 0 && i-- > 0;)
      rc = dyna_crdt_zrem(s, env->actor, s->e[i]->key, s->e[i]->klen);
    if (rc >= 0 && k == 0) rc = dyna_crdt_delete(s, env->actor, env->now_ms);
    for (size_t i = 0; i < k && rc >= 0; i++) {
      double out;
      rc = dyna_crdt_zadd(s, env->actor, r[i].m, r[i].len, sc[i], 0, &out);
      if (rc >= 0) stored += (rc & DYNA_CRDT_ZADDED) != 0;
    }
    rc = rc > 0 ? 0 : rc;
    dyna_obj_typed_done(dst);
  }
  if (rc == 0) rc = dyna_obj_drop_deadline(dst, env->actor);
  dyna_free(bytes);
  dyna_free(r);
  if (rc) return rc == DYNA_ENOMEM ? rc : dyna_typed_error(rc, resp); /* dst not to be stored */
  *changed = 1;
  dyna_resp_put_int(resp, stored);
  return 0;
}

/* dyna.zstore dst score member ...: the write half of the runtime's ZRANGESTORE
 * (typed_zset.h); clients cannot call it (no row in the runtime's table). */
static int cmd_zstore(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                      dyna_buf_t *resp, int *changed) {
  *changed = 0;
  if ((a->argc - 2) % 2) {
    dyna_resp_put_error(resp, DYNA_TYPED_SYNTAX);
    return 0;
  }
  size_t k = (a->argc - 2) / 2;
  zname_t *names = dyna_malloc((k ? k : 1) * sizeof(*names));
  double *sc = dyna_malloc((k ? k : 1) * sizeof(*sc));
  int rc = names && sc ? 0 : DYNA_ENOMEM;
  for (size_t i = 0; rc == 0 && i < k; i++) {
    if (dyna_typed_parse_double(a->argv[2 + 2 * i], a->argl[2 + 2 * i], &sc[i])) {
      dyna_resp_put_error(resp, DYNA_TYPED_NOT_FLOAT);
      rc = 1;
    }
    names[i] = (zname_t){a->argv[3 + 2 * i], a->argl[3 + 2 * i]};
  }
  if (rc == 0) rc = zstore_result(o, names, sc, k, env, resp, changed);
  dyna_free(names);
  dyna_free(sc);
  return rc == 1 ? 0 : rc;
}

/* The range ZRANGESTORE a (argv: zrangestore dst src min max [options]) selects from
 * src: 0 and *view, *pick, *k (zrange_select), or 1 with the error appended (syntax, or
 * WRONGTYPE of src), or DYNA_ENOMEM. */
static int zrangestore_select(const dyna_obj_t *src, const dyna_targs_t *a, const dyna_tenv_t *env,
                              dyna_buf_t *resp, dyna_crdt_zitem_t **view, size_t **pick, size_t *k) {
  zrange_q_t q;
  if (zrange_parse(a, 2, 1, ZR_AUTO, ZD_AUTO, &q, resp)) return 1;
  int bad;
  const dyna_crdt_t *s = zread(src, env, resp, &bad);
  if (bad) return 1;
  return zrange_select(s, &q, view, pick, k);
}

int dyna_typed_zrangestore(dyna_obj_t *dst, const dyna_obj_t *src, const dyna_targs_t *a,
                           const dyna_tenv_t *env, dyna_buf_t *resp, int *changed) {
  *changed = 0;
  dyna_crdt_zitem_t *view;
  size_t *pick, k;
  int rc = zrangestore_select(src, a, env, resp, &view, &pick, &k);
  if (rc) return rc == 1 ? 0 : rc;
  zname_t *names = dyna_malloc((k ? k : 1) * sizeof(*names));
  double *sc = dyna_malloc((k ? k : 1) * sizeof(*sc));
  if (!names || !sc) rc = DYNA_ENOMEM;
  for (size_t i = 0; !rc && i < k; i++) {
    names[i] = (zname_t){view[pick[i]].m, view[pick[i]].len};
    sc[i] = view[pick[i]].score;
  }
  if (!rc) rc = zstore_result(dst, names, sc, k, env, resp, changed);
  dyna_free(names);
  dyna_free(sc);
  dyna_free(pick);
  dyna_free(view);
  return rc;
}

int dyna_typed_zrange_members(const dyna_obj_t *src, const dyna_targs_t *a, const dyna_tenv_t *env,
                              dyna_buf_t *resp, size_t reserve, const uint8_t ***argv,
                              size_t **argl, size_t *k, char **text) {
  *argv = NULL;
  *argl = NULL;
  *text = NULL;
  *k = 0;
  dyna_crdt_zitem_t *view;
  size_t *pick, m;
  int rc = zrangestore_select(src, a, env, resp, &view, &pick, &m);
  if (rc) return rc == 1 ? 0 : rc;
  const uint8_t **v = dyna_malloc((reserve + 2 * m) * sizeof(*v));
  size_t *l = dyna_malloc((reserve + 2 * m) * sizeof(*l));
  char *t = dyna_malloc(m ? 32 * m : 1);
  if (!v || !l || !t) {
    dyna_free(v);
    dyna_free(l);
    dyna_free(t);
    dyna_free(pick);
    dyna_free(view);
    return DYNA_ENOMEM;
  }
  for (size_t i = 0; i < m; i++) {
    const dyna_crdt_zitem_t *it = &view[pick[i]];
    v[reserve + 2 * i] = (const uint8_t *)(t + 32 * i);
    l[reserve + 2 * i] = dyna_typed_fmt_double(it->score, t + 32 * i); /* "%.17g": exact */
    v[reserve + 2 * i + 1] = it->m;
    l[reserve + 2 * i + 1] = it->len;
  }
  dyna_free(pick);
  dyna_free(view);
  *argv = v;
  *argl = l;
  *text = t;
  *k = m;
  return 0;
}

const dyna_typed_cmd_t dyna_typed_zset_cmds[] = {
    {"zadd", cmd_zadd, NULL, -4},
    {"zincrby", cmd_zincrby, NULL, 4},
    {"zrem", cmd_zrem, NULL, -3},
    {"zpopmin", cmd_zpopmin, NULL, -2},
    {"zpopmax", cmd_zpopmax, NULL, -2},
    {"zremrangebyrank", cmd_zremrangebyrank, NULL, 4},
    {"zremrangebyscore", cmd_zremrangebyscore, NULL, 4},
    {"zremrangebylex", cmd_zremrangebylex, NULL, 4},
    {"dyna.zstore", cmd_zstore, NULL, -2}, /* internal: the runtime's ZRANGESTORE (typed_zset.h) */
    {"zscore", NULL, cmd_zscore, 3},
    {"zmscore", NULL, cmd_zmscore, -3},
    {"zcard", NULL, cmd_zcard, 2},
    {"zcount", NULL, cmd_zcount, 4},
    {"zlexcount", NULL, cmd_zlexcount, 4},
    {"zrank", NULL, cmd_zrank, 3},
    {"zrevrank", NULL, cmd_zrevrank, 3},
    {"zrange", NULL, cmd_zrange, -4},
    {"zrevrange", NULL, cmd_zrevrange, -4},
    {"zrangebyscore", NULL, cmd_zrangebyscore, -4},
    {"zrevrangebyscore", NULL, cmd_zrevrangebyscore, -4},
    {"zrangebylex", NULL, cmd_zrangebylex, -4},
    {"zrevrangebylex", NULL, cmd_zrevrangebylex, -4},
    {"zrandmember", NULL, cmd_zrandmember, -2},
    {0},
};
