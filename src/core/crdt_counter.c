/* crdt_counter.c: the counter type (INCR INCRBY DECR DECRBY INCRBYFLOAT GET), one
 * numeric element with the empty key (crdt_num.c):
 *
 *   [""] -> markers (LIVE)          the key exists
 *           residue BASE (i, d)     written by DEL: minus the totals it observed
 *           contributions           per actor: (seq, INCRBY total, INCRBYFLOAT total)
 *   value = base + sum of contributions; an integer while the double part is 0.
 *
 * A set (dyna_crdt_counter_set: INCR converting a string) writes one BASE value.
 * An increment raises only the actor's own total, which merges by max seq: made on
 * both sides of a partition it sums exactly once, and merging the same state again
 * counts nothing twice. */
#include "core/crdt_int.h"
#include "core/crdt_ops.h"
#include "util/assert.h"
#include <math.h>

static const uint8_t no_key[1] = {0};

static const dyna_crdt_elem_t *counter_elem(const dyna_crdt_t *s) {
  DYNA_ASSERT(s->type == DYNA_CRDT_COUNTER, "type %u", s->type);
  return s->n == 1 ? s->e[0] : NULL;
}

int dyna_crdt_counter_get(const dyna_crdt_t *s, int64_t *i, double *d) {
  const dyna_crdt_elem_t *e = counter_elem(s);
  if (!e || !crdt_elem_live(e)) return DYNA_ENOTFOUND;
  int ovf;
  crdt_num_value(e, i, d, &ovf);
  return 0;
}

/* The current value as an integer: 0, or DYNA_EINVAL when it has a fraction. */
static int counter_int(const dyna_crdt_t *s, int64_t *v) {
  const dyna_crdt_elem_t *e = counter_elem(s);
  int64_t i = 0;
  double d = 0.0;
  int ovf = 0;
  if (e) crdt_num_value(e, &i, &d, &ovf);
  if (ovf) return DYNA_ERANGE;
  if (d != 0.0) {
    double x = (double)i + d;
    if (x != floor(x) || fabs(x) >= 9007199254740992.0) return DYNA_EINVAL;
    i = (int64_t)x;
  }
  *v = i;
  return 0;
}

int dyna_crdt_incrby(dyna_crdt_t *s, uint64_t actor, int64_t n, int64_t *out) {
  int64_t cur, res;
  int rc = counter_int(s, &cur);
  if (rc) return rc;
  if (crdt_add_ovf(cur, n, &res)) return DYNA_ERANGE;
  rc = crdt_num_incr(s, no_key, 0, actor, n, 0.0);
  if (rc == 0 && out) *out = res;
  return rc;
}

int dyna_crdt_incrbyfloat(dyna_crdt_t *s, uint64_t actor, double x, double *out) {
  const dyna_crdt_elem_t *e = counter_elem(s);
  int64_t i = 0;
  double d = 0.0;
  int ovf = 0;
  if (e) crdt_num_value(e, &i, &d, &ovf);
  double res = (double)i + d + x;
  if (!isfinite(x) || !isfinite(res)) return DYNA_EINVAL;
  int rc = crdt_num_incr(s, no_key, 0, actor, 0, x);
  if (rc == 0 && out) *out = res;
  return rc;
}

int dyna_crdt_counter_set(dyna_crdt_t *s, uint64_t actor, int64_t i, double d) {
  DYNA_ASSERT(s->type == DYNA_CRDT_COUNTER, "type %u", s->type);
  if (!isfinite(d)) return DYNA_EINVAL;
  return crdt_num_set(s, no_key, 0, actor, 0, 0, i, d, NULL, 0);
}
