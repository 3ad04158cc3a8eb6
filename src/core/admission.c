/* admission.c: the admission controller of background work (see admission.h). */
#include "core/admission.h"
#include "util/assert.h"
#include <string.h>

/* Bucket of a latency: 4 per power of two. Values below 4 us have their own buckets. */
static uint32_t bucket_of(uint64_t us) {
  if (us < 4) return (uint32_t)us;
  uint32_t lg = 63u - (uint32_t)__builtin_clzll(us); /* >= 2 */
  uint32_t sub = (uint32_t)(us >> (lg - 2)) & 3u;   /* the two bits after the top one */
  uint32_t b = lg * 4 + sub - 4;                    /* lg 2 -> 4..7 */
  return b < DYNA_ADMIT_BUCKETS ? b : DYNA_ADMIT_BUCKETS - 1;
}

/* The largest latency bucket b holds. */
static uint64_t bucket_top(uint32_t b) {
  if (b < 4) return b;
  uint32_t lg = (b + 4) / 4, sub = (b + 4) % 4;
  return (((uint64_t)4 + sub + 1) << (lg - 2)) - 1;
}

uint64_t dyna_admit_percentile(const uint32_t *hist, uint32_t n, unsigned p) {
  uint64_t total = 0, seen = 0;
  for (uint32_t b = 0; b < n; b++) total += hist[b];
  if (total == 0) return 0;
  uint64_t rank = (total * p + 99) / 100; /* nearest rank */
  if (rank == 0) rank = 1;
  for (uint32_t b = 0; b < n; b++) {
    seen += hist[b];
    if (seen >= rank) return bucket_top(b);
  }
  return bucket_top(n - 1);
}

static uint64_t floor_of(const dyna_admit_t *a) {
  uint64_t f = a->ceiling / DYNA_ADMIT_FLOOR_DIV;
  return f ? f : (a->ceiling ? 1 : 0);
}

void dyna_admit_init(dyna_admit_t *a, uint64_t ceiling, int fixed, uint64_t now_ms) {
  memset(a, 0, sizeof *a);
  a->ceiling = ceiling;
  a->rate = ceiling;
  a->fixed = fixed;
  a->target_pct = DYNA_ADMIT_TARGET_PCT;
  a->window_start_ms = now_ms;
}

void dyna_admit_latency(dyna_admit_t *a, uint64_t us) {
  if (!a->sampled && !a->fixed) a->rate = floor_of(a); /* a slow start: see admission.h */
  a->sampled = 1;
  if (a->nsamples == UINT32_MAX) return;
  a->hist[bucket_of(us)]++;
  a->nsamples++;
}

void dyna_admit_background(dyna_admit_t *a, uint64_t bytes) { a->bg_bytes += bytes; }

static void raise_rate(dyna_admit_t *a) {
  if (a->rate >= a->ceiling) return;
  uint64_t step = a->ceiling / 8 ? a->ceiling / 8 : 1;
  a->rate = a->ceiling - a->rate > step ? a->rate + step : a->ceiling;
  a->raises++;
}

void dyna_admit_tick(dyna_admit_t *a, uint64_t now_ms) {
  if (now_ms < a->window_start_ms + DYNA_ADMIT_WINDOW_MS) return;
  int judged = a->nsamples >= DYNA_ADMIT_MIN_SAMPLES;
  uint64_t p99 = judged ? dyna_admit_percentile(a->hist, DYNA_ADMIT_BUCKETS, 99) : 0;
  a->last_p99_us = p99;
  if (!a->fixed) {
    uint64_t base = a->idle_p99_us ? a->idle_p99_us : DYNA_ADMIT_DEFAULT_IDLE_US;
    uint64_t target = base * a->target_pct / 100;
    if (target < base + DYNA_ADMIT_SLACK_US) target = base + DYNA_ADMIT_SLACK_US;
    if (a->bg_bytes <= a->ceiling / DYNA_ADMIT_IDLE_DIV) { /* idle but for trickles */
      if (judged && !a->idle_p99_us) a->idle_p99_us = p99 ? p99 : 1;
      else if (judged && p99 < a->idle_p99_us) a->idle_p99_us = (a->idle_p99_us + p99) / 2 + 1; /* quickly down */
      else if (judged) a->idle_p99_us += (p99 - a->idle_p99_us) / 8;                   /* slowly up */
      uint64_t start = a->ceiling / DYNA_ADMIT_START_DIV > floor_of(a) ? a->ceiling / DYNA_ADMIT_START_DIV : floor_of(a);
      if (!judged || a->rate < start) raise_rate(a);
      if (judged && a->rate > start) a->rate = start; /* the next burst starts low */
    } else if (judged && p99 > target) {
      a->windows_over++;
      uint64_t next = p99 > 4 * target ? 0 : a->rate / 2, fl = floor_of(a); /* far over: the floor at once */
      a->rate = next > fl ? next : fl;
      a->cuts++;
    } else {
      raise_rate(a);
    }
  }
  DYNA_ASSERT(a->rate <= a->ceiling && (a->ceiling == 0 || a->rate >= floor_of(a)),
              "admission rate %llu outside [%llu, %llu]", (unsigned long long)a->rate,
              (unsigned long long)floor_of(a), (unsigned long long)a->ceiling);
  memset(a->hist, 0, sizeof a->hist);
  a->nsamples = 0;
  a->bg_bytes = 0;
  a->window_start_ms = now_ms;
}
