/* test_config.c: dynad's option parsing (runtime/config.c), the parts with structure:
 * the --join seed list. Bad values are refused with a message and leave the config as
 * it was. */
#include "runtime/config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

static int set_join(dyna_config_t *c, const char *val) {
  char err[256];
  int rc = dyna_config_set(c, "join", val, err, sizeof(err));
  if (rc) assert_non_null(strstr(err, "invalid address list"));
  return rc;
}

static void test_join_list(void **state) {
  (void)state;
  dyna_config_t c;
  dyna_config_default(&c);
  assert_int_equal(set_join(&c, "127.0.0.1:17001"), 0);
  assert_int_equal(c.njoin, 1);
  assert_string_equal(c.join[0], "127.0.0.1:17001");
  assert_int_equal(set_join(&c, "127.0.0.1:17001,127.0.0.2:17002"), 0);
  assert_int_equal(c.njoin, 2);
  assert_string_equal(c.join[0], "127.0.0.1:17001");
  assert_string_equal(c.join[1], "127.0.0.2:17002");
  assert_int_equal(set_join(&c, "::1:17001,10.1.2.3:1"), 0);
  assert_int_equal(set_join(&c, "1.0.0.1:1,1.0.0.2:2,1.0.0.3:3,1.0.0.4:4,1.0.0.5:5,1.0.0.6:6,1.0.0.7:7,1.0.0.8:8"), 0);
  assert_int_equal(c.njoin, 8);
  assert_string_equal(c.join[7], "1.0.0.8:8");
  dyna_config_t before = c;
  const char *bad[] = {
      "",                         /* nothing */
      ",127.0.0.1:1",             /* an empty entry first */
      "127.0.0.1:1,",             /* ... last */
      "127.0.0.1:1,,127.0.0.1:2", /* ... in between */
      "127.0.0.1",                /* no port */
      "127.0.0.1:0",              /* port out of range */
      "127.0.0.1:65536",
      "localhost:7001",           /* not an IP literal: the peer links dial IPs */
      "127.0.0.1:1, 127.0.0.1:2", /* a space */
      "1.0.0.1:1,1.0.0.2:2,1.0.0.3:3,1.0.0.4:4,1.0.0.5:5,1.0.0.6:6,1.0.0.7:7,1.0.0.8:8,1.0.0.9:9",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_not_equal(set_join(&c, bad[i]), 0);
    assert_int_equal(c.njoin, before.njoin); /* unchanged */
    assert_memory_equal(c.join, before.join, sizeof(before.join));
  }
  char longest[700];
  memset(longest, '1', sizeof(longest) - 1);
  longest[sizeof(longest) - 1] = 0;
  assert_int_not_equal(set_join(&c, longest), 0);
}

/* The command line takes the same list. */
static void test_join_on_the_command_line(void **state) {
  (void)state;
  dyna_config_t c;
  dyna_config_default(&c);
  char a0[] = "dynad", a1[] = "--join", a2[] = "127.0.0.1:1,127.0.0.1:2";
  char *argv[] = {a0, a1, a2, NULL};
  char err[256];
  assert_int_equal(dyna_config_parse(&c, 3, argv, err, sizeof(err)), 0);
  assert_int_equal(c.njoin, 2);
  assert_string_equal(c.join[1], "127.0.0.1:2");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_join_list),
      cmocka_unit_test(test_join_on_the_command_line),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
