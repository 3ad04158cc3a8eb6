/* buf.h: a growable byte buffer for encoders and a bounds-checked reader for decoders.
 *
 * Writers append into a dyna_buf_t; an append that cannot allocate sets buf->oom and
 * turns every later append into a no-op, so an encoder checks once at the end.
 * Readers walk a dyna_rd_t; any read past the end or any malformed varint sets rd->err
 * and returns zeros, so a decoder checks once at the end too and never reads out of
 * bounds. Integers on the wire are little-endian; varints are LEB128 (at most 10 bytes).
 *
 * Ownership: a dyna_buf_t owns data (free with dyna_buf_free). A dyna_rd_t borrows its
 * bytes; pointers it returns point into them. */
#ifndef DYNA_BUF_H
#define DYNA_BUF_H
#include "util/err.h"
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct dyna_buf {
  uint8_t *data;
  size_t len;
  size_t cap;
  int oom; /* an append failed: contents are incomplete */
} dyna_buf_t;

#define DYNA_BUF_INIT {NULL, 0, 0, 0}

void dyna_buf_init(dyna_buf_t *b);
void dyna_buf_free(dyna_buf_t *b);
/* Empties b, keeping its allocation. */
void dyna_buf_reset(dyna_buf_t *b);
/* Makes room for n more bytes; returns 0 or DYNA_ENOMEM. */
int dyna_buf_reserve(dyna_buf_t *b, size_t n);
/* The same, but a buffer that must grow grows to exactly len + n (no doubling): for bytes
 * that are put once and kept, such as an object read whole. */
int dyna_buf_reserve_exact(dyna_buf_t *b, size_t n);
/* dyna_buf_put when b has no room: grows it (out of line). */
void dyna_buf_put_slow(dyna_buf_t *b, const void *p, size_t n);

/* The appends encoders make per field are inline: a store when there is room, else
 * the out-of-line growth (decoders and encoders of typed objects make dozens each). */
static inline void dyna_buf_put(dyna_buf_t *b, const void *p, size_t n) {
  if (n <= b->cap - b->len && !b->oom) {
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    return;
  }
  dyna_buf_put_slow(b, p, n);
}

static inline void dyna_buf_put_u8(dyna_buf_t *b, uint8_t v) {
  if (b->len < b->cap && !b->oom) b->data[b->len++] = v;
  else dyna_buf_put_slow(b, &v, 1);
}

void dyna_buf_put_u16be(dyna_buf_t *b, uint16_t v);
void dyna_buf_put_u32le(dyna_buf_t *b, uint32_t v);

/* The 8 bytes at p as a little-endian number, and the reverse: one load or store. */
static inline uint64_t dyna_load_u64le(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}

static inline void dyna_store_u64le(uint8_t *d, uint64_t v) {
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  memcpy(d, &v, 8);
}

static inline void dyna_buf_put_u64le(dyna_buf_t *b, uint64_t v) {
  uint8_t t[8];
  dyna_store_u64le(t, v);
  dyna_buf_put(b, t, 8);
}

/* A varint of at most 8 bytes (56 bits) read from p, which has at least 8 readable bytes,
 * without a loop: its last byte is the first without the top bit, and the 7-bit groups
 * are gathered in three steps. Returns the varint's length with *v, or 0 when it is
 * longer than 8 bytes (the caller reads it byte by byte). */
static inline size_t dyna_varint8(const uint8_t *p, uint64_t *v) {
  uint64_t w = dyna_load_u64le(p);
  uint64_t stop = ~w & 0x8080808080808080ull;
  if (!stop) return 0;
  unsigned bits = (unsigned)__builtin_ctzll(stop) + 1; /* 8, 16, ... 64 */
  if (bits < 64) w &= (1ull << bits) - 1;
  w &= 0x7f7f7f7f7f7f7f7full;
  w = ((w & 0x7f007f007f007f00ull) >> 1) | (w & 0x007f007f007f007full);
  w = ((w & 0x3fff00003fff0000ull) >> 2) | (w & 0x00003fff00003fffull);
  w = ((w & 0x0fffffff00000000ull) >> 4) | (w & 0x000000000fffffffull);
  *v = w;
  return bits / 8;
}

static inline void dyna_buf_put_varint(dyna_buf_t *b, uint64_t v) {
  if (b->cap - b->len >= 10 && !b->oom) {
    uint8_t *d = b->data + b->len;
    size_t n = 0;
    while (v >= 0x80) { d[n++] = (uint8_t)(v | 0x80); v >>= 7; }
    d[n++] = (uint8_t)v;
    b->len += n;
    return;
  }
  uint8_t t[10];
  size_t n = 0;
  while (v >= 0x80) { t[n++] = (uint8_t)(v | 0x80); v >>= 7; }
  t[n++] = (uint8_t)v;
  dyna_buf_put_slow(b, t, n);
}
/* A varint length followed by the bytes. */
void dyna_buf_put_bytes(dyna_buf_t *b, const void *p, size_t n);
/* Removes the first n bytes (n <= len). */
void dyna_buf_consume(dyna_buf_t *b, size_t n);

typedef struct dyna_rd {
  const uint8_t *p;
  size_t len;
  size_t off;
  int err; /* set once any read failed */
} dyna_rd_t;

void dyna_rd_init(dyna_rd_t *r, const void *p, size_t len);

static inline size_t dyna_rd_left(const dyna_rd_t *r) { return r->err ? 0 : r->len - r->off; }

/* Returns a pointer to the next n bytes and advances, or NULL (and sets err). */
static inline const uint8_t *dyna_rd_take(dyna_rd_t *r, size_t n) {
  if (r->err || n > r->len - r->off) {
    r->err = DYNA_ECORRUPT;
    return NULL;
  }
  const uint8_t *p = r->p + r->off;
  r->off += n;
  return p;
}

static inline uint8_t dyna_rd_u8(dyna_rd_t *r) {
  const uint8_t *p = dyna_rd_take(r, 1);
  return p ? p[0] : 0;
}

uint16_t dyna_rd_u16be(dyna_rd_t *r);
uint32_t dyna_rd_u32le(dyna_rd_t *r);

static inline uint64_t dyna_rd_u64le(dyna_rd_t *r) {
  const uint8_t *p = dyna_rd_take(r, 8);
  return p ? dyna_load_u64le(p) : 0;
}

/* dyna_rd_varint past its one-byte case (out of line). */
uint64_t dyna_rd_varint_slow(dyna_rd_t *r);

static inline uint64_t dyna_rd_varint(dyna_rd_t *r) {
  if (!r->err && r->off < r->len && r->p[r->off] < 0x80) return r->p[r->off++];
  return dyna_rd_varint_slow(r);
}
/* Reads a varint length (at most max) then that many bytes; *n gets the length. */
const uint8_t *dyna_rd_bytes(dyna_rd_t *r, size_t max, size_t *n);

#endif
