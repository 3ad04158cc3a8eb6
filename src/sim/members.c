/* members.c: --experiment membership (issue 21, aim 3): on a settled cluster, one event at
 * a time, how long until every running node knows it (docs/simulation.md, Membership
 * convergence):
 *
 *   join   a new node joins through a random member       known: the joiner is a VALID
 *                                                          member in the node's view;
 *                                                          "ring": its ring gives the
 *                                                          joiner partitions
 *   leave  a random member leaves (DYNA.ADMIN LEAVE's      known: LEAVING or REMOVED in
 *          dyna_node_leave; the simulator stops it once     the view; "removed": REMOVED
 *          REMOVED and handed off, as an operator would)
 *   crash  a random member's process dies and stays down   known: judged unreachable
 *          (its connections drop: the transport tells      (dyna_node_is_reachable)
 *          each peer after the detection delay)
 *   hang   a random member stops answering with its        known: judged unreachable,
 *          connections up (a frozen host, a pulled cable   by the failure detector only
 *          behind a switch): frames to it vanish
 *
 * Each node's first sample at which it knows is kept (samples every 10 simulated ms);
 * the line gives p50/p99/max over the running nodes (the subject excluded), and the
 * frames and bytes sent per node per simulated second from the event until every node
 * knew (or the --duration window ended). Between events the cluster settles: a ring all
 * running members agree on, a leaver stopped, then 2 s. No faults, no final checks.
 * Every choice comes from the run's stream, so a seed gives the same figures.
 */
#include "core/cluster.h"
#include "core/ring.h"
#include "util/alloc.h"
#include "sim/rng.h"
#include "sim/sim.h"
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define SAMPLE_MS 10

enum { K_VALID, K_RING, K_NOT_VALID, K_REMOVED, K_UNREACHABLE };

static uint64_t up_count(const sim_world_t *w) {
  uint64_t k = 0;
  for (uint32_t i = 0; i < w->nnodes; i++) k += w->nodes[i].state == SN_UP && !w->nodes[i].hung;
  return k;
}

static void run_to(sim_world_t *w, uint64_t t, uint64_t *node_ms) {
  while (w->now < t) {
    uint64_t step = t - w->now < SAMPLE_MS ? t - w->now : SAMPLE_MS;
    uint64_t up = up_count(w);
    sim_run_until(w, w->now + step);
    *node_ms += up * step;
  }
}

/* 1 when running node i knows the event about member id, as kind says. */
static int knows(const sim_world_t *w, uint32_t i, int kind, uint64_t id) {
  const dyna_node_t *n = w->nodes[i].node;
  const dyna_cluster_t *c = dyna_node_cluster(n);
  const dyna_member_t *m = dyna_cluster_find(c, id);
  switch (kind) {
  case K_VALID: return m && m->status == DYNA_MEMBER_VALID;
  case K_RING: return dyna_ring_member_index(&c->ring, id) >= 0 && dyna_ring_owned(&c->ring, id) > 0;
  case K_NOT_VALID: return !m || m->status != DYNA_MEMBER_VALID;
  case K_REMOVED: return !m || m->status == DYNA_MEMBER_REMOVED;
  default: return !dyna_node_is_reachable(n, id);
  }
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of n sorted values. */
static uint64_t pct(const uint64_t *v, size_t n, unsigned p) {
  size_t k = (p * n + 99) / 100;
  return v[k ? k - 1 : 0];
}

typedef struct watch {
  const char *what;
  int kind;
  uint64_t *t;  /* per node index: when it first knew (UINT64_MAX: not yet) */
  uint32_t known, of;
} watch_t;

/* Samples every SAMPLE_MS from the event (at w->now) until every observer knows every
 * watched kind or the window ends; prints one line per kind. Observers: the nodes
 * running at the event, not hung, other than the subject. */
static void measure(sim_world_t *w, const char *ev, uint32_t subject, watch_t *wt, size_t nw,
                    uint64_t *node_ms, FILE *out) {
  uint64_t t0 = w->now, end = t0 + w->o.duration_ms, ms0 = *node_ms;
  uint64_t frames0 = w->st.msgs_sent, bytes0 = 0;
  for (int t = 0; t < 32; t++) bytes0 += w->st.type_bytes[t];
  uint8_t *obs = dyna_calloc(w->nnodes, 1);
  if (!obs) abort();
  uint32_t nobs = 0;
  for (uint32_t i = 0; i < w->nnodes; i++)
    if (i != subject && w->nodes[i].state == SN_UP && !w->nodes[i].hung) { obs[i] = 1; nobs++; }
  for (size_t k = 0; k < nw; k++) {
    wt[k].t = dyna_calloc(w->nnodes, sizeof(uint64_t));
    if (!wt[k].t) abort();
    for (uint32_t i = 0; i < w->nnodes; i++) wt[k].t[i] = UINT64_MAX;
    wt[k].known = 0;
    wt[k].of = nobs;
  }
  uint64_t done_at = 0;
  for (;;) {
    int all = 1;
    for (size_t k = 0; k < nw; k++) {
      for (uint32_t i = 0; i < w->nnodes; i++) {
        if (!obs[i] || wt[k].t[i] != UINT64_MAX) continue;
        if (w->nodes[i].state != SN_UP) { obs[i] = 0; continue; } /* stopped meanwhile */
        if (knows(w, i, wt[k].kind, w->nodes[subject].id)) { wt[k].t[i] = w->now - t0; wt[k].known++; }
      }
      all = all && wt[k].known == wt[k].of;
    }
    if (all) { done_at = w->now; break; }
    if (w->now >= end) break;
    run_to(w, w->now + SAMPLE_MS, node_ms);
  }
  double ns = (double)(*node_ms - ms0) / 1000.0;
  uint64_t bytes = 0;
  for (int t = 0; t < 32; t++) bytes += w->st.type_bytes[t];
  double fps = ns > 0 ? (double)(w->st.msgs_sent - frames0) / ns : 0, bps = ns > 0 ? (double)(bytes - bytes0) / ns : 0;
  for (size_t k = 0; k < nw; k++) {
    uint64_t *v = dyna_calloc(wt[k].known ? wt[k].known : 1, sizeof(uint64_t));
    if (!v) abort();
    size_t n = 0;
    for (uint32_t i = 0; i < w->nnodes; i++)
      if (wt[k].t[i] != UINT64_MAX) v[n++] = wt[k].t[i];
    qsort(v, n, sizeof(*v), cmp_u64);
    if (wt[k].known == wt[k].of && n)
      fprintf(out, "  %-6s %-24s known by all %u: p50 %6" PRIu64 " ms, p99 %6" PRIu64 " ms, max %6" PRIu64 " ms\n",
              k ? "" : ev, wt[k].what, wt[k].of, pct(v, n, 50), pct(v, n, 99), v[n - 1]);
    else
      fprintf(out, "  %-6s %-24s known by %u of %u within %" PRIu64 " ms (NOT ALL): p50 of those %" PRIu64
                   " ms, max %" PRIu64 " ms\n", k ? "" : ev, wt[k].what, wt[k].known, wt[k].of, w->o.duration_ms,
              n ? pct(v, n, 50) : 0, n ? v[n - 1] : 0);
    dyna_free(v);
    dyna_free(wt[k].t);
    wt[k].t = NULL;
  }
  fprintf(out, "  %-6s %-24s %.1f frames, %.0f bytes per node per simulated second over %" PRIu64 " ms\n", "",
          "traffic meanwhile", fps, bps, (done_at ? done_at : w->now) - t0);
  dyna_free(obs);
}

/* Waits until every running member agrees on a settled ring and no leaver runs, then 2 s. */
static int settle(sim_world_t *w, uint64_t *node_ms) {
  uint64_t cap = w->now + 120000;
  for (;;) {
    int leaver = 0;
    for (uint32_t i = 0; i < w->nnodes; i++) leaver |= w->nodes[i].state == SN_UP && w->nodes[i].leaving;
    if (!leaver && sim_ring_agreed(w)) break;
    if (w->now >= cap) return -1;
    run_to(w, w->now + 100, node_ms);
  }
  run_to(w, w->now + 2000, node_ms);
  return 0;
}

int sim_members_probe(sim_world_t *w, uint64_t *node_ms, FILE *out) {
  fprintf(out, "  membership: %u nodes, Q = %u; each event on a settled cluster, window %" PRIu64 " ms:\n",
          w->o.nodes, w->o.ring_size, w->o.duration_ms);
  if (settle(w, node_ms)) return -1;

  /* join */
  int seed = sim_pick_up_node(w); /* running, not leaving, joining or hung */
  if (seed < 0) return -1;
  uint32_t j = sim_node_add(w);
  sim_trace(w, "join %s via %s", w->nodes[j].name, w->nodes[seed].name);
  if (sim_node_start(w, j, seed)) return -1;
  watch_t wj[2] = {{"member valid", K_VALID, NULL, 0, 0}, {"ring gives it partitions", K_RING, NULL, 0, 0}};
  measure(w, "join", j, wj, 2, node_ms, out);
  if (settle(w, node_ms)) { fprintf(out, "  the cluster did not settle after the join\n"); return -1; }

  /* leave */
  int l = sim_pick_up_node(w); /* running, not leaving, joining or hung */
  if (l < 0) return -1;
  sim_node_t *s = &w->nodes[l];
  if (dyna_node_leave(s->node, sim_node_time(w, (uint32_t)l))) return -1;
  s->leaving = 1;
  w->st.leaves++;
  sim_node_turn_end(w, (uint32_t)l);
  watch_t wl[2] = {{"member leaving", K_NOT_VALID, NULL, 0, 0}, {"member removed", K_REMOVED, NULL, 0, 0}};
  measure(w, "leave", (uint32_t)l, wl, 2, node_ms, out);
  if (settle(w, node_ms)) { fprintf(out, "  the cluster did not settle after the leave\n"); return -1; }

  /* crash */
  int c = sim_pick_up_node(w); /* running, not leaving, joining or hung */
  if (c < 0) return -1;
  sim_node_crash(w, (uint32_t)c);
  watch_t wc[1] = {{"member unreachable", K_UNREACHABLE, NULL, 0, 0}};
  measure(w, "crash", (uint32_t)c, wc, 1, node_ms, out);
  run_to(w, w->now + 2000, node_ms);

  /* hang */
  int h = sim_pick_up_node(w); /* running, not leaving, joining or hung */
  if (h < 0) return -1;
  w->nodes[h].hung = 1;
  sim_digest(w, 0x48, (uint64_t)h, 0, NULL, 0);
  sim_trace(w, "hang %s", w->nodes[h].name);
  watch_t wh[1] = {{"member unreachable", K_UNREACHABLE, NULL, 0, 0}};
  measure(w, "hang", (uint32_t)h, wh, 1, node_ms, out);
  return 0;
}
