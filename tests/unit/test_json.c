/* test_json.c: the JSON writer (util/json.c) that dynad's HTTP admin API answers with,
 * and the latency histograms (util/hist.c) its /metrics shows. */
#include "util/hist.h"
#include "util/json.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

/* The escaped text of n bytes at p, NUL-terminated in out. */
static const char *esc(const void *p, size_t n, char *out, size_t cap) {
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_json_escape(&b, p, n);
  assert_false(b.oom);
  assert_true(b.len < cap);
  memcpy(out, b.data ? (const char *)b.data : "", b.len);
  out[b.len] = 0;
  dyna_buf_free(&b);
  return out;
}

static void test_escapes(void **state) {
  char out[128];
  (void)state;
  assert_string_equal(esc("plain", 5, out, sizeof(out)), "plain");
  assert_string_equal(esc("q\"b\\s/", 6, out, sizeof(out)), "q\\\"b\\\\s/");
  assert_string_equal(esc("\n\r\t\b\f", 5, out, sizeof(out)), "\\n\\r\\t\\b\\f");
  assert_string_equal(esc("\x01\x1f\x7f", 3, out, sizeof(out)), "\\u0001\\u001f\\u007f");
  assert_string_equal(esc("a\0b", 3, out, sizeof(out)), "a\\u0000b");
  /* valid UTF-8 passes as it is */
  assert_string_equal(esc("caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80", 14, out, sizeof(out)),
                      "caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80");
}

static void test_bad_utf8(void **state) {
  char out[128];
  dyna_buf_t b = DYNA_BUF_INIT;
  (void)state;
  /* a lone byte, a truncated sequence, an overlong NUL, a surrogate, past U+10FFFF */
  assert_string_equal(esc("\xff", 1, out, sizeof(out)), "\xef\xbf\xbd");
  assert_string_equal(esc("a\xe2\x98", 3, out, sizeof(out)), "a\xef\xbf\xbd\xef\xbf\xbd");
  assert_string_equal(esc("\xc0\x80", 2, out, sizeof(out)), "\xef\xbf\xbd\xef\xbf\xbd");
  assert_string_equal(esc("\xed\xa0\x80", 3, out, sizeof(out)), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  assert_string_equal(esc("\xf4\x90\x80\x80", 4, out, sizeof(out)),
                      "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  assert_int_equal(dyna_json_escape(&b, (const uint8_t *)"ok\xfe\xff", 4), 2);
  dyna_buf_free(&b);
}

static void test_writer(void **state) {
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_json_t j;
  (void)state;
  dyna_json_init(&j, &b);
  dyna_json_obj_open(&j);
  dyna_json_key(&j, "a\"");
  dyna_json_arr_open(&j);
  dyna_json_u64(&j, 1);
  dyna_json_i64(&j, -2);
  dyna_json_bool(&j, 1);
  dyna_json_null(&j);
  dyna_json_double(&j, 0.5);
  dyna_json_double(&j, 1.0 / 0.0);
  dyna_json_obj_open(&j);
  dyna_json_obj_close(&j);
  dyna_json_arr_close(&j);
  dyna_json_key(&j, "k");
  dyna_json_b64(&j, "hi", 2);
  dyna_json_key(&j, "s");
  dyna_json_bytes(&j, "x\ny", 3);
  dyna_json_obj_close(&j);
  dyna_buf_put(&b, "", 1);
  assert_false(b.oom);
  assert_string_equal((const char *)b.data, "{\"a\\\"\":[1,-2,true,null,0.5,null,{}],\"k\":\"aGk=\",\"s\":\"x\\ny\"}");
  dyna_buf_free(&b);
}

static void test_depth_and_balance(void **state) {
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_json_t j;
  (void)state;
  dyna_json_init(&j, &b);
  for (int i = 0; i < DYNA_JSON_DEPTH_MAX; i++) dyna_json_arr_open(&j);
  assert_false(b.oom);
  dyna_json_arr_open(&j); /* one too deep */
  assert_true(b.oom);
  dyna_buf_free(&b);
  dyna_json_init(&j, &b);
  dyna_json_arr_close(&j); /* a close with nothing open */
  assert_true(b.oom);
  dyna_buf_free(&b);
}

static void test_hist(void **state) {
  dyna_hist_t h;
  (void)state;
  memset(&h, 0, sizeof(h));
  dyna_hist_observe(&h, 0);
  dyna_hist_observe(&h, 50);       /* on a bound: counted in it (le) */
  dyna_hist_observe(&h, 51);
  dyna_hist_observe(&h, 5000000);  /* the last finite bound */
  dyna_hist_observe(&h, 5000001);  /* +Inf */
  assert_int_equal(h.count, 5);
  assert_int_equal(h.sum_us, 0 + 50 + 51 + 5000000 + 5000001);
  assert_int_equal(dyna_hist_cumulative(&h, 0), 2);
  assert_int_equal(dyna_hist_cumulative(&h, 1), 3);
  assert_int_equal(dyna_hist_cumulative(&h, DYNA_HIST_BOUNDS - 1), 4);
  assert_int_equal(dyna_hist_cumulative(&h, DYNA_HIST_BOUNDS), 5);
  for (size_t i = 1; i < DYNA_HIST_BOUNDS; i++) assert_true(dyna_hist_bounds_us[i] > dyna_hist_bounds_us[i - 1]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_escapes),          cmocka_unit_test(test_bad_utf8),
      cmocka_unit_test(test_writer),           cmocka_unit_test(test_depth_and_balance),
      cmocka_unit_test(test_hist),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
