/* node.h: one Dyna node as a deterministic state machine.
 *
 * The node never touches the network, the clock or randomness. Drivers (dynad's libuv
 * runtime, the simulator) feed it events as function calls, with the current time (both
 * clocks: dyna_time_t below) as an argument, and drain what it wants done from its
 * outbox:
 *
 *      driver                         node (pure)                    store (ops table)
 *   client request ──dyna_node_request──▶ coordinator ──get/put──▶  LMDB | memory
 *   timer          ──dyna_node_tick────▶  timeouts
 *   reply to client ◀─dyna_node_pop_reply── outbox
 *
 * Durability: a reply that acknowledges a write must not reach the client before the
 * store write it depends on is durable. Drivers therefore drain the outbox through the
 * durability gate (core/gate.h), which holds each answer until then, and fails it
 * (dyna_node_reply_fail) when the commit that held its write failed.
 *
 * Every request taken produces exactly one reply, carrying the request's id.
 */
#ifndef DYNA_NODE_H
#define DYNA_NODE_H
#include "core/durable.h"
#include "core/object.h"
#include "core/ring.h"
#include "store/store.h"
#include <stddef.h>
#include <stdint.h>

/* ---- Two clocks ----
 * Every event carries two times, read by the driver once for the event:
 *
 *   mono_ms  a monotonic clock (dynad: libuv's uv_now, CLOCK_MONOTONIC; the simulator:
 *            simulated time plus a per-node origin). It never goes backwards and means
 *            nothing across nodes or reboots. It drives everything that measures an
 *            interval: request deadlines and the GET's second wave, the failure detector
 *            (heard-from times, pings), gossip rounds and JOIN retries, handoff and hint
 *            delivery intervals, transfer deadlines, anti-entropy intervals and the
 *            background byte budget (token bucket).
 *   wall_ms  the wall clock, milliseconds since the Unix epoch (dynad: CLOCK_REALTIME;
 *            the simulator: simulated time plus a per-node offset that faults can skew
 *            and step). It may jump either way (NTP, a resumed VM, an operator). It is
 *            used only where a timestamp is meant: the stamp of each value written
 *            (dyna_val_t.ts_ms, which a plain GET uses to pick the last written sibling),
 *            tombstone grace (a tombstone is reaped once the wall clock passed its stamp
 *            plus tombstone_grace_ms), key expiry (deadlines set and judged), and the
 *            seed of request ids at open (so that a restarted node does not reuse the ids
 *            of its previous life).
 *
 * Rule: a new use of time in the core takes mono_ms unless it compares with a time
 * another node made or that must survive a restart (a stamp); then wall_ms. No timer
 * ever waits on the wall clock, so a wall step changes no interval.
 *
 * A wall step, and skew between nodes, bound what stamps mean:
 *   - Stamps never go backwards on one node: a value gets max(wall_ms, the node's last
 *     stamp) (dyna_node_stamp in node.c). After a backward step the node's stamps stay at
 *     the last one until its wall clock catches up, so among the siblings one node made
 *     the later write still has the greater (or an equal, then the greater dot) stamp, and
 *     a plain GET still returns it. A clean shutdown keeps the last stamp for the next
 *     start; after a crash the node writes under a new actor (a new incarnation) and
 *     its stamps start from its wall clock again, which orders them against its
 *     previous life's as against another node's (below).
 *   - Deadlines are times, not stamps: set and judged by wall_ms as it is (typed.h,
 *     dyna_tenv_t.now_ms), never by the last stamp, so after a forward step and back a
 *     node's deadlines are right again at once although its stamps stay ahead.
 *   - Across nodes, stamps are only as ordered as the clocks: of two concurrent writes
 *     made less than the skew apart, a plain GET may return the earlier one. Causally
 *     ordered writes are unaffected (the later one supersedes the other by its context,
 *     whatever the stamps say).
 *   - Tombstone grace is off by the skew: a node whose clock is ahead by d reaps a
 *     tombstone d early (so grace must exceed any skew and step expected), and a
 *     forward step of d shortens the grace of every tombstone it holds by d.
 *   - Request ids are seeded with wall_ms << 20 at open: a node restarted after a
 *     backward step may reuse ids from a previous life that started up to that step
 *     earlier; peers only remember ids of recent forwarded writes (coord.c) and match
 *     answers only to requests in flight, so a step longer than those windows is safe. */
typedef struct dyna_time {
  uint64_t mono_ms; /* monotonic: intervals, deadlines, timers */
  uint64_t wall_ms; /* wall clock since the Unix epoch: stamps only (may step) */
} dyna_time_t;

struct dyna_typed_cmd;

/* The largest replication factor (and so R and W), over all sites: a request's targets
 * are kept in fixed arrays of this size. */
#define DYNA_MAX_N 16

/* Quorum kinds, as values of R and W (dyna_node_cfg_t.r/.w, dyna_req_t.r/.w, the FWD
 * frame's w) beside the counts 1..DYNA_MAX_N (the global quorum of today):
 *   LOCAL  a majority of the home replicas in the coordinator's own site, counting only
 *          answers from nodes of that site; the other sites get every write all the
 *          same (asynchronously, with hints when unreachable) and a LOCAL read asks the
 *          coordinator's site only;
 *   EACH   a majority of the home replicas in every site.
 * Without sites both are a majority of the N replicas. */
#define DYNA_QUORUM_LOCAL 0x10001u
#define DYNA_QUORUM_EACH 0x10002u
static inline int dyna_quorum_kind(uint32_t q) { return q == DYNA_QUORUM_LOCAL || q == DYNA_QUORUM_EACH; }

typedef struct dyna_node_cfg {
  uint64_t id;              /* stable node id (never 0) */
  char name[64];
  char addr[64];            /* cluster (inter-node) address, host:port */
  char client_addr[64];     /* RESP address, host:port */
  char zone[32];
  char dc[32];              /* site (data centre): "" when undeclared (ring.h, Sites) */
  uint32_t ring_size;       /* Q: partitions, a power of two (a new cluster's) */
  dyna_repl_t repl;         /* replicas of each key per site (repl.n: without sites) */
  uint32_t r, w;            /* quorum defaults: a count, or DYNA_QUORUM_LOCAL/EACH */
  int read_all;             /* GETs ask every target at once (Dynamo, Riak); 0 (default):
                               R targets first, the others only when needed (coord.c) */
  int durable_reads;        /* answers to reads wait for the group commit like writes;
                               0 (default): a replica's GET_RESP is an early frame and a
                               read's reply may leave before the commit (coord.c) */
  size_t max_value_bytes;   /* larger values get DYNA_ETOOBIG */
  uint64_t seed;            /* seeds the node's PRNG (gossip peer choice) */
  uint64_t request_timeout_ms;
  uint64_t gossip_interval_ms;
  uint64_t handoff_interval_ms;
  uint32_t handoff_batch_keys;
  uint64_t handoff_bytes_per_sec; /* the background budget's ceiling (bytes/s) */
  int background_fixed;     /* 1: the budget stays at its ceiling (no admission control,
                               core/admission.h); 0 (default): foreground latency sets it */
  uint64_t aae_interval_ms; /* one anti-entropy exchange per interval */
  uint64_t tombstone_grace_ms; /* tombstones are reaped no sooner than this after the delete */
  uint64_t heartbeat_ms;    /* failure detector ping interval */
  uint64_t fd_min_ms;       /* never suspect a peer heard from this recently */
  const struct dyna_typed_cmd *typed_extra; /* tests and dyna-sim only: typed commands this node knows
                               besides core/typed.h's families (rows ended by a NULL name),
                               looked up first when a forwarded typed write names its
                               command; NULL in dynad and the simulator */
  uint32_t bugs;            /* DYNA_BUG_*: deliberate faults for the simulator's self-test
                               (it must catch each one); dynad sets it only from the
                               test-only DYNA_TEST_BUGS (runtime/group_commit.c) */
} dyna_node_cfg_t;

#define DYNA_BUG_EARLY_ACK 0x1u  /* answer a put after the local write, before W acks */
#define DYNA_BUG_OVERWRITE 0x2u  /* replicas overwrite instead of merging (loses siblings) */
#define DYNA_BUG_NO_REPAIR 0x4u  /* reads never repair stale replicas */
#define DYNA_BUG_UNDURABLE_ACK 0x8u /* a put's answer does not wait for its local write
                                       to be durable (wseq 0) */
#define DYNA_BUG_KEEP_INCARNATION 0x10u /* a failed commit starts no new incarnation
                                            (dots the store lost can be made again) */
#define DYNA_BUG_GATE_FORGET_LOSS 0x20u /* the gate (core/gate.c) does not record a
                                            failed commit: its answers stay held and the
                                            next commit that succeeds releases them as OK */
#define DYNA_BUG_WALL_STAMP 0x40u /* value stamps are the raw wall clock (after a step back
                                     a node's newer sibling gets an older stamp) */
/* Bugs of the typed merges (core/crdt.h; they reach the crdt code through
 * dyna_crdt_bugs, which the node sets at every event). */
#define DYNA_BUG_COUNTER_SUM 0x80u   /* contributions of one actor add up instead of the
                                        later one winning (increments count twice) */
#define DYNA_BUG_SET_REMOVE_WINS 0x100u /* a set merge drops a dot the other side has not
                                        seen (as if it had been removed there) */
#define DYNA_BUG_EXPIRY_NO_MERGE 0x200u /* a merge keeps only its own side's expiry values
                                        (a deadline set elsewhere is lost; also in
                                        object_typed.c, when its side has none) */
#define DYNA_BUG_LIST_DUP 0x800u    /* a typed write or transaction forwarded twice (a
                                        duplicated frame) is coordinated twice: a push
                                        lands twice */
#define DYNA_BUG_TYPED_NO_MERGE 0x400u /* a typed merge takes the other side's state
                                        whole instead of merging */
#define DYNA_BUG_DEL_FORGETS 0x1000u /* a DEL of a typed key (dyna_crdt_delete) forgets the
                                        dots it removed (its context keeps only its first
                                        actor), so a replica that did not see the delete
                                        brings members of the other actors back */
#define DYNA_BUG_NO_PEER_BACK 0x8000u /* a peer heard again after a silence gets no
                                        early exchange or hint rush (node.c): replicas
                                        converge only as fast as the round robin */
#define DYNA_BUG_REPLACE_KEEPS_OLD 0x2000u /* a fresh node under a dead member's name is
                                        admitted, but neither the seed nor the node itself
                                        removes that member (gossip.c): two live members
                                        share the name */
#define DYNA_BUG_LOCAL_REMOTE_ACK 0x10000u /* a LOCAL quorum (coord.c) counts the acks of
                                        other sites' replicas as its own site's */
#define DYNA_BUG_FD_UNASKED_SILENCE 0x20000u /* past 32 members the failure detector
                                        (failure_detector.c) counts a peer's silence since
                                        it was last heard even while nobody pings it, so
                                        members outside the probe set turn unreachable */
#define DYNA_BUG_FD_NO_HEARSAY 0x40000u /* past 32 members a node that judges a peer
                                        unreachable tells nobody (failure_detector.c), so
                                        the others learn of a hung member only when their
                                        own round robin reaches it */
#define DYNA_BUG_ADMIT_OFF 0x80000u /* the admission controller (admission.c) never
                                        changes the background rate, whatever the
                                        foreground feels */
#define DYNA_BUG_HANDOFF_TRUST 0x100000u /* a handoff takes every target's answer to
                                        its check as "I hold it all" (handoff.c): keys
                                        go nowhere and are deleted */
#define DYNA_BUG_EACH_ONE_SITE 0x200000u /* an EACH quorum (coord.c) waits only for a
                                        majority of the coordinator's own site, as LOCAL
                                        does: the other sites' copies go unawaited */
#define DYNA_BUG_REPLACE_SAME_ID 0x4000u /* the simulator's world, not the core: the node
                                        that replaces a wiped one (--faults wipe) reuses
                                        its id on the empty disk, so its dots start again
                                        and collide with those the wiped node made */

/* The defaults of the node's options, the only ones: dynad takes them from here for every
 * option that lands in the node (runtime/options.c), as the simulator and the tests do. */
void dyna_node_cfg_default(dyna_node_cfg_t *cfg);

typedef enum {
  DYNA_OP_GET = 1, /* quorum read: all siblings + context */
  DYNA_OP_PUT,     /* write with a context */
  DYNA_OP_DEL,     /* tombstone with a context */
  DYNA_OP_LOCAL,   /* this node's own replica, no quorum, no repair */
  DYNA_OP_TYPED,   /* a typed write (core/typed.h): the coordinator runs cmd->write on
                      its local object and replicates the result like a PUT */
  /* Key-space commands (core/scan.h; no key): the reply's resp holds the RESP answer. */
  DYNA_OP_SCAN,    /* SCAN, KEYS, RANDOMKEY as req->scan says */
  DYNA_OP_DBSIZE,  /* live keys: the sum over partitions of one replica's count */
  DYNA_OP_FLUSH,   /* FLUSHALL: every member tombstones every live key it holds */
  DYNA_OP_BATCH    /* a transaction (core/batch.h): val = its commands, key = one of
                      its keys (all of one partition); the reply's resp holds their
                      answers, one after the other */
} dyna_op_t;

/* Request flags. */
#define DYNA_REQ_BLIND 0x1u /* no client context: supersede all the coordinator knows */
#define DYNA_REQ_KEEPTTL 0x2u /* PUT: keep the key's expiry (SET ... KEEPTTL) */
#define DYNA_REQ_RESP3 0x4u /* TYPED: the client speaks RESP3: the coordinator makes the
                               answer in that shape (core/typed.h, env->proto) */
#define DYNA_REQ_NOCTX 0x8u /* GET, PUT, DEL: the reply's ctx is left empty: the driver
                               reads only the object or the status (a plain Redis GET or
                               SET, which return no context); a forwarded write's answer
                               still carries it */
#define DYNA_REQ_ENCODED 0x10u /* GET with NOCTX: the driver takes the object as its encoded
                                  bytes too (the reply's enc, enc_info), as it comes when
                                  every replica asked answered the same bytes */


typedef struct dyna_req {
  uint64_t id;              /* chosen by the driver, echoed in the reply */
  dyna_op_t op;
  uint32_t flags;
  const uint8_t *key;       /* borrowed for the call */
  size_t klen;
  const dyna_ctx_t *ctx;    /* PUT/DEL: the context the client read (NULL = none) */
  const uint8_t *val;       /* PUT: the value (borrowed for the call) */
  size_t vlen;
  uint32_t r, w;            /* 0 = the node's default */
  uint64_t expire_at_ms;    /* PUT: the key's deadline, wall ms (0 = none; without
                               DYNA_REQ_KEEPTTL a PUT drops any earlier one) */
  /* TYPED: the resolved command (the runtime's dyna_typed_find; a test may pass its
   * own) and its arguments, argv[0] the command's name, argv[1] the key (== key).
   * Borrowed for the call; a forward carries the name, resolved again there. */
  const struct dyna_typed_cmd *cmd;
  size_t argc;
  const uint8_t *const *argv;
  const size_t *argl;
  const struct dyna_scan_spec *scan; /* SCAN: how to list (core/scan.h); borrowed */
} dyna_req_t;

typedef struct dyna_node_reply {
  uint64_t req_id;
  dyna_op_t op;
  int status;      /* 0 or a DYNA_E* code */
  char msg[96];    /* detail for errors, e.g. "1 of 2 replicas answered" */
  dyna_obj_t obj;  /* GET/LOCAL: the merged object (empty when absent) */
  dyna_ctx_t ctx;  /* GET/LOCAL: its context; PUT/DEL: the context after the write */
  int existed;     /* PUT/DEL: a live value existed before the write */
  int wrote;       /* the reply acknowledges a write (needs the commit) */
  uint64_t wseq;   /* when wrote: it may leave once the store's writes up to this number
                      are durable (core/durable.h; 0: it depends on no write here) */
  dyna_buf_t resp; /* TYPED, SCAN, DBSIZE, FLUSH: the command's RESP answer (owned: freed by dyna_node_reply_clear) */
  dyna_buf_t enc;  /* GET with DYNA_REQ_ENCODED: when not empty, the merged object as its
                      encoded bytes, checked, and obj is empty (owned, as resp) */
  dyna_obj_info_t enc_info; /* what dyna_obj_scan found in enc */
} dyna_node_reply_t;

typedef struct dyna_node dyna_node_t;

/* Opens a node over store (borrowed: it must outlive the node): loads the cluster state
 * kept in the store, or starts a one-node cluster. After a crash (no clean-shutdown mark)
 * it starts a new incarnation. The driver must commit the store before it feeds the node
 * any event, so that the incarnation is durable before early frames can leave.
 * *out is freed with dyna_node_free. Returns 0, DYNA_ECORRUPT (kept state unreadable) or
 * DYNA_ENOMEM. */
int dyna_node_open(const dyna_node_cfg_t *cfg, dyna_store_t *store, dyna_time_t now,
                   dyna_node_t **out);
void dyna_node_free(dyna_node_t *n);
/* A clean shutdown: marks it in the store (the driver commits afterwards), so that the
 * next start keeps the incarnation and writes no new clock entries, and goes on from the
 * last value stamp. */
void dyna_node_shutdown(dyna_node_t *n);
/* The driver's commit failed: the writes since the durable point are gone from the
 * store, among them versions this node made and may already have sent (early frames).
 * The node takes a new incarnation, so that it never makes those dots again for other
 * values (the store no longer remembers them), and records it in the store. Early frames
 * made from now on wait for that record to be durable (their wseq), so that no dot of
 * the new incarnation leaves before a crash could no longer take it again. The cluster
 * state is written again too: a change whose write was lost may have been gossiped. */
void dyna_node_writes_lost(dyna_node_t *n);
const dyna_node_cfg_t *dyna_node_cfg(const dyna_node_t *n);
/* Takes from cfg the options that may change while the node runs (dynad's CONFIG SET),
 * each read where it is used: r, w, read_all, request_timeout_ms, max_value_bytes, the
 * gossip, heartbeat, failure detector, anti-entropy, tombstone and handoff intervals and
 * handoff_batch_keys. The others (n, ring size, names, addresses, durable_reads, the
 * background budget) are fixed at open and left as they are. Returns 0, or DYNA_EINVAL
 * with nothing changed when r or w is not within 1..n or an interval is 0. Requests
 * already under way keep what they started with (their R, W and deadline). */
int dyna_node_set_runtime_cfg(dyna_node_t *n, const dyna_node_cfg_t *cfg);

/* The partition of a key (the core's one placement function; node_int.h has it too):
 * the runtime refuses multi-key commands whose keys are in two partitions (CROSSSLOT). */
uint32_t dyna_node_partition(const dyna_node_t *n, const uint8_t *key, size_t klen);

/* A hint that changes nothing: the keys (any number) are about to be read or written
 * through this node (a pipelined batch of commands), so its store may start loading the
 * memory of all of them at once (dyna_store_prefetch). */
void dyna_node_prefetch(dyna_node_t *n, const uint8_t *const *keys, const size_t *klens, size_t count);
/* The same for the keys of a run of peer frames about to be handed to
 * dyna_node_on_message one by one (a replica's writes and reads). Frames it cannot
 * decode, and types that name no stored key, it passes over. */
void dyna_node_prefetch_frames(dyna_node_t *n, const uint8_t *const *frames, const size_t *lens,
                               size_t count);

/* Submits a client request. Everything the request points to is copied or used before
 * the call returns. Returns 0 when the request was taken: exactly one reply will be
 * queued for it (possibly at once). Returns DYNA_ENOMEM when it was not taken: no reply
 * will come and the driver answers the client itself. */
int dyna_node_request(dyna_node_t *n, const dyna_req_t *req, dyna_time_t now);
/* Advances timers (request timeouts, gossip, handoff). */
void dyna_node_tick(dyna_node_t *n, dyna_time_t now);

/* Pops the oldest queued reply into *out (which the caller then owns: free with
 * dyna_node_reply_clear). Returns 1 when a reply was popped, 0 when the outbox is empty. */
int dyna_node_pop_reply(dyna_node_t *n, dyna_node_reply_t *out);
size_t dyna_node_replies_pending(const dyna_node_t *n);
void dyna_node_reply_clear(dyna_node_reply_t *r);
/* dyna_node_reply_clear, handing r's enc buffer back to n for a later GET's answer (as
 * dyna_node_frame_done does with frames), which saves an allocation per such GET. */
void dyna_node_reply_done(dyna_node_t *n, dyna_node_reply_t *r);
/* Turns r into an error reply with status err (keeps req_id and op). */
void dyna_node_reply_fail(dyna_node_reply_t *r, int err, const char *msg);

/* ---- Messages between nodes ----
 * The node queues encoded frames (proto/wire.h) addressed by node id; the driver
 * delivers them (looking the address up in the cluster state) and hands frames it
 * receives to dyna_node_on_message. Like replies, messages leave through the durability
 * gate (core/gate.h), so an acknowledgement never leaves before the write it
 * acknowledges is durable. */
typedef struct dyna_outmsg {
  uint64_t to;
  dyna_buf_t frame; /* owned by the receiver of the struct: dyna_node_frame_done (or
                       dyna_buf_free) */
  uint64_t wseq;    /* it may leave once the store's writes up to this number are
                       durable (core/durable.h): the write it acknowledges, or
                       DYNA_WSEQ_ALL (every write made before it) */
  uint8_t bulk;     /* 1: no request waits on it (anti-entropy, transfers and hints, read
                       repair, a LOCAL write's copy to another site): a driver may let it
                       wait behind the frames a request does wait on (runtime/peer.h) */
} dyna_outmsg_t;

int dyna_node_pop_msg(dyna_node_t *n, dyna_outmsg_t *out); /* 1 popped, 0 empty */
/* Frames that may leave *before* the commit (a coordinator replicating the version it
 * just made, so that the replicas' fsyncs overlap with its own). Drivers send these as
 * soon as the store write their wseq names is durable, which is at once except just
 * after a failed commit (dyna_node_writes_lost), even when the commit of their own
 * writes later fails. */
int dyna_node_pop_early(dyna_node_t *n, dyna_outmsg_t *out);
size_t dyna_node_msgs_pending(const dyna_node_t *n);
/* Takes back a popped frame whose bytes the driver has copied: its allocation is kept for
 * a later frame (a few hundred at most, each small), else freed. frame is left empty. */
void dyna_node_frame_done(dyna_node_t *n, dyna_buf_t *frame);
/* Handles one frame from node `from`. Returns 0, or DYNA_EPROTO for a frame that does
 * not decode (the driver should drop the connection); nothing is changed then. */
int dyna_node_on_message(dyna_node_t *n, uint64_t from, const uint8_t *frame, size_t len,
                         dyna_time_t now);
/* The driver's transport judgement: a connection to id is up or down. */
void dyna_node_set_reachable(dyna_node_t *n, uint64_t id, int up, dyna_time_t now);
/* Reachable = the transport is up and the failure detector (failure_detector.c) does not suspect it.
 * Unreachable replicas are not waited for; fallbacks take their writes. */
int dyna_node_is_reachable(const dyna_node_t *n, uint64_t id);
/* The failure detector's suspicion of id, phi * 1000 (0 for self or unknown). */
uint64_t dyna_node_phi_x1000(const dyna_node_t *n, uint64_t id);

/* Forces an anti-entropy exchange of partition p (UINT32_MAX: every partition). */
void dyna_node_repair(dyna_node_t *n, uint32_t p, dyna_time_t now);

/* ---- Membership (explicit admin actions) ---- */
/* Asks the member seed_id (whose id the driver learned in the handshake) to add this
 * node to its cluster; this node then adopts that cluster's ring. Called again while the
 * node is still joining, it adds seed_id to the members asked (up to
 * DYNA_JOIN_SEEDS_MAX; beyond that the oldest gives way): JOIN goes to every one of them
 * every second until one cluster's ring arrives. The seeds are kept in the store, so a
 * restart goes on asking them. Called once the node has joined: nothing when seed_id is
 * a member of its cluster already (not removed), else a new join with seed_id alone.
 * DYNA_EINVAL for the node's own id. */
#define DYNA_JOIN_SEEDS_MAX 8
int dyna_node_join(dyna_node_t *n, uint64_t seed_id, dyna_time_t now);
/* This node leaves: it stops owning partitions, hands its data off, then is REMOVED. */
int dyna_node_leave(dyna_node_t *n, dyna_time_t now);
/* Marks a (dead) member REMOVED, by name or hex id. DYNA_ENOTFOUND if unknown;
 * DYNA_EINVAL for this node itself, or a name two live members share (the driver lists
 * their ids: dyna_cluster_name_count). */
int dyna_node_remove(dyna_node_t *n, const char *who, dyna_time_t now);
const struct dyna_cluster *dyna_node_cluster(const dyna_node_t *n);
/* The home replicas of partition p (every site's, ring.h), at most DYNA_MAX_N into out;
 * returns the count. */
size_t dyna_node_replicas(const dyna_node_t *n, uint32_t p, uint64_t *out);
/* N: the home replicas of a key under the current ring (with sites, every site's count;
 * at most DYNA_MAX_N); a count R or W above it is refused. */
uint32_t dyna_node_nval(const dyna_node_t *n);
uint64_t dyna_node_id(const dyna_node_t *n);
/* The incarnation: 0 on a new node, one more after each start that follows a crash and
 * after each failed commit (dyna_node_writes_lost). INFO shows it. */
uint64_t dyna_node_incarnation(const dyna_node_t *n);
/* While joining: the id of the live member whose name this node has, by which a seed
 * refused it (two live nodes may not share a name); 0 otherwise. */
uint64_t dyna_node_join_refused_by(const dyna_node_t *n);
/* The cluster address of id when it is the last joiner this node refused (it is no
 * member, yet the answer that tells it why must reach it); NULL otherwise. */
const char *dyna_node_refused_addr(const dyna_node_t *n, uint64_t id);
/* Anti-entropy progress: of the partitions this node is a home replica of
 * (*replicated), how many an exchange found equal to another home replica's since this
 * node started (*matched). On a node rebuilt from empty (it took a dead member's place)
 * the first rises to the second as its replicas are filled. *forced: partitions whose
 * exchange was asked for (DYNA.ADMIN REPAIR, a join) and has not started yet, what
 * `dyna admin repair --wait` waits for. Cost O(Q * N). */
void dyna_node_aae_progress(const dyna_node_t *n, uint32_t *matched, uint32_t *replicated, uint32_t *forced);

/* Partition moves this node takes part in, for operators (GET /status's "transfers", the
 * dashboard), kept by moves.c: each partition it hands off (handoff.c: keys held when the
 * move began, sent, acknowledged; bytes; state), one record per partition, made when the
 * node first hands one off; and the handoff traffic it receives, by sender and partition,
 * in DYNA_MOVES_IN_MAX slots (the least recently updated replaced first). */
#define DYNA_MOVES_IN_MAX 64
typedef enum {
  DYNA_MOVE_WAITING = 1,   /* outgoing: data to move, a target not reachable yet */
  DYNA_MOVE_SENDING = 2,   /* outgoing: batches going out */
  DYNA_MOVE_DONE = 3,      /* outgoing: nothing of the partition left here */
  DYNA_MOVE_RECEIVING = 4  /* incoming: keys arrived from `from` (updated_ms: the last) */
} dyna_move_state_t;
typedef struct dyna_move {
  uint32_t partition;
  int state;               /* dyna_move_state_t; 0: no move */
  uint64_t from;           /* incoming: the sender */
  uint64_t keys_total;     /* outgoing: keys held here for it when the move began */
  uint64_t keys, bytes;    /* sent (outgoing, to all targets) or received (incoming) */
  uint64_t keys_done;      /* outgoing: acknowledged by every target and deleted here */
  uint64_t started_ms, updated_ms; /* monotonic */
} dyna_move_t;
/* The outgoing moves, one per partition (*out: ring size entries, or NULL and 0 before
 * the first), and the incoming slots (DYNA_MOVES_IN_MAX). State 0: none. */
size_t dyna_node_moves_out(const dyna_node_t *n, const dyna_move_t **out);
size_t dyna_node_moves_in(const dyna_node_t *n, const dyna_move_t **out);
/* Partitions this node holds data for but is no longer a home replica of: what its
 * handoff still has to move. Cost O(Q) store seeks. */
uint32_t dyna_node_handoff_pending(dyna_node_t *n);

/* Counters for INFO and tests. */
typedef struct dyna_node_stats {
  uint64_t gets, puts, dels, locals;
  uint64_t errors;
  uint64_t siblings_max; /* most siblings seen in one object read */
  uint64_t forwarded, replica_puts, replica_gets, read_repairs, noquorum;
  uint64_t read_retries; /* GETs that asked their remaining targets (a second wave) */
  uint64_t handoff_keys_sent, handoff_keys_deleted;
  uint64_t handoff_bytes;        /* handoff traffic sent: keys and objects, and the
                                    checks of what targets hold (HO_CHECK, HO_HAVE) */
  uint64_t handoff_keys_held;    /* keys handed off that every target held already */
  uint64_t handoff_stored_bytes; /* store keys and records of the keys handed off */
  uint64_t gossip_rounds; /* gossip intervals that ran (one random peer each) */
  uint64_t gossip_sent, gossip_received, ring_changes, bad_messages;
  uint64_t hints_stored, hints_delivered, sloppy_writes;
  uint64_t aae_exchanges, aae_keys_sent, aae_keys_repaired;
  uint64_t aae_bytes; /* anti-entropy payload sent: trees, bitmaps and objects */
  uint64_t tombstones_reaped, budget_waits;
  uint64_t budget_bytes;  /* bytes taken from the background budget (handoff, hints, anti-entropy) */
  uint64_t hints_bytes;   /* bytes of hints sent to their owners (handoff_bytes: partitions) */
  uint64_t acks_held;     /* handoff acks held back by admission control (node.c) */
  /* client requests this node took for keys it is a home replica of (local) or not
   * (remote: a client whose map was stale or which does not route by key) */
  uint64_t coordinated_local, coordinated_remote;
  /* joiners that took a dead namesake's place, and joiners refused because a member of
   * their name was alive (gossip.c) */
  uint64_t members_replaced, joins_refused;
} dyna_node_stats_t;
const dyna_node_stats_t *dyna_node_stats(const dyna_node_t *n);

/* The driver measured one foreground request this node served: us microseconds from its
 * arrival to its reply (core/admission.h). No output, no effect but on the background
 * budget's rate at the next window. */
void dyna_node_foreground_latency(dyna_node_t *n, uint64_t us);
/* The admission controller's state (rate, baseline, last p99, counts): for INFO. */
const struct dyna_admit *dyna_node_admission(const dyna_node_t *n);

#endif
