/* lmdb.c: the LMDB storage engine, Dyna's durable default.
 *
 * One LMDB environment per data directory, with one named database per key space
 * ("obj", "meta", "hint") plus "sys" for the engine's own records. LMDB gives ordered
 * keys, crash-safe copy-on-write commits and readers that never block the writer.
 *
 *   put/del ──► write txn (opened by the first write, kept open) ──► commit(): fsync
 *   get/iter ─► the write txn when one is open (sees uncommitted writes),
 *               else a kept read-only txn, renewed per call and reset after it
 *
 * Sync policies: ALWAYS commits (and so fsyncs) inside every put/del; NONE opens the
 * environment with MDB_NOSYNC, so commit() only writes. BATCH, the default, puts a
 * write-ahead log in front of LMDB (lmdb_batch.c): batches are made durable by a
 * sequential append and reach LMDB in large background checkpoints.
 *
 * Exclusion: before LMDB touches the directory we take an exclusive, non-blocking flock()
 * on <dir>/LOCK and hold it until close. flock() locks belong to an open file
 * description, so a second open from the same process fails just like one from another
 * process (LMDB itself must never be opened twice in one process).
 *
 * Failures: LMDB makes a transaction unusable after any failed write, so a failed
 * put/del aborts the write txn (rolling back the batch) and remembers the error for the
 * next commit(). The map size is fixed at open (it is the database's maximum size and
 * only costs address space): when it is full, writes fail with DYNA_EFULL.
 *
 * Ownership: the store owns the environment, its transactions and the lock fd. Values
 * that LMDB returns point into the map; get copies them and iter passes them to the
 * callback only for the duration of that call.
 */
#include "store/lmdb.h"
#include "util/err.h"
#include "util/alloc.h"
#include "store/lmdb_int.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define LM_DEFAULT_MAP ((size_t)64 << 30) /* 64 GiB of address space */

static const char *const lm_db_names[DYNA_SPACE_COUNT] = {"obj", "meta", "hint"};

/* A transaction to read through: the write txn, or the shared read txn. */
typedef struct {
  MDB_txn *txn;
  int is_read;
} lm_view_t;

static lm_store_t *lm(dyna_store_t *s) { return (lm_store_t *)s; }

int lm_err(int rc) {
  switch (rc) {
  case MDB_SUCCESS: return 0;
  case MDB_NOTFOUND: return DYNA_ENOTFOUND;
  case MDB_MAP_FULL:
  case MDB_TXN_FULL: /* a batch too large for one txn: the caller must commit sooner */
  case ENOSPC:
  case EDQUOT: return DYNA_EFULL;
  case MDB_BAD_VALSIZE: return DYNA_ETOOBIG;
  case ENOMEM: return DYNA_ENOMEM;
  default: return DYNA_EIO;
  }
}

int lm_key_ok(dyna_space_t sp, size_t klen) {
  if ((unsigned)sp >= DYNA_SPACE_COUNT) return DYNA_EINVAL;
  if (klen == 0 || klen > DYNA_STORE_MAX_KEY) return DYNA_ETOOBIG;
  return 0;
}

/* ---- transactions ---- */

/* Opens the write txn unless one is open. 0 or a Dyna error (nothing changed). */
static int lm_wbegin(lm_store_t *s) {
  if (s->wtxn) return 0;
  int rc = mdb_txn_begin(s->env, NULL, 0, &s->wtxn);
  if (rc) {
    s->wtxn = NULL;
    return lm_err(rc);
  }
  s->wtxn_id++;
  return 0;
}

/* Aborts the write txn (if any), dropping the batch. */
static void lm_wabort(lm_store_t *s) {
  if (s->wtxn) mdb_txn_abort(s->wtxn);
  s->wtxn = NULL;
  s->pending = 0;
  s->gen++;
}

/* Commits the write txn; durable on return unless MDB_NOSYNC. The txn is gone either way
 * (LMDB aborts a commit that fails). Returns 0 or a Dyna error. */
static int lm_wcommit(lm_store_t *s) {
  int rc = mdb_txn_commit(s->wtxn);
  s->wtxn = NULL;
  s->pending = 0;
  s->gen++;
  return lm_err(rc);
}

/* A put/del failed with LMDB code rc: roll back, remember, return the Dyna error. */
static int lm_wfail(lm_store_t *s, int rc) {
  int err = lm_err(rc);
  lm_wabort(s);
  if (!s->sticky) s->sticky = err;
  return err;
}

/* After a successful put/del: count it, and under ALWAYS commit at once. */
static int lm_wdone(lm_store_t *s) {
  s->pending++;
  s->gen++;
  if (s->base.sync != DYNA_SYNC_ALWAYS) return 0;
  int err = lm_wcommit(s);
  if (err && !s->sticky) s->sticky = err;
  return err;
}

/* Picks the txn to read through: the write txn, else the read txn (renewed on first
 * use; nested users share it). Pair with lm_view_close. */
static int lm_view_open(lm_store_t *s, lm_view_t *v) {
  *v = (lm_view_t){NULL, 0};
  if (s->wtxn) {
    v->txn = s->wtxn;
    v->is_read = 0;
    return 0;
  }
  if (s->rdepth == 0) {
    int rc = mdb_txn_renew(s->rtxn);
    if (rc) return lm_err(rc);
  }
  s->rdepth++;
  v->txn = s->rtxn;
  v->is_read = 1;
  return 0;
}

/* Releases a view; the last reader resets the read txn so it pins no old pages. */
static void lm_view_close(lm_store_t *s, lm_view_t *v) {
  if (v->is_read && --s->rdepth == 0) mdb_txn_reset(s->rtxn);
  v->txn = NULL;
}

/* ---- ops ---- */

int lm_get_db(lm_store_t *s, dyna_space_t sp, const uint8_t *k, size_t klen, dyna_buf_t *out) {
  lm_view_t v;
  int err = lm_view_open(s, &v);
  if (err) return err;
  MDB_val key = {klen, (void *)k}, val;
  err = lm_err(mdb_get(v.txn, s->dbi[sp], &key, &val));
  if (!err) {
    dyna_buf_reset(out);
    if (dyna_buf_reserve(out, val.mv_size)) {
      err = DYNA_ENOMEM;
    } else {
      if (val.mv_size) memcpy(out->data, val.mv_data, val.mv_size);
      out->len = val.mv_size;
    }
  }
  lm_view_close(s, &v);
  return err;
}

/* Copies the value of k into out. DYNA_ENOTFOUND, DYNA_ETOOBIG, DYNA_ENOMEM, DYNA_EIO.
 * O(log n) plus the copy. */
static int lm_get(dyna_store_t *st, dyna_space_t sp, const uint8_t *k, size_t klen,
                  dyna_buf_t *out) {
  int err = lm_key_ok(sp, klen);
  return err ? err : lm_get_db(lm(st), sp, k, klen, out);
}

/* Writes k = v into the batch (ALWAYS: and commits). On failure the batch is rolled
 * back and the error remembered. O(log n) plus the copy. */
static int lm_put(dyna_store_t *st, dyna_space_t sp, const uint8_t *k, size_t klen,
                  const uint8_t *v, size_t vlen) {
  lm_store_t *s = lm(st);
  int err = lm_key_ok(sp, klen);
  if (err) return err;
  if (vlen > DYNA_STORE_MAX_VALUE) return DYNA_ETOOBIG;
  if ((err = lm_wbegin(s))) {
    if (!s->sticky) s->sticky = err;
    return err;
  }
  MDB_val key = {klen, (void *)k}, val = {vlen, (void *)v};
  int rc = mdb_put(s->wtxn, s->dbi[sp], &key, &val, 0);
  if (rc) return lm_wfail(s, rc);
  return lm_wdone(s);
}

/* Deletes k in the batch (ALWAYS: and commits). DYNA_ENOTFOUND changes nothing; other
 * failures roll the batch back and are remembered. O(log n). */
static int lm_del(dyna_store_t *st, dyna_space_t sp, const uint8_t *k, size_t klen) {
  lm_store_t *s = lm(st);
  int err = lm_key_ok(sp, klen);
  if (err) return err;
  if ((err = lm_wbegin(s))) {
    if (!s->sticky) s->sticky = err;
    return err;
  }
  MDB_val key = {klen, (void *)k};
  int rc = mdb_del(s->wtxn, s->dbi[sp], &key, NULL);
  if (rc == MDB_NOTFOUND) {
    if (s->pending == 0) lm_wabort(s); /* a txn with nothing in it: don't keep it */
    return DYNA_ENOTFOUND;
  }
  if (rc) return lm_wfail(s, rc);
  return lm_wdone(s);
}

/* Closes an iteration cursor unless its write txn has already ended (LMDB freed it). */
static void lm_cursor_close(lm_store_t *s, MDB_cursor *cur, const lm_view_t *v,
                            uint64_t wtxn_id) {
  if (!cur) return;
  if (v->is_read || (s->wtxn && s->wtxn_id == wtxn_id)) mdb_cursor_close(cur);
}

/* Visits keys starting with prefix in ascending order through a cursor. When the
 * callback writes (gen moves), the cursor is reopened on whatever txn is current and
 * re-seeks just past the last key visited. O(log n) per seek, O(1) amortised per step. */
int lm_iter_db(dyna_store_t *st, dyna_space_t sp, const uint8_t *prefix, size_t plen,
                      dyna_store_iter_fn fn, void *arg) {
  lm_store_t *s = lm(st);
  if ((unsigned)sp >= DYNA_SPACE_COUNT) return DYNA_EINVAL;
  if (plen > DYNA_STORE_MAX_KEY) return 0; /* no key is that long */
  uint8_t last[DYNA_STORE_MAX_KEY];
  size_t lastlen = 0; /* 0: nothing visited yet */
  int result = 0, done = 0;
  while (!done) {
    lm_view_t v;
    MDB_cursor *cur = NULL;
    uint64_t wid = s->wtxn_id;
    if ((result = lm_view_open(s, &v))) break;
    MDB_stat ms;
    if (lastlen == 0 && !mdb_stat(v.txn, s->dbi[sp], &ms) && ms.ms_entries == 0) {
      lm_view_close(s, &v); /* an empty space (the hints, mostly): no cursor to make */
      break;
    }
    int rc = mdb_cursor_open(v.txn, s->dbi[sp], &cur);
    MDB_val key, val;
    if (!rc && lastlen == 0 && plen == 0) {
      rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
    } else if (!rc && lastlen == 0) {
      key = (MDB_val){plen, (void *)prefix};
      rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    } else if (!rc) {
      key = (MDB_val){lastlen, last};
      rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
      if (!rc && key.mv_size == lastlen && !memcmp(key.mv_data, last, lastlen))
        rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    done = 1;
    while (!rc) {
      if (key.mv_size < plen || (plen && memcmp(key.mv_data, prefix, plen))) break;
      if (key.mv_size > sizeof(last)) { /* not written through this API */
        result = DYNA_EIO;
        break;
      }
      memcpy(last, key.mv_data, key.mv_size);
      lastlen = key.mv_size;
      uint64_t gen = s->gen;
      if ((result = fn(arg, key.mv_data, key.mv_size, val.mv_data, val.mv_size))) break;
      if (s->gen != gen) { /* the callback wrote: start over after `last` */
        done = 0;
        break;
      }
      rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    if (rc && rc != MDB_NOTFOUND) result = lm_err(rc);
    lm_cursor_close(s, cur, &v, wid);
    lm_view_close(s, &v);
  }
  return result;
}

/* Ends the batch: commits the write txn (fsync unless NONE). Returns the remembered
 * error of a failed put/del instead (dropping the writes made since), or the commit's
 * own failure (batch rolled back). No-op when nothing is pending. */
static int lm_commit(dyna_store_t *st) {
  lm_store_t *s = lm(st);
  if (s->sticky) {
    int err = s->sticky;
    s->sticky = 0;
    lm_wabort(s);
    return err;
  }
  if (!s->wtxn) return 0;
  if (s->pending == 0) {
    lm_wabort(s);
    return 0;
  }
  return lm_wcommit(s);
}

static size_t lm_pending(dyna_store_t *st) {
  lm_store_t *s = lm(st);
  return s->pending;
}

/* Releases everything lm_open acquired (any subset of it). */
void lm_free(lm_store_t *s) {
  lm_batch_close(s);
  if (s->wtxn) mdb_txn_abort(s->wtxn);
  if (s->rtxn) mdb_txn_abort(s->rtxn);
  if (s->env) mdb_env_close(s->env);
  if (s->lock_fd >= 0) close(s->lock_fd); /* drops the flock */
  dyna_free(s);
}

/* Commits pending writes (a failure loses them, as any failed commit does), flushes a
 * NONE store to disk, and frees s. */
static void lm_close(dyna_store_t *st) {
  lm_store_t *s = lm(st);
  lm_commit(st);
  if (s->base.sync == DYNA_SYNC_NONE) mdb_env_sync(s->env, 1);
  lm_free(s);
}

/* Records in space sp as LMDB last committed them (store.h, count). */
int lm_count_db(dyna_store_t *st, dyna_space_t sp, uint64_t *n) {
  lm_store_t *s = lm(st);
  if ((unsigned)sp >= DYNA_SPACE_COUNT) return DYNA_EINVAL;
  lm_view_t v;
  int rc = lm_view_open(s, &v);
  if (rc) return rc;
  MDB_stat ms;
  rc = mdb_stat(v.txn, s->dbi[sp], &ms);
  lm_view_close(s, &v);
  if (rc) return lm_err(rc);
  *n = ms.ms_entries;
  return 0;
}

static const dyna_store_ops_t lm_ops = {
    .name = "lmdb",
    .get = lm_get,
    .put = lm_put,
    .del = lm_del,
    .iter = lm_iter_db,
    .commit = lm_commit,
    .pending = lm_pending,
    .close = lm_close,
    .count = lm_count_db,
};

/* Takes the exclusive lock on <dir>/LOCK into s->lock_fd. DYNA_ELOCKED when held. */
static int lm_lock(lm_store_t *s, const char *dir) {
  char path[PATH_MAX];
  if (snprintf(path, sizeof(path), "%s/LOCK", dir) >= (int)sizeof(path)) return DYNA_EINVAL;
  s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (s->lock_fd < 0) return errno == ENOSPC ? DYNA_EFULL : DYNA_EIO;
  if (flock(s->lock_fd, LOCK_EX | LOCK_NB) == 0) return 0;
  return errno == EWOULDBLOCK ? DYNA_ELOCKED : DYNA_EIO;
}

/* Creates and opens the environment and its named databases. */
static int lm_env_open(lm_store_t *s, const char *dir, size_t map_bytes) {
  int rc = mdb_env_create(&s->env);
  if (rc) {
    s->env = NULL;
    return lm_err(rc);
  }
  unsigned flags = MDB_NOTLS | (s->base.sync == DYNA_SYNC_NONE ? MDB_NOSYNC : 0);
  if ((rc = mdb_env_set_maxdbs(s->env, DYNA_SPACE_COUNT + 1)) ||
      (rc = mdb_env_set_mapsize(s->env, map_bytes)) ||
      (rc = mdb_env_open(s->env, dir, flags, 0644)))
    return lm_err(rc);
  if (mdb_env_get_maxkeysize(s->env) < DYNA_STORE_MAX_KEY) return DYNA_EIO;

  MDB_txn *txn;
  if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn))) return lm_err(rc);
  for (int i = 0; i < DYNA_SPACE_COUNT && !rc; i++)
    rc = mdb_dbi_open(txn, lm_db_names[i], MDB_CREATE, &s->dbi[i]);
  if (!rc) rc = mdb_dbi_open(txn, "sys", MDB_CREATE, &s->sys);
  if (rc) {
    mdb_txn_abort(txn);
    return lm_err(rc);
  }
  if ((rc = mdb_txn_commit(txn))) return lm_err(rc);

  if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &s->rtxn))) {
    s->rtxn = NULL;
    return lm_err(rc);
  }
  mdb_txn_reset(s->rtxn);
  return 0;
}

/* 1 when the filesystem holding dir has less room than a few pages: a write there that
 * failed may have failed for want of space (LMDB reports a short write as EIO). */
static int lm_no_space(const char *dir) {
  struct statvfs st;
  if (statvfs(dir, &st)) return 0;
  return (uint64_t)st.f_bavail * st.f_frsize < 64 * 1024;
}

const char *dyna_store_lmdb_strerror(int rc, const char *dir) {
  if (rc == DYNA_EFULL && lm_no_space(dir)) return "No space left on device";
  return dyna_strerror(rc);
}

int dyna_store_lmdb_open(const char *dir, dyna_sync_t sync, size_t map_bytes,
                         dyna_store_t **out) {
  lm_store_t *s = dyna_calloc(1, sizeof(*s));
  if (!s) return DYNA_ENOMEM;
  s->base.ops = &lm_ops;
  s->base.sync = sync;
  s->lock_fd = -1;
  if (map_bytes == 0) map_bytes = LM_DEFAULT_MAP;
  int err = lm_lock(s, dir);
  if (!err) err = lm_env_open(s, dir, map_bytes);
  s->map_bytes = map_bytes;
  /* batch and none both go through the log (lmdb_batch.c; none appends without
   * fdatasync): a turn's writes cost one sequential write, where an LMDB commit writes a
   * page per key touched (about 1.6 pwrite per SET under none with random keys). */
  if (!err && sync != DYNA_SYNC_ALWAYS) err = lm_batch_open(s, dir);
  if (err == DYNA_EIO && lm_no_space(dir)) err = DYNA_EFULL; /* a short write on a full disk */
  if (err) {
    lm_free(s);
    return err;
  }
  *out = &s->base;
  return 0;
}
