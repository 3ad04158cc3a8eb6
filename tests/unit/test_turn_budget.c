/* test_turn_budget.c: a client connection's per-loop-turn budget (util/turn_budget.c),
 * the bookkeeping behind dynad's fairness between pipelining clients (runtime/conn.c). */
#include "util/turn_budget.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Takes commands of n bytes while the budget allows (at most limit tries); returns how
 * many were taken. */
static uint32_t take_while_left(dyna_turn_budget_t *b, uint32_t max_cmds, size_t max_bytes, size_t n,
                                uint32_t limit) {
  uint32_t k = 0;
  while (k < limit && dyna_turn_budget_left(b, max_cmds, max_bytes)) {
    uint32_t got = dyna_turn_budget_take(b, n);
    k++;
    assert_int_equal(got, b->cmds);
  }
  return k;
}

static void test_commands_bound(void **state) {
  (void)state;
  dyna_turn_budget_t b = {0};
  dyna_turn_budget_begin(&b, 7);
  assert_int_equal(take_while_left(&b, 128, 256 * 1024, 14, 100000), 128);
  assert_false(dyna_turn_budget_left(&b, 128, 256 * 1024));
  /* The same turn again (a flush retrying the connection): still spent. */
  dyna_turn_budget_begin(&b, 7);
  assert_false(dyna_turn_budget_left(&b, 128, 256 * 1024));
  assert_int_equal(b.cmds, 128);
  /* The next turn: a fresh share, and the count restarts. */
  dyna_turn_budget_begin(&b, 8);
  assert_true(dyna_turn_budget_left(&b, 128, 256 * 1024));
  assert_int_equal(dyna_turn_budget_take(&b, 14), 1);
  assert_int_equal(take_while_left(&b, 128, 256 * 1024, 14, 100000), 127);
}

static void test_bytes_bound(void **state) {
  (void)state;
  dyna_turn_budget_t b = {0};
  dyna_turn_budget_begin(&b, 1);
  /* 100 KB commands: the byte bound (256 KiB) stops them at 3, before 128 commands. */
  assert_int_equal(take_while_left(&b, 128, 256 * 1024, 100 * 1024, 1000), 3);
  /* A command larger than the whole bound still runs, alone, first in its turn. */
  dyna_turn_budget_begin(&b, 2);
  assert_true(dyna_turn_budget_left(&b, 128, 256 * 1024));
  dyna_turn_budget_take(&b, 2u << 20);
  assert_false(dyna_turn_budget_left(&b, 128, 256 * 1024));
  /* The byte count saturates instead of wrapping. */
  dyna_turn_budget_begin(&b, 3);
  dyna_turn_budget_take(&b, SIZE_MAX);
  dyna_turn_budget_take(&b, SIZE_MAX);
  assert_true(b.bytes == SIZE_MAX);
  assert_false(dyna_turn_budget_left(&b, 0, 1));
}

static void test_no_bound(void **state) {
  (void)state;
  dyna_turn_budget_t b = {0};
  dyna_turn_budget_begin(&b, 1);
  assert_int_equal(take_while_left(&b, 0, 0, 1 << 20, 5000), 5000);
  assert_int_equal(take_while_left(&b, 0, 256 * 1024, 1, 1000), 0); /* bytes already over */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_commands_bound),
      cmocka_unit_test(test_bytes_bound),
      cmocka_unit_test(test_no_bound),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
