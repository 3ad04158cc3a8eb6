/* json.h: a small JSON writer (RFC 8259) into a dyna_buf_t, for dynad's HTTP admin API
 * (runtime/http_api.c). It puts the commas and the nesting itself, so a caller only says
 * what comes next. Strings are escaped as RFC 8259 requires ('"', '\\' and every control
 * character), and byte strings that are not valid UTF-8 (a key is any bytes) are written
 * with each bad byte as U+FFFD, so the output is always valid UTF-8 JSON; the caller
 * adds the exact bytes as base64 beside them where they matter. Nesting deeper than
 * DYNA_JSON_DEPTH_MAX sets buf->oom (the writer's one error, checked at the end). */
#ifndef DYNA_JSON_H
#define DYNA_JSON_H
#include "util/buf.h"
#include <stddef.h>
#include <stdint.h>

#define DYNA_JSON_DEPTH_MAX 32

typedef struct dyna_json {
  dyna_buf_t *b;          /* borrowed: the output */
  uint32_t depth;
  uint8_t has_item[DYNA_JSON_DEPTH_MAX + 1]; /* per level: an item was written (a comma before the next) */
  int after_key;          /* a key was written: its value comes next, no comma */
} dyna_json_t;

void dyna_json_init(dyna_json_t *j, dyna_buf_t *b);
void dyna_json_obj_open(dyna_json_t *j);
void dyna_json_obj_close(dyna_json_t *j);
void dyna_json_arr_open(dyna_json_t *j);
void dyna_json_arr_close(dyna_json_t *j);
/* An object's member name (NUL-terminated); its value is the next call. */
void dyna_json_key(dyna_json_t *j, const char *k);
void dyna_json_str(dyna_json_t *j, const char *s);            /* NUL-terminated */
void dyna_json_bytes(dyna_json_t *j, const void *p, size_t n); /* any bytes, see above */
/* The base64 of p[0..n) as a string (util/b64.h). */
void dyna_json_b64(dyna_json_t *j, const void *p, size_t n);
void dyna_json_u64(dyna_json_t *j, uint64_t v);
void dyna_json_i64(dyna_json_t *j, int64_t v);
void dyna_json_double(dyna_json_t *j, double v); /* non-finite values as null */
void dyna_json_bool(dyna_json_t *j, int v);
void dyna_json_null(dyna_json_t *j);

/* Appends p[0..n) to b as the inside of a JSON string (no quotes), escaped as above.
 * Returns the number of bytes that were not valid UTF-8 (each written as U+FFFD). */
size_t dyna_json_escape(dyna_buf_t *b, const uint8_t *p, size_t n);

#endif
