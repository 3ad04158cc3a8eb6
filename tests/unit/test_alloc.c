/* test_alloc.c: the allocation wrapper (util/alloc.c): dyna_calloc zeroes what it hands
 * out on both of its paths (malloc + memset for small blocks, calloc for large), refuses
 * a count x size that overflows, and the fail-the-Nth hook counts every call. */
#include "util/alloc.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

static size_t oom_calls, oom_last;
static void on_oom(size_t n) {
  oom_calls++;
  oom_last = n;
}

/* Dirties a block of the size class, frees it, and asks dyna_calloc for the same size:
 * the allocator likely hands the dirty block back, which must come zeroed. */
static void check_zeroed(size_t count, size_t size) {
  size_t n = count * size;
  unsigned char *dirty = dyna_malloc(n);
  assert_non_null(dirty);
  memset(dirty, 0xA5, n);
  dyna_free(dirty);
  unsigned char *p = dyna_calloc(count, size);
  assert_non_null(p);
  for (size_t i = 0; i < n; i++)
    if (p[i]) fail_msg("dyna_calloc(%zu, %zu): byte %zu is %#x", count, size, i, p[i]);
  dyna_free(p);
}

static void test_calloc_zeroes(void **state) {
  (void)state;
  check_zeroed(1, 1);
  check_zeroed(3, 32);     /* an object's entries */
  check_zeroed(1, 4096);   /* the largest through malloc */
  check_zeroed(2, 4096);   /* through calloc */
  check_zeroed(1000, 100); /* through calloc */
  void *p = dyna_calloc(0, 0); /* a valid, freeable block */
  assert_non_null(p);
  dyna_free(p);
}

static void test_calloc_overflow_refused(void **state) {
  (void)state;
  dyna_mem_set_oom_hook(on_oom);
  oom_calls = 0;
  assert_null(dyna_calloc(SIZE_MAX / 2 + 1, 2));
  assert_null(dyna_calloc(2, SIZE_MAX));
  assert_int_equal(oom_calls, 2);
  assert_true(oom_last == SIZE_MAX);
  dyna_mem_set_oom_hook(NULL);
}

static void test_fail_after_counts_calls(void **state) {
  (void)state;
  dyna_mem_fail_after(2); /* two calls succeed, the third fails */
  void *a = dyna_calloc(1, 16), *b = dyna_malloc(16), *c = dyna_calloc(1, 16), *d = dyna_calloc(1, 16);
  assert_non_null(a);
  assert_non_null(b);
  assert_null(c);
  assert_non_null(d); /* once only */
  dyna_free(a);
  dyna_free(b);
  dyna_free(d);
  dyna_mem_fail_after(-1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_calloc_zeroes),
      cmocka_unit_test(test_calloc_overflow_refused),
      cmocka_unit_test(test_fail_after_counts_calls),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
