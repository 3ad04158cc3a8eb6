/* test_typed_set.c: unit tests for the set commands (core/typed_set.c, typed_set.h):
 * every command's RESP reply (parsed back and rendered), Redis 7's errors, WRONGTYPE on
 * a string key and a hash key, expired keys reading as absent, SPOP / SRANDMEMBER drawn
 * from env->rand only, the several-key commands and their STORE variants and SMOVE,
 * and the cart: a concurrent SADD and SREM of one member keeps it, a remove removes only
 * what it observed, merges in either order end byte-equal. State size: a 1,000-member
 * set from 5 actors encodes under twice its members' bytes (issue 16, item 10). */
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
#include "core/typed_set.h"
#include "proto/resp.h"
#include "util/buf.h"

#include "helper_typed.h"

/* ---- harness (helper_typed.h): run a command line on an object, render its reply - */

static int LAST_CHANGED; /* the last run()'s changed flag */
#define run(o, env, line) typed_render_run((o), (env), (line), &LAST_CHANGED)
#define R(o, env, line, want) assert_string_equal(run((o), (env), (line)), (want))

static const dyna_tenv_t ENV1 = {1, 1000, 42, DYNA_RESP2, 0};
static const dyna_tenv_t ENV2 = {2, 1000, 43, DYNA_RESP2, 0};

/* ---- single-key commands ---------------------------------------------------------- */

static void test_basics(void **st) {
  (void)st;
  dyna_obj_t o;
  dyna_obj_init(&o);
  R(&o, &ENV1, "sadd k b a c", ":3");
  assert_true(LAST_CHANGED);
  R(&o, &ENV1, "sadd k a d a", ":1");
  R(&o, &ENV1, "scard k", ":4");
  R(&o, &ENV1, "smembers k", "[$a,$b,$c,$d]");
  R(&o, &ENV1, "sismember k a", ":1");
  R(&o, &ENV1, "sismember k z", ":0");
  R(&o, &ENV1, "smismember k a z d", "[:1,:0,:1]");
  R(&o, &ENV1, "srem k a z", ":1");
  assert_true(LAST_CHANGED);
  /* A removal of nothing writes nothing and leaves o exactly as it was. */
  dyna_obj_t before;
  dyna_obj_init(&before);
  assert_int_equal(dyna_obj_copy(&before, &o), 0);
  R(&o, &ENV1, "srem k z y", ":0");
  assert_false(LAST_CHANGED);
  typed_same_bytes(&o, &before);
  R(&o, &ENV1, "smembers k", "[$b,$c,$d]");
  /* Absent keys. */
  dyna_obj_t none;
  dyna_obj_init(&none);
  R(&none, &ENV1, "smembers k", "[]");
  R(&none, &ENV1, "scard k", ":0");
  R(&none, &ENV1, "sismember k a", ":0");
  R(&none, &ENV1, "smismember k a", "[:0]");
  R(&none, &ENV1, "srem k a", ":0");
  assert_false(LAST_CHANGED);
  assert_int_equal(none.ntyped, 0);
  /* The last SREM deletes the key, and its TTL with it. */
  assert_int_equal(dyna_obj_set_deadline(&o, 1, 900000), 0);
  R(&o, &ENV1, "srem k b c d", ":3");
  assert_int_equal(dyna_obj_kind(&o, 1000), DYNA_KIND_NONE);
  uint64_t dl;
  R(&o, &ENV1, "sadd k x", ":1");
  assert_int_equal(dyna_obj_deadline(&o, &dl), 0);
  dyna_obj_clear(&o);
  dyna_obj_clear(&before);
  dyna_obj_clear(&none);
}

static const char *const READS[] = {"smembers k", "scard k", "sismember k a", "smismember k a b",
                                     "srandmember k", "srandmember k 2"};
static const char *const WRITES[] = {"sadd k a", "srem k a", "spop k", "spop k 2"};

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
  dyna_obj_t s, h;
  dyna_obj_init(&s);
  dyna_obj_init(&h);
  typed_make_string(&s);
  wrongtype_on(&s);
  R(&h, &ENV1, "hset k f v", ":1");
  wrongtype_on(&h);
  dyna_obj_clear(&s);
  dyna_obj_clear(&h);
}

static void test_expired(void **st) {
  (void)st;
  dyna_obj_t o;
  dyna_obj_init(&o);
  R(&o, &ENV1, "sadd k a b", ":2");
  assert_int_equal(dyna_obj_set_deadline(&o, 1, 1000), 0); /* now_ms 1000: expired */
  R(&o, &ENV1, "smembers k", "[]");
  R(&o, &ENV1, "scard k", ":0");
  R(&o, &ENV1, "sismember k a", ":0");
  R(&o, &ENV1, "srandmember k", "nil");
  R(&o, &ENV1, "spop k", "nil");
  assert_false(LAST_CHANGED);
  R(&o, &ENV1, "srem k a", ":0");
  assert_false(LAST_CHANGED);
  /* A write starts a new key: the old members and deadline are gone. */
  R(&o, &ENV1, "sadd k c", ":1");
  R(&o, &ENV1, "smembers k", "[$c]");
  uint64_t dl;
  assert_int_equal(dyna_obj_deadline(&o, &dl), 0);
  dyna_obj_clear(&o);
}

static void test_spop_srandmember(void **st) {
  (void)st;
  dyna_obj_t o, o2;
  dyna_obj_init(&o);
  dyna_obj_init(&o2);
  R(&o, &ENV1, "sadd k a b c d e", ":5");
  R(&o, &ENV1, "spop k -1", "-ERR value is out of range, must be positive");
  R(&o, &ENV1, "spop k x", "-ERR value is out of range, must be positive");
  R(&o, &ENV1, "spop k 1 2", "-ERR syntax error");
  R(&o, &ENV1, "spop k 0", "[]");
  assert_false(LAST_CHANGED);
  R(&o, &ENV1, "srandmember k x", "-" DYNA_TYPED_NOT_INT);
  R(&o, &ENV1, "srandmember k -9223372036854775808",
    "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807");
  R(&o, &ENV1, "srandmember k 0", "[]");
  /* Draws with repetition stop at 64 MiB of reply with an error (one member of 900
   * bytes: about 74,000 draws), however big the count. */
  char line[1000];
  memset(line, 0, sizeof(line));
  memcpy(line, "sadd big ", 9);
  memset(line + 9, 'x', 900);
  dyna_obj_t big;
  dyna_obj_init(&big);
  R(&big, &ENV1, line, ":1");
  R(&big, &ENV1, "srandmember big -1000000000000", "-" DYNA_TYPED_REPLY_BIG);
  dyna_obj_clear(&big);
  /* Deterministic for a given env: the same draw twice. */
  char first[256];
  snprintf(first, sizeof(first), "%s", run(&o, &ENV1, "srandmember k 3"));
  R(&o, &ENV1, "srandmember k 3", first);
  /* Distinct for a positive count (5 members: each at most once), all for a big one. */
  const char *r = run(&o, &ENV1, "srandmember k 3");
  int seen[5] = {0};
  for (const char *p = r; *p; p++)
    if (*p == '$') seen[p[1] - 'a']++;
  assert_int_equal(seen[0] + seen[1] + seen[2] + seen[3] + seen[4], 3);
  for (int i = 0; i < 5; i++) assert_true(seen[i] <= 1);
  assert_int_equal(typed_count_char(run(&o, &ENV1, "srandmember k 50"), '$'), 5);
  /* Negative: |count| members, repeats allowed. */
  assert_int_equal(typed_count_char(run(&o, &ENV1, "srandmember k -12"), '$'), 12);
  r = run(&o, &ENV1, "srandmember k");
  assert_true(r[0] == '$' && strlen(r) == 2);
  /* SPOP removes what it answers; the same env on a copy pops the same member. */
  assert_int_equal(dyna_obj_copy(&o2, &o), 0);
  snprintf(first, sizeof(first), "%s", run(&o, &ENV1, "spop k"));
  assert_true(LAST_CHANGED);
  R(&o2, &ENV1, "spop k", first);
  typed_same_bytes(&o, &o2);
  char q[300];
  snprintf(q, sizeof(q), "sismember k %s", first + 1);
  R(&o, &ENV1, q, ":0");
  R(&o, &ENV1, "scard k", ":4");
  r = run(&o, &ENV1, "spop k 3");
  assert_int_equal(typed_count_char(r, '$'), 3);
  R(&o, &ENV1, "scard k", ":1");
  /* Popping everything deletes the key. */
  char last[64];
  snprintf(last, sizeof(last), "%s", run(&o, &ENV1, "smembers k"));
  R(&o, &ENV1, "spop k 10", last);
  assert_int_equal(dyna_obj_kind(&o, 1000), DYNA_KIND_NONE);
  R(&o, &ENV1, "spop k", "nil");
  R(&o, &ENV1, "spop k 2", "[]");
  R(&o, &ENV1, "srandmember k", "nil");
  R(&o, &ENV1, "srandmember k 2", "[]");
  dyna_obj_clear(&o);
  dyna_obj_clear(&o2);
}

/* ---- the cart: concurrency ------------------------------------------------------------ */

static void test_cart(void **st) {
  (void)st;
  dyna_obj_t a, b;
  dyna_obj_init(&a);
  dyna_obj_init(&b);
  R(&a, &ENV1, "sadd cart milk eggs", ":2");
  assert_int_equal(dyna_obj_copy(&b, &a), 0); /* replicated to b */
  /* Partition: a removes milk, b adds milk again (and bread). */
  R(&a, &ENV1, "srem cart milk", ":1");
  R(&b, &ENV2, "sadd cart milk bread", ":1");
  typed_merge_both_ways(&a, &b);
  R(&a, &ENV1, "smembers cart", "[$bread,$eggs,$milk]"); /* the concurrent add wins */
  R(&b, &ENV2, "smembers cart", "[$bread,$eggs,$milk]");
  /* A remove removes only what it observed: a removes eggs it saw; b's concurrent add
   * of jam (unseen by a) stays, and eggs stays removed on both once merged. */
  R(&a, &ENV1, "srem cart eggs", ":1");
  R(&b, &ENV2, "sadd cart jam", ":1");
  typed_merge_both_ways(&a, &b);
  R(&a, &ENV1, "smembers cart", "[$bread,$jam,$milk]");
  /* Removes on both sides of what both saw: gone. */
  R(&a, &ENV1, "srem cart bread", ":1");
  R(&b, &ENV2, "srem cart bread", ":1");
  typed_merge_both_ways(&a, &b);
  R(&b, &ENV2, "smembers cart", "[$jam,$milk]");
  /* Idempotent: merging again changes nothing. */
  dyna_obj_t c;
  dyna_obj_init(&c);
  assert_int_equal(dyna_obj_copy(&c, &a), 0);
  assert_int_equal(dyna_obj_merge(&c, &b), 0);
  typed_same_bytes(&c, &a);
  dyna_obj_clear(&a);
  dyna_obj_clear(&b);
  dyna_obj_clear(&c);
}

/* ---- several keys ---------------------------------------------------------------------- */

static void combine(const dyna_obj_t *const *objs, size_t n, dyna_set_op_t op, int card,
                    uint64_t limit, const char *want) {
  dyna_buf_t resp = DYNA_BUF_INIT;
  assert_int_equal(dyna_typed_set_combine(objs, n, op, card, limit, &ENV1, &resp), 0);
  assert_string_equal(typed_parse_one(&resp), want);
}

static void store(dyna_obj_t *dst, const dyna_obj_t *const *srcs, size_t n, dyna_set_op_t op,
                  const char *want, int changed) {
  dyna_buf_t resp = DYNA_BUF_INIT;
  int ch = -1;
  assert_int_equal(dyna_typed_set_store(dst, srcs, n, op, &ENV1, &resp, &ch), 0);
  assert_string_equal(typed_parse_one(&resp), want);
  assert_int_equal(ch, changed);
}

static void test_multi(void **st) {
  (void)st;
  dyna_obj_t x, y, z, str, none, dst;
  dyna_obj_t *all[] = {&x, &y, &z, &str, &none, &dst};
  for (size_t i = 0; i < 6; i++) dyna_obj_init(all[i]);
  R(&x, &ENV1, "sadd x a b c d", ":4");
  R(&y, &ENV1, "sadd y c d e", ":3");
  R(&z, &ENV1, "sadd z d f", ":2");
  typed_make_string(&str);
  const dyna_obj_t *xy[] = {&x, &y}, *xyz[] = {&x, &y, &z}, *xn[] = {&x, &none};
  const dyna_obj_t *xs[] = {&x, &str}, *ns[] = {&none, &str}, *xnull[] = {&x, NULL};
  combine(xy, 2, DYNA_SET_INTER, 0, 0, "[$c,$d]");
  combine(xyz, 3, DYNA_SET_INTER, 0, 0, "[$d]");
  combine(xyz, 3, DYNA_SET_UNION, 0, 0, "[$a,$b,$c,$d,$e,$f]");
  combine(xyz, 3, DYNA_SET_DIFF, 0, 0, "[$a,$b]");
  combine(xn, 2, DYNA_SET_INTER, 0, 0, "[]");
  combine(xnull, 2, DYNA_SET_DIFF, 0, 0, "[$a,$b,$c,$d]");
  combine(xn, 2, DYNA_SET_UNION, 0, 0, "[$a,$b,$c,$d]");
  combine(xy, 2, DYNA_SET_INTER, 1, 0, ":2");
  combine(xy, 2, DYNA_SET_INTER, 1, 1, ":1");
  combine(xs, 2, DYNA_SET_UNION, 0, 0, "-" DYNA_TYPED_WRONGTYPE);
  combine(ns, 2, DYNA_SET_INTER, 0, 0, "-" DYNA_TYPED_WRONGTYPE); /* Redis 7 checks every key */
  /* STORE: dst of another kind with a TTL is overwritten, the TTL dropped. */
  typed_make_string(&dst);
  assert_int_equal(dyna_obj_set_deadline(&dst, 1, 900000), 0);
  store(&dst, xy, 2, DYNA_SET_UNION, ":5", 1);
  R(&dst, &ENV1, "smembers d", "[$a,$b,$c,$d,$e]");
  uint64_t dl;
  assert_int_equal(dyna_obj_deadline(&dst, &dl), 0);
  store(&dst, xyz, 3, DYNA_SET_INTER, ":1", 1);
  R(&dst, &ENV1, "smembers d", "[$d]");
  const dyna_obj_t *dx[] = {&dst, &x};
  store(&dst, dx, 2, DYNA_SET_UNION, ":4", 1); /* dst among its sources */
  R(&dst, &ENV1, "smembers d", "[$a,$b,$c,$d]");
  store(&dst, xn, 2, DYNA_SET_INTER, ":0", 1); /* empty result: dst deleted */
  assert_int_equal(dyna_obj_kind(&dst, 1000), DYNA_KIND_NONE);
  store(&dst, xn, 2, DYNA_SET_INTER, ":0", 0); /* nothing to delete: nothing written */
  store(&dst, xs, 2, DYNA_SET_DIFF, "-" DYNA_TYPED_WRONGTYPE, 0);
  /* SINTERCARD's arguments. */
  struct {
    const char *line, *want;
  } ca[] = {
      {"sintercard 0 s", "-ERR numkeys should be greater than 0"},
      {"sintercard x s", "-ERR numkeys should be greater than 0"},
      {"sintercard 3 s", "-ERR Number of keys can't be greater than number of args"},
      {"sintercard 1 s limit -1", "-ERR LIMIT can't be negative"},
      {"sintercard 1 s limit x", "-ERR LIMIT can't be negative"},
      {"sintercard 1 s foo 1", "-ERR syntax error"},
      {"sintercard 1 s limit", "-ERR syntax error"},
      {"sintercard 2 s t LIMIT 7", NULL},
  };
  for (size_t i = 0; i < sizeof(ca) / sizeof(ca[0]); i++) {
    char copy[64];
    snprintf(copy, sizeof(copy), "%s", ca[i].line);
    const uint8_t *argv[8];
    size_t argl[8], argc = 0;
    for (char *t = strtok(copy, " "); t; t = strtok(NULL, " ")) {
      argv[argc] = (const uint8_t *)t;
      argl[argc++] = strlen(t);
    }
    dyna_targs_t a = {argc, argv, argl};
    dyna_buf_t resp = DYNA_BUF_INIT;
    size_t nk = 0;
    uint64_t lim = 0;
    int rc = dyna_typed_sintercard_args(&a, &nk, &lim, &resp);
    if (ca[i].want) {
      assert_int_equal(rc, -1);
      assert_string_equal(typed_parse_one(&resp), ca[i].want);
    } else {
      assert_int_equal(rc, 0);
      assert_int_equal(nk, 2);
      assert_int_equal(lim, 7);
      assert_int_equal(resp.len, 0);
      dyna_buf_free(&resp);
    }
  }
  for (size_t i = 0; i < 6; i++) dyna_obj_clear(all[i]);
}

static void smove(dyna_obj_t *src, dyna_obj_t *dst, const char *m, const char *want, int sch,
                  int dch) {
  dyna_buf_t resp = DYNA_BUF_INIT;
  int a = -1, b = -1;
  assert_int_equal(dyna_typed_smove(src, dst, (const uint8_t *)m, strlen(m), &ENV1, &resp, &a, &b), 0);
  assert_string_equal(typed_parse_one(&resp), want);
  assert_int_equal(a, sch);
  assert_int_equal(b, dch);
}

static void test_smove(void **st) {
  (void)st;
  dyna_obj_t s, d, str, none;
  dyna_obj_init(&s);
  dyna_obj_init(&d);
  dyna_obj_init(&str);
  dyna_obj_init(&none);
  typed_make_string(&str);
  R(&s, &ENV1, "sadd s a b", ":2");
  smove(&s, &d, "a", ":1", 1, 1);
  R(&s, &ENV1, "smembers s", "[$b]");
  R(&d, &ENV1, "smembers d", "[$a]");
  smove(&s, &d, "z", ":0", 0, 0);
  smove(&s, &s, "b", ":1", 0, 0);
  smove(&none, &str, "a", ":0", 0, 0); /* an absent source answers 0 first */
  smove(&str, &d, "a", "-" DYNA_TYPED_WRONGTYPE, 0, 0);
  smove(&s, &str, "b", "-" DYNA_TYPED_WRONGTYPE, 0, 0);
  smove(&s, &d, "b", ":1", 1, 1); /* the last member: the source is deleted */
  assert_int_equal(dyna_obj_kind(&s, 1000), DYNA_KIND_NONE);
  R(&d, &ENV1, "smembers d", "[$a,$b]");
  dyna_obj_clear(&s);
  dyna_obj_clear(&d);
  dyna_obj_clear(&str);
  dyna_obj_clear(&none);
}

/* Issue 16 item 10: 1,000 members of 10 bytes, written through SADD by 5 actors on their
 * own replicas and merged, encode in under 2x the members' raw bytes. */
static void test_state_size(void **st) {
  (void)st;
  dyna_obj_t rep[5], all;
  dyna_obj_init(&all);
  size_t raw = 0;
  for (int r = 0; r < 5; r++) {
    dyna_obj_init(&rep[r]);
    dyna_tenv_t env = {0x1000 + (uint64_t)r, 1000, 7, DYNA_RESP2, 0};
    for (int m = r; m < 1000; m += 5) {
      char line[64];
      snprintf(line, sizeof(line), "sadd cart sku-%06d", m);
      R(&rep[r], &env, line, ":1");
      raw += 10;
    }
    assert_int_equal(dyna_obj_merge(&all, &rep[r]), 0);
  }
  R(&all, &ENV1, "scard cart", ":1000");
  dyna_buf_t b = typed_enc(&all);
  print_message("1000-member set: %zu bytes encoded for %zu raw bytes\n", b.len, raw);
  assert_true(b.len < 2 * raw);
  dyna_buf_free(&b);
  for (int r = 0; r < 5; r++) dyna_obj_clear(&rep[r]);
  dyna_obj_clear(&all);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_basics),      cmocka_unit_test(test_wrongtype),
      cmocka_unit_test(test_expired),     cmocka_unit_test(test_spop_srandmember),
      cmocka_unit_test(test_cart),        cmocka_unit_test(test_multi),
      cmocka_unit_test(test_smove),       cmocka_unit_test(test_state_size),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
