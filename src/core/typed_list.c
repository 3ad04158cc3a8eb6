/* typed_list.c: the list commands over an object (typed.h, typed_list.h), each a thin
 * handler over core/crdt_ops.h's list API, with Redis 7.0's replies and errors.
 *
 * Merges (crdt_list.c): elements have unique ids, so concurrent LPUSH / RPUSH on two
 * replicas both survive, in one order on every replica, and no element ever appears
 * twice. Pops (LPOP, RPOP, LMOVE) are writes and at-least-once across a partition:
 * two replicas that pop concurrently may both pop the same element (each client gets
 * it); after the merge it is gone once, never duplicated nor resurrected.
 * A write that would change nothing (LPUSHX of an absent key, LREM without a match,
 * LTRIM keeping everything) leaves the object exactly as it was (*changed = 0): the
 * decisions are taken on the state as read, before dyna_obj_typed_for_write. A list
 * emptied by a write is deleted (dyna_crdt_delete), TTL and all, as Redis does.
 * Indexing builds the list's view: O(n) per command. */
#include "core/typed_list.h"
#include "core/crdt_ops.h"
#include "proto/resp.h"
#include "util/alloc.h"
#include "util/err.h"
#include <string.h>
#include <strings.h>

static int arg_is(const dyna_targs_t *a, size_t i, const char *w) {
  return strlen(w) == a->argl[i] && !strncasecmp((const char *)a->argv[i], w, a->argl[i]);
}

/* Redis's getPositiveLongFromObjectOrReply: 0, or -1 with msg (any failure) appended. */
static int parse_nonneg(const uint8_t *p, size_t n, int64_t *out, const char *msg,
                        dyna_buf_t *resp) {
  if (dyna_typed_parse_i64(p, n, out) != 0 || *out < 0) {
    dyna_resp_put_error(resp, msg);
    return -1;
  }
  return 0;
}

static int parse_int(const dyna_targs_t *a, size_t i, int64_t *out, dyna_buf_t *resp) {
  if (dyna_typed_parse_i64(a->argv[i], a->argl[i], out) == 0) return 0;
  dyna_resp_put_error(resp, DYNA_TYPED_NOT_INT);
  return -1;
}

/* The list as read (NULL: absent or expired); *bad when WRONGTYPE was appended. */
static const dyna_crdt_t *lread(const dyna_obj_t *o, const dyna_tenv_t *env, dyna_buf_t *resp,
                                int *bad) {
  *bad = !dyna_typed_kind_ok(o, DYNA_KIND_LIST, env, resp);
  return *bad ? NULL : dyna_typed_read_state(o, DYNA_CRDT_LIST, env);
}

/* Redis's index resolution: a negative index counts from the end. 1 when in range. */
static int resolve_index(int64_t idx, size_t n, size_t *out) {
  if (idx < 0) idx += (int64_t)n;
  if (idx < 0 || idx >= (int64_t)n) return 0;
  *out = (size_t)idx;
  return 1;
}

/* Redis's range clamp (LRANGE, LTRIM): [*s, *e] within n, or 0 when empty. */
static int clamp_range(int64_t start, int64_t end, size_t n, size_t *s, size_t *e) {
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

/* Removes the elements at idx[0..k) (ascending) of o's list, deleting the key when it
 * is left empty. The indexes are those of the state as read (for_write does not
 * change a live key's list). */
static int remove_indexes(dyna_obj_t *o, const size_t *idx, size_t k, const dyna_tenv_t *env,
                          dyna_buf_t *resp) {
  dyna_crdt_t *s;
  int rc = dyna_obj_typed_for_write(o, DYNA_CRDT_LIST, env->actor, env->now_ms, &s);
  if (rc) return rc;
  dyna_crdt_lremove(s, idx, k);
  int emptied = dyna_crdt_count(s) == 0;
  if (emptied) rc = dyna_crdt_delete(s, env->actor, env->now_ms);
  dyna_obj_typed_done(o);
  if (emptied && rc == 0) rc = dyna_obj_drop_deadline(o, env->actor);
  return dyna_typed_error(rc, resp);
}

/* ---- pushes ---------------------------------------------------------------------- */

static int push(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env, dyna_buf_t *resp,
                int *changed, int right, int only_existing) {
  *changed = 0;
  int bad;
  const dyna_crdt_t *rs = lread(o, env, resp, &bad);
  if (bad) return 0;
  if (only_existing && !rs) {
    dyna_resp_put_int(resp, 0);
    return 0;
  }
  for (size_t i = 2; i < a->argc; i++)
    if (a->argl[i] > DYNA_CRDT_MAX_VAL_BYTES) return dyna_typed_error(DYNA_ETOOBIG, resp);
  dyna_crdt_t *s;
  int rc = dyna_obj_typed_for_write(o, DYNA_CRDT_LIST, env->actor, env->now_ms, &s);
  if (rc) return rc;
  for (size_t i = 2; i < a->argc && rc == 0; i++)
    rc = dyna_crdt_lpush(s, env->actor, right, a->argv[i], a->argl[i]);
  size_t n = dyna_crdt_count(s);
  dyna_obj_typed_done(o);
  *changed = 1;
  if (rc) return dyna_typed_error(rc, resp);
  dyna_resp_put_int(resp, (int64_t)n);
  return 0;
}

static int cmd_lpush(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                     dyna_buf_t *resp, int *changed) {
  return push(o, a, env, resp, changed, 0, 0);
}
static int cmd_rpush(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                     dyna_buf_t *resp, int *changed) {
  return push(o, a, env, resp, changed, 1, 0);
}
static int cmd_lpushx(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                      dyna_buf_t *resp, int *changed) {
  return push(o, a, env, resp, changed, 0, 1);
}
static int cmd_rpushx(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                      dyna_buf_t *resp, int *changed) {
  return push(o, a, env, resp, changed, 1, 1);
}

/* ---- pops ------------------------------------------------------------------------ */

/* LPOP / RPOP key [count] (at-least-once: see the top of the file). */
static int pop(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env, dyna_buf_t *resp,
               int *changed, int right) {
  *changed = 0;
  int64_t count = 1;
  int hascount = a->argc >= 3;
  if (a->argc > 3) { /* Redis's arity is -2, checked here */
    dyna_resp_put_error(resp, right ? "ERR wrong number of arguments for 'rpop' command"
                                    : "ERR wrong number of arguments for 'lpop' command");
    return 0;
  }
  if (hascount &&
      parse_nonneg(a->argv[2], a->argl[2], &count, "ERR value is out of range, must be positive", resp))
    return 0;
  int bad;
  const dyna_crdt_t *rs = lread(o, env, resp, &bad);
  if (bad) return 0;
  if (!rs) {
    if (hascount) dyna_resp_put_null_array(resp, env->proto); /* RESP2: *-1 */
    else dyna_resp_put_null(resp, env->proto);
    return 0;
  }
  if (hascount && count == 0) {
    dyna_resp_put_array(resp, 0);
    return 0;
  }
  dyna_crdt_litem_t *view;
  size_t n, k;
  int rc = dyna_crdt_lview(rs, &view, &n);
  if (rc) return rc;
  k = (uint64_t)count < n ? (size_t)count : n;
  size_t *idx = dyna_malloc(k * sizeof(size_t));
  if (!idx) {
    dyna_free(view);
    return DYNA_ENOMEM;
  }
  /* The reply first (the removal frees the view's bytes), sent once it succeeded. */
  dyna_buf_t out = DYNA_BUF_INIT;
  if (hascount) dyna_resp_put_array(&out, k);
  for (size_t i = 0; i < k; i++) {
    size_t at = right ? n - 1 - i : i;
    dyna_resp_put_bulk(&out, view[at].v->data, view[at].v->len);
    idx[right ? k - 1 - i : i] = at; /* ascending */
  }
  dyna_free(view);
  size_t before = resp->len;
  rc = out.oom ? DYNA_ENOMEM : remove_indexes(o, idx, k, env, resp);
  dyna_free(idx);
  if (rc == 0 && resp->len == before) {
    *changed = 1;
    dyna_buf_put(resp, out.data, out.len);
  }
  dyna_buf_free(&out);
  return rc;
}

static int cmd_lpop(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env, dyna_buf_t *resp,
                    int *changed) {
  return pop(o, a, env, resp, changed, 0);
}
static int cmd_rpop(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env, dyna_buf_t *resp,
                    int *changed) {
  return pop(o, a, env, resp, changed, 1);
}

/* ---- other writes ---------------------------------------------------------------- */

/* LSET key index element */
static int cmd_lset(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env, dyna_buf_t *resp,
                    int *changed) {
  *changed = 0;
  int bad;
  int64_t index;
  size_t at;
  const dyna_crdt_t *rs = lread(o, env, resp, &bad);
  if (bad) return 0;
  if (!rs) {
    dyna_resp_put_error(resp, "ERR no such key");
    return 0;
  }
  if (parse_int(a, 2, &index, resp)) return 0;
  if (!resolve_index(index, dyna_crdt_count(rs), &at)) {
    dyna_resp_put_error(resp, "ERR index out of range");
    return 0;
  }
  if (a->argl[3] > DYNA_CRDT_MAX_VAL_BYTES) return dyna_typed_error(DYNA_ETOOBIG, resp);
  dyna_crdt_t *s;
  int rc = dyna_obj_typed_for_write(o, DYNA_CRDT_LIST, env->actor, env->now_ms, &s);
  if (rc) return rc;
  rc = dyna_crdt_lset(s, env->actor, at, a->argv[3], a->argl[3]);
  dyna_obj_typed_done(o);
  *changed = 1;
  if (rc) return dyna_typed_error(rc, resp);
  dyna_resp_put_simple(resp, "OK");
  return 0;
}

/* LREM key count element */
static int cmd_lrem(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env, dyna_buf_t *resp,
                    int *changed) {
  *changed = 0;
  int64_t count;
  if (parse_int(a, 2, &count, resp)) return 0;
  int bad;
  const dyna_crdt_t *rs = lread(o, env, resp, &bad);
  if (bad) return 0;
  dyna_crdt_litem_t *view = NULL;
  size_t n = 0, k = 0, *idx = NULL;
  int rc = rs ? dyna_crdt_lview(rs, &view, &n) : 0;
  if (rc == 0 && n && !(idx = dyna_malloc(n * sizeof(size_t)))) rc = DYNA_ENOMEM;
  if (rc) {
    dyna_free(view);
    return rc;
  }
  uint64_t limit = count == 0 ? UINT64_MAX : count > 0 ? (uint64_t)count : 0 - (uint64_t)count;
  for (size_t i = 0; i < n && k < limit; i++) {
    size_t at = count < 0 ? n - 1 - i : i;
    if (view[at].v->len == a->argl[3] && !memcmp(view[at].v->data, a->argv[3], a->argl[3]))
      idx[k++] = at;
  }
  dyna_free(view);
  if (count < 0) /* collected from the tail: make them ascending */
    for (size_t i = 0; i < k / 2; i++) {
      size_t t = idx[i];
      idx[i] = idx[k - 1 - i];
      idx[k - 1 - i] = t;
    }
  size_t before = resp->len;
  if (k) rc = remove_indexes(o, idx, k, env, resp);
  dyna_free(idx);
  if (rc || resp->len != before) return rc;
  *changed = k > 0;
  dyna_resp_put_int(resp, (int64_t)k);
  return 0;
}

/* LINSERT key BEFORE|AFTER pivot element */
static int cmd_linsert(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                       dyna_buf_t *resp, int *changed) {
  *changed = 0;
  int after;
  if (arg_is(a, 2, "after")) after = 1;
  else if (arg_is(a, 2, "before")) after = 0;
  else {
    dyna_resp_put_error(resp, DYNA_TYPED_SYNTAX);
    return 0;
  }
  int bad;
  const dyna_crdt_t *rs = lread(o, env, resp, &bad);
  if (bad) return 0;
  if (!rs) {
    dyna_resp_put_int(resp, 0);
    return 0;
  }
  dyna_crdt_litem_t *view;
  size_t n, at = SIZE_MAX;
  int rc = dyna_crdt_lview(rs, &view, &n);
  if (rc) return rc;
  for (size_t i = 0; i < n && at == SIZE_MAX; i++)
    if (view[i].v->len == a->argl[3] && !memcmp(view[i].v->data, a->argv[3], a->argl[3])) at = i;
  dyna_free(view);
  if (at == SIZE_MAX) {
    dyna_resp_put_int(resp, -1);
    return 0;
  }
  if (a->argl[4] > DYNA_CRDT_MAX_VAL_BYTES) return dyna_typed_error(DYNA_ETOOBIG, resp);
  dyna_crdt_t *s;
  rc = dyna_obj_typed_for_write(o, DYNA_CRDT_LIST, env->actor, env->now_ms, &s);
  if (rc) return rc;
  rc = dyna_crdt_linsert(s, env->actor, at, after, a->argv[4], a->argl[4]);
  n = dyna_crdt_count(s);
  dyna_obj_typed_done(o);
  *changed = 1;
  if (rc) return dyna_typed_error(rc, resp);
  dyna_resp_put_int(resp, (int64_t)n);
  return 0;
}

/* LTRIM key start stop */
static int cmd_ltrim(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                     dyna_buf_t *resp, int *changed) {
  *changed = 0;
  int64_t start, end;
  if (parse_int(a, 2, &start, resp) || parse_int(a, 3, &end, resp)) return 0;
  int bad;
  const dyna_crdt_t *rs = lread(o, env, resp, &bad);
  if (bad) return 0;
  size_t n = rs ? dyna_crdt_count(rs) : 0, s0 = 0, e0 = 0, k = 0;
  size_t *idx = n ? dyna_malloc(n * sizeof(size_t)) : NULL;
  if (n && !idx) return DYNA_ENOMEM;
  int keep = n && clamp_range(start, end, n, &s0, &e0);
  for (size_t i = 0; i < n; i++)
    if (!keep || i < s0 || i > e0) idx[k++] = i;
  size_t before = resp->len;
  int rc = k ? remove_indexes(o, idx, k, env, resp) : 0;
  dyna_free(idx);
  if (rc || resp->len != before) return rc;
  *changed = k > 0;
  dyna_resp_put_simple(resp, "OK");
  return 0;
}

/* ---- reads ----------------------------------------------------------------------- */

static int cmd_llen(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                    dyna_buf_t *resp) {
  (void)a;
  int bad;
  const dyna_crdt_t *s = lread(o, env, resp, &bad);
  if (!bad) dyna_resp_put_int(resp, s ? (int64_t)dyna_crdt_count(s) : 0);
  return 0;
}

static int cmd_lindex(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                      dyna_buf_t *resp) {
  int bad;
  int64_t index;
  const dyna_crdt_t *s = lread(o, env, resp, &bad);
  if (bad) return 0;
  if (!s) {
    dyna_resp_put_null(resp, env->proto);
    return 0;
  }
  if (parse_int(a, 2, &index, resp)) return 0;
  dyna_crdt_litem_t *view;
  size_t n, at;
  int rc = dyna_crdt_lview(s, &view, &n);
  if (rc) return rc;
  if (resolve_index(index, n, &at)) dyna_resp_put_bulk(resp, view[at].v->data, view[at].v->len);
  else dyna_resp_put_null(resp, env->proto);
  dyna_free(view);
  return 0;
}

static int cmd_lrange(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                      dyna_buf_t *resp) {
  int64_t start, end;
  if (parse_int(a, 2, &start, resp) || parse_int(a, 3, &end, resp)) return 0;
  int bad;
  const dyna_crdt_t *s = lread(o, env, resp, &bad);
  if (bad) return 0;
  dyna_crdt_litem_t *view = NULL;
  size_t n = 0, s0, e0;
  int rc = s ? dyna_crdt_lview(s, &view, &n) : 0;
  if (rc) return rc;
  if (n && clamp_range(start, end, n, &s0, &e0)) {
    dyna_resp_put_array(resp, e0 - s0 + 1);
    for (size_t i = s0; i <= e0; i++) dyna_resp_put_bulk(resp, view[i].v->data, view[i].v->len);
  } else {
    dyna_resp_put_array(resp, 0);
  }
  dyna_free(view);
  return 0;
}

/* LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len] */
static int cmd_lpos(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                    dyna_buf_t *resp) {
  int64_t rank = 1, count = -1, maxlen = 0;
  for (size_t j = 3; j < a->argc; j++) {
    int more = j + 1 < a->argc;
    if (arg_is(a, j, "rank") && more) {
      j++;
      if (parse_int(a, j, &rank, resp)) return 0;
      if (rank == INT64_MIN) {
        dyna_resp_put_error(resp, "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807");
        return 0;
      }
      if (rank == 0) {
        dyna_resp_put_error(resp, "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list");
        return 0;
      }
    } else if (arg_is(a, j, "count") && more) {
      j++;
      if (parse_nonneg(a->argv[j], a->argl[j], &count, "ERR COUNT can't be negative", resp)) return 0;
    } else if (arg_is(a, j, "maxlen") && more) {
      j++;
      if (parse_nonneg(a->argv[j], a->argl[j], &maxlen, "ERR MAXLEN can't be negative", resp)) return 0;
    } else {
      dyna_resp_put_error(resp, DYNA_TYPED_SYNTAX);
      return 0;
    }
  }
  int bad;
  const dyna_crdt_t *s = lread(o, env, resp, &bad);
  if (bad) return 0;
  dyna_crdt_litem_t *view = NULL;
  size_t n = 0;
  int rc = s ? dyna_crdt_lview(s, &view, &n) : 0;
  if (rc) return rc;
  /* Matches go to a scratch array (at most n of them), then out as Redis sends them. */
  size_t *hits = n ? dyna_malloc(n * sizeof(size_t)) : NULL;
  if (n && !hits) {
    dyna_free(view);
    return DYNA_ENOMEM;
  }
  size_t k = 0;
  uint64_t skip = rank > 0 ? (uint64_t)rank - 1 : (uint64_t)(-(rank + 1));
  uint64_t want = count == 0 ? UINT64_MAX : count < 0 ? 1 : (uint64_t)count;
  for (size_t i = 0; i < n && k < want && (maxlen == 0 || i < (uint64_t)maxlen); i++) {
    size_t at = rank < 0 ? n - 1 - i : i;
    if (view[at].v->len != a->argl[2] || memcmp(view[at].v->data, a->argv[2], a->argl[2])) continue;
    if (skip) {
      skip--;
      continue;
    }
    hits[k++] = at;
  }
  if (count >= 0) {
    dyna_resp_put_array(resp, k);
    for (size_t i = 0; i < k; i++) dyna_resp_put_int(resp, (int64_t)hits[i]);
  } else if (k) {
    dyna_resp_put_int(resp, (int64_t)hits[0]);
  } else {
    dyna_resp_put_null(resp, env->proto);
  }
  dyna_free(hits);
  dyna_free(view);
  return 0;
}

/* ---- LMOVE / RPOPLPUSH (typed_list.h) -------------------------------------------- */

int dyna_typed_lmove(dyna_obj_t *src, dyna_obj_t *dst, const dyna_targs_t *a,
                     const dyna_tenv_t *env, dyna_buf_t *resp, int *src_changed,
                     int *dst_changed) {
  *src_changed = *dst_changed = 0;
  int from_right = 1, to_right = 0;
  if (a->argc >= 5) { /* LMOVE */
    int ok = 1;
    if (arg_is(a, 3, "left")) from_right = 0;
    else if (!arg_is(a, 3, "right")) ok = 0;
    if (arg_is(a, 4, "right")) to_right = 1;
    else if (!arg_is(a, 4, "left")) ok = 0;
    if (!ok) {
      dyna_resp_put_error(resp, DYNA_TYPED_SYNTAX);
      return 0;
    }
  }
  int bad;
  const dyna_crdt_t *rs = lread(src, env, resp, &bad);
  if (bad) return 0;
  if (!rs) {
    dyna_resp_put_null(resp, env->proto);
    return 0;
  }
  if (dst != src && !dyna_typed_kind_ok(dst, DYNA_KIND_LIST, env, resp)) return 0;
  /* Pop from src (the element's bytes into elem), then push onto dst. */
  dyna_buf_t elem = DYNA_BUF_INIT;
  dyna_crdt_t *s, *d;
  int rc = dyna_obj_typed_for_write(src, DYNA_CRDT_LIST, env->actor, env->now_ms, &s);
  if (rc) return rc;
  rc = dyna_crdt_lpop(s, from_right, &elem);
  int emptied = rc == 0 && dst != src && dyna_crdt_count(s) == 0;
  if (emptied) rc = dyna_crdt_delete(s, env->actor, env->now_ms);
  dyna_obj_typed_done(src);
  if (emptied && rc == 0) rc = dyna_obj_drop_deadline(src, env->actor);
  if (rc) {
    dyna_buf_free(&elem);
    return rc == DYNA_ENOMEM ? rc : dyna_typed_error(rc, resp);
  }
  *src_changed = 1;
  if (dst == src) *dst_changed = 1;
  rc = dyna_obj_typed_for_write(dst, DYNA_CRDT_LIST, env->actor, env->now_ms, &d);
  if (rc == 0) {
    rc = dyna_crdt_lpush(d, env->actor, to_right, elem.data, elem.len);
    dyna_obj_typed_done(dst);
    *dst_changed = 1;
  }
  if (rc == 0) dyna_resp_put_bulk(resp, elem.data, elem.len);
  dyna_buf_free(&elem);
  return rc == DYNA_ENOMEM ? rc : dyna_typed_error(rc, resp);
}

const dyna_typed_cmd_t dyna_typed_list_cmds[] = {
    {"lpush", cmd_lpush, NULL, -3},
    {"rpush", cmd_rpush, NULL, -3},
    {"lpushx", cmd_lpushx, NULL, -3},
    {"rpushx", cmd_rpushx, NULL, -3},
    {"lpop", cmd_lpop, NULL, -2},
    {"rpop", cmd_rpop, NULL, -2},
    {"lset", cmd_lset, NULL, 4},
    {"lrem", cmd_lrem, NULL, 4},
    {"linsert", cmd_linsert, NULL, 5},
    {"ltrim", cmd_ltrim, NULL, 4},
    {"llen", NULL, cmd_llen, 2},
    {"lindex", NULL, cmd_lindex, 3},
    {"lrange", NULL, cmd_lrange, 4},
    {"lpos", NULL, cmd_lpos, -3},
    {0},
};
