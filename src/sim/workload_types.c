/* workload_types.c: typed-key clients (--types) and the model of what they were promised.
 *
 * With --types, typed keys follow workload.c's register keys; a client's cycle that
 * picks one sends one typed write (DYNA_OP_TYPED, the command resolved with
 * dyna_typed_find, as the runtime's cmd_typed.c does); with --txn about half of them
 * go as a transaction of that one command instead (DYNA_OP_BATCH, core/batch.h:
 * coordinated, forwarded and replicated as a batch), whose answer is the command's own.
 * The client records the answer: acknowledged (status 0, a non-error RESP answer), rejected (an error answer: nothing
 * was written, core/typed.h) or unknown (a failed request, a lost connection, or still
 * pending at the end: it may or may not have happened).
 *
 * Per enabled type (counter, set, hash, zset, list) the keys are:
 *   plain  (3)  the type's writes only: counter INCRBY of -3..10; set SADD/SREM of six
 *               members; hash HSET/HDEL/HINCRBY of six fields; zset ZADD/ZINCRBY/ZREM;
 *               list RPUSH/LPUSH of unique elements, LPOP/RPOP
 *   life   (3)  with "expire": a few of the type's adds, then one EXPIRE (1 s) or
 *               PEXPIREAT (the simulated wall clock + 2.1..3.6 s), then nothing more
 *   churn  (1)  with "expire": the type's writes mixed with EXPIRE, PEXPIREAT, PERSIST
 *               and DEL (checked for convergence only)
 *   del    (2)  sets, hashes, sorted sets and lists: adds of members (fields, elements)
 *               never added before (d<id>, or e<id> for lists), and one delete in five:
 *               `sim.del key` (sim_types_cmds below), the node's DEL answering what it
 *               removed, as its coordinator observed it
 *
 * Checks at the end, on the final merged R = N read (sim_types_check):
 *   (a) a plain counter lies between the sum of acknowledged increments plus the
 *       negative unknown ones and that sum plus the positive unknown ones;
 *   (b) a member (set, hash field, zset member) is present when some acknowledged add
 *       of it was sent after every removal of it was acknowledged (and no removal of
 *       it has an unknown outcome): no removal can have observed that add;
 *   (d) a life key whose EXPIRE was acknowledged, whose earlier writes were all answered
 *       before it was sent, and whose deadline has passed reads absent: it is the key's only
 *       deadline and nothing was written after it, so every replica must let it go;
 *       a relative EXPIRE's deadline is bounded by the largest wall-clock offset any
 *       node had (skew and steps) plus a second; a PEXPIREAT counts only when its
 *       deadline was ahead of every node's clock (else it deleted the key as observed,
 *       as DEL does, and a write its coordinator did not see rightly survives);
 *   (e) no list element appears twice; an acknowledged push is present unless an
 *       acknowledged pop returned it (checked only on keys without pops of unknown
 *       outcome: such a pop may have taken any element).
 *   (f) a deleted key stays deleted (observed remove): on a del key every member is
 *       added once, so it has one dot, and a delete that observed it removed that dot
 *       for good. So no member an acknowledged delete answered may be in the final read,
 *       whatever was written after; and, when no delete of the key has an unknown
 *       outcome, every acknowledged add that no acknowledged delete answered must be
 *       there (a concurrent add survives a delete that did not observe it: add wins).
 *   (c), replicas byte-equal, is checks.c's convergence check: dyna_obj_equal compares
 *   the typed states too.
 */
#include "core/batch.h"
#include "core/crdt_ops.h"
#include "core/typed.h"
#include "proto/resp.h"
#include "util/alloc.h"
#include "sim/rng.h"
#include "sim/sim.h"
#include "sim/types.h"
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

enum { TW_PENDING = 0, TW_ACKED, TW_REJECTED, TW_UNKNOWN };
enum { OP_ADD = 1, OP_REM, OP_INCR, OP_EXPIRE, OP_PERSIST, OP_DEL, OP_POP };
enum { LIFE_PLAIN = 0, LIFE_EXPIRE, LIFE_CHURN, LIFE_DEL };
#define NMEMBERS 6

static const char *TY_NAME[ST_NTYPES] = {"counter", "set", "hash", "zset", "list"};
static const uint8_t TY_CRDT[ST_NTYPES] = {DYNA_CRDT_COUNTER, DYNA_CRDT_SET, DYNA_CRDT_HASH,
                                          DYNA_CRDT_ZSET, DYNA_CRDT_LIST};

typedef struct tw_op {
  uint8_t op, status, m; /* OP_*, TW_*, member index */
  int64_t n;             /* INCRBY amount; a push's element id; a pop's element (0: none) */
  uint64_t t_send, t_ack;
  uint64_t deadline;     /* OP_EXPIRE: an upper bound of its deadline (true wall ms) */
  int64_t *seen;         /* OP_DEL on a del key, acknowledged: the ids it removed (owned) */
  uint32_t nseen;
} tw_op_t;

typedef struct tw_key {
  uint8_t ty, life;
  uint32_t key;     /* index in workload.c's key table */
  uint32_t left;    /* LIFE_EXPIRE: writes before the EXPIRE */
  int retired;      /* LIFE_EXPIRE: the EXPIRE was sent */
  tw_op_t *ops;
  uint32_t n, cap;
} tw_key_t;

/* A command's arguments: bytes, and the pointers and lengths a request borrows. */
typedef struct targv {
  char b[5][48];
  const uint8_t *v[5];
  size_t l[5];
  size_t n;
} targv_t;

struct sim_types {
  tw_key_t *k;
  uint32_t nk;
  uint32_t *cl_key, *cl_op; /* per client: the typed key and op in flight */
  uint32_t next_elem;
  int64_t max_off;          /* the largest wall-clock offset seen on any node */
  uint64_t sent, acked, rejected, unknown, checked_members, checked_expired, checked_deleted;
  targv_t args;             /* the arguments of the last request built */
  dyna_buf_t batch;         /* --txn: the commands of the last transaction built (owned) */
};

/* Keys of type t: 3 plain, with "expire" 3 life and 1 churn, and (not counters) 2 del. */
static int keys_of(uint32_t types, int t) {
  return 3 + ((types & ST_EXPIRE) ? 4 : 0) + (t != ST_COUNTER ? 2 : 0);
}

uint32_t sim_types_count(const sim_opts_t *o) {
  uint32_t n = 0;
  for (int t = 0; t < ST_NTYPES; t++)
    if (o->types & (1u << t)) n += (uint32_t)keys_of(o->types, t);
  return n;
}

int sim_types_parse(const char *v, uint32_t *out) {
  *out = 0;
  if (!v) return -1;
  const char *p = v;
  for (;;) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    int found = 0;
    if (len == 3 && !memcmp(p, "all", 3)) { *out |= ST_ALL; found = 1; }
    if (len == 6 && !memcmp(p, "expire", 6)) { *out |= ST_EXPIRE; found = 1; }
    for (int t = 0; t < ST_NTYPES && !found; t++)
      if (strlen(TY_NAME[t]) == len && !memcmp(TY_NAME[t], p, len)) { *out |= 1u << t; found = 1; }
    if (!found) return -1;
    if (!e) break;
    p = e + 1;
  }
  return 0;
}

/* Drops the types whose commands this build does not have (zset and list arrive with
 * their families). */
static uint32_t available(uint32_t types) {
  static const char *probe[ST_NTYPES] = {"incrby", "sadd", "hset", "zadd", "rpush"};
  for (int t = 0; t < ST_NTYPES; t++)
    if (!dyna_typed_find((const uint8_t *)probe[t], strlen(probe[t]))) types &= ~(1u << t);
  return types;
}

int sim_types_init(sim_world_t *w, uint32_t first_key, uint32_t nkeys, char (*names)[24], size_t *klens) {
  sim_types_t *s = dyna_calloc(1, sizeof(*s));
  if (!s) abort();
  w->types = s;
  w->o.types = available(w->o.types);
  s->k = dyna_calloc(nkeys ? nkeys : 1, sizeof(tw_key_t));
  s->cl_key = dyna_calloc(w->o.clients ? w->o.clients : 1, sizeof(uint32_t));
  s->cl_op = dyna_calloc(w->o.clients ? w->o.clients : 1, sizeof(uint32_t));
  if (!s->k || !s->cl_key || !s->cl_op) abort();
  uint32_t j = 0;
  for (int t = 0; t < ST_NTYPES; t++) {
    if (!(w->o.types & (1u << t))) continue;
    int per = keys_of(w->o.types, t), nexp = (w->o.types & ST_EXPIRE) ? 4 : 0;
    for (int q = 0; q < per && j < nkeys; q++, j++) {
      tw_key_t *k = &s->k[j];
      k->ty = (uint8_t)t;
      k->life = q < 3 ? LIFE_PLAIN : q < 3 + nexp ? (q < 6 ? LIFE_EXPIRE : LIFE_CHURN) : LIFE_DEL;
      k->key = first_key + j;
      k->left = 2 + (uint32_t)sim_rng_below(&w->rng, 5);
      static const char *lname[] = {"", "x", "ttl", "del"};
      klens[j] = (size_t)snprintf(names[j], 24, "%s%s:%u", lname[k->life], TY_NAME[t], first_key + j);
    }
  }
  s->nk = j;
  return (int)j;
}

void sim_types_free(sim_world_t *w) {
  sim_types_t *s = w->types;
  if (!s) return;
  for (uint32_t j = 0; j < s->nk; j++) {
    for (uint32_t q = 0; q < s->k[j].n; q++) dyna_free(s->k[j].ops[q].seen);
    dyna_free(s->k[j].ops);
  }
  dyna_free(s->k);
  dyna_free(s->cl_key);
  dyna_free(s->cl_op);
  dyna_buf_free(&s->batch);
  dyna_free(s);
  w->types = NULL;
}

static uint32_t new_op(tw_key_t *k, uint8_t op, uint64_t now) {
  if (k->n == k->cap) {
    k->cap = k->cap ? k->cap * 2 : 16;
    k->ops = dyna_realloc(k->ops, k->cap * sizeof(tw_op_t));
    if (!k->ops) abort();
  }
  memset(&k->ops[k->n], 0, sizeof(tw_op_t));
  k->ops[k->n].op = op;
  k->ops[k->n].t_send = now;
  return k->n++;
}

static void track_offsets(sim_world_t *w) {
  for (uint32_t i = 0; i < w->nnodes; i++)
    if (w->nodes[i].wall_off_ms > w->types->max_off) w->types->max_off = w->nodes[i].wall_off_ms;
}

static void arg(targv_t *a, const char *fmt, int64_t x) {
  int l = snprintf(a->b[a->n], sizeof(a->b[a->n]), fmt, x);
  a->v[a->n] = (const uint8_t *)a->b[a->n];
  a->l[a->n] = (size_t)l;
  a->n++;
}
static void sarg(targv_t *a, const char *s) {
  snprintf(a->b[a->n], sizeof(a->b[a->n]), "%s", s);
  a->v[a->n] = (const uint8_t *)a->b[a->n];
  a->l[a->n] = strlen(a->b[a->n]);
  a->n++;
}

/* The type's own write (an add, removal or increment) into a and op. */
static void type_write(sim_world_t *w, tw_key_t *k, tw_op_t *op, targv_t *a, const char *name, int adds_only) {
  uint64_t *r = &w->rng;
  uint8_t m = (uint8_t)sim_rng_below(r, NMEMBERS);
  op->m = m;
  double u = (double)sim_rng_below(r, 1000) / 1000.0;
  if (adds_only) u = 0;
  switch (k->ty) {
  case ST_COUNTER:
    op->op = OP_INCR;
    op->n = (int64_t)sim_rng_below(r, 14) - 3;
    sarg(a, "incrby"); sarg(a, name); arg(a, "%" PRId64, op->n);
    break;
  case ST_SET:
    op->op = u < 0.6 ? OP_ADD : OP_REM;
    sarg(a, op->op == OP_ADD ? "sadd" : "srem"); sarg(a, name); arg(a, "m%" PRId64, m);
    break;
  case ST_HASH:
    if (u < 0.4) { op->op = OP_ADD; sarg(a, "hset"); sarg(a, name); arg(a, "f%" PRId64, m); arg(a, "%" PRId64, (int64_t)sim_rng_below(r, 100)); }
    else if (u < 0.7) { op->op = OP_ADD; sarg(a, "hincrby"); sarg(a, name); arg(a, "f%" PRId64, m); arg(a, "%" PRId64, (int64_t)sim_rng_below(r, 9) + 1); }
    else { op->op = OP_REM; sarg(a, "hdel"); sarg(a, name); arg(a, "f%" PRId64, m); }
    break;
  case ST_ZSET:
    if (u < 0.4) { op->op = OP_ADD; sarg(a, "zadd"); sarg(a, name); arg(a, "%" PRId64, (int64_t)sim_rng_below(r, 50)); arg(a, "m%" PRId64, m); }
    else if (u < 0.7) { op->op = OP_ADD; sarg(a, "zincrby"); sarg(a, name); arg(a, "%" PRId64, (int64_t)sim_rng_below(r, 9) + 1); arg(a, "m%" PRId64, m); }
    else { op->op = OP_REM; sarg(a, "zrem"); sarg(a, name); arg(a, "m%" PRId64, m); }
    break;
  default: /* list */
    if (u < 0.65) {
      op->op = OP_ADD;
      op->n = ++w->types->next_elem;
      sarg(a, sim_rng_below(r, 2) ? "rpush" : "lpush"); sarg(a, name); arg(a, "e%" PRId64, op->n);
    } else {
      op->op = OP_POP;
      sarg(a, sim_rng_below(r, 2) ? "rpop" : "lpop"); sarg(a, name);
    }
    break;
  }
}

/* A del key's write: one in five a delete (sim.del), else an add of a new member
 * (field, element) d<id> (e<id>), id unique in the run. */
static void del_write(sim_world_t *w, tw_key_t *k, tw_op_t *op, targv_t *a, const char *name) {
  uint64_t *r = &w->rng;
  if (sim_rng_chance(r, 0.2)) {
    op->op = OP_DEL;
    sarg(a, "sim.del"); sarg(a, name);
    return;
  }
  op->op = OP_ADD;
  op->n = ++w->types->next_elem;
  switch (k->ty) {
  case ST_SET: sarg(a, "sadd"); sarg(a, name); arg(a, "d%" PRId64, op->n); break;
  case ST_HASH: sarg(a, "hset"); sarg(a, name); arg(a, "d%" PRId64, op->n); arg(a, "%" PRId64, op->n); break;
  case ST_ZSET: sarg(a, "zadd"); sarg(a, name); arg(a, "%" PRId64, (int64_t)sim_rng_below(r, 50)); arg(a, "d%" PRId64, op->n); break;
  default: sarg(a, sim_rng_below(r, 2) ? "rpush" : "lpush"); sarg(a, name); arg(a, "e%" PRId64, op->n); break;
  }
}

int sim_types_start(sim_world_t *w, uint32_t c, uint32_t tk, const char *name, size_t klen,
                    dyna_req_t *req) {
  sim_types_t *s = w->types;
  tw_key_t *k = &s->k[tk];
  if (k->retired) return -1;
  track_offsets(w);
  uint64_t *r = &w->rng;
  targv_t *ap = &s->args; /* req borrows its bytes until the next call */
  memset(ap, 0, sizeof(*ap));
  uint32_t oi = new_op(k, 0, w->now);
  tw_op_t *op = &k->ops[oi];
  uint64_t wall = SIM_WALL_EPOCH_MS + w->now;
  int del = 0;
  if (k->life == LIFE_EXPIRE && k->left == 0) {
    op->op = OP_EXPIRE;
    k->retired = 1;
    if (sim_rng_below(r, 2)) {
      sarg(ap, "expire"); sarg(ap, name); arg(ap, "%" PRId64, 1);
      op->deadline = wall + 1000 + (uint64_t)(s->max_off > 0 ? s->max_off : 0) + 1000;
    } else {
      uint64_t d = wall + 2100 + sim_rng_below(r, 1500);
      sarg(ap, "pexpireat"); sarg(ap, name); arg(ap, "%" PRId64, (int64_t)d);
      op->deadline = d;
      op->m = 1;                      /* absolute: */
      op->n = (int64_t)(d - wall);    /* its lead over the true wall clock at sending */
    }
  } else if (k->life == LIFE_CHURN && sim_rng_chance(r, 0.45)) {
    uint64_t x = sim_rng_below(r, 100);
    if (x < 35) { op->op = OP_EXPIRE; sarg(ap, "expire"); sarg(ap, name); arg(ap, "%" PRId64, 1 + (int64_t)sim_rng_below(r, 2)); }
    else if (x < 55) { op->op = OP_EXPIRE; sarg(ap, "pexpireat"); sarg(ap, name); arg(ap, "%" PRId64, (int64_t)(wall + sim_rng_below(r, 3000))); }
    else if (x < 75) { op->op = OP_PERSIST; sarg(ap, "persist"); sarg(ap, name); }
    else { op->op = OP_DEL; del = 1; }
  } else if (k->life == LIFE_DEL) {
    del_write(w, k, op, ap, name);
  } else {
    type_write(w, k, op, ap, name, k->life == LIFE_EXPIRE);
    if (k->life == LIFE_EXPIRE) k->left--;
  }
  memset(req, 0, sizeof(*req));
  req->key = (const uint8_t *)name;
  req->klen = klen;
  if (del) {
    req->op = DYNA_OP_DEL;
    req->flags = DYNA_REQ_BLIND;
  } else if (w->o.txn && sim_rng_chance(r, 0.5)) {
    /* A transaction of this one command: its answer is the command's own. */
    dyna_buf_t one = DYNA_BUF_INIT;
    dyna_batch_put_cmd(&one, ap->n, ap->v, ap->l);
    dyna_buf_reset(&s->batch);
    dyna_batch_finish(&s->batch, 1, &one);
    dyna_buf_free(&one);
    if (s->batch.oom) abort();
    req->op = DYNA_OP_BATCH;
    req->val = s->batch.data;
    req->vlen = s->batch.len;
  } else {
    req->op = DYNA_OP_TYPED;
    req->cmd = op->op == OP_DEL ? sim_types_cmds() : dyna_typed_find(ap->v[0], ap->l[0]);
    if (!req->cmd || !req->cmd->write) abort();
    req->argc = ap->n;
    req->argv = ap->v;
    req->argl = ap->l;
  }
  s->cl_key[c] = tk;
  s->cl_op[c] = oi;
  s->sent++;
  return 0;
}

static int64_t parse_elem(const dyna_buf_t *b) {
  /* "$n\r\ne<id>\r\n" or "*1\r\n$n\r\ne<id>\r\n"; nil otherwise */
  const char *p = (const char *)b->data;
  size_t n = b->len;
  const char *e = memchr(p, 'e', n);
  if (!e || p[0] == '-' || (n >= 3 && p[1] == '-')) return 0;
  return strtoll(e + 1, NULL, 10);
}

/* sim.del's answer: an array of bulk names d<id> / e<id>, into op->seen. */
static void parse_seen(tw_op_t *op, const dyna_buf_t *b) {
  const char *p = (const char *)b->data, *end = p + b->len;
  if (b->len < 4 || p[0] != '*') return;
  uint32_t n = (uint32_t)strtoul(p + 1, NULL, 10);
  if (!n) return;
  op->seen = dyna_calloc(n, sizeof(int64_t));
  if (!op->seen) abort();
  for (uint32_t i = 0; i < n; i++) {
    const char *q = memchr(p, '$', (size_t)(end - p));
    if (!q) break;
    q = memchr(q, '\n', (size_t)(end - q));
    if (!q || q + 2 >= end) break;
    op->seen[op->nseen++] = strtoll(q + 2, NULL, 10); /* after "\r\n" and the d / e */
    p = q + 1;
  }
}

void sim_types_reply(sim_world_t *w, uint32_t c, const dyna_node_reply_t *r) {
  sim_types_t *s = w->types;
  tw_op_t *op = &s->k[s->cl_key[c]].ops[s->cl_op[c]];
  track_offsets(w);
  op->t_ack = w->now;
  if (w->o.verbose)
    sim_trace(w, "client %u typed op %u on key %u (op %d m %u n %" PRId64 "): status %d %.*s", c, s->cl_op[c],
              s->cl_key[c], op->op, op->m, op->n, r->status, (int)(r->resp.len > 40 ? 40 : r->resp.len),
              r->resp.len ? (const char *)r->resp.data : "");
  if (r->status) { op->status = TW_UNKNOWN; s->unknown++; return; }
  /* An error answer writes nothing; nor does an EXPIRE answered 0 (its coordinator did
   * not see the key). */
  if ((r->op == DYNA_OP_TYPED || r->op == DYNA_OP_BATCH) && r->resp.len &&
      (r->resp.data[0] == '-' || (op->op == OP_EXPIRE && r->resp.len >= 2 && !memcmp(r->resp.data, ":0", 2)))) {
    op->status = TW_REJECTED;
    s->rejected++;
    return;
  }
  op->status = TW_ACKED;
  s->acked++;
  if (op->op == OP_POP) op->n = parse_elem(&r->resp);
  if (op->op == OP_DEL && (r->op == DYNA_OP_TYPED || r->op == DYNA_OP_BATCH)) /* a one-command batch: its answer */
    parse_seen(op, &r->resp);
}

void sim_types_lost(sim_world_t *w, uint32_t c) {
  sim_types_t *s = w->types;
  tw_op_t *op = &s->k[s->cl_key[c]].ops[s->cl_op[c]];
  op->status = TW_UNKNOWN;
  s->unknown++;
}

static int known(const tw_op_t *op) { return op->status == TW_ACKED || op->status == TW_REJECTED; }

static int member_present(const dyna_crdt_t *st, int ty, uint8_t m) {
  char b[8];
  int l = snprintf(b, sizeof(b), "%c%u", ty == ST_HASH ? 'f' : 'm', m);
  if (!st) return 0;
  if (ty == ST_SET) return dyna_crdt_sismember(st, (const uint8_t *)b, (size_t)l) == 1;
  if (ty == ST_HASH) {
    dyna_crdt_hval_t hv;
    return dyna_crdt_hget(st, (const uint8_t *)b, (size_t)l, &hv) == 0;
  }
  double sc;
  return dyna_crdt_zscore(st, (const uint8_t *)b, (size_t)l, &sc) == 0;
}

static void check_list(sim_world_t *w, const tw_key_t *k, const char *name, const dyna_crdt_t *st) {
  dyna_crdt_litem_t *it = NULL;
  size_t n = 0;
  if (st && dyna_crdt_lview(st, &it, &n)) abort();
  int64_t *ids = dyna_calloc(n + 1, sizeof(int64_t));
  if (!ids) abort();
  for (size_t j = 0; j < n; j++) {
    char b[32];
    size_t l = it[j].v->len < sizeof(b) - 1 ? it[j].v->len : sizeof(b) - 1;
    memcpy(b, it[j].v->data, l);
    b[l] = 0;
    ids[j] = strtoll(b + 1, NULL, 10);
    for (size_t q = 0; q < j; q++)
      if (ids[q] == ids[j]) sim_fail(w, "%s: list element e%" PRId64 " appears twice in the final read", name, ids[j]);
  }
  int unknown_pop = 0;
  for (uint32_t j = 0; j < k->n; j++) unknown_pop |= k->ops[j].op == OP_POP && !known(&k->ops[j]);
  for (uint32_t j = 0; j < k->n && !unknown_pop; j++) {
    const tw_op_t *op = &k->ops[j];
    if (op->op != OP_ADD || op->status != TW_ACKED) continue;
    int popped = 0;
    for (uint32_t q = 0; q < k->n && !popped; q++)
      popped = k->ops[q].op == OP_POP && k->ops[q].status == TW_ACKED && k->ops[q].n == op->n;
    int found = 0;
    for (size_t q = 0; q < n && !found; q++) found = ids[q] == op->n;
    w->types->checked_members++;
    if (!popped && !found)
      sim_fail(w, "%s: acknowledged push of e%" PRId64 " (sent at %" PRIu64 " ms) missing from the final read",
               name, op->n, op->t_send);
  }
  dyna_free(ids);
  dyna_free(it);
}

/* The ids (d<id>, e<id>) a del key holds in o: *out (dyna_free), *n. */
static void del_ids(const tw_key_t *k, const dyna_obj_t *o, uint64_t now, int64_t **out, size_t *n) {
  dyna_tenv_t env = {0, now, 0, DYNA_RESP2, 0};
  const dyna_crdt_t *st = dyna_typed_read_state(o, TY_CRDT[k->ty], &env);
  size_t cnt = st ? dyna_crdt_count(st) : 0;
  int64_t *ids = dyna_calloc(cnt + 1, sizeof(int64_t));
  if (!ids) abort();
  size_t m = 0;
  if (st && k->ty == ST_LIST) {
    dyna_crdt_litem_t *it = NULL;
    size_t ln = 0;
    if (dyna_crdt_lview(st, &it, &ln)) abort();
    for (size_t j = 0; j < ln && m < cnt; j++) {
      char b[32];
      size_t l = it[j].v->len < sizeof(b) - 1 ? it[j].v->len : sizeof(b) - 1;
      memcpy(b, it[j].v->data, l);
      b[l] = 0;
      ids[m++] = strtoll(b + 1, NULL, 10);
    }
    dyna_free(it);
  } else if (st) {
    size_t cur = 0;
    const dyna_crdt_elem_t *e;
    while (m < cnt && (e = dyna_crdt_next(st, &cur)) != NULL) {
      char b[32];
      size_t l = e->klen < sizeof(b) - 1 ? e->klen : sizeof(b) - 1;
      memcpy(b, e->key, l);
      b[l] = 0;
      ids[m++] = strtoll(b + 1, NULL, 10);
    }
  }
  *out = ids;
  *n = m;
}

/* (f) on a del key's final read. */
static void check_del(sim_world_t *w, const tw_key_t *k, const char *name, const dyna_obj_t *o, uint64_t now) {
  int64_t *ids;
  size_t n;
  del_ids(k, o, now, &ids, &n);
  for (size_t i = 0; k->ty == ST_LIST && i < n; i++) /* (e) here too */
    for (size_t q = 0; q < i; q++)
      if (ids[q] == ids[i]) sim_fail(w, "%s: list element e%" PRId64 " appears twice in the final read", name, ids[i]);
  int del_unknown = 0;
  for (uint32_t j = 0; j < k->n; j++) {
    const tw_op_t *d = &k->ops[j];
    if (d->op != OP_DEL) continue;
    if (!known(d)) del_unknown = 1;
    if (d->status != TW_ACKED) continue;
    for (uint32_t q = 0; q < d->nseen; q++) {
      w->types->checked_deleted++;
      for (size_t i = 0; i < n; i++)
        if (ids[i] == d->seen[q])
          sim_fail(w, "%s: %c%" PRId64 ", removed by the acknowledged delete sent at %" PRIu64
                   " ms, is back in the final read", name, k->ty == ST_LIST ? 'e' : 'd', d->seen[q], d->t_send);
    }
  }
  for (uint32_t j = 0; j < k->n && !del_unknown; j++) {
    const tw_op_t *op = &k->ops[j];
    if (op->op != OP_ADD || op->status != TW_ACKED) continue;
    int removed = 0;
    for (uint32_t q = 0; q < k->n && !removed; q++) {
      const tw_op_t *d = &k->ops[q];
      for (uint32_t x = 0; d->op == OP_DEL && d->status == TW_ACKED && x < d->nseen && !removed; x++)
        removed = d->seen[x] == op->n;
    }
    if (removed) continue;
    int found = 0;
    for (size_t i = 0; i < n && !found; i++) found = ids[i] == op->n;
    w->types->checked_members++;
    if (!found)
      sim_fail(w, "%s: acknowledged add of %c%" PRId64 " (sent at %" PRIu64 " ms), removed by no acknowledged "
               "delete, missing from the final read", name, k->ty == ST_LIST ? 'e' : 'd', op->n, op->t_send);
  }
  dyna_free(ids);
}

void sim_types_check(sim_world_t *w, uint32_t tk, const char *name, const dyna_obj_t *o) {
  sim_types_t *s = w->types;
  tw_key_t *k = &s->k[tk];
  uint64_t now = SIM_WALL_EPOCH_MS + w->now;
  if (k->life == LIFE_EXPIRE) {
    /* (d) */
    if (!k->retired) return;
    const tw_op_t *e = &k->ops[k->n - 1];
    int ok = e->status == TW_ACKED && e->op == OP_EXPIRE && e->deadline < now;
    /* A PEXPIREAT in the past on its coordinator's clock deletes the key as observed
     * (as DEL does: a write it did not observe survives): only a deadline ahead of
     * every node's clock is checked. */
    if (e->m == 1 && e->n <= s->max_off + 100) ok = 0;
    for (uint32_t j = 0; j + 1 < k->n && ok; j++) ok = known(&k->ops[j]) && k->ops[j].t_ack < e->t_send;
    if (!ok) return;
    s->checked_expired++;
    dyna_kind_t kind = dyna_obj_kind(o, now);
    if (kind != DYNA_KIND_NONE)
      sim_fail(w, "%s: expired at most at %" PRIu64 " ms (wall) and never written since, but reads as kind %d at %" PRIu64,
               name, e->deadline, (int)kind, now);
    return;
  }
  if (k->life == LIFE_DEL) {
    check_del(w, k, name, o, now);
    return;
  }
  if (k->life != LIFE_PLAIN) return;
  dyna_tenv_t env = {0, now, 0, DYNA_RESP2, 0};
  const dyna_crdt_t *st = dyna_typed_read_state(o, TY_CRDT[k->ty], &env);
  if (k->ty == ST_COUNTER) {
    /* (a) */
    int64_t acked = 0, lo = 0, hi = 0;
    for (uint32_t j = 0; j < k->n; j++) {
      const tw_op_t *op = &k->ops[j];
      if (op->status == TW_ACKED) acked += op->n;
      else if (op->status != TW_REJECTED) { if (op->n < 0) lo += op->n; else hi += op->n; }
    }
    int64_t v = 0;
    double d = 0;
    if (st && dyna_crdt_counter_get(st, &v, &d)) v = 0;
    if (v < acked + lo || v > acked + hi)
      sim_fail(w, "%s: counter reads %" PRId64 ", acknowledged increments sum to %" PRId64
               " (unknown ones: %" PRId64 "..+%" PRId64 ")", name, v, acked, lo, hi);
    return;
  }
  if (k->ty == ST_LIST) { check_list(w, k, name, st); return; }
  /* (b) */
  for (uint8_t m = 0; m < NMEMBERS; m++) {
    uint64_t last_rem_ack = 0;
    int rem_unknown = 0;
    for (uint32_t j = 0; j < k->n; j++) {
      const tw_op_t *op = &k->ops[j];
      if (op->m != m || op->op != OP_REM || op->status == TW_REJECTED) continue;
      if (op->status != TW_ACKED) rem_unknown = 1;
      else if (op->t_ack > last_rem_ack) last_rem_ack = op->t_ack;
    }
    if (rem_unknown) continue;
    const tw_op_t *add = NULL;
    for (uint32_t j = 0; j < k->n && !add; j++) {
      const tw_op_t *op = &k->ops[j];
      if (op->m == m && op->op == OP_ADD && op->status == TW_ACKED && op->t_send > last_rem_ack) add = op;
    }
    if (!add) continue;
    s->checked_members++;
    if (!member_present(st, k->ty, m))
      sim_fail(w, "%s: member %u, added (acknowledged, sent at %" PRIu64 " ms) after its last removal was acknowledged (%" PRIu64 " ms), missing from the final read (kind %d, %zu members)",
               name, m, add->t_send, last_rem_ack, (int)dyna_obj_kind(o, now), st ? dyna_crdt_count(st) : 0);
  }
}

void sim_types_report(sim_world_t *w, FILE *out) {
  sim_types_t *s = w->types;
  if (!s || !s->nk) return;
  char t[64];
  size_t l = 0;
  t[0] = 0;
  for (int j = 0; j < ST_NTYPES; j++)
    if (w->o.types & (1u << j)) l += (size_t)snprintf(t + l, sizeof(t) - l, "%s%s", l ? "," : "", TY_NAME[j]);
  if (w->o.types & ST_EXPIRE) snprintf(t + l, sizeof(t) - l, "%sexpire", l ? "," : "");
  fprintf(out, "  types %s: %u keys, %" PRIu64 " typed writes (%" PRIu64 " acked, %" PRIu64 " rejected, %" PRIu64
          " unknown); checked %" PRIu64 " members/elements, %" PRIu64 " expired keys, %" PRIu64
          " deleted members\n",
          t, s->nk, s->sent, s->acked, s->rejected, s->unknown, s->checked_members, s->checked_expired,
          s->checked_deleted);
}

/* ---- sim.del (types.h) ----------------------------------------------------------- */

/* Appends the live names (members, fields; a list's element bytes) of the key's typed
 * state as observed in o, as an array. */
static void put_observed(const dyna_obj_t *o, uint64_t now, dyna_buf_t *resp) {
  dyna_kind_t kind = dyna_obj_kind(o, now);
  uint8_t ty = kind == DYNA_KIND_SET ? DYNA_CRDT_SET : kind == DYNA_KIND_HASH ? DYNA_CRDT_HASH
             : kind == DYNA_KIND_ZSET ? DYNA_CRDT_ZSET : kind == DYNA_KIND_LIST ? DYNA_CRDT_LIST : 0;
  const dyna_crdt_t *st = ty ? dyna_obj_typed(o, ty) : NULL;
  if (!st) {
    dyna_resp_put_array(resp, 0);
    return;
  }
  if (ty == DYNA_CRDT_LIST) {
    dyna_crdt_litem_t *it = NULL;
    size_t n = 0;
    if (dyna_crdt_lview(st, &it, &n)) abort();
    dyna_resp_put_array(resp, n);
    for (size_t j = 0; j < n; j++) dyna_resp_put_bulk(resp, it[j].v->data, it[j].v->len);
    dyna_free(it);
    return;
  }
  dyna_resp_put_array(resp, dyna_crdt_count(st));
  size_t cur = 0;
  const dyna_crdt_elem_t *e;
  while ((e = dyna_crdt_next(st, &cur)) != NULL) dyna_resp_put_bulk(resp, e->key, e->klen);
}

/* sim.del key: answers what it removes, then deletes the key as the node's DEL does
 * (coord.c / replica.c: a tombstone over the register's values with the coordinator's
 * stamp, then dyna_obj_supersede with that stamp). Always a write, as DEL is. */
static int sim_del(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env, dyna_buf_t *resp,
                   int *changed) {
  (void)a;
  *changed = 0;
  put_observed(o, env->now_ms, resp);
  dyna_ctx_t seen;
  dyna_ctx_init(&seen);
  int rc = dyna_obj_context(o, &seen);
  dyna_val_t tomb = {DYNA_VAL_TOMBSTONE, env->now_ms, NULL, 0};
  if (!rc) rc = dyna_obj_update(o, &seen, env->actor, &tomb);
  dyna_ctx_clear(&seen);
  if (!rc) rc = dyna_obj_supersede(o, env->actor, env->now_ms, 0);
  if (rc) return rc; /* the caller discards o and the answer */
  *changed = 1;
  return resp->oom ? DYNA_ENOMEM : 0;
}

static const dyna_typed_cmd_t SIM_CMDS[] = {{"sim.del", sim_del, NULL, 2}, {0}};

const dyna_typed_cmd_t *sim_types_cmds(void) { return SIM_CMDS; }
