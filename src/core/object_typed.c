/* object_typed.c: the typed states of an object (object.h, "typed components"): what a
 * key is, the supersede rule between kinds, the key's expiry, and the merge, equality
 * and encoding of the typed part that object.c calls. Pure; memory through util/alloc. */
#include "core/object_int.h"
#include "core/node.h"
#include "util/alloc.h"
#include "util/assert.h"
#include "util/err.h"
#include <string.h>

#define TYPED_MAX (DYNA_CRDT_KEY) /* one state per type */

void dyna_obj_typed_free(dyna_crdt_t *t, size_t n) {
  for (size_t i = 0; i < n; i++) dyna_crdt_clear(&t[i]);
  dyna_free(t);
}

int dyna_obj_typed_copy(const dyna_crdt_t *src, size_t n, dyna_crdt_t **out) {
  *out = NULL;
  if (n == 0) return 0;
  dyna_crdt_t *t = dyna_calloc(n, sizeof(*t));
  if (!t) return DYNA_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    dyna_crdt_init(&t[i], src[i].type);
    if (dyna_crdt_copy(&t[i], &src[i])) {
      dyna_obj_typed_free(t, i + 1);
      return DYNA_ENOMEM;
    }
  }
  *out = t;
  return 0;
}

int dyna_obj_typed_equal(const dyna_obj_t *a, const dyna_obj_t *b) {
  if (a->ntyped != b->ntyped) return 0;
  for (size_t i = 0; i < a->ntyped; i++)
    if (!dyna_crdt_equal(&a->typed[i], &b->typed[i])) return 0;
  return 1;
}

const dyna_crdt_t *dyna_obj_typed(const dyna_obj_t *o, uint8_t type) {
  for (size_t i = 0; i < o->ntyped; i++)
    if (o->typed[i].type == type) return &o->typed[i];
  return NULL;
}

int dyna_obj_typed_merged(const dyna_obj_t *o, const dyna_obj_t *other, dyna_crdt_t **out,
                          size_t *nout) {
  *out = NULL;
  *nout = 0;
  if (other->ntyped == 0) return dyna_obj_typed_copy(o->typed, o->ntyped, out) ? DYNA_ENOMEM
                                                                             : (*nout = o->ntyped, 0);
  dyna_crdt_t *t = dyna_calloc(TYPED_MAX, sizeof(*t));
  if (!t) return DYNA_ENOMEM;
  size_t n = 0, i = 0, j = 0;
  int rc = 0;
  while (!rc && (i < o->ntyped || j < other->ntyped)) {
    const dyna_crdt_t *a = i < o->ntyped ? &o->typed[i] : NULL;
    const dyna_crdt_t *b = j < other->ntyped ? &other->typed[j] : NULL;
    const dyna_crdt_t *first = !b || (a && a->type <= b->type) ? a : b;
    if ((dyna_crdt_bugs & DYNA_BUG_EXPIRY_NO_MERGE) && first == b && b->type == DYNA_CRDT_KEY && (!a || a->type != b->type)) { j++; continue; } /* test-only bug */
    DYNA_ASSERT(n < TYPED_MAX, "typed states %zu (types %u)", n, first->type);
    dyna_crdt_init(&t[n], first->type);
    if (a && b && a->type == b->type) rc = dyna_crdt_merged(&t[n], a, b);
    else rc = dyna_crdt_copy(&t[n], first);
    n++;
    if (a && first->type == a->type) i++;
    if (b && first->type == b->type) j++;
  }
  if (rc) {
    dyna_obj_typed_free(t, n);
    return rc;
  }
  *out = t;
  *nout = n;
  return 0;
}

int dyna_obj_typed_descends(const dyna_obj_t *b, const dyna_obj_t *a) {
  if (a->ntyped == 0) return 1;
  if (!dyna_crdt_bugs) { /* per state, without building the merge */
    for (size_t i = 0; i < a->ntyped; i++) {
      const dyna_crdt_t *s = dyna_obj_typed(b, a->typed[i].type);
      if (!s || !dyna_crdt_descends(s, &a->typed[i])) return 0;
    }
    return 1;
  }
  dyna_crdt_t *m;
  size_t n;
  if (dyna_obj_typed_merged(b, a, &m, &n)) return 0; /* "not known to descend" is safe */
  int same = n == b->ntyped;
  for (size_t i = 0; same && i < n; i++) same = dyna_crdt_equal(&m[i], &b->typed[i]);
  dyna_obj_typed_free(m, n);
  return same;
}

static size_t varint_len(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) { v >>= 7; n++; }
  return n;
}

/* Each state is encoded in place after a one-byte length, moved up when its length
 * takes more bytes (states under 128 bytes, the common case, are never moved). */
void dyna_obj_typed_encode(const dyna_obj_t *o, dyna_buf_t *out) {
  dyna_buf_put_varint(out, o->ntyped);
  for (size_t i = 0; i < o->ntyped && !out->oom; i++) {
    size_t at = out->len;
    dyna_buf_put_u8(out, 0);
    dyna_crdt_encode(&o->typed[i], out);
    if (out->oom) break;
    size_t len = out->len - at - 1, vl = varint_len(len);
    if (vl > 1) {
      if (dyna_buf_reserve(out, vl - 1)) break;
      memmove(out->data + at + vl, out->data + at + 1, len);
      out->len += vl - 1;
    }
    uint8_t *d = out->data + at;
    for (size_t k = 0; k + 1 < vl; k++, len >>= 7) *d++ = (uint8_t)(len | 0x80);
    *d = (uint8_t)len;
  }
}

int dyna_obj_typed_decode(dyna_rd_t *r, dyna_crdt_t **out, size_t *nout) {
  *out = NULL;
  *nout = 0;
  uint64_t n = dyna_obj_rd_varint(r);
  if (r->err || n == 0 || n > TYPED_MAX) return DYNA_ECORRUPT;
  dyna_crdt_t *t = dyna_calloc((size_t)n, sizeof(*t));
  if (!t) return DYNA_ENOMEM;
  size_t got = 0;
  int rc = 0;
  for (; got < n && !rc; got++) {
    size_t len, start = r->off;
    const uint8_t *p = dyna_rd_bytes(r, SIZE_MAX, &len);
    dyna_crdt_init(&t[got], DYNA_CRDT_COUNTER);
    if (r->err || varint_len(len) != r->off - start - len) rc = DYNA_ECORRUPT;
    else rc = dyna_crdt_decode(p, len, &t[got]);
    if (rc) break;
    const dyna_crdt_t *s = &t[got];
    /* Canonical: types ascending, no empty state, expiry only in the KEY state. */
    if ((got && s->type <= t[got - 1].type) || s->nctx == 0 ||
        (s->type != DYNA_CRDT_KEY && s->nexp != 0))
      rc = DYNA_ECORRUPT;
  }
  if (rc) {
    dyna_obj_typed_free(t, got + (got < n ? 1 : 0));
    return rc;
  }
  *out = t;
  *nout = (size_t)n;
  return 0;
}

int dyna_obj_typed_check(dyna_rd_t *r) {
  uint64_t n = dyna_obj_rd_varint(r);
  if (r->err || n == 0 || n > TYPED_MAX) return DYNA_ECORRUPT;
  uint8_t prev = 0;
  for (uint64_t i = 0; i < n; i++) {
    size_t len, start = r->off;
    const uint8_t *p = dyna_rd_bytes(r, SIZE_MAX, &len);
    if (r->err || varint_len(len) != r->off - start - len) return DYNA_ECORRUPT;
    dyna_crdt_t s;
    dyna_crdt_init(&s, DYNA_CRDT_COUNTER);
    int rc = dyna_crdt_check(p, len, &s);
    /* as dyna_obj_typed_decode: types ascending, no empty state, expiry only in KEY */
    if (!rc && ((i && s.type <= prev) || s.nctx == 0 || (s.type != DYNA_CRDT_KEY && s.nexp != 0)))
      rc = DYNA_ECORRUPT;
    prev = s.type;
    if (rc) return rc;
  }
  return 0;
}

/* ---- kinds, supersede, expiry ---------------------------------------------------- */

int dyna_obj_deadline(const dyna_obj_t *o, uint64_t *deadline_ms) {
  const dyna_crdt_t *k = dyna_obj_typed(o, DYNA_CRDT_KEY);
  return k ? dyna_crdt_deadline(k, deadline_ms) : 0;
}

dyna_kind_t dyna_obj_kind(const dyna_obj_t *o, uint64_t now_ms) {
  const dyna_crdt_t *k = dyna_obj_typed(o, DYNA_CRDT_KEY);
  if (k && dyna_crdt_expired(k, now_ms)) return DYNA_KIND_NONE;
  for (size_t i = 0; i < o->ntyped; i++) {
    const dyna_crdt_t *s = &o->typed[i];
    if (s->type != DYNA_CRDT_KEY && dyna_crdt_exists(s))
      return (dyna_kind_t)(DYNA_KIND_COUNTER + (s->type - DYNA_CRDT_COUNTER));
  }
  return dyna_obj_nlive(o) ? DYNA_KIND_STRING : DYNA_KIND_NONE;
}

/* The state of `type` in o, added empty (sorted in) when absent; NULL on DYNA_ENOMEM. */
static dyna_crdt_t *typed_slot(dyna_obj_t *o, uint8_t type) {
  size_t i = 0;
  while (i < o->ntyped && o->typed[i].type < type) i++;
  if (i < o->ntyped && o->typed[i].type == type) return &o->typed[i];
  dyna_crdt_t *t = dyna_realloc(o->typed, (o->ntyped + 1) * sizeof(*t));
  if (!t) return NULL;
  memmove(&t[i + 1], &t[i], (o->ntyped - i) * sizeof(*t));
  dyna_crdt_init(&t[i], type);
  o->typed = t;
  o->ntyped++;
  return &t[i];
}

void dyna_obj_typed_done(dyna_obj_t *o) {
  size_t k = 0;
  for (size_t i = 0; i < o->ntyped; i++) {
    if (o->typed[i].nctx == 0) {
      dyna_crdt_clear(&o->typed[i]);
      continue;
    }
    o->typed[k++] = o->typed[i];
  }
  o->ntyped = k;
  if (k == 0) {
    dyna_free(o->typed);
    o->typed = NULL;
  }
}

int dyna_obj_set_deadline(dyna_obj_t *o, uint64_t actor, uint64_t deadline_ms) {
  if (!deadline_ms && !dyna_obj_typed(o, DYNA_CRDT_KEY)) return 0;
  dyna_crdt_t *k = typed_slot(o, DYNA_CRDT_KEY);
  if (!k) return DYNA_ENOMEM;
  int rc = deadline_ms ? dyna_crdt_expire(k, actor, deadline_ms) : dyna_crdt_persist(k, actor);
  if (rc > 0) rc = 0;
  dyna_obj_typed_done(o);
  return rc;
}

int dyna_obj_drop_deadline(dyna_obj_t *o, uint64_t actor) {
  uint64_t d;
  return dyna_obj_deadline(o, &d) ? dyna_obj_set_deadline(o, actor, 0) : 0;
}

/* Deletes every typed state of o except `keep` (0: none) and the KEY state, stamped
 * now_ms. */
static int delete_typed(dyna_obj_t *o, uint8_t keep, uint64_t actor, uint64_t now_ms) {
  for (size_t i = 0; i < o->ntyped; i++) {
    dyna_crdt_t *s = &o->typed[i];
    if (s->type == DYNA_CRDT_KEY || s->type == keep || !dyna_crdt_exists(s)) continue;
    int rc = dyna_crdt_delete(s, actor, now_ms);
    if (rc) return rc;
  }
  return 0;
}

int dyna_obj_supersede(dyna_obj_t *o, uint64_t actor, uint64_t now_ms, uint32_t flags) {
  int rc = delete_typed(o, 0, actor, now_ms);
  if (!rc && !(flags & DYNA_OBJ_KEEP_TTL)) {
    rc = dyna_obj_drop_deadline(o, actor);
  }
  return rc;
}

int dyna_obj_typed_for_write(dyna_obj_t *o, uint8_t type, uint64_t actor, uint64_t now_ms,
                             dyna_crdt_t **out) {
  DYNA_ASSERT(type >= DYNA_CRDT_COUNTER && type < DYNA_CRDT_KEY, "type %u", type);
  const dyna_crdt_t *k = dyna_obj_typed(o, DYNA_CRDT_KEY);
  int expired = k && dyna_crdt_expired(k, now_ms);
  int rc = delete_typed(o, expired ? 0 : type, actor, now_ms);
  if (!rc && expired) rc = dyna_obj_set_deadline(o, actor, 0);
  if (!rc && dyna_obj_nlive(o)) {
    /* The register's live values get a tombstone that supersedes them all. */
    dyna_val_t tomb = {DYNA_VAL_TOMBSTONE, now_ms, NULL, 0};
    rc = dyna_obj_update_blind(o, actor, &tomb);
  }
  if (rc) return rc;
  dyna_crdt_t *s = typed_slot(o, type);
  if (!s) return DYNA_ENOMEM;
  *out = s;
  return 0;
}

int dyna_obj_typed_reapable(const dyna_obj_t *o, uint64_t now_ms, uint64_t *last_ms) {
  if (dyna_obj_kind(o, now_ms) != DYNA_KIND_NONE) return 0;
  uint64_t last = 0, d;
  if (dyna_obj_deadline(o, &d)) {
    if (d > now_ms) return 0; /* absent now, but a deadline still to come: wait for it */
    last = d;                 /* expired: its deadline is its last moment */
  } else {
    for (size_t i = 0; i < o->ntyped; i++) {
      const dyna_crdt_t *s = &o->typed[i];
      if (s->type == DYNA_CRDT_KEY) continue;
      if (!dyna_crdt_deleted(s, &d)) return 0; /* emptied without a delete seeing it all */
      if (d > last) last = d;
    }
  }
  for (size_t i = 0; i < dyna_obj_nvals(o); i++)
    if (dyna_obj_val(o, i)->ts_ms > last) last = dyna_obj_val(o, i)->ts_ms;
  if (last == 0) return 0;
  *last_ms = last;
  return 1;
}
