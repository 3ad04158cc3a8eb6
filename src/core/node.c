/* node.c: the node state machine's lifecycle, outboxes, request and message dispatch
 * (see node.h). Quorum logic is in coord.c, membership in gossip.c, partition transfer
 * in handoff.c, replica-local storage in replica.c. */
#include "util/err.h"
#include "core/keyspace.h"
#include "util/alloc.h"
#include "util/assert.h"
#include "core/node_int.h"
#include "core/crdt.h"
#include "core/replica.h"
#include "core/batch.h"
#include "util/assert.h"
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

void dyna_node_cfg_default(dyna_node_cfg_t *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->id = 1;
  snprintf(cfg->name, sizeof(cfg->name), "n1");
  cfg->ring_size = 256;
  cfg->repl = dyna_repl_uniform(3);
  cfg->r = 2;
  cfg->w = 2;
  cfg->max_value_bytes = 1u << 20;
  cfg->seed = 1;
  cfg->request_timeout_ms = 1000;
  cfg->gossip_interval_ms = 500;
  cfg->handoff_interval_ms = 100;
  cfg->handoff_batch_keys = 128;
  cfg->handoff_bytes_per_sec = 16u << 20;
  cfg->heartbeat_ms = 200;
  cfg->aae_interval_ms = 100;
  cfg->tombstone_grace_ms = 24ull * 3600 * 1000;
  cfg->fd_min_ms = 1000;
}

static void msgq_free(msgq_t *q);
static const uint8_t INCARNATION_KEY[] = "incarnation";
static const uint8_t CLEAN_KEY[] = "clean-shutdown";

static int put_incarnation(dyna_node_t *n) {
  dyna_buf_t v = DYNA_BUF_INIT;
  dyna_buf_put_u64le(&v, n->incarnation); /* 8 bytes; a first-format 4-byte value loads too */
  int rc = v.oom ? DYNA_ENOMEM
                 : dyna_store_put(n->store, DYNA_SPACE_META, INCARNATION_KEY, sizeof(INCARNATION_KEY) - 1, v.data, v.len);
  dyna_buf_free(&v);
  return rc;
}

/* Loads the incarnation; after a crash (no clean mark) starts the next one. The mark is
 * removed: from now on, until the next clean shutdown, a stop is a crash. The mark holds
 * the last value stamp (8 bytes; "1" before): the incarnation, and so the actor, goes on,
 * and so do its stamps, even if the wall clock stepped back while the node was down. */
static int load_incarnation(dyna_node_t *n) {
  dyna_buf_t b = DYNA_BUF_INIT;
  int rc = dyna_store_get(n->store, DYNA_SPACE_META, INCARNATION_KEY, sizeof(INCARNATION_KEY) - 1, &b);
  if (rc == DYNA_ENOTFOUND) { /* first start */
    dyna_buf_free(&b);
    n->incarnation = 0;
    return put_incarnation(n);
  }
  if (rc == 0) {
    dyna_rd_t r;
    dyna_rd_init(&r, b.data, b.len);
    n->incarnation = b.len == 4 ? dyna_rd_u32le(&r) : dyna_rd_u64le(&r);
    if (r.err || dyna_rd_left(&r)) rc = DYNA_ECORRUPT;
  }
  int clean = rc == 0 && dyna_store_get(n->store, DYNA_SPACE_META, CLEAN_KEY, sizeof(CLEAN_KEY) - 1, &b) == 0;
  if (clean && b.len == 8) {
    dyna_rd_t r;
    dyna_rd_init(&r, b.data, b.len);
    n->stamp_ms = dyna_rd_u64le(&r);
  }
  dyna_buf_free(&b);
  if (rc) return rc;
  if (clean) return dyna_store_del(n->store, DYNA_SPACE_META, CLEAN_KEY, sizeof(CLEAN_KEY) - 1);
  n->incarnation++;
  return put_incarnation(n);
}

void dyna_node_writes_lost(dyna_node_t *n) {
  dyna_assert_set_node(n->cfg.id);
  if (n->cfg.bugs & DYNA_BUG_KEEP_INCARNATION) return;
  /* Every failure takes a new one, even while the last one's record is not durable yet:
   * keeping it then lost a write in the simulator (--faults all,diskerr --commit-ms 5
   * --durable-reads, seed 205). The counter is 64 bits: it cannot wrap. */
  n->incarnation++;
  put_incarnation(n); /* if it fails, the next commit fails and we come back here */
  n->inc_wseq = n->store->writes;
  n->hd.any = 1; /* a delivered hint's delete may be among the lost writes */
  /* The cluster state in memory may hold a change whose write was lost (a leave, a
   * removal, a new ring), already gossiped: write it again, so that the store does not
   * fall behind what the cluster was told. */
  dyna_gossip_persist(n);
  /* The trees counted the lost writes (replica.c reports a change when it is applied):
   * kept, they would match a replica holding those writes, and anti-entropy would never
   * bring them back here. Built again from the store when next needed. */
  dyna_merkle_forget(n);
}

void dyna_node_shutdown(dyna_node_t *n) {
  uint8_t v[8];
  for (int i = 0; i < 8; i++) v[i] = (uint8_t)(n->stamp_ms >> (8 * i));
  dyna_store_put(n->store, DYNA_SPACE_META, CLEAN_KEY, sizeof(CLEAN_KEY) - 1, v, sizeof(v));
}

/* R or W: a count 1..DYNA_MAX_N or a quorum kind. */
static int quorum_ok(uint32_t q) { return (q >= 1 && q <= DYNA_MAX_N) || dyna_quorum_kind(q); }

int dyna_node_open(const dyna_node_cfg_t *cfg, dyna_store_t *store, dyna_time_t now,
                   dyna_node_t **out) {
  dyna_assert_set_node(cfg->id);
  *out = NULL;
  if (!cfg->id || !dyna_ring_size_valid(cfg->ring_size) || cfg->repl.n < 1 || cfg->repl.n > DYNA_MAX_N ||
      cfg->repl.nsites > DYNA_SITES_MAX || !quorum_ok(cfg->r) || !quorum_ok(cfg->w))
    return DYNA_EINVAL;
  dyna_node_t *n = dyna_calloc(1, sizeof(*n));
  if (!n) return DYNA_ENOMEM;
  n->cfg = *cfg;
  n->store = store;
  n->hd.any = 1; /* until a tick finds the HINT space empty (hints.c) */
  n->rng = cfg->seed ^ (cfg->id * 0x9E3779B97F4A7C15ull);
  if (!n->rng) n->rng = 1;
  dyna_node_set_now(n, now);
  dyna_cluster_init(&n->cl);
  dyna_idmap_init(&n->fsms);
  dyna_idmap_init(&n->down);
  dyna_idmap_init(&n->fdet);
  dyna_idmap_init(&n->fwd_seen);
  if (!n->cfg.heartbeat_ms) n->cfg.heartbeat_ms = 200;
  int rc = dyna_gossip_load(n);
  if (!rc) rc = load_incarnation(n);
  n->inc_wseq = store->writes; /* durable before any event: see dyna_node_open */
  if (!rc) rc = dyna_handoff_load_epochs(n);
  if (!rc) rc = dyna_merkle_open(n);
  if (rc) {
    dyna_node_free(n);
    return rc;
  }
  /* Request ids start from the clock, so a restarted node does not reuse the ids of its
   * previous life (peers remember recent forwarded requests by id). */
  n->next_req = now.wall_ms << 20;
  n->next_gossip_ms = now.mono_ms;
  n->ho.next_ms = now.mono_ms;
  n->hd.next_ms = now.mono_ms;
  n->budget.tokens_ms = now.mono_ms;
  dyna_admit_init(&n->budget.admit, n->cfg.handoff_bytes_per_sec,
                  n->cfg.background_fixed || (n->cfg.bugs & DYNA_BUG_ADMIT_OFF), now.mono_ms);
  *out = n;
  return 0;
}

void dyna_node_free(dyna_node_t *n) {
  if (!n) return;
  dyna_coord_free_all(n);
  dyna_scan_free_all(n);
  dyna_buf_free(&n->scratch);
  dyna_handoff_free(n);
  dyna_hints_free(n);
  dyna_merkle_free(n);
  dyna_node_reply_t r;
  while (dyna_node_pop_reply(n, &r)) dyna_node_reply_clear(&r);
  msgq_free(&n->msgs);
  msgq_free(&n->early);
  while (n->frame_npool) dyna_buf_free(&n->frame_pool[--n->frame_npool]);
  dyna_free(n->frame_pool);
  dyna_free(n->out);
  dyna_idmap_free(&n->fsms);
  dyna_idmap_free(&n->down);
  dyna_fdet_free(n);
  dyna_idmap_free(&n->fwd_seen);
  dyna_cluster_clear(&n->cl);
  dyna_buf_free(&n->cl_bytes);
  dyna_free(n->epoch);
  dyna_free(n->held);
  dyna_free(n);
}

const dyna_node_cfg_t *dyna_node_cfg(const dyna_node_t *n) { return &n->cfg; }

int dyna_node_set_runtime_cfg(dyna_node_t *n, const dyna_node_cfg_t *cfg) {
  if (!quorum_ok(cfg->r) || !quorum_ok(cfg->w) || !cfg->request_timeout_ms ||
      !cfg->max_value_bytes || !cfg->gossip_interval_ms || !cfg->heartbeat_ms || !cfg->aae_interval_ms ||
      !cfg->handoff_interval_ms || !cfg->handoff_batch_keys)
    return DYNA_EINVAL;
  n->cfg.r = cfg->r;
  n->cfg.w = cfg->w;
  n->cfg.read_all = cfg->read_all;
  n->cfg.request_timeout_ms = cfg->request_timeout_ms;
  n->cfg.max_value_bytes = cfg->max_value_bytes;
  n->cfg.gossip_interval_ms = cfg->gossip_interval_ms;
  n->cfg.heartbeat_ms = cfg->heartbeat_ms;
  n->cfg.fd_min_ms = cfg->fd_min_ms;
  n->cfg.aae_interval_ms = cfg->aae_interval_ms;
  n->cfg.tombstone_grace_ms = cfg->tombstone_grace_ms;
  n->cfg.handoff_interval_ms = cfg->handoff_interval_ms;
  n->cfg.handoff_batch_keys = cfg->handoff_batch_keys;
  return 0;
}
const dyna_node_stats_t *dyna_node_stats(const dyna_node_t *n) { return &n->stats; }
const dyna_cluster_t *dyna_node_cluster(const dyna_node_t *n) { return &n->cl; }
uint64_t dyna_node_id(const dyna_node_t *n) { return n->cfg.id; }
uint64_t dyna_node_incarnation(const dyna_node_t *n) { return n->incarnation; }
uint64_t dyna_node_join_refused_by(const dyna_node_t *n) { return n->join_refused_by; }
const char *dyna_node_refused_addr(const dyna_node_t *n, uint64_t id) {
  return id && id == n->refused_id && n->refused_addr[0] ? n->refused_addr : NULL;
}
size_t dyna_node_replies_pending(const dyna_node_t *n) { return n->out_len; }
size_t dyna_node_msgs_pending(const dyna_node_t *n) { return n->msgs.len + n->early.len; }

/* xorshift64*: the node's only source of choice, seeded by the driver. */
uint64_t dyna_node_rand(dyna_node_t *n) {
  n->rng ^= n->rng >> 12;
  n->rng ^= n->rng << 25;
  n->rng ^= n->rng >> 27;
  return n->rng * 0x2545F4914F6CDD1Dull;
}

uint64_t dyna_node_new_req(dyna_node_t *n) { return ++n->next_req; }

void dyna_node_set_now(dyna_node_t *n, dyna_time_t now) {
  dyna_assert_set_node(n->cfg.id); /* a failed assertion names this node */
  dyna_crdt_bugs = n->cfg.bugs;    /* test only: the deliberate bugs of the typed merges */
  if (NEVER(now.mono_ms < n->now.mono_ms)) now.mono_ms = n->now.mono_ms;
  n->now = now;
}

uint64_t dyna_node_stamp(dyna_node_t *n) {
  if (n->cfg.bugs & DYNA_BUG_WALL_STAMP) return n->now.wall_ms;
  if (n->now.wall_ms > n->stamp_ms) n->stamp_ms = n->now.wall_ms;
  return n->stamp_ms;
}

uint32_t dyna_node_partition(const dyna_node_t *n, const uint8_t *key, size_t klen) {
  return dyna_key_partition(key, klen, n->cl.ring.size);
}

void dyna_node_prefetch(dyna_node_t *n, const uint8_t *const *keys, const size_t *klens, size_t count) {
  uint8_t sk[DYNA_STORE_PREFETCH_MAX][3 + 64]; /* short keys only: the usual ones */
  const uint8_t *skeys[DYNA_STORE_PREFETCH_MAX];
  size_t sklens[DYNA_STORE_PREFETCH_MAX], m = 0;
  for (size_t i = 0; i < count; i++) {
    if (!klens[i] || klens[i] > sizeof(sk[0]) - 3) continue; /* no key, or a long one */
    sklens[m] = dyna_skey_make(dyna_node_partition(n, keys[i], klens[i]), keys[i], klens[i], sk[m]);
    skeys[m] = sk[m];
    if (++m == DYNA_STORE_PREFETCH_MAX) {
      dyna_store_prefetch(n->store, DYNA_SPACE_OBJ, skeys, sklens, m);
      m = 0;
    }
  }
  if (m) dyna_store_prefetch(n->store, DYNA_SPACE_OBJ, skeys, sklens, m);
}

void dyna_node_prefetch_frames(dyna_node_t *n, const uint8_t *const *frames, const size_t *lens,
                               size_t count) {
  const uint8_t *keys[DYNA_STORE_PREFETCH_MAX];
  size_t klens[DYNA_STORE_PREFETCH_MAX], m = 0;
  for (size_t i = 0; i < count && m < DYNA_STORE_PREFETCH_MAX; i++) {
    dyna_msg_t msg;
    if (dyna_wire_decode(frames[i], lens[i], &msg)) continue;
    /* a replica's write (not a hint, kept under another key) or read */
    if (msg.klen && ((msg.type == DYNA_MSG_PUT && !msg.node) || msg.type == DYNA_MSG_GET)) {
      keys[m] = msg.key;
      klens[m++] = msg.klen;
    }
  }
  if (m >= 2) dyna_node_prefetch(n, keys, klens, m);
}

uint64_t dyna_node_actor(const dyna_node_t *n, uint32_t p) {
  uint32_t e = n->epoch && p < n->cl.ring.size ? n->epoch[p] : 0;
  if (!e && !n->incarnation) return n->cfg.id;
  uint64_t in[4] = {n->cfg.id, p, e, n->incarnation};
  uint64_t a = XXH3_64bits(in, sizeof(in));
  return a ? a : 1;
}

void dyna_node_replica(dyna_node_t *n, uint32_t p, dyna_replica_t *rep) {
  rep->store = n->store;
  rep->actor = dyna_node_actor(n, p);
  rep->ring_size = n->cl.ring.size;
  rep->part_plus1 = 0;
  rep->on_change = dyna_merkle_on_change;
  rep->arg = n;
  rep->scratch = &n->scratch;
  rep->hints = &n->hd.any;
}

uint32_t dyna_node_replica_key(dyna_node_t *n, const uint8_t *key, size_t klen, dyna_replica_t *rep) {
  uint32_t p = dyna_node_partition(n, key, klen);
  dyna_node_replica_of(n, p, rep);
  return p;
}

void dyna_node_replica_of(dyna_node_t *n, uint32_t p, dyna_replica_t *rep) {
  dyna_node_replica(n, p, rep);
  rep->part_plus1 = p + 1;
}

size_t dyna_node_preflist(const dyna_node_t *n, uint32_t p, uint64_t *out, size_t max) {
  return dyna_ring_preflist_repl(&n->cl.ring, p, &n->cfg.repl, out, max, NULL);
}

/* ---------- background budget ---------- */

static void budget_refill(dyna_node_t *n) {
  budget_t *b = &n->budget;
  int64_t rate = (int64_t)n->budget.admit.rate;
  if (n->now.mono_ms > b->tokens_ms) {
    b->tokens += rate * (int64_t)(n->now.mono_ms - b->tokens_ms) / 1000;
    if (b->tokens > rate) b->tokens = rate; /* at most one second of burst */
  }
  b->tokens_ms = n->now.mono_ms;
}

int dyna_budget_ok(dyna_node_t *n) {
  budget_refill(n);
  if (n->budget.tokens > 0) return 1;
  n->stats.budget_waits++;
  return 0;
}

size_t dyna_budget_slice(const dyna_node_t *n) {
  uint64_t s = n->budget.admit.rate / 64;
  return s > DYNA_ADMIT_SLICE_MIN ? (size_t)s : DYNA_ADMIT_SLICE_MIN;
}

int dyna_budget_hold_ack(dyna_node_t *n, uint64_t to, const dyna_msg_t *a, uint64_t wseq, uint64_t bytes) {
  dyna_admit_t *adm = &n->budget.admit;
  dyna_admit_background(adm, bytes);
  if (adm->rate >= adm->ceiling || a->status) return 0; /* not cutting: no cost to the sender */
  budget_refill(n);
  n->budget.tokens -= (int64_t)bytes;
  n->stats.budget_bytes += bytes;
  if (n->budget.tokens >= 0) return 0;
  if (!n->held) n->held = dyna_calloc(DYNA_HELD_ACKS_MAX, sizeof *n->held);
  if (!n->held || n->nheld == DYNA_HELD_ACKS_MAX) return 0;
  uint64_t wait = (uint64_t)(-n->budget.tokens) * 1000 / (adm->rate ? adm->rate : 1);
  /* well inside the sender's transfer deadline, 5 request timeouts (transfer.c) */
  uint64_t most = 2 * n->cfg.request_timeout_ms < DYNA_HELD_ACK_MAX_MS ? 2 * n->cfg.request_timeout_ms
                                                                       : DYNA_HELD_ACK_MAX_MS;
  if (wait > most) wait = most;
  held_ack_t *h = &n->held[n->nheld++];
  h->to = to;
  h->req = a->req;
  h->status = a->status;
  h->wseq = wseq;
  h->due_ms = n->now.mono_ms + wait;
  n->stats.acks_held++;
  return 1;
}

int dyna_budget_busy(dyna_node_t *n) {
  if (n->budget.admit.rate >= n->budget.admit.ceiling) return 0;
  budget_refill(n);
  if (n->budget.tokens >= 0) return 0;
  n->stats.budget_waits++;
  return 1;
}

void dyna_budget_release_acks(dyna_node_t *n) {
  uint32_t k = 0;
  for (uint32_t i = 0; i < n->nheld; i++) {
    held_ack_t *h = &n->held[i];
    if (h->due_ms > n->now.mono_ms) {
      n->held[k++] = *h; /* order kept */
      continue;
    }
    dyna_msg_t a = {0};
    a.type = DYNA_MSG_PUT_ACK;
    a.req = h->req;
    a.status = h->status;
    dyna_node_send_after(n, h->to, &a, h->wseq);
  }
  n->nheld = k;
}

int dyna_budget_take(dyna_node_t *n, uint64_t bytes) {
  int ok = dyna_budget_ok(n);
  n->budget.tokens -= (int64_t)bytes;
  n->stats.budget_bytes += bytes;
  dyna_admit_background(&n->budget.admit, bytes);
  return ok;
}

size_t dyna_node_replicas(const dyna_node_t *n, uint32_t p, uint64_t *out) {
  if (!n->cl.ring.nsites) return dyna_ring_preflist(&n->cl.ring, p, n->cfg.repl.n, out, n->cfg.repl.n);
  size_t nh = 0;
  dyna_ring_preflist_repl(&n->cl.ring, p, &n->cfg.repl, out, DYNA_MAX_N, &nh);
  return nh;
}

int dyna_node_is_home(const dyna_node_t *n, uint32_t p, uint64_t id) {
  if (!n->cl.ring.nsites) return dyna_ring_is_replica(&n->cl.ring, p, n->cfg.repl.n, id);
  uint64_t homes[DYNA_MAX_N];
  size_t nh = dyna_node_replicas(n, p, homes);
  for (size_t i = 0; i < nh; i++)
    if (homes[i] == id) return 1;
  return 0;
}

uint32_t dyna_node_nval(const dyna_node_t *n) {
  const dyna_ring_t *r = &n->cl.ring;
  if (!r->nsites) return n->cfg.repl.n;
  uint32_t k = 0;
  for (uint32_t s = 0; s < r->nsites; s++) k += dyna_repl_site_n(&n->cfg.repl, dyna_ring_site_name(r, s));
  return k < DYNA_MAX_N ? k : DYNA_MAX_N;
}

int dyna_node_site_of(const dyna_node_t *n, uint64_t id) { return dyna_ring_site_of(&n->cl.ring, id); }

/* ---------- reachability ---------- */

void dyna_node_set_reachable(dyna_node_t *n, uint64_t id, int up, dyna_time_t now) {
  dyna_node_set_now(n, now);
  if (up) {
    if (dyna_idmap_take(&n->down, id, NULL)) { /* the link is back: exchange what it may have missed */
      dyna_fdet_reset(n, id);
      dyna_node_peer_back(n, id);
    }
  } else if (!dyna_idmap_get(&n->down, id)) {
    dyna_idmap_put(&n->down, id, NULL, now.mono_ms);
  }
}

void dyna_node_peer_back(dyna_node_t *n, uint64_t peer) {
  if (n->cfg.bugs & DYNA_BUG_NO_PEER_BACK) return;
  dyna_merkle_force_shared(n, peer);
  dyna_hints_rush(n);
}

int dyna_node_is_reachable(const dyna_node_t *n, uint64_t id) {
  return id == n->cfg.id || (!dyna_idmap_get(&n->down, id) && !dyna_fdet_suspect(n, id));
}

uint64_t dyna_node_phi_x1000(const dyna_node_t *n, uint64_t id) {
  return id == n->cfg.id ? 0 : dyna_fdet_phi_x1000(n, id);
}

/* ---------- outboxes ---------- */

void dyna_node_reply_clear(dyna_node_reply_t *r) {
  dyna_obj_clear(&r->obj);
  dyna_ctx_clear(&r->ctx);
  dyna_buf_free(&r->resp);
  dyna_buf_free(&r->enc);
  memset(r, 0, sizeof(*r));
}

void dyna_node_reply_done(dyna_node_t *n, dyna_node_reply_t *r) {
  dyna_node_frame_done(n, &r->enc);
  dyna_node_reply_clear(r);
}

void dyna_node_reply_fail(dyna_node_reply_t *r, int err, const char *msg) {
  uint64_t id = r->req_id;
  dyna_op_t op = r->op;
  dyna_node_reply_clear(r);
  r->req_id = id;
  r->op = op;
  r->status = err;
  snprintf(r->msg, sizeof(r->msg), "%s", msg ? msg : dyna_strerror(err));
}

int dyna_node_reserve_reply(dyna_node_t *n) {
  if (n->out_len < n->out_cap) return 0;
  size_t cap = n->out_cap ? n->out_cap * 2 : 64;
  dyna_node_reply_t *o = dyna_malloc(cap * sizeof(*o));
  if (!o) return DYNA_ENOMEM;
  for (size_t i = 0; i < n->out_len; i++) o[i] = n->out[(n->out_head + i) % n->out_cap];
  dyna_free(n->out);
  n->out = o;
  n->out_cap = cap;
  n->out_head = 0;
  return 0;
}

void dyna_node_push_reply(dyna_node_t *n, dyna_node_reply_t *r) {
  if (r->status) n->stats.errors++;
  if (r->status == DYNA_ENOQUORUM) n->stats.noquorum++;
  size_t nv = r->enc.len ? r->enc_info.nvals : dyna_obj_nvals(&r->obj);
  if (nv > n->stats.siblings_max) n->stats.siblings_max = nv;
  if (n->out_len == n->out_cap && dyna_node_reserve_reply(n)) {
    dyna_node_reply_clear(r); /* cannot happen when the caller reserved, as it must */
    return;
  }
  n->out[(n->out_head + n->out_len) % n->out_cap] = *r;
  n->out_len++;
  n->out_pushed++;
  DYNA_ASSERT(n->out_len <= n->out_cap && n->out_pushed - n->out_popped == n->out_len,
              "reply outbox: %zu queued of %zu, %llu pushed, %llu popped", n->out_len, n->out_cap,
              (unsigned long long)n->out_pushed, (unsigned long long)n->out_popped);
  memset(r, 0, sizeof(*r));
}

int dyna_node_pop_reply(dyna_node_t *n, dyna_node_reply_t *out) {
  if (!n->out_len) return 0;
  DYNA_ASSERT(n->out_popped < n->out_pushed && n->out_head < n->out_cap,
              "reply outbox: popping what was not pushed (%llu pushed, %llu popped, head %zu of %zu)",
              (unsigned long long)n->out_pushed, (unsigned long long)n->out_popped, n->out_head,
              n->out_cap);
  *out = n->out[n->out_head];
  n->out_head = (n->out_head + 1) % n->out_cap;
  n->out_len--;
  n->out_popped++;
  return 1;
}

/* The next free slot of q (grown when full), or NULL (counted) if memory is short. */
static dyna_outmsg_t *msgq_slot(dyna_node_t *n, msgq_t *q) {
  if (q->len == q->cap) {
    size_t cap = q->cap ? q->cap * 2 : 64;
    dyna_outmsg_t *o = dyna_malloc(cap * sizeof(*o));
    if (!o) { n->stats.bad_messages++; return NULL; }
    for (size_t i = 0; i < q->len; i++) o[i] = q->m[(q->head + i) % q->cap];
    dyna_free(q->m);
    q->m = o;
    q->cap = cap;
    q->head = 0;
  }
  return &q->m[(q->head + q->len) % q->cap];
}

/* Appends the frame in slot (from msgq_slot) to q; drops it (counted) if it is short of
 * memory (frame.oom). Returns 1 when it was queued. */
static int msgq_commit(dyna_node_t *n, msgq_t *q, dyna_outmsg_t *slot, uint64_t to, uint64_t wseq, int bulk) {
  slot->to = to;
  slot->wseq = wseq;
  slot->bulk = bulk ? 1 : 0;
  if (slot->frame.oom) {
    dyna_buf_free(&slot->frame);
    n->stats.bad_messages++;
    return 0;
  }
  q->len++;
  q->pushed++;
  DYNA_ASSERT(q->len <= q->cap && q->pushed - q->popped == q->len,
              "frame outbox: %zu queued of %zu, %llu pushed, %llu popped", q->len, q->cap,
              (unsigned long long)q->pushed, (unsigned long long)q->popped);
  return 1;
}

/* A frame buffer: an empty one from the pool, else a new (unallocated) one. */
void dyna_node_buf_take(dyna_node_t *n, dyna_buf_t *b) {
  if (n->frame_npool) *b = n->frame_pool[--n->frame_npool];
  else dyna_buf_init(b);
  DYNA_ASSERT(b->len == 0 && !b->oom, "pooled frame buffer holds %zu bytes (oom %d)", b->len, (int)b->oom);
}

#define FRAME_POOL 2048  /* buffers kept (at most 2 MiB): a turn of 800 SETs in flight sends
                            1,600 frames, 800 GETs keep 800 answers (dyna_node_reply_done) */
#define FRAME_KEEP 1024  /* bytes: larger buffers (objects, transfers) are not kept */

void dyna_node_frame_done(dyna_node_t *n, dyna_buf_t *frame) {
  if (!frame->cap || frame->cap > FRAME_KEEP || frame->oom) { /* nothing worth keeping */
    dyna_buf_free(frame);
    return;
  }
  if (!n->frame_pool && !(n->frame_pool = dyna_malloc(FRAME_POOL * sizeof(*n->frame_pool)))) {
    dyna_buf_free(frame);
    return;
  }
  if (n->frame_npool == FRAME_POOL) {
    dyna_buf_free(frame);
    return;
  }
  dyna_buf_reset(frame);
  n->frame_pool[n->frame_npool++] = *frame;
  dyna_buf_init(frame);
}

/* Encodes m and appends it to q; drops it (counted) if memory is short. Returns 1 when
 * it was queued. */
static int msgq_push(dyna_node_t *n, msgq_t *q, uint64_t to, const dyna_msg_t *m, uint64_t wseq, int bulk) {
  dyna_outmsg_t *slot = msgq_slot(n, q);
  if (!slot) return 0;
  dyna_node_buf_take(n, &slot->frame);
  dyna_wire_encode(m, &slot->frame);
  return msgq_commit(n, q, slot, to, wseq, bulk);
}

/* Appends to q, for `to`, a copy of the bytes of the frame q took last (for `prev_to`). */
static int msgq_push_again(dyna_node_t *n, msgq_t *q, uint64_t prev_to, uint64_t to, int bulk) {
  if (NEVER(!q->len)) return 0;
  dyna_outmsg_t *slot = msgq_slot(n, q); /* may move the ring: the last frame is read after */
  if (!slot) return 0;
  const dyna_outmsg_t *last = &q->m[(q->head + q->len - 1) % q->cap];
  DYNA_ASSERT(last->to == prev_to && last->frame.len > 0,
              "frame outbox: the last frame is for %llu, not %llu", (unsigned long long)last->to,
              (unsigned long long)prev_to);
  dyna_node_buf_take(n, &slot->frame);
  dyna_buf_put(&slot->frame, last->frame.data, last->frame.len);
  return msgq_commit(n, q, slot, to, last->wseq, bulk);
}

static int msgq_pop(msgq_t *q, dyna_outmsg_t *out) {
  if (!q->len) return 0;
  *out = q->m[q->head];
  DYNA_ASSERT(q->popped < q->pushed && out->frame.data && out->frame.len > 0,
              "frame outbox: popping what was not pushed (%llu pushed, %llu popped, %zu bytes)",
              (unsigned long long)q->pushed, (unsigned long long)q->popped, out->frame.len);
  q->head = (q->head + 1) % q->cap;
  q->len--;
  q->popped++;
  return 1;
}

static void msgq_free(msgq_t *q) {
  dyna_outmsg_t m;
  while (msgq_pop(q, &m)) dyna_buf_free(&m.frame);
  dyna_free(q->m);
}

void dyna_node_send(dyna_node_t *n, uint64_t to, const dyna_msg_t *m) {
  msgq_push(n, &n->msgs, to, m, DYNA_WSEQ_ALL, 0);
}
void dyna_node_send_after(dyna_node_t *n, uint64_t to, const dyna_msg_t *m, uint64_t wseq) {
  msgq_push(n, &n->msgs, to, m, wseq, 0);
}
void dyna_node_send_bulk(dyna_node_t *n, uint64_t to, const dyna_msg_t *m) {
  msgq_push(n, &n->msgs, to, m, DYNA_WSEQ_ALL, 1);
}
int dyna_node_send_early(dyna_node_t *n, uint64_t to, const dyna_msg_t *m, int bulk) {
  return msgq_push(n, &n->early, to, m, n->inc_wseq, bulk);
}
int dyna_node_send_early_again(dyna_node_t *n, uint64_t prev_to, uint64_t to, int bulk) {
  return msgq_push_again(n, &n->early, prev_to, to, bulk);
}
int dyna_node_pop_msg(dyna_node_t *n, dyna_outmsg_t *out) { return msgq_pop(&n->msgs, out); }
int dyna_node_pop_early(dyna_node_t *n, dyna_outmsg_t *out) { return msgq_pop(&n->early, out); }

/* ---------- events ---------- */

static int check_request(const dyna_node_t *n, const dyna_req_t *req, dyna_node_reply_t *r) {
  char m[96];
  if (req->klen == 0) {
    dyna_node_reply_fail(r, DYNA_EINVAL, "empty key");
    return -1;
  }
  if (req->klen > DYNA_MAX_KEY_BYTES) {
    snprintf(m, sizeof(m), "key is %zu bytes, limit is %u", req->klen, DYNA_MAX_KEY_BYTES);
    dyna_node_reply_fail(r, DYNA_ETOOBIG, m);
    return -1;
  }
  if (req->op == DYNA_OP_PUT && req->vlen > n->cfg.max_value_bytes) {
    snprintf(m, sizeof(m), "value is %zu bytes, limit is %zu", req->vlen, n->cfg.max_value_bytes);
    dyna_node_reply_fail(r, DYNA_ETOOBIG, m);
    return -1;
  }
  if (req->op == DYNA_OP_TYPED &&
      (!req->cmd || !req->cmd->write || req->argc < 2 || req->argl[1] != req->klen ||
       memcmp(req->argv[1], req->key, req->klen))) {
    dyna_node_reply_fail(r, DYNA_EINVAL, "a typed request needs a write command and its key as argv[1]");
    return -1;
  }
  if (req->op == DYNA_OP_BATCH && (!req->vlen || req->vlen > DYNA_BATCH_MAX_BYTES)) {
    snprintf(m, sizeof(m), "a transaction of %zu bytes (limit %u)", req->vlen, DYNA_BATCH_MAX_BYTES);
    dyna_node_reply_fail(r, req->vlen ? DYNA_ETOOBIG : DYNA_EINVAL, m);
    return -1;
  }
  uint32_t nval = dyna_node_nval(n);
  if ((req->r && !dyna_quorum_kind(req->r) && req->r > nval) || (req->w && !dyna_quorum_kind(req->w) && req->w > nval)) {
    snprintf(m, sizeof(m), "quorum larger than n=%u", nval);
    dyna_node_reply_fail(r, DYNA_EINVAL, m);
    return -1;
  }
  return 0;
}

/* DYNA.LOCAL: this node's own replica, unmerged, whatever the ring says. */
static void local_read(dyna_node_t *n, const dyna_req_t *req, dyna_node_reply_t *r) {
  n->stats.locals++;
  dyna_replica_t rep;
  dyna_node_replica_key(n, req->key, req->klen, &rep);
  int rc = dyna_replica_read(&rep, req->key, req->klen, &r->obj);
  if (!rc) rc = dyna_obj_context(&r->obj, &r->ctx);
  if (rc) dyna_node_reply_fail(r, rc, NULL);
}

int dyna_node_request(dyna_node_t *n, const dyna_req_t *req, dyna_time_t now) {
  dyna_node_set_now(n, now);
  if (dyna_node_reserve_reply(n)) return DYNA_ENOMEM;
  dyna_node_reply_t r;
  memset(&r, 0, sizeof(r));
  r.req_id = req->id;
  r.op = req->op;
  if (req->op == DYNA_OP_SCAN || req->op == DYNA_OP_DBSIZE || req->op == DYNA_OP_FLUSH) {
    dyna_scan_request(n, req); /* no key: checked there */
    return 0;
  }
  if (check_request(n, req, &r)) {
    dyna_node_push_reply(n, &r);
    return 0;
  }
  if (req->op == DYNA_OP_LOCAL) {
    local_read(n, req, &r);
    dyna_node_push_reply(n, &r);
    return 0;
  }
  dyna_coord_request(n, req);
  return 0;
}

int dyna_node_on_message(dyna_node_t *n, uint64_t from, const uint8_t *frame, size_t len,
                         dyna_time_t now) {
  dyna_node_set_now(n, now);
  dyna_msg_t m;
  if (dyna_wire_decode(frame, len, &m)) {
    n->stats.bad_messages++;
    return DYNA_EPROTO;
  }
  dyna_fdet_heard(n, from);
  switch (m.type) {
  case DYNA_MSG_GOSSIP:
  case DYNA_MSG_JOIN:
    dyna_gossip_on_message(n, from, &m);
    break;
  case DYNA_MSG_PUT_ACK:
    if (!dyna_handoff_on_ack(n, from, &m) && !dyna_hints_on_ack(n, from, &m))
      dyna_coord_on_message(n, from, &m);
    break;
  case DYNA_MSG_AAE_TREE:
  case DYNA_MSG_AAE_DIFF:
    dyna_merkle_on_message(n, from, &m);
    break;
  case DYNA_MSG_HO_CHECK:
    dyna_merkle_on_check(n, from, &m);
    break;
  case DYNA_MSG_HO_HAVE:
    dyna_handoff_on_have(n, from, &m);
    break;
  case DYNA_MSG_SCAN:
  case DYNA_MSG_SCAN_RESP:
  case DYNA_MSG_COUNT:
  case DYNA_MSG_FLUSH:
    dyna_scan_on_message(n, from, &m);
    break;
  case DYNA_MSG_PUT:
  case DYNA_MSG_GET:
  case DYNA_MSG_GET_RESP:
  case DYNA_MSG_FWD:
  case DYNA_MSG_FWD_RESP:
    dyna_coord_on_message(n, from, &m);
    break;
  case DYNA_MSG_PING: {
    dyna_msg_t pong = {0};
    pong.type = DYNA_MSG_PONG;
    pong.req = m.req;
    dyna_node_send(n, from, &pong);
    if (m.node) dyna_fdet_hearsay(n, m.node); /* the sender judged m.node: ask it ourselves */
    break;
  }
  default: /* HELLO belongs to the driver; PONG needs no answer */
    break;
  }
  return 0;
}

void dyna_node_repair(dyna_node_t *n, uint32_t p, dyna_time_t now) {
  dyna_node_set_now(n, now);
  dyna_merkle_force(n, p);
}

void dyna_node_tick(dyna_node_t *n, dyna_time_t now) {
  dyna_node_set_now(n, now);
  dyna_fdet_tick(n);
  dyna_coord_tick(n);
  dyna_scan_tick(n);
  dyna_gossip_tick(n);
  dyna_handoff_tick(n);
  dyna_hints_tick(n);
  dyna_merkle_tick(n);
  dyna_admit_tick(&n->budget.admit, n->now.mono_ms);
  dyna_budget_release_acks(n);
}

void dyna_node_foreground_latency(dyna_node_t *n, uint64_t us) { dyna_admit_latency(&n->budget.admit, us); }
const dyna_admit_t *dyna_node_admission(const dyna_node_t *n) { return &n->budget.admit; }
