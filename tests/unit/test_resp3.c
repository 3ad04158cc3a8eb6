/* test_resp3.c: the RESP3 shape encoders of proto/resp.h (map, set, double, null, null
 * array, boolean, verbatim string): the exact bytes Redis 7.0 writes for each in RESP3,
 * and the RESP2 form it writes for the same reply when the client did not ask for
 * RESP3 (HELLO 3); and the reply parser reading RESP3's types (folded into RESP2's, the
 * RESP3 type kept in v->shape), refusing malformed ones. Bytes fed straight in, no
 * socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <string.h>
#include <cmocka.h>

#include "proto/resp.h"
#include "util/alloc.h"
#include "util/err.h"

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

/* Parses the whole of lit as one reply into *v (asserted). */
static void parse_ok(const char *lit, size_t n, dyna_resp_value_t *v) {
  dyna_resp_limits_t lim;
  dyna_resp_limits_default(&lim);
  size_t used = 0;
  assert_int_equal(dyna_resp_parse_reply(&lim, (const uint8_t *)lit, n, v, &used), 0);
  assert_int_equal(used, n);
  /* Every strict prefix is incomplete. */
  for (size_t k = 0; k < n; k++) {
    dyna_resp_value_t pv;
    size_t pu;
    assert_int_equal(dyna_resp_parse_reply(&lim, (const uint8_t *)lit, k, &pv, &pu), DYNA_EAGAIN);
  }
}
#define PARSE_OK(lit, v) parse_ok(lit, sizeof(lit) - 1, v)

static int parse_rc(const char *lit, size_t max_args) {
  dyna_resp_limits_t lim;
  dyna_resp_limits_default(&lim);
  if (max_args) lim.max_args = max_args;
  dyna_resp_value_t v;
  size_t used = 0;
  int rc = dyna_resp_parse_reply(&lim, (const uint8_t *)lit, strlen(lit), &v, &used);
  if (rc == 0) dyna_resp_value_free(&v);
  else assert_true(v.type == 0 && v.str == NULL && v.elem == NULL);
  return rc;
}

static void test_parse_resp3_types(void **state) {
  (void)state;
  dyna_resp_value_t v;
  PARSE_OK("%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n_\r\n", &v);
  assert_int_equal(v.type, DYNA_RESP_ARRAY);
  assert_int_equal(v.shape, '%');
  assert_int_equal(v.n, 4); /* keys and values */
  assert_string_equal((const char *)v.elem[2].str, "b");
  assert_int_equal(v.elem[3].type, DYNA_RESP_NIL);
  assert_int_equal(v.elem[3].shape, '_');
  assert_int_equal(v.elem[0].shape, 0);
  dyna_resp_value_free(&v);
  PARSE_OK("~2\r\n$1\r\nx\r\n,0.10000000000000001\r\n", &v);
  assert_int_equal(v.type, DYNA_RESP_ARRAY);
  assert_int_equal(v.shape, '~');
  assert_int_equal(v.n, 2);
  assert_int_equal(v.elem[1].type, DYNA_RESP_BULK);
  assert_int_equal(v.elem[1].shape, ',');
  assert_string_equal((const char *)v.elem[1].str, "0.10000000000000001");
  dyna_resp_value_free(&v);
  PARSE_OK("%0\r\n", &v);
  assert_true(v.type == DYNA_RESP_ARRAY && v.n == 0 && v.elem == NULL && v.shape == '%');
  dyna_resp_value_free(&v);
  PARSE_OK("#t\r\n", &v);
  assert_true(v.type == DYNA_RESP_INTEGER && v.integer == 1 && v.shape == '#');
  PARSE_OK("#f\r\n", &v);
  assert_true(v.type == DYNA_RESP_INTEGER && v.integer == 0 && v.shape == '#');
  PARSE_OK(",-inf\r\n", &v);
  assert_string_equal((const char *)v.str, "-inf");
  dyna_resp_value_free(&v);
  PARSE_OK("(-12345678901234567890123\r\n", &v);
  assert_true(v.type == DYNA_RESP_BULK && v.shape == '(');
  assert_string_equal((const char *)v.str, "-12345678901234567890123");
  dyna_resp_value_free(&v);
  PARSE_OK("=10\r\ntxt:a:1\r\nb\r\n", &v);
  assert_true(v.type == DYNA_RESP_BULK && v.shape == '=' && v.len == 6);
  assert_memory_equal(v.str, "a:1\r\nb", 6);
  assert_int_equal(v.integer, 't' | 'x' << 8 | 't' << 16);
  dyna_resp_value_free(&v);
}

static void test_parse_resp3_refusals(void **state) {
  (void)state;
  static const char *const bad[] = {
      "_x\r\n", "#x\r\n", "#tt\r\n", "#\r\n", ",\r\n", ",abc\r\n", ",1.5x\r\n", ", 1\r\n",
      "(12a\r\n", "(-0\r\n", "(007\r\n", "(\r\n", "=3\r\nabc\r\n", "=4\r\nabcd\r\n", "=-1\r\n",
      "~-1\r\n", "%-1\r\n", ">1\r\n:1\r\n", "|1\r\n+a\r\n+b\r\n+c\r\n",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int rc = parse_rc(bad[i], 0);
    if (rc != DYNA_EPROTO) fail_msg("'%s' gave %d, not DYNA_EPROTO", bad[i], rc);
  }
  /* A map counts its keys and values against max_args. */
  assert_int_equal(parse_rc("%3\r\n", 4), DYNA_ETOOBIG);
  assert_int_equal(parse_rc("%2\r\n:1\r\n:2\r\n:3\r\n:4\r\n", 4), 0);
  assert_int_equal(parse_rc("~5\r\n", 4), DYNA_ETOOBIG);
  /* Nesting: sets and maps count as arrays against max_depth (8 by default). */
  assert_int_equal(parse_rc("~1\r\n%1\r\n~1\r\n%1\r\n~1\r\n%1\r\n~1\r\n~1\r\n:1\r\n:2\r\n:3\r\n:4\r\n", 0), 0);
  assert_int_equal(parse_rc("~1\r\n%1\r\n~1\r\n%1\r\n~1\r\n%1\r\n~1\r\n~1\r\n~1\r\n:1\r\n:2\r\n:3\r\n:4\r\n", 0),
                   DYNA_ETOOBIG);
}

/* What the RESP3 encoders write, the parser reads back. */
static void test_encoders_parse_back(void **state) {
  (void)state;
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_resp_put_map(&b, DYNA_RESP3, 3);
  dyna_resp_put_bulk_str(&b, "score");
  dyna_resp_put_double(&b, DYNA_RESP3, -2.5);
  dyna_resp_put_bulk_str(&b, "ok");
  dyna_resp_put_bool(&b, DYNA_RESP3, 1);
  dyna_resp_put_bulk_str(&b, "info");
  dyna_resp_put_verbatim(&b, DYNA_RESP3, "txt", "x:1", 3);
  dyna_resp_put_set(&b, DYNA_RESP3, 1);
  dyna_resp_put_null(&b, DYNA_RESP3);
  assert_false(b.oom);
  dyna_resp_limits_t lim;
  dyna_resp_limits_default(&lim);
  dyna_resp_value_t v, w;
  size_t used, used2;
  assert_int_equal(dyna_resp_parse_reply(&lim, b.data, b.len, &v, &used), 0);
  assert_int_equal(dyna_resp_parse_reply(&lim, b.data + used, b.len - used, &w, &used2), 0);
  assert_int_equal(used + used2, b.len);
  assert_true(v.shape == '%' && v.n == 6);
  assert_string_equal((const char *)v.elem[1].str, "-2.5");
  assert_true(v.elem[3].type == DYNA_RESP_INTEGER && v.elem[3].integer == 1);
  assert_string_equal((const char *)v.elem[5].str, "x:1");
  assert_true(w.shape == '~' && w.n == 1 && w.elem[0].type == DYNA_RESP_NIL);
  dyna_resp_value_free(&v);
  dyna_resp_value_free(&w);
  dyna_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_map_and_set),    cmocka_unit_test(test_double),
      cmocka_unit_test(test_null_and_bool),  cmocka_unit_test(test_verbatim),
      cmocka_unit_test(test_nested_shapes),  cmocka_unit_test(test_oom_is_flagged),
      cmocka_unit_test(test_parse_resp3_types), cmocka_unit_test(test_parse_resp3_refusals),
      cmocka_unit_test(test_encoders_parse_back),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
