/* group_commit.c: group commit. What a loop turn produced (client replies, frames to peers)
 * leaves only once the store writes it depended on are durable.
 *
 * Synchronous engines (memory, LMDB under always/none): commit, then release.
 *
 * Pipelined engine (LMDB under batch): the store numbers its writes (store.h `writes`),
 * and every answer carries the number of the last write it depends on (a coordinator's
 * reply: its own local write; a replica's ack: the write it acknowledges; other frames:
 * every write made before them). An answer whose writes are durable leaves at once;
 * the others are held. At the end of every turn that wrote, its writes go onto the
 * store's log queue as one batch (commit_async; EBUSY when the queue is full or a
 * checkpoint waits for it to drain: the writes then join the next batch); the loop goes
 * on serving. When the log thread reports batches durable (through a uv_async handle),
 * the held answers they cover are released (core/durable.h keeps the durable point).
 *
 *   turn k: requests ─▶ writes numbered ..w ─▶ commit_async: batch (..w] queued
 *   log thread: every queued batch, one write + fdatasync ─▶ notify
 *   poll: tickets durable ─▶ writes ..w durable ─▶ release held answers <= w
 *
 * So a write whose replica acks arrive after its own batch is durable is answered on
 * arrival of the acks, not after the batch being built then (one fsync less per SET
 * under load). INFO's unheld_acks counts them.
 *
 * Frames the node marks early (a coordinator's PUT of the version it just made) leave at
 * once: the replicas' fsyncs then overlap with ours, and the incarnation in the node's
 * actor ids makes that safe across a crash (core/node_int.h, dyna_node_actor). A failed
 * commit makes the node take a new incarnation too (dyna_node_writes_lost); until that
 * is durable, early frames are held like the rest.
 *
 * Reads do not wait (unless --durable-reads): a reply that acknowledges no write leaves
 * at once, and a replica's GET_RESP is an early frame. Such an answer may carry a write
 * that is not durable yet and was not acknowledged; if this node then crashes the value
 * can vanish, but its dot is never reused (the new incarnation's actor ids differ).
 * With --durable-reads they are held like the rest: answers of a batch without writes
 * wait for every write made before them, since they may have read data that is not
 * durable. A failed batch turns every held reply into an error and drops every held
 * frame (a frame may carry a version whose dot the store no longer remembers; the store
 * rolls back the batch built on top of it too), and so are answers that come later for
 * a write it lost. */
#include "core/durable.h"
#include "util/err.h"
#include "util/alloc.h"
#include "runtime/log.h"
#include "runtime/server_int.h"
#include <stdio.h>
#include <string.h>

#define COMMIT_FLY_MAX 64 /* batches in flight at most (the store says EBUSY sooner) */

typedef struct held {
  uint64_t wseq; /* it leaves once the store's writes up to wseq are durable */
  int is_msg;
  dyna_reply_t r;
  dyna_outmsg_t m;
} held_t;

struct dyna_commit {
  int pipelined;
  uv_async_t async;
  dyna_durable_t dur;       /* which of the store's numbered writes are durable */
  int lost_err;             /* the error of the last failed commit */
  /* Batches handed to the store and not yet durable, oldest first (a ring): the store's
   * ticket of each and the number of its last write. */
  struct { uint64_t ticket, wseq; } fly[COMMIT_FLY_MAX];
  size_t fly_head, fly_len;
  held_t *q;                /* FIFO ring of held answers */
  size_t cap, head, len;
};

static void release_reply(dyna_server_t *s, dyna_reply_t *r, int err) {
  if (err) {
    char msg[96];
    snprintf(msg, sizeof(msg), "storage commit failed: %s", dyna_strerror(err));
    dyna_reply_fail(r, DYNA_EIO, msg);
  }
  dyna_server_route_reply(s, r);
  dyna_reply_clear(r);
}

static void release_msg(dyna_server_t *s, dyna_outmsg_t *m, int err) {
  if (err || !s->peers) dyna_buf_free(&m->frame);
  else dyna_peers_send(s->peers, m->to, &m->frame);
}

static void count_commit(dyna_server_t *s, int err) {
  s->stats.commits++;
  if (!err) return;
  s->stats.commit_errors++;
  LOG_ERROR("store commit failed: %s; failing the replies that depended on it", dyna_strerror(err));
}

/* ---------- synchronous engines ---------- */

static void hold_or_release(dyna_server_t *s, held_t *h);
static void release_ready(dyna_server_t *s);

/* Frames allowed to leave before the commit (a coordinator's own new version: its
 * replicas fsync in parallel with us). They are written now, not at the end of the
 * turn, so that a synchronous commit does not hold them back. Just after a failed
 * commit they wait for the node's new incarnation to be durable (their wseq: core/node.h,
 * dyna_node_writes_lost), held like any other answer. */
static void send_early(dyna_server_t *s) {
  held_t h;
  memset(&h, 0, sizeof(h));
  h.is_msg = 1;
  int any = 0;
  while (dyna_node_pop_early(s->node, &h.m)) {
    h.wseq = h.m.wseq;
    any |= dyna_durable_state(&s->commit->dur, h.wseq) == DYNA_DUR_DURABLE;
    hold_or_release(s, &h);
  }
  if (any && s->peers) dyna_peers_flush(s->peers);
}

/* A commit failed: every write not yet durable is gone (store.h), and the node takes a
 * new incarnation so that it never makes the dots it lost again. */
static void writes_lost(dyna_server_t *s, int err) {
  dyna_commit_t *c = s->commit;
  c->lost_err = err;
  uint64_t upto = s->store->writes; /* before the node records its new incarnation */
  dyna_node_writes_lost(s->node);
  dyna_durable_lost(&c->dur, upto);
}

/* A synchronous commit returned rc: the durable point moves (or the writes are lost),
 * and early frames held for the node's incarnation go. */
static void sync_committed(dyna_server_t *s, int rc) {
  if (rc) writes_lost(s, rc);
  else dyna_durable_ok(&s->commit->dur, s->store->writes);
  release_ready(s);
}

static void commit_now(dyna_server_t *s) {
  send_early(s);
  int rc = dyna_store_commit(s->store);
  count_commit(s, rc);
  dyna_reply_t r;
  while (dyna_node_pop_reply(s->node, &r)) release_reply(s, &r, rc);
  dyna_outmsg_t m;
  while (dyna_node_pop_msg(s->node, &m)) release_msg(s, &m, rc);
  sync_committed(s, rc);
}

/* ---------- pipelined engine ---------- */

static int hold_push(dyna_commit_t *c, held_t *h) {
  if (c->len == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 256;
    held_t *q = dyna_malloc(cap * sizeof(*q));
    if (!q) return DYNA_ENOMEM;
    for (size_t i = 0; i < c->len; i++) q[i] = c->q[(c->head + i) % c->cap];
    dyna_free(c->q);
    c->q = q;
    c->cap = cap;
    c->head = 0;
  }
  c->q[(c->head + c->len) % c->cap] = *h;
  c->len++;
  return 0;
}

static void release_held(dyna_server_t *s, held_t *h, int err) {
  if (h->is_msg) release_msg(s, &h->m, err);
  else release_reply(s, &h->r, err);
}

/* An answer that depends on the writes up to h->wseq: out now when they are durable
 * (or lost: then as an error), else held. */
static void hold_or_release(dyna_server_t *s, held_t *h) {
  dyna_commit_t *c = s->commit;
  dyna_dur_state_t st = dyna_durable_state(&c->dur, h->wseq);
  if (st == DYNA_DUR_PENDING) {
    if (!hold_push(c, h)) return;
    release_held(s, h, DYNA_ENOMEM); /* no memory to hold it: fail it, never send it early */
    return;
  }
  if (st == DYNA_DUR_DURABLE && !h->is_msg && h->r.wrote) s->stats.unheld_acks++;
  release_held(s, h, st == DYNA_DUR_LOST ? c->lost_err : 0);
}

/* Moves the node's outbox out: replies that acknowledge no write leave at once (unless
 * --durable-reads: then they wait for every write so far); the rest leave once the
 * writes they depend on are durable (core/durable.h). */
static void hold_outbox(dyna_server_t *s) {
  send_early(s);
  held_t h;
  memset(&h, 0, sizeof(h));
  while (dyna_node_pop_reply(s->node, &h.r)) {
    if (!h.r.wrote && !s->cfg.durable_reads) {
      s->stats.early_replies++;
      release_reply(s, &h.r, 0);
    } else {
      h.wseq = dyna_durable_resolve(&s->commit->dur, h.r.wrote ? h.r.wseq : DYNA_WSEQ_ALL, s->store->writes);
      hold_or_release(s, &h);
    }
    memset(&h.r, 0, sizeof(h.r));
  }
  h.is_msg = 1;
  while (dyna_node_pop_msg(s->node, &h.m)) {
    h.wseq = dyna_durable_resolve(&s->commit->dur, h.m.wseq, s->store->writes);
    hold_or_release(s, &h);
  }
}

/* Releases the held answers whose writes are now durable (or lost), keeping the order
 * of the others. */
static void release_ready(dyna_server_t *s) {
  dyna_commit_t *c = s->commit;
  size_t keep = 0, n = c->len;
  for (size_t i = 0; i < n; i++) {
    held_t h = c->q[(c->head + i) % c->cap];
    dyna_dur_state_t st = dyna_durable_state(&c->dur, h.wseq);
    if (st == DYNA_DUR_PENDING) c->q[(c->head + keep++) % c->cap] = h;
    else release_held(s, &h, st == DYNA_DUR_LOST ? c->lost_err : 0);
  }
  c->len = keep;
}

/* A commit failed: every write not yet durable is gone (store.h). */
static void commit_failed(dyna_server_t *s, int err) {
  dyna_commit_t *c = s->commit;
  count_commit(s, err);
  writes_lost(s, err);
  c->fly_len = 0;
  release_ready(s);
}

/* Collects the batches the store made durable, then hands it what this turn wrote. */
static void pump(dyna_server_t *s) {
  dyna_commit_t *c = s->commit;
  uint64_t durable = 0;
  int err = s->store->ops->poll(s->store, &durable);
  if (err) { /* the batches in flight and the one being built are gone */
    commit_failed(s, err);
  } else {
    int any = 0;
    while (c->fly_len && durable >= c->fly[c->fly_head].ticket) {
      count_commit(s, 0);
      dyna_durable_ok(&c->dur, c->fly[c->fly_head].wseq);
      c->fly_head = (c->fly_head + 1) % COMMIT_FLY_MAX;
      c->fly_len--;
      any = 1;
    }
    if (any) release_ready(s);
  }
  if (c->fly_len == COMMIT_FLY_MAX || (c->fly_len && !dyna_store_pending(s->store))) return;
  /* Called even with nothing pending: a write that failed since (pending is then 0) is
   * reported by this commit, and must not be taken for durable. */
  uint64_t ticket = 0;
  uint64_t upto = s->store->writes; /* the batch handed over holds every write so far */
  err = s->store->ops->commit_async(s->store, &ticket);
  if (err && err != DYNA_EBUSY) {
    commit_failed(s, err);
  } else if (!err && ticket) {
    size_t at = (c->fly_head + c->fly_len++) % COMMIT_FLY_MAX;
    c->fly[at].ticket = ticket;
    c->fly[at].wseq = upto;
  } else if (!err && !c->fly_len) { /* nothing written since the last batch: all durable */
    dyna_durable_ok(&c->dur, upto);
    release_ready(s);
  }
}

static void on_durable(uv_async_t *h) {
  dyna_server_t *s = h->data;
  hold_outbox(s);
  pump(s);
  dyna_server_flush(s);
}

void dyna_commit_reply_after_writes(dyna_server_t *s, dyna_reply_t *r) {
  if (!s->commit->pipelined) { /* synchronous engines: commit now, then answer */
    int rc = dyna_store_commit(s->store);
    count_commit(s, rc);
    release_reply(s, r, rc);
    sync_committed(s, rc);
    return;
  }
  held_t h;
  memset(&h, 0, sizeof(h));
  h.r = *r;
  h.r.wrote = 1;
  h.wseq = dyna_durable_resolve(&s->commit->dur, DYNA_WSEQ_ALL, s->store->writes);
  memset(r, 0, sizeof(*r));
  hold_or_release(s, &h);
}

void dyna_commit_durable_now(dyna_server_t *s) { dyna_durable_ok(&s->commit->dur, s->store->writes); }

/* Called on the writer thread: only wakes the loop. */
static void notify_loop(void *arg) { uv_async_send(arg); }

/* ---------- API ---------- */

int dyna_commit_open(dyna_server_t *s) {
  dyna_commit_t *c = dyna_calloc(1, sizeof(*c));
  if (!c) return DYNA_ENOMEM;
  s->commit = c;
  dyna_durable_init(&c->dur);
  c->pipelined = s->store->ops->commit_async != NULL;
  if (!c->pipelined) return 0;
  uv_async_init(s->loop, &c->async, on_durable);
  c->async.data = s;
  s->store->ops->set_notify(s->store, notify_loop, &c->async);
  return 0;
}

void dyna_commit_turn(dyna_server_t *s) {
  if (!s->commit->pipelined) {
    commit_now(s);
    return;
  }
  hold_outbox(s);
  pump(s);
}

int dyna_commit_idle(const dyna_server_t *s) {
  const dyna_commit_t *c = s->commit;
  if (!c->pipelined) return !dyna_store_pending(s->store);
  /* Held answers wait for the writer's notification, not for the loop to spin. */
  return !(dyna_store_pending(s->store) && !c->fly_len);
}

void dyna_commit_close(dyna_server_t *s) {
  dyna_commit_t *c = s->commit;
  if (!c || !c->pipelined) return;
  s->store->ops->set_notify(s->store, NULL, NULL);
  uv_close((uv_handle_t *)&c->async, NULL);
}

void dyna_commit_free(dyna_server_t *s) {
  dyna_commit_t *c = s->commit;
  if (!c) return;
  while (c->len) {
    held_t *h = &c->q[c->head];
    c->head = (c->head + 1) % c->cap;
    c->len--;
    if (h->is_msg) dyna_buf_free(&h->m.frame);
    else dyna_reply_clear(&h->r);
  }
  dyna_free(c->q);
  dyna_free(c);
  s->commit = NULL;
}
