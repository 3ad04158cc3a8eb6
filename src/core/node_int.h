/* node_int.h: the node's internal state, shared by node.c (lifecycle, outboxes,
 * dispatch), coord.c (quorum state machines), gossip.c (membership) and handoff.c
 * (partition transfer). Not part of any API. */
#ifndef DYNA_NODE_INT_H
#define DYNA_NODE_INT_H
#include "core/admission.h"
#include "core/cluster.h"
#include "util/idmap.h"
#include "core/node.h"
#include "core/replica.h"
#include "proto/wire.h"


/* A coordinator state machine: one client GET/PUT/DEL, or a forwarded write. */
typedef enum { FSM_GET = 1, FSM_PUT, FSM_FWD } fsm_kind_t;

#define FSM_KEY_INLINE 64 /* keys up to this length live in the state machine itself */

typedef struct fsm {
  struct fsm *prev, *next;  /* the node's list, for timeouts */
  uint64_t id;              /* request id on the wire */
  fsm_kind_t kind;
  dyna_op_t op;
  uint64_t client_req;      /* driver's request id; 0 when origin_node is set */
  uint64_t origin_node;     /* a forwarded write: answer this node ... */
  uint64_t origin_req;      /* ... with this request id */
  uint8_t *key;             /* owned, or key_inline when klen <= FSM_KEY_INLINE */
  size_t klen;
  uint32_t part;            /* the key's partition (the ring's size never changes) */
  uint64_t deadline_ms;
  uint32_t need;            /* R or W */
  uint32_t nt;              /* targets (including self when a replica) */
  uint32_t nasked;          /* target[0..nasked) were asked; GET: the rest wait for a
                               second wave (coord.c), PUT and FWD: always nt */
  uint64_t retry_ms;        /* GET: from then on a tick asks the targets not yet asked */
  uint64_t target[DYNA_MAX_N];
  uint64_t hint[DYNA_MAX_N];    /* a fallback target: the home replica it stands in for */
  uint8_t answered[DYNA_MAX_N]; /* 0 waiting, 1 ok, 2 failed */
  int8_t tsite[DYNA_MAX_N];     /* the site (ring index) of each target, -1 unknown */
  uint32_t quorum;              /* 0: need counts any target; DYNA_QUORUM_LOCAL/EACH */
  int my_site;                  /* LOCAL: the coordinator's site */
  uint8_t site_need[DYNA_SITES_MAX]; /* LOCAL/EACH: answers needed from each site */
  dyna_obj_t got[DYNA_MAX_N];   /* FSM_GET: what each target returned, unless same[i] */
  uint8_t same[DYNA_MAX_N];     /* FSM_GET: 1 when target i returned obj as it stands (got[i]
                                   is then empty; coord.c get_answer, unshare) */
  uint32_t ok, failed;
  int err;                  /* the first error a replica answered with (for the message) */
  int replied;
  dyna_obj_t obj;           /* GET: merged so far; PUT: the version written, unless it
                               was left as bytes (coord.c start_put: then empty) */
  dyna_ctx_t ctx;           /* PUT left as bytes: the reply's context, made from them
                               (when ctx_made; owned, moved to the reply) */
  int ctx_made;
  int ctx_rc;               /* making it failed (no memory): the reply's error */
  uint64_t wseq;            /* PUT: the number of its local write (core/durable.h) */
  int existed;
  int nowrite;              /* a typed write that changed nothing: answered at once */
  int acked;                /* PUT: answered with success */
  int no_ctx;               /* DYNA_REQ_NOCTX: the reply carries no context */
  dyna_buf_t resp;          /* TYPED: the command's RESP answer (owned) */
  dyna_buf_t raw;           /* GET: this node's own answer as stored bytes, not decoded yet,
                               while raw_pending: compared with the next answer's bytes
                               (coord.c get_answer_bytes). Owned; kept for the next request */
  int raw_pending;          /* raw holds target raw_idx's answer (counted in ok, same[]),
                               and every good answer so far had the same bytes */
  uint32_t raw_idx;
  int raw_checked;          /* raw's bytes passed dyna_obj_scan (raw_info) */
  dyna_obj_info_t raw_info;
  int encoded;              /* GET: DYNA_REQ_ENCODED with NOCTX (the reply may carry raw) */
  uint8_t key_inline[FSM_KEY_INLINE];
} fsm_t;

#define FSM_FREE_MAX 1024 /* finished state machines kept for reuse (coord.c): a loop turn
                            of 50 clients x 16 pipelined requests starts ~800 */

/* A batch of objects being sent to other nodes as merge-PUTs, deleted here once every
 * target acknowledged (transfer.c). Partition handoff and hint delivery each run one. */
typedef struct xfer_item {
  dyna_space_t space;       /* where the source record lives (OBJ or HINT) */
  uint8_t *skey;            /* its store key in that space (owned) */
  size_t sklen;
  uint8_t *rec;             /* the record as read, compared before deleting (owned) */
  size_t reclen;
  uint32_t partition;
  uint32_t nt;
  uint64_t target[DYNA_MAX_N];
  uint32_t acked;           /* bitmask of targets that acknowledged (duplicates count once) */
} xfer_item_t;

typedef struct xfer {
  int active;
  size_t nitems, cap;
  xfer_item_t *items;
  uint32_t failed;
  uint64_t first_req;       /* item i, target t: first_req + i * DYNA_MAX_N + t */
  uint64_t deadline_ms;
} xfer_t;

/* Which buckets of the partition being handed off each target lacks (handoff.c): asked
 * with HO_CHECK before the partition's first batch, so that a key goes only to the home
 * replicas whose anti-entropy bucket differs from this node's (after a join, the new
 * home: the others hold it already). */
#define DYNA_MK_BUCKETS 256
#define DYNA_MK_BITMAP_BYTES (DYNA_MK_BUCKETS / 8)
typedef enum { HO_CHECK_NONE = 0, HO_CHECK_ASKING, HO_CHECK_KNOWN } ho_check_state_t;
typedef struct ho_check {
  int state;                /* ho_check_state_t */
  uint32_t partition;
  uint32_t nt;
  uint64_t target[DYNA_MAX_N];
  uint8_t need[DYNA_MAX_N][DYNA_MK_BITMAP_BYTES]; /* per target: buckets to send it */
  uint64_t mine[DYNA_MK_BUCKETS]; /* this node's tree of the partition when asked: a key
                               whose bucket changed since (a write that reached this
                               node after) goes to every target */
  uint32_t pending;         /* targets that have not answered (bitmask) */
  uint64_t req;             /* the HO_CHECK's request number, echoed by HO_HAVE */
  uint64_t asked_ms;        /* when it went out: answers are trusted HO_CHECK_TRUST_MS */
} ho_check_t;
#define HO_CHECK_TRUST_MS 30000u

/* Partition handoff: the sweep over partitions this node holds but no longer replicates. */
typedef struct handoff {
  uint32_t cursor;          /* next partition to consider */
  uint32_t sending;         /* the partition of the batch in flight (x.active) */
  uint32_t scanned;         /* partitions looked at in this sweep */
  int found_foreign;        /* this sweep found data to move */
  uint64_t sweep_ring;      /* ring version when this sweep began */
  uint64_t next_ms;
  xfer_t x;
  size_t slice;             /* the next batch's bytes at most: halved after a batch whose
                               acks were held back (a receiver slowing us, node.c), doubled
                               back after a prompt one, within dyna_budget_slice (0: that) */
  uint64_t batch_ms;        /* when the batch in flight left */
  ho_check_t chk;           /* what the targets of the partition being moved hold */
  int stay;                 /* 1: the next tick goes on with partition stay_p (its last
                               batch moved keys), before the sweep */
  uint32_t stay_p;
} handoff_t;
#define DYNA_HANDOFF_SLOW_MS 100u /* a batch acknowledged later than this was held back */

/* Hinted handoff: delivery of the hints this node holds. */
typedef struct hints {
  uint32_t cursor;          /* next partition whose hints to look at */
  uint32_t rush;            /* partitions still to sweep without pausing (a peer came back) */
  uint64_t next_ms;
  xfer_t x;
  int any;                  /* 0: the HINT space is known to be empty (replica.h: hints);
                               1 from the start, after lost writes and at every hint
                               written, until a tick finds the space empty */
} hints_t;

/* Background byte budget shared by handoff, hint delivery and anti-entropy; its rate is
 * the admission controller's (admission.h). */
typedef struct budget {
  int64_t tokens;
  uint64_t tokens_ms;
  dyna_admit_t admit;
} budget_t;

/* An acknowledgement of a handoff PUT held back while this node's own admission
 * controller has the budget cut (node.c: dyna_budget_hold_ack): the sender, which waits
 * for it before its next batch, slows to what this node takes. */
typedef struct held_ack {
  uint64_t to, req, wseq, due_ms;
  int32_t status;
} held_ack_t;
#define DYNA_HELD_ACKS_MAX 1024u
#define DYNA_HELD_ACK_MAX_MS 1000u /* at most, and at most 2 request timeouts */

struct merkle;

/* A FIFO ring of outgoing frames. */
typedef struct msgq {
  dyna_outmsg_t *m;
  size_t cap, head, len;
  uint64_t pushed, popped;  /* asserted: pushed - popped == len */
} msgq_t;

struct dyna_node {
  dyna_node_cfg_t cfg;
  dyna_store_t *store; /* borrowed */
  dyna_node_stats_t stats;
  dyna_cluster_t cl;
  dyna_buf_t cl_bytes;   /* cl encoded, kept while cl.gen == cl_bytes_gen and cl_bytes_ok */
  uint64_t cl_bytes_gen; /* (gossip.c: a change is persisted and sent whole at once) */
  int cl_bytes_ok;
  uint64_t no_twin_gen;  /* replace_twin found no live namesake in cl at this gen ... */
  int no_twin_ok;        /* ... (gossip.c: looked for every round while fresh) */
  uint64_t rng;
  dyna_time_t now;    /* the clocks of the event being handled (node.h, "Two clocks") */
  uint64_t stamp_ms;  /* the last value stamp made (dyna_node_stamp) */
  /* Outboxes: FIFO rings. */
  dyna_node_reply_t *out;
  size_t out_cap, out_head, out_len;
  uint64_t out_pushed, out_popped; /* asserted: out_pushed - out_popped == out_len */
  msgq_t msgs;  /* frames that leave after the commit */
  msgq_t early; /* frames that may leave before it (dyna_node_pop_early) */
  dyna_buf_t *frame_pool; /* empty frame buffers for reuse (dyna_node_frame_done; owned) */
  size_t frame_npool;
  uint64_t incarnation; /* bumped at each start after a crash, and after a failed
                           batch (dyna_node_actor, dyna_node_writes_lost) */
  uint64_t inc_wseq;    /* the store write that recorded it: early frames wait for it */
  /* Coordinator state machines by wire request id. */
  dyna_idmap_t fsms;
  fsm_t *fsm_list;
  fsm_t *fsm_free;          /* reusable state machines (linked by next) ... */
  size_t fsm_nfree;         /* ... and how many */
  dyna_buf_t scratch;       /* replica.c's record buffer (dyna_node_replica) */
  dyna_buf_t enc;           /* coord.c's object encoding buffer */
  uint64_t next_req;
  dyna_idmap_t down; /* ids the driver reports unreachable (no transport) */
  dyna_idmap_t fdet; /* id -> failure-detector state (failure_detector.c) */
  struct fd_sched *fds; /* whom the failure detector pings past 32 members (failure_detector.c) */
  uint64_t next_gossip_ms;
  /* While joining: the members asked (in the order given), each sent JOIN every second
   * until we adopted a cluster's ring (ring_version > 0), so that one seed that died or
   * was removed before answering does not keep the node out. */
  uint64_t join_seeds[DYNA_JOIN_SEEDS_MAX];
  size_t njoin_seeds;
  uint64_t next_join_ms;
  /* The highest version of this node's own record, not VALID (leaving or removed), seen
   * in a peer's gossip: a leaving node becomes REMOVED only once a peer holds its current
   * (leaving) record, so that its leave cannot go unheard when it then shuts down. */
  uint64_t leave_heard_version;
  /* Each partition's home replicas as the last request for it found them (coord.c,
   * make_plan), kept until the cluster changes (cl.gen): working the list out again took
   * a tenth of a coordinator's instructions per request. Owned; DYNA_HOMES_MEMO entries,
   * allocated at the first request (NULL: none yet, or no memory: no memo). */
  struct dyna_homes_memo *homes_memo;
  uint64_t join_refused_by; /* dyna_node_join_refused_by */
  int fresh;                /* this run started on a new data directory (gossip.c) */
  uint64_t refused_id;      /* the last joiner this node refused, and its cluster address */
  char refused_addr[DYNA_ADDR_MAX]; /* (dyna_node_refused_addr) */
  handoff_t ho;
  hints_t hd;
  dyna_move_t *moves_out;              /* moves.c: [moves_out_n], the ring's size at the first move */
  uint32_t moves_out_n;
  dyna_move_t moves_in[DYNA_MOVES_IN_MAX];
  budget_t budget;
  held_ack_t *held;         /* acks held back, DYNA_HELD_ACKS_MAX slots (owned; NULL until
                               the first is held) */
  uint32_t nheld;
  struct merkle *mk; /* anti-entropy trees and exchange state (merkle.c) */
  uint32_t *epoch; /* per partition: bumped when this node drops the partition's data */
  /* Forwarded writes seen lately, so that a repeated FWD (a retry, a duplicated frame)
   * is not coordinated twice, which would make a second sibling of one write. */
  dyna_idmap_t fwd_seen;            /* key: mix of (origin node, request) */
  uint64_t fwd_ring[1024];          /* the same keys, oldest overwritten first */
  size_t fwd_next;
  struct scan_job *scan_jobs; /* key-space commands coordinated here (scan_fsm.c) */
  size_t nscan_jobs;
  struct flush_run *flush_runs; /* flushes of this node's store in progress (flush.c) */
};

/* node.c */
/* Takes the clocks of an event (every entry point calls it first). The monotonic clock
 * never goes backwards: a driver that feeds an earlier one is a bug (NEVER). */
void dyna_node_set_now(dyna_node_t *n, dyna_time_t now);
/* The stamp of a value written now: max(wall clock, last stamp), so that this node's
 * stamps never go backwards when its wall clock steps back (node.h, "Two clocks"). */
uint64_t dyna_node_stamp(dyna_node_t *n);
uint64_t dyna_node_rand(dyna_node_t *n);
uint64_t dyna_node_new_req(dyna_node_t *n);
/* Queues a message to node `to`; drops it (counted) if memory is short. It leaves once
 * every store write made so far is durable (wseq DYNA_WSEQ_ALL). */
void dyna_node_send(dyna_node_t *n, uint64_t to, const dyna_msg_t *m);
/* The same for a message that depends only on the writes numbered up to wseq (a
 * forwarded write's answer: its own write; 0: none here). */
void dyna_node_send_after(dyna_node_t *n, uint64_t to, const dyna_msg_t *m, uint64_t wseq);
/* dyna_node_send for a message no request waits on (dyna_outmsg_t.bulk). */
void dyna_node_send_bulk(dyna_node_t *n, uint64_t to, const dyna_msg_t *m);
/* The same for a frame that may leave before the commit: a coordinator's PUT of the
 * version it just made. Safe because its actor cannot be reused after a crash or a
 * failed batch (the incarnation in dyna_node_actor), so losing the local copy loses no
 * one's dot. It waits only for the write that recorded the current incarnation
 * (inc_wseq: durable long ago, except just after a failed batch). */
int dyna_node_send_early(dyna_node_t *n, uint64_t to, const dyna_msg_t *m, int bulk);
/* The frame just queued by dyna_node_send_early for prev_to (which returned 1: queued),
 * to `to` as well: the same bytes, copied rather than encoded again (a PUT to the next
 * replica). Both return 1 when the frame was queued, 0 when it was dropped (counted).
 * bulk: no request waits on this copy (dyna_outmsg_t.bulk). */
int dyna_node_send_early_again(dyna_node_t *n, uint64_t prev_to, uint64_t to, int bulk);
/* Queues a reply (the outbox slot must have been reserved). */
void dyna_node_push_reply(dyna_node_t *n, dyna_node_reply_t *r);
int dyna_node_reserve_reply(dyna_node_t *n);
/* Partition of a key, and whether this node is among its first N replicas. */
uint32_t dyna_node_partition(const dyna_node_t *n, const uint8_t *key, size_t klen);
/* The id this node writes dots under for partition p: its node id while the partition's
 * epoch and the node's incarnation are 0, else a hash of (node id, p, epoch,
 * incarnation). A node that dropped a partition's data (handoff), or crashed after
 * sending versions it had not yet made durable, thus never reuses a dot it made before. */
uint64_t dyna_node_actor(const dyna_node_t *n, uint32_t p);
/* 1 when id is a home replica of p. */
int dyna_node_is_home(const dyna_node_t *n, uint32_t p, uint64_t id);
/* The index of id's site in the ring (0 without sites; -1 for a non-member). */
int dyna_node_site_of(const dyna_node_t *n, uint64_t id);

/* coord.c */
void dyna_coord_request(dyna_node_t *n, const dyna_req_t *req);
void dyna_coord_on_message(dyna_node_t *n, uint64_t from, const dyna_msg_t *m);
void dyna_coord_tick(dyna_node_t *n);
void dyna_coord_free_all(dyna_node_t *n);

/* gossip.c */
int dyna_gossip_load(dyna_node_t *n);
void dyna_gossip_on_message(dyna_node_t *n, uint64_t from, const dyna_msg_t *m);
void dyna_gossip_tick(dyna_node_t *n);
/* Writes the cluster state to the store (again, after a failed commit lost it). */
void dyna_gossip_persist(dyna_node_t *n);
/* After a local change of the cluster state: fix the ring, persist, spread. */
void dyna_gossip_changed(dyna_node_t *n);
/* A leaving node with nothing left to hand off becomes REMOVED. */
void dyna_gossip_left(dyna_node_t *n);
/* 1 while this node asked to join and has not yet adopted the cluster's ring: it must
 * not coordinate writes then (its one-node ring would let it acknowledge alone). */
int dyna_gossip_joining(const dyna_node_t *n);

/* failure_detector.c: the failure detector */
void dyna_fdet_heard(dyna_node_t *n, uint64_t id);   /* any frame from id */
void dyna_fdet_reset(dyna_node_t *n, uint64_t id);   /* transport (re)established */
int dyna_fdet_suspect(const dyna_node_t *n, uint64_t id);
/* The ids other than self this node cannot reach now (a link down, or judged by the
 * detector: those dyna_node_is_reachable says 0 for), found in one walk of the two maps
 * rather than two look-ups per member: up to max of them into out, sorted by id.
 * Returns how many there are; more than max: out is not a list of them (the caller
 * asks dyna_node_is_reachable of each member instead). */
size_t dyna_fdet_unreachable(const dyna_node_t *n, uint64_t *out, size_t max);
uint64_t dyna_fdet_phi_x1000(const dyna_node_t *n, uint64_t id);
void dyna_fdet_tick(dyna_node_t *n);
void dyna_fdet_hearsay(dyna_node_t *n, uint64_t id); /* a peer's PING names id as unreachable */
void dyna_fdet_free(dyna_node_t *n);

/* The replica view of the store for partition p (actor, Merkle hook). */
void dyna_node_replica(dyna_node_t *n, uint32_t p, struct dyna_replica *rep);
/* The same for the one key the caller then reads or writes through rep, whose partition
 * p (returned) is worked out here once: rep->part_plus1 is set, so the replica calls
 * skip working it out again (a CRC16 of the key each, on every write's path). */
uint32_t dyna_node_replica_key(dyna_node_t *n, const uint8_t *key, size_t klen, struct dyna_replica *rep);
/* The same when the caller worked out p from the key itself. */
void dyna_node_replica_of(dyna_node_t *n, uint32_t p, struct dyna_replica *rep);
/* The full preference list of p (home replicas first, then fallbacks); returns count. */
size_t dyna_node_preflist(const dyna_node_t *n, uint32_t p, uint64_t *out, size_t max);
/* Background budget: 1 when `bytes` more may be sent now (and takes them). */
int dyna_budget_take(dyna_node_t *n, uint64_t bytes);
int dyna_budget_ok(dyna_node_t *n);
/* The most bytes one background batch should carry now: 1/64 of the admitted rate
 * (256 KiB at the default 16 MiB/s), at least DYNA_ADMIT_SLICE_MIN, so that a node
 * slowed by the admission controller also sends in smaller pieces, each of which the
 * foreground waits behind for less. */
size_t dyna_budget_slice(const dyna_node_t *n);
/* A handoff PUT of bytes arrived here and its ack a (for `to`, depending on the writes up
 * to wseq) is ready. The bytes count as background work here. While this node's
 * admission controller has its rate below the ceiling and its bucket is empty, the ack
 * is held for as long as the bucket takes to refill (at most DYNA_HELD_ACK_MAX_MS) and
 * 1 is returned (the caller sends nothing); else 0: send it now. */
int dyna_budget_hold_ack(dyna_node_t *n, uint64_t to, const dyna_msg_t *a, uint64_t wseq, uint64_t bytes);
/* 1 when this node's admission controller has its rate below the ceiling and its bucket
 * is empty: incoming background work should wait (merkle.c declines exchanges). Counted
 * in budget_waits. */
int dyna_budget_busy(dyna_node_t *n);
/* Sends the held acks that are due (node tick). */
void dyna_budget_release_acks(dyna_node_t *n);
/* Bumps and persists partition p's epoch (before this node drops data of p). */
void dyna_node_bump_epoch(dyna_node_t *n, uint32_t p);

/* scan_fsm.c: SCAN, KEYS, RANDOMKEY, DBSIZE, FLUSHALL (core/scan.h) */
typedef struct scan_job scan_job_t;
typedef struct flush_run flush_run_t;
void dyna_scan_request(dyna_node_t *n, const dyna_req_t *req);
/* SCAN, COUNT and FLUSH frames (a replica's work) and SCAN_RESP (a coordinator's). */
void dyna_scan_on_message(dyna_node_t *n, uint64_t from, const dyna_msg_t *m);
void dyna_scan_tick(dyna_node_t *n);
void dyna_scan_free_all(dyna_node_t *n);
/* The coordinator's own part of a FLUSH job is over (flush.c), err its result. */
void dyna_scan_flush_done(dyna_node_t *n, uint64_t req, int err);

/* flush.c: a FLUSHALL's tombstones on this node, a few partitions per event */
/* Starts flushing this node's store for the sender `to` of a FLUSH frame (its id req),
 * or for this node's own FLUSH job (to 0, req: the job's round), and runs the first step
 * at once. Returns 1 when it goes on (at ticks; the answer comes then), 0 when it is
 * over already or could not start: *err is then its result (0, or an error such as
 * DYNA_ENOMEM) and nobody was answered. */
int dyna_flush_begin(dyna_node_t *n, uint64_t to, uint64_t req, int *err);
void dyna_flush_tick(dyna_node_t *n);
void dyna_flush_free_all(dyna_node_t *n);

/* transfer.c */
int dyna_xfer_add(dyna_node_t *n, xfer_t *x, dyna_space_t space, const uint8_t *skey, size_t sklen,
                  const uint8_t *rec, size_t reclen, uint32_t partition, const uint64_t *targets,
                  uint32_t nt);
/* Sends every item; returns bytes sent. Finishes at once when nothing is awaited. */
uint64_t dyna_xfer_send(dyna_node_t *n, xfer_t *x);
/* 1 when m (a PUT_ACK) belonged to x; finishes the batch when complete. */
int dyna_xfer_on_ack(dyna_node_t *n, xfer_t *x, uint64_t from, const dyna_msg_t *m);
void dyna_xfer_expire(dyna_node_t *n, xfer_t *x);
void dyna_xfer_clear(xfer_t *x);

/* moves.c: the move records (node.h, dyna_move_t) */
/* p's outgoing move, begun (keys_total counted: one walk of the partition) when it was
 * none or done; NULL when out of memory (nothing is then recorded). */
dyna_move_t *dyna_move_out(dyna_node_t *n, uint32_t p);
/* p's outgoing move, if any, is done (nothing of it is left here, or it is ours again). */
void dyna_move_end(dyna_node_t *n, uint32_t p);
/* Counts a handoff PUT of bytes received from `from` for partition p. */
void dyna_move_in(dyna_node_t *n, uint64_t from, uint32_t p, uint64_t bytes);
void dyna_moves_free(dyna_node_t *n);

/* handoff.c */
int dyna_handoff_load_epochs(dyna_node_t *n);
/* 1 when partition p has any object in this node's store (one seek). */
int dyna_node_has_objects(dyna_node_t *n, uint32_t p);
void dyna_handoff_tick(dyna_node_t *n);
int dyna_handoff_on_ack(dyna_node_t *n, uint64_t from, const dyna_msg_t *m);
/* transfer.c deleted a handed-off record (OBJ space: only handoff sends those): the
 * check's copy of this node's tree follows, so that the deletion does not read as a
 * write that came after the check. */
void dyna_handoff_deleted(dyna_node_t *n, uint32_t p, const uint8_t *skey, size_t sklen, const uint8_t *rec,
                          size_t reclen);
/* HO_HAVE: a target's answer to this node's HO_CHECK. */
void dyna_handoff_on_have(dyna_node_t *n, uint64_t from, const dyna_msg_t *m);
void dyna_handoff_free(dyna_node_t *n);

/* hints.c */
void dyna_hints_tick(dyna_node_t *n);
/* A peer came back: sweeps every partition's hints at once instead of a few per interval. */
void dyna_hints_rush(dyna_node_t *n);
int dyna_hints_on_ack(dyna_node_t *n, uint64_t from, const dyna_msg_t *m);
void dyna_hints_free(dyna_node_t *n);

/* merkle.c */
int dyna_merkle_open(dyna_node_t *n);
void dyna_merkle_free(dyna_node_t *n);
void dyna_merkle_on_change(void *node, uint32_t partition, const uint8_t *skey, size_t sklen,
                           uint64_t h_old, uint64_t h_new);
void dyna_merkle_tick(dyna_node_t *n);
void dyna_merkle_on_message(dyna_node_t *n, uint64_t from, const dyna_msg_t *m);
/* Schedules an exchange of partition p (or of every partition when p is UINT32_MAX). */
void dyna_merkle_force(dyna_node_t *n, uint32_t p);
/* Schedules an exchange of every partition this node and peer both replicate. */
void dyna_merkle_force_shared(dyna_node_t *n, uint64_t peer);
/* The partitions this node replicates under the current ring, ascending (*count of
 * them); kept by anti-entropy until the ring changes. NULL when it has no list (no
 * anti-entropy state, or short of memory): the caller walks every partition. */
const uint32_t *dyna_merkle_mine(dyna_node_t *n, uint32_t *count);
/* A peer heard again after a silence or a link down (failure_detector.c, node.c): what
 * it may have missed, and what this node may have missed, goes first (node.c). */
void dyna_node_peer_back(dyna_node_t *n, uint64_t peer);
/* Forgets every tree (each is built again from the store when next needed): after a
 * failed commit the store lost writes the trees had counted (dyna_node_writes_lost). */
void dyna_merkle_forget(dyna_node_t *n);
/* For handoff checks (handoff.c): a store key's bucket; this node's tree of p
 * (DYNA_MK_BUCKETS hashes, owned by merkle.c, valid until the next event; NULL when it
 * cannot be built) and a tree's root; the buckets (bitmap, DYNA_MK_BITMAP_BYTES) where
 * the tree `theirs` (DYNA_MK_BUCKETS u64le hashes, len bytes) differs from `mine`
 * (0, or DYNA_EPROTO for a wrong length); and the answer to a HO_CHECK. */
unsigned dyna_merkle_bucket(const uint8_t *skey, size_t sklen);
const uint64_t *dyna_merkle_tree(dyna_node_t *n, uint32_t p);
uint64_t dyna_merkle_root(const uint64_t *tree);
int dyna_merkle_diff(const uint64_t *mine, const uint8_t *theirs, size_t len, uint8_t *bitmap);
void dyna_merkle_on_check(dyna_node_t *n, uint64_t from, const dyna_msg_t *m);

/* An empty buffer for frames or a GET's own answer: one handed back (dyna_node_frame_done,
 * dyna_node_reply_done) when there is one, else a new empty one. */
void dyna_node_buf_take(dyna_node_t *n, dyna_buf_t *b);

#endif
