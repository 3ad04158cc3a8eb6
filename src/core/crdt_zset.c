/* crdt_zset.c: the sorted set, members with scores that merge by themselves.
 *
 *   member -> LIVE|BASE values  ZADD: base = score - the increments it observed
 *             LIVE markers      ZINCRBY
 *             BASE residue      ZREM of a member that had increments
 *             contributions     per actor, its ZINCRBY total (double)
 *   score = chosen base + contributions; membership add-wins with observed removes.
 *
 * So a ZADD overrides the score it saw while a concurrent ZINCRBY on another replica
 * still adds (a best-seller list where every region adds its sales); concurrent ZADDs
 * resolve to the base on the greatest dot, ordered by (counter, actor). Scores are
 * doubles, NaN refused as Redis does; -0.0 is stored as 0. ZADD may set +-inf, but
 * increments must keep each actor's total finite (Redis would let ZINCRBY reach inf;
 * here it answers "not a number"), so that a later ZADD's base can cancel them. A sum
 * that still overflows to NaN (finite totals near DBL_MAX from several actors) reads
 * as 0. */
#include "core/crdt_int.h"
#include "core/crdt_ops.h"
#include "util/alloc.h"
#include "util/assert.h"
#include <stdlib.h>
#include <string.h>

static double elem_score(const dyna_crdt_elem_t *e) {
  int64_t i;
  double d;
  int ovf;
  crdt_num_value(e, &i, &d, &ovf);
  return d != d ? 0.0 : d;
}

static const dyna_crdt_elem_t *live_member(const dyna_crdt_t *s, const uint8_t *m, size_t mlen) {
  DYNA_ASSERT(s->type == DYNA_CRDT_ZSET, "type %u", s->type);
  size_t idx;
  if (!crdt_find(s, m, mlen, &idx) || !crdt_elem_live(s->e[idx])) return NULL;
  return s->e[idx];
}

int dyna_crdt_zscore(const dyna_crdt_t *s, const uint8_t *m, size_t mlen, double *score) {
  const dyna_crdt_elem_t *e = live_member(s, m, mlen);
  if (!e) return DYNA_ENOTFOUND;
  *score = elem_score(e);
  return 0;
}

int dyna_crdt_zadd(dyna_crdt_t *s, uint64_t actor, const uint8_t *m, size_t mlen, double score,
                   int flags, double *newscore) {
  const dyna_crdt_elem_t *e = live_member(s, m, mlen);
  if (score != score) return DYNA_EINVAL;
  if ((flags & DYNA_CRDT_ZADD_NX) && (flags & (DYNA_CRDT_ZADD_XX | DYNA_CRDT_ZADD_GT | DYNA_CRDT_ZADD_LT)))
    return DYNA_EINVAL;
  if ((flags & DYNA_CRDT_ZADD_GT) && (flags & DYNA_CRDT_ZADD_LT)) return DYNA_EINVAL;
  if (mlen > DYNA_CRDT_MAX_KEY_BYTES) return DYNA_ETOOBIG;
  double cur = e ? elem_score(e) : 0.0;
  if ((flags & DYNA_CRDT_ZADD_NX) && e) return DYNA_CRDT_ZSKIPPED;
  if ((flags & DYNA_CRDT_ZADD_XX) && !e) return DYNA_CRDT_ZSKIPPED;
  double nw = (flags & DYNA_CRDT_ZADD_INCR) ? cur + score : score;
  if (nw != nw) return DYNA_EINVAL;
  nw = crdt_canon(nw);
  if (e && (flags & DYNA_CRDT_ZADD_GT) && !(nw > cur)) return DYNA_CRDT_ZSKIPPED;
  if (e && (flags & DYNA_CRDT_ZADD_LT) && !(nw < cur)) return DYNA_CRDT_ZSKIPPED;
  int rc;
  if (flags & DYNA_CRDT_ZADD_INCR) {
    rc = crdt_num_incr(s, m, mlen, actor, 0, score);
  } else {
    const dyna_crdt_elem_t *any = dyna_crdt_get(s, m, mlen);
    if (any) {
      int64_t si;
      double sd;
      int ovf;
      crdt_contrib_sum(any, &si, &sd, &ovf);
      if (score - sd != score - sd) return DYNA_EINVAL; /* inf - inf */
    }
    rc = crdt_num_set(s, m, mlen, actor, 0, 0, 0, score, NULL, 0);
  }
  if (rc) return rc;
  if (newscore) *newscore = nw;
  return (e ? 0 : DYNA_CRDT_ZADDED) | (e && nw != cur ? DYNA_CRDT_ZCHANGED : 0);
}

int dyna_crdt_zrem(dyna_crdt_t *s, uint64_t actor, const uint8_t *m, size_t mlen) {
  DYNA_ASSERT(s->type == DYNA_CRDT_ZSET, "type %u", s->type);
  return crdt_remove_key(s, m, mlen, actor);
}

static int zitem_cmp(const void *pa, const void *pb) {
  const dyna_crdt_zitem_t *a = pa, *b = pb;
  if (a->score != b->score) return a->score < b->score ? -1 : 1;
  return crdt_keycmp(a->m, a->len, b->m, b->len);
}

int dyna_crdt_zview(const dyna_crdt_t *s, dyna_crdt_zitem_t **out, size_t *n) {
  DYNA_ASSERT(s->type == DYNA_CRDT_ZSET, "type %u", s->type);
  *out = NULL;
  *n = 0;
  size_t cnt = dyna_crdt_count(s);
  if (cnt == 0) return 0;
  dyna_crdt_zitem_t *v = dyna_malloc(cnt * sizeof(*v));
  if (!v) return DYNA_ENOMEM;
  size_t cur = 0, k = 0;
  const dyna_crdt_elem_t *e;
  while ((e = dyna_crdt_next(s, &cur)) != NULL) {
    v[k].m = e->key;
    v[k].len = e->klen;
    v[k].score = elem_score(e);
    k++;
  }
  qsort(v, k, sizeof(*v), zitem_cmp);
  *out = v;
  *n = k;
  return 0;
}

int dyna_crdt_zextremes(const dyna_crdt_t *s, size_t k, int max, dyna_crdt_zitem_t **out, size_t *n) {
  DYNA_ASSERT(s->type == DYNA_CRDT_ZSET, "type %u", s->type);
  *out = NULL;
  *n = 0;
  if (k == 0) return 0;
  if (k > DYNA_CRDT_ZEXTREMES_SCAN) { /* many: the whole view, then the end wanted */
    dyna_crdt_zitem_t *v;
    size_t m;
    int rc = dyna_crdt_zview(s, &v, &m);
    if (rc || !m) return rc;
    for (size_t i = 0; max && i < m / 2; i++) { /* highest first */
      dyna_crdt_zitem_t t = v[i];
      v[i] = v[m - 1 - i];
      v[m - 1 - i] = t;
    }
    *out = v;
    *n = k < m ? k : m;
    return 0;
  }
  dyna_crdt_zitem_t *v = dyna_malloc(k * sizeof(*v));
  if (!v) return DYNA_ENOMEM;
  size_t c = 0, cur = 0;
  const dyna_crdt_elem_t *e;
  /* v[0..c) in pop order: a candidate goes in by insertion, the last falls off */
  while ((e = dyna_crdt_next(s, &cur)) != NULL) {
    dyna_crdt_zitem_t it = {e->key, e->klen, elem_score(e)};
    size_t pos = c;
    while (pos > 0 && (max ? zitem_cmp(&v[pos - 1], &it) < 0 : zitem_cmp(&v[pos - 1], &it) > 0)) pos--;
    if (pos >= k) continue;
    size_t last = c < k ? c : k - 1;
    memmove(&v[pos + 1], &v[pos], (last - pos) * sizeof(*v));
    v[pos] = it;
    if (c < k) c++;
  }
  if (c == 0) {
    dyna_free(v);
    v = NULL;
  }
  *out = v;
  *n = c;
  return 0;
}

int dyna_crdt_zrank(const dyna_crdt_t *s, const uint8_t *m, size_t mlen, size_t *rank) {
  const dyna_crdt_elem_t *me = live_member(s, m, mlen);
  if (!me) return DYNA_ENOTFOUND;
  dyna_crdt_zitem_t x = {me->key, me->klen, elem_score(me)};
  size_t cur = 0, r = 0;
  const dyna_crdt_elem_t *e;
  while ((e = dyna_crdt_next(s, &cur)) != NULL) {
    dyna_crdt_zitem_t y = {e->key, e->klen, elem_score(e)};
    if (zitem_cmp(&y, &x) < 0) r++;
  }
  *rank = r;
  return 0;
}
