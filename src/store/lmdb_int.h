/* lmdb_int.h: what the LMDB engine's two files share. lmdb.c owns the environment, the
 * synchronous policies (always, none) and reading LMDB; lmdb_batch.c adds the batch
 * policy (write-ahead log, overlays, log and checkpoint threads) on top. Not a public
 * interface: only src/store/lmdb*.c include it. */
#ifndef DYNA_LMDB_INT_H
#define DYNA_LMDB_INT_H
#include "store/store.h"
#include <lmdb.h>
#include <stdint.h>

typedef struct lm_batch lm_batch_t;

typedef struct lm_store {
  dyna_store_t base;
  MDB_env *env;
  MDB_dbi dbi[DYNA_SPACE_COUNT];
  MDB_dbi sys;       /* the engine's own records ("wal": the last checkpointed segment) */
  MDB_txn *wtxn;     /* the open write txn (the uncommitted batch), or NULL */
  uint64_t wtxn_id;  /* serial of the newest write txn: tells whether a cursor is alive */
  MDB_txn *rtxn;     /* kept read-only txn; reset while rdepth is 0 */
  int rdepth;        /* number of get/iter calls currently using rtxn */
  size_t pending;    /* writes in wtxn */
  int sticky;        /* error of a failed put/del, reported by the next commit */
  uint64_t gen;      /* bumped by every write and txn end: iter re-seeks when it moves */
  int lock_fd;       /* holds the flock on <dir>/LOCK */
  size_t map_bytes;
  lm_batch_t *batch; /* batch policy state (lmdb_batch.c), or NULL */
} lm_store_t;

/* Maps an LMDB or errno code to a Dyna error. */
int lm_err(int rc);
/* 0, DYNA_EINVAL (bad space) or DYNA_ETOOBIG (key length). */
int lm_key_ok(dyna_space_t sp, size_t klen);
/* Reads k from LMDB itself (the write txn if open, else the read txn) into out. */
int lm_get_db(lm_store_t *s, dyna_space_t sp, const uint8_t *k, size_t klen, dyna_buf_t *out);
/* Records in sp in LMDB itself (store.h, count). */
int lm_count_db(dyna_store_t *st, dyna_space_t sp, uint64_t *n);
/* Iterates LMDB itself (see dyna_store_iter). */
int lm_iter_db(dyna_store_t *st, dyna_space_t sp, const uint8_t *prefix, size_t plen,
               dyna_store_iter_fn fn, void *arg);

/* Closes everything lm_open acquired (any subset of it) and frees s. */
void lm_free(lm_store_t *s);

/* Batch policy (lmdb_batch.c). lm_batch_open replays the write-ahead log in dir into
 * LMDB, starts the threads and switches s to the batch ops; lm_batch_close makes every
 * write durable, checkpoints it into LMDB and frees the state (safe on a partly opened
 * one). */
int lm_batch_open(lm_store_t *s, const char *dir);
void lm_batch_close(lm_store_t *s);

#endif
