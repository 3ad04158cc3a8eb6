/* test_batch.c: a transaction's batch (core/batch.h) through the node and at one
 * replica: every write of an EXEC reaches every home replica (coordinated where asked,
 * or forwarded), later commands see earlier ones, a command's own error is its answer;
 * a replica applies a batch all or nothing (a bad object anywhere in it, keys of two
 * partitions, a repeated key, a corrupt stored record: nothing written), and a crash
 * before the store's commit loses the whole batch, after it keeps all of it. Clusters
 * driven by hand as in test_typed_path.c (helper_cluster.c). */
#include "core/batch.h"
#include "core/crdt_ops.h"
#include "core/keyspace.h"
#include "core/node.h"
#include "core/replica.h"
#include "proto/wire.h"
#include "store/memory.h"
#include "store/store.h"
#include "util/err.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "helper_cluster.h"

/* ---- building requests ---- */

/* Appends one command given as a NULL-ended list of strings. */
static void cmd(dyna_buf_t *cmds, size_t *n, ...) {
  const uint8_t *argv[16];
  size_t argl[16], argc = 0;
  va_list ap;
  va_start(ap, n);
  for (const char *s; (s = va_arg(ap, const char *)) != NULL && argc < 16; argc++) {
    argv[argc] = (const uint8_t *)s;
    argl[argc] = strlen(s);
  }
  va_end(ap);
  dyna_batch_put_cmd(cmds, argc, argv, argl);
  (*n)++;
}

static uint64_t submit_batch(int at, const char *key, const dyna_buf_t *cmds, size_t n) {
  dyna_buf_t blob = DYNA_BUF_INIT;
  dyna_batch_finish(&blob, n, cmds);
  assert_false(blob.oom);
  dyna_req_t req;
  memset(&req, 0, sizeof(req));
  req.id = ++next_req;
  req.op = DYNA_OP_BATCH;
  req.key = (const uint8_t *)key;
  req.klen = strlen(key);
  req.val = blob.data;
  req.vlen = blob.len;
  assert_int_equal(dyna_node_request(T[at].n, &req, clk(at)), 0);
  dyna_buf_free(&blob);
  return req.id;
}

static dyna_node_reply_t *wait_reply(uint64_t id) {
  for (int k = 0; k < 400 && !find_reply(id); k++) run(10);
  dyna_node_reply_t *r = find_reply(id);
  assert_non_null(r);
  return r;
}

static void assert_resp(const dyna_node_reply_t *r, const char *want) {
  assert_int_equal(r->status, 0);
  if (r->resp.len != strlen(want) || memcmp(r->resp.data, want, r->resp.len))
    fail_msg("answer %.*s, want %s", (int)r->resp.len, (const char *)r->resp.data, want);
}

/* key + a number, the first (from start) of the partition of base, as the node sees it. */
static void same_partition(const char *base, const char *prefix, int start, char *out, size_t cap) {
  uint32_t p = dyna_node_partition(T[0].n, (const uint8_t *)base, strlen(base));
  for (int i = start; i < 100000; i++) {
    snprintf(out, cap, "%s%d", prefix, i);
    if (dyna_node_partition(T[0].n, (const uint8_t *)out, strlen(out)) == p) return;
  }
  fail_msg("no key of %s's partition", base);
}

/* What node i holds for key in its own store (hints included): the kind and, for a
 * string, its value in val (NUL-terminated, cap bytes). */
static dyna_kind_t local_kind(int i, const char *key, char *val, size_t cap) {
  dyna_replica_t rep = {T[i].st, T[i].id, Q, NULL, NULL, NULL, NULL, 0};
  dyna_obj_t o;
  dyna_obj_init(&o);
  assert_int_equal(dyna_replica_read(&rep, (const uint8_t *)key, strlen(key), &o), 0);
  dyna_kind_t k = dyna_obj_kind(&o, (uint64_t)WALL0_MS + now);
  const dyna_val_t *v = k == DYNA_KIND_STRING ? dyna_obj_latest(&o) : NULL;
  if (val) snprintf(val, cap, "%.*s", v ? (int)v->len : 0, v ? (const char *)v->data : "");
  dyna_obj_clear(&o);
  return k;
}

/* ---- through the node ---- */

static void run_at(int at, const char *a, const char *b, const char *c) {
  dyna_buf_t cmds = DYNA_BUF_INIT;
  size_t n = 0;
  cmd(&cmds, &n, "SET", a, "v1", NULL);
  cmd(&cmds, &n, "INCR", b, NULL);
  cmd(&cmds, &n, "INCRBY", b, "4", NULL);
  cmd(&cmds, &n, "SADD", c, "m1", "m2", NULL);
  cmd(&cmds, &n, "GET", a, NULL);
  cmd(&cmds, &n, "SET", a, "v2", "BOGUS", NULL);
  cmd(&cmds, &n, "LPUSH", a, "x", NULL);
  cmd(&cmds, &n, "MGET", a, b, NULL);
  cmd(&cmds, &n, "PING", NULL);
  dyna_node_reply_t *r = wait_reply(submit_batch(at, a, &cmds, n));
  assert_resp(r, "+OK\r\n:1\r\n:5\r\n:2\r\n$2\r\nv1\r\n-ERR syntax error\r\n"
                 "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
                 "*2\r\n$2\r\nv1\r\n$1\r\n5\r\n+PONG\r\n");
  assert_int_equal(r->wrote, 1);
  dyna_buf_free(&cmds);
  run(200);
  int homes[MAXN], other = -1;
  int nh = homes_of(a, homes, &other);
  for (int h = 0; h < nh; h++) {
    char v[16];
    assert_int_equal(local_kind(homes[h], a, v, sizeof v), DYNA_KIND_STRING);
    assert_string_equal(v, "v1");
    assert_int_equal(local_kind(homes[h], b, NULL, 0), DYNA_KIND_COUNTER);
    assert_int_equal(local_kind(homes[h], c, NULL, 0), DYNA_KIND_SET);
  }
}

static void test_batch_at_home_and_forwarded(void **state) {
  (void)state;
  build_cluster(3, 2, 2, 2);
  char b[32], c[32];
  same_partition("ka", "kb", 0, b, sizeof b);
  same_partition("ka", "kc", 0, c, sizeof c);
  int homes[MAXN], other = -1;
  homes_of("ka", homes, &other);
  assert_true(other >= 0);
  run_at(homes[0], "ka", b, c); /* coordinated where asked */
  same_partition("za", "zb", 0, b, sizeof b);
  same_partition("za", "zc", 0, c, sizeof c);
  homes_of("za", homes, &other);
  run_at(other, "za", b, c); /* forwarded to a home replica */
}

static void test_batch_that_changes_nothing(void **state) {
  (void)state;
  build_cluster(3, 3, 2, 2);
  dyna_buf_t cmds = DYNA_BUF_INIT;
  size_t n = 0;
  cmd(&cmds, &n, "GET", "nothing", NULL);
  cmd(&cmds, &n, "EXISTS", "nothing", NULL);
  cmd(&cmds, &n, "ECHO", "hi", NULL);
  dyna_node_reply_t *r = wait_reply(submit_batch(0, "nothing", &cmds, n));
  assert_resp(r, "$-1\r\n:0\r\n$2\r\nhi\r\n");
  assert_int_equal(r->wrote, 0);
  dyna_buf_free(&cmds);
}

static void test_batch_with_a_key_of_another_partition(void **state) {
  (void)state;
  build_cluster(3, 3, 2, 2);
  char far[32];
  uint32_t p = dyna_node_partition(T[0].n, (const uint8_t *)"pa", 2);
  for (int i = 0;; i++) {
    snprintf(far, sizeof far, "far%d", i);
    if (dyna_node_partition(T[0].n, (const uint8_t *)far, strlen(far)) != p) break;
  }
  dyna_buf_t cmds = DYNA_BUF_INIT;
  size_t n = 0;
  cmd(&cmds, &n, "SET", "pa", "1", NULL);
  cmd(&cmds, &n, "SET", far, "1", NULL);
  dyna_node_reply_t *r = wait_reply(submit_batch(0, "pa", &cmds, n));
  assert_int_equal(r->status, DYNA_EINVAL);
  dyna_buf_free(&cmds);
  run(200);
  for (int i = 0; i < 3; i++) assert_int_equal(local_kind(i, "pa", NULL, 0), DYNA_KIND_NONE);
}

static void test_batch_without_quorum(void **state) {
  (void)state;
  build_cluster(3, 3, 2, 2);
  isolate(0, 1);
  dyna_buf_t cmds = DYNA_BUF_INIT;
  size_t n = 0;
  cmd(&cmds, &n, "SET", "nq", "1", NULL);
  dyna_node_reply_t *r = wait_reply(submit_batch(0, "nq", &cmds, n));
  assert_int_equal(r->status, DYNA_ENOQUORUM);
  assert_int_equal(r->resp.len, 0); /* no answers: one error for the whole transaction */
  dyna_buf_free(&cmds);
}

/* ---- at one replica ---- */

static void make_obj(dyna_obj_t *o, uint64_t actor, const char *v) {
  dyna_obj_init(o);
  dyna_val_t val = {0, (uint64_t)WALL0_MS, (uint8_t *)v, strlen(v)};
  assert_int_equal(dyna_obj_update(o, NULL, actor, &val), 0);
}

/* The objects of keys k0..k2 (k2 may be replaced) as a PUT batch frame's payload. */
static void payload_of(const char *const *keys, const dyna_obj_t *objs, size_t m, const char *garbage_at_last,
                       dyna_buf_t *out) {
  const uint8_t *argv[8];
  size_t argl[8];
  dyna_buf_t enc[4] = {DYNA_BUF_INIT, DYNA_BUF_INIT, DYNA_BUF_INIT, DYNA_BUF_INIT};
  for (size_t i = 0; i < m; i++) {
    dyna_obj_encode(&objs[i], &enc[i]);
    argv[2 * i] = (const uint8_t *)keys[i];
    argl[2 * i] = strlen(keys[i]);
    argv[2 * i + 1] = enc[i].data;
    argl[2 * i + 1] = enc[i].len;
  }
  if (garbage_at_last) {
    argv[2 * m - 1] = (const uint8_t *)garbage_at_last;
    argl[2 * m - 1] = strlen(garbage_at_last);
  }
  dyna_wire_put_args(out, 2 * m, argv, argl);
  for (size_t i = 0; i < m; i++) dyna_buf_free(&enc[i]);
}

/* Delivers a PUT batch frame from node 0 to node 1; returns node 1's PUT_ACK status. */
static int deliver_batch(const dyna_buf_t *payload, const char *key) {
  dyna_msg_t m = {0};
  m.type = DYNA_MSG_PUT;
  m.req = 77;
  m.flags = DYNA_PUT_BATCH;
  m.key = (const uint8_t *)key;
  m.klen = strlen(key);
  m.obj = payload->data;
  m.objlen = payload->len;
  dyna_buf_t frame = DYNA_BUF_INIT;
  dyna_wire_encode(&m, &frame);
  assert_int_equal(dyna_node_on_message(T[1].n, T[0].id, frame.data, frame.len, clk(1)), 0);
  dyna_buf_free(&frame);
  int status = -12345;
  dyna_outmsg_t om;
  while (dyna_node_pop_early(T[1].n, &om) || dyna_node_pop_msg(T[1].n, &om)) {
    dyna_msg_t a;
    if (!dyna_wire_decode(om.frame.data, om.frame.len, &a) && a.type == DYNA_MSG_PUT_ACK && a.req == 77)
      status = a.status;
    dyna_buf_free(&om.frame);
  }
  return status;
}

static void test_replica_applies_a_batch_all_or_nothing(void **state) {
  (void)state;
  build_cluster(2, 2, 2, 2);
  char k1[32], k2[32], far[32];
  same_partition("r0", "r1-", 0, k1, sizeof k1);
  same_partition("r0", "r2-", 0, k2, sizeof k2);
  uint32_t p = dyna_node_partition(T[0].n, (const uint8_t *)"r0", 2);
  for (int i = 0;; i++) {
    snprintf(far, sizeof far, "rfar%d", i);
    if (dyna_node_partition(T[0].n, (const uint8_t *)far, strlen(far)) != p) break;
  }
  dyna_obj_t objs[3];
  for (int i = 0; i < 3; i++) make_obj(&objs[i], T[0].id, "x");
  dyna_buf_t pl = DYNA_BUF_INIT;
  /* A bad object at the end: nothing of the batch is written. */
  const char *keys[3] = {"r0", k1, k2};
  payload_of(keys, objs, 3, "not an object", &pl);
  assert_int_equal(deliver_batch(&pl, "r0"), DYNA_EPROTO);
  /* A key of another partition. */
  const char *mixed[3] = {"r0", k1, far};
  dyna_buf_reset(&pl);
  payload_of(mixed, objs, 3, NULL, &pl);
  assert_int_equal(deliver_batch(&pl, "r0"), DYNA_EPROTO);
  /* A key twice. */
  const char *twice[3] = {"r0", k1, "r0"};
  dyna_buf_reset(&pl);
  payload_of(twice, objs, 3, NULL, &pl);
  assert_int_equal(deliver_batch(&pl, "r0"), DYNA_EPROTO);
  for (int i = 0; i < 3; i++) assert_int_equal(local_kind(1, mixed[i], NULL, 0), DYNA_KIND_NONE);
  assert_int_equal(local_kind(1, k2, NULL, 0), DYNA_KIND_NONE);
  /* The whole batch, well formed: all of it. */
  dyna_buf_reset(&pl);
  payload_of(keys, objs, 3, NULL, &pl);
  assert_int_equal(deliver_batch(&pl, "r0"), 0);
  for (int i = 0; i < 3; i++) assert_int_equal(local_kind(1, keys[i], NULL, 0), DYNA_KIND_STRING);
  dyna_buf_free(&pl);
  for (int i = 0; i < 3; i++) dyna_obj_clear(&objs[i]);
}

static uint8_t skey_seen[DYNA_SKEY_MAX];

/* Store iteration: keeps the first key (its length in *arg) and stops. */
static int first_skey(void *arg, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen) {
  (void)v, (void)vlen;
  memcpy(skey_seen, k, klen);
  *(size_t *)arg = klen;
  return 1;
}

/* dyna_replica_write_batch on a store of its own: a corrupt record anywhere stops the
 * batch before its first write; a crash before the commit loses all of it, after the
 * commit none of it. */
static void test_write_batch_and_crashes(void **state) {
  (void)state;
  dyna_store_t *st = NULL;
  assert_int_equal(dyna_store_mem_open(DYNA_SYNC_BATCH, &st), 0);
  dyna_replica_t rep = {st, 7, Q, NULL, NULL, NULL, NULL, 0};
  const uint8_t *keys[3] = {(const uint8_t *)"a", (const uint8_t *)"b", (const uint8_t *)"c"};
  size_t kl[3] = {1, 1, 1};
  dyna_obj_t objs[3];
  for (int i = 0; i < 3; i++) make_obj(&objs[i], 7, "v");
  /* c's stored record is corrupt: the batch fails and writes nothing. (c is written
   * alone first, to learn its store key, then overwritten with junk.) */
  size_t nw = 99;
  assert_int_equal(dyna_replica_write_batch(&rep, 1, keys + 2, kl + 2, objs + 2, 0, 0, &nw), 0);
  uint8_t sk[DYNA_SKEY_MAX];
  size_t sklen = 0;
  assert_int_equal(dyna_store_iter(st, DYNA_SPACE_OBJ, NULL, 0, first_skey, &sklen), 1);
  memcpy(sk, skey_seen, sklen);
  assert_int_equal(dyna_store_put(st, DYNA_SPACE_OBJ, sk, sklen, (const uint8_t *)"junk", 4), 0);
  assert_int_equal(dyna_store_commit(st), 0);
  assert_int_not_equal(dyna_replica_write_batch(&rep, 3, keys, kl, objs, 1, 0, &nw), 0);
  assert_int_equal(nw, 0);
  assert_int_equal(dyna_store_pending(st), 0);
  assert_int_equal(dyna_store_del(st, DYNA_SPACE_OBJ, sk, sklen), 0);
  assert_int_equal(dyna_store_commit(st), 0);
  /* A crash before the commit: none of the batch. */
  assert_int_equal(dyna_replica_write_batch(&rep, 3, keys, kl, objs, 1, 0, &nw), 0);
  assert_int_equal(nw, 3);
  assert_int_equal(dyna_store_mem_count(st, DYNA_SPACE_OBJ), 3);
  dyna_store_mem_crash(st);
  assert_int_equal(dyna_store_mem_count(st, DYNA_SPACE_OBJ), 0);
  /* After the commit: all of it. */
  assert_int_equal(dyna_replica_write_batch(&rep, 3, keys, kl, objs, 1, 0, &nw), 0);
  assert_int_equal(dyna_store_commit(st), 0);
  dyna_store_mem_crash(st);
  assert_int_equal(dyna_store_mem_count(st, DYNA_SPACE_OBJ), 3);
  /* Merging what is there already writes nothing. */
  assert_int_equal(dyna_replica_write_batch(&rep, 3, keys, kl, objs, 1, 0, &nw), 0);
  assert_int_equal(nw, 0);
  for (int i = 0; i < 3; i++) dyna_obj_clear(&objs[i]);
  dyna_store_close(st);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_batch_at_home_and_forwarded, setup, teardown),
      cmocka_unit_test_setup_teardown(test_batch_that_changes_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_batch_with_a_key_of_another_partition, setup, teardown),
      cmocka_unit_test_setup_teardown(test_batch_without_quorum, setup, teardown),
      cmocka_unit_test_setup_teardown(test_replica_applies_a_batch_all_or_nothing, setup, teardown),
      cmocka_unit_test(test_write_batch_and_crashes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
