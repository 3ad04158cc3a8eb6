/* cluster_reply.c: CLUSTER SLOTS, SHARDS, NODES and INFO from the partition map (see
 * cluster_reply.h). Pure: no I/O. */
#include "proto/cluster_reply.h"
#include "proto/resp.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/keyhash.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint16_t *prefs_of(const dyna_ring_reply_t *r, uint32_t p) { return &r->prefs[(size_t)p * r->n]; }

static int same_list(const dyna_ring_reply_t *r, uint32_t a, uint32_t b) {
  return r->plen[a] == r->plen[b] && !memcmp(prefs_of(r, a), prefs_of(r, b), r->plen[a] * sizeof(uint16_t));
}

int dyna_slot_range_next(const dyna_ring_reply_t *r, uint32_t *p, dyna_slot_range_t *out) {
  while (*p < r->size && r->plen[*p] == 0) (*p)++;
  if (*p >= r->size) return 0;
  uint32_t start = *p;
  while (*p + 1 < r->size && same_list(r, start, *p + 1)) (*p)++;
  out->p = start;
  out->first = dyna_partition_first_slot(start, r->size);
  out->last = dyna_partition_first_slot(*p, r->size) + dyna_partition_slots(r->size) - 1;
  (*p)++;
  return 1;
}

void dyna_cluster_node_id(const char *hex16, char out[DYNA_CLUSTER_ID_LEN + 1]) {
  size_t n = strlen(hex16);
  if (n > 16) n = 16;
  memset(out, '0', DYNA_CLUSTER_ID_LEN);
  memcpy(out + (16 - n), hex16, n);
  out[DYNA_CLUSTER_ID_LEN] = 0;
}

int dyna_cluster_addr_split(const char *addr, char *host, size_t hsize, uint16_t *port) {
  host[0] = 0;
  *port = 0;
  const char *h = addr, *colon;
  size_t hl;
  if (addr[0] == '[') {
    const char *close = strchr(addr, ']');
    if (!close || close[1] != ':') return -1;
    h = addr + 1;
    hl = (size_t)(close - h);
    colon = close + 1;
  } else {
    colon = strrchr(addr, ':');
    if (!colon) return -1;
    hl = (size_t)(colon - addr);
  }
  char *end;
  long v = strtol(colon + 1, &end, 10);
  if (!colon[1] || *end || v <= 0 || v > 65535 || hl >= hsize) return -1;
  memcpy(host, h, hl);
  host[hl] = 0;
  if (!strcmp(host, "0.0.0.0") || !strcmp(host, "::")) host[0] = 0; /* a wildcard: the host you dialled */
  *port = (uint16_t)v;
  return 0;
}

/* Member i's host, port and Redis id. */
typedef struct node_addr {
  char host[256];
  uint16_t port;
  char id[DYNA_CLUSTER_ID_LEN + 1];
} node_addr_t;

static void node_addr(const dyna_ring_reply_t *r, size_t i, node_addr_t *a) {
  dyna_cluster_addr_split(r->members[i].addr, a->host, sizeof(a->host), &a->port);
  dyna_cluster_node_id(r->members[i].id, a->id);
}

static int is_down(const dyna_cluster_view_t *v, size_t i) { return v->down && i != v->self && v->down[i]; }

/* ---------- CLUSTER SLOTS ---------- */

void dyna_cluster_put_slots(dyna_buf_t *b, const dyna_cluster_view_t *v) {
  const dyna_ring_reply_t *r = v->ring;
  dyna_slot_range_t sr;
  size_t n = 0;
  for (uint32_t p = 0; dyna_slot_range_next(r, &p, &sr);) n++;
  dyna_resp_put_array(b, n);
  node_addr_t a;
  for (uint32_t p = 0; dyna_slot_range_next(r, &p, &sr);) {
    size_t k = r->plen[sr.p];
    dyna_resp_put_array(b, 2 + k);
    dyna_resp_put_int(b, sr.first);
    dyna_resp_put_int(b, sr.last);
    for (size_t j = 0; j < k; j++) {
      node_addr(r, prefs_of(r, sr.p)[j], &a);
      dyna_resp_put_array(b, 4);
      dyna_resp_put_bulk_str(b, a.host);
      dyna_resp_put_int(b, a.port);
      dyna_resp_put_bulk_str(b, a.id);
      dyna_resp_put_array(b, 0); /* no extra networking metadata (no hostnames) */
    }
  }
}

/* ---------- CLUSTER SHARDS ---------- */

/* qsort's comparator over ranges: by preference list, then by first slot. The ring
 * pointer rides in a file-scope variable set just before the sort (qsort has no
 * context argument in C11); pure, and single-threaded per call. */
static _Thread_local const dyna_ring_reply_t *sort_ring;

static int range_cmp(const void *x, const void *y) {
  const dyna_slot_range_t *a = x, *b = y;
  const dyna_ring_reply_t *r = sort_ring;
  size_t la = r->plen[a->p], lb = r->plen[b->p];
  const uint16_t *pa = prefs_of(r, a->p), *pb = prefs_of(r, b->p);
  for (size_t j = 0; j < la && j < lb; j++)
    if (pa[j] != pb[j]) return pa[j] < pb[j] ? -1 : 1;
  if (la != lb) return la < lb ? -1 : 1;
  return a->first < b->first ? -1 : a->first > b->first;
}

int dyna_cluster_put_shards(dyna_buf_t *b, const dyna_cluster_view_t *v) {
  const dyna_ring_reply_t *r = v->ring;
  dyna_slot_range_t sr;
  size_t n = 0;
  for (uint32_t p = 0; dyna_slot_range_next(r, &p, &sr);) n++;
  dyna_slot_range_t *rs = n ? dyna_malloc(n * sizeof(*rs)) : NULL;
  if (n && !rs) return DYNA_ENOMEM;
  n = 0;
  for (uint32_t p = 0; dyna_slot_range_next(r, &p, &sr);) rs[n++] = sr;
  sort_ring = r;
  if (n > 1) qsort(rs, n, sizeof(*rs), range_cmp);
  sort_ring = NULL;
  size_t shards = 0;
  for (size_t i = 0; i < n; i++)
    if (i == 0 || !same_list(r, rs[i - 1].p, rs[i].p)) shards++;
  dyna_resp_put_array(b, shards);
  node_addr_t a;
  for (size_t i = 0; i < n;) {
    size_t end = i + 1;
    while (end < n && same_list(r, rs[i].p, rs[end].p)) end++;
    dyna_resp_put_array(b, 4);
    dyna_resp_put_bulk_str(b, "slots");
    dyna_resp_put_array(b, 2 * (end - i));
    for (size_t j = i; j < end; j++) {
      dyna_resp_put_int(b, rs[j].first);
      dyna_resp_put_int(b, rs[j].last);
    }
    dyna_resp_put_bulk_str(b, "nodes");
    size_t k = r->plen[rs[i].p];
    dyna_resp_put_array(b, k);
    for (size_t j = 0; j < k; j++) {
      size_t m = prefs_of(r, rs[i].p)[j];
      node_addr(r, m, &a);
      dyna_resp_put_array(b, 14);
      dyna_resp_put_bulk_str(b, "id");
      dyna_resp_put_bulk_str(b, a.id);
      dyna_resp_put_bulk_str(b, "port");
      dyna_resp_put_int(b, a.port);
      dyna_resp_put_bulk_str(b, "ip");
      dyna_resp_put_bulk_str(b, a.host);
      dyna_resp_put_bulk_str(b, "endpoint");
      dyna_resp_put_bulk_str(b, a.host);
      dyna_resp_put_bulk_str(b, "role");
      dyna_resp_put_bulk_str(b, j == 0 ? "master" : "replica");
      dyna_resp_put_bulk_str(b, "replication-offset");
      dyna_resp_put_int(b, 0);
      dyna_resp_put_bulk_str(b, "health");
      dyna_resp_put_bulk_str(b, is_down(v, m) ? "failed" : "online");
    }
    i = end;
  }
  dyna_free(rs);
  return 0;
}

/* ---------- CLUSTER NODES ---------- */

static void put_text(dyna_buf_t *t, const char *s) { dyna_buf_put(t, s, strlen(s)); }

void dyna_cluster_nodes_text(dyna_buf_t *t, const dyna_cluster_view_t *v) {
  const dyna_ring_reply_t *r = v->ring;
  node_addr_t a;
  char line[512];
  for (size_t i = 0; i < r->nmembers; i++) {
    if (!strcmp(r->members[i].status, "removed")) continue;
    node_addr(r, i, &a);
    int down = is_down(v, i);
    int n = snprintf(line, sizeof(line), "%s %s:%u@%u %smaster%s - 0 0 %" PRIu64 " %s", a.id, a.host,
                     (unsigned)a.port, v->cport ? (unsigned)v->cport[i] : 0u, i == v->self ? "myself," : "",
                     down ? ",fail?" : "", r->version, down ? "disconnected" : "connected");
    dyna_buf_put(t, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
    dyna_slot_range_t sr;
    for (uint32_t p = 0; dyna_slot_range_next(r, &p, &sr);) {
      if (prefs_of(r, sr.p)[0] != i) continue;
      if (sr.first == sr.last) n = snprintf(line, sizeof(line), " %u", sr.first);
      else n = snprintf(line, sizeof(line), " %u-%u", sr.first, sr.last);
      dyna_buf_put(t, line, (size_t)n);
    }
    put_text(t, "\n");
  }
}

/* ---------- CLUSTER INFO ---------- */

static void info_line(dyna_buf_t *t, const char *name, uint64_t v) {
  char line[96];
  int n = snprintf(line, sizeof(line), "%s:%" PRIu64 "\r\n", name, v);
  dyna_buf_put(t, line, (size_t)n);
}

void dyna_cluster_info_text(dyna_buf_t *t, const dyna_cluster_view_t *v) {
  const dyna_ring_reply_t *r = v->ring;
  uint64_t assigned = 0, pfail = 0, known = 0, heads = 0;
  dyna_slot_range_t sr;
  for (uint32_t p = 0; dyna_slot_range_next(r, &p, &sr);) {
    uint64_t slots = sr.last - sr.first + 1;
    assigned += slots;
    if (is_down(v, prefs_of(r, sr.p)[0])) pfail += slots;
  }
  for (size_t i = 0; i < r->nmembers; i++) {
    if (strcmp(r->members[i].status, "removed")) known++;
    for (uint32_t p = 0; dyna_slot_range_next(r, &p, &sr);)
      if (prefs_of(r, sr.p)[0] == i) { heads++; break; }
  }
  put_text(t, assigned == DYNA_SLOTS ? "cluster_state:ok\r\n" : "cluster_state:fail\r\n");
  info_line(t, "cluster_slots_assigned", assigned);
  info_line(t, "cluster_slots_ok", assigned - pfail);
  info_line(t, "cluster_slots_pfail", pfail);
  info_line(t, "cluster_slots_fail", 0);
  info_line(t, "cluster_known_nodes", known);
  info_line(t, "cluster_size", heads);
  info_line(t, "cluster_current_epoch", r->version);
  info_line(t, "cluster_my_epoch", r->version);
  info_line(t, "cluster_stats_messages_sent", v->msgs_sent);
  info_line(t, "cluster_stats_messages_received", v->msgs_received);
  info_line(t, "total_cluster_links_buffer_limit_exceeded", 0);
}
