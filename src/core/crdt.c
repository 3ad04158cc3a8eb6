/* crdt.c: the typed state as a whole (see crdt.h for the model): life cycle, deep
 * copy and equality, DEL of the whole key, existence, counting and iteration. The
 * building blocks are in crdt_store.c, the merge in crdt_merge.c. */
#include "core/crdt_int.h"
#include "util/alloc.h"
#include "util/assert.h"
#include "core/crdt_ops.h"
#include "core/node.h"
#include <string.h>

uint32_t dyna_crdt_bugs; /* crdt.h: test only */

/* ---- life cycle ----------------------------------------------------------------- */

void dyna_crdt_init(dyna_crdt_t *s, uint8_t type) {
  memset(s, 0, sizeof(*s));
  s->type = type;
}

void dyna_crdt_clear(dyna_crdt_t *s) {
  for (size_t i = 0; i < s->n; i++) crdt_elem_free(s->e[i]);
  for (size_t j = 0; j < s->nexp; j++) crdt_val_free(&s->exp[j]);
  dyna_free(s->e);
  dyna_free(s->exp);
  dyna_free(s->ctx);
  dyna_free(s->del);
  dyna_crdt_init(s, s->type);
}

static int val_copy(dyna_crdt_val_t *dst, const dyna_crdt_val_t *src) {
  *dst = *src;
  dst->data = NULL;
  if (src->flags & DYNA_CRDT_F_BYTES) {
    dst->data = dyna_memdup(src->data, src->len);
    if (!dst->data) return DYNA_ENOMEM;
  }
  return 0;
}

/* Deep copy of one element; NULL on ENOMEM. */
static dyna_crdt_elem_t *elem_copy(const dyna_crdt_elem_t *src) {
  dyna_crdt_elem_t *e = crdt_elem_new(src->key, src->klen);
  if (!e) return NULL;
  if (src->nvals > 1) {
    e->vals = dyna_calloc(src->nvals, sizeof(*e->vals));
    e->vcap = src->nvals;
  }
  e->contrib = src->ncontrib ? dyna_malloc(src->ncontrib * sizeof(*e->contrib)) : NULL;
  e->ccap = src->ncontrib;
  if (!e->vals || (src->ncontrib && !e->contrib)) {
    if (!e->vals) e->vals = &e->one; /* nothing of its own to free */
    goto fail;
  }
  for (size_t j = 0; j < src->nvals; j++) {
    if (val_copy(&e->vals[j], &src->vals[j])) goto fail;
    e->nvals = j + 1;
  }
  if (src->ncontrib) memcpy(e->contrib, src->contrib, src->ncontrib * sizeof(*e->contrib));
  e->ncontrib = src->ncontrib;
  return e;
fail:
  crdt_elem_free(e);
  return NULL;
}

int dyna_crdt_copy(dyna_crdt_t *dst, const dyna_crdt_t *src) {
  dyna_crdt_t t;
  dyna_crdt_init(&t, src->type);
  if (src->nctx) {
    t.ctx = dyna_malloc(src->nctx * sizeof(*t.ctx));
    if (!t.ctx) goto fail;
    memcpy(t.ctx, src->ctx, src->nctx * sizeof(*t.ctx));
    t.nctx = t.ctxcap = src->nctx;
  }
  if (src->nexp) {
    t.exp = dyna_calloc(src->nexp, sizeof(*t.exp));
    if (!t.exp) goto fail;
    t.expcap = src->nexp;
    for (size_t j = 0; j < src->nexp; j++) {
      if (val_copy(&t.exp[j], &src->exp[j])) goto fail;
      t.nexp = j + 1;
    }
  }
  t.del_ms = src->del_ms;
  if (src->ndel) {
    t.del = dyna_malloc(src->ndel * sizeof(*t.del));
    if (!t.del) goto fail;
    memcpy(t.del, src->del, src->ndel * sizeof(*t.del));
    t.ndel = src->ndel;
  }
  if (src->n) {
    t.e = dyna_malloc(src->n * sizeof(*t.e));
    if (!t.e) goto fail;
    t.cap = src->n;
    for (size_t i = 0; i < src->n; i++) {
      t.e[i] = elem_copy(src->e[i]);
      if (!t.e[i]) goto fail;
      t.n = i + 1;
    }
  }
  dyna_crdt_clear(dst);
  *dst = t;
  return 0;
fail:
  dyna_crdt_clear(&t);
  return DYNA_ENOMEM;
}

static int val_equal(const dyna_crdt_val_t *a, const dyna_crdt_val_t *b) {
  if (a->actor != b->actor || a->counter != b->counter || a->flags != b->flags) return 0;
  if ((a->flags & DYNA_CRDT_F_TS) && a->ts != b->ts) return 0;
  if ((a->flags & DYNA_CRDT_F_INT) && a->i != b->i) return 0;
  if ((a->flags & DYNA_CRDT_F_DBL) && memcmp(&a->d, &b->d, sizeof(double)) != 0) return 0;
  if (a->flags & DYNA_CRDT_F_BYTES)
    return crdt_keycmp(a->data, a->len, b->data, b->len) == 0;
  return 1;
}

int dyna_crdt_equal(const dyna_crdt_t *a, const dyna_crdt_t *b) {
  if (a->type != b->type || a->nctx != b->nctx || a->nexp != b->nexp || a->n != b->n) return 0;
  if (a->nctx && memcmp(a->ctx, b->ctx, a->nctx * sizeof(*a->ctx)) != 0) return 0;
  if (a->del_ms != b->del_ms || a->ndel != b->ndel) return 0;
  if (a->ndel && memcmp(a->del, b->del, a->ndel * sizeof(*a->del)) != 0) return 0;
  for (size_t j = 0; j < a->nexp; j++)
    if (!val_equal(&a->exp[j], &b->exp[j])) return 0;
  for (size_t i = 0; i < a->n; i++) {
    const dyna_crdt_elem_t *x = a->e[i], *y = b->e[i];
    if (crdt_keycmp(x->key, x->klen, y->key, y->klen) != 0) return 0;
    if (x->nvals != y->nvals || x->ncontrib != y->ncontrib) return 0;
    for (size_t j = 0; j < x->nvals; j++)
      if (!val_equal(&x->vals[j], &y->vals[j])) return 0;
    for (size_t j = 0; j < x->ncontrib; j++) {
      const dyna_crdt_contrib_t *p = &x->contrib[j], *q = &y->contrib[j];
      if (p->actor != q->actor || p->seq != q->seq || p->i != q->i ||
          memcmp(&p->d, &q->d, sizeof(double)) != 0)
        return 0;
    }
  }
  return 1;
}

/* ---- whole key ------------------------------------------------------------------ */

int dyna_crdt_exists(const dyna_crdt_t *s) {
  for (size_t i = 0; i < s->n; i++)
    if (crdt_elem_live(s->e[i])) return 1;
  return 0;
}

size_t dyna_crdt_count(const dyna_crdt_t *s) {
  size_t c = 0;
  for (size_t i = 0; i < s->n; i++) {
    if (s->type == DYNA_CRDT_LIST) c += s->e[i]->nvals;
    else c += crdt_elem_live(s->e[i]) ? 1 : 0;
  }
  return c;
}

int dyna_crdt_delete(dyna_crdt_t *s, uint64_t actor, uint64_t now_ms) {
  int need_dot = 0;
  for (size_t i = 0; i < s->n; i++) {
    if (s->e[i]->ncontrib == 0) continue;
    need_dot = 1;
    if (crdt_vals_reserve(s->e[i], 1)) return DYNA_ENOMEM;
  }
  if (need_dot) {
    int rc = crdt_ctx_reserve(s, actor);
    if (rc) return rc;
  }
  /* The delete's context: the whole context once the dot is taken (one more entry at
   * most). Built before the commit, so that nothing changes on failure. */
  dyna_crdt_ctx_entry_t *del = dyna_malloc((s->nctx + 1) * sizeof(*del));
  if (!del) return DYNA_ENOMEM;
  uint64_t counter = need_dot ? crdt_tick(s, actor) : 0;
  for (size_t j = 0; j < s->nexp; j++) crdt_val_free(&s->exp[j]);
  s->nexp = 0;
  for (size_t i = s->n; i-- > 0;) crdt_remove_observed(s, i, actor, counter);
  if (s->nctx) memcpy(del, s->ctx, s->nctx * sizeof(*del));
  dyna_free(s->del);
  s->del = del;
  s->ndel = s->nctx;
  if (now_ms > s->del_ms) s->del_ms = now_ms;
  if (s->del_ms == 0) s->del_ms = 1; /* a stamp of 0 would read as "never deleted" */
  if ((dyna_crdt_bugs & DYNA_BUG_DEL_FORGETS) && s->n == 0 && s->nctx > 1) {
    s->nctx = 1; /* test-only bug: the dots of every actor but the first are forgotten */
    s->ndel = 0;
    s->del_ms = 0;
  }
  return 0;
}

int dyna_crdt_deleted(const dyna_crdt_t *s, uint64_t *del_ms) {
  if (s->del_ms == 0 || s->ndel != s->nctx) return 0;
  if (s->nctx && memcmp(s->del, s->ctx, s->nctx * sizeof(*s->del)) != 0) return 0;
  if (dyna_crdt_exists(s) || s->nexp) return 0; /* never, by construction: checked anyway */
  *del_ms = s->del_ms;
  return 1;
}

/* ---- iteration (crdt_ops.h) ----------------------------------------------------- */

const dyna_crdt_elem_t *dyna_crdt_next(const dyna_crdt_t *s, size_t *cursor) {
  while (*cursor < s->n) {
    const dyna_crdt_elem_t *e = s->e[(*cursor)++];
    if (crdt_elem_live(e)) return e;
  }
  return NULL;
}

const dyna_crdt_elem_t *dyna_crdt_get(const dyna_crdt_t *s, const uint8_t *key, size_t klen) {
  size_t idx;
  return crdt_find(s, key, klen, &idx) ? s->e[idx] : NULL;
}

const dyna_crdt_elem_t *dyna_crdt_nth(const dyna_crdt_t *s, size_t k) {
  if (s->type == DYNA_CRDT_SET) return k < s->n ? s->e[k] : NULL;
  size_t cur = 0;
  const dyna_crdt_elem_t *e;
  while ((e = dyna_crdt_next(s, &cur)) != NULL)
    if (k-- == 0) return e;
  return NULL;
}
