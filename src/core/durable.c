/* durable.c: the durable point of a store's numbered writes (see durable.h). Its two
 * invariants are asserted on every change: the durable point only grows, and the lost
 * range lies within the writes up to it, never below a point reported durable before
 * the loss (a write is never both lost and durable). */
#include "core/durable.h"
#include "util/assert.h"

#define U(x) ((unsigned long long)(x))

static void check(const dyna_durable_t *d, uint64_t before) {
  DYNA_ASSERT(d->upto >= before, "durable point moved back: %llu -> %llu", U(before), U(d->upto));
  DYNA_ASSERT(d->lost_lo <= d->lost_hi && d->lost_hi <= d->upto,
              "lost range (%llu, %llu] not within the writes up to the durable point %llu",
              U(d->lost_lo), U(d->lost_hi), U(d->upto));
}

void dyna_durable_init(dyna_durable_t *d) { d->upto = d->lost_lo = d->lost_hi = 0; }

void dyna_durable_ok(dyna_durable_t *d, uint64_t upto) {
  /* A batch reported durable never ends inside the lost range: its writes were either
   * durable before the failure (upto <= lost_lo) or made after it (upto >= lost_hi). */
  DYNA_ASSERT(upto <= d->lost_lo || upto >= d->lost_hi,
              "writes up to %llu reported durable, but (%llu, %llu] were lost (durable point %llu)",
              U(upto), U(d->lost_lo), U(d->lost_hi), U(d->upto));
  uint64_t before = d->upto;
  if (upto > d->upto) d->upto = upto;
  check(d, before);
}

void dyna_durable_lost(dyna_durable_t *d, uint64_t upto) {
  if (upto <= d->upto) return; /* nothing after the durable point was written */
  uint64_t before = d->upto;
  if (d->lost_lo == d->lost_hi) d->lost_lo = d->upto; /* the first failure */
  d->lost_hi = upto;
  d->upto = upto;
  check(d, before);
}

uint64_t dyna_durable_resolve(const dyna_durable_t *d, uint64_t wseq, uint64_t writes) {
  if (wseq != DYNA_WSEQ_ALL) return wseq;
  uint64_t r = writes > d->lost_hi ? writes : d->lost_lo;
  DYNA_ASSERT(r <= writes, "resolved to write %llu, only %llu made", U(r), U(writes));
  return r;
}

dyna_dur_state_t dyna_durable_state(const dyna_durable_t *d, uint64_t wseq) {
  if (wseq > d->lost_lo && wseq <= d->lost_hi) return DYNA_DUR_LOST;
  return wseq <= d->upto ? DYNA_DUR_DURABLE : DYNA_DUR_PENDING;
}
