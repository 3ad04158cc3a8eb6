/* hints.c: hinted handoff, the delivery half. Hints are written by coord.c (a fallback
 * node coordinating for, or receiving a PUT meant for, an unreachable home replica) and
 * kept durably in the HINT space under (partition, key, intended owner) (replica.c).
 * Every interval this sweep looks at a few partitions' hints and sends each hint whose
 * destination is reachable: to its intended owner while that owner is still a home
 * replica of the key, otherwise (the ring changed, the owner was removed) to the key's
 * current home replicas. A hint is deleted only after every destination acknowledged
 * it, and only if it did not change meanwhile (transfer.c). When a peer comes back after
 * a silence (node.c) the sweep rushes: a whole round without pausing between ticks, so
 * hints reach it within a few batches instead of a round of Q / 16 intervals (6.4 s at
 * Q = 1024). */
#include "util/err.h"
#include "core/keyspace.h"
#include "core/node_int.h"
#include <string.h>

#define PARTITIONS_PER_TICK 16
#define RUSH_PARTITIONS_PER_TICK 128

void dyna_hints_free(dyna_node_t *n) { dyna_xfer_clear(&n->hd.x); }

typedef struct sweep {
  dyna_node_t *n;
  int err;
} sweep_t;

static int in_list(uint64_t id, const uint64_t *l, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (l[i] == id) return 1;
  return 0;
}

static int consider(void *arg, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen) {
  sweep_t *sw = arg;
  dyna_node_t *n = sw->n;
  const uint8_t *skey;
  size_t sklen;
  uint64_t owner;
  if (dyna_hkey_parse(k, klen, &skey, &sklen, &owner)) return 0; /* not ours to judge */
  uint32_t p = dyna_skey_partition(skey, sklen);
  uint64_t homes[DYNA_MAX_N], targets[DYNA_MAX_N];
  size_t nh = dyna_node_replicas(n, p, homes), nt = 0;
  const dyna_member_t *m = dyna_cluster_find(&n->cl, owner);
  if (m && m->status == DYNA_MEMBER_VALID && in_list(owner, homes, nh)) {
    targets[nt++] = owner;
    /* A node that is itself a home replica of the key now (the ring changed) folds the
     * hint into its own copy too, so that what it answers to reads is what it stores. */
    if (owner != n->cfg.id && in_list(n->cfg.id, homes, nh)) targets[nt++] = n->cfg.id;
  } else {
    memcpy(targets, homes, nh * sizeof(uint64_t));
    nt = nh;
  }
  for (size_t i = 0; i < nt; i++)
    if (!dyna_node_is_reachable(n, targets[i])) return 0; /* later */
  sw->err = dyna_xfer_add(n, &n->hd.x, DYNA_SPACE_HINT, k, klen, v, vlen, p, targets, (uint32_t)nt);
  return sw->err || n->hd.x.nitems >= n->cfg.handoff_batch_keys;
}

int dyna_hints_on_ack(dyna_node_t *n, uint64_t from, const dyna_msg_t *m) {
  int mine = dyna_xfer_on_ack(n, &n->hd.x, from, m);
  if (mine && !n->hd.x.active) {
    n->hd.next_ms = n->now.mono_ms;
    dyna_hints_tick(n);
  }
  return mine;
}

void dyna_hints_rush(dyna_node_t *n) {
  n->hd.rush = n->cl.ring.size;
  n->hd.next_ms = n->now.mono_ms;
}

void dyna_hints_tick(dyna_node_t *n) {
  hints_t *h = &n->hd;
  uint32_t q = n->cl.ring.size;
  if (h->any) { /* every read looks for hints until one look finds none (replica.h) */
    int found = dyna_store_any(n->store, DYNA_SPACE_HINT, NULL, 0);
    if (found >= 0) h->any = found;
  }
  dyna_xfer_expire(n, &h->x);
  if (h->x.active || n->now.mono_ms < h->next_ms || !q) return;
  h->next_ms = n->now.mono_ms + n->cfg.handoff_interval_ms;
  if (!dyna_budget_ok(n)) return;
  sweep_t sw = {n, 0};
  uint32_t per = h->rush ? RUSH_PARTITIONS_PER_TICK : PARTITIONS_PER_TICK, i = 0;
  for (; i < per && !sw.err && h->x.nitems < n->cfg.handoff_batch_keys; i++) {
    uint32_t p = h->cursor % q;
    h->cursor = (p + 1) % q;
    uint8_t prefix[2] = {(uint8_t)(p >> 8), (uint8_t)p};
    dyna_store_iter(n->store, DYNA_SPACE_HINT, prefix, 2, consider, &sw);
  }
  if (h->rush) {
    h->rush = h->rush > i ? h->rush - i : 0;
    if (h->rush) h->next_ms = n->now.mono_ms; /* go on at the next tick */
  }
  if (sw.err || !h->x.nitems) {
    dyna_xfer_clear(&h->x);
    return;
  }
  uint64_t bytes = dyna_xfer_send(n, &h->x);
  n->stats.hints_bytes += bytes;
  dyna_budget_take(n, bytes);
}
