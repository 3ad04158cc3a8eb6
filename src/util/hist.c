/* hist.c: fixed-bucket latency histograms (see hist.h). */
#include "util/hist.h"
#include "util/assert.h"

const uint64_t dyna_hist_bounds_us[DYNA_HIST_BOUNDS] = {
    50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000};

void dyna_hist_observe(dyna_hist_t *h, uint64_t us) {
  size_t lo = 0, hi = DYNA_HIST_BOUNDS; /* the first bound >= us, or DYNA_HIST_BOUNDS */
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (dyna_hist_bounds_us[mid] < us) lo = mid + 1;
    else hi = mid;
  }
  h->bucket[lo]++;
  h->count++;
  h->sum_us += us;
}

uint64_t dyna_hist_cumulative(const dyna_hist_t *h, size_t i) {
  DYNA_ASSERT(i <= DYNA_HIST_BOUNDS, "bucket %zu of %d", i, DYNA_HIST_BOUNDS + 1);
  uint64_t n = 0;
  for (size_t k = 0; k <= i; k++) n += h->bucket[k];
  return n;
}
