/* disk.c: the simulated disk of a node and its group commit, the commit I/O that
 * dynad's runtime/group_commit.c does on a real disk. Which answers may leave, and when,
 * is the core's durability gate (core/gate.h), the very module dynad runs: this file only
 * tells it when batches go to the disk and become durable (or fail), and delivers what
 * it releases (replies to the workload, frames to the network). Two models of the disk:
 *
 *   default          each turn commits at its end (one event, one fsync);
 *   --commit-ms F    as dynad's batch policy: at the end of a turn, if no batch is in
 *                    flight, everything written so far becomes one batch that is durable
 *                    F ms later (one in ten 2-10 x later: fsync times vary) (EV_COMMIT);
 *                    turns in between keep writing into the next batch, and their
 *                    answers leave as soon as their own writes are durable, not with the
 *                    batch being built.
 *
 * A crash loses every write not yet committed, and every held answer. Ownership: the
 * gate (s->gate) owns the answers it holds; a released reply is the workload's, a
 * released frame the network's.
 */
#include "util/err.h"
#include "sim/rng.h"
#include "sim/sim.h"
#include <stdlib.h>

/* Delivers what node i's gate released, in order. */
static void deliver(sim_world_t *w, uint32_t i) {
  sim_node_t *s = &w->nodes[i];
  dyna_gate_item_t it;
  while (dyna_gate_pop(&s->gate, &it)) {
    if (it.is_msg) {
      sim_net_send(w, i, it.m.to, &it.m.frame);
    } else {
      sim_work_reply(w, i, &it.r);
      dyna_node_reply_done(s->node, &it.r);
    }
  }
}

void sim_disk_outbox(sim_world_t *w, uint32_t i) {
  sim_node_t *s = &w->nodes[i];
  if (dyna_gate_take(&s->gate, s->node)) abort(); /* the simulator does not model its own memory running out */
  deliver(w, i);
}

/* Commits the store: the writes up to `upto` are durable, or all since the last commit
 * are lost. */
static void commit(sim_world_t *w, uint32_t i, uint64_t upto) {
  sim_node_t *s = &w->nodes[i];
  int rc = dyna_store_commit(s->store);
  if (rc) {
    w->st.commit_failures++;
    dyna_gate_failed(&s->gate, s->node, rc);
  } else {
    dyna_gate_durable(&s->gate, upto);
  }
  deliver(w, i);
}

static void start_batch(sim_world_t *w, uint32_t i) {
  sim_node_t *s = &w->nodes[i];
  if (s->fly || s->store->writes <= dyna_gate_durable_point(&s->gate)) return; /* busy, or nothing new */
  s->fly = 1;
  s->fly_upto = s->store->writes;
  dyna_gate_handed(&s->gate, s->fly_upto);
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

/* Every write so far goes to the disk now, and is durable (or lost) when this returns. */
static void commit_all(sim_world_t *w, uint32_t i) {
  sim_node_t *s = &w->nodes[i];
  dyna_gate_handed(&s->gate, s->store->writes);
  commit(w, i, s->store->writes);
}

void sim_disk_turn(sim_world_t *w, uint32_t i) {
  if (!w->o.commit_ms) commit_all(w, i);
  else start_batch(w, i);
}

void sim_disk_event(sim_world_t *w, sim_event_t *e) {
  sim_node_t *s = &w->nodes[e->a];
  if (s->state != SN_UP || s->inc != e->ia || !s->fly) return;
  sim_digest(w, EV_COMMIT, e->a, 0, NULL, 0);
  s->fly = 0;
  /* The memory store commits everything written so far; only the batch's own writes
   * count as durable now (the later ones are dynad's next batch). */
  commit(w, e->a, s->fly_upto);
  start_batch(w, e->a);
}

void sim_disk_flush(sim_world_t *w, uint32_t i) {
  w->nodes[i].fly = 0;
  commit_all(w, i);
}

void sim_disk_started(sim_world_t *w, uint32_t i) {
  sim_node_t *s = &w->nodes[i];
  dyna_gate_handed(&s->gate, s->store->writes);
  dyna_gate_durable(&s->gate, s->store->writes);
}

void sim_disk_crash(sim_node_t *s) {
  dyna_gate_crash(&s->gate);
  s->fly = 0;
}
