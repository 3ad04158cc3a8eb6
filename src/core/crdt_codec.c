/* crdt_codec.c: the canonical encoding of a typed state and its strict decoder (the
 * format is in crdt.h: version 1, or version 2 = version 1 + the deletion stamp; a state
 * is written as version 2 exactly when it has a stamp, so old encodings stay valid and
 * unchanged). Dots are written as (index into the context's actor table,
 * counter), so a dot costs 2-4 bytes rather than 9+. The decoder checks every rule the
 * encoder follows, so decode is the exact inverse of encode. */
#include "core/crdt_int.h"
#include "util/alloc.h"
#include <string.h>

#define MIN_VAL_BYTES 3    /* actor index + counter + flags */
#define MIN_ELEM_BYTES 3   /* klen + nvals + ncontrib */
#define MIN_CTX_BYTES 9    /* u64 actor + counter */
#define MIN_CONTRIB_BYTES 3

static uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

static void put_double(dyna_buf_t *b, double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof(u));
  dyna_buf_put_u64le(b, u);
}

static void put_val(const dyna_crdt_t *s, const dyna_crdt_val_t *v, dyna_buf_t *b) {
  long k = crdt_ctx_find(s, v->actor);
  dyna_buf_put_varint(b, (uint64_t)(k < 0 ? 0 : k));
  dyna_buf_put_varint(b, v->counter);
  dyna_buf_put_u8(b, v->flags);
  if (v->flags & DYNA_CRDT_F_TS) dyna_buf_put_varint(b, v->ts);
  if (v->flags & DYNA_CRDT_F_INT) dyna_buf_put_varint(b, zigzag(v->i));
  if (v->flags & DYNA_CRDT_F_DBL) put_double(b, v->d);
  if (v->flags & DYNA_CRDT_F_BYTES) dyna_buf_put_bytes(b, v->data, v->len);
}

void dyna_crdt_encode(const dyna_crdt_t *s, dyna_buf_t *out) {
  dyna_buf_put_u8(out, s->del_ms ? 2 : 1);
  dyna_buf_put_u8(out, s->type);
  dyna_buf_put_varint(out, s->nctx);
  for (size_t i = 0; i < s->nctx; i++) {
    dyna_buf_put_u64le(out, s->ctx[i].actor);
    dyna_buf_put_varint(out, s->ctx[i].counter);
  }
  dyna_buf_put_varint(out, s->nexp);
  for (size_t j = 0; j < s->nexp; j++) put_val(s, &s->exp[j], out);
  dyna_buf_put_varint(out, s->n);
  for (size_t i = 0; i < s->n; i++) {
    const dyna_crdt_elem_t *e = s->e[i];
    dyna_buf_put_bytes(out, e->key, e->klen);
    dyna_buf_put_varint(out, e->nvals);
    for (size_t j = 0; j < e->nvals; j++) put_val(s, &e->vals[j], out);
    dyna_buf_put_varint(out, e->ncontrib);
    for (size_t j = 0; j < e->ncontrib; j++) {
      const dyna_crdt_contrib_t *c = &e->contrib[j];
      long k = crdt_ctx_find(s, c->actor);
      uint8_t fl = (uint8_t)((c->i ? DYNA_CRDT_F_INT : 0) | (c->d != 0.0 ? DYNA_CRDT_F_DBL : 0));
      dyna_buf_put_varint(out, (uint64_t)(k < 0 ? 0 : k));
      dyna_buf_put_varint(out, c->seq);
      dyna_buf_put_u8(out, fl);
      if (fl & DYNA_CRDT_F_INT) dyna_buf_put_varint(out, zigzag(c->i));
      if (fl & DYNA_CRDT_F_DBL) put_double(out, c->d);
    }
  }
  if (s->del_ms) {
    dyna_buf_put_varint(out, s->del_ms);
    dyna_buf_put_varint(out, s->ndel);
    for (size_t i = 0; i < s->ndel; i++) {
      long k = crdt_ctx_find(s, s->del[i].actor);
      dyna_buf_put_varint(out, (uint64_t)(k < 0 ? 0 : k));
      dyna_buf_put_varint(out, s->del[i].counter);
    }
  }
}

/* ---- decoding --------------------------------------------------------------------- */

/* The readers below leave an error already set (DYNA_ENOMEM included) alone. */
static uint8_t rd_u8(dyna_rd_t *r) { return r->err ? 0 : dyna_rd_u8(r); }
static uint64_t rd_u64(dyna_rd_t *r) { return r->err ? 0 : dyna_rd_u64le(r); }

/* A varint that must be minimal (one byte below 0x80 always is: inline). A longer
 * one is minimal exactly when its last byte is not zero (dyna_rd_varint refuses what
 * overflows 64 bits). */
static uint64_t rd_var_long(dyna_rd_t *r) {
  if (r->err) return 0;
  size_t start = r->off;
  uint64_t v = dyna_rd_varint(r);
  if (!r->err && r->off - start > 1 && r->p[r->off - 1] == 0) r->err = DYNA_ECORRUPT;
  return v;
}

static inline uint64_t rd_var(dyna_rd_t *r) {
  if (!r->err && r->off < r->len && r->p[r->off] < 0x80) return r->p[r->off++];
  return rd_var_long(r);
}

/* A minimal varint length (at most max) and that many bytes. */
static const uint8_t *rd_bytes(dyna_rd_t *r, size_t max, size_t *n) {
  *n = 0;
  uint64_t len = rd_var(r);
  if (r->err) return NULL;
  if (len > max) {
    r->err = DYNA_ECORRUPT;
    return NULL;
  }
  const uint8_t *p = dyna_rd_take(r, (size_t)len);
  if (p) *n = (size_t)len;
  return p;
}

/* A count whose items take at least `min` bytes each. */
static size_t rd_count(dyna_rd_t *r, uint64_t max, size_t min) {
  if (r->err) return 0;
  uint64_t n = rd_var(r);
  if (r->err) return 0;
  if (n > max || n > dyna_rd_left(r) / min) {
    r->err = DYNA_ECORRUPT;
    return 0;
  }
  return (size_t)n;
}

static double rd_double(dyna_rd_t *r) {
  uint64_t u = rd_u64(r);
  double d;
  memcpy(&d, &u, sizeof(d));
  /* present doubles are non-zero (so not -0.0 either) and not NaN */
  if (!r->err && (d != d || d == 0.0)) r->err = DYNA_ECORRUPT;
  return d;
}

/* The flags a value may carry in this place. */
static int flags_ok(uint8_t type, int expiry, uint8_t f) {
  const uint8_t L = DYNA_CRDT_F_LIVE, B = DYNA_CRDT_F_BASE, I = DYNA_CRDT_F_INT,
                D = DYNA_CRDT_F_DBL, T = DYNA_CRDT_F_TS, Y = DYNA_CRDT_F_BYTES;
  if (expiry) return f == 0 || f == I;
  if ((f & (I | D)) && !(f & B)) return 0;
  if (!(f & (L | B))) return 0;
  switch (type) {
  case DYNA_CRDT_COUNTER: return (f & ~(L | B | I | D)) == 0;
  case DYNA_CRDT_SET: return f == L;
  case DYNA_CRDT_HASH:
    if (f & ~(L | B | I | D | T | Y)) return 0;
    if ((f & Y) && (f & (L | B)) != (L | B)) return 0;
    return !(f & T) == !(f & Y);
  case DYNA_CRDT_ZSET: return (f & ~(L | B | D)) == 0;
  case DYNA_CRDT_LIST: return f == (L | Y);
  default: return 0;
  }
}

/* With copy 0 (checking only) a value's bytes are not copied: data stays NULL. */
static void rd_val(dyna_rd_t *r, const dyna_crdt_t *s, int expiry, dyna_crdt_val_t *v, int copy) {
  uint64_t k = rd_var(r);
  v->counter = rd_var(r);
  v->flags = rd_u8(r);
  if (r->err) return;
  if (k >= s->nctx || v->counter == 0 || v->counter > s->ctx[k].counter ||
      !flags_ok(s->type, expiry, v->flags)) {
    r->err = DYNA_ECORRUPT;
    return;
  }
  v->actor = s->ctx[k].actor;
  if (v->flags & DYNA_CRDT_F_TS) v->ts = rd_var(r);
  if (v->flags & DYNA_CRDT_F_INT) {
    v->i = unzigzag(rd_var(r));
    if (v->i == 0 || (expiry && v->i < 0)) r->err = DYNA_ECORRUPT;
  }
  if (v->flags & DYNA_CRDT_F_DBL) v->d = rd_double(r);
  if (v->flags & DYNA_CRDT_F_BYTES) {
    size_t max = s->type == DYNA_CRDT_LIST || s->type == DYNA_CRDT_HASH ? DYNA_CRDT_MAX_VAL_BYTES : 0;
    size_t n;
    const uint8_t *p = rd_bytes(r, max, &n);
    if (r->err) return;
    v->len = n;
    if (!copy) return;
    v->data = dyna_memdup(p, n);
    if (!v->data) r->err = DYNA_ENOMEM; 
  }
}

/* Values of one list (element or expiry), strictly ascending by dot. With copy 0
 * (checking only) nothing is kept: *nout gets the count, *out and *cap are untouched. */
static void rd_vals(dyna_rd_t *r, const dyna_crdt_t *s, int expiry, dyna_crdt_val_t **out,
                    size_t *nout, size_t *cap, int copy) {
  size_t n = rd_count(r, DYNA_CRDT_MAX_VALS, MIN_VAL_BYTES);
  if (r->err || n == 0) return;
  if (!copy) { /* two slots: each value and the one before it */
    dyna_crdt_val_t two[2];
    for (size_t j = 0; j < n && !r->err; j++) {
      dyna_crdt_val_t *v = &two[j & 1], *prev = &two[(j + 1) & 1];
      rd_val(r, s, expiry, v, 0);
      if (!r->err && j > 0 && crdt_dotcmp(prev->actor, prev->counter, v->actor, v->counter) >= 0)
        r->err = DYNA_ECORRUPT;
    }
    *nout = n;
    return;
  }
  if (n > *cap) { /* an element's inline slot (cap 1) takes one value */
    *out = dyna_calloc(n, sizeof(**out));
    if (!*out) {
      r->err = DYNA_ENOMEM;
      return;
    }
    *cap = n;
  }
  for (size_t j = 0; j < n && !r->err; j++) {
    dyna_crdt_val_t *v = &(*out)[j];
    rd_val(r, s, expiry, v, 1);
    *nout = j + 1;
    if (!r->err && j > 0 &&
        crdt_dotcmp(v[-1].actor, v[-1].counter, v->actor, v->counter) >= 0)
      r->err = DYNA_ECORRUPT;
  }
}

static int key_ok(uint8_t type, const uint8_t *k, size_t n) {
  switch (type) {
  case DYNA_CRDT_COUNTER: return n == 0;
  case DYNA_CRDT_KEY: return 0; /* holds no elements */
  case DYNA_CRDT_LIST: return n > 0 && n <= DYNA_CRDT_MAX_POS_BYTES && k[n - 1] != 0;
  default: return n <= DYNA_CRDT_MAX_KEY_BYTES;
  }
}

/* Reads element i of s into s->e[i] (s->n covers it as soon as it exists); with copy 0
 * (checking only) keeps nothing. *key, *klen: its key, pointing into r. */
static void rd_elem(dyna_rd_t *r, dyna_crdt_t *s, size_t i, int copy, const uint8_t **key, size_t *klen) {
  size_t n;
  const uint8_t *k = rd_bytes(r, DYNA_CRDT_MAX_KEY_BYTES, &n);
  if (r->err) return;
  if (!key_ok(s->type, k, n)) {
    r->err = DYNA_ECORRUPT;
    return;
  }
  *key = k;
  *klen = n;
  dyna_crdt_elem_t *e = NULL;
  size_t nvals = 0, vcap = 0;
  dyna_crdt_val_t *none = NULL;
  if (copy) {
    e = crdt_elem_new(k, n);
    if (!e) {
      r->err = DYNA_ENOMEM;
      return;
    }
    s->e[i] = e;
    s->n = i + 1;
    rd_vals(r, s, 0, &e->vals, &e->nvals, &e->vcap, 1);
    nvals = e->nvals;
  } else {
    rd_vals(r, s, 0, &none, &nvals, &vcap, 0);
  }
  size_t nc = rd_count(r, DYNA_CRDT_MAX_ACTORS, MIN_CONTRIB_BYTES);
  if (r->err) return;
  if (nc && (s->type == DYNA_CRDT_SET || s->type == DYNA_CRDT_LIST)) r->err = DYNA_ECORRUPT;
  if (nvals + nc == 0) r->err = DYNA_ECORRUPT;
  if (r->err || nc == 0) return;
  if (copy) {
    e->contrib = dyna_calloc(nc, sizeof(*e->contrib));
    if (!e->contrib) {
      r->err = DYNA_ENOMEM;
      return;
    }
    e->ccap = nc;
  }
  dyna_crdt_contrib_t one;
  uint64_t prev = 0;
  for (size_t j = 0; j < nc && !r->err; j++) {
    dyna_crdt_contrib_t *c = copy ? &e->contrib[j] : &one;
    uint64_t ai = rd_var(r);
    c->seq = rd_var(r);
    uint8_t fl = rd_u8(r);
    if (r->err) return;
    uint8_t allowed = s->type == DYNA_CRDT_ZSET ? DYNA_CRDT_F_DBL : DYNA_CRDT_F_INT | DYNA_CRDT_F_DBL;
    if (ai >= s->nctx || c->seq == 0 || c->seq > s->ctx[ai].counter || (fl & ~allowed) ||
        (j > 0 && s->ctx[ai].actor <= prev)) {
      r->err = DYNA_ECORRUPT;
      return;
    }
    c->actor = prev = s->ctx[ai].actor;
    if (fl & DYNA_CRDT_F_INT) {
      c->i = unzigzag(rd_var(r));
      if (c->i == 0) r->err = DYNA_ECORRUPT;
    }
    if (fl & DYNA_CRDT_F_DBL) c->d = rd_double(r);
    if (copy) e->ncontrib = j + 1;
  }
}

/* Version 2's deletion stamp: del_ms > 0, then the deletes' context (indexes into the
 * context strictly ascending, counters 1 .. the context's). */
static void rd_del(dyna_rd_t *r, dyna_crdt_t *s) {
  s->del_ms = rd_var(r);
  size_t n = rd_count(r, s->nctx, 2);
  if (r->err) return;
  if (s->del_ms == 0) {
    r->err = DYNA_ECORRUPT;
    return;
  }
  if (n == 0) return;
  s->del = dyna_malloc(n * sizeof(*s->del));
  if (!s->del) {
    r->err = DYNA_ENOMEM;
    return;
  }
  uint64_t prev = 0;
  for (size_t i = 0; i < n && !r->err; i++) {
    uint64_t k = rd_var(r);
    uint64_t c = rd_var(r);
    if (r->err) return;
    if (k >= s->nctx || (i > 0 && k <= prev) || c == 0 || c > s->ctx[k].counter) {
      r->err = DYNA_ECORRUPT;
      return;
    }
    prev = k;
    s->del[i].actor = s->ctx[k].actor;
    s->del[i].counter = c;
    s->ndel = i + 1;
  }
}

/* With copy 0, checks only (dyna_crdt_check): nothing is kept, and out gets only the
 * type and the counts of the context and the expiry values (no pointers). */
static int decode(const uint8_t *p, size_t len, dyna_crdt_t *out, int copy) {
  dyna_rd_t r;
  dyna_rd_init(&r, p, len);
  uint8_t ver = rd_u8(&r);
  uint8_t type = rd_u8(&r);
  if (r.err || ver < 1 || ver > DYNA_CRDT_VERSION || type < DYNA_CRDT_COUNTER || type > DYNA_CRDT_KEY)
    return DYNA_ECORRUPT;
  dyna_crdt_t s;
  dyna_crdt_init(&s, type);
  size_t nctx = rd_count(&r, DYNA_CRDT_MAX_ACTORS, MIN_CTX_BYTES);
  dyna_crdt_ctx_entry_t small[8]; /* checking only: a small context needs no allocation */
  if (!r.err && nctx) {
    s.ctx = !copy && nctx <= 8 ? small : dyna_malloc(nctx * sizeof(*s.ctx));
    if (!s.ctx) r.err = DYNA_ENOMEM;
    s.ctxcap = nctx;
  }
  for (size_t i = 0; i < nctx && !r.err; i++) {
    s.ctx[i].actor = rd_u64(&r);
    s.ctx[i].counter = rd_var(&r);
    if (s.ctx[i].counter == 0 || (i > 0 && s.ctx[i].actor <= s.ctx[i - 1].actor)) r.err = DYNA_ECORRUPT;
    s.nctx = i + 1;
  }
  size_t nexp = 0;
  if (!r.err) rd_vals(&r, &s, 1, &s.exp, copy ? &s.nexp : &nexp, &s.expcap, copy);
  size_t n = r.err ? 0 : rd_count(&r, DYNA_CRDT_MAX_ELEMS, MIN_ELEM_BYTES);
  if (!r.err && n && copy) {
    /* one slot spare: a write that adds an element to what it decoded (SADD, HSET,
     * ZADD, a push) then grows nothing */
    s.e = dyna_calloc(n + 1, sizeof(*s.e));
    if (!s.e) r.err = DYNA_ENOMEM;
    s.cap = n + 1;
  }
  const uint8_t *pk = NULL, *k = NULL;
  size_t pklen = 0, klen = 0;
  for (size_t i = 0; i < n && !r.err; i++) {
    rd_elem(&r, &s, i, copy, &k, &klen);
    if (!r.err && i > 0 && crdt_keycmp(pk, pklen, k, klen) >= 0) r.err = DYNA_ECORRUPT;
    pk = k;
    pklen = klen;
  }
  if (!r.err && s.type == DYNA_CRDT_COUNTER && n > 1) r.err = DYNA_ECORRUPT;
  if (!r.err && ver == 2) rd_del(&r, &s);
  if (!r.err && dyna_rd_left(&r) != 0) r.err = DYNA_ECORRUPT;
  if (!copy) { /* kept: a context too large for small, a deletion stamp's context */
    if (s.ctx != small) dyna_free(s.ctx);
    if (s.del) dyna_free(s.del);
    if (r.err) return r.err == DYNA_ENOMEM ? DYNA_ENOMEM : DYNA_ECORRUPT;
    dyna_crdt_init(out, type);
    out->nctx = nctx;
    out->nexp = nexp;
    return 0;
  }
  if (r.err) {
    int rc = r.err == DYNA_ENOMEM ? DYNA_ENOMEM : DYNA_ECORRUPT;
    dyna_crdt_clear(&s);
    return rc;
  }
  dyna_crdt_clear(out);
  *out = s;
  return 0;
}

int dyna_crdt_decode(const uint8_t *p, size_t len, dyna_crdt_t *out) { return decode(p, len, out, 1); }

int dyna_crdt_check(const uint8_t *p, size_t len, dyna_crdt_t *out) { return decode(p, len, out, 0); }
