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
 *
 * Zone lanes: when every member declares a zone and there are Z >= 2 of them, numbered
 * 0..Z-1 by name, partition p belongs to the lane p % Z and only members of zone
 * (p % Z) own it, so any N consecutive owners are min(N, Z) zones and the preference
 * list is simply the walk's first N distinct owners (but at the seam where Q, a power
 * of two, wraps: Q % Z != 0 puts two partitions of one lane side by side there, and
 * the up to N-1 lists crossing it skip one owner). Balance and minimal movement then
 * hold per zone: a member owns floor or ceil of its lane (Q/Z, or one more for the
 * first Q%Z lanes) over its zone's members, so members are balanced when zones are of
 * equal size, as racks must be in Cassandra for the same reason; the ceil goes, among
 * members owning as much, to the highest ids (a ring made from nothing thus gives the
 * partitions after the seam, whose lists the seam lengthens, to members at the floor).
 * A join in zone z moves only partitions of z's lane. A zone gained or lost (Z
 * changes), or a member that changes zone, moves every partition that leaves its lane.
 * A ring of the older claim whose members already have two or more zones (over Q/16
 * of its partitions out of lane) keeps the older claim, so an upgrade moves nothing;
 * should that claim's result itself come within Q/16 of the lanes, the lanes are taken
 * at once (the next rebalance would take them), so every ring stays a fixed point: the
 * same members again move nothing.
 *
 * Sites (data centres, ring_sites.c): when some member declares a site (dc), the ring is
 * one ring per site over the same Q partitions, each balanced and spread over its own
 * members and zones as above, and a site's rebalance looks only at its members: a join
 * or leave in one site moves no partition of another. A key's preference list is then,
 * for each site in name order, the first n(site) members of that site's ring (the
 * replication setting, dyna_repl_t), followed by the fallbacks: each site's other
 * members in its walk order, site by site. Members that declare no site form the site
 * "" (first by name). Without any site declared the ring is exactly the one above.
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

/* Most sites a ring may have (rebalance refuses more; the decoder rejects more). */
#define DYNA_SITES_MAX 8u

typedef struct dyna_ring_member {
  uint64_t id;
  char zone[DYNA_ZONE_MAX]; /* "" when undeclared */
  char dc[DYNA_ZONE_MAX];   /* the member's site; "" when undeclared */
} dyna_ring_member_t;

typedef struct dyna_ring {
  uint32_t size;               /* Q, a power of two */
  uint32_t nmembers;
  dyna_ring_member_t *members; /* owners, sorted by id ascending (owned) */
  uint32_t *owner;             /* size entries: index into members (owned); NULL when
                                  the ring has sites (each site ring has its own) */
  uint32_t nsites;             /* 0: no member declares a site */
  struct dyna_ring *site;      /* nsites rings without sites, by dc ascending, each
                                  over that site's members (owned) */
} dyna_ring_t;

/* The replication setting: how many replicas of each key a site holds (dynad's
 * --n 3, or --n dc1:3,dc2:2). A site not listed holds n; a ring without sites holds n. */
typedef struct dyna_repl {
  uint32_t n;
  uint32_t nsites;                    /* entries listed below */
  char dc[DYNA_SITES_MAX][DYNA_ZONE_MAX];
  uint32_t dn[DYNA_SITES_MAX];
} dyna_repl_t;

/* Replicas site dc holds under repl. */
uint32_t dyna_repl_site_n(const dyna_repl_t *repl, const char *dc);
/* A uniform setting: n in every site. */
dyna_repl_t dyna_repl_uniform(uint32_t n);
/* Parses "3" or "dc1:3,dc2:2" (a bare number among the entries sets the count of sites
 * not listed; without one it is dflt). Counts 1..max; at most DYNA_SITES_MAX sites, no
 * site twice, names of 1..31 bytes without ':', ',' or spaces; the sum of the listed
 * counts (and the bare one) at most max. Returns 0 or DYNA_EINVAL (out unchanged). */
int dyna_repl_parse(const char *s, uint32_t dflt, uint32_t max, dyna_repl_t *out);
/* Writes the text dyna_repl_parse takes back (bare n first when it is not dflt or no
 * site is listed). */
void dyna_repl_format(const dyna_repl_t *repl, uint32_t dflt, char *out, size_t cap);

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

/* ---- sites (ring_sites.c) ---- */
/* The preference list of p under repl (see the top of this file): the home replicas,
 * site by site, then the fallbacks; at most max ids. *nhome (may be NULL) gets how many
 * of those written are home replicas. A ring without sites: dyna_ring_preflist with
 * repl->n. */
size_t dyna_ring_preflist_repl(const dyna_ring_t *r, uint32_t p, const dyna_repl_t *repl,
                               uint64_t *out, size_t max, size_t *nhome);
/* How many home replicas a partition has under repl: the *nhome of
 * dyna_ring_preflist_repl for a long enough list (the same for every partition). */
size_t dyna_ring_homes(const dyna_ring_t *r, const dyna_repl_t *repl);
/* The index of id's site in r->site (0 for any member of a ring without sites), or -1
 * when id is no member. */
int dyna_ring_site_of(const dyna_ring_t *r, uint64_t id);
/* The name of site s ("" for a ring without sites). */
const char *dyna_ring_site_name(const dyna_ring_t *r, uint32_t s);
/* Sites of r: nsites, or 1 for a ring without sites. */
uint32_t dyna_ring_sites(const dyna_ring_t *r);
/* Home replicas site s holds under repl: min(n of that site, its members). */
uint32_t dyna_ring_site_homes(const dyna_ring_t *r, uint32_t s, const dyna_repl_t *repl);
/* rebalance with sites: members are grouped by dc; each site's ring is rebalanced from
 * old's ring of that site (or old itself when old has no sites and the site is ""),
 * with nval = that site's count under repl, so a change in one site moves nothing in
 * another. Members all without a site: dyna_ring_rebalance with repl->n. Same errors,
 * plus DYNA_EINVAL for more than DYNA_SITES_MAX sites or a dc not NUL-terminated. */
int dyna_ring_rebalance_repl(const dyna_ring_t *old, uint32_t q, const dyna_ring_member_t *members,
                             size_t n, const dyna_repl_t *repl, dyna_ring_t *out);

/* Encoding for gossip and the data directory, appended to out:
 *   varint size, varint nmembers, per member: u64 id, bytes zone (varint len + bytes),
 *   then size owner indexes as varints.
 * A ring with sites: varint size, varint 0, varint nsites, per site (dc ascending):
 *   bytes dc, then that site's ring as above without its size (its members' dc is the
 *   site's). The members of all sites are distinct; one site named "" alone is refused
 *   (that ring has no sites).
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
