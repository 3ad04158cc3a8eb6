/* flush.c: FLUSHALL's work on one node (scan_fsm.c coordinates it): a tombstone over
 * every live key the node holds, in its objects and in its hints, as a DEL coordinated
 * here would write it (a new version of this node's actor that supersedes everything the
 * node holds of the key, dyna_replica_coordinate). So anti-entropy and read repair merge
 * tombstones over those versions and never bring them back, and a hint delivered later
 * hands over a tombstone (docs/architecture.md, "Listing keys and flushing").
 *
 * It goes a few partitions per event: whole partitions, until about FLUSH_KEYS_PER_STEP
 * tombstones were written, then on at the next ticks, so that neither one event nor
 * one batch holds a tombstone for every key of the node:
 *
 *   FLUSH frame ─▶ dyna_flush_begin(to = sender) ─▶ step ─▶ ... ticks ... ─▶ SCAN_RESP
 *   the coordinator's own part ─▶ dyna_flush_begin(to = 0) ─▶ ... ─▶ dyna_scan_flush_done
 * (each answer leaves only once every write made before it is durable). */
#include "core/node_int.h"
#include "core/keyspace.h"
#include "core/replica.h"
#include "util/alloc.h"
#include "util/err.h"
#include <string.h>

/* A flush of this node's store in progress: for a FLUSH frame (to: its sender, req: its
 * id), or for the FLUSH job this node coordinates (to 0, req: the job's round). */
#define FLUSH_KEYS_PER_STEP 4096u
struct flush_run {
  struct flush_run *next;
  uint64_t to, req;
  uint32_t p;   /* the next partition */
  int err;
};

/* Writes a tombstone over every live key this node holds in space sp (objects, or
 * hints for their owners), as a DEL coordinated here would: a new version of this
 * node's actor that supersedes everything the node holds of the key. */
typedef struct flusher {
  dyna_node_t *n;
  dyna_space_t sp;
  int err;
  uint32_t written; /* tombstones written */
} flusher_t;

static int flush_visit(void *arg, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen) {
  flusher_t *fl = arg;
  dyna_node_t *n = fl->n;
  const uint8_t *skey = k;
  size_t sklen = klen;
  uint64_t owner = 0;
  if (fl->sp == DYNA_SPACE_HINT && dyna_hkey_parse(k, klen, &skey, &sklen, &owner)) return 0;
  const uint8_t *key;
  size_t kl;
  if (dyna_skey_user_key(skey, sklen, v, vlen, &key, &kl)) return 0;
  dyna_obj_t o;
  dyna_obj_init(&o);
  int rc = dyna_record_decode(v, vlen, NULL, 0, &o, NULL, NULL);
  int live = !rc && dyna_obj_kind(&o, n->now.wall_ms) != DYNA_KIND_NONE;
  dyna_obj_clear(&o);
  if (!live) return 0;
  /* The key is copied: the write below may move what k and v point to. */
  uint8_t *copy = dyna_memdup(key, kl);
  if (!copy) { fl->err = DYNA_ENOMEM; return 1; }
  dyna_replica_t rep;
  dyna_node_replica(n, dyna_skey_partition(skey, sklen), &rep);
  dyna_val_t tomb = {DYNA_VAL_TOMBSTONE, dyna_node_stamp(n), NULL, 0};
  int existed = 0;
  rc = dyna_replica_coordinate(&rep, copy, kl, NULL, 1, &tomb, 0, 0, owner, &o, NULL, NULL, &existed);
  dyna_obj_clear(&o);
  dyna_free(copy);
  if (rc) { fl->err = rc; return 1; }
  n->stats.dels++;
  fl->written++;
  return 0;
}

/* Tombstones partition p's live objects and hints here; *written counts them. */
static int flush_partition(dyna_node_t *n, uint32_t p, uint32_t *written) {
  uint8_t prefix[2] = {(uint8_t)(p >> 8), (uint8_t)p}; /* objects and hints: partition first */
  flusher_t fl = {n, DYNA_SPACE_OBJ, 0, 0};
  int rc = dyna_store_iter(n->store, DYNA_SPACE_OBJ, prefix, 2, flush_visit, &fl);
  if (!rc && !fl.err) {
    fl.sp = DYNA_SPACE_HINT;
    rc = dyna_store_iter(n->store, DYNA_SPACE_HINT, prefix, 2, flush_visit, &fl);
  }
  *written += fl.written;
  return fl.err ? fl.err : rc < 0 ? rc : 0;
}

/* Runs fr on within budget (tombstones, whole partitions); returns what is left of it. */
static uint32_t flush_step(dyna_node_t *n, flush_run_t *fr, uint32_t budget) {
  uint32_t written = 0;
  while (!fr->err && fr->p < n->cl.ring.size && written < budget) fr->err = flush_partition(n, fr->p++, &written);
  return written >= budget ? 0 : budget - written;
}

static int flush_over(const dyna_node_t *n, const flush_run_t *fr) { return fr->err || fr->p >= n->cl.ring.size; }

static void flush_unlink(dyna_node_t *n, flush_run_t *fr) {
  flush_run_t **pp = &n->flush_runs;
  while (*pp && *pp != fr) pp = &(*pp)->next;
  if (*pp) *pp = fr->next;
}

int dyna_flush_begin(dyna_node_t *n, uint64_t to, uint64_t req, int *err) {
  flush_run_t *fr = dyna_calloc(1, sizeof(*fr));
  if (!fr) { *err = DYNA_ENOMEM; return 0; }
  fr->to = to;
  fr->req = req;
  flush_step(n, fr, FLUSH_KEYS_PER_STEP);
  if (flush_over(n, fr)) {
    *err = fr->err;
    dyna_free(fr);
    return 0;
  }
  fr->next = n->flush_runs;
  n->flush_runs = fr;
  return 1;
}

/* A run is over: answers its sender, or tells the job this node coordinates. */
static void flush_done(dyna_node_t *n, flush_run_t *fr) {
  if (!fr->to) {
    dyna_scan_flush_done(n, fr->req, fr->err);
    return;
  }
  dyna_msg_t a = {0};
  a.type = DYNA_MSG_SCAN_RESP;
  a.req = fr->req;
  a.status = fr->err;
  dyna_node_send(n, fr->to, &a); /* after its tombstones are durable */
}

void dyna_flush_tick(dyna_node_t *n) {
  uint32_t budget = FLUSH_KEYS_PER_STEP;
  while (n->flush_runs && budget) {
    flush_run_t *fr = n->flush_runs;
    budget = flush_step(n, fr, budget);
    if (!flush_over(n, fr)) break;
    flush_unlink(n, fr);
    flush_done(n, fr);
    dyna_free(fr);
  }
}

void dyna_flush_free_all(dyna_node_t *n) {
  while (n->flush_runs) {
    flush_run_t *fr = n->flush_runs;
    n->flush_runs = fr->next;
    dyna_free(fr);
  }
}
