/* test_crdt.c: the semantic cases of the typed objects (core/crdt*.c), one scenario
 * each: what two replicas that diverged read once they merge, for every type and for
 * expiry, and the typed API's answers (Redis's return values and refusals).
 * The laws of the merge are in test_crdt_laws.c, the encoding in test_crdt_codec.c. */
#include "crdt_testlib.h"
#include <math.h>

#define A1 0xa1
#define A2 0xa2
#define A3 0xa3

/* b := copy of a (a replica that has received a). */
static void fork_from(dyna_crdt_t *b, const dyna_crdt_t *a) {
  dyna_crdt_init(b, a->type);
  assert_int_equal(dyna_crdt_copy(b, a), 0);
}

/* Merges a and b both ways and checks both replicas converge; leaves the result in a
 * and b. */
static void heal(dyna_crdt_t *a, dyna_crdt_t *b) {
  dyna_crdt_t a0;
  fork_from(&a0, a);
  assert_int_equal(dyna_crdt_merge(a, b), 0);
  assert_int_equal(dyna_crdt_merge(b, &a0), 0);
  t_same(a, b);
  dyna_crdt_clear(&a0);
}

/* ---- the deletion stamp (reaping of deleted keys) ----------------------------------- */

static int64_t counter_value(const dyna_crdt_t *s);

static int deleted_at(const dyna_crdt_t *s, uint64_t want_ms) {
  uint64_t d = 0;
  return dyna_crdt_deleted(s, &d) && d == want_ms;
}

/* A DEL stamps the state; it stays a deletion (reapable) while nothing newer than what
 * the deletes saw arrives; a concurrent add merged in makes it a live set again (add
 * wins) and a deletion no more; stamps merge by max; concurrent deletes on both sides
 * together saw everything; a set emptied by removals no delete saw whole is kept. */
static void test_delete_stamp(void **st) {
  (void)st;
  dyna_crdt_t a, b;
  dyna_crdt_init(&a, DYNA_CRDT_SET);
  assert_int_equal(dyna_crdt_sadd(&a, A1, (const uint8_t *)"old", 3), 1);
  assert_false(deleted_at(&a, 0));
  fork_from(&b, &a);
  assert_int_equal(dyna_crdt_delete(&a, A1, 100), 0);
  assert_true(deleted_at(&a, 100));
  assert_int_equal(dyna_crdt_sadd(&b, A2, (const uint8_t *)"new", 3), 1); /* concurrent */
  heal(&a, &b);
  assert_false(deleted_at(&a, 100));
  assert_true(dyna_crdt_sismember(&a, (const uint8_t *)"new", 3));
  assert_false(dyna_crdt_sismember(&a, (const uint8_t *)"old", 3));
  /* a delete whose clock is behind keeps the newest stamp */
  assert_int_equal(dyna_crdt_delete(&b, A2, 50), 0);
  assert_true(deleted_at(&b, 100));
  heal(&a, &b);
  assert_true(deleted_at(&a, 100));
  /* concurrent deletes, each of what its side had: together they saw every dot */
  assert_int_equal(dyna_crdt_sadd(&a, A1, (const uint8_t *)"x", 1), 1);
  dyna_crdt_clear(&b);
  fork_from(&b, &a);
  assert_int_equal(dyna_crdt_sadd(&b, A2, (const uint8_t *)"y", 1), 1);
  assert_int_equal(dyna_crdt_delete(&a, A1, 200), 0);
  assert_int_equal(dyna_crdt_delete(&b, A2, 300), 0);
  heal(&a, &b);
  assert_false(dyna_crdt_exists(&a));
  assert_true(deleted_at(&a, 300));
  /* removals that empty it on merge without a delete: not a deletion (kept) */
  assert_int_equal(dyna_crdt_sadd(&a, A1, (const uint8_t *)"p", 1), 1);
  assert_int_equal(dyna_crdt_sadd(&a, A1, (const uint8_t *)"q", 1), 1);
  dyna_crdt_clear(&b);
  fork_from(&b, &a);
  assert_int_equal(dyna_crdt_srem(&a, (const uint8_t *)"p", 1), 1);
  assert_int_equal(dyna_crdt_srem(&b, (const uint8_t *)"q", 1), 1);
  heal(&a, &b);
  assert_false(dyna_crdt_exists(&a));
  assert_false(deleted_at(&a, 300));
  dyna_crdt_clear(&a);
  dyna_crdt_clear(&b);
  /* a counter's DEL keeps its contributions as residue: still a deletion */
  dyna_crdt_init(&a, DYNA_CRDT_COUNTER);
  assert_int_equal(dyna_crdt_incrby(&a, A1, 5, NULL), 0);
  assert_int_equal(dyna_crdt_delete(&a, A1, 400), 0);
  assert_true(deleted_at(&a, 400));
  fork_from(&b, &a);
  assert_int_equal(dyna_crdt_incrby(&b, A2, 1, NULL), 0); /* after the delete: live again */
  heal(&a, &b);
  assert_false(deleted_at(&a, 400));
  assert_int_equal(counter_value(&a), 1);
  dyna_crdt_clear(&a);
  dyna_crdt_clear(&b);
}

/* ---- counter ----------------------------------------------------------------------- */

static int64_t counter_value(const dyna_crdt_t *s) {
  int64_t i;
  double d;
  assert_int_equal(dyna_crdt_counter_get(s, &i, &d), 0);
  assert_true(d == 0.0);
  return i;
}

static void test_counter_partition(void **st) {
  (void)st;
  dyna_crdt_t a, b;
  dyna_crdt_init(&a, DYNA_CRDT_COUNTER);
  int64_t out;
  assert_int_equal(dyna_crdt_counter_get(&a, &out, &(double){0}), DYNA_ENOTFOUND);
  assert_int_equal(dyna_crdt_incrby(&a, A1, 5, &out), 0);
  assert_int_equal(out, 5);
  fork_from(&b, &a);
  /* partition: both sides increment */
  assert_int_equal(dyna_crdt_incrby(&a, A1, 10, NULL), 0);
  assert_int_equal(dyna_crdt_incrby(&b, A2, 100, NULL), 0);
  assert_int_equal(dyna_crdt_incrby(&b, A2, -1, &out), 0);
  assert_int_equal(out, 104);
  heal(&a, &b);
  assert_int_equal(counter_value(&a), 114);
  /* merging again (handoff, read repair, anti-entropy) counts nothing twice */
  assert_int_equal(dyna_crdt_merge(&a, &b), 0);
  assert_int_equal(dyna_crdt_merge(&a, &a), 0);
  assert_int_equal(counter_value(&a), 114);
  dyna_crdt_clear(&a);
  dyna_crdt_clear(&b);
}

static void test_counter_overflow_and_float(void **st) {
  (void)st;
  dyna_crdt_t a;
  dyna_crdt_init(&a, DYNA_CRDT_COUNTER);
  int64_t out;
  assert_int_equal(dyna_crdt_incrby(&a, A1, INT64_MAX, &out), 0);
  dyna_buf_t before = t_enc(&a);
  assert_int_equal(dyna_crdt_incrby(&a, A2, 1, &out), DYNA_ERANGE);
  dyna_buf_t after = t_enc(&a);
  assert_int_equal(before.len, after.len); /* unchanged */
  assert_memory_equal(before.data, after.data, before.len);
  assert_int_equal(dyna_crdt_incrby(&a, A2, INT64_MIN, &out), 0);
  assert_int_equal(out, -1);
  assert_int_equal(dyna_crdt_incrby(&a, A2, INT64_MIN, &out), DYNA_ERANGE);
  double d;
  assert_int_equal(dyna_crdt_incrbyfloat(&a, A1, 1.5, &d), 0);
  assert_true(d == 0.5);
  assert_int_equal(dyna_crdt_incrby(&a, A1, 1, &out), DYNA_EINVAL); /* not an integer */
  assert_int_equal(dyna_crdt_incrbyfloat(&a, A1, 0.5, &d), 0);
  assert_true(d == 1.0);
  /* A1's own total is INT64_MAX: its next increment is refused (documented) */
  assert_int_equal(dyna_crdt_incrby(&a, A1, 1, &out), DYNA_ERANGE);
  assert_int_equal(dyna_crdt_incrby(&a, A2, 1, &out), 0); /* integral again */
  assert_int_equal(out, 2);
  assert_int_equal(dyna_crdt_incrbyfloat(&a, A1, NAN, &d), DYNA_EINVAL);
  assert_int_equal(dyna_crdt_incrbyfloat(&a, A1, INFINITY, &d), DYNA_EINVAL);
  t_roundtrip(&a);
  dyna_buf_free(&before);
  dyna_buf_free(&after);
  dyna_crdt_clear(&a);
}

/* DEL concurrent with INCR: the key exists and holds just the concurrent increment. */
static void test_counter_delete_vs_incr(void **st) {
  (void)st;
  dyna_crdt_t a, b;
  dyna_crdt_init(&a, DYNA_CRDT_COUNTER);
  assert_int_equal(dyna_crdt_incrby(&a, A1, 10, NULL), 0);
  fork_from(&b, &a);
  assert_int_equal(dyna_crdt_delete(&a, A1, 100), 0);
  assert_false(dyna_crdt_exists(&a));
  assert_int_equal(dyna_crdt_incrby(&b, A2, 1, NULL), 0);
  heal(&a, &b);
  assert_int_equal(counter_value(&a), 1);
  /* and a DEL that observed everything leaves it absent; INCR then starts from 0 */
  assert_int_equal(dyna_crdt_delete(&a, A1, 100), 0);
  heal(&a, &b);
  assert_false(dyna_crdt_exists(&b));
  assert_int_equal(dyna_crdt_incrby(&b, A1, 3, NULL), 0);
  assert_int_equal(counter_value(&b), 3);
  dyna_crdt_clear(&a);
  dyna_crdt_clear(&b);
}

/* ---- set --------------------------------------------------------------------------- */

static void test_set_add_wins(void **st) {
  (void)st;
  dyna_crdt_t a, b;
  dyna_crdt_init(&a, DYNA_CRDT_SET);
  assert_int_equal(dyna_crdt_sadd(&a, A1, B("milk")), 1);
  assert_int_equal(dyna_crdt_sadd(&a, A1, B("milk")), 0);
  assert_int_equal(dyna_crdt_get(&a, B("milk"))->nvals, 1); /* the new dot replaced the old */
  assert_int_equal(dyna_crdt_sadd(&a, A1, B("eggs")), 1);
  fork_from(&b, &a);
  /* concurrent: a removes milk, b adds milk again; a removes eggs, b does nothing */
  assert_int_equal(dyna_crdt_srem(&a, B("milk")), 1);
  assert_int_equal(dyna_crdt_srem(&a, B("milk")), 0);
  assert_int_equal(dyna_crdt_srem(&a, B("eggs")), 1);
  assert_int_equal(dyna_crdt_sadd(&b, A2, B("milk")), 0);
  assert_int_equal(dyna_crdt_sadd(&b, A2, B("tea")), 1);
  heal(&a, &b);
  assert_int_equal(dyna_crdt_sismember(&a, B("milk")), 1); /* add wins */
  assert_int_equal(dyna_crdt_sismember(&a, B("eggs")), 0); /* observed remove */
  assert_int_equal(dyna_crdt_sismember(&a, B("tea")), 1);
  assert_int_equal(dyna_crdt_count(&a), 2);
  /* iteration in member order; nth */
  size_t cur = 0;
  const dyna_crdt_elem_t *e = dyna_crdt_next(&a, &cur);
  assert_memory_equal(e->key, "milk", 4);
  e = dyna_crdt_next(&a, &cur);
  assert_memory_equal(e->key, "tea", 3);
  assert_null(dyna_crdt_next(&a, &cur));
  assert_memory_equal(dyna_crdt_nth(&a, 1)->key, "tea", 3);
  assert_null(dyna_crdt_nth(&a, 2));
  dyna_crdt_clear(&a);
  dyna_crdt_clear(&b);
}

/* DEL of the key (the empty state with its context) against a concurrent SADD. */
static void test_set_delete_tombstone(void **st) {
  (void)st;
  dyna_crdt_t a, b;
  dyna_crdt_init(&a, DYNA_CRDT_SET);
  assert_int_equal(dyna_crdt_sadd(&a, A1, B("x")), 1);
  assert_int_equal(dyna_crdt_sadd(&a, A1, B("y")), 1);
  fork_from(&b, &a);
  assert_int_equal(dyna_crdt_delete(&a, A1, 100), 0);
  assert_int_equal(a.n, 0);
  assert_int_equal(dyna_crdt_sadd(&b, A2, B("y")), 0);
  heal(&a, &b);
  assert_int_equal(dyna_crdt_sismember(&a, B("x")), 0);
  assert_int_equal(dyna_crdt_sismember(&a, B("y")), 1);
  dyna_crdt_clear(&a);
  dyna_crdt_clear(&b);
}

/* ---- hash -------------------------------------------------------------------------- */

static void expect_bytes(const dyna_crdt_t *s, const char *f, const char *want) {
  dyna_crdt_hval_t v;
  assert_int_equal(dyna_crdt_hget(s, B(f), &v), 0);
  assert_int_equal(v.kind, DYNA_CRDT_HV_BYTES);
  assert_int_equal(v.len, strlen(want));
  assert_memory_equal(v.data, want, v.len);
}

static void expect_int(const dyna_crdt_t *s, const char *f, int64_t want) {
  dyna_crdt_hval_t v;
  assert_int_equal(dyna_crdt_hget(s, B(f), &v), 0);
  assert_int_equal(v.kind, DYNA_CRDT_HV_INT);
  assert_int_equal(v.i, want);
}

static void test_hash_concurrent_hset(void **st) {
  (void)st;
  dyna_crdt_t a, b;
  dyna_crdt_init(&a, DYNA_CRDT_HASH);
  assert_int_equal(dyna_crdt_hset(&a, A1, B("f"), B("v0"), 10), 1);
  fork_from(&b, &a);
  assert_int_equal(dyna_crdt_hset(&a, A1, B("f"), B("late"), 30), 0);
  assert_int_equal(dyna_crdt_hset(&b, A2, B("f"), B("early"), 20), 0);
  heal(&a, &b);
  expect_bytes(&a, "f", "late"); /* greatest wall-clock stamp */
  const dyna_crdt_elem_t *e = dyna_crdt_get(&a, B("f"));
  assert_int_equal(e->nvals, 2); /* both siblings kept for a DYNA. command */
  /* a write that observed both resolves them */
  assert_int_equal(dyna_crdt_hset(&b, A2, B("f"), B("one"), 5), 0);
  assert_int_equal(dyna_crdt_get(&b, B("f"))->nvals, 1);
  expect_bytes(&b, "f", "one");
  /* HDEL concurrent with HSET keeps the field */
  dyna_crdt_t c;
  fork_from(&c, &b);
  assert_int_equal(dyna_crdt_hdel(&b, A2, B("f")), 1);
  assert_int_equal(dyna_crdt_hdel(&b, A2, B("f")), 0);
  assert_int_equal(dyna_crdt_hset(&c, A3, B("f"), B("kept"), 6), 0);
  heal(&b, &c);
  expect_bytes(&b, "f", "kept");
  dyna_crdt_clear(&a);
  dyna_crdt_clear(&b);
  dyna_crdt_clear(&c);
}

static void test_hash_counter_fields(void **st) {
  (void)st;
  dyna_crdt_t a, b;
  dyna_crdt_init(&a, DYNA_CRDT_HASH);
  int64_t out;
  assert_int_equal(dyna_crdt_hincrby(&a, A1, B("n"), 5, &out), 0);
  assert_int_equal(out, 5);
  expect_int(&a, "n", 5);
  fork_from(&b, &a);
  /* a: HSET n 100 (supersedes the +5 it saw); b: HINCRBY n 2 concurrently */
  assert_int_equal(dyna_crdt_hset(&a, A1, B("n"), B("100"), 50), 0);
  expect_bytes(&a, "n", "100");
  assert_int_equal(dyna_crdt_hincrby(&b, A2, B("n"), 2, &out), 0);
  assert_int_equal(out, 7);
  heal(&a, &b);
  expect_int(&a, "n", 102); /* the HSET's value plus the increment it did not see */
  assert_int_equal(dyna_crdt_hincrby(&a, A1, B("n"), 1, &out), 0);
  assert_int_equal(out, 103);
  /* HINCRBY on a non-number; HINCRBYFLOAT */
  assert_int_equal(dyna_crdt_hset(&a, A1, B("s"), B("abc"), 60), 1);
  assert_int_equal(dyna_crdt_hincrby(&a, A1, B("s"), 1, &out), DYNA_EINVAL);
  double d;
  assert_int_equal(dyna_crdt_hincrbyfloat(&a, A1, B("s"), 1.0, &d), DYNA_EINVAL);
  assert_int_equal(dyna_crdt_hincrbyfloat(&a, A1, B("n"), 0.5, &d), 0);
  assert_true(d == 103.5);
  assert_int_equal(dyna_crdt_hincrby(&a, A1, B("n"), 1, &out), DYNA_EINVAL);
  assert_int_equal(dyna_crdt_hset(&a, A1, B("big"), B("9223372036854775807"), 60), 1);
  assert_int_equal(dyna_crdt_hincrby(&a, A1, B("big"), 1, &out), DYNA_ERANGE);
  /* HDEL of a counted field concurrent with an increment: only the increment stays */
  dyna_crdt_t c;
  fork_from(&c, &a);
  assert_int_equal(dyna_crdt_hincrby(&a, A1, B("k"), 40, NULL), 0);
  assert_int_equal(dyna_crdt_merge(&c, &a), 0);
  assert_int_equal(dyna_crdt_hdel(&a, A1, B("k")), 1);
  assert_int_equal(dyna_crdt_hincrby(&c, A3, B("k"), 2, NULL), 0);
  heal(&a, &c);
  expect_int(&a, "k", 2);
  assert_int_equal(dyna_crdt_count(&a), 4);
  dyna_crdt_clear(&a);
  dyna_crdt_clear(&b);
  dyna_crdt_clear(&c);
}

/* ---- sorted set ---------------------------------------------------------------------- */

static double zscore(const dyna_crdt_t *s, const char *m) {
  double d;
  assert_int_equal(dyna_crdt_zscore(s, B(m), &d), 0);
  return d;
}

static void test_zset_merges(void **st) {
  (void)st;
  dyna_crdt_t a, b;
  dyna_crdt_init(&a, DYNA_CRDT_ZSET);
  double sc;
  assert_int_equal(dyna_crdt_zadd(&a, A1, B("book"), 10, 0, &sc), DYNA_CRDT_ZADDED);
  fork_from(&b, &a);
  /* every region adds its sales */
  assert_int_equal(dyna_crdt_zadd(&a, A1, B("book"), 3, DYNA_CRDT_ZADD_INCR, &sc), DYNA_CRDT_ZCHANGED);
  assert_true(sc == 13);
  assert_int_equal(dyna_crdt_zadd(&b, A2, B("book"), 4, DYNA_CRDT_ZADD_INCR, &sc), DYNA_CRDT_ZCHANGED);
  heal(&a, &b);
  assert_true(zscore(&a, "book") == 17);
  /* a ZADD overrides what it saw; a concurrent ZINCRBY still adds */
  assert_int_equal(dyna_crdt_zadd(&a, A1, B("book"), 100, 0, &sc), DYNA_CRDT_ZCHANGED);
  assert_true(zscore(&a, "book") == 100);
  assert_int_equal(dyna_crdt_zadd(&b, A2, B("book"), 1, DYNA_CRDT_ZADD_INCR, &sc), DYNA_CRDT_ZCHANGED);
  heal(&a, &b);
  assert_true(zscore(&a, "book") == 101);
  /* concurrent ZADDs: one base chosen, the same on both replicas */
  assert_int_equal(dyna_crdt_zadd(&a, A1, B("pen"), 1, 0, NULL), DYNA_CRDT_ZADDED);
  assert_int_equal(dyna_crdt_zadd(&b, A2, B("pen"), 2, 0, NULL), DYNA_CRDT_ZADDED);
  heal(&a, &b);
  double p = zscore(&a, "pen");
  assert_true(p == 1 || p == 2);
  assert_true(zscore(&b, "pen") == p);
  /* ZREM (by an actor with a high counter) concurrent with ZADD: the live ZADD's base
   * is chosen over the removal's residue whatever the dots */
  assert_int_equal(dyna_crdt_zadd(&a, A1, B("ink"), 1, DYNA_CRDT_ZADD_INCR, NULL), DYNA_CRDT_ZADDED);
  heal(&a, &b);
  for (int i = 0; i < 20; i++) assert_true(dyna_crdt_zadd(&b, A2, B("other"), i, 0, NULL) >= 0);
  assert_int_equal(dyna_crdt_zrem(&b, A2, B("ink")), 1);
  assert_int_equal(dyna_crdt_zadd(&a, A1, B("ink"), 50, 0, NULL), DYNA_CRDT_ZCHANGED);
  heal(&a, &b);
  assert_true(zscore(&a, "ink") == 50);
  /* ZREM concurrent with ZINCRBY: member stays with just the increment */
  assert_int_equal(dyna_crdt_zrem(&a, A1, B("book")), 1);
  assert_int_equal(dyna_crdt_zrem(&a, A1, B("book")), 0);
  assert_int_equal(dyna_crdt_zadd(&b, A2, B("book"), 5, DYNA_CRDT_ZADD_INCR, NULL), DYNA_CRDT_ZCHANGED);
  heal(&a, &b);
  assert_true(zscore(&a, "book") == 5);
  dyna_crdt_clear(&a);
  dyna_crdt_clear(&b);
}

static void test_zset_flags_and_ranges(void **st) {
  (void)st;
  dyna_crdt_t a;
  dyna_crdt_init(&a, DYNA_CRDT_ZSET);
  double sc = 0;
  assert_int_equal(dyna_crdt_zadd(&a, A1, B("a"), NAN, 0, &sc), DYNA_EINVAL);
  assert_int_equal(dyna_crdt_zadd(&a, A1, B("a"), 1, DYNA_CRDT_ZADD_NX | DYNA_CRDT_ZADD_GT, &sc),
                   DYNA_EINVAL);
  assert_int_equal(dyna_crdt_zadd(&a, A1, B("a"), 1, DYNA_CRDT_ZADD_XX, &sc), DYNA_CRDT_ZSKIPPED);
  assert_int_equal(dyna_crdt_zadd(&a, A1, B("a"), 1, DYNA_CRDT_ZADD_NX, &sc), DYNA_CRDT_ZADDED);
  assert_int_equal(dyna_crdt_zadd(&a, A1, B("a"), 5, DYNA_CRDT_ZADD_NX, &sc), DYNA_CRDT_ZSKIPPED);
  assert_int_equal(dyna_crdt_zadd(&a, A1, B("a"), 0, DYNA_CRDT_ZADD_GT, &sc), DYNA_CRDT_ZSKIPPED);
  assert_int_equal(dyna_crdt_zadd(&a, A1, B("a"), 3, DYNA_CRDT_ZADD_GT, &sc), DYNA_CRDT_ZCHANGED);
  assert_int_equal(dyna_crdt_zadd(&a, A1, B("a"), 4, DYNA_CRDT_ZADD_LT, &sc), DYNA_CRDT_ZSKIPPED);
  assert_int_equal(dyna_crdt_zadd(&a, A1, B("a"), 3, 0, &sc), 0); /* same score */
  assert_int_equal(dyna_crdt_zadd(&a, A1, B("a"), INFINITY, DYNA_CRDT_ZADD_INCR, &sc),
                   DYNA_EINVAL); /* increments keep totals finite */
  assert_int_equal(dyna_crdt_zadd(&a, A1, B("a"), INFINITY, 0, &sc), DYNA_CRDT_ZCHANGED);
  assert_true(zscore(&a, "a") == INFINITY);
  assert_int_equal(dyna_crdt_zadd(&a, A1, B("a"), -INFINITY, DYNA_CRDT_ZADD_INCR, &sc),
                   DYNA_EINVAL); /* resulting score is not a number */
  assert_int_equal(dyna_crdt_zadd(&a, A1, B("a"), -0.0, 0, &sc), DYNA_CRDT_ZCHANGED);
  assert_true(zscore(&a, "a") == 0 && !signbit(zscore(&a, "a")));
  assert_int_equal(dyna_crdt_zadd(&a, A1, B("c"), 2, 0, NULL), DYNA_CRDT_ZADDED);
  assert_int_equal(dyna_crdt_zadd(&a, A1, B("b"), 2, 0, NULL), DYNA_CRDT_ZADDED);
  assert_int_equal(dyna_crdt_zadd(&a, A1, B("d"), -1, 0, NULL), DYNA_CRDT_ZADDED);
  dyna_crdt_zitem_t *v;
  size_t n, rank;
  assert_int_equal(dyna_crdt_zview(&a, &v, &n), 0);
  assert_int_equal(n, 4);
  const char *order[] = {"d", "a", "b", "c"};
  for (size_t i = 0; i < n; i++) {
    assert_memory_equal(v[i].m, order[i], 1);
    assert_int_equal(dyna_crdt_zrank(&a, v[i].m, v[i].len, &rank), 0);
    assert_int_equal(rank, i);
  }
  assert_int_equal(dyna_crdt_zrank(&a, B("zz"), &rank), DYNA_ENOTFOUND);
  dyna_free(v);
  t_roundtrip(&a);
  dyna_crdt_clear(&a);
}

/* ---- list ------------------------------------------------------------------------- */

/* The list as a string of one-character elements. */
static void list_str(const dyna_crdt_t *s, char *out) {
  dyna_crdt_litem_t *v;
  size_t n;
  assert_int_equal(dyna_crdt_lview(s, &v, &n), 0);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(v[i].v->len, 1);
    out[i] = (char)v[i].v->data[0];
  }
  out[n] = 0;
  dyna_free(v);
}

static void expect_list(const dyna_crdt_t *s, const char *want) {
  char got[256];
  list_str(s, got);
  assert_string_equal(got, want);
}

static void test_list_ops(void **st) {
  (void)st;
  dyna_crdt_t a;
  dyna_crdt_init(&a, DYNA_CRDT_LIST);
  assert_int_equal(dyna_crdt_lpop(&a, 0, NULL), DYNA_ENOTFOUND);
  assert_int_equal(dyna_crdt_lpush(&a, A1, 1, B("b")), 0);
  assert_int_equal(dyna_crdt_lpush(&a, A1, 1, B("c")), 0);
  assert_int_equal(dyna_crdt_lpush(&a, A1, 0, B("a")), 0);
  expect_list(&a, "abc");
  assert_int_equal(dyna_crdt_linsert(&a, A1, 1, 0, B("x")), 0); /* before b */
  assert_int_equal(dyna_crdt_linsert(&a, A1, 2, 1, B("y")), 0); /* after b */
  expect_list(&a, "axbyc");
  assert_int_equal(dyna_crdt_lset(&a, A1, 2, B("B")), 0);
  expect_list(&a, "axByc");
  assert_int_equal(dyna_crdt_lset(&a, A1, 5, B("Z")), DYNA_ENOTFOUND);
  dyna_buf_t out = DYNA_BUF_INIT;
  assert_int_equal(dyna_crdt_lpop(&a, 1, &out), 0);
  assert_int_equal(dyna_crdt_lpop(&a, 0, &out), 0);
  assert_int_equal(out.len, 2);
  assert_memory_equal(out.data, "ca", 2);
  expect_list(&a, "xBy");
  size_t idx[] = {0, 2};
  dyna_crdt_lremove(&a, idx, 2);
  expect_list(&a, "B");
  t_roundtrip(&a);
  dyna_buf_free(&out);
  dyna_crdt_clear(&a);
}

static void test_list_concurrent_pushes(void **st) {
  (void)st;
  dyna_crdt_t a, b;
  dyna_crdt_init(&a, DYNA_CRDT_LIST);
  assert_int_equal(dyna_crdt_lpush(&a, A1, 1, B("m")), 0);
  fork_from(&b, &a);
  assert_int_equal(dyna_crdt_lpush(&a, A1, 0, B("a")), 0);
  assert_int_equal(dyna_crdt_lpush(&b, A2, 0, B("b")), 0);
  assert_int_equal(dyna_crdt_lpush(&a, A1, 1, B("x")), 0);
  assert_int_equal(dyna_crdt_lpush(&b, A2, 1, B("y")), 0);
  heal(&a, &b);
  expect_list(&a, "abmxy"); /* same positions: dot order (A1 < A2) */
  expect_list(&b, "abmxy");
  /* concurrent pops of the same element: at-least-once, never twice after merge */
  assert_int_equal(dyna_crdt_lpop(&a, 0, NULL), 0);
  assert_int_equal(dyna_crdt_lpop(&b, 0, NULL), 0);
  assert_int_equal(dyna_crdt_linsert(&b, A2, 0, 1, B("q")), 0); /* between b and m */
  heal(&a, &b);
  expect_list(&a, "bqmxy");
  dyna_crdt_clear(&a);
  dyna_crdt_clear(&b);
}

static int pos_less(const dyna_crdt_elem_t *x, const dyna_crdt_elem_t *y) {
  size_t m = x->klen < y->klen ? x->klen : y->klen;
  int c = memcmp(x->key, y->key, m);
  return c < 0 || (c == 0 && x->klen < y->klen);
}

/* Many pushes at both ends and inserts in the middle keep order and short positions. */
static void test_list_positions(void **st) {
  (void)st;
  dyna_crdt_t a;
  dyna_crdt_init(&a, DYNA_CRDT_LIST);
  for (int i = 0; i < 1000; i++) {
    char c = (char)('A' + i % 26);
    assert_int_equal(dyna_crdt_lpush(&a, A1, 0, (const uint8_t *)&c, 1), 0);
    assert_int_equal(dyna_crdt_lpush(&a, A1, 1, (const uint8_t *)&c, 1), 0);
  }
  size_t endpos = 0;
  for (size_t i = 0; i < a.n; i++)
    if (a.e[i]->klen > endpos) endpos = a.e[i]->klen;
  assert_true(endpos <= 9); /* pushes at the ends: one byte per ~127 */
  for (int i = 0; i < 300; i++) /* always insert after index 999: the middle */
    assert_int_equal(dyna_crdt_linsert(&a, A1, 999, 1, B("-")), 0);
  assert_int_equal(dyna_crdt_count(&a), 2300);
  size_t maxpos = 0;
  for (size_t i = 0; i < a.n; i++) {
    if (a.e[i]->klen > maxpos) maxpos = a.e[i]->klen;
    if (i) assert_true(pos_less(a.e[i - 1], a.e[i]));
  }
  print_message("list: 2000 pushes: longest position %zu bytes; +300 inserts at one spot: %zu\n",
                endpos, maxpos);
  assert_true(maxpos <= 48); /* midpoints: one byte per ~8 inserts at the same spot */
  char s[2400];
  list_str(&a, s);
  for (int i = 0; i < 1000; i++) assert_int_equal(s[i], 'A' + (999 - i) % 26);
  for (int i = 0; i < 300; i++) assert_int_equal(s[1000 + i], '-');
  for (int i = 0; i < 1000; i++) assert_int_equal(s[1300 + i], 'A' + i % 26);
  t_roundtrip(&a);
  dyna_crdt_clear(&a);
}

/* ---- expiry ------------------------------------------------------------------------ */

static void test_expiry(void **st) {
  (void)st;
  dyna_crdt_t a, b;
  uint64_t d;
  dyna_crdt_init(&a, DYNA_CRDT_SET);
  assert_int_equal(dyna_crdt_sadd(&a, A1, B("x")), 1);
  assert_int_equal(dyna_crdt_deadline(&a, &d), 0);
  assert_int_equal(dyna_crdt_persist(&a, A1), 0);
  assert_int_equal(dyna_crdt_expire(&a, A1, 0), DYNA_EINVAL);
  assert_int_equal(dyna_crdt_expire(&a, A1, 5000), 0);
  assert_int_equal(dyna_crdt_deadline(&a, &d), 1);
  assert_int_equal(d, 5000);
  assert_false(dyna_crdt_expired(&a, 4999));
  assert_true(dyna_crdt_expired(&a, 5000));
  fork_from(&b, &a);
  /* concurrent EXPIREs: the longest deadline wins */
  assert_int_equal(dyna_crdt_expire(&a, A1, 9000), 0);
  assert_int_equal(dyna_crdt_expire(&b, A2, 7000), 0);
  heal(&a, &b);
  assert_int_equal(dyna_crdt_deadline(&a, &d), 1);
  assert_int_equal(d, 9000);
  /* PERSIST wins over a concurrent EXPIRE */
  assert_int_equal(dyna_crdt_persist(&a, A1), 1);
  assert_int_equal(dyna_crdt_expire(&b, A2, 99999), 0);
  heal(&a, &b);
  assert_int_equal(dyna_crdt_deadline(&a, &d), 0);
  assert_false(dyna_crdt_expired(&b, UINT64_MAX));
  /* an EXPIRE that observed the PERSIST supersedes it */
  assert_int_equal(dyna_crdt_expire(&b, A2, 100), 0);
  heal(&a, &b);
  assert_int_equal(dyna_crdt_deadline(&a, &d), 1);
  assert_int_equal(d, 100);
  /* DEL drops the deadline it observed */
  assert_int_equal(dyna_crdt_delete(&a, A1, 100), 0);
  assert_int_equal(dyna_crdt_deadline(&a, &d), 0);
  heal(&a, &b);
  assert_int_equal(dyna_crdt_deadline(&b, &d), 0);
  dyna_crdt_clear(&a);
  dyna_crdt_clear(&b);
}

/* ---- limits and allocation failure -------------------------------------------------- */

static void test_limits(void **st) {
  (void)st;
  dyna_crdt_t a;
  dyna_crdt_init(&a, DYNA_CRDT_SET);
  uint8_t *big = calloc(1, DYNA_CRDT_MAX_VAL_BYTES + 1);
  assert_int_equal(dyna_crdt_sadd(&a, A1, big, DYNA_CRDT_MAX_KEY_BYTES + 1), DYNA_ETOOBIG);
  assert_int_equal(dyna_crdt_sadd(&a, A1, big, DYNA_CRDT_MAX_KEY_BYTES), 1);
  t_roundtrip(&a);
  dyna_crdt_clear(&a);
  dyna_crdt_init(&a, DYNA_CRDT_LIST);
  assert_int_equal(dyna_crdt_lpush(&a, A1, 0, big, DYNA_CRDT_MAX_VAL_BYTES + 1), DYNA_ETOOBIG);
  assert_int_equal(a.n, 0);
  dyna_crdt_clear(&a);
  dyna_crdt_init(&a, DYNA_CRDT_HASH);
  assert_int_equal(dyna_crdt_hset(&a, A1, B("f"), big, DYNA_CRDT_MAX_VAL_BYTES + 1, 1),
                   DYNA_ETOOBIG);
  dyna_crdt_clear(&a);
  free(big);
  /* inserts at one spot until positions reach DYNA_CRDT_MAX_POS_BYTES: refused */
  dyna_crdt_init(&a, DYNA_CRDT_LIST);
  assert_int_equal(dyna_crdt_lpush(&a, A1, 1, B("a")), 0);
  assert_int_equal(dyna_crdt_lpush(&a, A1, 1, B("b")), 0);
  int rc, k = 0;
  while ((rc = dyna_crdt_linsert(&a, A1, 0, 1, B("x"))) == 0) k++;
  assert_int_equal(rc, DYNA_ETOOBIG);
  assert_true(k > 7000);
  assert_int_equal(dyna_crdt_count(&a), (size_t)k + 2);
  t_roundtrip(&a);
  dyna_crdt_clear(&a);
  /* the context holds at most DYNA_CRDT_MAX_ACTORS actors */
  dyna_crdt_init(&a, DYNA_CRDT_SET);
  for (uint64_t i = 0; i < DYNA_CRDT_MAX_ACTORS; i++)
    assert_int_equal(dyna_crdt_sadd(&a, 1 + i, B("m")), i == 0);
  assert_int_equal(dyna_crdt_sadd(&a, 1 + DYNA_CRDT_MAX_ACTORS, B("m")), DYNA_ETOOBIG);
  t_roundtrip(&a);
  dyna_crdt_clear(&a);
}

/* Every op, merge and decode, failing at each allocation in turn, leaves the state
 * byte-equal to what it was. */
static void build_sample(dyna_crdt_t *s, uint8_t type, uint64_t seed) {
  uint64_t r = seed;
  dyna_crdt_init(s, type);
  for (int i = 0; i < 30; i++) t_random_op(s, A1 + (uint64_t)(i % 3), &r, (uint64_t)i);
}

static void test_alloc_failure(void **st) {
  (void)st;
  for (uint8_t type = DYNA_CRDT_COUNTER; type <= DYNA_CRDT_LIST; type++) {
    for (uint64_t seed = 1; seed <= 20; seed++) {
      dyna_crdt_t s, o;
      build_sample(&s, type, seed);
      build_sample(&o, type, seed + 1000);
      for (int op = 0; op < 6; op++) {
        for (long k = 0;; k++) {
          dyna_crdt_t w;
          dyna_crdt_init(&w, type);
          assert_int_equal(dyna_crdt_copy(&w, &s), 0);
          dyna_buf_t before = t_enc(&w);
          uint64_t r = seed * 77 + (uint64_t)op;
          int rc;
          dyna_mem_fail_after(k);
          char m[16];
          t_member(&r, m, 8);
          if (op == 0) {
            rc = dyna_crdt_merge(&w, &o);
          } else if (op == 1) {
            rc = dyna_crdt_decode(before.data, before.len, &w);
          } else if (op == 2) {
            switch (type) {
            case DYNA_CRDT_COUNTER: rc = dyna_crdt_incrby(&w, A2, 3, NULL); break;
            case DYNA_CRDT_SET: rc = dyna_crdt_sadd(&w, A2, B(m)); break;
            case DYNA_CRDT_HASH: rc = dyna_crdt_hset(&w, A2, B(m), B("value"), 9); break;
            case DYNA_CRDT_ZSET: rc = dyna_crdt_zadd(&w, A2, B(m), 1.5, 0, NULL); break;
            default: rc = dyna_crdt_linsert(&w, A2, 0, 1, B(m)); break;
            }
          } else if (op == 3) {
            switch (type) {
            case DYNA_CRDT_COUNTER: rc = dyna_crdt_incrbyfloat(&w, A3, 0.5, NULL); break;
            case DYNA_CRDT_SET: rc = dyna_crdt_sadd(&w, A3, B("brand-new")); break;
            case DYNA_CRDT_HASH: rc = dyna_crdt_hincrby(&w, A3, B(m), 1, NULL); break;
            case DYNA_CRDT_ZSET: rc = dyna_crdt_zrem(&w, A3, B(m)); break;
            default: rc = dyna_crdt_lset(&w, A3, 0, B(m)); break;
            }
            if (rc > 0 || rc == DYNA_EINVAL || rc == DYNA_ENOTFOUND) rc = 0;
          } else if (op == 4) {
            rc = dyna_crdt_delete(&w, A3, 300);
          } else {
            rc = dyna_crdt_expire(&w, A3, 12345);
          }
          if (rc > 0) rc = 0;
          dyna_mem_fail_after(-1);
          if (rc == DYNA_ENOMEM) {
            dyna_buf_t after = t_enc(&w);
            assert_int_equal(before.len, after.len);
            assert_memory_equal(before.data, after.data, before.len);
            dyna_buf_free(&after);
          } else {
            assert_true(rc == 0 || (type == DYNA_CRDT_COUNTER && rc == DYNA_EINVAL) ||
                        (type == DYNA_CRDT_LIST && rc == DYNA_ENOTFOUND));
          }
          dyna_buf_free(&before);
          dyna_crdt_clear(&w);
          if (rc != DYNA_ENOMEM) break;
        }
      }
      dyna_crdt_clear(&s);
      dyna_crdt_clear(&o);
    }
  }
}

/* ---- state size --------------------------------------------------------------------- */

static size_t enc_len(const dyna_crdt_t *s) {
  dyna_buf_t b = t_enc(s);
  size_t n = b.len;
  dyna_buf_free(&b);
  return n;
}

/* A 1,000-member set or sorted set written by 5 actors, members of 16-40 bytes: the
 * encoded state is under 2x the members' raw bytes. */
static void test_size_1000(void **st) {
  (void)st;
  for (uint8_t type = DYNA_CRDT_SET; type <= DYNA_CRDT_ZSET; type += 2) {
    uint64_t r = 42;
    dyna_crdt_t s;
    dyna_crdt_init(&s, type);
    size_t raw = 0;
    for (int i = 0; i < 1000; i++) {
      char m[48];
      size_t len = 16 + (size_t)t_below(&r, 25);
      for (size_t k = 0; k < len; k++) m[k] = (char)('a' + t_below(&r, 26));
      uint64_t actor = 0x1234567890abcdefull + t_below(&r, 5);
      if (type == DYNA_CRDT_SET) assert_int_equal(dyna_crdt_sadd(&s, actor, (uint8_t *)m, len), 1);
      else assert_true(dyna_crdt_zadd(&s, actor, (uint8_t *)m, len, (double)t_below(&r, 100000) / 7, 0, NULL) > 0);
      raw += len;
    }
    size_t enc = enc_len(&s);
    print_message("type %u: 1000 members, %zu raw bytes, %zu encoded (%.2fx)\n", type, raw, enc,
                  (double)enc / (double)raw);
    assert_true(enc < 2 * raw);
    dyna_crdt_clear(&s);
  }
}

/* Churn: 3 actors add and remove the same 100 members, 100,000 ops with merges: the
 * state stays bounded (the context grows by one entry per actor, nothing else). */
static void test_size_churn(void **st) {
  (void)st;
  for (uint8_t type = DYNA_CRDT_SET; type <= DYNA_CRDT_ZSET; type += 2) {
    uint64_t r = 7;
    dyna_crdt_t rep[3];
    for (int i = 0; i < 3; i++) dyna_crdt_init(&rep[i], type);
    size_t maxlen = 0;
    for (int op = 0; op < 100000; op++) {
      int i = (int)t_below(&r, 3);
      char m[32];
      snprintf(m, sizeof(m), "member-%08u-abcdef", (unsigned)t_below(&r, 100));
      uint64_t actor = 0xfeed0000ull + (uint64_t)i;
      if (t_below(&r, 2)) {
        if (type == DYNA_CRDT_SET) assert_true(dyna_crdt_sadd(&rep[i], actor, B(m)) >= 0);
        else assert_true(dyna_crdt_zadd(&rep[i], actor, B(m), (double)op, 0, NULL) >= 0);
      } else {
        if (type == DYNA_CRDT_SET) dyna_crdt_srem(&rep[i], B(m));
        else assert_true(dyna_crdt_zrem(&rep[i], actor, B(m)) >= 0);
      }
      if (op % 10 == 0) assert_int_equal(dyna_crdt_merge(&rep[i], &rep[t_below(&r, 3)]), 0);
      if (op % 1000 == 0) {
        size_t len = enc_len(&rep[i]);
        if (len > maxlen) maxlen = len;
      }
    }
    for (int i = 0; i < 3; i++) assert_true(rep[i].nctx <= 3);
    /* 100 members of 24 bytes: at most ~100 * (24 + overhead) however long it runs */
    print_message("type %u churn: max encoded %zu bytes\n", type, maxlen);
    assert_true(maxlen < 100 * (24 + 2 + 3 * 16) + 64);
    for (int i = 0; i < 3; i++) dyna_crdt_clear(&rep[i]);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_delete_stamp),
      cmocka_unit_test(test_counter_partition),
      cmocka_unit_test(test_counter_overflow_and_float),
      cmocka_unit_test(test_counter_delete_vs_incr),
      cmocka_unit_test(test_set_add_wins),
      cmocka_unit_test(test_set_delete_tombstone),
      cmocka_unit_test(test_hash_concurrent_hset),
      cmocka_unit_test(test_hash_counter_fields),
      cmocka_unit_test(test_zset_merges),
      cmocka_unit_test(test_zset_flags_and_ranges),
      cmocka_unit_test(test_list_ops),
      cmocka_unit_test(test_list_concurrent_pushes),
      cmocka_unit_test(test_list_positions),
      cmocka_unit_test(test_expiry),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_alloc_failure),
      cmocka_unit_test(test_size_1000),
      cmocka_unit_test(test_size_churn),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
