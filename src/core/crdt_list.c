/* crdt_list.c: the list type, a sequence that merges by itself.
 *
 *   position bytes -> elements (LIVE|BYTES values; an element's id is its dot)
 *   list order = (position, dot): the element array is sorted by position and each
 *   element's values by dot, so the list is read off in one pass.
 *
 * Positions are variable-length byte strings that never end in 0x00, ordered as
 * bytes; between two distinct positions there is always another (fractional
 * indexing):
 *
 *   LPUSH  before the first: lower the first byte > 1 (or append 0x00 0x80 at a 1)
 *   RPUSH  after the last:   raise the first byte < 255 (or append 0x80 past 255s)
 *   LINSERT between neighbours: the byte-wise midpoint
 *
 * so pushes at one end grow positions by one byte per ~127 pushes beyond the range
 * already used. Two replicas pushing concurrently at the same end pick the same
 * position; both elements survive (their dots differ) in dot order. A pop, LREM or
 * LTRIM removes the dots it observed; nothing is left behind (the context covers
 * them). LSET writes a new dot at the same position (concurrent LSETs of one element
 * keep both values, in dot order). Two replicas popping concurrently may pop the same
 * element: a pop is at-least-once. Element ids are unique, so no element can appear
 * twice after any merge. */
#include "core/crdt_int.h"
#include "core/crdt_ops.h"
#include "util/alloc.h"
#include "util/assert.h"
#include <string.h>

/* A position strictly between lo and hi (NULL: minus / plus infinity), not ending in
 * 0x00, in *out (allocated here). 0, DYNA_ENOMEM or DYNA_ETOOBIG. */
static int pos_between(const uint8_t *lo, size_t lolen, const uint8_t *hi, size_t hilen,
                       uint8_t **out, size_t *outlen) {
  size_t cap = (lolen > hilen ? lolen : hilen) + 2;
  uint8_t *p = dyna_malloc(cap);
  if (!p) return DYNA_ENOMEM;
  size_t n = 0;
  if (!lo && !hi) {
    p[n++] = 0x80;
  } else if (!hi) {
    size_t i = 0;
    while (i < lolen && lo[i] == 0xff) i++;
    memcpy(p, lo, i);
    n = i;
    p[n++] = i < lolen ? (uint8_t)(lo[i] + 1) : 0x80;
  } else if (!lo) {
    size_t i = 0;
    while (i < hilen && hi[i] <= 1) i++;
    if (i < hilen) {
      memcpy(p, hi, i);
      n = i;
      p[n++] = (uint8_t)(hi[i] - 1);
    } else { /* hi = P 0x01 (it cannot end in 0x00): P 0x00 0x80 < hi */
      memcpy(p, hi, hilen - 1);
      n = hilen - 1;
      p[n++] = 0;
      p[n++] = 0x80;
    }
  } else {
    DYNA_ASSERT(crdt_keycmp(lo, lolen, hi, hilen) < 0, "positions out of order");
    int bounded = 1;
    for (size_t i = 0;; i++) {
      unsigned da = i < lolen ? lo[i] : 0;
      unsigned db = bounded ? (i < hilen ? hi[i] : 0) : 256;
      DYNA_ASSERT(!bounded || i < hilen, "hi is a prefix of lo");
      if (n + 1 > cap) { /* longer than both: grow */
        uint8_t *q = dyna_realloc(p, cap * 2);
        if (!q) {
          dyna_free(p);
          return DYNA_ENOMEM;
        }
        p = q;
        cap *= 2;
      }
      if (db >= da + 2) {
        p[n++] = (uint8_t)((da + db) / 2);
        break;
      }
      p[n++] = (uint8_t)da;
      if (db == da + 1) bounded = 0;
    }
  }
  if (n > DYNA_CRDT_MAX_POS_BYTES) {
    dyna_free(p);
    return DYNA_ETOOBIG;
  }
  *out = p;
  *outlen = n;
  return 0;
}

/* Inserts a new element with bytes v at a new position between lo and hi. */
static int insert_between(dyna_crdt_t *s, uint64_t actor, const uint8_t *lo, size_t lolen,
                          const uint8_t *hi, size_t hilen, const uint8_t *v, size_t vlen) {
  if (vlen > DYNA_CRDT_MAX_VAL_BYTES) return DYNA_ETOOBIG;
  uint8_t *pos, *data = NULL;
  size_t plen, idx;
  int rc = pos_between(lo, lolen, hi, hilen, &pos, &plen);
  if (rc) return rc;
  dyna_crdt_elem_t *e = NULL;
  DYNA_ASSERT(!crdt_find(s, pos, plen, &idx), "new position already used");
  rc = crdt_elems_reserve(s);
  if (rc == 0 && !(e = crdt_elem_new(pos, plen))) rc = DYNA_ENOMEM;
  if (rc == 0 && !(data = dyna_memdup(v, vlen))) rc = DYNA_ENOMEM;
  if (rc == 0) rc = crdt_ctx_reserve(s, actor);
  dyna_free(pos);
  if (rc) {
    dyna_free(data);
    crdt_elem_free(e);
    return rc;
  }
  dyna_crdt_val_t x = {actor, crdt_tick(s, actor), DYNA_CRDT_F_LIVE | DYNA_CRDT_F_BYTES, 0, 0,
                       0.0, data, vlen};
  crdt_val_insert(e, &x);
  crdt_elem_insert(s, idx, e);
  return 0;
}

static void check_list(const dyna_crdt_t *s) {
  DYNA_ASSERT(s->type == DYNA_CRDT_LIST, "type %u", s->type);
}

int dyna_crdt_lpush(dyna_crdt_t *s, uint64_t actor, int right, const uint8_t *v, size_t vlen) {
  check_list(s);
  if (s->n == 0) return insert_between(s, actor, NULL, 0, NULL, 0, v, vlen);
  const dyna_crdt_elem_t *end = right ? s->e[s->n - 1] : s->e[0];
  if (right) return insert_between(s, actor, end->key, end->klen, NULL, 0, v, vlen);
  return insert_between(s, actor, NULL, 0, end->key, end->klen, v, vlen);
}

/* Finds the element at index: its entry index and value index. */
static int locate(const dyna_crdt_t *s, size_t index, size_t *ei, size_t *vj) {
  for (size_t i = 0; i < s->n; i++) {
    if (index < s->e[i]->nvals) {
      *ei = i;
      *vj = index;
      return 1;
    }
    index -= s->e[i]->nvals;
  }
  return 0;
}

/* Removes value j of entry i, and the entry if it is left empty. */
static void remove_at(dyna_crdt_t *s, size_t i, size_t j) {
  crdt_val_remove(s->e[i], j);
  if (s->e[i]->nvals == 0) crdt_elem_remove(s, i);
}

int dyna_crdt_lpop(dyna_crdt_t *s, int right, dyna_buf_t *out) {
  check_list(s);
  if (s->n == 0) return DYNA_ENOTFOUND;
  size_t i = right ? s->n - 1 : 0;
  size_t j = right ? s->e[i]->nvals - 1 : 0;
  const dyna_crdt_val_t *v = &s->e[i]->vals[j];
  if (out) {
    if (dyna_buf_reserve(out, v->len)) return DYNA_ENOMEM;
    dyna_buf_put(out, v->data, v->len);
  }
  remove_at(s, i, j);
  return 0;
}

int dyna_crdt_lview(const dyna_crdt_t *s, dyna_crdt_litem_t **out, size_t *n) {
  check_list(s);
  *out = NULL;
  *n = 0;
  size_t cnt = dyna_crdt_count(s), k = 0;
  if (cnt == 0) return 0;
  dyna_crdt_litem_t *v = dyna_malloc(cnt * sizeof(*v));
  if (!v) return DYNA_ENOMEM;
  for (size_t i = 0; i < s->n; i++)
    for (size_t j = 0; j < s->e[i]->nvals; j++) {
      v[k].e = s->e[i];
      v[k].v = &s->e[i]->vals[j];
      k++;
    }
  *out = v;
  *n = k;
  return 0;
}

int dyna_crdt_lset(dyna_crdt_t *s, uint64_t actor, size_t index, const uint8_t *v, size_t vlen) {
  check_list(s);
  size_t i, j;
  if (!locate(s, index, &i, &j)) return DYNA_ENOTFOUND;
  if (vlen > DYNA_CRDT_MAX_VAL_BYTES) return DYNA_ETOOBIG;
  dyna_crdt_elem_t *e = s->e[i];
  uint8_t *data = dyna_memdup(v, vlen);
  if (!data) return DYNA_ENOMEM;
  int rc = crdt_vals_reserve(e, 1);
  if (rc == 0) rc = crdt_ctx_reserve(s, actor);
  if (rc) {
    dyna_free(data);
    return rc;
  }
  crdt_val_remove(e, j);
  dyna_crdt_val_t x = {actor, crdt_tick(s, actor), DYNA_CRDT_F_LIVE | DYNA_CRDT_F_BYTES, 0, 0,
                       0.0, data, vlen};
  crdt_val_insert(e, &x);
  return 0;
}

int dyna_crdt_linsert(dyna_crdt_t *s, uint64_t actor, size_t index, int after, const uint8_t *v,
                      size_t vlen) {
  check_list(s);
  size_t i, j;
  if (!locate(s, index, &i, &j)) return DYNA_ENOTFOUND;
  /* Between the element's position and the neighbouring distinct one: an element
   * sharing its position with others (concurrent pushes) lands beyond all of them. */
  const dyna_crdt_elem_t *t = s->e[i];
  if (after) {
    const dyna_crdt_elem_t *nx = i + 1 < s->n ? s->e[i + 1] : NULL;
    return insert_between(s, actor, t->key, t->klen, nx ? nx->key : NULL, nx ? nx->klen : 0, v,
                          vlen);
  }
  const dyna_crdt_elem_t *pv = i > 0 ? s->e[i - 1] : NULL;
  return insert_between(s, actor, pv ? pv->key : NULL, pv ? pv->klen : 0, t->key, t->klen, v,
                        vlen);
}

void dyna_crdt_lremove(dyna_crdt_t *s, const size_t *idx, size_t n) {
  check_list(s);
  size_t base = 0, next = 0, keep_e = 0;
  for (size_t i = 0; i < s->n; i++) {
    dyna_crdt_elem_t *e = s->e[i];
    size_t nv = e->nvals, k = 0;
    for (size_t j = 0; j < nv; j++) {
      if (next < n && idx[next] == base + j) {
        DYNA_ASSERT(next == 0 || idx[next] > idx[next - 1], "indexes not ascending");
        crdt_val_free(&e->vals[j]);
        next++;
      } else {
        e->vals[k++] = e->vals[j];
      }
    }
    e->nvals = k;
    base += nv;
    if (k == 0) crdt_elem_free(e);
    else s->e[keep_e++] = e;
  }
  DYNA_ASSERT(next == n, "index %zu out of range (%zu elements)", next < n ? idx[next] : 0, base);
  s->n = keep_e;
}
