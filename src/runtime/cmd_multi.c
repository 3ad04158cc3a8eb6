/* cmd_multi.c: transactions as Redis clients send them: MULTI, EXEC, DISCARD, WATCH,
 * UNWATCH, and the queue a connection keeps between MULTI and EXEC (conn.h's txn).
 *
 *   MULTI ─▶ every command but EXEC DISCARD MULTI WATCH QUIT is checked and queued
 *            (dyna_txn_queue: +QUEUED), nothing runs; a refusal (unknown command, arity,
 *            a command a transaction cannot hold, a key of another partition:
 *            -CROSSSLOT, the queue's bounds) answers its error and dooms the EXEC
 *   EXEC  ─▶ doomed: -EXECABORT; else one DYNA_OP_BATCH request (core/batch.h): the
 *            coordinator of the transaction's partition runs the commands over its
 *            objects, replicates the changed ones as one batch, answers after W acks
 *            ─▶ *n and each command's answer; -NOQUORUM (or another error) for all
 *   WATCH k ─▶ a quorum GET of each key; the hash of the merged object (register and
 *            typed state) is kept. An EXEC with watches is a SLOT_STEP (conn.h): it reads
 *            the watched keys again and sends the batch only when every hash is the
 *            same, else answers *-1 (nothing sent). EXEC, DISCARD, UNWATCH clear them.
 *
 * Every key a transaction names must be of one partition (dyna_node_partition), as
 * Redis Cluster wants them in one slot; keyless commands (PING, ECHO) may join. The
 * commands a transaction can hold are those the batch runs (core/batch.h: the string
 * commands GET SET SETEX PSETEX SETNX GETSET GETDEL STRLEN APPEND DEL EXISTS MGET MSET,
 * PING, ECHO, and UNWATCH, a no-op there as in Redis) and the one-key typed commands
 * (core/typed.h); others are refused at queue time (docs/compatibility.md). Bounds: DYNA_BATCH_MAX_CMDS commands, DYNA_BATCH_MAX_BYTES of
 * encoded commands, DYNA_TXN_MAX_WATCH watched keys. */
#include "runtime/cmd_table.h"
#include "core/batch.h"
#include "core/typed.h"
#include "proto/resp.h"
#include "proto/words.h"
#include "util/alloc.h"
#include "util/assert.h"
#include "util/keyhash.h"
#include <stdio.h>
#include <xxhash.h>

#define DYNA_TXN_MAX_WATCH 1024

#define MSG_EXECABORT "EXECABORT Transaction discarded because of previous errors."
#define MSG_CROSSSLOT DYNA_WORD_CROSSSLOT " Keys in request don't hash to the same slot"

/* The key a transaction without keys is routed by (only PING/ECHO/OBJECT HELP: nothing
 * is read or written under it; it only picks a coordinator). */
static const char NOKEY[] = "dyna:txn";

struct dyna_txn {
  int open;          /* MULTI given, EXEC or DISCARD not yet */
  int doomed;        /* a command was refused at queue time: EXEC answers EXECABORT */
  size_t n;          /* commands queued */
  size_t nkeys;      /* key arguments queued (a bound, repeats counted) */
  dyna_buf_t cmds;   /* their encoding without the count (dyna_batch_put_cmd; owned) */
  int has_part;
  uint32_t part;     /* the partition of every key queued */
  dyna_buf_t key;    /* the first key queued (owned) */
  size_t nwatch;
  dyna_buf_t wkeys;  /* watched keys end to end (owned) */
  size_t *woff;      /* key i is wkeys[woff[i] .. woff[i + 1]) (owned, nwatch + 1) */
  uint64_t *whash;   /* the hash of each key's merged object at WATCH (owned) */
};

void dyna_txn_free(struct dyna_txn *t) {
  if (!t) return;
  dyna_buf_free(&t->cmds);
  dyna_buf_free(&t->key);
  dyna_buf_free(&t->wkeys);
  dyna_free(t->woff);
  dyna_free(t->whash);
  dyna_free(t);
}

static void txn_unwatch(struct dyna_txn *t) {
  t->nwatch = 0;
  dyna_buf_reset(&t->wkeys);
}

/* Ends the transaction (EXEC, DISCARD): the queue and the watches are gone. */
static void txn_end(struct dyna_txn *t) {
  t->open = t->doomed = 0;
  t->n = t->nkeys = 0;
  t->has_part = 0;
  dyna_buf_reset(&t->cmds);
  dyna_buf_reset(&t->key);
  txn_unwatch(t);
}

void dyna_txn_reset(conn_t *c) {
  if (c->txn) txn_end(c->txn);
}

static struct dyna_txn *txn_of(conn_t *c) {
  if (!c->txn) c->txn = dyna_calloc(1, sizeof(*c->txn));
  return c->txn;
}

int dyna_txn_queueing(const conn_t *c, const dyna_cmd_t *cmd) {
  if (!c->txn || !c->txn->open) return 0;
  if (!cmd) return 1;
  static const char *const pass[] = {"exec", "discard", "multi", "watch", "quit", "reset"};
  for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++)
    if (!strcmp(cmd->name, pass[i])) return 0;
  return 1;
}

void dyna_txn_error(conn_t *c) {
  if (c->txn) c->txn->doomed = 1;
}

/* Refuses (answered) the command being queued: the EXEC will abort. */
static void refuse(conn_t *c, const char *line) {
  dyna_conn_answer_error(c, line);
  c->txn->doomed = 1;
}

/* The row's key positions as [first, last] step (0 first: none). */
static void key_span(const dyna_cmd_t *row, size_t argc, size_t *first, size_t *last, size_t *step) {
  *first = row->first_key > 0 ? (size_t)row->first_key : 0;
  *step = row->key_step > 0 ? (size_t)row->key_step : 1;
  *last = row->last_key < 0 ? argc - (size_t)(-row->last_key) : (size_t)row->last_key;
  if (*first && *last >= argc) *last = argc - 1;
}

void dyna_txn_queue(dyna_server_t *s, conn_t *c, const dyna_args_t *a, const dyna_cmd_t *row) {
  struct dyna_txn *t = c->txn;
  const uint8_t *name = dyna_arg(a, 0);
  size_t nlen = dyna_arg_len(a, 0);
  const dyna_typed_cmd_t *tc = dyna_batch_knows(name, nlen) ? NULL : dyna_typed_find(name, nlen);
  size_t first, last, step;
  key_span(row, a->argc, &first, &last, &step);
  char line[256];
  if (row->flags & CMD_NO_MULTI) { refuse(c, DYNA_WORD_ERR " Command not allowed inside a transaction"); return; }
  if (!dyna_batch_knows(name, nlen) && (!tc || (!tc->write && !tc->read) || (first && last != first) ||
                                        (row->flags & CMD_MOVABLEKEYS))) {
    snprintf(line, sizeof(line),
             DYNA_WORD_ERR " '%s' cannot be queued in a transaction on Dyna: only string, counter, set, hash, "
             "sorted-set, list and expiry commands of one key (and MGET MSET DEL EXISTS) can "
             "(docs/compatibility.md)", row->name);
    refuse(c, line);
    return;
  }
  if (t->n >= DYNA_BATCH_MAX_CMDS || t->nkeys + (first ? (last - first) / step + 1 : 0) > DYNA_BATCH_MAX_KEYS) {
    snprintf(line, sizeof(line), DYNA_WORD_ERR " transaction too large: at most %u commands and %u keys",
             DYNA_BATCH_MAX_CMDS, DYNA_BATCH_MAX_KEYS);
    refuse(c, line);
    return;
  }
  for (size_t i = first; first && i <= last; i += step) {
    size_t kl = dyna_arg_len(a, i);
    if (!kl || kl > DYNA_MAX_KEY_BYTES) {
      refuse(c, kl ? DYNA_WORD_TOOBIG " key too large" : DYNA_WORD_ERR " empty key");
      return;
    }
    uint32_t p = dyna_node_partition(s->node, dyna_arg(a, i), kl);
    if (t->has_part && p != t->part) { refuse(c, MSG_CROSSSLOT); return; }
  }
  size_t bytes = 0;
  for (size_t i = 0; i < a->argc; i++) bytes += dyna_arg_len(a, i) + 10;
  if (t->cmds.len + bytes + 16 > DYNA_BATCH_MAX_BYTES) {
    snprintf(line, sizeof(line), DYNA_WORD_ERR " transaction too large: its commands pass %u bytes",
             DYNA_BATCH_MAX_BYTES);
    refuse(c, line);
    return;
  }
  const uint8_t **argv;
  if (dyna_args_pointers(a, &argv)) {
    refuse(c, DYNA_ERR_OOM);
    return;
  }
  dyna_batch_put_cmd(&t->cmds, a->argc, argv, a->l);
  dyna_free(argv);
  if (first && !t->has_part) {
    t->has_part = 1;
    t->part = dyna_node_partition(s->node, dyna_arg(a, first), dyna_arg_len(a, first));
    dyna_buf_put(&t->key, dyna_arg(a, first), dyna_arg_len(a, first));
  }
  if (t->cmds.oom || t->key.oom) { refuse(c, DYNA_ERR_OOM); return; }
  t->n++;
  t->nkeys += first ? (last - first) / step + 1 : 0;
  dyna_resp_put_simple(dyna_conn_answer_now(c), "QUEUED");
}

/* ---------- MULTI DISCARD UNWATCH ---------- */

void dyna_cmd_multi(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)s;
  (void)a;
  struct dyna_txn *t = txn_of(c);
  if (!t) { dyna_conn_answer_error(c, DYNA_ERR_OOM); return; }
  if (t->open) { dyna_conn_answer_error(c, DYNA_WORD_ERR " MULTI calls can not be nested"); return; }
  t->open = 1;
  dyna_resp_put_simple(dyna_conn_answer_now(c), "OK");
}

void dyna_cmd_discard(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)s;
  (void)a;
  if (!c->txn || !c->txn->open) { dyna_conn_answer_error(c, DYNA_WORD_ERR " DISCARD without MULTI"); return; }
  txn_end(c->txn);
  dyna_resp_put_simple(dyna_conn_answer_now(c), "OK");
}

void dyna_cmd_unwatch(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)s;
  (void)a;
  if (c->txn) txn_unwatch(c->txn);
  dyna_resp_put_simple(dyna_conn_answer_now(c), "OK");
}

/* ---------- WATCH ---------- */

/* The hash of a merged object: what WATCH keeps and EXEC compares (0 when it could not
 * be encoded: never equal to a kept one, so EXEC aborts rather than miss a change). */
static uint64_t obj_hash(const dyna_obj_t *o) {
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_obj_encode(o, &b);
  uint64_t h = b.oom ? 0 : XXH3_64bits(b.data, b.len);
  dyna_buf_free(&b);
  return h ? h : 1;
}

/* WATCH's step: key sub read (its write is never made); the last read answers +OK. */
static void step_watch(dyna_server_t *s, conn_t *c, slot_t *slot, uint32_t sub, const dyna_node_reply_t *r) {
  (void)s;
  if (sub >= slot->nkeys) return;
  dyna_cmd_step_skip(slot, slot->nkeys + sub);
  struct dyna_txn *t = c->txn;
  if (!r->status && !slot->err_set) {
    size_t kl;
    const uint8_t *k = dyna_step_arg(slot, sub, &kl);
    size_t *off = dyna_realloc(t->woff, (t->nwatch + 2) * sizeof(*off));
    if (off) t->woff = off;
    uint64_t *wh = off ? dyna_realloc(t->whash, (t->nwatch + 1) * sizeof(*wh)) : NULL;
    if (wh) t->whash = wh;
    if (!off || !wh || (dyna_buf_put(&t->wkeys, k, kl), t->wkeys.oom)) {
      dyna_resp_put_error(&slot->out, DYNA_ERR_OOM);
      slot->err_set = 1;
      txn_unwatch(t); /* better no watch than one that cannot be checked */
      t->wkeys.oom = 0;
    } else {
      t->woff[0] = 0;
      t->whash[t->nwatch] = obj_hash(&r->obj);
      t->woff[++t->nwatch] = t->wkeys.len;
    }
  }
  if (slot->ndone == slot->nsub && !slot->err_set) dyna_resp_put_simple(&slot->out, "OK");
}

void dyna_cmd_watch(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  struct dyna_txn *t = txn_of(c);
  if (!t) { dyna_conn_answer_error(c, DYNA_ERR_OOM); return; }
  if (t->open) { dyna_conn_answer_error(c, DYNA_WORD_ERR " WATCH inside MULTI is not allowed"); return; }
  if (t->nwatch + a->argc - 1 > DYNA_TXN_MAX_WATCH) {
    char line[96];
    snprintf(line, sizeof(line), DYNA_WORD_ERR " too many watched keys (at most %u)", DYNA_TXN_MAX_WATCH);
    dyna_conn_answer_error(c, line);
    return;
  }
  for (size_t i = 1; i < a->argc; i++)
    if (!dyna_arg_len(a, i) || dyna_arg_len(a, i) > DYNA_MAX_KEY_BYTES) {
      dyna_conn_answer_error(c, dyna_arg_len(a, i) ? DYNA_WORD_TOOBIG " key too large" : DYNA_WORD_ERR " empty key");
      return;
    }
  slot_t *slot = dyna_cmd_step_open(s, c, step_watch, a, (uint32_t)(a->argc - 1), 1);
  if (slot) dyna_cmd_step_go(s, c, slot);
}

/* ---------- EXEC ---------- */

/* The batch request of a slot: slot->targs holds the routing key (slot->n1 bytes), then
 * the commands' encoding. Submitted as request sub. */
static void submit_batch(dyna_server_t *s, conn_t *c, slot_t *slot, uint32_t sub) {
  dyna_req_t req;
  memset(&req, 0, sizeof(req));
  req.op = DYNA_OP_BATCH;
  if (slot->proto == DYNA_RESP3) req.flags |= DYNA_REQ_RESP3; /* the answers' shape */
  req.key = slot->targs.data;
  req.klen = (size_t)slot->n1;
  req.val = slot->targs.data + slot->n1;
  req.vlen = slot->targs.len - (size_t)slot->n1;
  dyna_cmd_submit(s, c, slot, sub, &req);
}

/* EXEC's step with watches: subs 0..nkeys-1 read the watched keys again; when all are
 * read and each hash is the one kept (in parts[nkeys + i]), sub nkeys sends the batch;
 * the other writes are never made. */
static void step_exec(dyna_server_t *s, conn_t *c, slot_t *slot, uint32_t sub, const dyna_node_reply_t *r) {
  uint32_t n = slot->nkeys;
  if (sub == n) { /* the batch answered; an error is in out already */
    if (!r->status) dyna_buf_put(&slot->out, r->resp.data, r->resp.len);
    return;
  }
  if (!r->status) {
    uint64_t h = obj_hash(&r->obj), kept = 0;
    if (slot->parts[n + sub].len == sizeof(kept)) memcpy(&kept, slot->parts[n + sub].data, sizeof(kept));
    slot->count += h != kept;
  }
  if (slot->ndone < n) return; /* the writes start after every read: ndone counts reads */
  for (uint32_t i = n + 1; i < 2 * n; i++) dyna_cmd_step_skip(slot, i);
  if (slot->err_set) { dyna_cmd_step_skip(slot, n); return; } /* a read failed: its error */
  if (slot->count) { /* a watched key changed: nothing is sent */
    dyna_resp_put_null_array(&slot->out, slot->proto); /* *-1, or _ in RESP3 */
    dyna_cmd_step_skip(slot, n);
    return;
  }
  dyna_resp_put_array(&slot->out, (size_t)slot->n2);
  if (!slot->n2) { dyna_cmd_step_skip(slot, n); return; } /* nothing queued: *0 */
  slot->subst[n] = SUB_SENT;
  submit_batch(s, c, slot, n); /* last: a failing submit completes at once */
}

void dyna_cmd_exec(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)a;
  struct dyna_txn *t = c->txn;
  if (!t || !t->open) { dyna_conn_answer_error(c, DYNA_WORD_ERR " EXEC without MULTI"); return; }
  if (t->doomed) { txn_end(t); dyna_conn_answer_error(c, MSG_EXECABORT); return; }
  if (!t->n && !t->nwatch) { txn_end(t); dyna_resp_put_array(dyna_conn_answer_now(c), 0); return; }
  /* The request's bytes: the routing key, then the commands (count first). */
  dyna_buf_t req = DYNA_BUF_INIT;
  size_t klen = t->has_part ? t->key.len : sizeof(NOKEY) - 1;
  dyna_buf_put(&req, t->has_part ? t->key.data : (const uint8_t *)NOKEY, klen);
  dyna_batch_finish(&req, t->n, &t->cmds);
  slot_t *slot = NULL;
  if (!req.oom && !t->nwatch) {
    size_t n = t->n;
    slot = dyna_cmd_slot_open(s, c, SLOT_TWRITE, 1); /* NULL: the error is answered */
    txn_end(t);
    if (slot) {
      slot->targs = req;
      slot->n1 = (int64_t)klen;
      dyna_resp_put_array(&slot->out, n);
      dyna_buf_init(&req);
      submit_batch(s, c, slot, 0);
    }
  } else if (!req.oom) {
    /* The watched keys as a command's arguments, for the step's reads. */
    size_t nw = t->nwatch;
    size_t *o = dyna_calloc(nw + 1, sizeof(*o)), *l = dyna_calloc(nw + 1, sizeof(*l));
    if (o && l) {
      o[0] = 0; /* argument 0 (the name) is never read: any bytes */
      l[0] = 0;
      for (size_t i = 0; i < nw; i++) {
        o[i + 1] = t->woff[i];
        l[i + 1] = t->woff[i + 1] - t->woff[i];
      }
      dyna_args_t wa = {nw + 1, t->wkeys.data, o, l};
      slot = dyna_cmd_step_open(s, c, step_exec, &wa, (uint32_t)nw, 1);
      if (slot) {
        for (size_t i = 0; i < nw; i++) dyna_buf_put(&slot->parts[nw + i], &t->whash[i], sizeof(t->whash[i]));
        slot->targs = req;
        slot->n1 = (int64_t)klen;
        slot->n2 = (int64_t)t->n;
        dyna_buf_init(&req);
      }
    }
    dyna_free(o);
    dyna_free(l);
    txn_end(t);
    if (slot) dyna_cmd_step_go(s, c, slot);
    else if (!o || !l) dyna_conn_answer_error(c, DYNA_ERR_OOM);
  }
  if (req.oom) {
    txn_end(t);
    dyna_conn_answer_error(c, DYNA_ERR_OOM);
  }
  dyna_buf_free(&req);
}
