/* test_typed_zset_store.c: the sorted-set commands added last to core/typed_zset.c:
 * ZREVRANGE, ZREMRANGEBYLEX, ZRANDMEMBER and ZRANGESTORE (typed_zset.h: the local
 * dyna_typed_zrangestore, and the runtime's path dyna_typed_zrange_members + the internal
 * write dyna.zstore), with Redis 7.0's replies and errors (checked against Debian's
 * redis-server 7.0.15): WRONGTYPE, argument errors before the key's type, absent keys,
 * and concurrency (a ZRANGESTORE into dst concurrent with a ZADD to dst keeps the add). */
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
#include "core/typed_zset.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/err.h"

#include "helper_typed.h"

static dyna_tenv_t ENV = {1, 1000, 42, DYNA_RESP2, 0};

#define tx_as(o, actor, line, want, ch) typed_tx((o), &ENV, (actor), (line), (want), (ch))
#define tx(o, line, want, ch) tx_as(o, ENV.actor, line, want, ch)
#define RD TYPED_EITHER

/* Splits line at spaces into argv/argl (buf holds the bytes). */
static dyna_targs_t args_of(const char *line, char *buf, size_t cap, const uint8_t **argv, size_t *argl) {
  size_t argc = 0;
  snprintf(buf, cap, "%s", line);
  for (char *t = strtok(buf, " "); t; t = strtok(NULL, " ")) {
    argv[argc] = (const uint8_t *)t;
    argl[argc++] = strlen(t);
  }
  dyna_targs_t a = {argc, argv, argl};
  return a;
}

/* ZRANGESTORE line over local objects dst and src (may be the same); returns the reply
 * rendered; *changed as the write says. */
static const char *zstore_local(dyna_obj_t *dst, const dyna_obj_t *src, const char *line, int *changed) {
  char buf[512];
  const uint8_t *argv[32];
  size_t argl[32];
  dyna_targs_t a = args_of(line, buf, sizeof(buf), argv, argl);
  dyna_buf_t resp = DYNA_BUF_INIT;
  assert_int_equal(dyna_typed_zrangestore(dst, src, &a, &ENV, &resp, changed), 0);
  return typed_parse_one(&resp);
}

/* ZRANGESTORE line the runtime's way: the range from src as argv, then the internal
 * write `dyna.zstore dst score member ...` on dst. Returns the write's reply (or the
 * error of the first half) rendered. */
static const char *zstore_runtime(dyna_obj_t *dst, const dyna_obj_t *src, const char *line, int *changed) {
  char buf[512];
  const uint8_t *argv[32];
  size_t argl[32];
  dyna_targs_t a = args_of(line, buf, sizeof(buf), argv, argl);
  dyna_buf_t resp = DYNA_BUF_INIT;
  const uint8_t **wv;
  size_t *wl, k;
  char *text;
  *changed = 0;
  assert_int_equal(dyna_typed_zrange_members(src, &a, &ENV, &resp, 2, &wv, &wl, &k, &text), 0);
  if (!wv) return typed_parse_one(&resp);
  assert_int_equal(resp.len, 0);
  wv[0] = (const uint8_t *)"dyna.zstore";
  wl[0] = 11;
  wv[1] = argv[1];
  wl[1] = argl[1];
  const dyna_typed_cmd_t *c = dyna_typed_find(wv[0], wl[0]);
  assert_non_null(c);
  dyna_targs_t w = {2 + 2 * k, wv, wl};
  assert_int_equal(c->write(dst, &w, &ENV, &resp, changed), 0);
  dyna_free(wv);
  dyna_free(wl);
  dyna_free(text);
  return typed_parse_one(&resp);
}

static void test_zrevrange(void **st) {
  (void)st;
  dyna_obj_t o;
  dyna_obj_init(&o);
  tx(&o, "zrevrange z 0 -1", "*0\r\n", RD);
  tx(&o, "zadd z 1 a 2 b 3 c 4 d 5 e", ":5\r\n", 1);
  tx(&o, "zrevrange z 0 -1", "*5\r\n$1\r\ne\r\n$1\r\nd\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n", RD);
  tx(&o, "zrevrange z 1 2 WITHSCORES", "*4\r\n$1\r\nd\r\n$1\r\n4\r\n$1\r\nc\r\n$1\r\n3\r\n", RD);
  tx(&o, "zrevrange z -100 0", "*1\r\n$1\r\ne\r\n", RD);
  tx(&o, "zrevrange z 3 1", "*0\r\n", RD);
  tx(&o, "zrevrange z 0 -1 limit 0 1",
     "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX\r\n", RD);
  tx(&o, "zrevrange z 0 -1 rev", "-ERR syntax error\r\n", RD);
  tx(&o, "zrevrange z 0 -1 byscore", "-ERR syntax error\r\n", RD);
  tx(&o, "zrevrange z a b", "-ERR value is not an integer or out of range\r\n", RD);
  dyna_obj_clear(&o);
  tx(&o, "rpush z x", ":1\r\n", 1);
  tx(&o, "zrevrange z 0 1", WRONGTYPE, RD);
  tx(&o, "zrevrange z 0 1 foo", "-ERR syntax error\r\n", RD); /* arguments before the type */
  dyna_obj_clear(&o);
}

static void test_zremrangebylex(void **st) {
  (void)st;
  dyna_obj_t o;
  dyna_obj_init(&o);
  tx(&o, "zremrangebylex z - +", ":0\r\n", 0);
  tx(&o, "zadd z 0 a 0 b 0 c 0 d 0 e", ":5\r\n", 1);
  tx(&o, "zremrangebylex z [b (d", ":2\r\n", 1);
  tx(&o, "zrange z 0 -1", "*3\r\n$1\r\na\r\n$1\r\nd\r\n$1\r\ne\r\n", RD);
  tx(&o, "zremrangebylex z (z [a", ":0\r\n", 0);
  tx(&o, "zremrangebylex z a b", "-ERR min or max not valid string range item\r\n", 0);
  tx(&o, "zremrangebylex z [a \\e", "-ERR min or max not valid string range item\r\n", 0);
  /* The last members removed: the key is deleted, its TTL with it. */
  assert_int_equal(dyna_obj_set_deadline(&o, 1, 999999), 0);
  tx(&o, "zremrangebylex z - +", ":3\r\n", 1);
  assert_int_equal(dyna_obj_kind(&o, ENV.now_ms), DYNA_KIND_NONE);
  tx(&o, "zadd z 1 a", ":1\r\n", 1);
  uint64_t dl;
  assert_int_equal(dyna_obj_deadline(&o, &dl), 0);
  dyna_obj_clear(&o);
  typed_make_string(&o);
  tx(&o, "zremrangebylex z - +", WRONGTYPE, 0);
  tx(&o, "zremrangebylex z x +", "-ERR min or max not valid string range item\r\n", 0);
  dyna_obj_clear(&o);
}

/* How many of the n names appear in the rendered array s ("[a,b,...]"), each counted
 * once per appearance. */
static int occurrences(const char *s, const char *name) {
  int c = 0;
  size_t l = strlen(name);
  for (const char *p = s; (p = strstr(p, name)) != NULL; p += l)
    if ((p[-1] == '[' || p[-1] == ',') && (p[l] == ',' || p[l] == ']')) c++;
  return c;
}

static void test_zrandmember(void **st) {
  (void)st;
  dyna_obj_t o;
  dyna_obj_init(&o);
  int ch;
  tx(&o, "zrandmember z", "$-1\r\n", RD);
  tx(&o, "zrandmember z 5", "*0\r\n", RD);
  tx(&o, "zrandmember z 5 withscores", "*0\r\n", RD);
  tx(&o, "zadd z 1 $a 2 $b 3 $c 4 $d 5 $e", ":5\r\n", 1);
  tx(&o, "zrandmember z 0", "*0\r\n", RD);
  tx(&o, "zrandmember z 0 withscores", "*0\r\n", RD);
  const char *r = typed_render_run(&o, &ENV, "zrandmember z", &ch);
  assert_true(strlen(r) == 3 && r[0] == '$' && r[1] == '$' && r[2] >= 'a' && r[2] <= 'e');
  /* count >= size: every member once */
  r = typed_render_run(&o, &ENV, "zrandmember z 10", &ch);
  assert_int_equal(typed_count_char(r, ','), 4);
  for (const char *m = "abcde"; *m; m++) {
    char name[4] = {'$', '$', *m, 0};
    assert_int_equal(occurrences(r, name), 1);
  }
  /* count < size: distinct members */
  r = typed_render_run(&o, &ENV, "zrandmember z 3", &ch);
  assert_int_equal(typed_count_char(r, ','), 2);
  for (const char *m = "abcde"; *m; m++) {
    char name[4] = {'$', '$', *m, 0};
    assert_true(occurrences(r, name) <= 1);
  }
  /* count < 0: |count| draws with repetition (7 from 5 members repeats one) */
  r = typed_render_run(&o, &ENV, "zrandmember z -7", &ch);
  assert_int_equal(typed_count_char(r, ','), 6);
  /* WITHSCORES: each member followed by its own score */
  r = typed_render_run(&o, &ENV, "zrandmember z -6 withscores", &ch);
  assert_int_equal(typed_count_char(r, ','), 11);
  for (const char *m = "abcde"; *m; m++) {
    char pair[12];
    snprintf(pair, sizeof(pair), "$$%c,$%d", *m, *m - 'a' + 1);
    char name[4] = {'$', '$', *m, 0};
    int pairs = 0, any = 0;
    for (const char *p = r; (p = strstr(p, pair)) != NULL; p++) pairs++;
    for (const char *p = r; (p = strstr(p, name)) != NULL; p++) any++;
    assert_int_equal(pairs, any); /* every appearance of the member is with its score */
  }
  r = typed_render_run(&o, &ENV, "zrandmember z 5 WITHSCORES", &ch);
  assert_int_equal(typed_count_char(r, ','), 9);
  /* errors: the count and the syntax before the key's type */
  tx(&o, "zrandmember z x", "-ERR value is not an integer or out of range\r\n", RD);
  tx(&o, "zrandmember z 1 foo", "-ERR syntax error\r\n", RD);
  tx(&o, "zrandmember z 1 withscores extra", "-ERR syntax error\r\n", RD);
  tx(&o, "zrandmember z -9223372036854775808",
     "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n", RD);
  tx(&o, "zrandmember z 9223372036854775807 withscores", "-ERR value is out of range\r\n", RD);
  tx(&o, "zrandmember z -4611686018427387904 withscores", "-ERR value is out of range\r\n", RD);
  dyna_obj_clear(&o);
  typed_make_string(&o);
  tx(&o, "zrandmember z", WRONGTYPE, RD);
  tx(&o, "zrandmember z 0", WRONGTYPE, RD);
  tx(&o, "zrandmember z x", "-ERR value is not an integer or out of range\r\n", RD);
  dyna_obj_clear(&o);
}

/* Both ZRANGESTORE paths give the same reply and the same dst. */
static void both_paths(const dyna_obj_t *dst0, const dyna_obj_t *src, const char *line, const char *want,
                       int want_changed) {
  dyna_obj_t d1, d2;
  typed_copy(&d1, dst0);
  typed_copy(&d2, dst0);
  int c1, c2;
  assert_string_equal(zstore_local(&d1, src, line, &c1), want);
  assert_string_equal(zstore_runtime(&d2, src, line, &c2), want);
  assert_int_equal(c1, want_changed);
  assert_int_equal(c2, want_changed);
  typed_same(&d1, &d2);
  if (!want_changed) typed_same(&d1, dst0);
  dyna_obj_clear(&d1);
  dyna_obj_clear(&d2);
}

static void test_zrangestore(void **st) {
  (void)st;
  dyna_obj_t src, dst, none;
  dyna_obj_init(&src);
  dyna_obj_init(&dst);
  dyna_obj_init(&none);
  tx(&src, "zadd z 1 a 2 b 3 c 4 d 5 e 0.1 f", ":6\r\n", 1);
  both_paths(&none, &src, "zrangestore d z 0 -1", ":6", 1);
  both_paths(&none, &src, "zrangestore d z (1 4 byscore limit 1 2", ":2", 1);
  both_paths(&none, &src, "zrangestore d z 6 7", ":0", 0);          /* empty, dst absent */
  both_paths(&none, &none, "zrangestore d nope 0 1", ":0", 0);
  /* the stored members and scores (exact: 0.1 travels as %.17g text) */
  int ch;
  assert_string_equal(zstore_runtime(&dst, &src, "zrangestore d z 4 (1 byscore rev", &ch), ":3");
  tx(&dst, "zrange d 0 -1 withscores", "*6\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nd\r\n$1\r\n4\r\n", RD);
  assert_string_equal(zstore_runtime(&dst, &src, "zrangestore d z 0 0", &ch), ":1");
  tx(&dst, "zrange d 0 -1 withscores", "*2\r\n$1\r\nf\r\n$19\r\n0.10000000000000001\r\n", RD);
  tx(&dst, "zscore d f", "$19\r\n0.10000000000000001\r\n", RD);
  /* an empty range deletes dst, with its TTL */
  assert_int_equal(dyna_obj_set_deadline(&dst, 1, 999999), 0);
  both_paths(&dst, &src, "zrangestore d z 6 7", ":0", 1);
  assert_string_equal(zstore_local(&dst, &src, "zrangestore d z 6 7", &ch), ":0");
  assert_int_equal(dyna_obj_kind(&dst, ENV.now_ms), DYNA_KIND_NONE);
  /* dst of another kind is overwritten, its expiry dropped (Redis's setKey) */
  dyna_obj_clear(&dst);
  typed_make_string(&dst);
  assert_int_equal(dyna_obj_set_deadline(&dst, 1, 999999), 0);
  both_paths(&dst, &src, "zrangestore d z - + bylex", ":6", 1);
  assert_string_equal(zstore_local(&dst, &src, "zrangestore d z [a [c bylex", &ch), ":3");
  assert_int_equal(dyna_obj_kind(&dst, ENV.now_ms), DYNA_KIND_ZSET);
  uint64_t dl;
  assert_int_equal(dyna_obj_deadline(&dst, &dl), 0);
  tx(&dst, "zrange d 0 -1", "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", RD);
  /* dst == src: the range is taken first */
  dyna_obj_t same;
  typed_copy(&same, &src);
  assert_string_equal(zstore_local(&same, &same, "zrangestore z z 1 2", &ch), ":2");
  tx(&same, "zrange z 0 -1 withscores", "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n", RD);
  dyna_obj_clear(&same);
  /* errors (nothing written), arguments before src's type */
  both_paths(&dst, &src, "zrangestore d z 0 1 withscores", "-ERR syntax error", 0);
  both_paths(&dst, &src, "zrangestore d z 0 1 limit 0 1",
             "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX", 0);
  both_paths(&dst, &src, "zrangestore d z x y", "-ERR value is not an integer or out of range", 0);
  both_paths(&dst, &src, "zrangestore d z 0 1 foo", "-ERR syntax error", 0);
  both_paths(&dst, &src, "zrangestore d z 0 1 bylex", "-ERR min or max not valid string range item", 0);
  both_paths(&dst, &src, "zrangestore d z x 1 byscore", "-ERR min or max is not a float", 0);
  both_paths(&dst, &src, "zrangestore d z 0 1 byscore bylex", "-ERR syntax error", 0);
  dyna_obj_t str;
  dyna_obj_init(&str);
  typed_make_string(&str);
  both_paths(&dst, &str, "zrangestore d s 0 1", "-WRONGTYPE Operation against a key holding the wrong kind of value", 0);
  both_paths(&dst, &str, "zrangestore d s 0 1 foo", "-ERR syntax error", 0);
  /* the internal write refuses a malformed list (a peer's bug) and writes nothing */
  tx(&dst, "dyna.zstore d 1", "-ERR syntax error\r\n", 0);
  tx(&dst, "dyna.zstore d x a", "-ERR value is not a valid float\r\n", 0);
  dyna_obj_clear(&str);
  dyna_obj_clear(&src);
  dyna_obj_clear(&dst);
  dyna_obj_clear(&none);
}

/* A ZRANGESTORE into dst on one replica, concurrent with a ZADD to dst on another: the
 * store removes only the members it observed, so the concurrent add survives (add
 * wins), and both merge orders agree byte for byte. */
static void test_zrangestore_concurrent(void **st) {
  (void)st;
  dyna_obj_t src, base, a, b, ab, ba;
  dyna_obj_init(&src);
  dyna_obj_init(&base);
  tx(&src, "zadd z 1 x 2 y", ":2\r\n", 1);
  tx_as(&base, 1, "zadd d 7 old 8 kept", ":2\r\n", 1);
  typed_copy(&a, &base);
  typed_copy(&b, &base);
  int ch;
  assert_string_equal(zstore_runtime(&a, &src, "zrangestore d z 0 -1", &ch), ":2");
  tx_as(&b, 2, "zadd d 9 new", ":1\r\n", 1);
  tx_as(&b, 2, "zincrby d 1 kept", "$1\r\n9\r\n", 1);
  typed_merge_both(&a, &b, &ab, &ba);
  /* old: removed (observed); kept: removed by the store, but b's increment it did not
   * observe keeps it (add wins) with that increment's own amount over the removal's
   * residue (8 - 8 + 1); new: b's concurrent add; x, y: the store's. */
  tx(&ab, "zrange d 0 -1 withscores",
     "*8\r\n$4\r\nkept\r\n$1\r\n1\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$1\r\n2\r\n$3\r\nnew\r\n$1\r\n9\r\n", RD);
  dyna_obj_clear(&a), dyna_obj_clear(&b), dyna_obj_clear(&ab), dyna_obj_clear(&ba);
  dyna_obj_clear(&src);
  dyna_obj_clear(&base);
}

/* ZPOPMIN / ZPOPMAX select the members they pop in one pass (dyna_crdt_zextremes) for a
 * few, from the whole view beyond DYNA_CRDT_ZEXTREMES_SCAN: both give Redis's order. */
static void test_zpop_selection(void **st) {
  (void)st;
  dyna_obj_t o;
  dyna_obj_init(&o);
  char line[512];
  int len = snprintf(line, sizeof(line), "zadd z");
  for (int i = 0; i < 30; i++) /* scores 0..29 out of order; two ties broken by name */
    len += snprintf(line + len, sizeof(line) - (size_t)len, " %d m%02d", (i * 7) % 30 / 2, i);
  tx(&o, line, ":30\r\n", 1);
  for (int rep = 0; rep < 2; rep++) {
    int k = rep == 0 ? 3 : 20; /* one pass, then the view */
    for (int max = 0; max < 2; max++) {
      dyna_obj_t a, b;
      typed_copy(&a, &o);
      typed_copy(&b, &o);
      char want[1024] = "[", got[1024];
      /* the reference: ZRANGE WITHSCORES of the ends, by rank */
      snprintf(line, sizeof(line), max ? "zrange z 0 %d rev withscores" : "zrange z 0 %d withscores", k - 1);
      int ch;
      snprintf(want, sizeof(want), "%s", typed_render_run(&b, &ENV, line, &ch));
      snprintf(line, sizeof(line), "%s z %d", max ? "zpopmax" : "zpopmin", k);
      snprintf(got, sizeof(got), "%s", typed_render_run(&a, &ENV, line, &ch));
      assert_string_equal(got, want);
      assert_int_equal(ch, 1);
      snprintf(line, sizeof(line), "zcard z");
      assert_string_equal(typed_render_run(&a, &ENV, line, &ch), k == 3 ? ":27" : ":10");
      dyna_obj_clear(&a);
      dyna_obj_clear(&b);
    }
  }
  dyna_obj_clear(&o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_zrevrange),
      cmocka_unit_test(test_zremrangebylex),
      cmocka_unit_test(test_zrandmember),
      cmocka_unit_test(test_zrangestore),
      cmocka_unit_test(test_zrangestore_concurrent),
      cmocka_unit_test(test_zpop_selection),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
