/* disk.c: the group commit of a simulated node, modelled on dynad's runtime/group_commit.c.
 *
 * Every answer a node queues carries the number of the store write it depends on
 * (core/durable.h): it leaves once that write is durable, and fails if the commit that
 * held it failed. Two models of the disk:
 *
 *   default          each turn commits at its end (one event, one fsync);
 *   --commit-ms F    as dynad's batch policy: at the end of a turn, if no batch is in
 *                    flight, everything written so far becomes one batch that is durable
 *                    F ms later (one in ten 2-10 x later: fsync times vary) (EV_COMMIT);
 *                    turns in between keep writing into the next
 *                    batch, and their answers leave as soon as their own writes are
 *                    durable, not with the batch being built.
 *
 * A crash loses every write not yet committed, and every held answer. Ownership: held
 * answers are owned by their node (s->held) until released or dropped.
 */
#include "util/err.h"
#include "util/alloc.h"
#include "sim/rng.h"
#include "sim/sim.h"
#include <stdlib.h>
#include <string.h>

typedef struct sim_held {
  int is_msg;
  uint64_t wseq;
  dyna_reply_t r;
  dyna_outmsg_t m;
} sim_held_t;

static void release(sim_world_t *w, uint32_t i, sim_held_t *h, dyna_dur_state_t st) {
  if (h->is_msg) {
    if (st == DYNA_DUR_DURABLE) sim_net_send(w, i, h->m.to, &h->m.frame);
    else dyna_buf_free(&h->m.frame);
    return;
  }
  if (st == DYNA_DUR_LOST) dyna_reply_fail(&h->r, DYNA_EIO, "storage commit failed");
  sim_work_reply(w, i, &h->r);
  dyna_reply_clear(&h->r);
}

static void hold_or_release(sim_world_t *w, uint32_t i, sim_held_t *h) {
  sim_node_t *s = &w->nodes[i];
  dyna_dur_state_t st = dyna_durable_state(&s->dur, h->wseq);
  if (st != DYNA_DUR_PENDING) {
    release(w, i, h, st);
    return;
  }
  if (s->nheld == s->capheld) {
    s->capheld = s->capheld ? s->capheld * 2 : 16;
    s->held = realloc(s->held, s->capheld * sizeof(*s->held));
    if (!s->held) abort(); /* the simulator does not model its own memory running out */
  }
  s->held[s->nheld++] = *h;
}

/* Releases the held answers whose writes are now durable or lost, keeping the order of
 * the rest. */
static void release_ready(sim_world_t *w, uint32_t i) {
  sim_node_t *s = &w->nodes[i];
  size_t keep = 0, n = s->nheld;
  for (size_t j = 0; j < n; j++) {
    sim_held_t h = s->held[j];
    dyna_dur_state_t st = dyna_durable_state(&s->dur, h.wseq);
    if (st == DYNA_DUR_PENDING) s->held[keep++] = h;
    else release(w, i, &h, st);
  }
  s->nheld = keep;
}

/* Early frames (a coordinator's PUTs of its new version) leave before the commit of
 * their own writes, so they are out even when the node crashes before it; only just
 * after a failed commit do they wait for the new incarnation to be durable (their wseq:
 * core/node.h, dyna_node_writes_lost). */
void sim_commit_early(sim_world_t *w, uint32_t i) {
  sim_node_t *s = &w->nodes[i];
  sim_held_t h;
  memset(&h, 0, sizeof(h));
  h.is_msg = 1;
  while (dyna_node_pop_early(s->node, &h.m)) {
    h.wseq = h.m.wseq;
    hold_or_release(w, i, &h);
  }
}

void sim_commit_outbox(sim_world_t *w, uint32_t i) {
  sim_node_t *s = &w->nodes[i];
  sim_held_t h;
  memset(&h, 0, sizeof(h));
  while (dyna_node_pop_reply(s->node, &h.r)) {
    if (!h.r.wrote && !w->o.durable_reads) { /* reads leave at once, as in dynad */
      sim_work_reply(w, i, &h.r);
      dyna_reply_clear(&h.r);
      continue;
    }
    h.wseq = dyna_durable_resolve(&s->dur, h.r.wrote ? h.r.wseq : DYNA_WSEQ_ALL, s->store->writes);
    hold_or_release(w, i, &h);
  }
  h.is_msg = 1;
  while (dyna_node_pop_msg(s->node, &h.m)) {
    h.wseq = dyna_durable_resolve(&s->dur, h.m.wseq, s->store->writes);
    hold_or_release(w, i, &h);
  }
}

/* Commits the store: the writes up to `upto` are durable, or all since the last commit
 * are lost. */
static void commit(sim_world_t *w, uint32_t i, uint64_t upto) {
  sim_node_t *s = &w->nodes[i];
  int rc = dyna_store_commit(s->store);
  if (rc) {
    w->st.commit_failures++;
    uint64_t lost = s->store->writes; /* before the node records its new incarnation */
    dyna_node_writes_lost(s->node);
    dyna_durable_lost(&s->dur, lost);
  } else {
    dyna_durable_ok(&s->dur, upto);
  }
  release_ready(w, i);
}

static void start_batch(sim_world_t *w, uint32_t i) {
  sim_node_t *s = &w->nodes[i];
  if (s->fly || s->store->writes <= s->dur.upto) return; /* busy, or nothing new */
  s->fly = 1;
  s->fly_upto = s->store->writes;
  sim_event_t e = {0};
  /* fsync times vary: one batch in ten takes 2-10 x longer */
  uint64_t ms = w->o.commit_ms;
  if (sim_rng_chance(&w->rng, 0.1)) ms *= 2 + sim_rng_below(&w->rng, 9);
  e.t = w->now + ms;
  e.type = EV_COMMIT;
  e.a = i;
  e.ia = s->inc;
  sim_schedule(w, &e);
}

void sim_commit_turn(sim_world_t *w, uint32_t i) {
  sim_node_t *s = &w->nodes[i];
  if (!w->o.commit_ms) commit(w, i, s->store->writes);
  else start_batch(w, i);
}

void sim_commit_event(sim_world_t *w, sim_event_t *e) {
  sim_node_t *s = &w->nodes[e->a];
  if (s->state != SN_UP || s->inc != e->ia || !s->fly) return;
  sim_digest(w, EV_COMMIT, e->a, 0, NULL, 0);
  s->fly = 0;
  /* The memory store commits everything written so far; only the batch's own writes
   * count as durable now (the later ones are dynad's next batch). */
  commit(w, e->a, s->fly_upto);
  start_batch(w, e->a);
}

void sim_commit_flush(sim_world_t *w, uint32_t i) {
  sim_node_t *s = &w->nodes[i];
  s->fly = 0;
  commit(w, i, s->store->writes);
}

void sim_commit_drop(sim_node_t *s) {
  for (size_t j = 0; j < s->nheld; j++) {
    if (s->held[j].is_msg) dyna_buf_free(&s->held[j].m.frame);
    else dyna_reply_clear(&s->held[j].r);
  }
  free(s->held);
  s->held = NULL;
  s->nheld = s->capheld = 0;
  s->fly = 0;
}
