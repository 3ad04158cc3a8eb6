/* crdt_store.c: the building blocks every crdt*.c file shares (crdt_int.h): key and
 * dot order, the causal context (find, reserve, tick), the sorted element array,
 * dotted values and contributions, the rule that chooses a base, and the
 * supersede-with-base step of writes and removals. */
#include "core/crdt_int.h"
#include "util/alloc.h"
#include "util/assert.h"
#include <string.h>

/* ---- ordering and arithmetic ---------------------------------------------------- */

int crdt_keycmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
  size_t m = alen < blen ? alen : blen;
  int c = m ? memcmp(a, b, m) : 0;
  if (c) return c;
  return alen < blen ? -1 : alen > blen ? 1 : 0;
}

int crdt_dotcmp(uint64_t a1, uint64_t c1, uint64_t a2, uint64_t c2) {
  if (a1 != a2) return a1 < a2 ? -1 : 1;
  if (c1 != c2) return c1 < c2 ? -1 : 1;
  return 0;
}

double crdt_canon(double d) { return d == 0.0 ? 0.0 : d; }

int crdt_add_ovf(int64_t a, int64_t b, int64_t *out) {
  if ((b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b)) return 1;
  *out = a + b;
  return 0;
}

void crdt_val_free(dyna_crdt_val_t *v) {
  if (v->data) dyna_free(v->data);
  v->data = NULL;
}

void crdt_elem_free(dyna_crdt_elem_t *e) {
  if (!e) return;
  for (size_t j = 0; j < e->nvals; j++) crdt_val_free(&e->vals[j]);
  if (e->vals != &e->one) dyna_free(e->vals);
  if (e->contrib) dyna_free(e->contrib);
  dyna_free(e); /* the key with it */
}

void crdt_elem_take_vals(dyna_crdt_elem_t *e, dyna_crdt_val_t *v, size_t n, size_t cap) {
  DYNA_ASSERT(e->nvals == 0 && e->vals == &e->one, "element with %zu values", e->nvals);
  if (n == 1) {
    e->one = v[0];
    e->nvals = 1;
    return;
  }
  e->vals = v;
  e->nvals = n;
  e->vcap = cap;
}

/* ---- causal context ------------------------------------------------------------- */

long crdt_ctx_find(const dyna_crdt_t *s, uint64_t actor) {
  size_t lo = 0, hi = s->nctx;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->ctx[mid].actor < actor) lo = mid + 1;
    else hi = mid;
  }
  return (lo < s->nctx && s->ctx[lo].actor == actor) ? (long)lo : -1;
}

uint64_t dyna_crdt_ctx_get(const dyna_crdt_t *s, uint64_t actor) {
  long k = crdt_ctx_find(s, actor);
  return k < 0 ? 0 : s->ctx[k].counter;
}

int crdt_covers(const dyna_crdt_t *s, uint64_t actor, uint64_t counter) {
  return counter <= dyna_crdt_ctx_get(s, actor);
}

int crdt_ctx_reserve(dyna_crdt_t *s, uint64_t actor) {
  long k = crdt_ctx_find(s, actor);
  if (k >= 0) return s->ctx[k].counter == UINT64_MAX ? DYNA_ETOOBIG : 0;
  if (s->nctx >= DYNA_CRDT_MAX_ACTORS) return DYNA_ETOOBIG;
  if (s->nctx < s->ctxcap) return 0;
  size_t cap = s->ctxcap ? s->ctxcap * 2 : 4;
  dyna_crdt_ctx_entry_t *c = dyna_realloc(s->ctx, cap * sizeof(*c));
  if (!c) return DYNA_ENOMEM;
  s->ctx = c;
  s->ctxcap = cap;
  return 0;
}

uint64_t crdt_tick(dyna_crdt_t *s, uint64_t actor) {
  long k = crdt_ctx_find(s, actor);
  if (k >= 0) {
    DYNA_ASSERT(s->ctx[k].counter < UINT64_MAX, "actor %llx", (unsigned long long)actor);
    return ++s->ctx[k].counter;
  }
  DYNA_ASSERT(s->nctx < s->ctxcap, "tick without reserve: %zu/%zu", s->nctx, s->ctxcap);
  size_t pos = 0;
  while (pos < s->nctx && s->ctx[pos].actor < actor) pos++;
  memmove(&s->ctx[pos + 1], &s->ctx[pos], (s->nctx - pos) * sizeof(*s->ctx));
  s->ctx[pos].actor = actor;
  s->ctx[pos].counter = 1;
  s->nctx++;
  return 1;
}

/* ---- elements ------------------------------------------------------------------- */

int crdt_find(const dyna_crdt_t *s, const uint8_t *key, size_t klen, size_t *idx) {
  size_t lo = 0, hi = s->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = crdt_keycmp(s->e[mid]->key, s->e[mid]->klen, key, klen);
    if (c == 0) {
      *idx = mid;
      return 1;
    }
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  *idx = lo;
  return 0;
}

int crdt_elems_reserve(dyna_crdt_t *s) {
  if (s->n >= DYNA_CRDT_MAX_ELEMS) return DYNA_ETOOBIG;
  if (s->n < s->cap) return 0;
  size_t cap = s->cap ? s->cap * 2 : 4;
  dyna_crdt_elem_t **e = dyna_realloc(s->e, cap * sizeof(*e));
  if (!e) return DYNA_ENOMEM;
  s->e = e;
  s->cap = cap;
  return 0;
}

dyna_crdt_elem_t *crdt_elem_new(const uint8_t *key, size_t klen) {
  dyna_crdt_elem_t *e = dyna_malloc(sizeof(*e) + (klen ? klen : 1));
  if (!e) return NULL;
  memset(e, 0, sizeof(*e));
  e->key = (uint8_t *)(e + 1);
  if (klen) memcpy(e->key, key, klen);
  e->klen = klen;
  e->vals = &e->one;
  e->vcap = 1;
  return e;
}

void crdt_elem_insert(dyna_crdt_t *s, size_t idx, dyna_crdt_elem_t *e) {
  DYNA_ASSERT(s->n < s->cap && idx <= s->n, "insert at %zu of %zu (cap %zu)", idx, s->n, s->cap);
  memmove(&s->e[idx + 1], &s->e[idx], (s->n - idx) * sizeof(*s->e));
  s->e[idx] = e;
  s->n++;
}

void crdt_elem_remove(dyna_crdt_t *s, size_t idx) {
  DYNA_ASSERT(idx < s->n, "remove %zu of %zu", idx, s->n);
  crdt_elem_free(s->e[idx]);
  memmove(&s->e[idx], &s->e[idx + 1], (s->n - idx - 1) * sizeof(*s->e));
  s->n--;
}

int crdt_vals_reserve(dyna_crdt_elem_t *e, size_t extra) {
  if (e->nvals + extra <= e->vcap) return 0;
  size_t cap = e->vcap * 2 > e->nvals + extra ? e->vcap * 2 : e->nvals + extra;
  dyna_crdt_val_t *v;
  if (e->vals == &e->one) { /* leaving the inline slot */
    v = dyna_malloc(cap * sizeof(*v));
    if (v && e->nvals) v[0] = e->one;
  } else {
    v = dyna_realloc(e->vals, cap * sizeof(*v));
  }
  if (!v) return DYNA_ENOMEM;
  e->vals = v;
  e->vcap = cap;
  return 0;
}

int crdt_contrib_reserve(dyna_crdt_elem_t *e) {
  if (e->ncontrib < e->ccap) return 0;
  size_t cap = e->ccap ? e->ccap * 2 : 2;
  dyna_crdt_contrib_t *c = dyna_realloc(e->contrib, cap * sizeof(*c));
  if (!c) return DYNA_ENOMEM;
  e->contrib = c;
  e->ccap = cap;
  return 0;
}

void crdt_val_insert(dyna_crdt_elem_t *e, const dyna_crdt_val_t *v) {
  DYNA_ASSERT(e->nvals < e->vcap, "no room: %zu/%zu", e->nvals, e->vcap);
  size_t pos = e->nvals;
  while (pos > 0 && crdt_dotcmp(e->vals[pos - 1].actor, e->vals[pos - 1].counter, v->actor,
                                v->counter) > 0)
    pos--;
  memmove(&e->vals[pos + 1], &e->vals[pos], (e->nvals - pos) * sizeof(*e->vals));
  e->vals[pos] = *v;
  e->nvals++;
}

void crdt_val_remove(dyna_crdt_elem_t *e, size_t j) {
  DYNA_ASSERT(j < e->nvals, "value %zu of %zu", j, e->nvals);
  crdt_val_free(&e->vals[j]);
  memmove(&e->vals[j], &e->vals[j + 1], (e->nvals - j - 1) * sizeof(*e->vals));
  e->nvals--;
}

void crdt_drop_vals(dyna_crdt_elem_t *e) {
  for (size_t j = 0; j < e->nvals; j++) crdt_val_free(&e->vals[j]);
  e->nvals = 0;
}

void crdt_drop_markers(dyna_crdt_elem_t *e) {
  size_t k = 0;
  for (size_t j = 0; j < e->nvals; j++) {
    if (e->vals[j].flags == DYNA_CRDT_F_LIVE) crdt_val_free(&e->vals[j]);
    else e->vals[k++] = e->vals[j];
  }
  e->nvals = k;
}

int crdt_elem_live(const dyna_crdt_elem_t *e) {
  for (size_t j = 0; j < e->nvals; j++)
    if (e->vals[j].flags & DYNA_CRDT_F_LIVE) return 1;
  return 0;
}

/* 1 when a ranks above b as a base: LIVE, then ts, then (counter, actor). */
static int base_above(const dyna_crdt_val_t *a, const dyna_crdt_val_t *b) {
  int la = (a->flags & DYNA_CRDT_F_LIVE) != 0, lb = (b->flags & DYNA_CRDT_F_LIVE) != 0;
  if (la != lb) return la > lb;
  if (a->ts != b->ts) return a->ts > b->ts;
  if (a->counter != b->counter) return a->counter > b->counter;
  return a->actor > b->actor;
}

const dyna_crdt_val_t *crdt_chosen(const dyna_crdt_elem_t *e) {
  const dyna_crdt_val_t *best = NULL;
  for (size_t j = 0; j < e->nvals; j++) {
    const dyna_crdt_val_t *v = &e->vals[j];
    if (!(v->flags & DYNA_CRDT_F_BASE)) continue;
    if (!best || base_above(v, best)) best = v;
  }
  return best;
}

void crdt_contrib_sum(const dyna_crdt_elem_t *e, int64_t *i, double *d, int *overflow) {
  int64_t si = 0;
  double sd = 0;
  int ovf = 0;
  for (size_t j = 0; j < e->ncontrib; j++) {
    if (!ovf && crdt_add_ovf(si, e->contrib[j].i, &si)) {
      ovf = 1;
      si = e->contrib[j].i > 0 ? INT64_MAX : INT64_MIN;
    }
    sd += e->contrib[j].d;
  }
  *i = si;
  *d = crdt_canon(sd);
  *overflow = ovf;
}

dyna_crdt_contrib_t *crdt_contrib_find(dyna_crdt_elem_t *e, uint64_t actor) {
  for (size_t j = 0; j < e->ncontrib; j++)
    if (e->contrib[j].actor == actor) return &e->contrib[j];
  return NULL;
}

void crdt_contrib_set(dyna_crdt_elem_t *e, uint64_t actor, uint64_t seq, int64_t i, double d) {
  dyna_crdt_contrib_t *c = crdt_contrib_find(e, actor);
  if (!c) {
    DYNA_ASSERT(e->ncontrib < e->ccap, "no room: %zu/%zu", e->ncontrib, e->ccap);
    size_t pos = e->ncontrib;
    while (pos > 0 && e->contrib[pos - 1].actor > actor) pos--;
    memmove(&e->contrib[pos + 1], &e->contrib[pos], (e->ncontrib - pos) * sizeof(*e->contrib));
    e->ncontrib++;
    c = &e->contrib[pos];
    c->actor = actor;
    c->seq = 0;
  }
  DYNA_ASSERT(seq > c->seq, "seq %llu after %llu",
              (unsigned long long)seq, (unsigned long long)c->seq);
  c->seq = seq;
  c->i = i;
  c->d = crdt_canon(d);
}

void crdt_put_base(dyna_crdt_elem_t *e, uint64_t actor, uint64_t counter, uint8_t flags,
                   uint64_t ts, int64_t ti, double td, uint8_t *v_data, size_t v_len) {
  int64_t si;
  double sd;
  int ovf;
  crdt_contrib_sum(e, &si, &sd, &ovf);
  int64_t bi = 0;
  /* ti - si; when it does not fit the base saturates (documented in crdt.h) */
  if (si == INT64_MIN || crdt_add_ovf(ti, -si, &bi)) bi = ti >= 0 ? INT64_MAX : INT64_MIN;
  double bd = crdt_canon(td - sd);
  if (bd != bd) bd = 0.0; /* only from inf - inf: the callers refuse that case */
  dyna_crdt_val_t v = {actor, counter, (uint8_t)(flags | DYNA_CRDT_F_BASE), ts, bi, bd,
                       v_data, v_len};
  if (bi) v.flags |= DYNA_CRDT_F_INT;
  if (bd != 0.0) v.flags |= DYNA_CRDT_F_DBL;
  if (!(v.flags & DYNA_CRDT_F_TS)) v.ts = 0;
  crdt_drop_vals(e);
  crdt_val_insert(e, &v);
}

void crdt_remove_observed(dyna_crdt_t *s, size_t idx, uint64_t actor, uint64_t counter) {
  dyna_crdt_elem_t *e = s->e[idx];
  if (e->ncontrib == 0) {
    crdt_elem_remove(s, idx);
    return;
  }
  DYNA_ASSERT(counter > 0, "residue needs a dot (element with %zu contributions)", e->ncontrib);
  crdt_put_base(e, actor, counter, 0, 0, 0, 0.0, NULL, 0);
}

