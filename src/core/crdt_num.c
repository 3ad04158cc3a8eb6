/* crdt_num.c: elements that carry a number (the counter, hash fields, sorted-set
 * members) and the observed removal shared by every keyed type.
 *
 *   element  values: LIVE markers (increments), BASE values (sets and removals),
 *            contributions: per actor (seq, int64 total, double total)
 *   number   chosen base (crdt_chosen) + sum of contributions
 *
 * A write that sets the number stores base = target - observed contributions, so
 * the number reads `target` where it was written and target + d wherever an
 * increment d it did not observe is merged in. Increments never touch bases. */
#include "core/crdt_int.h"
#include "util/alloc.h"
#include <math.h>

void crdt_num_value(const dyna_crdt_elem_t *e, int64_t *i, double *d, int *ovf) {
  const dyna_crdt_val_t *b = crdt_chosen(e);
  int64_t si;
  double sd;
  crdt_contrib_sum(e, &si, &sd, ovf);
  int64_t bi = b ? b->i : 0;
  if (!*ovf && crdt_add_ovf(bi, si, i)) *ovf = 1;
  if (*ovf) *i = si > 0 ? INT64_MAX : INT64_MIN;
  *d = crdt_canon((b ? b->d : 0.0) + sd);
}

/* The element with key, or a new one (not yet inserted) in *fresh. */
static int elem_for(dyna_crdt_t *s, const uint8_t *key, size_t klen, size_t *idx,
                    dyna_crdt_elem_t **e, dyna_crdt_elem_t **fresh) {
  *fresh = NULL;
  if (crdt_find(s, key, klen, idx)) {
    *e = s->e[*idx];
    return 0;
  }
  int rc = crdt_elems_reserve(s);
  if (rc) return rc;
  *fresh = *e = crdt_elem_new(key, klen);
  return *e ? 0 : DYNA_ENOMEM;
}

int crdt_num_incr(dyna_crdt_t *s, const uint8_t *key, size_t klen, uint64_t actor, int64_t di,
                  double dd) {
  size_t idx;
  dyna_crdt_elem_t *e, *fresh;
  int64_t oi = 0, ni;
  double od = 0.0;
  if (crdt_find(s, key, klen, &idx)) {
    const dyna_crdt_contrib_t *c = crdt_contrib_find(s->e[idx], actor);
    if (c) {
      oi = c->i;
      od = c->d;
    }
  }
  if (crdt_add_ovf(oi, di, &ni)) return DYNA_ERANGE;
  double nd = od + dd;
  if (!isfinite(nd)) return DYNA_EINVAL;
  int rc = elem_for(s, key, klen, &idx, &e, &fresh);
  if (rc == 0) rc = crdt_vals_reserve(e, 1);
  if (rc == 0 && !crdt_contrib_find(e, actor)) rc = crdt_contrib_reserve(e);
  if (rc == 0) rc = crdt_ctx_reserve(s, actor);
  if (rc) {
    crdt_elem_free(fresh);
    return rc;
  }
  uint64_t c = crdt_tick(s, actor);
  if (fresh) crdt_elem_insert(s, idx, fresh);
  crdt_drop_markers(e);
  dyna_crdt_val_t m = {actor, c, DYNA_CRDT_F_LIVE, 0, 0, 0.0, NULL, 0};
  crdt_val_insert(e, &m);
  crdt_contrib_set(e, actor, c, ni, nd);
  return 0;
}

int crdt_num_set(dyna_crdt_t *s, const uint8_t *key, size_t klen, uint64_t actor, uint8_t flags,
                 uint64_t ts, int64_t ti, double td, const uint8_t *data, size_t len) {
  size_t idx;
  dyna_crdt_elem_t *e, *fresh = NULL;
  uint8_t *copy = NULL;
  int rc = 0;
  if (flags & DYNA_CRDT_F_BYTES) {
    copy = dyna_memdup(data, len);
    if (!copy) return DYNA_ENOMEM;
  }
  rc = elem_for(s, key, klen, &idx, &e, &fresh);
  if (rc == 0) rc = crdt_vals_reserve(e, 1);
  if (rc == 0) rc = crdt_ctx_reserve(s, actor);
  if (rc) {
    dyna_free(copy);
    crdt_elem_free(fresh);
    return rc;
  }
  uint64_t c = crdt_tick(s, actor);
  if (fresh) crdt_elem_insert(s, idx, fresh);
  crdt_put_base(e, actor, c, (uint8_t)(flags | DYNA_CRDT_F_LIVE), ts, ti, td, copy, copy ? len : 0);
  return 0;
}

int crdt_remove_key(dyna_crdt_t *s, const uint8_t *key, size_t klen, uint64_t actor) {
  size_t idx;
  if (!crdt_find(s, key, klen, &idx) || !crdt_elem_live(s->e[idx])) return 0;
  dyna_crdt_elem_t *e = s->e[idx];
  if (e->ncontrib == 0) {
    crdt_elem_remove(s, idx);
    return 1;
  }
  int rc = crdt_vals_reserve(e, 1);
  if (rc == 0) rc = crdt_ctx_reserve(s, actor);
  if (rc) return rc;
  crdt_remove_observed(s, idx, actor, crdt_tick(s, actor));
  return 1;
}
