/* test_durable.c: core/durable.h, the durable point of a store's numbered writes that
 * decides when an answer may leave: durable, pending, and lost writes (a lost write is
 * never reported durable, even after later batches succeed). */
#include "core/durable.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

static void test_durable_point_moves_up(void **state) {
  (void)state;
  dyna_durable_t d;
  dyna_durable_init(&d);
  assert_int_equal(dyna_durable_state(&d, 0), DYNA_DUR_DURABLE); /* depends on nothing */
  assert_int_equal(dyna_durable_state(&d, 1), DYNA_DUR_PENDING);
  dyna_durable_ok(&d, 5);
  assert_int_equal(dyna_durable_state(&d, 5), DYNA_DUR_DURABLE);
  assert_int_equal(dyna_durable_state(&d, 6), DYNA_DUR_PENDING);
  dyna_durable_ok(&d, 3); /* an older batch reported late changes nothing */
  assert_int_equal(dyna_durable_state(&d, 5), DYNA_DUR_DURABLE);
}

static void test_lost_writes_stay_lost(void **state) {
  (void)state;
  dyna_durable_t d;
  dyna_durable_init(&d);
  dyna_durable_ok(&d, 10);
  dyna_durable_lost(&d, 14); /* writes 11..14 were in the failed batch */
  for (uint64_t w = 11; w <= 14; w++) assert_int_equal(dyna_durable_state(&d, w), DYNA_DUR_LOST);
  assert_int_equal(dyna_durable_state(&d, 10), DYNA_DUR_DURABLE);
  assert_int_equal(dyna_durable_state(&d, 15), DYNA_DUR_PENDING);
  dyna_durable_ok(&d, 20); /* a later batch: its writes are durable, the lost ones not */
  assert_int_equal(dyna_durable_state(&d, 12), DYNA_DUR_LOST);
  assert_int_equal(dyna_durable_state(&d, 17), DYNA_DUR_DURABLE);
  /* a second failure: the hull of both is reported lost, never durable */
  dyna_durable_lost(&d, 25);
  assert_int_equal(dyna_durable_state(&d, 12), DYNA_DUR_LOST);
  assert_int_equal(dyna_durable_state(&d, 23), DYNA_DUR_LOST);
  assert_int_equal(dyna_durable_state(&d, 17), DYNA_DUR_LOST); /* conservative */
  assert_int_equal(dyna_durable_state(&d, 10), DYNA_DUR_DURABLE);
  assert_int_equal(dyna_durable_state(&d, 26), DYNA_DUR_PENDING);
}

static void test_failure_with_nothing_new_loses_nothing(void **state) {
  (void)state;
  dyna_durable_t d;
  dyna_durable_init(&d);
  dyna_durable_ok(&d, 7);
  dyna_durable_lost(&d, 7);
  for (uint64_t w = 0; w <= 7; w++) assert_int_equal(dyna_durable_state(&d, w), DYNA_DUR_DURABLE);
}

/* "Every write so far" after a failure with nothing written since depends on no lost
 * write (the store rolled them back); a specific lost write stays lost. */
static void test_resolve_all(void **state) {
  (void)state;
  dyna_durable_t d;
  dyna_durable_init(&d);
  assert_int_equal(dyna_durable_resolve(&d, 7, 9), 7);
  assert_int_equal(dyna_durable_resolve(&d, DYNA_WSEQ_ALL, 9), 9);
  dyna_durable_ok(&d, 10);
  dyna_durable_lost(&d, 14);
  uint64_t w = dyna_durable_resolve(&d, DYNA_WSEQ_ALL, 14); /* nothing written since */
  assert_int_equal(dyna_durable_state(&d, w), DYNA_DUR_DURABLE);
  assert_int_equal(dyna_durable_state(&d, dyna_durable_resolve(&d, 14, 14)), DYNA_DUR_LOST);
  w = dyna_durable_resolve(&d, DYNA_WSEQ_ALL, 15); /* a write since: wait for it */
  assert_int_equal(w, 15);
  assert_int_equal(dyna_durable_state(&d, w), DYNA_DUR_PENDING);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_durable_point_moves_up),
      cmocka_unit_test(test_lost_writes_stay_lost),
      cmocka_unit_test(test_failure_with_nothing_new_loses_nothing),
      cmocka_unit_test(test_resolve_all),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
