/* cmd_cluster.c: the Redis Cluster commands cluster-aware clients send (CLUSTER SLOTS,
 * SHARDS, NODES, INFO, KEYSLOT, MYID, HELP; READONLY, READWRITE), answered at once from
 * this node's current cluster state, so that such clients route each key to a node of
 * its preference list (docs/architecture.md, "Cluster-aware clients").
 *
 *   cluster state (members, ring) ──build_map──▶ partition map (proto/ring_reply.h)
 *        ──▶ proto/cluster_reply.c ──▶ SLOTS / SHARDS / NODES / INFO
 *
 * The map is built anew for each command (O(Q * N) time, O(Q * N) memory, freed before
 * returning), so after a join or leave the next CLUSTER SLOTS gives the new map. No
 * node ever answers -MOVED or -ASK: any node coordinates any key. COUNTKEYSINSLOT and
 * GETKEYSINSLOT are refused with a clear error (a slot's keys are not held by one
 * node). */
#include "runtime/cmd_table.h"
#include "proto/cluster_reply.h"
#include "proto/words.h"
#include "core/cluster.h"
#include "util/alloc.h"
#include "util/keyhash.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

/* The partition map and what CLUSTER answers need beside it, as this node sees them.
 * Owns everything it points to (map_free). */
typedef struct map {
  dyna_ring_reply_t r;
  char (*ids)[17];
  uint8_t *down;
  uint16_t *cport;
  dyna_cluster_view_t v;
} map_t;

static void map_free(map_t *m) {
  dyna_free(m->r.members);
  dyna_free(m->r.prefs);
  dyna_free(m->r.plen);
  dyna_free(m->ids);
  dyna_free(m->down);
  dyna_free(m->cport);
}

/* Builds the map from the node's cluster state: each partition's first N replicas (as
 * DYNA.RING lists them). Returns 0, or -1 with the error answered (memory short). */
static int map_build(dyna_server_t *s, conn_t *c, map_t *m) {
  memset(m, 0, sizeof(*m));
  const dyna_cluster_t *cl = dyna_node_cluster(s->node);
  size_t nm = cl->n ? cl->n : 1;
  uint32_t n = dyna_node_nval(s->node);
  if (n > DYNA_RING_REPLY_N_MAX) n = DYNA_RING_REPLY_N_MAX;
  m->r.size = cl->ring.size;
  m->r.n = n;
  m->r.version = cl->ring_version;
  m->r.nmembers = cl->n;
  m->r.members = dyna_calloc(nm, sizeof(*m->r.members));
  m->ids = dyna_calloc(nm, sizeof(*m->ids));
  m->down = dyna_calloc(nm, 1);
  m->cport = dyna_calloc(nm, sizeof(uint16_t));
  m->r.prefs = dyna_calloc((size_t)(m->r.size ? m->r.size : 1) * n, sizeof(uint16_t));
  m->r.plen = dyna_calloc(m->r.size ? m->r.size : 1, 1);
  if (!m->r.members || !m->ids || !m->down || !m->cport || !m->r.prefs || !m->r.plen) {
    map_free(m);
    dyna_conn_answer_error(c, DYNA_ERR_OOM);
    return -1;
  }
  for (size_t i = 0; i < cl->n; i++) {
    const dyna_member_t *mb = &cl->m[i];
    snprintf(m->ids[i], sizeof(m->ids[i]), "%016" PRIx64, mb->id);
    /* read-only views of the member's own strings, for the time of one command */
    m->r.members[i] = (dyna_ring_reply_member_t){m->ids[i], (char *)mb->client_addr, (char *)mb->name,
                                                 (char *)dyna_member_status_name(mb->status)};
    if (mb->id == s->node_id) m->v.self = i;
    else m->down[i] = !dyna_node_is_reachable(s->node, mb->id);
    char host[DYNA_ADDR_MAX];
    dyna_cluster_addr_split(mb->addr, host, sizeof(host), &m->cport[i]);
  }
  uint64_t pl[DYNA_RING_REPLY_N_MAX];
  for (uint32_t p = 0; p < m->r.size; p++) {
    size_t k = dyna_server_homes_site_first(s, p, pl); /* every site's homes, this site's first */
    if (k > n) k = n;
    uint8_t len = 0;
    for (size_t j = 0; j < k; j++) {
      size_t x = 0;
      while (x < cl->n && cl->m[x].id != pl[j]) x++;
      if (x < cl->n) m->r.prefs[(size_t)p * n + len++] = (uint16_t)x;
    }
    m->r.plen[p] = len;
  }
  const dyna_peer_stats_t *ps = dyna_peers_stats(s->peers);
  m->v.ring = &m->r;
  m->v.down = m->down;
  m->v.cport = m->cport;
  m->v.msgs_sent = ps->frames_out;
  m->v.msgs_received = ps->frames_in;
  return 0;
}

void dyna_cmd_cluster_slots(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)a;
  map_t m;
  if (map_build(s, c, &m)) return;
  dyna_cluster_put_slots(dyna_conn_answer_now(c), &m.v);
  map_free(&m);
}

void dyna_cmd_cluster_shards(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)a;
  map_t m;
  if (map_build(s, c, &m)) return;
  dyna_buf_t b = DYNA_BUF_INIT;
  if (dyna_cluster_put_shards(&b, &m.v) || b.oom) dyna_conn_answer_error(c, DYNA_ERR_OOM);
  else dyna_buf_put(dyna_conn_answer_now(c), b.data, b.len);
  dyna_buf_free(&b);
  map_free(&m);
}

/* Answers text as a bulk string (or the OOM error) and frees it. */
static void answer_text(conn_t *c, dyna_buf_t *t) {
  if (t->oom) dyna_conn_answer_error(c, DYNA_ERR_OOM);
  else dyna_resp_put_bulk(dyna_conn_answer_now(c), t->data, t->len);
  dyna_buf_free(t);
}

void dyna_cmd_cluster_nodes(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)a;
  map_t m;
  if (map_build(s, c, &m)) return;
  dyna_buf_t t = DYNA_BUF_INIT;
  dyna_cluster_nodes_text(&t, &m.v);
  map_free(&m);
  answer_text(c, &t);
}

void dyna_cmd_cluster_info(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)a;
  map_t m;
  if (map_build(s, c, &m)) return;
  dyna_buf_t t = DYNA_BUF_INIT;
  dyna_cluster_info_text(&t, &m.v);
  map_free(&m);
  answer_text(c, &t);
}

void dyna_cmd_cluster_keyslot(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)s;
  dyna_resp_put_int(dyna_conn_answer_now(c), dyna_key_slot(dyna_arg(a, 2), dyna_arg_len(a, 2)));
}

void dyna_cmd_cluster_myid(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)a;
  char hex[17], id[DYNA_CLUSTER_ID_LEN + 1];
  snprintf(hex, sizeof(hex), "%016" PRIx64, s->node_id);
  dyna_cluster_node_id(hex, id);
  dyna_resp_put_bulk_str(dyna_conn_answer_now(c), id);
}

/* Parses argument i as a non-negative integer as Redis does; -1 (answered) if not. */
static int arg_int(conn_t *c, const dyna_args_t *a, size_t i, long long *out) {
  char num[32], *end;
  if (dyna_arg_str(a, i, num, sizeof(num)) || !num[0] || (*out = strtoll(num, &end, 10), *end)) {
    dyna_conn_answer_error(c, DYNA_WORD_ERR " value is not an integer or out of range");
    return -1;
  }
  return 0;
}

/* COUNTKEYSINSLOT slot / GETKEYSINSLOT slot count: the arguments checked as Redis checks
 * them, then refused: a slot's keys are spread over its partition's replicas, and no
 * one node holds exactly them. */
void dyna_cmd_cluster_keysinslot(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)s;
  long long slot, count = 0;
  if (arg_int(c, a, 2, &slot)) return;
  if (a->argc == 4 && arg_int(c, a, 3, &count)) return;
  if (slot < 0 || slot >= (long long)DYNA_SLOTS || count < 0) {
    dyna_conn_answer_error(c, a->argc == 4 ? DYNA_WORD_ERR " Invalid slot or number of keys" : DYNA_WORD_ERR " Invalid slot");
    return;
  }
  dyna_conn_answer_error(c, DYNA_WORD_ERR " not served by Dyna: a slot's keys are spread over its partition's "
                                          "replicas, no one node holds them all");
}

/* READONLY and READWRITE: accepted. Reads go through a quorum whichever node a
 * client sends them to, so there is no replica-read mode to switch. */
void dyna_cmd_readonly(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)s;
  (void)a;
  dyna_resp_put_simple(dyna_conn_answer_now(c), "OK");
}
