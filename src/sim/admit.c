/* admit.c: --experiment admission (issue 23, aim 7): does background work stay out of
 * the foreground's way? With the CPU model on (--frame-cost, default 40 us per KiB here),
 * a settled cluster is loaded with filler keys (--fill, 2 KiB values), clients run the
 * usual workload, and after an idle window a new node joins: the old owners hand it
 * their share of the filler at the background budget's rate. Client latency is kept
 * through three windows: idle (5 s before the join), handoff (from the join until every
 * node has nothing left to hand off and all agree on the ring), and after (3 s).
 *
 * The core's admission controller (core/admission.h) sees only what the driver reports,
 * each frame's wait for its node's CPU (net.c); the experiment judges what clients see:
 *   - the handoff finishes (within 120 simulated s of the join);
 *   - the handoff window's p99 is at most 1.5 times the idle window's.
 * Failing either fails the run (exit 1). `--bugs admit-off` keeps every node's budget
 * at its ceiling, and the second check must catch it (tests/integration/
 * test_sim_admission.py). Reported as well: p50s, the handoff's time, bytes and keys
 * sent, bytes per key against the filler's size, the controller's rate cuts.
 */
#include "core/admission.h"
#include "core/node.h"
#include "util/alloc.h"
#include "sim/sim.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FILL_VALUE 2048u
#define FILL_CLIENT 0xFFFFFFFEu /* replies to the loader's PUTs: no client of workload.c */
#define IDLE_MS 5000u
#define AFTER_MS 3000u
#define HANDOFF_LIMIT_MS 120000u

typedef struct sim_admit_rec {
  uint64_t *t;   /* answer times */
  uint32_t *ms;  /* latencies */
  size_t n, cap;
} sim_admit_rec_t;

void sim_admit_client(sim_world_t *w, uint32_t i, uint64_t ms) {
  (void)i;
  sim_admit_rec_t *r = w->admit;
  if (r->n == r->cap) {
    r->cap = r->cap ? 2 * r->cap : 4096;
    r->t = dyna_realloc(r->t, r->cap * sizeof *r->t);
    r->ms = dyna_realloc(r->ms, r->cap * sizeof *r->ms);
    if (!r->t || !r->ms) abort();
  }
  r->t[r->n] = w->now;
  r->ms[r->n++] = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

static void run_to(sim_world_t *w, uint64_t t, uint64_t *node_ms) {
  while (w->now < t) {
    uint64_t step = t - w->now < 100 ? t - w->now : 100, up = 0;
    for (uint32_t i = 0; i < w->nnodes; i++) up += w->nodes[i].state == SN_UP;
    sim_run_until(w, w->now + step);
    *node_ms += up * step;
  }
}

/* Writes the filler: blind PUTs of FILL_VALUE bytes, 32 a millisecond round the up
 * nodes, then waits a second for the last answers. */
static void load_fill(sim_world_t *w, uint32_t nfill, uint64_t *node_ms) {
  uint8_t *val = dyna_malloc(FILL_VALUE);
  if (!val) abort();
  for (uint32_t k = 0; k < nfill;) {
    for (uint32_t b = 0; b < 32 && k < nfill; b++, k++) {
      int i = sim_pick_up_node(w);
      if (i < 0) break;
      char key[32];
      int klen = snprintf(key, sizeof key, "fill:%u", k);
      for (uint32_t j = 0; j < FILL_VALUE; j++) val[j] = (uint8_t)(k * 31 + j);
      dyna_req_t req;
      memset(&req, 0, sizeof req);
      req.id = ((uint64_t)FILL_CLIENT << 32) | k;
      req.op = DYNA_OP_PUT;
      req.flags = DYNA_REQ_BLIND;
      req.key = (const uint8_t *)key;
      req.klen = (size_t)klen;
      req.val = val;
      req.vlen = FILL_VALUE;
      if (dyna_node_request(w->nodes[i].node, &req, sim_node_time(w, (uint32_t)i)) == 0)
        sim_node_turn_end(w, (uint32_t)i);
    }
    run_to(w, w->now + 1, node_ms);
  }
  dyna_free(val);
  run_to(w, w->now + 1000, node_ms);
}

/* 1 when no up node has anything left to hand off and all agree on one ring. */
static int handoff_done(sim_world_t *w) {
  if (!sim_ring_agreed(w)) return 0;
  for (uint32_t i = 0; i < w->nnodes; i++)
    if (w->nodes[i].state == SN_UP && (w->nodes[i].joining || dyna_node_handoff_pending(w->nodes[i].node)))
      return 0;
  return 1;
}

static void handoff_totals(sim_world_t *w, uint64_t *keys, uint64_t *bytes, uint64_t *aae) {
  *keys = *bytes = *aae = 0;
  for (uint32_t i = 0; i < w->nnodes; i++) {
    if (w->nodes[i].state != SN_UP) continue;
    const dyna_node_stats_t *st = dyna_node_stats(w->nodes[i].node);
    *keys += st->handoff_keys_sent;
    *bytes += st->handoff_bytes;
    *aae += st->aae_bytes;
  }
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

typedef struct win {
  size_t n;
  uint32_t p50, p99, max;
} win_t;

/* Nearest-rank p50/p99/max of the latencies answered in [t0, t1). */
static win_t window(const sim_admit_rec_t *r, uint64_t t0, uint64_t t1) {
  win_t x = {0, 0, 0, 0};
  uint32_t *v = dyna_malloc((r->n ? r->n : 1) * sizeof *v);
  if (!v) abort();
  for (size_t i = 0; i < r->n; i++)
    if (r->t[i] >= t0 && r->t[i] < t1) v[x.n++] = r->ms[i];
  if (x.n) {
    qsort(v, x.n, sizeof *v, cmp_u32);
    x.p50 = v[(x.n * 50 + 99) / 100 - 1];
    x.p99 = v[(x.n * 99 + 99) / 100 - 1];
    x.max = v[x.n - 1];
  }
  dyna_free(v);
  return x;
}

int sim_admit_probe(sim_world_t *w, uint64_t *node_ms, FILE *out) {
  sim_admit_rec_t rec;
  memset(&rec, 0, sizeof rec);
  uint32_t nfill = w->o.fill;
  load_fill(w, nfill, node_ms);
  run_to(w, w->now + 2000, node_ms); /* the controllers see idle windows: a baseline */
  w->admit = &rec;
  uint64_t t_idle = w->now;
  run_to(w, t_idle + IDLE_MS, node_ms);
  uint64_t t_join = w->now, k0, b0, k1, b1, a0, a1;
  handoff_totals(w, &k0, &b0, &a0);
  int seed = sim_pick_up_node(w);
  if (seed < 0) return -1;
  uint32_t j = sim_node_add(w);
  if (sim_node_start(w, j, seed)) return -1;
  uint64_t t_done = 0;
  while (!t_done && w->now < t_join + HANDOFF_LIMIT_MS) {
    run_to(w, w->now + 100, node_ms);
    if (handoff_done(w)) t_done = w->now;
  }
  handoff_totals(w, &k1, &b1, &a1);
  uint64_t t_end = (t_done ? t_done : w->now);
  run_to(w, t_end + AFTER_MS, node_ms);
  w->admit = NULL;
  win_t idle = window(&rec, t_idle, t_join), ho = window(&rec, t_join, t_end),
        after = window(&rec, t_end, t_end + AFTER_MS);
  uint64_t cuts = 0, rate_min = UINT64_MAX, ceiling = 0;
  for (uint32_t i = 0; i < w->nnodes; i++) {
    if (w->nodes[i].state != SN_UP) continue;
    const dyna_admit_t *a = dyna_node_admission(w->nodes[i].node);
    cuts += a->cuts;
    ceiling = a->ceiling;
    if (a->rate < rate_min) rate_min = a->rate;
  }
  uint64_t keys = k1 - k0, bytes = b1 - b0;
  fprintf(out, "  admission: %u nodes + 1 joining, %u filler keys of %u B, frames cost 2 us + %" PRIu64 " us/KiB\n",
          w->o.nodes, nfill, FILL_VALUE, w->o.frame_cost);
  fprintf(out, "  client latency (simulated ms)  idle: n %zu p50 %u p99 %u max %u | handoff: n %zu p50 %u p99 %u max %u | after: n %zu p50 %u p99 %u max %u\n",
          idle.n, idle.p50, idle.p99, idle.max, ho.n, ho.p50, ho.p99, ho.max, after.n, after.p50, after.p99,
          after.max);
  fprintf(out, "  client p99 by second of the handoff (ms):");
  for (uint64_t t = t_join; t < t_end && t < t_join + 60000; t += 1000) fprintf(out, " %u", window(&rec, t, t + 1000).p99);
  fprintf(out, "%s\n", t_end > t_join + 60000 ? " ..." : "");
  fprintf(out, "  handoff: %s in %" PRIu64 " ms; %" PRIu64 " keys, %" PRIu64 " bytes sent (%.0f B a key; a filler key holds %u B of value)\n",
          t_done ? "finished" : "NOT finished", t_end - t_join, keys, bytes, keys ? (double)bytes / keys : 0.0,
          FILL_VALUE);
  fprintf(out, "  anti-entropy meanwhile: %" PRIu64 " bytes\n", a1 - a0);
  fprintf(out, "  admission control: %" PRIu64 " rate cuts over all nodes; budget ceiling %" PRIu64 " B/s, lowest rate now %" PRIu64 " B/s\n",
          cuts, ceiling, rate_min == UINT64_MAX ? 0 : rate_min);
  for (uint32_t i = 0; i < w->nnodes; i++) {
    if (w->nodes[i].state != SN_UP) continue;
    const dyna_admit_t *a = dyna_node_admission(w->nodes[i].node);
    fprintf(out, "    %s: idle p99 %" PRIu64 " us, last p99 %" PRIu64 " us, rate %" PRIu64 " B/s, %" PRIu64 " cuts, %" PRIu64 " acks held\n",
            w->nodes[i].name, a->idle_p99_us, a->last_p99_us, a->rate, a->cuts,
            dyna_node_stats(w->nodes[i].node)->acks_held);
  }
  fprintf(out, "  handoff p99 / idle p99: %.2f (aim: at most 1.5)\n", idle.p99 ? (double)ho.p99 / idle.p99 : 0.0);
  if (!t_done) sim_fail(w, "admission: the handoff did not finish within %u ms of the join", HANDOFF_LIMIT_MS);
  if (!idle.n || !ho.n) sim_fail(w, "admission: no client answers in a window (idle %zu, handoff %zu)", idle.n, ho.n);
  else if ((uint64_t)ho.p99 * 2 > (uint64_t)idle.p99 * 3)
    sim_fail(w, "admission: client p99 during the handoff %u ms is over 1.5 times the idle p99 %u ms", ho.p99,
             idle.p99);
  dyna_free(rec.t);
  dyna_free(rec.ms);
  return 0;
}
