/* test_glob.c: shell-style pattern matching (util/glob.c), as CONFIG GET uses it. */
#include "util/glob.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

static int m(const char *pat, const char *str) {
  return dyna_glob_match(pat, strlen(pat), str, strlen(str), 0);
}
static int mi(const char *pat, const char *str) {
  return dyna_glob_match(pat, strlen(pat), str, strlen(str), 1);
}

static void test_literals_and_wildcards(void **state) {
  (void)state;
  assert_true(m("", ""));
  assert_false(m("", "a"));
  assert_true(m("ring-size", "ring-size"));
  assert_false(m("ring-size", "ring-sizes"));
  assert_false(m("ring-sizes", "ring-size"));
  assert_true(m("*", ""));
  assert_true(m("*", "anything"));
  assert_true(m("ring-*", "ring-size"));
  assert_true(m("ring-*", "ring-"));
  assert_false(m("ring-*", "ring"));
  assert_true(m("*-ms", "heartbeat-ms"));
  assert_false(m("*-ms", "heartbeat-ms2"));
  assert_true(m("*a*b*", "xxaxxbxx"));
  assert_false(m("*a*b*", "xxbxxaxx"));
  assert_true(m("**timeout**", "request-timeout-ms"));
  assert_true(m("*ab", "aab")); /* the '*' must retry after a false start */
  assert_true(m("*aab", "aaab"));
  assert_true(m("?", "n"));
  assert_false(m("?", ""));
  assert_false(m("?", "nn"));
  assert_true(m("h?ll*", "hello"));
}

static void test_sets_escapes_and_case(void **state) {
  (void)state;
  assert_true(m("[nrw]", "n"));
  assert_true(m("[nrw]", "w"));
  assert_false(m("[nrw]", "x"));
  assert_false(m("[nrw]", "nr"));
  assert_true(m("[a-c]x", "bx"));
  assert_false(m("[a-c]x", "dx"));
  assert_true(m("[^a-c]x", "dx"));
  assert_false(m("[!a-c]x", "ax"));
  assert_true(m("[]]", "]"));       /* a ']' first in a set is a member */
  assert_true(m("a[", "a["));       /* an unclosed '[' is a plain byte */
  assert_false(m("a[", "ab"));
  assert_true(m("\\*", "*"));
  assert_false(m("\\*", "x"));
  assert_true(m("a\\?", "a?"));
  assert_false(m("a\\?", "ab"));
  assert_false(m("RING-*", "ring-size"));
  assert_true(mi("RING-*", "ring-size"));
  assert_true(mi("[N-R]", "p"));
  assert_false(mi("[N-R]", "s"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_literals_and_wildcards),
      cmocka_unit_test(test_sets_escapes_and_case),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
