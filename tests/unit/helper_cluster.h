/* helper_cluster.h: small clusters of core nodes driven by hand, shared by test_node.c,
 * test_typed_path.c and test_batch.c: node i is T[i] (a memory store and a dyna_node_t), a tiny
 * in-test network delivers frames in order and drops those on cut links, and `now` is
 * the monotonic clock the test advances (run). Linked only into those tests
 * (CMakeLists.txt). setup/teardown are the cmocka fixtures that reset all of this. */
#ifndef DYNA_TEST_HELPER_CLUSTER_H
#define DYNA_TEST_HELPER_CLUSTER_H
#include <stddef.h>
#include <stdint.h>

#include "core/cluster.h"
#include "core/keyspace.h"
#include "core/node.h"
#include "core/typed.h"
#include "store/memory.h"
#include "store/store.h"

#define MAXN 6
#define Q 16
#define WALL0_MS 1767225600000ll /* the wall clock at now = 0 */

typedef struct {
  dyna_store_t *st;
  dyna_node_t *n;
  uint64_t id;
  int64_t wall_off_ms; /* its wall clock reads WALL0_MS + now + this (clk) */
} tnode_t;

typedef struct qmsg {
  int from, to;
  dyna_buf_t frame;
} qmsg_t;

extern tnode_t T[MAXN];
extern int NT;                 /* nodes in use: T[0..NT) */
extern uint64_t now;           /* the monotonic clock, ms */
extern int cut[MAXN][MAXN];    /* cut[i][j]: frames from i to j are dropped */
extern qmsg_t *q;              /* the network: frames in flight, q[0..qlen) (teardown frees them) */
extern size_t qlen, qcap;
extern dyna_node_reply_t replies[4096]; /* every reply so far (teardown clears them) */
extern size_t nreplies;
extern uint64_t next_req;      /* the last request id handed out */
extern uint64_t aae_ms;        /* cfg.aae_interval_ms of nodes opened (anti-entropy off unless a test turns it on) */
extern uint64_t grace_ms;      /* cfg.tombstone_grace_ms of nodes opened */
extern int read_all;           /* cfg.read_all of nodes opened from now on */
extern uint32_t node_bugs;     /* cfg.bugs of nodes opened (DYNA_BUG_*; setup clears) */
extern uint32_t batch_keys;    /* cfg.handoff_batch_keys of nodes opened (0: the default; setup clears) */
extern const dyna_typed_cmd_t *typed_extra; /* cfg.typed_extra of nodes opened (setup leaves it) */
extern char node_dc[MAXN][32]; /* cfg.dc of node i when opened ("" unless a test sets it; setup clears) */

/* Node i's clocks (core/node.h, "Two clocks"): monotonic `now`, and its wall clock. */
dyna_time_t clk(int i);
/* The index of the node with id, or -1. */
int index_of(uint64_t id);
/* Opens node i (id 100 + i) with N, R, W and the globals above. */
void open_node(int i, uint32_t nval, uint32_t r, uint32_t w);
/* Puts a frame from node i on the network (dropped when the link is cut); takes m->frame. */
void queue_frame(int i, dyna_outmsg_t *m);
/* Commits every node's batch, moves its messages to the network and its replies to replies[]. */
void drain(void);
/* Delivers queued frames until the network is quiet (or max rounds). */
void pump(int rounds);
/* Advances time by ms in steps of 10, ticking every node and pumping. */
void run(uint64_t ms);
/* The reply to request id, or NULL. */
dyna_node_reply_t *find_reply(uint64_t id);
/* Whether node is a home replica of key. */
int is_replica(int node, const char *key);
/* Opens count nodes, joins them to node 0 and waits until every ring is settled. */
void build_cluster(int count, uint32_t nval, uint32_t r, uint32_t w);
int setup(void **state);
int teardown(void **state);
/* Cuts node i off from everyone (both directions) and tells the others. */
void isolate(int i, int on);
/* The home replicas of key (node indexes, in preference order) and a non-home node. */
int homes_of(const char *key, int *homes, int *other);
/* Hints node i holds. */
int hint_count(int i);

#endif
