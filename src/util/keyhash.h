/* keyhash.h: which partition a key belongs to, shared by the nodes (core/keyspace.c)
 * and by libdyna (client/routing.c) so that both compute it the same way.
 *
 * A key hashes with xxHash3-64 into a 64-bit space cut into Q = 2^b equal partitions;
 * the partition is the top b bits of the hash. Pure functions, no allocation. */
#ifndef DYNA_KEYHASH_H
#define DYNA_KEYHASH_H
#include <stddef.h>
#include <stdint.h>

#define DYNA_MAX_KEY_BYTES 65536u
#define DYNA_RING_MAX_SIZE 65536u

uint64_t dyna_key_hash(const void *key, size_t klen);
/* Partition of a hash in a ring of ring_size (a power of two, 1..65536). */
uint32_t dyna_hash_partition(uint64_t hash, uint32_t ring_size);
static inline int dyna_ring_size_valid(uint32_t q) {
  return q >= 1 && q <= DYNA_RING_MAX_SIZE && (q & (q - 1)) == 0;
}

#endif
