/* handoff.c: moving partitions to where the ring says they belong.
 *
 * Every handoff interval the node sweeps its partitions (a bounded number per tick). A
 * partition it holds data for but is no longer a home replica of (after a join, a leave
 * or a remove changed the ring) is sent, a batch of keys at a time, to the partition's
 * current home replicas (transfer.c), within the background byte budget. Before its
 * first batch the node asks each target for what it holds of the partition (HO_CHECK:
 * the anti-entropy tree's root, answered by HO_HAVE: the same root, or the target's
 * 256 bucket hashes), and each key then goes only to the targets whose bucket differs:
 * after a join the new home replica gets the partition and the others, which hold it
 * already, get nothing (they got every key as often before: 3x the bytes at N = 3). A
 * key no target lacks is deleted at once, as one every target acknowledged; a target
 * that does not answer in time is sent everything. The sweep stays on a partition while
 * its batches move keys, so one check serves the partition's whole move. A leaving node
 * whose sweep finds nothing left to move, and which holds no hint, becomes REMOVED.
 * Each partition it sends is recorded as a move (moves.c: to whom, keys sent and
 * acknowledged of those it held, bytes) for operators.
 *
 * Also here: the per-partition epochs that make dyna_node_actor safe (node_int.h). */
#include "util/err.h"
#include "core/keyspace.h"
#include "util/alloc.h"
#include "core/node_int.h"
#include <string.h>

#define EPOCH_PREFIX "epoch"
#define SCAN_PER_TICK 64
#define HELD_BATCHES 64 /* batches a tick that no target needed (below) */

static int load_epoch(void *arg, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen) {
  dyna_node_t *n = arg;
  if (klen != 7 || vlen != 4) return 0;
  uint32_t p = ((uint32_t)k[5] << 8) | k[6];
  dyna_rd_t r;
  dyna_rd_init(&r, v, vlen);
  if (p < n->cl.ring.size) n->epoch[p] = dyna_rd_u32le(&r);
  return 0;
}

int dyna_handoff_load_epochs(dyna_node_t *n) {
  n->epoch = dyna_calloc(n->cl.ring.size ? n->cl.ring.size : 1, sizeof(uint32_t));
  if (!n->epoch) return DYNA_ENOMEM;
  int rc = dyna_store_iter(n->store, DYNA_SPACE_META, (const uint8_t *)EPOCH_PREFIX, 5, load_epoch, n);
  return rc > 0 ? 0 : rc;
}

void dyna_node_bump_epoch(dyna_node_t *n, uint32_t p) {
  if (p >= n->cl.ring.size) return;
  uint8_t k[7];
  memcpy(k, EPOCH_PREFIX, 5);
  k[5] = (uint8_t)(p >> 8);
  k[6] = (uint8_t)p;
  n->epoch[p]++;
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_buf_put_u32le(&b, n->epoch[p]);
  if (!b.oom) dyna_store_put(n->store, DYNA_SPACE_META, k, sizeof(k), b.data, b.len);
  dyna_buf_free(&b);
}

void dyna_handoff_free(dyna_node_t *n) {
  dyna_xfer_clear(&n->ho.x);
  dyna_moves_free(n);
}

typedef struct collect {
  dyna_node_t *n;
  const ho_check_t *chk; /* the partition, its targets and what each lacks */
  const uint64_t *tree;  /* this node's tree of it now (NULL: unknown, send to all) */
  size_t max;       /* keys in a batch, at most */
  size_t max_bytes; /* keys and values to send in a batch, at most (past its first key) */
  size_t bytes;
  int err;
} collect_t;

/* Adds a key to the batch, for the targets whose bucket of it differs from ours (none:
 * every target holds it as we do, and it is deleted with the batch). */
static int collect_one(void *arg, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen) {
  collect_t *c = arg;
  const ho_check_t *chk = c->chk;
  unsigned b = dyna_merkle_bucket(k, klen);
  int changed = !c->tree || c->tree[b] != chk->mine[b]; /* since the targets answered */
  uint64_t to[DYNA_MAX_N];
  uint32_t nt = 0;
  for (uint32_t t = 0; t < chk->nt; t++)
    if (changed || (chk->need[t][b / 8] & (1u << (b % 8)))) to[nt++] = chk->target[t];
  c->err = dyna_xfer_add(c->n, &c->n->ho.x, DYNA_SPACE_OBJ, k, klen, v, vlen, chk->partition, to, nt);
  if (nt) c->bytes += klen + vlen;
  c->n->stats.handoff_stored_bytes += klen + vlen;
  c->n->stats.handoff_keys_held += !nt;
  return c->err || c->n->ho.x.nitems >= c->max || c->bytes >= c->max_bytes;
}

/* ---------- what the targets hold ---------- */

/* 1 when the check answers for partition p with these targets, and is recent. */
static int check_fits(const dyna_node_t *n, uint32_t p, const uint64_t *reps, size_t nrep) {
  const ho_check_t *c = &n->ho.chk;
  if (c->state != HO_CHECK_KNOWN || c->partition != p || c->nt != nrep ||
      n->now.mono_ms - c->asked_ms > HO_CHECK_TRUST_MS)
    return 0;
  return !memcmp(c->target, reps, nrep * sizeof(*reps));
}

/* Asks each target of partition p which buckets it holds as this node does. Without a
 * tree here (short of memory) no question goes out: every key goes to every target. */
static void start_check(dyna_node_t *n, uint32_t p, const uint64_t *reps, size_t nrep, dyna_move_t *mv) {
  ho_check_t *c = &n->ho.chk;
  memset(c, 0, sizeof(*c));
  c->partition = p;
  c->nt = (uint32_t)nrep;
  memcpy(c->target, reps, nrep * sizeof(*reps));
  memset(c->need, 0xff, sizeof(c->need));
  c->asked_ms = n->now.mono_ms;
  c->state = HO_CHECK_KNOWN;
  const uint64_t *tree = dyna_merkle_tree(n, p);
  if (!tree) return;
  memcpy(c->mine, tree, sizeof(c->mine));
  uint64_t root = dyna_merkle_root(c->mine);
  uint8_t buf[8];
  for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(root >> (8 * i));
  c->req = ++n->next_req;
  for (uint32_t t = 0; t < c->nt; t++) {
    if (c->target[t] == n->cfg.id) continue; /* not a home here, so never: send it all */
    dyna_msg_t m = {0};
    m.type = DYNA_MSG_HO_CHECK;
    m.req = c->req;
    m.w = (uint64_t)p + 1;
    m.obj = buf;
    m.objlen = sizeof(buf);
    dyna_node_send_bulk(n, c->target[t], &m);
    c->pending |= 1u << t;
    n->stats.handoff_bytes += sizeof(buf);
    mv->bytes += sizeof(buf);
  }
  dyna_budget_take(n, c->nt * sizeof(buf));
  if (c->pending) c->state = HO_CHECK_ASKING;
}

void dyna_handoff_deleted(dyna_node_t *n, uint32_t p, const uint8_t *skey, size_t sklen, const uint8_t *rec,
                          size_t reclen) {
  ho_check_t *c = &n->ho.chk;
  if (c->state == HO_CHECK_NONE || c->partition != p) return;
  c->mine[dyna_merkle_bucket(skey, sklen)] ^= dyna_record_hash(skey, sklen, rec, reclen);
}

void dyna_handoff_on_have(dyna_node_t *n, uint64_t from, const dyna_msg_t *m) {
  ho_check_t *c = &n->ho.chk;
  if (c->state != HO_CHECK_ASKING || m->req != c->req || m->w != (uint64_t)c->partition + 1) return; /* late */
  uint32_t t = 0;
  while (t < c->nt && !(c->target[t] == from && (c->pending & (1u << t)))) t++;
  if (t == c->nt) return;
  c->pending &= ~(1u << t);
  if (!m->objlen) memset(c->need[t], 0, sizeof(c->need[t])); /* the same root: it holds it all */
  else if (dyna_merkle_diff(c->mine, m->obj, m->objlen, c->need[t]))
    n->stats.bad_messages++; /* need[t] stays all set: send it everything */
  if (n->cfg.bugs & DYNA_BUG_HANDOFF_TRUST) memset(c->need[t], 0, sizeof(c->need[t]));
  if (c->pending) return;
  c->state = HO_CHECK_KNOWN;
  n->ho.next_ms = n->now.mono_ms; /* the first batch goes at once */
  dyna_handoff_tick(n);
}

/* 1 when partition p has any object here. */
int dyna_node_has_objects(dyna_node_t *n, uint32_t p) {
  uint8_t prefix[2] = {(uint8_t)(p >> 8), (uint8_t)p};
  return dyna_store_any(n->store, DYNA_SPACE_OBJ, prefix, 2) > 0;
}

/* 1 when this node still holds a hint (hints.c delivers it, to the current home
 * replicas if its owner is gone). */
static int has_hints(dyna_node_t *n) { return dyna_store_any(n->store, DYNA_SPACE_HINT, NULL, 0) > 0; }

/* With sites (ring.h): keeps, of reps[0..nrep), the home replicas of this node's own
 * site, where a join or leave here moved the partition (the other sites' homes did not
 * change, and a cut between sites must not hold the handoff up); all of them when none
 * is of this site. Returns the count kept. */
static size_t own_site(const dyna_node_t *n, uint64_t *reps, size_t nrep) {
  if (!n->cl.ring.nsites) return nrep;
  size_t k = 0;
  for (size_t i = 0; i < nrep; i++) {
    const dyna_member_t *m = dyna_cluster_find(&n->cl, reps[i]);
    if (m && !strcmp(m->dc, n->cfg.dc)) reps[k++] = reps[i];
  }
  return k ? k : nrep;
}

/* Starts moving partition p if it has data here and this node is not a home replica of
 * it. Returns 1 when a batch went out. No data ends a move whether or not p is ours, so
 * that is looked at first: most of a sweep is partitions without data here, and a
 * preference list costs more than the look-up (1000 nodes, Q = 8192). */
static int try_partition(dyna_node_t *n, uint32_t p) {
  if (!dyna_node_has_objects(n, p)) {
    dyna_move_end(n, p);
    return 0;
  }
  uint64_t reps[DYNA_MAX_N];
  size_t nrep = dyna_node_replicas(n, p, reps);
  for (size_t i = 0; i < nrep; i++)
    if (reps[i] == n->cfg.id) {
      dyna_move_end(n, p); /* ours again */
      return 0;
    }
  nrep = own_site(n, reps, nrep);
  n->ho.found_foreign = 1;
  dyna_move_t none, *mv = dyna_move_out(n, p); /* none: out of memory, recorded nowhere */
  if (!mv) {
    memset(&none, 0, sizeof(none));
    mv = &none;
  }
  for (size_t i = 0; i < nrep; i++)
    if (!dyna_node_is_reachable(n, reps[i])) { /* wait until every replica can take it */
      mv->state = DYNA_MOVE_WAITING;
      return 0;
    }
  n->ho.stay = 1; /* go on with p while its batches move keys */
  n->ho.stay_p = p;
  if (!check_fits(n, p, reps, nrep)) {
    start_check(n, p, reps, nrep, mv);
    if (n->ho.chk.state == HO_CHECK_ASKING) return 1; /* the answers start the batch */
  }
  uint8_t prefix[2] = {(uint8_t)(p >> 8), (uint8_t)p};
  size_t slice = dyna_budget_slice(n);
  if (n->ho.slice && n->ho.slice < slice) slice = n->ho.slice;
  collect_t c = {n, &n->ho.chk, dyna_merkle_tree(n, p), n->cfg.handoff_batch_keys, slice, 0, 0};
  dyna_store_iter(n->store, DYNA_SPACE_OBJ, prefix, 2, collect_one, &c);
  if (c.err || !n->ho.x.nitems) {
    dyna_xfer_clear(&n->ho.x);
    n->ho.stay = 0;
    return 0;
  }
  n->stats.handoff_keys_sent += n->ho.x.nitems;
  mv->state = DYNA_MOVE_SENDING;
  mv->keys += n->ho.x.nitems;
  n->ho.sending = p;
  n->ho.batch_ms = n->now.mono_ms;
  uint64_t deleted = n->stats.handoff_keys_deleted;
  uint64_t bytes = dyna_xfer_send(n, &n->ho.x);
  mv->keys_done += n->stats.handoff_keys_deleted - deleted; /* nothing was awaited */
  mv->bytes += bytes;
  n->stats.handoff_bytes += bytes;
  dyna_budget_take(n, bytes);
  if (!n->ho.x.active) { /* done already (no key needed sending): on at the next tick */
    n->ho.stay = n->stats.handoff_keys_deleted > deleted;
    n->ho.next_ms = n->now.mono_ms;
  }
  return 1;
}

uint32_t dyna_node_handoff_pending(dyna_node_t *n) {
  uint64_t reps[DYNA_MAX_N];
  uint32_t pending = 0;
  for (uint32_t p = 0; p < n->cl.ring.size; p++) {
    size_t nrep = dyna_node_replicas(n, p, reps), i = 0;
    while (i < nrep && reps[i] != n->cfg.id) i++;
    if (i == nrep && dyna_node_has_objects(n, p)) pending++;
  }
  return pending;
}

int dyna_handoff_on_ack(dyna_node_t *n, uint64_t from, const dyna_msg_t *m) {
  uint64_t deleted = n->stats.handoff_keys_deleted;
  int mine = dyna_xfer_on_ack(n, &n->ho.x, from, m);
  if (mine && n->stats.handoff_keys_deleted > deleted) { /* the batch finished: its keys are gone here */
    dyna_move_t *mv = n->ho.sending < n->moves_out_n ? &n->moves_out[n->ho.sending] : NULL;
    if (mv && mv->state == DYNA_MOVE_SENDING) {
      mv->keys_done += n->stats.handoff_keys_deleted - deleted;
      mv->updated_ms = n->now.mono_ms;
    }
  }
  if (mine && !n->ho.x.active) { /* go on with the next batch at once, sized by how it went */
    if (n->stats.handoff_keys_deleted == deleted) n->ho.stay = 0; /* it failed, or moved nothing */
    size_t top = dyna_budget_slice(n), cur = n->ho.slice && n->ho.slice < top ? n->ho.slice : top;
    if (n->now.mono_ms - n->ho.batch_ms > DYNA_HANDOFF_SLOW_MS)
      n->ho.slice = cur / 2 > DYNA_ADMIT_SLICE_MIN ? cur / 2 : DYNA_ADMIT_SLICE_MIN;
    else
      n->ho.slice = cur * 2 < top ? cur * 2 : top;
    n->ho.next_ms = n->now.mono_ms;
    dyna_handoff_tick(n);
  }
  return mine;
}

/* A leaving node is done when a whole sweep, run entirely under a settled ring that
 * gives it nothing, found no data of its own left to move, and it holds no hint: a hint
 * may be the last copy of an acknowledged write (a sloppy-quorum copy whose home
 * replicas were cut off, one of which may since have lost its disk). */
static void sweep_done(dyna_node_t *n) {
  handoff_t *h = &n->ho;
  int done = !h->found_foreign && h->sweep_ring == n->cl.ring_version &&
             dyna_cluster_ring_settled(&n->cl) && dyna_ring_owned(&n->cl.ring, n->cfg.id) == 0 &&
             !has_hints(n);
  if (done) dyna_gossip_left(n);
  h->scanned = 0;
  h->found_foreign = 0;
  h->sweep_ring = n->cl.ring_version;
}

void dyna_handoff_tick(dyna_node_t *n) {
  handoff_t *h = &n->ho;
  uint32_t q = n->cl.ring.size;
  if (h->x.active && n->now.mono_ms >= h->x.deadline_ms) {
    dyna_xfer_clear(&h->x);
    h->stay = 0;
  }
  if (h->chk.state == HO_CHECK_ASKING && n->now.mono_ms - h->chk.asked_ms >= 5 * n->cfg.request_timeout_ms)
    h->chk.state = HO_CHECK_KNOWN; /* the silent targets' need[] is all set: sent everything */
  if (h->x.active || h->chk.state == HO_CHECK_ASKING || n->now.mono_ms < h->next_ms || !q) return;
  h->next_ms = n->now.mono_ms + n->cfg.handoff_interval_ms;
  if (!dyna_budget_ok(n)) return;
  /* The partition whose last batch moved keys, before the sweep goes on; a batch of
   * keys every target holds already finishes at once, so up to HELD_BATCHES of those
   * go in one tick (one a tick made a join whose joiner anti-entropy had mostly filled
   * take 39 s instead of 4). */
  for (int i = 0, worked = 0; h->stay; i++) {
    h->stay = 0;
    if (i == HELD_BATCHES || h->stay_p >= q || !try_partition(n, h->stay_p)) {
      h->stay = i == HELD_BATCHES;
      if (worked) return;
      break;
    }
    worked = 1;
    if (h->x.active || h->chk.state == HO_CHECK_ASKING) return;
  }
  /* A leaving node sweeps a whole ring in 16 ticks whatever Q is: its removal waits for
   * a whole sweep under the ring that gives it nothing, and at 64 a tick that took 6.4 s
   * a sweep at Q = 4096, so a leave at 1000 nodes was known as REMOVED 13-14 s after it
   * (docs/simulation.md, Membership convergence). Only partitions with data cost more
   * than a look-up, and those go at the budget's pace as before. */
  const dyna_member_t *self = dyna_cluster_find(&n->cl, n->cfg.id);
  uint32_t per = self && self->status == DYNA_MEMBER_LEAVING && q / 16 > SCAN_PER_TICK ? q / 16 : SCAN_PER_TICK;
  for (uint32_t i = 0; i < per; i++) {
    uint32_t p = h->cursor % q;
    h->cursor = (p + 1) % q;
    if (++h->scanned >= q) sweep_done(n);
    if (try_partition(n, p)) return;
  }
}
