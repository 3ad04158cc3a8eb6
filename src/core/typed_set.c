/* typed_set.c: the set commands over an object (typed.h, typed_set.h), thin handlers
 * over core/crdt_ops.h's add-wins observed-remove set: an SADD concurrent with an SREM
 * of the same member keeps it, and an SREM (SPOP, SMOVE, a STORE overwriting its
 * destination) removes only the adds its coordinator had observed. Members are listed
 * in byte order (Redis lists them in hash order: any order is allowed). Randomness
 * (SPOP, SRANDMEMBER) only from env->rand, so a given env draws the same members. */
#include "core/typed_set.h"
#include "core/crdt_ops.h"
#include "proto/resp.h"
#include "util/alloc.h"
#include "util/err.h"
#include <string.h>
#include <strings.h>

#define ERR_POSITIVE "ERR value is out of range, must be positive"

static const dyna_crdt_t *set_of(const dyna_obj_t *o, const dyna_tenv_t *env) {
  return o ? dyna_typed_read_state(o, DYNA_CRDT_SET, env) : NULL;
}

static size_t set_card(const dyna_crdt_t *s) { return s ? s->n : 0; }

/* Draws k distinct indexes of [0, n) (k <= n) in random order from *rng into idx
 * (a partial Fisher-Yates over a scratch array of n, allocated here). */
static int draw_distinct(size_t n, size_t k, uint64_t *rng, size_t **out) {
  size_t *p = dyna_malloc((n ? n : 1) * sizeof(*p));
  if (!p) return DYNA_ENOMEM;
  for (size_t i = 0; i < n; i++) p[i] = i;
  for (size_t i = 0; i < k; i++) {
    size_t j = i + (size_t)(dyna_typed_next_rand(rng) % (n - i));
    size_t t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  *out = p;
  return 0;
}

/* ---- single-key commands --------------------------------------------------------- */

static int cmd_sadd(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env, dyna_buf_t *resp,
                    int *changed) {
  *changed = 0;
  if (!dyna_typed_kind_ok(o, DYNA_KIND_SET, env, resp)) return 0;
  const dyna_crdt_t *r = set_of(o, env);
  for (size_t i = 2; i < a->argc; i++) /* refuse before anything changes */
    if (a->argl[i] > DYNA_CRDT_MAX_KEY_BYTES || set_card(r) + (a->argc - 2) > DYNA_CRDT_MAX_ELEMS)
      return dyna_typed_error(DYNA_ETOOBIG, resp);
  dyna_crdt_t *s;
  int rc = dyna_obj_typed_for_write(o, DYNA_CRDT_SET, env->actor, env->now_ms, &s);
  if (rc) return rc == DYNA_ENOMEM ? rc : dyna_typed_error(rc, resp);
  int64_t added = 0;
  for (size_t i = 2; i < a->argc; i++) {
    rc = dyna_crdt_sadd(s, env->actor, a->argv[i], a->argl[i]);
    if (rc < 0) { /* o holds part of the write: the caller must not store it */
      dyna_obj_typed_done(o);
      return rc == DYNA_ENOMEM ? rc : dyna_typed_error(rc, resp);
    }
    added += rc;
  }
  *changed = 1; /* even a present member got a fresh dot (a concurrent SREM keeps it) */
  dyna_obj_typed_done(o);
  dyna_resp_put_int(resp, added);
  return 0;
}

/* Deletes an emptied set, and the key's deadline with it (crdt_ops.h: the old TTL must
 * not carry over to the key's next life; the deadline lives in the object's KEY state).
 * Call before dyna_obj_typed_done(o). */
static int delete_if_empty(dyna_obj_t *o, dyna_crdt_t *s, uint64_t actor, uint64_t now_ms) {
  if (s->n) return 0;
  int rc = dyna_crdt_delete(s, actor, now_ms);
  return rc == 0 ? dyna_obj_drop_deadline(o, actor) : rc;
}

static int cmd_srem(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env, dyna_buf_t *resp,
                    int *changed) {
  *changed = 0;
  if (!dyna_typed_kind_ok(o, DYNA_KIND_SET, env, resp)) return 0;
  const dyna_crdt_t *r = set_of(o, env);
  size_t hits = 0;
  for (size_t i = 2; r && i < a->argc; i++) hits += dyna_crdt_sismember(r, a->argv[i], a->argl[i]) != 0;
  if (!hits) {
    dyna_resp_put_int(resp, 0);
    return 0;
  }
  dyna_crdt_t *s;
  int rc = dyna_obj_typed_for_write(o, DYNA_CRDT_SET, env->actor, env->now_ms, &s);
  if (rc) return rc == DYNA_ENOMEM ? rc : dyna_typed_error(rc, resp);
  int64_t removed = 0;
  for (size_t i = 2; i < a->argc; i++) removed += dyna_crdt_srem(s, a->argv[i], a->argl[i]);
  rc = delete_if_empty(o, s, env->actor, env->now_ms);
  dyna_obj_typed_done(o);
  *changed = 1;
  if (rc == DYNA_ENOMEM) return rc;
  if (rc) {
    *changed = 0;
    return dyna_typed_error(rc, resp);
  }
  dyna_resp_put_int(resp, removed);
  return 0;
}

static int cmd_smembers(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                        dyna_buf_t *resp) {
  (void)a;
  if (!dyna_typed_kind_ok(o, DYNA_KIND_SET, env, resp)) return 0;
  const dyna_crdt_t *s = set_of(o, env);
  dyna_resp_put_set(resp, env->proto, set_card(s));
  for (size_t i = 0; i < set_card(s); i++) dyna_resp_put_bulk(resp, s->e[i]->key, s->e[i]->klen);
  return 0;
}

static int cmd_sismember(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                         dyna_buf_t *resp) {
  if (!dyna_typed_kind_ok(o, DYNA_KIND_SET, env, resp)) return 0;
  const dyna_crdt_t *s = set_of(o, env);
  dyna_resp_put_int(resp, s && dyna_crdt_sismember(s, a->argv[2], a->argl[2]));
  return 0;
}

static int cmd_smismember(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                          dyna_buf_t *resp) {
  if (!dyna_typed_kind_ok(o, DYNA_KIND_SET, env, resp)) return 0;
  const dyna_crdt_t *s = set_of(o, env);
  dyna_resp_put_array(resp, a->argc - 2);
  for (size_t i = 2; i < a->argc; i++)
    dyna_resp_put_int(resp, s && dyna_crdt_sismember(s, a->argv[i], a->argl[i]));
  return 0;
}

static int cmd_scard(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                     dyna_buf_t *resp) {
  (void)a;
  if (!dyna_typed_kind_ok(o, DYNA_KIND_SET, env, resp)) return 0;
  dyna_resp_put_int(resp, (int64_t)set_card(set_of(o, env)));
  return 0;
}

/* SPOP key [count]: a write that removes what it answers. Across a partition two
 * coordinators may pop the same member (each removes its own observation of it):
 * a member is popped at least once, possibly more than once, never lost silently;
 * a member added concurrently with the pop stays (add wins). */
static int cmd_spop(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env, dyna_buf_t *resp,
                    int *changed) {
  *changed = 0;
  if (a->argc > 3) {
    dyna_resp_put_error(resp, DYNA_TYPED_SYNTAX);
    return 0;
  }
  int64_t count = 1;
  if (a->argc == 3 && (dyna_typed_parse_i64(a->argv[2], a->argl[2], &count) || count < 0)) {
    dyna_resp_put_error(resp, ERR_POSITIVE);
    return 0;
  }
  if (!dyna_typed_kind_ok(o, DYNA_KIND_SET, env, resp)) return 0;
  const dyna_crdt_t *r = set_of(o, env);
  if (!r || count == 0) {
    if (a->argc == 3) dyna_resp_put_set(resp, env->proto, 0);
    else dyna_resp_put_null(resp, env->proto);
    return 0;
  }
  dyna_crdt_t *s;
  int rc = dyna_obj_typed_for_write(o, DYNA_CRDT_SET, env->actor, env->now_ms, &s);
  if (rc) return rc == DYNA_ENOMEM ? rc : dyna_typed_error(rc, resp);
  size_t n = s->n, k = (uint64_t)count < n ? (size_t)count : n;
  uint64_t rng = env->rand;
  size_t *idx;
  if ((rc = draw_distinct(n, k, &rng, &idx)) != 0) return rc;
  if (a->argc == 3) dyna_resp_put_set(resp, env->proto, k);
  for (size_t i = 0; i < k; i++) dyna_resp_put_bulk(resp, s->e[idx[i]]->key, s->e[idx[i]]->klen);
  /* Remove from the highest index down, so the lower indexes stay valid. */
  for (size_t i = 1; i < k; i++)
    for (size_t j = i; j > 0 && idx[j - 1] < idx[j]; j--) {
      size_t t = idx[j];
      idx[j] = idx[j - 1];
      idx[j - 1] = t;
    }
  for (size_t i = 0; i < k; i++) dyna_crdt_srem(s, s->e[idx[i]]->key, s->e[idx[i]]->klen);
  dyna_free(idx);
  rc = delete_if_empty(o, s, env->actor, env->now_ms);
  dyna_obj_typed_done(o);
  *changed = 1;
  return rc == DYNA_ENOMEM ? rc : 0; /* ETOOBIG on delete: the members are gone all the same */
}

/* SRANDMEMBER key [count]: count > 0 distinct members (at most all), count < 0 |count|
 * members with repeats, as Redis. A read. */
static int cmd_srandmember(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                           dyna_buf_t *resp) {
  if (a->argc > 3) {
    dyna_resp_put_error(resp, DYNA_TYPED_SYNTAX);
    return 0;
  }
  int64_t count = 1;
  if (a->argc == 3) {
    if (dyna_typed_parse_i64(a->argv[2], a->argl[2], &count)) {
      dyna_resp_put_error(resp, DYNA_TYPED_NOT_INT);
      return 0;
    }
    if (count == INT64_MIN) {
      dyna_resp_put_error(resp, DYNA_TYPED_RANGE_LL);
      return 0;
    }
  }
  if (!dyna_typed_kind_ok(o, DYNA_KIND_SET, env, resp)) return 0;
  const dyna_crdt_t *s = set_of(o, env);
  size_t n = set_card(s);
  uint64_t rng = env->rand;
  if (a->argc == 2) {
    if (!n) {
      dyna_resp_put_null(resp, env->proto);
    } else {
      const dyna_crdt_elem_t *e = dyna_crdt_nth(s, (size_t)(dyna_typed_next_rand(&rng) % n));
      dyna_resp_put_bulk(resp, e->key, e->klen);
    }
    return 0;
  }
  if (!n || count == 0) {
    dyna_resp_put_array(resp, 0);
    return 0;
  }
  if (count < 0) {
    uint64_t k = (uint64_t)(-count);
    size_t start = resp->len;
    dyna_resp_put_array(resp, (size_t)k);
    for (uint64_t i = 0; i < k && !resp->oom && !dyna_typed_reply_over(resp, start); i++) {
      const dyna_crdt_elem_t *e = dyna_crdt_nth(s, (size_t)(dyna_typed_next_rand(&rng) % n));
      dyna_resp_put_bulk(resp, e->key, e->klen);
    }
    return resp->oom ? DYNA_ENOMEM : 0;
  }
  size_t k = (uint64_t)count < n ? (size_t)count : n, *idx;
  int rc = draw_distinct(n, k, &rng, &idx);
  if (rc) return rc;
  dyna_resp_put_array(resp, k);
  for (size_t i = 0; i < k; i++) dyna_resp_put_bulk(resp, s->e[idx[i]]->key, s->e[idx[i]]->klen);
  dyna_free(idx);
  return 0;
}

static int cmd_sstore(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                      dyna_buf_t *resp, int *changed);

const dyna_typed_cmd_t dyna_typed_set_cmds[] = {
    {"sadd", cmd_sadd, NULL, -3},
    {"srem", cmd_srem, NULL, -3},
    {"smembers", NULL, cmd_smembers, 2},
    {"sismember", NULL, cmd_sismember, 3},
    {"smismember", NULL, cmd_smismember, -3},
    {"scard", NULL, cmd_scard, 2},
    {"spop", cmd_spop, NULL, -2},
    {"srandmember", NULL, cmd_srandmember, -2},
    {"dyna.sstore", cmd_sstore, NULL, -2}, /* internal: the runtime's S*STORE (typed_set.h) */
    {0},
};

/* ---- several keys (typed_set.h) ------------------------------------------------- */

/* The result of op as borrowed (member, length) pairs into the source states, in
 * byte order: *out allocated here (dyna_free), *n its length. */
typedef struct mref {
  const uint8_t *p;
  size_t len;
} mref_t;

static int compute(const dyna_obj_t *const *objs, size_t n, dyna_set_op_t op, const dyna_tenv_t *env,
                   dyna_buf_t *resp, mref_t **out, size_t *nout) {
  *out = NULL;
  *nout = 0;
  for (size_t i = 0; i < n; i++)
    if (objs[i] && !dyna_typed_kind_ok(objs[i], DYNA_KIND_SET, env, resp)) return 1;
  const dyna_crdt_t *first = set_of(objs[0], env);
  size_t cap = set_card(first);
  if (op == DYNA_SET_UNION)
    for (size_t i = 1; i < n; i++) cap += set_card(set_of(objs[i], env));
  if (!cap) return 0;
  mref_t *r = dyna_malloc(cap * sizeof(*r));
  if (!r) return DYNA_ENOMEM;
  size_t k = 0;
  if (op == DYNA_SET_UNION) {
    /* A k-way merge of the sorted member arrays: byte order, each member once. */
    size_t *cur = dyna_calloc(n, sizeof(*cur));
    if (!cur) {
      dyna_free(r);
      return DYNA_ENOMEM;
    }
    for (;;) {
      const dyna_crdt_elem_t *min = NULL;
      for (size_t i = 0; i < n; i++) {
        const dyna_crdt_t *s = set_of(objs[i], env);
        if (!s || cur[i] >= s->n) continue;
        const dyna_crdt_elem_t *e = s->e[cur[i]];
        if (!min || memcmp(e->key, min->key, e->klen < min->klen ? e->klen : min->klen) < 0 ||
            (!memcmp(e->key, min->key, e->klen < min->klen ? e->klen : min->klen) && e->klen < min->klen))
          min = e;
      }
      if (!min) break;
      r[k].p = min->key;
      r[k++].len = min->klen;
      for (size_t i = 0; i < n; i++) {
        const dyna_crdt_t *s = set_of(objs[i], env);
        if (s && cur[i] < s->n && s->e[cur[i]]->klen == min->klen &&
            !memcmp(s->e[cur[i]]->key, min->key, min->klen))
          cur[i]++;
      }
    }
    dyna_free(cur);
  } else {
    for (size_t j = 0; j < first->n; j++) {
      const dyna_crdt_elem_t *e = first->e[j];
      int keep = 1;
      for (size_t i = 1; i < n && keep; i++) {
        const dyna_crdt_t *s = set_of(objs[i], env);
        int in = s && dyna_crdt_sismember(s, e->key, e->klen);
        keep = op == DYNA_SET_INTER ? in : !in;
      }
      if (keep) {
        r[k].p = e->key;
        r[k++].len = e->klen;
      }
    }
  }
  *out = r;
  *nout = k;
  return 0;
}

int dyna_typed_set_combine(const dyna_obj_t *const *objs, size_t n, dyna_set_op_t op, int card,
                           uint64_t limit, const dyna_tenv_t *env, dyna_buf_t *resp) {
  mref_t *r;
  size_t k;
  int rc = compute(objs, n, op, env, resp, &r, &k);
  if (rc) return rc == 1 ? 0 : rc;
  if (card) {
    dyna_resp_put_int(resp, (int64_t)(limit && limit < k ? limit : k));
  } else {
    dyna_resp_put_set(resp, env->proto, k); /* SINTER SUNION SDIFF: a set in RESP3 */
    for (size_t i = 0; i < k; i++) dyna_resp_put_bulk(resp, r[i].p, r[i].len);
  }
  dyna_free(r);
  return 0;
}

int dyna_typed_sintercard_args(const dyna_targs_t *a, size_t *nkeys, uint64_t *limit,
                               dyna_buf_t *resp) {
  int64_t nk, lim = 0;
  if (dyna_typed_parse_i64(a->argv[1], a->argl[1], &nk) || nk <= 0) {
    dyna_resp_put_error(resp, "ERR numkeys should be greater than 0");
    return -1;
  }
  if ((uint64_t)nk > a->argc - 2) {
    dyna_resp_put_error(resp, "ERR Number of keys can't be greater than number of args");
    return -1;
  }
  for (size_t i = 2 + (size_t)nk; i < a->argc; i++) {
    if (a->argl[i] != 5 || strncasecmp((const char *)a->argv[i], "limit", 5) || i + 1 >= a->argc) {
      dyna_resp_put_error(resp, DYNA_TYPED_SYNTAX);
      return -1;
    }
    i++;
    if (dyna_typed_parse_i64(a->argv[i], a->argl[i], &lim) || lim < 0) {
      dyna_resp_put_error(resp, "ERR LIMIT can't be negative");
      return -1;
    }
  }
  *nkeys = (size_t)nk;
  *limit = (uint64_t)lim;
  return 0;
}

/* dst := exactly the members r[0..k) (borrowed; they may point into dst's own state):
 * the write half of every S*STORE. */
static int store_result(dyna_obj_t *dst, mref_t *r, size_t k, const dyna_tenv_t *env,
                        dyna_buf_t *resp, int *changed) {
  *changed = 0;
  if (k == 0 && dyna_obj_kind(dst, env->now_ms) == DYNA_KIND_NONE) {
    dyna_resp_put_int(resp, 0);
    return 0;
  }
  if (k > DYNA_CRDT_MAX_ELEMS) return dyna_typed_error(DYNA_ETOOBIG, resp);
  for (size_t i = 0; i < k; i++)
    if (r[i].len > DYNA_CRDT_MAX_KEY_BYTES) return dyna_typed_error(DYNA_ETOOBIG, resp);
  /* Copy the result: dst may be one of the sources, and its state changes below. */
  size_t total = 0;
  for (size_t i = 0; i < k; i++) total += r[i].len;
  uint8_t *bytes = dyna_malloc(total ? total : 1);
  if (!bytes) return DYNA_ENOMEM;
  for (size_t i = 0, off = 0; i < k; off += r[i].len, i++) {
    memcpy(bytes + off, r[i].p, r[i].len);
    r[i].p = bytes + off;
  }
  dyna_crdt_t *s;
  int rc = dyna_obj_typed_for_write(dst, DYNA_CRDT_SET, env->actor, env->now_ms, &s);
  int64_t stored = 0;
  if (rc == 0) {
    while (s->n) dyna_crdt_srem(s, s->e[s->n - 1]->key, s->e[s->n - 1]->klen);
    if (k == 0) rc = dyna_crdt_delete(s, env->actor, env->now_ms);
    for (size_t i = 0; i < k && rc >= 0; i++) {
      rc = dyna_crdt_sadd(s, env->actor, r[i].p, r[i].len);
      stored += rc > 0;
    }
    rc = rc > 0 ? 0 : rc;
    dyna_obj_typed_done(dst);
  }
  uint64_t dl;
  if (rc == 0 && dyna_obj_deadline(dst, &dl)) rc = dyna_obj_set_deadline(dst, env->actor, 0);
  dyna_free(bytes);
  if (rc) return rc == DYNA_ENOMEM ? rc : dyna_typed_error(rc, resp); /* dst not to be stored */
  *changed = 1;
  dyna_resp_put_int(resp, stored); /* the distinct members (a repeated argument counts once) */
  return 0;
}

int dyna_typed_set_store(dyna_obj_t *dst, const dyna_obj_t *const *srcs, size_t n,
                         dyna_set_op_t op, const dyna_tenv_t *env, dyna_buf_t *resp,
                         int *changed) {
  *changed = 0;
  mref_t *r;
  size_t k;
  int rc = compute(srcs, n, op, env, resp, &r, &k);
  if (rc) return rc == 1 ? 0 : rc;
  rc = store_result(dst, r, k, env, resp, changed);
  dyna_free(r);
  return rc;
}

int dyna_typed_set_members(const dyna_obj_t *const *objs, size_t n, dyna_set_op_t op,
                           const dyna_tenv_t *env, dyna_buf_t *resp, size_t reserve,
                           const uint8_t ***argv, size_t **argl, size_t *k) {
  *argv = NULL;
  *argl = NULL;
  *k = 0;
  mref_t *r;
  size_t m;
  int rc = compute(objs, n, op, env, resp, &r, &m);
  if (rc) return rc == 1 ? 0 : rc;
  const uint8_t **v = dyna_malloc((reserve + m) * sizeof(*v));
  size_t *l = dyna_malloc((reserve + m) * sizeof(*l));
  if (!v || !l) {
    dyna_free(v);
    dyna_free(l);
    dyna_free(r);
    return DYNA_ENOMEM;
  }
  for (size_t i = 0; i < m; i++) {
    v[reserve + i] = r[i].p;
    l[reserve + i] = r[i].len;
  }
  dyna_free(r);
  *argv = v;
  *argl = l;
  *k = m;
  return 0;
}

/* dyna.sstore dst member...: dst := exactly these members (any kind and expiry dst had
 * is superseded, as far as its coordinator observed it; none: dst is deleted). The
 * runtime computes the members of an S*STORE from quorum reads and writes them with this
 * command; clients cannot call it (it has no row in the runtime's command table). */
static int cmd_sstore(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                      dyna_buf_t *resp, int *changed) {
  *changed = 0;
  size_t k = a->argc - 2;
  mref_t *r = dyna_malloc((k ? k : 1) * sizeof(*r));
  if (!r) return DYNA_ENOMEM;
  for (size_t i = 0; i < k; i++) {
    r[i].p = a->argv[2 + i];
    r[i].len = a->argl[2 + i];
  }
  int rc = store_result(o, r, k, env, resp, changed);
  dyna_free(r);
  return rc;
}

int dyna_typed_smove(dyna_obj_t *src, dyna_obj_t *dst, const uint8_t *m, size_t mlen,
                     const dyna_tenv_t *env, dyna_buf_t *resp, int *src_changed,
                     int *dst_changed) {
  *src_changed = *dst_changed = 0;
  if (dyna_obj_kind(src, env->now_ms) == DYNA_KIND_NONE) {
    dyna_resp_put_int(resp, 0);
    return 0;
  }
  if (!dyna_typed_kind_ok(src, DYNA_KIND_SET, env, resp) ||
      !dyna_typed_kind_ok(dst, DYNA_KIND_SET, env, resp))
    return 0;
  const dyna_crdt_t *r = set_of(src, env);
  int in = r && dyna_crdt_sismember(r, m, mlen);
  if (src == dst || !in) {
    dyna_resp_put_int(resp, in);
    return 0;
  }
  dyna_crdt_t *s;
  int rc = dyna_obj_typed_for_write(dst, DYNA_CRDT_SET, env->actor, env->now_ms, &s);
  if (rc == 0) {
    rc = dyna_crdt_sadd(s, env->actor, m, mlen);
    rc = rc > 0 ? 0 : rc;
    dyna_obj_typed_done(dst);
  }
  if (rc == 0) rc = dyna_obj_typed_for_write(src, DYNA_CRDT_SET, env->actor, env->now_ms, &s);
  if (rc == 0) {
    dyna_crdt_srem(s, m, mlen);
    rc = delete_if_empty(src, s, env->actor, env->now_ms);
    dyna_obj_typed_done(src);
  }
  if (rc) return rc == DYNA_ENOMEM ? rc : dyna_typed_error(rc, resp); /* store neither */
  *src_changed = *dst_changed = 1;
  dyna_resp_put_int(resp, 1);
  return 0;
}
