/* keyspace.c: key hashing, partitions, store-key layout and stored records. */
#include "core/keyspace.h"
#include "core/err.h"
#include <string.h>
#include <xxhash.h>

#define RECORD_VERSION 1
#define RECORD_LONGKEY 0x01

uint64_t dyna_key_hash(const void *key, size_t klen) { return XXH3_64bits(key, klen); }

uint32_t dyna_hash_partition(uint64_t hash, uint32_t ring_size) {
  if (ring_size <= 1) return 0;
  unsigned bits = (unsigned)__builtin_ctz(ring_size);
  return (uint32_t)(hash >> (64 - bits));
}

size_t dyna_skey_make(uint32_t partition, const void *key, size_t klen, uint8_t *out) {
  out[0] = (uint8_t)(partition >> 8);
  out[1] = (uint8_t)partition;
  if (klen <= DYNA_SKEY_INLINE_MAX) {
    out[2] = 0;
    memcpy(out + 3, key, klen);
    return 3 + klen;
  }
  out[2] = 1;
  XXH128_hash_t h = XXH3_128bits(key, klen);
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, h);
  memcpy(out + 3, c.digest, 16);
  return 3 + 16;
}

uint32_t dyna_skey_partition(const uint8_t *skey, size_t len) {
  return len < 2 ? 0 : ((uint32_t)skey[0] << 8) | skey[1];
}

void dyna_record_encode(const void *key, size_t klen, const dyna_obj_t *o, dyna_buf_t *out) {
  int longkey = klen > DYNA_SKEY_INLINE_MAX;
  dyna_buf_put_u8(out, RECORD_VERSION);
  dyna_buf_put_u8(out, longkey ? RECORD_LONGKEY : 0);
  if (longkey) dyna_buf_put_bytes(out, key, klen);
  dyna_obj_encode(o, out);
}

int dyna_record_decode(const uint8_t *p, size_t len, const void *key, size_t klen,
                       dyna_obj_t *o, const uint8_t **key_out, size_t *klen_out) {
  dyna_rd_t r;
  dyna_rd_init(&r, p, len);
  uint8_t version = dyna_rd_u8(&r);
  uint8_t flags = dyna_rd_u8(&r);
  if (r.err || version != RECORD_VERSION || (flags & ~RECORD_LONGKEY)) return DYNA_ECORRUPT;
  const uint8_t *lk = NULL;
  size_t lklen = 0;
  if (flags & RECORD_LONGKEY) {
    lk = dyna_rd_bytes(&r, DYNA_MAX_KEY_BYTES, &lklen);
    if (!lk || lklen <= DYNA_SKEY_INLINE_MAX) return DYNA_ECORRUPT;
    if (key && (lklen != klen || memcmp(lk, key, klen))) return DYNA_ECORRUPT;
  }
  int rc = dyna_obj_decode(p + r.off, len - r.off, o);
  if (rc) return rc;
  if (key_out) *key_out = lk;
  if (klen_out) *klen_out = lklen;
  return 0;
}
