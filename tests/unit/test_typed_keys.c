/* test_typed_keys.c: the key commands (core/typed_keys.c) called directly on objects:
 * EXPIRE and friends with NX XX GT LT and Redis 7's errors, TTL / PTTL / EXPIRETIME
 * arithmetic at a given wall time, PERSIST, TYPE, OBJECT ENCODING, GETEX; an expired
 * key of every kind reads as absent; a deadline in the past deletes every kind;
 * concurrent EXPIREs (the longest wins) and PERSIST against EXPIRE (PERSIST wins),
 * merged in both orders; a write after expiry starts a fresh key. */
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

#define NOW 1700000000000ull
#define B(s) (const uint8_t *)(s), strlen(s)

/* A key of the given kind holding a few elements (the other families' writes, made
 * with the crdt API as they make them). n: elements (collections). */
static void make_kind(dyna_obj_t *o, dyna_kind_t k, size_t n, const char *elem) {
  dyna_crdt_t *s;
  char m[128];
  switch (k) {
  case DYNA_KIND_STRING: typed_set_str(o, 1, elem, NOW - 1000); return;
  case DYNA_KIND_COUNTER:
    assert_int_equal(dyna_obj_typed_for_write(o, DYNA_CRDT_COUNTER, 1, NOW - 1000, &s), 0);
    assert_int_equal(dyna_crdt_incrby(s, 1, 7, NULL), 0);
    break;
  case DYNA_KIND_SET:
    assert_int_equal(dyna_obj_typed_for_write(o, DYNA_CRDT_SET, 1, NOW - 1000, &s), 0);
    for (size_t i = 0; i < n; i++) {
      snprintf(m, sizeof m, "%s%zu", elem, i);
      assert_int_equal(dyna_crdt_sadd(s, 1, B(m)), 1);
    }
    break;
  case DYNA_KIND_HASH:
    assert_int_equal(dyna_obj_typed_for_write(o, DYNA_CRDT_HASH, 1, NOW - 1000, &s), 0);
    for (size_t i = 0; i < n; i++) {
      snprintf(m, sizeof m, "f%zu", i);
      assert_int_equal(dyna_crdt_hset(s, 1, B(m), B(elem), NOW - 1000), 1);
    }
    break;
  case DYNA_KIND_ZSET:
    assert_int_equal(dyna_obj_typed_for_write(o, DYNA_CRDT_ZSET, 1, NOW - 1000, &s), 0);
    for (size_t i = 0; i < n; i++) {
      double sc;
      snprintf(m, sizeof m, "%s%zu", elem, i);
      assert_int_equal(dyna_crdt_zadd(s, 1, B(m), (double)i, 0, &sc), DYNA_CRDT_ZADDED);
    }
    break;
  case DYNA_KIND_LIST:
    assert_int_equal(dyna_obj_typed_for_write(o, DYNA_CRDT_LIST, 1, NOW - 1000, &s), 0);
    for (size_t i = 0; i < n; i++) assert_int_equal(dyna_crdt_lpush(s, 1, 1, B(elem)), 0);
    break;
  default: fail();
  }
  dyna_obj_typed_done(o);
  assert_int_equal(dyna_obj_kind(o, NOW), k);
}

static const dyna_kind_t KINDS[] = {DYNA_KIND_STRING, DYNA_KIND_COUNTER, DYNA_KIND_SET,
                                    DYNA_KIND_HASH,   DYNA_KIND_ZSET,    DYNA_KIND_LIST};
static const char *const TYPE_REPLY[] = {"+string\r\n", "+string\r\n", "+set\r\n",
                                         "+hash\r\n",   "+zset\r\n",   "+list\r\n"};

static void test_ttl_arithmetic(void **st) {
  (void)st;
  dyna_obj_t o;
  dyna_obj_init(&o);
  dyna_tenv_t e = typed_env(1, NOW);
  typed_expect_unchanged(&o, &e, "ttl k", ":-2\r\n");
  typed_expect_unchanged(&o, &e, "pttl k", ":-2\r\n");
  typed_expect_unchanged(&o, &e, "expiretime k", ":-2\r\n");
  typed_expect_unchanged(&o, &e, "pexpiretime k", ":-2\r\n");
  typed_expect_unchanged(&o, &e, "expire k 10", ":0\r\n");
  typed_expect_unchanged(&o, &e, "persist k", ":0\r\n");
  make_kind(&o, DYNA_KIND_STRING, 0, "v");
  typed_expect_unchanged(&o, &e, "ttl k", ":-1\r\n");
  typed_expect_unchanged(&o, &e, "pttl k", ":-1\r\n");
  typed_expect_unchanged(&o, &e, "expiretime k", ":-1\r\n");
  typed_expect_unchanged(&o, &e, "persist k", ":0\r\n");
  assert_int_equal(typed_expect(&o, &e, "expire k 10", ":1\r\n"), 1);
  typed_expect(&o, &e, "ttl k", ":10\r\n");
  typed_expect(&o, &e, "pttl k", ":10000\r\n");
  typed_expect(&o, &e, "pexpiretime k", ":1700000010000\r\n");
  typed_expect(&o, &e, "expiretime k", ":1700000010\r\n");
  dyna_tenv_t l = typed_env(1, NOW + 1499);
  typed_expect(&o, &l, "ttl k", ":9\r\n"); /* (8501 + 500) / 1000, as Redis rounds */
  typed_expect(&o, &l, "pttl k", ":8501\r\n");
  l.now_ms = NOW + 9999;
  typed_expect(&o, &l, "pttl k", ":1\r\n");
  typed_expect(&o, &l, "ttl k", ":0\r\n");
  typed_expect(&o, &l, "get k", "$1\r\nv\r\n");
  l.now_ms = NOW + 10000; /* the deadline itself: expired */
  typed_expect(&o, &l, "ttl k", ":-2\r\n");
  typed_expect(&o, &l, "get k", "$-1\r\n");
  typed_expect(&o, &e, "pexpire k 1500", ":1\r\n");
  typed_expect(&o, &e, "ttl k", ":2\r\n");
  typed_expect(&o, &e, "expireat k 1700000100", ":1\r\n");
  typed_expect(&o, &e, "pttl k", ":100000\r\n");
  typed_expect(&o, &e, "pexpireat k 1700000000500", ":1\r\n");
  typed_expect(&o, &e, "pttl k", ":500\r\n");
  typed_expect(&o, &e, "expiretime k", ":1700000001\r\n");
  assert_int_equal(typed_expect(&o, &e, "persist k", ":1\r\n"), 1);
  typed_expect(&o, &e, "ttl k", ":-1\r\n");
  typed_expect_unchanged(&o, &e, "persist k", ":0\r\n");
  typed_expect(&o, &e, "get k", "$1\r\nv\r\n");
  dyna_obj_clear(&o);
}

static void test_expire_options(void **st) {
  (void)st;
  dyna_obj_t o;
  dyna_obj_init(&o);
  dyna_tenv_t e = typed_env(1, NOW);
  make_kind(&o, DYNA_KIND_SET, 2, "m");
  typed_expect_unchanged(&o, &e, "expire k 100 xx", ":0\r\n");
  typed_expect_unchanged(&o, &e, "expire k 100 gt", ":0\r\n"); /* no deadline counts as infinite */
  typed_expect(&o, &e, "expire k 100 NX", ":1\r\n");
  typed_expect_unchanged(&o, &e, "expire k 200 nx", ":0\r\n");
  typed_expect_unchanged(&o, &e, "expire k 100 gt", ":0\r\n");
  typed_expect(&o, &e, "expire k 200 gt", ":1\r\n");
  typed_expect_unchanged(&o, &e, "expire k 300 lt", ":0\r\n");
  typed_expect(&o, &e, "expire k 50 lt xx", ":1\r\n");
  typed_expect(&o, &e, "ttl k", ":50\r\n");
  dyna_obj_t p;
  dyna_obj_init(&p);
  make_kind(&p, DYNA_KIND_LIST, 1, "x");
  typed_expect(&p, &e, "expire k 50 lt", ":1\r\n"); /* LT on no deadline sets one */
  dyna_obj_clear(&p);
  typed_expect_unchanged(&o, &e, "expire k 10 nx xx",
           "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n");
  typed_expect_unchanged(&o, &e, "expire k 10 nx gt",
           "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n");
  typed_expect_unchanged(&o, &e, "expire k 10 gt lt",
           "-ERR GT and LT options at the same time are not compatible\r\n");
  typed_expect_unchanged(&o, &e, "expire k 10 foo", "-ERR Unsupported option foo\r\n");
  typed_expect_unchanged(&o, &e, "expire k abc", "-ERR value is not an integer or out of range\r\n");
  typed_expect_unchanged(&o, &e, "expire k 9223372036854775807",
           "-ERR invalid expire time in 'expire' command\r\n");
  typed_expect_unchanged(&o, &e, "pexpire k 9223372036854775807",
           "-ERR invalid expire time in 'pexpire' command\r\n");
  typed_expect_unchanged(&o, &e, "expireat k 99999999999999999",
           "-ERR invalid expire time in 'expireat' command\r\n");
  typed_expect(&o, &e, "ttl k", ":50\r\n");
  dyna_obj_clear(&o);
}

static void test_expired_reads_absent(void **st) {
  (void)st;
  for (size_t k = 0; k < sizeof KINDS / sizeof KINDS[0]; k++) {
    dyna_obj_t o;
    dyna_obj_init(&o);
    dyna_tenv_t e = typed_env(1, NOW);
    make_kind(&o, KINDS[k], 3, "7");
    typed_expect_unchanged(&o, &e, "type k", TYPE_REPLY[k]);
    typed_expect(&o, &e, "pexpire k 100", ":1\r\n");
    dyna_tenv_t l = typed_env(2, NOW + 100);
    typed_expect_unchanged(&o, &l, "type k", "+none\r\n");
    typed_expect_unchanged(&o, &l, "ttl k", ":-2\r\n");
    typed_expect_unchanged(&o, &l, "pexpiretime k", ":-2\r\n");
    typed_expect_unchanged(&o, &l, "object encoding k", "$-1\r\n");
    typed_expect_unchanged(&o, &l, "get k", "$-1\r\n");
    typed_expect_unchanged(&o, &l, "expire k 10", ":0\r\n");
    typed_expect_unchanged(&o, &l, "persist k", ":0\r\n");
    typed_expect_unchanged(&o, &l, "getex k persist", "$-1\r\n");
    assert_int_equal(dyna_obj_kind(&o, NOW + 100), DYNA_KIND_NONE);
    dyna_obj_clear(&o);
  }
}

static void test_past_deadline_deletes(void **st) {
  (void)st;
  const char *cmds[] = {"expire k -1", "pexpire k 0", "expireat k 1", "pexpireat k 1700000000000"};
  for (size_t k = 0; k < sizeof KINDS / sizeof KINDS[0]; k++) {
    for (size_t c = 0; c < 4; c++) {
      dyna_obj_t o;
      dyna_obj_init(&o);
      dyna_tenv_t e = typed_env(1, NOW);
      make_kind(&o, KINDS[k], 2, "v");
      typed_expect(&o, &e, "expire k 100", ":1\r\n");
      assert_int_equal(typed_expect(&o, &e, cmds[c], ":1\r\n"), 1);
      /* Deleted for good, at any later time, and without a deadline left behind. */
      typed_expect(&o, &e, "type k", "+none\r\n");
      typed_expect(&o, &e, "ttl k", ":-2\r\n");
      uint64_t d;
      assert_int_equal(dyna_obj_deadline(&o, &d), 0);
      assert_int_equal(dyna_obj_kind(&o, 0), DYNA_KIND_NONE);
      assert_int_equal(dyna_obj_nlive(&o), 0);
      dyna_obj_clear(&o);
    }
  }
}

/* a and b merged both ways: equal bytes; merging again changes nothing. */
static void merge_both(dyna_obj_t *a, dyna_obj_t *b) {
  dyna_obj_t ab, ba;
  dyna_obj_init(&ab);
  dyna_obj_init(&ba);
  assert_int_equal(dyna_obj_copy(&ab, a), 0);
  assert_int_equal(dyna_obj_copy(&ba, b), 0);
  assert_int_equal(dyna_obj_merge(&ab, b), 0);
  assert_int_equal(dyna_obj_merge(&ba, a), 0);
  typed_same(&ab, &ba);
  assert_int_equal(dyna_obj_merge(&ab, &ba), 0);
  assert_int_equal(dyna_obj_merge(&ab, a), 0);
  typed_same(&ab, &ba);
  dyna_obj_clear(a);
  dyna_obj_clear(b);
  *a = ab;
  *b = ba;
}

static void test_concurrent_expire(void **st) {
  (void)st;
  for (int order = 0; order < 2; order++) {
    dyna_obj_t a, b;
    dyna_obj_init(&a);
    dyna_obj_init(&b);
    dyna_tenv_t e1 = typed_env(1, NOW), e2 = typed_env(2, NOW);
    make_kind(&a, DYNA_KIND_HASH, 2, "v");
    typed_expect(&a, &e1, "expire k 30", ":1\r\n");
    assert_int_equal(dyna_obj_copy(&b, &a), 0);
    typed_expect(&a, &e1, order ? "expire k 100" : "expire k 50", ":1\r\n");
    typed_expect(&b, &e2, order ? "pexpire k 50000" : "pexpire k 100000", ":1\r\n");
    merge_both(order ? &a : &b, order ? &b : &a);
    typed_expect(&a, &e1, "ttl k", ":100\r\n");
    typed_expect(&b, &e2, "ttl k", ":100\r\n");
    dyna_obj_clear(&a);
    dyna_obj_clear(&b);
  }
}

static void test_persist_wins(void **st) {
  (void)st;
  dyna_obj_t a, b;
  dyna_obj_init(&a);
  dyna_obj_init(&b);
  dyna_tenv_t e1 = typed_env(1, NOW), e2 = typed_env(2, NOW);
  make_kind(&a, DYNA_KIND_ZSET, 2, "m");
  typed_expect(&a, &e1, "expire k 30", ":1\r\n");
  assert_int_equal(dyna_obj_copy(&b, &a), 0);
  typed_expect(&a, &e1, "persist k", ":1\r\n");
  typed_expect(&b, &e2, "expire k 1000", ":1\r\n");
  merge_both(&a, &b);
  typed_expect(&a, &e1, "ttl k", ":-1\r\n");
  typed_expect(&b, &e2, "ttl k", ":-1\r\n");
  /* Observed afterwards, an EXPIRE applies again. */
  typed_expect(&a, &e1, "expire k 5", ":1\r\n");
  typed_expect(&a, &e1, "ttl k", ":5\r\n");
  dyna_obj_clear(&a);
  dyna_obj_clear(&b);
}

static void test_fresh_after_expiry(void **st) {
  (void)st;
  dyna_obj_t o;
  dyna_obj_init(&o);
  dyna_tenv_t e = typed_env(1, NOW);
  make_kind(&o, DYNA_KIND_SET, 3, "old");
  typed_expect(&o, &e, "expire k 10", ":1\r\n");
  /* After expiry, a write of the set starts a new key: no old member, no deadline. */
  dyna_crdt_t *s;
  assert_int_equal(dyna_obj_typed_for_write(&o, DYNA_CRDT_SET, 2, NOW + 10000, &s), 0);
  assert_int_equal(dyna_crdt_sadd(s, 2, B("new")), 1);
  dyna_obj_typed_done(&o);
  dyna_tenv_t l = typed_env(2, NOW + 10000);
  typed_expect(&o, &l, "ttl k", ":-1\r\n");
  typed_expect(&o, &l, "object encoding k", "$9\r\nhashtable\r\n");
  assert_int_equal(dyna_crdt_count(dyna_obj_typed(&o, DYNA_CRDT_SET)), 1);
  /* Same for a counter written after a string expired. */
  dyna_obj_t c;
  dyna_obj_init(&c);
  make_kind(&c, DYNA_KIND_STRING, 0, "41");
  typed_expect(&c, &e, "expire k 10", ":1\r\n");
  typed_expect(&c, &l, "incr k", ":1\r\n");
  typed_expect(&c, &l, "ttl k", ":-1\r\n");
  dyna_obj_clear(&c);
  dyna_obj_clear(&o);
}

static void test_type_and_encoding(void **st) {
  (void)st;
  dyna_tenv_t e = typed_env(1, NOW);
  struct {
    dyna_kind_t k;
    size_t n;
    const char *elem, *enc;
  } cases[] = {
      {DYNA_KIND_STRING, 0, "123", "$3\r\nint\r\n"},
      {DYNA_KIND_STRING, 0, "abc", "$6\r\nembstr\r\n"},
      {DYNA_KIND_STRING, 0, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "$3\r\nraw\r\n"},
      {DYNA_KIND_COUNTER, 0, "", "$3\r\nint\r\n"},
      {DYNA_KIND_SET, 3, "1", "$6\r\nintset\r\n"},
      {DYNA_KIND_SET, 3, "a", "$9\r\nhashtable\r\n"},
      {DYNA_KIND_SET, 513, "1", "$9\r\nhashtable\r\n"},
      {DYNA_KIND_HASH, 3, "v", "$8\r\nlistpack\r\n"},
      {DYNA_KIND_HASH, 129, "v", "$9\r\nhashtable\r\n"},
      {DYNA_KIND_HASH, 1, "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv",
       "$9\r\nhashtable\r\n"},
      {DYNA_KIND_ZSET, 3, "m", "$8\r\nlistpack\r\n"},
      {DYNA_KIND_ZSET, 129, "m", "$8\r\nskiplist\r\n"},
      {DYNA_KIND_LIST, 2, "x", "$9\r\nquicklist\r\n"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    dyna_obj_t o;
    dyna_obj_init(&o);
    make_kind(&o, cases[i].k, cases[i].n, cases[i].elem);
    typed_expect_unchanged(&o, &e, "object encoding k", cases[i].enc);
    typed_expect_unchanged(&o, &e, "OBJECT ENCODING k", cases[i].enc);
    for (size_t k = 0; k < sizeof KINDS / sizeof KINDS[0]; k++)
      if (KINDS[k] == cases[i].k) typed_expect_unchanged(&o, &e, "type k", TYPE_REPLY[k]);
    dyna_obj_clear(&o);
  }
  dyna_obj_t o;
  dyna_obj_init(&o);
  typed_expect_unchanged(&o, &e, "type k", "+none\r\n");
  typed_expect_unchanged(&o, &e, "object encoding k", "$-1\r\n");
  typed_expect(&o, &e, "incrbyfloat k 0.5", "$3\r\n0.5\r\n");
  typed_expect_unchanged(&o, &e, "object encoding k", "$6\r\nembstr\r\n");
  typed_expect_unchanged(&o, &e, "type k", "+string\r\n");
  typed_expect_unchanged(&o, &e, "object encoding", "-ERR wrong number of arguments for 'object|encoding' command\r\n");
  typed_expect_unchanged(&o, &e, "object encoding k x", "-ERR wrong number of arguments for 'object|encoding' command\r\n");
  typed_expect_unchanged(&o, &e, "object freq k", "-ERR unknown subcommand 'freq'. Try OBJECT HELP.\r\n");
  dyna_obj_clear(&o);
}

static void test_object_help(void **st) {
  (void)st;
  dyna_obj_t o;
  dyna_obj_init(&o);
  dyna_tenv_t e = typed_env(1, NOW);
  const uint8_t *argv[] = {(const uint8_t *)"object", (const uint8_t *)"help"};
  size_t argl[] = {6, 4};
  dyna_targs_t a = {2, argv, argl};
  dyna_buf_t r = DYNA_BUF_INIT;
  const dyna_typed_cmd_t *c = dyna_typed_find(argv[0], argl[0]);
  assert_non_null(c);
  assert_non_null(c->read);
  assert_int_equal(c->read(&o, &a, &e, &r), 0);
  assert_true(r.len > 4 && !memcmp(r.data, "*6\r\n+OBJECT ", 12));
  dyna_buf_free(&r);
  dyna_obj_clear(&o);
}

static void test_getex(void **st) {
  (void)st;
  dyna_obj_t o;
  dyna_obj_init(&o);
  dyna_tenv_t e = typed_env(1, NOW);
  typed_expect_unchanged(&o, &e, "getex k ex 10", "$-1\r\n");
  typed_expect_unchanged(&o, &e, "getex k ex abc", "$-1\r\n"); /* Redis looks the key up first */
  make_kind(&o, DYNA_KIND_STRING, 0, "v");
  typed_expect_unchanged(&o, &e, "getex k", "$1\r\nv\r\n");
  typed_expect_unchanged(&o, &e, "getex k persist", "$1\r\nv\r\n"); /* no deadline: nothing to write */
  typed_expect_unchanged(&o, &e, "getex k ex 10 px 10", "-ERR syntax error\r\n");
  typed_expect_unchanged(&o, &e, "getex k foo", "-ERR syntax error\r\n");
  typed_expect_unchanged(&o, &e, "getex k ex", "-ERR syntax error\r\n");
  typed_expect_unchanged(&o, &e, "getex k ex 0", "-ERR invalid expire time in 'getex' command\r\n");
  typed_expect_unchanged(&o, &e, "getex k px -1", "-ERR invalid expire time in 'getex' command\r\n");
  typed_expect_unchanged(&o, &e, "getex k ex 9223372036854775807", "-ERR invalid expire time in 'getex' command\r\n");
  typed_expect_unchanged(&o, &e, "getex k ex 1.5", "-ERR value is not an integer or out of range\r\n");
  assert_int_equal(typed_expect(&o, &e, "getex k ex 10", "$1\r\nv\r\n"), 1);
  typed_expect(&o, &e, "pttl k", ":10000\r\n");
  typed_expect(&o, &e, "getex k px 500", "$1\r\nv\r\n");
  typed_expect(&o, &e, "pttl k", ":500\r\n");
  typed_expect(&o, &e, "getex k exat 1700000020", "$1\r\nv\r\n");
  typed_expect(&o, &e, "ttl k", ":20\r\n");
  typed_expect(&o, &e, "getex k pxat 1700000030000", "$1\r\nv\r\n");
  typed_expect(&o, &e, "ttl k", ":30\r\n");
  assert_int_equal(typed_expect(&o, &e, "getex k persist", "$1\r\nv\r\n"), 1);
  typed_expect(&o, &e, "ttl k", ":-1\r\n");
  assert_int_equal(typed_expect(&o, &e, "getex k exat 1", "$1\r\nv\r\n"), 1); /* past: deletes */
  typed_expect(&o, &e, "type k", "+none\r\n");
  /* A counter answers as GET does; other types WRONGTYPE. */
  typed_expect(&o, &e, "incrby k 5", ":5\r\n");
  typed_expect(&o, &e, "getex k ex 5", "$1\r\n5\r\n");
  typed_expect(&o, &e, "ttl k", ":5\r\n");
  dyna_obj_t s;
  dyna_obj_init(&s);
  make_kind(&s, DYNA_KIND_SET, 1, "m");
  typed_expect_unchanged(&s, &e, "getex k ex 5", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
  dyna_obj_clear(&s);
  dyna_obj_clear(&o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ttl_arithmetic),       cmocka_unit_test(test_expire_options),
      cmocka_unit_test(test_expired_reads_absent), cmocka_unit_test(test_past_deadline_deletes),
      cmocka_unit_test(test_concurrent_expire),    cmocka_unit_test(test_persist_wins),
      cmocka_unit_test(test_fresh_after_expiry),   cmocka_unit_test(test_type_and_encoding),
      cmocka_unit_test(test_object_help),          cmocka_unit_test(test_getex),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
