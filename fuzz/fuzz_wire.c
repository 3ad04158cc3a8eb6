/* fuzz_wire.c: libFuzzer target for everything a peer can send: inter-node frames
 * (wire.c), and the cluster state and member records carried in GOSSIP and JOIN
 * (cluster.c, ring.c). Properties: no crash, no leak, no out-of-bounds read; a frame
 * gets the verdict and the fields of a reference decoder written over util/buf.h's
 * reader (the decoder wire.c had before it read with plain pointers); a frame that
 * decodes re-encodes to one that decodes to the same message; a cluster state that
 * decodes re-encodes, merges with itself without change, and fixes its ring without
 * breaking balance. */
#include "core/cluster.h"
#include "util/err.h"
#include "proto/wire.h"
#include "util/buf.h"
#include "util/keyhash.h"
#include <stdint.h>
#include <string.h>

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

static int same_bytes(const uint8_t *a, size_t an, const uint8_t *b, size_t bn) {
  return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

/* The reference: the same format read through dyna_rd_t. Returns 0 or DYNA_EPROTO. */
static const uint8_t *ref_field(dyna_rd_t *r, size_t max, size_t *n) {
  const uint8_t *p = dyna_rd_bytes(r, max, n);
  return *n ? p : NULL;
}

static int ref_decode(const uint8_t *frame, size_t len, dyna_msg_t *m) {
  memset(m, 0, sizeof(*m));
  dyna_rd_t r;
  dyna_rd_init(&r, frame, len);
  uint32_t body = dyna_rd_u32le(&r);
  if (r.err || (size_t)body + 4 != len) return DYNA_EPROTO;
  if (dyna_rd_u8(&r) != DYNA_WIRE_VERSION) return DYNA_EPROTO;
  m->type = dyna_rd_u8(&r);
  if (r.err || m->type == 0 || m->type >= DYNA_MSG_TYPE_MAX) return DYNA_EPROTO;
  m->req = dyna_rd_varint(&r);
  uint64_t zz = dyna_rd_varint(&r);
  int64_t st = (int64_t)(zz >> 1) ^ -(int64_t)(zz & 1);
  if (st < INT32_MIN || st > INT32_MAX) return DYNA_EPROTO;
  m->status = (int32_t)st;
  m->flags = dyna_rd_varint(&r);
  m->node = dyna_rd_u64le(&r);
  m->key = ref_field(&r, DYNA_MAX_KEY_BYTES, &m->klen);
  m->obj = ref_field(&r, DYNA_WIRE_MAX_FRAME, &m->objlen);
  m->ctx = ref_field(&r, DYNA_WIRE_MAX_FRAME, &m->ctxlen);
  m->val = ref_field(&r, DYNA_WIRE_MAX_FRAME, &m->vlen);
  m->w = dyna_rd_varint(&r);
  return r.err || dyna_rd_left(&r) ? DYNA_EPROTO : 0;
}

static int same_msg(const dyna_msg_t *a, const dyna_msg_t *b) {
  return a->type == b->type && a->req == b->req && a->status == b->status && a->flags == b->flags &&
         a->node == b->node && a->w == b->w && a->key == b->key && a->klen == b->klen && a->obj == b->obj &&
         a->objlen == b->objlen && a->ctx == b->ctx && a->ctxlen == b->ctxlen && a->val == b->val &&
         a->vlen == b->vlen;
}

static void fuzz_frame(const uint8_t *data, size_t size) {
  dyna_msg_t m, ref;
  /* the whole input as one frame, against the reference (which has no type check of
   * fields: a frame it accepts may still be refused for a field its type does not allow) */
  int rc = dyna_wire_decode(data, size, &m), ref_rc = ref_decode(data, size, &ref);
  CHECK(rc == 0 ? ref_rc == 0 && same_msg(&m, &ref) : 1);
  CHECK(ref_rc != 0 ? rc != 0 : 1);
  size_t flen;
  if (dyna_wire_frame(data, size, 1u << 20, &flen) != 0) return;
  if (dyna_wire_decode(data, flen, &m)) return;
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_wire_encode(&m, &b);
  CHECK(!b.oom);
  dyna_msg_t m2;
  CHECK(dyna_wire_decode(b.data, b.len, &m2) == 0);
  CHECK(m2.type == m.type && m2.req == m.req && m2.status == m.status && m2.flags == m.flags);
  CHECK(m2.node == m.node && m2.w == m.w);
  CHECK(same_bytes(m2.key, m2.klen, m.key, m.klen) && same_bytes(m2.obj, m2.objlen, m.obj, m.objlen));
  CHECK(same_bytes(m2.ctx, m2.ctxlen, m.ctx, m.ctxlen) && same_bytes(m2.val, m2.vlen, m.val, m.vlen));
  dyna_buf_free(&b);
}

static void fuzz_cluster(const uint8_t *data, size_t size) {
  dyna_cluster_t c, copy;
  dyna_cluster_init(&c);
  dyna_cluster_init(&copy);
  if (dyna_cluster_decode(data, size, &c) == 0) {
    dyna_buf_t b = DYNA_BUF_INIT;
    dyna_cluster_encode(&c, &b);
    CHECK(!b.oom);
    CHECK(dyna_cluster_decode(b.data, b.len, &copy) == 0);
    int changed = 1;
    CHECK(dyna_cluster_merge(&c, &copy, &changed) == 0);
    CHECK(!changed);
    if (c.n) {
      const dyna_repl_t repl = dyna_repl_uniform(3);
      int rc = dyna_cluster_fix_ring(&c, c.m[0].id, &repl, &changed);
      CHECK(rc == 0 || rc == DYNA_ENOMEM || rc == DYNA_EINVAL);
      if (rc == 0 && changed) CHECK(dyna_cluster_ring_settled(&c));
    }
    dyna_buf_free(&b);
  }
  dyna_cluster_clear(&c);
  dyna_cluster_clear(&copy);
  dyna_rd_t rd;
  dyna_member_t m;
  dyna_rd_init(&rd, data, size);
  if (dyna_member_read(&rd, &m) == 0) CHECK(m.id != 0 && rd.off <= size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  if (data[0] & 1) fuzz_frame(data + 1, size - 1);
  else fuzz_cluster(data + 1, size - 1);
  return 0;
}
