/* sim.c: dyna-sim's command line, the run loop, seed campaigns and the scale
 * experiments (docs/simulation.md).
 *
 *   dyna-sim --seed N          one run: prints a report and the trace digest; exits 1
 *                              when a check fails, printing the command that replays it
 *   dyna-sim --seeds A..B      a campaign: one line per seed, failures with replay lines
 *   dyna-sim --experiment ring | converge | churn-types | traffic | membership
 *
 * A run: S nodes start (node 0 bootstraps, the others join it) and the simulator waits
 * until they agree on a ring; then the fault schedule is drawn, clients run for
 * --duration simulated ms, and checks.c heals, settles, reads and checks. The wall
 * clock is read only around a run, for the speed figure in its report.
 */
#include "core/bugs.h"
#include "core/cluster.h"
#include "util/alloc.h"
#include "core/ring.h"
#include "util/keyhash.h"
#include "proto/wire.h"
#include "sim/rng.h"
#include "sim/sim.h"
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

/* ---------- digest, failures, trace ---------- */

void sim_digest(sim_world_t *w, uint64_t a, uint64_t b, uint64_t c, const void *p, size_t len) {
  uint64_t h = w->digest;
  uint64_t in[5] = {w->now, a, b, c, p && len ? XXH3_64bits(p, len) : 0};
  w->digest = XXH3_64bits_withSeed(in, sizeof(in), h);
}

void sim_fail(sim_world_t *w, const char *fmt, ...) {
  w->failed = 1;
  if (w->nfail < 40) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->fail_msg[w->nfail], sizeof(w->fail_msg[0]), fmt, ap);
    va_end(ap);
  }
  w->nfail++;
}

void sim_trace(sim_world_t *w, const char *fmt, ...) {
  if (!w->o.verbose) return;
  va_list ap;
  va_start(ap, fmt);
  printf("[%8" PRIu64 " ms] ", w->now);
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
}

/* ---------- options ---------- */

typedef struct named { const char *name; uint32_t bits; } named_t;
static const named_t FAULT_NAMES[] = {
  {"none", 0}, {"loss", SF_LOSS}, {"partition", SF_PARTITION}, {"crash", SF_CRASH},
  {"churn", SF_CHURN}, {"dup", SF_DUP}, {"diskerr", SF_DISKERR}, {"clock", SF_CLOCK},
  {"wipe", SF_WIPE}, {"site", SF_SITE}, {"all", SF_ALL}, {NULL, 0}};

/* Parses a comma-separated list of names into bits; -1 on an unknown name. */
static int parse_names(const named_t *tab, const char *s, uint32_t *out) {
  *out = 0;
  char buf[256];
  snprintf(buf, sizeof(buf), "%s", s);
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    int found = 0;
    for (const named_t *n = tab; n->name; n++)
      if (!strcmp(n->name, tok)) { *out |= n->bits; found = 1; }
    if (!found) return -1;
  }
  return 0;
}

static void names_of(const named_t *tab, uint32_t bits, char *out, size_t cap) {
  out[0] = 0;
  if (!bits) { snprintf(out, cap, "none"); return; }
  for (const named_t *n = tab; n->name; n++)
    if (n->bits == bits) { snprintf(out, cap, "%s", n->name); return; }
  for (const named_t *n = tab; n->name; n++) {
    if (!n->bits || (n->bits & (n->bits - 1)) || !(bits & n->bits)) continue;
    size_t l = strlen(out);
    snprintf(out + l, cap - l, "%s%s", l ? "," : "", n->name);
  }
}

static void defaults(sim_opts_t *o) {
  memset(o, 0, sizeof(*o));
  o->seed = 1;
  o->nodes = 5;
  o->keys = 24;
  o->clients = 8;
  o->ring_size = 64;
  o->zones = 0;
  dyna_node_cfg_t node; /* N, R, W as dynad's defaults: the core's */
  dyna_node_cfg_default(&node);
  o->n = node.repl.n;
  o->r = node.r;
  o->w = node.w;
  o->duration_ms = 10000;
  o->faults = SF_ALL;
  o->joins = 1;
  o->wan_ms = 50;
}

/* The command that replays a run of o (only the options that differ from defaults). */
static void replay_cmd(const sim_opts_t *o, char *out, size_t cap) {
  sim_opts_t d;
  defaults(&d);
  size_t l = (size_t)snprintf(out, cap, "dyna-sim --seed %" PRIu64, o->seed);
#define ADD(...) do { if (l < cap) l += (size_t)snprintf(out + l, cap - l, __VA_ARGS__); } while (0)
  if (o->experiment) ADD(" --experiment %s", o->experiment);
  if (o->fill) ADD(" --fill %u", o->fill);
  if (o->nodes != d.nodes) ADD(" --nodes %u", o->nodes);
  if (o->keys != d.keys) ADD(" --keys %u", o->keys);
  if (o->types) ADD(" --types %s", o->types_arg ? o->types_arg : "all");
  if (o->txn) ADD(" --txn");
  if (o->clients != d.clients) ADD(" --clients %u", o->clients);
  if (o->ring_size != d.ring_size) ADD(" --ring-size %u", o->ring_size);
  if (o->zones != d.zones) ADD(" --zones %u", o->zones);
  if (o->sites) ADD(" --sites %u", o->sites);
  if (o->wan_ms != d.wan_ms) ADD(" --wan-ms %" PRIu64, o->wan_ms);
  if (o->quorum) ADD(" --quorum %s", o->quorum == DYNA_QUORUM_LOCAL ? "local" : "each");
  if (o->n != d.n || o->r != d.r || o->w != d.w) ADD(" --nrw %u,%u,%u", o->n, o->r, o->w);
  if (o->duration_ms != d.duration_ms) ADD(" --duration %" PRIu64, o->duration_ms);
  if (o->joins != d.joins) ADD(" --joins %u", o->joins);
  char nm[128];
  if (o->faults != d.faults) { names_of(FAULT_NAMES, o->faults, nm, sizeof(nm)); ADD(" --faults %s", nm); }
  if (o->aae_ms) ADD(" --aae-ms %" PRIu64, o->aae_ms);
  if (o->strict) ADD(" --strict");
  if (o->read_all) ADD(" --read-all");
  if (o->durable_reads) ADD(" --durable-reads");
  if (o->commit_ms) ADD(" --commit-ms %" PRIu64, o->commit_ms);
  if (o->frame_cost) ADD(" --frame-cost %" PRIu64, o->frame_cost);
  if (o->budget) ADD(" --budget %" PRIu64, o->budget);
  if (o->routing == SIM_ROUTE_RING) ADD(" --routing ring");
  if (o->spikes > 0) ADD(" --spikes %g", o->spikes * 100.0);
  if (o->bugs) { dyna_bugs_format(o->bugs, nm, sizeof(nm)); ADD(" --bugs %s", nm); }
#undef ADD
}

/* ---------- one run ---------- */

typedef struct run_result {
  uint64_t digest;
  int failed;
  double run_s;
  uint64_t sim_ms;
  uint64_t node_ms; /* sum over nodes of the simulated time they ran */
  uint64_t lost_with_disks; /* acknowledged writes lost with their disks (workload.c) */
} run_result_t;

/* The real time this process has run, for the speed line (never simulated time). */
static double run_clock_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The CPU time this process has used (the machine is shared: wall time varies with load). */
static double run_cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Which mixes the replica convergence check applies to (see docs/simulation.md). */
static void convergence_scope(sim_world_t *w) {
  w->conv_applies = 1;
  w->conv_note = NULL;
}

static void report(sim_world_t *w, FILE *out, const run_result_t *res) {
  char nm[64];
  names_of(FAULT_NAMES, w->o.faults, nm, sizeof(nm));
  fprintf(out, "seed %" PRIu64 ": %u nodes (%u at the end), %u keys, %u clients, faults %s, %" PRIu64 " ms simulated\n",
          w->o.seed, w->o.nodes, w->nnodes, w->o.keys, w->o.clients, nm, res->sim_ms);
  fprintf(out, "  events %" PRIu64 ", frames sent %" PRIu64 " delivered %" PRIu64 " dropped %" PRIu64 " duplicated %" PRIu64 "\n",
          w->st.events, w->st.msgs_sent, w->st.msgs_delivered, w->st.msgs_dropped, w->st.msgs_duplicated);
  fprintf(out, "  faults: %" PRIu64 " partitions, %" PRIu64 " crashes (%" PRIu64 " mid-turn), %" PRIu64 " restarts, %" PRIu64 " joins, %" PRIu64 " leaves, %" PRIu64 " removals, %" PRIu64 " clock steps, %" PRIu64 " replacements\n",
          w->st.partitions, w->st.crashes, w->st.crashes_mid_turn, w->st.restarts, w->st.joins - (w->o.nodes - 1),
          w->st.leaves, w->st.removes, w->st.clock_steps, w->st.replaces);
  sim_work_report(w, out);
  if (w->o.latency) sim_work_latency_report(w, out);
  uint64_t rr = 0, rt = 0, ho = 0;
  for (uint32_t i = 0; i < w->nnodes; i++)
    if (w->nodes[i].state == SN_UP) {
      rr += dyna_node_stats(w->nodes[i].node)->read_repairs;
      rt += dyna_node_stats(w->nodes[i].node)->read_retries;
      ho += dyna_node_stats(w->nodes[i].node)->handoff_keys_sent;
    }
  fprintf(out, "  read repairs %" PRIu64 ", read second waves %" PRIu64 ", handoff keys sent %" PRIu64
               " (running nodes' counters)\n", rr, rt, ho);
  fprintf(out, "  speed: %.2f s wall, %.0f simulated node-seconds per wall second\n", res->run_s,
          res->run_s > 0 ? (double)res->node_ms / 1000.0 / res->run_s : 0.0);
}

static uint64_t up_nodes(sim_world_t *w) {
  uint64_t k = 0;
  for (uint32_t i = 0; i < w->nnodes; i++) k += w->nodes[i].state == SN_UP;
  return k;
}

/* Runs until t, accumulating node-time (node_ms) in steps. */
static void run_counting(sim_world_t *w, uint64_t t, uint64_t *node_ms) {
  while (w->now < t) {
    uint64_t step = t - w->now < 100 ? t - w->now : 100;
    uint64_t up = up_nodes(w);
    sim_run_until(w, w->now + step);
    *node_ms += up * step;
  }
}

static int warm_up(sim_world_t *w, uint64_t *node_ms) {
  if (sim_node_start(w, sim_node_add(w), -1)) return -1;
  for (uint32_t i = 1; i < w->o.nodes; i++) sim_node_add(w);
  for (uint32_t i = 1; i < w->o.nodes; i++)
    if (sim_node_start(w, i, 0)) return -1;
  uint64_t cap = 30000 + (uint64_t)w->o.nodes * 100;
  while (!sim_ring_agreed(w) && w->now < cap) run_counting(w, w->now + 100, node_ms);
  if (!sim_ring_agreed(w)) {
    sim_fail(w, "the initial %u nodes did not agree on a ring within %" PRIu64 " ms", w->o.nodes, cap);
    return -1;
  }
  return 0;
}

/* Anti-entropy exchanges, keys repaired and bytes sent, summed over the running nodes. */
static void aae_totals(sim_world_t *w, uint64_t t[3]) {
  t[0] = t[1] = t[2] = 0;
  for (uint32_t i = 0; i < w->nnodes; i++) {
    if (w->nodes[i].state != SN_UP) continue;
    const dyna_node_stats_t *st = dyna_node_stats(w->nodes[i].node);
    t[0] += st->aae_exchanges;
    t[1] += st->aae_keys_repaired;
    t[2] += st->aae_bytes;
  }
}

/* --experiment converge: one partition in the middle of the workload; after it heals,
 * clients only read (no write is submitted after the heal: the line says so), and the
 * time until every key's replicas are equal is measured. */
static void converge_probe(sim_world_t *w, uint64_t t0, uint64_t *node_ms, FILE *out) {
  uint64_t d = w->o.duration_ms;
  run_counting(w, t0 + d / 4, node_ms);
  for (uint32_t i = 0; i < w->nnodes; i++) w->nodes[i].grp = (uint32_t)sim_rng_below(&w->rng, 2);
  w->st.partitions++;
  sim_net_topology_changed(w);
  run_counting(w, t0 + d / 2, node_ms);
  uint32_t bad_before = 0;
  sim_work_converged(w, &bad_before);
  for (uint32_t i = 0; i < w->nnodes; i++) w->nodes[i].grp = 0;
  sim_net_topology_changed(w);
  w->read_only = 1;
  uint64_t aae0[3];
  aae_totals(w, aae0);
  uint64_t heal = w->now, done = 0, writes = sim_work_writes(w);
  uint32_t bad = 0;
  while (w->now < heal + 60000) {
    run_counting(w, w->now + 50, node_ms);
    if (sim_work_converged(w, &bad)) { done = w->now; break; }
  }
  writes = sim_work_writes(w) - writes;
  uint64_t aae1[3];
  aae_totals(w, aae1);
  if (done)
    fprintf(out, "  converge: %u of %u keys diverged at the heal; all replicas equal %" PRIu64 " ms after it (clients only read: %" PRIu64 " writes after the heal; read repair, hinted handoff and anti-entropy run)\n",
            bad_before, w->o.keys, done - heal, writes);
  else
    fprintf(out, "  converge: %u of %u keys diverged at the heal; %u still differ 60 s after it (%" PRIu64 " writes after the heal)\n",
            bad_before, w->o.keys, bad, writes);
  uint64_t ex = aae1[0] - aae0[0], rep = aae1[1] - aae0[1], by = aae1[2] - aae0[2];
  fprintf(out, "  anti-entropy after the heal: %" PRIu64 " exchanges, %" PRIu64 " keys repaired, %" PRIu64 " bytes (%" PRIu64 " per repaired key)\n",
          ex, rep, by, rep ? by / rep : 0);
  w->read_only = 0;
}

/* --experiment traffic: after the boot, the workload (no faults) for --duration; prints the
 * frames and bytes each node sent per simulated second in that window, by kind, and the
 * window's speed. No end-of-run checks (the run stops at the window's end). */
static void traffic_probe(sim_world_t *w, uint64_t t0, uint64_t *node_ms, FILE *out) {
  static const struct { const char *name; uint8_t types[6]; } KIND[] = {
    {"ping/pong", {DYNA_MSG_PING, DYNA_MSG_PONG}},
    {"gossip/join", {DYNA_MSG_GOSSIP, DYNA_MSG_JOIN}},
    {"anti-entropy", {DYNA_MSG_AAE_TREE, DYNA_MSG_AAE_DIFF, DYNA_MSG_HO_CHECK, DYNA_MSG_HO_HAVE}},
    {"requests", {DYNA_MSG_PUT, DYNA_MSG_PUT_ACK, DYNA_MSG_GET, DYNA_MSG_GET_RESP, DYNA_MSG_FWD, DYNA_MSG_FWD_RESP}},
  };
  sim_stats_t a = w->st;
  uint64_t ms0 = *node_ms;
  double wall0 = run_clock_s(), cpu0 = run_cpu_s();
  run_counting(w, t0 + w->o.duration_ms, node_ms);
  double wall = run_clock_s() - wall0, cpu = run_cpu_s() - cpu0;
  double ns = (double)(*node_ms - ms0) / 1000.0; /* node-seconds in the window */
  if (ns <= 0) ns = 1;
  uint64_t fr[5] = {0}, by[5] = {0};
  for (int t = 0; t < 32; t++) {
    int k = 4;
    for (int j = 0; j < 4 && k == 4; j++)
      for (int x = 0; x < 6; x++)
        if (KIND[j].types[x] && KIND[j].types[x] == t) k = j;
    fr[k] += w->st.type_frames[t] - a.type_frames[t];
    by[k] += w->st.type_bytes[t] - a.type_bytes[t];
  }
  fprintf(out, "  traffic: %u nodes, %" PRIu64 " ms window after the boot, per node per simulated second:\n",
          w->o.nodes, w->o.duration_ms);
  for (int k = 0; k < 5; k++)
    fprintf(out, "    %-13s %10.1f frames %12.0f bytes\n", k < 4 ? KIND[k].name : "other",
            (double)fr[k] / ns, (double)by[k] / ns);
  uint64_t bf = fr[0] + fr[1] + fr[2], bb = by[0] + by[1] + by[2];
  fprintf(out, "    background    %10.1f frames %12.0f bytes (ping/pong + gossip/join + anti-entropy)\n",
          (double)bf / ns, (double)bb / ns);
  fprintf(out, "    all           %10.1f frames %12.0f bytes\n", (double)(bf + fr[3] + fr[4]) / ns,
          (double)(bb + by[3] + by[4]) / ns);
  fprintf(out, "  traffic speed: the window took %.2f s wall, %.2f s CPU: %.0f simulated node-seconds per wall second, %.0f per CPU second\n",
          wall, cpu, wall > 0 ? ns / wall : 0.0, cpu > 0 ? ns / cpu : 0.0);
}

enum { RUN_PLAIN, RUN_CONVERGE, RUN_TRAFFIC, RUN_MEMBERS, RUN_ADMIT };

static int run_one(const sim_opts_t *o, int print, int mode, run_result_t *res) {
  sim_world_t w;
  memset(res, 0, sizeof(*res));
  double t_wall = run_clock_s();
  sim_world_init(&w, o);
  sim_work_init(&w);
  convergence_scope(&w);
  uint64_t node_ms = 0;
  if (warm_up(&w, &node_ms) == 0) {
    uint64_t t0 = w.now;
    if (print && !o->quiet) printf("ring agreed by %u nodes at %" PRIu64 " ms\n", o->nodes, t0);
    if (mode == RUN_PLAIN) sim_faults_plan(&w, t0, t0 + o->duration_ms);
    sim_work_start(&w);
    if (mode == RUN_CONVERGE) converge_probe(&w, t0, &node_ms, stdout);
    else if (mode == RUN_TRAFFIC) traffic_probe(&w, t0, &node_ms, stdout);
    else if (mode == RUN_MEMBERS) {
      if (sim_members_probe(&w, &node_ms, stdout)) sim_fail(&w, "membership: the cluster did not settle between events");
    } else if (mode == RUN_ADMIT) {
      if (sim_admit_probe(&w, &node_ms, stdout)) sim_fail(&w, "admission: the join could not start");
    } else run_counting(&w, t0 + o->duration_ms, &node_ms);
    uint64_t t1 = w.now;
    if (mode != RUN_TRAFFIC && mode != RUN_MEMBERS) sim_checks_final(&w);
    node_ms += up_nodes(&w) * (w.now - t1);
  }
  res->digest = w.digest;
  res->failed = w.failed;
  res->sim_ms = w.now;
  res->node_ms = node_ms;
  res->lost_with_disks = sim_work_lost_with_disks(&w);
  res->run_s = run_clock_s() - t_wall;
  if (print && !o->quiet) report(&w, stdout, res);
  if (w.failed) {
    char cmd[512];
    replay_cmd(o, cmd, sizeof(cmd));
    printf("FAIL seed %" PRIu64 ": %u check(s) failed\n", o->seed, w.nfail);
    for (uint32_t i = 0; i < w.nfail && i < 40; i++) printf("  - %s\n", w.fail_msg[i]);
    printf("  replay: %s\n", cmd);
  }
  sim_work_free(&w);
  sim_world_free(&w);
  return res->failed ? -1 : 0;
}

/* ---------- --experiment ring ---------- */

static size_t preflists_differ(const dyna_ring_t *a, const dyna_ring_t *b, uint32_t nval) {
  size_t moved = 0;
  uint64_t pa[16], pb[16];
  for (uint32_t p = 0; p < a->size; p++) {
    size_t na = dyna_ring_preflist(a, p, nval, pa, nval);
    size_t nb = dyna_ring_preflist(b, p, nval, pb, nval);
    for (size_t i = 0; i < nb; i++) {
      int in = 0;
      for (size_t j = 0; j < na && !in; j++) in = pa[j] == pb[i];
      moved += !in;
    }
  }
  return moved;
}

/* Prints r's balance (largest/mean partitions owned) and replica load (home
 * placements, first N of each preference list, per member: what a node stores and
 * serves) over the s members m. */
static void ring_balance(const char *what, const dyna_ring_t *r, const dyna_ring_member_t *m,
                         uint32_t s, uint32_t nval) {
  uint32_t q = r->size, mx = 0, mn = UINT32_MAX, lmax = 0, placed = 0;
  for (uint32_t i = 0; i < s; i++) {
    uint32_t k = dyna_ring_owned(r, m[i].id);
    if (k > mx) mx = k;
    if (k < mn) mn = k;
  }
  uint32_t *load = dyna_calloc(r->nmembers, sizeof(*load));
  uint64_t pl[16];
  for (uint32_t p = 0; load && p < q; p++) {
    size_t k = dyna_ring_preflist(r, p, nval, pl, nval);
    for (size_t x = 0; x < k; x++) {
      int i = dyna_ring_member_index(r, pl[x]);
      placed++;
      if (i >= 0 && ++load[i] > lmax) lmax = load[i];
    }
  }
  dyna_free(load);
  printf("  %s: balance largest/mean share %.3f (owned %u..%u, mean %.2f); replica load largest/mean %.3f (largest %u, mean %.2f)\n",
         what, (double)mx / ((double)q / s), mn, mx, (double)q / s,
         placed ? (double)lmax / ((double)placed / s) : 0.0, lmax, (double)placed / s);
}

static int experiment_ring(const sim_opts_t *o) {
  uint64_t rng = o->seed;
  uint32_t s = o->nodes, q = o->ring_size;
  dyna_ring_member_t *m = dyna_calloc(s + 1, sizeof(*m));
  if (!m) return 1;
  for (uint32_t i = 0; i <= s; i++) {
    m[i].id = sim_rng_next(&rng) | 1;
    if (o->zones) snprintf(m[i].zone, sizeof(m[i].zone), "z%u", i % o->zones);
    if (o->sites) snprintf(m[i].dc, sizeof(m[i].dc), "s%u", i % o->sites);
  }
  dyna_ring_t empty, r1, r2, g, t;
  dyna_ring_init(&empty);
  dyna_ring_init(&r1);
  dyna_ring_init(&r2);
  dyna_ring_init(&g);
  dyna_ring_init(&t);
  double t0 = run_clock_s();
  int rc = dyna_ring_rebalance(&empty, q, m, s, o->n, &r1);
  if (!rc) rc = dyna_ring_rebalance(&r1, q, m, s + 1, o->n, &r2);
  double el = run_clock_s() - t0;
  /* the same members grown one join at a time from the first, as a cluster grows */
  if (!rc) rc = dyna_ring_single(&g, q, &m[0]);
  for (uint32_t k = 2; !rc && k <= s; k++) {
    rc = dyna_ring_rebalance(&g, 0, m, k, o->n, &t);
    dyna_ring_t x = g;
    g = t;
    t = x;
  }
  if (rc) {
    printf("rebalance failed: %d\n", rc);
    return 1;
  }
  uint32_t moved = 0;
  for (uint32_t p = 0; p < q; p++) moved += dyna_ring_owner(&r1, p) != dyna_ring_owner(&r2, p);
  size_t rmoved = preflists_differ(&r1, &r2, o->n);
  uint32_t nv = o->n < s ? o->n : s;
  printf("ring: S=%u Q=%u N=%u%s\n", s, q, o->n, o->zones ? " (zones: node i in zone i % Z)" : "");
  ring_balance("made at once", &r1, m, s, o->n);
  ring_balance("grown one join at a time", &g, m, s, o->n);
  printf("  one join: %.4f of partitions change owner, %.4f of replica placements move (ideal 1/(S+1) = %.4f; %.2fx); %.3f s wall\n",
         (double)moved / q, (double)rmoved / ((double)q * nv), 1.0 / (s + 1),
         (double)rmoved / ((double)q * nv) * (s + 1), el);
  dyna_ring_clear(&r1);
  dyna_ring_clear(&r2);
  dyna_ring_clear(&g);
  dyna_ring_clear(&t);
  dyna_free(m);
  return 0;
}

/* ---------- CLI ---------- */

static void usage(FILE *out) {
  char bugs[256];
  dyna_bugs_list(" | ", bugs, sizeof(bugs));
  fprintf(out,
"usage: dyna-sim [options]\n"
"Runs a whole Dyna cluster (the real core) in one process over a simulated network,\n"
"clock and disks; every choice comes from one seed, so a seed replays a run exactly.\n"
"\n"
"  --seed N           run one seed (default 1); prints a report and the trace digest;\n"
"                     exits 1 when a check fails and prints the replay command\n"
"  --seeds A..B       run seeds A to B (inclusive); one line each; exit 1 if any fails\n"
"  --nodes S          initial cluster size (default 5)\n"
"  --keys K           keys: i%%4 = 0,1 carts, 2 blind sets, 3 read-then-delete/put (default 24)\n"
"  --clients C        concurrent clients (default 8)\n"
"  --types LIST       typed keys beside the register keys: counter, set, hash, zset,\n"
"                     list, expire, or all (comma list; types this build lacks are\n"
"                     skipped); checked as docs/simulation.md, \"Typed keys\", says\n"
"  --txn              with --types: about half of the typed writes are sent as\n"
"                     one-command transactions (MULTI/EXEC's batch), checked alike\n"
"  --duration MS      simulated workload time in ms (default 10000)\n"
"  --faults MIX       none | loss | partition | crash | churn | clock | dup | diskerr |\n"
"                     wipe | all, or a comma list; all = loss,partition,crash,churn,\n"
"                     clock (default all); clock skews nodes' wall clocks and steps\n"
"                     them by +-1 h; dup duplicates frames, which TCP never does;\n"
"                     diskerr fails a random node's commit about every 0.1 s; wipe\n"
"                     kills a node for good (its disk dies) and starts a fresh one\n"
"                     under its name with a join: it must take the dead one's place\n"
"                     site (with --sites): the link between sites is cut, then every\n"
"                     node of one site crashes, and comes back (not in all)\n"
"  --bugs LIST        %s\n"
"                     (comma list): deliberate faults set in every node's cfg.bugs\n"
"                     (gate-forget-loss: in its durability gate); the checks must\n"
"                     catch them\n"
"  --ring-size Q      partitions, a power of two up to 16384 (default 64; 4096+ for 1000 nodes)\n"
"  --zones Z          declare Z zones (node i is in zone i%%Z); partitions may cut a zone\n"
"  --sites K          declare K sites (node i is in site s(i%%K)); N of --nrw replicas\n"
"                     in each site; frames between sites take --wan-ms more (default 50)\n"
"  --quorum KIND      local | each: every node's R and W (needs --sites); the checks\n"
"                     then want a majority of a site's (local) or every site's homes\n"
"  --nrw N,R,W        replication (default 3,2,2)\n"
"  --joins J          joins under the churn mix (default 1)\n"
"  --experiment E     ring: ownership balance and movement on one join (pure ring math);\n"
"                     converge: time until replicas converge after a partition heals;\n"
"                     churn-types: encoded size of a set, zset and hash over an hour\n"
"                     of adds and removes by 3 replicas with crashes and partitions;\n"
"                     traffic: frames and bytes per node per simulated second by kind\n"
"                     over --duration after the boot (no faults, no final checks);\n"
"                     membership: on a settled cluster a join, a leave, a crash and a\n"
"                     hang, one at a time; for each the time until every running node\n"
"                     knows it (p50/p99/max; --duration is each one's window) and the\n"
"                     frames and bytes per node per second meanwhile (no final checks);\n"
"                     admission: --fill filler keys (2 KiB), then a join under the\n"
"                     workload with the CPU model on (--frame-cost, 40 unless given):\n"
"                     client p99 while the handoff runs against idle, the handoff's\n"
"                     time and bytes; fails when the handoff does not finish or its\n"
"                     p99 is over 1.5 times idle (docs/simulation.md)\n"
"  --frame-cost US    a node's CPU is busy 2 us + US per KiB for each frame it sends\n"
"                     or receives, and frames wait for it (default 0: free)\n"
"  --fill K           --experiment admission: filler keys (default 3000)\n"
"  --budget B         every node's background budget ceiling in bytes/s (default: the\n"
"                     core's, 16 MiB/s)\n"
"  --quiet            campaigns: print only failures and the summary; one run: digest only\n"
"  --verbose          trace every event\n"
"  --aae-ms MS        anti-entropy interval of every node (default: the core's); a\n"
"                     huge value turns it off, to test read repair on its own\n"
"  --strict           no workarounds for known core issues (docs/simulation.md)\n"
"  --read-all         GETs ask all N replicas at once (cfg.read_all) instead of R first\n"
"  --durable-reads    read answers wait for the commit (cfg.durable_reads); default:\n"
"                     GET_RESP frames and read replies leave before it\n"
"  --commit-ms MS     pipelined group commit as dynad's batch policy: a batch is durable\n"
"                     MS ms after it starts, turns meanwhile write the next one, and a\n"
"                     write's answer leaves once its own batch is durable (default 0:\n"
"                     every turn commits at its end)\n"
"  --routing R        how clients pick the node for a request: random (default: a random\n"
"                     member, like a load balancer) or ring (the first up node of the\n"
"                     key's preference list, as libdyna does; a random one if none is up)\n"
"  --spikes PCT       PCT%% of frames (e.g. 0.2) take 50-250 ms more, in any fault mix\n"
"                     (a delay tail; loss already spikes 1%%); default 0\n"
"  --latency          report the simulated latency (submission to answer) of successful\n"
"                     reads and writes: mean, p50, p99, p99.9, max\n"
"  --watch KEY        (implies --verbose) show KEY's object on a disk whenever it changes\n"
"                     (register values, the key's deadline, each typed state's size)\n"
"  --help             this text\n", bugs);
}

static int parse_u64(const char *s, uint64_t *out) {
  char *end;
  if (!s || !*s) return -1;
  unsigned long long v = strtoull(s, &end, 10);
  if (*end) return -1;
  *out = v;
  return 0;
}

static int parse_u32(const char *s, uint32_t *out) {
  uint64_t v;
  if (parse_u64(s, &v) || v > UINT32_MAX) return -1;
  *out = (uint32_t)v;
  return 0;
}

int main(int argc, char **argv) {
  sim_opts_t o;
  defaults(&o);
  uint64_t a = 1, b = 1;
  int campaign = 0, faults_set = 0;
  const char *exp = NULL;
  for (int i = 1; i < argc; i++) {
    const char *f = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    int bad = 0, used = 1;
    if (!strcmp(f, "--help") || !strcmp(f, "-h")) { usage(stdout); return 0; }
    else if (!strcmp(f, "--quiet")) { o.quiet = 1; used = 0; }
    else if (!strcmp(f, "--verbose")) { o.verbose = 1; used = 0; }
    else if (!strcmp(f, "--seed")) { bad = parse_u64(v, &o.seed); a = b = o.seed; }
    else if (!strcmp(f, "--seeds")) {
      const char *dots = v ? strstr(v, "..") : NULL;
      char lo[32];
      if (!dots || (size_t)(dots - v) >= sizeof(lo)) bad = 1;
      else {
        memcpy(lo, v, (size_t)(dots - v));
        lo[dots - v] = 0;
        bad = parse_u64(lo, &a) || parse_u64(dots + 2, &b) || b < a;
        campaign = 1;
      }
    }
    else if (!strcmp(f, "--nodes")) bad = parse_u32(v, &o.nodes) || o.nodes < 1 || o.nodes > 4000;
    else if (!strcmp(f, "--keys")) bad = parse_u32(v, &o.keys) || o.keys > 1000000;
    else if (!strcmp(f, "--clients")) bad = parse_u32(v, &o.clients) || o.clients > 100000;
    else if (!strcmp(f, "--duration")) bad = parse_u64(v, &o.duration_ms);
    else if (!strcmp(f, "--ring-size")) bad = parse_u32(v, &o.ring_size) || !dyna_ring_size_valid(o.ring_size);
    else if (!strcmp(f, "--zones")) bad = parse_u32(v, &o.zones) || o.zones > 64;
    else if (!strcmp(f, "--sites")) bad = parse_u32(v, &o.sites) || o.sites > DYNA_SITES_MAX;
    else if (!strcmp(f, "--wan-ms")) bad = parse_u64(v, &o.wan_ms) || o.wan_ms > 10000;
    else if (!strcmp(f, "--quorum")) {
      bad = !v || (strcmp(v, "local") && strcmp(v, "each"));
      if (!bad) o.quorum = strcmp(v, "local") ? DYNA_QUORUM_EACH : DYNA_QUORUM_LOCAL;
    }
    else if (!strcmp(f, "--joins")) bad = parse_u32(v, &o.joins) || o.joins > 64;
    else if (!strcmp(f, "--faults")) { bad = !v || parse_names(FAULT_NAMES, v, &o.faults); faults_set = 1; }
    else if (!strcmp(f, "--budget")) bad = parse_u64(v, &o.budget) || !o.budget;
    else if (!strcmp(f, "--bugs")) bad = !v || dyna_bugs_parse(v, &o.bugs);
    else if (!strcmp(f, "--aae-ms")) bad = parse_u64(v, &o.aae_ms);
    else if (!strcmp(f, "--types")) { bad = sim_types_parse(v, &o.types); o.types_arg = v; }
    else if (!strcmp(f, "--commit-ms")) bad = parse_u64(v, &o.commit_ms) || o.commit_ms > 1000;
    else if (!strcmp(f, "--frame-cost")) bad = parse_u64(v, &o.frame_cost) || o.frame_cost > 100000;
    else if (!strcmp(f, "--fill")) bad = parse_u32(v, &o.fill) || o.fill > 1000000;
    else if (!strcmp(f, "--strict")) { o.strict = 1; used = 0; }
    else if (!strcmp(f, "--txn")) { o.txn = 1; used = 0; }
    else if (!strcmp(f, "--read-all")) { o.read_all = 1; used = 0; }
    else if (!strcmp(f, "--durable-reads")) { o.durable_reads = 1; used = 0; }
    else if (!strcmp(f, "--latency")) { o.latency = 1; used = 0; }
    else if (!strcmp(f, "--spikes")) {
      char *end = NULL;
      double p = v ? strtod(v, &end) : -1.0;
      bad = !v || !*v || *end || !(p >= 0.0 && p <= 100.0);
      if (!bad) o.spikes = p / 100.0;
    }
    else if (!strcmp(f, "--routing")) {
      bad = !v || (strcmp(v, "random") && strcmp(v, "ring"));
      if (!bad) o.routing = strcmp(v, "ring") ? SIM_ROUTE_RANDOM : SIM_ROUTE_RING;
    }
    else if (!strcmp(f, "--watch")) { o.watch = v; o.verbose = 1; }
    else if (!strcmp(f, "--experiment")) { exp = v; bad = !v || (strcmp(v, "ring") && strcmp(v, "converge") && strcmp(v, "churn-types") && strcmp(v, "traffic") && strcmp(v, "membership") && strcmp(v, "admission")); }
    else if (!strcmp(f, "--nrw")) {
      bad = !v || sscanf(v, "%u,%u,%u", &o.n, &o.r, &o.w) != 3 || !o.n || o.n > 16 || !o.r ||
            !o.w || o.r > o.n || o.w > o.n;
    }
    else { fprintf(stderr, "dyna-sim: unknown option %s (see --help)\n", f); return 2; }
    if (used && !v) bad = 1;
    if (bad) { fprintf(stderr, "dyna-sim: bad value for %s (see --help)\n", f); return 2; }
    i += used;
  }
  if (o.sites && o.n * o.sites > DYNA_MAX_N) {
    fprintf(stderr, "dyna-sim: --sites %u with n = %u is over %u replicas\n", o.sites, o.n, DYNA_MAX_N);
    return 2;
  }
  if (o.quorum && !o.sites) {
    fprintf(stderr, "dyna-sim: --quorum needs --sites\n");
    return 2;
  }
  if (o.nodes > o.ring_size) {
    fprintf(stderr, "dyna-sim: --nodes %u needs --ring-size of at least that\n", o.nodes);
    return 2;
  }
  if (exp && !strcmp(exp, "ring")) return experiment_ring(&o);
  if (exp && !strcmp(exp, "churn-types")) return sim_experiment_churn_types(o.seed);
  if (!campaign) {
    run_result_t res;
    int mode = !exp ? RUN_PLAIN : !strcmp(exp, "traffic") ? RUN_TRAFFIC
             : !strcmp(exp, "membership") ? RUN_MEMBERS : !strcmp(exp, "admission") ? RUN_ADMIT : RUN_CONVERGE;
    o.experiment = exp;
    if (mode == RUN_ADMIT && !o.frame_cost) o.frame_cost = 40;
    if (mode == RUN_ADMIT && !faults_set) o.faults = 0;
    if (mode == RUN_ADMIT && !o.fill) o.fill = 3000;
    int rc = run_one(&o, 1, mode, &res);
    printf("digest %016" PRIx64 "\n", res.digest);
    return rc ? 1 : 0;
  }
  uint64_t fails = 0, runs = 0, lost = 0;
  double wall = 0, node_s = 0;
  for (uint64_t s = a;; s++) {
    o.seed = s;
    run_result_t res;
    if (run_one(&o, 0, RUN_PLAIN, &res)) fails++;
    runs++;
    wall += res.run_s;
    node_s += (double)res.node_ms / 1000.0;
    lost += res.lost_with_disks;
    if (!o.quiet) printf("seed %" PRIu64 " %s digest %016" PRIx64 "\n", s, res.failed ? "FAIL" : "ok", res.digest);
    fflush(stdout);
    if (s == b) break;
  }
  printf("%" PRIu64 " seeds, %" PRIu64 " failed; %.1f s wall, %.0f simulated node-seconds per wall second\n",
         runs, fails, wall, wall > 0 ? node_s / wall : 0.0);
  if (lost)
    printf("acknowledged writes lost with every disk that held them (removed or wiped nodes; W allows it): %" PRIu64 "\n",
           lost);
  return fails ? 1 : 0;
}
