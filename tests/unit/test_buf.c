/* test_buf.c: the growable buffer's two ways to make room (util/buf.c): dyna_buf_reserve
 * doubles (appends stay amortised O(1)), dyna_buf_reserve_exact grows to exactly what is
 * asked (bytes kept as they are, such as a GET's object: no slack held per reply); both
 * keep what the buffer holds, leave a buffer with room alone, and refuse a size that
 * overflows, marking the buffer out of memory. */
#include "util/buf.h"
#include "util/err.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

static void test_reserve_doubles(void **state) {
  (void)state;
  dyna_buf_t b = DYNA_BUF_INIT;
  assert_int_equal(dyna_buf_reserve(&b, 100), 0);
  assert_int_equal(b.cap, 128); /* 64, doubled */
  dyna_buf_put(&b, "abc", 3);
  assert_int_equal(dyna_buf_reserve(&b, 125), 0);
  assert_int_equal(b.cap, 128); /* room enough: unchanged */
  assert_int_equal(dyna_buf_reserve(&b, 126), 0);
  assert_int_equal(b.cap, 256);
  assert_memory_equal(b.data, "abc", 3);
  dyna_buf_free(&b);
}

static void test_reserve_exact(void **state) {
  (void)state;
  dyna_buf_t b = DYNA_BUF_INIT;
  assert_int_equal(dyna_buf_reserve_exact(&b, 100000), 0);
  assert_int_equal(b.cap, 100000);
  dyna_buf_put(&b, "xyz", 3);
  assert_int_equal(dyna_buf_reserve_exact(&b, 99997), 0);
  assert_int_equal(b.cap, 100000); /* room enough: unchanged */
  assert_int_equal(dyna_buf_reserve_exact(&b, 100000), 0);
  assert_int_equal(b.cap, 100003);
  assert_memory_equal(b.data, "xyz", 3);
  assert_false(b.oom);
  dyna_buf_free(&b);
}

static void test_reserve_overflow(void **state) {
  (void)state;
  for (int exact = 0; exact < 2; exact++) {
    dyna_buf_t b = DYNA_BUF_INIT;
    dyna_buf_put(&b, "k", 1);
    int rc = exact ? dyna_buf_reserve_exact(&b, SIZE_MAX) : dyna_buf_reserve(&b, SIZE_MAX);
    assert_int_equal(rc, DYNA_ENOMEM);
    assert_true(b.oom);
    assert_int_equal(exact ? dyna_buf_reserve_exact(&b, 1) : dyna_buf_reserve(&b, 1), DYNA_ENOMEM);
    dyna_buf_free(&b);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reserve_doubles),
      cmocka_unit_test(test_reserve_exact),
      cmocka_unit_test(test_reserve_overflow),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
