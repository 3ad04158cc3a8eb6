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
#include <stddef.h>
#include <stdint.h>

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
void dyna_buf_put(dyna_buf_t *b, const void *p, size_t n);
void dyna_buf_put_u8(dyna_buf_t *b, uint8_t v);
void dyna_buf_put_u16be(dyna_buf_t *b, uint16_t v);
void dyna_buf_put_u32le(dyna_buf_t *b, uint32_t v);
void dyna_buf_put_u64le(dyna_buf_t *b, uint64_t v);
void dyna_buf_put_varint(dyna_buf_t *b, uint64_t v);
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
size_t dyna_rd_left(const dyna_rd_t *r);
uint8_t dyna_rd_u8(dyna_rd_t *r);
uint16_t dyna_rd_u16be(dyna_rd_t *r);
uint32_t dyna_rd_u32le(dyna_rd_t *r);
uint64_t dyna_rd_u64le(dyna_rd_t *r);
uint64_t dyna_rd_varint(dyna_rd_t *r);
/* Returns a pointer to the next n bytes and advances, or NULL (and sets err). */
const uint8_t *dyna_rd_take(dyna_rd_t *r, size_t n);
/* Reads a varint length (at most max) then that many bytes; *n gets the length. */
const uint8_t *dyna_rd_bytes(dyna_rd_t *r, size_t max, size_t *n);

#endif
