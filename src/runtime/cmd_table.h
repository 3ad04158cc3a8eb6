/* cmd_table.h: dynad's command table, one row per command, and what every command
 * family (cmd_string.c, cmd_dyna.c, cmd_server.c, cmd_command.c) shares: the arguments,
 * the row, and the ways to answer.
 *
 * A row says everything about a command that does not need its code: name, arity,
 * flags, key positions, ACL categories, docs, and its handler. The dispatcher
 * (dyna_cmd_dispatch) finds the row in O(1) (a hash index built once over the names),
 * checks the arity from it (exact, or a minimum), and calls the handler; a handler
 * checks only what an arity cannot say (MSET's pairs, SET's options, PING's optional
 * message), as Redis's own handlers do. COMMAND, COMMAND INFO, COMMAND DOCS, COMMAND LIST and COMMAND
 * GETKEYS are answered from the rows (cmd_command.c).
 *
 * A container (CONFIG, CLIENT, CLUSTER, COMMAND, DYNA.ADMIN) has a sub-table of rows named
 * "parent|sub", as Redis 7 names them; the dispatcher looks up argv[1] there, checks
 * the subcommand's arity and calls its handler (the container's own handler, if any,
 * runs when no subcommand is given: COMMAND).
 *
 * To add a command: write its handler in its family's file (one file per data type, as
 * Redis's t_set.c), declare it below, and add its row to cmd_table.c. */
#ifndef DYNA_CMD_TABLE_H
#define DYNA_CMD_TABLE_H
#include "runtime/server_int.h"
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

/* The Redis version clients are told by INFO and HELLO (they enable features by it): the
 * 7.0 release whose commands, words and COMMAND INFO Dyna follows. */
#define DYNA_REDIS_VERSION "7.0.15"

/* A command's arguments: argv[0] is its name. Point into the connection's input buffer
 * (or the parser's scratch), valid during the handler only. */
typedef struct dyna_args {
  size_t argc;
  const uint8_t *base;
  const size_t *o, *l;
} dyna_args_t;

static inline const uint8_t *dyna_arg(const dyna_args_t *a, size_t i) { return a->base + a->o[i]; }
static inline size_t dyna_arg_len(const dyna_args_t *a, size_t i) { return a->l[i]; }
/* The arguments as the core takes them (dyna_targs_t, core/typed.h): *argv gets a
 * pointer to each (allocated here; the caller frees it with dyna_free), their lengths are
 * a->l. 0, or DYNA_ENOMEM with *argv NULL. */
int dyna_args_pointers(const dyna_args_t *a, const uint8_t ***argv);
/* 1 when argument i is word, ignoring case. */
static inline int dyna_arg_is(const dyna_args_t *a, size_t i, const char *word) {
  size_t n = strlen(word);
  return a->l[i] == n && strncasecmp((const char *)dyna_arg(a, i), word, n) == 0;
}
/* Copies argument i into out as a NUL-terminated string; -1 when it does not fit in
 * cap - 1 bytes. */
static inline int dyna_arg_str(const dyna_args_t *a, size_t i, char *out, size_t cap) {
  if (a->l[i] >= cap) return -1;
  memcpy(out, dyna_arg(a, i), a->l[i]);
  out[a->l[i]] = 0;
  return 0;
}

/* Command flags, as Redis 7 names them in COMMAND INFO (dyna_cmd_flag_name). */
enum {
  CMD_WRITE = 1u << 0,        /* may change data */
  CMD_READONLY = 1u << 1,     /* reads data, never changes it */
  CMD_DENYOOM = 1u << 2,      /* may grow memory use */
  CMD_ADMIN = 1u << 3,        /* administrative */
  CMD_PUBSUB = 1u << 4,
  CMD_NOSCRIPT = 1u << 5,     /* not from scripts */
  CMD_BLOCKING = 1u << 6,     /* may block the client */
  CMD_LOADING = 1u << 7,      /* allowed while loading */
  CMD_STALE = 1u << 8,        /* allowed on a stale replica */
  CMD_SKIP_MONITOR = 1u << 9,
  CMD_SKIP_SLOWLOG = 1u << 10,
  CMD_FAST = 1u << 11,        /* O(1) or O(log N), never blocks */
  CMD_NO_AUTH = 1u << 12,     /* allowed before AUTH */
  CMD_MAY_REPLICATE = 1u << 13,
  CMD_NO_MULTI = 1u << 14,    /* not inside MULTI */
  CMD_MOVABLEKEYS = 1u << 15, /* keys not at fixed positions */
  CMD_ALLOW_BUSY = 1u << 16,
  CMD_FLAG_BITS = 17
};

/* ACL categories, "@read" etc. in COMMAND INFO (dyna_acl_name). */
enum {
  ACL_KEYSPACE = 1u << 0,
  ACL_READ = 1u << 1,
  ACL_WRITE = 1u << 2,
  ACL_SET = 1u << 3,
  ACL_SORTEDSET = 1u << 4,
  ACL_LIST = 1u << 5,
  ACL_HASH = 1u << 6,
  ACL_STRING = 1u << 7,
  ACL_BITMAP = 1u << 8,
  ACL_HYPERLOGLOG = 1u << 9,
  ACL_GEO = 1u << 10,
  ACL_STREAM = 1u << 11,
  ACL_PUBSUB = 1u << 12,
  ACL_ADMIN = 1u << 13,
  ACL_FAST = 1u << 14,
  ACL_SLOW = 1u << 15,
  ACL_BLOCKING = 1u << 16,
  ACL_DANGEROUS = 1u << 17,
  ACL_CONNECTION = 1u << 18,
  ACL_TRANSACTION = 1u << 19,
  ACL_SCRIPTING = 1u << 20,
  ACL_BITS = 21
};

/* One key spec of Redis 7 (COMMAND INFO's key specs, COMMAND GETKEYS): where a group of
 * key arguments begins (an index) and how far it goes: a range (lastkey relative to the
 * beginning, or negative from the end; keystep; limit) or a count argument (keynum: the
 * count at begin + keynumidx, the keys from begin + firstkey on, every keystep). A row
 * whose keys are one range with one set of flags says it with first_key, last_key,
 * key_step and key_flags alone; a row whose keys Redis describes otherwise (two keys of
 * different flags, a numkeys argument, notes) lists its specs. */
typedef struct dyna_key_spec {
  const char *notes;  /* Redis's notes, or NULL */
  const char *flags;  /* space-separated ("RW access delete") */
  int begin;          /* begin_search index */
  int keynum;         /* 0: find_keys range, 1: find_keys keynum */
  int a, b, c;        /* range: lastkey, keystep, limit; keynum: keynumidx, firstkey, keystep */
} dyna_key_spec_t;

typedef struct dyna_cmd dyna_cmd_t;
/* A handler: answers (dyna_conn_answer_now, dyna_conn_answer_error) or opens a slot and submits
 * requests (cmd_reply.c). argc already satisfies the row's arity. */
typedef void dyna_cmd_fn_t(dyna_server_t *s, conn_t *c, const dyna_args_t *a);

struct dyna_cmd {
  const char *name;       /* lowercase; a subcommand's is "parent|sub" */
  int arity;              /* argc including the name: n exactly, or -n for at least n */
  uint32_t flags;         /* CMD_* */
  int first_key, last_key, key_step; /* positions (last -1: the last argument); 0 0 0: none */
  uint32_t acl;           /* ACL_* */
  const char *key_flags;  /* key spec flags, space-separated ("RW update"); NULL: no keys */
  const char *tips;       /* Redis 7 tips, space-separated ("request_policy:multi_shard") */
  const char *group;      /* docs: "string", "generic", "connection", "server", "dyna" */
  const char *since;      /* docs: the Redis version that added it, or Dyna's for DYNA.* */
  const char *complexity; /* docs: may be NULL */
  const char *summary;    /* docs: one line */
  dyna_cmd_fn_t *fn;      /* NULL only for a container always called with a subcommand */
  const dyna_cmd_t *subs; /* a container's sub-table (nsubs rows), else NULL */
  size_t nsubs;
  const dyna_key_spec_t *specs; /* its key specs when not the one range above, else NULL */
  size_t nspecs;
};

/* The top-level rows, in table order. */
size_t dyna_cmd_count(void);
const dyna_cmd_t *dyna_cmd_at(size_t i);
/* The row named name (any case) or NULL. Also takes "parent|sub" for a subcommand.
 * O(1): one hash and one compare (a subcommand adds a short scan of its parent's table). */
const dyna_cmd_t *dyna_cmd_lookup(const uint8_t *name, size_t len);
/* The subcommand of container parent named sub (any case), or NULL. */
const dyna_cmd_t *dyna_cmd_sub_lookup(const dyna_cmd_t *parent, const uint8_t *sub, size_t len);
/* A subcommand's own part of its name ("get" for "config|get"). */
const char *dyna_cmd_sub_name(const dyna_cmd_t *cmd);
/* Every row, subcommands included, has a stable index below dyna_cmd_rows() (INFO
 * commandstats counts by it); dyna_cmd_row is the row of an index. */
size_t dyna_cmd_rows(void);
size_t dyna_cmd_index(const dyna_cmd_t *cmd);
const dyna_cmd_t *dyna_cmd_row(size_t idx);
/* 1 when argc satisfies arity. */
static inline int dyna_cmd_arity_ok(int arity, size_t argc) {
  return arity >= 0 ? argc == (size_t)arity : argc >= (size_t)-arity;
}
/* Redis 7 names of one flag bit / ACL bit ("readonly", "@read"); NULL for an unused bit. */
const char *dyna_cmd_flag_name(uint32_t bit);
const char *dyna_acl_name(uint32_t bit);

/* ---- answering (cmd_reply.c) ---- */

/* Where an immediate answer goes: the output, or a ready slot when replies are still
 * pending before it (to keep order). */
dyna_buf_t *dyna_conn_answer_now(conn_t *c);
/* Answers the error line msg ("ERR ..."). */
void dyna_conn_answer_error(conn_t *c, const char *msg);
/* "ERR wrong number of arguments for 'name' command" (Redis 7's words); name as in the
 * table ("get", "config|get"). */
void dyna_conn_answer_arity_error(conn_t *c, const char *name);
/* "ERR syntax error" and its detail, if any. */
void dyna_conn_answer_syntax_error(conn_t *c, const char *detail);

/* Opens a slot of nsub node requests with consecutive ids on c's queue; NULL (and an
 * error answered) when memory is short. */
slot_t *dyna_cmd_slot_open(dyna_server_t *s, conn_t *c, slot_kind_t kind, uint32_t nsub);
/* A request of op on argument i as the key (the rest zeroed). */
void dyna_cmd_key_req(dyna_req_t *req, dyna_op_t op, const dyna_args_t *a, size_t i);
/* Submits request sub of slot; on failure completes that sub with the error. */
void dyna_cmd_submit(dyna_server_t *s, conn_t *c, slot_t *slot, uint32_t sub, dyna_req_t *req);

/* ---- read-then-write commands (cmd_reply.c; see conn.h) ---- */

/* Opens a SLOT_STEP of nkeys keys (arguments 1, 1 + kstep, ...) with 2 * nkeys request
 * ids (the reads, then the writes), keeping a copy of the arguments after the name for
 * step. Its reads are submitted (a quorum GET of each key, R as configured) once every
 * earlier slot of c is ready: at once when it is the head. NULL (error answered) when
 * memory is short. The caller sets opt, n1, n2, then calls dyna_cmd_step_go. */
slot_t *dyna_cmd_step_open(dyna_server_t *s, conn_t *c, dyna_step_fn_t *step, const dyna_args_t *a,
                           uint32_t nkeys, uint32_t kstep);
/* Starts slot now if it is the head of c's queue (else conn.c starts it in its turn). */
void dyna_cmd_step_go(dyna_server_t *s, conn_t *c, slot_t *slot);
/* Kept argument i (0: the first after the command name) and its length. */
const uint8_t *dyna_step_arg(const slot_t *slot, uint32_t i, size_t *len);
/* Counts request sub as done without sending it (a write the command does not make). */
void dyna_cmd_step_skip(slot_t *slot, uint32_t sub);
/* Submits the write of key i (request nkeys + i): a PUT of val (a DEL when del) with ctx,
 * the context its read returned, so that it supersedes exactly the versions read. */
void dyna_cmd_step_write(dyna_server_t *s, conn_t *c, slot_t *slot, uint32_t i, int del,
                         const dyna_ctx_t *ctx, const uint8_t *val, size_t vlen);

/* ---- the handlers, by family ---- */

/* cmd_string.c: the register as plain Redis strings */
dyna_cmd_fn_t dyna_cmd_get, dyna_cmd_set, dyna_cmd_del, dyna_cmd_exists, dyna_cmd_mget,
    dyna_cmd_mset, dyna_cmd_setnx, dyna_cmd_getset, dyna_cmd_msetnx, dyna_cmd_append, dyna_cmd_strlen,
    dyna_cmd_getrange, dyna_cmd_setrange, dyna_cmd_getdel, dyna_cmd_setex, dyna_cmd_psetex;
/* cmd_dyna.c: versioned access, cluster state, membership */
dyna_cmd_fn_t dyna_cmd_dyna_get, dyna_cmd_dyna_put, dyna_cmd_dyna_del, dyna_cmd_dyna_local,
    dyna_cmd_dyna_status, dyna_cmd_dyna_ring, dyna_cmd_dyna_admin_join,
    dyna_cmd_dyna_admin_leave, dyna_cmd_dyna_admin_remove, dyna_cmd_dyna_admin_repair;
/* cmd_server.c: connection and server */
dyna_cmd_fn_t dyna_cmd_ping, dyna_cmd_echo, dyna_cmd_quit, dyna_cmd_select, dyna_cmd_hello, dyna_cmd_reset,
    dyna_cmd_time, dyna_cmd_monitor, dyna_cmd_help;
/* cmd_info.c, cmd_config.c, cmd_client.c */
dyna_cmd_fn_t dyna_cmd_info;
dyna_cmd_fn_t dyna_cmd_config_get, dyna_cmd_config_set, dyna_cmd_config_resetstat, dyna_cmd_config_rewrite;
dyna_cmd_fn_t dyna_cmd_client_id, dyna_cmd_client_getname, dyna_cmd_client_setname, dyna_cmd_client_setinfo,
    dyna_cmd_client_info, dyna_cmd_client_list, dyna_cmd_client_kill, dyna_cmd_client_no_evict,
    dyna_cmd_client_no_touch;
/* cmd_keys.c: the key space (SCAN, KEYS, RANDOMKEY, DBSIZE, FLUSHALL, FLUSHDB) */
dyna_cmd_fn_t dyna_cmd_scan, dyna_cmd_keys, dyna_cmd_randomkey, dyna_cmd_dbsize, dyna_cmd_flushall,
    dyna_cmd_rename, dyna_cmd_renamenx, dyna_cmd_copy;
/* cmd_typed.c: every typed command (core/typed.h), resolved by name */
dyna_cmd_fn_t dyna_cmd_typed;
/* A typed read's answer into slot->out, from the merged object in r. */
void dyna_cmd_typed_read(dyna_server_t *s, slot_t *slot, const dyna_node_reply_t *r);
/* cmd_cluster.c: the Redis Cluster commands cluster-aware clients route by */
dyna_cmd_fn_t dyna_cmd_cluster_slots, dyna_cmd_cluster_shards, dyna_cmd_cluster_nodes, dyna_cmd_cluster_info,
    dyna_cmd_cluster_keyslot, dyna_cmd_cluster_myid, dyna_cmd_cluster_keysinslot, dyna_cmd_readonly;
/* cmd_multi.c: transactions (MULTI ... EXEC over core/batch.h) */
dyna_cmd_fn_t dyna_cmd_multi, dyna_cmd_exec, dyna_cmd_discard, dyna_cmd_watch, dyna_cmd_unwatch;
/* 1 when c is inside MULTI and cmd (NULL: unknown) is to be queued rather than run:
 * every command but EXEC DISCARD MULTI WATCH QUIT RESET. */
int dyna_txn_queueing(const conn_t *c, const dyna_cmd_t *cmd);
/* Queues the command a (row: its row, arity checked) in c's transaction, answering
 * +QUEUED, or refuses it (answered) and dooms the EXEC. */
void dyna_txn_queue(dyna_server_t *s, conn_t *c, const dyna_args_t *a, const dyna_cmd_t *row);
/* RESET: leaves MULTI (its queue dropped) and forgets every WATCH. */
void dyna_txn_reset(conn_t *c);
/* A command refused by the dispatcher (unknown, arity) inside MULTI: dooms the EXEC. */
void dyna_txn_error(conn_t *c);
/* cmd_auth.c: logins and users (runtime/auth.h has the dispatcher's check) */
dyna_cmd_fn_t dyna_cmd_auth, dyna_cmd_acl_whoami, dyna_cmd_acl_users, dyna_cmd_acl_list, dyna_cmd_acl_cat;
/* HELLO without AUTH on a connection not logged in: 1 with Redis's NOAUTH answered. */
int dyna_auth_hello_refused(dyna_server_t *s, conn_t *c);
/* Calls fn(ctx, a, i, flags) for each key argument i of the command line a (row cmd, arity
 * checked), as its key specs find them (cmd_command.c; COMMAND GETKEYS finds them so).
 * Returns the number of keys, or -1 when a key count argument is not a count the line
 * can hold (fn not called for the rest). */
typedef void dyna_cmd_key_fn_t(void *ctx, const dyna_args_t *a, size_t i, const char *flags);
long dyna_cmd_each_key(const dyna_cmd_t *cmd, const dyna_args_t *a, dyna_cmd_key_fn_t *fn, void *ctx);
/* cmd_command.c: the table, described */
dyna_cmd_fn_t dyna_cmd_command, dyna_cmd_command_count, dyna_cmd_command_info,
    dyna_cmd_command_docs, dyna_cmd_command_list, dyna_cmd_command_getkeys,
    dyna_cmd_command_getkeysandflags;

#endif
