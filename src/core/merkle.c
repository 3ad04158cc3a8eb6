/* merkle.c: active anti-entropy. Each node keeps, per partition, a hash tree of its
 * objects: 256 buckets (a key's bucket is the top byte of the xxh3 of its store key),
 * each bucket the XOR of its records' hashes, so a write updates its bucket in O(1)
 * (replica.c reports every change); the tree of a partition is built from the store the
 * first time it is needed. Two levels suffice here: the root (one hash of all buckets) is
 * compared in one message, then the buckets, then only differing buckets are descended into.
 *
 *   A (every aae interval, one partition p it replicates, round robin or forced)
 *     AAE_TREE(p, A's root) ──▶ B (each other reachable home replica of p)
 *                               the same root: ◀── AAE_DIFF(p, empty)   (done)
 *                               else:          ◀── AAE_TREE(p, B's buckets)
 *     compares; for each differing bucket sends its objects
 *     PUT(merge, no ack) ... ──▶
 *     AAE_DIFF(p, bitmap of differing buckets) ──▶
 *                               sends its objects of those buckets ◀── PUT(merge, no ack) ...
 *
 * Objects are merged with the versioning rules, never overwritten, so an exchange can
 * only add causal history. Traffic counts against the shared background budget.
 *
 * Tombstone reaping rides on the same exchange: when every other home replica of p
 * reported an identical tree in the current round, the partition's primary (first home
 * replica) sends AAE_DIFF with the reap flag listing tombstone-only records older than
 * the grace period, and every replica (itself included) deletes those whose record is
 * still exactly the one listed. A replica that missed the delete has a different tree,
 * so nothing is reaped until it caught up. */
#include "util/err.h"
#include "core/keyspace.h"
#include "util/alloc.h"
#include "core/node_int.h"
#include <string.h>
#include <xxhash.h>

#define MK_BUCKETS DYNA_MK_BUCKETS
#define MK_TREE_BYTES (MK_BUCKETS * 8)
#define MK_ROOT_BYTES 8
#define MK_BITMAP_BYTES DYNA_MK_BITMAP_BYTES
#define REAP_FLAG 1u
#define FORCED_PER_TICK 8 /* forced exchanges started per tick (repair, a join) */

typedef struct merkle {
  uint32_t q;
  uint64_t **tree;     /* per partition: NULL until built, else MK_BUCKETS hashes */
  uint8_t *forced;     /* per partition: exchange as soon as possible */
  uint64_t *agree;     /* per partition: bitmask of home replicas (by index) that matched */
  uint8_t *matched;    /* per partition: an exchange found it equal to another home
                          replica's since this node started (dyna_node_aae_progress) */
  uint32_t nforced;    /* how many forced[] are set */
  uint32_t cursor;
  uint64_t next_ms;
  /* The partitions this node replicates, ascending, as of the ring (version, author):
   * recomputed when the ring changes, so a tick is not a walk over Q preference lists. */
  uint32_t *mine;
  uint32_t nmine;
  int mine_ok;
  uint64_t mine_version, mine_author;
} merkle_t;


static unsigned bucket_of(const uint8_t *skey, size_t sklen) {
  return (unsigned)(XXH3_64bits(skey, sklen) >> 56);
}

unsigned dyna_merkle_bucket(const uint8_t *skey, size_t sklen) { return bucket_of(skey, sklen); }

int dyna_merkle_open(dyna_node_t *n) {
  merkle_t *m = dyna_calloc(1, sizeof(*m));
  if (!m) return DYNA_ENOMEM;
  m->q = n->cl.ring.size;
  m->tree = dyna_calloc(m->q, sizeof(uint64_t *));
  m->forced = dyna_calloc(m->q, 1);
  m->agree = dyna_calloc(m->q, sizeof(uint64_t));
  m->matched = dyna_calloc(m->q, 1);
  n->mk = m;
  if (!m->tree || !m->forced || !m->agree || !m->matched) return DYNA_ENOMEM;
  m->next_ms = n->now.mono_ms;
  return 0;
}

void dyna_merkle_free(dyna_node_t *n) {
  merkle_t *m = n->mk;
  if (!m) return;
  for (uint32_t p = 0; m->tree && p < m->q; p++) dyna_free(m->tree[p]);
  dyna_free(m->tree);
  dyna_free(m->forced);
  dyna_free(m->agree);
  dyna_free(m->matched);
  dyna_free(m->mine);
  dyna_free(m);
  n->mk = NULL;
}

static int home_index(dyna_node_t *n, uint32_t p, uint64_t id, uint64_t *homes, size_t *nh);

/* Brings m->mine up to date with the ring; 0, or DYNA_ENOMEM (then mine_ok stays 0 and
 * the callers walk every partition, as before the list). */
static int refresh_mine(dyna_node_t *n, merkle_t *m) {
  if (m->mine_ok && m->mine_version == n->cl.ring_version && m->mine_author == n->cl.ring_author) return 0;
  m->mine_ok = 0;
  m->nmine = 0;
  if (!m->mine) m->mine = dyna_calloc(m->q ? m->q : 1, sizeof(*m->mine));
  if (!m->mine) return DYNA_ENOMEM;
  uint64_t homes[DYNA_MAX_N];
  size_t nh;
  for (uint32_t p = 0; p < m->q; p++)
    if (home_index(n, p, n->cfg.id, homes, &nh) >= 0) m->mine[m->nmine++] = p;
  m->mine_version = n->cl.ring_version;
  m->mine_author = n->cl.ring_author;
  m->mine_ok = 1;
  return 0;
}

const uint32_t *dyna_merkle_mine(dyna_node_t *n, uint32_t *count) {
  merkle_t *m = n->mk;
  *count = 0;
  if (!m || m->q != n->cl.ring.size || refresh_mine(n, m)) return NULL;
  *count = m->nmine;
  return m->mine;
}

static void set_forced(merkle_t *m, uint32_t p) {
  m->nforced += !m->forced[p];
  m->forced[p] = 1;
}

void dyna_merkle_on_change(void *node, uint32_t partition, const uint8_t *skey, size_t sklen,
                           uint64_t h_old, uint64_t h_new) {
  dyna_node_t *n = node;
  merkle_t *m = n->mk;
  if (!m || partition >= m->q || !m->tree[partition]) return;
  m->tree[partition][bucket_of(skey, sklen)] ^= h_old ^ h_new;
  m->agree[partition] = 0;
}

static int add_record(void *arg, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen) {
  uint64_t *t = arg;
  t[bucket_of(k, klen)] ^= dyna_record_hash(k, klen, v, vlen);
  return 0;
}

/* The tree of partition p, built on first use; NULL when memory is short. */
static uint64_t *tree_of(dyna_node_t *n, uint32_t p) {
  merkle_t *m = n->mk;
  if (m->tree[p]) return m->tree[p];
  uint64_t *t = dyna_calloc(MK_BUCKETS, sizeof(uint64_t));
  if (!t) return NULL;
  uint8_t prefix[2] = {(uint8_t)(p >> 8), (uint8_t)p};
  if (dyna_store_iter(n->store, DYNA_SPACE_OBJ, prefix, 2, add_record, t) < 0) {
    dyna_free(t);
    return NULL;
  }
  m->tree[p] = t;
  return t;
}

/* Index of id among p's home replicas, or -1. */
static int home_index(dyna_node_t *n, uint32_t p, uint64_t id, uint64_t *homes, size_t *nh) {
  *nh = dyna_node_replicas(n, p, homes);
  for (size_t i = 0; i < *nh; i++)
    if (homes[i] == id) return (int)i;
  return -1;
}

void dyna_merkle_forget(dyna_node_t *n) {
  merkle_t *m = n->mk;
  if (!m) return;
  for (uint32_t p = 0; p < m->q; p++) {
    dyna_free(m->tree[p]);
    m->tree[p] = NULL;
    m->agree[p] = 0;
  }
}

void dyna_merkle_force(dyna_node_t *n, uint32_t p) {
  merkle_t *m = n->mk;
  if (p == UINT32_MAX) {
    memset(m->forced, 1, m->q);
    m->nforced = m->q;
  } else if (p < m->q) {
    set_forced(m, p);
  }
  m->next_ms = n->now.mono_ms;
}

/* A peer back after a silence (a partition healed, a pause or a restart ended) may have
 * missed writes, and this node may have missed its: every partition both replicate is
 * exchanged first, instead of waiting for the round robin to come by (a round takes a
 * node's share of the ring times the interval: about 3 s at 100 nodes, Q = 1024). */
void dyna_merkle_force_shared(dyna_node_t *n, uint64_t peer) {
  merkle_t *m = n->mk;
  if (!m || peer == n->cfg.id) return;
  uint64_t homes[DYNA_MAX_N];
  size_t nh;
  int any = 0, listed = refresh_mine(n, m) == 0;
  for (uint32_t k = 0; k < (listed ? m->nmine : m->q); k++) {
    uint32_t p = listed ? m->mine[k] : k;
    if (home_index(n, p, n->cfg.id, homes, &nh) < 0) continue;
    for (size_t i = 0; i < nh; i++)
      if (homes[i] == peer) set_forced(m, p), any = 1;
  }
  if (any) m->next_ms = n->now.mono_ms;
}

typedef struct sender {
  dyna_node_t *n;
  uint64_t to;
  const uint8_t *bitmap;
  uint64_t bytes, keys;
  uint64_t most; /* bytes one exchange sends at most (the budget's slice); the rest
                    differs still and goes at a later exchange */
} sender_t;

static int send_if_differs(void *arg, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen) {
  sender_t *s = arg;
  unsigned b = bucket_of(k, klen);
  if (!(s->bitmap[b / 8] & (1u << (b % 8)))) return 0;
  const uint8_t *key;
  size_t keylen;
  dyna_obj_t o;
  dyna_obj_init(&o);
  if (dyna_skey_user_key(k, klen, v, vlen, &key, &keylen) ||
      dyna_record_decode(v, vlen, NULL, 0, &o, NULL, NULL))
    return 0;
  dyna_buf_t enc = DYNA_BUF_INIT;
  dyna_obj_encode(&o, &enc);
  dyna_obj_clear(&o);
  if (!enc.oom) {
    dyna_msg_t m = {0};
    m.type = DYNA_MSG_PUT;
    m.flags = DYNA_PUT_AAE;
    m.key = key;
    m.klen = keylen;
    m.obj = enc.data;
    m.objlen = enc.len;
    dyna_node_send_bulk(s->n, s->to, &m);
    s->bytes += enc.len;
    s->keys++;
  }
  dyna_buf_free(&enc);
  return s->bytes >= s->most;
}

/* Sends every object of partition p whose bucket is set in bitmap to node `to`. */
static void send_buckets(dyna_node_t *n, uint32_t p, uint64_t to, const uint8_t *bitmap) {
  sender_t s = {n, to, bitmap, 0, 0, dyna_budget_slice(n)};
  uint8_t prefix[2] = {(uint8_t)(p >> 8), (uint8_t)p};
  dyna_store_iter(n->store, DYNA_SPACE_OBJ, prefix, 2, send_if_differs, &s);
  n->stats.aae_keys_sent += s.keys;
  n->stats.aae_bytes += s.bytes;
  dyna_budget_take(n, s.bytes);
}

static void tree_bytes(const uint64_t *t, uint8_t buf[MK_TREE_BYTES]) {
  for (unsigned b = 0; b < MK_BUCKETS; b++)
    for (int i = 0; i < 8; i++) buf[b * 8 + (unsigned)i] = (uint8_t)(t[b] >> (8 * i));
}

/* The root: one hash of the whole tree (of its little-endian bytes, so every platform
 * agrees). */
static uint64_t root_of(const uint64_t *t) {
  uint8_t buf[MK_TREE_BYTES];
  tree_bytes(t, buf);
  return XXH3_64bits(buf, sizeof(buf));
}

/* Sends AAE_TREE(p) with len bytes of payload (a root or a whole tree), counted against
 * the background budget. */
static void send_aae_tree(dyna_node_t *n, uint32_t p, uint64_t to, const uint8_t *buf, size_t len) {
  dyna_msg_t m = {0};
  m.type = DYNA_MSG_AAE_TREE;
  m.w = (uint64_t)p + 1;
  m.obj = buf;
  m.objlen = len;
  dyna_node_send_bulk(n, to, &m);
  dyna_budget_take(n, len);
  n->stats.aae_bytes += len;
}

/* Opens an exchange with the root alone: a partition whose replicas agree (the usual
 * case) costs 8 bytes instead of the tree's 2 KiB. */
static void send_root(dyna_node_t *n, uint32_t p, uint64_t to, const uint64_t *t) {
  uint8_t buf[MK_ROOT_BYTES];
  uint64_t r = root_of(t);
  for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(r >> (8 * i));
  send_aae_tree(n, p, to, buf, sizeof(buf));
}

static void send_tree(dyna_node_t *n, uint32_t p, uint64_t to, const uint64_t *t) {
  uint8_t buf[MK_TREE_BYTES];
  tree_bytes(t, buf);
  send_aae_tree(n, p, to, buf, sizeof(buf));
}

/* ---------- reaping tombstones ---------- */

typedef struct reaper {
  dyna_node_t *n;
  dyna_buf_t list; /* per record: bytes skey, u64le record hash */
  size_t count;
} reaper_t;

static int consider_reap(void *arg, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen) {
  reaper_t *r = arg;
  dyna_obj_t o;
  dyna_obj_init(&o);
  if (dyna_record_decode(v, vlen, NULL, 0, &o, NULL, NULL)) return 0;
  uint64_t newest = 0;
  /* A key with typed states is reaped once it is nothing but deletions: expired (its
   * deadline is its last moment, as a tombstone's stamp is), or deleted (every typed
   * state a deletion: its newest deletion stamp). The grace then runs from that moment
   * (dyna_obj_typed_reapable). */
  int all_tomb;
  if (o.ntyped) {
    all_tomb = dyna_obj_typed_reapable(&o, r->n->now.wall_ms, &newest);
  } else {
    all_tomb = dyna_obj_nvals(&o) > 0 && dyna_obj_nlive(&o) == 0;
    for (size_t i = 0; all_tomb && i < dyna_obj_nvals(&o); i++)
      if (dyna_obj_val(&o, i)->ts_ms > newest) newest = dyna_obj_val(&o, i)->ts_ms;
  }
  dyna_obj_clear(&o);
  if (!all_tomb || newest + r->n->cfg.tombstone_grace_ms > r->n->now.wall_ms) return 0;
  dyna_buf_put_bytes(&r->list, k, klen);
  dyna_buf_put_u64le(&r->list, dyna_record_hash(k, klen, v, vlen));
  return ++r->count >= 256;
}

/* Deletes every listed record that is still exactly the one listed. */
static void apply_reap(dyna_node_t *n, uint32_t p, const uint8_t *list, size_t len) {
  dyna_rd_t rd;
  dyna_rd_init(&rd, list, len);
  dyna_buf_t cur = DYNA_BUF_INIT;
  dyna_replica_t rep;
  dyna_node_replica(n, p, &rep);
  while (dyna_rd_left(&rd)) {
    size_t sklen;
    const uint8_t *skey = dyna_rd_bytes(&rd, DYNA_SKEY_MAX, &sklen);
    uint64_t h = dyna_rd_u64le(&rd);
    if (rd.err || dyna_skey_partition(skey, sklen) != p) break;
    if (dyna_store_get(n->store, DYNA_SPACE_OBJ, skey, sklen, &cur)) continue;
    if (dyna_record_hash(skey, sklen, cur.data, cur.len) != h) continue;
    if (dyna_replica_delete_if(&rep, skey, sklen, cur.data, cur.len) == 1) n->stats.tombstones_reaped++;
  }
  dyna_buf_free(&cur);
}

static void maybe_reap(dyna_node_t *n, uint32_t p, const uint64_t *homes, size_t nh) {
  merkle_t *m = n->mk;
  uint64_t want = 0;
  for (size_t i = 1; i < nh; i++) want |= 1ull << i;
  if (homes[0] != n->cfg.id || (m->agree[p] & want) != want) return;
  reaper_t r = {n, DYNA_BUF_INIT, 0};
  uint8_t prefix[2] = {(uint8_t)(p >> 8), (uint8_t)p};
  dyna_store_iter(n->store, DYNA_SPACE_OBJ, prefix, 2, consider_reap, &r);
  if (r.count && !r.list.oom) {
    for (size_t i = 1; i < nh; i++) {
      dyna_msg_t msg = {0};
      msg.type = DYNA_MSG_AAE_DIFF;
      msg.w = (uint64_t)p + 1;
      msg.flags = REAP_FLAG;
      msg.obj = r.list.data;
      msg.objlen = r.list.len;
      dyna_node_send_bulk(n, homes[i], &msg);
    }
    apply_reap(n, p, r.list.data, r.list.len);
  }
  dyna_buf_free(&r.list);
  m->agree[p] = 0;
}

/* ---------- the exchange ---------- */

static void start_exchange(dyna_node_t *n, uint32_t p) {
  uint64_t homes[DYNA_MAX_N];
  size_t nh;
  if (home_index(n, p, n->cfg.id, homes, &nh) < 0) return;
  const uint64_t *t = tree_of(n, p);
  if (!t) return;
  maybe_reap(n, p, homes, nh);
  n->mk->agree[p] = 0;
  for (size_t i = 0; i < nh; i++) {
    if (homes[i] == n->cfg.id || !dyna_node_is_reachable(n, homes[i])) continue;
    send_root(n, p, homes[i], t);
    n->stats.aae_exchanges++;
  }
}

void dyna_merkle_tick(dyna_node_t *n) {
  merkle_t *m = n->mk;
  if (!m || !m->q || n->now.mono_ms < m->next_ms) return;
  m->next_ms = n->now.mono_ms + n->cfg.aae_interval_ms;
  if (!dyna_budget_ok(n)) return;
  /* Forced partitions first (up to FORCED_PER_TICK of those this node replicates, while
   * the background budget lasts; the others are dropped from the queue at no cost),
   * then one partition in turn. */
  uint64_t homes[DYNA_MAX_N];
  size_t nh;
  int started = 0;
  for (uint32_t i = 0; m->nforced && i < m->q && started < FORCED_PER_TICK; i++) {
    uint32_t p = (m->cursor + i) % m->q;
    if (!m->forced[p]) continue;
    m->forced[p] = 0;
    m->nforced--;
    if (home_index(n, p, n->cfg.id, homes, &nh) < 0) continue;
    start_exchange(n, p);
    started++;
    m->next_ms = n->now.mono_ms; /* keep going while forced work remains */
    if (!dyna_budget_ok(n)) return;
  }
  if (started) return;
  /* The next partition this node replicates (a round then takes its share of the ring,
   * not all Q intervals): from the list, or by walking at most 1024 partitions. */
  if (refresh_mine(n, m) == 0) {
    if (!m->nmine) return;
    uint32_t lo = 0, hi = m->nmine; /* the first listed partition at or after the cursor */
    while (lo < hi) {
      uint32_t mid = lo + (hi - lo) / 2;
      if (m->mine[mid] < m->cursor) lo = mid + 1;
      else hi = mid;
    }
    uint32_t p = m->mine[lo < m->nmine ? lo : 0];
    m->cursor = (p + 1) % m->q;
    start_exchange(n, p);
    return;
  }
  for (uint32_t i = 0; i < m->q && i < 1024; i++) { /* bounded work per tick */
    uint32_t p = m->cursor % m->q;
    m->cursor = (p + 1) % m->q;
    if (home_index(n, p, n->cfg.id, homes, &nh) < 0) continue;
    start_exchange(n, p);
    return;
  }
}

/* Sets in bitmap each bucket where the tree `theirs` (MK_TREE_BYTES) differs from mine;
 * returns 1 when any does. */
static int diff_trees(const uint64_t *mine, const uint8_t *theirs, uint8_t bitmap[MK_BITMAP_BYTES]) {
  int differs = 0;
  memset(bitmap, 0, MK_BITMAP_BYTES);
  for (unsigned b = 0; b < MK_BUCKETS; b++) {
    uint64_t h = 0;
    for (int i = 0; i < 8; i++) h |= (uint64_t)theirs[b * 8 + (unsigned)i] << (8 * i);
    if (h != mine[b]) {
      bitmap[b / 8] |= (uint8_t)(1u << (b % 8));
      differs = 1;
    }
  }
  return differs;
}

static void on_tree(dyna_node_t *n, uint64_t from, uint32_t p, const uint8_t *obj, size_t len) {
  uint64_t homes[DYNA_MAX_N];
  size_t nh;
  if ((len != MK_TREE_BYTES && len != MK_ROOT_BYTES) || home_index(n, p, n->cfg.id, homes, &nh) < 0) return;
  const uint64_t *mine = tree_of(n, p);
  if (!mine) return;
  if (len == MK_ROOT_BYTES) {
    uint64_t theirs = 0;
    for (int i = 0; i < 8; i++) theirs |= (uint64_t)obj[i] << (8 * i);
    if (theirs != root_of(mine)) { /* they differ somewhere: the whole tree, and the */
      send_tree(n, p, from, mine); /* initiator compares it as this node would have */
      return;
    }
    dyna_msg_t m = {0}; /* the same: an empty AAE_DIFF says so */
    m.type = DYNA_MSG_AAE_DIFF;
    m.w = (uint64_t)p + 1;
    dyna_node_send_bulk(n, from, &m);
    return;
  }
  uint8_t bitmap[MK_BITMAP_BYTES];
  int differs = diff_trees(mine, obj, bitmap);
  if (differs) send_buckets(n, p, from, bitmap);
  else n->mk->matched[p] = 1;
  dyna_msg_t m = {0};
  m.type = DYNA_MSG_AAE_DIFF;
  m.w = (uint64_t)p + 1;
  m.obj = differs ? bitmap : NULL;
  m.objlen = differs ? sizeof(bitmap) : 0;
  dyna_node_send_bulk(n, from, &m);
  n->stats.aae_bytes += m.objlen;
}

static void on_diff(dyna_node_t *n, uint64_t from, uint32_t p, const dyna_msg_t *msg) {
  uint64_t homes[DYNA_MAX_N];
  size_t nh;
  int me = home_index(n, p, n->cfg.id, homes, &nh);
  int them = home_index(n, p, from, homes, &nh);
  if (me < 0 || them < 0) return;
  if (msg->flags & REAP_FLAG) {
    if (them == 0) apply_reap(n, p, msg->obj, msg->objlen); /* only the primary reaps */
    return;
  }
  if (!msg->objlen) {
    n->mk->agree[p] |= 1ull << them;
    n->mk->matched[p] = 1;
    return;
  }
  if (msg->objlen == MK_BITMAP_BYTES) send_buckets(n, p, from, msg->obj);
}

void dyna_merkle_on_message(dyna_node_t *n, uint64_t from, const dyna_msg_t *m) {
  if (!n->mk || m->w == 0 || m->w > n->mk->q) {
    n->stats.bad_messages++;
    return;
  }
  uint32_t p = (uint32_t)(m->w - 1);
  /* A node whose admission controller is holding its background back declines the
   * exchanges others open with it (their next round asks again): what they would push
   * here is what its handoff acknowledgements are pacing. */
  if (m->type == DYNA_MSG_AAE_TREE && dyna_budget_busy(n)) return;
  if (m->type == DYNA_MSG_AAE_TREE) on_tree(n, from, p, m->obj, m->objlen);
  else on_diff(n, from, p, m);
}

/* ---------- handoff checks (handoff.c asks, any node answers) ---------- */

const uint64_t *dyna_merkle_tree(dyna_node_t *n, uint32_t p) {
  return n->mk && p < n->mk->q ? tree_of(n, p) : NULL;
}

uint64_t dyna_merkle_root(const uint64_t *tree) { return root_of(tree); }

int dyna_merkle_diff(const uint64_t *mine, const uint8_t *theirs, size_t len, uint8_t *bitmap) {
  if (len != MK_TREE_BYTES) return DYNA_EPROTO;
  diff_trees(mine, theirs, bitmap);
  return 0;
}

/* HO_CHECK(p, the sender's root): answered by HO_HAVE, empty when this node's root of
 * p is the same (it holds exactly what the sender does), else with this node's whole
 * tree, for the sender to compare. Read-only here, and answered whether or not this
 * node replicates p under its own ring (it may not have heard of the change yet): the
 * sender only learns which buckets to send. No answer when the tree cannot be built:
 * the sender then sends every key. */
void dyna_merkle_on_check(dyna_node_t *n, uint64_t from, const dyna_msg_t *m) {
  if (!n->mk || m->w == 0 || m->w > n->mk->q || m->objlen != MK_ROOT_BYTES) {
    n->stats.bad_messages++;
    return;
  }
  uint32_t p = (uint32_t)(m->w - 1);
  const uint64_t *t = tree_of(n, p);
  if (!t) return;
  uint64_t theirs = 0;
  for (int i = 0; i < 8; i++) theirs |= (uint64_t)m->obj[i] << (8 * i);
  uint8_t buf[MK_TREE_BYTES];
  dyna_msg_t a = {0};
  a.type = DYNA_MSG_HO_HAVE;
  a.req = m->req;
  a.w = m->w;
  if (theirs != root_of(t)) {
    tree_bytes(t, buf);
    a.obj = buf;
    a.objlen = sizeof(buf);
  }
  dyna_node_send_bulk(n, from, &a);
  dyna_budget_take(n, a.objlen);
  n->stats.handoff_bytes += a.objlen;
}

void dyna_node_aae_progress(const dyna_node_t *n, uint32_t *matched, uint32_t *replicated, uint32_t *forced) {
  const merkle_t *m = n->mk;
  *matched = *replicated = *forced = 0;
  if (!m) return;
  for (uint32_t p = 0; p < m->q; p++) {
    *forced += m->forced[p];
    if (!dyna_node_is_home(n, p, n->cfg.id)) continue;
    (*replicated)++;
    *matched += m->matched[p];
  }
}
