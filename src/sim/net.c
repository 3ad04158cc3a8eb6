/* net.c: the simulated network between nodes.
 *
 *   node A outbox ──sim_net_send──▶ [link A→B cut? lost? duplicated?] ──delay──▶ EV_MSG
 *   EV_MSG ──sim_net_deliver──▶ [link still up? both incarnations unchanged?] ──▶
 *          dyna_node_on_message(B) ──▶ commit, drain (world.c)
 *
 * A link is up when both ends run and sit in the same partition group. Frames on a cut
 * link are lost, as are frames whose sender or receiver restarted since they left (a
 * restart breaks the TCP connection they travelled on). Delays are 0.2 ms plus an
 * exponential part (mean 1 ms, or 3 ms under SF_LOSS, with rare 50-250 ms spikes: 1% of
 * frames under SF_LOSS, or the share --spikes sets, in any mix);
 * links deliver in FIFO order like TCP unless the reorder probability lets a frame
 * overtake. Loss and duplication go beyond TCP on purpose: they exercise retries and
 * idempotence. With --sites, a frame between two sites takes --wan-ms more (the WAN).
 *
 * Reachability: like dynad's peer layer, a node learns that a peer is unreachable (or
 * reachable again) only after a detection delay: every topology change schedules, for
 * each running node, an EV_REACH that compares the node's view with the truth and calls
 * dyna_node_set_reachable for each difference. O(S) per node per change.
 */
#include "util/alloc.h"
#include "proto/wire.h"
#include "sim/rng.h"
#include "sim/sim.h"
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

int sim_link_up(const sim_world_t *w, uint32_t a, uint32_t b) {
  const sim_node_t *x = &w->nodes[a], *y = &w->nodes[b];
  return x->state == SN_UP && y->state == SN_UP && x->grp == y->grp;
}

int sim_node_index(const sim_world_t *w, uint64_t id) {
  uint32_t lo = 0, hi = w->nbyid;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (w->byid[2 * mid] < id) lo = mid + 1;
    else hi = mid;
  }
  return lo < w->nbyid && w->byid[2 * lo] == id ? (int)w->byid[2 * lo + 1] : -1;
}

static uint64_t draw_delay_us(sim_world_t *w) {
  double mean = (w->o.faults & SF_LOSS) ? 3000.0 : 1000.0;
  double d = 200.0 + sim_rng_exp(&w->rng, mean);
  double spike = w->spike > w->o.spikes ? w->spike : w->o.spikes;
  if (sim_rng_chance(&w->rng, spike)) d += (double)sim_rng_range(&w->rng, 50000, 250000);
  return (uint64_t)d;
}

/* --frame-cost: node i's CPU takes a frame of len bytes, starting when it is free (now
 * at the earliest); returns when it is done, in simulated us (now when frames are free). */
static uint64_t cpu_take(sim_world_t *w, uint32_t i, size_t len) {
  uint64_t now_us = w->now * 1000;
  if (!w->o.frame_cost) return now_us;
  sim_node_t *s = &w->nodes[i];
  if (s->busy_us < now_us) s->busy_us = now_us;
  s->busy_us += 2 + (uint64_t)len * w->o.frame_cost / 1024;
  return s->busy_us;
}

/* Schedules one copy of the frame, leaving the sender at depart_us; delivery times are
 * kept in microseconds per link for FIFO order, events in milliseconds (rounded up). */
static void send_copy(sim_world_t *w, uint32_t from, uint32_t to, uint8_t *data, size_t len,
                      uint64_t depart_us) {
  uint64_t t_us = depart_us + draw_delay_us(w);
  if (w->o.sites && strcmp(w->nodes[from].dc, w->nodes[to].dc)) t_us += w->o.wan_ms * 1000; /* the WAN */
  uint64_t *last = &w->link_last[(size_t)from * w->cap + to];
  if (!sim_rng_chance(&w->rng, w->reorder) && t_us < *last) t_us = *last;
  if (t_us > *last) *last = t_us;
  sim_event_t e = {0};
  e.t = (t_us + 999) / 1000;
  e.type = EV_MSG;
  e.a = from;
  e.b = to;
  e.ia = w->nodes[from].inc;
  e.ib = w->nodes[to].inc;
  e.data = data;
  e.len = len;
  sim_schedule(w, &e);
}

void sim_net_send(sim_world_t *w, uint32_t from, uint64_t to_id, dyna_buf_t *frame) {
  int to = sim_node_index(w, to_id);
  w->st.msgs_sent++;
  if (frame->len > 5) { /* counted by type whatever becomes of it (--experiment traffic) */
    w->st.type_frames[frame->data[5] & 31]++;
    w->st.type_bytes[frame->data[5] & 31] += frame->len;
  }
  uint64_t depart_us = cpu_take(w, from, frame->len);
  int lost = sim_rng_chance(&w->rng, w->loss);
  if (to < 0 || !sim_link_up(w, from, (uint32_t)to) || lost) {
    w->st.msgs_dropped++;
    dyna_buf_free(frame);
    return;
  }
  if (sim_rng_chance(&w->rng, w->dup)) {
    uint8_t *copy = dyna_memdup(frame->data, frame->len);
    if (!copy) abort();
    w->st.msgs_duplicated++;
    send_copy(w, from, (uint32_t)to, copy, frame->len, depart_us);
  }
  send_copy(w, from, (uint32_t)to, frame->data, frame->len, depart_us);
  frame->data = NULL;
  dyna_buf_free(frame);
}

void sim_net_deliver(sim_world_t *w, sim_event_t *e) {
  sim_node_t *to = &w->nodes[e->b];
  /* --frame-cost: at arrival a frame takes its turn on its node's CPU (first come,
   * first served); when that turn starts in a later millisecond, the frame is handled
   * then. The driver reports the wait as the node's foreground latency, the way dynad
   * reports its event loop's lag (core/admission.h). */
  if (w->o.frame_cost && !e->x && to->state == SN_UP && to->inc == e->ib && !to->hung) {
    uint64_t now_us = w->now * 1000, start = to->busy_us > now_us ? to->busy_us : now_us;
    dyna_node_foreground_latency(to->node, start - now_us);
    cpu_take(w, e->b, e->len);
    if (start >= now_us + 1000) {
      sim_event_t later = *e;
      later.t = start / 1000;
      later.x = 1; /* its turn is taken */
      sim_schedule(w, &later);
      e->data = NULL; /* the later event owns the frame */
      return;
    }
  }
  if (!sim_link_up(w, e->a, e->b) || w->nodes[e->a].inc != e->ia || to->inc != e->ib || to->hung) {
    w->st.msgs_dropped++;
    sim_digest(w, 0xD0, e->a, e->b, NULL, 0);
    return;
  }
  /* Workaround (docs/simulation.md, core issues): a joined node that has not adopted
   * the cluster's ring yet believes it is alone and would coordinate a forwarded write
   * with W capped at 1; the fix is for it to refuse, which dropping the frame models
   * (the forwarder times out). --strict delivers it. */
  if (to->joining && !w->o.strict && e->len > 5 && e->data[5] == DYNA_MSG_FWD) {
    w->st.msgs_dropped++;
    sim_digest(w, 0xD1, e->a, e->b, NULL, 0);
    return;
  }
  w->st.msgs_delivered++;
  sim_digest(w, EV_MSG, e->a, e->b, e->data, e->len);
  if (w->o.verbose)
    sim_trace(w, "msg %s -> %s type %u len %zu", w->nodes[e->a].name, to->name,
              e->len > 5 ? e->data[5] : 0, e->len);
  dyna_node_on_message(to->node, w->nodes[e->a].id, e->data, e->len, sim_node_time(w, e->b));
  sim_node_turn_end(w, e->b);
}

/* Node i compares its view of every known peer with the truth. */
void sim_net_reach(sim_world_t *w, uint32_t i, int immediate) {
  sim_node_t *me = &w->nodes[i];
  if (me->state != SN_UP) return;
  int changed = 0;
  for (uint32_t j = 0; j < w->nnodes; j++) {
    if (j == i || w->nodes[j].state == SN_OFF) continue;
    int truth = sim_link_up(w, i, j);
    if (dyna_node_is_reachable(me->node, w->nodes[j].id) != truth) {
      dyna_node_set_reachable(me->node, w->nodes[j].id, truth, sim_node_time(w, i));
      sim_digest(w, EV_REACH, i, j * 2 + (uint64_t)truth, NULL, 0);
      changed = 1;
    }
  }
  if (changed && !immediate) sim_node_turn_end(w, i);
}

void sim_net_topology_changed(sim_world_t *w) {
  for (uint32_t i = 0; i < w->nnodes; i++) {
    if (w->nodes[i].state != SN_UP) continue;
    sim_event_t e = {0};
    e.t = w->now + w->detect_ms + sim_rng_below(&w->rng, w->detect_ms + 1);
    e.type = EV_REACH;
    e.a = i;
    e.ia = w->nodes[i].inc;
    sim_schedule(w, &e);
  }
}
