/* test_admission.c: unit tests for the admission controller of background work
 * (core/admission.c): its percentile histogram, and each rule of admission.h checked
 * window by window (baseline from idle windows, halving over target down to the floor,
 * raising by an eighth up to the ceiling, no judgement on too few samples, the fixed
 * mode, windows that close only after DYNA_ADMIT_WINDOW_MS). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/admission.h"

enum { CEIL = 16u << 20 };

/* One window: n samples of us each, bg background bytes, then the tick that closes it. */
static void window(dyna_admit_t *a, uint64_t *now, uint32_t n, uint64_t us, uint64_t bg) {
  for (uint32_t i = 0; i < n; i++) dyna_admit_latency(a, us);
  dyna_admit_background(a, bg);
  *now += DYNA_ADMIT_WINDOW_MS;
  dyna_admit_tick(a, *now);
}

static void test_percentile(void **state) {
  (void)state;
  dyna_admit_t a;
  dyna_admit_init(&a, CEIL, 0, 0);
  assert_int_equal(dyna_admit_percentile(a.hist, DYNA_ADMIT_BUCKETS, 99), 0); /* empty */
  /* every latency lands in a bucket whose bound is at or above it and within 25% */
  for (uint64_t us = 0; us < 5000000; us = us * 9 / 8 + 1) {
    dyna_admit_init(&a, CEIL, 0, 0);
    dyna_admit_latency(&a, us);
    uint64_t b = dyna_admit_percentile(a.hist, DYNA_ADMIT_BUCKETS, 99);
    assert_true(b >= us);
    assert_true(b <= us + us / 4 + 1);
  }
  /* nearest rank: 99 of 100 at 10 us and one at 1000 us: p99 is 10's bucket, max 1000's */
  dyna_admit_init(&a, CEIL, 0, 0);
  for (int i = 0; i < 99; i++) dyna_admit_latency(&a, 10);
  dyna_admit_latency(&a, 1000);
  assert_in_range(dyna_admit_percentile(a.hist, DYNA_ADMIT_BUCKETS, 99), 10, 12);
  assert_in_range(dyna_admit_percentile(a.hist, DYNA_ADMIT_BUCKETS, 100), 1000, 1250);
}

static void test_baseline_cut_raise(void **state) {
  (void)state;
  dyna_admit_t a;
  uint64_t now = 5000;
  dyna_admit_init(&a, CEIL, 0, now);
  assert_int_equal(a.rate, CEIL);
  /* the first latency reported starts the controller at the floor (slow start) */
  dyna_admit_latency(&a, 10);
  assert_int_equal(a.rate, CEIL / DYNA_ADMIT_FLOOR_DIV);
  /* no baseline yet (a node that joined into a handoff): DYNA_ADMIT_DEFAULT_IDLE_US
   * stands in; within its target the rate rises, far over it the floor at once */
  window(&a, &now, 100, DYNA_ADMIT_DEFAULT_IDLE_US, CEIL);
  assert_int_equal(a.rate, CEIL / DYNA_ADMIT_FLOOR_DIV + CEIL / 8);
  window(&a, &now, 100, 50 * DYNA_ADMIT_DEFAULT_IDLE_US, CEIL);
  assert_int_equal(a.rate, CEIL / DYNA_ADMIT_FLOOR_DIV);
  assert_int_equal(a.cuts, 1);
  assert_int_equal(a.idle_p99_us, 0);
  /* idle windows: up by an eighth, but to CEIL / DYNA_ADMIT_START_DIV at most, where
   * the next burst of background work starts */
  for (int i = 0; i < 8; i++) window(&a, &now, 100, 100, 0);
  assert_int_equal(a.rate, CEIL / DYNA_ADMIT_START_DIV);
  /* the first idle window set the baseline; the later ones (all 100 us) kept it */
  assert_in_range(a.idle_p99_us, 100, 130);
  /* a busy spell without background pulls it up an eighth of the way only, a quiet one
   * halfway down (a trickle of background counts as idle) */
  uint64_t b0 = a.idle_p99_us;
  window(&a, &now, 100, 1000, CEIL / DYNA_ADMIT_IDLE_DIV);
  assert_true(a.idle_p99_us > b0 && a.idle_p99_us <= b0 + (1023 - b0) / 8 + 1);
  for (int i = 0; i < 40; i++) window(&a, &now, 100, 1000, 0);
  assert_in_range(a.idle_p99_us, 900, 1023); /* it got there in the end */
  uint64_t b1 = a.idle_p99_us;
  window(&a, &now, 100, 100, 0);
  assert_in_range(a.idle_p99_us, b1 / 2, b1 / 2 + 70);
  for (int i = 0; i < 40; i++) window(&a, &now, 100, 1000, 0);
  assert_in_range(a.idle_p99_us, 900, 1023);
  /* background within 1.5x of idle: no cut, up by an eighth each window to the top */
  window(&a, &now, 100, 1200, CEIL);
  assert_int_equal(a.rate, CEIL / DYNA_ADMIT_START_DIV + CEIL / 8);
  for (int i = 0; i < 10; i++) window(&a, &now, 100, 1200, CEIL);
  assert_int_equal(a.rate, CEIL);
  /* over 1.5x: halved, again and again, never below the floor */
  uint64_t want = CEIL;
  for (int i = 0; i < 10; i++) {
    window(&a, &now, 100, 4000, CEIL);
    want = want / 2 > CEIL / DYNA_ADMIT_FLOOR_DIV ? want / 2 : CEIL / DYNA_ADMIT_FLOOR_DIV;
    assert_int_equal(a.rate, want);
  }
  assert_int_equal(a.rate, CEIL / DYNA_ADMIT_FLOOR_DIV);
  assert_int_equal(a.cuts, 11); /* with the first one above */
  assert_int_equal(a.windows_over, 11);
  /* the foreground recovers: back up by an eighth of the ceiling a window, to the top */
  uint64_t r = a.rate;
  window(&a, &now, 100, 1000, CEIL);
  assert_int_equal(a.rate, r + CEIL / 8);
  for (int i = 0; i < 20; i++) window(&a, &now, 100, 1000, CEIL);
  assert_int_equal(a.rate, CEIL);
  /* far over the target (four times): the floor at once */
  window(&a, &now, 100, 30000, CEIL);
  assert_int_equal(a.rate, CEIL / DYNA_ADMIT_FLOOR_DIV);
  /* the slack: over 1.5 times a tiny baseline, but within DYNA_ADMIT_SLACK_US of it,
   * is no cut */
  dyna_admit_init(&a, CEIL, 0, now);
  window(&a, &now, 100, 20, 0);
  assert_int_equal(a.rate, CEIL / DYNA_ADMIT_START_DIV);
  window(&a, &now, 100, 20 + DYNA_ADMIT_SLACK_US - 60, CEIL);
  assert_int_equal(a.rate, CEIL / DYNA_ADMIT_START_DIV + CEIL / 8);
  window(&a, &now, 100, 20 + 3 * DYNA_ADMIT_SLACK_US, CEIL);
  assert_int_equal(a.rate, (CEIL / DYNA_ADMIT_START_DIV + CEIL / 8) / 2);
}

static void test_too_few_and_windows(void **state) {
  (void)state;
  dyna_admit_t a;
  uint64_t now = 0;
  dyna_admit_init(&a, CEIL, 0, now);
  window(&a, &now, 100, 1000, 0); /* baseline; the rate at the start level */
  assert_int_equal(a.rate, CEIL / DYNA_ADMIT_START_DIV);
  window(&a, &now, 100, 4000, CEIL);
  assert_int_equal(a.rate, CEIL / DYNA_ADMIT_START_DIV / 2);
  /* too few samples to judge: nobody feels it, the rate rises */
  window(&a, &now, DYNA_ADMIT_MIN_SAMPLES - 1, 9000, CEIL);
  assert_int_equal(a.rate, CEIL / DYNA_ADMIT_START_DIV / 2 + CEIL / 8);
  assert_int_equal(a.last_p99_us, 0);
  /* a window closes only once DYNA_ADMIT_WINDOW_MS have passed */
  uint64_t r = a.rate;
  for (int i = 0; i < 100; i++) dyna_admit_latency(&a, 4000);
  dyna_admit_background(&a, CEIL);
  dyna_admit_tick(&a, now + DYNA_ADMIT_WINDOW_MS - 1);
  assert_int_equal(a.rate, r);
  assert_int_equal(a.nsamples, 100);
  dyna_admit_tick(&a, now + DYNA_ADMIT_WINDOW_MS);
  assert_int_equal(a.rate, r / 2);
  assert_int_equal(a.nsamples, 0);
}

static void test_fixed_and_floor(void **state) {
  (void)state;
  dyna_admit_t a;
  uint64_t now = 0;
  dyna_admit_init(&a, CEIL, 1, now); /* fixed: --background-fixed, --bugs admit-off */
  window(&a, &now, 100, 1000, 0);
  for (int i = 0; i < 5; i++) window(&a, &now, 100, 9000, CEIL);
  assert_int_equal(a.rate, CEIL);
  assert_int_equal(a.cuts, 0);
  /* far over again and again: the floor, never below it */
  dyna_admit_init(&a, CEIL, 0, 0);
  now = 0;
  window(&a, &now, 100, 1000, 0);
  for (int i = 0; i < 6; i++) window(&a, &now, 100, 9000, CEIL);
  assert_int_equal(a.rate, CEIL / 16);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_percentile),
      cmocka_unit_test(test_baseline_cut_raise),
      cmocka_unit_test(test_too_few_and_windows),
      cmocka_unit_test(test_fixed_and_floor),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
