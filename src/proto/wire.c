/* wire.c: inter-node frame encoding and bounds-checked decoding (see wire.h). */
#include "proto/wire.h"
#include "util/assert.h"
#include "util/err.h"
#include "util/keyhash.h"
#include <stdint.h>
#include <string.h>

/* Which optional fields each type may carry. */
enum { F_REQ = 1, F_STATUS = 2, F_FLAGS = 4, F_NODE = 8, F_KEY = 16, F_OBJ = 32, F_CTX = 64, F_VAL = 128, F_W = 256 };

static const unsigned ALLOWED[DYNA_MSG_TYPE_MAX] = {
    [DYNA_MSG_HELLO] = F_FLAGS | F_W | F_KEY | F_NODE | F_VAL | F_OBJ,
    [DYNA_MSG_GOSSIP] = F_OBJ | F_NODE,
    [DYNA_MSG_JOIN] = F_OBJ,
    [DYNA_MSG_PUT] = F_REQ | F_KEY | F_OBJ | F_NODE | F_FLAGS | F_W,
    [DYNA_MSG_PUT_ACK] = F_REQ | F_STATUS,
    [DYNA_MSG_GET] = F_REQ | F_KEY,
    [DYNA_MSG_GET_RESP] = F_REQ | F_STATUS | F_OBJ,
    [DYNA_MSG_FWD] = F_REQ | F_KEY | F_CTX | F_VAL | F_FLAGS | F_W | F_NODE,
    [DYNA_MSG_FWD_RESP] = F_REQ | F_STATUS | F_CTX | F_FLAGS | F_VAL,
    [DYNA_MSG_PING] = F_REQ | F_NODE,
    [DYNA_MSG_PONG] = F_REQ,
    [DYNA_MSG_AAE_TREE] = F_W | F_OBJ,
    [DYNA_MSG_AAE_DIFF] = F_W | F_OBJ | F_FLAGS,
    [DYNA_MSG_SCAN] = F_REQ | F_W | F_NODE | F_FLAGS,
    [DYNA_MSG_SCAN_RESP] = F_REQ | F_STATUS | F_NODE | F_OBJ,
    [DYNA_MSG_COUNT] = F_REQ | F_OBJ,
    [DYNA_MSG_FLUSH] = F_REQ,
    [DYNA_MSG_AUTH] = F_OBJ,
    [DYNA_MSG_HO_CHECK] = F_REQ | F_W | F_OBJ,
    [DYNA_MSG_HO_HAVE] = F_REQ | F_W | F_OBJ,
};

const char *dyna_msg_type_name(int type) {
  static const char *names[DYNA_MSG_TYPE_MAX] = {
      "?", "HELLO", "GOSSIP", "JOIN", "PUT", "PUT_ACK", "GET", "GET_RESP", "FWD", "FWD_RESP", "PING", "PONG", "AAE_TREE", "AAE_DIFF",
      "SCAN", "SCAN_RESP", "COUNT", "FLUSH", "AUTH", "HO_CHECK", "HO_HAVE"};
  return type > 0 && type < DYNA_MSG_TYPE_MAX ? names[type] : "?";
}

static uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

/* Raw stores into room reserved beforehand (dyna_wire_encode): no capacity checks. */
static uint8_t *raw_varint(uint8_t *d, uint64_t v) {
  while (v >= 0x80) {
    *d++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *d++ = (uint8_t)v;
  return d;
}

static uint8_t *raw_bytes(uint8_t *d, const uint8_t *p, size_t n) {
  d = raw_varint(d, n);
  if (n) memcpy(d, p, n);
  return d + n;
}

void dyna_wire_encode(const dyna_msg_t *m, dyna_buf_t *out) {
  if ((m->klen | m->objlen | m->ctxlen | m->vlen) > (SIZE_MAX >> 3)) { /* the sum below stays exact */
    out->oom = 1;
    return;
  }
  /* One reservation for the whole frame, varints counted at their longest (10 bytes):
   * the fields are then stored without further checks. */
  size_t max = 4 + 2 + 3 * 10 + 8 + 4 * 10 + m->klen + m->objlen + m->ctxlen + m->vlen + 10;
  if (dyna_buf_reserve(out, max)) return;
  uint8_t *frame = out->data + out->len, *d = frame + 4; /* the length goes first, below */
  *d++ = DYNA_WIRE_VERSION;
  *d++ = (uint8_t)m->type;
  d = raw_varint(d, m->req);
  d = raw_varint(d, zigzag(m->status));
  d = raw_varint(d, m->flags);
  dyna_store_u64le(d, m->node);
  d += 8;
  d = raw_bytes(d, m->key, m->klen);
  d = raw_bytes(d, m->obj, m->objlen);
  d = raw_bytes(d, m->ctx, m->ctxlen);
  d = raw_bytes(d, m->val, m->vlen);
  d = raw_varint(d, m->w);
  size_t n = (size_t)(d - frame);
  DYNA_ASSERT(n <= max, "frame of type %d took %zu bytes, %zu reserved", (int)m->type, n, max);
  uint32_t len = (uint32_t)(n - 4);
  for (int i = 0; i < 4; i++) frame[i] = (uint8_t)(len >> (8 * i));
  out->len += n;
}

int dyna_wire_frame(const uint8_t *buf, size_t len, size_t max, size_t *flen) {
  *flen = 0;
  if (len < 4) return DYNA_EAGAIN;
  uint32_t body = (uint32_t)buf[0] | (uint32_t)buf[1] << 8 | (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 24;
  if ((size_t)body + 4 > max) return DYNA_ETOOBIG;
  *flen = (size_t)body + 4;
  return len >= *flen ? 0 : DYNA_EAGAIN;
}

/* A frame's fields are read with plain pointers (every frame a node receives is decoded,
 * so this is on every request's path): each read checks the bytes left, and the first
 * that fails leaves the reader at the end, marked bad, so later reads fail too. Varints
 * as dyna_rd_varint reads them: at most 10 bytes, the 10th adding bit 63 at most. */
typedef struct frd {
  const uint8_t *p, *end;
  int bad;
} frd_t;

static uint64_t frd_fail(frd_t *r) {
  r->bad = 1;
  r->p = r->end;
  return 0;
}

static inline uint64_t frd_varint(frd_t *r) {
  if (r->p < r->end && *r->p < 0x80) return *r->p++;
  size_t left = (size_t)(r->end - r->p);
  uint64_t v = 0;
  size_t used = left >= 8 ? dyna_varint8(r->p, &v) : 0;
  if (used) {
    r->p += used;
    return v;
  }
  for (size_t i = 0; i < 10 && i < left; i++) {
    uint64_t c = r->p[i];
    if (i == 9 && (c & 0x7e)) break; /* would overflow 64 bits */
    v |= (c & 0x7f) << (7 * i);
    if (c < 0x80) {
      r->p += i + 1;
      return v;
    }
  }
  return frd_fail(r);
}

static inline uint64_t frd_u64le(frd_t *r) {
  if (r->end - r->p < 8) return frd_fail(r);
  uint64_t v = dyna_load_u64le(r->p);
  r->p += 8;
  return v;
}

/* A length-prefixed field of at most max bytes; NULL when empty (or bad). */
static inline const uint8_t *frd_bytes(frd_t *r, size_t max, size_t *n) {
  uint64_t len = frd_varint(r);
  *n = 0;
  if (r->bad || len > max || len > (size_t)(r->end - r->p)) {
    frd_fail(r);
    return NULL;
  }
  const uint8_t *q = r->p;
  r->p += len;
  *n = (size_t)len;
  return len ? q : NULL;
}

int dyna_wire_decode(const uint8_t *frame, size_t len, dyna_msg_t *m) {
  memset(m, 0, sizeof(*m));
  if (len < 6) return DYNA_EPROTO; /* length, version, type */
  uint32_t body = (uint32_t)frame[0] | (uint32_t)frame[1] << 8 | (uint32_t)frame[2] << 16 | (uint32_t)frame[3] << 24;
  if ((size_t)body + 4 != len || frame[4] != DYNA_WIRE_VERSION) return DYNA_EPROTO;
  m->type = frame[5];
  if (m->type == 0 || m->type >= DYNA_MSG_TYPE_MAX) return DYNA_EPROTO;
  frd_t r = {frame + 6, frame + len, 0};
  m->req = frd_varint(&r);
  int64_t st = unzigzag(frd_varint(&r));
  if (st < INT32_MIN || st > INT32_MAX) return DYNA_EPROTO;
  m->status = (int32_t)st;
  m->flags = frd_varint(&r);
  m->node = frd_u64le(&r);
  m->key = frd_bytes(&r, DYNA_MAX_KEY_BYTES, &m->klen);
  m->obj = frd_bytes(&r, DYNA_WIRE_MAX_FRAME, &m->objlen);
  m->ctx = frd_bytes(&r, DYNA_WIRE_MAX_FRAME, &m->ctxlen);
  m->val = frd_bytes(&r, DYNA_WIRE_MAX_FRAME, &m->vlen);
  m->w = frd_varint(&r);
  if (r.bad || r.p != r.end) return DYNA_EPROTO;
  unsigned present = (m->req ? F_REQ : 0) | (m->status ? F_STATUS : 0) | (m->flags ? F_FLAGS : 0) |
                     (m->node ? F_NODE : 0) | (m->klen ? F_KEY : 0) | (m->objlen ? F_OBJ : 0) |
                     (m->ctxlen ? F_CTX : 0) | (m->vlen ? F_VAL : 0) | (m->w ? F_W : 0);
  if (present & ~ALLOWED[m->type]) return DYNA_EPROTO;
  return 0;
}

void dyna_wire_put_args(dyna_buf_t *out, size_t argc, const uint8_t *const *argv, const size_t *argl) {
  dyna_buf_put_varint(out, argc);
  for (size_t i = 0; i < argc; i++) dyna_buf_put_bytes(out, argv[i], argl[i]);
}

size_t dyna_wire_args_count(const uint8_t *p, size_t len) {
  dyna_rd_t r;
  dyna_rd_init(&r, p, len);
  uint64_t argc = dyna_rd_varint(&r);
  /* each argument takes at least its length byte */
  return r.err || argc > dyna_rd_left(&r) ? 0 : (size_t)argc;
}

int dyna_wire_get_args(const uint8_t *p, size_t len, size_t argc, const uint8_t **argv, size_t *argl) {
  dyna_rd_t r;
  dyna_rd_init(&r, p, len);
  if (dyna_rd_varint(&r) != argc || r.err) return DYNA_EPROTO;
  for (size_t i = 0; i < argc; i++) {
    argv[i] = dyna_rd_bytes(&r, len, &argl[i]);
    if (r.err) return DYNA_EPROTO;
  }
  return dyna_rd_left(&r) ? DYNA_EPROTO : 0;
}
