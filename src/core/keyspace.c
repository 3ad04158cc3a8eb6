/* keyspace.c: store-key layout and stored records. */
#include "core/keyspace.h"
#include "util/err.h"
#include <string.h>
#include <xxhash.h>

#define RECORD_VERSION 1
#define RECORD_LONGKEY 0x01

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

static void record_header(const void *key, size_t klen, dyna_buf_t *out) {
  int longkey = klen > DYNA_SKEY_INLINE_MAX;
  dyna_buf_put_u8(out, RECORD_VERSION);
  dyna_buf_put_u8(out, longkey ? RECORD_LONGKEY : 0);
  if (longkey) dyna_buf_put_bytes(out, key, klen);
}

void dyna_record_encode(const void *key, size_t klen, const dyna_obj_t *o, dyna_buf_t *out) {
  record_header(key, klen, out);
  dyna_obj_encode(o, out);
}

void dyna_record_encode_bytes(const void *key, size_t klen, const uint8_t *obj, size_t objlen,
                              dyna_buf_t *out) {
  record_header(key, klen, out);
  dyna_buf_put(out, obj, objlen);
}

int dyna_record_object(const uint8_t *p, size_t len, const void *key, size_t klen,
                       const uint8_t **obj, size_t *objlen, const uint8_t **key_out, size_t *klen_out) {
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
  *obj = p + r.off;
  *objlen = len - r.off;
  if (key_out) *key_out = lk;
  if (klen_out) *klen_out = lklen;
  return 0;
}

int dyna_record_decode(const uint8_t *p, size_t len, const void *key, size_t klen,
                       dyna_obj_t *o, const uint8_t **key_out, size_t *klen_out) {
  const uint8_t *obj;
  size_t objlen;
  int rc = dyna_record_object(p, len, key, klen, &obj, &objlen, key_out, klen_out);
  return rc ? rc : dyna_obj_decode(obj, objlen, o);
}

size_t dyna_hkey_prefix(const uint8_t *skey, size_t sklen, uint8_t *out) {
  out[0] = skey[0]; /* the partition, so one partition's hints can be iterated */
  out[1] = skey[1];
  out[2] = (uint8_t)(sklen >> 8);
  out[3] = (uint8_t)sklen;
  memcpy(out + 4, skey, sklen);
  return 4 + sklen;
}

size_t dyna_hkey_make(const uint8_t *skey, size_t sklen, uint64_t owner, uint8_t *out) {
  size_t n = dyna_hkey_prefix(skey, sklen, out);
  for (int i = 0; i < 8; i++) out[n + (size_t)i] = (uint8_t)(owner >> (56 - 8 * i));
  return n + 8;
}

int dyna_hkey_parse(const uint8_t *hkey, size_t len, const uint8_t **skey, size_t *sklen,
                    uint64_t *owner) {
  if (len < 4 + 3 + 8) return DYNA_ECORRUPT;
  size_t n = ((size_t)hkey[2] << 8) | hkey[3];
  if (n + 12 != len || n > DYNA_SKEY_MAX || hkey[0] != hkey[4] || hkey[1] != hkey[5]) return DYNA_ECORRUPT;
  *skey = hkey + 4;
  *sklen = n;
  uint64_t o = 0;
  for (int i = 0; i < 8; i++) o = (o << 8) | hkey[4 + n + (size_t)i];
  *owner = o;
  return 0;
}

int dyna_skey_user_key(const uint8_t *skey, size_t sklen, const uint8_t *rec, size_t reclen,
                       const uint8_t **key, size_t *klen) {
  if (sklen < 3) return DYNA_ECORRUPT;
  if (skey[2] == 0) {
    *key = skey + 3;
    *klen = sklen - 3;
    return *klen ? 0 : DYNA_ECORRUPT;
  }
  /* Long key: the record carries it after its two header bytes. */
  dyna_rd_t r;
  dyna_rd_init(&r, rec, reclen);
  dyna_rd_u8(&r);
  uint8_t flags = dyna_rd_u8(&r);
  if (r.err || !(flags & RECORD_LONGKEY)) return DYNA_ECORRUPT;
  *key = dyna_rd_bytes(&r, DYNA_MAX_KEY_BYTES, klen);
  return *key ? 0 : DYNA_ECORRUPT;
}
