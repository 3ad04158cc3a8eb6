/* test_replica_merge.c: unit tests for the cheap paths of core/replica.c that carry an
 * object's encoding instead of encoding it again: a coordinator's write hands back the
 * bytes it stored (dyna_replica_coordinate_typed, dyna_replica_coordinate with enc), and
 * a replica given the incoming bytes stores them as they are when they already hold
 * everything stored, but still merges when the two are concurrent; a replica answering
 * a GET passes the stored bytes on (dyna_replica_read_encoded). Over the memory engine,
 * no node. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "core/keyspace.h"
#include "core/replica.h"
#include "core/typed.h"
#include "store/memory.h"
#include "util/buf.h"
#include "util/err.h"

#define RING 256

typedef struct fx {
  dyna_store_t *store;
  dyna_replica_t rep;
} fx_t;

static void fx_open(fx_t *f, uint64_t actor) {
  memset(f, 0, sizeof(*f));
  assert_int_equal(dyna_store_mem_open(DYNA_SYNC_NONE, &f->store), 0);
  f->rep.store = f->store;
  f->rep.actor = actor;
  f->rep.ring_size = RING;
}

static void fx_close(fx_t *f) { f->store->ops->close(f->store); }

/* The stored record of key, into out (reset first). */
static void stored(fx_t *f, const char *key, dyna_buf_t *out) {
  uint8_t skey[DYNA_SKEY_MAX];
  size_t klen = strlen(key);
  size_t sklen = dyna_skey_make(dyna_key_partition(key, klen, RING), key, klen, skey);
  dyna_buf_reset(out);
  assert_int_equal(f->store->ops->get(f->store, DYNA_SPACE_OBJ, skey, sklen, out), 0);
}

static uint64_t last_base; /* sadd's: the record hash of the version it wrote over */

/* SADD key member at f, coordinated there; out gets the new object, enc its bytes. */
static void sadd(fx_t *f, const char *key, const char *member, dyna_obj_t *out, dyna_buf_t *enc) {
  const uint8_t *argv[3] = {(const uint8_t *)"SADD", (const uint8_t *)key, (const uint8_t *)member};
  size_t argl[3] = {4, strlen(key), strlen(member)};
  dyna_targs_t args = {3, argv, argl};
  dyna_tenv_t env = {0, 1000, 7, 0, 0};
  dyna_buf_t resp = DYNA_BUF_INIT;
  int changed = 0;
  dyna_buf_reset(enc);
  assert_int_equal(dyna_replica_coordinate_typed(&f->rep, (const uint8_t *)key, strlen(key),
                                                 dyna_typed_find((const uint8_t *)"sadd", 4), &args,
                                                 &env, 0, out, enc, &last_base, &resp, &changed), 0);
  assert_int_equal(changed, 1);
  dyna_buf_free(&resp);
}

/* The record that o would be stored as. */
static void record_of(const char *key, const dyna_obj_t *o, dyna_buf_t *out) {
  dyna_buf_reset(out);
  dyna_record_encode(key, strlen(key), o, out);
}

/* The coordinator's bytes are the object's encoding, and what it stored. */
static void test_coordinate_hands_back_its_bytes(void **state) {
  (void)state;
  fx_t a;
  fx_open(&a, 0xa1);
  dyna_obj_t o;
  dyna_obj_init(&o);
  dyna_buf_t enc = DYNA_BUF_INIT, want = DYNA_BUF_INIT, rec = DYNA_BUF_INIT;
  sadd(&a, "cart", "apple", &o, &enc);
  sadd(&a, "cart", "pear", &o, &enc);
  dyna_obj_encode(&o, &want);
  assert_int_equal(enc.len, want.len);
  assert_memory_equal(enc.data, want.data, want.len);
  stored(&a, "cart", &rec);
  record_of("cart", &o, &want);
  assert_int_equal(rec.len, want.len);
  assert_memory_equal(rec.data, want.data, want.len);

  /* A register write does the same. */
  dyna_val_t v = {0, 1000, (uint8_t *)"v1", 2};
  int existed = 0;
  dyna_buf_reset(&enc);
  assert_int_equal(dyna_replica_coordinate(&a.rep, (const uint8_t *)"str", 3, NULL, 1, &v, 0, 0, 0, &o, &enc, NULL, &existed), 0);
  dyna_buf_reset(&want);
  dyna_obj_encode(&o, &want);
  assert_int_equal(enc.len, want.len);
  assert_memory_equal(enc.data, want.data, want.len);
  dyna_buf_free(&enc);
  dyna_buf_free(&want);
  dyna_buf_free(&rec);
  dyna_obj_clear(&o);
  fx_close(&a);
}

/* States of 128 bytes and more take a longer length prefix: written in place, they
 * still decode to the same object, and a replica stores them as they came. */
static void test_long_state_round_trip(void **state) {
  (void)state;
  fx_t a, b;
  fx_open(&a, 0xa1);
  fx_open(&b, 0xb2);
  dyna_obj_t o, back;
  dyna_obj_init(&o);
  dyna_obj_init(&back);
  dyna_buf_t enc = DYNA_BUF_INIT, again = DYNA_BUF_INIT;
  char member[64];
  for (int i = 0; i < 40; i++) {
    snprintf(member, sizeof(member), "member-number-%d", i);
    sadd(&a, "big", member, &o, &enc);
    assert_int_equal(dyna_obj_decode(enc.data, enc.len, &back), 0);
    assert_true(dyna_obj_equal(&o, &back));
    dyna_buf_reset(&again);
    dyna_obj_encode(&back, &again);
    assert_int_equal(again.len, enc.len);
    assert_memory_equal(again.data, enc.data, enc.len);
    int changed = 0;
    assert_int_equal(dyna_replica_merge(&b.rep, (const uint8_t *)"big", 3, &back, enc.data, enc.len, 0, 0, &changed), 0);
    assert_int_equal(changed, 1);
  }
  assert_true(enc.len > 600);
  assert_int_equal(dyna_replica_read(&b.rep, (const uint8_t *)"big", 3, &back), 0);
  assert_true(dyna_obj_equal(&o, &back));
  dyna_buf_free(&enc);
  dyna_buf_free(&again);
  dyna_obj_clear(&o);
  dyna_obj_clear(&back);
  fx_close(&a);
  fx_close(&b);
}

/* A replica holding what the coordinator had stores the new version as it came. */
static void test_dominating_incoming_stored_as_is(void **state) {
  (void)state;
  fx_t a, b;
  fx_open(&a, 0xa1);
  fx_open(&b, 0xb2);
  dyna_obj_t o;
  dyna_obj_init(&o);
  dyna_buf_t enc = DYNA_BUF_INIT, rec = DYNA_BUF_INIT, want = DYNA_BUF_INIT;
  int changed = 0;
  sadd(&a, "cart", "apple", &o, &enc);
  assert_int_equal(dyna_replica_merge(&b.rep, (const uint8_t *)"cart", 4, &o, enc.data, enc.len, 0, 0, &changed), 0);
  assert_int_equal(changed, 1);
  sadd(&a, "cart", "pear", &o, &enc);
  assert_int_equal(dyna_replica_merge(&b.rep, (const uint8_t *)"cart", 4, &o, enc.data, enc.len, 0, 0, &changed), 0);
  assert_int_equal(changed, 1);
  stored(&b, "cart", &rec);
  record_of("cart", &o, &want);
  assert_int_equal(rec.len, want.len);
  assert_memory_equal(rec.data, want.data, want.len);
  /* The same again changes nothing. */
  assert_int_equal(dyna_replica_merge(&b.rep, (const uint8_t *)"cart", 4, &o, enc.data, enc.len, 0, 0, &changed), 0);
  assert_int_equal(changed, 0);
  dyna_buf_free(&enc);
  dyna_buf_free(&rec);
  dyna_buf_free(&want);
  dyna_obj_clear(&o);
  fx_close(&a);
  fx_close(&b);
}

/* Incoming bytes onto a key stored nowhere are the merge as they are: checked, stored,
 * decoded nowhere; an empty object changes nothing, and bytes that do not check are
 * refused, nothing stored. */
static void test_incoming_onto_nothing(void **state) {
  (void)state;
  fx_t a, b;
  fx_open(&a, 0xa1);
  fx_open(&b, 0xb2);
  dyna_obj_t o;
  dyna_obj_init(&o);
  dyna_buf_t enc = DYNA_BUF_INIT, rec = DYNA_BUF_INIT, want = DYNA_BUF_INIT;
  int changed = 0;
  sadd(&a, "cart", "apple", &o, &enc);
  static const uint8_t empty[] = {1, 0};
  assert_int_equal(dyna_replica_merge(&b.rep, (const uint8_t *)"cart", 4, NULL, empty, sizeof(empty), 0, 0, &changed), 0);
  assert_int_equal(changed, 0);
  uint8_t skey[DYNA_SKEY_MAX];
  size_t sklen = dyna_skey_make(dyna_key_partition("cart", 4, RING), "cart", 4, skey);
  assert_int_equal(b.store->ops->get(b.store, DYNA_SPACE_OBJ, skey, sklen, &rec), DYNA_ENOTFOUND);
  assert_int_equal(dyna_replica_merge(&b.rep, (const uint8_t *)"cart", 4, NULL, enc.data, enc.len - 1, 0, 0, &changed),
                   DYNA_ECORRUPT);
  assert_int_equal(b.store->ops->get(b.store, DYNA_SPACE_OBJ, skey, sklen, &rec), DYNA_ENOTFOUND);
  assert_int_equal(dyna_replica_merge(&b.rep, (const uint8_t *)"cart", 4, NULL, enc.data, enc.len, 0, 0, &changed), 0);
  assert_int_equal(changed, 1);
  stored(&b, "cart", &rec);
  record_of("cart", &o, &want);
  assert_int_equal(rec.len, want.len);
  assert_memory_equal(rec.data, want.data, want.len);
  dyna_buf_free(&enc);
  dyna_buf_free(&rec);
  dyna_buf_free(&want);
  dyna_obj_clear(&o);
  fx_close(&a);
  fx_close(&b);
}

/* Concurrent versions are merged, bytes or not: neither side's member is lost, and the
 * record is the one the merge without bytes makes. */
static void test_concurrent_incoming_is_merged(void **state) {
  (void)state;
  fx_t a, b, c;
  fx_open(&a, 0xa1);
  fx_open(&b, 0xb2);
  fx_open(&c, 0xc3);
  dyna_obj_t oa, ob, m;
  dyna_obj_init(&oa);
  dyna_obj_init(&ob);
  dyna_obj_init(&m);
  dyna_buf_t enc = DYNA_BUF_INIT, encb = DYNA_BUF_INIT, rec = DYNA_BUF_INIT, want = DYNA_BUF_INIT;
  int changed = 0;
  sadd(&b, "cart", "pear", &ob, &encb);     /* b's own write, stored at b */
  sadd(&a, "cart", "apple", &oa, &enc);     /* a's, concurrent */
  assert_int_equal(dyna_replica_merge(&b.rep, (const uint8_t *)"cart", 4, &oa, enc.data, enc.len, 0, 0, &changed), 0);
  assert_int_equal(changed, 1);
  /* c merges the same two without bytes: the reference. */
  assert_int_equal(dyna_replica_merge(&c.rep, (const uint8_t *)"cart", 4, &ob, NULL, 0, 0, 0, &changed), 0);
  assert_int_equal(dyna_replica_merge(&c.rep, (const uint8_t *)"cart", 4, &oa, NULL, 0, 0, 0, &changed), 0);
  stored(&b, "cart", &rec);
  stored(&c, "cart", &want);
  assert_int_equal(rec.len, want.len);
  assert_memory_equal(rec.data, want.data, want.len);
  assert_int_equal(dyna_replica_read(&b.rep, (const uint8_t *)"cart", 4, &m), 0);
  const dyna_crdt_t *s = dyna_obj_typed(&m, DYNA_CRDT_SET);
  assert_non_null(s);
  assert_int_equal(dyna_crdt_count(s), 2);
  dyna_buf_free(&enc);
  dyna_buf_free(&encb);
  dyna_buf_free(&rec);
  dyna_buf_free(&want);
  dyna_obj_clear(&oa);
  dyna_obj_clear(&ob);
  dyna_obj_clear(&m);
  fx_close(&a);
  fx_close(&b);
  fx_close(&c);
}

/* The hash of f's record of key (0 when absent). */
static uint64_t record_hash(fx_t *f, const char *key) {
  dyna_buf_t rec = DYNA_BUF_INIT;
  uint8_t skey[DYNA_SKEY_MAX];
  size_t klen = strlen(key);
  size_t sklen = dyna_skey_make(dyna_key_partition(key, klen, RING), key, klen, skey);
  uint64_t h = f->store->ops->get(f->store, DYNA_SPACE_OBJ, skey, sklen, &rec) ? 0 : dyna_record_hash(skey, sklen, rec.data, rec.len);
  dyna_buf_free(&rec);
  return h;
}

/* A coordinator names the record its write was made from (base): a replica holding that
 * record stores the new version as it came, without decoding its own; one holding
 * something else merges as ever; under the test-only bugs it always merges. */
static void test_based_incoming(void **state) {
  (void)state;
  fx_t a, b, c;
  fx_open(&a, 0xa1);
  fx_open(&b, 0xb2);
  fx_open(&c, 0xc3);
  dyna_obj_t o, oc, m;
  dyna_obj_init(&o);
  dyna_obj_init(&oc);
  dyna_obj_init(&m);
  dyna_buf_t enc = DYNA_BUF_INIT, encc = DYNA_BUF_INIT, rec = DYNA_BUF_INIT, want = DYNA_BUF_INIT;
  int changed = 0;
  sadd(&a, "cart", "apple", &o, &enc);
  assert_int_equal(last_base, 0); /* nothing stored before */
  assert_int_equal(dyna_replica_merge(&b.rep, (const uint8_t *)"cart", 4, &o, enc.data, enc.len, 0, 0, &changed), 0);
  uint64_t h_apple = record_hash(&a, "cart");
  assert_int_equal(record_hash(&b, "cart"), h_apple);
  sadd(&a, "cart", "pear", &o, &enc);
  assert_true(last_base == h_apple);
  assert_int_equal(dyna_replica_merge(&b.rep, (const uint8_t *)"cart", 4, &o, enc.data, enc.len, last_base, 0, &changed), 0);
  assert_int_equal(changed, 1);
  stored(&b, "cart", &rec);
  stored(&a, "cart", &want);
  assert_int_equal(rec.len, want.len);
  assert_memory_equal(rec.data, want.data, want.len);
  /* c holds a concurrent version (its own kiwi): the base is not its record, so it
   * merges, and keeps the kiwi. */
  sadd(&c, "cart", "kiwi", &oc, &encc);
  assert_int_equal(dyna_replica_merge(&c.rep, (const uint8_t *)"cart", 4, &o, enc.data, enc.len, last_base, 0, &changed), 0);
  assert_int_equal(changed, 1);
  assert_int_equal(dyna_replica_read(&c.rep, (const uint8_t *)"cart", 4, &m), 0);
  assert_int_equal(dyna_crdt_count(dyna_obj_typed(&m, DYNA_CRDT_SET)), 3);
  /* Under the test-only bugs no shortcut: told that c's record is what a version
   * lacking the kiwi was made from (no coordinator would say so), c still merges ... */
  uint64_t h_c = record_hash(&c, "cart");
  sadd(&a, "cart", "plum", &o, &enc);
  dyna_crdt_bugs = 1;
  assert_int_equal(dyna_replica_merge(&c.rep, (const uint8_t *)"cart", 4, &o, enc.data, enc.len, h_c, 0, &changed), 0);
  dyna_crdt_bugs = 0;
  assert_int_equal(dyna_replica_read(&c.rep, (const uint8_t *)"cart", 4, &m), 0);
  assert_int_equal(dyna_crdt_count(dyna_obj_typed(&m, DYNA_CRDT_SET)), 4); /* apple pear kiwi plum */
  /* ... and without them it trusts base: the version is stored as it is (the kiwi,
   * which a merge would keep, is gone), which shows the record was not even read. */
  h_c = record_hash(&c, "cart");
  sadd(&a, "cart", "fig", &o, &enc);
  assert_int_equal(dyna_replica_merge(&c.rep, (const uint8_t *)"cart", 4, &o, enc.data, enc.len, h_c, 0, &changed), 0);
  assert_int_equal(dyna_replica_read(&c.rep, (const uint8_t *)"cart", 4, &m), 0);
  assert_int_equal(dyna_crdt_count(dyna_obj_typed(&m, DYNA_CRDT_SET)), 4); /* apple pear plum fig */
  /* A coordinator that merged a hint into what it read names no base. */
  int any = 0;
  a.rep.hints = &any;
  assert_int_equal(dyna_replica_merge(&a.rep, (const uint8_t *)"cart", 4, &oc, encc.data, encc.len, 0, 0x99, &changed), 0);
  assert_int_equal(any, 1);
  sadd(&a, "cart", "lime", &o, &enc);
  assert_int_equal(last_base, 0);
  assert_int_equal(dyna_crdt_count(dyna_obj_typed(&o, DYNA_CRDT_SET)), 6); /* the hint's kiwi too */
  uint64_t h_a = record_hash(&a, "cart");
  any = 0; /* told that there is no hint, it reads none, and names its record as base */
  sadd(&a, "cart", "date", &o, &enc);
  assert_true(last_base == h_a);
  /* Left to decode the bytes itself (incoming NULL): with the base, bytes that do not
   * decode change nothing; without one, they are decoded and merged. */
  dyna_buf_t rec_b = DYNA_BUF_INIT;
  uint64_t h_b = record_hash(&b, "cart");
  stored(&b, "cart", &rec_b);
  dyna_buf_t bad = DYNA_BUF_INIT;
  dyna_buf_put(&bad, enc.data, enc.len);
  bad.data[bad.len - 1] ^= 0x55;
  assert_int_equal(dyna_replica_merge(&b.rep, (const uint8_t *)"cart", 4, NULL, bad.data, bad.len - 1, h_b, 0, &changed), DYNA_ECORRUPT);
  assert_int_equal(dyna_replica_merge(&b.rep, (const uint8_t *)"cart", 4, NULL, bad.data, bad.len, h_b, 0, &changed), DYNA_ECORRUPT);
  assert_int_equal(changed, 0);
  stored(&b, "cart", &rec);
  assert_int_equal(rec.len, rec_b.len);
  assert_memory_equal(rec.data, rec_b.data, rec.len);
  assert_int_equal(dyna_replica_merge(&b.rep, (const uint8_t *)"cart", 4, NULL, encc.data, encc.len, 0, 0, &changed), 0);
  assert_int_equal(changed, 1);
  assert_int_equal(dyna_replica_read(&b.rep, (const uint8_t *)"cart", 4, &m), 0);
  assert_int_equal(dyna_crdt_count(dyna_obj_typed(&m, DYNA_CRDT_SET)), 3); /* apple pear kiwi */
  dyna_buf_free(&bad);
  dyna_buf_free(&rec_b);
  dyna_buf_free(&enc);
  dyna_buf_free(&encc);
  dyna_buf_free(&rec);
  dyna_buf_free(&want);
  dyna_obj_clear(&o);
  dyna_obj_clear(&oc);
  dyna_obj_clear(&m);
  fx_close(&a);
  fx_close(&b);
  fx_close(&c);
}

/* A replica answering a GET passes the stored object's bytes on (dyna_replica_read_encoded):
 * what dyna_replica_read would decode, byte for byte, or nothing when absent; a
 * corrupt record fails with nothing appended; with a hint possibly held (hints unknown
 * or set) it declines, so that the hint is merged in by the full read. */
static void test_read_encoded(void **state) {
  (void)state;
  fx_t a;
  fx_open(&a, 0xa1);
  int hints = 0;
  a.rep.hints = &hints;
  dyna_obj_t o, back;
  dyna_obj_init(&o);
  dyna_obj_init(&back);
  dyna_buf_t enc = DYNA_BUF_INIT, got = DYNA_BUF_INIT, want = DYNA_BUF_INIT;
  sadd(&a, "cart", "apple", &o, &enc);
  dyna_val_t v = {0, 1000, (uint8_t *)"v1", 2};
  int existed = 0;
  dyna_buf_reset(&enc);
  assert_int_equal(dyna_replica_coordinate(&a.rep, (const uint8_t *)"str", 3, NULL, 1, &v, 0, 0, 0, &o, &enc, NULL, &existed), 0);
  const char *keys[] = {"cart", "str"};
  for (int k = 0; k < 2; k++) {
    dyna_buf_reset(&got);
    dyna_buf_put(&got, "x", 1); /* appended after what is there */
    assert_int_equal(dyna_replica_read_encoded(&a.rep, (const uint8_t *)keys[k], strlen(keys[k]), &got), 0);
    assert_int_equal(dyna_replica_read(&a.rep, (const uint8_t *)keys[k], strlen(keys[k]), &back), 0);
    dyna_buf_reset(&want);
    dyna_buf_put(&want, "x", 1);
    dyna_obj_encode(&back, &want);
    assert_true(want.len > 1);
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.data, want.data, want.len);
    dyna_buf_reset(&got); /* unchecked: the same bytes */
    assert_int_equal(dyna_replica_read_unchecked(&a.rep, (const uint8_t *)keys[k], strlen(keys[k]), &got), 0);
    assert_int_equal(got.len, want.len - 1);
    assert_memory_equal(got.data, want.data + 1, got.len);
  }
  dyna_buf_reset(&got);
  assert_int_equal(dyna_replica_read_encoded(&a.rep, (const uint8_t *)"none", 4, &got), 0);
  assert_int_equal(got.len, 0);
  /* A damaged record: one byte of the object's encoding flipped. */
  uint8_t skey[DYNA_SKEY_MAX];
  size_t sklen = dyna_skey_make(dyna_key_partition("str", 3, RING), "str", 3, skey);
  stored(&a, "str", &want);
  want.data[want.len - 3] ^= 0xff;
  assert_int_equal(a.store->ops->put(a.store, DYNA_SPACE_OBJ, skey, sklen, want.data, want.len), 0);
  int rc_full = dyna_replica_read(&a.rep, (const uint8_t *)"str", 3, &back);
  assert_int_not_equal(rc_full, 0);
  assert_int_equal(dyna_replica_read_encoded(&a.rep, (const uint8_t *)"str", 3, &got), rc_full);
  assert_int_equal(got.len, 0);
  /* Unchecked, the damaged object's bytes are passed on; decoding them fails as the full
   * read did. */
  assert_int_equal(dyna_replica_read_unchecked(&a.rep, (const uint8_t *)"str", 3, &got), 0);
  assert_true(got.len > 0);
  assert_int_equal(dyna_obj_decode(got.data, got.len, &back), rc_full);
  dyna_buf_reset(&got);
  want.data[0] ^= 0xff; /* the record's header */
  assert_int_equal(a.store->ops->put(a.store, DYNA_SPACE_OBJ, skey, sklen, want.data, want.len), 0);
  assert_int_equal(dyna_replica_read_encoded(&a.rep, (const uint8_t *)"str", 3, &got), DYNA_ECORRUPT);
  assert_int_equal(got.len, 0);
  assert_int_equal(dyna_replica_read_unchecked(&a.rep, (const uint8_t *)"str", 3, &got), DYNA_ECORRUPT);
  assert_int_equal(got.len, 0);
  /* A hint may be held: declined. */
  hints = 1;
  assert_int_equal(dyna_replica_read_encoded(&a.rep, (const uint8_t *)"cart", 4, &got), DYNA_EAGAIN);
  a.rep.hints = NULL;
  assert_int_equal(dyna_replica_read_encoded(&a.rep, (const uint8_t *)"cart", 4, &got), DYNA_EAGAIN);
  assert_int_equal(got.len, 0);
  dyna_buf_free(&enc);
  dyna_buf_free(&got);
  dyna_buf_free(&want);
  dyna_obj_clear(&o);
  dyna_obj_clear(&back);
  fx_close(&a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_coordinate_hands_back_its_bytes),
      cmocka_unit_test(test_dominating_incoming_stored_as_is),
      cmocka_unit_test(test_incoming_onto_nothing),
      cmocka_unit_test(test_long_state_round_trip),
      cmocka_unit_test(test_concurrent_incoming_is_merged),
      cmocka_unit_test(test_based_incoming),
      cmocka_unit_test(test_read_encoded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
