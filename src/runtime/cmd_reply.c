/* cmd_reply.c: how a command's answer is made, for every family: immediate answers and
 * errors, and for commands that ask the node, a slot of node requests whose replies are
 * folded into one RESP answer (dyna_cmd_complete), by the slot's kind:
 *
 *   handler ─▶ dyna_cmd_slot_open(kind, nsub) ─▶ nsub × dyna_cmd_submit ─▶ node
 *   node reply ─▶ server.c route ─▶ dyna_cmd_complete(slot, sub) ─▶ ... ─▶ finish_slot:
 *                 the slot is READY and leaves in its turn (conn.c)
 *
 * Plain Redis commands map onto versioned operations: GET returns the last written
 * sibling; SET and DEL supersede every version the coordinator knows.
 *
 * A read-then-write command is a SLOT_STEP (conn.h): its reads, then, as each reply
 * comes, its step function decides and submits the write with the context read:
 *
 *   dyna_cmd_step_open ─▶ (its turn) dyna_cmd_step_start: GET of each key
 *   reply ─▶ dyna_cmd_complete ─▶ step_complete ─▶ slot->step ─▶ dyna_cmd_step_write
 *                                                              or dyna_cmd_step_skip
 *   every request done or skipped ─▶ READY */
#include "runtime/cmd_table.h"
#include "proto/words.h"
#include "util/assert.h"
#include "util/alloc.h"
#include "util/b64.h"
#include "util/err.h"
#include "core/object.h"
#include "core/crdt_ops.h"
#include "core/typed.h"
#include <stdio.h>

/* ---------- immediate answers ---------- */

dyna_buf_t *dyna_conn_answer_now(conn_t *c) {
  if (!c->head) return &c->wq.out;
  slot_t *slot = dyna_slot_get(c->srv);
  if (!slot) return &c->wq.out; /* out of memory: order may suffer, content does not */
  slot->kind = SLOT_READY;
  dyna_conn_slot_push(c, slot);
  return &slot->out;
}

void dyna_conn_answer_error(conn_t *c, const char *msg) { dyna_resp_put_error(dyna_conn_answer_now(c), msg); }

void dyna_conn_answer_arity_error(conn_t *c, const char *name) {
  char line[96];
  snprintf(line, sizeof(line), DYNA_WORD_ERR " wrong number of arguments for '%s' command", name);
  dyna_conn_answer_error(c, line);
}

void dyna_conn_answer_syntax_error(conn_t *c, const char *detail) {
  char line[160];
  snprintf(line, sizeof(line), DYNA_WORD_ERR " syntax error%s%s", detail ? " " : "", detail ? detail : "");
  dyna_conn_answer_error(c, line);
}

/* ---------- slots of node requests ---------- */

slot_t *dyna_cmd_slot_open(dyna_server_t *s, conn_t *c, slot_kind_t kind, uint32_t nsub) {
  DYNA_ASSERT(kind != SLOT_READY && nsub > 0, "slot kind %d with %u requests", (int)kind, nsub);
  slot_t *slot = dyna_slot_get(s);
  if (!slot) goto oom;
  slot->kind = kind;
  slot->nsub = nsub;
  slot->proto = c->proto;
  if (kind == SLOT_MGET) {
    slot->parts = dyna_calloc(nsub, sizeof(dyna_buf_t));
    if (!slot->parts) goto oom;
  }
  slot->first_req = s->next_req + 1;
  s->next_req += nsub;
  dyna_conn_slot_push(c, slot);
  return slot;
oom:
  dyna_slot_put(s, slot);
  dyna_conn_answer_error(c, DYNA_ERR_OOM);
  return NULL;
}

void dyna_cmd_submit(dyna_server_t *s, conn_t *c, slot_t *slot, uint32_t sub, dyna_req_t *req) {
  DYNA_ASSERT(sub < slot->nsub, "request %u of a slot of %u", sub, slot->nsub);
  req->id = slot->first_req + sub;
  slot->submit_ns = uv_hrtime();
  int rc = dyna_idmap_put(&s->pend, req->id, slot, sub);
  if (!rc) {
    rc = dyna_node_request(s->node, req, dyna_server_time(s));
    if (rc) dyna_idmap_take(&s->pend, req->id, NULL);
  }
  if (rc) {
    dyna_node_reply_t r;
    memset(&r, 0, sizeof(r));
    r.req_id = req->id;
    r.op = req->op;
    dyna_node_reply_fail(&r, rc, NULL);
    dyna_cmd_complete(s, c, slot, sub, &r);
  }
}

void dyna_cmd_key_req(dyna_req_t *req, dyna_op_t op, const dyna_args_t *a, size_t i) {
  memset(req, 0, sizeof(*req));
  req->op = op;
  req->key = dyna_arg(a, i);
  req->klen = dyna_arg_len(a, i);
}

/* ---------- read-then-write slots ---------- */

slot_t *dyna_cmd_step_open(dyna_server_t *s, conn_t *c, dyna_step_fn_t *step, const dyna_args_t *a,
                           uint32_t nkeys, uint32_t kstep) {
  DYNA_ASSERT(!c->stepping && nkeys > 0 && kstep > 0 && a->argc > 1 && (nkeys - 1) * kstep < a->argc - 1,
              "step slot: conn %llu stepping %p, %u keys step %u, argc %zu", (unsigned long long)c->id,
              (void *)c->stepping, nkeys, kstep, a->argc);
  slot_t *slot = dyna_cmd_slot_open(s, c, SLOT_STEP, 2 * nkeys);
  if (!slot) return NULL;
  slot->step = step;
  slot->nkeys = nkeys;
  slot->kstep = kstep;
  slot->nkeep = (uint32_t)(a->argc - 1);
  slot->subst = dyna_calloc(slot->nsub, 1);
  slot->parts = dyna_calloc(slot->nsub, sizeof(dyna_buf_t)); /* conn.c frees nsub of them */
  slot->keep_off = dyna_calloc(slot->nkeep + 1, sizeof(size_t));
  for (uint32_t i = 0; i < slot->nkeep; i++) {
    dyna_buf_put(&slot->keep, dyna_arg(a, 1 + i), dyna_arg_len(a, 1 + i));
    if (slot->keep_off) slot->keep_off[i + 1] = slot->keep.len;
  }
  if (!slot->subst || !slot->parts || !slot->keep_off || slot->keep.oom) {
    /* Answer the error in place: the slot is READY and leaves in its turn. */
    slot->kind = SLOT_READY;
    dyna_buf_reset(&slot->out);
    slot->out.oom = 0;
    dyna_resp_put_error(&slot->out, DYNA_ERR_OOM);
    return NULL;
  }
  c->stepping = slot;
  return slot;
}

void dyna_cmd_step_go(dyna_server_t *s, conn_t *c, slot_t *slot) {
  if (c->head == slot) dyna_cmd_step_start(s, c, slot);
}

const uint8_t *dyna_step_arg(const slot_t *slot, uint32_t i, size_t *len) {
  DYNA_ASSERT(i < slot->nkeep, "kept argument %u of %u", i, slot->nkeep);
  *len = slot->keep_off[i + 1] - slot->keep_off[i];
  return slot->keep.data + slot->keep_off[i];
}

void dyna_cmd_step_start(dyna_server_t *s, conn_t *c, slot_t *slot) {
  DYNA_ASSERT(slot->kind == SLOT_STEP && !slot->started && slot->ndone == 0 && c->head == slot &&
                  c->stepping == slot,
              "starting step slot %p kind %d started %d done %u (head %p, stepping %p)", (void *)slot,
              (int)slot->kind, slot->started, slot->ndone, (void *)c->head, (void *)c->stepping);
  slot->started = 1;
  uint32_t n = slot->nkeys;
  for (uint32_t i = 0; i < n && slot->kind == SLOT_STEP; i++) {
    dyna_req_t req;
    memset(&req, 0, sizeof(req));
    req.op = DYNA_OP_GET;
    req.key = dyna_step_arg(slot, slot->kfirst + i * slot->kstep, &req.klen);
    slot->subst[i] = SUB_SENT;
    dyna_cmd_submit(s, c, slot, i, &req);
  }
}

void dyna_cmd_step_skip(slot_t *slot, uint32_t sub) {
  DYNA_ASSERT(slot->kind == SLOT_STEP && sub < slot->nsub && slot->subst[sub] == SUB_IDLE &&
                  slot->ndone < slot->nsub,
              "skipping request %u of step slot %p (state %d, %u of %u done)", sub, (void *)slot,
              sub < slot->nsub ? slot->subst[sub] : -1, slot->ndone, slot->nsub);
  slot->subst[sub] = SUB_DONE;
  slot->ndone++;
}

void dyna_cmd_step_write(dyna_server_t *s, conn_t *c, slot_t *slot, uint32_t i, int del,
                         const dyna_ctx_t *ctx, const uint8_t *val, size_t vlen) {
  uint32_t sub = slot->nkeys + i;
  /* The write follows its key's read: one request outstanding per key step. */
  DYNA_ASSERT(i < slot->nkeys && slot->subst[i] == SUB_DONE && slot->subst[sub] == SUB_IDLE,
              "write %u of step slot %p: read state %d, write state %d", i, (void *)slot,
              i < slot->nkeys ? slot->subst[i] : -1, i < slot->nkeys ? slot->subst[sub] : -1);
  dyna_req_t req;
  memset(&req, 0, sizeof(req));
  req.op = del ? DYNA_OP_DEL : DYNA_OP_PUT;
  req.key = dyna_step_arg(slot, slot->kfirst + i * slot->kstep, &req.klen);
  if (!del) {
    req.expire_at_ms = slot->expire_at_ms;
    req.flags = slot->put_flags;
  }
  req.ctx = ctx;
  req.val = val;
  req.vlen = vlen;
  slot->subst[sub] = SUB_SENT;
  dyna_cmd_submit(s, c, slot, sub, &req);
}

/* ---------- folding replies ---------- */

/* What a GET reply holds at wall time now_ms: the key's kind, and a string's latest value
 * in *v (borrowed from r). An object that came as its encoded bytes (DYNA_REQ_ENCODED,
 * checked by the core) is read from them when it has no typed states (*o NULL), else
 * decoded into *tmp (initialised by the caller, who clears it); *o is the object read.
 * Returns 0 or the decode's error. */
static int reply_read(const dyna_node_reply_t *r, uint64_t now_ms, dyna_obj_t *tmp, const dyna_obj_t **o,
                      dyna_kind_t *kind, dyna_val_t *v) {
  memset(v, 0, sizeof(*v));
  *o = &r->obj;
  if (r->enc.len && !r->enc_info.typed) {
    *o = NULL;
    *kind = r->enc_info.has_latest ? DYNA_KIND_STRING : DYNA_KIND_NONE;
    v->data = r->enc.data + r->enc_info.latest_off;
    v->len = r->enc_info.latest_len;
    return 0;
  }
  if (r->enc.len) {
    int rc = dyna_obj_decode(r->enc.data, r->enc.len, tmp);
    if (rc) return rc;
    *o = tmp;
  }
  *kind = dyna_obj_kind(*o, now_ms);
  const dyna_val_t *latest = *kind == DYNA_KIND_STRING ? dyna_obj_latest(*o) : NULL;
  if (latest) *v = *latest;
  return 0;
}

/* GET's answer for a key of kind k (reply_read: o, v): the latest value of a string, a
 * counter's number, nil for an absent or expired key; another kind answers WRONGTYPE
 * (GET) or nil (MGET, as Redis does). */
static void put_latest(dyna_buf_t *b, const dyna_obj_t *o, dyna_kind_t k, const dyna_val_t *v, int mget,
                       int proto) {
  int64_t i = 0;
  double d = 0;
  const dyna_crdt_t *cs = k == DYNA_KIND_COUNTER ? dyna_obj_typed(o, DYNA_CRDT_COUNTER) : NULL;
  if (k == DYNA_KIND_STRING) {
    dyna_resp_put_bulk(b, v->data, v->len);
  } else if (cs && !dyna_crdt_counter_get(cs, &i, &d)) {
    char num[40];
    size_t n = d == 0 ? (size_t)snprintf(num, sizeof(num), "%lld", (long long)i)
                      : dyna_typed_fmt_double((double)i + d, num);
    dyna_resp_put_bulk(b, num, n);
  } else if (k != DYNA_KIND_NONE && k != DYNA_KIND_STRING && k != DYNA_KIND_COUNTER && !mget) {
    dyna_resp_put_error(b, DYNA_TYPED_WRONGTYPE);
  } else {
    dyna_resp_put_null(b, proto);
  }
}

static void put_context(dyna_buf_t *b, const dyna_ctx_t *ctx) {
  if (!ctx->n) { dyna_resp_put_bulk(b, "", 0); return; }
  dyna_buf_t raw = DYNA_BUF_INIT, text = DYNA_BUF_INIT;
  dyna_ctx_encode(ctx, &raw);
  dyna_b64_encode(raw.data, raw.len, &text);
  dyna_resp_put_bulk(b, text.data, text.len);
  dyna_buf_free(&raw);
  dyna_buf_free(&text);
}

static void put_siblings(dyna_buf_t *b, const dyna_node_reply_t *r) {
  dyna_resp_put_array(b, 2);
  put_context(b, &r->ctx);
  dyna_resp_put_array(b, dyna_obj_nlive(&r->obj));
  for (size_t i = 0; i < dyna_obj_nvals(&r->obj); i++) {
    const dyna_val_t *v = dyna_obj_val(&r->obj, i);
    if (!(v->flags & DYNA_VAL_TOMBSTONE)) dyna_resp_put_bulk(b, v->data, v->len);
  }
}

static void finish_slot(slot_t *slot) {
  if (slot->err_set) { slot->kind = SLOT_READY; return; }
  switch (slot->kind) {
  case SLOT_MGET:
    dyna_resp_put_array(&slot->out, slot->nsub);
    for (uint32_t i = 0; i < slot->nsub; i++)
      dyna_buf_put(&slot->out, slot->parts[i].data, slot->parts[i].len);
    break;
  case SLOT_SET: dyna_resp_put_simple(&slot->out, "OK"); break;
  case SLOT_COUNT_LIVE:
  case SLOT_COUNT_DEL: dyna_resp_put_int(&slot->out, slot->count); break;
  default: break; /* single-request kinds wrote their answer already */
  }
  if (slot->out.oom) {
    dyna_buf_reset(&slot->out);
    slot->out.oom = 0;
    dyna_resp_put_error(&slot->out, DYNA_ERR_OOM);
  }
  slot->kind = SLOT_READY;
}

static void put_status_failure(slot_t *slot, int status, const char *msg) {
  if (slot->err_set) return;
  dyna_buf_reset(&slot->out);
  dyna_resp_put_status_error(&slot->out, status, msg);
  slot->err_set = 1;
}

static void put_failure(slot_t *slot, const dyna_node_reply_t *r) { put_status_failure(slot, r->status, r->msg); }

/* A GET, MGET or EXISTS reply (reply_read). */
static void complete_read(dyna_server_t *s, slot_t *slot, uint32_t sub, const dyna_node_reply_t *r) {
  dyna_obj_t tmp;
  dyna_obj_init(&tmp);
  const dyna_obj_t *o;
  dyna_kind_t k;
  dyna_val_t v;
  int rc = reply_read(r, dyna_server_time(s).wall_ms, &tmp, &o, &k, &v);
  if (rc) {
    put_status_failure(slot, rc, NULL);
  } else if (slot->kind == SLOT_COUNT_LIVE) {
    slot->count += k != DYNA_KIND_NONE;
  } else {
    if (k != DYNA_KIND_NONE) s->stats.keyspace_hits++;
    else s->stats.keyspace_misses++;
    put_latest(slot->kind == SLOT_GET ? &slot->out : &slot->parts[sub], o, k, &v, slot->kind == SLOT_MGET,
               slot->proto);
  }
  dyna_obj_clear(&tmp);
}

/* A SLOT_STEP's request sub answered: record it, let the step function go on. */
static void step_complete(dyna_server_t *s, conn_t *c, slot_t *slot, uint32_t sub, const dyna_node_reply_t *r) {
  DYNA_ASSERT(slot->subst[sub] == SUB_SENT, "step slot %p: request %u answered in state %d", (void *)slot,
              sub, slot->subst[sub]);
  slot->subst[sub] = SUB_DONE;
  slot->ndone++;
  if (r->status) put_failure(slot, r);
  slot->step(s, c, slot, sub, r);
  /* A submit that failed at once completed re-entrantly and may have finished it. */
  if (slot->kind == SLOT_STEP && slot->ndone == slot->nsub) finish_slot(slot);
}

void dyna_cmd_complete(dyna_server_t *s, conn_t *c, slot_t *slot, uint32_t sub,
                       const dyna_node_reply_t *r) {
  /* Each request of a slot is completed once: its id left the pending map when its
   * reply was routed here, and a slot is READY only once all of them came. */
  DYNA_ASSERT(slot->kind != SLOT_READY && slot->ndone < slot->nsub && sub < slot->nsub &&
                  slot->conn == c,
              "completing request %u of slot %p (kind %d, %u of %u done, first req %llu)", sub,
              (void *)slot, (int)slot->kind, slot->ndone, slot->nsub,
              (unsigned long long)slot->first_req);
  if (slot->kind == SLOT_STEP) { step_complete(s, c, slot, sub, r); return; }
  if (r->status) {
    put_failure(slot, r);
  } else if (!slot->err_set) {
    switch (slot->kind) {
    case SLOT_GET:
    case SLOT_MGET:
    case SLOT_COUNT_LIVE: complete_read(s, slot, sub, r); break;
    case SLOT_TWRITE: dyna_buf_put(&slot->out, r->resp.data, r->resp.len); break;
    case SLOT_TREAD: dyna_cmd_typed_read(s, slot, r); break;
    case SLOT_COUNT_DEL: slot->count += r->existed; break;
    case SLOT_DGET: put_siblings(&slot->out, r); break;
    case SLOT_DPUT: put_context(&slot->out, &r->ctx); break;
    default: break;
    }
  }
  if (++slot->ndone == slot->nsub) finish_slot(slot);
}
