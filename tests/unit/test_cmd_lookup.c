/* test_cmd_lookup.c: the command table's name lookup (runtime/cmd_table.c), which every
 * command goes through: names in any case, subcommands as "parent|sub" or by
 * dyna_cmd_sub_lookup, and nothing found for a prefix, a longer name, a name with a 0
 * byte inside or after it, or an empty one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "runtime/cmd_table.h"

static const dyna_cmd_t *find(const char *s, size_t n) { return dyna_cmd_lookup((const uint8_t *)s, n); }

static void test_names_in_any_case(void **state) {
  (void)state;
  const dyna_cmd_t *set = find("set", 3);
  assert_non_null(set);
  assert_string_equal(set->name, "set");
  assert_ptr_equal(find("SET", 3), set);
  assert_ptr_equal(find("sEt", 3), set);
  const dyna_cmd_t *z = find("ZRANGEBYSCORE", 13);
  assert_non_null(z);
  assert_string_equal(z->name, "zrangebyscore");
  assert_non_null(find("Dyna.Ring", 9));
}

static void test_near_names_are_not_found(void **state) {
  (void)state;
  assert_null(find("se", 2));     /* a prefix */
  assert_null(find("sets", 4));   /* longer */
  assert_null(find("set\0", 4));  /* a 0 byte after the name */
  assert_null(find("s\0t", 3));   /* and inside */
  assert_null(find("", 0));
  assert_null(find("s%t", 3)); /* 'E' + 0x60 - 0x40: only A-Z fold */
}

static void test_subcommands(void **state) {
  (void)state;
  const dyna_cmd_t *get = find("CONFIG|get", 10);
  assert_non_null(get);
  assert_string_equal(get->name, "config|get");
  const dyna_cmd_t *config = find("config", 6);
  assert_non_null(config);
  assert_ptr_equal(dyna_cmd_sub_lookup(config, (const uint8_t *)"GeT", 3), get);
  assert_null(dyna_cmd_sub_lookup(config, (const uint8_t *)"ge", 2));
  assert_null(dyna_cmd_sub_lookup(config, (const uint8_t *)"get\0", 4));
  assert_null(find("config|nope", 11));
  assert_null(find("set|get", 7)); /* no subcommands */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names_in_any_case),
      cmocka_unit_test(test_near_names_are_not_found),
      cmocka_unit_test(test_subcommands),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
