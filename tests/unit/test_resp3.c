/* test_resp3.c: the RESP3 shape encoders of proto/resp.h (map, set, double, null, null
 * array, boolean, verbatim string): the exact bytes Redis 7.0 writes for each in RESP3,
 * and the RESP2 form it writes for the same reply when the client did not ask for
 * RESP3 (HELLO 3). Bytes fed straight to the encoders, no socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <string.h>
#include <cmocka.h>

#include "proto/resp.h"
#include "util/alloc.h"

#define ASSERT_BUF(b, lit)                                \
  do {                                                    \
    assert_false((b)->oom);                               \
    assert_int_equal((b)->len, sizeof(lit) - 1);          \
    assert_memory_equal((b)->data, lit, sizeof(lit) - 1); \
    dyna_buf_reset(b);                                    \
  } while (0)

static void test_map_and_set(void **state) {
  (void)state;
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_resp_put_map(&b, DYNA_RESP3, 7);
  ASSERT_BUF(&b, "%7\r\n");
  dyna_resp_put_map(&b, DYNA_RESP2, 7); /* a flat array of key, value, ... */
  ASSERT_BUF(&b, "*14\r\n");
  dyna_resp_put_map(&b, DYNA_RESP3, 0);
  ASSERT_BUF(&b, "%0\r\n");
  dyna_resp_put_map(&b, 0, 1); /* 0: a client that never said HELLO */
  ASSERT_BUF(&b, "*2\r\n");
  dyna_resp_put_set(&b, DYNA_RESP3, 3);
  ASSERT_BUF(&b, "~3\r\n");
  dyna_resp_put_set(&b, DYNA_RESP2, 3);
  ASSERT_BUF(&b, "*3\r\n");
  dyna_resp_put_set(&b, DYNA_RESP3, 1234567);
  ASSERT_BUF(&b, "~1234567\r\n");
  dyna_buf_free(&b);
}

/* Redis 7.0's addReplyDouble: "%.17g", inf and -inf spelled out; RESP2 sends the same
 * text as a bulk string. */
static void test_double(void **state) {
  (void)state;
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_resp_put_double(&b, DYNA_RESP3, 1.5);
  ASSERT_BUF(&b, ",1.5\r\n");
  dyna_resp_put_double(&b, DYNA_RESP2, 1.5);
  ASSERT_BUF(&b, "$3\r\n1.5\r\n");
  dyna_resp_put_double(&b, DYNA_RESP3, 0.1);
  ASSERT_BUF(&b, ",0.10000000000000001\r\n");
  dyna_resp_put_double(&b, DYNA_RESP2, 0.1);
  ASSERT_BUF(&b, "$19\r\n0.10000000000000001\r\n");
  dyna_resp_put_double(&b, DYNA_RESP3, 2);
  ASSERT_BUF(&b, ",2\r\n");
  dyna_resp_put_double(&b, DYNA_RESP3, -3.25);
  ASSERT_BUF(&b, ",-3.25\r\n");
  dyna_resp_put_double(&b, DYNA_RESP3, INFINITY);
  ASSERT_BUF(&b, ",inf\r\n");
  dyna_resp_put_double(&b, DYNA_RESP3, -INFINITY);
  ASSERT_BUF(&b, ",-inf\r\n");
  dyna_resp_put_double(&b, DYNA_RESP2, -INFINITY);
  ASSERT_BUF(&b, "$4\r\n-inf\r\n");
  dyna_resp_put_double(&b, DYNA_RESP3, 1e300);
  ASSERT_BUF(&b, ",1.0000000000000001e+300\r\n");
  dyna_resp_put_double(&b, DYNA_RESP3, -1.7976931348623157e308);
  ASSERT_BUF(&b, ",-1.7976931348623157e+308\r\n");
  char num[32];
  assert_int_equal(dyna_resp_fmt_double(NAN, num), 3);
  assert_string_equal(num, "nan");
  dyna_buf_free(&b);
}

static void test_null_and_bool(void **state) {
  (void)state;
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_resp_put_null(&b, DYNA_RESP3);
  ASSERT_BUF(&b, "_\r\n");
  dyna_resp_put_null(&b, DYNA_RESP2);
  ASSERT_BUF(&b, "$-1\r\n");
  dyna_resp_put_null(&b, 0);
  ASSERT_BUF(&b, "$-1\r\n");
  dyna_resp_put_null_array(&b, DYNA_RESP3);
  ASSERT_BUF(&b, "_\r\n");
  dyna_resp_put_null_array(&b, DYNA_RESP2);
  ASSERT_BUF(&b, "*-1\r\n");
  dyna_resp_put_bool(&b, DYNA_RESP3, 1);
  ASSERT_BUF(&b, "#t\r\n");
  dyna_resp_put_bool(&b, DYNA_RESP3, 0);
  ASSERT_BUF(&b, "#f\r\n");
  dyna_resp_put_bool(&b, DYNA_RESP2, 7);
  ASSERT_BUF(&b, ":1\r\n");
  dyna_resp_put_bool(&b, DYNA_RESP2, 0);
  ASSERT_BUF(&b, ":0\r\n");
  dyna_buf_free(&b);
}

/* A verbatim string: its length counts the "txt:" prefix; the text is binary-safe. */
static void test_verbatim(void **state) {
  (void)state;
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_resp_put_verbatim(&b, DYNA_RESP3, "txt", "a:1\r\nb", 6);
  ASSERT_BUF(&b, "=10\r\ntxt:a:1\r\nb\r\n");
  dyna_resp_put_verbatim(&b, DYNA_RESP2, "txt", "a:1\r\nb", 6);
  ASSERT_BUF(&b, "$6\r\na:1\r\nb\r\n");
  dyna_resp_put_verbatim(&b, DYNA_RESP3, "mkd", "", 0);
  ASSERT_BUF(&b, "=4\r\nmkd:\r\n");
  dyna_buf_free(&b);
}

/* A whole RESP3 reply as Redis 7.0 writes HELLO 3's map, and RESP2's flat form, which
 * the RESP2 reply parser reads back. */
static void test_nested_shapes(void **state) {
  (void)state;
  for (int proto = DYNA_RESP2; proto <= DYNA_RESP3; proto++) {
    dyna_buf_t b = DYNA_BUF_INIT;
    dyna_resp_put_map(&b, proto, 2);
    dyna_resp_put_bulk_str(&b, "m");
    dyna_resp_put_set(&b, proto, 1);
    dyna_resp_put_bulk_str(&b, "x");
    dyna_resp_put_bulk_str(&b, "s");
    dyna_resp_put_double(&b, proto, 2.5);
    assert_false(b.oom);
    if (proto == DYNA_RESP3) {
      ASSERT_BUF(&b, "%2\r\n$1\r\nm\r\n~1\r\n$1\r\nx\r\n$1\r\ns\r\n,2.5\r\n");
    } else {
      dyna_resp_limits_t lim;
      dyna_resp_limits_default(&lim);
      dyna_resp_value_t v;
      size_t used;
      assert_int_equal(dyna_resp_parse_reply(&lim, b.data, b.len, &v, &used), 0);
      assert_int_equal(used, b.len);
      assert_int_equal(v.type, DYNA_RESP_ARRAY);
      assert_int_equal(v.n, 4);
      assert_int_equal(v.elem[1].type, DYNA_RESP_ARRAY);
      assert_int_equal(v.elem[3].type, DYNA_RESP_BULK);
      assert_string_equal((const char *)v.elem[3].str, "2.5");
      dyna_resp_value_free(&v);
    }
    dyna_buf_free(&b);
  }
}

static void test_oom_is_flagged(void **state) {
  (void)state;
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_mem_fail_after(0);
  dyna_resp_put_double(&b, DYNA_RESP3, 0.1);
  dyna_resp_put_verbatim(&b, DYNA_RESP3, "txt", "x", 1);
  dyna_mem_fail_after(-1);
  assert_true(b.oom);
  dyna_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_map_and_set),    cmocka_unit_test(test_double),
      cmocka_unit_test(test_null_and_bool),  cmocka_unit_test(test_verbatim),
      cmocka_unit_test(test_nested_shapes),  cmocka_unit_test(test_oom_is_flagged),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
