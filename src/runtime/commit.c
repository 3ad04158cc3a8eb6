/* commit.c: group commit. What a loop turn produced (client replies, frames to peers)
 * leaves only once the store writes it depended on are durable.
 *
 * Synchronous engines (memory, LMDB under always/none): commit, then release.
 *
 * Pipelined engine (LMDB under batch): the turn's answers are *held*, tagged with the
 * number of the batch being built. At the end of a turn, if no batch is being written,
 * the current batch goes to the store's writer thread and a new batch number starts;
 * the loop goes on serving. When the writer reports the batch durable (through a
 * uv_async handle), the answers tagged up to it are released.
 *
 *   turn k: requests ─▶ writes into batch b, answers held with tag b
 *           no batch in flight? ─▶ commit_async(b), b+1 starts
 *   writer: fsync ─▶ notify ─▶ poll: durable ─▶ release answers tagged <= b
 *           batch b+1 has writes? ─▶ commit_async(b+1) ...
 *
 * Frames the node marks early (a coordinator's PUT of the version it just made) leave at
 * once: the replicas' fsyncs then overlap with ours, and the incarnation in the node's
 * actor ids makes that safe across a crash (core/node_int.h, dyna_node_actor).
 *
 * Reads do not wait (unless --durable-reads): a reply that acknowledges no write leaves
 * at once, and a replica's GET_RESP is an early frame. Such an answer may carry a write
 * that is not durable yet and was not acknowledged; if this node then crashes the value
 * can vanish, but its dot is never reused (the new incarnation's actor ids differ).
 * With --durable-reads they are held like the rest: answers of a batch without writes
 * wait for the batch before them, since they may have read data that is not durable. A failed batch turns every held reply into an
 * error and drops every held frame (a frame may carry a version whose dot the store no
 * longer remembers; the store rolls back the batch built on top of it too). */
#include "core/err.h"
#include "core/mem.h"
#include "runtime/log.h"
#include "runtime/server_int.h"
#include <stdio.h>
#include <string.h>

typedef struct held {
  uint64_t tag;
  int is_msg;
  dyna_reply_t r;
  dyna_outmsg_t m;
} held_t;

struct dyna_commit {
  int pipelined;
  uv_async_t async;
  uint64_t batch;           /* the batch being built */
  uint64_t inflight;        /* the batch being written (0: none) */
  uint64_t inflight_ticket; /* its store ticket */
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

/* Frames allowed to leave before the commit (a coordinator's own new version: its
 * replicas fsync in parallel with us). They are written now, not at the end of the
 * turn, so that a synchronous commit does not hold them back. */
static void send_early(dyna_server_t *s) {
  dyna_outmsg_t m;
  int any = 0;
  while (dyna_node_pop_early(s->node, &m)) {
    release_msg(s, &m, 0);
    any = 1;
  }
  if (any && s->peers) dyna_peers_flush(s->peers);
}

static void commit_now(dyna_server_t *s) {
  send_early(s);
  int rc = dyna_store_commit(s->store);
  count_commit(s, rc);
  dyna_reply_t r;
  while (dyna_node_pop_reply(s->node, &r)) release_reply(s, &r, rc);
  dyna_outmsg_t m;
  while (dyna_node_pop_msg(s->node, &m)) release_msg(s, &m, rc);
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

/* Moves the node's outbox into the held queue, tagged with the current batch. Replies
 * that acknowledge no write leave at once unless --durable-reads. */
static void hold_outbox(dyna_server_t *s) {
  dyna_commit_t *c = s->commit;
  send_early(s);
  held_t h;
  memset(&h, 0, sizeof(h));
  h.tag = c->batch;
  while (dyna_node_pop_reply(s->node, &h.r)) {
    if (!h.r.wrote && !s->cfg.durable_reads) {
      s->stats.early_replies++;
      release_reply(s, &h.r, 0);
    }
    else if (hold_push(c, &h)) release_reply(s, &h.r, DYNA_ENOMEM);
    memset(&h.r, 0, sizeof(h.r));
  }
  h.is_msg = 1;
  while (dyna_node_pop_msg(s->node, &h.m)) {
    if (hold_push(c, &h)) release_msg(s, &h.m, DYNA_ENOMEM);
  }
}

/* Releases held answers with tag <= tag, as errors when err is set. */
static void release_upto(dyna_server_t *s, uint64_t tag, int err) {
  dyna_commit_t *c = s->commit;
  while (c->len && c->q[c->head].tag <= tag) {
    held_t *h = &c->q[c->head];
    c->head = (c->head + 1) % c->cap;
    c->len--;
    if (h->is_msg) release_msg(s, &h->m, err);
    else release_reply(s, &h->r, err);
  }
}

static void pump(dyna_server_t *s) {
  dyna_commit_t *c = s->commit;
  uint64_t durable = 0;
  int err = s->store->ops->poll(s->store, &durable);
  if (err) { /* the batch in flight and the one built on it are gone */
    count_commit(s, err);
    release_upto(s, UINT64_MAX, err);
    c->inflight = 0;
  } else if (c->inflight && durable >= c->inflight_ticket) {
    count_commit(s, 0);
    release_upto(s, c->inflight, 0);
    c->inflight = 0;
  }
  if (c->inflight) return;
  if (!dyna_store_pending(s->store)) {
    release_upto(s, c->batch, 0); /* wrote nothing; everything before it is durable */
    return;
  }
  uint64_t ticket = 0;
  err = s->store->ops->commit_async(s->store, &ticket);
  if (err && err != DYNA_EBUSY) {
    count_commit(s, err);
    release_upto(s, UINT64_MAX, err);
  } else if (!err && ticket) {
    c->inflight = c->batch++;
    c->inflight_ticket = ticket;
  }
}

static void on_durable(uv_async_t *h) {
  dyna_server_t *s = h->data;
  hold_outbox(s);
  pump(s);
  dyna_server_flush(s);
}

/* Called on the writer thread: only wakes the loop. */
static void notify_loop(void *arg) { uv_async_send(arg); }

/* ---------- API ---------- */

int dyna_commit_open(dyna_server_t *s) {
  dyna_commit_t *c = dyna_calloc(1, sizeof(*c));
  if (!c) return DYNA_ENOMEM;
  s->commit = c;
  c->batch = 1;
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
  return !(dyna_store_pending(s->store) && !c->inflight);
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
