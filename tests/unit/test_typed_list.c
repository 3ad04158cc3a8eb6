/* test_typed_list.c: the list commands (core/typed_list.c, typed_list.h) called
 * directly on objects: every command's replies and Redis 7.0's errors (checked against
 * Debian's redis-server 7.0.15), WRONGTYPE, expired keys read as absent, writes that
 * change nothing leave the object byte-equal, LMOVE / RPOPLPUSH over two objects, and
 * concurrency: two objects written by different actors merged both ways give
 * byte-equal encodings; concurrent pushes both survive in one order with no element
 * twice; concurrent pops of one element remove it once. */
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
#include "core/typed_list.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/err.h"

#include "helper_typed.h"

/* ---- harness (helper_typed.h): run one command line on an object ------------------ */

static dyna_tenv_t ENV = {1, 1000, 42, DYNA_RESP2, 0};

/* Runs line on o as actor at ENV.now_ms (typed_tx). */
#define tx_as(o, actor, line, want, ch) typed_tx((o), &ENV, (actor), (line), (want), (ch))
#define tx(o, line, want, ch) tx_as(o, ENV.actor, line, want, ch)
#define RD TYPED_EITHER /* a read: changed is not checked */
#define ALL "lrange l 0 -1"

static void test_list_push_pop(void **st) {
  (void)st;
  dyna_obj_t o;
  dyna_obj_init(&o);
  tx(&o, "lpushx l a", ":0\r\n", 0);
  tx(&o, "rpushx l a", ":0\r\n", 0);
  tx(&o, "lpop l", "$-1\r\n", 0);
  tx(&o, "lpop l 2", "*-1\r\n", 0);
  tx(&o, "lpop l 0", "*-1\r\n", 0); /* the key is looked up before the count */
  tx(&o, "lpush l 1 2 3", ":3\r\n", 1);
  tx(&o, ALL, "*3\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\n1\r\n", RD);
  tx(&o, "rpush l a b", ":5\r\n", 1);
  tx(&o, "lpushx l 4", ":6\r\n", 1);
  tx(&o, "rpushx l c", ":7\r\n", 1);
  tx(&o, ALL, "*7\r\n$1\r\n4\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\n1\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", RD);
  tx(&o, "lpop l", "$1\r\n4\r\n", 1);
  tx(&o, "rpop l", "$1\r\nc\r\n", 1);
  tx(&o, "lpop l 0", "*0\r\n", 0);
  tx(&o, "rpop l 2", "*2\r\n$1\r\nb\r\n$1\r\na\r\n", 1);
  tx(&o, "lpop l 2", "*2\r\n$1\r\n3\r\n$1\r\n2\r\n", 1);
  tx(&o, "lpop l -1", "-ERR value is out of range, must be positive\r\n", 0);
  tx(&o, "lpop l x", "-ERR value is out of range, must be positive\r\n", 0);
  tx(&o, "lpop l 1 2", "-ERR wrong number of arguments for 'lpop' command\r\n", 0);
  tx(&o, "llen l", ":1\r\n", RD);
  /* The last pop deletes the key, its TTL with it. */
  assert_int_equal(dyna_obj_set_deadline(&o, 1, 999999), 0);
  tx(&o, "rpop l 9", "*1\r\n$1\r\n1\r\n", 1);
  assert_int_equal(dyna_obj_kind(&o, ENV.now_ms), DYNA_KIND_NONE);
  tx(&o, "llen l", ":0\r\n", RD);
  tx(&o, "rpush l x", ":1\r\n", 1);
  uint64_t dl;
  assert_int_equal(dyna_obj_deadline(&o, &dl), 0);
  dyna_obj_clear(&o);
}

static void test_list_index_ops(void **st) {
  (void)st;
  dyna_obj_t o;
  dyna_obj_init(&o);
  tx(&o, "lset l 0 x", "-ERR no such key\r\n", 0);
  tx(&o, "lindex l 0", "$-1\r\n", RD);
  tx(&o, "lindex l x", "$-1\r\n", RD); /* absent: nil before the index is parsed */
  tx(&o, ALL, "*0\r\n", RD);
  tx(&o, "linsert l before a x", ":0\r\n", 0);
  tx(&o, "lrem l 0 a", ":0\r\n", 0);
  tx(&o, "ltrim l 0 1", "+OK\r\n", 0);
  tx(&o, "rpush l a b c a b c a", ":7\r\n", 1);
  tx(&o, "lrem l -2 a", ":2\r\n", 1);
  tx(&o, ALL, "*5\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\nc\r\n", RD);
  tx(&o, "lrem l 1 b", ":1\r\n", 1);
  tx(&o, "lrem l 0 zz", ":0\r\n", 0);
  tx(&o, "lrem l x a", "-ERR value is not an integer or out of range\r\n", 0);
  tx(&o, "lindex l -1", "$1\r\nc\r\n", RD);
  tx(&o, "lindex l 100", "$-1\r\n", RD);
  tx(&o, "lindex l x", "-ERR value is not an integer or out of range\r\n", RD);
  tx(&o, "lset l -1 z", "+OK\r\n", 1);
  tx(&o, "lset l 4 z", "-ERR index out of range\r\n", 0);
  tx(&o, "lset l x z", "-ERR value is not an integer or out of range\r\n", 0);
  tx(&o, "linsert l after c x", ":5\r\n", 1);
  tx(&o, "linsert l BEFORE a y", ":6\r\n", 1);
  tx(&o, "linsert l before nope y", ":-1\r\n", 0);
  tx(&o, "linsert l middle a y", "-ERR syntax error\r\n", 0);
  tx(&o, ALL, "*6\r\n$1\r\ny\r\n$1\r\na\r\n$1\r\nc\r\n$1\r\nx\r\n$1\r\nb\r\n$1\r\nz\r\n", RD);
  tx(&o, "lrange l 1 2", "*2\r\n$1\r\na\r\n$1\r\nc\r\n", RD);
  tx(&o, "lrange l -2 100", "*2\r\n$1\r\nb\r\n$1\r\nz\r\n", RD);
  tx(&o, "lrange l 3 1", "*0\r\n", RD);
  tx(&o, "lrange l a 1", "-ERR value is not an integer or out of range\r\n", RD);
  tx(&o, "ltrim l 0 -1", "+OK\r\n", 0);
  tx(&o, "ltrim l 1 -2", "+OK\r\n", 1);
  tx(&o, ALL, "*4\r\n$1\r\na\r\n$1\r\nc\r\n$1\r\nx\r\n$1\r\nb\r\n", RD);
  tx(&o, "ltrim l x 1", "-ERR value is not an integer or out of range\r\n", 0);
  tx(&o, "ltrim l 5 1", "+OK\r\n", 1); /* everything: the key is deleted */
  assert_int_equal(dyna_obj_kind(&o, ENV.now_ms), DYNA_KIND_NONE);
  tx(&o, "rpush l a", ":1\r\n", 1);
  tx(&o, "lrem l 0 a", ":1\r\n", 1);
  assert_int_equal(dyna_obj_kind(&o, ENV.now_ms), DYNA_KIND_NONE);
  dyna_obj_clear(&o);
}

static void test_list_lpos(void **st) {
  (void)st;
  dyna_obj_t o;
  dyna_obj_init(&o);
  tx(&o, "lpos l a", "$-1\r\n", RD);
  tx(&o, "lpos l a count 0", "*0\r\n", RD);
  tx(&o, "rpush l a b c a b c a", ":7\r\n", 1);
  tx(&o, "lpos l a", ":0\r\n", RD);
  tx(&o, "lpos l a rank 2", ":3\r\n", RD);
  tx(&o, "lpos l a rank -1", ":6\r\n", RD);
  tx(&o, "lpos l a count 0", "*3\r\n:0\r\n:3\r\n:6\r\n", RD);
  tx(&o, "lpos l a rank -1 count 2", "*2\r\n:6\r\n:3\r\n", RD);
  tx(&o, "lpos l a count 0 maxlen 4", "*2\r\n:0\r\n:3\r\n", RD);
  tx(&o, "lpos l a rank -1 count 0 maxlen 1", "*1\r\n:6\r\n", RD);
  tx(&o, "lpos l zz count 2", "*0\r\n", RD);
  tx(&o, "lpos l zz", "$-1\r\n", RD);
  tx(&o, "lpos l a rank 0",
     "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use "
     "negative to start from the end of the list\r\n", RD);
  tx(&o, "lpos l a rank x", "-ERR value is not an integer or out of range\r\n", RD);
  tx(&o, "lpos l a count -1", "-ERR COUNT can't be negative\r\n", RD);
  tx(&o, "lpos l a maxlen -1", "-ERR MAXLEN can't be negative\r\n", RD);
  tx(&o, "lpos l a foo", "-ERR syntax error\r\n", RD);
  tx(&o, "lpos l a count", "-ERR syntax error\r\n", RD);
  dyna_obj_clear(&o);
}

static void test_list_wrongtype_and_expiry(void **st) {
  (void)st;
  dyna_obj_t o;
  dyna_obj_init(&o);
  tx(&o, "zadd l 1 a", ":1\r\n", 1);
  const char *writes[] = {"lpush l a", "rpush l a", "lpushx l a", "rpushx l a", "lpop l",
                          "rpop l 2", "lset l 0 a", "lrem l 0 a", "linsert l before a b",
                          "ltrim l 0 1"};
  for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) tx(&o, writes[i], WRONGTYPE, 0);
  tx(&o, "llen l", WRONGTYPE, RD);
  tx(&o, "lindex l 0", WRONGTYPE, RD);
  tx(&o, ALL, WRONGTYPE, RD);
  tx(&o, "lpos l a", WRONGTYPE, RD);
  dyna_obj_clear(&o);

  tx(&o, "rpush l a b", ":2\r\n", 1);
  assert_int_equal(dyna_obj_set_deadline(&o, 1, 2000), 0);
  ENV.now_ms = 3000; /* past the deadline: the key reads as absent */
  tx(&o, "llen l", ":0\r\n", RD);
  tx(&o, ALL, "*0\r\n", RD);
  tx(&o, "lindex l 0", "$-1\r\n", RD);
  tx(&o, "lpos l a", "$-1\r\n", RD);
  tx(&o, "lpushx l a", ":0\r\n", 0);
  tx(&o, "lpop l", "$-1\r\n", 0);
  tx(&o, "lset l 0 x", "-ERR no such key\r\n", 0);
  tx(&o, "rpush l c", ":1\r\n", 1); /* a new key */
  tx(&o, ALL, "*1\r\n$1\r\nc\r\n", RD);
  ENV.now_ms = 1000;
  dyna_obj_clear(&o);
}

/* LMOVE / RPOPLPUSH through dyna_typed_lmove (argv split at spaces). */
static void lmove(dyna_obj_t *src, dyna_obj_t *dst, const char *line, const char *want,
                  int want_src, int want_dst) {
  char buf[128];
  const uint8_t *argv[8];
  size_t argl[8], argc = 0;
  snprintf(buf, sizeof(buf), "%s", line);
  for (char *t = strtok(buf, " "); t; t = strtok(NULL, " ")) {
    argv[argc] = (const uint8_t *)t;
    argl[argc++] = strlen(t);
  }
  dyna_targs_t a = {argc, argv, argl};
  dyna_buf_t resp = DYNA_BUF_INIT;
  int sc = -1, dc = -1;
  assert_int_equal(dyna_typed_lmove(src, dst, &a, &ENV, &resp, &sc, &dc), 0);
  dyna_buf_put_u8(&resp, 0);
  if (strcmp((const char *)resp.data, want) || sc != want_src || dc != want_dst)
    fail_msg("%s: got %s (%d %d), want %s (%d %d)", line, (const char *)resp.data, sc, dc, want,
             want_src, want_dst);
  dyna_buf_free(&resp);
}

static void test_list_lmove(void **st) {
  (void)st;
  dyna_obj_t s, d;
  dyna_obj_init(&s);
  dyna_obj_init(&d);
  lmove(&s, &d, "lmove s d left right", "$-1\r\n", 0, 0);
  lmove(&s, &d, "lmove s d up left", "-ERR syntax error\r\n", 0, 0);
  tx(&s, "rpush s a b c", ":3\r\n", 1);
  tx(&d, "zadd d 1 z", ":1\r\n", 1);
  lmove(&s, &d, "lmove s d left right", WRONGTYPE, 0, 0);
  lmove(&d, &s, "lmove d s left right", WRONGTYPE, 0, 0);
  dyna_obj_clear(&d);
  lmove(&s, &d, "lmove s d left right", "$1\r\na\r\n", 1, 1);
  lmove(&s, &d, "rpoplpush s d", "$1\r\nc\r\n", 1, 1);
  tx(&d, "lrange d 0 -1", "*2\r\n$1\r\nc\r\n$1\r\na\r\n", RD);
  lmove(&s, &s, "lmove s s left right", "$1\r\nb\r\n", 1, 1); /* one key: rotate */
  tx(&s, "lrange s 0 -1", "*1\r\n$1\r\nb\r\n", RD);
  lmove(&s, &d, "lmove s d right left", "$1\r\nb\r\n", 1, 1);
  assert_int_equal(dyna_obj_kind(&s, ENV.now_ms), DYNA_KIND_NONE);
  tx(&d, "lrange d 0 -1", "*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n", RD);
  dyna_obj_clear(&s);
  dyna_obj_clear(&d);
}

/* The list's elements as one string "a,b,c" into out. */
static void elems(const dyna_obj_t *o, char *out, size_t cap) {
  const dyna_crdt_t *s = dyna_obj_typed(o, DYNA_CRDT_LIST);
  out[0] = 0;
  if (!s) return;
  dyna_crdt_litem_t *v;
  size_t n;
  assert_int_equal(dyna_crdt_lview(s, &v, &n), 0);
  for (size_t i = 0; i < n; i++) {
    size_t l = strlen(out);
    snprintf(out + l, cap - l, "%s%.*s", i ? "," : "", (int)v[i].v->len, (const char *)v[i].v->data);
  }
  dyna_free(v);
}

static void test_list_concurrency(void **st) {
  (void)st;
  dyna_obj_t base, a, b, ab, ba;
  char x[256], y[256];
  dyna_obj_init(&base);
  tx_as(&base, 1, "rpush l m", ":1\r\n", 1);

  /* Concurrent pushes at both ends on two replicas: all survive, one order, none twice. */
  typed_copy(&a, &base);
  typed_copy(&b, &base);
  tx_as(&a, 1, "lpush l a1 a2", ":3\r\n", 1);
  tx_as(&a, 1, "rpush l a3", ":4\r\n", 1);
  tx_as(&b, 2, "lpush l b1", ":2\r\n", 1);
  tx_as(&b, 2, "rpush l b2 b3", ":4\r\n", 1);
  typed_merge_both(&a, &b, &ab, &ba);
  elems(&ab, x, sizeof(x));
  elems(&ba, y, sizeof(y));
  assert_string_equal(x, y);
  tx(&ab, "llen l", ":7\r\n", RD);
  /* each replica's own pushes keep their order around the shared m */
  assert_string_equal(x, "a2,a1,b1,m,a3,b2,b3"); /* a1, b1: one position, dot order */
  dyna_obj_clear(&a), dyna_obj_clear(&b), dyna_obj_clear(&ba);

  /* Concurrent pops of the same element: each pops it once; merged, it is gone once
   * (at-least-once: both clients got a2) and nothing else is lost or duplicated. */
  typed_copy(&a, &ab);
  typed_copy(&b, &ab);
  tx_as(&a, 1, "lpop l", "$2\r\na2\r\n", 1);
  tx_as(&b, 2, "lpop l", "$2\r\na2\r\n", 1);
  dyna_obj_t c, d;
  typed_merge_both(&a, &b, &c, &d);
  elems(&c, x, sizeof(x));
  assert_string_equal(x, "a1,b1,m,a3,b2,b3");
  dyna_obj_clear(&a), dyna_obj_clear(&b), dyna_obj_clear(&c), dyna_obj_clear(&d);

  /* LSET, LREM and a push on two sides: the LREM removes what it saw only. */
  typed_copy(&a, &ab);
  typed_copy(&b, &ab);
  tx_as(&a, 1, "lrem l 0 m", ":1\r\n", 1);
  tx_as(&b, 2, "linsert l after m n", ":8\r\n", 1);
  tx_as(&b, 2, "rpop l", "$2\r\nb3\r\n", 1);
  typed_merge_both(&a, &b, &c, &d);
  elems(&c, x, sizeof(x));
  assert_string_equal(x, "a2,a1,b1,n,a3,b2");
  dyna_obj_clear(&a), dyna_obj_clear(&b), dyna_obj_clear(&c), dyna_obj_clear(&d);
  dyna_obj_clear(&ab);
  dyna_obj_clear(&base);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_list_push_pop),
      cmocka_unit_test(test_list_index_ops),
      cmocka_unit_test(test_list_lpos),
      cmocka_unit_test(test_list_wrongtype_and_expiry),
      cmocka_unit_test(test_list_lmove),
      cmocka_unit_test(test_list_concurrency),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
