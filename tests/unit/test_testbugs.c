/* test_testbugs.c: dynad's test-only DYNA_TEST_BUGS (runtime/test_bugs.c). A build with
 * the CMake option takes the names dynad allows and refuses others; a build without it (a
 * release build) refuses every non-empty value, saying why; unset or empty is 0 in both.
 * And the compile-time flag reaches the binary: this test is built with the option exactly
 * when DYNA_TEST_BUGS_EXPECTED says so (CMake passes the option's value). */
#include "runtime/test_bugs.h"
#include "core/node.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

static void unset_is_nothing(void **state) {
  (void)state;
  char err[256] = "";
  uint32_t b = 7;
  for (int built = 0; built <= 1; built++) {
    assert_int_equal(dyna_test_bugs_read(NULL, built, &b, err, sizeof(err)), 0);
    assert_int_equal(b, 0);
    b = 7;
    assert_int_equal(dyna_test_bugs_read("", built, &b, err, sizeof(err)), 0);
    assert_int_equal(b, 0);
  }
}

static void built_takes_allowed_names(void **state) {
  (void)state;
  char err[256] = "";
  uint32_t b;
  assert_int_equal(dyna_test_bugs_read("early-ack,counter-sum", 1, &b, err, sizeof(err)), 0);
  assert_int_equal(b, DYNA_BUG_EARLY_ACK | DYNA_BUG_COUNTER_SUM);
  assert_int_equal(dyna_test_bugs_read("gate-forget-loss", 1, &b, err, sizeof(err)), 0);
  assert_int_equal(b, DYNA_BUG_GATE_FORGET_LOSS);
  /* a simulator-only bug and an unknown name are refused */
  assert_int_equal(dyna_test_bugs_read("keep-incarnation", 1, &b, err, sizeof(err)), -1);
  assert_int_equal(b, 0);
  assert_non_null(strstr(err, "dynad takes only"));
  assert_int_equal(dyna_test_bugs_read("bogus", 1, &b, err, sizeof(err)), -1);
  assert_int_equal(b, 0);
}

static void release_refuses_every_value(void **state) {
  (void)state;
  static const char *vals[] = {"early-ack", "gate-forget-loss", "none", "bogus"};
  for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
    char err[256] = "";
    uint32_t b = 7;
    assert_int_equal(dyna_test_bugs_read(vals[i], 0, &b, err, sizeof(err)), -1);
    assert_int_equal(b, 0);
    assert_non_null(strstr(err, "built without deliberate test bugs"));
    assert_non_null(strstr(err, vals[i]));
  }
}

static void build_flag_reaches_the_binary(void **state) {
  (void)state;
  assert_int_equal(dyna_test_bugs_built(), DYNA_TEST_BUGS_EXPECTED);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(unset_is_nothing),
      cmocka_unit_test(built_takes_allowed_names),
      cmocka_unit_test(release_refuses_every_value),
      cmocka_unit_test(build_flag_reaches_the_binary),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
