/* test_buf.c: the growable buffer's two ways to make room (util/buf.c): dyna_buf_reserve
 * doubles (appends stay amortised O(1)), dyna_buf_reserve_exact grows to exactly what is
 * asked (bytes kept as they are, such as a GET's object: no slack held per reply); both
 * keep what the buffer holds, leave a buffer with room alone, and refuse a size that
 * overflows, marking the buffer out of memory. The varint reader's 8-byte shortcut
 * (dyna_varint8) gives what reading byte by byte gives, for every length. */
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

/* The varint at p read a byte at a time (at most 10 bytes, as dyna_rd_varint allows):
 * its length, or 0 when it does not end within them. */
static size_t varint_by_bytes(const uint8_t *p, uint64_t *v) {
  *v = 0;
  for (size_t i = 0; i < 10; i++) {
    *v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
    if (!(p[i] & 0x80)) return i + 1;
  }
  return 0;
}

static void test_varint8_agrees(void **state) {
  (void)state;
  uint64_t x = 0x9e3779b97f4a7c15ull; /* a fixed xorshift sequence: bytes of every kind */
  for (int round = 0; round < 200000; round++) {
    uint8_t p[16];
    for (size_t i = 0; i < sizeof(p); i++) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      p[i] = (uint8_t)x;
    }
    size_t stop = (size_t)(x >> 60) % 11; /* end the varint after stop + 1 bytes, or never */
    for (size_t i = 0; i < 10; i++) {
      if (i < stop) p[i] |= 0x80;
      else if (i == stop) p[i] &= 0x7f;
    }
    uint64_t want, got = 0;
    size_t wn = varint_by_bytes(p, &want), gn = dyna_varint8(p, &got);
    if (wn && wn <= 8) {
      assert_int_equal(gn, wn);
      assert_true(got == want);
    } else {
      assert_int_equal(gn, 0); /* longer than 8 bytes: the caller's loop */
    }
    dyna_rd_t r;
    dyna_rd_init(&r, p, sizeof(p));
    uint64_t rv = dyna_rd_varint(&r);
    if (wn && (wn < 10 || p[9] <= 1)) {
      assert_int_equal(r.err, 0);
      assert_true(rv == want);
      assert_int_equal(r.off, wn);
    } else {
      assert_int_not_equal(r.err, 0);
    }
  }
  uint8_t eight[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, v1[8] = {0x05};
  uint64_t v;
  assert_int_equal(dyna_varint8(eight, &v), 8);
  assert_true(v == (1ull << 56) - 1);
  assert_int_equal(dyna_varint8(v1, &v), 1);
  assert_true(v == 5);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reserve_doubles),
      cmocka_unit_test(test_reserve_exact),
      cmocka_unit_test(test_varint8_agrees),
      cmocka_unit_test(test_reserve_overflow),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
