/* queue.c: the simulator's event queue, a binary min-heap ordered by (time, sequence
 * number). The sequence number is assigned at scheduling, so events due at the same
 * simulated millisecond run in the order they were scheduled: ties never depend on
 * heap layout or addresses, and a run replays exactly.
 * Ownership: the queue owns each queued event's data until it is popped; then the
 * popper owns it. */
#include "util/alloc.h"
#include "sim/sim.h"
#include <stdlib.h>

static int ev_less(const sim_event_t *a, const sim_event_t *b) {
  return a->t != b->t ? a->t < b->t : a->seq < b->seq;
}

void sim_queue_free(sim_queue_t *q) {
  for (size_t i = 0; i < q->n; i++) dyna_free(q->ev[i].data);
  dyna_free(q->ev);
  q->ev = NULL;
  q->n = q->cap = 0;
}

/* Pushes e; O(log n). Aborts on out-of-memory: a simulator run cannot go on without
 * its events, and the run is reproducible anyway. */
void sim_schedule(sim_world_t *w, sim_event_t *e) {
  sim_queue_t *q = &w->q;
  if (e->t < w->now) e->t = w->now;
  e->seq = ++w->seq;
  if (q->n == q->cap) {
    size_t cap = q->cap ? q->cap * 2 : 1024;
    sim_event_t *nv = dyna_realloc(q->ev, cap * sizeof(*nv));
    if (!nv) abort();
    q->ev = nv;
    q->cap = cap;
  }
  size_t i = q->n++;
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!ev_less(e, &q->ev[p])) break;
    q->ev[i] = q->ev[p];
    i = p;
  }
  q->ev[i] = *e;
}

int sim_queue_pop(sim_queue_t *q, sim_event_t *e) {
  if (!q->n) return 0;
  *e = q->ev[0];
  sim_event_t last = q->ev[--q->n];
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    const sim_event_t *best = &last;
    if (l < q->n && ev_less(&q->ev[l], best)) { m = l; best = &q->ev[l]; }
    if (r < q->n && ev_less(&q->ev[r], best)) { m = r; }
    if (m == i) break;
    q->ev[i] = q->ev[m];
    i = m;
  }
  if (q->n) q->ev[i] = last;
  return 1;
}

uint64_t sim_queue_next_t(const sim_queue_t *q) { return q->n ? q->ev[0].t : UINT64_MAX; }
