/* test_typed_copy.c: DYNA.COPYTO (core/typed_copy.c), the write of RENAME, RENAMENX and
 * COPY: the destination gets the source's content of every type (string, counter, set,
 * hash with increments, sorted set, list in order) and its deadline, under fresh dots of
 * the copying actor; whatever the destination held before stays superseded when an old
 * replica's state of it merges back in; NX leaves an existing destination alone; an
 * absent or expired source copies nothing; bytes that are no object are refused. */
#include "core/object.h"
#include "core/typed.h"
#include "proto/resp.h"
#include "util/buf.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "helper_typed.h"

#define NOW 1700000000000ull

/* Runs DYNA.COPYTO k <src> mode on dst as actor; returns the rendered reply. */
static const char *copyto(dyna_obj_t *dst, const dyna_obj_t *src, const char *mode, uint64_t actor,
                          int *changed) {
  const dyna_typed_cmd_t *cmd = dyna_typed_find((const uint8_t *)"dyna.copyto", 11);
  assert_non_null(cmd);
  assert_non_null(cmd->write);
  dyna_buf_t enc = typed_enc(src);
  const uint8_t *argv[4] = {(const uint8_t *)"dyna.copyto", (const uint8_t *)"k", enc.data,
                            (const uint8_t *)mode};
  size_t argl[4] = {11, 1, enc.len, strlen(mode)};
  dyna_targs_t a = {4, argv, argl};
  dyna_tenv_t env = typed_env(actor, NOW);
  dyna_buf_t resp = DYNA_BUF_INIT;
  assert_int_equal(cmd->write(dst, &a, &env, &resp, changed), 0);
  dyna_buf_free(&enc);
  return typed_parse_one(&resp);
}

/* typed_render_run, and "get" as GET answers (dyna_typed_get). */
static const char *run(dyna_obj_t *o, const dyna_tenv_t *env, const char *line, int *changed) {
  if (strcmp(line, "get")) return typed_render_run(o, env, line, changed);
  dyna_buf_t resp = DYNA_BUF_INIT;
  *changed = 0;
  assert_int_equal(dyna_typed_get(o, env, &resp), 0);
  return typed_parse_one(&resp);
}

static void test_every_type_is_copied_over_what_was_there(void **state) {
  (void)state;
  dyna_tenv_t e1 = typed_env(1, NOW), e2 = typed_env(2, NOW);
  const char *build[][2] = {
      {"sadd k a b c", "members"},
      {"hset k f v g w", "fields"},
      {"rpush k 1 2 3 2", "elements"},
      {"zadd k 1.5 x -2 y", "members"},
      {"incrby k 7", "counter"},
  };
  const char *show[] = {"smembers k", "hgetall k", "lrange k 0 -1", "zrange k 0 -1 withscores", "get"};
  const char *same[] = {"sadd k old", "hset k old 1", "rpush k old", "zadd k 9 old", "incrby k 100"};
  for (size_t t = 0; t < 5; t++)
  for (int kind = 0; kind < 3; kind++) { /* the destination: another type, the same type, a string */
    dyna_obj_t src, dst, old;
    dyna_obj_init(&src);
    dyna_obj_init(&dst);
    int changed;
    typed_render_run(&src, &e1, build[t][0], &changed);
    assert_true(changed);
    if (t == 1) typed_render_run(&src, &e1, "hincrby k n 5", &changed);
    typed_render_run(&src, &e1, "pexpireat k 1800000000000", &changed);
    char want[512];
    strcpy(want, run(&src, &e1, show[t], &changed));
    /* The destination held something else, with a deadline of its own. */
    if (kind == 0) typed_render_run(&dst, &e2, t == 0 ? "hset k old 1" : "sadd k old", &changed);
    if (kind == 1) typed_render_run(&dst, &e2, same[t], &changed);
    if (kind == 2) typed_set_str(&dst, 2, "old", NOW - 1);
    typed_render_run(&dst, &e2, "pexpireat k 1750000000000", &changed);
    typed_copy(&old, &dst);
    assert_string_equal(copyto(&dst, &src, "replace", 3, &changed), ":1");
    assert_true(changed);
    assert_string_equal(run(&dst, &e2, show[t], &changed), want);
    assert_string_equal(typed_render_run(&dst, &e2, "pexpiretime k", &changed), ":1800000000000");
    /* An old replica of the destination merges back in: nothing of it returns. */
    typed_merge_both_ways(&dst, &old);
    assert_string_equal(run(&dst, &e2, show[t], &changed), want);
    assert_string_equal(typed_render_run(&dst, &e2, "pexpiretime k", &changed), ":1800000000000");
    /* The copy is a key of its own: writing it leaves the source alone. */
    if (t == 0) {
      typed_render_run(&dst, &e2, "sadd k z", &changed);
      assert_string_equal(typed_render_run(&src, &e1, "scard k", &changed), ":3");
    }
    dyna_obj_clear(&src);
    dyna_obj_clear(&dst);
    dyna_obj_clear(&old);
  }
}

static void test_string_copies_its_last_value(void **state) {
  (void)state;
  dyna_obj_t src, dst;
  dyna_obj_init(&src);
  dyna_obj_init(&dst);
  typed_set_str(&src, 1, "first", NOW - 10);
  typed_set_str(&src, 2, "second", NOW - 5); /* concurrent: two siblings */
  typed_set_str(&dst, 4, "old", NOW - 1);
  int changed;
  assert_string_equal(copyto(&dst, &src, "nx", 3, &changed), ":0"); /* it exists */
  assert_string_equal(copyto(&dst, &src, "replace", 3, &changed), ":1");
  dyna_tenv_t e = typed_env(3, NOW);
  assert_string_equal(run(&dst, &e, "get", &changed), "$second");
  assert_int_equal(dyna_obj_nlive(&dst), 1);
  dyna_obj_clear(&src);
  dyna_obj_clear(&dst);
}

static void test_nx_absent_expired_and_garbage_copy_nothing(void **state) {
  (void)state;
  dyna_tenv_t e = typed_env(1, NOW);
  dyna_obj_t src, dst, none;
  dyna_obj_init(&src);
  dyna_obj_init(&dst);
  dyna_obj_init(&none);
  int changed;
  typed_render_run(&src, &e, "sadd k a", &changed);
  typed_render_run(&dst, &e, "sadd k b", &changed);
  dyna_buf_t before = typed_enc(&dst);
  assert_string_equal(copyto(&dst, &src, "nx", 3, &changed), ":0");
  assert_false(changed);
  assert_string_equal(copyto(&dst, &none, "replace", 3, &changed), ":0");
  assert_false(changed);
  typed_render_run(&src, &e, "pexpireat k 1000", &changed); /* long past */
  assert_string_equal(copyto(&dst, &src, "replace", 3, &changed), ":0");
  assert_false(changed);
  dyna_buf_t after = typed_enc(&dst);
  assert_int_equal(before.len, after.len);
  assert_memory_equal(before.data, after.data, before.len);
  /* Bytes that are no object. */
  const dyna_typed_cmd_t *cmd = dyna_typed_find((const uint8_t *)"dyna.copyto", 11);
  const uint8_t *argv[4] = {(const uint8_t *)"dyna.copyto", (const uint8_t *)"k", (const uint8_t *)"\x07zz",
                            (const uint8_t *)"replace"};
  size_t argl[4] = {11, 1, 3, 7};
  dyna_targs_t a = {4, argv, argl};
  dyna_buf_t resp = DYNA_BUF_INIT;
  assert_int_equal(cmd->write(&dst, &a, &e, &resp, &changed), 0);
  assert_false(changed);
  assert_string_equal(typed_parse_one(&resp), "-ERR invalid copy source");
  dyna_buf_free(&before);
  dyna_buf_free(&after);
  dyna_obj_clear(&src);
  dyna_obj_clear(&dst);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_type_is_copied_over_what_was_there),
      cmocka_unit_test(test_string_copies_its_last_value),
      cmocka_unit_test(test_nx_absent_expired_and_garbage_copy_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
