/* test_scan.c: listing keys (core/scan.h, scan.c, scan_fsm.c). A replica's pages of a
 * partition over the memory store: for every count, the pages from 0 to the end hold
 * every live key exactly once, each page exactly the live keys between its start and
 * its end, never a tombstone, an expired key or a key of another partition; counts; the
 * cursor's layout. Then the coordinator in a hand-driven 3-node cluster
 * (helper_cluster.c): SCAN pages put together return every key, also with a node cut
 * off; KEYS with a pattern, TYPE, DBSIZE, RANDOMKEY; FLUSH refused while a member is
 * unreachable, then every key tombstoned on every node and not back after anti-entropy;
 * a scan that goes on while a fourth node joins (and through that node before it holds
 * any data), and while it leaves, still returns every key. */
#include "core/keyspace.h"
#include "core/node.h"
#include "core/object.h"
#include "core/scan.h"
#include "proto/resp.h"
#include "store/memory.h"
#include "util/err.h"
#include "util/keyhash.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "helper_cluster.h"

#define NOW_MS 1000000u

/* ---------- a replica's pages ---------- */

/* Stores key in partition p of st: live ("v"), a tombstone, or live with a deadline. */
enum { LIVE, TOMB, EXPIRED, LATER };
static void store_key(dyna_store_t *st, uint32_t p, const char *key, int how) {
  dyna_obj_t o;
  dyna_obj_init(&o);
  dyna_val_t v = {how == TOMB ? DYNA_VAL_TOMBSTONE : 0, 1, how == TOMB ? NULL : (uint8_t *)"v", how == TOMB ? 0 : 1};
  assert_int_equal(dyna_obj_update(&o, NULL, 7, &v), 0);
  if (how == EXPIRED) assert_int_equal(dyna_obj_set_deadline(&o, 7, NOW_MS - 1), 0);
  if (how == LATER) assert_int_equal(dyna_obj_set_deadline(&o, 7, NOW_MS + 1), 0);
  uint8_t sk[DYNA_SKEY_MAX];
  size_t sl = dyna_skey_make(p, key, strlen(key), sk);
  dyna_buf_t rec;
  dyna_buf_init(&rec);
  dyna_record_encode(key, strlen(key), &o, &rec);
  assert_int_equal(dyna_store_put(st, DYNA_SPACE_OBJ, sk, sl, rec.data, rec.len), 0);
  dyna_buf_free(&rec);
  dyna_obj_clear(&o);
}

static int index_of_key(const char *names, size_t n, size_t w, const uint8_t *key, size_t klen) {
  for (size_t i = 0; i < n; i++)
    if (strlen(names + i * w) == klen && !memcmp(names + i * w, key, klen)) return (int)i;
  return -1;
}

static void test_cursor_layout(void **state) {
  (void)state;
  uint32_t p;
  uint64_t pos;
  assert_int_equal(dyna_scan_cursor(0, 0), 0);
  uint64_t c = dyna_scan_cursor(5, 12345);
  assert_int_equal(c, (5ull << 48) | 12345);
  assert_int_equal(dyna_scan_cursor_split(c, 16, &p, &pos), 0);
  assert_int_equal(p, 5);
  assert_int_equal(pos, 12345);
  assert_int_equal(dyna_scan_cursor_split(c, 4, &p, &pos), DYNA_EINVAL); /* beyond the ring */
  assert_int_equal(dyna_scan_cursor_split(UINT64_MAX, 65536, &p, &pos), 0);
  assert_int_equal(p, 65535);
  assert_true(dyna_scan_pos_of((const uint8_t *)"a", 1) < DYNA_SCAN_POS_END);
}

#define NK 300
#define KW 16
static void test_pages_hold_every_live_key_once(void **state) {
  (void)state;
  dyna_store_t *st;
  assert_int_equal(dyna_store_mem_open(DYNA_SYNC_NONE, &st), 0);
  static char names[NK][KW];
  int want[NK];
  for (int i = 0; i < NK; i++) {
    snprintf(names[i], KW, "key:%d", i);
    want[i] = i % 10 == 3 ? TOMB : i % 10 == 7 ? EXPIRED : i % 10 == 8 ? LATER : LIVE;
    store_key(st, 3, names[i], want[i]);
  }
  store_key(st, 2, "before", LIVE); /* other partitions: never in a page of 3 */
  store_key(st, 4, "after", LIVE);
  const uint32_t counts[] = {1, 2, 7, 50, 1000};
  for (size_t ci = 0; ci < sizeof(counts) / sizeof(counts[0]); ci++) {
    int seen[NK] = {0};
    uint64_t start = 0, next = 0;
    size_t pages = 0;
    while (start != DYNA_SCAN_POS_END) {
      dyna_buf_t out;
      dyna_buf_init(&out);
      uint32_t n = 0;
      assert_int_equal(dyna_scan_partition(st, 3, start, counts[ci], NOW_MS, &out, &n, &next), 0);
      assert_true(next > start);
      assert_true(n <= counts[ci]); /* no two of these keys share a position */
      dyna_rd_t r;
      dyna_rd_init(&r, out.data, out.len);
      for (uint32_t k = 0; k < n; k++) {
        uint32_t kind;
        const uint8_t *key;
        size_t kl;
        assert_int_equal(dyna_scan_entry(&r, &kind, &key, &kl), 0);
        assert_int_equal(kind, DYNA_KIND_STRING);
        int i = index_of_key(&names[0][0], NK, KW, key, kl);
        assert_true(i >= 0);
        uint64_t pos = dyna_scan_pos_of(key, kl);
        assert_true(pos >= start && pos < next);
        seen[i]++;
      }
      assert_int_equal(dyna_rd_left(&r), 0);
      /* Every live key between start and next is in this page. */
      for (int i = 0; i < NK; i++) {
        uint64_t pos = dyna_scan_pos_of((const uint8_t *)names[i], strlen(names[i]));
        if (pos >= start && pos < next && (want[i] == LIVE || want[i] == LATER)) assert_int_equal(seen[i], 1);
      }
      dyna_buf_free(&out);
      start = next;
      pages++;
    }
    for (int i = 0; i < NK; i++) assert_int_equal(seen[i], want[i] == LIVE || want[i] == LATER ? 1 : 0);
    assert_true(pages >= (size_t)(NK * 6 / 10) / counts[ci]);
  }
  uint64_t c;
  assert_int_equal(dyna_scan_count(st, 3, NOW_MS, &c), 0);
  assert_int_equal(c, NK * 8 / 10); /* not the tombstones (3), nor the expired (7) */
  assert_int_equal(dyna_scan_count(st, 2, NOW_MS, &c), 0);
  assert_int_equal(c, 1);
  assert_int_equal(dyna_scan_count(st, 9, NOW_MS, &c), 0);
  assert_int_equal(c, 0);
  dyna_store_close(st);
}

static void test_entry_decoding_refuses_garbage(void **state) {
  (void)state;
  const uint8_t bad[][4] = {{9, 1, 'a', 0}, {1, 0, 0, 0}, {1, 5, 'a', 0}};
  const size_t lens[] = {3, 2, 3};
  for (size_t i = 0; i < 3; i++) {
    dyna_rd_t r;
    dyna_rd_init(&r, bad[i], lens[i]);
    uint32_t kind;
    const uint8_t *key;
    size_t kl;
    assert_int_equal(dyna_scan_entry(&r, &kind, &key, &kl), DYNA_EPROTO);
  }
}

/* ---------- the coordinator, in a cluster ---------- */

static dyna_node_reply_t *ask(int at, dyna_op_t op, const dyna_scan_spec_t *sp) {
  dyna_req_t req;
  memset(&req, 0, sizeof(req));
  req.id = ++next_req;
  req.op = op;
  req.scan = sp;
  assert_int_equal(dyna_node_request(T[at].n, &req, clk(at)), 0);
  for (int k = 0; k < 400 && !find_reply(req.id); k++) run(10);
  dyna_node_reply_t *r = find_reply(req.id);
  assert_non_null(r);
  assert_int_equal(r->status, 0);
  return r;
}

static void parse(const dyna_node_reply_t *r, dyna_resp_value_t *v) {
  dyna_resp_limits_t lim;
  dyna_resp_limits_default(&lim);
  size_t used;
  assert_int_equal(dyna_resp_parse_reply(&lim, r->resp.data, r->resp.len, v, &used), 0);
  assert_int_equal(used, r->resp.len);
}

static void put(int at, const char *key) {
  dyna_req_t req;
  memset(&req, 0, sizeof(req));
  req.id = ++next_req;
  req.op = DYNA_OP_PUT;
  req.flags = DYNA_REQ_BLIND;
  req.key = (const uint8_t *)key;
  req.klen = strlen(key);
  req.val = (const uint8_t *)"v";
  req.vlen = 1;
  assert_int_equal(dyna_node_request(T[at].n, &req, clk(at)), 0);
  for (int k = 0; k < 400 && !find_reply(req.id); k++) run(10);
  assert_non_null(find_reply(req.id));
  assert_int_equal(find_reply(req.id)->status, 0);
}

#define CK 120
/* SCAN pages from node at with count, put together: counts how often each key:i came. */
static void scan_all(int at, uint32_t count, const char *pattern, int *seen) {
  uint64_t cursor = 0;
  int calls = 0;
  do {
    dyna_scan_spec_t sp = {DYNA_SCAN_PAGE, cursor, count, pattern, pattern ? strlen(pattern) : 0, 0};
    dyna_resp_value_t v;
    parse(ask(at, DYNA_OP_SCAN, &sp), &v);
    assert_int_equal(v.type, DYNA_RESP_ARRAY);
    assert_int_equal(v.n, 2);
    cursor = strtoull((const char *)v.elem[0].str, NULL, 10);
    for (size_t i = 0; i < v.elem[1].n; i++) {
      int k = -1;
      if (sscanf((const char *)v.elem[1].elem[i].str, "key:%d", &k) != 1) {
        assert_string_equal((const char *)v.elem[1].elem[i].str, "other");
        continue;
      }
      assert_true(k >= 0 && k < CK);
      seen[k]++;
    }
    dyna_resp_value_free(&v);
    assert_true(++calls < 1000);
  } while (cursor);
}

static void test_cluster_scan_keys_dbsize_randomkey(void **state) {
  (void)state;
  build_cluster(3, 2, 1, 2); /* N = 2 of 3: no node holds every partition */
  char key[32];
  for (int i = 0; i < CK; i++) {
    snprintf(key, sizeof(key), "key:%d", i);
    put(i % 3, key);
  }
  put(0, "other");
  /* A key only the second home replica holds (as after a write W=1): asked too. */
  int homes[4], other;
  homes_of("key:0", homes, &other);
  uint8_t sk[DYNA_SKEY_MAX];
  size_t sl = dyna_skey_make(dyna_key_partition("key:0", 5, Q), "key:0", 5, sk);
  assert_int_equal(dyna_store_del(T[homes[0]].st, DYNA_SPACE_OBJ, sk, sl), 0);
  for (int at = 0; at < 3; at++) {
    int seen[CK] = {0};
    scan_all(at, at == 0 ? 1 : 10, "key:*", seen);
    if (at == homes[0]) assert_int_equal(seen[0], 1);
    for (int i = 0; i < CK; i++) assert_true(seen[i] >= 1);
  }
  put(0, "key:0"); /* on both home replicas again (DBSIZE counts one replica's keys) */
  /* A node cut off: the other home replica of each of its partitions answers. */
  isolate(2, 1);
  run(3000);
  int seen[CK] = {0};
  scan_all(0, 5, NULL, seen);
  for (int i = 0; i < CK; i++) assert_int_equal(seen[i], 1);
  isolate(2, 0);
  run(3000);

  dyna_scan_spec_t sp = {DYNA_SCAN_ALL, 0, 0, "key:1?", 6, 0};
  dyna_resp_value_t v;
  parse(ask(1, DYNA_OP_SCAN, &sp), &v);
  assert_int_equal(v.type, DYNA_RESP_ARRAY);
  assert_int_equal(v.n, 10); /* key:10 .. key:19 */
  dyna_resp_value_free(&v);
  sp.pattern = NULL;
  sp.kinds = 1u << DYNA_KIND_SET; /* no set was written */
  parse(ask(1, DYNA_OP_SCAN, &sp), &v);
  assert_int_equal(v.n, 0);
  dyna_resp_value_free(&v);
  sp.kinds = 1u << DYNA_KIND_STRING;
  parse(ask(1, DYNA_OP_SCAN, &sp), &v);
  assert_int_equal(v.n, CK + 1);
  dyna_resp_value_free(&v);

  for (int at = 0; at < 3; at++) {
    parse(ask(at, DYNA_OP_DBSIZE, NULL), &v);
    assert_int_equal(v.type, DYNA_RESP_INTEGER);
    assert_int_equal(v.integer, CK + 1);
    dyna_resp_value_free(&v);
  }
  dyna_scan_spec_t rk = {DYNA_SCAN_RANDOM, 0, 0, NULL, 0, 0};
  parse(ask(2, DYNA_OP_SCAN, &rk), &v);
  assert_int_equal(v.type, DYNA_RESP_BULK);
  dyna_resp_value_free(&v);
}

static void test_flush_tombstones_every_key(void **state) {
  (void)state;
  aae_ms = 200;
  build_cluster(3, 2, 1, 2);
  char key[32];
  for (int i = 0; i < CK; i++) {
    snprintf(key, sizeof(key), "key:%d", i);
    put(i % 3, key);
  }
  /* Refused while a member is unreachable: nothing flushed. */
  isolate(1, 1);
  run(3000);
  dyna_resp_value_t v;
  parse(ask(0, DYNA_OP_FLUSH, NULL), &v);
  assert_int_equal(v.type, DYNA_RESP_ERROR);
  assert_non_null(strstr((const char *)v.str, "is not reachable"));
  dyna_resp_value_free(&v);
  isolate(1, 0);
  run(3000);
  parse(ask(0, DYNA_OP_DBSIZE, NULL), &v);
  assert_int_equal(v.integer, CK);
  dyna_resp_value_free(&v);

  dyna_node_reply_t *r = ask(2, DYNA_OP_FLUSH, NULL);
  assert_true(r->wrote);
  parse(r, &v);
  assert_int_equal(v.type, DYNA_RESP_STRING);
  dyna_resp_value_free(&v);
  /* Gone from every node's own store, and still gone after anti-entropy ran. */
  for (int round = 0; round < 2; round++) {
    for (int at = 0; at < 3; at++) {
      uint64_t live = 0, c;
      for (uint32_t p = 0; p < Q; p++) {
        assert_int_equal(dyna_scan_count(T[at].st, p, (uint64_t)clk(at).wall_ms, &c), 0);
        live += c;
      }
      assert_int_equal(live, 0);
      parse(ask(at, DYNA_OP_DBSIZE, NULL), &v);
      assert_int_equal(v.integer, 0);
      dyna_resp_value_free(&v);
    }
    for (int at = 0; at < 3; at++) dyna_node_repair(T[at].n, UINT32_MAX, clk(at));
    run(5000);
  }
  put(1, "after");
  parse(ask(0, DYNA_OP_DBSIZE, NULL), &v);
  assert_int_equal(v.integer, 1);
  dyna_resp_value_free(&v);
}

/* A store too large for one step: each node flushes it over several ticks, and the
 * coordinator answers once every node is done. */
static void test_flush_of_a_large_store_goes_in_steps(void **state) {
  (void)state;
  build_cluster(3, 3, 2, 2);
  char key[32];
  const int nk = 9000; /* over two steps of 4096 tombstones */
  for (int i = 0; i < nk; i++) {
    snprintf(key, sizeof(key), "big:%d", i);
    uint32_t p = dyna_key_partition(key, strlen(key), Q);
    for (int at = 0; at < 3; at++) store_key(T[at].st, p, key, LIVE);
  }
  for (int at = 0; at < 3; at++) assert_int_equal(dyna_store_commit(T[at].st), 0);
  dyna_req_t req;
  memset(&req, 0, sizeof(req));
  req.id = ++next_req;
  req.op = DYNA_OP_FLUSH;
  assert_int_equal(dyna_node_request(T[1].n, &req, clk(1)), 0);
  drain();
  assert_null(find_reply(req.id)); /* not in one event */
  for (int k = 0; k < 400 && !find_reply(req.id); k++) run(10);
  assert_non_null(find_reply(req.id));
  dyna_resp_value_t v;
  parse(find_reply(req.id), &v);
  assert_int_equal(v.type, DYNA_RESP_STRING);
  dyna_resp_value_free(&v);
  for (int at = 0; at < 3; at++) {
    uint64_t live = 0, c;
    for (uint32_t p = 0; p < Q; p++) {
      assert_int_equal(dyna_scan_count(T[at].st, p, (uint64_t)clk(at).wall_ms, &c), 0);
      live += c;
    }
    assert_int_equal(live, 0);
  }
}

/* A write held as a hint on a fallback node when FLUSHALL runs: the hint becomes a
 * tombstone, so its delivery to the home replica brings nothing back. */
static void test_flush_tombstones_hints(void **state) {
  (void)state;
  build_cluster(3, 2, 1, 2);
  int homes[4], other;
  assert_int_equal(homes_of("held", homes, &other), 2);
  isolate(homes[1], 1);
  run(3000);
  put(homes[0], "held"); /* W = 2: homes[0] and the fallback, with a hint */
  assert_int_equal(hint_count(other), 1);
  isolate(homes[1], 0); /* back, before the hint is delivered */
  dyna_resp_value_t v;
  parse(ask(homes[0], DYNA_OP_FLUSH, NULL), &v);
  assert_int_equal(v.type, DYNA_RESP_STRING);
  dyna_resp_value_free(&v);
  for (int k = 0; k < 100 && hint_count(other); k++) run(100); /* delivered */
  assert_int_equal(hint_count(other), 0);
  uint32_t p = dyna_key_partition("held", 4, Q);
  for (int at = 0; at < 3; at++) {
    uint64_t c;
    assert_int_equal(dyna_scan_count(T[at].st, p, (uint64_t)clk(at).wall_ms, &c), 0);
    assert_int_equal(c, 0);
  }
}

/* KEYS refuses an answer past DYNA_KEYS_MAX keys; a pattern that matches fewer is fine. */
static void test_keys_is_bounded(void **state) {
  (void)state;
  NT = 1;
  open_node(0, 1, 1, 1);
  char key[32];
  for (uint32_t i = 0; i <= DYNA_KEYS_MAX; i++) {
    snprintf(key, sizeof(key), "k%u", i);
    store_key(T[0].st, dyna_key_partition(key, strlen(key), Q), key, LIVE);
  }
  dyna_scan_spec_t sp = {DYNA_SCAN_ALL, 0, 0, NULL, 0, 0};
  dyna_resp_value_t v;
  parse(ask(0, DYNA_OP_SCAN, &sp), &v);
  assert_int_equal(v.type, DYNA_RESP_ERROR);
  assert_string_equal((const char *)v.str, "ERR KEYS would return more than 100000 keys or 64 MiB; use SCAN");
  dyna_resp_value_free(&v);
  sp.pattern = "k1234?";
  sp.plen = 6;
  parse(ask(0, DYNA_OP_SCAN, &sp), &v);
  assert_int_equal(v.type, DYNA_RESP_ARRAY);
  assert_int_equal(v.n, 10);
  dyna_resp_value_free(&v);
  parse(ask(0, DYNA_OP_DBSIZE, NULL), &v);
  assert_int_equal(v.integer, DYNA_KEYS_MAX + 1);
  dyna_resp_value_free(&v);
}

/* SCAN pages from node at, count 5, from *cursor: at most calls of them. */
static void scan_some(int at, uint64_t *cursor, int calls, int *seen) {
  for (int k = 0; k < calls; k++) {
    dyna_scan_spec_t sp = {DYNA_SCAN_PAGE, *cursor, 5, NULL, 0, 0};
    dyna_resp_value_t v;
    parse(ask(at, DYNA_OP_SCAN, &sp), &v);
    *cursor = strtoull((const char *)v.elem[0].str, NULL, 10);
    for (size_t i = 0; i < v.elem[1].n; i++) {
      int key = -1;
      assert_int_equal(sscanf((const char *)v.elem[1].elem[i].str, "key:%d", &key), 1);
      seen[key]++;
    }
    dyna_resp_value_free(&v);
    if (!*cursor) return;
  }
}

static void test_scan_across_a_join_and_a_leave(void **state) {
  (void)state;
  build_cluster(3, 3, 2, 2);
  char key[32];
  for (int i = 0; i < CK; i++) {
    snprintf(key, sizeof(key), "key:%d", i);
    put(i % 3, key);
  }
  /* A scan begun on three nodes goes on while a fourth joins and takes partitions. */
  int seen[CK] = {0};
  uint64_t cursor = 0;
  scan_some(1, &cursor, 4, seen);
  assert_true(cursor != 0);
  NT = 4;
  open_node(3, 3, 2, 2);
  assert_int_equal(dyna_node_join(T[3].n, T[0].id, clk(3)), 0);
  run(50);
  /* Through the new node at once: it holds none of its partitions' keys yet. */
  int fresh[CK] = {0};
  uint64_t c2 = 0;
  scan_some(3, &c2, 1000, fresh);
  for (int i = 0; i < CK; i++) assert_true(fresh[i] >= 1);
  scan_some(1, &cursor, 1000, seen);
  assert_int_equal(cursor, 0);
  for (int i = 0; i < CK; i++) assert_true(seen[i] >= 1);
  /* And while it leaves again. */
  run(5000);
  memset(seen, 0, sizeof(seen));
  scan_some(3, &cursor, 4, seen);
  assert_int_equal(dyna_node_leave(T[3].n, clk(3)), 0);
  scan_some(0, &cursor, 1000, seen);
  assert_int_equal(cursor, 0);
  for (int i = 0; i < CK; i++) assert_true(seen[i] >= 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cursor_layout),
      cmocka_unit_test(test_pages_hold_every_live_key_once),
      cmocka_unit_test(test_entry_decoding_refuses_garbage),
      cmocka_unit_test_setup_teardown(test_cluster_scan_keys_dbsize_randomkey, setup, teardown),
      cmocka_unit_test_setup_teardown(test_flush_tombstones_every_key, setup, teardown),
      cmocka_unit_test_setup_teardown(test_scan_across_a_join_and_a_leave, setup, teardown),
      cmocka_unit_test_setup_teardown(test_flush_of_a_large_store_goes_in_steps, setup, teardown),
      cmocka_unit_test_setup_teardown(test_keys_is_bounded, setup, teardown),
      cmocka_unit_test_setup_teardown(test_flush_tombstones_hints, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
