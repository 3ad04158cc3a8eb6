/* test_quorum_sites.c: the coordinator's quorum kinds with sites (core/coord.c, node.h):
 * two sites of three core nodes (helper_cluster.c), --n 3 in each, driven by hand.
 *
 * LOCAL is met by the coordinator's own site alone, so it is answered while the sites
 * are cut apart (whether or not the failure detector has noticed), and the coordinator
 * keeps hints for the other site's homes, which reach them after the heal; EACH and a
 * global count above a site's replicas fail meanwhile; a LOCAL read asks its own site
 * only; LOCAL is not met by the other site's acks when the own site is out of reach. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "helper_cluster.h"
#include "core/replica.h"

/* 0, 1, 2 in east; 3, 4, 5 in west. */
static void two_sites(uint32_t r, uint32_t w) {
  for (int i = 0; i < 6; i++) snprintf(node_dc[i], sizeof(node_dc[i]), "%s", i < 3 ? "east" : "west");
  build_cluster(6, 3, r, w);
}

static uint64_t submit(int at, dyna_op_t op, const char *key, const char *val, uint32_t quorum) {
  dyna_req_t req;
  memset(&req, 0, sizeof(req));
  req.id = ++next_req;
  req.op = op;
  req.flags = DYNA_REQ_BLIND;
  req.key = (const uint8_t *)key;
  req.klen = strlen(key);
  req.val = (const uint8_t *)val;
  req.vlen = val ? strlen(val) : 0;
  if (op == DYNA_OP_GET) req.r = quorum;
  else req.w = quorum;
  assert_int_equal(dyna_node_request(T[at].n, &req, clk(at)), 0);
  return req.id;
}

/* Runs until the reply comes (at most 2 s); returns it. */
static dyna_node_reply_t *wait_reply(uint64_t id) {
  for (int k = 0; k < 200 && !find_reply(id); k++) run(10);
  dyna_node_reply_t *r = find_reply(id);
  assert_non_null(r);
  return r;
}

static int local_has(int i, const char *key, const char *val) {
  dyna_replica_t rep = {T[i].st, T[i].id, Q, NULL, NULL, NULL, NULL, 0};
  dyna_obj_t o;
  dyna_obj_init(&o);
  assert_int_equal(dyna_replica_read(&rep, (const uint8_t *)key, strlen(key), &o), 0);
  int found = 0;
  for (size_t k = 0; k < dyna_obj_nvals(&o); k++) {
    const dyna_val_t *v = dyna_obj_val(&o, k);
    if (!(v->flags & DYNA_VAL_TOMBSTONE) && v->len == strlen(val) && !memcmp(v->data, val, v->len)) found = 1;
  }
  dyna_obj_clear(&o);
  return found;
}

/* Cuts every east-west link; tell: the transports notice (set_reachable). */
static void cut_sites(int on, int tell) {
  for (int i = 0; i < 3; i++)
    for (int j = 3; j < 6; j++) {
      cut[i][j] = cut[j][i] = on;
      if (tell) {
        dyna_node_set_reachable(T[i].n, T[j].id, !on, clk(i));
        dyna_node_set_reachable(T[j].n, T[i].id, !on, clk(j));
      }
    }
}

static int hints_in(int lo, int hi) {
  int k = 0;
  for (int i = lo; i < hi; i++) k += hint_count(i);
  return k;
}

static void test_six_homes(void **state) {
  (void)state;
  two_sites(2, 2);
  assert_int_equal(dyna_node_nval(T[0].n), 6);
  for (uint32_t p = 0; p < Q; p++) {
    uint64_t homes[DYNA_MAX_N];
    assert_int_equal(dyna_node_replicas(T[4].n, p, homes), 6);
    int east = 0;
    for (int j = 0; j < 6; j++) east += index_of(homes[j]) < 3;
    assert_int_equal(east, 3);
  }
}

static void test_local_through_a_cut(void **state) {
  (void)state;
  two_sites(DYNA_QUORUM_LOCAL, DYNA_QUORUM_LOCAL);
  cut_sites(1, 1);
  dyna_node_reply_t *r = wait_reply(submit(1, DYNA_OP_PUT, "cart", "east-v", 0)); /* the node default */
  assert_int_equal(r->status, 0);
  r = wait_reply(submit(4, DYNA_OP_PUT, "cart", "west-v", DYNA_QUORUM_LOCAL));
  assert_int_equal(r->status, 0);
  assert_true(hints_in(0, 3) > 0 && hints_in(3, 6) > 0); /* each kept the other's copies */
  r = wait_reply(submit(2, DYNA_OP_PUT, "other", "x", DYNA_QUORUM_EACH));
  assert_int_equal(r->status, DYNA_ENOQUORUM);
  assert_non_null(strstr(r->msg, "EACH"));
  r = wait_reply(submit(5, DYNA_OP_PUT, "other", "y", 4));
  assert_int_equal(r->status, DYNA_ENOQUORUM);
  r = wait_reply(submit(0, DYNA_OP_GET, "cart", NULL, DYNA_QUORUM_LOCAL));
  assert_int_equal(r->status, 0);
  assert_int_equal(dyna_obj_nvals(&r->obj), 1); /* east's own write only */
  for (int i = 3; i < 6; i++) assert_false(local_has(i, "cart", "east-v"));
  cut_sites(0, 1);
  run(3000); /* the hints go */
  for (int i = 0; i < 6; i++) {
    assert_true(local_has(i, "cart", "east-v"));
    assert_true(local_has(i, "cart", "west-v"));
  }
  assert_int_equal(hints_in(0, 6), 0);
  r = wait_reply(submit(3, DYNA_OP_GET, "cart", NULL, DYNA_QUORUM_EACH));
  assert_int_equal(r->status, 0);
  assert_int_equal(dyna_obj_nvals(&r->obj), 2); /* both sides' writes, as siblings */
}

/* The cut not noticed yet: LOCAL answers without waiting for the other site, and the
 * silent targets get hints at the deadline. */
static void test_local_before_detection(void **state) {
  (void)state;
  two_sites(2, DYNA_QUORUM_LOCAL);
  cut_sites(1, 0);
  uint64_t id = submit(0, DYNA_OP_PUT, "k", "v", 0);
  pump(50); /* no time passes */
  dyna_node_reply_t *r = find_reply(id);
  assert_non_null(r);
  assert_int_equal(r->status, 0);
  assert_int_equal(hints_in(0, 3), 0);
  run(1200); /* the request's deadline: east keeps hints for west's three homes */
  assert_true(hints_in(0, 3) >= 3);
  cut_sites(0, 0);
  run(3000);
  for (int i = 3; i < 6; i++) assert_true(local_has(i, "k", "v"));
}

/* A coordinator cut from its own site but not from the other: the other site's acks do
 * not make a LOCAL quorum (they do make a global W 2). */
static void test_remote_acks_are_not_local(void **state) {
  (void)state;
  two_sites(2, 2);
  for (int j = 1; j < 3; j++) {
    cut[0][j] = cut[j][0] = 1;
    dyna_node_set_reachable(T[0].n, T[j].id, 0, clk(0));
    dyna_node_set_reachable(T[j].n, T[0].id, 0, clk(j));
  }
  dyna_node_reply_t *r = wait_reply(submit(0, DYNA_OP_PUT, "k", "v", DYNA_QUORUM_LOCAL));
  assert_int_equal(r->status, DYNA_ENOQUORUM);
  assert_non_null(strstr(r->msg, "LOCAL"));
  r = wait_reply(submit(0, DYNA_OP_PUT, "k", "v", 2));
  assert_int_equal(r->status, 0);
  r = wait_reply(submit(0, DYNA_OP_GET, "k", NULL, DYNA_QUORUM_LOCAL));
  assert_int_equal(r->status, DYNA_ENOQUORUM);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_six_homes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_local_through_a_cut, setup, teardown),
      cmocka_unit_test_setup_teardown(test_local_before_detection, setup, teardown),
      cmocka_unit_test_setup_teardown(test_remote_acks_are_not_local, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
