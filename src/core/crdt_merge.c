/* crdt_merge.c: the join of two typed states (see crdt.h, "Merge").
 *
 *   for each key in A or B (a merge-join of the two sorted element arrays):
 *     values         v of A kept iff B holds v's dot or B's context misses it;
 *                    v of B kept iff A does not hold it and A's context misses it
 *     contributions  per actor the greater seq (equal seqs are the same record)
 *     element        kept iff anything is left in it
 *   expiry values    the same rule as element values
 *   context          max per actor
 *   deletion stamp   the newest del_ms; the deletes' contexts max per actor
 *
 * Two states holding the same dot hold the same value, by construction (only the
 * dot's actor makes it, once). Corrupt or hostile inputs may disagree: the merge then
 * keeps the greater of the two by a fixed order (val_order, contrib_order), so it is
 * still commutative, associative and idempotent whatever it is given.
 *
 * The result is built aside and installed at the end, so dst is unchanged on any
 * error; src may be dst. Cost O(|A| + |B|) plus the copy of what B brings. */
#include "core/crdt_int.h"
#include "core/node.h"
#include "util/alloc.h"
#include <string.h>

static int cmp_u64(uint64_t a, uint64_t b) { return a < b ? -1 : a > b; }

static int cmp_dbl(double a, double b) {
  uint64_t x, y;
  memcpy(&x, &a, sizeof(x));
  memcpy(&y, &b, sizeof(y));
  return cmp_u64(x, y);
}

/* A total order on values with the same dot. */
static int val_order(const dyna_crdt_val_t *a, const dyna_crdt_val_t *b) {
  int c = cmp_u64(a->flags, b->flags);
  if (!c) c = cmp_u64(a->ts, b->ts);
  if (!c) c = cmp_u64((uint64_t)a->i, (uint64_t)b->i);
  if (!c) c = cmp_dbl(a->d, b->d);
  if (!c) c = crdt_keycmp(a->data, a->len, b->data, b->len);
  return c;
}

static int contrib_order(const dyna_crdt_contrib_t *a, const dyna_crdt_contrib_t *b) {
  int c = cmp_u64(a->seq, b->seq);
  if (!c) c = cmp_u64((uint64_t)a->i, (uint64_t)b->i);
  if (!c) c = cmp_dbl(a->d, b->d);
  return c;
}

static int val_dup(dyna_crdt_val_t *dst, const dyna_crdt_val_t *src) {
  *dst = *src;
  dst->data = NULL;
  if (src->flags & DYNA_CRDT_F_BYTES) {
    dst->data = dyna_memdup(src->data, src->len);
    if (!dst->data) return DYNA_ENOMEM;
  }
  return 0;
}

/* Merges two dot-sorted value lists into out, *nout set: into buf when na + nb <= bufcap
 * (buf may be NULL with bufcap 0), else into an array allocated here. */
static int merge_vals(const dyna_crdt_t *A, const dyna_crdt_val_t *a, size_t na,
                      const dyna_crdt_t *B, const dyna_crdt_val_t *b, size_t nb,
                      dyna_crdt_val_t *buf, size_t bufcap, dyna_crdt_val_t **out, size_t *nout) {
  *out = NULL;
  *nout = 0;
  if (na + nb == 0) return 0;
  dyna_crdt_val_t *o = na + nb <= bufcap ? buf : dyna_calloc(na + nb, sizeof(*o));
  if (!o) return DYNA_ENOMEM;
  size_t i = 0, j = 0, k = 0;
  int rc = 0;
  while (i < na || j < nb) {
    const dyna_crdt_val_t *keep = NULL;
    int c = i >= na ? 1 : j >= nb ? -1
                                   : crdt_dotcmp(a[i].actor, a[i].counter, b[j].actor, b[j].counter);
    if (c == 0) {
      keep = val_order(&a[i], &b[j]) >= 0 ? &a[i] : &b[j];
      i++;
      j++;
    } else if (c < 0) {
      if (!crdt_covers(B, a[i].actor, a[i].counter) && !(A->type == DYNA_CRDT_SET && (dyna_crdt_bugs & DYNA_BUG_SET_REMOVE_WINS))) keep = &a[i];
      i++;
    } else {
      if (!crdt_covers(A, b[j].actor, b[j].counter)) keep = &b[j];
      j++;
    }
    if (!keep) continue;
    if ((rc = val_dup(&o[k], keep)) != 0) break;
    k++;
  }
  if (rc == 0 && k > DYNA_CRDT_MAX_VALS) rc = DYNA_ETOOBIG;
  if (rc) {
    for (size_t x = 0; x < k; x++) crdt_val_free(&o[x]);
    if (o != buf) dyna_free(o);
    return rc;
  }
  if (k == 0) {
    if (o != buf) dyna_free(o);
    o = NULL;
  }
  *out = o;
  *nout = k;
  return 0;
}

static int merge_contrib(const dyna_crdt_elem_t *a, const dyna_crdt_elem_t *b,
                         dyna_crdt_elem_t *out) {
  size_t na = a ? a->ncontrib : 0, nb = b ? b->ncontrib : 0;
  if (na + nb == 0) return 0;
  out->contrib = dyna_malloc((na + nb) * sizeof(*out->contrib));
  if (!out->contrib) return DYNA_ENOMEM;
  out->ccap = na + nb;
  size_t i = 0, j = 0, k = 0;
  while (i < na || j < nb) {
    const dyna_crdt_contrib_t *x = i < na ? &a->contrib[i] : NULL;
    const dyna_crdt_contrib_t *y = j < nb ? &b->contrib[j] : NULL;
    if (x && y && x->actor == y->actor) {
      out->contrib[k++] = contrib_order(x, y) >= 0 ? *x : *y;
      if ((dyna_crdt_bugs & DYNA_BUG_COUNTER_SUM) && x->seq != y->seq) out->contrib[k - 1].i = x->i + y->i;
      i++;
      j++;
    } else if (!y || (x && x->actor < y->actor)) {
      out->contrib[k++] = *x;
      i++;
    } else {
      out->contrib[k++] = *y;
      j++;
    }
  }
  out->ncontrib = k;
  return 0;
}

/* The merged element of a (in A, may be NULL) and b (in B, may be NULL); *out NULL
 * when nothing is left. */
static int merge_elem(const dyna_crdt_t *A, const dyna_crdt_elem_t *a, const dyna_crdt_t *B,
                      const dyna_crdt_elem_t *b, dyna_crdt_elem_t **out) {
  *out = NULL;
  const dyna_crdt_elem_t *k = a ? a : b;
  dyna_crdt_elem_t *e = crdt_elem_new(k->key, k->klen);
  if (!e) return DYNA_ENOMEM;
  dyna_crdt_val_t *v, two[2]; /* most elements merge one value with one */
  size_t nv;
  int rc = merge_vals(A, a ? a->vals : NULL, a ? a->nvals : 0, B, b ? b->vals : NULL,
                      b ? b->nvals : 0, two, 2, &v, &nv);
  if (rc == 0 && nv > 1 && v == two) { /* two values: an array of their own */
    v = dyna_malloc(2 * sizeof(*v));
    if (v) memcpy(v, two, 2 * sizeof(*v));
    else {
      crdt_val_free(&two[0]);
      crdt_val_free(&two[1]);
      rc = DYNA_ENOMEM;
    }
  }
  if (rc == 0 && nv) {
    crdt_elem_take_vals(e, v, nv, nv);
    if (nv == 1 && v != two) dyna_free(v);
  }
  if (rc == 0) rc = merge_contrib(a, b, e);
  if (rc || e->nvals + e->ncontrib == 0) {
    crdt_elem_free(e);
    return rc;
  }
  *out = e;
  return 0;
}

static int merge_ctx(const dyna_crdt_t *a, const dyna_crdt_t *b, dyna_crdt_t *t) {
  size_t n = a->nctx + b->nctx;
  if (n == 0) return 0;
  t->ctx = dyna_malloc(n * sizeof(*t->ctx));
  if (!t->ctx) return DYNA_ENOMEM;
  t->ctxcap = n;
  size_t i = 0, j = 0, k = 0;
  while (i < a->nctx || j < b->nctx) {
    if (j >= b->nctx || (i < a->nctx && a->ctx[i].actor < b->ctx[j].actor)) {
      t->ctx[k++] = a->ctx[i++];
    } else if (i >= a->nctx || b->ctx[j].actor < a->ctx[i].actor) {
      t->ctx[k++] = b->ctx[j++];
    } else {
      t->ctx[k] = a->ctx[i];
      if (b->ctx[j].counter > t->ctx[k].counter) t->ctx[k].counter = b->ctx[j].counter;
      k++;
      i++;
      j++;
    }
  }
  t->nctx = k;
  return k > DYNA_CRDT_MAX_ACTORS ? DYNA_ETOOBIG : 0;
}

/* The deletion stamps: the newest del_ms, the deletes' contexts max per actor. */
static int merge_del(const dyna_crdt_t *a, const dyna_crdt_t *b, dyna_crdt_t *t) {
  t->del_ms = a->del_ms > b->del_ms ? a->del_ms : b->del_ms;
  size_t n = a->ndel + b->ndel;
  if (n == 0) return 0;
  t->del = dyna_malloc(n * sizeof(*t->del));
  if (!t->del) return DYNA_ENOMEM;
  size_t i = 0, j = 0, k = 0;
  while (i < a->ndel || j < b->ndel) {
    if (j >= b->ndel || (i < a->ndel && a->del[i].actor < b->del[j].actor)) {
      t->del[k++] = a->del[i++];
    } else if (i >= a->ndel || b->del[j].actor < a->del[i].actor) {
      t->del[k++] = b->del[j++];
    } else {
      t->del[k] = a->del[i];
      if (b->del[j].counter > t->del[k].counter) t->del[k].counter = b->del[j].counter;
      k++;
      i++;
      j++;
    }
  }
  t->ndel = k;
  return 0;
}

/* *t (initialised empty, of A's type) := the join of A and B, built from both without
 * copying either first; on error t is cleared. */
static int merge_build(const dyna_crdt_t *A, const dyna_crdt_t *B, dyna_crdt_t *tp) {
  dyna_crdt_t t = *tp;
  int rc = merge_ctx(A, B, &t);
  if (rc) goto done;
  rc = merge_del(A, B, &t);
  if (rc) goto done;
  if (dyna_crdt_bugs & DYNA_BUG_EXPIRY_NO_MERGE) rc = merge_vals(A, A->exp, A->nexp, A, A->exp, A->nexp, NULL, 0, &t.exp, &t.nexp);
  else rc = merge_vals(A, A->exp, A->nexp, B, B->exp, B->nexp, NULL, 0, &t.exp, &t.nexp);
  t.expcap = t.nexp;
  if (rc) goto done;
  if (A->n + B->n) {
    t.e = dyna_malloc((A->n + B->n) * sizeof(*t.e));
    if (!t.e) {
      rc = DYNA_ENOMEM;
      goto done;
    }
    t.cap = A->n + B->n;
  }
  size_t i = 0, j = 0;
  while (i < A->n || j < B->n) {
    const dyna_crdt_elem_t *a = NULL, *b = NULL;
    int c = i >= A->n ? 1 : j >= B->n ? -1
                                       : crdt_keycmp(A->e[i]->key, A->e[i]->klen, B->e[j]->key,
                                                     B->e[j]->klen);
    if (c <= 0) a = A->e[i++];
    if (c >= 0) b = B->e[j++];
    dyna_crdt_elem_t *e;
    if ((rc = merge_elem(A, a, B, b, &e)) != 0) goto done;
    if (e) t.e[t.n++] = e;
  }
  if (t.n > DYNA_CRDT_MAX_ELEMS) rc = DYNA_ETOOBIG;
done:
  if (rc) dyna_crdt_clear(&t);
  *tp = t;
  return rc;
}

int dyna_crdt_merge(dyna_crdt_t *dst, const dyna_crdt_t *src) {
  if (dst->type != src->type) return DYNA_EINVAL;
  const dyna_crdt_t *A = dst, *B = src;
  if (dyna_crdt_bugs & DYNA_BUG_TYPED_NO_MERGE) A = src;
  dyna_crdt_t t;
  dyna_crdt_init(&t, dst->type);
  int rc = merge_build(A, B, &t);
  if (rc) return rc;
  dyna_crdt_clear(dst);
  *dst = t;
  return 0;
}

int dyna_crdt_merged(dyna_crdt_t *out, const dyna_crdt_t *a, const dyna_crdt_t *b) {
  if (a->type != b->type) return DYNA_EINVAL;
  const dyna_crdt_t *A = a, *B = b;
  if (dyna_crdt_bugs & DYNA_BUG_TYPED_NO_MERGE) A = b;
  dyna_crdt_t t;
  dyna_crdt_init(&t, a->type);
  int rc = merge_build(A, B, &t);
  if (rc) return rc;
  dyna_crdt_clear(out);
  *out = t;
  return 0;
}

/* ---- descends: would merging a into b change b? (no allocation) ------------------ */

/* The actor's counter in a sorted (actor, counter) table, 0 when absent. */
static uint64_t vv_get(const dyna_crdt_ctx_entry_t *v, size_t n, uint64_t actor) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (v[mid].actor < actor) lo = mid + 1;
    else hi = mid;
  }
  return lo < n && v[lo].actor == actor ? v[lo].counter : 0;
}

/* 1 when every entry of x is covered by y (per actor x's counter <= y's). */
static int vv_le(const dyna_crdt_ctx_entry_t *x, size_t nx, const dyna_crdt_ctx_entry_t *y, size_t ny) {
  for (size_t i = 0; i < nx; i++)
    if (vv_get(y, ny, x[i].actor) < x[i].counter) return 0;
  return 1;
}

/* 1 when merge_vals(B, b-side values bv, A, a-side values av) gives exactly bv: every
 * value of b survives as it is, and every value of a is b's or dropped. */
static int vals_kept(const dyna_crdt_t *B, const dyna_crdt_val_t *bv, size_t nb, const dyna_crdt_t *A,
                     const dyna_crdt_val_t *av, size_t na) {
  size_t i = 0, j = 0;
  while (i < nb || j < na) {
    int c = i >= nb ? 1 : j >= na ? -1 : crdt_dotcmp(bv[i].actor, bv[i].counter, av[j].actor, av[j].counter);
    if (c == 0) {
      if (val_order(&bv[i], &av[j]) < 0) return 0; /* a's value of that dot would win */
      i++;
      j++;
    } else if (c < 0) {
      if (crdt_covers(A, bv[i].actor, bv[i].counter)) return 0; /* a removed it */
      i++;
    } else {
      if (!crdt_covers(B, av[j].actor, av[j].counter)) return 0; /* b has not seen it */
      j++;
    }
  }
  return 1;
}

/* 1 when b's contributions win every actor a has. */
static int contrib_kept(const dyna_crdt_elem_t *x, const dyna_crdt_elem_t *y) {
  size_t i = 0;
  for (size_t j = 0; j < y->ncontrib; j++) {
    while (i < x->ncontrib && x->contrib[i].actor < y->contrib[j].actor) i++;
    if (i == x->ncontrib || x->contrib[i].actor != y->contrib[j].actor) return 0;
    if (contrib_order(&x->contrib[i], &y->contrib[j]) < 0) return 0;
  }
  return 1;
}

int dyna_crdt_descends(const dyna_crdt_t *b, const dyna_crdt_t *a) {
  if (a->type != b->type) return 0;
  if (dyna_crdt_bugs) { /* the deliberate bugs change the merge: ask it */
    dyna_crdt_t m;
    dyna_crdt_init(&m, b->type);
    int same = dyna_crdt_merged(&m, b, a) == 0 && dyna_crdt_equal(&m, b);
    dyna_crdt_clear(&m);
    return same;
  }
  if (!vv_le(a->ctx, a->nctx, b->ctx, b->nctx)) return 0;
  if (a->del_ms > b->del_ms || !vv_le(a->del, a->ndel, b->del, b->ndel)) return 0;
  if (!vals_kept(b, b->exp, b->nexp, a, a->exp, a->nexp)) return 0;
  size_t i = 0, j = 0;
  while (i < b->n || j < a->n) {
    const dyna_crdt_elem_t *x = i < b->n ? b->e[i] : NULL, *y = j < a->n ? a->e[j] : NULL;
    int c = !y ? -1 : !x ? 1 : crdt_keycmp(x->key, x->klen, y->key, y->klen);
    if (c == 0) {
      if (!vals_kept(b, x->vals, x->nvals, a, y->vals, y->nvals) || !contrib_kept(x, y)) return 0;
      i++;
      j++;
    } else if (c < 0) {
      if (!vals_kept(b, x->vals, x->nvals, a, NULL, 0)) return 0;
      i++;
    } else {
      if (y->ncontrib || !vals_kept(b, NULL, 0, a, y->vals, y->nvals)) return 0;
      j++;
    }
  }
  return 1;
}
