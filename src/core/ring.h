/* ring.h: partition placement (Dynamo's strategy 3). The 64-bit hash space is cut into
 * Q equal partitions (keyspace.h maps a key to its partition); each partition has one
 * owner. The preference list of a partition is the first N distinct owners met walking
 * the ring clockwise from it (partition p, p+1, ..., wrapping), taking nodes of zones
 * not yet used first when zones are declared; the list continues past N with every
 * other owner in walk order, as fallbacks for sloppy quorum.
 *
 * dyna_ring_rebalance computes a new assignment from the current one and the new set
 * of owning members, deterministically (same inputs, same ring on every node):
 *   - balance: every member owns floor(Q/S) or ceil(Q/S) partitions;
 *   - minimal movement: a partition changes owner only if its owner left or owns more
 *     than its target; members that must give up partitions keep the rest;
 *   - spread: a freed partition goes, among the members under target, preferably to one
 *     that owns none of the N-1 partitions before or after it (so the N replicas of
 *     neighbouring partitions are distinct nodes) and, with zones, whose zone is not
 *     among those neighbours; ties go to the member owning fewest, then lowest id.
 * Zones: a member with an undeclared zone ("") never conflicts by zone with anyone.
 * Pure: no I/O, no clock, no randomness. Memory: a dyna_ring_t owns its arrays.
 */
#ifndef DYNA_RING_H
#define DYNA_RING_H
#include "util/buf.h"
#include <stddef.h>
#include <stdint.h>

#define DYNA_ZONE_MAX 32
/* Most members a ring may have (rebalance refuses more; the decoder rejects more). */
#define DYNA_RING_MEMBERS_MAX 4096u
/* Rebalance spreads replicas for N up to this; a larger nval is treated as this much
 * (preference lists still honour any nval). */
#define DYNA_RING_SPREAD_MAX 8u

typedef struct dyna_ring_member {
  uint64_t id;
  char zone[DYNA_ZONE_MAX]; /* "" when undeclared */
} dyna_ring_member_t;

typedef struct dyna_ring {
  uint32_t size;               /* Q, a power of two */
  uint32_t nmembers;
  dyna_ring_member_t *members; /* owners, sorted by id ascending (owned) */
  uint32_t *owner;             /* size entries: index into members (owned) */
} dyna_ring_t;

void dyna_ring_init(dyna_ring_t *r);
void dyna_ring_clear(dyna_ring_t *r); /* frees and re-inits */
int dyna_ring_copy(dyna_ring_t *dst, const dyna_ring_t *src);
int dyna_ring_equal(const dyna_ring_t *a, const dyna_ring_t *b);

/* A ring of q partitions all owned by one member. Returns 0, DYNA_EINVAL or DYNA_ENOMEM. */
int dyna_ring_single(dyna_ring_t *r, uint32_t q, const dyna_ring_member_t *m);

/* out := rebalance(old, members). members (n >= 1, distinct ids, any order) are the
 * nodes that should own partitions. old may be empty (size 0): then q gives the size
 * and the assignment starts from nothing. out must be initialised and distinct from old;
 * its previous contents are freed on success. Returns 0, DYNA_EINVAL or DYNA_ENOMEM.
 * EINVAL: n is 0 or over DYNA_RING_MEMBERS_MAX, ids repeat, a zone is not NUL-terminated,
 * the size is not a power of two in 1..DYNA_RING_MAX_SIZE (16384), q is neither 0 nor
 * old's size (resizing is not supported), or old is malformed. The spread window is min(nval, n,
 * DYNA_RING_SPREAD_MAX) - 1 partitions on each side (at most Q/2).
 * Cost: about O(Q * N * log S + Q log Q + S log S), N = that window + 1. */
int dyna_ring_rebalance(const dyna_ring_t *old, uint32_t q, const dyna_ring_member_t *members,
                        size_t n, uint32_t nval, dyna_ring_t *out);

/* Owner id of partition p. */
uint64_t dyna_ring_owner(const dyna_ring_t *r, uint32_t p);
/* Index of member id in r->members, or -1. */
int dyna_ring_member_index(const dyna_ring_t *r, uint64_t id);
/* Number of partitions id owns. */
uint32_t dyna_ring_owned(const dyna_ring_t *r, uint64_t id);

/* out := r with member old_id replaced by m (m->id not yet a member): m owns exactly the
 * partitions old_id owned, every other partition keeps its owner. A node that takes a
 * dead member's place (gossip.c) thus moves nothing but that member's replicas. out must
 * be initialised and distinct from r; its previous contents are freed on success.
 * Returns 0, DYNA_EINVAL (old_id not a member, m->id 0 or already a member, zone not
 * NUL-terminated) or DYNA_ENOMEM. Cost O(Q + S). */
int dyna_ring_substitute(const dyna_ring_t *r, uint64_t old_id, const dyna_ring_member_t *m,
                         dyna_ring_t *out);

/* The preference list of partition p: writes up to max distinct node ids to out, the
 * first min(nval, nmembers) chosen zone-first as described above, then every other
 * member in walk order. Returns the count written. */
size_t dyna_ring_preflist(const dyna_ring_t *r, uint32_t p, uint32_t nval, uint64_t *out,
                          size_t max);
/* 1 when id is among the first nval nodes of p's preference list. */
int dyna_ring_is_replica(const dyna_ring_t *r, uint32_t p, uint32_t nval, uint64_t id);

/* Encoding for gossip and the data directory, appended to out:
 *   varint size, varint nmembers, per member: u64 id, bytes zone (varint len + bytes),
 *   then size owner indexes as varints.
 * dyna_ring_read reads one ring from rd (which may hold more after it), validating
 * every field (power-of-two size up to DYNA_RING_MAX_SIZE = 16384, ids strictly
 * ascending, zone length, owner indexes in range, every member owning at least one
 * partition is NOT required).
 * Varints must be minimal and zones must hold no NUL byte, so a ring has exactly one
 * encoding. The empty ring (size 0, no members) encodes as two zero bytes and reads back.
 * Returns 0, DYNA_ECORRUPT or DYNA_ENOMEM; r (initialised) replaced on success only. */
void dyna_ring_encode(const dyna_ring_t *r, dyna_buf_t *out);
int dyna_ring_read(dyna_rd_t *rd, dyna_ring_t *r);

#endif
