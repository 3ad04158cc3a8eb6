/* rng.h: the simulator's one source of choice. Every random decision of a run (node
 * ids and seeds, message delays, losses, faults, client choices) is drawn from one
 * splitmix64 stream seeded by --seed, in event order, so one seed replays one run
 * exactly. Header-only; no state besides the caller's uint64_t. */
#ifndef DYNA_SIM_RNG_H
#define DYNA_SIM_RNG_H
#include <math.h>
#include <stdint.h>

/* splitmix64 (Steele, Lea, Flood 2014): returns the next 64-bit value of stream *s. */
static inline uint64_t sim_rng_next(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Uniform in [0, n) (n > 0), by multiply-high: no modulo bias worth caring about. */
static inline uint64_t sim_rng_below(uint64_t *s, uint64_t n) {
  return (uint64_t)(((unsigned __int128)sim_rng_next(s) * n) >> 64);
}

/* Uniform in [lo, hi] (lo <= hi). */
static inline uint64_t sim_rng_range(uint64_t *s, uint64_t lo, uint64_t hi) {
  return lo + sim_rng_below(s, hi - lo + 1);
}

/* Uniform double in [0, 1). */
static inline double sim_rng_unit(uint64_t *s) {
  return (double)(sim_rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* 1 with probability p. Draws even when p is 0, so the stream does not depend on p. */
static inline int sim_rng_chance(uint64_t *s, double p) { return sim_rng_unit(s) < p; }

/* Exponentially distributed with the given mean (for message delays, think times). */
static inline double sim_rng_exp(uint64_t *s, double mean) {
  return -mean * log(1.0 - sim_rng_unit(s));
}

#endif
