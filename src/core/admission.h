/* admission.h: the admission controller of background work (Dynamo, section 6.5).
 *
 * Background transfers (handoff, hint delivery, anti-entropy) share one byte budget per
 * node (node.c, a token bucket). This controller sets that budget's rate from what the
 * node's clients see: the driver measures each foreground request it serves (dynad: from
 * the command's arrival to its reply; the simulator: from a client's request to its
 * answer) and reports it with dyna_admit_latency; the controller decides.
 *
 * Every window (DYNA_ADMIT_WINDOW_MS of the monotonic clock) it takes the p99 of the
 * window's foreground latencies (a log histogram with four steps per power of two, so a
 * p99 is known within 19%):
 *   - a window in which the node took at most ceiling / DYNA_ADMIT_IDLE_DIV background
 *     bytes (a settled cluster's anti-entropy sends a few hundred bytes a second) moves
 *     the idle baseline (the first one sets it; later ones pull it halfway down, or an
 *     eighth of the way up, so that a busy spell without background work does not
 *     raise it for long) and raises the rate;
 *   - a window with background work and enough foreground to judge
 *     (DYNA_ADMIT_MIN_SAMPLES) whose p99 is over the target, target_pct of the baseline
 *     but at least DYNA_ADMIT_SLACK_US over it, halves the rate, or drops it to the
 *     floor at once when the p99 is over four times the target; else it raises the rate
 *     by an eighth of the ceiling (AIMD, as TCP). Before any idle window (a node that
 *     joined into a handoff) the baseline is DYNA_ADMIT_DEFAULT_IDLE_US;
 *   - a window with background work and too little foreground raises the rate: nobody
 *     is there to feel it.
 * A slow start: the first latency reported puts the rate at the floor, and an idle
 * window leaves it at most ceiling / DYNA_ADMIT_START_DIV, so that each burst of
 * background work (a join's handoff, a repair) begins low and climbs while the
 * foreground does not feel it, instead of queueing a second of work at the ceiling
 * before the first window closes. A driver that reports nothing (the simulator without
 * its CPU model) leaves the rate at the ceiling.
 * The rate stays within [ceiling / DYNA_ADMIT_FLOOR_DIV, ceiling], the ceiling being the
 * configured budget (--background-bytes-per-sec): background work is slowed, never
 * stopped, so handoff and repair always finish.
 *
 * Pure: no clock (times are passed in), no I/O. The struct is plain data owned by its
 * holder (one per node). */
#ifndef DYNA_ADMISSION_H
#define DYNA_ADMISSION_H
#include <stdint.h>

#define DYNA_ADMIT_WINDOW_MS 1000u
#define DYNA_ADMIT_MIN_SAMPLES 20u /* dynad samples its loop lag 20 times a second */
#define DYNA_ADMIT_FLOOR_DIV 16u
#define DYNA_ADMIT_START_DIV 8u /* an idle window leaves the rate at most ceiling/8 */
#define DYNA_ADMIT_IDLE_DIV 64u
#define DYNA_ADMIT_DEFAULT_IDLE_US 1000u /* the baseline before an idle window gave one */
#define DYNA_ADMIT_SLACK_US 250u         /* a target is at least this over the baseline */
#define DYNA_ADMIT_SLICE_MIN 16384u /* bytes: the smallest background batch (node.c) */
#define DYNA_ADMIT_TARGET_PCT 150u
#define DYNA_ADMIT_BUCKETS 160u /* four per power of two, 1 us .. 2^40 us */

typedef struct dyna_admit {
  uint64_t ceiling;        /* bytes per second: the configured budget */
  uint64_t rate;           /* bytes per second now */
  uint32_t target_pct;     /* foreground p99 allowed, in percent of the idle baseline */
  int fixed;               /* 1: the controller is off, rate = ceiling */
  int sampled;             /* a latency was reported: the controller has begun */
  uint64_t window_start_ms;
  uint32_t hist[DYNA_ADMIT_BUCKETS]; /* this window's foreground latencies */
  uint32_t nsamples;
  uint64_t bg_bytes;       /* background bytes taken this window */
  uint64_t idle_p99_us;    /* baseline (0: none yet) */
  uint64_t last_p99_us;    /* p99 of the last window judged (0: too few samples) */
  uint64_t cuts, raises;   /* rate changes so far */
  uint64_t windows_over;   /* windows with background work whose p99 was over target */
} dyna_admit_t;

/* Starts at the ceiling, first window at now_ms. fixed: never change the rate. */
void dyna_admit_init(dyna_admit_t *a, uint64_t ceiling, int fixed, uint64_t now_ms);
/* One foreground request took us microseconds. */
void dyna_admit_latency(dyna_admit_t *a, uint64_t us);
/* The node took bytes from the background budget. */
void dyna_admit_background(dyna_admit_t *a, uint64_t bytes);
/* Closes the window when DYNA_ADMIT_WINDOW_MS have passed since it opened, and adjusts
 * the rate as above. Call at every tick; cheap when the window is still open. */
void dyna_admit_tick(dyna_admit_t *a, uint64_t now_ms);
/* The smallest histogram bucket bound at or above the p-th percentile (p in 1..100) of
 * the given histogram, in microseconds; 0 when it is empty. */
uint64_t dyna_admit_percentile(const uint32_t *hist, uint32_t n, unsigned p);

#endif
