/* stats.h: dyna-bench's measuring helpers: a log-linear latency histogram
 * (HdrHistogram-like), a fast seeded PRNG, and YCSB's key choosers (uniform, zipfian,
 * scrambled zipfian). Part of the CLI, not of libdyna (built as dyna_cli_stats, tested by
 * tests/unit/test_client.c).
 *
 * Histogram: values (e.g. nanoseconds) are counted in buckets that are exact below 2^8
 * and then have 128 linear sub-buckets per power of two, so any value is recorded with a
 * relative error under 1/128 (0.8 %), whatever its magnitude, in 7.4k counters (58 KiB).
 * Recording is O(1); a percentile walks the counters once. */
#ifndef DYNA_CLI_STATS_H
#define DYNA_CLI_STATS_H
#include <stddef.h>
#include <stdint.h>

#define DYNA_HIST_SUB_BITS 7u
#define DYNA_HIST_BUCKETS ((64u - DYNA_HIST_SUB_BITS + 1u) << DYNA_HIST_SUB_BITS)

typedef struct dyna_hist {
  uint64_t count;
  uint64_t min, max; /* exact; min = UINT64_MAX while empty */
  double sum;        /* for the mean */
  uint64_t c[DYNA_HIST_BUCKETS];
} dyna_hist_t;

void dyna_hist_init(dyna_hist_t *h);
void dyna_hist_record(dyna_hist_t *h, uint64_t v);
/* Adds every count of src into dst. */
void dyna_hist_merge(dyna_hist_t *dst, const dyna_hist_t *src);
/* The value at quantile q (0..1): the highest value of the bucket holding the
 * ceil(q * count)-th smallest recording, clamped to [min, max]; 0 when empty. q >= 1
 * gives max exactly. */
uint64_t dyna_hist_quantile(const dyna_hist_t *h, double q);
double dyna_hist_mean(const dyna_hist_t *h);
/* Bucket index of v and the inclusive value range of bucket i (exposed for tests). */
size_t dyna_hist_index(uint64_t v);
void dyna_hist_range(size_t i, uint64_t *lo, uint64_t *hi);

/* xoshiro-style PRNG (splitmix64 seeding): deterministic for a seed. */
typedef struct dyna_rand {
  uint64_t s[2];
} dyna_rand_t;
void dyna_rand_seed(dyna_rand_t *r, uint64_t seed);
uint64_t dyna_rand_next(dyna_rand_t *r);
/* Uniform double in [0, 1). */
double dyna_rand_double(dyna_rand_t *r);
/* Uniform integer in [0, n) (n > 0). */
uint64_t dyna_rand_below(dyna_rand_t *r, uint64_t n);

/* YCSB's ZipfianGenerator (Gray et al., "Quickly generating billion-record synthetic
 * databases"): item i (0-based rank) is drawn with probability (1/(i+1)^theta) / zeta(n).
 * Init is O(n) (it sums zeta); each draw is O(1). With scramble, the rank is hashed
 * (FNV-1a 64) modulo n, so the popular items are spread over the key space (YCSB's
 * ScrambledZipfianGenerator) instead of being keys 0, 1, 2... */
typedef struct dyna_zipf {
  uint64_t n;
  double theta, alpha, zetan, eta, zeta2;
  int scramble;
} dyna_zipf_t;
/* n >= 1, 0 < theta < 1 (YCSB uses 0.99). Returns 0 or -1 on bad arguments. */
int dyna_zipf_init(dyna_zipf_t *z, uint64_t n, double theta, int scramble);
uint64_t dyna_zipf_next(const dyna_zipf_t *z, dyna_rand_t *r);
/* The unscrambled rank draw (exposed for tests). */
uint64_t dyna_zipf_rank(const dyna_zipf_t *z, dyna_rand_t *r);
/* FNV-1a 64 of a u64 (YCSB's scrambling hash). */
uint64_t dyna_fnv64(uint64_t v);

#endif
