/* ring_int.h: what ring.c and ring_sites.c share and no one else needs: the single-site
 * rebalance, the encoding of one ring after its size, and the sites' halves of the
 * public functions that dispatch on dyna_ring_t.nsites. Pure. */
#ifndef DYNA_RING_INT_H
#define DYNA_RING_INT_H
#include "core/ring.h"

/* Most home replicas of one key over all sites (DYNA_SITES_MAX sites of 16). */
#define DYNA_RING_SITE_HOMES_MAX 128u

void dyna_ring_member_copy(dyna_ring_member_t *dst, const dyna_ring_member_t *src);
/* dyna_ring_rebalance for a ring without sites (old must have none): members' dc is kept
 * as given and not looked at. */
int dyna_ring_rebalance_one(const dyna_ring_t *old, uint32_t q, const dyna_ring_member_t *members,
                            size_t n, uint32_t nval, dyna_ring_t *out);
/* A ring without sites after its size: nmembers, members, owners. */
void dyna_ring_encode_body(const dyna_ring_t *r, dyna_buf_t *out);
int dyna_ring_read_body(dyna_rd_t *rd, uint32_t q, dyna_ring_t *r);
uint64_t dyna_ring_rd_varint_min(dyna_rd_t *rd, uint64_t max);

/* ring_sites.c: the same contracts as the public functions, for a ring with sites. */
int dyna_ring_sites_copy(dyna_ring_t *dst, const dyna_ring_t *src);
int dyna_ring_sites_substitute(const dyna_ring_t *r, uint64_t old_id, const dyna_ring_member_t *m,
                               dyna_ring_t *out);
void dyna_ring_sites_encode(const dyna_ring_t *r, dyna_buf_t *out); /* after the size */
int dyna_ring_sites_read(dyna_rd_t *rd, uint32_t q, dyna_ring_t *r); /* after the size */

#endif
