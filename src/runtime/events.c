/* events.c: log lines for what an operator follows, with their figures, made by comparing
 * what the node shows now with what it showed at the last tick (the core keeps state and
 * counters and prints nothing; this is where they become events):
 *
 *   member appears / changes status        "member n4 (id) joined: valid", "... valid -> leaving"
 *   member reachable <-> unreachable       "member n2 (id) unreachable" / "reachable again"
 *   ring changes                           "ring version 3 -> 4: this node owns 64 of 256 partitions (was 85)"
 *   background work, at most every 10 s    "background: handoff 120 keys (1.2 MiB) sent, ...; anti-entropy ..."
 *
 * Called from the server's tick (every 50 ms): O(members) a tick. */
#include "runtime/events.h"
#include "runtime/log.h"
#include "runtime/server_int.h"
#include "core/cluster.h"
#include "util/alloc.h"
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define EVENTS_PROGRESS_MS 10000
#define EVENTS_MEMBERS_MAX 1024 /* members followed; more are left out of these lines */

typedef struct seen_member {
  uint64_t id;
  uint8_t status;
  uint8_t reachable;
} seen_member_t;

struct dyna_events {
  int started;
  seen_member_t m[EVENTS_MEMBERS_MAX];
  size_t n;
  uint64_t ring_version, owned;
  dyna_node_stats_t last; /* counters at the last progress line */
  uint64_t last_ms;
};

static const seen_member_t *find(const dyna_events_t *e, uint64_t id) {
  for (size_t i = 0; i < e->n; i++)
    if (e->m[i].id == id) return &e->m[i];
  return NULL;
}

static void human(char *out, size_t cap, uint64_t bytes) {
  if (bytes < 1024) snprintf(out, cap, "%" PRIu64 " B", bytes);
  else if (bytes < (1u << 20)) snprintf(out, cap, "%.1f KiB", (double)bytes / 1024);
  else snprintf(out, cap, "%.1f MiB", (double)bytes / (1 << 20));
}

static void members(dyna_server_t *s, dyna_events_t *e) {
  const dyna_cluster_t *cl = dyna_node_cluster(s->node);
  seen_member_t now[EVENTS_MEMBERS_MAX];
  size_t n = cl->n < EVENTS_MEMBERS_MAX ? cl->n : EVENTS_MEMBERS_MAX;
  for (size_t i = 0; i < n; i++) {
    const dyna_member_t *m = &cl->m[i];
    now[i].id = m->id;
    now[i].status = m->status;
    now[i].reachable = m->id == s->node_id || dyna_node_is_reachable(s->node, m->id);
    const seen_member_t *was = e->started ? find(e, m->id) : NULL;
    if (!e->started) continue;
    if (!was) {
      LOG_INFO("member %s (%016" PRIx64 ", %s) joined: %s", m->name, m->id, m->addr, dyna_member_status_name(m->status));
    } else {
      if (was->status != m->status)
        LOG_INFO("member %s (%016" PRIx64 "): %s -> %s", m->name, m->id, dyna_member_status_name(was->status),
                 dyna_member_status_name(m->status));
      if (was->reachable != now[i].reachable && m->status != DYNA_MEMBER_REMOVED) {
        if (now[i].reachable) LOG_INFO("member %s (%016" PRIx64 ") reachable again", m->name, m->id);
        else LOG_WARN("member %s (%016" PRIx64 ") unreachable", m->name, m->id);
      }
    }
  }
  memcpy(e->m, now, n * sizeof(now[0]));
  e->n = n;
  uint64_t owned = dyna_ring_owned(&cl->ring, s->node_id);
  if (!e->started)
    LOG_INFO("cluster: %zu members, ring version %" PRIu64 ", this node owns %" PRIu64 " of %u partitions", cl->n,
             cl->ring_version, owned, (unsigned)cl->ring.size);
  else if (cl->ring_version != e->ring_version)
    LOG_INFO("ring version %" PRIu64 " -> %" PRIu64 ": this node owns %" PRIu64 " of %u partitions (was %" PRIu64 ")",
             e->ring_version, cl->ring_version, owned, (unsigned)cl->ring.size, e->owned);
  e->ring_version = cl->ring_version;
  e->owned = owned;
}

static void progress(dyna_server_t *s, dyna_events_t *e) {
  uint64_t now = dyna_server_now(s);
  if (now - e->last_ms < EVENTS_PROGRESS_MS) return;
  const dyna_node_stats_t *ns = dyna_node_stats(s->node);
  const dyna_node_stats_t *w = &e->last;
  char line[512], b1[32], b2[32];
  size_t k = 0;
  line[0] = 0;
  if (ns->handoff_keys_sent != w->handoff_keys_sent || ns->handoff_keys_deleted != w->handoff_keys_deleted) {
    human(b1, sizeof(b1), ns->handoff_bytes - w->handoff_bytes);
    k += (size_t)snprintf(line + k, sizeof(line) - k, "; handoff %" PRIu64 " keys (%s) sent, %" PRIu64 " handed over",
                          ns->handoff_keys_sent - w->handoff_keys_sent, b1,
                          ns->handoff_keys_deleted - w->handoff_keys_deleted);
  }
  if (k < sizeof(line) && (ns->hints_stored != w->hints_stored || ns->hints_delivered != w->hints_delivered)) {
    human(b2, sizeof(b2), ns->hints_bytes - w->hints_bytes);
    k += (size_t)snprintf(line + k, sizeof(line) - k, "; hints %" PRIu64 " stored, %" PRIu64 " delivered (%s)",
                          ns->hints_stored - w->hints_stored, ns->hints_delivered - w->hints_delivered, b2);
  }
  if (k < sizeof(line) && (ns->aae_keys_sent != w->aae_keys_sent || ns->aae_keys_repaired != w->aae_keys_repaired))
    k += (size_t)snprintf(line + k, sizeof(line) - k,
                          "; anti-entropy %" PRIu64 " exchanges, %" PRIu64 " keys sent, %" PRIu64 " repaired",
                          ns->aae_exchanges - w->aae_exchanges, ns->aae_keys_sent - w->aae_keys_sent,
                          ns->aae_keys_repaired - w->aae_keys_repaired);
  if (k < sizeof(line) && ns->read_repairs != w->read_repairs)
    k += (size_t)snprintf(line + k, sizeof(line) - k, "; read repairs %" PRIu64, ns->read_repairs - w->read_repairs);
  if (k) LOG_INFO("background in the last %.1f s: %s", (double)(now - e->last_ms) / 1000.0, line + 2);
  e->last = *ns;
  e->last_ms = now;
}

void dyna_events_tick(dyna_server_t *s) {
  if (!s->events) {
    s->events = dyna_calloc(1, sizeof(*s->events));
    if (!s->events) return; /* no memory: no event lines, nothing else lost */
    s->events->last = *dyna_node_stats(s->node);
    s->events->last_ms = dyna_server_now(s);
  }
  members(s, s->events);
  s->events->started = 1;
  progress(s, s->events);
}

void dyna_events_free(dyna_server_t *s) {
  dyna_free(s->events);
  s->events = NULL;
}
