/* world.c: the simulated nodes. Each node is a real dyna_node_t over its own memory
 * store (DYNA_SYNC_BATCH: the store is the node's disk; what is not committed is lost
 * in a crash). A node handles one event per turn (a message, a tick, a client request,
 * a reachability change, an admin action), then the turn ends as in dynad: the core's
 * durability gate (core/gate.h) takes the outbox over the simulated disk (disk.c):
 *
 *   event ──▶ node ──▶ dyna_store_commit ──ok──▶ replies to clients, frames to the net
 *                                       └fail─▶ replies become errors, frames dropped
 *
 * (answers whose writes an earlier commit made durable leave at once; with --commit-ms
 * the commit is pipelined as in dynad's batch policy: disk.c).
 *
 * A crash discards the node object (its outboxes and in-memory state) and calls
 * dyna_store_mem_crash. A node marked crash_mid_turn crashes right after handling its
 * next event, before the commit: that turn's writes are lost and none of its replies
 * or frames ever leave. A restart opens a new dyna_node_t on the same store with the
 * same id (a new incarnation). Ticks run every SIM_TICK_MS.
 */
#include "store/memory.h"
#include "core/cluster.h"
#include "util/err.h"
#include "util/alloc.h"
#include "core/replica.h"
#include "sim/rng.h"
#include "sim/sim.h"
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define SIM_TICK_MS 50
#define SIM_JOIN_EXTRA_SEEDS 2 /* seeds a join names besides the one drawn (sim_node_start) */

static void ensure_cap(sim_world_t *w, uint32_t need) {
  if (need <= w->cap) return;
  uint32_t cap = w->cap ? w->cap : 8;
  while (cap < need) cap *= 2;
  sim_node_t *nn = dyna_realloc(w->nodes, cap * sizeof(*nn));
  uint64_t *by = dyna_realloc(w->byid, (size_t)cap * 2 * sizeof(uint64_t));
  uint64_t *ll = dyna_calloc((size_t)cap * cap, sizeof(uint64_t));
  if (!nn || !by || !ll) abort();
  memset(nn + w->cap, 0, (cap - w->cap) * sizeof(*nn));
  for (uint32_t a = 0; a < w->cap; a++)
    memcpy(ll + (size_t)a * cap, w->link_last + (size_t)a * w->cap, w->cap * sizeof(uint64_t));
  dyna_free(w->link_last);
  w->nodes = nn;
  w->byid = by;
  w->link_last = ll;
  w->cap = cap;
}

int sim_world_init(sim_world_t *w, const sim_opts_t *o) {
  memset(w, 0, sizeof(*w));
  w->o = *o;
  w->rng = o->seed * 0xD1B54A32D192ED03ull + 0x8BB84B93962EACC9ull;
  w->digest = 0xCBF29CE484222325ull ^ o->seed;
  w->detect_ms = 150;
  w->conv_applies = 1;
  ensure_cap(w, o->nodes + 4);
  return 0;
}

void sim_world_free(sim_world_t *w) {
  for (uint32_t i = 0; i < w->nnodes; i++) {
    dyna_gate_free(&w->nodes[i].gate);
    dyna_node_free(w->nodes[i].node);
    dyna_store_close(w->nodes[i].store);
  }
  sim_queue_free(&w->q);
  dyna_free(w->nodes);
  dyna_free(w->byid);
  dyna_free(w->link_last);
  memset(w, 0, sizeof(*w));
}

uint32_t sim_nval(const sim_world_t *w) {
  uint32_t k = w->o.n * (w->o.sites ? w->o.sites : 1);
  return k < DYNA_MAX_N ? k : DYNA_MAX_N;
}

uint32_t sim_node_add(sim_world_t *w) {
  ensure_cap(w, w->nnodes + 1);
  uint32_t i = w->nnodes++;
  sim_node_t *s = &w->nodes[i];
  memset(s, 0, sizeof(*s));
  do { /* distinct, non-zero ids from the run's stream */
    s->id = sim_rng_next(&w->rng);
  } while (!s->id || sim_node_index(w, s->id) >= 0);
  snprintf(s->name, sizeof(s->name), "n%u", i);
  /* Monotonic clocks have no common origin (uptime since boot): up to ~17 min apart. */
  s->mono_base_ms = s->id >> 44;
  if (w->o.zones) snprintf(s->zone, sizeof(s->zone), "z%u", i % w->o.zones);
  if (w->o.sites) snprintf(s->dc, sizeof(s->dc), "s%u", i % w->o.sites);
  if (dyna_store_mem_open(DYNA_SYNC_BATCH, &s->store)) abort();
  dyna_gate_init(&s->gate, s->store, w->o.durable_reads, w->o.bugs);
  /* keep byid sorted: insertion */
  uint32_t k = w->nbyid++;
  while (k > 0 && w->byid[2 * (k - 1)] > s->id) {
    w->byid[2 * k] = w->byid[2 * (k - 1)];
    w->byid[2 * k + 1] = w->byid[2 * (k - 1) + 1];
    k--;
  }
  w->byid[2 * k] = s->id;
  w->byid[2 * k + 1] = i;
  return i;
}

dyna_time_t sim_node_time(const sim_world_t *w, uint32_t i) {
  const sim_node_t *s = &w->nodes[i];
  int64_t wall = (int64_t)(SIM_WALL_EPOCH_MS + w->now) + s->wall_off_ms;
  dyna_time_t t = {s->mono_base_ms + w->now, wall > 0 ? (uint64_t)wall : 0};
  return t;
}

static void schedule_tick(sim_world_t *w, uint32_t i, uint64_t delay) {
  sim_event_t e = {0};
  e.t = w->now + delay;
  e.type = EV_TICK;
  e.a = i;
  e.ia = w->nodes[i].inc;
  sim_schedule(w, &e);
}

int sim_node_start(sim_world_t *w, uint32_t i, int join_seed) {
  sim_node_t *s = &w->nodes[i];
  dyna_node_cfg_t cfg;
  dyna_node_cfg_default(&cfg);
  cfg.id = s->id;
  snprintf(cfg.name, sizeof(cfg.name), "%s", s->name);
  snprintf(cfg.addr, sizeof(cfg.addr), "sim:%u", i);
  snprintf(cfg.client_addr, sizeof(cfg.client_addr), "simc:%u", i);
  snprintf(cfg.zone, sizeof(cfg.zone), "%s", s->zone);
  snprintf(cfg.dc, sizeof(cfg.dc), "%s", s->dc);
  cfg.ring_size = w->o.ring_size;
  cfg.repl = dyna_repl_uniform(w->o.n);
  cfg.r = w->o.quorum ? w->o.quorum : w->o.r;
  cfg.w = w->o.quorum ? w->o.quorum : w->o.w;
  cfg.seed = sim_rng_next(&w->rng);
  cfg.bugs = w->o.bugs;
  cfg.read_all = w->o.read_all;
  cfg.durable_reads = w->o.durable_reads;
  if (w->o.aae_ms) cfg.aae_interval_ms = w->o.aae_ms;
  if (w->o.budget) cfg.handoff_bytes_per_sec = w->o.budget;
  cfg.typed_extra = sim_types_cmds(); /* sim.del (workload_types.c) */
  int rc = dyna_node_open(&cfg, s->store, sim_node_time(w, i), &s->node);
  if (!rc) rc = dyna_store_commit(s->store); /* as dynad: the incarnation is durable first */
  if (!rc) sim_disk_started(w, i);
  if (rc) {
    sim_fail(w, "node %s failed to open at %llu ms: %s", s->name, (unsigned long long)w->now,
             dyna_strerror(rc));
    return rc;
  }
  int restart = s->state == SN_DOWN;
  if (restart) w->st.restarts++;
  s->state = SN_UP;
  s->inc++;
  s->crash_mid_turn = 0;
  s->busy_us = 0;
  sim_digest(w, 0x5A, i, s->inc, NULL, 0);
  sim_trace(w, "start %s (incarnation %u)", s->name, s->inc);
  /* As dynad does at start: peers it cannot connect to are unreachable at once. */
  sim_net_reach(w, i, 1);
  if (join_seed >= 0) {
    s->joining = 1;
    s->join_ms = w->now;
    dyna_node_join(s->node, w->nodes[join_seed].id, sim_node_time(w, i));
    /* Like dynad's --join A,B,C: up to two more members that are up and in the cluster,
     * the next ones after the seed (no randomness drawn), so that a seed that dies or
     * is removed before it answers does not keep the node out (docs/simulation.md). */
    uint32_t extra = 0;
    for (uint32_t k = 1; k < w->nnodes && extra < SIM_JOIN_EXTRA_SEEDS; k++) {
      uint32_t j = ((uint32_t)join_seed + k) % w->nnodes;
      const sim_node_t *o = &w->nodes[j];
      if (j == i || o->state != SN_UP || o->leaving || o->joining || o->removed) continue;
      dyna_node_join(s->node, o->id, sim_node_time(w, i));
      extra++;
    }
    w->st.joins++;
  }
  sim_node_turn_end(w, i);
  schedule_tick(w, i, 1 + sim_rng_below(&w->rng, SIM_TICK_MS));
  /* Peers re-judge the link after a restart, or when a fresh node starts inside a
   * partition; a fresh node in a whole network changes nobody's view (O(S^2) saved at
   * the start of a 1000-node run). */
  int split = 0;
  for (uint32_t j = 0; j < w->nnodes && !split; j++) split = w->nodes[j].grp != 0;
  if (restart || split) sim_net_topology_changed(w);
  return 0;
}

void sim_node_crash(sim_world_t *w, uint32_t i) {
  sim_node_t *s = &w->nodes[i];
  if (s->state != SN_UP) return;
  dyna_node_free(s->node);
  s->node = NULL;
  dyna_store_mem_crash(s->store);
  dyna_store_mem_inject_commit(s->store, 0); /* an armed disk error went with the process */
  sim_disk_crash(s); /* what was not committed is gone, and every held answer */
  s->state = SN_DOWN;
  s->crash_mid_turn = 0;
  w->st.crashes++;
  sim_digest(w, 0xC4, i, s->inc, NULL, 0);
  sim_trace(w, "crash %s", s->name);
  sim_work_node_lost(w, i);
  sim_net_topology_changed(w);
}

/* Stops a node for good (left the cluster, or removed): like a crash, but its disk is
 * kept only for the final accounting. */
static void node_stop(sim_world_t *w, uint32_t i) {
  sim_node_t *s = &w->nodes[i];
  if (s->state == SN_UP) {
    sim_disk_flush(w, i);
    dyna_node_free(s->node);
    s->node = NULL;
    sim_work_node_lost(w, i);
  }
  s->state = SN_GONE;
  sim_digest(w, 0x60, i, 0, NULL, 0);
  sim_trace(w, "stop %s", s->name);
  sim_net_topology_changed(w);
}

static int sees_removed(const dyna_node_t *n, uint64_t id) {
  const dyna_member_t *m = dyna_cluster_find(dyna_node_cluster(n), id);
  return m && m->status == DYNA_MEMBER_REMOVED;
}

static int leave_done(sim_world_t *w, uint32_t i) {
  sim_node_t *s = &w->nodes[i];
  if (!sees_removed(s->node, s->id)) return 0;
  if (w->o.strict) return 1;
  if (dyna_store_mem_count(s->store, DYNA_SPACE_OBJ)) return 0;
  for (uint32_t j = 0; j < w->nnodes; j++)
    if (j != i && w->nodes[j].state == SN_UP && !sees_removed(w->nodes[j].node, s->id)) return 0;
  return 1;
}

/* --watch: shows KEY's object on node i's disk when it changed (debugging aid). */
static void watch(sim_world_t *w, uint32_t i) {
  sim_node_t *s = &w->nodes[i];
  dyna_obj_t o;
  dyna_obj_init(&o);
  dyna_buf_t b = DYNA_BUF_INIT;
  if (sim_disk_read(w, s, w->o.watch, strlen(w->o.watch), &o) == 0) dyna_obj_encode(&o, &b);
  uint64_t h = b.len ? XXH3_64bits(b.data, b.len) : 0;
  if (h != s->watch_hash) {
    s->watch_hash = h;
    char line[512];
    size_t l = 0;
    for (size_t k = 0; k < dyna_obj_nvals(&o) && l < sizeof(line) - 40; k++) {
      const dyna_val_t *v = dyna_obj_val(&o, k);
      uint32_t wid = v->len >= 4 ? (uint32_t)v->data[0] | (uint32_t)v->data[1] << 8 |
                                       (uint32_t)v->data[2] << 16 | (uint32_t)v->data[3] << 24 : 0;
      l += (size_t)snprintf(line + l, sizeof(line) - l, " %s%u",
                            (v->flags & DYNA_VAL_TOMBSTONE) ? "T" : "w", wid);
    }
    uint64_t dl = 0;
    if (dyna_obj_deadline(&o, &dl) && l < sizeof(line) - 40) l += (size_t)snprintf(line + l, sizeof(line) - l, " deadline %llu", (unsigned long long)dl);
    for (size_t t = 0; t < o.ntyped && l < sizeof(line) - 40; t++)
      l += (size_t)snprintf(line + l, sizeof(line) - l, " type%u(%zu ctx, %zu elems)", o.typed[t].type, o.typed[t].nctx, o.typed[t].n);
    line[l] = 0;
    sim_trace(w, "watch %s on %s: %zu value(s):%s", w->o.watch, s->name, dyna_obj_nvals(&o), line);
  }
  dyna_obj_clear(&o);
  dyna_buf_free(&b);
}

void sim_node_turn_end(sim_world_t *w, uint32_t i) {
  sim_node_t *s = &w->nodes[i];
  if (s->state != SN_UP) return;
  sim_work_ring_seen(w, i); /* the ring this turn left it, before its answers leave */
  if (w->o.watch && !s->crash_mid_turn) watch(w, i);
  /* Early frames (a coordinator's PUTs of its new version) leave before the commit, so
   * they are out even when the node crashes before it; so do answers that acknowledge
   * no write (reads, unless --durable-reads), or whose writes are durable already. The
   * others wait for the commit (disk.c, core/gate.h). */
  sim_disk_outbox(w, i);
  if (s->crash_mid_turn) {
    w->st.crashes_mid_turn++;
    sim_node_crash(w, i);
    return;
  }
  sim_disk_turn(w, i);
  /* Clients use a joining node only once it adopted the cluster's ring: until then it
   * believes it is alone and caps W at 1 (see docs/simulation.md, core issues). */
  if (s->joining && dyna_node_cluster(s->node)->ring.nmembers > 1) s->joining = 0;
  /* A leaving node that is REMOVED is shut down, as an operator would, once its disk
   * holds no objects and every other running member shows it REMOVED: the core may
   * declare itself REMOVED before handing off, and before anyone heard of it
   * (docs/simulation.md). --strict stops it at once. */
  if (s->leaving && leave_done(w, i)) node_stop(w, i);
}

void sim_node_tick(sim_world_t *w, sim_event_t *e) {
  sim_node_t *s = &w->nodes[e->a];
  if (s->state != SN_UP || s->inc != e->ia || s->hung) return;
  sim_digest(w, EV_TICK, e->a, 0, NULL, 0);
  /* Without --strict the operator also adds a member drawn now as a seed to a join that
   * did not take after 0.5 s (the core goes on asking the seeds it was given: this only
   * shortens the wait, as an operator's `dyna admin join` would). */
  if (s->joining && !w->o.strict && w->now - s->join_ms >= 500) {
    int seed = sim_pick_up_node(w);
    if (seed >= 0 && (uint32_t)seed != e->a) {
      s->join_ms = w->now;
      dyna_node_join(s->node, w->nodes[seed].id, sim_node_time(w, e->a));
      sim_trace(w, "join %s again via %s", s->name, w->nodes[seed].name);
    }
  }
  dyna_node_tick(s->node, sim_node_time(w, e->a));
  sim_node_turn_end(w, e->a);
  if (s->state == SN_UP && s->inc == e->ia) schedule_tick(w, e->a, SIM_TICK_MS);
}

int sim_disk_read(sim_world_t *w, sim_node_t *s, const char *key, size_t klen, dyna_obj_t *out) {
  dyna_replica_t rep;
  memset(&rep, 0, sizeof(rep)); /* no change hook: a read-only look at the disk */
  rep.store = s->store;
  rep.ring_size = w->o.ring_size;
  return dyna_replica_read(&rep, (const uint8_t *)key, klen, out);
}

int sim_disk_read_durable(sim_world_t *w, sim_node_t *s, const char *key, size_t klen, dyna_obj_t *out) {
  dyna_replica_t rep;
  memset(&rep, 0, sizeof(rep));
  rep.store = dyna_store_mem_durable(s->store);
  rep.ring_size = w->o.ring_size;
  return dyna_replica_read(&rep, (const uint8_t *)key, klen, out);
}

static int usable(const sim_world_t *w, const sim_node_t *s) {
  return s->state == SN_UP && !s->leaving && !s->hung && (!s->joining || w->o.strict);
}

int sim_node_usable(const sim_world_t *w, uint32_t i) {
  return i < w->nnodes && usable(w, &w->nodes[i]);
}

int sim_pick_up_node(sim_world_t *w) {
  uint32_t cnt = 0;
  for (uint32_t i = 0; i < w->nnodes; i++) cnt += usable(w, &w->nodes[i]);
  if (!cnt) return -1;
  uint64_t k = sim_rng_below(&w->rng, cnt);
  for (uint32_t i = 0; i < w->nnodes; i++)
    if (usable(w, &w->nodes[i]) && k-- == 0) return (int)i;
  return -1;
}

static void dispatch(sim_world_t *w, sim_event_t *e) {
  w->st.events++;
  switch (e->type) {
  case EV_MSG: sim_net_deliver(w, e); break;
  case EV_TICK: sim_node_tick(w, e); break;
  case EV_CLIENT: sim_work_client(w, e); break;
  case EV_REACH:
    if (w->nodes[e->a].state == SN_UP && w->nodes[e->a].inc == e->ia && !w->nodes[e->a].hung) sim_net_reach(w, e->a, 0);
    break;
  case EV_FAULT: sim_faults_fire(w, e); break;
  case EV_COMMIT: sim_disk_event(w, e); break;
  default: break;
  }
}

void sim_run_until(sim_world_t *w, uint64_t t_end) {
  sim_event_t e;
  while (sim_queue_next_t(&w->q) <= t_end) {
    sim_queue_pop(&w->q, &e);
    w->now = e.t;
    dispatch(w, &e);
    dyna_free(e.data);
  }
  if (w->now < t_end) w->now = t_end;
}

int sim_ring_agreed(sim_world_t *w) {
  const dyna_cluster_t *ref = NULL;
  /* The cheap half first: every running member names the same ring. */
  for (uint32_t i = 0; i < w->nnodes; i++) {
    sim_node_t *s = &w->nodes[i];
    if (s->state != SN_UP) continue;
    const dyna_cluster_t *c = dyna_node_cluster(s->node);
    const dyna_member_t *me = dyna_cluster_find(c, s->id);
    if (!me || me->status == DYNA_MEMBER_REMOVED) continue; /* about to stop */
    if (!ref) ref = c;
    else if (c->ring_version != ref->ring_version || c->ring_author != ref->ring_author)
      return 0;
  }
  if (!ref) return 0;
  /* Each one's ring is settled (its owners are its VALID members). A state whose gossip
   * digest (kept by the node, when it has one) equals one already found settled is the
   * same state, so settled too: a settled 1000-node cluster is one walk, not 1000. */
  uint64_t settled = 0;
  for (uint32_t i = 0; i < w->nnodes; i++) {
    sim_node_t *s = &w->nodes[i];
    if (s->state != SN_UP) continue;
    const dyna_cluster_t *c = dyna_node_cluster(s->node);
    const dyna_member_t *me = dyna_cluster_find(c, s->id);
    if (!me || me->status == DYNA_MEMBER_REMOVED) continue;
    if (c->digest && c->digest == settled) continue;
    if (!dyna_cluster_ring_settled(c)) return 0;
    if (c->digest) settled = c->digest;
  }
  /* Every running node must be a VALID member of that ring's cluster. */
  for (uint32_t i = 0; i < w->nnodes; i++) {
    sim_node_t *s = &w->nodes[i];
    if (s->state != SN_UP || s->leaving) continue;
    const dyna_member_t *m = dyna_cluster_find(ref, s->id);
    if (!m || m->status != DYNA_MEMBER_VALID) return 0;
  }
  return 1;
}

int sim_reference_node(sim_world_t *w) {
  for (uint32_t i = 0; i < w->nnodes; i++)
    if (w->nodes[i].state == SN_UP && !w->nodes[i].leaving) return (int)i;
  return -1;
}
