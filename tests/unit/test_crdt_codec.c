/* test_crdt_codec.c: the typed-object encoding (core/crdt_codec.c): hand-built byte
 * strings for every rule the strict decoder enforces, truncation and trailing bytes
 * of real states, and single-byte corruptions (each either refused or decoding to a
 * state that re-encodes to exactly those bytes: decode is the inverse of encode). */
#include "crdt_testlib.h"
#include <math.h>

/* A hand-built encoding. */
typedef struct {
  dyna_buf_t b;
} enc_t;

static void e_init(enc_t *e, uint8_t ver, uint8_t type) {
  dyna_buf_init(&e->b);
  dyna_buf_put_u8(&e->b, ver);
  dyna_buf_put_u8(&e->b, type);
}
static void e_u8(enc_t *e, uint8_t v) { dyna_buf_put_u8(&e->b, v); }
static void e_var(enc_t *e, uint64_t v) { dyna_buf_put_varint(&e->b, v); }
static void e_u64(enc_t *e, uint64_t v) { dyna_buf_put_u64le(&e->b, v); }
static void e_dbl(enc_t *e, double d) {
  uint64_t u;
  memcpy(&u, &d, 8);
  e_u64(e, u);
}
static void e_bytes(enc_t *e, const char *s) { dyna_buf_put_bytes(&e->b, s, strlen(s)); }

/* Decodes e's bytes: returns the code; on success checks the re-encoding. */
static int e_decode(enc_t *e) {
  dyna_crdt_t s;
  dyna_crdt_init(&s, 0);
  int rc = dyna_crdt_decode(e->b.data, e->b.len, &s);
  if (rc == 0) {
    dyna_buf_t x = t_enc(&s);
    assert_int_equal(x.len, e->b.len);
    assert_memory_equal(x.data, e->b.data, x.len);
    dyna_buf_free(&x);
  }
  dyna_crdt_clear(&s);
  dyna_buf_free(&e->b);
  return rc;
}

/* Context with two actors 5 (counter 3) and 9 (counter 2); no expiry. */
static void e_ctx2(enc_t *e) {
  e_var(e, 2);
  e_u64(e, 5);
  e_var(e, 3);
  e_u64(e, 9);
  e_var(e, 2);
  e_var(e, 0);
}

/* A set with one member key and one dot (actor index ai, counter c, flags f). */
static int set1(const char *key, uint64_t ai, uint64_t c, uint8_t f) {
  enc_t e;
  e_init(&e, 1, DYNA_CRDT_SET);
  e_ctx2(&e);
  e_var(&e, 1);
  e_bytes(&e, key);
  e_var(&e, 1);
  e_var(&e, ai);
  e_var(&e, c);
  e_u8(&e, f);
  e_var(&e, 0);
  return e_decode(&e);
}

static void test_valid_and_header(void **st) {
  (void)st;
  assert_int_equal(set1("m", 0, 3, DYNA_CRDT_F_LIVE), 0);
  assert_int_equal(set1("m", 1, 1, DYNA_CRDT_F_LIVE), 0);
  enc_t e;
  for (int type = 0; type <= 7; type++) {
    e_init(&e, 1, (uint8_t)type);
    e_var(&e, 0);
    e_var(&e, 0);
    e_var(&e, 0);
    assert_int_equal(e_decode(&e), type >= 1 && type <= DYNA_CRDT_KEY ? 0 : DYNA_ECORRUPT);
  }
  e_init(&e, 3, DYNA_CRDT_SET); /* unknown version */
  e_var(&e, 0);
  e_var(&e, 0);
  e_var(&e, 0);
  assert_int_equal(e_decode(&e), DYNA_ECORRUPT);
  assert_int_equal(dyna_crdt_decode(NULL, 0, &(dyna_crdt_t){0}), DYNA_ECORRUPT);
}

/* Version 2: a version-1 body (context 5:3, 9:2, no expiry, no elements) followed by the
 * deletion stamp del_ms, n entries (index, counter). */
static int del_stamp(uint64_t del_ms, size_t n, const uint64_t *idx, const uint64_t *ctr) {
  enc_t e;
  e_init(&e, 2, DYNA_CRDT_SET);
  e_ctx2(&e);
  e_var(&e, 0);
  e_var(&e, del_ms);
  e_var(&e, n);
  for (size_t i = 0; i < n; i++) {
    e_var(&e, idx[i]);
    e_var(&e, ctr[i]);
  }
  return e_decode(&e);
}

static void test_deletion_stamp_rules(void **st) {
  (void)st;
  uint64_t i01[] = {0, 1}, i10[] = {1, 0}, i00[] = {0, 0}, i02[] = {0, 2};
  uint64_t c32[] = {3, 2}, c12[] = {1, 2}, c42[] = {4, 2}, c30[] = {3, 0};
  assert_int_equal(del_stamp(1000, 2, i01, c32), 0); /* re-encodes to the same bytes */
  assert_int_equal(del_stamp(1000, 2, i01, c12), 0); /* a delete that saw less */
  assert_int_equal(del_stamp(1000, 1, i10, c32 + 1), 0);
  assert_int_equal(del_stamp(1000, 0, NULL, NULL), 0);
  assert_int_equal(del_stamp(0, 2, i01, c32), DYNA_ECORRUPT);  /* version 2 without a stamp */
  assert_int_equal(del_stamp(1000, 2, i10, c32), DYNA_ECORRUPT); /* unsorted */
  assert_int_equal(del_stamp(1000, 2, i00, c32), DYNA_ECORRUPT); /* duplicate */
  assert_int_equal(del_stamp(1000, 2, i02, c32), DYNA_ECORRUPT); /* index out of the context */
  assert_int_equal(del_stamp(1000, 2, i01, c42), DYNA_ECORRUPT); /* beyond the context */
  assert_int_equal(del_stamp(1000, 2, i01, c30), DYNA_ECORRUPT); /* zero counter */
  uint64_t i012[] = {0, 1, 2}, c321[] = {3, 2, 1};
  assert_int_equal(del_stamp(1000, 3, i012, c321), DYNA_ECORRUPT); /* more entries than actors */
  /* A real state: never deleted, it is written as version 1 (as before stamps existed);
   * deleted, as version 2, and both decode back to themselves. */
  dyna_crdt_t s;
  dyna_crdt_init(&s, DYNA_CRDT_SET);
  assert_int_equal(dyna_crdt_sadd(&s, 7, (const uint8_t *)"m", 1), 1);
  dyna_buf_t b = t_enc(&s);
  assert_int_equal(b.data[0], 1);
  dyna_buf_free(&b);
  t_roundtrip(&s);
  assert_int_equal(dyna_crdt_delete(&s, 7, 5000), 0);
  b = t_enc(&s);
  assert_int_equal(b.data[0], 2);
  dyna_buf_free(&b);
  t_roundtrip(&s);
  dyna_crdt_clear(&s);
}

static void test_context_rules(void **st) {
  (void)st;
  uint64_t cases[][4] = {
      {5, 3, 5, 2}, /* duplicate actor */
      {9, 3, 5, 2}, /* unsorted */
      {5, 0, 9, 2}, /* zero counter */
  };
  for (size_t i = 0; i < 3; i++) {
    enc_t e;
    e_init(&e, 1, DYNA_CRDT_SET);
    e_var(&e, 2);
    e_u64(&e, cases[i][0]);
    e_var(&e, cases[i][1]);
    e_u64(&e, cases[i][2]);
    e_var(&e, cases[i][3]);
    e_var(&e, 0);
    e_var(&e, 0);
    assert_int_equal(e_decode(&e), DYNA_ECORRUPT);
  }
}

static void test_dot_rules(void **st) {
  (void)st;
  assert_int_equal(set1("m", 0, 4, DYNA_CRDT_F_LIVE), DYNA_ECORRUPT); /* not covered */
  assert_int_equal(set1("m", 2, 1, DYNA_CRDT_F_LIVE), DYNA_ECORRUPT); /* no such actor */
  assert_int_equal(set1("m", 0, 0, DYNA_CRDT_F_LIVE), DYNA_ECORRUPT); /* zero counter */
  assert_int_equal(set1("m", 0, 1, DYNA_CRDT_F_LIVE | DYNA_CRDT_F_BASE), DYNA_ECORRUPT);
  assert_int_equal(set1("m", 0, 1, 0), DYNA_ECORRUPT);
  /* two dots out of order, or equal */
  for (int k = 0; k < 2; k++) {
    enc_t e;
    e_init(&e, 1, DYNA_CRDT_SET);
    e_ctx2(&e);
    e_var(&e, 1);
    e_bytes(&e, "m");
    e_var(&e, 2);
    e_var(&e, 1);
    e_var(&e, 1);
    e_u8(&e, DYNA_CRDT_F_LIVE);
    e_var(&e, k ? 1 : 0);
    e_var(&e, 1);
    e_u8(&e, DYNA_CRDT_F_LIVE);
    e_var(&e, 0);
    assert_int_equal(e_decode(&e), DYNA_ECORRUPT);
  }
}

static void test_key_rules(void **st) {
  (void)st;
  const char *pairs[][2] = {{"b", "a"}, {"a", "a"}, {"ab", "a"}};
  for (size_t i = 0; i < 3; i++) {
    enc_t e;
    e_init(&e, 1, DYNA_CRDT_SET);
    e_ctx2(&e);
    e_var(&e, 2);
    for (int k = 0; k < 2; k++) {
      e_bytes(&e, pairs[i][k]);
      e_var(&e, 1);
      e_var(&e, 0);
      e_var(&e, (uint64_t)k + 1);
      e_u8(&e, DYNA_CRDT_F_LIVE);
      e_var(&e, 0);
    }
    assert_int_equal(e_decode(&e), DYNA_ECORRUPT);
  }
  /* an element with nothing in it */
  enc_t e;
  e_init(&e, 1, DYNA_CRDT_SET);
  e_ctx2(&e);
  e_var(&e, 1);
  e_bytes(&e, "a");
  e_var(&e, 0);
  e_var(&e, 0);
  assert_int_equal(e_decode(&e), DYNA_ECORRUPT);
  /* list positions: non-empty, not ending in 0x00 */
  const char *pos[] = {"", "a\x00", "\x80"};
  size_t plen[] = {0, 2, 1};
  for (size_t i = 0; i < 3; i++) {
    e_init(&e, 1, DYNA_CRDT_LIST);
    e_ctx2(&e);
    e_var(&e, 1);
    dyna_buf_put_bytes(&e.b, pos[i], plen[i]);
    e_var(&e, 1);
    e_var(&e, 0);
    e_var(&e, 1);
    e_u8(&e, DYNA_CRDT_F_LIVE | DYNA_CRDT_F_BYTES);
    e_bytes(&e, "v");
    e_var(&e, 0);
    assert_int_equal(e_decode(&e), i == 2 ? 0 : DYNA_ECORRUPT);
  }
  /* a counter's one element has the empty key, and there is one */
  e_init(&e, 1, DYNA_CRDT_COUNTER);
  e_ctx2(&e);
  e_var(&e, 1);
  e_bytes(&e, "k");
  e_var(&e, 1);
  e_var(&e, 0);
  e_var(&e, 1);
  e_u8(&e, DYNA_CRDT_F_LIVE);
  e_var(&e, 0);
  assert_int_equal(e_decode(&e), DYNA_ECORRUPT);
}

/* A zset member with one value (flags, optional double) and contributions. */
static int zset1(uint8_t flags, double d, int ncontrib, uint64_t seq, uint8_t cflags, double cd) {
  enc_t e;
  e_init(&e, 1, DYNA_CRDT_ZSET);
  e_ctx2(&e);
  e_var(&e, 1);
  e_bytes(&e, "m");
  e_var(&e, 1);
  e_var(&e, 0);
  e_var(&e, 1);
  e_u8(&e, flags);
  if (flags & DYNA_CRDT_F_DBL) e_dbl(&e, d);
  e_var(&e, (uint64_t)ncontrib);
  for (int k = 0; k < ncontrib; k++) {
    e_var(&e, 0);
    e_var(&e, seq);
    e_u8(&e, cflags);
    if (cflags & DYNA_CRDT_F_DBL) e_dbl(&e, cd);
  }
  return e_decode(&e);
}

static void test_number_rules(void **st) {
  (void)st;
  const uint8_t LB = DYNA_CRDT_F_LIVE | DYNA_CRDT_F_BASE, D = DYNA_CRDT_F_DBL;
  assert_int_equal(zset1(LB | D, 2.5, 0, 0, 0, 0), 0);
  assert_int_equal(zset1(LB | D, 2.5, 1, 2, D, 1.0), 0);
  assert_int_equal(zset1(LB | D, NAN, 0, 0, 0, 0), DYNA_ECORRUPT);
  assert_int_equal(zset1(LB | D, 0.0, 0, 0, 0, 0), DYNA_ECORRUPT);  /* zero is "absent" */
  assert_int_equal(zset1(LB | D, -0.0, 0, 0, 0, 0), DYNA_ECORRUPT); /* -0.0 too */
  assert_int_equal(zset1(DYNA_CRDT_F_LIVE | D, 1, 0, 0, 0, 0), DYNA_ECORRUPT); /* DBL needs BASE */
  assert_int_equal(zset1(LB | DYNA_CRDT_F_INT, 1, 0, 0, 0, 0), DYNA_ECORRUPT);
  assert_int_equal(zset1(LB, 0, 1, 4, D, 1.0), DYNA_ECORRUPT);  /* seq not covered */
  assert_int_equal(zset1(LB, 0, 1, 0, D, 1.0), DYNA_ECORRUPT);  /* zero seq */
  assert_int_equal(zset1(LB, 0, 1, 1, DYNA_CRDT_F_INT, 0), DYNA_ECORRUPT); /* zset: doubles */
  assert_int_equal(zset1(LB, 0, 1, 1, D, NAN), DYNA_ECORRUPT);
  assert_int_equal(zset1(LB, 0, 2, 1, 0, 0), DYNA_ECORRUPT); /* duplicate actor */
  assert_int_equal(zset1(LB, 0, 1, 1, 0, 0), 0);
  /* a non-minimal varint */
  enc_t e;
  e_init(&e, 1, DYNA_CRDT_SET);
  e_u8(&e, 0x80);
  e_u8(&e, 0x00);
  e_var(&e, 0);
  e_var(&e, 0);
  assert_int_equal(e_decode(&e), DYNA_ECORRUPT);
  /* a non-minimal length varint (a key "" written as 0x80 0x00; found by fuzz_crdt) */
  e_init(&e, 1, DYNA_CRDT_SET);
  e_ctx2(&e);
  e_var(&e, 1);
  e_u8(&e, 0x80);
  e_u8(&e, 0x00);
  e_var(&e, 1);
  e_var(&e, 0);
  e_var(&e, 1);
  e_u8(&e, DYNA_CRDT_F_LIVE);
  e_var(&e, 0);
  assert_int_equal(e_decode(&e), DYNA_ECORRUPT);
  /* contributions in a set */
  e_init(&e, 1, DYNA_CRDT_SET);
  e_ctx2(&e);
  e_var(&e, 1);
  e_bytes(&e, "m");
  e_var(&e, 1);
  e_var(&e, 0);
  e_var(&e, 1);
  e_u8(&e, DYNA_CRDT_F_LIVE);
  e_var(&e, 1);
  e_var(&e, 0);
  e_var(&e, 1);
  e_u8(&e, 0);
  assert_int_equal(e_decode(&e), DYNA_ECORRUPT);
}

static void test_expiry_rules(void **st) {
  (void)st;
  for (int k = 0; k < 4; k++) {
    enc_t e;
    e_init(&e, 1, DYNA_CRDT_SET);
    e_var(&e, 1);
    e_u64(&e, 5);
    e_var(&e, 3);
    e_var(&e, 1);
    e_var(&e, 0);
    e_var(&e, 1);
    uint8_t fl[] = {DYNA_CRDT_F_INT, 0, DYNA_CRDT_F_LIVE, DYNA_CRDT_F_INT};
    e_u8(&e, fl[k]);
    if (k == 0) e_var(&e, 2 * 5000); /* zigzag 5000 */
    if (k == 3) e_var(&e, 1);        /* zigzag -1: negative deadline */
    e_var(&e, 0);
    assert_int_equal(e_decode(&e), k < 2 ? 0 : DYNA_ECORRUPT);
  }
}

/* Real states of every type: every truncation and a trailing byte are refused; every
 * single-byte change either is refused or re-encodes to the changed bytes. */
static void test_mutations(void **st) {
  (void)st;
  for (uint8_t type = DYNA_CRDT_COUNTER; type <= DYNA_CRDT_LIST; type++) {
    uint64_t r = type;
    dyna_crdt_t s;
    dyna_crdt_init(&s, type);
    for (int i = 0; i < 25; i++) t_random_op(&s, 0x10 + (uint64_t)(i % 3), &r, 1000 + (uint64_t)i);
    dyna_buf_t b = t_enc(&s);
    dyna_crdt_t d;
    dyna_crdt_init(&d, 0);
    for (size_t n = 0; n < b.len; n++)
      assert_int_equal(dyna_crdt_decode(b.data, n, &d), DYNA_ECORRUPT);
    dyna_buf_t t = t_enc(&s);
    dyna_buf_put_u8(&t, 0);
    assert_int_equal(dyna_crdt_decode(t.data, t.len, &d), DYNA_ECORRUPT);
    for (size_t i = 0; i < b.len; i++) {
      for (int bit = 0; bit < 8; bit++) {
        b.data[i] ^= (uint8_t)(1u << bit);
        if (dyna_crdt_decode(b.data, b.len, &d) == 0) {
          dyna_buf_t x = t_enc(&d);
          assert_int_equal(x.len, b.len);
          assert_memory_equal(x.data, b.data, b.len);
          dyna_buf_free(&x);
        }
        b.data[i] ^= (uint8_t)(1u << bit);
      }
    }
    dyna_crdt_clear(&d);
    dyna_buf_free(&b);
    dyna_buf_free(&t);
    dyna_crdt_clear(&s);
  }
}

/* States of different types do not merge. */
static void test_type_mismatch(void **st) {
  (void)st;
  dyna_crdt_t a, b;
  dyna_crdt_init(&a, DYNA_CRDT_SET);
  dyna_crdt_init(&b, DYNA_CRDT_HASH);
  assert_int_equal(dyna_crdt_sadd(&a, 1, B("x")), 1);
  assert_int_equal(dyna_crdt_merge(&a, &b), DYNA_EINVAL);
  assert_int_equal(dyna_crdt_count(&a), 1);
  dyna_crdt_clear(&a);
  dyna_crdt_clear(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid_and_header), cmocka_unit_test(test_context_rules),
      cmocka_unit_test(test_deletion_stamp_rules),
      cmocka_unit_test(test_dot_rules),        cmocka_unit_test(test_key_rules),
      cmocka_unit_test(test_number_rules),     cmocka_unit_test(test_expiry_rules),
      cmocka_unit_test(test_mutations),        cmocka_unit_test(test_type_mismatch),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
