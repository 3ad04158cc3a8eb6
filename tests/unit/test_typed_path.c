/* test_typed_path.c: the path of a typed write through the node (core/typed.h), with
 * commands defined here rather than the families: at a home replica, through a forward,
 * at a sloppy fallback, a repeated FWD applied once, a failed quorum, a write that
 * changes nothing, an unknown command at the coordinator; and the register side: SET
 * and DEL supersede the typed states and the expiry, a PUT's deadline and KEEPTTL.
 * Small clusters driven by hand as in test_node.c (the same harness: helper_cluster.c). */
#include "store/memory.h"
#include "core/cluster.h"
#include "util/err.h"
#include "core/keyspace.h"
#include "core/node.h"
#include "core/replica.h"
#include "core/typed.h"
#include "core/crdt_ops.h"
#include "proto/resp.h"
#include "proto/wire.h"
#include "store/store.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "helper_cluster.h"

/* ---- the test's typed commands ---- */

/* t.incr: adds 1 to a counter, answers the new value. */
static int t_incr(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env, dyna_buf_t *resp,
                  int *changed) {
  (void)a;
  *changed = 0;
  if (!dyna_typed_kind_ok(o, DYNA_KIND_COUNTER, env, resp)) return 0;
  dyna_crdt_t *s;
  int rc = dyna_obj_typed_for_write(o, DYNA_CRDT_COUNTER, env->actor, env->now_ms, &s);
  int64_t v = 0;
  if (!rc) rc = dyna_crdt_incrby(s, env->actor, 1, &v);
  if (rc) return DYNA_ENOMEM;
  dyna_obj_typed_done(o);
  dyna_resp_put_int(resp, v);
  *changed = 1;
  return 0;
}

/* t.same: changes nothing, answers +SAME. */
static int t_same(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env, dyna_buf_t *resp,
                  int *changed) {
  (void)o, (void)a, (void)env;
  dyna_resp_put_simple(resp, "SAME");
  *changed = 0;
  return 0;
}

/* t.proto: changes nothing, answers a null in the client's protocol (env->proto). */
static int t_proto(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env, dyna_buf_t *resp,
                   int *changed) {
  (void)o, (void)a;
  dyna_resp_put_null(resp, env->proto);
  *changed = 0;
  return 0;
}

/* t.add: adds member "m" to a set, answers how many were added. */
static int t_add(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env, dyna_buf_t *resp,
                 int *changed) {
  (void)a;
  *changed = 0;
  if (!dyna_typed_kind_ok(o, DYNA_KIND_SET, env, resp)) return 0;
  dyna_crdt_t *s;
  int rc = dyna_obj_typed_for_write(o, DYNA_CRDT_SET, env->actor, env->now_ms, &s);
  if (!rc) rc = dyna_crdt_sadd(s, env->actor, (const uint8_t *)"m", 1);
  if (rc < 0) return DYNA_ENOMEM;
  dyna_obj_typed_done(o);
  dyna_resp_put_int(resp, rc);
  *changed = 1;
  return 0;
}

static const dyna_typed_cmd_t TEST_CMDS[] = {
    {"t.incr", t_incr, NULL, -2}, {"t.same", t_same, NULL, -2}, {"t.proto", t_proto, NULL, -2},
    {"t.add", t_add, NULL, -2}, {0}};
/* Known at the node the client asked, not at any coordinator. */
static const dyna_typed_cmd_t UNKNOWN_CMD = {"t.unknown", t_same, NULL, -2};

static uint64_t submit_typed_flags(int at, const dyna_typed_cmd_t *cmd, const char *key, uint32_t flags) {
  const uint8_t *argv[2] = {(const uint8_t *)cmd->name, (const uint8_t *)key};
  size_t argl[2] = {strlen(cmd->name), strlen(key)};
  dyna_req_t req;
  memset(&req, 0, sizeof(req));
  req.id = ++next_req;
  req.op = DYNA_OP_TYPED;
  req.flags = flags;
  req.key = argv[1];
  req.klen = argl[1];
  req.cmd = cmd;
  req.argc = 2;
  req.argv = argv;
  req.argl = argl;
  assert_int_equal(dyna_node_request(T[at].n, &req, clk(at)), 0);
  return req.id;
}

static uint64_t submit_typed(int at, const dyna_typed_cmd_t *cmd, const char *key) {
  return submit_typed_flags(at, cmd, key, 0);
}

static dyna_node_reply_t *wait_reply(uint64_t id) {
  for (int k = 0; k < 400 && !find_reply(id); k++) run(10);
  dyna_node_reply_t *r = find_reply(id);
  assert_non_null(r);
  return r;
}

static dyna_node_reply_t *typed(int at, const dyna_typed_cmd_t *cmd, const char *key) {
  return wait_reply(submit_typed(at, cmd, key));
}

static dyna_node_reply_t *put(int at, const char *key, const char *val, uint32_t flags, uint64_t expire_at_ms) {
  dyna_req_t req;
  memset(&req, 0, sizeof(req));
  req.id = ++next_req;
  req.op = val ? DYNA_OP_PUT : DYNA_OP_DEL;
  req.flags = DYNA_REQ_BLIND | flags;
  req.key = (const uint8_t *)key;
  req.klen = strlen(key);
  req.val = (const uint8_t *)val;
  req.vlen = val ? strlen(val) : 0;
  req.expire_at_ms = expire_at_ms;
  assert_int_equal(dyna_node_request(T[at].n, &req, clk(at)), 0);
  return wait_reply(req.id);
}

static dyna_node_reply_t *get(int at, const char *key) {
  dyna_req_t req;
  memset(&req, 0, sizeof(req));
  req.id = ++next_req;
  req.op = DYNA_OP_GET;
  req.key = (const uint8_t *)key;
  req.klen = strlen(key);
  assert_int_equal(dyna_node_request(T[at].n, &req, clk(at)), 0);
  return wait_reply(req.id);
}

static void assert_resp(const dyna_node_reply_t *r, const char *want) {
  assert_int_equal(r->status, 0);
  assert_int_equal(r->resp.len, strlen(want));
  assert_memory_equal(r->resp.data, want, r->resp.len);
}

/* The counter's value in o (-1 when o holds none). */
static int64_t counter_of(const dyna_obj_t *o) {
  const dyna_crdt_t *s = dyna_obj_typed(o, DYNA_CRDT_COUNTER);
  int64_t i = 0;
  double d = 0;
  if (!s || dyna_crdt_counter_get(s, &i, &d)) return -1;
  return i;
}

/* The counter node i holds for key in its own store (hints included). */
static int64_t local_counter(int i, const char *key) {
  dyna_replica_t rep = {T[i].st, T[i].id, Q, NULL, NULL, NULL, NULL, 0};
  dyna_obj_t o;
  dyna_obj_init(&o);
  assert_int_equal(dyna_replica_read(&rep, (const uint8_t *)key, strlen(key), &o), 0);
  int64_t v = counter_of(&o);
  dyna_obj_clear(&o);
  return v;
}

static void test_typed_write_at_a_home_replica(void **state) {
  (void)state;
  build_cluster(3, 3, 2, 2);
  dyna_node_reply_t *r = typed(0, &TEST_CMDS[0], "hits");
  assert_resp(r, ":1\r\n");
  assert_true(r->wrote);
  assert_true(r->wseq > 0); /* it waits for its own write */
  assert_resp(typed(1, &TEST_CMDS[0], "hits"), ":2\r\n");
  run(200);
  for (int i = 0; i < 3; i++) assert_int_equal(local_counter(i, "hits"), 2); /* merged at every replica */
  r = get(2, "hits");
  assert_int_equal(r->status, 0);
  assert_int_equal(counter_of(&r->obj), 2);
}

static void test_typed_write_that_changes_nothing(void **state) {
  (void)state;
  build_cluster(3, 3, 2, 2);
  uint64_t puts = dyna_node_stats(T[0].n)->puts;
  uint64_t id = submit_typed(0, &TEST_CMDS[1], "k");
  drain(); /* answered at once, nothing sent */
  dyna_node_reply_t *r = find_reply(id);
  assert_non_null(r);
  assert_resp(r, "+SAME\r\n");
  assert_false(r->wrote);
  assert_int_equal(r->wseq, 0);
  assert_int_equal(dyna_node_stats(T[0].n)->puts, puts);
  assert_int_equal(local_counter(0, "k"), -1);
}

static void test_typed_write_through_a_forward(void **state) {
  (void)state;
  build_cluster(4, 2, 1, 2);
  char key[32];
  int at = -1;
  for (int k = 0; k < 40 && at < 0; k++) {
    snprintf(key, sizeof(key), "key%d", k);
    for (int i = 0; i < 4 && at < 0; i++)
      if (!is_replica(i, key)) at = i;
  }
  assert_true(at >= 0);
  uint64_t fwd = dyna_node_stats(T[at].n)->forwarded;
  dyna_node_reply_t *r = typed(at, &TEST_CMDS[0], key);
  assert_resp(r, ":1\r\n");
  assert_true(r->wrote);
  assert_int_equal(r->wseq, 0); /* the coordinator made the copies durable */
  assert_int_equal(dyna_node_stats(T[at].n)->forwarded, fwd + 1);
  assert_resp(typed(at, &TEST_CMDS[0], key), ":2\r\n");
  /* A write that changes nothing comes back unwritten. */
  r = typed(at, &TEST_CMDS[1], key);
  assert_resp(r, "+SAME\r\n");
  assert_false(r->wrote);
  /* A command the coordinator does not know: a clear error, nothing written. */
  r = typed(at, &UNKNOWN_CMD, key);
  assert_int_equal(r->status, 0);
  assert_false(r->wrote);
  assert_true(r->resp.len > 0 && r->resp.data[0] == '-');
  assert_non_null(memmem(r->resp.data, r->resp.len, "t.unknown", 9));
  run(200);
  for (int i = 0; i < 4; i++) assert_int_equal(local_counter(i, key), is_replica(i, key) ? 2 : -1);
}

/* A RESP3 client's typed write is answered in RESP3 by its coordinator, also when the
 * node it asked forwards it (DYNA_REQ_RESP3 rides the FWD as DYNA_FWD_RESP3). */
static void test_typed_write_answers_in_the_clients_protocol(void **state) {
  (void)state;
  build_cluster(4, 2, 1, 2);
  char key[32];
  int far = -1, home = -1;
  for (int k = 0; k < 40 && far < 0; k++) {
    snprintf(key, sizeof(key), "key%d", k);
    for (int i = 0; i < 4; i++) {
      if (!is_replica(i, key) && far < 0) far = i;
      if (is_replica(i, key) && home < 0) home = i;
    }
  }
  assert_true(far >= 0 && home >= 0);
  uint64_t fwd = dyna_node_stats(T[far].n)->forwarded;
  assert_resp(wait_reply(submit_typed_flags(far, &TEST_CMDS[2], key, DYNA_REQ_RESP3)), "_\r\n");
  assert_int_equal(dyna_node_stats(T[far].n)->forwarded, fwd + 1);
  assert_resp(wait_reply(submit_typed_flags(far, &TEST_CMDS[2], key, 0)), "$-1\r\n");
  assert_resp(wait_reply(submit_typed_flags(home, &TEST_CMDS[2], key, DYNA_REQ_RESP3)), "_\r\n");
  assert_resp(wait_reply(submit_typed_flags(home, &TEST_CMDS[2], key, 0)), "$-1\r\n");
}

static void test_repeated_fwd_is_applied_once(void **state) {
  (void)state;
  build_cluster(4, 2, 1, 2);
  char key[32];
  int at = -1;
  for (int k = 0; k < 40 && at < 0; k++) {
    snprintf(key, sizeof(key), "key%d", k);
    for (int i = 0; i < 4 && at < 0; i++)
      if (!is_replica(i, key)) at = i;
  }
  assert_true(at >= 0);
  uint64_t id = submit_typed(at, &TEST_CMDS[0], key);
  drain();
  /* Duplicate every FWD frame on the network (a retry, a duplicated frame). */
  size_t n = qlen, dup = 0;
  for (size_t i = 0; i < n; i++) {
    if (q[i].frame.data[5] != DYNA_MSG_FWD) continue;
    dyna_outmsg_t m = {T[q[i].to].id, DYNA_BUF_INIT, 0, 0};
    dyna_buf_put(&m.frame, q[i].frame.data, q[i].frame.len);
    queue_frame(q[i].from, &m);
    dup++;
  }
  assert_int_equal(dup, 1);
  dyna_node_reply_t *r = wait_reply(id);
  assert_resp(r, ":1\r\n");
  run(200);
  for (int i = 0; i < 4; i++) assert_int_equal(local_counter(i, key), is_replica(i, key) ? 1 : -1);
  assert_resp(typed(at, &TEST_CMDS[0], key), ":2\r\n");
}

static void test_typed_write_at_a_sloppy_fallback(void **state) {
  (void)state;
  build_cluster(5, 3, 2, 2);
  int homes[MAXN], other;
  assert_int_equal(homes_of("cart", homes, &other), 3);
  for (int k = 0; k < 3; k++) isolate(homes[k], 1);
  dyna_node_reply_t *r = typed(other, &TEST_CMDS[0], "cart");
  assert_resp(r, ":1\r\n");
  assert_true(r->wrote);
  int hinted = 0;
  for (int i = 0; i < NT; i++) hinted += hint_count(i);
  assert_true(hinted >= 2);
  assert_resp(typed(other, &TEST_CMDS[0], "cart"), ":2\r\n"); /* reads its hint back */
  for (int k = 0; k < 3; k++) isolate(homes[k], 0);
  run(3000);
  assert_int_equal(local_counter(homes[0], "cart"), 2);
}

static void test_typed_write_without_quorum(void **state) {
  (void)state;
  build_cluster(3, 3, 2, 2);
  dyna_node_set_reachable(T[0].n, T[1].id, 0, clk(0));
  dyna_node_set_reachable(T[0].n, T[2].id, 0, clk(0));
  dyna_node_reply_t *r = typed(0, &TEST_CMDS[0], "k");
  assert_int_equal(r->status, DYNA_ENOQUORUM);
  assert_int_equal(r->resp.len, 0); /* the usual error, not the answer */
  assert_false(r->wrote);
}

static void test_register_writes_supersede_typed_states(void **state) {
  (void)state;
  build_cluster(3, 3, 2, 2);
  assert_resp(typed(0, &TEST_CMDS[0], "k"), ":1\r\n");
  /* SET over a counter: the counter is gone, the value is there. */
  assert_int_equal(put(1, "k", "v", 0, 0)->status, 0);
  dyna_node_reply_t *r = get(2, "k");
  assert_int_equal(r->status, 0);
  assert_int_equal(counter_of(&r->obj), -1);
  assert_int_equal(dyna_obj_kind(&r->obj, clk(2).wall_ms), DYNA_KIND_STRING);
  /* DEL of a typed key counts it, and removes it. */
  assert_resp(typed(0, &TEST_CMDS[0], "c"), ":1\r\n");
  r = put(1, "c", NULL, 0, 0);
  assert_int_equal(r->status, 0);
  assert_true(r->existed);
  r = get(2, "c");
  assert_int_equal(dyna_obj_kind(&r->obj, clk(2).wall_ms), DYNA_KIND_NONE);
  assert_resp(typed(0, &TEST_CMDS[0], "c"), ":1\r\n"); /* starts again from nothing */
}

static void test_put_deadline_and_keepttl(void **state) {
  (void)state;
  build_cluster(3, 3, 2, 2);
  uint64_t d = clk(0).wall_ms + 100, got = 0;
  assert_int_equal(put(0, "s", "v", 0, d)->status, 0);
  dyna_node_reply_t *r = get(1, "s");
  assert_true(dyna_obj_deadline(&r->obj, &got));
  assert_int_equal(got, d);
  /* KEEPTTL keeps it (forwarded or not: every node writes here) ... */
  assert_int_equal(put(2, "s", "w", DYNA_REQ_KEEPTTL, 0)->status, 0);
  r = get(1, "s");
  assert_true(dyna_obj_deadline(&r->obj, &got));
  assert_int_equal(got, d);
  assert_int_equal(dyna_obj_kind(&r->obj, clk(1).wall_ms), DYNA_KIND_STRING);
  /* ... the key is absent once the deadline passed ... */
  run(200);
  r = get(1, "s");
  assert_int_equal(dyna_obj_kind(&r->obj, clk(1).wall_ms), DYNA_KIND_NONE);
  /* ... SET KEEPTTL on the expired key starts a new key: no TTL to keep (as Redis) ... */
  assert_int_equal(put(0, "s", "k", DYNA_REQ_KEEPTTL, 0)->status, 0);
  r = get(1, "s");
  assert_false(dyna_obj_deadline(&r->obj, &got));
  assert_int_equal(dyna_obj_kind(&r->obj, clk(1).wall_ms), DYNA_KIND_STRING);
  /* ... and a plain SET drops the expiry. */
  assert_int_equal(put(0, "s", "w", 0, clk(0).wall_ms + 100000)->status, 0);
  assert_int_equal(put(0, "s", "x", 0, 0)->status, 0);
  r = get(1, "s");
  assert_false(dyna_obj_deadline(&r->obj, &got));
  assert_int_equal(dyna_obj_kind(&r->obj, clk(1).wall_ms), DYNA_KIND_STRING);
}

static void test_forwarded_put_carries_its_deadline(void **state) {
  (void)state;
  build_cluster(4, 2, 1, 2);
  char key[32];
  int at = -1;
  for (int k = 0; k < 40 && at < 0; k++) {
    snprintf(key, sizeof(key), "key%d", k);
    for (int i = 0; i < 4 && at < 0; i++)
      if (!is_replica(i, key)) at = i;
  }
  assert_true(at >= 0);
  uint64_t d = clk(0).wall_ms + 5000, got = 0;
  assert_int_equal(put(at, key, "v", 0, d)->status, 0);
  dyna_node_reply_t *r = get(at, key);
  assert_true(dyna_obj_deadline(&r->obj, &got));
  assert_int_equal(got, d);
  assert_int_equal(put(at, key, "w", DYNA_REQ_KEEPTTL, 0)->status, 0);
  r = get(at, key);
  assert_true(dyna_obj_deadline(&r->obj, &got));
  assert_int_equal(got, d);
}

static uint64_t reaped_total(void) {
  uint64_t n = 0;
  for (int i = 0; i < 3; i++) n += dyna_node_stats(T[i].n)->tombstones_reaped;
  return n;
}

/* A DEL of a typed key (a set) is stamped with the coordinator's wall clock and reaped
 * like a register tombstone: not before the grace has passed, not while a replica that
 * missed the delete still holds the set (which then does not come back), and once
 * every replica holds the same deletion and the grace has passed, from every store.
 * A set deleted and added to again is live, and stays. */
static void test_deleted_typed_key_is_reaped(void **state) {
  (void)state;
  aae_ms = 20;
  grace_ms = 3600000;
  build_cluster(3, 3, 2, 2);
  const dyna_typed_cmd_t *add = &TEST_CMDS[3]; /* t.add */
  assert_resp(typed(0, add, "cart"), ":1\r\n");
  assert_resp(typed(0, add, "again"), ":1\r\n");
  assert_resp(typed(0, add, "early"), ":1\r\n");
  assert_int_equal(put(1, "early", NULL, 0, 0)->status, 0);
  run(2000); /* every replica holds the deletion of early: the grace alone keeps it */
  assert_int_equal(reaped_total(), 0);
  for (int i = 0; i < 3; i++) assert_int_equal(dyna_store_mem_count(T[i].st, DYNA_SPACE_OBJ), 3);
  /* Node 2 is away during the delete of cart and still holds the set. */
  isolate(2, 1);
  assert_int_equal(put(0, "cart", NULL, 0, 0)->status, 0);
  assert_int_equal(put(0, "again", NULL, 0, 0)->status, 0);
  assert_resp(typed(0, add, "again"), ":1\r\n"); /* a new life after its delete */
  run(2000);
  assert_int_equal(reaped_total(), 0); /* an hour of grace, and a replica disagrees */
  /* Past the grace, node 2 still away: nothing is reaped while it disagrees. */
  for (int i = 0; i < 3; i++) T[i].wall_off_ms = 3600000 + 5000;
  run(2000);
  assert_int_equal(reaped_total(), 0);
  for (int i = 0; i < 2; i++) assert_int_equal(dyna_store_mem_count(T[i].st, DYNA_SPACE_OBJ), 3);
  /* Back: anti-entropy hands node 2 the deletion, then the primary reaps cart on every
   * replica; the set node 2 held never comes back. again (live) stays. */
  isolate(2, 0);
  run(4000);
  assert_true(reaped_total() >= 6); /* cart and early, on each replica */
  for (int i = 0; i < 3; i++) {
    assert_int_equal(dyna_store_mem_count(T[i].st, DYNA_SPACE_OBJ), 1);
    dyna_node_reply_t *r = get(i, "cart");
    assert_int_equal(r->status, 0);
    assert_int_equal(dyna_obj_kind(&r->obj, clk(i).wall_ms), DYNA_KIND_NONE);
    assert_int_equal(r->obj.ntyped, 0);
    r = get(i, "again");
    assert_int_equal(dyna_obj_kind(&r->obj, clk(i).wall_ms), DYNA_KIND_SET);
  }
}

int main(void) {
  typed_extra = TEST_CMDS; /* every node opened knows the commands defined here */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_typed_write_at_a_home_replica, setup, teardown),
      cmocka_unit_test_setup_teardown(test_typed_write_that_changes_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_typed_write_through_a_forward, setup, teardown),
      cmocka_unit_test_setup_teardown(test_repeated_fwd_is_applied_once, setup, teardown),
      cmocka_unit_test_setup_teardown(test_typed_write_at_a_sloppy_fallback, setup, teardown),
      cmocka_unit_test_setup_teardown(test_typed_write_without_quorum, setup, teardown),
      cmocka_unit_test_setup_teardown(test_register_writes_supersede_typed_states, setup, teardown),
      cmocka_unit_test_setup_teardown(test_put_deadline_and_keepttl, setup, teardown),
      cmocka_unit_test_setup_teardown(test_forwarded_put_carries_its_deadline, setup, teardown),
      cmocka_unit_test_setup_teardown(test_typed_write_answers_in_the_clients_protocol, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deleted_typed_key_is_reaped, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
