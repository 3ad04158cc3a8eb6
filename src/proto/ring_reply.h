/* ring_reply.h: the layout of the DYNA.RING reply, defined once: the encoder dynad
 * answers with (src/runtime/cmd_dyna.c) and the decoder libdyna routes by
 * (src/client/routing.c). Pure: no I/O.
 *
 *   *5
 *     :size                  partitions, a power of two (1 .. DYNA_RING_MAX_SIZE)
 *     :n                     replicas per key: the longest preference list (1 .. 64)
 *     :version               the ring's version (>= 0)
 *     *members               one entry per member, in the node's order
 *       *4 $id $addr $name $status
 *                            id: 16 hex digits; addr: the member's client address
 *                            "host:port"; status: "valid", "leaving", "removed", ...
 *     *size                  partition p's preference list, p = 0 .. size-1
 *       *k :idx ...          k <= n member indexes (into members), first one first
 *
 * A key's partition is its slot's (CRC16 of the key or its hash tag, mod 16384) in size
 * contiguous ranges of slots: dyna_key_partition (util/keyhash.h). */
#ifndef DYNA_PROTO_RING_REPLY_H
#define DYNA_PROTO_RING_REPLY_H
#include "proto/resp.h"
#include "util/buf.h"
#include <stddef.h>
#include <stdint.h>

#define DYNA_RING_REPLY_N_MAX 64          /* longest preference list a reply may carry */
#define DYNA_RING_REPLY_MEMBERS_MAX 65535 /* members a reply may list (indexes are uint16) */

typedef struct dyna_ring_reply_member {
  char *id;     /* hex node id (owned by the reply when decoded) */
  char *addr;   /* client address "host:port" as the member advertises it */
  char *name;
  char *status; /* "valid", "leaving", "removed" */
} dyna_ring_reply_member_t;

typedef struct dyna_ring_reply {
  uint32_t size;    /* partitions, a power of two */
  uint32_t n;       /* replicas per key (length of each preference list, at most) */
  uint64_t version;
  size_t nmembers;
  dyna_ring_reply_member_t *members;
  uint16_t *prefs;  /* size * n member indexes: partition p's list at prefs[p * n] */
  uint8_t *plen;    /* size: length of each partition's list (<= n) */
} dyna_ring_reply_t;

/* ---- encoding, piece by piece (the server streams it from its cluster state) ----
 * Call put_head once, put_member nmembers times, put_prefs_head once, then
 * put_preflist size times, in that order. Check b->oom once at the end. */
void dyna_ring_reply_put_head(dyna_buf_t *b, uint32_t size, uint32_t n, uint64_t version,
                              size_t nmembers);
void dyna_ring_reply_put_member(dyna_buf_t *b, uint64_t id, const char *addr, const char *name,
                                const char *status);
void dyna_ring_reply_put_prefs_head(dyna_buf_t *b, uint32_t size);
void dyna_ring_reply_put_preflist(dyna_buf_t *b, const uint16_t *idx, size_t k);

/* Encodes a whole decoded reply r again (its member ids must be 16 hex digits). */
void dyna_ring_reply_encode(dyna_buf_t *b, const dyna_ring_reply_t *r);

/* Decodes a parsed DYNA.RING reply v into r (zeroed first; free with
 * dyna_ring_reply_free). Every index is checked against the member count, every list
 * against n, and the size must be a power of two.
 * @return 0, DYNA_EPROTO (wrong shape) or DYNA_ENOMEM; on error r is empty. */
int dyna_ring_reply_decode(const dyna_resp_value_t *v, dyna_ring_reply_t *r);
/* Frees what a decoded r owns and zeroes it (NULL or empty: no-op). */
void dyna_ring_reply_free(dyna_ring_reply_t *r);

#endif
