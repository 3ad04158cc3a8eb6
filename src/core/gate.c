/* gate.c: the durability gate (see gate.h): which of a node's answers may leave, and
 * when. Two FIFO rings: held answers waiting for their writes, and released ones
 * waiting for the driver to pop them. The out ring always has room for every held
 * answer, so releasing never allocates. */
#include "core/gate.h"
#include "util/alloc.h"
#include "util/assert.h"
#include "util/err.h"
#include <stdio.h>
#include <string.h>

/* ---------- rings ---------- */

static dyna_gate_item_t *ring_at(dyna_gate_ring_t *q, size_t i) {
  return &q->v[(q->head + i) % q->cap];
}

/* Room for `need` items in all. 0 or DYNA_ENOMEM (then q is unchanged). */
static int ring_reserve(dyna_gate_ring_t *q, size_t need) {
  if (need <= q->cap) return 0;
  size_t cap = q->cap ? q->cap : 16;
  while (cap < need) cap *= 2;
  dyna_gate_item_t *v = dyna_malloc(cap * sizeof(*v));
  if (!v) return DYNA_ENOMEM;
  for (size_t i = 0; i < q->len; i++) v[i] = *ring_at(q, i);
  dyna_free(q->v);
  q->v = v;
  q->cap = cap;
  q->head = 0;
  return 0;
}

static void ring_push(dyna_gate_ring_t *q, const dyna_gate_item_t *it) {
  DYNA_ASSERT(q->len < q->cap, "gate ring full: %zu of %zu (room is reserved when taking)", q->len,
              q->cap);
  q->v[(q->head + q->len) % q->cap] = *it;
  q->len++;
}

static int ring_pop(dyna_gate_ring_t *q, dyna_gate_item_t *out) {
  if (!q->len) return 0;
  *out = q->v[q->head];
  q->head = (q->head + 1) % q->cap;
  q->len--;
  return 1;
}

static void item_free(dyna_gate_item_t *it) {
  if (it->is_msg) dyna_buf_free(&it->m.frame);
  else dyna_node_reply_clear(&it->r);
}

static void ring_free(dyna_gate_ring_t *q) {
  dyna_gate_item_t it;
  while (ring_pop(q, &it)) item_free(&it);
  dyna_free(q->v);
  memset(q, 0, sizeof(*q));
}

/* ---------- invariants ---------- */

/* Every answer taken is popped, dropped, held or waiting to be popped; and the out ring
 * can take every held answer without allocating. */
static void check_counts(const dyna_gate_t *g) {
  DYNA_ASSERT(g->taken == g->popped + g->dropped + g->held.len + g->out.len,
              "gate lost track of an answer: taken %llu, popped %llu, dropped %llu, held %zu, out %zu",
              (unsigned long long)g->taken, (unsigned long long)g->popped,
              (unsigned long long)g->dropped, g->held.len, g->out.len);
  DYNA_ASSERT(g->out.len + g->held.len <= g->out.cap || (!g->held.len && !g->out.len),
              "gate cannot release without allocating: held %zu + out %zu > room %zu", g->held.len,
              g->out.len, g->out.cap);
}

static const char *state_name(dyna_dur_state_t st) {
  return st == DYNA_DUR_DURABLE ? "durable" : st == DYNA_DUR_LOST ? "lost" : "pending";
}

/* ---------- release ---------- */

/* Lets it out: OK when its write is durable; when the write was lost, a reply becomes an
 * error and a frame is dropped (it may carry a version the store no longer has). */
static void settle(dyna_gate_t *g, dyna_gate_item_t *it, dyna_dur_state_t st) {
  if (st == DYNA_DUR_LOST) {
    if (it->is_msg) {
      dyna_buf_free(&it->m.frame);
      g->dropped++;
      g->stats.dropped_frames++;
      return;
    }
    char msg[96];
    snprintf(msg, sizeof(msg), "storage commit failed: %s", dyna_strerror(g->lost_err));
    dyna_node_reply_fail(&it->r, DYNA_EIO, msg);
    it->err = g->lost_err ? g->lost_err : DYNA_EIO;
    g->stats.failed_replies++;
  } else {
    /* The release rule: nothing leaves as OK before the write it depends on is durable. */
    dyna_dur_state_t now = dyna_durable_state(&g->dur, it->wseq);
    DYNA_ASSERT(st == DYNA_DUR_DURABLE && now == DYNA_DUR_DURABLE,
                "gate released OK a %s whose write %llu is %s (durable point %llu, lost (%llu, %llu])",
                it->is_msg ? "frame" : "reply", (unsigned long long)it->wseq, state_name(now),
                (unsigned long long)g->dur.upto, (unsigned long long)g->dur.lost_lo,
                (unsigned long long)g->dur.lost_hi);
    it->err = 0;
  }
  ring_push(&g->out, it);
}

/* An answer that depends on the writes up to it->wseq: out now when they are durable
 * (or lost: then failed), else held. Room in both rings was reserved. */
static void admit(dyna_gate_t *g, dyna_gate_item_t *it) {
  it->seq = ++g->next_seq;
  g->taken++;
  dyna_dur_state_t st = dyna_durable_state(&g->dur, it->wseq);
  if (st == DYNA_DUR_PENDING) {
    g->stats.held++;
    ring_push(&g->held, it);
    return;
  }
  if (st == DYNA_DUR_DURABLE && !it->is_msg && it->r.wrote) g->stats.unheld_acks++;
  settle(g, it, st);
}

/* Releases the held answers whose writes are now durable or lost, keeping the order of
 * the others. O(held). */
static void release_ready(dyna_gate_t *g) {
  dyna_gate_ring_t *q = &g->held;
  size_t keep = 0, n = q->len;
  uint64_t last = 0;
  for (size_t i = 0; i < n; i++) {
    dyna_gate_item_t it = *ring_at(q, i);
    DYNA_ASSERT(it.seq > last, "held answers out of order: %llu after %llu at %zu of %zu",
                (unsigned long long)it.seq, (unsigned long long)last, i, n);
    last = it.seq;
    dyna_dur_state_t st = dyna_durable_state(&g->dur, it.wseq);
    if (st == DYNA_DUR_PENDING) *ring_at(q, keep++) = it;
    else settle(g, &it, st);
  }
  q->len = keep;
  check_counts(g);
}

/* ---------- API ---------- */

void dyna_gate_init(dyna_gate_t *g, dyna_store_t *store, int durable_reads, uint32_t bugs) {
  memset(g, 0, sizeof(*g));
  g->store = store;
  g->durable_reads = durable_reads;
  g->bugs = bugs;
  dyna_durable_init(&g->dur);
}

void dyna_gate_free(dyna_gate_t *g) {
  ring_free(&g->held);
  ring_free(&g->out);
}

/* Room for k more answers: held, and released with everything held. */
static int reserve(dyna_gate_t *g, size_t k) {
  int rc = ring_reserve(&g->held, g->held.len + k);
  if (!rc) rc = ring_reserve(&g->out, g->out.len + g->held.len + k);
  return rc;
}

int dyna_gate_take(dyna_gate_t *g, dyna_node_t *n) {
  size_t k = dyna_node_replies_pending(n) + dyna_node_msgs_pending(n);
  if (!k) return 0;
  if (reserve(g, k)) return DYNA_ENOMEM;
  uint64_t writes = g->store->writes;
  dyna_gate_item_t it;
  memset(&it, 0, sizeof(it));
  it.is_msg = 1;
  while (dyna_node_pop_early(n, &it.m)) { /* its wseq: the node's incarnation record */
    DYNA_ASSERT(it.m.wseq <= writes, "early frame waits for write %llu, only %llu made",
                (unsigned long long)it.m.wseq, (unsigned long long)writes);
    it.wseq = it.m.wseq;
    admit(g, &it);
  }
  memset(&it, 0, sizeof(it));
  while (dyna_node_pop_reply(n, &it.r)) {
    if (!it.r.wrote && !g->durable_reads) { /* a read: it leaves at once */
      it.wseq = 0;
      g->stats.early_replies++;
      g->taken++;
      it.seq = ++g->next_seq;
      settle(g, &it, DYNA_DUR_DURABLE);
    } else {
      DYNA_ASSERT(!it.r.wrote || it.r.wseq <= writes, "reply acknowledges write %llu, only %llu made",
                  (unsigned long long)it.r.wseq, (unsigned long long)writes);
      it.wseq = dyna_durable_resolve(&g->dur, it.r.wrote ? it.r.wseq : DYNA_WSEQ_ALL, writes);
      admit(g, &it);
    }
    memset(&it, 0, sizeof(it));
  }
  it.is_msg = 1;
  while (dyna_node_pop_msg(n, &it.m)) {
    DYNA_ASSERT(it.m.wseq == DYNA_WSEQ_ALL || it.m.wseq <= writes,
                "frame waits for write %llu, only %llu made", (unsigned long long)it.m.wseq,
                (unsigned long long)writes);
    it.wseq = dyna_durable_resolve(&g->dur, it.m.wseq, writes);
    admit(g, &it);
  }
  check_counts(g);
  return 0;
}

int dyna_gate_hold_reply(dyna_gate_t *g, dyna_node_reply_t *r) {
  if (reserve(g, 1)) return DYNA_ENOMEM;
  dyna_gate_item_t it;
  memset(&it, 0, sizeof(it));
  it.r = *r;
  it.r.wrote = 1;
  it.wseq = dyna_durable_resolve(&g->dur, DYNA_WSEQ_ALL, g->store->writes);
  memset(r, 0, sizeof(*r));
  admit(g, &it);
  check_counts(g);
  return 0;
}

void dyna_gate_handed(dyna_gate_t *g, uint64_t upto) {
  DYNA_ASSERT(upto >= g->handed && upto <= g->store->writes,
              "batch handed to the disk up to write %llu: last one went up to %llu, %llu made",
              (unsigned long long)upto, (unsigned long long)g->handed,
              (unsigned long long)g->store->writes);
  g->handed = upto;
}

void dyna_gate_durable(dyna_gate_t *g, uint64_t upto) {
  DYNA_ASSERT(upto <= g->handed, "writes up to %llu reported durable, only %llu handed to the disk",
              (unsigned long long)upto, (unsigned long long)g->handed);
  dyna_durable_ok(&g->dur, upto);
  release_ready(g);
}

void dyna_gate_failed(dyna_gate_t *g, dyna_node_t *n, int err) {
  DYNA_ASSERT(err != 0, "a failed commit without an error (durable point %llu)",
              (unsigned long long)g->dur.upto);
  g->lost_err = err;
  /* Every write made so far is gone; read before the node records its new incarnation,
   * which is a write of the next batch. */
  uint64_t upto = g->store->writes;
  if (n) dyna_node_writes_lost(n);
  /* DYNA_BUG_GATE_FORGET_LOSS: the loss is not recorded, so the answers it covers stay
   * held and the next commit that succeeds releases them as OK (an fsync retried after
   * a failure, and its success trusted). */
  if (!(g->bugs & DYNA_BUG_GATE_FORGET_LOSS)) dyna_durable_lost(&g->dur, upto);
  release_ready(g);
}

void dyna_gate_crash(dyna_gate_t *g) {
  dyna_gate_item_t it;
  while (ring_pop(&g->held, &it)) {
    item_free(&it);
    g->dropped++;
  }
  while (ring_pop(&g->out, &it)) {
    item_free(&it);
    g->dropped++;
  }
  dyna_durable_lost(&g->dur, g->store->writes); /* what was not committed is gone */
  check_counts(g);
}

int dyna_gate_pop(dyna_gate_t *g, dyna_gate_item_t *out) {
  if (!ring_pop(&g->out, out)) return 0;
  g->popped++;
  return 1;
}

dyna_dur_state_t dyna_gate_state(const dyna_gate_t *g, uint64_t wseq) {
  return dyna_durable_state(&g->dur, wseq);
}

uint64_t dyna_gate_durable_point(const dyna_gate_t *g) { return g->dur.upto; }
size_t dyna_gate_held(const dyna_gate_t *g) { return g->held.len; }
const dyna_gate_stats_t *dyna_gate_stats(const dyna_gate_t *g) { return &g->stats; }
