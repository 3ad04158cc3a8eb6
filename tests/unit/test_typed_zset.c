/* test_typed_zset.c: the sorted-set commands (core/typed_zset.c) called directly on
 * objects: every command's replies and Redis 7.0's errors (checked against Debian's
 * redis-server 7.0.15), WRONGTYPE, expired keys read as absent, writes that change
 * nothing leave the object byte-equal, and concurrency: two objects written by
 * different actors merged both ways give byte-equal encodings and the semantics of
 * issue 16 (concurrent ZADDs agree, concurrent ZINCRBYs add, a ZADD overrides the
 * increments it saw, concurrent pops remove a member once). Also the state size of a
 * 1,000-member zset written from 5 actors. */
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

/* ---- harness (helper_typed.h): run one command line on an object ------------------ */

static dyna_tenv_t ENV = {1, 1000, 42, DYNA_RESP2, 0};

/* Runs line on o as actor at ENV.now_ms (typed_tx). */
#define tx_as(o, actor, line, want, ch) typed_tx((o), &ENV, (actor), (line), (want), (ch))
#define tx(o, line, want, ch) tx_as(o, ENV.actor, line, want, ch)
#define RD TYPED_EITHER /* a read: changed is not checked */

static void test_zadd(void **st) {
  (void)st;
  dyna_obj_t o;
  dyna_obj_init(&o);
  tx(&o, "zadd z 1 a 2 b", ":2\r\n", 1);
  tx(&o, "zadd z 1 a", ":0\r\n", 0);
  tx(&o, "ZADD z ch 5 a 2 b 3 c", ":2\r\n", 1);
  tx(&o, "zadd z 1 a 2 a", ":0\r\n", 1); /* one member twice: the last score */
  tx(&o, "zscore z a", "$1\r\n2\r\n", RD);
  tx(&o, "zadd z nx 9 a 4 d", ":1\r\n", 1);
  tx(&o, "zadd z xx 9 a 9 e", ":0\r\n", 1);
  tx(&o, "zadd z xx 1 e", ":0\r\n", 0);
  tx(&o, "zadd z gt 1 a", ":0\r\n", 0);
  tx(&o, "zadd z gt ch 10 a", ":1\r\n", 1);
  tx(&o, "zadd z lt ch 1 a 7 f", ":2\r\n", 1);
  tx(&o, "zadd z incr 2 a", "$1\r\n3\r\n", 1);
  tx(&o, "zadd z nx incr 1 a", "$-1\r\n", 0);
  tx(&o, "zadd z xx incr 1 nope", "$-1\r\n", 0);
  tx(&o, "zadd z gt incr -1 a", "$-1\r\n", 0);
  tx(&o, "zadd z incr 0 a", "$1\r\n3\r\n", 0);
  tx(&o, "zincrby z 1.1 g", "$18\r\n1.1000000000000001\r\n", 1);
  tx(&o, "zincrby z 0.2 g", "$3\r\n1.3\r\n", 1);
  tx(&o, "zincrby z 2.2 g", "$3\r\n3.5\r\n", 1);
  tx(&o, "zadd z 0.1 h 1e20 i inf j -0 k 1.5e-7 l", ":5\r\n", 1);
  tx(&o, "zmscore z h i j k l", "*5\r\n$19\r\n0.10000000000000001\r\n$5\r\n1e+20\r\n$3\r\ninf\r\n"
         "$1\r\n0\r\n$22\r\n1.4999999999999999e-07\r\n", RD);
  tx(&o, "zadd z -inf j", ":0\r\n", 1);
  tx(&o, "zscore z j", "$4\r\n-inf\r\n", RD);
  tx(&o, "zincrby z inf j", "-ERR resulting score is not a number (NaN)\r\n", 0);
  /* errors, nothing written */
  tx(&o, "zadd z xx nx 1 a", "-ERR XX and NX options at the same time are not compatible\r\n", 0);
  tx(&o, "zadd z gt lt 1 a", "-ERR GT, LT, and/or NX options at the same time are not compatible\r\n", 0);
  tx(&o, "zadd z nx gt 1 a", "-ERR GT, LT, and/or NX options at the same time are not compatible\r\n", 0);
  tx(&o, "zadd z incr 1 a 2 b", "-ERR INCR option supports a single increment-element pair\r\n", 0);
  tx(&o, "zadd z 1 a 2", "-ERR syntax error\r\n", 0);
  tx(&o, "zadd z nx", "-ERR syntax error\r\n", 0);
  tx(&o, "zadd z 1 a x b", "-ERR value is not a valid float\r\n", 0);
  tx(&o, "zadd z nan a", "-ERR value is not a valid float\r\n", 0);
  tx(&o, "zincrby z x a", "-ERR value is not a valid float\r\n", 0);
  tx(&o, "zcard z", ":11\r\n", RD); /* a b c d f g h i j k l */
  dyna_obj_clear(&o);
}

static void test_zset_reads(void **st) {
  (void)st;
  dyna_obj_t o;
  dyna_obj_init(&o);
  tx(&o, "zadd z 1 a 2 b 2 c 3 d 1.5 e", ":5\r\n", 1);
  tx(&o, "zscore z nope", "$-1\r\n", RD);
  tx(&o, "zmscore z a nope", "*2\r\n$1\r\n1\r\n$-1\r\n", RD);
  tx(&o, "zcard z", ":5\r\n", RD);
  tx(&o, "zcount z -inf +inf", ":5\r\n", RD);
  tx(&o, "zcount z (1 2", ":3\r\n", RD);
  tx(&o, "zcount z (1 (2", ":1\r\n", RD);
  tx(&o, "zcount z 2 1", ":0\r\n", RD);
  tx(&o, "zcount z ( +inf", ":5\r\n", RD); /* "(" is (0, as Redis's strtod reads it */
  tx(&o, "zcount z (inf +inf", ":0\r\n", RD);
  tx(&o, "zcount z x 1", "-ERR min or max is not a float\r\n", RD);
  tx(&o, "zlexcount z - +", ":5\r\n", RD);
  tx(&o, "zlexcount z [b (d", ":2\r\n", RD);
  tx(&o, "zlexcount z b d", "-ERR min or max not valid string range item\r\n", RD);
  tx(&o, "zrank z e", ":1\r\n", RD);
  tx(&o, "zrevrank z e", ":3\r\n", RD);
  tx(&o, "zrank z nope", "$-1\r\n", RD);
  tx(&o, "zrange z 0 -1", "*5\r\n$1\r\na\r\n$1\r\ne\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n", RD);
  tx(&o, "zrange z 1 2 withscores", "*4\r\n$1\r\ne\r\n$3\r\n1.5\r\n$1\r\nb\r\n$1\r\n2\r\n", RD);
  tx(&o, "zrange z 0 1 rev", "*2\r\n$1\r\nd\r\n$1\r\nc\r\n", RD);
  tx(&o, "zrange z -2 100", "*2\r\n$1\r\nc\r\n$1\r\nd\r\n", RD);
  tx(&o, "zrange z 3 1", "*0\r\n", RD);
  tx(&o, "zrange z (1 2 byscore", "*3\r\n$1\r\ne\r\n$1\r\nb\r\n$1\r\nc\r\n", RD);
  tx(&o, "zrange z 2 (1 byscore rev limit 1 1", "*1\r\n$1\r\nb\r\n", RD);
  tx(&o, "zrange z -inf +inf byscore limit 4 -1", "*1\r\n$1\r\nd\r\n", RD);
  tx(&o, "zrange z -inf +inf byscore limit -1 2", "*0\r\n", RD);
  tx(&o, "zrange z 0 -1 limit 0 1",
     "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX\r\n", RD);
  tx(&o, "zrange z 0 -1 limit 0 -1", "*5\r\n$1\r\na\r\n$1\r\ne\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n", RD);
  tx(&o, "zrange z - + bylex withscores",
     "-ERR syntax error, WITHSCORES not supported in combination with BYLEX\r\n", RD);
  tx(&o, "zrange z 0 -1 byscore bylex", "-ERR syntax error\r\n", RD);
  tx(&o, "zrange z 0 -1 limit 0", "-ERR syntax error\r\n", RD);
  tx(&o, "zrange z a 1", "-ERR value is not an integer or out of range\r\n", RD);
  tx(&o, "zrange z a 1 byscore", "-ERR min or max is not a float\r\n", RD);
  tx(&o, "zrange z a b bylex", "-ERR min or max not valid string range item\r\n", RD);
  tx(&o, "zrangebyscore z -inf +inf withscores limit 0 2",
     "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\ne\r\n$3\r\n1.5\r\n", RD);
  tx(&o, "zrangebyscore z -inf +inf rev", "-ERR syntax error\r\n", RD);
  tx(&o, "zrevrangebyscore z 2 1", "*4\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\ne\r\n$1\r\na\r\n", RD);
  tx(&o, "zrangebylex z (a [c", "*2\r\n$1\r\nb\r\n$1\r\nc\r\n", RD);
  tx(&o, "zrevrangebylex z [c - limit 0 1", "*1\r\n$1\r\nc\r\n", RD);
  tx(&o, "zrevrange z 0 1", "*2\r\n$1\r\nd\r\n$1\r\nc\r\n", RD);
  tx(&o, "zrevrange z 1 2 withscores", "*4\r\n$1\r\nc\r\n$1\r\n2\r\n$1\r\nb\r\n$1\r\n2\r\n", RD);
  tx(&o, "zrevrange z -2 100", "*2\r\n$1\r\ne\r\n$1\r\na\r\n", RD);
  tx(&o, "zrevrange z 0 -1 limit 0 1",
     "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX\r\n", RD);
  tx(&o, "zrevrange z 0 -1 rev", "-ERR syntax error\r\n", RD);
  tx(&o, "zrevrange z 0 -1 bylex", "-ERR syntax error\r\n", RD);
  dyna_obj_clear(&o); /* an absent key (the key's name is the caller's) */
  tx(&o, "zrange nokey 0 -1", "*0\r\n", RD);
  tx(&o, "zcard nokey", ":0\r\n", RD);
  tx(&o, "zrank nokey a", "$-1\r\n", RD);
  tx(&o, "zcount nokey -inf inf", ":0\r\n", RD);
  /* Lex ranges over members of one score (Redis leaves mixed scores unspecified). */
  tx(&o, "zadd l 0 a 0 b 0 c 0 d 0 e", ":5\r\n", 1);
  tx(&o, "zrange l [b + bylex", "*4\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n", RD);
  tx(&o, "zrange l + (c bylex rev limit 1 5", "*1\r\n$1\r\nd\r\n", RD);
  tx(&o, "zrangebylex l (a [c", "*2\r\n$1\r\nb\r\n$1\r\nc\r\n", RD);
  tx(&o, "zrangebylex l \\e +", "-ERR min or max not valid string range item\r\n", RD);
  tx(&o, "zrangebylex l [ (b", "*1\r\n$1\r\na\r\n", RD);
  dyna_obj_clear(&o);
}

/* ZRANDMEMBER: the replies a one-member set makes deterministic, the shape and
 * distinctness of a positive count, repeats of a negative one, and the errors. */
static void test_zrandmember(void **st) {
  (void)st;
  dyna_obj_t o;
  dyna_obj_init(&o);
  tx(&o, "zrandmember z", "$-1\r\n", RD);
  tx(&o, "zrandmember z 2 withscores", "*0\r\n", RD);
  tx(&o, "zadd z 5 only", ":1\r\n", 1);
  tx(&o, "zrandmember z", "$4\r\nonly\r\n", RD);
  tx(&o, "zrandmember z 3 withscores", "*2\r\n$4\r\nonly\r\n$1\r\n5\r\n", RD);
  tx(&o, "zrandmember z -3", "*3\r\n$4\r\nonly\r\n$4\r\nonly\r\n$4\r\nonly\r\n", RD);
  tx(&o, "zrandmember z 0", "*0\r\n", RD);
  /* 20 members and a count of 20: a permutation of them (with repeats, as a negative
   * count gives, all 20 distinct would have a chance of 20!/20^20). */
  tx(&o, "zadd z 0 m0 1 m1 2 m2 3 m3 4 m4 5 m5 6 m6 7 m7 8 m8 9 m9 10 m10 11 m11 12 m12 13 m13 14 m14 "
         "15 m15 16 m16 17 m17 18 m18 19 m19", ":20\r\n", 1);
  int ch;
  char all[512];
  snprintf(all, sizeof(all), "%s", typed_render_run(&o, &ENV, "zrandmember z 25", &ch));
  size_t len = strlen(all);
  assert_true(len > 2 && all[0] == '[' && all[len - 1] == ']');
  all[len - 1] = ',';
  int seen[21] = {0}, count = 0;
  for (char *p = all + 1; *p; count++) {
    char *comma = strchr(p, ',');
    assert_non_null(comma);
    *comma = 0;
    if (!strcmp(p, "$only")) seen[20]++;
    else {
      assert_true(p[0] == '$' && p[1] == 'm');
      seen[atoi(p + 2)]++;
    }
    p = comma + 1;
  }
  assert_int_equal(count, 21);
  for (int i = 0; i < 21; i++) assert_int_equal(seen[i], 1);
  tx(&o, "zrandmember z -9223372036854775808",
     "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n", RD);
  tx(&o, "zrandmember z -9223372036854775807 withscores", "-ERR value is out of range\r\n", RD);
  tx(&o, "zrandmember z x", "-ERR value is not an integer or out of range\r\n", RD);
  {  /* draws with repetition stop at 64 MiB of reply (a 900-byte member) */
    char line[1000];
    memset(line, 0, sizeof(line));
    memcpy(line, "zadd big 1 ", 11);
    memset(line + 11, 'x', 900);
    dyna_obj_t big;
    dyna_obj_init(&big);
    tx(&big, line, ":1\r\n", 1);
    tx(&big, "zrandmember big -1000000000000 withscores", "-" DYNA_TYPED_REPLY_BIG "\r\n", RD);
    dyna_obj_clear(&big);
  }
  tx(&o, "zrandmember z 1 foo", "-ERR syntax error\r\n", RD);
  tx(&o, "zrandmember z 1 withscores x", "-ERR syntax error\r\n", RD);
  dyna_obj_clear(&o);
  tx(&o, "sadd s m", ":1\r\n", 1);
  tx(&o, "zrandmember s", WRONGTYPE, RD);
  tx(&o, "zrandmember s 2", WRONGTYPE, RD);
  tx(&o, "zrandmember s x", "-ERR value is not an integer or out of range\r\n", RD);
  dyna_obj_clear(&o);
}

static void test_zset_removals(void **st) {
  (void)st;
  dyna_obj_t o;
  dyna_obj_init(&o);
  tx(&o, "zrem z a", ":0\r\n", 0);
  tx(&o, "zpopmin z", "*0\r\n", 0);
  tx(&o, "zadd z 1 a 2 b 3 c 4 d 5 e 6 f", ":6\r\n", 1);
  tx(&o, "zrem z a a nope", ":1\r\n", 1);
  tx(&o, "zrem z nope", ":0\r\n", 0);
  tx(&o, "zpopmin z", "*2\r\n$1\r\nb\r\n$1\r\n2\r\n", 1);
  tx(&o, "zpopmax z 2", "*4\r\n$1\r\nf\r\n$1\r\n6\r\n$1\r\ne\r\n$1\r\n5\r\n", 1);
  tx(&o, "zpopmax z 0", "*0\r\n", 0);
  tx(&o, "zpopmax z -1", "-ERR value is out of range, must be positive\r\n", 0);
  tx(&o, "zpopmax z x", "-ERR value is out of range, must be positive\r\n", 0);
  tx(&o, "zpopmax z 1 2", "-ERR syntax error\r\n", 0);
  tx(&o, "zadd z 5 e 6 f 7 g", ":3\r\n", 1);
  tx(&o, "zremrangebyscore z (3 5", ":2\r\n", 1);
  tx(&o, "zremrangebyscore z 100 200", ":0\r\n", 0);
  tx(&o, "zremrangebyscore z x 1", "-ERR min or max is not a float\r\n", 0);
  tx(&o, "zrange z 0 -1", "*3\r\n$1\r\nc\r\n$1\r\nf\r\n$1\r\ng\r\n", RD);
  tx(&o, "zremrangebyrank z -1 -1", ":1\r\n", 1);
  tx(&o, "zremrangebyrank z 5 9", ":0\r\n", 0);
  tx(&o, "zremrangebyrank z a 1", "-ERR value is not an integer or out of range\r\n", 0);
  /* The key emptied is deleted, its TTL with it: the next ZADD starts without one. */
  assert_int_equal(dyna_obj_set_deadline(&o, 1, 999999), 0);
  tx(&o, "zremrangebyrank z 0 -1", ":2\r\n", 1);
  assert_int_equal(dyna_obj_kind(&o, ENV.now_ms), DYNA_KIND_NONE);
  tx(&o, "zadd z 1 a", ":1\r\n", 1);
  uint64_t dl;
  assert_int_equal(dyna_obj_deadline(&o, &dl), 0);
  tx(&o, "zpopmin z 5", "*2\r\n$1\r\na\r\n$1\r\n1\r\n", 1);
  assert_int_equal(dyna_obj_kind(&o, ENV.now_ms), DYNA_KIND_NONE);
  tx(&o, "zadd z 1 a 2 b", ":2\r\n", 1);
  tx(&o, "zrem z b a", ":2\r\n", 1);
  assert_int_equal(dyna_obj_kind(&o, ENV.now_ms), DYNA_KIND_NONE);
  tx(&o, "zadd z 0 a 0 b 0 c 0 d 0 e", ":5\r\n", 1);
  tx(&o, "zremrangebylex z [b (d", ":2\r\n", 1);
  tx(&o, "zremrangebylex z x y", "-ERR min or max not valid string range item\r\n", 0);
  tx(&o, "zremrangebylex z (e +", ":0\r\n", 0);
  tx(&o, "zrange z 0 -1", "*3\r\n$1\r\na\r\n$1\r\nd\r\n$1\r\ne\r\n", RD);
  tx(&o, "zremrangebylex z - +", ":3\r\n", 1);
  assert_int_equal(dyna_obj_kind(&o, ENV.now_ms), DYNA_KIND_NONE);
  dyna_obj_clear(&o);
}

static void test_zset_wrongtype_and_expiry(void **st) {
  (void)st;
  dyna_obj_t o;
  dyna_obj_init(&o);
  tx(&o, "rpush z x", ":1\r\n", 1);
  tx(&o, "zadd z 1 a", WRONGTYPE, 0);
  tx(&o, "zincrby z 1 a", WRONGTYPE, 0);
  tx(&o, "zrem z a", WRONGTYPE, 0);
  tx(&o, "zpopmin z", WRONGTYPE, 0);
  tx(&o, "zremrangebyrank z 0 -1", WRONGTYPE, 0);
  tx(&o, "zscore z a", WRONGTYPE, RD);
  tx(&o, "zmscore z a", WRONGTYPE, RD);
  tx(&o, "zcard z", WRONGTYPE, RD);
  tx(&o, "zcount z 0 1", WRONGTYPE, RD);
  tx(&o, "zrank z a", WRONGTYPE, RD);
  tx(&o, "zrange z 0 -1", WRONGTYPE, RD);
  /* Redis parses before it looks the key up: syntax errors come first. */
  tx(&o, "zadd z x a", "-ERR value is not a valid float\r\n", 0);
  tx(&o, "zrange z a 1", "-ERR value is not an integer or out of range\r\n", RD);
  dyna_obj_clear(&o);

  tx(&o, "zadd z 1 a 2 b", ":2\r\n", 1);
  assert_int_equal(dyna_obj_set_deadline(&o, 1, 2000), 0);
  tx(&o, "zcard z", ":2\r\n", RD);
  ENV.now_ms = 3000; /* past the deadline: the key reads as absent */
  tx(&o, "zcard z", ":0\r\n", RD);
  tx(&o, "zscore z a", "$-1\r\n", RD);
  tx(&o, "zrange z 0 -1", "*0\r\n", RD);
  tx(&o, "zrank z a", "$-1\r\n", RD);
  tx(&o, "zadd z xx 5 a", ":0\r\n", 0);
  tx(&o, "zrem z a", ":0\r\n", 0);
  tx(&o, "zpopmin z", "*0\r\n", 0);
  tx(&o, "zadd z ch 5 a", ":1\r\n", 1); /* a new key: a is new */
  tx(&o, "zrange z 0 -1 withscores", "*2\r\n$1\r\na\r\n$1\r\n5\r\n", RD);
  uint64_t dl;
  assert_int_equal(dyna_obj_deadline(&o, &dl), 0);
  ENV.now_ms = 1000;
  dyna_obj_clear(&o);
}

/* Two replicas a (actor 1) and b (actor 2) start from base. */
static void fork2(const dyna_obj_t *base, dyna_obj_t *a, dyna_obj_t *b) {
  typed_copy(a, base);
  typed_copy(b, base);
}

static void test_zset_concurrency(void **st) {
  (void)st;
  dyna_obj_t base, a, b, ab, ba;
  dyna_obj_init(&base);
  tx_as(&base, 1, "zadd z 10 m 1 x 2 y", ":3\r\n", 1);

  /* Concurrent ZADDs of one member: one score on both merge orders. */
  fork2(&base, &a, &b);
  tx_as(&a, 1, "zadd z 20 m", ":0\r\n", 1);
  tx_as(&b, 2, "zadd z 30 m", ":0\r\n", 1);
  typed_merge_both(&a, &b, &ab, &ba);
  tx(&ab, "zscore z m", "$2\r\n20\r\n", RD); /* the greatest dot by (counter, actor): (2, 1) > (1, 2) */
  tx(&ba, "zscore z m", "$2\r\n20\r\n", RD);
  dyna_obj_clear(&a), dyna_obj_clear(&b), dyna_obj_clear(&ab), dyna_obj_clear(&ba);

  /* Concurrent ZINCRBYs add. */
  fork2(&base, &a, &b);
  tx_as(&a, 1, "zincrby z 5 m", "$2\r\n15\r\n", 1);
  tx_as(&b, 2, "zincrby z 7 m", "$2\r\n17\r\n", 1);
  tx_as(&b, 2, "zincrby z 1 new", "$1\r\n1\r\n", 1);
  tx_as(&a, 1, "zincrby z 2 new", "$1\r\n2\r\n", 1);
  typed_merge_both(&a, &b, &ab, &ba);
  tx(&ab, "zmscore z m new", "*2\r\n$2\r\n22\r\n$1\r\n3\r\n", RD);
  tx(&ab, "zrange z 0 -1", "*4\r\n$1\r\nx\r\n$1\r\ny\r\n$3\r\nnew\r\n$1\r\nm\r\n", RD);

  /* A ZADD overrides what it saw (both increments) while a concurrent one still adds. */
  dyna_obj_t c, d, cd, dc;
  fork2(&ab, &c, &d);
  tx_as(&c, 1, "zadd z 100 m", ":0\r\n", 1);
  tx_as(&d, 2, "zincrby z 1 m", "$2\r\n23\r\n", 1);
  typed_merge_both(&c, &d, &cd, &dc);
  tx(&cd, "zscore z m", "$3\r\n101\r\n", RD);
  tx(&dc, "zscore z m", "$3\r\n101\r\n", RD);
  dyna_obj_clear(&c), dyna_obj_clear(&d), dyna_obj_clear(&cd), dyna_obj_clear(&dc);

  /* Concurrent pops of the same member: each pops it once, the merge removes it once. */
  fork2(&ab, &c, &d);
  tx_as(&c, 1, "zpopmin z", "*2\r\n$1\r\nx\r\n$1\r\n1\r\n", 1);
  tx_as(&d, 2, "zpopmin z", "*2\r\n$1\r\nx\r\n$1\r\n1\r\n", 1);
  typed_merge_both(&c, &d, &cd, &dc);
  tx(&cd, "zrange z 0 -1", "*3\r\n$1\r\ny\r\n$3\r\nnew\r\n$1\r\nm\r\n", RD);
  /* A ZREM concurrent with a ZADD of the member: the add wins. */
  dyna_obj_t e, f, ef, fe;
  fork2(&cd, &e, &f);
  tx_as(&e, 1, "zrem z y", ":1\r\n", 1);
  tx_as(&f, 2, "zadd z 9 y", ":0\r\n", 1);
  typed_merge_both(&e, &f, &ef, &fe);
  tx(&ef, "zscore z y", "$1\r\n9\r\n", RD);
  dyna_obj_clear(&e), dyna_obj_clear(&f), dyna_obj_clear(&ef), dyna_obj_clear(&fe);
  dyna_obj_clear(&c), dyna_obj_clear(&d), dyna_obj_clear(&cd), dyna_obj_clear(&dc);
  dyna_obj_clear(&a), dyna_obj_clear(&b), dyna_obj_clear(&ab), dyna_obj_clear(&ba);
  dyna_obj_clear(&base);
}

/* Issue 16 item 10: a 1,000-member zset written through ZADD from 5 actors (each its
 * share, then every replica's writes merged, then each actor re-scores some members)
 * encodes under 2x its members' raw bytes (member bytes + an 8-byte score each). */
static void test_zset_state_size(void **st) {
  (void)st;
  dyna_obj_t r[5], all;
  dyna_obj_init(&all);
  size_t raw = 0;
  char line[128];
  for (int k = 0; k < 5; k++) {
    dyna_obj_init(&r[k]);
    for (int i = k; i < 1000; i += 5) {
      snprintf(line, sizeof(line), "zadd z %d member:%04d", i * 3, i);
      tx_as(&r[k], (uint64_t)k + 1, line, ":1\r\n", 1);
      raw += strlen("member:0000") + 8;
    }
    assert_int_equal(dyna_obj_merge(&all, &r[k]), 0);
  }
  for (int k = 0; k < 5; k++) /* a second round: every actor rewrites others' members */
    for (int i = (k + 1) % 5; i < 1000; i += 25) {
      snprintf(line, sizeof(line), "zadd z %d member:%04d", i * 7 + 1, i);
      tx_as(&all, (uint64_t)k + 1, line, ":0\r\n", 1);
    }
  tx(&all, "zcard z", ":1000\r\n", RD);
  dyna_buf_t enc = DYNA_BUF_INIT;
  dyna_obj_encode(&all, &enc);
  print_message("zset of 1000 members from 5 actors: %zu bytes encoded, %zu raw\n", enc.len, raw);
  assert_true(enc.len < 2 * raw);
  dyna_buf_free(&enc);
  for (int k = 0; k < 5; k++) dyna_obj_clear(&r[k]);
  dyna_obj_clear(&all);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_zadd),
      cmocka_unit_test(test_zset_reads),
      cmocka_unit_test(test_zrandmember),
      cmocka_unit_test(test_zset_removals),
      cmocka_unit_test(test_zset_wrongtype_and_expiry),
      cmocka_unit_test(test_zset_concurrency),
      cmocka_unit_test(test_zset_state_size),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
