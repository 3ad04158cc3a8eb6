/* test_crdt_laws.c: seeded, deterministic property tests of the typed-object merge
 * (core/crdt*.c), for every type.
 *
 * Each history runs 3-5 replicas (one actor each) through random ops of the type,
 * random merges between replicas (which a later op then builds on), and snapshots of
 * states along the way. On the snapshots it checks that merge is commutative,
 * associative and idempotent to the byte (canonical encodings equal), that
 * encode/decode round-trips, that dyna_crdt_descends says exactly whether a merge
 * would change its destination (and dyna_crdt_merged builds the same join), and at the end that every replica, merged with all the
 * others in a random order, holds byte-equal state. Besides the laws, independent
 * models check what the merge computes: the counter (sum of the increments each
 * replica has seen), the set (per add event: seen / still held, the ORSWOT semantics
 * written out) and the list (per pushed element: seen / held; each held element
 * appears exactly once, no other). */
#include "crdt_testlib.h"

#define MAX_REPLICAS 5
#define MAX_SNAPS 24

static void check_laws(dyna_crdt_t *snaps, size_t n, uint64_t *r, int *descends_seen) {
  for (int round = 0; round < 40; round++) {
    const dyna_crdt_t *a = &snaps[t_below(r, n)], *b = &snaps[t_below(r, n)],
                      *c = &snaps[t_below(r, n)];
    dyna_crdt_t ab, ba, ab_c, bc, a_bc, aa, abb;
    t_merged(&ab, a, b);
    t_merged(&ba, b, a);
    t_same(&ab, &ba); /* commutative */
    t_merged(&ab_c, &ab, c);
    t_merged(&bc, b, c);
    t_merged(&a_bc, a, &bc);
    t_same(&ab_c, &a_bc); /* associative */
    t_merged(&aa, a, a);
    t_same(&aa, a); /* idempotent */
    t_merged(&abb, &ab, b);
    t_same(&abb, &ab);
    t_roundtrip(&ab_c);
    /* descends is exactly "the merge changes nothing", computed without building it;
     * dyna_crdt_merged builds the same join as a copy merged */
    assert_int_equal(dyna_crdt_descends(a, b), dyna_crdt_equal(&ab, a));
    assert_int_equal(dyna_crdt_descends(b, a), dyna_crdt_equal(&ab, b));
    *descends_seen += dyna_crdt_descends(a, b) && !dyna_crdt_equal(a, b);
    assert_true(dyna_crdt_descends(&ab, a) && dyna_crdt_descends(&ab, b));
    dyna_crdt_t m;
    dyna_crdt_init(&m, a->type);
    assert_int_equal(dyna_crdt_merged(&m, a, b), 0);
    t_same(&m, &ab);
    dyna_crdt_clear(&m);
    dyna_crdt_clear(&ab);
    dyna_crdt_clear(&ba);
    dyna_crdt_clear(&ab_c);
    dyna_crdt_clear(&bc);
    dyna_crdt_clear(&a_bc);
    dyna_crdt_clear(&aa);
    dyna_crdt_clear(&abb);
  }
}

static void run_history(uint8_t type, uint64_t seed, int *descends_seen) {
  uint64_t r = seed;
  size_t nrep = 3 + (size_t)t_below(&r, MAX_REPLICAS - 2);
  dyna_crdt_t rep[MAX_REPLICAS], snaps[MAX_SNAPS];
  size_t nsnap = 0;
  for (size_t i = 0; i < nrep; i++) dyna_crdt_init(&rep[i], type);
  int steps = 60 + (int)t_below(&r, 60);
  for (int st = 0; st < steps; st++) {
    size_t i = t_below(&r, nrep);
    unsigned what = (unsigned)t_below(&r, 10);
    if (what < 6) {
      t_random_op(&rep[i], 0x1000 + i * 0x10001, &r, 100 + (uint64_t)st);
    } else if (what < 9) {
      size_t j = t_below(&r, nrep);
      assert_int_equal(dyna_crdt_merge(&rep[i], &rep[j]), 0);
    } else if (nsnap < MAX_SNAPS) {
      dyna_crdt_init(&snaps[nsnap], type);
      assert_int_equal(dyna_crdt_copy(&snaps[nsnap], &rep[i]), 0);
      nsnap++;
    }
    t_roundtrip(&rep[i]);
  }
  for (size_t i = 0; i < nrep && nsnap < MAX_SNAPS; i++) {
    dyna_crdt_init(&snaps[nsnap], type);
    assert_int_equal(dyna_crdt_copy(&snaps[nsnap++], &rep[i]), 0);
  }
  check_laws(snaps, nsnap, &r, descends_seen);
  /* full anti-entropy in a random order: all replicas end byte-equal */
  for (int k = 0; k < 3 * (int)nrep; k++) {
    size_t i = t_below(&r, nrep), j = t_below(&r, nrep);
    assert_int_equal(dyna_crdt_merge(&rep[i], &rep[j]), 0);
  }
  for (size_t i = 0; i < nrep; i++)
    for (size_t j = 0; j < nrep; j++) assert_int_equal(dyna_crdt_merge(&rep[i], &rep[j]), 0);
  for (size_t i = 1; i < nrep; i++) t_same(&rep[0], &rep[i]);
  if (type == DYNA_CRDT_LIST) { /* no element id twice */
    dyna_crdt_litem_t *v;
    size_t n;
    assert_int_equal(dyna_crdt_lview(&rep[0], &v, &n), 0);
    for (size_t x = 0; x < n; x++)
      for (size_t y = x + 1; y < n; y++)
        assert_false(v[x].v->actor == v[y].v->actor && v[x].v->counter == v[y].v->counter);
    dyna_free(v);
  }
  for (size_t i = 0; i < nrep; i++) dyna_crdt_clear(&rep[i]);
  for (size_t i = 0; i < nsnap; i++) dyna_crdt_clear(&snaps[i]);
}

static void test_laws(uint8_t type) {
  int descends_seen = 0; /* pairs of different states where one descends the other */
  for (uint64_t seed = 1; seed <= 150; seed++) run_history(type, seed * 7919 + type, &descends_seen);
  assert_true(descends_seen >= 100);
}

static void test_laws_counter(void **st) {
  (void)st;
  test_laws(DYNA_CRDT_COUNTER);
}
static void test_laws_set(void **st) {
  (void)st;
  test_laws(DYNA_CRDT_SET);
}
static void test_laws_hash(void **st) {
  (void)st;
  test_laws(DYNA_CRDT_HASH);
}
static void test_laws_zset(void **st) {
  (void)st;
  test_laws(DYNA_CRDT_ZSET);
}
static void test_laws_list(void **st) {
  (void)st;
  test_laws(DYNA_CRDT_LIST);
}

/* ---- models ------------------------------------------------------------------------ */

/* Counter without deletes: each replica's value equals the sum of the increments in
 * its causal history (incs[e] for every event e it has seen, exactly once). */
static void test_counter_model(void **st) {
  (void)st;
  for (uint64_t seed = 1; seed <= 100; seed++) {
    uint64_t r = seed;
    enum { NR = 4, NEV = 200 };
    dyna_crdt_t rep[NR];
    static uint8_t seen[NR][NEV];
    int64_t inc[NEV];
    size_t nev = 0;
    memset(seen, 0, sizeof(seen));
    for (int i = 0; i < NR; i++) dyna_crdt_init(&rep[i], DYNA_CRDT_COUNTER);
    for (int step = 0; step < 150; step++) {
      int i = (int)t_below(&r, NR);
      if (t_below(&r, 2) == 0 && nev < NEV) {
        inc[nev] = (int64_t)t_below(&r, 1000) - 300;
        assert_int_equal(dyna_crdt_incrby(&rep[i], 7 + (uint64_t)i, inc[nev], NULL), 0);
        seen[i][nev++] = 1;
      } else {
        int j = (int)t_below(&r, NR);
        assert_int_equal(dyna_crdt_merge(&rep[i], &rep[j]), 0);
        for (size_t e = 0; e < nev; e++) seen[i][e] |= seen[j][e];
      }
      int64_t want = 0, got = 0;
      double d = 0;
      for (size_t e = 0; e < nev; e++)
        if (seen[i][e]) want += inc[e];
      int rc = dyna_crdt_counter_get(&rep[i], &got, &d);
      if (rc == DYNA_ENOTFOUND) got = 0;
      assert_int_equal(got, want);
    }
    for (int i = 0; i < NR; i++) dyna_crdt_clear(&rep[i]);
  }
}

/* Set: the ORSWOT written out over add events. Each replica keeps, per event id,
 * whether it has seen the event and whether it still holds it; an add makes a new
 * event and drops the member's held events, a remove drops them, a merge keeps an
 * event iff held on both sides or held on one and unseen on the other. */
static void test_set_model(void **st) {
  (void)st;
  enum { NR = 4, NEV = 300, NM = 6 };
  static uint8_t seen[NR][NEV], held[NR][NEV];
  int mem[NEV];
  for (uint64_t seed = 1; seed <= 100; seed++) {
    uint64_t r = seed * 31;
    dyna_crdt_t rep[NR];
    size_t nev = 0;
    memset(seen, 0, sizeof(seen));
    memset(held, 0, sizeof(held));
    for (int i = 0; i < NR; i++) dyna_crdt_init(&rep[i], DYNA_CRDT_SET);
    for (int step = 0; step < 200; step++) {
      int i = (int)t_below(&r, NR), m = (int)t_below(&r, NM);
      char name[8];
      snprintf(name, sizeof(name), "x%d", m);
      unsigned w = (unsigned)t_below(&r, 3);
      if (w == 0 && nev < NEV) {
        assert_true(dyna_crdt_sadd(&rep[i], 99 + (uint64_t)i, B(name)) >= 0);
        for (size_t e = 0; e < nev; e++)
          if (mem[e] == m) held[i][e] = 0;
        mem[nev] = m;
        seen[i][nev] = held[i][nev] = 1;
        nev++;
      } else if (w == 1) {
        dyna_crdt_srem(&rep[i], B(name));
        for (size_t e = 0; e < nev; e++)
          if (mem[e] == m) held[i][e] = 0;
      } else {
        int j = (int)t_below(&r, NR);
        assert_int_equal(dyna_crdt_merge(&rep[i], &rep[j]), 0);
        for (size_t e = 0; e < nev; e++) {
          int h = (held[i][e] && held[j][e]) || (held[i][e] && !seen[j][e]) ||
                  (held[j][e] && !seen[i][e]);
          held[i][e] = (uint8_t)h;
          seen[i][e] |= seen[j][e];
        }
      }
      for (int x = 0; x < NM; x++) {
        snprintf(name, sizeof(name), "x%d", x);
        int want = 0;
        for (size_t e = 0; e < nev; e++)
          if (mem[e] == x && held[i][e]) want = 1;
        assert_int_equal(dyna_crdt_sismember(&rep[i], B(name)), want);
      }
    }
    for (int i = 0; i < NR; i++) dyna_crdt_clear(&rep[i]);
  }
}

/* List: every pushed element is an event; a replica holds the elements it has seen
 * and not removed (pops, LREM by index) with the set rule on merge. Each replica's
 * list must hold exactly its held elements, each once: no pushed element is lost
 * unless a removal observed it, none appears twice. */
static void test_list_model(void **st) {
  (void)st;
  enum { NR = 4, NEV = 250 };
  static uint8_t seen[NR][NEV], held[NR][NEV];
  for (uint64_t seed = 1; seed <= 100; seed++) {
    uint64_t r = seed * 131;
    dyna_crdt_t rep[NR];
    size_t nev = 0;
    memset(seen, 0, sizeof(seen));
    memset(held, 0, sizeof(held));
    for (int i = 0; i < NR; i++) dyna_crdt_init(&rep[i], DYNA_CRDT_LIST);
    for (int step = 0; step < 200; step++) {
      int i = (int)t_below(&r, NR);
      size_t n = dyna_crdt_count(&rep[i]);
      unsigned w = (unsigned)t_below(&r, 4);
      if ((w == 0 || n == 0) && nev < NEV) {
        char name[8];
        snprintf(name, sizeof(name), "%u", (unsigned)nev);
        if (n && t_below(&r, 2))
          assert_int_equal(dyna_crdt_linsert(&rep[i], 5 + (uint64_t)i, t_below(&r, n),
                                             (int)t_below(&r, 2), B(name)), 0);
        else
          assert_int_equal(dyna_crdt_lpush(&rep[i], 5 + (uint64_t)i, (int)t_below(&r, 2), B(name)), 0);
        seen[i][nev] = held[i][nev] = 1;
        nev++;
      } else if (w == 1 && n) {
        dyna_buf_t out = DYNA_BUF_INIT;
        assert_int_equal(dyna_crdt_lpop(&rep[i], (int)t_below(&r, 2), &out), 0);
        assert_int_equal(dyna_buf_reserve(&out, 1), 0);
        out.data[out.len] = 0;
        held[i][atoi((char *)out.data)] = 0;
        dyna_buf_free(&out);
      } else if (w == 2 && n) {
        dyna_crdt_litem_t *v;
        size_t vn, k = t_below(&r, n);
        assert_int_equal(dyna_crdt_lview(&rep[i], &v, &vn), 0);
        char name[8] = {0};
        memcpy(name, v[k].v->data, v[k].v->len);
        dyna_free(v);
        dyna_crdt_lremove(&rep[i], &k, 1);
        held[i][atoi(name)] = 0;
      } else {
        int j = (int)t_below(&r, NR);
        assert_int_equal(dyna_crdt_merge(&rep[i], &rep[j]), 0);
        for (size_t e = 0; e < nev; e++) {
          int h = (held[i][e] && held[j][e]) || (held[i][e] && !seen[j][e]) ||
                  (held[j][e] && !seen[i][e]);
          held[i][e] = (uint8_t)h;
          seen[i][e] |= seen[j][e];
        }
      }
      static uint8_t count[NEV];
      memset(count, 0, sizeof(count));
      dyna_crdt_litem_t *v;
      size_t vn, want = 0;
      assert_int_equal(dyna_crdt_lview(&rep[i], &v, &vn), 0);
      for (size_t k = 0; k < vn; k++) {
        char name[8] = {0};
        memcpy(name, v[k].v->data, v[k].v->len);
        count[atoi(name)]++;
      }
      dyna_free(v);
      for (size_t e = 0; e < nev; e++) {
        assert_int_equal(count[e], held[i][e]);
        want += held[i][e];
      }
      assert_int_equal(vn, want);
    }
    for (int i = 0; i < NR; i++) dyna_crdt_clear(&rep[i]);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_laws_counter), cmocka_unit_test(test_laws_set),
      cmocka_unit_test(test_laws_hash),    cmocka_unit_test(test_laws_zset),
      cmocka_unit_test(test_laws_list),    cmocka_unit_test(test_counter_model),
      cmocka_unit_test(test_set_model),    cmocka_unit_test(test_list_model),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
