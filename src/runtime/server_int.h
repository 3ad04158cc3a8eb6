/* server_int.h: the runtime's shared state, for src/runtime only. */
#ifndef DYNA_SERVER_INT_H
#define DYNA_SERVER_INT_H
#include "runtime/conn.h"
#include "util/idmap.h"
#include "runtime/server.h"
#include "store/store.h"
#include "runtime/peer.h"
#include "runtime/site_lag.h"
#include "util/hist.h"

/* INFO commandstats: per command-table row (dyna_cmd_index), and errorstats: per error
 * word ("ERR", "WRONGTYPE"), counted by the dispatcher and the slot queue (cmd_info.c). */
#define DYNA_CMDSTAT_MAX 384
#define DYNA_ERRSTAT_MAX 32
#define DYNA_STAT_OPS (DYNA_OP_BATCH + 1) /* histograms by dyna_op_t */
typedef struct dyna_cmdstat {
  uint64_t calls, usec, rejected, failed;
} dyna_cmdstat_t;
typedef struct dyna_errstat {
  char word[32];
  uint64_t count;
} dyna_errstat_t;

typedef struct dyna_server_stats {
  uint64_t connections_received, connections_rejected, commands, protocol_errors;
  uint64_t commits, commit_errors, stalled_closed;
  uint64_t early_replies; /* read replies released before their batch was durable */
  uint64_t unheld_acks;   /* write replies released at once: their write was durable */
  uint64_t keyspace_hits, keyspace_misses; /* GET / MGET keys found / not found */
  uint64_t total_error_replies;            /* errors answered (errorstats' sum) */
  uint64_t net_input_bytes;                /* bytes read from clients */
  uint64_t budget_yields;     /* connections that yielded at the turn budget (conn.h) */
  uint64_t max_cmds_per_turn; /* the most commands one connection took in one turn */
  /* cmd_auth.c: logins refused, commands and keys refused by ACL, login answers held
     back by the failed-login delay and their total delay */
  uint64_t acl_denied_auth, acl_denied_cmd, acl_denied_key, auth_delayed, auth_delay_ms;
  dyna_cmdstat_t cmd[DYNA_CMDSTAT_MAX];
  dyna_errstat_t err[DYNA_ERRSTAT_MAX];
  size_t nerr;
  /* /metrics (http_metrics.c): client requests' latency here, from their submission to
   * the node to their reply (the coordinator's work, or the forward to it), by DYNA_OP_*;
   * and each commit's, from the batch handed to the store to its being durable. */
  dyna_hist_t req_hist[DYNA_STAT_OPS];
  dyna_hist_t commit_hist;
} dyna_server_stats_t;

typedef struct dyna_commit dyna_commit_t;

struct dyna_server {
  dyna_config_t cfg;
  uv_loop_t *loop;
  uv_tcp_t listener;    /* the plain client port (unless --listen's port is 0) */
  uv_tcp_t tls_listener; /* --tls-port (when not 0) */
  int listening, tls_listening; /* which of the two were opened */
  /* TLS contexts (runtime/tls.h; owned, NULL when unused): accepting clients on the TLS
   * port; accepting and dialling peers with --tls-cluster. */
  struct dyna_tls_ctx *tls_clients, *tls_peers_in, *tls_peers_out;
  uv_check_t check;
  uv_idle_t idle;       /* keeps the loop from blocking while the node has work queued */
  uv_timer_t timer;     /* stall checks */
  uv_timer_t tick;      /* node and peer timers */
  struct dyna_peers *peers; /* owned */
  struct dyna_http *http;   /* the HTTP port (runtime/http.h), owned; NULL without --http */
  struct dyna_events *events; /* what the event log lines compare with (events.c), owned */
  dyna_commit_t *commit;    /* group commit state (group_commit.c), owned */
  uv_signal_t sigterm, sigint;
  dyna_store_t *store;  /* owned */
  dyna_node_t *node;    /* owned */
  uint64_t trand;       /* the typed reads' PRNG state (cmd_typed.c; 0: not seeded yet) */
  uint64_t node_id;
  uint64_t join_refused_logged; /* the namesake last logged as refusing our join (on_tick) */
  conn_t *conns;        /* every open connection */
  size_t nconns;
  conn_t *dirty;        /* connections with replies to flush */
  conn_t *ready;        /* connections that yielded at the turn budget (conn.h), to run
                           in a later turn's check phase (conn.c) */
  uint64_t tick_us;     /* when the tick timer last fired (uv_hrtime, us): its lateness
                           next time is the loop's lag, reported as foreground latency */
  uint64_t turn;        /* loop turns so far (+1 at the end of each check phase): the
                           turn budgets' clock */
  dyna_idmap_t pend;  /* request id -> slot (ptr) and position in it (aux) */
  slot_t *free_slots;   /* the slot pool: finished slots kept for reuse (owned; conn.c) */
  size_t nfree_slots;
  uint64_t next_conn_id, next_req;
  uint64_t start_ms;
  uint64_t start_wall_s;    /* Unix time at start (INFO rdb_last_save_time) */
  char run_id[41];          /* 40 hex digits, new at each start (INFO run_id) */
  uint64_t ops_at_ms, ops_at_count; /* the last ops/sec sample: when, commands then */
  uint64_t ops_samples[16]; /* commands per second over the last samples (INFO) */
  dyna_site_lag_t lag[DYNA_SITES_MAX]; /* hints held here per site (site_lag.c) */
  size_t nlag;
  uint64_t lag_at_ms;       /* the last lag sample (dyna_server_now) */
  unsigned ops_next;
  int stopping;
  dyna_server_stats_t stats;
  struct dyna_auth *auth;   /* users and the failed-login delay (cmd_auth.c), owned */
  uint32_t test_bugs;   /* DYNA_TEST_BUGS (group_commit.c): deliberate bugs, tests only; 0 otherwise */
};

/* Milliseconds on the loop's clock (monotonic, cached per turn): for local timers. */
uint64_t dyna_server_now(const dyna_server_t *s);
/* Partition p's home replicas (out: DYNA_MAX_N), this node's site's first (site_order.c). */
size_t dyna_server_homes_site_first(dyna_server_t *s, uint32_t p, uint64_t *out);
/* The two clocks handed to the node (core/node.h, "Two clocks"): the loop's monotonic
 * time above for its timers, and CLOCK_REALTIME, read at the call, for its stamps. */
dyna_time_t dyna_server_time(const dyna_server_t *s);

/* ---- cmd_table.c, cmd_reply.c (the commands themselves: cmd_*.c) ---- */
/* Executes one parsed command of c (its arguments are at cmd->base + argo[i]): looks it
 * up in the command table, checks its arity, and runs its handler, which queues a slot
 * and submits requests or answers at once. QUIT drains c (conn.h). */
void dyna_cmd_dispatch(dyna_server_t *s, conn_t *c, const dyna_resp_cmd_t *cmd);
/* Starts a SLOT_STEP that reached the head of c's queue: submits its reads (conn.c). */
void dyna_cmd_step_start(dyna_server_t *s, conn_t *c, slot_t *slot);
/* Delivers reply r to position sub of slot (of connection c); each position once. */
void dyna_cmd_complete(dyna_server_t *s, conn_t *c, slot_t *slot, uint32_t sub,
                       const dyna_node_reply_t *r);

/* ---- group_commit.c: group commit (the commit I/O under core/gate.h) ---- */
/* Opens the group commit; -1 with a message in err (out of memory, a bad DYNA_TEST_BUGS). */
int dyna_commit_open(dyna_server_t *s, char *err, size_t errlen);
/* End of a loop turn: commit (or hand the batch over) and release what is durable. */
void dyna_commit_turn(dyna_server_t *s);
/* 1 when no commit work waits on the loop itself. */
int dyna_commit_idle(const dyna_server_t *s);
/* The driver committed the store itself (at start): every write so far is durable. */
void dyna_commit_durable_now(dyna_server_t *s);
void dyna_commit_close(dyna_server_t *s);
/* Routes r (a reply the runtime made itself, e.g. an admin command's OK) once every store
 * write made so far is durable; as an error if they were lost. Takes r's contents. */
void dyna_commit_reply_after_writes(dyna_server_t *s, dyna_node_reply_t *r);
void dyna_commit_free(dyna_server_t *s);

/* ---- cmd_info.c: counters INFO shows ---- */
/* Counts the error reply line at p (n bytes, "-WORD message\r\n") under its word. */
void dyna_stats_error_reply(dyna_server_t *s, const uint8_t *p, size_t n);
/* A reply of the command-table row index idx left (slot_t.stat): counts a failure. */
void dyna_stats_reply(dyna_server_t *s, uint32_t idx, const dyna_buf_t *out);

/* CONFIG RESETSTAT: the counters above start again from zero. */
void dyna_stats_reset(dyna_server_t *s);
/* At open: the run id, the start time. Each tick: the ops/sec sample. */
void dyna_stats_start(dyna_server_t *s);
void dyna_stats_tick(dyna_server_t *s);
/* Hints this node holds for other nodes, counted by walking the store's hint space up to
 * DYNA_HINTS_COUNT_MAX (INFO hints_waiting, /metrics dyna_hints_pending). */
#define DYNA_HINTS_COUNT_MAX 100000
uint64_t dyna_hints_waiting(dyna_server_t *s);

/* ---- server.c ---- */
/* (Re)starts the stall check timer at a period from cfg.stall_timeout_ms. */
void dyna_server_stall_timer(dyna_server_t *s);
/* Delivers a node reply to its connection's slot. */
void dyna_server_route_reply(dyna_server_t *s, dyna_node_reply_t *r);
/* Writes out every connection with new output. */
void dyna_server_flush(dyna_server_t *s);

#endif
