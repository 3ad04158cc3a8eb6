/* test_keyhash.c: key placement (util/keyhash.c): Redis Cluster's slot function (CRC16
 * of the key or its hash tag, mod 16384) against the slots a real redis-server 7.0
 * answered with CLUSTER KEYSLOT (cluster-enabled, copied here by hand), the CRC table
 * against a bit-by-bit CRC16/XMODEM, and the slot -> partition map (Q contiguous ranges
 * of 16384 / Q slots). */
#include "util/keyhash.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

/* CRC16/XMODEM one bit at a time: polynomial 0x1021, initial 0, MSB first. */
static uint16_t crc16_bitwise(const uint8_t *s, size_t n) {
  uint32_t crc = 0;
  for (size_t i = 0; i < n; i++) {
    crc ^= (uint32_t)s[i] << 8;
    for (int b = 0; b < 8; b++) crc = (crc & 0x8000) ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return (uint16_t)crc;
}

static uint32_t slot_of(const char *k) { return dyna_key_slot(k, strlen(k)); }

/* CLUSTER KEYSLOT of a redis-server 7.0 in cluster mode. */
static void test_slots_as_redis(void **state) {
  (void)state;
  static const struct { const char *key; uint32_t slot; } want[] = {
      {"", 0},
      {"a", 15495},
      {"foo", 12182},
      {"bar", 5061},
      {"hello", 866},
      {"{user1000}.following", 3443},
      {"{user1000}.followers", 3443},
      {"foo{}{bar}", 8363},      /* empty tag: the whole key */
      {"foo{{bar}}zap", 4015},   /* the tag is "{bar" */
      {"foo{bar}{zap}", 5061},   /* the first tag only: "bar" */
      {"{}", 15257},
      {"{", 4092},
      {"}", 12090},
      {"{a", 10276},             /* no closing brace: the whole key */
      {"a}b{c}", 7365},          /* a '}' before the '{' does not count */
      {"key:1", 6657},
      {"123456789", 12739},      /* CRC16/XMODEM's check value 0x31c3 */
      {"{user:1}.cart", 10778},
      {"{user:1}.session", 10778},
      {"user:1", 10778},
      {"\xc3\xbf\xc3\xbe", 16292},
  };
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
    uint32_t got = slot_of(want[i].key);
    if (got != want[i].slot) fail_msg("KEYSLOT '%s': got %u, Redis says %u", want[i].key, got, want[i].slot);
  }
  /* the check value itself, and bytes Redis keys may hold (NUL included) */
  assert_int_equal(dyna_crc16("123456789", 9), 0x31c3);
  static const uint8_t bin[] = {0, '{', 0, '}', 0xff};
  assert_int_equal(dyna_key_slot(bin, sizeof(bin)), crc16_bitwise(bin + 2, 1) % 16384);
}

static void test_hashed_part(void **state) {
  (void)state;
  size_t n;
  const char *k = "x{tag}y";
  const uint8_t *h = dyna_key_hashed_part(k, strlen(k), &n);
  assert_int_equal(n, 3);
  assert_memory_equal(h, "tag", 3);
  k = "foo{}{bar}";
  h = dyna_key_hashed_part(k, strlen(k), &n);
  assert_int_equal(n, strlen(k));
  assert_ptr_equal(h, (const uint8_t *)k);
  h = dyna_key_hashed_part(k, 0, &n); /* an empty key */
  assert_int_equal(n, 0);
  k = "ab{";
  dyna_key_hashed_part(k, 2, &n); /* the '{' is past the key's length */
  assert_int_equal(n, 2);
}

/* The table-driven CRC equals the bit-by-bit one on every single byte and on a spread
 * of longer inputs. */
static void test_crc_table(void **state) {
  (void)state;
  uint8_t buf[300];
  for (unsigned i = 0; i < 256; i++) {
    buf[0] = (uint8_t)i;
    assert_int_equal(dyna_crc16(buf, 1), crc16_bitwise(buf, 1));
  }
  uint32_t x = 12345;
  for (size_t len = 0; len < sizeof(buf); len++) {
    for (size_t j = 0; j < len; j++) {
      x = x * 1103515245u + 12345u;
      buf[j] = (uint8_t)(x >> 16);
    }
    assert_int_equal(dyna_crc16(buf, len), crc16_bitwise(buf, len));
  }
}

/* Every ring size: partitions are contiguous, equal ranges of slots covering 0..16383
 * in order; first_slot is the inverse; a key's partition is its slot's. */
static void test_slot_partition_map(void **state) {
  (void)state;
  assert_true(dyna_ring_size_valid(16384));
  assert_false(dyna_ring_size_valid(32768));
  assert_false(dyna_ring_size_valid(65536));
  assert_false(dyna_ring_size_valid(0));
  assert_false(dyna_ring_size_valid(3));
  for (uint32_t q = 1; q <= DYNA_RING_MAX_SIZE; q <<= 1) {
    uint32_t per = dyna_partition_slots(q);
    assert_int_equal(per * q, DYNA_SLOTS);
    uint32_t prev = 0;
    for (uint32_t s = 0; s < DYNA_SLOTS; s++) {
      uint32_t p = dyna_slot_partition(s, q);
      assert_true(p < q);
      assert_true(p == prev || p == prev + 1); /* contiguous, in order */
      assert_true(dyna_partition_first_slot(p, q) <= s && s < dyna_partition_first_slot(p, q) + per);
      prev = p;
    }
    assert_int_equal(prev, q - 1);
    assert_int_equal(dyna_slot_partition(dyna_partition_first_slot(q - 1, q), q), q - 1);
  }
  assert_int_equal(dyna_slot_partition(12182, 256), 12182 / 64);
  assert_int_equal(dyna_key_partition("foo", 3, 256), 190);
  assert_int_equal(dyna_key_partition("foo", 3, 16384), 12182);
  assert_int_equal(dyna_key_partition("foo", 3, 1), 0);
  /* keys sharing a tag share a partition at every ring size */
  for (uint32_t q = 1; q <= DYNA_RING_MAX_SIZE; q <<= 1)
    assert_int_equal(dyna_key_partition("{u:7}.a", 7, q), dyna_key_partition("{u:7}.bb", 8, q));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_slots_as_redis),
      cmocka_unit_test(test_hashed_part),
      cmocka_unit_test(test_crc_table),
      cmocka_unit_test(test_slot_partition_map),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
