/* object.c: the versioned-object core, a DVVSet (see object.h for the model and the
 * encodings).
 *
 * Every change (merge, update) is computed in two phases so that a failed allocation
 * leaves the destination exactly as it was:
 *
 *   plan      walk both clocks in node order and decide, per resulting entry, its
 *             counter and how many values it keeps (pure arithmetic, see sync_entry);
 *   build     allocate the new entry and value arrays and copy the value bytes that
 *             come from the other side or from the caller; on failure free only these;
 *   commit    (cannot fail) move the kept values of the destination into the new
 *             arrays, free its dropped values and old arrays, install the new arrays.
 *
 * Values are moved, never copied, out of the destination, so an update costs one copy
 * of the new value plus O(entries + siblings) bookkeeping.
 *
 * Merging two entries of the same node, (N1, L1) and (N2, L2): side s holds the dots
 * (Ns - |Ls|, Ns]; it has seen and dropped every dot <= Ns - |Ls|. A dot survives iff
 * neither side dropped it, so the result holds exactly the dots (lo, hi] with
 * lo = max(N1 - |L1|, N2 - |L2|) and hi = max(N1, N2); each of them is held by the
 * side with the greater counter, and values with the same dot are the same value. */
#include "core/object_int.h"
#include "util/err.h"
#include "util/alloc.h"
#include "util/assert.h"
#include <string.h>

#define CTX_VERSION 1
#define ENTRY_MIN_BYTES 10 /* u64 node + 1-byte counter + 1-byte n_values */
#define VALUE_MIN_BYTES 3  /* flags + 1-byte ts + 1-byte length */
#define CTX_ENTRY_MIN_BYTES 9

/* ---- small helpers ------------------------------------------------------------ */

void dyna_obj_init(dyna_obj_t *o) {
  o->n = 0;
  o->e = NULL;
  o->ntyped = 0;
  o->typed = NULL;
}

/* Frees the value bytes and arrays of n entries, then the entry array itself. */
static void free_entries(dyna_dvv_entry_t *e, size_t n) {
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j < e[i].nvals; j++) dyna_free(e[i].vals[j].data);
    dyna_free(e[i].vals);
  }
  dyna_free(e);
}

void dyna_obj_clear(dyna_obj_t *o) {
  if (!o->e && !o->typed) { /* empty (a state machine clears several per request) */
    DYNA_ASSERT(o->n == 0 && o->ntyped == 0, "object without arrays claims %zu entries, %zu typed states",
                o->n, o->ntyped);
    return;
  }
  free_entries(o->e, o->n);
  dyna_obj_typed_free(o->typed, o->ntyped);
  dyna_obj_init(o);
}

/* Replaces o's typed states with (t, n), freeing the old ones. Cannot fail. */
static void typed_install(dyna_obj_t *o, dyna_crdt_t *t, size_t n) {
  dyna_obj_typed_free(o->typed, o->ntyped);
  o->typed = t;
  o->ntyped = n;
}

/* Replaces o's contents with (e, n), freeing the old ones. Cannot fail. */
static void obj_install(dyna_obj_t *o, dyna_dvv_entry_t *e, size_t n) {
  free_entries(o->e, o->n);
  o->e = e;
  o->n = n;
}

/* Deep-copies one value into dst. Returns 0 or DYNA_ENOMEM (dst->data then NULL). */
static int val_copy(dyna_val_t *dst, const dyna_val_t *src) {
  dst->flags = src->flags;
  dst->ts_ms = src->ts_ms;
  dst->len = src->len;
  dst->data = NULL;
  if (src->len == 0) return 0;
  dst->data = dyna_memdup(src->data, src->len);
  return dst->data ? 0 : DYNA_ENOMEM;
}

static int val_equal(const dyna_val_t *a, const dyna_val_t *b) {
  if (a->flags != b->flags || a->ts_ms != b->ts_ms || a->len != b->len) return 0;
  return a->len == 0 || memcmp(a->data, b->data, a->len) == 0;
}

/* 1 when entry e holds the value with dot (e->node, dot). */
static int entry_holds(const dyna_dvv_entry_t *e, uint64_t dot) {
  return dot <= e->counter && dot > e->counter - e->nvals;
}

/* ---- copy, equality, accessors ------------------------------------------------- */

/* Deep copy. Cost O(entries + siblings + value bytes). 0 or DYNA_ENOMEM. */
int dyna_obj_copy(dyna_obj_t *dst, const dyna_obj_t *src) {
  if (dst == src) return 0;
  dyna_dvv_entry_t *e = NULL;
  dyna_crdt_t *t = NULL;
  if (dyna_obj_typed_copy(src->typed, src->ntyped, &t)) return DYNA_ENOMEM;
  if (src->n > 0) {
    e = dyna_calloc(src->n, sizeof(*e));
    if (!e) {
      dyna_obj_typed_free(t, src->ntyped);
      return DYNA_ENOMEM;
    }
  }
  for (size_t i = 0; i < src->n; i++) {
    const dyna_dvv_entry_t *s = &src->e[i];
    e[i].node = s->node;
    e[i].counter = s->counter;
    if (s->nvals == 0) continue;
    e[i].vals = dyna_calloc(s->nvals, sizeof(dyna_val_t));
    if (!e[i].vals) goto fail;
    e[i].nvals = s->nvals;
    for (size_t j = 0; j < s->nvals; j++)
      if (val_copy(&e[i].vals[j], &s->vals[j])) goto fail;
  }
  obj_install(dst, e, src->n);
  typed_install(dst, t, src->ntyped);
  return 0;
fail:
  free_entries(e, src->n);
  dyna_obj_typed_free(t, src->ntyped);
  return DYNA_ENOMEM;
}

/* 1 when a and b have the same entries, counters and values (bytes, flags, ts). */
int dyna_obj_equal(const dyna_obj_t *a, const dyna_obj_t *b) {
  if (a->n != b->n || !dyna_obj_typed_equal(a, b)) return 0;
  for (size_t i = 0; i < a->n; i++) {
    const dyna_dvv_entry_t *x = &a->e[i], *y = &b->e[i];
    if (x->node != y->node || x->counter != y->counter || x->nvals != y->nvals) return 0;
    for (size_t j = 0; j < x->nvals; j++)
      if (!val_equal(&x->vals[j], &y->vals[j])) return 0;
  }
  return 1;
}

size_t dyna_obj_nvals(const dyna_obj_t *o) {
  size_t n = 0;
  for (size_t i = 0; i < o->n; i++) n += o->e[i].nvals;
  return n;
}

size_t dyna_obj_nlive(const dyna_obj_t *o) {
  size_t n = 0;
  for (size_t i = 0; i < o->n; i++)
    for (size_t j = 0; j < o->e[i].nvals; j++)
      n += !(o->e[i].vals[j].flags & DYNA_VAL_TOMBSTONE);
  return n;
}

/* O(entries). */
const dyna_val_t *dyna_obj_val(const dyna_obj_t *o, size_t i) {
  for (size_t k = 0; k < o->n; k++) {
    if (i < o->e[k].nvals) return &o->e[k].vals[i];
    i -= o->e[k].nvals;
  }
  return NULL;
}

/* 1 when (ts_a, node_a, dot_a) is written after (ts_b, node_b, dot_b). */
static int written_after(uint64_t ts_a, uint64_t node_a, uint64_t dot_a, uint64_t ts_b,
                         uint64_t node_b, uint64_t dot_b) {
  if (ts_a != ts_b) return ts_a > ts_b;
  if (node_a != node_b) return node_a > node_b;
  return dot_a > dot_b;
}

/* O(entries + siblings). */
const dyna_val_t *dyna_obj_latest(const dyna_obj_t *o) {
  const dyna_val_t *best = NULL;
  uint64_t best_node = 0, best_dot = 0;
  for (size_t i = 0; i < o->n; i++) {
    const dyna_dvv_entry_t *e = &o->e[i];
    for (size_t j = 0; j < e->nvals; j++) {
      const dyna_val_t *v = &e->vals[j];
      uint64_t dot = e->counter - j;
      if (v->flags & DYNA_VAL_TOMBSTONE) continue;
      if (best && !written_after(v->ts_ms, e->node, dot, best->ts_ms, best_node, best_dot))
        continue;
      best = v;
      best_node = e->node;
      best_dot = dot;
    }
  }
  return best;
}

/* ---- sync: plan, build, commit -------------------------------------------------- */

/* One entry of a result, decided before any value is touched. Value i of the result
 * has dot counter - i; the first one is the caller's new value when `fresh`. */
typedef struct plan {
  uint64_t node;
  uint64_t counter;
  size_t nvals;
  dyna_dvv_entry_t *self;        /* the destination's entry for node, or NULL */
  const dyna_dvv_entry_t *other; /* the other side's entry for node, or NULL */
  int fresh;
} plan_t;

/* Counter and number of kept values of the merge of a and b (either may be NULL). */
static void sync_entry(plan_t *p, const dyna_dvv_entry_t *a, const dyna_dvv_entry_t *b) {
  if (!a || !b) {
    const dyna_dvv_entry_t *x = a ? a : b;
    p->counter = x->counter;
    p->nvals = x->nvals;
    return;
  }
  uint64_t lo_a = a->counter - a->nvals, lo_b = b->counter - b->nvals;
  uint64_t hi = a->counter > b->counter ? a->counter : b->counter;
  uint64_t lo = lo_a > lo_b ? lo_a : lo_b;
  p->counter = hi;
  p->nvals = (size_t)(hi - lo);
}

/* Fills plan (room for o->n + on + 1 entries) with the merge of o and the entries
 * (oe, on), both sorted by node; when `event`, node `ev_node` then gets one more dot
 * for a new value. Returns the number of plan entries, or 0 with *err set to
 * DYNA_ETOOBIG when the result would exceed the decoder limits or a counter would
 * overflow. Cost O(o->n + on). */
static size_t plan_sync(plan_t *plan, dyna_obj_t *o, const dyna_dvv_entry_t *oe,
                        size_t on, int event, uint64_t ev_node, int *err) {
  size_t i = 0, j = 0, n = 0, vals = 0;
  int placed = !event;
  while (i < o->n || j < on || !placed) {
    uint64_t node_s = i < o->n ? o->e[i].node : UINT64_MAX;
    uint64_t node_o = j < on ? oe[j].node : UINT64_MAX;
    uint64_t node = node_s < node_o ? node_s : node_o;
    int have = i < o->n || j < on;
    plan_t *p = &plan[n++];
    memset(p, 0, sizeof(*p));
    if (!placed && (!have || ev_node < node)) { /* new coordinator: (node, 0, []) */
      p->node = ev_node;
    } else {
      p->node = node;
      if (i < o->n && node_s == node) p->self = &o->e[i++];
      if (j < on && node_o == node) p->other = &oe[j++];
      sync_entry(p, p->self, p->other);
    }
    if (!placed && p->node == ev_node) {
      if (p->counter == UINT64_MAX) goto too_big;
      p->counter++;
      p->nvals++;
      p->fresh = 1;
      placed = 1;
    }
    vals += p->nvals;
  }
  if (n > DYNA_OBJ_MAX_ENTRIES || vals > DYNA_OBJ_MAX_VALUES) goto too_big;
  return n;
too_big:
  *err = DYNA_ETOOBIG;
  return 0;
}

/* A total order of values (flags, stamp, length, bytes), for the one case where both
 * sides hold one dot with different values. A dot names one write, so this happens only
 * with damaged or forged input; choosing by the order keeps the merge commutative there
 * too, so replicas that met such input still converge (found by fuzz_object). */
static int val_order(const dyna_val_t *a, const dyna_val_t *b) {
  if (a->flags != b->flags) return a->flags < b->flags ? -1 : 1;
  if (a->ts_ms != b->ts_ms) return a->ts_ms < b->ts_ms ? -1 : 1;
  if (a->len != b->len) return a->len < b->len ? -1 : 1;
  return a->len ? memcmp(a->data, b->data, a->len) : 0;
}

/* 1 when the result's value of dot comes from the other side although the destination
 * holds that dot too (see val_order). */
static int other_wins(const plan_t *p, uint64_t dot) {
  if (!p->self || !p->other || !entry_holds(p->self, dot) || !entry_holds(p->other, dot))
    return 0;
  return val_order(&p->other->vals[p->other->counter - dot],
                   &p->self->vals[p->self->counter - dot]) > 0;
}

/* Allocates the result arrays of plan and copies the values that do not come from
 * the destination (those are moved in by commit). Returns 0 or DYNA_ENOMEM (then
 * nothing stays allocated). */
static int build(const plan_t *plan, size_t n, const dyna_val_t *fresh_val,
                 dyna_dvv_entry_t **out) {
  dyna_dvv_entry_t *e = NULL;
  if (n > 0 && !(e = dyna_calloc(n, sizeof(*e)))) return DYNA_ENOMEM;
  for (size_t k = 0; k < n; k++) {
    const plan_t *p = &plan[k];
    e[k].node = p->node;
    e[k].counter = p->counter;
    if (p->nvals == 0) continue;
    if (!(e[k].vals = dyna_calloc(p->nvals, sizeof(dyna_val_t)))) goto fail;
    e[k].nvals = p->nvals;
    for (size_t i = 0; i < p->nvals; i++) {
      uint64_t dot = p->counter - i;
      const dyna_val_t *src;
      if (p->fresh && i == 0) src = fresh_val;
      else if (p->self && entry_holds(p->self, dot) && !other_wins(p, dot))
        continue; /* moved by commit */
      else src = &p->other->vals[p->other->counter - dot];
      if (val_copy(&e[k].vals[i], src)) goto fail;
    }
  }
  *out = e;
  return 0;
fail: /* values to be moved are still NULL: this frees only our copies */
  free_entries(e, n);
  return DYNA_ENOMEM;
}

/* Moves the destination's kept values into e, frees its dropped ones and installs e.
 * Cannot fail. */
static void commit(dyna_obj_t *o, const plan_t *plan, size_t n, dyna_dvv_entry_t *e) {
  for (size_t k = 0; k < n; k++) {
    dyna_dvv_entry_t *s = plan[k].self;
    if (!s) continue;
    uint64_t lo = plan[k].counter - plan[k].nvals;
    for (size_t j = 0; j < s->nvals; j++) {
      uint64_t dot = s->counter - j;
      if (dot > lo && !other_wins(&plan[k], dot)) {
        e[k].vals[plan[k].counter - dot] = s->vals[j];
        s->vals[j].data = NULL; /* ownership moved */
      }
    }
  }
  obj_install(o, e, n);
}

#define SYNC_STACK_PLAN 16

/* o := sync(o, (oe, on)), then an event for ev_node with value v when `event`. */
static int sync_into(dyna_obj_t *o, const dyna_dvv_entry_t *oe, size_t on, int event,
                     uint64_t ev_node, const dyna_val_t *v) {
  int err = 0;
  size_t cap = o->n + on + 1;
  plan_t small[SYNC_STACK_PLAN]; /* the common case: a few coordinators, no allocation */
  plan_t *plan = small;
  if (cap > SYNC_STACK_PLAN && !(plan = dyna_calloc(cap, sizeof(*plan)))) return DYNA_ENOMEM;
  size_t n = plan_sync(plan, o, oe, on, event, ev_node, &err);
  dyna_dvv_entry_t *e = NULL;
  if (!err) err = build(plan, n, v, &e);
  if (!err) commit(o, plan, n, e);
  if (plan != small) dyna_free(plan);
  return err;
}

/* Cost O(entries + siblings + bytes copied from other). Returns 0, DYNA_ENOMEM or
 * DYNA_ETOOBIG; o unchanged on error. other may be o. */
int dyna_obj_merge(dyna_obj_t *o, const dyna_obj_t *other) {
  if (o == other) return 0; /* sync is idempotent */
  if (other->ntyped == 0) return sync_into(o, other->e, other->n, 0, 0, NULL);
  /* The typed part is merged aside first, so that o stays unchanged on any error. */
  dyna_crdt_t *t;
  size_t nt;
  int err = dyna_obj_typed_merged(o, other, &t, &nt);
  if (!err) err = sync_into(o, other->e, other->n, 0, 0, NULL);
  if (err) {
    if (!t) return err;
    dyna_obj_typed_free(t, nt);
    return err;
  }
  typed_install(o, t, nt);
  return 0;
}

/* 1 when c is sorted strictly by node with positive counters. */
static int ctx_valid(const dyna_ctx_t *c) {
  for (size_t i = 0; i < c->n; i++) {
    if (c->e[i].counter == 0) return 0;
    if (i > 0 && c->e[i].node <= c->e[i - 1].node) return 0;
  }
  return 1;
}

/* 0 for a value a write may carry; else DYNA_EINVAL (unknown flag bits, or NULL data
 * with len > 0) or DYNA_ETOOBIG (over DYNA_VAL_MAX_BYTES). */
static int val_refused(const dyna_val_t *v) {
  if (v->flags & ~DYNA_VAL_TOMBSTONE) return DYNA_EINVAL;
  if (v->len > 0 && !v->data) return DYNA_EINVAL;
  if (v->len > DYNA_VAL_MAX_BYTES) return DYNA_ETOOBIG;
  return 0;
}

/* Cost O(entries + siblings + v->len). Returns 0, DYNA_ENOMEM, DYNA_EINVAL (unknown
 * flag bits, or NULL data with len > 0), DYNA_ECONTEXT (ctx not sorted or a zero
 * counter) or DYNA_ETOOBIG (value or result over a limit); o unchanged on error. */
int dyna_obj_update(dyna_obj_t *o, const dyna_ctx_t *ctx, uint64_t node,
                    const dyna_val_t *v) {
  int refused = val_refused(v);
  if (refused) return refused;
  size_t cn = ctx ? ctx->n : 0;
  if (cn == 0) return sync_into(o, NULL, 0, 1, node, v);
  if (!ctx_valid(ctx)) return DYNA_ECONTEXT;
  if (cn > DYNA_OBJ_MAX_ENTRIES) return DYNA_ETOOBIG;
  /* The context as a clock: the same counters, no values. */
  dyna_dvv_entry_t *ce = dyna_calloc(cn, sizeof(*ce));
  if (!ce) return DYNA_ENOMEM;
  for (size_t i = 0; i < cn; i++) {
    ce[i].node = ctx->e[i].node;
    ce[i].counter = ctx->e[i].counter;
  }
  int err = sync_into(o, ce, cn, 1, node, v);
  dyna_free(ce);
  return err;
}

/* A blind write on a clock: o has no values and no typed states, so its context covers
 * every dot it holds and the update keeps each entry's counter with no value, node's
 * advanced by one with v its only value (a new entry, in order, when o has none for
 * node). The same result and errors as dyna_obj_update with that context, without
 * making the context, a merge plan or new arrays for the other entries. Cost O(entries +
 * v->len); two allocations (three for a new entry). */
static int update_clock(dyna_obj_t *o, uint64_t node, const dyna_val_t *v) {
  size_t at = 0;
  while (at < o->n && o->e[at].node < node) at++;
  int have = at < o->n && o->e[at].node == node;
  if (have && o->e[at].counter == UINT64_MAX) return DYNA_ETOOBIG;
  if (o->n + !have > DYNA_OBJ_MAX_ENTRIES) return DYNA_ETOOBIG;
  dyna_val_t *vals = dyna_calloc(1, sizeof(*vals));
  if (!vals || val_copy(vals, v)) {
    dyna_free(vals);
    return DYNA_ENOMEM;
  }
  if (!have) {
    dyna_dvv_entry_t *e = dyna_realloc(o->e, (o->n + 1) * sizeof(*e));
    if (!e) {
      dyna_free(vals->data);
      dyna_free(vals);
      return DYNA_ENOMEM;
    }
    memmove(&e[at + 1], &e[at], (o->n - at) * sizeof(*e));
    e[at] = (dyna_dvv_entry_t){node, 0, 0, NULL};
    o->e = e;
    o->n++;
  }
  o->e[at].counter++;
  o->e[at].nvals = 1;
  o->e[at].vals = vals;
  return 0;
}

int dyna_obj_update_blind(dyna_obj_t *o, uint64_t node, const dyna_val_t *v) {
  int refused = val_refused(v);
  if (refused) return refused;
  int clock = !o->ntyped;
  for (size_t i = 0; i < o->n && clock; i++) clock = o->e[i].nvals == 0;
  if (clock) return update_clock(o, node, v);
  dyna_ctx_t known;
  dyna_ctx_init(&known);
  int rc = dyna_obj_context(o, &known);
  if (!rc) rc = dyna_obj_update(o, &known, node, v);
  dyna_ctx_clear(&known);
  return rc;
}

/* 1 when merging a into b leaves b unchanged: for every entry (N, L) of a, b has an
 * entry (N', L') of the same node with N' >= N and N' - |L'| >= N - |L| (b has seen
 * every dot a has seen, and dropped every dot a dropped). O(entries). */
int dyna_obj_descends(const dyna_obj_t *b, const dyna_obj_t *a) {
  if (!dyna_obj_typed_descends(b, a)) return 0;
  size_t j = 0;
  for (size_t i = 0; i < a->n; i++) {
    const dyna_dvv_entry_t *x = &a->e[i];
    while (j < b->n && b->e[j].node < x->node) j++;
    if (j == b->n || b->e[j].node != x->node) return 0;
    const dyna_dvv_entry_t *y = &b->e[j];
    if (y->counter < x->counter) return 0;
    if (y->counter - y->nvals < x->counter - x->nvals) return 0;
  }
  return 1;
}

/* ---- contexts ------------------------------------------------------------------ */

void dyna_ctx_init(dyna_ctx_t *c) {
  c->n = 0;
  c->e = NULL;
}

void dyna_ctx_clear(dyna_ctx_t *c) {
  dyna_free(c->e);
  dyna_ctx_init(c);
}

/* Replaces c's contents with (e, n). Cannot fail. */
static void ctx_install(dyna_ctx_t *c, dyna_vv_entry_t *e, size_t n) {
  dyna_free(c->e);
  c->e = e;
  c->n = n;
}

/* O(entries). Returns 0 or DYNA_ENOMEM (out unchanged). */
int dyna_obj_context(const dyna_obj_t *o, dyna_ctx_t *out) {
  dyna_vv_entry_t *e = NULL;
  if (o->n > 0 && !(e = dyna_calloc(o->n, sizeof(*e)))) return DYNA_ENOMEM;
  for (size_t i = 0; i < o->n; i++) {
    e[i].node = o->e[i].node;
    e[i].counter = o->e[i].counter;
  }
  ctx_install(out, e, o->n);
  return 0;
}

int dyna_obj_context_of(const uint8_t *p, size_t len, dyna_ctx_t *out) {
  dyna_obj_t clock;
  dyna_obj_init(&clock);
  dyna_obj_info_t info;
  int rc = dyna_obj_decode_clock(p, len, &clock, &info);
  if (!rc) rc = dyna_obj_context(&clock, out);
  dyna_obj_clear(&clock);
  return rc;
}

/* ---- encodings ----------------------------------------------------------------- */

/* 1 when the varint read from start to end is longer than its value needs: a varint of
 * more than one byte whose last byte is zero (it adds no bits). */
static int varint_padded(const dyna_rd_t *r, size_t start, size_t end) {
  return end - start > 1 && r->p[end - 1] == 0;
}

/* Reads a varint and rejects non-minimal encodings, so that decoding is the exact
 * inverse of encoding (canonical bytes). */
uint64_t dyna_obj_rd_varint(dyna_rd_t *r) {
  size_t start = r->off;
  uint64_t v = dyna_rd_varint(r);
  if (!r->err && varint_padded(r, start, r->off)) r->err = DYNA_ECORRUPT;
  return v;
}

/* An upper bound of the encoded size of o (varints counted at their longest). */
static size_t encode_bound(const dyna_obj_t *o) {
  size_t n = 1 + 10;
  for (size_t i = 0; i < o->n; i++) {
    const dyna_dvv_entry_t *e = &o->e[i];
    n += 8 + 10 + 10;
    for (size_t j = 0; j < e->nvals; j++) n += 1 + 10 + 10 + e->vals[j].len;
  }
  return n;
}

void dyna_obj_encode(const dyna_obj_t *o, dyna_buf_t *out) {
  /* One allocation up front instead of a growth per field; the bytes do not change. */
  if (dyna_buf_reserve(out, encode_bound(o))) return;
  dyna_buf_put_u8(out, o->ntyped ? OBJ_VERSION_TYPED : OBJ_VERSION);
  dyna_buf_put_varint(out, o->n);
  for (size_t i = 0; i < o->n; i++) {
    const dyna_dvv_entry_t *e = &o->e[i];
    dyna_buf_put_u64le(out, e->node);
    dyna_buf_put_varint(out, e->counter);
    dyna_buf_put_varint(out, e->nvals);
    for (size_t j = 0; j < e->nvals; j++) {
      dyna_buf_put_u8(out, e->vals[j].flags);
      dyna_buf_put_varint(out, e->vals[j].ts_ms);
      dyna_buf_put_bytes(out, e->vals[j].data, e->vals[j].len);
    }
  }
  if (o->ntyped) dyna_obj_typed_encode(o, out);
}

/* Decodes one value into v (zeroed); with copy 0 (checking only) its bytes are not
 * copied. Returns 0, DYNA_ECORRUPT or DYNA_ENOMEM. */
static int decode_val(dyna_rd_t *r, dyna_val_t *v, int copy) {
  size_t len;
  v->flags = dyna_rd_u8(r);
  v->ts_ms = dyna_obj_rd_varint(r);
  size_t start = r->off;
  const uint8_t *p = dyna_rd_bytes(r, DYNA_VAL_MAX_BYTES, &len);
  if (!r->err && varint_padded(r, start, r->off - len)) r->err = DYNA_ECORRUPT; /* the length's bytes */
  if (r->err || (v->flags & ~DYNA_VAL_TOMBSTONE)) return DYNA_ECORRUPT;
  v->len = len;
  if (!copy) v->data = (uint8_t *)(uintptr_t)p; /* borrowed from the input, never written */
  else if (len > 0 && !(v->data = dyna_memdup(p, len))) return DYNA_ENOMEM;
  return 0;
}

/* How obj_decode walks the values it does not keep: for the clock alone (entries built
 * without their values), and what it tracks of them for dyna_obj_scan (info), among
 * which the last written live value so far (ts, node, dot). */
typedef struct latest {
  int clock;             /* decoding (dyna_obj_decode_clock): entries without their values */
  dyna_obj_info_t *info; /* NULL: plain check, nothing tracked */
  const uint8_t *base;   /* the input, for offsets */
  uint64_t ts, node, dot;
} latest_t;

static void latest_see(latest_t *l, uint64_t node, uint64_t dot, const dyna_val_t *v) {
  dyna_obj_info_t *in = l->info;
  if (!in) return;
  in->nvals++;
  if (v->flags & DYNA_VAL_TOMBSTONE) return;
  if (in->has_latest && !written_after(v->ts_ms, node, dot, l->ts, l->node, l->dot)) return;
  in->has_latest = 1;
  in->latest_off = (size_t)(v->data - l->base);
  in->latest_len = v->len;
  l->ts = v->ts_ms;
  l->node = node;
  l->dot = dot;
}

/* Decodes one entry into e (zeroed); prev is the previous entry's node (or NULL for
 * the first). *nvals_total counts values so far. Checks counts against the bytes
 * left before allocating. Returns 0, DYNA_ECORRUPT or DYNA_ENOMEM. */
static int decode_entry(dyna_rd_t *r, dyna_dvv_entry_t *e, const uint64_t *prev,
                        size_t *nvals_total, int copy, latest_t *l) {
  e->node = dyna_rd_u64le(r);
  e->counter = dyna_obj_rd_varint(r);
  uint64_t nv = dyna_obj_rd_varint(r);
  if (r->err || e->counter == 0 || nv > e->counter) return DYNA_ECORRUPT;
  if (prev && e->node <= *prev) return DYNA_ECORRUPT;
  if (nv > DYNA_OBJ_MAX_VALUES - *nvals_total) return DYNA_ECORRUPT;
  if (nv > dyna_rd_left(r) / VALUE_MIN_BYTES) return DYNA_ECORRUPT;
  *nvals_total += (size_t)nv;
  if (nv == 0) return 0;
  if (!copy) { /* checking only: nothing kept */
    for (uint64_t j = 0; j < nv; j++) {
      dyna_val_t v = {0, 0, NULL, 0};
      int err = decode_val(r, &v, 0);
      if (err) return err;
      latest_see(l, e->node, e->counter - j, &v);
    }
    return 0;
  }
  if (!(e->vals = dyna_calloc((size_t)nv, sizeof(dyna_val_t)))) return DYNA_ENOMEM;
  e->nvals = (size_t)nv;
  for (size_t j = 0; j < e->nvals; j++) {
    int err = decode_val(r, &e->vals[j], 1);
    if (err) return err;
  }
  return 0;
}

/* With o NULL, checks only (dyna_obj_check); with l->clock, builds o's entries and typed
 * states but walks the values as a check does (dyna_obj_decode_clock). Tracks what
 * l->info asks for (dyna_obj_scan). Cost O(len). */
static int obj_decode(const uint8_t *p, size_t len, dyna_obj_t *o, latest_t *l) {
  dyna_rd_t r;
  dyna_rd_init(&r, p, len);
  uint8_t version = dyna_rd_u8(&r);
  uint64_t n = dyna_obj_rd_varint(&r);
  if (r.err || (version != OBJ_VERSION && version != OBJ_VERSION_TYPED) || n > DYNA_OBJ_MAX_ENTRIES)
    return DYNA_ECORRUPT;
  if (n > dyna_rd_left(&r) / ENTRY_MIN_BYTES) return DYNA_ECORRUPT;
  dyna_dvv_entry_t *e = NULL, one;
  if (o && n > 0 && !(e = dyna_calloc((size_t)n, sizeof(*e)))) return DYNA_ENOMEM;
  size_t total = 0;
  int err = 0;
  uint64_t prev = 0;
  for (size_t i = 0; i < n && !err; i++) {
    dyna_dvv_entry_t *cur = o ? &e[i] : &one;
    err = decode_entry(&r, cur, i ? &prev : NULL, &total, o != NULL && !l->clock, l);
    prev = cur->node;
  }
  dyna_crdt_t *t = NULL;
  size_t nt = 0;
  if (!err && version == OBJ_VERSION_TYPED) err = o ? dyna_obj_typed_decode(&r, &t, &nt) : dyna_obj_typed_check(&r);
  if (l->info) l->info->typed = version == OBJ_VERSION_TYPED;
  if (!o) return err ? err : dyna_rd_left(&r) != 0 ? DYNA_ECORRUPT : 0;
  if (!err && dyna_rd_left(&r) != 0) err = DYNA_ECORRUPT;
  if (err) {
    free_entries(e, (size_t)n);
    dyna_obj_typed_free(t, nt);
    return err;
  }
  obj_install(o, e, (size_t)n);
  typed_install(o, t, nt);
  return 0;
}

int dyna_obj_decode_clock(const uint8_t *p, size_t len, dyna_obj_t *o, dyna_obj_info_t *info) {
  dyna_obj_info_t got = {0};
  latest_t l = {1, &got, p, 0, 0, 0};
  int rc = obj_decode(p, len, o, &l);
  if (!rc) *info = got;
  return rc;
}

int dyna_obj_decode(const uint8_t *p, size_t len, dyna_obj_t *o) {
  latest_t none = {0};
  return obj_decode(p, len, o, &none);
}

int dyna_obj_check(const uint8_t *p, size_t len) {
  latest_t none = {0};
  return obj_decode(p, len, NULL, &none);
}

int dyna_obj_scan(const uint8_t *p, size_t len, dyna_obj_info_t *info) {
  dyna_obj_info_t got = {0};
  latest_t l = {0, &got, p, 0, 0, 0};
  int rc = obj_decode(p, len, NULL, &l);
  if (!rc) *info = got;
  return rc;
}

/* One value's encoding (dyna_obj_encode's), appended. */
static void put_val(dyna_buf_t *out, const dyna_val_t *v) {
  dyna_buf_put_u8(out, v->flags);
  dyna_buf_put_varint(out, v->ts_ms);
  dyna_buf_put_bytes(out, v->data, v->len);
}

int dyna_obj_encode_blind(const uint8_t *p, size_t len, uint64_t node, const dyna_val_t *v, dyna_buf_t *out,
                          dyna_obj_info_t *info) {
  int rc = val_refused(v);
  if (rc) return rc;
  dyna_obj_info_t got = {0};
  if (len && (rc = dyna_obj_scan(p, len, &got))) return rc;
  if (got.typed) return DYNA_EAGAIN;
  /* The input checks (above), so its fields are read without checking them again. The
   * entries go after 3 bytes kept for the header (the version and the count's varint, at
   * most 2 bytes as the count is at most DYNA_OBJ_MAX_ENTRIES + 1), known at the end. */
  dyna_rd_t r;
  dyna_rd_init(&r, p, len);
  size_t n = 0;
  if (len) {
    (void)dyna_rd_u8(&r);
    n = (size_t)dyna_rd_varint(&r);
  }
  size_t at = out->len;
  if (dyna_buf_reserve(out, 3 + (n + 1) * (8 + 10 + 1) + 1 + 10 + 10 + v->len)) return DYNA_ENOMEM;
  out->len += 3;
  size_t nout = 0;
  int placed = 0;
  for (size_t i = 0; i <= n; i++) {
    uint64_t e_node = 0, counter = 0;
    if (i < n) {
      e_node = dyna_rd_u64le(&r);
      counter = dyna_rd_varint(&r);
      uint64_t nv = dyna_rd_varint(&r);
      for (uint64_t j = 0; j < nv; j++) { /* skipped: the write drops every value */
        size_t vlen;
        (void)dyna_rd_u8(&r);
        (void)dyna_rd_varint(&r);
        (void)dyna_rd_bytes(&r, DYNA_VAL_MAX_BYTES, &vlen);
      }
    }
    int mine = i < n && e_node == node;
    if (!placed && (i == n || e_node >= node)) { /* the writer's entry, in order */
      uint64_t c = mine ? counter : 0;
      if (c == UINT64_MAX) goto too_big;
      dyna_buf_put_u64le(out, node);
      dyna_buf_put_varint(out, c + 1);
      dyna_buf_put_u8(out, 1);
      put_val(out, v);
      nout++;
      placed = 1;
      if (mine) continue;
    }
    if (i == n) break;
    dyna_buf_put_u64le(out, e_node);
    dyna_buf_put_varint(out, counter);
    dyna_buf_put_u8(out, 0);
    nout++;
  }
  DYNA_ASSERT(!r.err && !dyna_rd_left(&r) && !out->oom, "blind write: %zu of %zu checked bytes walked, reader error %d, oom %d",
              len - dyna_rd_left(&r), len, r.err, out->oom);
  if (nout > DYNA_OBJ_MAX_ENTRIES) goto too_big;
  uint8_t hdr[3] = {OBJ_VERSION, (uint8_t)(nout | 0x80), (uint8_t)(nout >> 7)};
  size_t h = 2;
  if (nout < 0x80) hdr[1] = (uint8_t)nout;
  else h = 3;
  memcpy(out->data + at, hdr, h);
  if (h < 3) {
    memmove(out->data + at + h, out->data + at + 3, out->len - at - 3);
    out->len -= 3 - h;
  }
  *info = got;
  return 0;
too_big:
  out->len = at;
  return DYNA_ETOOBIG;
}

void dyna_ctx_encode(const dyna_ctx_t *c, dyna_buf_t *out) {
  dyna_buf_put_u8(out, CTX_VERSION);
  dyna_buf_put_varint(out, c->n);
  for (size_t i = 0; i < c->n; i++) {
    dyna_buf_put_u64le(out, c->e[i].node);
    dyna_buf_put_varint(out, c->e[i].counter);
  }
}

/* Cost O(len). */
int dyna_ctx_decode(const uint8_t *p, size_t len, dyna_ctx_t *c) {
  if (len == 0) {
    ctx_install(c, NULL, 0);
    return 0;
  }
  dyna_rd_t r;
  dyna_rd_init(&r, p, len);
  uint8_t version = dyna_rd_u8(&r);
  uint64_t n = dyna_obj_rd_varint(&r);
  if (r.err || version != CTX_VERSION || n > DYNA_OBJ_MAX_ENTRIES) return DYNA_ECONTEXT;
  if (n > dyna_rd_left(&r) / CTX_ENTRY_MIN_BYTES) return DYNA_ECONTEXT;
  dyna_vv_entry_t *e = NULL;
  if (n > 0 && !(e = dyna_calloc((size_t)n, sizeof(*e)))) return DYNA_ENOMEM;
  int bad = 0;
  for (size_t i = 0; i < n && !bad; i++) {
    e[i].node = dyna_rd_u64le(&r);
    e[i].counter = dyna_obj_rd_varint(&r);
    bad = r.err || e[i].counter == 0 || (i > 0 && e[i].node <= e[i - 1].node);
  }
  if (bad || r.err || dyna_rd_left(&r) != 0) {
    dyna_free(e);
    return DYNA_ECONTEXT;
  }
  ctx_install(c, e, (size_t)n);
  return 0;
}
