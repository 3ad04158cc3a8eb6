/* buf.c: growable buffer and bounds-checked reader (see buf.h). */
#include "util/buf.h"
#include "util/err.h"
#include "util/alloc.h"
#include <string.h>

void dyna_buf_init(dyna_buf_t *b) { memset(b, 0, sizeof(*b)); }

void dyna_buf_free(dyna_buf_t *b) {
  dyna_free(b->data);
  memset(b, 0, sizeof(*b));
}

void dyna_buf_reset(dyna_buf_t *b) { b->len = 0; b->oom = 0; }

/* Grows b's allocation to cap bytes (cap > b->cap). 0 or DYNA_ENOMEM (b->oom set). */
static int grow_to(dyna_buf_t *b, size_t cap) {
  uint8_t *d = dyna_realloc(b->data, cap);
  if (!d) { b->oom = 1; return DYNA_ENOMEM; }
  b->data = d;
  b->cap = cap;
  return 0;
}

/* The size b must reach to take n more bytes: 0 when it has room (or is out of memory,
 * *rc then DYNA_ENOMEM). */
static size_t needed(dyna_buf_t *b, size_t n, int *rc) {
  *rc = b->oom ? DYNA_ENOMEM : 0;
  if (b->oom || n <= b->cap - b->len) return 0;
  size_t need = b->len + n;
  if (need < b->len) { b->oom = 1; *rc = DYNA_ENOMEM; return 0; }
  return need;
}

int dyna_buf_reserve(dyna_buf_t *b, size_t n) {
  int rc;
  size_t need = needed(b, n, &rc);
  if (!need) return rc;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  return grow_to(b, cap);
}

int dyna_buf_reserve_exact(dyna_buf_t *b, size_t n) {
  int rc;
  size_t need = needed(b, n, &rc);
  return need ? grow_to(b, need) : rc;
}

void dyna_buf_put_slow(dyna_buf_t *b, const void *p, size_t n) {
  if (n == 0 || dyna_buf_reserve(b, n)) return;
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

void dyna_buf_put_u16be(dyna_buf_t *b, uint16_t v) {
  uint8_t t[2] = {(uint8_t)(v >> 8), (uint8_t)v};
  dyna_buf_put(b, t, 2);
}

void dyna_buf_put_u32le(dyna_buf_t *b, uint32_t v) {
  uint8_t t[4];
  for (int i = 0; i < 4; i++) t[i] = (uint8_t)(v >> (8 * i));
  dyna_buf_put(b, t, 4);
}


void dyna_buf_put_bytes(dyna_buf_t *b, const void *p, size_t n) {
  dyna_buf_put_varint(b, n);
  dyna_buf_put(b, p, n);
}

void dyna_buf_consume(dyna_buf_t *b, size_t n) {
  if (n >= b->len) { b->len = 0; return; }
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
}

void dyna_rd_init(dyna_rd_t *r, const void *p, size_t len) {
  r->p = p;
  r->len = len;
  r->off = 0;
  r->err = 0;
}


uint16_t dyna_rd_u16be(dyna_rd_t *r) {
  const uint8_t *p = dyna_rd_take(r, 2);
  return p ? (uint16_t)((p[0] << 8) | p[1]) : 0;
}

uint32_t dyna_rd_u32le(dyna_rd_t *r) {
  const uint8_t *p = dyna_rd_take(r, 4);
  uint32_t v = 0;
  for (int i = 0; p && i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
  return v;
}

uint64_t dyna_rd_varint_slow(dyna_rd_t *r) {
  if (r->err) return 0;
  size_t left = r->len - r->off;
  if (!left) { /* nothing left (r->p may be NULL for an empty input: no arithmetic on it) */
    r->err = DYNA_ECORRUPT;
    return 0;
  }
  const uint8_t *p = r->p + r->off;
  uint64_t v = 0;
  size_t used = left >= 8 ? dyna_varint8(p, &v) : 0;
  if (used) {
    r->off += used;
    return v;
  }
  for (size_t i = 0; i < 10; i++) {
    if (i == left) break; /* truncated */
    uint8_t c = p[i];
    if (i == 9 && (c & 0x7e)) break; /* would overflow 64 bits */
    v |= (uint64_t)(c & 0x7f) << (7 * i);
    if (!(c & 0x80)) {
      r->off += i + 1;
      return v;
    }
  }
  r->err = DYNA_ECORRUPT;
  return 0;
}

const uint8_t *dyna_rd_bytes(dyna_rd_t *r, size_t max, size_t *n) {
  uint64_t len = dyna_rd_varint(r);
  if (r->err || len > max) { r->err = DYNA_ECORRUPT; *n = 0; return NULL; }
  *n = (size_t)len;
  return dyna_rd_take(r, (size_t)len);
}
