/* stats.c: the latency histogram, PRNG and key choosers of stats.h. Pure: no I/O, no
 * allocation, no clock. It carries its own log/exp/pow (to ~1e-15 relative) so that
 * the helpers need no libm. */
#include "cli/stats.h"
#include <string.h>

/* ---- small math: log, exp and pow for positive arguments ---- */

static double m_log(double x) { /* x > 0 */
  uint64_t b;
  memcpy(&b, &x, 8);
  int e = (int)((b >> 52) & 0x7ff) - 1023;
  b = (b & 0x000fffffffffffffull) | 0x3ff0000000000000ull; /* mantissa in [1, 2) */
  double m;
  memcpy(&m, &b, 8);
  if (m > 1.4142135623730951) { m /= 2; e++; }
  double s = (m - 1) / (m + 1), s2 = s * s, t = s, sum = 0;
  for (int k = 1; k < 60; k += 2) {
    sum += t / k;
    t *= s2;
  }
  return 2 * sum + e * 0.6931471805599453;
}

static double m_exp(double y) {
  if (y < -700) return 0;
  if (y > 700) y = 700;
  double kf = y / 0.6931471805599453;
  int k = (int)(kf < 0 ? kf - 0.5 : kf + 0.5);
  double r = y - k * 0.6931471805599453, term = 1, sum = 1;
  for (int i = 1; i < 30; i++) {
    term *= r / i;
    sum += term;
  }
  uint64_t b = (uint64_t)(k + 1023) << 52; /* 2^k, k in [-1010, 1010] */
  double p;
  memcpy(&p, &b, 8);
  return sum * p;
}

static double m_pow(double x, double y) { return x <= 0 ? 0 : m_exp(y * m_log(x)); }

#define SUB (1u << DYNA_HIST_SUB_BITS)

void dyna_hist_init(dyna_hist_t *h) {
  memset(h, 0, sizeof(*h));
  h->min = UINT64_MAX;
}

/* Values below 2*SUB map to themselves; above, the top 8 bits (with the leading one)
 * select one of SUB sub-buckets of the value's power of two. */
size_t dyna_hist_index(uint64_t v) {
  if (v < 2 * SUB) return (size_t)v;
  unsigned k = 63u - (unsigned)__builtin_clzll(v); /* k >= 8 */
  unsigned shift = k - DYNA_HIST_SUB_BITS;
  uint64_t m = v >> shift; /* in [SUB, 2*SUB) */
  return (size_t)(shift + 1) * SUB + (size_t)(m - SUB);
}

void dyna_hist_range(size_t i, uint64_t *lo, uint64_t *hi) {
  if (i < 2 * SUB) {
    *lo = *hi = i;
    return;
  }
  unsigned shift = (unsigned)(i / SUB) - 1;
  uint64_t m = (uint64_t)(i % SUB) + SUB;
  *lo = m << shift;
  uint64_t top = ((m + 1) << shift);
  *hi = top == 0 ? UINT64_MAX : top - 1; /* the last bucket ends at 2^64 - 1 */
}

void dyna_hist_record(dyna_hist_t *h, uint64_t v) {
  h->c[dyna_hist_index(v)]++;
  h->count++;
  h->sum += (double)v;
  if (v < h->min) h->min = v;
  if (v > h->max) h->max = v;
}

void dyna_hist_merge(dyna_hist_t *dst, const dyna_hist_t *src) {
  if (!src->count) return;
  for (size_t i = 0; i < DYNA_HIST_BUCKETS; i++) dst->c[i] += src->c[i];
  dst->count += src->count;
  dst->sum += src->sum;
  if (src->min < dst->min) dst->min = src->min;
  if (src->max > dst->max) dst->max = src->max;
}

uint64_t dyna_hist_quantile(const dyna_hist_t *h, double q) {
  if (!h->count) return 0;
  if (q >= 1.0) return h->max;
  if (q < 0) q = 0;
  double want = q * (double)h->count;
  uint64_t rank = (uint64_t)want;
  if ((double)rank < want) rank++;
  if (rank == 0) rank = 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < DYNA_HIST_BUCKETS; i++) {
    seen += h->c[i];
    if (seen >= rank) {
      uint64_t lo, hi;
      dyna_hist_range(i, &lo, &hi);
      if (hi > h->max) hi = h->max;
      if (hi < h->min) hi = h->min;
      return hi;
    }
  }
  return h->max;
}

double dyna_hist_mean(const dyna_hist_t *h) { return h->count ? h->sum / (double)h->count : 0; }

/* ---- PRNG: xorshift128+ seeded by splitmix64 ---- */

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void dyna_rand_seed(dyna_rand_t *r, uint64_t seed) {
  r->s[0] = splitmix64(&seed);
  r->s[1] = splitmix64(&seed);
  if (!r->s[0] && !r->s[1]) r->s[1] = 1;
}

uint64_t dyna_rand_next(dyna_rand_t *r) {
  uint64_t s1 = r->s[0];
  const uint64_t s0 = r->s[1];
  r->s[0] = s0;
  s1 ^= s1 << 23;
  r->s[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
  return r->s[1] + s0;
}

double dyna_rand_double(dyna_rand_t *r) { return (double)(dyna_rand_next(r) >> 11) * 0x1.0p-53; }

uint64_t dyna_rand_below(dyna_rand_t *r, uint64_t n) {
  return (uint64_t)(((unsigned __int128)dyna_rand_next(r) * n) >> 64);
}

/* ---- zipfian ---- */

uint64_t dyna_fnv64(uint64_t v) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (int i = 0; i < 8; i++) {
    h ^= v & 0xff;
    h *= 0x100000001b3ull;
    v >>= 8;
  }
  return h;
}

int dyna_zipf_init(dyna_zipf_t *z, uint64_t n, double theta, int scramble) {
  if (n < 1 || !(theta > 0 && theta < 1)) return -1;
  memset(z, 0, sizeof(*z));
  z->n = n;
  z->theta = theta;
  z->scramble = scramble;
  double zeta = 0;
  for (uint64_t i = 1; i <= n; i++) zeta += 1.0 / m_pow((double)i, theta);
  z->zetan = zeta;
  z->zeta2 = 1.0 + 1.0 / m_pow(2.0, theta);
  z->alpha = 1.0 / (1.0 - theta);
  z->eta = (1.0 - m_pow(2.0 / (double)n, 1.0 - theta)) / (1.0 - z->zeta2 / z->zetan);
  return 0;
}

uint64_t dyna_zipf_rank(const dyna_zipf_t *z, dyna_rand_t *r) {
  double u = dyna_rand_double(r);
  double uz = u * z->zetan;
  if (uz < 1.0) return 0;
  if (z->n >= 2 && uz < 1.0 + m_pow(0.5, z->theta)) return 1;
  uint64_t v = (uint64_t)((double)z->n * m_pow(z->eta * u - z->eta + 1.0, z->alpha));
  return v >= z->n ? z->n - 1 : v;
}

uint64_t dyna_zipf_next(const dyna_zipf_t *z, dyna_rand_t *r) {
  uint64_t k = dyna_zipf_rank(z, r);
  return z->scramble ? dyna_fnv64(k) % z->n : k;
}
