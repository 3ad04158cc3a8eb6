/* overlay.h: an in-memory batch of writes (puts and deletes) not yet in the underlying
 * store, keyed by (space, key): the latest write to a key replaces the earlier one. The
 * LMDB engine's batch policy reads through several of them (the batch being built, the
 * batches queued for the log, what was logged, what is being checkpointed) before it
 * reads LMDB itself (lmdb_batch.c).
 * Not thread-safe by itself: an overlay is either being built by one thread, or frozen
 * and read by several. Owns copies of every key and value. */
#ifndef DYNA_OVERLAY_H
#define DYNA_OVERLAY_H
#include "store/store.h"
#include <stddef.h>
#include <stdint.h>

typedef struct dyna_ov_entry {
  struct dyna_ov_entry *next; /* hash chain */
  struct dyna_ov_entry *pnext, **pprev; /* prefix index chain (when the index exists) */
  uint8_t space;
  uint8_t tomb;               /* a delete */
  uint32_t klen;
  uint32_t vlen;
  uint64_t hash;              /* dyna_ov_hash of (space, key) */
  uint8_t *key;               /* key and value share one allocation */
  uint8_t *val;
} dyna_ov_entry_t;

#define DYNA_OV_PBUCKETS 4096  /* prefix index buckets */
#define DYNA_OV_PINDEX_MIN 512 /* entries from which an overlay keeps the prefix index */

typedef struct dyna_overlay {
  dyna_ov_entry_t **tab;
  size_t cap;                 /* power of two */
  size_t n;                   /* entries */
  size_t bytes;               /* keys + values held */
  size_t nspace[DYNA_SPACE_COUNT]; /* entries per space */
  /* Prefix index, built once n reaches DYNA_OV_PINDEX_MIN: entries chained by (space,
   * first two key bytes), so that collecting one partition's keys (every store key
   * starts with its u16 partition) does not scan a large overlay. NULL below that. */
  dyna_ov_entry_t **ptab;
} dyna_overlay_t;

void dyna_ov_init(dyna_overlay_t *o);
void dyna_ov_clear(dyna_overlay_t *o); /* frees every entry, keeps nothing */
/* Records a put (tomb = 0) or a delete. Returns 0 or DYNA_ENOMEM (overlay unchanged). */
int dyna_ov_set(dyna_overlay_t *o, dyna_space_t sp, const uint8_t *k, size_t klen,
                const uint8_t *v, size_t vlen, int tomb);
/* Moves every entry of src into dst, where src's entries replace dst's for the same key;
 * src is left empty. Cannot fail: without memory to grow dst, its chains get longer. */
void dyna_ov_absorb(dyna_overlay_t *dst, dyna_overlay_t *src);
/* The entry for (sp, k), or NULL. */
const dyna_ov_entry_t *dyna_ov_get(const dyna_overlay_t *o, dyna_space_t sp, const uint8_t *k,
                                   size_t klen);
/* The hash of (sp, k), and dyna_ov_get given it (to look a key up in several overlays). */
uint64_t dyna_ov_hash(dyna_space_t sp, const uint8_t *k, size_t klen);
const dyna_ov_entry_t *dyna_ov_get_h(const dyna_overlay_t *o, dyna_space_t sp, const uint8_t *k,
                                     size_t klen, uint64_t hash);
/* Hints (no effect but on the caches) for a lookup of hash soon: stage 0 starts loading
 * its bucket; stage 1, issued after stage 0 had time to land, the bucket's first entry
 * (header, key and the start of the value). */
void dyna_ov_prefetch(const dyna_overlay_t *o, uint64_t hash, int stage);
/* Calls fn on each entry of space sp whose key starts with prefix, in no order, until fn
 * returns non-zero, which it returns (0 when every call returned 0). O(matches) with the
 * prefix index and plen >= 2, else O(entries); O(1) when the space has none. */
int dyna_ov_each_prefix(const dyna_overlay_t *o, dyna_space_t sp, const uint8_t *prefix, size_t plen,
                        int (*fn)(void *arg, const dyna_ov_entry_t *e), void *arg);
/* Appends to *out (growing it; caller frees with dyna_free) the entries of space sp whose
 * key starts with prefix, and returns their count via *n. Unsorted. O(matches) with the
 * prefix index and plen >= 2, else O(entries); O(1) when the space has none. */
int dyna_ov_collect(const dyna_overlay_t *o, dyna_space_t sp, const uint8_t *prefix, size_t plen,
                    const dyna_ov_entry_t ***out, size_t *n, size_t *cap);
/* Calls fn for every entry (any order); stops at the first non-zero return. */
int dyna_ov_each(const dyna_overlay_t *o, int (*fn)(void *arg, const dyna_ov_entry_t *e), void *arg);
/* Bytewise key order (shorter first on a common prefix), as LMDB orders keys. */
int dyna_ov_keycmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

#endif
