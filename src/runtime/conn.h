/* conn.h: one client connection of dynad, the FIFO of slots of its pending commands,
 * and the pool the slots come from. Internal to the runtime (conn.c, server.c, cmd_*.c).
 *
 * A connection is in exactly one state:
 *
 *   accept ─▶ PAUSED ◀──────────────▶ READING        (back-pressure: too many replies
 *               │      output drained     │            unsent or commands in flight; or
 *               │                         │            its turn budget spent, below)
 *               │                         │ QUIT, protocol error, EOF with work pending
 *               └──────▶ DRAINING ◀───────┘
 *                           │ output written, queue empty (or write error, stall, stop)
 *                           ▼
 *                        CLOSING ─ uv_close ─▶ freed in the close callback
 *
 * Only a READING connection has libuv reading its socket; a PAUSED one is read again once
 * its output drains (and, after a yield, its buffered commands are taken); a DRAINING one takes no more commands and closes once everything
 * asked so far has been answered and written. Any state may go to CLOSING (write error,
 * stall timeout, shutdown).
 *
 * The slot queue: each command becomes one slot, appended in arrival order; a slot's
 * reply is ready when all its node requests answered (or at once, for PING and errors);
 * ready slots at the head are moved to the output in order, so pipelined replies keep
 * the order of the commands whatever order the node answers in.
 *
 * A read-then-write command (SET NX, APPEND, GETDEL, ...: cmd_string.c) is a SLOT_STEP:
 * its step function runs on each node reply and either finishes the slot or submits the
 * next request (the write, with the context the read returned). It starts (submits its
 * reads) only once every slot before it is ready, and the connection takes no further
 * command until it is ready itself (conn.stepping), so that it sees every earlier
 * command of its connection and every later one sees it, as on Redis. A login answer held
 * back by the failed-login delay (SLOT_HELD, cmd_auth.c) is the stepping slot the same
 * way, so no command is read until it leaves.
 *
 * The turn budget (fairness): in one loop turn a connection takes at most
 * DYNA_CONN_TURN_CMDS commands and, past its first, DYNA_CONN_TURN_BYTES bytes of input
 * (util/turn_budget.h). A connection with input left over then *yields*: it goes on the
 * server's ready list and stops reading (PAUSED), so what it buffers stays what it had
 * read; the check phase of each later turn takes its next share of commands, whether or
 * not its socket has new bytes (a TLS connection's decrypted input waits in `in` the
 * same way), and it reads again once its input is all taken. A yielded connection keeps
 * its slot queue: replies still leave in command order. */
#ifndef DYNA_CONN_H
#define DYNA_CONN_H
#include "util/buf.h"
#include "core/node.h"
#include "proto/resp.h"
#include "runtime/wqueue.h"
#include "util/turn_budget.h"
#include <stdint.h>
#include <uv.h>

struct dyna_server;

/* The longest connection name CLIENT SETNAME takes. */
#define DYNA_CONN_NAME_MAX 255

/* Commands of one connection waiting for replies before we stop reading from it. */
#define DYNA_CONN_MAX_INFLIGHT 256

/* The turn budget (above): commands, and input bytes, one connection may take in one
 * loop turn before the others get theirs. 128 commands are a few hundred microseconds
 * of small ones, or ~13 MB of replies of 100 KB GETs; a deep pipeline of small writes
 * is held by DYNA_CONN_MAX_INFLIGHT and the group commit before this. */
#define DYNA_CONN_TURN_CMDS 128
#define DYNA_CONN_TURN_BYTES (256u * 1024)

/* How a command's replies are put together once all its requests answered. */
typedef enum {
  SLOT_READY = 0,   /* out already holds the whole reply */
  SLOT_GET,         /* GET: the latest live value or nil */
  SLOT_MGET,        /* MGET: array of latest values */
  SLOT_SET,         /* SET / MSET: +OK when every put succeeded */
  SLOT_COUNT_LIVE,  /* EXISTS: count of keys with a live value */
  SLOT_COUNT_DEL,   /* DEL: count of keys that had a live value */
  SLOT_DGET,        /* DYNA.GET / DYNA.LOCAL: [context, [values]] */
  SLOT_DPUT,        /* DYNA.PUT / DYNA.DEL: the new context */
  SLOT_STEP,        /* read-then-write: slot->step folds each reply (cmd_reply.c) */
  SLOT_TWRITE,      /* a typed write (cmd_typed.c): the answer the coordinator made */
  SLOT_TREAD,       /* a typed read: the command's read over the merged object */
  SLOT_HELD         /* an answer held back (a failed AUTH's delay, cmd_auth.c): out is
                       whole; made SLOT_READY by the auth timer */
} slot_kind_t;

struct slot;
struct conn;
/* A SLOT_STEP's continuation: called once per completed request sub of slot (r its
 * reply, already recorded as an error in out when it failed); submits the next request
 * (dyna_cmd_submit) or counts it as not needed (dyna_cmd_step_skip), and writes the
 * answer into out. Must submit last: a failing submit completes at once, re-entering. */
typedef void dyna_step_fn_t(struct dyna_server *s, struct conn *c, struct slot *slot, uint32_t sub,
                            const dyna_node_reply_t *r);

/* SLOT_STEP request states, per sub (slot->subst). */
enum { SUB_IDLE = 0, SUB_SENT, SUB_DONE };

typedef struct slot {
  struct slot *next;   /* the connection's queue, or the pool's free list */
  struct conn *conn;   /* the connection whose queue holds this slot */
  slot_kind_t kind;
  uint64_t first_req;  /* requests first_req .. first_req + nsub - 1 (0: none) */
  uint32_t nsub, ndone;
  int64_t count;       /* SLOT_COUNT_*: running total */
  int err_set;         /* the first failing sub's error is in out */
  int pooled;          /* on the pool's free list (a put twice is a bug) */
  dyna_buf_t out;      /* the reply (or, for MGET, the elements so far) */
  dyna_buf_t *parts;   /* MGET: each key's encoded element, by position (owned);
                          SLOT_STEP: each key's encoded read context, when kept */
  /* SLOT_STEP only: requests 0 .. nkeys-1 read the keys, nkeys .. 2*nkeys-1 write them */
  dyna_step_fn_t *step;
  uint8_t *subst;      /* SUB_* of each request (owned) */
  uint32_t nkeys, kstep; /* key i is kept argument kfirst + i * kstep */
  uint32_t kfirst;     /* 0 unless the keys start later (SINTERCARD: after numkeys) */
  uint64_t expire_at_ms; /* its PUTs: the key's deadline (SET .. EX with NX/XX/GET) */
  uint32_t put_flags;  /* its PUTs: DYNA_REQ_KEEPTTL (SET .. KEEPTTL) */
  int started;         /* its reads were submitted */
  uint32_t opt;        /* the command and its parsed options (the family's own codes) */
  int64_t n1, n2;      /* parsed numeric arguments (offsets, ranges) */
  dyna_buf_t keep;     /* copies of the arguments after the name, end to end (owned) */
  size_t *keep_off;    /* argument i is keep[keep_off[i] .. keep_off[i + 1]) (owned) */
  uint32_t nkeep;
  const struct dyna_typed_cmd *tcmd; /* SLOT_TREAD: the command to run on the reply */
  dyna_buf_t targs;    /* SLOT_TREAD: its arguments (proto/wire.h's dyna_wire_put_args; owned) */
  uint32_t stat;       /* 1 + the command-table row index of its command (INFO commandstats),
                          0: none; its reply is counted when it leaves (conn.c) */
  int proto;           /* the connection's protocol when the command arrived: the shape of
                          its reply (a HELLO or RESET pipelined after it does not change it) */
  uint64_t submit_ns;  /* uv_hrtime() of its last request's submission (/metrics latency) */
} slot_t;

typedef enum {
  CONN_PAUSED = 0, /* open, not reading: output or commands in flight pile up */
  CONN_READING,    /* libuv reads its socket */
  CONN_DRAINING,   /* answering what was asked, then closing (QUIT, error, EOF) */
  CONN_CLOSING     /* uv_close called; memory freed in the close callback */
} conn_state_t;

typedef struct conn {
  uv_tcp_t tcp;              /* first member: handle->data is the conn */
  struct dyna_server *srv;
  struct conn *prev, *next;  /* the server's list */
  uint64_t id;
  conn_state_t state;
  dyna_buf_t in;             /* bytes not yet parsed into a whole command */
  dyna_resp_parser_t parser;
  slot_t *head, *tail;       /* commands waiting for replies, oldest first */
  size_t nslots;
  uint64_t last_req;         /* the last request id queued (ids grow along the queue) */
  dyna_wq_t wq;              /* replies ready to send / being written */
  int dirty;                 /* on the server's flush list */
  struct conn *next_dirty;
  uint64_t last_input_ms;    /* when bytes last arrived */
  slot_t *stepping;          /* a SLOT_STEP in the queue (its tail): no command is taken
                                until it has left the queue */
  int proto;                 /* DYNA_RESP2 (from accept) or DYNA_RESP3 (after HELLO 3;
                                RESET goes back to 2): the shape of every reply */
  /* What CLIENT LIST / CLIENT INFO show (cmd_client.c): */
  char name[DYNA_CONN_NAME_MAX + 1]; /* CLIENT SETNAME (or HELLO SETNAME): "" for none;
                                set through dyna_conn_set_name, which validates it */
  char lib_name[64], lib_ver[64]; /* CLIENT SETINFO LIB-NAME / LIB-VER ("" for none) */
  char addr[64], laddr[64];  /* the client's address and ours, "ip:port", from accept */
  uint64_t created_ms;       /* accepted (the loop's clock) */
  uint64_t last_cmd_ms;      /* its last command was taken */
  const char *last_cmd;      /* that command's table name ("client|list"; static), or NULL */
  int no_evict, no_touch;    /* CLIENT NO-EVICT / NO-TOUCH: kept and shown, nothing else */
  uint32_t cur_stat;         /* while a handler runs: 1 + its row index, given to the slots
                                it pushes (slot_t.stat); 0 otherwise */
  struct dyna_txn *txn;      /* MULTI's queue and WATCH's keys (cmd_multi.c; owned, NULL
                                until the first MULTI or WATCH) */
  /* Authentication (cmd_auth.c): */
  int auth_state;            /* DYNA_AUTH_FRESH (accept, RESET: decided at the next command:
                                the default user, logged in when it needs no password),
                                DYNA_AUTH_IN (as auth_user) or DYNA_AUTH_OUT (NOAUTH) */
  const struct dyna_acl_user *auth_user; /* the user logged in (the acl's), or NULL */
  uint32_t auth_fails;       /* failed logins in a row on this connection */
  slot_t *auth_held;         /* its login's answer, held back by the delay, or NULL */
  /* The turn budget (above; conn.c): */
  dyna_turn_budget_t budget; /* what it took in the current turn */
  struct conn **ready_list;  /* the list it waits on after yielding (the server's ready
                                list, or the check phase's copy being run), or NULL */
  struct conn *ready_prev, *ready_next;
  int eof_pending;           /* the client ended its stream (TLS close_notify) while commands
                                it sent before were still buffered: they are taken first,
                                then the end is handled (end_of_input, conn.c) */
} conn_t;
enum { DYNA_AUTH_FRESH = 0, DYNA_AUTH_IN, DYNA_AUTH_OUT };
/* Frees a connection's transaction state (cmd_multi.c); NULL: no-op. */
void dyna_txn_free(struct dyna_txn *t);

/* ---- the slot pool (conn.c): paired get/put, as twemproxy's msg_get/msg_put ---- */

/* A zeroed slot, from the pool or newly allocated; NULL when out of memory. */
slot_t *dyna_slot_get(struct dyna_server *s);
/* Gives slot back (NULL: no-op): frees what it owns, keeps it (and its reply buffer, if
 * small) for reuse, up to a bound. The slot must not be on any queue. */
void dyna_slot_put(struct dyna_server *s, slot_t *slot);
/* Frees every slot the pool keeps (at shutdown). */
void dyna_slot_pool_free(struct dyna_server *s);

/* ---- the slot queue of a connection (conn.c) ---- */

/* Appends slot to c's queue (it now belongs to c until flushed or dropped). */
void dyna_conn_slot_push(conn_t *c, slot_t *slot);
/* Moves finished slots at the head of c's queue to its output and schedules a write. */
void dyna_conn_flush_slots(struct dyna_server *s, conn_t *c);

/* ---- connections (conn.c) ---- */

/* The parser's largest buffered argument: the largest value, and room for a key (a
 * larger one is dropped unbuffered and answered -TOOBIG: resp.h's max_skip). */
size_t dyna_conn_max_bulk(const struct dyna_server *s);
/* Accepts a connection on the listener ls (called from its connection callback). */
void dyna_conn_accept(struct dyna_server *s, uv_stream_t *ls);
/* Closes c at once: its pending requests are forgotten, its memory freed later. */
void dyna_conn_close(struct dyna_server *s, conn_t *c);
/* After the current command: take no more input; close once every reply is written. */
void dyna_conn_drain(conn_t *c);
/* Names c (CLIENT SETNAME, HELLO SETNAME): len bytes at name, "" to clear. Returns 0, or
 * -1 with c unchanged when the name has a byte Redis refuses (space, newline, any byte
 * outside '!'..'~': DYNA_CONN_NAME_BAD is the error to answer) or is longer than
 * DYNA_CONN_NAME_MAX (DYNA_CONN_NAME_LONG). */
#define DYNA_CONN_NAME_BAD "ERR Client names cannot contain spaces, newlines or special characters."
#define DYNA_CONN_NAME_LONG "ERR Client names cannot be longer than 255 bytes."
int dyna_conn_set_name(conn_t *c, const uint8_t *name, size_t len, const char **err);
/* Writes what c has ready, then pauses or resumes reading it (server flush, per turn). */
void dyna_conn_write(struct dyna_server *s, conn_t *c);
/* Check phase, once per turn: each connection that yielded in an earlier turn takes its
 * next share of buffered commands (and reads again once they are all taken). */
void dyna_conn_run_yielded(struct dyna_server *s);

#endif
