/* test_cluster_state.c: the cluster state's merge, digest and ring check against their
 * plain definitions: merging a state is upserting each of its records in turn (the
 * merge grows the member array in place, from its end); the kept digest is the digest
 * of the same state decoded afresh, and is forgotten by every change (gen moves);
 * dyna_cluster_same is digest equality; dyna_cluster_ring_settled (one walk of the two
 * sorted arrays) tells whether the ring's owners are exactly the VALID members. */
#include "core/cluster.h"
#include "util/buf.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void) { /* xorshift: the same cases every run */
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static dyna_member_t member(uint64_t id, uint64_t version, int status, const char *zone) {
  dyna_member_t m;
  memset(&m, 0, sizeof(m));
  m.id = id;
  m.version = version;
  m.status = (uint8_t)status;
  snprintf(m.name, sizeof(m.name), "n%llu", (unsigned long long)id);
  snprintf(m.addr, sizeof(m.addr), "127.0.0.1:%llu", (unsigned long long)(7000 + id));
  snprintf(m.client_addr, sizeof(m.client_addr), "127.0.0.1:%llu", (unsigned long long)(6000 + id));
  snprintf(m.zone, sizeof(m.zone), "%s", zone);
  return m;
}

/* A random state over ids 1..64: about half of them, random versions and statuses, and
 * a name that differs with the version (so equal versions may still differ). */
static void random_state(dyna_cluster_t *c) {
  dyna_cluster_init(c);
  for (uint64_t id = 1; id <= 64; id++) {
    if (next_rand() % 2) continue;
    uint64_t v = 1 + next_rand() % 3;
    dyna_member_t m = member(id, v, 1 + (int)(next_rand() % 3), "");
    if (next_rand() % 4 == 0) snprintf(m.name, sizeof(m.name), "x%llu", (unsigned long long)id);
    assert_int_equal(dyna_cluster_upsert(c, &m, NULL), 0);
  }
}

/* A copy of c by its encoding (no kept digest, a new array). */
static void copy_of(const dyna_cluster_t *c, dyna_cluster_t *out) {
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_cluster_encode(c, &b);
  assert_false(b.oom);
  dyna_cluster_init(out);
  assert_int_equal(dyna_cluster_decode(b.data, b.len, out), 0);
  dyna_buf_free(&b);
}

static uint64_t fresh_digest(const dyna_cluster_t *c) {
  dyna_cluster_t t;
  copy_of(c, &t);
  assert_int_equal(t.digest, 0);
  uint64_t d = dyna_cluster_digest(&t);
  dyna_cluster_clear(&t);
  return d;
}

static void assert_same_records(const dyna_cluster_t *a, const dyna_cluster_t *b) {
  assert_int_equal(a->n, b->n);
  for (size_t i = 0; i < a->n; i++) {
    assert_int_equal(a->m[i].id, b->m[i].id);
    assert_int_equal(dyna_member_cmp(&a->m[i], &b->m[i]), 0);
  }
}

static void test_merge_is_upserting_each_record(void **state) {
  (void)state;
  for (int round = 0; round < 500; round++) {
    dyna_cluster_t c, other, want;
    random_state(&c);
    random_state(&other);
    copy_of(&c, &want);
    int want_changed = 0;
    for (size_t i = 0; i < other.n; i++) {
      int ch = 0;
      assert_int_equal(dyna_cluster_upsert(&want, &other.m[i], &ch), 0);
      want_changed |= ch;
    }
    int changed = -1;
    assert_int_equal(dyna_cluster_merge(&c, &other, &changed), 0);
    assert_int_equal(changed, want_changed);
    assert_same_records(&c, &want);
    dyna_cluster_clear(&c);
    dyna_cluster_clear(&other);
    dyna_cluster_clear(&want);
  }
}

static void test_digest_is_kept_until_a_change(void **state) {
  (void)state;
  dyna_cluster_t c, other;
  random_state(&c);
  uint64_t d = dyna_cluster_digest(&c);
  assert_int_not_equal(d, 0);
  assert_int_equal(c.digest, d);
  assert_int_equal(d, fresh_digest(&c));
  uint64_t gen = c.gen;

  /* Merging what we hold changes nothing: the digest and gen stay. */
  copy_of(&c, &other);
  int changed = 1;
  assert_int_equal(dyna_cluster_merge(&c, &other, &changed), 0);
  assert_int_equal(changed, 0);
  assert_int_equal(c.gen, gen);
  assert_int_equal(c.digest, d);
  dyna_cluster_clear(&other);

  /* A newer record (upsert), a new member (merge), a ring version: each is forgotten. */
  dyna_member_t m = c.m[0];
  m.version++;
  assert_int_equal(dyna_cluster_upsert(&c, &m, NULL), 0);
  assert_true(c.gen > gen);
  uint64_t d2 = dyna_cluster_digest(&c);
  assert_int_not_equal(d2, d);
  assert_int_equal(d2, fresh_digest(&c));

  dyna_cluster_init(&other);
  dyna_member_t nm = member(1000, 1, DYNA_MEMBER_VALID, "");
  assert_int_equal(dyna_cluster_upsert(&other, &nm, NULL), 0);
  gen = c.gen;
  assert_int_equal(dyna_cluster_merge(&c, &other, &changed), 0);
  assert_int_equal(changed, 1);
  assert_true(c.gen > gen);
  uint64_t d3 = dyna_cluster_digest(&c);
  assert_int_not_equal(d3, d2);
  assert_int_equal(d3, fresh_digest(&c));
  dyna_cluster_clear(&other);

  c.ring_version++; /* a write of our own: dyna_cluster_touch */
  dyna_cluster_touch(&c);
  assert_int_not_equal(dyna_cluster_digest(&c), d3);
  assert_int_equal(dyna_cluster_digest(&c), fresh_digest(&c));

  gen = c.gen;
  dyna_cluster_clear(&c);
  assert_true(c.gen > gen);
  assert_int_equal(c.digest, 0);
}

static void test_same_is_digest_equality(void **state) {
  (void)state;
  dyna_cluster_t a, b;
  random_state(&a);
  copy_of(&a, &b);
  assert_true(dyna_cluster_same(&a, &b));
  assert_int_equal(dyna_cluster_digest(&a), dyna_cluster_digest(&b));

  /* Bytes past a string's terminator are no part of the state. */
  assert_true(a.n > 0);
  memset(b.m[0].name + strlen(b.m[0].name) + 1, 'z', 8);
  dyna_cluster_touch(&b);
  assert_true(dyna_cluster_same(&a, &b));
  assert_int_equal(dyna_cluster_digest(&a), dyna_cluster_digest(&b));

  dyna_member_t m = b.m[b.n - 1];
  snprintf(m.addr, sizeof(m.addr), "10.0.0.1:1");
  m.version++;
  assert_int_equal(dyna_cluster_upsert(&b, &m, NULL), 0);
  assert_false(dyna_cluster_same(&a, &b));
  assert_int_not_equal(dyna_cluster_digest(&a), dyna_cluster_digest(&b));
  dyna_cluster_clear(&b);

  copy_of(&a, &b);
  b.ring_author = 7;
  dyna_cluster_touch(&b);
  assert_false(dyna_cluster_same(&a, &b));
  assert_int_not_equal(dyna_cluster_digest(&a), dyna_cluster_digest(&b));
  dyna_cluster_clear(&a);
  dyna_cluster_clear(&b);
}

static void test_ring_settled(void **state) {
  (void)state;
  dyna_repl_t repl = dyna_repl_uniform(3);
  dyna_cluster_t c;
  dyna_cluster_init(&c);
  dyna_member_t self = member(5, 1, DYNA_MEMBER_VALID, "a");
  assert_int_equal(dyna_cluster_bootstrap(&c, &self, 64), 0);
  assert_true(dyna_cluster_ring_settled(&c));
  for (uint64_t id = 6; id <= 12; id++) {
    dyna_member_t m = member(id, 1, DYNA_MEMBER_VALID, id % 2 ? "a" : "b");
    assert_int_equal(dyna_cluster_upsert(&c, &m, NULL), 0);
  }
  assert_false(dyna_cluster_ring_settled(&c)); /* new VALID members own nothing yet */
  int ch = 0;
  assert_int_equal(dyna_cluster_fix_ring(&c, 5, &repl, &ch), 0);
  assert_int_equal(ch, 1);
  assert_true(dyna_cluster_ring_settled(&c));

  dyna_member_t m = *dyna_cluster_find(&c, 9);
  m.version++;
  snprintf(m.zone, sizeof(m.zone), "c"); /* an owner moved zone */
  assert_int_equal(dyna_cluster_upsert(&c, &m, NULL), 0);
  assert_false(dyna_cluster_ring_settled(&c));
  assert_int_equal(dyna_cluster_fix_ring(&c, 5, &repl, &ch), 0);
  assert_true(dyna_cluster_ring_settled(&c));

  m = *dyna_cluster_find(&c, 12); /* the last owner by id leaves */
  m.version++;
  m.status = DYNA_MEMBER_LEAVING;
  assert_int_equal(dyna_cluster_upsert(&c, &m, NULL), 0);
  assert_false(dyna_cluster_ring_settled(&c));
  assert_int_equal(dyna_cluster_fix_ring(&c, 5, &repl, &ch), 0);
  assert_true(dyna_cluster_ring_settled(&c));
  dyna_cluster_clear(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_merge_is_upserting_each_record),
      cmocka_unit_test(test_digest_is_kept_until_a_change),
      cmocka_unit_test(test_same_is_digest_equality),
      cmocka_unit_test(test_ring_settled),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
