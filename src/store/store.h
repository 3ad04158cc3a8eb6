/* store.h: the storage interface. A store is a set of key spaces of byte keys and byte
 * values behind an ops table (like SQLite's VFS), with two engines: LMDB (the durable
 * default) and memory (tests and the simulator, with a crash model).
 *
 * Contract (tests/unit/test_store.c runs it against every engine):
 *  - put/del are visible to get/iter on the same store at once.
 *  - Durability follows the sync policy:
 *      DYNA_SYNC_ALWAYS  each put/del is committed and fsync'd before it returns;
 *      DYNA_SYNC_BATCH   writes accumulate; commit() makes all of them durable (fsync)
 *                        in one go (group commit: the runtime calls it once per loop
 *                        turn, before any reply that depends on those writes leaves);
 *      DYNA_SYNC_NONE    commit() hands writes to the OS without fsync.
 *  - iter visits the keys of one space that start with a prefix, in ascending bytewise
 *    order, and sees writes not yet committed.
 *  - Keys are 1..DYNA_STORE_MAX_KEY bytes; values 0..DYNA_STORE_MAX_VALUE bytes. Longer
 *    gets DYNA_ETOOBIG and changes nothing.
 *  - Errors: DYNA_ENOTFOUND (get/del of an absent key), DYNA_ETOOBIG, DYNA_EFULL (disk
 *    or map full), DYNA_EIO, DYNA_ELOCKED (open: directory in use), DYNA_ENOMEM.
 *  - A failed put/del/commit rolls back the whole uncommitted batch (LMDB aborts the
 *    transaction): the data is as it was after the last successful commit, and the store
 *    stays usable. A put/del failure is also remembered: the next commit() returns that
 *    error once, so a caller that only checks commit() still learns the batch was lost.
 *    That commit() also discards the writes made after the failure, so an error from
 *    commit() always means: nothing since the last successful commit was kept.
 *    ETOOBIG (bad length) and ENOTFOUND (del of an absent key) are not failures in
 *    this sense: they change nothing, roll nothing back and are not remembered.
 * Ownership: the caller owns every buffer it passes and the dyna_buf_t it gets values in;
 * iter passes the callback pointers that are valid only during the call.
 */
#ifndef DYNA_STORE_H
#define DYNA_STORE_H
#include "util/buf.h"
#include <stddef.h>
#include <stdint.h>

#define DYNA_STORE_MAX_KEY 480          /* fits LMDB's default max key size (511) */
#define DYNA_STORE_MAX_VALUE (64u << 20) /* 64 MiB */

typedef enum {
  DYNA_SPACE_OBJ = 0,  /* versioned objects, keyed by dyna_skey (partition-first) */
  DYNA_SPACE_META = 1, /* node id, ring state, and other node metadata */
  DYNA_SPACE_HINT = 2, /* hinted-handoff records */
  DYNA_SPACE_COUNT
} dyna_space_t;

typedef enum { DYNA_SYNC_ALWAYS = 0, DYNA_SYNC_BATCH = 1, DYNA_SYNC_NONE = 2 } dyna_sync_t;

/* Iteration callback: return 0 to go on, non-zero to stop (iter then returns that value).
 * The callback may call get/put/del/commit on the same store (not close): iteration then
 * goes on with the first key after the last one visited, as the store is at that time
 * (a key the callback writes ahead of the cursor may or may not be visited). */
typedef int (*dyna_store_iter_fn)(void *arg, const uint8_t *k, size_t klen,
                                  const uint8_t *v, size_t vlen);

typedef struct dyna_store dyna_store_t;

typedef struct dyna_store_ops {
  const char *name;
  /* Replaces out's contents with the value of k. */
  int (*get)(dyna_store_t *s, dyna_space_t sp, const uint8_t *k, size_t klen, dyna_buf_t *out);
  int (*put)(dyna_store_t *s, dyna_space_t sp, const uint8_t *k, size_t klen,
             const uint8_t *v, size_t vlen);
  int (*del)(dyna_store_t *s, dyna_space_t sp, const uint8_t *k, size_t klen);
  int (*iter)(dyna_store_t *s, dyna_space_t sp, const uint8_t *prefix, size_t plen,
              dyna_store_iter_fn fn, void *arg);
  /* Ends the current batch: durable per the sync policy. No-op when nothing is pending. */
  int (*commit)(dyna_store_t *s);
  /* Number of writes since the last commit (0 = nothing to commit). */
  size_t (*pending)(dyna_store_t *s);
  /* Closes and frees s; pending writes are committed first. */
  void (*close)(dyna_store_t *s);

  /* Pipelined group commit (optional: NULL in engines without it). The LMDB engine under
   * DYNA_SYNC_BATCH commits on a writer thread, so the event loop goes on taking the
   * next batch while earlier ones are fsync'd (under DYNA_SYNC_NONE commit_async writes
   * the batch itself, without fsync: its ticket is durable at the next poll):
   *   commit_async  queues the current batch for the writer and returns at once with its
   *                 ticket (*ticket = 0: nothing to commit); tickets become durable in
   *                 order. DYNA_EBUSY when the queue is full, or while a checkpoint
   *                 waits for it to drain (keep accumulating). It reports the error of
   *                 a failed put/del even when nothing is pending. The batch's writes
   *                 stay visible to get/iter meanwhile.
   *   poll          collects a finished batch: *durable = the highest ticket that is
   *                 durable. Returns 0, or the error of a failed batch, which is then
   *                 rolled back together with the batch built on top of it.
   *   set_notify    fn(arg) is called from the writer thread each time a batch
   *                 finishes (e.g. uv_async_send); the caller then polls.
   * commit() still works in this mode: it commits everything and waits. */
  int (*commit_async)(dyna_store_t *s, uint64_t *ticket);
  int (*poll)(dyna_store_t *s, uint64_t *durable);
  void (*set_notify)(dyna_store_t *s, void (*fn)(void *arg), void *arg);
  /* Records in space sp, cheaply (optional: NULL in engines that would have to walk).
   * LMDB's count of the space's tree, as last committed to it: writes still in a WAL
   * batch not checkpointed yet are not in it. For operators (INFO keys_stored). */
  int (*count)(dyna_store_t *s, dyna_space_t sp, uint64_t *n);
  /* 1 when sp holds a record whose key starts with prefix, 0 when none, < 0 an error
   * (optional: NULL where iter finds the first record as cheaply; dyna_store_any then
   * asks iter). The LMDB engine's iter copies and sorts every key of the prefix still in
   * memory before it visits the first (lmdb_batch.c); this stops at the first live one. */
  int (*any)(dyna_store_t *s, dyna_space_t sp, const uint8_t *prefix, size_t plen);
  /* Optional, a hint that changes nothing: the n keys (n <= DYNA_STORE_PREFETCH_MAX) of sp
   * will be read soon; the engine may start loading the memory their reads will touch,
   * all at once, so that n lookups wait for memory about as long as one. */
  void (*prefetch)(dyna_store_t *s, dyna_space_t sp, const uint8_t *const *keys,
                   const size_t *klens, size_t n);
} dyna_store_ops_t;

#define DYNA_STORE_PREFETCH_MAX 16

struct dyna_store {
  const dyna_store_ops_t *ops;
  dyna_sync_t sync;
  uint64_t writes; /* put/del calls through the wrappers below: the last write's number
                      (core/durable.h); engines start it at 0 */
};

static inline int dyna_store_get(dyna_store_t *s, dyna_space_t sp, const uint8_t *k,
                                 size_t klen, dyna_buf_t *out) {
  return s->ops->get(s, sp, k, klen, out);
}
static inline int dyna_store_put(dyna_store_t *s, dyna_space_t sp, const uint8_t *k,
                                 size_t klen, const uint8_t *v, size_t vlen) {
  s->writes++;
  return s->ops->put(s, sp, k, klen, v, vlen);
}
static inline int dyna_store_del(dyna_store_t *s, dyna_space_t sp, const uint8_t *k,
                                 size_t klen) {
  s->writes++;
  return s->ops->del(s, sp, k, klen);
}
static inline int dyna_store_iter(dyna_store_t *s, dyna_space_t sp, const uint8_t *prefix,
                                  size_t plen, dyna_store_iter_fn fn, void *arg) {
  return s->ops->iter(s, sp, prefix, plen, fn, arg);
}
static inline int dyna_store_stop_at_first_(void *arg, const uint8_t *k, size_t klen, const uint8_t *v,
                                            size_t vlen) {
  (void)k; (void)klen; (void)v; (void)vlen;
  *(int *)arg = 1;
  return 1;
}
/* 1 when sp holds a record whose key starts with prefix (plen 0: any record), 0 when
 * none, < 0 an error (store ops' any). */
static inline int dyna_store_any(dyna_store_t *s, dyna_space_t sp, const uint8_t *prefix, size_t plen) {
  if (s->ops->any) return s->ops->any(s, sp, prefix, plen);
  int found = 0;
  int rc = s->ops->iter(s, sp, prefix, plen, dyna_store_stop_at_first_, &found);
  return rc < 0 ? rc : found;
}
static inline void dyna_store_prefetch(dyna_store_t *s, dyna_space_t sp, const uint8_t *const *keys,
                                       const size_t *klens, size_t n) {
  if (s->ops->prefetch) s->ops->prefetch(s, sp, keys, klens, n);
}
/* Records in sp (store ops' count); DYNA_EINVAL when the engine cannot tell cheaply. */
static inline int dyna_store_count(dyna_store_t *s, dyna_space_t sp, uint64_t *n) {
  return s->ops->count ? s->ops->count(s, sp, n) : DYNA_EINVAL;
}
static inline int dyna_store_commit(dyna_store_t *s) { return s->ops->commit(s); }
static inline size_t dyna_store_pending(dyna_store_t *s) { return s->ops->pending(s); }
static inline void dyna_store_close(dyna_store_t *s) { if (s) s->ops->close(s); }

/* Parses "always" | "batch" | "none"; returns 0 or DYNA_EINVAL. */
int dyna_sync_parse(const char *s, dyna_sync_t *out);
const char *dyna_sync_name(dyna_sync_t s);

#endif
