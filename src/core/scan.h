/* scan.h: listing the keys of the whole cluster (SCAN, KEYS, RANDOMKEY, DBSIZE) and
 * deleting every one of them (FLUSHALL), in the core.
 *
 * Where a key is in a scan: its partition p and its *position*, the low 48 bits of
 * xxHash3-64 of the key (dyna_scan_pos_of). The position is a property of the key alone,
 * the same on every replica, whoever holds the partition now: so a scan can go on
 * against other replicas after a join or a leave, and the answers of several replicas
 * merge. A SCAN cursor is one unsigned 64-bit number, written in decimal as Redis's are:
 *
 *   cursor = p << 48 | position      (0: the start, and the end)
 *
 * meaning "every key of the partitions before p has been returned, and every key of p
 * whose position is below this one". A replica answers a page of partition p from a
 * position (dyna_scan_partition): the live keys (no tombstones, no expired keys) whose
 * positions are the lowest ones at or above it, at most count of them (at most
 * DYNA_SCAN_BYTES_MAX bytes of keys), and the position where the next page starts: every
 * live key between the two is in the page. Keys of one position are never split over
 * two pages (so a page may hold more than count keys when positions collide, which
 * 48 bits make rare). The replica reads its whole partition to answer (a partition is
 * ordered by key in the store, not by position): O(keys of p) time, O(count) memory.
 *
 * The coordinator (scan_fsm.c) asks every reachable home replica of p for a page, and
 * takes the union of their keys below the lowest next position they gave: each key
 * any of them held is returned. */
#ifndef DYNA_SCAN_H
#define DYNA_SCAN_H
#include "store/store.h"
#include "util/buf.h"
#include <stddef.h>
#include <stdint.h>

#define DYNA_SCAN_POS_BITS 48
#define DYNA_SCAN_POS_END (1ull << DYNA_SCAN_POS_BITS) /* past every position */
#define DYNA_SCAN_COUNT_MAX 1000u                       /* keys per page at most */
#define DYNA_SCAN_BYTES_MAX (1u << 20)                  /* key bytes per page (soft) */
#define DYNA_KEYS_MAX 100000u                           /* KEYS refuses a longer answer */
#define DYNA_KEYS_BYTES_MAX (64u << 20)                 /* ... or a larger one */

/* How a DYNA_OP_SCAN request lists keys (node.h's dyna_req_t.scan). */
typedef enum {
  DYNA_SCAN_PAGE = 0, /* SCAN: [next cursor, [keys]] from cursor, about count keys */
  DYNA_SCAN_ALL,      /* KEYS: every key matching, refused beyond DYNA_KEYS_MAX */
  DYNA_SCAN_RANDOM    /* RANDOMKEY: the first live key after a random place, or nil */
} dyna_scan_mode_t;

typedef struct dyna_scan_spec {
  dyna_scan_mode_t mode;
  uint64_t cursor;     /* PAGE: where to go on (0: from the start) */
  uint32_t count;      /* PAGE: keys wanted (0: 10; capped at DYNA_SCAN_COUNT_MAX) */
  const char *pattern; /* MATCH (glob, util/glob.h); NULL: every key. Borrowed */
  size_t plen;
  uint32_t kinds;      /* TYPE: bit k for dyna_kind_t k; 0: any kind.
                          DYNA_SCAN_KINDS_NONE: a type no key has */
} dyna_scan_spec_t;
#define DYNA_SCAN_KINDS_NONE 0x80000000u

/* The position of a key (low 48 bits of its xxHash3-64). */
uint64_t dyna_scan_pos_of(const uint8_t *key, size_t klen);
/* The cursor of (partition, position) and back. split returns 0, or DYNA_EINVAL when the
 * cursor names a partition at or beyond ring_size. */
uint64_t dyna_scan_cursor(uint32_t p, uint64_t pos);
int dyna_scan_cursor_split(uint64_t cursor, uint32_t ring_size, uint32_t *p, uint64_t *pos);

/* One page of partition p from position start, in the store's OBJ space, keys live at
 * wall time now_ms. Appends to out, per key: varint kind (dyna_kind_t) | bytes key
 * (varint length, bytes); *nout = how many; *next = the position the next page starts
 * at, DYNA_SCAN_POS_END when p has no live key at or beyond it. count 0 counts as 1.
 * Returns 0, DYNA_ENOMEM, or the store's error (out then holds nothing valid).
 * Records that do not decode are skipped (reported by reads, never listed). */
int dyna_scan_partition(dyna_store_t *st, uint32_t p, uint64_t start, uint32_t count,
                        uint64_t now_ms, dyna_buf_t *out, uint32_t *nout, uint64_t *next);

/* Live keys of partition p at wall time now_ms, into *count. Returns 0 or an error. */
int dyna_scan_count(dyna_store_t *st, uint32_t p, uint64_t now_ms, uint64_t *count);

/* One entry of a page (as dyna_scan_partition writes them): reads it from r into
 * (*kind, *key, *klen), the key pointing into the page. Returns 0, or DYNA_EPROTO when
 * the bytes do not hold one. */
int dyna_scan_entry(dyna_rd_t *r, uint32_t *kind, const uint8_t **key, size_t *klen);

#endif
