/* conn.h: one client connection of dynad and the slots of its pending commands.
 * Internal to the runtime (server.c, commands.c). */
#ifndef DYNA_CONN_H
#define DYNA_CONN_H
#include "util/buf.h"
#include "core/node.h"
#include "proto/resp.h"
#include "runtime/wqueue.h"
#include <stdint.h>
#include <uv.h>

struct dyna_server;

/* Commands of one connection waiting for replies before we stop reading from it. */
#define DYNA_CONN_MAX_INFLIGHT 256

/* How a command's replies are put together once all its requests answered. */
typedef enum {
  SLOT_READY = 0,   /* out already holds the whole reply */
  SLOT_GET,         /* GET: the latest live value or nil */
  SLOT_MGET,        /* MGET: array of latest values */
  SLOT_SET,         /* SET / MSET: +OK when every put succeeded */
  SLOT_COUNT_LIVE,  /* EXISTS: count of keys with a live value */
  SLOT_COUNT_DEL,   /* DEL: count of keys that had a live value */
  SLOT_DGET,        /* DYNA.GET / DYNA.LOCAL: [context, [values]] */
  SLOT_DPUT         /* DYNA.PUT / DYNA.DEL: the new context */
} slot_kind_t;

typedef struct slot {
  struct slot *next;
  struct conn *conn;   /* the connection whose queue holds this slot */
  slot_kind_t kind;
  uint64_t first_req;  /* requests first_req .. first_req + nsub - 1 */
  uint32_t nsub, ndone;
  int64_t count;       /* SLOT_COUNT_*: running total */
  int err_set;         /* the first failing sub's error is in out */
  dyna_buf_t out;      /* the reply (or, for MGET, the elements so far) */
  dyna_buf_t *parts;   /* MGET: each key's encoded element, by position (owned) */
} slot_t;

typedef struct conn {
  uv_tcp_t tcp;              /* first member: handle->data is the conn */
  struct dyna_server *srv;
  struct conn *prev, *next;  /* the server's list */
  uint64_t id;
  dyna_buf_t in;             /* bytes not yet parsed into a whole command */
  dyna_resp_parser_t parser;
  slot_t *head, *tail;       /* commands waiting for replies, oldest first */
  size_t nslots;
  dyna_wq_t wq;              /* replies ready to send / being written */
  int reading, closing, quit_after_flush;
  int dirty;                 /* on the server's flush list */
  struct conn *next_dirty;
  uint64_t last_input_ms;    /* when bytes last arrived */
} conn_t;

#endif
