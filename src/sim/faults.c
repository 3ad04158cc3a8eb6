/* faults.c: the fault schedule of a run, drawn from the run's PRNG before the workload
 * starts, and its execution. Faults by mix bit (sim.h):
 *   SF_LOSS       from the start: 1-5% loss, 5-20% of frames may overtake, 1% delay
 *                 spikes of 50-250 ms;
 *   SF_DUP        from the start: 1-3% of frames arrive twice (TCP never does this, so
 *                 it is not part of "all"; docs/simulation.md lists what it finds);
 *   SF_PARTITION  one after another: a random two-way split, one node cut off, or (with
 *                 zones) one zone cut off; each heals after 0.3-3 s;
 *   SF_CRASH      crashes of random running nodes, 40% of them between handling an event
 *                 and its commit; each node restarts after 0.2-3 s;
 *   SF_CHURN      a join of a new node, a leave, and a crash followed by the removal of
 *                 that node (it never comes back: its disk is lost; not with SF_WIPE,
 *                 whose lost disk is the run's one), when the cluster keeps at least N+1
 *                 members;
 *   SF_DISKERR    about every 0.1 s, a running node's next commit that has writes fails
 *                 (EIO): the batch is lost after its early frames left;
 *   SF_WIPE       a running node's disk dies (it never comes back) and 0.5-2 s later a
 *                 fresh node, a new id under the dead one's name, starts with a join: the
 *                 name is the identity, so it takes the dead member's place (gossip.c).
 *                 With --bugs replace-same-id the fresh node reuses the dead one's id
 *                 instead (as a dynad that derived its id from its name would): its
 *                 dots start again and collide with those the dead one made;
 *   SF_CLOCK      from the start every node's wall clock is skewed by up to +-2 s; then
 *                 about every 2.5 s one node's wall clock steps by an hour, forward or
 *                 back (as NTP or a resumed VM would step it). Monotonic clocks never
 *                 move but with simulated time. A step must not stop the node's timers:
 *                 if it stays up, it runs at least CLOCK_CHECK_ROUNDS gossip rounds in
 *                 the CLOCK_CHECK_MS after the step (a check that fails when timers
 *                 run on the wall clock).
 *   SF_SITE       with --sites, one after another: the link between sites is cut (each
 *                 site a partition group of its own) for 0.5-3 s, then one whole site
 *                 is lost (every node of it crashes, 40% of them mid-turn) for 0.5-3 s
 *                 and restarted; the writes go on in the others. Not in "all".
 * An event that finds its target gone (e.g. no node is up) does nothing.
 */
#include "store/memory.h"
#include "core/cluster.h"
#include "util/err.h"
#include "sim/rng.h"
#include "sim/sim.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { FA_NET = 1, FA_PARTITION, FA_HEAL, FA_CRASH, FA_RESTART, FA_JOIN, FA_LEAVE,
       FA_CRASH_REMOVE, FA_REMOVE, FA_CHECK_LEAVE, FA_CHECK_REMOVE, FA_DISKERR, FA_CLOCK_SKEW,
       FA_CLOCK_STEP, FA_CLOCK_CHECK, FA_WIPE, FA_REPLACE, FA_SITE_CUT, FA_SITE_DOWN,
       FA_SITE_UP };

#define CLOCK_SKEW_MAX_MS 2000
#define CLOCK_STEP_MS 3600000
#define CLOCK_CHECK_MS 2000   /* a stepped node is watched this long ... */
#define CLOCK_CHECK_ROUNDS 2  /* ... and must gossip this often (every 500 ms by default) */

static void at(sim_world_t *w, uint64_t t, uint32_t kind, uint64_t x) {
  sim_event_t e = {0};
  e.t = t;
  e.type = EV_FAULT;
  e.a = kind;
  e.x = x;
  sim_schedule(w, &e);
}

/* An admin command (leave, remove) node `by` took with its write numbered wseq: the
 * operator checks later whether it became durable (with --commit-ms a crash before the
 * commit loses it, as in dynad), and repeats it if not. `arg`: the node removed. */
static void check_later(sim_world_t *w, uint32_t kind, uint32_t by, uint32_t arg, uint64_t wseq) {
  sim_event_t e = {0};
  e.t = w->now + 20;
  e.type = EV_FAULT;
  e.a = kind;
  e.b = by;
  e.ia = arg;
  e.x = wseq;
  sim_schedule(w, &e);
}

/* 1 when node s, running, holds itself as leaving (or already removed). */
static int self_leaving(sim_node_t *s) {
  if (!s->node) return 0;
  const dyna_member_t *m = dyna_cluster_find(dyna_node_cluster(s->node), dyna_node_cfg(s->node)->id);
  return m && (m->status == DYNA_MEMBER_LEAVING || m->status == DYNA_MEMBER_REMOVED);
}

static void leave_taken(sim_world_t *w, uint32_t i) {
  w->st.leaves++;
  sim_trace(w, "leave %s", w->nodes[i].name);
}

static void remove_taken(sim_world_t *w, uint32_t i, uint32_t by) {
  sim_node_t *s = &w->nodes[i];
  w->st.removes++;
  s->state = SN_GONE;
  sim_trace(w, "remove %s via %s", s->name, w->nodes[by].name);
  sim_net_topology_changed(w);
}

void sim_faults_plan(sim_world_t *w, uint64_t t0, uint64_t t1) {
  uint32_t f = w->o.faults;
  uint64_t span = t1 > t0 ? t1 - t0 : 1;
  if (f & (SF_LOSS | SF_DUP)) at(w, t0, FA_NET, 0);
  if (f & SF_PARTITION) {
    uint64_t t = t0 + sim_rng_below(&w->rng, span / 4 + 1);
    while (t + 300 < t1) {
      uint64_t len = sim_rng_range(&w->rng, 300, 3000);
      at(w, t, FA_PARTITION, 0);
      at(w, t + len, FA_HEAL, 0);
      t += len + sim_rng_range(&w->rng, 200, 2000);
    }
  }
  if (f & SF_CRASH) {
    uint64_t k = 1 + span / 2500;
    for (uint64_t j = 0; j < k; j++) at(w, t0 + sim_rng_below(&w->rng, span), FA_CRASH, 0);
  }
  if (f & SF_DISKERR) {
    uint64_t k = 1 + span / 100;
    for (uint64_t j = 0; j < k; j++) at(w, t0 + sim_rng_below(&w->rng, span), FA_DISKERR, 0);
  }
  if (f & SF_CLOCK) {
    at(w, t0, FA_CLOCK_SKEW, 0);
    uint64_t k = 1 + span / 2500;
    for (uint64_t j = 0; j < k; j++) at(w, t0 + sim_rng_below(&w->rng, span), FA_CLOCK_STEP, 0);
  }
  if ((f & SF_CHURN) && w->o.nodes >= w->o.n + 2) {
    for (uint32_t j = 0; j < (w->o.joins ? w->o.joins : 1); j++)
      at(w, t0 + sim_rng_below(&w->rng, span / 2 + 1), FA_JOIN, 0);
    at(w, t0 + sim_rng_below(&w->rng, span), FA_LEAVE, 0);
    /* One disk lost per run, as the promises allow: with wipe, the wiped node is it. */
    if (!(f & SF_WIPE)) at(w, t0 + sim_rng_below(&w->rng, span / 2 + 1), FA_CRASH_REMOVE, 0);
  }
  if ((f & SF_SITE) && w->o.sites > 1) {
    uint64_t t = t0 + sim_rng_below(&w->rng, span / 4 + 1);
    for (int cut = 1; t + 500 < t1; cut = !cut) {
      uint64_t len = sim_rng_range(&w->rng, 500, 3000);
      if (cut) {
        at(w, t, FA_SITE_CUT, 0);
        at(w, t + len, FA_HEAL, 0);
      } else {
        uint64_t site = sim_rng_below(&w->rng, w->o.sites);
        at(w, t, FA_SITE_DOWN, site);
        at(w, t + len, FA_SITE_UP, site);
      }
      t += len + sim_rng_range(&w->rng, 500, 2000);
    }
  }
  if ((f & SF_WIPE) && w->o.nodes >= w->o.n + 1)
    at(w, t0 + sim_rng_below(&w->rng, span / 2 + 1), FA_WIPE, 0);
}

/* Picks a running member (not leaving) other than `not`, or -1. */
static int pick_other(sim_world_t *w, int not) {
  for (int tries = 0; tries < 8; tries++) {
    int i = sim_pick_up_node(w);
    if (i != not) return i;
  }
  return -1;
}

static void partition(sim_world_t *w) {
  uint32_t kind = (uint32_t)sim_rng_below(&w->rng, w->o.zones ? 3 : 2);
  if (kind == 0) { /* random two-way split */
    for (uint32_t i = 0; i < w->nnodes; i++) w->nodes[i].grp = (uint32_t)sim_rng_below(&w->rng, 2);
  } else if (kind == 1) { /* one node cut off */
    uint32_t v = (uint32_t)sim_rng_below(&w->rng, w->nnodes);
    for (uint32_t i = 0; i < w->nnodes; i++) w->nodes[i].grp = i == v;
  } else { /* one zone cut off */
    uint32_t z = (uint32_t)sim_rng_below(&w->rng, w->o.zones);
    for (uint32_t i = 0; i < w->nnodes; i++) w->nodes[i].grp = (i % w->o.zones) == z;
  }
  w->st.partitions++;
  sim_digest(w, EV_FAULT, FA_PARTITION, kind, NULL, 0);
  sim_trace(w, "partition (kind %u)", kind);
  sim_net_topology_changed(w);
}

/* Every node's wall clock gets a skew of up to +-CLOCK_SKEW_MAX_MS. */
static void clock_skew(sim_world_t *w) {
  for (uint32_t i = 0; i < w->nnodes; i++) {
    w->nodes[i].wall_off_ms = (int64_t)sim_rng_below(&w->rng, 2 * CLOCK_SKEW_MAX_MS + 1) - CLOCK_SKEW_MAX_MS;
    sim_digest(w, EV_FAULT, FA_CLOCK_SKEW, i, &w->nodes[i].wall_off_ms, sizeof(int64_t));
  }
  sim_trace(w, "wall clocks skewed");
}

/* One node's wall clock (up or not) steps an hour forward or back. */
static void clock_step(sim_world_t *w) {
  uint32_t v = (uint32_t)sim_rng_below(&w->rng, w->nnodes);
  int64_t d = sim_rng_below(&w->rng, 2) ? CLOCK_STEP_MS : -CLOCK_STEP_MS;
  sim_node_t *s = &w->nodes[v];
  s->wall_off_ms += d;
  w->st.clock_steps++;
  sim_digest(w, EV_FAULT, FA_CLOCK_STEP, v, &s->wall_off_ms, sizeof(int64_t));
  sim_trace(w, "wall clock of %s steps %+lld s (offset %+lld ms)", s->name, (long long)(d / 1000),
            (long long)s->wall_off_ms);
  if (s->state != SN_UP) return;
  sim_event_t e = {0};
  e.t = w->now + CLOCK_CHECK_MS;
  e.type = EV_FAULT;
  e.a = FA_CLOCK_CHECK;
  e.b = v;
  e.ia = s->inc;
  e.x = dyna_node_stats(s->node)->gossip_rounds;
  sim_schedule(w, &e);
}

/* CLOCK_CHECK_MS after node e->b's wall clock stepped: if it stayed up, its timers ran. */
static void clock_check(sim_world_t *w, const sim_event_t *e) {
  sim_node_t *s = &w->nodes[e->b];
  if (s->state != SN_UP || s->inc != e->ia) return;
  uint64_t rounds = dyna_node_stats(s->node)->gossip_rounds - e->x;
  if (rounds < CLOCK_CHECK_ROUNDS)
    sim_fail(w, "%s ran %llu gossip round(s) in the %u ms after its wall clock stepped (offset %+lld ms)",
             s->name, (unsigned long long)rounds, CLOCK_CHECK_MS, (long long)s->wall_off_ms);
}

/* A fresh node under the name of node `dead` (crashed for good) joins through a running
 * member: the operator's path of a disk that died (docs/architecture.md, Membership). */
static void replace(sim_world_t *w, uint32_t dead) {
  int seed = pick_other(w, (int)dead);
  if (seed < 0) { at(w, w->now + 500, FA_REPLACE, dead); return; }
  if (w->o.bugs & DYNA_BUG_REPLACE_SAME_ID) { /* the old id, on an empty disk */
    sim_node_t *s = &w->nodes[dead];
    dyna_gate_free(&s->gate);
    dyna_store_close(s->store);
    if (dyna_store_mem_open(DYNA_SYNC_BATCH, &s->store)) abort();
    dyna_gate_init(&s->gate, s->store, w->o.durable_reads, w->o.bugs);
    s->fly = 0;
    s->removed = 0;
    sim_trace(w, "replace %s by itself on an empty disk via %s", s->name, w->nodes[seed].name);
    sim_node_start(w, dead, seed);
    return;
  }
  uint32_t j = sim_node_add(w); /* may move w->nodes */
  sim_node_t *s = &w->nodes[j], *old = &w->nodes[dead];
  memcpy(s->name, old->name, sizeof(s->name)); /* two slots: never the same */
  memcpy(s->zone, old->zone, sizeof(s->zone));
  old->state = SN_GONE;
  w->st.replaces++;
  sim_trace(w, "replace %s (%016llx) by a fresh node %016llx via %s", s->name, (unsigned long long)old->id,
            (unsigned long long)s->id, w->nodes[seed].name);
  sim_node_start(w, j, seed);
}

static void heal_partitions(sim_world_t *w) {
  for (uint32_t i = 0; i < w->nnodes; i++) w->nodes[i].grp = 0;
  sim_trace(w, "heal partitions");
  sim_net_topology_changed(w);
}

void sim_faults_fire(sim_world_t *w, sim_event_t *e) {
  sim_digest(w, EV_FAULT, e->a, e->x, NULL, 0);
  switch (e->a) {
  case FA_NET:
    if (w->o.faults & SF_LOSS) {
      w->loss = 0.01 + 0.04 * sim_rng_unit(&w->rng);
      w->reorder = 0.05 + 0.15 * sim_rng_unit(&w->rng);
      w->spike = 0.01;
    }
    if (w->o.faults & SF_DUP) w->dup = 0.01 + 0.02 * sim_rng_unit(&w->rng);
    sim_trace(w, "network: loss %.3f dup %.3f reorder %.3f", w->loss, w->dup, w->reorder);
    break;
  case FA_DISKERR: { /* the node's next put, del or commit fails: its batch is lost */
    int i = sim_pick_up_node(w);
    if (i < 0) break;
    dyna_store_mem_inject_commit(w->nodes[i].store, DYNA_EIO);
    sim_trace(w, "disk error armed on %s", w->nodes[i].name);
    break;
  }
  case FA_PARTITION: partition(w); break;
  case FA_SITE_CUT: /* each site alone: the WAN is down */
    for (uint32_t i = 0; i < w->nnodes; i++) w->nodes[i].grp = (uint32_t)(i % w->o.sites);
    w->st.partitions++;
    sim_digest(w, EV_FAULT, FA_SITE_CUT, 0, NULL, 0);
    sim_trace(w, "the link between sites is cut");
    sim_net_topology_changed(w);
    break;
  case FA_SITE_DOWN: /* a whole site lost: every node of it crashes */
    for (uint32_t i = 0; i < w->nnodes; i++) {
      if (i % w->o.sites != e->x || w->nodes[i].state != SN_UP) continue;
      if (sim_rng_chance(&w->rng, 0.4)) w->nodes[i].crash_mid_turn = 1;
      else sim_node_crash(w, i);
    }
    sim_trace(w, "site s%u lost", (unsigned)e->x);
    break;
  case FA_SITE_UP:
    for (uint32_t i = 0; i < w->nnodes; i++) {
      sim_node_t *s = &w->nodes[i];
      if (i % w->o.sites != e->x) continue;
      if (s->state == SN_UP && s->crash_mid_turn) sim_node_crash(w, i);
      if (s->state == SN_DOWN && !s->removed) sim_node_start(w, i, -1);
    }
    sim_trace(w, "site s%u restarted", (unsigned)e->x);
    break;
  case FA_HEAL: heal_partitions(w); break;
  case FA_CRASH: {
    int i = sim_pick_up_node(w);
    if (i < 0) break;
    if (sim_rng_chance(&w->rng, 0.4)) w->nodes[i].crash_mid_turn = 1; /* at its next event */
    else sim_node_crash(w, (uint32_t)i);
    at(w, w->now + sim_rng_range(&w->rng, 200, 3000), FA_RESTART, (uint64_t)i);
    break;
  }
  case FA_RESTART: {
    sim_node_t *s = &w->nodes[e->x];
    if (s->state == SN_UP && s->crash_mid_turn) { /* no event came: crash it now */
      sim_node_crash(w, (uint32_t)e->x);
      at(w, w->now + 200, FA_RESTART, e->x);
    } else if (s->state == SN_DOWN && !s->removed) {
      sim_node_start(w, (uint32_t)e->x, -1);
    }
    break;
  }
  case FA_JOIN: {
    int seed = sim_pick_up_node(w);
    if (seed < 0) break;
    uint32_t i = sim_node_add(w);
    sim_trace(w, "join %s via %s", w->nodes[i].name, w->nodes[seed].name);
    sim_node_start(w, i, seed);
    break;
  }
  case FA_LEAVE: {
    int i = sim_pick_up_node(w);
    if (i < 0) break;
    sim_node_t *s = &w->nodes[i];
    if (dyna_node_leave(s->node, sim_node_time(w, (uint32_t)i)) == 0) {
      s->leaving = 1;
      sim_node_turn_end(w, (uint32_t)i);
      if (s->state == SN_DOWN) { /* crashed before committing: the leave never happened */
        s->leaving = 0;
        at(w, w->now + 1000, FA_LEAVE, 0);
        break;
      }
      uint64_t wseq = s->store->writes;
      if (dyna_gate_state(&s->gate, wseq) == DYNA_DUR_DURABLE) leave_taken(w, (uint32_t)i);
      else check_later(w, FA_CHECK_LEAVE, (uint32_t)i, 0, wseq);
    }
    break;
  }
  case FA_CHECK_LEAVE: {
    sim_node_t *s = &w->nodes[e->b];
    dyna_dur_state_t st = dyna_gate_state(&s->gate, e->x);
    if (st == DYNA_DUR_DURABLE) {
      leave_taken(w, e->b);
    } else if (st == DYNA_DUR_LOST && s->state == SN_UP && self_leaving(s)) {
      leave_taken(w, e->b); /* a failed commit, no crash: the node goes on leaving and
                               writes its cluster state again (dyna_node_writes_lost) */
    } else if (st == DYNA_DUR_LOST) { /* crashed before its commit: the leave never happened */
      s->leaving = 0;
      at(w, w->now + 1000, FA_LEAVE, 0);
    } else {
      check_later(w, FA_CHECK_LEAVE, e->b, 0, e->x);
    }
    break;
  }
  case FA_CRASH_REMOVE: {
    int i = sim_pick_up_node(w);
    if (i < 0) break;
    w->nodes[i].removed = 1; /* never restarted */
    sim_node_crash(w, (uint32_t)i);
    sim_work_disk_gone(w, (uint32_t)i);
    at(w, w->now + sim_rng_range(&w->rng, 500, 2000), FA_REMOVE, (uint64_t)i);
    break;
  }
  case FA_REMOVE: {
    int by = pick_other(w, (int)e->x);
    if (by < 0) { at(w, w->now + 500, FA_REMOVE, e->x); break; }
    sim_node_t *s = &w->nodes[e->x];
    if (dyna_node_remove(w->nodes[by].node, s->name, sim_node_time(w, (uint32_t)by)) == 0) {
      sim_node_turn_end(w, (uint32_t)by);
      if (w->nodes[by].state != SN_UP) { /* crashed before committing: try again */
        at(w, w->now + 500, FA_REMOVE, e->x);
        break;
      }
      uint64_t wseq = w->nodes[by].store->writes;
      if (dyna_gate_state(&w->nodes[by].gate, wseq) == DYNA_DUR_DURABLE)
        remove_taken(w, (uint32_t)e->x, (uint32_t)by);
      else
        check_later(w, FA_CHECK_REMOVE, (uint32_t)by, (uint32_t)e->x, wseq);
    } else {
      at(w, w->now + 500, FA_REMOVE, e->x);
    }
    break;
  }
  case FA_CHECK_REMOVE: {
    dyna_dur_state_t st = dyna_gate_state(&w->nodes[e->b].gate, e->x);
    if (st == DYNA_DUR_DURABLE) remove_taken(w, e->ia, e->b);
    else if (st == DYNA_DUR_LOST) at(w, w->now + 500, FA_REMOVE, e->ia);
    else check_later(w, FA_CHECK_REMOVE, e->b, e->ia, e->x);
    break;
  }
  case FA_WIPE: {
    int i = sim_pick_up_node(w);
    if (i < 0) break;
    w->nodes[i].removed = 1; /* never restarted: its disk is gone */
    sim_node_crash(w, (uint32_t)i);
    sim_work_disk_gone(w, (uint32_t)i);
    at(w, w->now + sim_rng_range(&w->rng, 500, 2000), FA_REPLACE, (uint64_t)i);
    break;
  }
  case FA_REPLACE: replace(w, (uint32_t)e->x); break;
  case FA_CLOCK_SKEW: clock_skew(w); break;
  case FA_CLOCK_STEP: clock_step(w); break;
  case FA_CLOCK_CHECK: clock_check(w, e); break;
  default: break;
  }
}

void sim_faults_heal_all(sim_world_t *w) {
  w->loss = w->dup = w->reorder = w->spike = 0;
  for (uint32_t i = 0; i < w->nnodes; i++) {
    w->nodes[i].grp = 0;
    if (w->nodes[i].state == SN_UP && w->nodes[i].crash_mid_turn) sim_node_crash(w, i);
  }
  for (uint32_t i = 0; i < w->nnodes; i++)
    if (w->nodes[i].state == SN_DOWN && !w->nodes[i].removed) sim_node_start(w, i, -1);
  sim_digest(w, 0x4E, 0, 0, NULL, 0);
  sim_trace(w, "heal all faults");
  sim_net_topology_changed(w);
}
