/* keyhash.c: a key's hash and partition (see keyhash.h). */
#include "util/keyhash.h"
#include <xxhash.h>

uint64_t dyna_key_hash(const void *key, size_t klen) { return XXH3_64bits(key, klen); }

uint32_t dyna_hash_partition(uint64_t hash, uint32_t ring_size) {
  if (ring_size <= 1) return 0;
  unsigned bits = (unsigned)__builtin_ctz(ring_size);
  return (uint32_t)(hash >> (64 - bits));
}
