/* scan.c: a replica's part of a cluster-wide scan (scan.h): one page of a partition in
 * position order, and the count of a partition's live keys. Pure: the store through
 * its ops table, the wall clock as an argument.
 *
 * A page is chosen in one pass over the partition with a max-heap of at most count
 * entries (plus the keys of one position): every live key whose position is at or above
 * start and below `limit` is in the heap, where limit starts past every position and
 * drops to the position of each group of keys pushed out when the heap is over count
 * (or over DYNA_SCAN_BYTES_MAX bytes of keys). At the end the heap holds every live key
 * in [start, limit), and limit is where the next page starts. */
#include "core/scan.h"
#include "core/keyspace.h"
#include "core/object.h"
#include "util/alloc.h"
#include "util/assert.h"
#include "util/err.h"
#include "util/keyhash.h"
#include <string.h>

uint64_t dyna_scan_pos_of(const uint8_t *key, size_t klen) {
  return dyna_key_hash(key, klen) & (DYNA_SCAN_POS_END - 1);
}

uint64_t dyna_scan_cursor(uint32_t p, uint64_t pos) {
  DYNA_ASSERT(p < DYNA_RING_MAX_SIZE && pos < DYNA_SCAN_POS_END, "cursor of partition %u position %llu", p,
              (unsigned long long)pos);
  return (uint64_t)p << DYNA_SCAN_POS_BITS | pos;
}

int dyna_scan_cursor_split(uint64_t cursor, uint32_t ring_size, uint32_t *p, uint64_t *pos) {
  uint64_t part = cursor >> DYNA_SCAN_POS_BITS;
  if (part >= ring_size) return DYNA_EINVAL;
  *p = (uint32_t)part;
  *pos = cursor & (DYNA_SCAN_POS_END - 1);
  return 0;
}

/* ---------- one page ---------- */

typedef struct ent {
  uint64_t pos;
  uint32_t kind;
  uint8_t *key; /* owned */
  size_t klen;
} ent_t;

typedef struct page {
  uint64_t start, limit; /* keys in [start, limit) are all in the heap */
  uint32_t count;
  uint64_t now_ms;
  ent_t *h;              /* max-heap by pos (owned) */
  size_t n, cap;
  size_t bytes;          /* key bytes in the heap */
  uint64_t min;          /* the lowest position in the heap (valid when n > 0) */
  int err;
} page_t;

static void heap_up(ent_t *h, size_t i) {
  while (i > 0) {
    size_t up = (i - 1) / 2;
    if (h[up].pos >= h[i].pos) break;
    ent_t t = h[up]; h[up] = h[i]; h[i] = t;
    i = up;
  }
}

static void heap_down(ent_t *h, size_t n, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && h[l].pos > h[m].pos) m = l;
    if (r < n && h[r].pos > h[m].pos) m = r;
    if (m == i) return;
    ent_t t = h[m]; h[m] = h[i]; h[i] = t;
    i = m;
  }
}

static void heap_pop(page_t *pg) {
  DYNA_ASSERT(pg->n > 0, "pop of an empty scan heap");
  pg->bytes -= pg->h[0].klen;
  dyna_free(pg->h[0].key);
  pg->h[0] = pg->h[--pg->n];
  heap_down(pg->h, pg->n, 0);
}

/* Over its bounds: pushes out the group of keys at the highest position, unless that is
 * every key held (a page always makes progress). */
static void page_trim(page_t *pg) {
  while ((pg->n > pg->count || pg->bytes > DYNA_SCAN_BYTES_MAX) && pg->h[0].pos != pg->min) {
    uint64_t top = pg->h[0].pos;
    while (pg->n && pg->h[0].pos == top) heap_pop(pg);
    pg->limit = top;
  }
}

static int page_visit(void *arg, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen) {
  page_t *pg = arg;
  const uint8_t *key;
  size_t kl;
  if (dyna_skey_user_key(k, klen, v, vlen, &key, &kl)) return 0; /* damaged: not listed */
  uint64_t pos = dyna_scan_pos_of(key, kl);
  if (pos < pg->start || pos >= pg->limit) return 0;
  dyna_obj_t o;
  dyna_obj_init(&o);
  int rc = dyna_record_decode(v, vlen, NULL, 0, &o, NULL, NULL);
  dyna_kind_t kind = rc ? DYNA_KIND_NONE : dyna_obj_kind(&o, pg->now_ms);
  dyna_obj_clear(&o);
  if (rc == DYNA_ENOMEM) { pg->err = rc; return 1; }
  if (kind == DYNA_KIND_NONE) return 0; /* a tombstone, expired, or damaged */
  if (pg->n == pg->cap) {
    size_t cap = pg->cap ? 2 * pg->cap : 16;
    ent_t *h = dyna_realloc(pg->h, cap * sizeof(*h));
    if (!h) { pg->err = DYNA_ENOMEM; return 1; }
    pg->h = h;
    pg->cap = cap;
  }
  uint8_t *copy = dyna_malloc(kl);
  if (!copy) { pg->err = DYNA_ENOMEM; return 1; }
  memcpy(copy, key, kl);
  pg->h[pg->n] = (ent_t){pos, (uint32_t)kind, copy, kl};
  if (!pg->n || pos < pg->min) pg->min = pos;
  heap_up(pg->h, pg->n++);
  pg->bytes += kl;
  page_trim(pg);
  return 0;
}

int dyna_scan_partition(dyna_store_t *st, uint32_t p, uint64_t start, uint32_t count,
                        uint64_t now_ms, dyna_buf_t *out, uint32_t *nout, uint64_t *next) {
  DYNA_ASSERT(p < DYNA_RING_MAX_SIZE && start <= DYNA_SCAN_POS_END, "page of partition %u from %llu", p,
              (unsigned long long)start);
  page_t pg = {start, DYNA_SCAN_POS_END, count ? count : 1, now_ms, NULL, 0, 0, 0, 0, 0};
  uint8_t prefix[2] = {(uint8_t)(p >> 8), (uint8_t)p};
  int rc = start < DYNA_SCAN_POS_END ? dyna_store_iter(st, DYNA_SPACE_OBJ, prefix, 2, page_visit, &pg) : 0;
  if (pg.err) rc = pg.err;
  *nout = 0;
  for (size_t i = 0; i < pg.n; i++) {
    if (!rc) {
      dyna_buf_put_varint(out, pg.h[i].kind);
      dyna_buf_put_bytes(out, pg.h[i].key, pg.h[i].klen);
    }
    dyna_free(pg.h[i].key);
  }
  dyna_free(pg.h);
  if (!rc && out->oom) rc = DYNA_ENOMEM;
  if (rc) return rc;
  *nout = (uint32_t)pg.n;
  *next = pg.limit;
  DYNA_ASSERT(*next > start || *next == DYNA_SCAN_POS_END, "page from %llu ends at %llu",
              (unsigned long long)start, (unsigned long long)*next);
  return 0;
}

int dyna_scan_entry(dyna_rd_t *r, uint32_t *kind, const uint8_t **key, size_t *klen) {
  uint64_t k = dyna_rd_varint(r);
  *key = dyna_rd_bytes(r, DYNA_MAX_KEY_BYTES, klen);
  if (r->err || !*key || !*klen || k > DYNA_KIND_LIST) return DYNA_EPROTO;
  *kind = (uint32_t)k;
  return 0;
}

/* ---------- counting ---------- */

typedef struct counter {
  uint64_t now_ms, n;
  int err;
} counter_t;

static int count_visit(void *arg, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen) {
  (void)k;
  (void)klen;
  counter_t *c = arg;
  dyna_obj_t o;
  dyna_obj_init(&o);
  int rc = dyna_record_decode(v, vlen, NULL, 0, &o, NULL, NULL);
  if (!rc && dyna_obj_kind(&o, c->now_ms) != DYNA_KIND_NONE) c->n++;
  dyna_obj_clear(&o);
  if (rc == DYNA_ENOMEM) { c->err = rc; return 1; }
  return 0;
}

int dyna_scan_count(dyna_store_t *st, uint32_t p, uint64_t now_ms, uint64_t *count) {
  counter_t c = {now_ms, 0, 0};
  uint8_t prefix[2] = {(uint8_t)(p >> 8), (uint8_t)p};
  int rc = dyna_store_iter(st, DYNA_SPACE_OBJ, prefix, 2, count_visit, &c);
  if (c.err) rc = c.err;
  *count = rc ? 0 : c.n;
  return rc;
}
