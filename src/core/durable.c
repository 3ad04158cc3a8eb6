/* durable.c: the durable point of a store's numbered writes (see durable.h). */
#include "core/durable.h"

void dyna_durable_init(dyna_durable_t *d) { d->upto = d->lost_lo = d->lost_hi = 0; }

void dyna_durable_ok(dyna_durable_t *d, uint64_t upto) {
  if (upto > d->upto) d->upto = upto;
}

void dyna_durable_lost(dyna_durable_t *d, uint64_t upto) {
  if (upto <= d->upto) return; /* nothing after the durable point was written */
  if (d->lost_lo == d->lost_hi) d->lost_lo = d->upto; /* the first failure */
  d->lost_hi = upto;
  d->upto = upto;
}

uint64_t dyna_durable_resolve(const dyna_durable_t *d, uint64_t wseq, uint64_t writes) {
  if (wseq != DYNA_WSEQ_ALL) return wseq;
  return writes > d->lost_hi ? writes : d->lost_lo;
}

dyna_dur_state_t dyna_durable_state(const dyna_durable_t *d, uint64_t wseq) {
  if (wseq > d->lost_lo && wseq <= d->lost_hi) return DYNA_DUR_LOST;
  return wseq <= d->upto ? DYNA_DUR_DURABLE : DYNA_DUR_PENDING;
}
