/* hist.h: a fixed-bucket latency histogram (microseconds in, Prometheus's cumulative
 * buckets out), for dynad's /metrics (runtime/http_metrics.c). Fixed bounds, so that
 * observing is a few compares and three additions and a histogram is plain memory that
 * CONFIG RESETSTAT can zero. Not thread-safe: one writer (the loop), readers on the loop. */
#ifndef DYNA_HIST_H
#define DYNA_HIST_H
#include <stddef.h>
#include <stdint.h>

/* Upper bounds of the finite buckets, in microseconds: 50 us .. 5 s; one more bucket
 * (+Inf) takes the rest. */
#define DYNA_HIST_BOUNDS 16
extern const uint64_t dyna_hist_bounds_us[DYNA_HIST_BOUNDS];

typedef struct dyna_hist {
  uint64_t bucket[DYNA_HIST_BOUNDS + 1]; /* observations in (bound[i-1], bound[i]]; the last: > every bound */
  uint64_t count;
  uint64_t sum_us;
} dyna_hist_t;

/* Counts one observation of us microseconds. O(log bounds). */
void dyna_hist_observe(dyna_hist_t *h, uint64_t us);
/* Observations <= dyna_hist_bounds_us[i] (i < DYNA_HIST_BOUNDS), or all of them (i ==
 * DYNA_HIST_BOUNDS): Prometheus's cumulative le buckets. */
uint64_t dyna_hist_cumulative(const dyna_hist_t *h, size_t i);

#endif
