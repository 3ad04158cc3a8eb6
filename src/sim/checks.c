/* checks.c: the end of every run. The workload has stopped; then:
 *
 *   drain    2 s: in-flight requests finish or time out (request timeout is 1 s)
 *   heal     every partition and network fault ends, crashed nodes restart (removed
 *            nodes stay gone), reachability is re-judged
 *   settle   until every running member agrees on one settled ring, no leaving node
 *            still runs, no node holds hints and handoff has been quiet for a second
 *            (at least 3 s, at most 120 s): a hint delivered after the final reads
 *            would otherwise leave replicas that only anti-entropy could reconcile
 *   read     one quorum read with R = N of every key through a random member: its
 *            read repair brings stale replicas up to date (anti-entropy does not exist
 *            yet)
 *   settle   2 s more, for the repairs to land; then up to 30 s more until the
 *            replicas are equal (hinted handoff, later anti-entropy, may still work)
 *   check    every running node judges every running member reachable (the failure
 *            detector suspects no live peer);
 *            one live member per name in every view (--faults wipe); ring agreement; read repair (each replica holds what the final read
 *            returned); the model's checks (workload.c: acknowledged cart adds,
 *            no resurrection, sibling bound, on the final merged reads); replica
 *            convergence (all first-N replicas of every key per the final ring hold
 *            equal objects) where the mix allows it (w->conv_applies).
 */
#include "util/alloc.h"
#include "store/memory.h"
#include "core/cluster.h"
#include "sim/sim.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t handoff_sent(sim_world_t *w) {
  uint64_t t = 0;
  for (uint32_t i = 0; i < w->nnodes; i++)
    if (w->nodes[i].state == SN_UP) t += dyna_node_stats(w->nodes[i].node)->handoff_keys_sent;
  return t;
}

/* Hints still held by running nodes (hinted handoff not yet done). */
static size_t hints_held(sim_world_t *w) {
  size_t t = 0;
  for (uint32_t i = 0; i < w->nnodes; i++)
    if (w->nodes[i].state == SN_UP) t += dyna_store_mem_count(w->nodes[i].store, DYNA_SPACE_HINT);
  return t;
}

static int leaving_up(sim_world_t *w) {
  for (uint32_t i = 0; i < w->nnodes; i++)
    if (w->nodes[i].state == SN_UP && w->nodes[i].leaving) return 1;
  return 0;
}

/* Adds each running node's view of the membership to the failure report. */
static void show_members(sim_world_t *w) {
  for (uint32_t i = 0; i < w->nnodes; i++) {
    sim_node_t *s = &w->nodes[i];
    if (s->state != SN_UP) continue;
    const dyna_cluster_t *c = dyna_node_cluster(s->node);
    char st[256];
    size_t l = 0;
    st[0] = 0;
    for (size_t m = 0; m < c->n && l < sizeof(st) - 24; m++)
      l += (size_t)snprintf(st + l, sizeof(st) - l, " %s:%s", c->m[m].name,
                            dyna_member_status_name(c->m[m].status));
    sim_fail(w, "  %s%s: ring v%llu by %016llx, %u owners, settled %d;%s", s->name,
             s->leaving ? " (leaving)" : "", (unsigned long long)c->ring_version,
             (unsigned long long)c->ring_author, c->ring.nmembers, dyna_cluster_ring_settled(c),
             st);
  }
}

/* No running member sees two live members under one name: a fresh node that took a
 * dead one's name (--faults wipe) replaced it. Returns the number of failures. */
static int cmp_name(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Whether two live members of c share a name: sorted, in O(S log S) (asking each name's
 * count is O(S^2) a node, which at 1000 nodes was most of the final checks). */
static int any_twins(const dyna_cluster_t *c) {
  const char **names = dyna_malloc((c->n ? c->n : 1) * sizeof(*names));
  if (!names) return 1; /* out of memory: the slow path below decides */
  size_t k = 0;
  for (size_t m = 0; m < c->n; m++)
    if (c->m[m].status != DYNA_MEMBER_REMOVED) names[k++] = c->m[m].name;
  qsort(names, k, sizeof(*names), cmp_name);
  int twins = 0;
  for (size_t m = 1; m < k && !twins; m++) twins = !strcmp(names[m - 1], names[m]);
  dyna_free(names);
  return twins;
}

static unsigned names_unique(sim_world_t *w) {
  unsigned bad = 0;
  for (uint32_t i = 0; i < w->nnodes; i++) {
    sim_node_t *s = &w->nodes[i];
    if (s->state != SN_UP) continue;
    const dyna_cluster_t *c = dyna_node_cluster(s->node);
    if (!any_twins(c)) continue;
    for (size_t m = 0; m < c->n; m++) {
      if (c->m[m].status == DYNA_MEMBER_REMOVED || dyna_cluster_name_count(c, c->m[m].name) < 2) continue;
      if (dyna_cluster_find_live_name(c, c->m[m].name, 0) != &c->m[m]) continue; /* once per name */
      sim_fail(w, "%s sees %zu live members named %s (a node that took a dead one's name did not "
               "replace it)", s->name, dyna_cluster_name_count(c, c->m[m].name), c->m[m].name);
      bad++;
    }
  }
  return bad;
}

/* After the heal every running node judges every running member it knows reachable:
 * the failure detector suspects no live peer (past 32 members it pings only some of
 * them, and one it does not ping must not turn suspect). Reports up to 5 pairs; returns
 * how many pairs are wrong. */
static unsigned reach_true(sim_world_t *w) {
  unsigned bad = 0;
  for (uint32_t i = 0; i < w->nnodes; i++) {
    sim_node_t *s = &w->nodes[i];
    if (s->state != SN_UP) continue;
    const dyna_cluster_t *c = dyna_node_cluster(s->node);
    for (size_t m = 0; m < c->n; m++) {
      int j = sim_node_index(w, c->m[m].id);
      if (c->m[m].status == DYNA_MEMBER_REMOVED || j < 0 || w->nodes[j].state != SN_UP) continue;
      if (dyna_node_is_reachable(s->node, c->m[m].id)) continue;
      if (++bad <= 5)
        sim_fail(w, "%s judges the running member %s unreachable after the heal (phi x1000 = %llu)", s->name,
                 w->nodes[j].name, (unsigned long long)dyna_node_phi_x1000(s->node, c->m[m].id));
    }
  }
  if (bad > 5) sim_fail(w, "... %u such pairs in all", bad);
  return bad;
}

int sim_checks_final(sim_world_t *w) {
  w->stopping = 1;
  sim_run_until(w, w->now + 2000);
  sim_faults_heal_all(w);
  uint64_t start = w->now, quiet_since = w->now, last = handoff_sent(w);
  uint64_t max_ms = 120000 + (uint64_t)w->nnodes * 20;
  for (;;) {
    sim_run_until(w, w->now + 250);
    uint64_t h = handoff_sent(w);
    if (h != last) { last = h; quiet_since = w->now; }
    if (!sim_ring_agreed(w) || leaving_up(w) || hints_held(w)) quiet_since = w->now;
    if (w->now - start >= 3000 && w->now - quiet_since >= 1000) break;
    if (w->now - start > max_ms) break;
  }
  reach_true(w);
  int members_shown = 0;
  if (names_unique(w)) {
    show_members(w);
    members_shown = 1;
  }
  if (!sim_ring_agreed(w)) {
    sim_fail(w, "members do not agree on a settled ring %llu ms after healing",
             (unsigned long long)(w->now - start));
    if (!members_shown) show_members(w);
    members_shown = 1;
  }
  if (sim_work_final_reads(w)) {
    sim_fail(w, "final quorum reads did not all answer");
    if (!members_shown) show_members(w);
  }
  sim_run_until(w, w->now + 2000);
  unsigned before = w->nfail;
  sim_work_check(w);
  sim_work_check_repaired(w);
  if (w->nfail > before && !members_shown) show_members(w);
  /* Background work (hinted handoff now, anti-entropy later) may still be moving
   * versions: give it up to 30 s more before judging convergence. */
  uint32_t bad = 0;
  uint64_t t_reads = w->now;
  while (!sim_work_converged(w, &bad) && w->now - t_reads < 30000) sim_run_until(w, w->now + 250);
  if (w->now > t_reads) sim_trace(w, "replicas equal %llu ms after the final reads", (unsigned long long)(w->now - t_reads));
  w->conv_detail = w->conv_applies;
  if (!sim_work_converged(w, &bad)) {
    if (w->conv_applies)
      sim_fail(w, "%u key(s) still differ between their replicas after read repair (the first above)", bad);
    else
      sim_trace(w, "replicas differ on %u key(s); not checked under this mix: %s", bad,
                w->conv_note ? w->conv_note : "");
  }
  return w->failed ? -1 : 0;
}
