/* test_typed_resp3.c: the typed commands answer in the client's protocol (env->proto):
 * each reply that has a RESP3 shape in Redis 7.0 (sets, maps, doubles, nulls, score
 * pairs), byte for byte as a redis-server 7.0 answers after HELLO 3, and the same
 * command's RESP2 bytes beside it (RESP2 stays what it was). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/object.h"
#include "core/typed.h"
#include "core/typed_set.h"
#include "proto/resp.h"

#include "helper_typed.h"

static const dyna_tenv_t R2 = {1, 1000, 42, DYNA_RESP2, 0};
static const dyna_tenv_t R3 = {1, 1000, 42, DYNA_RESP3, 0};

/* Runs line under both protocols (a read, or a write whose answer does not depend on
 * having run before) and checks each one's bytes. */
static void both(dyna_obj_t *o, const char *line, const char *want2, const char *want3) {
  typed_expect(o, &R2, line, want2);
  typed_expect(o, &R3, line, want3);
}

static void test_strings_and_counters(void **st) {
  (void)st;
  dyna_obj_t o;
  dyna_obj_init(&o);
  both(&o, "get k", "$-1\r\n", "_\r\n");
  typed_expect(&o, &R3, "incrbyfloat k 1.5", "$3\r\n1.5\r\n"); /* a bulk string in both */
  both(&o, "get k", "$3\r\n1.5\r\n", "$3\r\n1.5\r\n");
  dyna_obj_clear(&o);
}

static void test_sets(void **st) {
  (void)st;
  dyna_obj_t o;
  dyna_obj_init(&o);
  both(&o, "smembers s", "*0\r\n", "~0\r\n");
  both(&o, "srandmember s", "$-1\r\n", "_\r\n");
  typed_expect(&o, &R3, "spop s", "_\r\n");
  typed_expect(&o, &R3, "spop s 2", "~0\r\n");
  typed_expect(&o, &R3, "sadd s a b c", ":3\r\n");
  both(&o, "smembers s", "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", "~3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");
  /* SRANDMEMBER with a count and SMISMEMBER stay arrays (Redis 7.0). */
  both(&o, "srandmember s -1", "*1\r\n$1\r\nb\r\n", "*1\r\n$1\r\nb\r\n");
  both(&o, "smismember s a z", "*2\r\n:1\r\n:0\r\n", "*2\r\n:1\r\n:0\r\n");
  typed_expect(&o, &R3, "spop s 1", "~1\r\n$1\r\nb\r\n");
  typed_expect(&o, &R2, "spop s 1", "*1\r\n$1\r\nc\r\n");
  dyna_obj_clear(&o);
}

static void test_set_combine(void **st) {
  (void)st;
  dyna_obj_t a;
  dyna_obj_init(&a);
  typed_expect(&a, &R3, "sadd a x y", ":2\r\n");
  const dyna_obj_t *objs[1] = {&a};
  for (int proto = DYNA_RESP2; proto <= DYNA_RESP3; proto++) {
    dyna_tenv_t env = proto == DYNA_RESP3 ? R3 : R2;
    dyna_buf_t r = DYNA_BUF_INIT;
    assert_int_equal(dyna_typed_set_combine(objs, 1, DYNA_SET_UNION, 0, 0, &env, &r), 0);
    const char *want = proto == DYNA_RESP3 ? "~2\r\n$1\r\nx\r\n$1\r\ny\r\n" : "*2\r\n$1\r\nx\r\n$1\r\ny\r\n";
    assert_int_equal(r.len, strlen(want));
    assert_memory_equal(r.data, want, r.len);
    dyna_buf_free(&r);
  }
  dyna_obj_clear(&a);
}

static void test_hashes(void **st) {
  (void)st;
  dyna_obj_t o;
  dyna_obj_init(&o);
  both(&o, "hgetall h", "*0\r\n", "%0\r\n");
  both(&o, "hrandfield h", "$-1\r\n", "_\r\n");
  typed_expect(&o, &R3, "hset h f1 v1 f2 v2", ":2\r\n");
  both(&o, "hgetall h", "*4\r\n$2\r\nf1\r\n$2\r\nv1\r\n$2\r\nf2\r\n$2\r\nv2\r\n",
       "%2\r\n$2\r\nf1\r\n$2\r\nv1\r\n$2\r\nf2\r\n$2\r\nv2\r\n");
  both(&o, "hkeys h", "*2\r\n$2\r\nf1\r\n$2\r\nf2\r\n", "*2\r\n$2\r\nf1\r\n$2\r\nf2\r\n");
  both(&o, "hget h zz", "$-1\r\n", "_\r\n");
  both(&o, "hmget h f1 zz", "*2\r\n$2\r\nv1\r\n$-1\r\n", "*2\r\n$2\r\nv1\r\n_\r\n");
  /* WITHVALUES: [field, value] pairs in RESP3, one flat array in RESP2. */
  both(&o, "hrandfield h -1 withvalues", "*2\r\n$2\r\nf2\r\n$2\r\nv2\r\n", "*1\r\n*2\r\n$2\r\nf2\r\n$2\r\nv2\r\n");
  dyna_obj_clear(&o);
}

static void test_sorted_sets(void **st) {
  (void)st;
  dyna_obj_t o;
  dyna_obj_init(&o);
  both(&o, "zscore z a", "$-1\r\n", "_\r\n");
  both(&o, "zmscore z a", "*1\r\n$-1\r\n", "*1\r\n_\r\n");
  typed_expect(&o, &R3, "zpopmax z", "*0\r\n");
  typed_expect(&o, &R3, "zadd z 1.5 a 2 b 0.1 c", ":3\r\n");
  both(&o, "zscore z c", "$19\r\n0.10000000000000001\r\n", ",0.10000000000000001\r\n");
  both(&o, "zmscore z a zz", "*2\r\n$3\r\n1.5\r\n$-1\r\n", "*2\r\n,1.5\r\n_\r\n");
  both(&o, "zrank z zz", "$-1\r\n", "_\r\n");
  typed_expect(&o, &R3, "zincrby z 1 a", ",2.5\r\n");
  typed_expect(&o, &R2, "zincrby z 1 a", "$3\r\n3.5\r\n");
  typed_expect(&o, &R3, "zadd z incr 1 a", ",4.5\r\n");
  typed_expect(&o, &R3, "zadd z nx incr 1 a", "_\r\n");
  typed_expect(&o, &R3, "zadd z inf d", ":1\r\n");
  both(&o, "zrange z 0 -1 withscores",
       "*8\r\n$1\r\nc\r\n$19\r\n0.10000000000000001\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\na\r\n$3\r\n4.5\r\n$1\r\nd\r\n$3\r\ninf\r\n",
       "*4\r\n*2\r\n$1\r\nc\r\n,0.10000000000000001\r\n*2\r\n$1\r\nb\r\n,2\r\n*2\r\n$1\r\na\r\n,4.5\r\n"
       "*2\r\n$1\r\nd\r\n,inf\r\n");
  both(&o, "zrange z 0 0", "*1\r\n$1\r\nc\r\n", "*1\r\n$1\r\nc\r\n");
  both(&o, "zrangebyscore z 2 2 withscores", "*2\r\n$1\r\nb\r\n$1\r\n2\r\n", "*1\r\n*2\r\n$1\r\nb\r\n,2\r\n");
  /* ZPOPMIN: without a count one flat [member, score]; with one, pairs (Redis 7.0). */
  typed_expect(&o, &R3, "zpopmin z", "*2\r\n$1\r\nc\r\n,0.10000000000000001\r\n");
  typed_expect(&o, &R3, "zpopmin z 1", "*1\r\n*2\r\n$1\r\nb\r\n,2\r\n");
  typed_expect(&o, &R2, "zpopmin z 1", "*2\r\n$1\r\na\r\n$3\r\n4.5\r\n");
  typed_expect(&o, &R3, "zpopmax z 0", "*0\r\n");
  dyna_obj_clear(&o);
}

static void test_lists_and_keys(void **st) {
  (void)st;
  dyna_obj_t o;
  dyna_obj_init(&o);
  typed_expect(&o, &R3, "lpop l", "_\r\n");
  typed_expect(&o, &R3, "lpop l 2", "_\r\n"); /* RESP2's null array */
  typed_expect(&o, &R2, "lpop l 2", "*-1\r\n");
  both(&o, "lindex l 0", "$-1\r\n", "_\r\n");
  both(&o, "ttl l", ":-2\r\n", ":-2\r\n");
  both(&o, "object encoding l", "$-1\r\n", "_\r\n");
  typed_expect(&o, &R3, "rpush l a b", ":2\r\n");
  both(&o, "lindex l 5", "$-1\r\n", "_\r\n");
  both(&o, "lpos l zz", "$-1\r\n", "_\r\n");
  both(&o, "lrange l 0 -1", "*2\r\n$1\r\na\r\n$1\r\nb\r\n", "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
  typed_expect(&o, &R3, "getex l", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
  dyna_obj_clear(&o);
  dyna_obj_init(&o);
  typed_expect(&o, &R3, "getex k", "_\r\n");
  dyna_obj_clear(&o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_strings_and_counters), cmocka_unit_test(test_sets),
      cmocka_unit_test(test_set_combine),          cmocka_unit_test(test_hashes),
      cmocka_unit_test(test_sorted_sets),          cmocka_unit_test(test_lists_and_keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
