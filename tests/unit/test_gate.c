/* test_gate.c: core/gate.h, the durability gate, driven by hand as a driver would: one
 * node over a memory store, whose commits the test performs (and fails, with the store's
 * fault injection). Release order, answers held until their writes are durable, a
 * failed batch failing exactly its own answers, DYNA_WSEQ_ALL resolved after a loss,
 * durable reads, early frames waiting for the new incarnation after a failure, the
 * deliberate bug gate-forget-loss, and the release rule asserted from the inside. */
#include "store/memory.h"
#include "core/gate.h"
#include "core/node.h"
#include "proto/wire.h"
#include "store/store.h"
#include "util/err.h"
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include "helper_child.h"

#define PEER 0x2222u /* a node that sends this one frames */

typedef struct fx {
  dyna_store_t *store;
  dyna_node_t *node;
  dyna_gate_t gate;
  uint64_t next_req;
  dyna_gate_item_t got[64]; /* popped, in order */
  size_t ngot;
} fx_t;

static void fx_open(fx_t *f, int durable_reads, uint32_t bugs) {
  memset(f, 0, sizeof(*f));
  assert_int_equal(dyna_store_mem_open(DYNA_SYNC_BATCH, &f->store), 0);
  dyna_node_cfg_t cfg;
  dyna_node_cfg_default(&cfg);
  cfg.durable_reads = durable_reads;
  assert_int_equal(dyna_node_open(&cfg, f->store, (dyna_time_t){1000, 1000}, &f->node), 0);
  assert_int_equal(dyna_store_commit(f->store), 0); /* as drivers do: the incarnation first */
  dyna_gate_init(&f->gate, f->store, durable_reads, bugs);
  dyna_gate_handed(&f->gate, f->store->writes);
  dyna_gate_durable(&f->gate, f->store->writes);
}

static void fx_close(fx_t *f) {
  for (size_t i = 0; i < f->ngot; i++) {
    if (f->got[i].is_msg) dyna_buf_free(&f->got[i].m.frame);
    else dyna_node_reply_clear(&f->got[i].r);
  }
  dyna_gate_free(&f->gate);
  dyna_node_free(f->node);
  dyna_store_close(f->store);
}

/* A client request; returns its id. */
static uint64_t req(fx_t *f, dyna_op_t op, const char *key, const char *val) {
  dyna_req_t r;
  memset(&r, 0, sizeof(r));
  r.id = ++f->next_req;
  r.op = op;
  r.flags = DYNA_REQ_BLIND;
  r.key = (const uint8_t *)key;
  r.klen = strlen(key);
  r.val = (const uint8_t *)val;
  r.vlen = val ? strlen(val) : 0;
  assert_int_equal(dyna_node_request(f->node, &r, (dyna_time_t){1000, 1000}), 0);
  return r.id;
}

/* A frame from PEER: GET (answered with an early GET_RESP) or PING (a PONG, which waits
 * for every write made before it). */
static void frame_in(fx_t *f, uint8_t type) {
  dyna_msg_t m;
  memset(&m, 0, sizeof(m));
  m.type = type;
  m.req = 77;
  if (type == DYNA_MSG_GET) {
    m.key = (const uint8_t *)"k";
    m.klen = 1;
  }
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_wire_encode(&m, &b);
  assert_int_equal(dyna_node_on_message(f->node, PEER, b.data, b.len, (dyna_time_t){1000, 1000}), 0);
  dyna_buf_free(&b);
}

static size_t drain(fx_t *f) {
  size_t n = 0;
  while (f->ngot < 64 && dyna_gate_pop(&f->gate, &f->got[f->ngot])) {
    f->ngot++;
    n++;
  }
  return n;
}

static void take(fx_t *f) {
  assert_int_equal(dyna_gate_take(&f->gate, f->node), 0);
  drain(f);
}

/* The driver's commit of every write so far: durable, or failed with err. */
static void commit(fx_t *f, int err) {
  uint64_t upto = f->store->writes;
  dyna_gate_handed(&f->gate, upto);
  if (err) dyna_store_mem_inject_commit(f->store, err);
  int rc = dyna_store_commit(f->store);
  assert_int_equal(rc, err);
  if (rc) dyna_gate_failed(&f->gate, f->node, rc);
  else dyna_gate_durable(&f->gate, upto);
  drain(f);
}

/* The popped reply to request id (NULL if none was popped). */
static const dyna_gate_item_t *reply_of(const fx_t *f, uint64_t id) {
  for (size_t i = 0; i < f->ngot; i++)
    if (!f->got[i].is_msg && f->got[i].r.req_id == id) return &f->got[i];
  return NULL;
}

/* Frames of that type popped so far (a frame: 4 length bytes, a version, the type). */
static size_t frames(const fx_t *f, uint8_t type) {
  size_t n = 0;
  for (size_t i = 0; i < f->ngot; i++)
    if (f->got[i].is_msg && f->got[i].m.frame.len > 5 && f->got[i].m.frame.data[5] == type) n++;
  return n;
}

/* Replies leave in the order their writes became durable, reads at once; the held ones
 * keep the order they were taken in. */
static void test_release_order(void **state) {
  (void)state;
  fx_t f;
  fx_open(&f, 0, 0);
  uint64_t a = req(&f, DYNA_OP_PUT, "a", "1");
  uint64_t b = req(&f, DYNA_OP_PUT, "b", "2");
  uint64_t g = req(&f, DYNA_OP_GET, "a", NULL);
  uint64_t c = req(&f, DYNA_OP_DEL, "c", NULL);
  take(&f);
  assert_int_equal(f.ngot, 1); /* the read, at once */
  assert_int_equal(f.got[0].r.req_id, g);
  assert_int_equal(f.got[0].err, 0);
  assert_int_equal(dyna_gate_stats(&f.gate)->early_replies, 1);
  assert_int_equal(dyna_gate_held(&f.gate), 3);
  commit(&f, 0);
  assert_int_equal(f.ngot, 4);
  assert_int_equal(f.got[1].r.req_id, a);
  assert_int_equal(f.got[2].r.req_id, b);
  assert_int_equal(f.got[3].r.req_id, c);
  for (size_t i = 1; i < 4; i++) {
    assert_int_equal(f.got[i].err, 0);
    assert_int_equal(f.got[i].r.status, 0);
    if (i > 1) assert_true(f.got[i].seq > f.got[i - 1].seq);
  }
  assert_int_equal(dyna_gate_held(&f.gate), 0);
  fx_close(&f);
}

/* An acknowledgement waits for its own write only: not for a batch handed later, and
 * not at all when its write is durable by the time it is taken. */
static void test_held_until_durable(void **state) {
  (void)state;
  fx_t f;
  fx_open(&f, 0, 0);
  uint64_t a = req(&f, DYNA_OP_PUT, "a", "1");
  uint64_t wa = f.store->writes;
  take(&f);
  dyna_gate_handed(&f.gate, wa); /* batch 1 on its way to the disk */
  assert_int_equal(drain(&f), 0);
  assert_int_equal(dyna_gate_state(&f.gate, wa), DYNA_DUR_PENDING);
  uint64_t b = req(&f, DYNA_OP_PUT, "b", "2");
  uint64_t wb = f.store->writes;
  take(&f);
  dyna_gate_handed(&f.gate, wb); /* batch 2 */
  assert_int_equal(drain(&f), 0);
  assert_int_equal(dyna_gate_held(&f.gate), 2);
  dyna_gate_durable(&f.gate, wa); /* batch 1 durable: a leaves, b waits */
  assert_int_equal(drain(&f), 1);
  assert_non_null(reply_of(&f, a));
  assert_null(reply_of(&f, b));
  dyna_gate_durable(&f.gate, wb);
  assert_int_equal(drain(&f), 1);
  assert_int_equal(reply_of(&f, b)->err, 0);
  /* A reply whose write is durable by the time the gate takes it leaves at once. */
  uint64_t c = req(&f, DYNA_OP_PUT, "c", "3");
  dyna_gate_handed(&f.gate, f.store->writes);
  assert_int_equal(dyna_store_commit(f.store), 0);
  dyna_gate_durable(&f.gate, f.store->writes);
  assert_int_equal(dyna_gate_stats(&f.gate)->unheld_acks, 0);
  take(&f);
  assert_non_null(reply_of(&f, c));
  assert_int_equal(dyna_gate_stats(&f.gate)->unheld_acks, 1);
  fx_close(&f);
}

/* A failed batch fails exactly the answers that depend on its writes: not those of an
 * earlier batch, not reads, not answers made after it; the node takes a new
 * incarnation. Returns how many of these expectations were not met (each is printed),
 * so that the same check can be shown to fire under the deliberate bug. */
#define EXPECT(c) (!(c) ? (print_message("violated: %s\n", #c), bad++) : 0)
static int check_failed_batch(fx_t *f) {
  int bad = 0;
  uint64_t a = req(f, DYNA_OP_PUT, "a", "1");
  take(f);
  commit(f, 0);
  EXPECT(reply_of(f, a) && reply_of(f, a)->err == 0);
  uint64_t inc = dyna_node_incarnation(f->node);
  uint64_t b = req(f, DYNA_OP_PUT, "b", "2");
  uint64_t c = req(f, DYNA_OP_DEL, "a", NULL);
  uint64_t g = req(f, DYNA_OP_GET, "b", NULL);
  take(f);
  EXPECT(reply_of(f, g) != NULL); /* a read: out before the commit */
  commit(f, DYNA_EIO);
  EXPECT(dyna_node_incarnation(f->node) == inc + 1);
  const dyna_gate_item_t *rb = reply_of(f, b), *rc = reply_of(f, c);
  EXPECT(rb && rb->err == DYNA_EIO && rb->r.status == DYNA_EIO);
  EXPECT(rb && strstr(rb->r.msg, "storage commit failed"));
  EXPECT(rc && rc->err == DYNA_EIO && rc->r.status == DYNA_EIO);
  EXPECT(dyna_gate_stats(&f->gate)->failed_replies == 2);
  /* After the failure: a new write is answered once its own batch is durable, and the
   * failed ones are never answered OK. */
  uint64_t d = req(f, DYNA_OP_PUT, "d", "4");
  take(f);
  EXPECT(reply_of(f, d) == NULL);
  commit(f, 0);
  EXPECT(reply_of(f, d) && reply_of(f, d)->err == 0);
  for (size_t i = 0; i < f->ngot; i++) {
    const dyna_gate_item_t *it = &f->got[i];
    EXPECT(it->is_msg || (it->r.req_id != b && it->r.req_id != c) || it->err != 0);
  }
  return bad;
}

static void test_failed_batch_fails_its_answers(void **state) {
  (void)state;
  fx_t f;
  fx_open(&f, 0, 0);
  assert_int_equal(check_failed_batch(&f), 0);
  fx_close(&f);
}

/* The deliberate bug gate-forget-loss: the failed batch's answers stay held, and the
 * next commit that succeeds lets them out as OK; the check above sees it. */
static void test_bug_forget_loss_is_caught(void **state) {
  (void)state;
  fx_t f;
  fx_open(&f, 0, DYNA_BUG_GATE_FORGET_LOSS);
  uint64_t b = req(&f, DYNA_OP_PUT, "b", "2");
  take(&f);
  commit(&f, DYNA_EIO);
  assert_null(reply_of(&f, b)); /* the bug: held on */
  req(&f, DYNA_OP_PUT, "x", "9");
  take(&f);
  commit(&f, 0);
  assert_non_null(reply_of(&f, b));
  assert_int_equal(reply_of(&f, b)->err, 0); /* and released as OK */
  fx_close(&f);
  fx_open(&f, 0, DYNA_BUG_GATE_FORGET_LOSS);
  assert_true(check_failed_batch(&f) > 0);
  fx_close(&f);
}

/* DYNA_WSEQ_ALL (a frame that depends on every write before it) resolves when taken:
 * one made before a failure fails with it (the frame is dropped); one made after waits
 * for the writes made since (the new incarnation), not for the lost ones; after a crash
 * with nothing written since, it depends on nothing lost and leaves at once. */
static void test_wseq_all_after_loss(void **state) {
  (void)state;
  fx_t f;
  fx_open(&f, 0, 0);
  req(&f, DYNA_OP_PUT, "a", "1");
  frame_in(&f, DYNA_MSG_PING); /* PONG: every write so far */
  take(&f);
  assert_int_equal(frames(&f, DYNA_MSG_PONG), 0);
  commit(&f, DYNA_EIO);
  assert_int_equal(frames(&f, DYNA_MSG_PONG), 0); /* dropped, never released */
  assert_int_equal(dyna_gate_stats(&f.gate)->dropped_frames, 1);
  frame_in(&f, DYNA_MSG_PING);
  take(&f);
  assert_int_equal(frames(&f, DYNA_MSG_PONG), 0); /* waits for the new incarnation */
  assert_int_equal(dyna_gate_held(&f.gate), 1);
  commit(&f, 0);
  assert_int_equal(frames(&f, DYNA_MSG_PONG), 1);
  /* A crash (the simulator's): what was not durable is lost; a reply made after it,
   * with nothing written since, depends on no lost write. */
  req(&f, DYNA_OP_PUT, "b", "2");
  take(&f);
  uint64_t durable = dyna_gate_durable_point(&f.gate);
  dyna_gate_crash(&f.gate);
  assert_int_equal(dyna_gate_held(&f.gate), 0);
  assert_int_equal(dyna_gate_state(&f.gate, f.store->writes), DYNA_DUR_LOST);
  dyna_node_reply_t r;
  memset(&r, 0, sizeof(r));
  r.req_id = 999;
  assert_int_equal(dyna_gate_hold_reply(&f.gate, &r), 0);
  drain(&f);
  const dyna_gate_item_t *it = reply_of(&f, 999);
  assert_non_null(it);
  assert_int_equal(it->err, 0);
  assert_true(it->wseq <= durable); /* a durable point from before the losses */
  assert_int_equal(dyna_gate_state(&f.gate, it->wseq), DYNA_DUR_DURABLE);
  assert_int_equal(it->r.wrote, 1);
  frame_in(&f, DYNA_MSG_PING); /* so does a frame */
  take(&f);
  assert_int_equal(frames(&f, DYNA_MSG_PONG), 2);
  fx_close(&f);
}

/* With durable_reads, a read's reply waits for every write made before it, and fails
 * with them. */
static void test_durable_reads(void **state) {
  (void)state;
  fx_t f;
  fx_open(&f, 1, 0);
  req(&f, DYNA_OP_PUT, "a", "1");
  uint64_t g = req(&f, DYNA_OP_GET, "a", NULL);
  take(&f);
  assert_null(reply_of(&f, g));
  assert_int_equal(dyna_gate_stats(&f.gate)->early_replies, 0);
  commit(&f, 0);
  assert_int_equal(reply_of(&f, g)->err, 0);
  req(&f, DYNA_OP_PUT, "b", "2");
  uint64_t g2 = req(&f, DYNA_OP_GET, "b", NULL);
  take(&f);
  assert_null(reply_of(&f, g2));
  commit(&f, DYNA_EIO);
  assert_int_equal(reply_of(&f, g2)->err, DYNA_EIO); /* it may have read the lost write */
  /* A read with nothing written before it leaves at once. */
  commit(&f, 0); /* the new incarnation's record */
  uint64_t g3 = req(&f, DYNA_OP_GET, "a", NULL);
  take(&f);
  assert_non_null(reply_of(&f, g3));
  fx_close(&f);
}

/* Early frames (here a replica's GET_RESP) leave at once, even before the commit of the
 * turn's writes; after a failed commit they wait until the node's new incarnation is
 * durable, and then leave. */
static void test_early_frames_after_writes_lost(void **state) {
  (void)state;
  fx_t f;
  fx_open(&f, 0, 0);
  req(&f, DYNA_OP_PUT, "k", "1");
  frame_in(&f, DYNA_MSG_GET);
  take(&f);
  assert_int_equal(frames(&f, DYNA_MSG_GET_RESP), 1); /* before the commit */
  commit(&f, DYNA_EIO);
  frame_in(&f, DYNA_MSG_GET);
  take(&f);
  assert_int_equal(frames(&f, DYNA_MSG_GET_RESP), 1); /* held: the incarnation is not durable */
  dyna_gate_handed(&f.gate, f.store->writes);
  assert_int_equal(drain(&f), 0);
  dyna_gate_durable(&f.gate, f.store->writes);
  drain(&f);
  assert_int_equal(frames(&f, DYNA_MSG_GET_RESP), 2);
  frame_in(&f, DYNA_MSG_GET); /* and from then on at once again */
  take(&f);
  assert_int_equal(frames(&f, DYNA_MSG_GET_RESP), 3);
  fx_close(&f);
}

/* The gate asserts its own rules from the inside: a batch reported durable beyond what
 * was handed to the disk aborts with the values. */
static void durable_beyond_handed(void) {
  fx_t f;
  fx_open(&f, 0, 0);
  req(&f, DYNA_OP_PUT, "a", "1");
  dyna_gate_durable(&f.gate, f.store->writes); /* never handed */
  _exit(0);
}

static void test_assert_durable_beyond_handed(void **state) {
  (void)state;
  char out[4096];
  int st = dyna_test_run_child(durable_beyond_handed, out, sizeof(out));
  assert_true(WIFSIGNALED(st));
  assert_int_equal(WTERMSIG(st), SIGABRT);
  assert_non_null(strstr(out, "assertion failed: upto <= g->handed"));
  assert_non_null(strstr(out, "gate.c:"));
  assert_non_null(strstr(out, "only"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_release_order),
    cmocka_unit_test(test_held_until_durable),
    cmocka_unit_test(test_failed_batch_fails_its_answers),
    cmocka_unit_test(test_bug_forget_loss_is_caught),
    cmocka_unit_test(test_wseq_all_after_loss),
    cmocka_unit_test(test_durable_reads),
    cmocka_unit_test(test_early_frames_after_writes_lost),
    cmocka_unit_test(test_assert_durable_beyond_handed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
