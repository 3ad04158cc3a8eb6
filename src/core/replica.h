/* replica.h: one node's own copy of the data: reading, coordinating a new version and
 * merging versions received from elsewhere, over the store interface. Pure: all I/O
 * goes through the store's ops table. */
#ifndef DYNA_REPLICA_H
#define DYNA_REPLICA_H
#include "core/object.h"
#include "store/store.h"

typedef struct dyna_replica {
  dyna_store_t *store; /* borrowed */
  uint64_t node_id;
  uint32_t ring_size;
} dyna_replica_t;

/* Reads key's object into out (initialised; empty when absent). Returns 0,
 * DYNA_ECORRUPT (stored bytes do not decode: reported, never overwritten), DYNA_EIO or
 * DYNA_ENOMEM. */
int dyna_replica_read(const dyna_replica_t *rep, const uint8_t *key, size_t klen,
                      dyna_obj_t *out);

/* The coordinator's write: stored := event(sync(ctx, stored), node_id, v), or with
 * blind set, ctx := the stored object's own context (supersede everything known).
 * Writes the result and returns it in out (initialised, owned by the caller);
 * *existed tells whether a live value was there before. A stored object that does not
 * decode is left untouched and DYNA_ECORRUPT returned. */
int dyna_replica_coordinate(const dyna_replica_t *rep, const uint8_t *key, size_t klen,
                            const dyna_ctx_t *ctx, int blind, const dyna_val_t *v,
                            dyna_obj_t *out, int *existed);

/* Merges incoming into key's stored object and writes it if that changed anything.
 * *changed (may be NULL) tells whether it did. */
int dyna_replica_merge(const dyna_replica_t *rep, const uint8_t *key, size_t klen,
                       const dyna_obj_t *incoming, int *changed);

/* Replaces key's stored object with o, merge or not: only for DYNA_BUG_OVERWRITE, the
 * deliberate fault the simulator must catch. */
int dyna_replica_overwrite(const dyna_replica_t *rep, const uint8_t *key, size_t klen,
                           const dyna_obj_t *o);

#endif
