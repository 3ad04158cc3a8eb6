/* json.c: the JSON writer (see json.h). */
#include "util/json.h"
#include "util/b64.h"
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void dyna_json_init(dyna_json_t *j, dyna_buf_t *b) {
  memset(j, 0, sizeof(*j));
  j->b = b;
}

/* Before any value: the comma when it is not the first item of its level. */
static void before_value(dyna_json_t *j) {
  if (j->after_key) {
    j->after_key = 0;
    return;
  }
  if (j->has_item[j->depth]) dyna_buf_put(j->b, ",", 1);
  j->has_item[j->depth] = 1;
}

static void json_open(dyna_json_t *j, char c) {
  before_value(j);
  if (j->depth == DYNA_JSON_DEPTH_MAX) {
    j->b->oom = 1;
    return;
  }
  dyna_buf_put(j->b, &c, 1);
  j->has_item[++j->depth] = 0;
}

static void json_close(dyna_json_t *j, char c) {
  if (!j->depth) {
    j->b->oom = 1;
    return;
  }
  j->depth--;
  dyna_buf_put(j->b, &c, 1);
}

void dyna_json_obj_open(dyna_json_t *j) { json_open(j, '{'); }
void dyna_json_obj_close(dyna_json_t *j) { json_close(j, '}'); }
void dyna_json_arr_open(dyna_json_t *j) { json_open(j, '['); }
void dyna_json_arr_close(dyna_json_t *j) { json_close(j, ']'); }

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when it is not one (overlong
 * forms, surrogates and code points past U+10FFFF are not). */
static size_t utf8_len(const uint8_t *p, size_t n) {
  uint8_t c = p[0];
  if (c < 0x80) return 1;
  size_t len;
  uint32_t cp, min;
  if ((c & 0xe0) == 0xc0) { len = 2; cp = c & 0x1f; min = 0x80; }
  else if ((c & 0xf0) == 0xe0) { len = 3; cp = c & 0x0f; min = 0x800; }
  else if ((c & 0xf8) == 0xf0) { len = 4; cp = c & 0x07; min = 0x10000; }
  else return 0;
  if (len > n) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    cp = cp << 6 | (p[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

size_t dyna_json_escape(dyna_buf_t *b, const uint8_t *p, size_t n) {
  size_t bad = 0, i = 0;
  while (i < n) {
    uint8_t c = p[i];
    const char *esc = NULL;
    char u[8];
    switch (c) {
    case '"': esc = "\\\""; break;
    case '\\': esc = "\\\\"; break;
    case '\n': esc = "\\n"; break;
    case '\r': esc = "\\r"; break;
    case '\t': esc = "\\t"; break;
    case '\b': esc = "\\b"; break;
    case '\f': esc = "\\f"; break;
    default:
      if (c < 0x20 || c == 0x7f) {
        snprintf(u, sizeof(u), "\\u%04x", c);
        esc = u;
      }
    }
    if (esc) {
      dyna_buf_put(b, esc, strlen(esc));
      i++;
      continue;
    }
    size_t len = utf8_len(p + i, n - i);
    if (!len) {
      dyna_buf_put(b, "\xef\xbf\xbd", 3); /* U+FFFD */
      bad++;
      i++;
      continue;
    }
    dyna_buf_put(b, p + i, len);
    i += len;
  }
  return bad;
}

void dyna_json_key(dyna_json_t *j, const char *k) {
  before_value(j);
  dyna_buf_put(j->b, "\"", 1);
  dyna_json_escape(j->b, (const uint8_t *)k, strlen(k));
  dyna_buf_put(j->b, "\":", 2);
  j->after_key = 1;
}

void dyna_json_bytes(dyna_json_t *j, const void *p, size_t n) {
  before_value(j);
  dyna_buf_put(j->b, "\"", 1);
  dyna_json_escape(j->b, p, n);
  dyna_buf_put(j->b, "\"", 1);
}

void dyna_json_str(dyna_json_t *j, const char *s) { dyna_json_bytes(j, s, strlen(s)); }

void dyna_json_b64(dyna_json_t *j, const void *p, size_t n) {
  before_value(j);
  dyna_buf_put(j->b, "\"", 1);
  dyna_b64_encode(p, n, j->b);
  dyna_buf_put(j->b, "\"", 1);
}

static void raw(dyna_json_t *j, const char *s) {
  before_value(j);
  dyna_buf_put(j->b, s, strlen(s));
}

void dyna_json_u64(dyna_json_t *j, uint64_t v) {
  char t[24];
  snprintf(t, sizeof(t), "%" PRIu64, v);
  raw(j, t);
}

void dyna_json_i64(dyna_json_t *j, int64_t v) {
  char t[24];
  snprintf(t, sizeof(t), "%" PRId64, v);
  raw(j, t);
}

void dyna_json_double(dyna_json_t *j, double v) {
  char t[32];
  if (!isfinite(v)) snprintf(t, sizeof(t), "null");
  else snprintf(t, sizeof(t), "%.17g", v);
  raw(j, t);
}

void dyna_json_bool(dyna_json_t *j, int v) { raw(j, v ? "true" : "false"); }
void dyna_json_null(dyna_json_t *j) { raw(j, "null"); }
