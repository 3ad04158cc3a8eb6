/* keyspace.h: where a key lives. A key's partition is that of its Redis Cluster slot
 * (dyna_key_partition, util/keyhash.h: CRC16 of the key or its hash tag, mod 16384, in
 * Q = 2^b contiguous ranges of slots). In the store, objects
 * are keyed partition-first so one partition can be iterated on its own (handoff,
 * anti-entropy):
 *
 *   store key = u16 partition (big-endian) | u8 kind | rest
 *     kind 0: rest = the key itself              (keys up to DYNA_SKEY_INLINE_MAX bytes)
 *     kind 1: rest = xxHash3-128 of the key (16)  (longer keys; the stored record keeps
 *                                                  the whole key and is checked on read)
 *
 * Stored record (the value under a store key):
 *   u8 version=1 | u8 flags (1 = long key follows) | [varint klen, key] | object encoding
 * Pure functions; no allocation except into caller-owned buffers. */
#ifndef DYNA_KEYSPACE_H
#define DYNA_KEYSPACE_H
#include "util/buf.h"
#include "util/keyhash.h"
#include "core/object.h"
#include <stddef.h>
#include <stdint.h>

#define DYNA_SKEY_INLINE_MAX 400u
#define DYNA_SKEY_MAX (3u + DYNA_SKEY_INLINE_MAX)

/* Writes the store key of (partition, key) into out (DYNA_SKEY_MAX bytes); returns its
 * length. */
size_t dyna_skey_make(uint32_t partition, const void *key, size_t klen, uint8_t *out);
/* Partition of a store key (0 when too short). */
uint32_t dyna_skey_partition(const uint8_t *skey, size_t len);

/* Hint store key: u16be partition | u16be store-key length | store key | u64be intended
 * owner, so that one partition's hints can be iterated, and all hints for one key share
 * the prefix returned by dyna_hkey_prefix. */
#define DYNA_HKEY_MAX (4u + DYNA_SKEY_MAX + 8u)
size_t dyna_hkey_make(const uint8_t *skey, size_t sklen, uint64_t owner, uint8_t *out);
size_t dyna_hkey_prefix(const uint8_t *skey, size_t sklen, uint8_t *out);
/* Splits a hint store key; returns 0 or DYNA_ECORRUPT. *skey points into hkey. */
int dyna_hkey_parse(const uint8_t *hkey, size_t len, const uint8_t **skey, size_t *sklen,
                    uint64_t *owner);
/* The user key inside a store key and its record (long keys live in the record). */
int dyna_skey_user_key(const uint8_t *skey, size_t sklen, const uint8_t *rec, size_t reclen,
                       const uint8_t **key, size_t *klen);

/* Appends the stored record of (key, o) to out. */
void dyna_record_encode(const void *key, size_t klen, const dyna_obj_t *o, dyna_buf_t *out);
/* The same from the object's encoding obj[0..objlen) (what dyna_obj_encode appends: a
 * caller that has it, valid and canonical, saves encoding the object again). */
void dyna_record_encode_bytes(const void *key, size_t klen, const uint8_t *obj, size_t objlen,
                              dyna_buf_t *out);
/* Decodes a stored record into o (initialised, replaced on success). When key is not
 * NULL and the record carries a long key, that key must equal it (else DYNA_ECORRUPT:
 * a hash collision or damage, never a silent mix-up). Returns 0, DYNA_ECORRUPT or
 * DYNA_ENOMEM. If key_out is not NULL it is set to the record's long key (pointing
 * into p) or NULL for inline keys. */
int dyna_record_decode(const uint8_t *p, size_t len, const void *key, size_t klen,
                       dyna_obj_t *o, const uint8_t **key_out, size_t *klen_out);
/* The object's encoding inside a stored record, neither decoded nor checked: *obj points
 * into p. The header and the long key are checked as dyna_record_decode checks them.
 * Returns 0 or DYNA_ECORRUPT. */
int dyna_record_object(const uint8_t *p, size_t len, const void *key, size_t klen,
                       const uint8_t **obj, size_t *objlen, const uint8_t **key_out, size_t *klen_out);

#endif
