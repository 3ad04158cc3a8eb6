/* lmdb_batch.c: the LMDB engine's batch policy (the default): group commit through a
 * write-ahead log, with LMDB brought up to date by background checkpoints.
 *
 *   loop:  put/del ──► cur (the batch being built)
 *          commit_async: cur joins the queue (fly) ──► log thread: every batch queued
 *                 so far, one record each, in one write and one fdatasync ──► notify;
 *                 then at once the batches queued meanwhile, and so on
 *          poll: the batches logged are durable; their entries move into `logged`
 *          ckpt_bytes logged since the last one? ──► logged becomes ckpt ──► checkpoint
 *                 thread: LMDB txns of about 1 MiB each apply ckpt in key order, the
 *                 last one notes the last log segment it covers; each commits (fsync);
 *                 the segments go (the newest recycled: wal.h) ──► notify
 *          half a segment logged? ──► checkpoint thread: the next segment's file made
 *                 ready (zeros, dyna_wal_prepare) before the segment may roll
 *   get/iter:  cur, fly, logged, ckpt (newest first), then LMDB
 *
 * A write is acknowledged once its log record is fdatasync'd: a sequential append of
 * about the batch's own size, where an LMDB commit writes a 4 KiB page per key. LMDB
 * commits only in checkpoints, each covering thousands of batches, and always with its
 * own fsync (one per txn of the checkpoint), so LMDB's file is a consistent LMDB state
 * at every moment (MDB_NOSYNC would not be: on an OS crash its meta page can reach the
 * disk before the pages it points to). Between a checkpoint's txns it may hold part of
 * that checkpoint: only LMDB and the log together are the store's state (a copy of
 * data.mdb alone is not a backup unless the store was closed cleanly).
 *
 * Under the none policy the engine is the same but appends skip their fdatasync (wal.h,
 * dyna_wal_set_nosync) and the loop makes them itself in commit_async, a batch already
 * logged when its ticket is given (no hand-off to the log thread, which stays idle, and
 * no notification to wait for): a turn's writes cost one pwrite where an
 * LMDB commit under MDB_NOSYNC wrote a page per key (about 1.6 pwrite per SET with
 * random keys, and as many again at each replica). LMDB is then opened MDB_NOSYNC, so
 * under none it is not an LMDB state safe against an OS crash (it never was); a clean
 * close syncs it once.
 *
 * Recovery (lm_batch_open): replay every log segment after the one "sys"/"wal" names
 * into an overlay and checkpoint it before serving. A torn record at the end of the
 * newest segment was never acknowledged and is dropped; damage anywhere else fails the
 * open with DYNA_ECORRUPT and a message on stderr (the log is left as it is).
 *
 * Failures: a failed append fails its batch (and the one built on it), as before. A
 * failed checkpoint (disk or map full) loses nothing: its writes are in the log and
 * stay readable from ckpt; new batches are then refused with that error, each refusal
 * retrying the checkpoint, until one succeeds. Back-pressure: while a checkpoint runs,
 * `logged` and the log written since it began may each grow to 2 x ckpt_bytes, then
 * commit_async waits for the checkpoint (so the log on disk stays under about 4 x).
 *
 * The loop or the log thread: under batch, a batch of at most LB_INLINE_WRITES writes is
 * logged by the loop itself (one pwrite and one fdatasync, the loop blocked meanwhile)
 * when the log thread is idle, its answers leaving in the same turn, as under none; a
 * larger one, or any while the thread is busy, goes to the thread. The hand-off (a
 * condition variable, a wake-up, an eventfd back, two context switches) cost more CPU
 * than the fdatasync of a small batch: 30% of the cluster's CPU per SET at -P 1. With
 * large batches (pipelined clients) the thread's overlap of the fdatasync with the next
 * turns pays instead: the loop logging everything lost 15-20% of SET -P 16.
 *
 * The log thread never waits for the loop between two appends: the loop queues a batch
 * at the end of every turn that wrote (up to LB_QMAX batches not yet collected), and
 * the thread takes whatever is queued when its previous fdatasync returns.
 *
 * Threads: the loop owns cur and logged; a queued batch (fly) is frozen from
 * commit_async until the loop collects it, and ckpt while a checkpoint runs (both then
 * only read, by the loop and one thread). A checkpoint starts only when every queued
 * batch is collected (the log thread is then idle and the segment can roll). LMDB write
 * txns run only on the checkpoint thread (or the opening/closing thread when no thread
 * runs); the loop reads LMDB through the kept read txn (MDB_NOTLS). Flags, errors and
 * tickets shared with the threads are guarded by mu; each waiter has its own condition
 * variable (the log thread, the checkpoint thread, the loop), so a batch logged wakes
 * no one but the loop.
 * Ownership: the batch state owns the overlays, the log and the threads; lm_batch_close
 * frees them all.
 */
#include "util/err.h"
#include "util/alloc.h"
#include "store/lmdb_int.h"
#include "store/overlay.h"
#include "store/wal.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define LB_CKPT_BYTES ((size_t)64 << 20)  /* checkpoint once this much is logged */
#define LB_CKPT_CHUNK ((size_t)1 << 20)   /* key + value bytes per checkpoint txn, at most */
#define LB_PREFILL_MAX ((size_t)32 << 20) /* most zeros written ahead per segment */
#define LB_MAX_BATCH ((size_t)64 << 20)   /* largest batch (one log record) */
#define LB_SYS_WAL "wal"
#define LB_QMAX 16 /* batches queued for the log and not yet collected */
/* Most writes in a batch the loop logs itself (write and fdatasync) while the log thread
 * is idle: a hand-off to the thread costs more CPU than it saves in a small batch's
 * fdatasync (docs/performance.md, History, *the loop or the log thread*). */
#define LB_INLINE_WRITES 64

struct lm_batch {
  dyna_overlay_t cur;    /* loop: the batch being built */
  /* The queue: the batch with ticket t is fly[t % LB_QMAX] for q_col < t <= q_pushed,
   * frozen from commit_async until collect. */
  dyna_overlay_t fly[LB_QMAX];
  uint64_t q_col;        /* loop: newest ticket collected (durable, or dropped) */
  uint64_t q_pushed;     /* newest ticket queued (written by the loop under mu) */
  dyna_overlay_t logged; /* loop: logged since the last checkpoint began */
  dyna_overlay_t ckpt;   /* frozen while ck_busy; kept after a failed checkpoint */
  size_t log_since;      /* loop: bytes logged since the last checkpoint began */
  size_t seg_limit;      /* loop: log_since that rolls the segment: ckpt_bytes, less for
                            the first segment of a run (lm_batch_open) */
  int prep_asked;        /* loop: the next segment's file was asked for (ask_prepare) */
  int prep_wait;         /* loop: ... and is not made yet: the segment does not roll */
  size_t max_batch, ckpt_bytes;
  size_t ck_chunk;       /* key + value bytes per checkpoint txn (see checkpoint) */
  dyna_wal_t *wal;
  int ck_failed;         /* loop: error of the last checkpoint (0: it worked) */
  pthread_mutex_t mu;
  pthread_cond_t cv_log, cv_ck, cv_loop; /* the log thread, the checkpoint thread, the loop wait on these */
  pthread_t log_thread, ck_thread;
  int threads;           /* how many of the two were started */
  /* guarded by mu */
  int quit;
  uint64_t q_written;    /* newest ticket durable in the log */
  int log_err;           /* the append after q_written failed: the log thread waits for
                            the loop to drop the queue (collect) */
  int ck_busy, ck_done, ck_err;
  uint64_t ck_seg;       /* the checkpoint covers log segments <= ck_seg */
  dyna_overlay_t trash;  /* a checkpointed overlay for the checkpoint thread to free
                            (hundreds of thousands of entries: not on the loop) */
  int trash_full;
  int prep_due;          /* the checkpoint thread is to prepare the next segment's file */
  int prep_made;         /* it did (or failed to): collect tells the loop */
  atomic_int prep_stop;  /* set (without mu) by close: a preparation in progress stops */
  void (*notify)(void *);
  void *notify_arg;
};

static lm_store_t *lm(dyna_store_t *s) { return (lm_store_t *)s; }

/* ---- checkpoints ---- */

typedef struct apply {
  MDB_txn *txn;
  lm_store_t *s;
} apply_t;

static int apply_entry(void *arg, const dyna_ov_entry_t *e) {
  apply_t *a = arg;
  MDB_val key = {e->klen, e->key}, val = {e->vlen, e->val};
  int rc = e->tomb ? mdb_del(a->txn, a->s->dbi[e->space], &key, NULL)
                   : mdb_put(a->txn, a->s->dbi[e->space], &key, &val, 0);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The checkpoint's entries in (space, key) order. */
typedef struct sorted {
  const dyna_ov_entry_t **v;
  size_t n;
} sorted_t;

static int gather_entry(void *arg, const dyna_ov_entry_t *e) {
  sorted_t *g = arg;
  g->v[g->n++] = e;
  return 0;
}

static int entry_cmp(const void *x, const void *y) {
  const dyna_ov_entry_t *a = *(const dyna_ov_entry_t *const *)x;
  const dyna_ov_entry_t *b = *(const dyna_ov_entry_t *const *)y;
  if (a->space != b->space) return a->space < b->space ? -1 : 1;
  return dyna_ov_keycmp(a->key, a->klen, b->key, b->klen);
}

/* Commits a txn that ends the checkpoint: "sys"/"wal" = seg goes with it. */
static int commit_last(lm_store_t *s, MDB_txn *txn, uint64_t seg) {
  uint8_t v[8];
  for (int i = 0; i < 8; i++) v[i] = (uint8_t)(seg >> (8 * i));
  MDB_val key = {sizeof(LB_SYS_WAL) - 1, (void *)LB_SYS_WAL}, val = {8, v};
  int rc = mdb_put(txn, s->sys, &key, &val, 0);
  if (rc) {
    mdb_txn_abort(txn);
    return rc;
  }
  return mdb_txn_commit(txn);
}

/* Writes ov into LMDB, then drops the log segments <= seg (wal.h). The entries go in key order,
 * in txns of about chunk bytes each (each commit fsyncs), so that no commit puts more
 * than a few MiB on the disk at once: on a disk shared with the logs of other nodes, a
 * commit of the whole checkpoint (tens of MiB) held every log fdatasync up by 5-15 ms.
 * Key order makes each txn dirty its own run of leaf pages, so a page is written about
 * once per checkpoint. The last txn records seg in "sys"/"wal". Durable when it returns
 * 0. A failure may leave some of the entries in LMDB, none of them covered by "wal": the
 * entries stay in ov and in the log, which replay and the next checkpoint apply again.
 * Without memory for the sort, one txn applies ov unsorted. */
static int checkpoint(lm_store_t *s, const dyna_overlay_t *ov, uint64_t seg) {
  apply_t a = {NULL, s};
  sorted_t g = {dyna_malloc((ov->n ? ov->n : 1) * sizeof(*g.v)), 0};
  int rc;
  if (!g.v) {
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &a.txn))) return lm_err(rc);
    rc = dyna_ov_each(ov, apply_entry, &a);
    if (rc) mdb_txn_abort(a.txn);
    else rc = commit_last(s, a.txn, seg);
  } else {
    dyna_ov_each(ov, gather_entry, &g);
    qsort(g.v, g.n, sizeof(*g.v), entry_cmp);
    size_t i = 0;
    do {
      if ((rc = mdb_txn_begin(s->env, NULL, 0, &a.txn))) break;
      for (size_t bytes = 0; i < g.n && bytes < s->batch->ck_chunk && !rc; i++) {
        rc = apply_entry(&a, g.v[i]);
        bytes += g.v[i]->klen + g.v[i]->vlen + 16;
      }
      if (rc) mdb_txn_abort(a.txn);
      else rc = i < g.n ? mdb_txn_commit(a.txn) : commit_last(s, a.txn, seg);
    } while (!rc && i < g.n);
    dyna_free(g.v);
  }
  if (rc) return lm_err(rc);
  dyna_wal_drop(s->batch->wal, seg); /* a failure leaves files the next drop removes */
  return 0;
}

/* The last checkpointed segment, from "sys" (0: none yet). */
static int read_ckpt_seg(lm_store_t *s, uint64_t *seg) {
  MDB_txn *txn;
  int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
  if (rc) return lm_err(rc);
  MDB_val key = {sizeof(LB_SYS_WAL) - 1, (void *)LB_SYS_WAL}, val;
  rc = mdb_get(txn, s->sys, &key, &val);
  *seg = 0;
  if (!rc && val.mv_size == 8)
    for (int i = 0; i < 8; i++) *seg |= (uint64_t)((const uint8_t *)val.mv_data)[i] << (8 * i);
  else if (!rc)
    rc = MDB_CORRUPTED;
  mdb_txn_abort(txn);
  return rc == MDB_NOTFOUND ? 0 : rc == MDB_CORRUPTED ? DYNA_ECORRUPT : lm_err(rc);
}

/* ---- the two threads ---- */

/* base, plus up to half of it again by a directory's stagger (24 bits of a hash of its
 * path: the nodes of one cluster, which receive the same writes, do not checkpoint at
 * the same moment). */
static size_t staggered(size_t base, uint32_t stagger) {
  return base + (size_t)(((uint64_t)stagger * (base / 2)) >> 24);
}

/* How many zeros dyna_wal_prepare writes ahead for a segment at open, and what a
 * stopped node keeps ready (a start must stay quick, a stopped node small). */
static size_t prefill_bytes(const lm_batch_t *b) {
  return 2 * b->ckpt_bytes < LB_PREFILL_MAX ? 2 * b->ckpt_bytes : LB_PREFILL_MAX;
}

/* How many zeros the checkpoint thread writes for a segment while the one before fills
 * up: a whole segment (a checkpoint starts once ckpt_bytes of keys and values are
 * logged; a record adds its headers), so that no append of a busy node grows its file.
 * Without it the first two segments of a run grew for most of their length: 20-30%
 * fewer SETs a second for a minute of load (docs/performance.md). */
static size_t segment_bytes(const lm_batch_t *b) { return b->ckpt_bytes + b->ckpt_bytes / 4; }

/* The log thread: appends every queued batch not yet written, together, and again. */
static void *log_main(void *arg) {
  lm_store_t *s = arg;
  lm_batch_t *b = s->batch;
  const dyna_overlay_t *batch[LB_QMAX];
  pthread_mutex_lock(&b->mu);
  for (;;) {
    while (!b->quit && (b->log_err || b->q_written == b->q_pushed)) pthread_cond_wait(&b->cv_log, &b->mu);
    if (b->log_err || b->q_written == b->q_pushed) break; /* quit with nothing to do */
    uint64_t from = b->q_written + 1, to = b->q_pushed;
    pthread_mutex_unlock(&b->mu);
    size_t n = 0; /* the loop touches neither these slots nor their overlays meanwhile */
    for (uint64_t t = from; t <= to; t++) batch[n++] = &b->fly[t % LB_QMAX];
    int rc = dyna_wal_append_n(b->wal, batch, n);
    pthread_mutex_lock(&b->mu);
    if (rc) b->log_err = rc;
    else b->q_written = to;
    pthread_cond_broadcast(&b->cv_loop);
    if (b->notify) b->notify(b->notify_arg);
  }
  pthread_mutex_unlock(&b->mu);
  return NULL;
}

/* The checkpoint thread: runs one checkpoint each time the loop starts one. */
static void *ck_main(void *arg) {
  lm_store_t *s = arg;
  lm_batch_t *b = s->batch;
  pthread_mutex_lock(&b->mu);
  for (;;) {
    while (!b->quit && !(b->ck_busy && !b->ck_done) && !b->trash_full && !b->prep_due)
      pthread_cond_wait(&b->cv_ck, &b->mu);
    if (b->trash_full) {
      dyna_overlay_t t = b->trash;
      dyna_ov_init(&b->trash);
      b->trash_full = 0;
      pthread_mutex_unlock(&b->mu);
      dyna_ov_clear(&t);
      pthread_mutex_lock(&b->mu);
      continue;
    }
    if (b->prep_due && !b->quit) {
      b->prep_due = 0;
      pthread_mutex_unlock(&b->mu);
      dyna_wal_prepare(b->wal, segment_bytes(b), &b->prep_stop); /* best effort */
      pthread_mutex_lock(&b->mu);
      b->prep_made = 1;
      if (b->notify) b->notify(b->notify_arg);
      continue;
    }
    if (!(b->ck_busy && !b->ck_done)) break; /* quit with nothing to do */
    uint64_t seg = b->ck_seg;
    pthread_mutex_unlock(&b->mu);
    int err = checkpoint(s, &b->ckpt, seg);
    dyna_wal_prepare(b->wal, prefill_bytes(b), &b->prep_stop); /* best effort: see wal.h */
    pthread_mutex_lock(&b->mu);
    b->ck_err = err;
    b->ck_done = 1;
    pthread_cond_broadcast(&b->cv_loop);
    if (b->notify) b->notify(b->notify_arg);
  }
  pthread_mutex_unlock(&b->mu);
  return NULL;
}

/* ---- the loop's side ---- */

/* A checkpoint is due (or a failed one is to be retried). */
static int ck_due(const lm_batch_t *b, int retry) {
  return !b->ck_busy && !b->prep_wait && (b->log_since >= b->seg_limit || (retry && b->ck_failed));
}

/* Starts a checkpoint of everything logged (plus a failed checkpoint's leftovers) when
 * one is due and every queued batch is collected (the log thread is idle: the log can
 * roll safely, and `logged` holds all that the closed segments hold). */
static void maybe_checkpoint(lm_batch_t *b, int retry) {
  if (!ck_due(b, retry) || b->q_col != b->q_pushed) return;
  dyna_ov_absorb(&b->ckpt, &b->logged); /* logged's entries are newer */
  b->log_since = 0;
  b->seg_limit = b->ckpt_bytes;
  b->prep_asked = 0;
  uint64_t seg = dyna_wal_roll(b->wal);
  pthread_mutex_lock(&b->mu);
  b->ck_seg = seg;
  b->ck_busy = 1;
  b->ck_done = 0;
  pthread_cond_signal(&b->cv_ck);
  pthread_mutex_unlock(&b->mu);
}

/* Empties ckpt (now in LMDB): the checkpoint thread frees its entries. */
static void drop_ckpt(lm_batch_t *b) {
  pthread_mutex_lock(&b->mu);
  int handed = !b->trash_full && !b->quit;
  if (handed) {
    b->trash = b->ckpt;
    b->trash_full = 1;
    pthread_cond_signal(&b->cv_ck);
  }
  pthread_mutex_unlock(&b->mu);
  if (handed) dyna_ov_init(&b->ckpt);
  else dyna_ov_clear(&b->ckpt);
}

/* Has the checkpoint thread make the next segment's file, half a segment ahead of the
 * roll (wal.h, dyna_wal_prepare; nothing when one is ready, as a recycled segment
 * usually is). Once per segment; the segment does not roll before it is made (it takes
 * well under a second: a whole segment of zeros went to this disk in 0.15 s). */
static void ask_prepare(lm_batch_t *b) {
  b->prep_asked = 1;
  b->prep_wait = 1;
  pthread_mutex_lock(&b->mu);
  b->prep_due = 1;
  pthread_cond_signal(&b->cv_ck);
  pthread_mutex_unlock(&b->mu);
}

/* Collects what the threads finished: the batches logged (or the error of a failed
 * append, which drops the whole queue and cur) and a checkpoint. Starts no new work. */
static int collect(lm_store_t *s) {
  lm_batch_t *b = s->batch;
  int log_err, ck_err = 0, cked = 0;
  pthread_mutex_lock(&b->mu);
  uint64_t written = b->q_written;
  log_err = b->log_err;
  if (b->ck_busy && b->ck_done) {
    cked = 1;
    ck_err = b->ck_err;
    b->ck_busy = 0;
  }
  if (b->prep_made) b->prep_wait = b->prep_made = 0;
  pthread_mutex_unlock(&b->mu);
  while (b->q_col < written) {
    dyna_overlay_t *f = &b->fly[++b->q_col % LB_QMAX];
    b->log_since += f->bytes;
    dyna_ov_absorb(&b->logged, f);
  }
  if (!b->prep_asked && b->log_since >= b->seg_limit / 2) ask_prepare(b);
  if (log_err) { /* lost, and so is everything queued or built after it */
    while (b->q_col < b->q_pushed) dyna_ov_clear(&b->fly[++b->q_col % LB_QMAX]);
    dyna_ov_clear(&b->cur);
    s->pending = 0;
    pthread_mutex_lock(&b->mu);
    b->log_err = 0;
    b->q_written = b->q_pushed; /* the log thread goes on with later batches */
    pthread_mutex_unlock(&b->mu);
  }
  if (cked) {
    int was = b->ck_failed;
    b->ck_failed = ck_err;
    if (!ck_err) drop_ckpt(b);
    else if (!was) fprintf(stderr, "dyna store: checkpoint into LMDB failed (%s); its writes stay in "
                         "the log; writes are refused until a checkpoint succeeds\n",
                 dyna_strerror(ck_err));
  }
  return log_err;
}

static int lb_poll(dyna_store_t *st, uint64_t *durable) {
  lm_store_t *s = lm(st);
  int err = collect(s);
  maybe_checkpoint(s->batch, 0);
  *durable = s->batch->q_col;
  return err;
}

/* Waits until the checkpoint thread is done, then collects. */
static void wait_checkpoint(lm_store_t *s) {
  lm_batch_t *b = s->batch;
  pthread_mutex_lock(&b->mu);
  while (b->ck_busy && !b->ck_done) pthread_cond_wait(&b->cv_loop, &b->mu);
  pthread_mutex_unlock(&b->mu);
  collect(s);
}

static int lb_commit_async(dyna_store_t *st, uint64_t *ticket) {
  lm_store_t *s = lm(st);
  lm_batch_t *b = s->batch;
  *ticket = 0;
  if (s->sticky) {
    int err = s->sticky;
    s->sticky = 0;
    dyna_ov_clear(&b->cur);
    s->pending = 0;
    return err;
  }
  if (!b->cur.n) return 0;
  if (b->q_pushed - b->q_col >= LB_QMAX) return DYNA_EBUSY;
  /* A due checkpoint waits for the queue to drain: queue nothing more until then. */
  if (ck_due(b, 1) && b->q_col != b->q_pushed) return DYNA_EBUSY;
  maybe_checkpoint(b, 1);
  /* Back-pressure: memory (logged) and log size (log_since) stay within 2 checkpoints. */
  while (!b->ck_failed && b->ck_busy &&
         (b->logged.bytes >= 2 * b->ckpt_bytes || b->log_since >= 2 * b->ckpt_bytes)) {
    wait_checkpoint(s);
    maybe_checkpoint(b, 0);
  }
  if (b->ck_failed) { /* refuse until LMDB takes the logged writes (retried above) */
    dyna_ov_clear(&b->cur);
    s->pending = 0;
    return b->ck_failed;
  }
  dyna_overlay_t *slot = &b->fly[(b->q_pushed + 1) % LB_QMAX];
  *slot = b->cur;
  dyna_ov_init(&b->cur);
  s->pending = 0;
  /* Who logs the batch (the header comment, "The loop or the log thread"): the loop
   * itself under none, and a small batch while the log thread is idle; the thread
   * otherwise. The thread then never has work while the loop appends. */
  pthread_mutex_lock(&b->mu);
  int by_loop = s->base.sync == DYNA_SYNC_NONE ||
                (slot->n <= LB_INLINE_WRITES && b->q_written == b->q_pushed && !b->log_err);
  if (!by_loop) {
    b->q_pushed++;
    pthread_cond_signal(&b->cv_log);
  }
  pthread_mutex_unlock(&b->mu);
  if (by_loop) {
    const dyna_overlay_t *one = slot;
    int rc = dyna_wal_append_n(b->wal, &one, 1);
    pthread_mutex_lock(&b->mu);
    b->q_pushed++;
    if (rc) b->log_err = rc; /* collect drops it, as a failed append on the thread */
    else b->q_written = b->q_pushed;
    pthread_mutex_unlock(&b->mu);
  }
  *ticket = b->q_pushed;
  return 0;
}

static void lb_set_notify(dyna_store_t *st, void (*fn)(void *), void *arg) {
  lm_batch_t *b = lm(st)->batch;
  pthread_mutex_lock(&b->mu);
  b->notify = fn;
  b->notify_arg = arg;
  pthread_mutex_unlock(&b->mu);
}

/* commit(): hands over and waits until everything written so far is durable. */
static int lb_commit(dyna_store_t *st) {
  lm_store_t *s = lm(st);
  lm_batch_t *b = s->batch;
  uint64_t ticket;
  int err = 0;
  for (;;) {
    pthread_mutex_lock(&b->mu);
    while (b->q_written != b->q_pushed && !b->log_err) pthread_cond_wait(&b->cv_loop, &b->mu);
    pthread_mutex_unlock(&b->mu);
    int rc = collect(s);
    if (rc && !err) err = rc;
    if (!b->cur.n && !s->sticky) return err; /* and the queue is collected */
    rc = lb_commit_async(st, &ticket);
    if (rc && rc != DYNA_EBUSY && !err) err = rc;
  }
}

static size_t lb_pending(dyna_store_t *st) { return lm(st)->pending; }

/* ---- reads and writes ---- */

/* The overlays, newest first: cur, the queue (newest batch first), logged, ckpt. Returns
 * how many were put in layers (at most LB_QMAX + 3). */
static int ov_layers(const lm_batch_t *b, const dyna_overlay_t **layers) {
  int n = 0;
  layers[n++] = &b->cur;
  for (uint64_t t = b->q_pushed; t > b->q_col; t--) layers[n++] = &b->fly[t % LB_QMAX];
  layers[n++] = &b->logged;
  layers[n++] = &b->ckpt;
  return n;
}

/* The newest overlay entry for (sp, k). */
static const dyna_ov_entry_t *ov_find(const lm_batch_t *b, dyna_space_t sp, const uint8_t *k,
                                      size_t klen) {
  const dyna_overlay_t *layers[LB_QMAX + 3];
  int nl = ov_layers(b, layers);
  uint64_t h = dyna_ov_hash(sp, k, klen);
  for (int i = 0; i < nl; i++) {
    if (!layers[i]->n) continue;
    const dyna_ov_entry_t *e = dyna_ov_get_h(layers[i], sp, k, klen, h);
    if (e) return e;
  }
  return NULL;
}

/* Two passes over the keys, so that their memory loads overlap: every bucket first, then
 * (the buckets arrived meanwhile) every bucket's first entry. */
static void lb_prefetch(dyna_store_t *st, dyna_space_t sp, const uint8_t *const *keys,
                        const size_t *klens, size_t n) {
  lm_store_t *s = lm(st);
  const dyna_overlay_t *layers[LB_QMAX + 3];
  int nl = ov_layers(s->batch, layers);
  uint64_t h[DYNA_STORE_PREFETCH_MAX];
  if (n > DYNA_STORE_PREFETCH_MAX) n = DYNA_STORE_PREFETCH_MAX;
  for (size_t i = 0; i < n; i++) {
    h[i] = dyna_ov_hash(sp, keys[i], klens[i]);
    for (int l = 0; l < nl; l++) dyna_ov_prefetch(layers[l], h[i], 0);
  }
  for (size_t i = 0; i < n; i++)
    for (int l = 0; l < nl; l++) dyna_ov_prefetch(layers[l], h[i], 1);
}

static int lb_get(dyna_store_t *st, dyna_space_t sp, const uint8_t *k, size_t klen,
                  dyna_buf_t *out) {
  lm_store_t *s = lm(st);
  int err = lm_key_ok(sp, klen);
  if (err) return err;
  const dyna_ov_entry_t *e = ov_find(s->batch, sp, k, klen);
  if (!e) return lm_get_db(s, sp, k, klen, out);
  if (e->tomb) return DYNA_ENOTFOUND;
  dyna_buf_reset(out);
  dyna_buf_put(out, e->val, e->vlen);
  return out->oom ? DYNA_ENOMEM : 0;
}

/* Records a put or delete in cur. A failure drops cur and is remembered. */
static int lb_write(lm_store_t *s, dyna_space_t sp, const uint8_t *k, size_t klen,
                    const uint8_t *v, size_t vlen, int tomb) {
  lm_batch_t *b = s->batch;
  /* A batch larger than the map, or than 64 MiB, could never commit: refuse it as LMDB
   * refuses a transaction that outgrows it (the caller must commit sooner). */
  int err = b->cur.bytes + klen + vlen > b->max_batch ? DYNA_EFULL
                                                       : dyna_ov_set(&b->cur, sp, k, klen, v, vlen, tomb);
  if (err) {
    dyna_ov_clear(&b->cur);
    s->pending = 0;
    if (!s->sticky) s->sticky = err;
    return err;
  }
  s->pending++;
  return 0;
}

static int lb_put(dyna_store_t *st, dyna_space_t sp, const uint8_t *k, size_t klen,
                  const uint8_t *v, size_t vlen) {
  int err = lm_key_ok(sp, klen);
  if (err) return err;
  if (vlen > DYNA_STORE_MAX_VALUE) return DYNA_ETOOBIG;
  return lb_write(lm(st), sp, k, klen, v, vlen, 0);
}

static int lb_del(dyna_store_t *st, dyna_space_t sp, const uint8_t *k, size_t klen) {
  dyna_buf_t cur = DYNA_BUF_INIT;
  int err = lb_get(st, sp, k, klen, &cur); /* a delete of nothing changes nothing */
  dyna_buf_free(&cur);
  return err ? err : lb_write(lm(st), sp, k, klen, NULL, 0, 1);
}

/* ---- iteration: LMDB's keys merged with the overlays' ---- */

/* A copy of one overlay entry (callbacks may write while we iterate). */
typedef struct ov_copy {
  uint8_t *key, *val;
  size_t klen, vlen;
  int tomb;
} ov_copy_t;

typedef struct ov_merge {
  ov_copy_t *e; /* sorted by key */
  size_t n, at;
  dyna_store_iter_fn fn;
  void *arg;
} ov_merge_t;

static int ov_copy_cmp(const void *a, const void *b) {
  const ov_copy_t *x = a, *y = b;
  return dyna_ov_keycmp(x->key, x->klen, y->key, y->klen);
}

/* Emits overlay entries that sort before (k, klen) (all when k is NULL). */
static int ov_emit_before(ov_merge_t *m, const uint8_t *k, size_t klen) {
  while (m->at < m->n && (!k || dyna_ov_keycmp(m->e[m->at].key, m->e[m->at].klen, k, klen) < 0)) {
    const ov_copy_t *e = &m->e[m->at++];
    if (e->tomb) continue;
    int rc = m->fn(m->arg, e->key, e->klen, e->val, e->vlen);
    if (rc) return rc;
  }
  return 0;
}

static int ov_merge_step(void *arg, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen) {
  ov_merge_t *m = arg;
  int rc = ov_emit_before(m, k, klen);
  if (rc) return rc;
  if (m->at < m->n && dyna_ov_keycmp(m->e[m->at].key, m->e[m->at].klen, k, klen) == 0) {
    const ov_copy_t *e = &m->e[m->at++]; /* the overlay's version wins */
    return e->tomb ? 0 : m->fn(m->arg, e->key, e->klen, e->val, e->vlen);
  }
  return m->fn(m->arg, k, klen, v, vlen);
}

/* Copies the newest overlay entry of each key of (sp, prefix), sorted. */
static int ov_snapshot(const lm_batch_t *b, dyna_space_t sp, const uint8_t *prefix, size_t plen,
                       ov_merge_t *m) {
  const dyna_ov_entry_t **all = NULL;
  size_t n = 0, cap = 0;
  int err = 0;
  const dyna_overlay_t *layers[LB_QMAX + 3];
  int nl = ov_layers(b, layers);
  size_t end[LB_QMAX + 3] = {0};
  for (int i = 0; i < nl; i++) {
    if (!err && layers[i]->n) err = dyna_ov_collect(layers[i], sp, prefix, plen, &all, &n, &cap);
    end[i] = n;
  }
  if (!err && n) m->e = dyna_calloc(n, sizeof(ov_copy_t));
  if (!err && n && !m->e) err = DYNA_ENOMEM;
  int layer = 0;
  for (size_t i = 0; !err && i < n; i++) {
    while (i >= end[layer]) layer++;
    int shadowed = 0; /* a newer layer has the key */
    for (int j = 0; j < layer && !shadowed; j++)
      shadowed = layers[j]->n && dyna_ov_get_h(layers[j], sp, all[i]->key, all[i]->klen, all[i]->hash);
    if (shadowed) continue;
    ov_copy_t *c = &m->e[m->n];
    c->key = dyna_memdup(all[i]->key, all[i]->klen);
    c->val = dyna_memdup(all[i]->val, all[i]->vlen);
    if (!c->key || !c->val) {
      dyna_free(c->key);
      dyna_free(c->val);
      err = DYNA_ENOMEM;
      break;
    }
    c->klen = all[i]->klen;
    c->vlen = all[i]->vlen;
    c->tomb = all[i]->tomb;
    m->n++;
  }
  dyna_free((void *)all);
  if (m->n) qsort(m->e, m->n, sizeof(ov_copy_t), ov_copy_cmp);
  return err;
}

static void ov_snapshot_free(ov_merge_t *m) {
  for (size_t i = 0; i < m->n; i++) {
    dyna_free(m->e[i].key);
    dyna_free(m->e[i].val);
  }
  dyna_free(m->e);
}

static int lb_iter(dyna_store_t *st, dyna_space_t sp, const uint8_t *prefix, size_t plen,
                   dyna_store_iter_fn fn, void *arg) {
  lm_store_t *s = lm(st);
  if ((unsigned)sp >= DYNA_SPACE_COUNT) return DYNA_EINVAL;
  ov_merge_t m = {NULL, 0, 0, fn, arg};
  int rc = ov_snapshot(s->batch, sp, prefix, plen, &m);
  if (!rc) rc = lm_iter_db(st, sp, prefix, plen, ov_merge_step, &m);
  if (!rc) rc = ov_emit_before(&m, NULL, 0);
  ov_snapshot_free(&m);
  return rc;
}

/* ---- any: the first live key of a prefix, nothing copied ---- */

typedef struct any_scan {
  const lm_batch_t *b;
  const dyna_overlay_t *const *layers; /* newest first */
  int layer;                           /* the layer being scanned */
  dyna_space_t sp;
} any_scan_t;

/* 1 when overlay entry e is live: not a delete, and no newer layer has its key (a newer
 * live entry was found first, so a newer one here is a delete). */
static int ov_live(void *arg, const dyna_ov_entry_t *e) {
  const any_scan_t *a = arg;
  if (e->tomb) return 0;
  for (int j = 0; j < a->layer; j++)
    if (a->layers[j]->n && dyna_ov_get_h(a->layers[j], (dyna_space_t)e->space, e->key, e->klen, e->hash)) return 0;
  return 1;
}

/* 1 when LMDB's key k is live: no overlay has it (an overlay's live entry was looked
 * for first, so one there is a delete). */
static int db_live(void *arg, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen) {
  (void)v; (void)vlen;
  const any_scan_t *a = arg;
  return !ov_find(a->b, a->sp, k, klen);
}

static int lb_any(dyna_store_t *st, dyna_space_t sp, const uint8_t *prefix, size_t plen) {
  lm_store_t *s = lm(st);
  if ((unsigned)sp >= DYNA_SPACE_COUNT) return DYNA_EINVAL;
  const dyna_overlay_t *layers[LB_QMAX + 3];
  int nl = ov_layers(s->batch, layers);
  any_scan_t a = {s->batch, layers, 0, sp};
  for (a.layer = 0; a.layer < nl; a.layer++)
    if (dyna_ov_each_prefix(layers[a.layer], sp, prefix, plen, ov_live, &a)) return 1;
  int rc = lm_iter_db(st, sp, prefix, plen, db_live, &a);
  return rc < 0 ? rc : rc > 0;
}

/* ---- open and close ---- */

/* Makes every write durable (a failure loses the batch, as any failed commit does),
 * then lm_free checkpoints the rest through lm_batch_close. */
static void lb_close(dyna_store_t *st) {
  lb_commit(st);
  lm_free(lm(st));
}

static const dyna_store_ops_t lb_ops = {
    .name = "lmdb-wal",
    .get = lb_get,
    .put = lb_put,
    .del = lb_del,
    .iter = lb_iter,
    .any = lb_any,
    .commit = lb_commit,
    .pending = lb_pending,
    .close = lb_close,
    .commit_async = lb_commit_async,
    .poll = lb_poll,
    .set_notify = lb_set_notify,
    .count = lm_count_db, /* the checkpointed tree: the WAL batches since are not in it */
    .prefetch = lb_prefetch,
};

int lm_batch_open(lm_store_t *s, const char *dir) {
  lm_batch_t *b = dyna_calloc(1, sizeof(*b));
  if (!b) return DYNA_ENOMEM;
  s->batch = b;
  atomic_init(&b->prep_stop, 0);
  b->max_batch = s->map_bytes < LB_MAX_BATCH ? s->map_bytes : LB_MAX_BATCH;
  b->ckpt_bytes = s->map_bytes / 8 < LB_CKPT_BYTES ? s->map_bytes / 8 : LB_CKPT_BYTES;
  b->ck_chunk = b->ckpt_bytes / 16 < LB_CKPT_CHUNK ? b->ckpt_bytes / 16 : LB_CKPT_CHUNK;
  /* Nodes of one cluster receive the same writes and would checkpoint at the same moment;
   * on a shared disk their writebacks then stall each other's log flushes. Each data
   * directory gets its own threshold, 1 to 1.5 x the base (from a hash of its path). */
  uint32_t stagger = (uint32_t)(XXH3_64bits(dir, strlen(dir)) >> 40);
  b->ckpt_bytes = staggered(b->ckpt_bytes, stagger);
  /* The first segment of a run writes into the file prepared below (or kept by the last
   * run), of prefill_bytes: it rolls at a third of that in keys and values, staggered
   * as ckpt_bytes is, so that it does not outgrow the file (a record adds 10 bytes of
   * header per entry: twice the size at most for entries of 10 bytes or more; smaller
   * ones may grow the file, which costs time, not correctness). */
  b->seg_limit = staggered(prefill_bytes(b) / 3, stagger);
  if (b->seg_limit > b->ckpt_bytes) b->seg_limit = b->ckpt_bytes;
  if (pthread_mutex_init(&b->mu, NULL)) {
    dyna_free(b);
    s->batch = NULL;
    return DYNA_ENOMEM;
  }
  if (pthread_cond_init(&b->cv_log, NULL) || pthread_cond_init(&b->cv_ck, NULL) ||
      pthread_cond_init(&b->cv_loop, NULL)) {
    pthread_mutex_destroy(&b->mu); /* (a condition variable needs no destroy on Linux) */
    dyna_free(b);
    s->batch = NULL;
    return DYNA_ENOMEM;
  }
  uint64_t after = 0;
  int err = read_ckpt_seg(s, &after);
  if (!err) err = dyna_wal_open(dir, &b->wal);
  if (!err && s->base.sync == DYNA_SYNC_NONE) dyna_wal_set_nosync(b->wal, 1);
  char msg[512] = "";
  if (!err) err = dyna_wal_replay(b->wal, after, &b->ckpt, msg, sizeof(msg));
  if (err == DYNA_ECORRUPT) fprintf(stderr, "dyna store: %s\n", msg);
  if (!err && dyna_wal_segment(b->wal) > after) {
    /* Bring LMDB up to date before serving. If it cannot take the writes (map or disk
     * full), they stay readable in ckpt and writes are refused until it can. */
    int ck = checkpoint(s, &b->ckpt, dyna_wal_segment(b->wal));
    if (!ck) dyna_ov_clear(&b->ckpt);
    else if (ck == DYNA_EFULL) b->ck_failed = ck;
    else err = ck;
  }
  /* The first segment of this run overwrites zeros too, as later ones do: a file that
   * grows makes every fdatasync write the inode as well (about 25 us more CPU and 0.05
   * ms more per commit on ext4 here: bench/fsync_cost.py). Nothing to do when a file
   * from the last run is ready (wal.h, dyna_wal_close); best effort otherwise. */
  if (!err) dyna_wal_prepare(b->wal, prefill_bytes(b), NULL);
  if (!err && pthread_create(&b->log_thread, NULL, log_main, s)) err = DYNA_ENOMEM;
  if (!err) b->threads = 1;
  if (!err && pthread_create(&b->ck_thread, NULL, ck_main, s)) err = DYNA_ENOMEM;
  if (!err) b->threads = 2;
  if (!err) s->base.ops = &lb_ops;
  return err; /* on failure the caller's lm_free calls lm_batch_close */
}

void lm_batch_close(lm_store_t *s) {
  lm_batch_t *b = s->batch;
  if (!b) return;
  if (b->threads) {
    /* Finish what runs, then checkpoint everything logged so the log can go. */
    pthread_mutex_lock(&b->mu);
    while ((b->q_written != b->q_pushed && !b->log_err) || (b->ck_busy && !b->ck_done))
      pthread_cond_wait(&b->cv_loop, &b->mu);
    b->quit = 1;
    atomic_store(&b->prep_stop, 1);
    pthread_cond_broadcast(&b->cv_log);
    pthread_cond_broadcast(&b->cv_ck);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->log_thread, NULL);
    if (b->threads > 1) pthread_join(b->ck_thread, NULL);
    b->notify = NULL;
    collect(s);
    if (!b->ck_busy && (b->logged.n || b->ckpt.n)) {
      dyna_ov_absorb(&b->ckpt, &b->logged);
      checkpoint(s, &b->ckpt, dyna_wal_roll(b->wal)); /* on failure: replayed at open */
    }
    /* none: LMDB (MDB_NOSYNC) and the log were never synced; a clean close syncs once,
     * as the engine without the log did. */
    if (s->base.sync == DYNA_SYNC_NONE) mdb_env_sync(s->env, 1);
  }
  if (b->wal) dyna_wal_trim_next(b->wal, prefill_bytes(b));
  dyna_wal_close(b->wal);
  dyna_ov_clear(&b->cur);
  for (int i = 0; i < LB_QMAX; i++) dyna_ov_clear(&b->fly[i]);
  dyna_ov_clear(&b->logged);
  dyna_ov_clear(&b->ckpt);
  dyna_ov_clear(&b->trash); /* the thread is gone: whatever it did not free */
  pthread_mutex_destroy(&b->mu);
  pthread_cond_destroy(&b->cv_log);
  pthread_cond_destroy(&b->cv_ck);
  pthread_cond_destroy(&b->cv_loop);
  dyna_free(b);
  s->batch = NULL;
}
