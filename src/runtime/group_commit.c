/* group_commit.c: group commit, the commit I/O of dynad. What a loop turn produced
 * (client replies, frames to peers) goes through the core's durability gate
 * (core/gate.h), which lets each answer out only once the store writes it depends on
 * are durable; the simulator runs the same gate over its simulated disk (sim/disk.c).
 * This file hands batches to the store, tells the gate when they are durable or failed,
 * and delivers what it releases: replies to their connections, frames to the peers.
 *
 * Synchronous engines (memory, LMDB under always/none): at the end of a turn, the gate
 * takes the node's outbox, the store commits, and the gate releases what that covers.
 *
 * Pipelined engine (LMDB under batch): at the end of every turn that wrote, its writes
 * go onto the store's log queue as one batch (commit_async; EBUSY when the queue is full
 * or a checkpoint waits for it to drain: the writes then join the next batch); the loop
 * goes on serving. When the log thread reports batches durable (through a uv_async
 * handle), the gate releases the held answers they cover.
 *
 *   turn k: requests ─▶ writes numbered ..w ─▶ gate takes the outbox ─▶ commit_async:
 *           batch (..w] queued, gate told "handed up to w"
 *   log thread: every queued batch, one write + fdatasync ─▶ notify
 *   poll: tickets durable ─▶ gate told "durable up to w" ─▶ releases answers <= w
 *
 * So a write whose replica acks arrive after its own batch is durable is answered on
 * arrival of the acks, not after the batch being built then (one fsync less per SET
 * under load). INFO's unheld_acks counts them, early_replies the read replies that left
 * before the commit (the gate's counters).
 *
 * DYNA_TEST_BUGS (environment, test-only): a comma list of deliberate bugs (core/bugs.h)
 * for the tests that must catch them: the gate's gate-forget-loss (test_commitfail.py)
 * and the node's early-ack, counter-sum, set-remove-wins, typed-no-merge, expiry-no-merge
 * and list-dup (tests/campaign, which hands them on to the node's cfg.bugs through s->test_bugs).
 * Unset, nothing changes; any other name refuses to start, and so does any value in a
 * build without the CMake option DYNA_TEST_BUGS (a release build: runtime/test_bugs.h). */
#include "core/gate.h"
#include "util/err.h"
#include "util/alloc.h"
#include "runtime/log.h"
#include "runtime/server_int.h"
#include "runtime/test_bugs.h"
#include "store/lmdb.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMMIT_FLY_MAX 64 /* batches in flight at most (the store says EBUSY sooner) */

struct dyna_commit {
  int pipelined;
  uv_async_t async;
  dyna_gate_t gate;         /* which answers may leave (core/gate.h) */
  /* Batches handed to the store and not yet durable, oldest first (a ring): the store's
   * ticket of each and the number of its last write. */
  struct { uint64_t ticket, wseq, handed_ns; } fly[COMMIT_FLY_MAX];
  size_t fly_head, fly_len;
};

static void count_commit(dyna_server_t *s, int err) {
  s->stats.commits++;
  if (!err) return;
  s->stats.commit_errors++;
  LOG_ERROR("store commit failed: %s; failing the replies that depended on it",
            dyna_store_lmdb_strerror(err, s->cfg.data));
}

/* Delivers what the gate released, in order: replies to their connections (an error
 * when their writes were lost), frames to the peers (written at the end of the turn).
 * Returns 1 when it queued a frame. */
static int deliver(dyna_server_t *s) {
  dyna_gate_t *g = &s->commit->gate;
  dyna_gate_item_t it;
  int frames = 0;
  while (dyna_gate_pop(g, &it)) {
    if (!it.is_msg) {
      dyna_server_route_reply(s, &it.r);
      dyna_node_reply_done(s->node, &it.r);
    } else if (s->peers) {
      dyna_peers_send(s->peers, it.m.to, &it.m.frame, it.m.bulk);
      dyna_node_frame_done(s->node, &it.m.frame);
      frames = 1;
    } else {
      dyna_buf_free(&it.m.frame);
    }
  }
  s->stats.early_replies = dyna_gate_stats(g)->early_replies;
  s->stats.unheld_acks = dyna_gate_stats(g)->unheld_acks;
  return frames;
}

/* Moves the node's outbox into the gate, and out what may leave now. The frames among
 * it (a coordinator's early PUTs above all) are written at once, before the commit, so
 * that the replicas' fsyncs overlap with ours. */
static void take_outbox(dyna_server_t *s) {
  if (dyna_gate_take(&s->commit->gate, s->node))
    LOG_WARN("out of memory holding answers; they wait in the node's outbox"); /* next turn */
  if (deliver(s)) dyna_peers_flush(s->peers);
}

/* A commit failed: every write not yet durable is gone (store.h); the gate fails the
 * answers that depended on them, and the node takes a new incarnation. */
static void commit_failed(dyna_server_t *s, int err) {
  count_commit(s, err);
  dyna_gate_failed(&s->commit->gate, s->node, err);
  s->commit->fly_len = 0;
  deliver(s);
}

/* ---------- synchronous engines ---------- */

/* Every write so far goes to the disk now; the gate releases what it covers. */
static void commit_sync(dyna_server_t *s) {
  dyna_gate_t *g = &s->commit->gate;
  uint64_t upto = s->store->writes;
  dyna_gate_handed(g, upto);
  uint64_t t0 = uv_hrtime();
  int rc = dyna_store_commit(s->store);
  if (rc) {
    commit_failed(s, rc);
    return;
  }
  dyna_hist_observe(&s->stats.commit_hist, (uv_hrtime() - t0) / 1000);
  count_commit(s, 0);
  dyna_gate_durable(g, upto);
  deliver(s);
}

/* ---------- pipelined engine ---------- */

/* Tells the gate which batches the store made durable, and delivers what that releases. */
static void collect_durable(dyna_server_t *s) {
  dyna_commit_t *c = s->commit;
  uint64_t durable = 0;
  int err = s->store->ops->poll(s->store, &durable);
  if (err) { /* the batches in flight and the one being built are gone */
    commit_failed(s, err);
  } else {
    int any = 0;
    while (c->fly_len && durable >= c->fly[c->fly_head].ticket) {
      count_commit(s, 0);
      dyna_hist_observe(&s->stats.commit_hist, (uv_hrtime() - c->fly[c->fly_head].handed_ns) / 1000);
      dyna_gate_durable(&c->gate, c->fly[c->fly_head].wseq);
      c->fly_head = (c->fly_head + 1) % COMMIT_FLY_MAX;
      c->fly_len--;
      any = 1;
    }
    if (any) deliver(s);
  }
}

/* Collects the batches the store made durable, then hands it what this turn wrote. A
 * store that logs a batch as it takes it (LMDB under none: no fsync to wait for) has it
 * durable at once: collected again, its answers leave in this turn. */
static void pump(dyna_server_t *s) {
  dyna_commit_t *c = s->commit;
  collect_durable(s);
  if (c->fly_len == COMMIT_FLY_MAX || (c->fly_len && !dyna_store_pending(s->store))) return;
  /* Called even with nothing pending: a write that failed since (pending is then 0) is
   * reported by this commit, and must not be taken for durable. */
  uint64_t ticket = 0;
  uint64_t upto = s->store->writes; /* the batch handed over holds every write so far */
  int err = s->store->ops->commit_async(s->store, &ticket);
  if (err && err != DYNA_EBUSY) {
    commit_failed(s, err);
  } else if (!err && ticket) {
    dyna_gate_handed(&c->gate, upto);
    size_t at = (c->fly_head + c->fly_len++) % COMMIT_FLY_MAX;
    c->fly[at].ticket = ticket;
    c->fly[at].wseq = upto;
    c->fly[at].handed_ns = uv_hrtime();
    collect_durable(s); /* under none it is durable already */
  } else if (!err && !c->fly_len) { /* nothing written since the last batch: all durable */
    dyna_gate_handed(&c->gate, upto);
    dyna_gate_durable(&c->gate, upto);
    deliver(s);
  }
}

static void on_durable(uv_async_t *h) {
  dyna_server_t *s = h->data;
  take_outbox(s);
  pump(s);
  dyna_server_flush(s);
}

void dyna_commit_reply_after_writes(dyna_server_t *s, dyna_node_reply_t *r) {
  if (dyna_gate_hold_reply(&s->commit->gate, r)) { /* no memory to hold it: fail it */
    dyna_node_reply_fail(r, DYNA_ENOMEM, NULL);
    dyna_server_route_reply(s, r);
    dyna_node_reply_clear(r);
    return;
  }
  if (!s->commit->pipelined) commit_sync(s); /* synchronous engines: commit now, then answer */
  else deliver(s);
}

void dyna_commit_durable_now(dyna_server_t *s) {
  dyna_gate_handed(&s->commit->gate, s->store->writes);
  dyna_gate_durable(&s->commit->gate, s->store->writes);
}

/* Called on the writer thread: only wakes the loop. */
static void notify_loop(void *arg) { uv_async_send(arg); }

/* DYNA_TEST_BUGS: the deliberate bugs a test asks for (0 when unset). */
static int test_bugs(uint32_t *bugs, char *err, size_t errlen) {
  const char *v = getenv("DYNA_TEST_BUGS");
  if (dyna_test_bugs_read(v, dyna_test_bugs_built(), bugs, err, errlen)) return -1;
  if (*bugs) LOG_WARN("DYNA_TEST_BUGS=%s: deliberate bugs on, for tests only: answers may be wrong", v);
  return 0;
}

/* ---------- API ---------- */

int dyna_commit_open(dyna_server_t *s, char *err, size_t errlen) {
  uint32_t bugs;
  if (test_bugs(&bugs, err, errlen)) return -1;
  dyna_commit_t *c = dyna_calloc(1, sizeof(*c));
  if (!c) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  s->commit = c;
  s->test_bugs = bugs; /* the node's share goes into its cfg.bugs (server.c) */
  dyna_gate_init(&c->gate, s->store, s->cfg.durable_reads, bugs & DYNA_BUG_GATE_FORGET_LOSS);
  c->pipelined = s->store->ops->commit_async != NULL;
  if (!c->pipelined) return 0;
  uv_async_init(s->loop, &c->async, on_durable);
  c->async.data = s;
  s->store->ops->set_notify(s->store, notify_loop, &c->async);
  return 0;
}

void dyna_commit_turn(dyna_server_t *s) {
  take_outbox(s);
  if (!s->commit->pipelined) {
    commit_sync(s);
    return;
  }
  /* The answers released so far (acks that completed earlier writes) go out before
   * pump, which may log this turn's batch on the loop and wait for its fdatasync: they
   * do not wait for writes that are not theirs (batch SET -P 1: 14% more SETs a second,
   * docs/performance.md). Under none nothing waits, and one write per connection per
   * turn is cheaper. */
  if (s->store->sync != DYNA_SYNC_NONE) dyna_server_flush(s);
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
  dyna_gate_free(&c->gate);
  dyna_free(c);
  s->commit = NULL;
}
