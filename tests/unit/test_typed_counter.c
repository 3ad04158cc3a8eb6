/* test_typed_counter.c: the counter commands (core/typed_counter.c) called directly on
 * objects: Redis 7's replies and errors, GET of every kind (dyna_typed_get), INCR
 * converting a string, errors leaving the object untouched, and concurrency: counters
 * incremented on two sides, merged in both orders and again (idempotent), sum exactly
 * once; concurrent conversions of one string count its value once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/crdt_ops.h"
#include "core/object.h"
#include "core/typed.h"
#include "util/buf.h"
#include "util/err.h"

#include "helper_typed.h"

#define NOW 1700000000000ull

static void test_incr_decr(void **st) {
  (void)st;
  dyna_obj_t o;
  dyna_obj_init(&o);
  dyna_tenv_t e = typed_env(1, NOW);
  typed_expect(&o, &e, "get k", "$-1\r\n");
  assert_int_equal(typed_expect(&o, &e, "incr k", ":1\r\n"), 1);
  typed_expect(&o, &e, "incrby k 5", ":6\r\n");
  typed_expect(&o, &e, "decr k", ":5\r\n");
  typed_expect(&o, &e, "decrby k 10", ":-5\r\n");
  typed_expect(&o, &e, "incrby k -3", ":-8\r\n");
  typed_expect(&o, &e, "get k", "$2\r\n-8\r\n");
  assert_int_equal(dyna_obj_kind(&o, NOW), DYNA_KIND_COUNTER);
  dyna_obj_clear(&o);
}

static void test_errors(void **st) {
  (void)st;
  dyna_obj_t o;
  dyna_obj_init(&o);
  dyna_tenv_t e = typed_env(1, NOW);
  typed_expect(&o, &e, "incr k", ":1\r\n");
  typed_expect_unchanged(&o, &e, "incrby k abc", "-ERR value is not an integer or out of range\r\n");
  typed_expect_unchanged(&o, &e, "incrby k 1.5", "-ERR value is not an integer or out of range\r\n");
  typed_expect_unchanged(&o, &e, "incrby k 01", "-ERR value is not an integer or out of range\r\n");
  typed_expect_unchanged(&o, &e, "decrby k -9223372036854775808", "-ERR decrement would overflow\r\n");
  typed_expect(&o, &e, "incrby k 9223372036854775806", ":9223372036854775807\r\n");
  typed_expect_unchanged(&o, &e, "incr k", "-ERR increment or decrement would overflow\r\n");
  typed_expect_unchanged(&o, &e, "incrbyfloat k abc", "-ERR value is not a valid float\r\n");
  typed_expect_unchanged(&o, &e, "incrbyfloat k nan", "-ERR value is not a valid float\r\n");
  typed_expect_unchanged(&o, &e, "incrbyfloat k inf", "-ERR increment would produce NaN or Infinity\r\n");
  typed_expect(&o, &e, "decrby k 9223372036854775807", ":0\r\n");
  typed_expect(&o, &e, "decrby k 9223372036854775807", ":-9223372036854775807\r\n");
  typed_expect(&o, &e, "decr k", ":-9223372036854775808\r\n");
  typed_expect_unchanged(&o, &e, "decr k", "-ERR increment or decrement would overflow\r\n");
  /* Another type. */
  dyna_obj_t s;
  dyna_obj_init(&s);
  dyna_crdt_t *set;
  assert_int_equal(dyna_obj_typed_for_write(&s, DYNA_CRDT_SET, 1, NOW, &set), 0);
  assert_int_equal(dyna_crdt_sadd(set, 1, (const uint8_t *)"m", 1), 1);
  dyna_obj_typed_done(&s);
  const char *wt = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
  typed_expect_unchanged(&s, &e, "incr k", wt);
  typed_expect_unchanged(&s, &e, "incrbyfloat k 1", wt);
  typed_expect_unchanged(&s, &e, "incrbyfloat k abc", wt); /* Redis checks the type first */
  typed_expect_unchanged(&s, &e, "incrby k abc", "-ERR value is not an integer or out of range\r\n");
  typed_expect(&s, &e, "get k", wt);
  dyna_obj_clear(&s);
  dyna_obj_clear(&o);
}

static void test_float(void **st) {
  (void)st;
  dyna_obj_t o;
  dyna_obj_init(&o);
  dyna_tenv_t e = typed_env(1, NOW);
  typed_set_str(&o, 1, "10.5", NOW);
  typed_expect(&o, &e, "incrbyfloat k 0.1", "$4\r\n10.6\r\n");
  typed_expect(&o, &e, "incrbyfloat k -5", "$3\r\n5.6\r\n");
  typed_expect(&o, &e, "get k", "$3\r\n5.6\r\n");
  typed_expect_unchanged(&o, &e, "incr k", "-ERR value is not an integer or out of range\r\n");
  dyna_obj_clear(&o);

  dyna_obj_init(&o);
  typed_expect(&o, &e, "incrbyfloat k 0.1", "$3\r\n0.1\r\n");
  typed_expect(&o, &e, "incrbyfloat k 0.2", "$3\r\n0.3\r\n");
  /* The state sums doubles: where their rounding shows at 17 decimals the reply shows
   * it (Redis, in long double, answers "0"; docs/compatibility.md). */
  typed_expect(&o, &e, "incrbyfloat k -0.3", "$19\r\n0.00000000000000006\r\n");
  dyna_obj_clear(&o);

  dyna_obj_init(&o);
  typed_set_str(&o, 1, "5.0e3", NOW);
  typed_expect(&o, &e, "incrbyfloat k 2.0e2", "$4\r\n5200\r\n");
  typed_expect(&o, &e, "incr k", ":5201\r\n"); /* an integral float value counts as an integer */
  typed_expect(&o, &e, "get k", "$4\r\n5201\r\n");
  dyna_obj_clear(&o);

  dyna_obj_init(&o);
  typed_expect(&o, &e, "incrbyfloat k 1.5", "$3\r\n1.5\r\n");
  typed_expect(&o, &e, "incrbyfloat k -1.5", "$1\r\n0\r\n");
  typed_expect(&o, &e, "get k", "$1\r\n0\r\n");
  typed_expect(&o, &e, "incr k", ":1\r\n");
  typed_expect(&o, &e, "incrbyfloat k 1e20", "$21\r\n100000000000000000000\r\n");
  typed_expect(&o, &e, "incrbyfloat k -1e20", "$1\r\n1\r\n");
  typed_expect(&o, &e, "incrbyfloat k 1e-30", "$1\r\n1\r\n");
  dyna_obj_clear(&o);

  /* Both parts: an int64 part and a double part read as their exact sum. */
  dyna_obj_init(&o);
  typed_expect(&o, &e, "incrby k 9223372036854775807", ":9223372036854775807\r\n");
  typed_expect(&o, &e, "incrbyfloat k 0.5", "$21\r\n9223372036854775807.5\r\n");
  typed_expect(&o, &e, "get k", "$21\r\n9223372036854775807.5\r\n");
  typed_expect_unchanged(&o, &e, "incr k", "-ERR value is not an integer or out of range\r\n");
  dyna_obj_clear(&o);
}

static void test_convert(void **st) {
  (void)st;
  dyna_obj_t o;
  dyna_obj_init(&o);
  dyna_tenv_t e = typed_env(1, NOW);
  typed_set_str(&o, 1, "5", NOW);
  typed_expect(&o, &e, "get k", "$1\r\n5\r\n");
  assert_int_equal(dyna_obj_kind(&o, NOW), DYNA_KIND_STRING);
  typed_expect(&o, &e, "incr k", ":6\r\n");
  assert_int_equal(dyna_obj_kind(&o, NOW), DYNA_KIND_COUNTER);
  assert_int_equal(dyna_obj_nlive(&o), 0); /* the string is superseded */
  typed_expect(&o, &e, "get k", "$1\r\n6\r\n");
  typed_expect(&o, &e, "incrby k 10", ":16\r\n");

  /* A string that is not an integer: Redis's errors, nothing written. */
  typed_set_str(&o, 1, "abc", NOW + 1);
  typed_expect(&o, &e, "get k", "$3\r\nabc\r\n");
  typed_expect_unchanged(&o, &e, "incr k", "-ERR value is not an integer or out of range\r\n");
  typed_expect_unchanged(&o, &e, "incrbyfloat k 1", "-ERR value is not a valid float\r\n");
  typed_set_str(&o, 1, " 5", NOW + 2);
  typed_expect_unchanged(&o, &e, "incr k", "-ERR value is not an integer or out of range\r\n");
  typed_set_str(&o, 1, "5.0", NOW + 3);
  typed_expect_unchanged(&o, &e, "incr k", "-ERR value is not an integer or out of range\r\n");
  typed_expect(&o, &e, "incrbyfloat k 1", "$1\r\n6\r\n");
  typed_set_str(&o, 1, "-7", NOW + 4);
  typed_expect(&o, &e, "decrby k 3", ":-10\r\n");
  dyna_obj_clear(&o);
}

/* a := merge(a, b) and b := merge(b, a) give the same bytes; merging again changes
 * nothing. */
static void merge_both(dyna_obj_t *a, dyna_obj_t *b) {
  dyna_obj_t ab, ba;
  dyna_obj_init(&ab);
  dyna_obj_init(&ba);
  assert_int_equal(dyna_obj_copy(&ab, a), 0);
  assert_int_equal(dyna_obj_copy(&ba, b), 0);
  assert_int_equal(dyna_obj_merge(&ab, b), 0);
  assert_int_equal(dyna_obj_merge(&ba, a), 0);
  typed_same(&ab, &ba);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(dyna_obj_merge(&ab, b), 0);
    assert_int_equal(dyna_obj_merge(&ab, a), 0);
    assert_int_equal(dyna_obj_merge(&ab, &ba), 0);
  }
  typed_same(&ab, &ba);
  dyna_obj_clear(a);
  dyna_obj_clear(b);
  *a = ab;
  *b = ba;
}

static void test_concurrent(void **st) {
  (void)st;
  dyna_obj_t base, a, b;
  dyna_obj_init(&base);
  dyna_obj_init(&a);
  dyna_obj_init(&b);
  dyna_tenv_t e1 = typed_env(1, NOW), e2 = typed_env(2, NOW);
  typed_expect(&base, &e1, "incrby k 10", ":10\r\n");
  assert_int_equal(dyna_obj_copy(&a, &base), 0);
  assert_int_equal(dyna_obj_copy(&b, &base), 0);
  typed_expect(&a, &e1, "incrby k 3", ":13\r\n");
  typed_expect(&b, &e2, "incrby k 4", ":14\r\n");
  typed_expect(&b, &e2, "decr k", ":13\r\n");
  merge_both(&a, &b);
  typed_expect(&a, &e1, "get k", "$2\r\n16\r\n");
  /* Another round from the merged state, with floats: still each once. */
  typed_expect(&a, &e1, "incrbyfloat k 0.5", "$4\r\n16.5\r\n");
  typed_expect(&b, &e2, "incrbyfloat k 0.25", "$5\r\n16.25\r\n");
  typed_expect_unchanged(&b, &e2, "incr k", "-ERR value is not an integer or out of range\r\n");
  merge_both(&a, &b);
  typed_expect(&b, &e2, "get k", "$5\r\n16.75\r\n");
  /* A third side that saw only the base merges in and changes nothing twice. */
  merge_both(&a, &base);
  typed_expect(&a, &e2, "get k", "$5\r\n16.75\r\n");
  dyna_obj_clear(&base);
  dyna_obj_clear(&a);
  dyna_obj_clear(&b);
}

static void test_concurrent_convert(void **st) {
  (void)st;
  dyna_obj_t a, b;
  dyna_obj_init(&a);
  dyna_obj_init(&b);
  dyna_tenv_t e1 = typed_env(1, NOW), e2 = typed_env(2, NOW + 5);
  typed_set_str(&a, 1, "5", NOW - 10);
  assert_int_equal(dyna_obj_copy(&b, &a), 0);
  typed_expect(&a, &e1, "incr k", ":6\r\n");
  typed_expect(&b, &e2, "incrby k 2", ":7\r\n");
  merge_both(&a, &b);
  typed_expect(&a, &e1, "get k", "$1\r\n8\r\n"); /* 5 once, +1, +2 */
  assert_int_equal(dyna_obj_nlive(&a), 0);
  dyna_obj_clear(&a);
  dyna_obj_clear(&b);
}

static void test_after_expiry(void **st) {
  (void)st;
  dyna_obj_t o;
  dyna_obj_init(&o);
  dyna_tenv_t e = typed_env(1, NOW);
  typed_expect(&o, &e, "incrby k 41", ":41\r\n");
  assert_int_equal(dyna_obj_set_deadline(&o, 1, NOW + 100), 0);
  typed_expect(&o, &e, "get k", "$2\r\n41\r\n");
  dyna_tenv_t later = typed_env(1, NOW + 100);
  typed_expect(&o, &later, "get k", "$-1\r\n");
  typed_expect(&o, &later, "incr k", ":1\r\n"); /* a fresh key: no old value, no old deadline */
  uint64_t d;
  assert_int_equal(dyna_obj_deadline(&o, &d), 0);
  /* An expired string does not convert either. */
  typed_set_str(&o, 1, "9", NOW + 200);
  assert_int_equal(dyna_obj_set_deadline(&o, 1, NOW + 300), 0);
  dyna_tenv_t last = typed_env(1, NOW + 300);
  typed_expect(&o, &last, "get k", "$-1\r\n");
  typed_expect(&o, &last, "incr k", ":1\r\n");
  dyna_obj_clear(&o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_incr_decr),        cmocka_unit_test(test_errors),
      cmocka_unit_test(test_float),            cmocka_unit_test(test_convert),
      cmocka_unit_test(test_concurrent),       cmocka_unit_test(test_concurrent_convert),
      cmocka_unit_test(test_after_expiry),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
