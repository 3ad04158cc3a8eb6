/* keyhash.h: which slot and which partition a key belongs to, shared by the nodes
 * (core/node.c, core/replica.c), libdyna (client/routing.c) and the simulator
 * (sim/workload.c), so that all of them compute it the same way.
 *
 * A key's slot is Redis Cluster's: CRC16 (the XMODEM variant: polynomial 0x1021, initial
 * value 0, no reflection) of the key, or of its hash tag, mod 16384. The hash tag is the
 * part between the first '{' and the first '}' after it, when that part is not empty:
 * "{user1000}.following" and "{user1000}.followers" share a slot; "foo{}{bar}" hashes the
 * whole key; "foo{{bar}}zap" hashes "{bar". The 16384 slots are cut into Q = 2^b
 * contiguous ranges of 16384 / Q slots, one per partition: partition = slot >> (14 - b).
 * So Q is at most 16384 (one slot per partition).
 *
 * Pure functions, no allocation. */
#ifndef DYNA_KEYHASH_H
#define DYNA_KEYHASH_H
#include <stddef.h>
#include <stdint.h>

#define DYNA_MAX_KEY_BYTES 65536u
#define DYNA_SLOTS 16384u          /* Redis Cluster's hash slots */
#define DYNA_RING_MAX_SIZE 16384u  /* a partition holds at least one whole slot */

/* CRC16/XMODEM of len bytes (the checksum Redis Cluster's slots use). */
uint16_t dyna_crc16(const void *p, size_t len);
/* The hashed part of a key: its hash tag when it has a non-empty one, else the whole
 * key. *len gets its length; the result points into key. */
const uint8_t *dyna_key_hashed_part(const void *key, size_t klen, size_t *len);
/* The key's slot, 0 .. DYNA_SLOTS-1 (Redis's CLUSTER KEYSLOT). */
uint32_t dyna_key_slot(const void *key, size_t klen);
/* The partition holding slot in a ring of ring_size (a power of two, 1..16384). */
uint32_t dyna_slot_partition(uint32_t slot, uint32_t ring_size);
/* The first slot of partition p and the number of slots each partition holds. */
uint32_t dyna_partition_first_slot(uint32_t p, uint32_t ring_size);
static inline uint32_t dyna_partition_slots(uint32_t ring_size) {
  return ring_size ? DYNA_SLOTS / ring_size : DYNA_SLOTS;
}
/* The key's partition: dyna_slot_partition(dyna_key_slot(key)). The one placement
 * function: every user (core, libdyna, simulator, tests) calls this. */
uint32_t dyna_key_partition(const void *key, size_t klen, uint32_t ring_size);
/* A well-spread 64-bit hash of the whole key (xxHash3-64), for orders that must not
 * follow placement (a scan's position within a partition, core/scan.c); not placement. */
uint64_t dyna_key_hash(const void *key, size_t klen);
static inline int dyna_ring_size_valid(uint32_t q) {
  return q >= 1 && q <= DYNA_RING_MAX_SIZE && (q & (q - 1)) == 0;
}

#endif
