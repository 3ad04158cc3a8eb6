/* fuzz_batch.c: libFuzzer target for a transaction's two untrusted inputs (core/batch.h):
 * the commands of a DYNA_OP_BATCH (a client's EXEC, or a peer's FWD flag batch, which
 * the coordinator runs), and the payload of a PUT flag batch (a peer's keys and objects,
 * which a replica applies all or nothing). One node over a memory store, a one-node
 * cluster, so that it coordinates every key.
 *
 * Input: u8 mode | bytes. Mode even: the bytes are the commands, run at the node under
 * key "k"; every request gets exactly one reply. Mode odd: the bytes are a PUT batch
 * frame's payload (its key: the payload's first key when one parses, else "k"),
 * delivered from a peer; it is applied whole or, when refused (DYNA_EPROTO in the
 * PUT_ACK), leaves the store exactly as it was (no write at all). */
#include "core/batch.h"
#include "core/node.h"
#include "proto/wire.h"
#include "store/memory.h"
#include "util/err.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(x) \
  do {           \
    if (!(x)) abort(); \
  } while (0)

static void drain(dyna_node_t *n, uint64_t want_reply, int *status) {
  dyna_node_reply_t r;
  int got = 0;
  while (dyna_node_pop_reply(n, &r)) {
    if (r.req_id == want_reply) got++;
    dyna_node_reply_clear(&r);
  }
  CHECK(!want_reply || got == 1);
  dyna_outmsg_t m;
  while (dyna_node_pop_early(n, &m) || dyna_node_pop_msg(n, &m)) {
    dyna_msg_t a;
    if (status && !dyna_wire_decode(m.frame.data, m.frame.len, &a) && a.type == DYNA_MSG_PUT_ACK && a.req == 9)
      *status = a.status;
    dyna_buf_free(&m.frame);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  dyna_store_t *st = NULL;
  if (dyna_store_mem_open(DYNA_SYNC_BATCH, &st)) return 0;
  dyna_node_cfg_t cfg;
  dyna_node_cfg_default(&cfg);
  cfg.id = 1;
  cfg.ring_size = 16;
  dyna_time_t now = {1000, 1767225600000ull};
  dyna_node_t *n = NULL;
  if (dyna_node_open(&cfg, st, now, &n)) {
    dyna_store_close(st);
    return 0;
  }
  dyna_store_commit(st);
  drain(n, 0, NULL);
  const uint8_t *p = data + 1;
  size_t len = size - 1;
  if (!(data[0] & 1)) {
    dyna_req_t req;
    memset(&req, 0, sizeof(req));
    req.id = 5;
    req.op = DYNA_OP_BATCH;
    req.key = (const uint8_t *)"k";
    req.klen = 1;
    req.val = p;
    req.vlen = len;
    if (dyna_node_request(n, &req, now) == 0) drain(n, 5, NULL);
  } else {
    const uint8_t *key = (const uint8_t *)"k";
    size_t klen = 1, argc = dyna_wire_args_count(p, len);
    const uint8_t **av = argc ? malloc(argc * sizeof(*av)) : NULL;
    size_t *al = argc ? malloc(argc * sizeof(*al)) : NULL;
    if (av && al && !dyna_wire_get_args(p, len, argc, av, al) && al[0]) {
      key = av[0];
      klen = al[0];
    }
    dyna_msg_t m;
    memset(&m, 0, sizeof(m));
    m.type = DYNA_MSG_PUT;
    m.req = 9;
    m.flags = DYNA_PUT_BATCH;
    m.key = key;
    m.klen = klen;
    m.obj = p;
    m.objlen = len;
    dyna_buf_t frame = DYNA_BUF_INIT;
    dyna_wire_encode(&m, &frame);
    uint64_t before = st->writes;
    int status = 1; /* no PUT_ACK seen */
    if (!frame.oom && dyna_node_on_message(n, 2, frame.data, frame.len, now) == 0) drain(n, 0, &status);
    if (status != 0 && status != 1) CHECK(st->writes == before); /* refused: nothing written */
    dyna_buf_free(&frame);
    free(av);
    free(al);
  }
  dyna_store_commit(st);
  dyna_node_free(n);
  dyna_store_close(st);
  return 0;
}
