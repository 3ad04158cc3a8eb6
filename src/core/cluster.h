/* cluster.h: the cluster state every node keeps and gossips: the members (id, name,
 * addresses, zone, status, each record versioned) and the partition assignment (a
 * ring, versioned by (ring_version, ring_author)).
 *
 * Merging two states is deterministic, commutative and idempotent:
 *   - a member record with a higher version wins; equal versions with different
 *     contents are settled by the higher status, then the greater encoding;
 *   - the ring with the higher (version, author) wins.
 * The ring's owners must be exactly the VALID members. When they are not (a member
 * joined, is leaving or was removed), the claimant, the VALID member with the lowest
 * id, rebalances the ring and bumps its version (dyna_cluster_fix_ring); any node may
 * find itself claimant, and concurrent claims converge because the merge picks one
 * winner and the check runs again on the result.
 * Membership changes are explicit (join, leave, remove); reachability never changes
 * this state.
 * Pure. A dyna_cluster_t owns its arrays.
 */
#ifndef DYNA_CLUSTER_H
#define DYNA_CLUSTER_H
#include "util/buf.h"
#include "core/ring.h"
#include <stddef.h>
#include <stdint.h>

#define DYNA_NAME_MAX 64
#define DYNA_ADDR_MAX 64
#define DYNA_CLUSTER_MAX_MEMBERS 4096

typedef enum {
  DYNA_MEMBER_VALID = 1,   /* owns partitions */
  DYNA_MEMBER_LEAVING = 2, /* hands its data off, then becomes REMOVED */
  DYNA_MEMBER_REMOVED = 3  /* gone for good; kept so the removal itself spreads */
} dyna_member_status_t;

typedef struct dyna_member {
  uint64_t id;
  uint64_t version;
  uint8_t status;
  char name[DYNA_NAME_MAX];
  char addr[DYNA_ADDR_MAX];        /* cluster (inter-node) address host:port */
  char client_addr[DYNA_ADDR_MAX]; /* RESP address host:port */
  char zone[DYNA_ZONE_MAX];
  char dc[DYNA_ZONE_MAX];          /* site (data centre); "" when undeclared */
} dyna_member_t;

typedef struct dyna_cluster {
  size_t n;
  dyna_member_t *m; /* sorted by id ascending (owned) */
  dyna_ring_t ring;
  uint64_t ring_version;
  uint64_t ring_author;
  uint64_t digest;  /* dyna_cluster_digest's memo; 0: not known (see dyna_cluster_touch) */
  uint64_t gen;     /* bumped by every change (dyna_cluster_touch, clear, decode): what a
                       caller computes from c may be kept until gen moves */
} dyna_cluster_t;

void dyna_cluster_init(dyna_cluster_t *c);
void dyna_cluster_clear(dyna_cluster_t *c);

/* A new cluster of one VALID member owning all q partitions (ring version 1). */
int dyna_cluster_bootstrap(dyna_cluster_t *c, const dyna_member_t *self, uint32_t q);

const dyna_member_t *dyna_cluster_find(const dyna_cluster_t *c, uint64_t id);
/* > 0 when a wins over b under the merge rule (version, then status, then contents),
 * < 0 when b wins, 0 when identical. */
int dyna_member_cmp(const dyna_member_t *a, const dyna_member_t *b);
/* Finds by name or by hex id: the live (not REMOVED) member of that name (the first by
 * id when several share it: see dyna_cluster_name_count), else a REMOVED one (a node
 * that took a dead member's place leaves that member's record under the same name). */
const dyna_member_t *dyna_cluster_find_name(const dyna_cluster_t *c, const char *name);
/* The first live member named name whose id is not except; NULL when none. */
const dyna_member_t *dyna_cluster_find_live_name(const dyna_cluster_t *c, const char *name, uint64_t except);
/* How many live members are named name (more than one: the name is ambiguous, and an
 * admin action naming it must be refused). */
size_t dyna_cluster_name_count(const dyna_cluster_t *c, const char *name);

/* Inserts m or replaces the record with the same id if m wins the merge rule.
 * *changed (may be NULL) tells whether anything changed. Returns 0 or DYNA_ENOMEM. */
int dyna_cluster_upsert(dyna_cluster_t *c, const dyna_member_t *m, int *changed);
/* c := merge(c, other). */
int dyna_cluster_merge(dyna_cluster_t *c, const dyna_cluster_t *other, int *changed);
/* When the ring's owners differ from the VALID members and self is the claimant,
 * rebalances (repl: each site's replicas, which guide spread) and bumps the ring version. *changed tells whether it
 * did. Returns 0, DYNA_ENOMEM. */
int dyna_cluster_fix_ring(dyna_cluster_t *c, uint64_t self, const dyna_repl_t *repl, int *changed);
/* The digest of the state gossip compares (a hash of every member record, all fields,
 * in id order, and the ring's version and author; never 0): equal states give equal
 * digests. Kept in c->digest until c changes: the functions here that change c forget
 * it; code that writes c's members, n, ring_version or ring_author itself must call
 * dyna_cluster_touch after (which also moves c->gen). Builds without NDEBUG check the
 * memo against a fresh hash on every use. */
uint64_t dyna_cluster_digest(dyna_cluster_t *c);
static inline void dyna_cluster_touch(dyna_cluster_t *c) {
  c->digest = 0;
  c->gen++;
}
/* 1 when a and b hold the same state as the digest sees it (the same records, ring
 * version and author): dyna_cluster_digest(a) == dyna_cluster_digest(b) without hashing
 * either. */
int dyna_cluster_same(const dyna_cluster_t *a, const dyna_cluster_t *b);
/* 1 when the ring's owners are exactly the VALID members. */
int dyna_cluster_ring_settled(const dyna_cluster_t *c);

/* A member record alone (JOIN): the fields of protocol version 1, then bytes dc only
 * when the member declares a site. */
void dyna_member_encode(const dyna_member_t *m, dyna_buf_t *out);
int dyna_member_read(dyna_rd_t *rd, dyna_member_t *m); /* 0 or DYNA_ECORRUPT; no dc */
int dyna_member_read_dc(dyna_rd_t *rd, dyna_member_t *m); /* the trailing dc: 0 or DYNA_ECORRUPT */
/* The cluster state: version 1 when no member declares a site (the bytes of a build
 * without sites), else version 2, whose member records each end with bytes dc. */
void dyna_cluster_encode(const dyna_cluster_t *c, dyna_buf_t *out);
/* Decodes a whole encoding (no trailing bytes). c (initialised) replaced on success.
 * Returns 0, DYNA_ECORRUPT or DYNA_ENOMEM. */
int dyna_cluster_decode(const uint8_t *p, size_t len, dyna_cluster_t *c);

const char *dyna_member_status_name(int status);

#endif
