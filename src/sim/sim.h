/* sim.h: shared types of dyna-sim, the deterministic cluster simulator.
 *
 * One process runs S real node state machines (src/core) over simulated parts:
 *
 *   sim.c       CLI, run loop, campaigns, experiments
 *   queue.c     the event queue: a binary heap ordered by (time, sequence number)
 *   net.c       the network: delay, loss, duplication, reordering, partitions, zones,
 *               and the transport's reachability judgement (dyna_node_set_reachable)
 *   world.c     the nodes: memory stores, open/crash/restart, one event per turn then
 *               commit and drain (as src/runtime/server.c does), ticks, membership
 *   workload.c  clients: shopping carts, blind sets, deletes; the model of what was
 *               acknowledged
 *   workload_types.c  --types: typed keys, their model and checks (types.h)
 *   churn.c     --experiment churn-types: typed state size under an hour of churn
 *   faults.c    the fault schedule of a run (partitions, crashes, churn)
 *   checks.c    healing, settling, final reads and the end-of-run checks
 *
 * Time is simulated milliseconds (w->now); nothing in a run reads the wall clock. Each
 * node sees two clocks derived from it (sim_node_time): a monotonic one, w->now plus a
 * per-node origin, and a wall clock, SIM_WALL_EPOCH_MS + w->now plus a per-node offset
 * that the clock fault skews and steps by an hour either way.
 * Every random choice comes from w->rng (rng.h). Every event handled is folded into
 * w->digest, so two runs of one seed can be compared by one number.
 */
#ifndef DYNA_SIM_H
#define DYNA_SIM_H
#include "core/gate.h"
#include "core/node.h"
#include "store/store.h"
#include "sim/types.h"
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Fault mix bits (--faults). */
#define SF_LOSS 0x1u      /* loss, reordering, delay spikes */
#define SF_PARTITION 0x2u /* partitions between node sets (and zones), then heal */
#define SF_CRASH 0x4u     /* crashes (some between a turn and its commit), restarts */
#define SF_CHURN 0x8u     /* a join, a leave, a crash followed by a removal */
#define SF_DUP 0x10u      /* duplicated frames (beyond TCP: not in "all", see docs) */
#define SF_DISKERR 0x20u  /* a node's next store write or commit fails (EIO); not in "all" */
#define SF_CLOCK 0x40u    /* per-node wall-clock skew, and steps of +-1 h (faults.c) */
#define SF_WIPE 0x80u     /* a node's disk dies and a fresh node takes its name (not in
                             "all": its draws would change every "all" seed's run) */
#define SF_SITE 0x100u   /* with --sites: the link between sites cut, then a whole site
                             lost (every node of one site crashes) and restarted (not in
                             "all") */
#define SF_ALL (SF_LOSS | SF_PARTITION | SF_CRASH | SF_CHURN | SF_CLOCK)

/* A simulated node's wall clock reads this at w->now = 0 (2026-01-01T00:00:00Z), plus its
 * offset: far enough from 0 that a step back of an hour stays a valid time. */
#define SIM_WALL_EPOCH_MS 1767225600000ull

typedef struct sim_opts {
  uint64_t seed;
  uint32_t nodes;        /* initial cluster size S */
  uint32_t keys;
  uint32_t clients;
  uint32_t ring_size;    /* Q */
  uint32_t zones;        /* 0: no zones declared */
  uint32_t sites;        /* --sites: 0 no sites declared; else node i is in site s(i % sites),
                            and n is the replicas of each site */
  uint64_t wan_ms;       /* --wan-ms: one-way delay added between sites (default 50) */
  uint32_t quorum;       /* --quorum local|each: every node's R and W (0: the counts r, w) */
  uint32_t n, r, w;
  uint64_t duration_ms;  /* simulated workload time */
  uint32_t faults;       /* SF_* */
  uint32_t bugs;         /* DYNA_BUG_* on every node */
  int verbose, quiet;
  int converge_probe;    /* measure time to converge after a mid-run partition heals */
  uint32_t joins;        /* extra joins under churn (default 1) */
  uint64_t aae_ms;       /* --aae-ms: anti-entropy interval (0: the core's default) */
  int strict;            /* --strict: no workarounds for known core issues */
  int read_all;          /* --read-all: every node's cfg.read_all (GETs ask all N) */
  int durable_reads;     /* --durable-reads: every node's cfg.durable_reads */
  const char *watch;     /* --watch KEY: trace every change of KEY on every disk */
  int routing;           /* --routing: SIM_ROUTE_RANDOM (default) or SIM_ROUTE_RING */
  int latency;           /* --latency: report client latency percentiles */
  double spikes;         /* --spikes PCT: share of frames (0..1) delayed 50-250 ms more */
  uint64_t commit_ms;    /* --commit-ms: pipelined group commit, each batch durable this
                            long after it starts (0: every turn commits at once) */
  uint32_t types;        /* --types: ST_* bits (sim/types.h); typed keys follow the
                            register keys */
  const char *types_arg; /* --types as given (for the replay command) */
  int txn;               /* --txn: about half of the typed writes go as one-command
                            transactions (DYNA_OP_BATCH, core/batch.h) */
  uint64_t frame_cost;   /* --frame-cost US_PER_KB: a node's CPU is busy 2 us plus this
                            much per KiB for every frame it sends or receives, and a frame
                            arriving while it is busy waits (0: frames cost nothing) */
  uint32_t fill;         /* --experiment admission: filler keys loaded before the join */
  const char *experiment; /* --experiment as given, for the replay command (NULL: none) */
  uint64_t budget;       /* --budget: every node's background budget ceiling, bytes/s
                            (0: the core's default) */
} sim_opts_t;

/* How a client picks the node it sends a request to (--routing). */
#define SIM_ROUTE_RANDOM 0 /* a random up member (a load balancer) */
#define SIM_ROUTE_RING 1   /* the first up node of the key's preference list (libdyna) */

typedef enum {
  EV_MSG = 1, /* a frame arrives: a = from, b = to, ia/ib incarnations at send */
  EV_TICK,    /* node a's timer (incarnation ia) */
  EV_CLIENT,  /* client a acts (x = its step number) */
  EV_REACH,   /* node a re-judges which peers it can reach (incarnation ia) */
  EV_FAULT,   /* fault a (faults.c) with argument x */
  EV_PROBE,   /* periodic measurement (converge probe) */
  EV_COMMIT   /* node a's batch in flight is durable (incarnation ia; --commit-ms) */
} sim_ev_type_t;

typedef struct sim_event {
  uint64_t t, seq;
  uint8_t type;
  uint32_t a, b;
  uint32_t ia, ib;
  uint64_t x;
  uint8_t *data; /* EV_MSG: the frame (owned by the event) */
  size_t len;
} sim_event_t;

typedef struct sim_queue {
  sim_event_t *ev;
  size_t n, cap;
} sim_queue_t;

typedef enum { SN_OFF = 0, SN_UP, SN_DOWN, SN_GONE } sim_node_state_t;

typedef struct sim_node {
  uint64_t id;
  char name[16];
  char zone[16];
  char dc[16];           /* its site ("" without --sites) */
  dyna_store_t *store;   /* the simulated disk: survives crashes (owned) */
  dyna_node_t *node;     /* NULL unless SN_UP (owned) */
  sim_node_state_t state;
  uint32_t inc;          /* incarnation: bumped at every (re)start */
  uint32_t grp;          /* partition group: nodes talk only within a group */
  int crash_mid_turn;    /* crash after the next event, before its commit */
  int removed;           /* an admin removed it: it never comes back */
  uint64_t watch_hash;   /* --watch: hash of KEY's object on this disk when last shown */
  int leaving;           /* asked to leave; stopped once REMOVED (and handed off) */
  int joining;           /* joined, has not adopted the cluster's ring yet */
  uint64_t join_ms;      /* when it (last) asked to join */
  uint64_t mono_base_ms; /* its monotonic clock reads w->now + this (from its id) */
  int64_t wall_off_ms;   /* its wall clock reads SIM_WALL_EPOCH_MS + w->now + this */
  dyna_gate_t gate;      /* the core's durability gate over its disk (disk.c): which of
                            its writes are durable, the answers waiting for them */
  int hung;              /* --experiment membership: stopped answering with its links up:
                            no ticks, frames to it vanish, the transport still sees it */
  int fly;               /* --commit-ms: a batch is in flight ... */
  uint64_t fly_upto;     /* ... holding the writes numbered up to this */
  uint64_t busy_us;      /* --frame-cost: its CPU is busy until this simulated us */
} sim_node_t;

typedef struct sim_work sim_work_t;

typedef struct sim_stats {
  uint64_t events, msgs_sent, msgs_delivered, msgs_dropped, msgs_duplicated;
  uint64_t crashes, crashes_mid_turn, restarts, partitions, joins, leaves, removes;
  uint64_t commit_failures;
  uint64_t clock_steps;   /* wall-clock steps of +-1 h (--faults clock) */
  uint64_t replaces;      /* fresh nodes started under a dead node's name (--faults wipe) */
  uint64_t type_frames[32], type_bytes[32]; /* frames sent by message type (--experiment traffic) */
} sim_stats_t;

typedef struct sim_world {
  sim_opts_t o;
  uint64_t rng;
  uint64_t now;
  uint64_t seq;
  uint64_t digest;
  sim_queue_t q;
  sim_node_t *nodes;     /* index = node number; ids are random */
  uint32_t nnodes, cap;
  uint64_t *byid;        /* (id, index) pairs sorted by id, for message routing */
  uint32_t nbyid;
  uint64_t *link_last;   /* cap*cap: last delivery time per link (FIFO unless reordering) */
  /* network parameters, set by faults.c */
  double loss, dup, reorder, spike;
  uint64_t detect_ms;    /* failure detection delay */
  int stopping;          /* workload stopped: clients issue nothing new */
  int read_only;         /* clients only read (converge probe after the heal) */
  sim_work_t *wl;
  sim_types_t *types;    /* --types: the typed keys' model (workload_types.c) */
  sim_stats_t st;
  int failed;            /* a check failed */
  uint32_t nfail;
  char fail_msg[40][200];
  int conv_detail;       /* sim_work_converged records the first differing key */
  int conv_applies;      /* the replica convergence check applies to this mix */
  const char *conv_note; /* why not, when it does not */
  struct sim_admit_rec *admit; /* --experiment admission: client latencies being kept
                            (admit.c; NULL otherwise) */
} sim_world_t;

/* ---- queue.c ---- */
void sim_queue_free(sim_queue_t *q);
/* Schedules e at time e->t (>= now) with the next sequence number; takes e->data. */
void sim_schedule(sim_world_t *w, sim_event_t *e);

/* disk.c: the commit I/O of a simulated node, as dynad's runtime/group_commit.c; both
 * run the core's durability gate (core/gate.h). */
/* Moves node i's outbox through its gate: answers whose writes are durable (or that
 * acknowledge no write) leave now, the others are held; lost ones fail. */
void sim_disk_outbox(sim_world_t *w, uint32_t i);
/* Ends node i's turn: commits (and releases what it covers), or with --commit-ms starts a
 * batch when none is in flight. */
void sim_disk_turn(sim_world_t *w, uint32_t i);
void sim_disk_event(sim_world_t *w, sim_event_t *e); /* EV_COMMIT */
/* Commits everything and releases every held answer (a clean stop). */
void sim_disk_flush(sim_world_t *w, uint32_t i);
/* Node i started, and its driver committed the store: every write so far is durable. */
void sim_disk_started(sim_world_t *w, uint32_t i);
/* A crash: drops every held answer, and every write not yet committed is lost. */
void sim_disk_crash(sim_node_t *s);
/* Pops the earliest event into *e; 0 when the queue is empty. */
int sim_queue_pop(sim_queue_t *q, sim_event_t *e);
uint64_t sim_queue_next_t(const sim_queue_t *q); /* UINT64_MAX when empty */

/* ---- digest (sim.c) ---- */
void sim_digest(sim_world_t *w, uint64_t a, uint64_t b, uint64_t c, const void *p, size_t len);
/* Records a failed check: counted, the first few messages kept, printed at the end. */
void sim_fail(sim_world_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sim_trace(sim_world_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- net.c ---- */
/* 1 when a and b are both up and in the same partition group. */
int sim_link_up(const sim_world_t *w, uint32_t a, uint32_t b);
/* Hands a frame from node index `from` to the network (takes frame->data). */
void sim_net_send(sim_world_t *w, uint32_t from, uint64_t to_id, dyna_buf_t *frame);
void sim_net_deliver(sim_world_t *w, sim_event_t *e);
/* After links changed: every up node re-judges reachability after the detection delay. */
void sim_net_topology_changed(sim_world_t *w);
void sim_net_reach(sim_world_t *w, uint32_t i, int immediate);
int sim_node_index(const sim_world_t *w, uint64_t id); /* -1 when unknown */

/* ---- admit.c (--experiment admission, the CPU model's driver side) ---- */
/* A client's request to node i was answered after ms simulated ms (kept while the
 * experiment records). */
void sim_admit_client(sim_world_t *w, uint32_t i, uint64_t ms);
/* The join-under-load measurement (docs/simulation.md, Admission control); returns -1
 * when the cluster did not settle. */
int sim_admit_probe(sim_world_t *w, uint64_t *node_ms, FILE *out);

/* ---- world.c ---- */
/* Home replicas of a key over all sites: n, times the sites (at most 16). */
uint32_t sim_nval(const sim_world_t *w);
int sim_world_init(sim_world_t *w, const sim_opts_t *o);
void sim_world_free(sim_world_t *w);
/* Node i's clocks now (core/node.h, "Two clocks"): what the driver hands its node. */
dyna_time_t sim_node_time(const sim_world_t *w, uint32_t i);
/* Adds a node (not started); returns its index. */
uint32_t sim_node_add(sim_world_t *w);
/* Starts (or restarts) node i; join_seed >= 0: it then joins that node's cluster. */
int sim_node_start(sim_world_t *w, uint32_t i, int join_seed);
void sim_node_crash(sim_world_t *w, uint32_t i);
/* Ends node i's turn: commit, then release replies and messages (or crash). */
void sim_node_turn_end(sim_world_t *w, uint32_t i);
void sim_node_tick(sim_world_t *w, sim_event_t *e);
/* Reads key's object from node s's disk (dyna_replica_read: what that replica would
 * answer, with any hints it holds merged in). out: initialised; replaced. */
int sim_disk_read(sim_world_t *w, sim_node_t *s, const char *key, size_t klen, dyna_obj_t *out);
/* The same, of what is committed on that disk (what a crash now would leave). */
int sim_disk_read_durable(sim_world_t *w, sim_node_t *s, const char *key, size_t klen, dyna_obj_t *out);
/* Node i, up and a member (not leaving/removed), or -1: a random such node. */
int sim_pick_up_node(sim_world_t *w);
/* 1 when node i is up and a member clients may use (not leaving, not joining). */
int sim_node_usable(const sim_world_t *w, uint32_t i);
/* Runs events until the queue's next event is after t_end; w->now = t_end after. */
void sim_run_until(sim_world_t *w, uint64_t t_end);
/* 1 when every up member agrees on a settled ring that has exactly the VALID members. */
int sim_ring_agreed(sim_world_t *w);
/* A node whose ring is the reference for the checks (-1 if none is up). */
int sim_reference_node(sim_world_t *w);

/* ---- workload.c ---- */
int sim_work_init(sim_world_t *w);
void sim_work_free(sim_world_t *w);
void sim_work_start(sim_world_t *w);
void sim_work_client(sim_world_t *w, sim_event_t *e);
/* A reply left node i (after a successful or failed commit). Takes r's contents. */
void sim_work_reply(sim_world_t *w, uint32_t i, dyna_node_reply_t *r);
/* Node i crashed: its outstanding client requests fail with an unknown outcome. */
void sim_work_node_lost(sim_world_t *w, uint32_t i);
/* Node i is gone for good with its disk (crashed and removed, or wiped): the acknowledged
 * writes whose last committed copy it held are marked lost with it, a loss W allows. */
void sim_work_disk_gone(sim_world_t *w, uint32_t i);
/* How many acknowledged writes the final checks found lost with their disks. */
uint64_t sim_work_lost_with_disks(const sim_world_t *w);
/* --quorum: node i ends a turn holding its ring; each PUT in flight keeps the fewest
 * home replicas every site had in the rings seen meanwhile (its durable-ack check). */
void sim_work_ring_seen(sim_world_t *w, uint32_t i);
void sim_work_report(sim_world_t *w, FILE *out);
/* --latency: percentiles of the simulated latency of successful reads and writes. */
void sim_work_latency_report(sim_world_t *w, FILE *out);
/* Final phase: one quorum read (R = N) of every key; returns when all answered. */
int sim_work_final_reads(sim_world_t *w);
/* End-of-run checks on the model (checks.c calls it). */
void sim_work_check(sim_world_t *w);
/* Read repair: 2 s after the final R = N reads, every replica of every key holds a
 * version that descends what its read returned. */
void sim_work_check_repaired(sim_world_t *w);
/* 1 when every key's replicas (first N of the reference ring) hold equal objects;
 * *bad gets the number of keys that do not. */
int sim_work_converged(sim_world_t *w, uint32_t *bad);
/* Writes submitted so far (register, blind, delete and typed). */
uint64_t sim_work_writes(const sim_world_t *w);

/* ---- faults.c ---- */
void sim_faults_plan(sim_world_t *w, uint64_t t0, uint64_t t1);
void sim_faults_fire(sim_world_t *w, sim_event_t *e);
/* Heals every partition and network fault and restarts crashed nodes. */
void sim_faults_heal_all(sim_world_t *w);

/* ---- churn.c ---- */
/* --experiment churn-types: an hour of churn on a set, a sorted set and a hash; prints
 * their encoded sizes over time. Returns 0 when each stayed under its bound. */
int sim_experiment_churn_types(uint64_t seed);

/* ---- members.c ---- */
/* --experiment membership: on the settled cluster of w, a join, a leave, a crash and a
 * hang one after another; prints how long each took to be known by every running node.
 * Returns 0, or -1 when the cluster did not settle between events. */
int sim_members_probe(sim_world_t *w, uint64_t *node_ms, FILE *out);

/* ---- checks.c ---- */
/* Heal, settle, read everything, check. Returns 0 when every check passed. */
int sim_checks_final(sim_world_t *w);

#endif
