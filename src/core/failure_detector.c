/* failure_detector.c: the failure detector, an accrual detector in the manner of phi-accrual
 * (Hayashibara et al.). Each node pings every live member every heartbeat interval;
 * any frame from a peer counts as a heartbeat. For each peer we keep the time it was
 * last heard from and a moving mean of the intervals between heartbeats; suspicion is
 *
 *     phi = log10(e) * (now - last_heard) / mean_interval
 *
 * (the exponential-distribution form), and a peer is judged unreachable when phi
 * exceeds the threshold (8: about 18 mean intervals, so ~3.7 s at 200 ms heartbeats)
 * and at least fd_min_ms passed. A single frame from it clears the suspicion. Why an
 * accrual detector rather than SWIM's indirect probes: with the 2-connection transport
 * every node already hears from every peer directly, the mean adapts to a loaded node,
 * and there is no extra message type to get wrong; what SWIM adds, telling a link cut
 * from a dead node, matters less when a cut link alone must already count as
 * unreachable for the coordinator on that side.
 * Integer arithmetic only, so runs replay exactly. */
#include "util/err.h"
#include "util/alloc.h"
#include "core/node_int.h"

#define PHI_X1000_THRESHOLD 8000
#define LOG10E_X1000 434

typedef struct fd_peer {
  uint64_t last_ms;
  uint64_t mean_ms;
  uint64_t last_ping_ms;
} fd_peer_t;

static fd_peer_t *peer(dyna_node_t *n, uint64_t id, int create) {
  dyna_idmap_entry_t *e = dyna_idmap_get(&n->fdet, id);
  if (e) return e->ptr;
  if (!create) return NULL;
  fd_peer_t *p = dyna_calloc(1, sizeof(*p));
  if (!p) return NULL;
  if (dyna_idmap_put(&n->fdet, id, p, 0)) {
    dyna_free(p);
    return NULL;
  }
  p->last_ms = n->now.mono_ms;
  p->mean_ms = n->cfg.heartbeat_ms;
  return p;
}

void dyna_fdet_heard(dyna_node_t *n, uint64_t id) {
  fd_peer_t *p = peer(n, id, 1);
  if (!p) return;
  uint64_t gap = n->now.mono_ms > p->last_ms ? n->now.mono_ms - p->last_ms : 0;
  /* Silent for at least fd_min_ms (heartbeats go every heartbeat_ms): a partition, a
   * pause or a restart ended, and writes may have missed either side. */
  if (gap >= n->cfg.fd_min_ms) dyna_node_peer_back(n, id);
  /* Moving mean over ~8 samples, kept at least a few ms so a burst of frames does not
   * make the detector hair-triggered. */
  p->mean_ms = (p->mean_ms * 7 + gap) / 8;
  if (p->mean_ms < n->cfg.heartbeat_ms / 2) p->mean_ms = n->cfg.heartbeat_ms / 2;
  if (p->mean_ms == 0) p->mean_ms = 1;
  p->last_ms = n->now.mono_ms;
}

void dyna_fdet_reset(dyna_node_t *n, uint64_t id) {
  fd_peer_t *p = peer(n, id, 1);
  if (!p) return;
  p->last_ms = n->now.mono_ms;
  p->mean_ms = n->cfg.heartbeat_ms;
}

int dyna_fdet_suspect(const dyna_node_t *n, uint64_t id) {
  dyna_idmap_entry_t *e = dyna_idmap_get(&n->fdet, id);
  if (!e) return 0;
  const fd_peer_t *p = e->ptr;
  uint64_t since = n->now.mono_ms > p->last_ms ? n->now.mono_ms - p->last_ms : 0;
  if (since < n->cfg.fd_min_ms) return 0;
  return since * LOG10E_X1000 > PHI_X1000_THRESHOLD * p->mean_ms;
}

uint64_t dyna_fdet_phi_x1000(const dyna_node_t *n, uint64_t id) {
  dyna_idmap_entry_t *e = dyna_idmap_get(&n->fdet, id);
  if (!e) return 0;
  const fd_peer_t *p = e->ptr;
  uint64_t since = n->now.mono_ms > p->last_ms ? n->now.mono_ms - p->last_ms : 0;
  return since * LOG10E_X1000 / p->mean_ms;
}

void dyna_fdet_tick(dyna_node_t *n) {
  for (size_t i = 0; i < n->cl.n; i++) {
    const dyna_member_t *m = &n->cl.m[i];
    if (m->id == n->cfg.id || m->status == DYNA_MEMBER_REMOVED) continue;
    if (dyna_idmap_get(&n->down, m->id)) continue; /* no link: nothing to ping over */
    fd_peer_t *p = peer(n, m->id, 1);
    if (!p || n->now.mono_ms - p->last_ping_ms < n->cfg.heartbeat_ms) continue;
    p->last_ping_ms = n->now.mono_ms;
    dyna_msg_t ping = {0};
    ping.type = DYNA_MSG_PING;
    ping.req = n->now.mono_ms ? n->now.mono_ms : 1;
    dyna_node_send(n, m->id, &ping);
  }
}

void dyna_fdet_free(dyna_node_t *n) {
  for (size_t i = 0; i < n->fdet.cap; i++)
    if (n->fdet.t[i].id) dyna_free(n->fdet.t[i].ptr);
  dyna_idmap_free(&n->fdet);
}
