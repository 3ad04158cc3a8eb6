/* http_api.c: the JSON admin API of the HTTP port (docs/http.md): the cluster as this
 * node sees it (GET /status, GET /ring, made at once from the loop's state), one key's
 * siblings and context (GET /keys/{key}, a quorum read as DYNA.GET), and the membership
 * and repair actions of DYNA.ADMIN (POST /admin/repair, /admin/leave, /admin/join), whose
 * OK, like DYNA.ADMIN's, waits until the cluster state they changed is durable.
 *
 * Byte strings (keys, values, names) are written as JSON strings escaped by util/json.h
 * (bytes that are not UTF-8 become U+FFFD there), and keys and values also as base64
 * (`key_b64`, `value_b64`): the exact bytes, whatever they are. */
#include "runtime/http_int.h"
#include "core/cluster.h"
#include "core/keyspace.h"
#include "core/object.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/json.h"
#include "util/keyhash.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void hex_id(char *out, size_t cap, uint64_t id) { snprintf(out, cap, "%016" PRIx64, id); }

static void done_json(http_req_t *q) {
  dyna_buf_put(&q->out, "\n", 1);
  q->status = 200;
  q->ctype = DYNA_HTTP_JSON;
  q->state = HTTP_DONE;
}

static const char *reach_of(dyna_server_t *s, uint64_t id) {
  return id == s->node_id ? "self" : dyna_node_is_reachable(s->node, id) ? "reachable" : "unreachable";
}

/* Hints this node holds, by intended owner (the web dashboard's "hints waiting per
 * target"): counted by walking the hint space, at most HINTS_WALK_MAX records. */
#define HINTS_WALK_MAX 100000
typedef struct hint_count {
  const dyna_cluster_t *cl;
  uint64_t *per;  /* [cl->n]: hints for cl->m[i] */
  uint64_t other; /* for an owner this node does not know */
  uint64_t seen;
} hint_count_t;

static int count_hint(void *arg, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen) {
  hint_count_t *hc = arg;
  const uint8_t *skey;
  size_t sklen;
  uint64_t owner;
  size_t i = 0;
  (void)v, (void)vlen;
  if (!dyna_hkey_parse(k, klen, &skey, &sklen, &owner)) {
    while (i < hc->cl->n && hc->cl->m[i].id != owner) i++;
    if (i < hc->cl->n) hc->per[i]++;
    else hc->other++;
  }
  return ++hc->seen >= HINTS_WALK_MAX;
}

/* The member of id (NULL when the ring names one this node does not know). */
static const dyna_member_t *member_of(const dyna_cluster_t *cl, uint64_t id) {
  for (size_t i = 0; i < cl->n; i++)
    if (cl->m[i].id == id) return &cl->m[i];
  return NULL;
}

static uint64_t since(uint64_t now, uint64_t t) { return now > t ? now - t : 0; }

/* A member's name, or its id in hex when this node does not know it. */
static void json_member(dyna_json_t *j, const dyna_cluster_t *cl, uint64_t id) {
  const dyna_member_t *m = member_of(cl, id);
  char hex[32];
  hex_id(hex, sizeof(hex), id);
  dyna_json_str(j, m ? m->name : hex);
}

/* The "transfers" array of /status: the partition moves this node sends or receives
 * (core's dyna_node_moves_out/_in), those under way first, then the most recently
 * updated, at most TRANSFERS_MAX. Outgoing: state waiting, sending or done, to the
 * partition's home replicas now, keys_total (held here when the move began), keys_sent,
 * keys_done (acknowledged by every target and deleted here), bytes. Incoming: state
 * receiving while keys came in the last 2 s, idle after; keys and bytes received. */
#define TRANSFERS_MAX 128
typedef struct xfer_row {
  const dyna_move_t *m;
  int in, live;
} xfer_row_t;

static int xfer_cmp(const void *a, const void *b) {
  const xfer_row_t *x = a, *y = b;
  if (x->live != y->live) return y->live - x->live;
  if (x->m->updated_ms != y->m->updated_ms) return x->m->updated_ms < y->m->updated_ms ? 1 : -1;
  return x->m->partition < y->m->partition ? -1 : x->m->partition > y->m->partition;
}

static void status_transfers(dyna_server_t *s, dyna_json_t *j) {
  const dyna_cluster_t *cl = dyna_node_cluster(s->node);
  const dyna_move_t *out, *in;
  size_t nout = dyna_node_moves_out(s->node, &out), nin = dyna_node_moves_in(s->node, &in), k = 0;
  uint64_t now = dyna_server_now(s), pl[DYNA_MAX_N];
  xfer_row_t *rows = dyna_calloc(nout + nin + 1, sizeof(*rows)); /* none when out of memory */
  for (size_t i = 0; rows && i < nout + nin; i++) {
    const dyna_move_t *m = i < nout ? &out[i] : &in[i - nout];
    if (!m->state) continue;
    rows[k].m = m;
    rows[k].in = i >= nout;
    rows[k].live = m->state == DYNA_MOVE_WAITING || m->state == DYNA_MOVE_SENDING ||
                   (m->state == DYNA_MOVE_RECEIVING && since(now, m->updated_ms) < 2000);
    k++;
  }
  if (k > 1) qsort(rows, k, sizeof(*rows), xfer_cmp);
  dyna_json_key(j, "transfers");
  dyna_json_arr_open(j);
  for (size_t r = 0; r < k && r < TRANSFERS_MAX; r++) {
    const dyna_move_t *m = rows[r].m;
    const char *state = m->state == DYNA_MOVE_WAITING ? "waiting" : m->state == DYNA_MOVE_SENDING ? "sending"
                        : m->state == DYNA_MOVE_DONE ? "done" : rows[r].live ? "receiving" : "idle";
    dyna_json_obj_open(j);
    dyna_json_key(j, "partition");
    dyna_json_u64(j, m->partition);
    dyna_json_key(j, "direction");
    dyna_json_str(j, rows[r].in ? "in" : "out");
    dyna_json_key(j, "state");
    dyna_json_str(j, state);
    dyna_json_key(j, "from");
    json_member(j, cl, rows[r].in ? m->from : s->node_id);
    dyna_json_key(j, "to");
    dyna_json_arr_open(j);
    if (rows[r].in) {
      json_member(j, cl, s->node_id);
    } else if (m->partition < cl->ring.size) {
      size_t np = dyna_node_replicas(s->node, m->partition, pl);
      for (size_t t = 0; t < np; t++) json_member(j, cl, pl[t]);
    }
    dyna_json_arr_close(j);
    if (!rows[r].in) {
      dyna_json_key(j, "keys_total");
      dyna_json_u64(j, m->keys_total);
      dyna_json_key(j, "keys_sent");
      dyna_json_u64(j, m->keys);
      dyna_json_key(j, "keys_done");
      dyna_json_u64(j, m->keys_done);
    } else {
      dyna_json_key(j, "keys_received");
      dyna_json_u64(j, m->keys);
    }
    dyna_json_key(j, "bytes");
    dyna_json_u64(j, m->bytes);
    dyna_json_key(j, "age_ms");
    dyna_json_u64(j, since(now, m->started_ms));
    dyna_json_key(j, "idle_ms");
    dyna_json_u64(j, since(now, m->updated_ms));
    dyna_json_obj_close(j);
  }
  dyna_json_arr_close(j);
  dyna_free(rows);
}

/* The "progress" object of /status: background work as INFO counts it (since start). */
static void status_progress(dyna_server_t *s, dyna_json_t *j, const hint_count_t *hc) {
  const dyna_node_stats_t *ns = dyna_node_stats(s->node);
  uint32_t matched, replicated, forced;
  dyna_node_aae_progress(s->node, &matched, &replicated, &forced);
  dyna_json_key(j, "progress");
  dyna_json_obj_open(j);
  dyna_json_key(j, "aae_partitions_replicated");
  dyna_json_u64(j, replicated);
  dyna_json_key(j, "aae_partitions_matched");
  dyna_json_u64(j, matched);
  dyna_json_key(j, "aae_partitions_queued");
  dyna_json_u64(j, forced);
  dyna_json_key(j, "aae_exchanges");
  dyna_json_u64(j, ns->aae_exchanges);
  dyna_json_key(j, "aae_keys_repaired");
  dyna_json_u64(j, ns->aae_keys_repaired);
  dyna_json_key(j, "handoff_keys_sent");
  dyna_json_u64(j, ns->handoff_keys_sent);
  dyna_json_key(j, "handoff_bytes");
  dyna_json_u64(j, ns->handoff_bytes);
  dyna_json_key(j, "handoff_partitions_pending");
  dyna_json_u64(j, dyna_node_handoff_pending(s->node));
  dyna_json_key(j, "hints_stored");
  dyna_json_u64(j, ns->hints_stored);
  dyna_json_key(j, "hints_delivered");
  dyna_json_u64(j, ns->hints_delivered);
  dyna_json_key(j, "hints_waiting");
  dyna_json_u64(j, hc->seen);
  dyna_json_key(j, "hints_waiting_unknown_owner");
  dyna_json_u64(j, hc->other);
  dyna_json_obj_close(j);
}

/* A quorum: its count, or "local" / "each". */
static void json_quorum(dyna_json_t *j, uint32_t q) {
  if (dyna_quorum_kind(q)) dyna_json_str(j, q == DYNA_QUORUM_LOCAL ? "local" : "each");
  else dyna_json_u64(j, q);
}

/* GET /status: this node, then every member as this node sees it (DYNA.STATUS's fields). */
void dyna_http_api_status(dyna_server_t *s, http_req_t *q) {
  const dyna_cluster_t *cl = dyna_node_cluster(s->node);
  const dyna_node_cfg_t *nc = dyna_node_cfg(s->node);
  dyna_json_t j;
  char id[32];
  hint_count_t hc = {cl, dyna_calloc(cl->n ? cl->n : 1, sizeof(uint64_t)), 0, 0};
  if (!hc.per) { dyna_http_error(q, 500, "out of memory"); return; }
  dyna_store_iter(s->store, DYNA_SPACE_HINT, NULL, 0, count_hint, &hc);
  dyna_json_init(&j, &q->out);
  dyna_json_obj_open(&j);
  dyna_json_key(&j, "node");
  dyna_json_obj_open(&j);
  dyna_json_key(&j, "name");
  dyna_json_str(&j, s->cfg.name);
  hex_id(id, sizeof(id), s->node_id);
  dyna_json_key(&j, "id");
  dyna_json_str(&j, id);
  dyna_json_key(&j, "cluster_name");
  dyna_json_str(&j, s->cfg.cluster_name);
  dyna_json_key(&j, "incarnation");
  dyna_json_u64(&j, dyna_node_incarnation(s->node));
  dyna_json_key(&j, "ring_size");
  dyna_json_u64(&j, cl->ring.size);
  dyna_json_key(&j, "ring_version");
  dyna_json_u64(&j, cl->ring_version);
  dyna_json_key(&j, "n");
  dyna_json_u64(&j, dyna_node_nval(s->node));
  dyna_json_key(&j, "r");
  json_quorum(&j, nc->r);
  dyna_json_key(&j, "w");
  json_quorum(&j, nc->w);
  dyna_json_obj_close(&j);
  dyna_json_key(&j, "members");
  dyna_json_arr_open(&j);
  for (size_t i = 0; i < cl->n; i++) {
    const dyna_member_t *m = &cl->m[i];
    dyna_json_obj_open(&j);
    dyna_json_key(&j, "name");
    dyna_json_str(&j, m->name);
    hex_id(id, sizeof(id), m->id);
    dyna_json_key(&j, "id");
    dyna_json_str(&j, id);
    dyna_json_key(&j, "address");
    dyna_json_str(&j, m->addr);
    dyna_json_key(&j, "client_address");
    dyna_json_str(&j, m->client_addr);
    dyna_json_key(&j, "status");
    dyna_json_str(&j, dyna_member_status_name(m->status));
    dyna_json_key(&j, "zone");
    dyna_json_str(&j, m->zone);
    dyna_json_key(&j, "dc");
    dyna_json_str(&j, m->dc);
    dyna_json_key(&j, "partitions_owned");
    dyna_json_u64(&j, dyna_ring_owned(&cl->ring, m->id));
    dyna_json_key(&j, "reachability");
    dyna_json_str(&j, reach_of(s, m->id));
    dyna_json_key(&j, "phi");
    dyna_json_double(&j, (double)dyna_node_phi_x1000(s->node, m->id) / 1000.0);
    dyna_json_key(&j, "hints_waiting");
    dyna_json_u64(&j, hc.per[i]);
    dyna_json_obj_close(&j);
  }
  dyna_json_arr_close(&j);
  status_progress(s, &j, &hc);
  status_transfers(s, &j);
  dyna_json_obj_close(&j);
  dyna_free(hc.per);
  done_json(q);
}

/* GET /ring: the members, then each partition's hash slots and its first n replicas (the
 * preference list, the owner first), by member name (the members give their ids). */
void dyna_http_api_ring(dyna_server_t *s, http_req_t *q) {
  const dyna_cluster_t *cl = dyna_node_cluster(s->node);
  uint32_t n = dyna_node_nval(s->node);
  uint64_t pl[DYNA_MAX_N];
  char id[32];
  dyna_json_t j;
  dyna_json_init(&j, &q->out);
  dyna_json_obj_open(&j);
  dyna_json_key(&j, "ring_size");
  dyna_json_u64(&j, cl->ring.size);
  dyna_json_key(&j, "ring_version");
  dyna_json_u64(&j, cl->ring_version);
  dyna_json_key(&j, "n");
  dyna_json_u64(&j, n);
  dyna_json_key(&j, "members");
  dyna_json_arr_open(&j);
  for (size_t i = 0; i < cl->n; i++) {
    dyna_json_obj_open(&j);
    dyna_json_key(&j, "name");
    dyna_json_str(&j, cl->m[i].name);
    hex_id(id, sizeof(id), cl->m[i].id);
    dyna_json_key(&j, "id");
    dyna_json_str(&j, id);
    dyna_json_key(&j, "client_address");
    dyna_json_str(&j, cl->m[i].client_addr);
    dyna_json_key(&j, "status");
    dyna_json_str(&j, dyna_member_status_name(cl->m[i].status));
    dyna_json_key(&j, "partitions_owned");
    dyna_json_u64(&j, dyna_ring_owned(&cl->ring, cl->m[i].id));
    dyna_json_obj_close(&j);
  }
  dyna_json_arr_close(&j);
  dyna_json_key(&j, "partitions");
  dyna_json_arr_open(&j);
  uint32_t per = cl->ring.size ? DYNA_SLOTS / cl->ring.size : 0;
  for (uint32_t p = 0; p < cl->ring.size; p++) {
    size_t k = dyna_node_replicas(s->node, p, pl); /* every site's homes */
    dyna_json_obj_open(&j);
    dyna_json_key(&j, "partition");
    dyna_json_u64(&j, p);
    dyna_json_key(&j, "slots");
    dyna_json_arr_open(&j);
    dyna_json_u64(&j, (uint64_t)p * per);
    dyna_json_u64(&j, (uint64_t)(p + 1) * per - 1);
    dyna_json_arr_close(&j);
    dyna_json_key(&j, "replicas");
    dyna_json_arr_open(&j);
    for (size_t r = 0; r < k; r++) {
      const dyna_member_t *m = member_of(cl, pl[r]);
      if (m) {
        dyna_json_str(&j, m->name);
      } else {
        hex_id(id, sizeof(id), pl[r]);
        dyna_json_str(&j, id);
      }
    }
    dyna_json_arr_close(&j);
    dyna_json_obj_close(&j);
  }
  dyna_json_arr_close(&j);
  dyna_json_obj_close(&j);
  done_json(q);
}

/* GET /keys/{key}[?r=R]: raw is the key as it came in the path, percent-encoded. */
void dyna_http_api_key(dyna_server_t *s, http_req_t *q, const char *raw, size_t rawlen) {
  char rtext[8];
  uint32_t r = 0;
  (void)s;
  if (dyna_http_pct_decode(raw, rawlen, 0, &q->key) || q->key.oom) {
    dyna_http_error(q, 400, "bad percent-encoding in the key");
    return;
  }
  if (!q->key.len) { dyna_http_error(q, 400, "empty key (GET /keys/{key})"); return; }
  if (q->key.len > DYNA_MAX_KEY_BYTES) { dyna_http_error(q, 414, "key too long (at most 65536 bytes)"); return; }
  if (!dyna_http_allowed(q, "dyna.get", q->key.data, q->key.len)) return; /* as DYNA.GET key */
  int pr = dyna_http_param(q, "r", rtext, sizeof(rtext));
  if (pr) {
    char *end;
    long v = pr > 0 ? strtol(rtext, &end, 10) : 0;
    if (pr < 0 || !rtext[0] || *end || v < 1 || v > DYNA_MAX_N) {
      dyna_http_error(q, 400, "r must be an integer from 1 to 16");
      return;
    }
    r = (uint32_t)v;
  }
  dyna_req_t req;
  memset(&req, 0, sizeof(req));
  req.op = DYNA_OP_GET;
  req.key = q->key.data;
  req.klen = q->key.len;
  req.r = r;
  dyna_http_submit(q, &req, HTTP_WAIT_KEY);
}

/* The reply to GET /keys/{key}: {"key", "key_b64", "context", "siblings": [{"value",
 * "value_b64"}...]} as DYNA.GET gives them (tombstones left out; the context in base64,
 * empty when the key was never written), or the error as DYNA.GET words it. */
void dyna_http_api_key_reply(dyna_server_t *s, http_req_t *q, const dyna_node_reply_t *r) {
  (void)s;
  if (r->status) {
    char msg[160];
    snprintf(msg, sizeof(msg), "%s%s%s", dyna_strerror(r->status), r->msg[0] ? ": " : "", r->msg);
    unsigned code = r->status == DYNA_ENOQUORUM || r->status == DYNA_ETIMEDOUT || r->status == DYNA_EBUSY ? 503
                    : r->status == DYNA_ETOOBIG ? 414 : r->status == DYNA_EINVAL ? 400 : 500;
    dyna_http_error(q, code, msg);
    return;
  }
  dyna_json_t j;
  dyna_buf_t raw = DYNA_BUF_INIT;
  dyna_buf_reset(&q->out);
  dyna_json_init(&j, &q->out);
  dyna_json_obj_open(&j);
  dyna_json_key(&j, "key");
  dyna_json_bytes(&j, q->key.data, q->key.len);
  dyna_json_key(&j, "key_b64");
  dyna_json_b64(&j, q->key.data, q->key.len);
  if (r->ctx.n) dyna_ctx_encode(&r->ctx, &raw);
  dyna_json_key(&j, "context");
  dyna_json_b64(&j, raw.data, raw.len);
  dyna_buf_free(&raw);
  dyna_json_key(&j, "siblings");
  dyna_json_arr_open(&j);
  for (size_t i = 0; i < dyna_obj_nvals(&r->obj); i++) {
    const dyna_val_t *v = dyna_obj_val(&r->obj, i);
    if (v->flags & DYNA_VAL_TOMBSTONE) continue;
    dyna_json_obj_open(&j);
    dyna_json_key(&j, "value");
    dyna_json_bytes(&j, v->data, v->len);
    dyna_json_key(&j, "value_b64");
    dyna_json_b64(&j, v->data, v->len);
    dyna_json_obj_close(&j);
  }
  dyna_json_arr_close(&j);
  dyna_json_obj_close(&j);
  done_json(q);
}

/* POST /admin/repair [partition=P]: an anti-entropy exchange of P, or of every partition. */
void dyna_http_api_repair(dyna_server_t *s, http_req_t *q) {
  char text[16];
  uint32_t p = UINT32_MAX;
  int pr = dyna_http_param(q, "partition", text, sizeof(text));
  if (pr) {
    char *end;
    unsigned long v = pr > 0 ? strtoul(text, &end, 10) : 0;
    if (pr < 0 || !text[0] || *end || v >= dyna_node_cluster(s->node)->ring.size) {
      dyna_http_error(q, 400, "no such partition");
      return;
    }
    p = (uint32_t)v;
  }
  dyna_node_repair(s->node, p, dyna_server_time(s));
  dyna_http_after_writes(q);
}

/* POST /admin/join address=HOST:PORT: join the cluster of the member at that cluster address. */
void dyna_http_api_join(dyna_server_t *s, http_req_t *q) {
  char addr[128];
  int pr = dyna_http_param(q, "address", addr, sizeof(addr));
  if (pr <= 0 || dyna_peers_join(s->peers, addr)) {
    dyna_http_error(q, 400, "bad address (want address=HOST:PORT, the cluster address of a member)");
    return;
  }
  dyna_http_after_writes(q);
}

/* POST /admin/leave: this node leaves (hands its data off, then is removed). */
void dyna_http_api_leave(dyna_server_t *s, http_req_t *q) {
  if (dyna_node_leave(s->node, dyna_server_time(s))) {
    dyna_http_error(q, 409, "cannot leave: this is the last member, or its state is unknown");
    return;
  }
  dyna_http_after_writes(q);
}
