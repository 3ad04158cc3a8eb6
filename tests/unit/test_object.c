/* test_object.c: unit tests for the versioned-object core (core/object.c, a DVVSet)
 * and for base64 (util/b64.c).
 *
 * Besides hand-written scenarios (descendants, concurrent writes, read-modify-write,
 * stale contexts, tombstones, encodings, every decoder rejection, allocation failure),
 * a seeded property test plays random histories of replicas and clients against an
 * independent model: each write gets an id, each replica and context tracks the set of
 * write ids it has seen (its causal history) and the set still live, and
 *   update(o, ctx, v): live := (live(o) - hist(ctx)) + {v}, hist := hist(o) + hist(ctx) + {v}
 *   merge(a, b):       a value survives unless the other side has seen and dropped it.
 * The object must hold exactly the model's live values, and merge must be
 * commutative, associative and idempotent on every snapshot taken along the way. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/b64.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/alloc.h"
#include "core/object.h"

/* ---- helpers ------------------------------------------------------------------- */

/* splitmix64: a small deterministic PRNG for the property tests. */
static uint64_t rnd_next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t rnd_below(uint64_t *s, uint64_t n) { return rnd_next(s) % n; }

static dyna_val_t mkval(const char *s, uint64_t ts) {
  dyna_val_t v = {0, ts, (uint8_t *)s, strlen(s)};
  if (v.len == 0) v.data = NULL;
  return v;
}

static dyna_val_t mktomb(uint64_t ts) {
  dyna_val_t v = {DYNA_VAL_TOMBSTONE, ts, NULL, 0};
  return v;
}

static void put(dyna_obj_t *o, const dyna_ctx_t *ctx, uint64_t node, const char *s,
                uint64_t ts) {
  dyna_val_t v = mkval(s, ts);
  assert_int_equal(dyna_obj_update(o, ctx, node, &v), 0);
}

static void ctx_of(const dyna_obj_t *o, dyna_ctx_t *c) {
  assert_int_equal(dyna_obj_context(o, c), 0);
}

/* 1 when some value of o has exactly the bytes s. */
static int has_value(const dyna_obj_t *o, const char *s) {
  size_t n = strlen(s);
  for (size_t i = 0; i < dyna_obj_nvals(o); i++) {
    const dyna_val_t *v = dyna_obj_val(o, i);
    if (v->len == n && (n == 0 || memcmp(v->data, s, n) == 0)) return 1;
  }
  return 0;
}

/* Checks the structural invariants every object must keep. */
static void check_invariants(const dyna_obj_t *o) {
  size_t total = 0;
  for (size_t i = 0; i < o->n; i++) {
    if (i > 0) assert_true(o->e[i - 1].node < o->e[i].node);
    assert_true(o->e[i].counter > 0);
    assert_true(o->e[i].nvals <= o->e[i].counter);
    total += o->e[i].nvals;
  }
  assert_int_equal(total, dyna_obj_nvals(o));
}

static void encode(const dyna_obj_t *o, dyna_buf_t *b) {
  dyna_buf_reset(b);
  dyna_obj_encode(o, b);
  assert_false(b->oom);
}

/* Encodes o, decodes it back, and checks the copy is equal and re-encodes the same. */
static void check_roundtrip(const dyna_obj_t *o) {
  dyna_buf_t b = DYNA_BUF_INIT, b2 = DYNA_BUF_INIT;
  dyna_obj_t d;
  dyna_obj_init(&d);
  encode(o, &b);
  assert_int_equal(dyna_obj_decode(b.data, b.len, &d), 0);
  assert_true(dyna_obj_equal(o, &d));
  encode(&d, &b2);
  assert_int_equal(b.len, b2.len);
  assert_memory_equal(b.data, b2.data, b.len);
  dyna_obj_clear(&d);
  dyna_buf_free(&b);
  dyna_buf_free(&b2);
}

/* out := merge(a, b) without touching a or b. */
static void merged(const dyna_obj_t *a, const dyna_obj_t *b, dyna_obj_t *out) {
  assert_int_equal(dyna_obj_copy(out, a), 0);
  assert_int_equal(dyna_obj_merge(out, b), 0);
}

/* The definition dyna_obj_descends must agree with: merging a into b changes nothing. */
static int merge_changes_nothing(const dyna_obj_t *b, const dyna_obj_t *a) {
  dyna_obj_t m;
  dyna_obj_init(&m);
  merged(b, a, &m);
  int same = dyna_obj_equal(&m, b);
  dyna_obj_clear(&m);
  return same;
}

/* ---- scenarios ----------------------------------------------------------------- */

static void test_empty(void **state) {
  (void)state;
  dyna_obj_t o;
  dyna_ctx_t c;
  dyna_obj_init(&o);
  dyna_ctx_init(&c);
  assert_int_equal(dyna_obj_nvals(&o), 0);
  assert_int_equal(dyna_obj_nlive(&o), 0);
  assert_null(dyna_obj_latest(&o));
  assert_null(dyna_obj_val(&o, 0));
  ctx_of(&o, &c);
  assert_int_equal(c.n, 0);
  dyna_buf_t b = DYNA_BUF_INIT;
  encode(&o, &b);
  const uint8_t want[] = {1, 0};
  assert_int_equal(b.len, 2);
  assert_memory_equal(b.data, want, 2);
  check_roundtrip(&o);
  assert_true(dyna_obj_descends(&o, &o));
  dyna_buf_free(&b);
  dyna_obj_clear(&o);
}

static void test_descendant_replaces_ancestor(void **state) {
  (void)state;
  dyna_obj_t old, cur, m;
  dyna_ctx_t c;
  dyna_obj_init(&old);
  dyna_obj_init(&cur);
  dyna_obj_init(&m);
  dyna_ctx_init(&c);
  put(&old, NULL, 1, "v1", 10);
  assert_int_equal(dyna_obj_copy(&cur, &old), 0);
  ctx_of(&cur, &c);
  put(&cur, &c, 2, "v2", 20); /* another coordinator, with the context read */
  assert_int_equal(dyna_obj_nvals(&cur), 1);
  assert_true(has_value(&cur, "v2"));
  assert_true(dyna_obj_descends(&cur, &old));
  assert_false(dyna_obj_descends(&old, &cur));
  merged(&old, &cur, &m); /* the ancestor learns the descendant: replaced */
  assert_true(dyna_obj_equal(&m, &cur));
  merged(&cur, &old, &m); /* the descendant learns nothing from its ancestor */
  assert_true(dyna_obj_equal(&m, &cur));
  dyna_obj_clear(&old);
  dyna_obj_clear(&cur);
  dyna_obj_clear(&m);
  dyna_ctx_clear(&c);
}

static void test_concurrent_writes_survive(void **state) {
  (void)state;
  dyna_obj_t base, a, b, ab, ba;
  dyna_ctx_t c;
  dyna_obj_init(&base);
  dyna_obj_init(&a);
  dyna_obj_init(&b);
  dyna_obj_init(&ab);
  dyna_obj_init(&ba);
  dyna_ctx_init(&c);
  put(&base, NULL, 7, "base", 1);
  ctx_of(&base, &c);
  assert_int_equal(dyna_obj_copy(&a, &base), 0);
  assert_int_equal(dyna_obj_copy(&b, &base), 0);
  put(&a, &c, 7, "from-a", 2); /* replica 7 and replica 9 write concurrently */
  put(&b, &c, 9, "from-b", 3);
  assert_false(dyna_obj_descends(&a, &b));
  assert_false(dyna_obj_descends(&b, &a));
  merged(&a, &b, &ab);
  merged(&b, &a, &ba);
  assert_true(dyna_obj_equal(&ab, &ba));
  assert_int_equal(dyna_obj_nvals(&ab), 2);
  assert_true(has_value(&ab, "from-a"));
  assert_true(has_value(&ab, "from-b"));
  assert_false(has_value(&ab, "base"));
  check_invariants(&ab);
  dyna_obj_clear(&base);
  dyna_obj_clear(&a);
  dyna_obj_clear(&b);
  dyna_obj_clear(&ab);
  dyna_obj_clear(&ba);
  dyna_ctx_clear(&c);
}

static void test_read_modify_write_keeps_one(void **state) {
  (void)state;
  dyna_obj_t o;
  dyna_ctx_t c;
  dyna_obj_init(&o);
  dyna_ctx_init(&c);
  char buf[16];
  for (int i = 0; i < 100; i++) {
    ctx_of(&o, &c);
    snprintf(buf, sizeof(buf), "v%d", i);
    put(&o, &c, (uint64_t)(i % 3) + 1, buf, (uint64_t)i); /* rotating coordinators */
    assert_int_equal(dyna_obj_nvals(&o), 1);
    assert_true(has_value(&o, buf));
  }
  check_invariants(&o);
  dyna_obj_clear(&o);
  dyna_ctx_clear(&c);
}

static void test_stale_context_two_siblings(void **state) {
  (void)state;
  dyna_obj_t o;
  dyna_ctx_t stale, fresh;
  dyna_obj_init(&o);
  dyna_ctx_init(&stale);
  dyna_ctx_init(&fresh);
  put(&o, NULL, 1, "v0", 1);
  ctx_of(&o, &stale);
  put(&o, &stale, 1, "alice", 2); /* two clients, same stale context */
  put(&o, &stale, 1, "bob", 3);
  assert_int_equal(dyna_obj_nvals(&o), 2);
  assert_true(has_value(&o, "alice"));
  assert_true(has_value(&o, "bob"));
  assert_false(has_value(&o, "v0"));
  put(&o, &stale, 1, "bob", 4); /* a retry adds one concurrent sibling, no more */
  assert_int_equal(dyna_obj_nvals(&o), 3);
  ctx_of(&o, &fresh);
  put(&o, &fresh, 2, "merged", 5); /* a third write with the merged context */
  assert_int_equal(dyna_obj_nvals(&o), 1);
  assert_true(has_value(&o, "merged"));
  check_invariants(&o);
  dyna_obj_clear(&o);
  dyna_ctx_clear(&stale);
  dyna_ctx_clear(&fresh);
}

static void test_blind_write_keeps_siblings(void **state) {
  (void)state;
  dyna_obj_t o;
  dyna_ctx_t empty;
  dyna_obj_init(&o);
  dyna_ctx_init(&empty);
  put(&o, NULL, 1, "a", 1);
  put(&o, &empty, 1, "b", 2);
  put(&o, NULL, 2, "c", 3);
  assert_int_equal(dyna_obj_nvals(&o), 3);
  /* canonical order: node 1 newest first, then node 2 */
  assert_memory_equal(dyna_obj_val(&o, 0)->data, "b", 1);
  assert_memory_equal(dyna_obj_val(&o, 1)->data, "a", 1);
  assert_memory_equal(dyna_obj_val(&o, 2)->data, "c", 1);
  assert_null(dyna_obj_val(&o, 3));
  dyna_obj_clear(&o);
}

static void test_context_from_elsewhere(void **state) {
  (void)state;
  /* A context naming a coordinator this replica has not heard of yet. */
  dyna_obj_t o;
  dyna_vv_entry_t e[2] = {{3, 5}, {8, 2}};
  dyna_ctx_t c = {2, e};
  dyna_obj_init(&o);
  put(&o, NULL, 8, "old", 1);
  put(&o, &c, 5, "new", 2);
  assert_int_equal(o.n, 3);
  assert_int_equal(o.e[0].node, 3);
  assert_int_equal(o.e[0].counter, 5);
  assert_int_equal(o.e[0].nvals, 0);
  assert_int_equal(o.e[1].node, 5);
  assert_int_equal(o.e[1].counter, 1);
  assert_int_equal(o.e[2].node, 8);
  assert_int_equal(o.e[2].counter, 2);
  assert_int_equal(dyna_obj_nvals(&o), 1);
  check_invariants(&o);
  check_roundtrip(&o);
  dyna_obj_clear(&o);
}

static void test_tombstones_and_latest(void **state) {
  (void)state;
  dyna_obj_t o;
  dyna_val_t t = mktomb(100);
  dyna_obj_init(&o);
  assert_int_equal(dyna_obj_update(&o, NULL, 3, &t), 0);
  assert_int_equal(dyna_obj_nvals(&o), 1);
  assert_int_equal(dyna_obj_nlive(&o), 0);
  assert_null(dyna_obj_latest(&o)); /* deleted */
  check_roundtrip(&o);
  put(&o, NULL, 1, "a", 10);
  put(&o, NULL, 2, "b", 20);
  assert_int_equal(dyna_obj_nvals(&o), 3);
  assert_int_equal(dyna_obj_nlive(&o), 2);
  /* the tombstone is newer but not live: greatest ts among live values wins */
  assert_memory_equal(dyna_obj_latest(&o)->data, "b", 1);
  put(&o, NULL, 5, "c", 20); /* same ts, greater node id */
  assert_memory_equal(dyna_obj_latest(&o)->data, "c", 1);
  put(&o, NULL, 4, "x", 20); /* same ts, smaller node id: no change */
  assert_memory_equal(dyna_obj_latest(&o)->data, "c", 1);
  put(&o, NULL, 5, "d", 20); /* same ts, same node, greater dot */
  assert_memory_equal(dyna_obj_latest(&o)->data, "d", 1);
  put(&o, NULL, 1, "e", 19);
  assert_memory_equal(dyna_obj_latest(&o)->data, "d", 1);
  /* a delete with the full context leaves one tombstone */
  dyna_ctx_t c;
  dyna_ctx_init(&c);
  ctx_of(&o, &c);
  t.ts_ms = 200;
  assert_int_equal(dyna_obj_update(&o, &c, 2, &t), 0);
  assert_int_equal(dyna_obj_nvals(&o), 1);
  assert_int_equal(dyna_obj_nlive(&o), 0);
  assert_null(dyna_obj_latest(&o));
  dyna_ctx_clear(&c);
  dyna_obj_clear(&o);
}

static void test_update_errors(void **state) {
  (void)state;
  dyna_obj_t o, saved;
  dyna_obj_init(&o);
  dyna_obj_init(&saved);
  put(&o, NULL, 1, "a", 1);
  assert_int_equal(dyna_obj_copy(&saved, &o), 0);
  dyna_val_t v = mkval("z", 1);
  v.flags = 0x02;
  assert_int_equal(dyna_obj_update(&o, NULL, 1, &v), DYNA_EINVAL);
  v = mkval("z", 1);
  v.data = NULL;
  assert_int_equal(dyna_obj_update(&o, NULL, 1, &v), DYNA_EINVAL);
  v = mkval("z", 1);
  v.len = (size_t)DYNA_VAL_MAX_BYTES + 1; /* rejected before any byte is read */
  assert_int_equal(dyna_obj_update(&o, NULL, 1, &v), DYNA_ETOOBIG);
  v = mkval("z", 1);
  dyna_vv_entry_t unsorted[2] = {{5, 1}, {2, 1}}, dup[2] = {{5, 1}, {5, 2}},
                  zero[1] = {{5, 0}}, huge[1] = {{9, UINT64_MAX}};
  dyna_ctx_t c = {2, unsorted};
  assert_int_equal(dyna_obj_update(&o, &c, 1, &v), DYNA_ECONTEXT);
  c.e = dup;
  assert_int_equal(dyna_obj_update(&o, &c, 1, &v), DYNA_ECONTEXT);
  c.n = 1;
  c.e = zero;
  assert_int_equal(dyna_obj_update(&o, &c, 1, &v), DYNA_ECONTEXT);
  c.e = huge; /* counter would overflow */
  assert_int_equal(dyna_obj_update(&o, &c, 9, &v), DYNA_ETOOBIG);
  assert_true(dyna_obj_equal(&o, &saved));
  assert_int_equal(dyna_obj_update(&o, &c, 1, &v), 0); /* other node: fine */
  assert_int_equal(dyna_obj_nvals(&o), 2);
  dyna_obj_clear(&o);
  dyna_obj_clear(&saved);
}

/* ---- encodings ------------------------------------------------------------------ */

static void test_encode_canonical(void **state) {
  (void)state;
  dyna_obj_t o, p;
  dyna_ctx_t c;
  dyna_obj_init(&o);
  dyna_obj_init(&p);
  dyna_ctx_init(&c);
  dyna_val_t t = mktomb(300);
  put(&o, NULL, 1, "a", 5);
  ctx_of(&o, &c);
  put(&o, &c, 1, "b", 7);
  assert_int_equal(dyna_obj_update(&o, NULL, 2, &t), 0);
  const uint8_t want[] = {1, 2,                       /* version, 2 entries */
                          1, 0, 0, 0, 0, 0, 0, 0, 2, 1, /* node 1, counter 2, 1 value */
                          0, 7, 1, 'b',                /* flags, ts, len, bytes */
                          2, 0, 0, 0, 0, 0, 0, 0, 1, 1, /* node 2, counter 1, 1 value */
                          1, 0xac, 0x02, 0};           /* tombstone, ts 300, empty */
  dyna_buf_t b = DYNA_BUF_INIT;
  encode(&o, &b);
  assert_int_equal(b.len, sizeof(want));
  assert_memory_equal(b.data, want, sizeof(want));
  assert_int_equal(dyna_obj_decode(want, sizeof(want), &p), 0);
  assert_true(dyna_obj_equal(&o, &p));
  /* context bytes */
  const uint8_t cwant[] = {1, 2, 1, 0, 0, 0, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 0, 0, 0, 1};
  ctx_of(&o, &c);
  dyna_buf_reset(&b);
  dyna_ctx_encode(&c, &b);
  assert_int_equal(b.len, sizeof(cwant));
  assert_memory_equal(b.data, cwant, sizeof(cwant));
  dyna_buf_free(&b);
  dyna_obj_clear(&o);
  dyna_obj_clear(&p);
  dyna_ctx_clear(&c);
}

/* Byte builders for hand-made (often malformed) encodings. */
static void w_hdr(dyna_buf_t *b, uint8_t version, uint64_t n) {
  dyna_buf_put_u8(b, version);
  dyna_buf_put_varint(b, n);
}

static void w_ent(dyna_buf_t *b, uint64_t node, uint64_t counter, uint64_t nvals) {
  dyna_buf_put_u64le(b, node);
  dyna_buf_put_varint(b, counter);
  dyna_buf_put_varint(b, nvals);
}

static void w_val(dyna_buf_t *b, uint8_t flags, uint64_t ts, const char *s) {
  dyna_buf_put_u8(b, flags);
  dyna_buf_put_varint(b, ts);
  dyna_buf_put_bytes(b, s, strlen(s));
}

/* Decoding b must fail with DYNA_ECORRUPT and leave a non-empty object untouched. */
static void expect_corrupt(const uint8_t *p, size_t len) {
  dyna_obj_t o, saved;
  dyna_obj_init(&o);
  dyna_obj_init(&saved);
  put(&o, NULL, 42, "keep", 1);
  assert_int_equal(dyna_obj_copy(&saved, &o), 0);
  assert_int_equal(dyna_obj_decode(p, len, &o), DYNA_ECORRUPT);
  assert_true(dyna_obj_equal(&o, &saved));
  dyna_obj_clear(&o);
  dyna_obj_clear(&saved);
}

static void expect_corrupt_buf(dyna_buf_t *b) {
  assert_false(b->oom);
  expect_corrupt(b->data, b->len);
  dyna_buf_reset(b);
}

/* A valid encoding of two entries and three values. */
static void w_valid(dyna_buf_t *b) {
  w_hdr(b, 1, 2);
  w_ent(b, 3, 4, 2);
  w_val(b, 0, 9, "four");
  w_val(b, 1, 8, "");
  w_ent(b, 300, 1, 1);
  w_val(b, 0, 1000, "x");
}

static void test_decode_rejects(void **state) {
  (void)state;
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_obj_t o;
  dyna_obj_init(&o);
  w_valid(&b);
  assert_int_equal(dyna_obj_decode(b.data, b.len, &o), 0);
  assert_int_equal(dyna_obj_nvals(&o), 3);
  for (size_t n = 0; n < b.len; n++) expect_corrupt(b.data, n); /* truncation */
  dyna_buf_put_u8(&b, 0);
  expect_corrupt_buf(&b); /* trailing byte */

  w_valid(&b);
  b.data[0] = 2;
  expect_corrupt_buf(&b); /* version */
  w_valid(&b);
  b.data[0] = 0;
  expect_corrupt_buf(&b);

  w_hdr(&b, 1, 2); /* unsorted nodes */
  w_ent(&b, 5, 1, 0);
  w_ent(&b, 3, 1, 0);
  expect_corrupt_buf(&b);
  w_hdr(&b, 1, 2); /* duplicate nodes */
  w_ent(&b, 5, 1, 0);
  w_ent(&b, 5, 2, 0);
  expect_corrupt_buf(&b);
  w_hdr(&b, 1, 1); /* zero counter */
  w_ent(&b, 5, 0, 0);
  expect_corrupt_buf(&b);
  w_hdr(&b, 1, 1); /* n_values > counter */
  w_ent(&b, 5, 1, 2);
  w_val(&b, 0, 1, "a");
  w_val(&b, 0, 1, "b");
  expect_corrupt_buf(&b);
  const uint8_t bad_flags[] = {0x02, 0x80, 0x03, 0xff};
  for (size_t i = 0; i < sizeof(bad_flags); i++) { /* unknown flag bits */
    w_hdr(&b, 1, 1);
    w_ent(&b, 5, 1, 1);
    w_val(&b, bad_flags[i], 1, "a");
    expect_corrupt_buf(&b);
  }

  /* Non-minimal varints: n_entries, counter, n_values, ts, len. */
  const uint8_t nm_n[] = {1, 0x80, 0x00};
  expect_corrupt(nm_n, sizeof(nm_n));
  const uint8_t nm_counter[] = {1, 1, 5, 0, 0, 0, 0, 0, 0, 0, 0x81, 0x00, 0};
  expect_corrupt(nm_counter, sizeof(nm_counter));
  const uint8_t nm_nvals[] = {1, 1, 5, 0, 0, 0, 0, 0, 0, 0, 1, 0x80, 0x00};
  expect_corrupt(nm_nvals, sizeof(nm_nvals));
  const uint8_t nm_ts[] = {1, 1, 5, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0x81, 0x80, 0x00, 0};
  expect_corrupt(nm_ts, sizeof(nm_ts));
  const uint8_t nm_len[] = {1, 1, 5, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 0x81, 0x00, 'a'};
  expect_corrupt(nm_len, sizeof(nm_len));
  const uint8_t ok_len[] = {1, 1, 5, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 0x01, 'a'};
  assert_int_equal(dyna_obj_decode(ok_len, sizeof(ok_len), &o), 0);
  /* A varint past 64 bits. */
  const uint8_t overflow[] = {1, 1, 5, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
                              0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0};
  expect_corrupt(overflow, sizeof(overflow));

  /* Counts over the limits. */
  w_hdr(&b, 1, DYNA_OBJ_MAX_ENTRIES + 1);
  for (uint64_t i = 0; i <= DYNA_OBJ_MAX_ENTRIES; i++) w_ent(&b, i, 1, 0);
  expect_corrupt_buf(&b);
  w_hdr(&b, 1, 2); /* more values in total than the limit */
  w_ent(&b, 1, DYNA_OBJ_MAX_VALUES / 2, DYNA_OBJ_MAX_VALUES / 2);
  for (int i = 0; i < DYNA_OBJ_MAX_VALUES / 2; i++) w_val(&b, 0, 0, "");
  w_ent(&b, 2, DYNA_OBJ_MAX_VALUES / 2 + 1, DYNA_OBJ_MAX_VALUES / 2 + 1);
  for (int i = 0; i <= DYNA_OBJ_MAX_VALUES / 2; i++) w_val(&b, 0, 0, "");
  expect_corrupt_buf(&b);
  w_hdr(&b, 1, 1); /* exactly at the limit is fine */
  w_ent(&b, 1, DYNA_OBJ_MAX_VALUES, DYNA_OBJ_MAX_VALUES);
  for (int i = 0; i < DYNA_OBJ_MAX_VALUES; i++) w_val(&b, 0, 0, "");
  assert_int_equal(dyna_obj_decode(b.data, b.len, &o), 0);
  assert_int_equal(dyna_obj_nvals(&o), DYNA_OBJ_MAX_VALUES);
  dyna_buf_reset(&b);

  /* A value one byte over the limit, with all its bytes present. */
  size_t big = (size_t)DYNA_VAL_MAX_BYTES + 1;
  w_hdr(&b, 1, 1);
  w_ent(&b, 1, 1, 1);
  dyna_buf_put_u8(&b, 0);
  dyna_buf_put_varint(&b, 0);
  dyna_buf_put_varint(&b, big);
  assert_int_equal(dyna_buf_reserve(&b, big), 0);
  memset(b.data + b.len, 'v', big);
  b.len += big;
  expect_corrupt_buf(&b);
  dyna_buf_free(&b);

  /* Counts the input cannot justify are rejected before allocating: with every
   * allocation failing, the answer is still DYNA_ECORRUPT, not DYNA_ENOMEM. */
  w_hdr(&b, 1, 1000);
  w_ent(&b, 1, 1, 0);
  dyna_mem_fail_after(0);
  assert_int_equal(dyna_obj_decode(b.data, b.len, &o), DYNA_ECORRUPT);
  dyna_mem_fail_after(-1);
  dyna_buf_reset(&b);
  w_hdr(&b, 1, 1);
  w_ent(&b, 1, 4000, 4000);
  w_val(&b, 0, 1, "abc");
  dyna_mem_fail_after(1); /* the entry array may be allocated, nothing more */
  assert_int_equal(dyna_obj_decode(b.data, b.len, &o), DYNA_ECORRUPT);
  dyna_mem_fail_after(-1);
  dyna_buf_free(&b);
  dyna_obj_clear(&o);
}

static void test_descends_take_care(void **state) {
  (void)state;
  /* b = (n, 2, [v2, v1]) has kept v1, which a = (n, 2, [v2]) has seen and dropped:
   * same counters, yet merging a into b removes v1, so b does not descend a. */
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_obj_t a, bb;
  dyna_obj_init(&a);
  dyna_obj_init(&bb);
  w_hdr(&b, 1, 1);
  w_ent(&b, 7, 2, 1);
  w_val(&b, 0, 2, "v2");
  assert_int_equal(dyna_obj_decode(b.data, b.len, &a), 0);
  dyna_buf_reset(&b);
  w_hdr(&b, 1, 1);
  w_ent(&b, 7, 2, 2);
  w_val(&b, 0, 2, "v2");
  w_val(&b, 0, 1, "v1");
  assert_int_equal(dyna_obj_decode(b.data, b.len, &bb), 0);
  assert_false(dyna_obj_descends(&bb, &a));
  assert_false(merge_changes_nothing(&bb, &a));
  assert_true(dyna_obj_descends(&a, &bb));
  assert_true(merge_changes_nothing(&a, &bb));
  dyna_obj_t empty;
  dyna_obj_init(&empty);
  assert_true(dyna_obj_descends(&a, &empty));
  assert_false(dyna_obj_descends(&empty, &a));
  dyna_buf_free(&b);
  dyna_obj_clear(&a);
  dyna_obj_clear(&bb);
}

static void test_limits(void **state) {
  (void)state;
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_obj_t o, p, saved;
  dyna_ctx_t c;
  dyna_obj_init(&o);
  dyna_obj_init(&p);
  dyna_obj_init(&saved);
  dyna_ctx_init(&c);
  /* A full object: one more blind sibling is refused, a resolving write is not. */
  w_hdr(&b, 1, 1);
  w_ent(&b, 1, DYNA_OBJ_MAX_VALUES, DYNA_OBJ_MAX_VALUES);
  for (int i = 0; i < DYNA_OBJ_MAX_VALUES; i++) w_val(&b, 0, 0, "s");
  assert_int_equal(dyna_obj_decode(b.data, b.len, &o), 0);
  assert_int_equal(dyna_obj_copy(&saved, &o), 0);
  dyna_val_t v = mkval("more", 1);
  assert_int_equal(dyna_obj_update(&o, NULL, 2, &v), DYNA_ETOOBIG);
  assert_true(dyna_obj_equal(&o, &saved));
  put(&p, NULL, 2, "other", 1); /* a merge that would pass the limit */
  assert_int_equal(dyna_obj_merge(&o, &p), DYNA_ETOOBIG);
  assert_true(dyna_obj_equal(&o, &saved));
  ctx_of(&o, &c);
  assert_int_equal(dyna_obj_update(&o, &c, 2, &v), 0);
  assert_int_equal(dyna_obj_nvals(&o), 1);
  dyna_buf_reset(&b);
  /* A counter at UINT64_MAX cannot take another event. */
  w_hdr(&b, 1, 1);
  w_ent(&b, 4, UINT64_MAX, 1);
  w_val(&b, 0, 0, "last");
  assert_int_equal(dyna_obj_decode(b.data, b.len, &o), 0);
  check_roundtrip(&o);
  assert_int_equal(dyna_obj_update(&o, NULL, 4, &v), DYNA_ETOOBIG);
  assert_int_equal(dyna_obj_update(&o, NULL, 5, &v), 0);
  /* Too many coordinators. */
  dyna_ctx_clear(&c);
  c.n = DYNA_OBJ_MAX_ENTRIES;
  c.e = calloc(c.n, sizeof(*c.e));
  assert_non_null(c.e);
  for (size_t i = 0; i < c.n; i++) c.e[i] = (dyna_vv_entry_t){2 * i + 10, 1};
  dyna_obj_clear(&o);
  assert_int_equal(dyna_obj_update(&o, &c, 10, &v), 0); /* existing node: fits */
  assert_int_equal(o.n, DYNA_OBJ_MAX_ENTRIES);
  assert_int_equal(dyna_obj_update(&o, &c, 11, &v), DYNA_ETOOBIG);
  free(c.e);
  dyna_buf_free(&b);
  dyna_obj_clear(&o);
  dyna_obj_clear(&p);
  dyna_obj_clear(&saved);
}

/* Decoding must fail with DYNA_ECONTEXT and leave a non-empty context untouched. */
static void expect_ctx_reject(const uint8_t *p, size_t len) {
  dyna_obj_t o;
  dyna_ctx_t c;
  dyna_obj_init(&o);
  dyna_ctx_init(&c);
  put(&o, NULL, 1, "x", 1);
  ctx_of(&o, &c);
  assert_int_equal(dyna_ctx_decode(p, len, &c), DYNA_ECONTEXT);
  assert_int_equal(c.n, 1);
  assert_int_equal(c.e[0].node, 1);
  assert_int_equal(c.e[0].counter, 1);
  dyna_ctx_clear(&c);
  dyna_obj_clear(&o);
}

static void test_ctx_codec(void **state) {
  (void)state;
  dyna_vv_entry_t e[3] = {{1, 7}, {1000, 1}, {UINT64_MAX, UINT64_MAX}};
  dyna_ctx_t c = {3, e}, d;
  dyna_ctx_init(&d);
  dyna_buf_t b = DYNA_BUF_INIT, t = DYNA_BUF_INIT;
  dyna_ctx_encode(&c, &b);
  assert_int_equal(dyna_ctx_decode(b.data, b.len, &d), 0);
  assert_int_equal(d.n, 3);
  assert_memory_equal(d.e, e, sizeof(e));
  dyna_ctx_encode(&d, &t);
  assert_int_equal(t.len, b.len);
  assert_memory_equal(t.data, b.data, b.len);
  /* through base64, as a user would see and type it */
  dyna_buf_reset(&t);
  dyna_b64_encode(b.data, b.len, &t);
  dyna_buf_t back = DYNA_BUF_INIT;
  assert_int_equal(dyna_b64_decode((const char *)t.data, t.len, &back), 0);
  assert_int_equal(dyna_ctx_decode(back.data, back.len, &d), 0);
  assert_memory_equal(d.e, e, sizeof(e));
  dyna_buf_free(&back);
  /* empty input and the encoded empty context both mean "no prior read" */
  assert_int_equal(dyna_ctx_decode(NULL, 0, &d), 0);
  assert_int_equal(d.n, 0);
  const uint8_t empty[] = {1, 0};
  assert_int_equal(dyna_ctx_decode(empty, 2, &d), 0);
  assert_int_equal(d.n, 0);
  /* rejects */
  for (size_t n = 1; n < b.len; n++) expect_ctx_reject(b.data, n);
  dyna_buf_put_u8(&b, 0);
  expect_ctx_reject(b.data, b.len);
  b.len--;
  b.data[0] = 2;
  expect_ctx_reject(b.data, b.len);
  const uint8_t unsorted[] = {1, 2, 5, 0, 0, 0, 0, 0, 0, 0, 1, 4, 0, 0, 0, 0, 0, 0, 0, 1};
  expect_ctx_reject(unsorted, sizeof(unsorted));
  const uint8_t dup[] = {1, 2, 5, 0, 0, 0, 0, 0, 0, 0, 1, 5, 0, 0, 0, 0, 0, 0, 0, 1};
  expect_ctx_reject(dup, sizeof(dup));
  const uint8_t zero[] = {1, 1, 5, 0, 0, 0, 0, 0, 0, 0, 0};
  expect_ctx_reject(zero, sizeof(zero));
  const uint8_t nonmin[] = {1, 1, 5, 0, 0, 0, 0, 0, 0, 0, 0x81, 0x00};
  expect_ctx_reject(nonmin, sizeof(nonmin));
  const uint8_t nonmin_n[] = {1, 0x80, 0x00};
  expect_ctx_reject(nonmin_n, sizeof(nonmin_n));
  const uint8_t many[] = {1, 0x81, 0x20}; /* 4097 entries */
  expect_ctx_reject(many, sizeof(many));
  dyna_buf_reset(&t);
  w_hdr(&t, 1, DYNA_OBJ_MAX_ENTRIES + 1);
  for (uint64_t i = 0; i <= DYNA_OBJ_MAX_ENTRIES; i++) {
    dyna_buf_put_u64le(&t, i);
    dyna_buf_put_varint(&t, 1);
  }
  expect_ctx_reject(t.data, t.len);
  const uint8_t unjustified[] = {1, 100, 5, 0, 0, 0, 0, 0, 0, 0, 1};
  dyna_mem_fail_after(0);
  assert_int_equal(dyna_ctx_decode(unjustified, sizeof(unjustified), &d), DYNA_ECONTEXT);
  dyna_mem_fail_after(-1);
  dyna_buf_free(&b);
  dyna_buf_free(&t);
  dyna_ctx_clear(&d);
}

/* ---- random histories against a model ---------------------------------------------- */

#define H_NODES 4
#define H_CLIENTS 3
#define H_WORDS 4
#define H_MAX_WRITES (64 * H_WORDS)
#define H_SNAPS 16

typedef struct wset { uint64_t w[H_WORDS]; } wset_t;

static void ws_add(wset_t *s, unsigned id) { s->w[id / 64] |= 1ull << (id % 64); }
static int ws_has(const wset_t *s, unsigned id) { return (s->w[id / 64] >> (id % 64)) & 1; }
static wset_t ws_or(wset_t a, wset_t b) {
  for (int i = 0; i < H_WORDS; i++) a.w[i] |= b.w[i];
  return a;
}
static wset_t ws_minus(wset_t a, wset_t b) {
  for (int i = 0; i < H_WORDS; i++) a.w[i] &= ~b.w[i];
  return a;
}
static int ws_eq(const wset_t *a, const wset_t *b) { return !memcmp(a, b, sizeof(*a)); }

/* A replica's object, or a snapshot, with the model's history and live set. */
typedef struct mobj {
  dyna_obj_t o;
  wset_t hist, live;
} mobj_t;

typedef struct mclient {
  dyna_ctx_t c;
  wset_t hist;
} mclient_t;

static const uint64_t NODE_IDS[H_NODES] = {UINT64_MAX - 1, 3, 1ull << 40, 77};

/* The model's merge of b into a. */
static void model_merge(mobj_t *a, const mobj_t *b) {
  wset_t dropped_a = ws_minus(a->hist, a->live), dropped_b = ws_minus(b->hist, b->live);
  a->live = ws_or(ws_minus(a->live, dropped_b), ws_minus(b->live, dropped_a));
  a->hist = ws_or(a->hist, b->hist);
}

/* Checks that o holds exactly the model's live values (each value's bytes are its
 * write id), with no duplicates. */
static void check_model(const mobj_t *m) {
  wset_t seen = {{0}};
  check_invariants(&m->o);
  for (size_t i = 0; i < dyna_obj_nvals(&m->o); i++) {
    const dyna_val_t *v = dyna_obj_val(&m->o, i);
    assert_int_equal(v->len, 2);
    unsigned id = (unsigned)(v->data[0] | v->data[1] << 8);
    assert_false(ws_has(&seen, id));
    ws_add(&seen, id);
  }
  assert_true(ws_eq(&seen, &m->live));
}

static void mobj_merge(mobj_t *a, const mobj_t *b) {
  assert_int_equal(dyna_obj_merge(&a->o, &b->o), 0);
  model_merge(a, b);
  check_model(a);
}

static void mobj_copy(mobj_t *dst, const mobj_t *src) {
  assert_int_equal(dyna_obj_copy(&dst->o, &src->o), 0);
  dst->hist = src->hist;
  dst->live = src->live;
}

/* A client writes id through coordinator r, with its context or blind. */
static void h_write(mobj_t *r, uint64_t node, const mclient_t *cl, int blind, unsigned id,
                    uint64_t *rng) {
  uint8_t bytes[2] = {(uint8_t)id, (uint8_t)(id >> 8)};
  dyna_val_t v = {rnd_below(rng, 8) == 0 ? DYNA_VAL_TOMBSTONE : 0, rnd_below(rng, 50), bytes, 2};
  wset_t ctx_hist = {{0}};
  if (!blind) ctx_hist = cl->hist;
  assert_int_equal(dyna_obj_update(&r->o, blind ? NULL : &cl->c, node, &v), 0);
  r->live = ws_minus(r->live, ctx_hist);
  ws_add(&r->live, id);
  r->hist = ws_or(r->hist, ctx_hist);
  ws_add(&r->hist, id);
  check_model(r);
}

/* The algebra of merge and descends on snapshots a, b, c. */
static void check_algebra(const mobj_t *a, const mobj_t *b, const mobj_t *c) {
  mobj_t ab, ba, ab_c, bc, a_bc, aa;
  mobj_t *all[] = {&ab, &ba, &ab_c, &bc, &a_bc, &aa};
  for (size_t i = 0; i < 6; i++) dyna_obj_init(&all[i]->o);
  mobj_copy(&ab, a);
  mobj_merge(&ab, b);
  mobj_copy(&ba, b);
  mobj_merge(&ba, a);
  assert_true(dyna_obj_equal(&ab.o, &ba.o)); /* commutative */
  mobj_copy(&ab_c, &ab);
  mobj_merge(&ab_c, c);
  mobj_copy(&bc, b);
  mobj_merge(&bc, c);
  mobj_copy(&a_bc, a);
  mobj_merge(&a_bc, &bc);
  assert_true(dyna_obj_equal(&ab_c.o, &a_bc.o)); /* associative */
  mobj_copy(&aa, a);
  mobj_merge(&aa, a);
  assert_true(dyna_obj_equal(&aa.o, &a->o)); /* idempotent */
  assert_int_equal(dyna_obj_merge(&aa.o, &aa.o), 0);
  assert_true(dyna_obj_equal(&aa.o, &a->o));
  /* descends is "merging changes nothing", and a merge descends both inputs */
  assert_int_equal(dyna_obj_descends(&b->o, &a->o), merge_changes_nothing(&b->o, &a->o));
  assert_int_equal(dyna_obj_descends(&a->o, &b->o), merge_changes_nothing(&a->o, &b->o));
  assert_true(dyna_obj_descends(&ab.o, &a->o));
  assert_true(dyna_obj_descends(&ab.o, &b->o));
  if (dyna_obj_descends(&b->o, &a->o)) assert_true(dyna_obj_equal(&ab.o, &b->o));
  check_roundtrip(&ab.o);
  for (size_t i = 0; i < 6; i++) dyna_obj_clear(&all[i]->o);
}

/* One random history; returns how many snapshots it took (stored in snaps). */
static size_t run_history(uint64_t seed, mobj_t *snaps) {
  uint64_t rng = seed;
  mobj_t rep[H_NODES];
  mclient_t cl[H_CLIENTS];
  size_t nsnap = 0;
  unsigned next_id = 0;
  memset(rep, 0, sizeof(rep));
  memset(cl, 0, sizeof(cl));
  for (int i = 0; i < H_NODES; i++) dyna_obj_init(&rep[i].o);
  for (int i = 0; i < H_CLIENTS; i++) dyna_ctx_init(&cl[i].c);
  int steps = 40 + (int)rnd_below(&rng, 160);
  for (int s = 0; s < steps && next_id < H_MAX_WRITES; s++) {
    size_t r = rnd_below(&rng, H_NODES), r2 = rnd_below(&rng, H_NODES);
    mclient_t *c = &cl[rnd_below(&rng, H_CLIENTS)];
    uint64_t op = rnd_below(&rng, 100);
    if (op < 35) { /* read */
      ctx_of(&rep[r].o, &c->c);
      c->hist = rep[r].hist;
    } else if (op < 70) { /* write, possibly with a stale context, then replicate */
      h_write(&rep[r], NODE_IDS[r], c, rnd_below(&rng, 10) == 0, next_id++, &rng);
      if (rnd_below(&rng, 2)) mobj_merge(&rep[r2], &rep[r]);
    } else { /* anti-entropy or read repair between two replicas */
      mobj_merge(&rep[r], &rep[r2]);
    }
    if (nsnap < H_SNAPS && rnd_below(&rng, 4) == 0) {
      dyna_obj_init(&snaps[nsnap].o);
      mobj_copy(&snaps[nsnap++], &rep[r]);
    }
  }
  /* Full anti-entropy: every replica converges to the same object. */
  for (int i = 1; i < H_NODES; i++) mobj_merge(&rep[0], &rep[i]);
  for (int i = 1; i < H_NODES; i++) {
    mobj_merge(&rep[i], &rep[0]);
    assert_true(dyna_obj_equal(&rep[i].o, &rep[0].o));
  }
  for (int i = 0; i < H_NODES; i++) dyna_obj_clear(&rep[i].o);
  for (int i = 0; i < H_CLIENTS; i++) dyna_ctx_clear(&cl[i].c);
  return nsnap;
}

static void test_random_histories(void **state) {
  (void)state;
  mobj_t snaps[H_SNAPS];
  for (uint64_t seed = 1; seed <= 60; seed++) {
    uint64_t rng = seed * 1000003;
    size_t n = run_history(seed, snaps);
    for (size_t k = 0; n > 0 && k < 40; k++)
      check_algebra(&snaps[rnd_below(&rng, n)], &snaps[rnd_below(&rng, n)],
                    &snaps[rnd_below(&rng, n)]);
    for (size_t i = 0; i < n; i++) dyna_obj_clear(&snaps[i].o);
  }
}

/* A random well-formed object over nodes 1..4: any counters and sibling counts (so
 * also states no history of writes produces, like equal clocks with different
 * values), values named after their dot so that equal dots carry equal values. */
static void random_structure(uint64_t *rng, dyna_obj_t *o) {
  dyna_buf_t b = DYNA_BUF_INIT;
  uint64_t nodes[4];
  size_t n = 0;
  for (uint64_t node = 1; node <= 4; node++)
    if (rnd_below(rng, 3)) nodes[n++] = node;
  w_hdr(&b, 1, n);
  for (size_t i = 0; i < n; i++) {
    uint64_t counter = 1 + rnd_below(rng, 5), nv = rnd_below(rng, counter + 1);
    w_ent(&b, nodes[i], counter, nv);
    for (uint64_t j = 0; j < nv; j++) {
      char name[24];
      snprintf(name, sizeof(name), "%u.%u", (unsigned)nodes[i], (unsigned)(counter - j));
      w_val(&b, 0, counter - j, name);
    }
  }
  assert_false(b.oom);
  assert_int_equal(dyna_obj_decode(b.data, b.len, o), 0);
  dyna_buf_free(&b);
}

static void test_random_structures(void **state) {
  (void)state;
  uint64_t rng = 42;
  dyna_obj_t a, b, c, ab, ba, ab_c, bc, a_bc;
  dyna_obj_t *all[] = {&a, &b, &c, &ab, &ba, &ab_c, &bc, &a_bc};
  for (size_t i = 0; i < 8; i++) dyna_obj_init(all[i]);
  int descends = 0, not_descends = 0;
  for (int k = 0; k < 3000; k++) {
    random_structure(&rng, &a);
    random_structure(&rng, &b);
    random_structure(&rng, &c);
    merged(&a, &b, &ab);
    merged(&b, &a, &ba);
    assert_true(dyna_obj_equal(&ab, &ba));
    merged(&ab, &c, &ab_c);
    merged(&b, &c, &bc);
    merged(&a, &bc, &a_bc);
    assert_true(dyna_obj_equal(&ab_c, &a_bc));
    assert_true(merge_changes_nothing(&a, &a));
    int d = dyna_obj_descends(&b, &a);
    assert_int_equal(d, merge_changes_nothing(&b, &a));
    descends += d;
    not_descends += !d;
    assert_true(dyna_obj_descends(&ab, &a));
    check_invariants(&ab_c);
  }
  assert_true(descends > 50 && not_descends > 50); /* both outcomes exercised */
  for (size_t i = 0; i < 8; i++) dyna_obj_clear(all[i]);
}

/* The encoding of what a blind write (dyna_obj_update with o's own context) makes of a
 * copy of o, by the general way. */
static void blind_by_context(const dyna_obj_t *o, uint64_t node, const dyna_val_t *v, int *rc, dyna_buf_t *out) {
  dyna_obj_t w;
  dyna_ctx_t c;
  dyna_obj_init(&w);
  dyna_ctx_init(&c);
  assert_int_equal(dyna_obj_copy(&w, o), 0);
  ctx_of(&w, &c);
  *rc = dyna_obj_update(&w, &c, node, v);
  if (!*rc) encode(&w, out);
  dyna_obj_clear(&w);
  dyna_ctx_clear(&c);
}

/* dyna_obj_update_blind gives what the general way gives, on the object itself and on
 * its clock (dyna_obj_decode_clock: the SET path's shortcut, which touches only the
 * writer's entry), for writers before, among and after the entries, values and
 * tombstones; and the same errors, the object unchanged. */
static void test_blind_update_on_a_clock(void **state) {
  (void)state;
  uint64_t rng = 7;
  dyna_obj_t o, clock;
  dyna_obj_init(&o);
  dyna_obj_init(&clock);
  dyna_buf_t b = DYNA_BUF_INIT, want = DYNA_BUF_INIT, got = DYNA_BUF_INIT;
  for (int k = 0; k < 2000; k++) {
    random_structure(&rng, &o);
    encode(&o, &b);
    dyna_obj_info_t info;
    assert_int_equal(dyna_obj_decode_clock(b.data, b.len, &clock, &info), 0);
    uint64_t node = rnd_below(&rng, 6); /* 0 and 5: before and after nodes 1..4 */
    dyna_val_t v = rnd_below(&rng, 4) ? mkval(k % 2 ? "new" : "", 100 + (uint64_t)k) : mktomb(100);
    int want_rc;
    blind_by_context(&o, node, &v, &want_rc, &want);
    assert_int_equal(want_rc, 0);
    /* On the bytes: appended after what the buffer held, nothing decoded. */
    dyna_buf_reset(&got);
    dyna_buf_put(&got, "xy", 2);
    dyna_obj_info_t bi;
    assert_int_equal(dyna_obj_encode_blind(k % 7 ? b.data : NULL, k % 7 ? b.len : 0, node, &v, &got, &bi), 0);
    if (k % 7) {
      assert_int_equal(got.len, 2 + want.len);
      assert_memory_equal(got.data + 2, want.data, want.len);
      assert_int_equal(bi.has_latest, info.has_latest);
      assert_int_equal(bi.nvals, info.nvals);
    } else { /* no object stored: the writer's entry alone */
      dyna_obj_t none;
      dyna_obj_init(&none);
      assert_int_equal(dyna_obj_update_blind(&none, node, &v), 0);
      encode(&none, &want);
      assert_int_equal(got.len, 2 + want.len);
      assert_memory_equal(got.data + 2, want.data, want.len);
      assert_int_equal(bi.has_latest + bi.nvals, 0);
      dyna_obj_clear(&none);
      continue;
    }
    dyna_obj_t *from[] = {&o, &clock};
    for (int i = 0; i < 2; i++) {
      assert_int_equal(dyna_obj_update_blind(from[i], node, &v), 0);
      check_invariants(from[i]);
      encode(from[i], &got);
      assert_int_equal(got.len, want.len);
      assert_memory_equal(got.data, want.data, want.len);
    }
  }
  /* Over 127 entries the count takes two bytes (the header is written last). */
  dyna_buf_reset(&b);
  w_hdr(&b, 1, 127);
  for (uint64_t i = 0; i < 127; i++) w_ent(&b, 2 * i + 10, 3, 1), w_val(&b, 0, 5, "v");
  assert_int_equal(dyna_obj_decode(b.data, b.len, &o), 0);
  dyna_val_t nv = mkval("new", 9);
  for (uint64_t node = 9; node <= 10; node++) { /* a new writer (128 entries), an old one (127) */
    int want_rc;
    blind_by_context(&o, node, &nv, &want_rc, &want);
    assert_int_equal(want_rc, 0);
    dyna_buf_reset(&got);
    dyna_obj_info_t bi;
    assert_int_equal(dyna_obj_encode_blind(b.data, b.len, node, &nv, &got, &bi), 0);
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.data, want.data, want.len);
  }
  /* Errors as the general way's, nothing changed: a counter at its end, a new writer
   * past the entry limit, a refused value. */
  dyna_buf_reset(&b);
  w_hdr(&b, 1, 1);
  w_ent(&b, 4, UINT64_MAX, 1);
  w_val(&b, 0, 0, "last");
  dyna_obj_info_t info;
  assert_int_equal(dyna_obj_decode_clock(b.data, b.len, &clock, &info), 0);
  dyna_val_t v = mkval("v", 1);
  assert_int_equal(dyna_obj_update_blind(&clock, 4, &v), DYNA_ETOOBIG);
  assert_int_equal(clock.n, 1);
  assert_int_equal(clock.e[0].nvals, 0);
  dyna_obj_info_t bi;
  dyna_buf_reset(&got);
  assert_int_equal(dyna_obj_encode_blind(b.data, b.len, 4, &v, &got, &bi), DYNA_ETOOBIG);
  assert_int_equal(got.len, 0);
  /* Bytes that do not decode, and an object with typed states (a deadline): refused and
   * left to the general way, the buffer as it was. */
  assert_int_equal(dyna_obj_encode_blind(b.data, b.len - 1, 5, &v, &got, &bi), DYNA_ECORRUPT);
  dyna_obj_clear(&o);
  assert_int_equal(dyna_obj_update_blind(&o, 4, &v), 0);
  assert_int_equal(dyna_obj_set_deadline(&o, 4, 12345), 0);
  encode(&o, &b);
  assert_int_equal(dyna_obj_encode_blind(b.data, b.len, 5, &v, &got, &bi), DYNA_EAGAIN);
  assert_int_equal(got.len, 0);
  dyna_buf_reset(&b);
  w_hdr(&b, 1, DYNA_OBJ_MAX_ENTRIES);
  for (uint64_t i = 0; i < DYNA_OBJ_MAX_ENTRIES; i++) w_ent(&b, 2 * i + 10, 1, 0);
  assert_int_equal(dyna_obj_decode_clock(b.data, b.len, &clock, &info), 0);
  assert_int_equal(dyna_obj_update_blind(&clock, 11, &v), DYNA_ETOOBIG);
  assert_int_equal(clock.n, DYNA_OBJ_MAX_ENTRIES);
  assert_int_equal(dyna_obj_update_blind(&clock, 10, &v), 0); /* an existing writer fits */
  dyna_val_t bad = {0x80, 1, NULL, 0};
  assert_int_equal(dyna_obj_update_blind(&clock, 10, &bad), DYNA_EINVAL);
  dyna_obj_clear(&o);
  dyna_obj_clear(&clock);
  dyna_buf_free(&b);
  dyna_buf_free(&want);
  dyna_buf_free(&got);
}

/* ---- allocation failure ------------------------------------------------------------- */

typedef int (*obj_op_fn)(dyna_obj_t *dst, const void *arg);

/* Runs op on a copy of start with the n-th allocation failing, n = 0, 1, ...: every
 * failure must be DYNA_ENOMEM with the destination unchanged; the first success must
 * give the same result as a run without failures. Leaks show under ASan. */
static void check_oom(const dyna_obj_t *start, obj_op_fn op, const void *arg) {
  dyna_obj_t want, dst;
  dyna_obj_init(&want);
  assert_int_equal(dyna_obj_copy(&want, start), 0);
  assert_int_equal(op(&want, arg), 0);
  for (long n = 0;; n++) {
    assert_true(n < 100000);
    dyna_obj_init(&dst);
    assert_int_equal(dyna_obj_copy(&dst, start), 0);
    dyna_mem_fail_after(n);
    int rc = op(&dst, arg);
    dyna_mem_fail_after(-1);
    if (rc == 0) {
      assert_true(dyna_obj_equal(&dst, &want));
      dyna_obj_clear(&dst);
      break;
    }
    assert_int_equal(rc, DYNA_ENOMEM);
    assert_true(dyna_obj_equal(&dst, start));
    dyna_obj_clear(&dst);
  }
  dyna_obj_clear(&want);
}

typedef struct upd_arg {
  const dyna_ctx_t *ctx;
  uint64_t node;
  dyna_val_t v;
} upd_arg_t;

typedef struct bytes_arg {
  const uint8_t *p;
  size_t len;
} bytes_arg_t;

static int op_merge(dyna_obj_t *dst, const void *arg) { return dyna_obj_merge(dst, arg); }
static int op_copy(dyna_obj_t *dst, const void *arg) { return dyna_obj_copy(dst, arg); }
static int op_update(dyna_obj_t *dst, const void *arg) {
  const upd_arg_t *u = arg;
  return dyna_obj_update(dst, u->ctx, u->node, &u->v);
}
static int op_update_blind(dyna_obj_t *dst, const void *arg) {
  const upd_arg_t *u = arg;
  return dyna_obj_update_blind(dst, u->node, &u->v);
}
static int op_decode(dyna_obj_t *dst, const void *arg) {
  const bytes_arg_t *b = arg;
  return dyna_obj_decode(b->p, b->len, dst);
}

static void test_alloc_failure(void **state) {
  (void)state;
  dyna_obj_t a, b;
  dyna_ctx_t c, stale;
  dyna_obj_init(&a);
  dyna_obj_init(&b);
  dyna_ctx_init(&c);
  dyna_ctx_init(&stale);
  put(&a, NULL, 1, "a1", 1);
  ctx_of(&a, &stale);
  put(&a, NULL, 3, "a3", 2);
  put(&a, &stale, 1, "a1'", 3);
  assert_int_equal(dyna_obj_copy(&b, &a), 0);
  put(&b, &stale, 2, "b2", 4);
  put(&b, NULL, 5, "", 5);
  put(&a, NULL, 4, "a4", 6);
  ctx_of(&b, &c);

  check_oom(&a, op_merge, &b);
  check_oom(&b, op_merge, &a);
  check_oom(&a, op_copy, &b);
  upd_arg_t u = {&c, 2, mkval("new", 9)};
  check_oom(&a, op_update, &u);
  u.ctx = NULL;
  u.node = 9; /* new entry at the end */
  check_oom(&a, op_update, &u);
  u.ctx = &stale;
  u.node = 0; /* new entry at the front */
  check_oom(&b, op_update, &u);
  dyna_buf_t enc = DYNA_BUF_INIT;
  dyna_obj_t m;
  dyna_obj_init(&m);
  merged(&a, &b, &m);
  encode(&m, &enc);
  bytes_arg_t ba = {enc.data, enc.len};
  check_oom(&a, op_decode, &ba);
  /* A blind write on a clock: an existing writer, a new one in front, at the end. */
  dyna_obj_t clock;
  dyna_obj_init(&clock);
  dyna_obj_info_t info;
  assert_int_equal(dyna_obj_decode_clock(enc.data, enc.len, &clock, &info), 0);
  const uint64_t writers[] = {2, 0, 9};
  for (size_t i = 0; i < 3; i++) {
    u.node = writers[i];
    check_oom(&clock, op_update_blind, &u);
    check_oom(&m, op_update_blind, &u);
  }
  dyna_obj_clear(&clock);

  /* dyna_obj_context and dyna_ctx_decode: out unchanged on failure */
  for (long n = 0;; n++) {
    dyna_mem_fail_after(n);
    int rc = dyna_obj_context(&m, &c);
    dyna_mem_fail_after(-1);
    if (rc == 0) break;
    assert_int_equal(rc, DYNA_ENOMEM);
    assert_int_equal(c.n, b.n);
  }
  assert_int_equal(c.n, m.n);
  dyna_buf_reset(&enc);
  dyna_ctx_encode(&c, &enc);
  for (long n = 0;; n++) {
    dyna_mem_fail_after(n);
    int rc = dyna_ctx_decode(enc.data, enc.len, &stale);
    dyna_mem_fail_after(-1);
    if (rc == 0) break;
    assert_int_equal(rc, DYNA_ENOMEM);
    assert_int_equal(stale.n, 1);
  }
  assert_int_equal(stale.n, m.n);

  /* encoders flag oom; base64 decode reports it */
  dyna_buf_t out = DYNA_BUF_INIT;
  dyna_mem_fail_after(0);
  dyna_obj_encode(&m, &out);
  dyna_mem_fail_after(-1);
  assert_true(out.oom);
  dyna_buf_free(&out);
  dyna_mem_fail_after(0);
  assert_int_equal(dyna_b64_decode("Zm9v", 4, &out), DYNA_ENOMEM);
  dyna_mem_fail_after(-1);
  assert_int_equal(out.len, 0);
  dyna_buf_free(&out);

  dyna_buf_free(&enc);
  dyna_obj_clear(&m);
  dyna_obj_clear(&a);
  dyna_obj_clear(&b);
  dyna_ctx_clear(&c);
  dyna_ctx_clear(&stale);
}

/* ---- base64 ------------------------------------------------------------------------ */

static void test_b64_vectors(void **state) {
  (void)state;
  static const char *const vec[][2] = {{"", ""},         {"f", "Zg=="},
                                       {"fo", "Zm8="},   {"foo", "Zm9v"},
                                       {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
                                       {"foobar", "Zm9vYmFy"}};
  dyna_buf_t b = DYNA_BUF_INIT;
  for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
    size_t n = strlen(vec[i][0]), m = strlen(vec[i][1]);
    dyna_buf_reset(&b);
    dyna_b64_encode(vec[i][0], n, &b);
    assert_int_equal(b.len, m);
    assert_int_equal(dyna_b64_encoded_len(n), m);
    if (m) assert_memory_equal(b.data, vec[i][1], m);
    dyna_buf_reset(&b);
    assert_int_equal(dyna_b64_decode(vec[i][1], m, &b), 0);
    assert_int_equal(b.len, n);
    if (n) assert_memory_equal(b.data, vec[i][0], n);
  }
  /* every byte value, every length up to 64, through encode and decode */
  uint8_t raw[64];
  for (size_t i = 0; i < sizeof(raw); i++) raw[i] = (uint8_t)(i * 37 + 255);
  dyna_buf_t d = DYNA_BUF_INIT;
  for (size_t n = 0; n <= sizeof(raw); n++) {
    dyna_buf_reset(&b);
    dyna_buf_reset(&d);
    dyna_b64_encode(raw, n, &b);
    assert_int_equal(dyna_b64_decode((const char *)b.data, b.len, &d), 0);
    assert_int_equal(d.len, n);
    if (n) assert_memory_equal(d.data, raw, n);
  }
  /* decode appends to what the buffer holds */
  dyna_buf_reset(&d);
  dyna_buf_put(&d, "x", 1);
  assert_int_equal(dyna_b64_decode("Zm8=", 4, &d), 0);
  assert_int_equal(d.len, 3);
  assert_memory_equal(d.data, "xfo", 3);
  dyna_buf_free(&b);
  dyna_buf_free(&d);
}

static void test_b64_rejects(void **state) {
  (void)state;
  static const struct {
    const char *s;
    size_t len;
  } bad[] = {
      {"Zg", 2},       {"Zg=", 3},      {"Zm9vY", 5},    /* length not a multiple of 4 */
      {"Zh==", 4},     {"Zm9=", 4},                      /* non-zero trailing bits */
      {"Zg==Zg==", 8}, {"=Zg=", 4},     {"Z===", 4},     /* misplaced padding */
      {"====", 4},     {"Zm=v", 4},     {"Zm8", 3},      /* missing padding */
      {"Zm 9", 4},     {"Zm9\n", 4},    {"Zm8\0", 4},    /* whitespace, NUL */
      {"Zm9-", 4},     {"Zm9_", 4},     {"Zm9*", 4},     /* URL-safe alphabet, junk */
      {"\xff\xff\xff\xff", 4},
  };
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_buf_put(&b, "keep", 4);
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(dyna_b64_decode(bad[i].s, bad[i].len, &b), DYNA_EINVAL);
    assert_int_equal(b.len, 4); /* untouched */
  }
  dyna_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty),
      cmocka_unit_test(test_descendant_replaces_ancestor),
      cmocka_unit_test(test_concurrent_writes_survive),
      cmocka_unit_test(test_read_modify_write_keeps_one),
      cmocka_unit_test(test_stale_context_two_siblings),
      cmocka_unit_test(test_blind_write_keeps_siblings),
      cmocka_unit_test(test_context_from_elsewhere),
      cmocka_unit_test(test_tombstones_and_latest),
      cmocka_unit_test(test_update_errors),
      cmocka_unit_test(test_encode_canonical),
      cmocka_unit_test(test_decode_rejects),
      cmocka_unit_test(test_descends_take_care),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_ctx_codec),
      cmocka_unit_test(test_random_histories),
      cmocka_unit_test(test_random_structures),
      cmocka_unit_test(test_blind_update_on_a_clock),
      cmocka_unit_test(test_alloc_failure),
      cmocka_unit_test(test_b64_vectors),
      cmocka_unit_test(test_b64_rejects),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
