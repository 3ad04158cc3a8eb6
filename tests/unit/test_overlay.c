/* test_overlay.c: the in-memory write batch of the LMDB engine (store/overlay.h) against
 * a plain model, the way lmdb_batch.c uses it: small overlays built write by write and
 * absorbed into a large one.
 *
 *  - every key of a pool (two spaces, lengths 0-40, shared prefixes) read back after
 *    each absorb: value, delete or absent as the model says; counts and bytes agree;
 *  - each visits every entry once; each_prefix, with and without the prefix index,
 *    finds exactly the model's keys under a prefix;
 *  - the table: every entry in the bucket its hash names, with the hash of its space
 *    and key; small tables (long chains) and large ones;
 *  - without memory: a failed set changes nothing, a failed grow in absorb leaves
 *    longer chains that still read right. */
#include "store/overlay.h"
#include "util/alloc.h"
#include "util/err.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL 3000
#define MAXK 40

typedef struct {
  uint8_t sp;
  uint8_t key[MAXK];
  size_t klen;
  int state; /* 0 absent, 1 value, 2 delete */
  uint8_t val[64];
  size_t vlen;
} mkey_t;

static mkey_t pool[POOL];
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* Keys that share prefixes as store keys do (a u16 partition first), some empty. */
static void make_pool(void) {
  for (size_t i = 0; i < POOL; i++) {
    mkey_t *m = &pool[i];
    memset(m, 0, sizeof(*m));
    m->sp = (uint8_t)(i % 3 == 0 ? DYNA_SPACE_HINT : DYNA_SPACE_OBJ);
    m->klen = i == 0 ? 0 : 1 + next_rand() % MAXK;
    for (size_t j = 0; j < m->klen; j++) m->key[j] = (uint8_t)(j < 2 ? next_rand() % 4 : next_rand());
    for (size_t k = 0; k < i; k++) /* unique (space, key) */
      if (pool[k].sp == m->sp && pool[k].klen == m->klen && !memcmp(pool[k].key, m->key, m->klen)) {
        m->klen = 0;
        m->sp = (uint8_t)DYNA_SPACE_COUNT; /* unused slot */
        break;
      }
  }
}

static int used(const mkey_t *m) { return m->sp < DYNA_SPACE_COUNT; }

/* The table's invariants, and the counts against a walk. */
static void check_layout(const dyna_overlay_t *o) {
  size_t n = 0, bytes = 0, nsp[DYNA_SPACE_COUNT] = {0};
  for (size_t i = 0; i < o->cap; i++) {
    for (const dyna_ov_entry_t *e = o->tab[i]; e; e = e->next) {
      assert_int_equal(e->hash & (o->cap - 1), i);
      assert_int_equal(e->hash, dyna_ov_hash((dyna_space_t)e->space, e->key, e->klen));
      n++;
      nsp[e->space]++;
      bytes += e->klen + e->vlen;
    }
  }
  assert_int_equal(n, o->n);
  assert_int_equal(bytes, o->bytes);
  for (int s = 0; s < DYNA_SPACE_COUNT; s++) assert_int_equal(nsp[s], o->nspace[s]);
}

static void check_reads(const dyna_overlay_t *o) {
  size_t n = 0;
  for (size_t i = 0; i < POOL; i++) {
    const mkey_t *m = &pool[i];
    if (!used(m)) continue;
    const dyna_ov_entry_t *e = dyna_ov_get(o, (dyna_space_t)m->sp, m->key, m->klen);
    if (!m->state) {
      assert_null(e);
      continue;
    }
    n++;
    assert_non_null(e);
    assert_int_equal(e->tomb, m->state == 2);
    assert_int_equal(e->vlen, m->state == 1 ? m->vlen : 0);
    if (m->state == 1) assert_memory_equal(e->val, m->val, m->vlen);
  }
  assert_int_equal(n, o->n);
}

static int count_one(void *arg, const dyna_ov_entry_t *e) {
  (void)e;
  (*(size_t *)arg)++;
  return 0;
}

/* each_prefix under the first two bytes of a few keys finds the model's keys. */
static void check_prefixes(const dyna_overlay_t *o) {
  for (size_t i = 1; i < POOL; i += 97) {
    const mkey_t *p = &pool[i];
    if (!used(p) || p->klen < 2) continue;
    size_t want = 0, got = 0;
    for (size_t j = 0; j < POOL; j++) {
      const mkey_t *m = &pool[j];
      want += used(m) && m->state && m->sp == p->sp && m->klen >= 2 && !memcmp(m->key, p->key, 2);
    }
    assert_int_equal(dyna_ov_each_prefix(o, (dyna_space_t)p->sp, p->key, 2, count_one, &got), 0);
    assert_int_equal(got, want);
  }
  size_t all = 0;
  assert_int_equal(dyna_ov_each(o, count_one, &all), 0);
  assert_int_equal(all, o->n);
}

/* One small overlay of `writes` random writes, recorded in the model as they are made
 * (the checks read the overlay they are absorbed into). */
static void build_batch(dyna_overlay_t *b, size_t writes) {
  for (size_t w = 0; w < writes; w++) {
    size_t i = next_rand() % POOL;
    mkey_t *m = &pool[i];
    if (!used(m)) continue;
    int tomb = next_rand() % 5 == 0;
    uint8_t v[64];
    size_t vlen = next_rand() % sizeof(v);
    for (size_t j = 0; j < vlen; j++) v[j] = (uint8_t)next_rand();
    assert_int_equal(dyna_ov_set(b, (dyna_space_t)m->sp, m->key, m->klen, v, vlen, tomb), 0);
    m->state = tomb ? 2 : 1;
    m->vlen = tomb ? 0 : vlen;
    memcpy(m->val, v, vlen);
  }
}

static void test_model(void **state) {
  (void)state;
  make_pool();
  dyna_overlay_t big;
  dyna_ov_init(&big);
  for (int round = 0; round < 300; round++) {
    dyna_overlay_t b;
    dyna_ov_init(&b);
    build_batch(&b, 1 + next_rand() % (round < 30 ? 8 : 60));
    check_layout(&b);
    dyna_ov_absorb(&big, &b);
    assert_int_equal(b.n, 0);
    assert_null(b.tab);
    check_layout(&big);
    if (round % 10 == 0 || round > 290) {
      check_reads(&big);
      check_prefixes(&big);
    }
  }
  assert_non_null(big.ptab); /* the prefix index was built and kept up */
  dyna_ov_clear(&big);
  assert_int_equal(big.n, 0);
}

/* A table of 16 buckets holding 12 entries: chains of several, every one read back. */
static void test_small_table_chains(void **state) {
  (void)state;
  dyna_overlay_t o;
  dyna_ov_init(&o);
  char k[16];
  for (int i = 0; i < 12; i++) {
    snprintf(k, sizeof(k), "k%d", i);
    assert_int_equal(dyna_ov_set(&o, DYNA_SPACE_OBJ, (const uint8_t *)k, strlen(k), (const uint8_t *)k,
                                 strlen(k), 0), 0);
  }
  assert_int_equal(o.cap, 16);
  check_layout(&o);
  size_t longest = 0;
  for (size_t i = 0; i < o.cap; i++) {
    size_t c = 0;
    for (const dyna_ov_entry_t *e = o.tab[i]; e; e = e->next) c++;
    if (c > longest) longest = c;
  }
  assert_true(longest >= 2); /* 12 hashes in 16 buckets: some share */
  for (int i = 0; i < 12; i++) {
    snprintf(k, sizeof(k), "k%d", i);
    const dyna_ov_entry_t *e = dyna_ov_get(&o, DYNA_SPACE_OBJ, (const uint8_t *)k, strlen(k));
    assert_non_null(e);
    assert_memory_equal(e->val, k, strlen(k));
    assert_null(dyna_ov_get(&o, DYNA_SPACE_HINT, (const uint8_t *)k, strlen(k)));
  }
  /* replacing every key keeps the table (the first entry of a chain included) */
  for (int i = 0; i < 12; i++) {
    snprintf(k, sizeof(k), "k%d", i);
    assert_int_equal(dyna_ov_set(&o, DYNA_SPACE_OBJ, (const uint8_t *)k, strlen(k), NULL, 0, 1), 0);
  }
  assert_int_equal(o.n, 12);
  check_layout(&o);
  dyna_ov_clear(&o);
}

/* Without memory: a set that cannot grow fails and changes nothing; an absorb that
 * cannot grow keeps every entry in longer chains. */
static void test_no_memory(void **state) {
  (void)state;
  make_pool();
  dyna_overlay_t big, b;
  dyna_ov_init(&big);
  dyna_ov_init(&b);
  build_batch(&b, 10);
  dyna_ov_absorb(&big, &b);
  while ((big.n + 1) * 4 <= big.cap * 3) { /* up to where the next new key grows it */
    size_t i = next_rand() % POOL;
    mkey_t *k = &pool[i];
    if (!used(k)) continue;
    assert_int_equal(dyna_ov_set(&big, (dyna_space_t)k->sp, k->key, k->klen, NULL, 0, 1), 0);
    k->state = 2;
    k->vlen = 0;
  }
  size_t n = big.n, cap = big.cap;
  mkey_t *m = NULL;
  for (size_t i = 0; i < POOL && !m; i++)
    if (used(&pool[i]) && !pool[i].state) m = &pool[i];
  assert_non_null(m);
  dyna_mem_fail_after(0);
  assert_int_equal(dyna_ov_set(&big, (dyna_space_t)m->sp, m->key, m->klen, (const uint8_t *)"x", 1, 0), DYNA_ENOMEM);
  dyna_mem_fail_after(-1);
  assert_int_equal(big.n, n);
  assert_int_equal(big.cap, cap);
  assert_null(dyna_ov_get(&big, (dyna_space_t)m->sp, m->key, m->klen));
  check_layout(&big);
  check_reads(&big);
  /* a large batch absorbed while every allocation fails: no grow, all entries kept */
  dyna_ov_init(&b);
  build_batch(&b, 400);
  dyna_mem_fail_after(0);
  dyna_ov_absorb(&big, &b);
  dyna_mem_fail_after(-1);
  assert_int_equal(big.cap, cap);
  assert_true(big.n > cap); /* past one entry a bucket */
  check_layout(&big);
  check_reads(&big);
  check_prefixes(&big);
  dyna_ov_clear(&big);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_model),
      cmocka_unit_test(test_small_table_chains),
      cmocka_unit_test(test_no_memory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
