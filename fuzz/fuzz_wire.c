/* fuzz_wire.c: libFuzzer target for everything a peer can send: inter-node frames
 * (wire.c), and the cluster state and member records carried in GOSSIP and JOIN
 * (cluster.c, ring.c). Properties: no crash, no leak, no out-of-bounds read; a frame that
 * decodes re-encodes to one that decodes to the same message; a cluster state that
 * decodes re-encodes, merges with itself without change, and fixes its ring without
 * breaking balance. */
#include "core/cluster.h"
#include "util/err.h"
#include "proto/wire.h"
#include <stdint.h>
#include <string.h>

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

static int same_bytes(const uint8_t *a, size_t an, const uint8_t *b, size_t bn) {
  return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

static void fuzz_frame(const uint8_t *data, size_t size) {
  size_t flen;
  if (dyna_wire_frame(data, size, 1u << 20, &flen) != 0) return;
  dyna_msg_t m;
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
