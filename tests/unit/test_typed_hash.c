/* test_typed_hash.c: unit tests for the hash commands (core/typed_hash.c): every
 * command's RESP reply (parsed back and rendered), Redis 7's errors (HINCRBY and
 * HINCRBYFLOAT included), WRONGTYPE on a string key and a set key, expired keys reading
 * as absent, HRANDFIELD drawn from env->rand only, and concurrency: a field written on
 * two sides shows the same value through HGET in both merge orders (greatest wall-clock
 * stamp, then dot) and both through DYNA.HSIBLINGS; HINCRBYs on two sides add up; an
 * HDEL removes only what it observed; merges end byte-equal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/object.h"
#include "core/typed.h"
#include "proto/resp.h"
#include "util/buf.h"

#include "helper_typed.h"

/* ---- harness (helper_typed.h): run a command line on an object, render its reply - */

static int LAST_CHANGED; /* the last run()'s changed flag */
#define run(o, env, line) typed_render_run((o), (env), (line), &LAST_CHANGED)
#define R(o, env, line, want) assert_string_equal(run((o), (env), (line)), (want))

static const dyna_tenv_t ENV1 = {1, 1000, 42, DYNA_RESP2, 0};
static const dyna_tenv_t ENV2 = {2, 1000, 43, DYNA_RESP2, 0};

static void test_basics(void **st) {
  (void)st;
  dyna_obj_t o, before;
  dyna_obj_init(&o);
  dyna_obj_init(&before);
  R(&o, &ENV1, "hset h b 2 a 1", ":2");
  assert_true(LAST_CHANGED);
  R(&o, &ENV1, "hset h a 3 c 4", ":1");
  R(&o, &ENV1, "hset h a", "-ERR wrong number of arguments for 'hset' command");
  R(&o, &ENV1, "hmset h a 1 b", "-ERR wrong number of arguments for 'hmset' command");
  assert_false(LAST_CHANGED);
  R(&o, &ENV1, "hget h a", "$3");
  R(&o, &ENV1, "hget h z", "nil");
  R(&o, &ENV1, "hmget h a z c", "[$3,nil,$4]");
  R(&o, &ENV1, "hlen h", ":3");
  R(&o, &ENV1, "hkeys h", "[$a,$b,$c]");
  R(&o, &ENV1, "hvals h", "[$3,$2,$4]");
  R(&o, &ENV1, "hgetall h", "[$a,$3,$b,$2,$c,$4]");
  R(&o, &ENV1, "hexists h a", ":1");
  R(&o, &ENV1, "hexists h z", ":0");
  R(&o, &ENV1, "hstrlen h a", ":1");
  R(&o, &ENV1, "hstrlen h z", ":0");
  R(&o, &ENV1, "hmset h d hello e x", "+OK");
  R(&o, &ENV1, "hstrlen h d", ":5");
  assert_int_equal(dyna_obj_copy(&before, &o), 0);
  R(&o, &ENV1, "hsetnx h a x", ":0");
  assert_false(LAST_CHANGED);
  typed_same_bytes(&o, &before);
  R(&o, &ENV1, "hsetnx h n x", ":1");
  R(&o, &ENV1, "hdel h a z", ":1");
  assert_int_equal(dyna_obj_copy(&before, &o), 0);
  R(&o, &ENV1, "hdel h z y", ":0");
  assert_false(LAST_CHANGED);
  typed_same_bytes(&o, &before);
  /* The last HDEL deletes the key and its TTL. */
  assert_int_equal(dyna_obj_set_deadline(&o, 1, 900000), 0);
  R(&o, &ENV1, "hdel h b c d e n", ":5");
  assert_int_equal(dyna_obj_kind(&o, 1000), DYNA_KIND_NONE);
  R(&o, &ENV1, "hset h f v", ":1");
  uint64_t dl;
  assert_int_equal(dyna_obj_deadline(&o, &dl), 0);
  /* Absent keys. */
  dyna_obj_t none;
  dyna_obj_init(&none);
  R(&none, &ENV1, "hget h a", "nil");
  R(&none, &ENV1, "hmget h a b", "[nil,nil]");
  R(&none, &ENV1, "hgetall h", "[]");
  R(&none, &ENV1, "hkeys h", "[]");
  R(&none, &ENV1, "hvals h", "[]");
  R(&none, &ENV1, "hlen h", ":0");
  R(&none, &ENV1, "hexists h a", ":0");
  R(&none, &ENV1, "hdel h a", ":0");
  assert_false(LAST_CHANGED);
  R(&none, &ENV1, "dyna.hsiblings h a", "[]");
  assert_int_equal(none.ntyped, 0);
  dyna_obj_clear(&o);
  dyna_obj_clear(&before);
  dyna_obj_clear(&none);
}

static void test_incr(void **st) {
  (void)st;
  dyna_obj_t o;
  dyna_obj_init(&o);
  R(&o, &ENV1, "hincrby h n 5", ":5");
  R(&o, &ENV1, "hincrby h n -7", ":-2");
  R(&o, &ENV1, "hget h n", "$-2");
  R(&o, &ENV1, "hstrlen h n", ":2");
  R(&o, &ENV1, "hincrby h n x", "-" DYNA_TYPED_NOT_INT);
  R(&o, &ENV1, "hset h s abc fl 3.0 big 9223372036854775807", ":3");
  R(&o, &ENV1, "hincrby h s 1", "-ERR hash value is not an integer");
  assert_false(LAST_CHANGED);
  R(&o, &ENV1, "hincrby h fl 1", "-ERR hash value is not an integer");
  R(&o, &ENV1, "hincrby h big 1", "-ERR increment or decrement would overflow");
  R(&o, &ENV1, "hincrby h n -9223372036854775807", "-ERR increment or decrement would overflow");
  R(&o, &ENV1, "hincrby h big -1", ":9223372036854775806");
  R(&o, &ENV1, "hincrbyfloat h f 10.5", "$10.5");
  R(&o, &ENV1, "hincrbyfloat h f 0.1", "$10.6");
  R(&o, &ENV1, "hget h f", "$10.6");
  R(&o, &ENV1, "hincrbyfloat h fl 1", "$4");
  R(&o, &ENV1, "hincrbyfloat h e 1e20", "$100000000000000000000");
  R(&o, &ENV1, "hincrbyfloat h s 1", "-ERR hash value is not a float");
  R(&o, &ENV1, "hincrbyfloat h f x", "-" DYNA_TYPED_NOT_FLOAT);
  R(&o, &ENV1, "hincrbyfloat h f inf", "-ERR value is NaN or Infinity");
  assert_int_equal(run(&o, &ENV1, "hincrbyfloat h m 1.7e308")[0], '$');
  R(&o, &ENV1, "hincrbyfloat h m 1.7e308", "-ERR increment would produce NaN or Infinity");
  assert_false(LAST_CHANGED);
  R(&o, &ENV1, "hincrbyfloat h tiny 0.00001", "$0.00001");
  R(&o, &ENV1, "hincrbyfloat h tiny -0.5", "$-0.49999");
  R(&o, &ENV1, "hincrbyfloat h g 123.25", "$123.25");
  dyna_obj_clear(&o);
}

static const char *const READS[] = {"hget h a", "hmget h a", "hgetall h", "hkeys h", "hvals h",
                                     "hlen h", "hexists h a", "hstrlen h a", "hrandfield h",
                                     "hrandfield h 2 withvalues", "dyna.hsiblings h a"};
static const char *const WRITES[] = {"hset h a 1", "hmset h a 1", "hsetnx h a 1", "hdel h a",
                                      "hincrby h a 1", "hincrbyfloat h a 1"};

static void wrongtype_on(dyna_obj_t *o) {
  for (size_t i = 0; i < sizeof(READS) / sizeof(READS[0]); i++)
    R(o, &ENV1, READS[i], "-" DYNA_TYPED_WRONGTYPE);
  for (size_t i = 0; i < sizeof(WRITES) / sizeof(WRITES[0]); i++) {
    R(o, &ENV1, WRITES[i], "-" DYNA_TYPED_WRONGTYPE);
    assert_false(LAST_CHANGED);
  }
}

static void test_wrongtype(void **st) {
  (void)st;
  dyna_obj_t s, set;
  dyna_obj_init(&s);
  dyna_obj_init(&set);
  typed_make_string(&s);
  wrongtype_on(&s);
  R(&set, &ENV1, "sadd h a", ":1");
  wrongtype_on(&set);
  dyna_obj_clear(&s);
  dyna_obj_clear(&set);
}

static void test_expired(void **st) {
  (void)st;
  dyna_obj_t o;
  dyna_obj_init(&o);
  R(&o, &ENV1, "hset h a 1 b 2", ":2");
  assert_int_equal(dyna_obj_set_deadline(&o, 1, 999), 0);
  R(&o, &ENV1, "hget h a", "nil");
  R(&o, &ENV1, "hgetall h", "[]");
  R(&o, &ENV1, "hlen h", ":0");
  R(&o, &ENV1, "hexists h a", ":0");
  R(&o, &ENV1, "hrandfield h", "nil");
  R(&o, &ENV1, "hdel h a", ":0");
  assert_false(LAST_CHANGED);
  R(&o, &ENV1, "hsetnx h a 5", ":1"); /* a new key */
  R(&o, &ENV1, "hgetall h", "[$a,$5]");
  R(&o, &ENV1, "hincrby h a 1", ":6");
  dyna_obj_clear(&o);
}

static void test_hrandfield(void **st) {
  (void)st;
  dyna_obj_t o;
  dyna_obj_init(&o);
  R(&o, &ENV1, "hset h a 1 b 2 c 3", ":3");
  R(&o, &ENV1, "hrandfield h x", "-" DYNA_TYPED_NOT_INT);
  R(&o, &ENV1, "hrandfield h 1 foo", "-ERR syntax error");
  R(&o, &ENV1, "hrandfield h 1 withvalues x", "-ERR syntax error");
  R(&o, &ENV1, "hrandfield h -9223372036854775808 withvalues",
    "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807");
  R(&o, &ENV1, "hrandfield h -9223372036854775807 withvalues", "-ERR value is out of range");
  R(&o, &ENV1, "hrandfield h 0", "[]");
  char first[256];
  snprintf(first, sizeof(first), "%s", run(&o, &ENV1, "hrandfield h 2 WITHVALUES"));
  R(&o, &ENV1, "hrandfield h 2 withvalues", first); /* the same env draws the same */
  assert_int_equal(typed_count_char(first, '$'), 4);
  /* Distinct fields, each with its own value. */
  assert_true(first[2] != first[8]); /* [$a,$1,$b,$2] */
  assert_int_equal(first[5] - '0', first[2] - 'a' + 1);
  assert_int_equal(first[11] - '0', first[8] - 'a' + 1);
  assert_int_equal(typed_count_char(run(&o, &ENV1, "hrandfield h 10"), '$'), 3);
  assert_int_equal(typed_count_char(run(&o, &ENV1, "hrandfield h -7"), '$'), 7);
  const char *r = run(&o, &ENV1, "hrandfield h");
  assert_true(r[0] == '$' && strlen(r) == 2);
  dyna_obj_t none;
  dyna_obj_init(&none);
  R(&none, &ENV1, "hrandfield h", "nil");
  R(&none, &ENV1, "hrandfield h 3", "[]");
  /* Draws with repetition stop at 64 MiB of reply (a 900-byte field). */
  char line[1000];
  memset(line, 0, sizeof(line));
  memcpy(line, "hset big ", 9);
  memset(line + 9, 'x', 900);
  memcpy(line + 909, " v", 2);
  R(&none, &ENV1, line, ":1");
  R(&none, &ENV1, "hrandfield big -1000000000000", "-" DYNA_TYPED_REPLY_BIG);
  dyna_obj_clear(&o);
  dyna_obj_clear(&none);
}

/* ---- concurrency ------------------------------------------------------------------ */

static void test_concurrent_hset(void **st) {
  (void)st;
  dyna_obj_t a, b;
  dyna_obj_init(&a);
  dyna_obj_init(&b);
  R(&a, &ENV1, "hset h f old", ":1");
  assert_int_equal(dyna_obj_copy(&b, &a), 0);
  /* The later wall-clock stamp shows, whichever side merges first. */
  dyna_tenv_t later = {1, 2000, 0, DYNA_RESP2, 0}, earlier = {2, 1500, 0, DYNA_RESP2, 0};
  R(&a, &later, "hset h f A", ":0");
  R(&b, &earlier, "hset h f B", ":0");
  typed_merge_both_ways(&a, &b);
  R(&a, &ENV1, "hget h f", "$A");
  R(&b, &ENV2, "hget h f", "$A");
  R(&b, &ENV2, "dyna.hsiblings h f", "[$A,$B]");
  /* Equal stamps: the greater dot shows, on both: a's x has counter 3 (a wrote f twice
   * before it), b's y counter 2. */
  dyna_tenv_t t1 = {1, 3000, 0, DYNA_RESP2, 0}, t2 = {2, 3000, 0, DYNA_RESP2, 0};
  R(&a, &t1, "hset h g x", ":1");
  R(&b, &t2, "hset h g y", ":1");
  typed_merge_both_ways(&a, &b);
  R(&a, &ENV1, "hget h g", "$x");
  R(&b, &ENV1, "hget h g", "$x");
  R(&a, &ENV1, "dyna.hsiblings h g", "[$x,$y]");
  R(&a, &ENV1, "hgetall h", "[$f,$A,$g,$x]");
  /* Equal stamps and counters: the greater actor's value shows, on both. */
  dyna_obj_t c, d;
  dyna_obj_init(&c);
  dyna_obj_init(&d);
  R(&c, &t2, "hset h k from2", ":1");
  R(&d, &t1, "hset h k from1", ":1");
  typed_merge_both_ways(&c, &d);
  R(&c, &ENV1, "hget h k", "$from2");
  R(&d, &ENV1, "hget h k", "$from2");
  dyna_obj_clear(&c);
  dyna_obj_clear(&d);
  /* A read-modify-write on one side resolves the siblings. */
  R(&a, &t1, "hset h g z", ":0");
  R(&a, &ENV1, "dyna.hsiblings h g", "[$z]");
  R(&a, &ENV1, "hincrby h n 2", ":2");
  R(&a, &ENV1, "dyna.hsiblings h n", "[$2]");
  dyna_obj_clear(&a);
  dyna_obj_clear(&b);
}

static void test_concurrent_incr_and_del(void **st) {
  (void)st;
  dyna_obj_t a, b;
  dyna_obj_init(&a);
  dyna_obj_init(&b);
  R(&a, &ENV1, "hset h n 10 keep 1", ":2");
  assert_int_equal(dyna_obj_copy(&b, &a), 0);
  R(&a, &ENV1, "hincrby h n 5", ":15");
  R(&b, &ENV2, "hincrby h n 7", ":17");
  R(&a, &ENV1, "hincrbyfloat h x 1.5", "$1.5");
  R(&b, &ENV2, "hincrbyfloat h x 2.25", "$2.25");
  typed_merge_both_ways(&a, &b);
  R(&a, &ENV1, "hget h n", "$22");
  R(&b, &ENV2, "hget h n", "$22");
  R(&a, &ENV1, "hget h x", "$3.75");
  /* Merging again counts nothing twice. */
  assert_int_equal(dyna_obj_merge(&a, &b), 0);
  R(&a, &ENV1, "hget h n", "$22");
  /* An HDEL removes only what it observed: b's concurrent HSET of keep stays. */
  R(&a, &ENV1, "hdel h keep", ":1");
  R(&b, &ENV2, "hset h keep 2", ":0");
  typed_merge_both_ways(&a, &b);
  R(&a, &ENV1, "hget h keep", "$2");
  /* An HDEL concurrent with an HINCRBY: the increment survives, on its own. */
  R(&a, &ENV1, "hdel h n", ":1");
  R(&b, &ENV2, "hincrby h n 1", ":23");
  typed_merge_both_ways(&a, &b);
  R(&a, &ENV1, "hget h n", "$1");
  R(&b, &ENV2, "hget h n", "$1");
  dyna_obj_clear(&a);
  dyna_obj_clear(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_basics),          cmocka_unit_test(test_incr),
      cmocka_unit_test(test_wrongtype),       cmocka_unit_test(test_expired),
      cmocka_unit_test(test_hrandfield),      cmocka_unit_test(test_concurrent_hset),
      cmocka_unit_test(test_concurrent_incr_and_del),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
