/* test_cluster_reply.c: the CLUSTER answers from a partition map (proto/cluster_reply.c),
 * on hand-made maps: slot ranges (contiguous, adjacent equal lists joined, empty lists
 * skipped), CLUSTER SLOTS' RESP bytes, SHARDS grouping by preference list, NODES lines,
 * INFO fields, node ids and address splitting. Shapes compared with a redis-server 7.0
 * in cluster mode (cluster-enabled yes, addslotsrange 0 16383). */
#include "proto/cluster_reply.h"
#include "proto/resp.h"
#include "util/err.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

/* A map of q partitions over the members named below; lists[p] is partition p's
 * preference list as a string of member digits ("01": member 0 then 1; "" none). */
typedef struct fx {
  dyna_ring_reply_t r;
  dyna_ring_reply_member_t m[4];
  uint16_t prefs[16 * 3];
  uint8_t plen[16];
} fx_t;

static void make(fx_t *f, uint32_t q, const char *const *lists) {
  memset(f, 0, sizeof(*f));
  static char *ids[] = {"00000000000000a1", "00000000000000b2", "00000000000000c3", "00000000000000d4"};
  static char *addrs[] = {"127.0.0.1:7001", "127.0.0.2:7002", "[::1]:7003", "0.0.0.0:7004"};
  static char *names[] = {"n1", "n2", "n3", "n4"};
  static char *status[] = {"valid", "valid", "valid", "removed"};
  for (int i = 0; i < 4; i++) f->m[i] = (dyna_ring_reply_member_t){ids[i], addrs[i], names[i], status[i]};
  f->r.size = q;
  f->r.n = 3;
  f->r.version = 42;
  f->r.nmembers = 4;
  f->r.members = f->m;
  f->r.prefs = f->prefs;
  f->r.plen = f->plen;
  for (uint32_t p = 0; p < q; p++) {
    f->plen[p] = (uint8_t)strlen(lists[p]);
    for (size_t j = 0; j < f->plen[p]; j++) f->prefs[p * 3 + j] = (uint16_t)(lists[p][j] - '0');
  }
}

static void test_ranges(void **state) {
  (void)state;
  fx_t f;
  /* 8 partitions of 2048 slots: 0 and 1 share a list (joined), 3 has none (skipped),
   * 6 and 7 share one too. */
  const char *lists[] = {"012", "012", "120", "", "201", "012", "120", "120"};
  make(&f, 8, lists);
  dyna_slot_range_t want[] = {{0, 4095, 0}, {4096, 6143, 2}, {8192, 10239, 4}, {10240, 12287, 5}, {12288, 16383, 6}};
  dyna_slot_range_t sr;
  size_t n = 0;
  for (uint32_t p = 0; dyna_slot_range_next(&f.r, &p, &sr); n++) {
    assert_true(n < 5);
    assert_int_equal(sr.first, want[n].first);
    assert_int_equal(sr.last, want[n].last);
    assert_int_equal(sr.p, want[n].p);
  }
  assert_int_equal(n, 5);
  /* one partition: one range, every slot */
  const char *one[] = {"0"};
  make(&f, 1, one);
  uint32_t p = 0;
  assert_int_equal(dyna_slot_range_next(&f.r, &p, &sr), 1);
  assert_int_equal(sr.first, 0);
  assert_int_equal(sr.last, 16383);
  assert_int_equal(dyna_slot_range_next(&f.r, &p, &sr), 0);
}

static void test_ids_and_addrs(void **state) {
  (void)state;
  char id[DYNA_CLUSTER_ID_LEN + 1];
  dyna_cluster_node_id("00000000000000a1", id);
  assert_string_equal(id, "00000000000000a1000000000000000000000000");
  assert_int_equal(strlen(id), 40);
  char host[64];
  uint16_t port;
  assert_int_equal(dyna_cluster_addr_split("127.0.0.1:7001", host, sizeof(host), &port), 0);
  assert_string_equal(host, "127.0.0.1");
  assert_int_equal(port, 7001);
  assert_int_equal(dyna_cluster_addr_split("[::1]:7003", host, sizeof(host), &port), 0);
  assert_string_equal(host, "::1");
  assert_int_equal(dyna_cluster_addr_split("0.0.0.0:7004", host, sizeof(host), &port), 0);
  assert_string_equal(host, "");
  assert_int_equal(port, 7004);
  assert_int_equal(dyna_cluster_addr_split("nonsense", host, sizeof(host), &port), -1);
  assert_int_equal(dyna_cluster_addr_split("h:99999", host, sizeof(host), &port), -1);
  assert_int_equal(port, 0);
}

#define ID(x) "00000000000000" x "000000000000000000000000"

static void test_slots_bytes(void **state) {
  (void)state;
  fx_t f;
  const char *lists[] = {"01", "01", "10", "2"};
  make(&f, 4, lists);
  dyna_cluster_view_t v = {&f.r, 0, NULL, NULL, 0, 0};
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_cluster_put_slots(&b, &v);
  const char *want =
      "*3\r\n"
      "*4\r\n:0\r\n:8191\r\n"
      "*4\r\n$9\r\n127.0.0.1\r\n:7001\r\n$40\r\n" ID("a1") "\r\n*0\r\n"
      "*4\r\n$9\r\n127.0.0.2\r\n:7002\r\n$40\r\n" ID("b2") "\r\n*0\r\n"
      "*4\r\n:8192\r\n:12287\r\n"
      "*4\r\n$9\r\n127.0.0.2\r\n:7002\r\n$40\r\n" ID("b2") "\r\n*0\r\n"
      "*4\r\n$9\r\n127.0.0.1\r\n:7001\r\n$40\r\n" ID("a1") "\r\n*0\r\n"
      "*3\r\n:12288\r\n:16383\r\n"
      "*4\r\n$3\r\n::1\r\n:7003\r\n$40\r\n" ID("c3") "\r\n*0\r\n";
  assert_int_equal(b.len, strlen(want));
  assert_memory_equal(b.data, want, b.len);
  dyna_buf_free(&b);
}

/* Parses the whole RESP reply in b into v (free with dyna_resp_value_free). */
static void parse(const dyna_buf_t *b, dyna_resp_value_t *v) {
  size_t used = 0;
  dyna_resp_limits_t lim;
  dyna_resp_limits_default(&lim);
  assert_int_equal(dyna_resp_parse_reply(&lim, b->data, b->len, v, &used), 0);
  assert_int_equal(used, b->len);
}

static int str_is(const dyna_resp_value_t *v, const char *s) {
  return v->type == DYNA_RESP_BULK && v->len == strlen(s) && !memcmp(v->str, s, v->len);
}

static void test_shards(void **state) {
  (void)state;
  fx_t f;
  /* lists 01 (partitions 0, 2), 10 (1, 3): two shards of two ranges each */
  const char *lists[] = {"01", "10", "01", "10"};
  make(&f, 4, lists);
  uint8_t down[4] = {0, 1, 0, 0};
  dyna_cluster_view_t v = {&f.r, 0, down, NULL, 0, 0};
  dyna_buf_t b = DYNA_BUF_INIT;
  assert_int_equal(dyna_cluster_put_shards(&b, &v), 0);
  dyna_resp_value_t rv;
  parse(&b, &rv);
  const dyna_resp_value_t *r = &rv;
  assert_int_equal(r->type, DYNA_RESP_ARRAY);
  assert_int_equal(r->n, 2);
  const dyna_resp_value_t *s0 = &r->elem[0];
  assert_int_equal(s0->n, 4);
  assert_true(str_is(&s0->elem[0], "slots"));
  assert_int_equal(s0->elem[1].n, 4);
  int64_t want0[] = {0, 4095, 8192, 12287};
  for (int i = 0; i < 4; i++) assert_int_equal(s0->elem[1].elem[i].integer, want0[i]);
  assert_true(str_is(&s0->elem[2], "nodes"));
  assert_int_equal(s0->elem[3].n, 2);
  const dyna_resp_value_t *m0 = &s0->elem[3].elem[0], *m1 = &s0->elem[3].elem[1];
  assert_int_equal(m0->n, 14);
  assert_true(str_is(&m0->elem[0], "id") && str_is(&m0->elem[1], ID("a1")));
  assert_true(str_is(&m0->elem[2], "port") && m0->elem[3].integer == 7001);
  assert_true(str_is(&m0->elem[4], "ip") && str_is(&m0->elem[5], "127.0.0.1"));
  assert_true(str_is(&m0->elem[6], "endpoint") && str_is(&m0->elem[7], "127.0.0.1"));
  assert_true(str_is(&m0->elem[8], "role") && str_is(&m0->elem[9], "master"));
  assert_true(str_is(&m0->elem[10], "replication-offset") && m0->elem[11].integer == 0);
  assert_true(str_is(&m0->elem[12], "health") && str_is(&m0->elem[13], "online"));
  assert_true(str_is(&m1->elem[9], "replica") && str_is(&m1->elem[13], "failed"));
  const dyna_resp_value_t *s1 = &r->elem[1];
  int64_t want1[] = {4096, 8191, 12288, 16383};
  for (int i = 0; i < 4; i++) assert_int_equal(s1->elem[1].elem[i].integer, want1[i]);
  assert_true(str_is(&s1->elem[3].elem[0].elem[1], ID("b2")));
  dyna_resp_value_free(&rv);
  dyna_buf_free(&b);
}

static void test_nodes_and_info(void **state) {
  (void)state;
  fx_t f;
  const char *lists[] = {"01", "01", "10", "2"};
  make(&f, 4, lists);
  uint8_t down[4] = {0, 0, 1, 0};
  uint16_t cport[4] = {17001, 17002, 17003, 17004};
  dyna_cluster_view_t v = {&f.r, 1, down, cport, 5, 6};
  dyna_buf_t t = DYNA_BUF_INIT;
  dyna_cluster_nodes_text(&t, &v);
  const char *want = ID("a1") " 127.0.0.1:7001@17001 master - 0 0 42 connected 0-8191\n"
                     ID("b2") " 127.0.0.2:7002@17002 myself,master - 0 0 42 connected 8192-12287\n"
                     ID("c3") " ::1:7003@17003 master,fail? - 0 0 42 disconnected 12288-16383\n";
  assert_int_equal(t.len, strlen(want));
  assert_memory_equal(t.data, want, t.len);
  dyna_buf_reset(&t);
  dyna_cluster_info_text(&t, &v);
  const char *info = "cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:12288\r\n"
                     "cluster_slots_pfail:4096\r\ncluster_slots_fail:0\r\ncluster_known_nodes:3\r\n"
                     "cluster_size:3\r\ncluster_current_epoch:42\r\ncluster_my_epoch:42\r\n"
                     "cluster_stats_messages_sent:5\r\ncluster_stats_messages_received:6\r\n"
                     "total_cluster_links_buffer_limit_exceeded:0\r\n";
  assert_int_equal(t.len, strlen(info));
  assert_memory_equal(t.data, info, t.len);
  /* a partition with no list: slots unassigned, state fail */
  const char *holes[] = {"01", "", "10", "10"};
  make(&f, 4, holes);
  v.down = NULL;
  dyna_buf_reset(&t);
  dyna_cluster_info_text(&t, &v);
  assert_non_null(strstr((const char *)t.data, "cluster_state:fail\r\ncluster_slots_assigned:12288\r\n"));
  assert_non_null(strstr((const char *)t.data, "cluster_size:2\r\n"));
  dyna_buf_free(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ranges),
      cmocka_unit_test(test_ids_and_addrs),
      cmocka_unit_test(test_slots_bytes),
      cmocka_unit_test(test_shards),
      cmocka_unit_test(test_nodes_and_info),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
