/* helper_cluster.c: small clusters of core nodes driven by hand, for test_node.c and
 * test_typed_path.c (helper_cluster.h): memory stores, a tiny in-test network that
 * delivers frames in order and can cut links, a clock the test advances. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "helper_cluster.h"

tnode_t T[MAXN];
int NT;
uint64_t now;
int cut[MAXN][MAXN];
qmsg_t *q;
size_t qlen, qcap;
dyna_node_reply_t replies[4096];
size_t nreplies;
uint64_t next_req;
uint64_t aae_ms = 1000000000;
uint64_t grace_ms = 24ull * 3600 * 1000;
int read_all;
uint32_t node_bugs;
uint32_t batch_keys;
const dyna_typed_cmd_t *typed_extra;
char node_dc[MAXN][32];

/* Node i's clocks (core/node.h, "Two clocks"): monotonic `now`, and its wall clock. */
dyna_time_t clk(int i) {
  dyna_time_t t = {now, (uint64_t)(WALL0_MS + (int64_t)now + T[i].wall_off_ms)};
  return t;
}

int index_of(uint64_t id) {
  for (int i = 0; i < NT; i++)
    if (T[i].id == id) return i;
  return -1;
}

void open_node(int i, uint32_t nval, uint32_t r, uint32_t w) {
  dyna_node_cfg_t cfg;
  dyna_node_cfg_default(&cfg);
  cfg.id = 100 + (uint64_t)i;
  snprintf(cfg.name, sizeof(cfg.name), "n%d", i);
  snprintf(cfg.addr, sizeof(cfg.addr), "10.0.0.%d:1", i);
  cfg.ring_size = Q;
  cfg.repl = dyna_repl_uniform(nval);
  cfg.r = r;
  cfg.w = w;
  cfg.seed = 7 + (uint64_t)i;
  cfg.handoff_interval_ms = 10;
  cfg.aae_interval_ms = aae_ms;
  cfg.tombstone_grace_ms = grace_ms;
  cfg.read_all = read_all;
  cfg.bugs = node_bugs;
  if (batch_keys) cfg.handoff_batch_keys = batch_keys;
  cfg.typed_extra = typed_extra;
  snprintf(cfg.dc, sizeof(cfg.dc), "%s", node_dc[i]);
  if (!T[i].st) assert_int_equal(dyna_store_mem_open(DYNA_SYNC_BATCH, &T[i].st), 0);
  assert_int_equal(dyna_node_open(&cfg, T[i].st, clk(i), &T[i].n), 0);
  assert_int_equal(dyna_store_commit(T[i].st), 0);
  T[i].id = cfg.id;
}

/* Puts a frame from node i on the network (dropped when the link is cut). */
void queue_frame(int i, dyna_outmsg_t *m) {
  int to = index_of(m->to);
  if (to < 0 || cut[i][to] || !T[to].n) {
    dyna_buf_free(&m->frame);
    return;
  }
  if (qlen == qcap) {
    qcap = qcap ? qcap * 2 : 256;
    q = realloc(q, qcap * sizeof(*q));
  }
  q[qlen++] = (qmsg_t){i, to, m->frame};
}

/* Commits every node's batch, then moves its messages to the network and its replies to
 * the test, as dynad does after each loop turn. */
void drain(void) {
  for (int i = 0; i < NT; i++) {
    if (!T[i].n) continue;
    dyna_outmsg_t em; /* early frames leave before the commit */
    while (dyna_node_pop_early(T[i].n, &em)) queue_frame(i, &em);
    assert_int_equal(dyna_store_commit(T[i].st), 0);
    dyna_node_reply_t r;
    while (dyna_node_pop_reply(T[i].n, &r)) {
      assert_true(nreplies < 4096);
      replies[nreplies++] = r;
    }
    dyna_outmsg_t m;
    while (dyna_node_pop_msg(T[i].n, &m)) queue_frame(i, &m);
  }
}

/* Delivers queued frames until the network is quiet (or max rounds). */
void pump(int rounds) {
  for (int k = 0; k < rounds; k++) {
    drain();
    if (!qlen) return;
    qmsg_t *batch = q;
    size_t n = qlen;
    q = NULL;
    qlen = qcap = 0;
    for (size_t i = 0; i < n; i++) {
      if (T[batch[i].to].n && !cut[batch[i].from][batch[i].to])
        assert_int_equal(dyna_node_on_message(T[batch[i].to].n, T[batch[i].from].id, batch[i].frame.data,
                                              batch[i].frame.len, clk(batch[i].to)), 0);
      dyna_buf_free(&batch[i].frame);
    }
    free(batch);
  }
  drain();
}

/* Advances time by ms in steps of 10, ticking every node and pumping. */
void run(uint64_t ms) {
  for (uint64_t t = 0; t < ms; t += 10) {
    now += 10;
    for (int i = 0; i < NT; i++)
      if (T[i].n) dyna_node_tick(T[i].n, clk(i));
    pump(50);
  }
}

dyna_node_reply_t *find_reply(uint64_t id) {
  for (size_t i = 0; i < nreplies; i++)
    if (replies[i].req_id == id) return &replies[i];
  return NULL;
}

int is_replica(int node, const char *key) {
  const dyna_cluster_t *cl = dyna_node_cluster(T[node].n);
  uint32_t p = dyna_key_partition(key, strlen(key), Q);
  return dyna_ring_is_replica(&cl->ring, p, dyna_node_cfg(T[node].n)->repl.n, T[node].id);
}

void build_cluster(int count, uint32_t nval, uint32_t r, uint32_t w) {
  NT = count;
  for (int i = 0; i < count; i++) open_node(i, nval, r, w);
  for (int i = 1; i < count; i++) {
    assert_int_equal(dyna_node_join(T[i].n, T[0].id, clk(i)), 0);
    run(200);
  }
  run(3000);
  for (int i = 0; i < count; i++) {
    const dyna_cluster_t *cl = dyna_node_cluster(T[i].n);
    assert_int_equal(cl->n, (size_t)count);
    assert_int_equal(cl->ring.nmembers, (uint32_t)count);
    assert_true(dyna_cluster_ring_settled(cl));
    assert_int_equal(cl->ring_version, dyna_node_cluster(T[0].n)->ring_version);
  }
}

int setup(void **state) {
  (void)state;
  memset(T, 0, sizeof(T));
  memset(cut, 0, sizeof(cut));
  NT = 0;
  now = 1000;
  nreplies = 0;
  aae_ms = 1000000000;
  grace_ms = 24ull * 3600 * 1000;
  read_all = 0;
  node_bugs = 0;
  batch_keys = 0;
  memset(node_dc, 0, sizeof(node_dc));
  return 0;
}

int teardown(void **state) {
  (void)state;
  for (size_t i = 0; i < nreplies; i++) dyna_node_reply_clear(&replies[i]);
  for (size_t i = 0; i < qlen; i++) dyna_buf_free(&q[i].frame);
  free(q);
  q = NULL;
  qlen = qcap = 0;
  for (int i = 0; i < MAXN; i++) {
    dyna_node_free(T[i].n);
    dyna_store_close(T[i].st);
  }
  return 0;
}

/* Cuts node i off from everyone (both directions) and tells the others, as a transport
 * that lost its connections would. */
void isolate(int i, int on) {
  for (int j = 0; j < NT; j++) {
    if (j == i) continue;
    cut[i][j] = cut[j][i] = on;
    if (T[j].n) dyna_node_set_reachable(T[j].n, T[i].id, !on, clk(j));
    if (T[i].n) dyna_node_set_reachable(T[i].n, T[j].id, !on, clk(i));
  }
}

/* The home replicas of key (node indexes, in preference order) and a non-home node. */
int homes_of(const char *key, int *homes, int *other) {
  int nh = 0;
  *other = -1;
  for (int i = 0; i < NT; i++) {
    if (is_replica(i, key)) homes[nh++] = i;
    else if (*other < 0) *other = i;
  }
  return nh;
}

int hint_count(int i) { return (int)dyna_store_mem_count(T[i].st, DYNA_SPACE_HINT); }
