/* test_assert.c: DYNA_ASSERT and ALWAYS/NEVER (util/assert.h). A failing assertion is
 * run in a child process, whose stderr and exit are checked: it must abort and say what
 * failed, where, for which node and with which values. */
#include "util/assert.h"
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include "helper_child.h"

static void fail_durable_point(void) {
  uint64_t upto = 7, newer = 5;
  dyna_assert_set_node(0xabcdefull);
  DYNA_ASSERT(newer >= upto, "durable point moved back: %llu -> %llu",
              (unsigned long long)upto, (unsigned long long)newer);
}

static void test_assert_fires_with_context(void **state) {
  (void)state;
  char out[1024];
  int st = dyna_test_run_child(fail_durable_point, out, sizeof out);
  assert_true(WIFSIGNALED(st));
  assert_int_equal(WTERMSIG(st), SIGABRT);
  assert_non_null(strstr(out, "assertion failed: newer >= upto"));
  assert_non_null(strstr(out, "test_assert.c:"));
  assert_non_null(strstr(out, "node 0000000000abcdef"));
  assert_non_null(strstr(out, "durable point moved back: 7 -> 5"));
}

static void holds(void) {
  int x = 3;
  DYNA_ASSERT(x == 3, "x=%d", x);
}

static void test_assert_silent_when_true(void **state) {
  (void)state;
  char out[256];
  int st = dyna_test_run_child(holds, out, sizeof out);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 0);
  assert_string_equal(out, "");
}

static void defensive_fails(void) {
  int i = 9, n = 4;
  if (NEVER(i >= n)) _exit(3); /* the release path: take the error branch */
  _exit(4);
}

static void test_defensive_checks(void **state) {
  (void)state;
  assert_true(ALWAYS(1 == 1));
  assert_false(NEVER(1 == 2));
  char out[512];
  int st = dyna_test_run_child(defensive_fails, out, sizeof out);
#ifdef NDEBUG
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 3);
#else
  assert_true(WIFSIGNALED(st));
  assert_non_null(strstr(out, "assertion failed: !(i >= n)"));
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_assert_fires_with_context),
      cmocka_unit_test(test_assert_silent_when_true),
      cmocka_unit_test(test_defensive_checks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
