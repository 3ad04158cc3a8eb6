/* transfer.c: a batch of stored objects sent to other nodes as merge-PUTs and deleted
 * here once every target acknowledged it, unless it changed meanwhile:
 *
 *   add items (space, store key, record, targets) ─▶ send: PUT(handoff) to each target
 *   PUT_ACK from every target of every item ─▶ bump the epoch of each partition
 *     involved, then delete each record that still equals what was sent
 *   a failed ack, or the deadline ─▶ drop the batch; the next sweep sends it again
 *
 * Partition handoff (handoff.c) and hint delivery (hints.c) each drive one batch. A
 * record sent to the node itself (a hint whose key this node now replicates) is merged
 * locally at once and counts as acknowledged. */
#include "util/err.h"
#include "core/keyspace.h"
#include "util/alloc.h"
#include "core/node_int.h"
#include <string.h>

void dyna_xfer_clear(xfer_t *x) {
  for (size_t i = 0; i < x->nitems; i++) {
    dyna_free(x->items[i].skey);
    dyna_free(x->items[i].rec);
  }
  dyna_free(x->items);
  memset(x, 0, sizeof(*x));
}

int dyna_xfer_add(dyna_node_t *n, xfer_t *x, dyna_space_t space, const uint8_t *skey, size_t sklen,
                  const uint8_t *rec, size_t reclen, uint32_t partition, const uint64_t *targets,
                  uint32_t nt) {
  (void)n;
  if (nt > DYNA_MAX_N) return DYNA_EINVAL;
  if (x->nitems == x->cap) {
    size_t cap = x->cap ? x->cap * 2 : 16;
    xfer_item_t *it = dyna_realloc(x->items, cap * sizeof(*it));
    if (!it) return DYNA_ENOMEM;
    x->items = it;
    x->cap = cap;
  }
  xfer_item_t *it = &x->items[x->nitems];
  memset(it, 0, sizeof(*it));
  it->skey = dyna_memdup(skey, sklen);
  it->rec = dyna_memdup(rec, reclen);
  if (!it->skey || !it->rec) {
    dyna_free(it->skey);
    dyna_free(it->rec);
    return DYNA_ENOMEM;
  }
  it->space = space;
  it->sklen = sklen;
  it->reclen = reclen;
  it->partition = partition;
  it->nt = nt;
  memcpy(it->target, targets, nt * sizeof(uint64_t));
  x->nitems++;
  return 0;
}

/* The object store key inside an item's key (hint keys wrap it). */
static int obj_skey(const xfer_item_t *it, const uint8_t **skey, size_t *sklen) {
  if (it->space == DYNA_SPACE_OBJ) {
    *skey = it->skey;
    *sklen = it->sklen;
    return 0;
  }
  uint64_t owner;
  return dyna_hkey_parse(it->skey, it->sklen, skey, sklen, &owner);
}

/* Sends item i; returns its bytes, or -1 (the item is then counted as done). */
static long send_item(dyna_node_t *n, xfer_t *x, size_t i) {
  xfer_item_t *it = &x->items[i];
  const uint8_t *skey, *key;
  size_t sklen, klen;
  dyna_obj_t o;
  dyna_obj_init(&o);
  if (obj_skey(it, &skey, &sklen) || dyna_skey_user_key(skey, sklen, it->rec, it->reclen, &key, &klen) ||
      dyna_record_decode(it->rec, it->reclen, NULL, 0, &o, NULL, NULL)) {
    it->acked = it->nt >= 32 ? UINT32_MAX : (1u << it->nt) - 1; /* undecodable: leave it */
    return -1;
  }
  dyna_buf_t enc = DYNA_BUF_INIT;
  dyna_obj_encode(&o, &enc);
  long bytes = 0;
  for (uint32_t t = 0; t < it->nt && !enc.oom; t++) {
    if (it->target[t] == n->cfg.id) { /* ours now: merge here */
      dyna_replica_t rep;
      dyna_node_replica(n, it->partition, &rep);
      if (dyna_replica_merge(&rep, key, klen, &o, enc.data, enc.len, 0, 0, NULL) == 0) it->acked |= 1u << t;
      else x->failed++;
      continue;
    }
    dyna_msg_t m = {0};
    m.type = DYNA_MSG_PUT;
    m.req = x->first_req + i * DYNA_MAX_N + t;
    m.flags = DYNA_PUT_HANDOFF;
    m.key = key;
    m.klen = klen;
    m.obj = enc.data;
    m.objlen = enc.len;
    dyna_node_send_bulk(n, it->target[t], &m);
    bytes += (long)(klen + enc.len);
  }
  if (enc.oom) x->failed++;
  dyna_buf_free(&enc);
  dyna_obj_clear(&o);
  return bytes;
}

static int item_done(const xfer_item_t *it) {
  return it->nt >= 32 ? it->acked == UINT32_MAX : it->acked == (1u << it->nt) - 1;
}

static int complete(const xfer_t *x) {
  for (size_t i = 0; i < x->nitems; i++)
    if (!item_done(&x->items[i])) return 0;
  return 1;
}

static void finish(dyna_node_t *n, xfer_t *x) {
  uint64_t deleted = 0;
  if (!x->failed) {
    /* New epochs first: dots made after this, should the data come back, are fresh. */
    for (size_t i = 0; i < x->nitems; i++) {
      int seen = 0;
      for (size_t j = 0; j < i && !seen; j++) seen = x->items[j].partition == x->items[i].partition;
      if (!seen) dyna_node_bump_epoch(n, x->items[i].partition);
    }
    dyna_buf_t cur = DYNA_BUF_INIT;
    for (size_t i = 0; i < x->nitems; i++) {
      xfer_item_t *it = &x->items[i];
      if (it->space == DYNA_SPACE_OBJ) {
        dyna_replica_t rep;
        dyna_node_replica(n, it->partition, &rep);
        if (dyna_replica_delete_if(&rep, it->skey, it->sklen, it->rec, it->reclen) == 1) {
          deleted++;
          dyna_handoff_deleted(n, it->partition, it->skey, it->sklen, it->rec, it->reclen);
        }
        continue;
      }
      int rc = dyna_store_get(n->store, it->space, it->skey, it->sklen, &cur);
      if (!rc && cur.len == it->reclen && !memcmp(cur.data, it->rec, it->reclen) &&
          dyna_store_del(n->store, it->space, it->skey, it->sklen) == 0)
        deleted++;
    }
    dyna_buf_free(&cur);
  }
  if (x->nitems && x->items[0].space == DYNA_SPACE_HINT) n->stats.hints_delivered += deleted;
  else n->stats.handoff_keys_deleted += deleted;
  dyna_xfer_clear(x);
}

uint64_t dyna_xfer_send(dyna_node_t *n, xfer_t *x) {
  x->first_req = n->next_req + 1;
  n->next_req += x->nitems * DYNA_MAX_N;
  uint64_t total = 0;
  for (size_t i = 0; i < x->nitems; i++) {
    long b = send_item(n, x, i);
    if (b > 0) total += (uint64_t)b;
  }
  x->active = 1;
  x->deadline_ms = n->now.mono_ms + 5 * n->cfg.request_timeout_ms;
  if (x->failed) dyna_xfer_clear(x);
  else if (complete(x)) finish(n, x);
  return total;
}

int dyna_xfer_on_ack(dyna_node_t *n, xfer_t *x, uint64_t from, const dyna_msg_t *m) {
  if (!x->active || m->req < x->first_req || m->req >= x->first_req + x->nitems * DYNA_MAX_N) return 0;
  uint64_t off = m->req - x->first_req;
  size_t i = (size_t)(off / DYNA_MAX_N);
  uint32_t t = (uint32_t)(off % DYNA_MAX_N);
  if (t >= x->items[i].nt || x->items[i].target[t] != from) return 1;
  if (m->status) x->failed++;
  else x->items[i].acked |= 1u << t;
  if (x->failed) dyna_xfer_clear(x);
  else if (complete(x)) finish(n, x);
  return 1;
}

void dyna_xfer_expire(dyna_node_t *n, xfer_t *x) {
  if (x->active && n->now.mono_ms >= x->deadline_ms) dyna_xfer_clear(x);
}
