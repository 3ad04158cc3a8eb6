/* handoff.c: moving data to where the ring says it belongs.
 *
 * Every handoff interval the node sweeps its partitions (a bounded number per tick).
 * A partition it holds data for but is no longer a replica of (after a join, a leave or
 * a remove changed the ring) is sent, a batch of keys at a time, to the partition's
 * current replicas as merge-PUTs. When every replica acknowledged a batch, each key
 * whose stored record is still the one sent is deleted here; the partition's epoch is
 * bumped first (node_int.h: dyna_node_actor), so dots made later, if the partition comes
 * back, cannot collide with dots made before. A token bucket limits the bytes sent per
 * second. A leaving node that finds nothing left to move becomes REMOVED.
 */
#include "core/err.h"
#include "core/keyspace.h"
#include "core/mem.h"
#include "core/node_int.h"
#include <string.h>

#define EPOCH_PREFIX "epoch"
#define SCAN_PER_TICK 64

static void epoch_key(uint32_t p, uint8_t *k) {
  memcpy(k, EPOCH_PREFIX, 5);
  k[5] = (uint8_t)(p >> 8);
  k[6] = (uint8_t)p;
}

static int load_epoch(void *arg, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen) {
  dyna_node_t *n = arg;
  if (klen != 7 || vlen != 4) return 0;
  uint32_t p = ((uint32_t)k[5] << 8) | k[6];
  dyna_rd_t r;
  dyna_rd_init(&r, v, vlen);
  if (p < n->cl.ring.size) n->epoch[p] = dyna_rd_u32le(&r);
  return 0;
}

int dyna_handoff_load_epochs(dyna_node_t *n) {
  n->epoch = dyna_calloc(n->cl.ring.size ? n->cl.ring.size : 1, sizeof(uint32_t));
  if (!n->epoch) return DYNA_ENOMEM;
  int rc = dyna_store_iter(n->store, DYNA_SPACE_META, (const uint8_t *)EPOCH_PREFIX, 5, load_epoch, n);
  return rc > 0 ? 0 : rc;
}

static void bump_epoch(dyna_node_t *n, uint32_t p) {
  uint8_t k[7];
  epoch_key(p, k);
  n->epoch[p]++;
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_buf_put_u32le(&b, n->epoch[p]);
  if (!b.oom) dyna_store_put(n->store, DYNA_SPACE_META, k, sizeof(k), b.data, b.len);
  dyna_buf_free(&b);
}

static void free_items(handoff_t *h) {
  for (size_t i = 0; i < h->nitems; i++) {
    dyna_free(h->items[i].skey);
    dyna_free(h->items[i].rec);
  }
  dyna_free(h->items);
  h->items = NULL;
  h->nitems = 0;
  h->active = 0;
  h->failed = 0;
}

void dyna_handoff_free(dyna_node_t *n) { free_items(&n->ho); }

typedef struct collect {
  handoff_t *h;
  size_t max;
  int err;
} collect_t;

static int collect_one(void *arg, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen) {
  collect_t *c = arg;
  handoff_t *h = c->h;
  handoff_item_t *it = &h->items[h->nitems];
  it->skey = dyna_memdup(k, klen);
  it->rec = dyna_memdup(v, vlen);
  if (!it->skey || !it->rec) {
    dyna_free(it->skey);
    dyna_free(it->rec);
    c->err = DYNA_ENOMEM;
    return 1;
  }
  it->sklen = klen;
  it->reclen = vlen;
  it->acks = 0;
  h->nitems++;
  return h->nitems >= c->max;
}

/* Reads up to max keys of partition p into the handoff batch. */
static int collect(dyna_node_t *n, uint32_t p, size_t max) {
  handoff_t *h = &n->ho;
  h->items = dyna_calloc(max, sizeof(handoff_item_t));
  if (!h->items) return DYNA_ENOMEM;
  uint8_t prefix[2] = {(uint8_t)(p >> 8), (uint8_t)p};
  collect_t c = {h, max, 0};
  int rc = dyna_store_iter(n->store, DYNA_SPACE_OBJ, prefix, 2, collect_one, &c);
  if (c.err) return c.err;
  return rc < 0 ? rc : 0;
}

/* Sends item i to every target; returns bytes sent, or -1 when the record is bad. */
static long send_item(dyna_node_t *n, size_t i) {
  handoff_t *h = &n->ho;
  handoff_item_t *it = &h->items[i];
  dyna_obj_t o;
  dyna_obj_init(&o);
  const uint8_t *lk = NULL;
  size_t lklen = 0;
  if (dyna_record_decode(it->rec, it->reclen, NULL, 0, &o, &lk, &lklen)) return -1;
  const uint8_t *key = lk ? lk : it->skey + 3;
  size_t klen = lk ? lklen : it->sklen - 3;
  dyna_buf_t enc = DYNA_BUF_INIT;
  dyna_obj_encode(&o, &enc);
  dyna_obj_clear(&o);
  if (enc.oom) { dyna_buf_free(&enc); return -1; }
  for (uint32_t t = 0; t < h->nt; t++) {
    dyna_msg_t m = {0};
    m.type = DYNA_MSG_PUT;
    m.req = h->first_req + i * h->nt + t;
    m.flags = DYNA_PUT_HANDOFF;
    m.key = key;
    m.klen = klen;
    m.obj = enc.data;
    m.objlen = enc.len;
    dyna_node_send(n, h->target[t], &m);
  }
  long bytes = (long)(enc.len * h->nt);
  dyna_buf_free(&enc);
  return bytes;
}

/* Starts moving partition p if it has data here and this node is not its replica.
 * Returns 1 when a batch was sent. */
static int try_partition(dyna_node_t *n, uint32_t p) {
  handoff_t *h = &n->ho;
  uint64_t reps[DYNA_MAX_N];
  size_t nrep = dyna_node_replicas(n, p, reps);
  for (size_t i = 0; i < nrep; i++)
    if (reps[i] == n->cfg.id) return 0;
  if (collect(n, p, n->cfg.handoff_batch_keys) || !h->nitems) {
    free_items(h);
    return 0;
  }
  h->found_foreign = 1;
  for (size_t i = 0; i < nrep; i++) {
    if (!dyna_node_is_reachable(n, reps[i])) { /* wait until every replica can take it */
      free_items(h);
      return 0;
    }
    h->target[i] = reps[i];
  }
  h->nt = (uint32_t)nrep;
  h->partition = p;
  h->first_req = n->next_req + 1;
  n->next_req += h->nitems * h->nt;
  long total = 0;
  for (size_t i = 0; i < h->nitems; i++) {
    long b = send_item(n, i);
    if (b < 0) h->items[i].acks = h->nt; /* undecodable here: leave it, count as done */
    else total += b;
  }
  h->tokens -= (double)total;
  n->stats.handoff_bytes += (uint64_t)total;
  n->stats.handoff_keys_sent += h->nitems;
  h->active = 1;
  h->deadline_ms = n->now_ms + 5 * n->cfg.request_timeout_ms;
  return 1;
}

static void finish_batch(dyna_node_t *n) {
  handoff_t *h = &n->ho;
  if (!h->failed) {
    bump_epoch(n, h->partition);
    dyna_buf_t cur = DYNA_BUF_INIT;
    for (size_t i = 0; i < h->nitems; i++) {
      handoff_item_t *it = &h->items[i];
      int rc = dyna_store_get(n->store, DYNA_SPACE_OBJ, it->skey, it->sklen, &cur);
      /* Only what was sent and acknowledged may go: a newer write stays for next time. */
      if (!rc && cur.len == it->reclen && !memcmp(cur.data, it->rec, it->reclen)) {
        dyna_store_del(n->store, DYNA_SPACE_OBJ, it->skey, it->sklen);
        n->stats.handoff_keys_deleted++;
      }
    }
    dyna_buf_free(&cur);
  }
  free_items(h);
  h->next_ms = n->now_ms; /* go on at once with the next batch */
}

int dyna_handoff_on_ack(dyna_node_t *n, uint64_t from, const dyna_msg_t *m) {
  handoff_t *h = &n->ho;
  if (!h->active || m->req < h->first_req || m->req >= h->first_req + h->nitems * h->nt) return 0;
  uint64_t off = m->req - h->first_req;
  size_t i = (size_t)(off / h->nt);
  uint32_t t = (uint32_t)(off % h->nt);
  if (h->target[t] != from) return 1;
  if (m->status) h->failed++;
  else h->items[i].acks++;
  size_t done = 0;
  for (size_t k = 0; k < h->nitems; k++) done += h->items[k].acks >= h->nt;
  if (h->failed || done == h->nitems) finish_batch(n);
  return 1;
}

void dyna_handoff_tick(dyna_node_t *n) {
  handoff_t *h = &n->ho;
  uint32_t q = n->cl.ring.size;
  if (h->active) {
    if (n->now_ms >= h->deadline_ms) free_items(h); /* a replica did not answer: retry later */
    return;
  }
  if (n->now_ms < h->next_ms || !q) return;
  h->next_ms = n->now_ms + n->cfg.handoff_interval_ms;
  double rate = (double)n->cfg.handoff_bytes_per_sec;
  h->tokens += rate * (double)(n->now_ms - h->tokens_ms) / 1000.0;
  if (h->tokens > rate) h->tokens = rate;
  h->tokens_ms = n->now_ms;
  if (h->tokens <= 0) return;
  for (int i = 0; i < SCAN_PER_TICK; i++) {
    uint32_t p = h->cursor % q;
    h->cursor = (p + 1) % q;
    if (++h->scanned >= q) { /* a whole sweep done */
      if (!h->found_foreign) dyna_gossip_left(n);
      h->scanned = 0;
      h->found_foreign = 0;
    }
    if (try_partition(n, p)) return;
  }
}
