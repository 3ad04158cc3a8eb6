/* cmd_string.c: the register as plain Redis strings: GET SET DEL EXISTS MGET MSET.
 * Each key becomes one node request; the slot kinds (conn.h) fold their replies:
 * GET the last written sibling, SET/MSET +OK once every put succeeded, DEL/EXISTS a
 * count. SET and DEL are blind writes: they supersede every version the coordinator
 * knows, with no context from the client. The table checks arity; a handler checks only the
 * shape an arity cannot say (pairs, options).
 *
 * The conditional and read-modify-write commands (SET with NX/XX/GET, SETNX, GETSET,
 * MSETNX, APPEND, SETRANGE, GETDEL) and the reads STRLEN and GETRANGE are SLOT_STEPs
 * (conn.h): a quorum GET of each key, then, judged on the value read (the one GET would
 * show: the last written live sibling), a PUT or DEL with the context that GET returned,
 * so that the write supersedes exactly the siblings read and a concurrent writer's value
 * stays beside it as a sibling. Two such commands on two sides of a partition can thus
 * both succeed (two SET NX both answer OK and leave two siblings); MSETNX reads all its
 * keys, then writes all of them, and is not atomic across keys. */
#include "runtime/cmd_table.h"
#include "proto/words.h"
#include "core/keyspace.h"
#include "core/object.h"
#include "core/crdt_ops.h"
#include "core/typed.h"
#include "util/alloc.h"
#include "util/assert.h"
#include <stdio.h>

/* Redis 7's words for what these commands refuse. */
#define MSG_NOT_INT DYNA_WORD_ERR " value is not an integer or out of range"
#define MSG_OFFSET DYNA_WORD_ERR " offset is out of range"
#define MSG_TOO_LONG DYNA_WORD_ERR " string exceeds maximum allowed size (proto-max-bulk-len)"

/* slot->opt: the command (low byte) and SET's options. */
enum { STR_SET = 1, STR_SETNX, STR_GETSET, STR_APPEND, STR_STRLEN, STR_GETRANGE, STR_SETRANGE, STR_GETDEL };
#define SET_NX 0x100u
#define SET_XX 0x200u
#define SET_GET 0x400u
#define MSETNX_LOST 0x800u /* MSETNX: a read's context could not be kept (out of memory) */

void dyna_cmd_get(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  slot_t *slot = dyna_cmd_slot_open(s, c, SLOT_GET, 1);
  if (!slot) return;
  dyna_req_t req;
  dyna_cmd_key_req(&req, DYNA_OP_GET, a, 1);
  req.flags = DYNA_REQ_NOCTX | DYNA_REQ_ENCODED; /* cmd_reply.c reads the object alone, encoded or not */
  dyna_cmd_submit(s, c, slot, 0, &req);
}

/* SET key value [EX ..|KEEPTTL]: one blind PUT (deadline when: wall ms, 0 none). */
static void set_blind(dyna_server_t *s, conn_t *c, const dyna_args_t *a, uint64_t when, uint32_t flags) {
  slot_t *slot = dyna_cmd_slot_open(s, c, SLOT_SET, 1);
  if (!slot) return;
  dyna_req_t req;
  dyna_cmd_key_req(&req, DYNA_OP_PUT, a, 1);
  req.flags = DYNA_REQ_BLIND | DYNA_REQ_NOCTX | flags; /* +OK: no context */
  req.val = dyna_arg(a, 2);
  req.vlen = dyna_arg_len(a, 2);
  req.expire_at_ms = when;
  dyna_cmd_submit(s, c, slot, 0, &req);
}

/* MSET, MSETNX: all or nothing: refuses (answered) the whole command before writing
 * any key when a key or value is over its limit or a key is empty. */
static int pairs_refused(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  uint32_t n = (uint32_t)(a->argc - 1) / 2;
  for (uint32_t i = 0; i < n; i++) {
    char line[96];
    size_t kl = dyna_arg_len(a, 1 + 2 * i), vl = dyna_arg_len(a, 2 + 2 * i);
    if (kl > DYNA_MAX_KEY_BYTES || vl > s->cfg.max_value_bytes) {
      int key = kl > DYNA_MAX_KEY_BYTES;
      snprintf(line, sizeof(line), DYNA_WORD_TOOBIG " %s is %zu bytes, limit is %zu", key ? "key" : "value",
               key ? kl : vl, key ? (size_t)DYNA_MAX_KEY_BYTES : s->cfg.max_value_bytes);
      dyna_conn_answer_error(c, line);
      return 1;
    }
    if (!kl) { dyna_conn_answer_error(c, DYNA_WORD_ERR " empty key"); return 1; }
  }
  return 0;
}

void dyna_cmd_mset(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  if (a->argc % 2 == 0) { dyna_conn_answer_arity_error(c, "mset"); return; }
  if (pairs_refused(s, c, a)) return;
  uint32_t n = (uint32_t)(a->argc - 1) / 2;
  slot_t *slot = dyna_cmd_slot_open(s, c, SLOT_SET, n);
  if (!slot) return;
  for (uint32_t i = 0; i < n; i++) {
    dyna_req_t req;
    dyna_cmd_key_req(&req, DYNA_OP_PUT, a, 1 + 2 * i);
    req.flags = DYNA_REQ_BLIND | DYNA_REQ_NOCTX;
    req.val = dyna_arg(a, 2 + 2 * i);
    req.vlen = dyna_arg_len(a, 2 + 2 * i);
    dyna_cmd_submit(s, c, slot, i, &req);
  }
}

/* One request per key argument: MGET, EXISTS, DEL. */
static void multikey(dyna_server_t *s, conn_t *c, const dyna_args_t *a, slot_kind_t kind, dyna_op_t op) {
  uint32_t n = (uint32_t)(a->argc - 1);
  slot_t *slot = dyna_cmd_slot_open(s, c, kind, n);
  if (!slot) return;
  for (uint32_t i = 0; i < n; i++) {
    dyna_req_t req;
    dyna_cmd_key_req(&req, op, a, 1 + i);
    if (op == DYNA_OP_DEL) req.flags = DYNA_REQ_BLIND | DYNA_REQ_NOCTX; /* a count: no context */
    if (op == DYNA_OP_GET) req.flags = DYNA_REQ_NOCTX | DYNA_REQ_ENCODED; /* MGET, EXISTS: as GET */
    dyna_cmd_submit(s, c, slot, i, &req);
  }
}

void dyna_cmd_mget(dyna_server_t *s, conn_t *c, const dyna_args_t *a) { multikey(s, c, a, SLOT_MGET, DYNA_OP_GET); }
void dyna_cmd_exists(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  multikey(s, c, a, SLOT_COUNT_LIVE, DYNA_OP_GET);
}
void dyna_cmd_del(dyna_server_t *s, conn_t *c, const dyna_args_t *a) { multikey(s, c, a, SLOT_COUNT_DEL, DYNA_OP_DEL); }

/* ---------- read-then-write commands ---------- */

/* Refuses (answered) a value over --max-value-bytes, in the words of a refused SET. */
static int value_too_big(dyna_server_t *s, conn_t *c, size_t len) {
  if (len <= s->cfg.max_value_bytes) return 0;
  char line[96];
  snprintf(line, sizeof(line), DYNA_WORD_TOOBIG " value is %zu bytes, limit is %zu", len, s->cfg.max_value_bytes);
  dyna_conn_answer_error(c, line);
  return 1;
}

/* Argument i as a 64-bit integer, as Redis's string2ll takes it: an optional '-', no
 * '+', no spaces, no leading zeros. Returns 0, or -1 with the error answered. */
static int parse_ll(conn_t *c, const dyna_args_t *a, size_t i, int64_t *out) {
  const uint8_t *p = dyna_arg(a, i);
  size_t n = dyna_arg_len(a, i), k = 0;
  int neg = 0;
  uint64_t v = 0;
  if (n == 1 && p[0] == '0') { *out = 0; return 0; }
  if (n && p[0] == '-') { neg = 1; k = 1; }
  if (k >= n || p[k] < '1' || p[k] > '9' || n - k > 19) goto bad;
  for (; k < n; k++) {
    if (p[k] < '0' || p[k] > '9') goto bad;
    v = v * 10 + (uint64_t)(p[k] - '0'); /* 19 digits cannot wrap a uint64_t */
  }
  if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX) goto bad;
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  return 0;
bad:
  dyna_conn_answer_error(c, MSG_NOT_INT);
  return -1;
}

static void put_value_or_nil(dyna_buf_t *b, const dyna_val_t *v, int proto) {
  if (v) dyna_resp_put_bulk(b, v->data, v->len);
  else dyna_resp_put_null(b, proto);
}

/* GETRANGE's answer: Redis's index rules (negative counts from the end, clamped). */
static void put_range(dyna_buf_t *b, const dyna_val_t *v, int64_t start, int64_t end) {
  int64_t len = v ? (int64_t)v->len : 0;
  if (start < 0 && end < 0 && start > end) { dyna_resp_put_bulk(b, "", 0); return; }
  if (start < 0) start += len;
  if (end < 0) end += len;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= len) end = len - 1;
  if (start > end || len == 0) { dyna_resp_put_bulk(b, "", 0); return; }
  dyna_resp_put_bulk(b, v->data + start, (size_t)(end - start + 1));
}

/* The string value the key holds at wall time now_ms, as GET shows it: NULL when absent
 * or expired; a counter's number written into tmp/num (num: 40 bytes). Another kind sets
 * *other and gives NULL. */
static const dyna_val_t *string_read(const dyna_obj_t *o, uint64_t now_ms, dyna_val_t *tmp, char *num,
                                     int *other) {
  dyna_kind_t k = dyna_obj_kind(o, now_ms);
  *other = k != DYNA_KIND_NONE && k != DYNA_KIND_STRING && k != DYNA_KIND_COUNTER;
  if (k == DYNA_KIND_STRING) return dyna_obj_latest(o);
  int64_t i = 0;
  double d = 0;
  const dyna_crdt_t *cs = k == DYNA_KIND_COUNTER ? dyna_obj_typed(o, DYNA_CRDT_COUNTER) : NULL;
  if (!cs || dyna_crdt_counter_get(cs, &i, &d)) return NULL;
  memset(tmp, 0, sizeof(*tmp));
  tmp->data = (uint8_t *)num;
  tmp->len = d == 0 ? (size_t)snprintf(num, 40, "%lld", (long long)i) : dyna_typed_fmt_double((double)i + d, num);
  return tmp;
}

/* One key: its read answered (sub 0) or its write (sub 1). Decides on the value read
 * (string_read: an expired key is absent, a counter is its number, another kind is
 * WRONGTYPE except to SETNX and a SET without GET, as in Redis), answers, and writes with the
 * read's context or skips the write. */
static void step_one(dyna_server_t *s, conn_t *c, slot_t *slot, uint32_t sub, const dyna_node_reply_t *r) {
  if (sub == 1) return; /* the write answered: out holds the answer, or the write's error */
  if (slot->err_set) { dyna_cmd_step_skip(slot, 1); return; }
  dyna_val_t tmp, present;
  char num[40];
  int other;
  const dyna_val_t *old = string_read(&r->obj, dyna_server_time(s).wall_ms, &tmp, num, &other);
  uint32_t cmd = slot->opt & 0xffu;
  if (other && !(cmd == STR_SETNX || (cmd == STR_SET && !(slot->opt & SET_GET)))) {
    dyna_resp_put_error(&slot->out, DYNA_TYPED_WRONGTYPE);
    dyna_cmd_step_skip(slot, 1);
    return;
  }
  if (other) { /* SETNX, SET NX|XX: the key is there; its value is not read */
    memset(&present, 0, sizeof(present));
    old = &present;
  }
  size_t oldlen = old ? old->len : 0, vlen = 0;
  /* The value argument: after the key, or after SETRANGE's offset. */
  uint32_t vi = (slot->opt & 0xffu) == STR_SETRANGE ? 2 : 1;
  const uint8_t *val = slot->nkeep > vi ? dyna_step_arg(slot, vi, &vlen) : NULL;
  dyna_buf_t *out = &slot->out;
  dyna_buf_t nv = DYNA_BUF_INIT;
  int write = 0, del = 0;
  switch (slot->opt & 0xffu) {
  case STR_SET: {
    write = (slot->opt & SET_NX) ? !old : (slot->opt & SET_XX) ? old != NULL : 1;
    if (slot->opt & SET_GET) put_value_or_nil(out, old, slot->proto);
    else if (write) dyna_resp_put_simple(out, "OK");
    else dyna_resp_put_null(out, slot->proto);
    break;
  }
  case STR_SETNX:
    write = !old;
    dyna_resp_put_int(out, write);
    break;
  case STR_GETSET:
    write = 1;
    put_value_or_nil(out, old, slot->proto);
    break;
  case STR_APPEND:
    if (oldlen + vlen > s->cfg.max_value_bytes) { dyna_resp_put_error(out, MSG_TOO_LONG); break; }
    if (old) dyna_buf_put(&nv, old->data, old->len);
    dyna_buf_put(&nv, val, vlen);
    write = 1;
    break;
  case STR_STRLEN: dyna_resp_put_int(out, (int64_t)oldlen); break;
  case STR_GETRANGE: put_range(out, old, slot->n1, slot->n2); break;
  case STR_SETRANGE: {
    if (!vlen) { dyna_resp_put_int(out, (int64_t)oldlen); break; } /* nothing to set: no write */
    size_t off = (size_t)slot->n1, end = off + vlen; /* fits: checked before the read */
    if (old) dyna_buf_put(&nv, old->data, old->len);
    if (end > nv.len && !nv.oom) {
      if (dyna_buf_reserve(&nv, end - nv.len)) {
        nv.oom = 1;
      } else {
        memset(nv.data + nv.len, 0, end - nv.len); /* Redis pads with zero bytes */
        nv.len = end;
      }
    }
    if (!nv.oom) memcpy(nv.data + off, val, vlen);
    write = 1;
    break;
  }
  case STR_GETDEL:
    put_value_or_nil(out, old, slot->proto);
    write = del = old != NULL;
    break;
  default: DYNA_ASSERT(0, "string step slot with command %u", slot->opt & 0xffu);
  }
  if (nv.oom) {
    dyna_buf_reset(out);
    dyna_resp_put_error(out, DYNA_ERR_OOM);
    write = 0;
  }
  if (!write) { dyna_cmd_step_skip(slot, 1); dyna_buf_free(&nv); return; }
  /* APPEND and SETRANGE write the value they made, and answer its length. */
  int made = (slot->opt & 0xffu) == STR_APPEND || (slot->opt & 0xffu) == STR_SETRANGE;
  if (made) dyna_resp_put_int(out, (int64_t)nv.len);
  if (made) slot->put_flags |= DYNA_REQ_KEEPTTL; /* as Redis: they change the value, not its expiry */
  dyna_cmd_step_write(s, c, slot, 0, del, &r->ctx, made ? nv.data : val, made ? nv.len : vlen);
  dyna_buf_free(&nv); /* the node copied it; the slot itself is not touched after the submit */
}

/* Opens the step of a one-key command code with options; NULL when answered already. */
static slot_t *open_one(dyna_server_t *s, conn_t *c, const dyna_args_t *a, uint32_t opt, int64_t n1, int64_t n2) {
  slot_t *slot = dyna_cmd_step_open(s, c, step_one, a, 1, 1);
  if (!slot) return NULL;
  slot->opt = opt;
  slot->n1 = n1;
  slot->n2 = n2;
  dyna_cmd_step_go(s, c, slot);
  return slot;
}

/* SET's expiry options (slot->opt bits beside NX XX GET). */
#define SET_EX 0x1000u
#define SET_PX 0x2000u
#define SET_EXAT 0x4000u
#define SET_PXAT 0x8000u
#define SET_KEEPTTL 0x10000u
#define SET_EXPIRY (SET_EX | SET_PX | SET_EXAT | SET_PXAT)

/* The deadline (wall ms) of an expiry argument i in unit (seconds when secs), relative to
 * dynad's wall clock when rel, as Redis 7's getExpireMillisecondsOrReply takes it: 0, or
 * -1 with the error answered ("invalid expire time in 'name' command"). */
static int parse_deadline(dyna_server_t *s, conn_t *c, const dyna_args_t *a, size_t i, int secs, int rel,
                          const char *name, uint64_t *out) {
  int64_t v;
  if (parse_ll(c, a, i, &v)) return -1;
  int64_t base = rel ? (int64_t)dyna_server_time(s).wall_ms : 0;
  if (v <= 0 || (secs && v > INT64_MAX / 1000) || (secs ? v * 1000 : v) > INT64_MAX - base) {
    char line[96];
    snprintf(line, sizeof(line), DYNA_WORD_ERR " invalid expire time in '%s' command", name);
    dyna_conn_answer_error(c, line);
    return -1;
  }
  *out = (uint64_t)((secs ? v * 1000 : v) + base);
  return 0;
}

/* SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]: Redis 7's option rules
 * (NX and XX exclude each other, the expiry options each other and KEEPTTL; repeats are
 * fine, the last time wins). Returns 0 and *exp_arg (the time's argument, 0: none), or
 * -1 with the error answered. */
static int parse_set_options(conn_t *c, const dyna_args_t *a, uint32_t *opt, size_t *exp_arg) {
  static const char *const expiry[] = {"EX", "PX", "EXAT", "PXAT"};
  static const uint32_t bits[] = {SET_EX, SET_PX, SET_EXAT, SET_PXAT};
  for (size_t i = 3; i < a->argc; i++) {
    if (dyna_arg_is(a, i, "NX") && !(*opt & SET_XX)) { *opt |= SET_NX; continue; }
    if (dyna_arg_is(a, i, "XX") && !(*opt & SET_NX)) { *opt |= SET_XX; continue; }
    if (dyna_arg_is(a, i, "GET")) { *opt |= SET_GET; continue; }
    if (dyna_arg_is(a, i, "KEEPTTL") && !(*opt & SET_EXPIRY)) { *opt |= SET_KEEPTTL; continue; }
    size_t k = 0;
    while (k < 4 && !dyna_arg_is(a, i, expiry[k])) k++;
    if (k < 4 && !(*opt & (SET_KEEPTTL | (SET_EXPIRY & ~bits[k]))) && i + 1 < a->argc) {
      *opt |= bits[k];
      *exp_arg = ++i;
      continue;
    }
    dyna_conn_answer_syntax_error(c, NULL);
    return -1;
  }
  return 0;
}

void dyna_cmd_set(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  if (a->argc == 3) { set_blind(s, c, a, 0, 0); return; } /* the hot path: one blind PUT */
  uint32_t opt = STR_SET;
  size_t ea = 0;
  uint64_t when = 0;
  if (parse_set_options(c, a, &opt, &ea)) return;
  if (ea && parse_deadline(s, c, a, ea, (opt & (SET_EX | SET_EXAT)) != 0, (opt & (SET_EX | SET_PX)) != 0, "set",
                           &when))
    return;
  if (value_too_big(s, c, dyna_arg_len(a, 2))) return;
  uint32_t flags = (opt & SET_KEEPTTL) ? DYNA_REQ_KEEPTTL : 0;
  if (!(opt & (SET_NX | SET_XX | SET_GET))) { set_blind(s, c, a, when, flags); return; }
  slot_t *slot = dyna_cmd_step_open(s, c, step_one, a, 1, 1);
  if (!slot) return;
  slot->opt = opt;
  slot->expire_at_ms = when;
  slot->put_flags = flags;
  dyna_cmd_step_go(s, c, slot);
}

/* SETEX key seconds value, PSETEX key milliseconds value: a blind PUT with a deadline. */
static void setex(dyna_server_t *s, conn_t *c, const dyna_args_t *a, int secs) {
  uint64_t when;
  if (parse_deadline(s, c, a, 2, secs, 1, secs ? "setex" : "psetex", &when)) return;
  if (value_too_big(s, c, dyna_arg_len(a, 3))) return;
  slot_t *slot = dyna_cmd_slot_open(s, c, SLOT_SET, 1);
  if (!slot) return;
  dyna_req_t req;
  dyna_cmd_key_req(&req, DYNA_OP_PUT, a, 1);
  req.flags = DYNA_REQ_BLIND | DYNA_REQ_NOCTX;
  req.val = dyna_arg(a, 3);
  req.vlen = dyna_arg_len(a, 3);
  req.expire_at_ms = when;
  dyna_cmd_submit(s, c, slot, 0, &req);
}

void dyna_cmd_setex(dyna_server_t *s, conn_t *c, const dyna_args_t *a) { setex(s, c, a, 1); }
void dyna_cmd_psetex(dyna_server_t *s, conn_t *c, const dyna_args_t *a) { setex(s, c, a, 0); }

void dyna_cmd_setnx(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  if (!value_too_big(s, c, dyna_arg_len(a, 2))) open_one(s, c, a, STR_SETNX, 0, 0);
}

void dyna_cmd_getset(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  if (!value_too_big(s, c, dyna_arg_len(a, 2))) open_one(s, c, a, STR_GETSET, 0, 0);
}

void dyna_cmd_append(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  if (dyna_arg_len(a, 2) > s->cfg.max_value_bytes) { dyna_conn_answer_error(c, MSG_TOO_LONG); return; }
  open_one(s, c, a, STR_APPEND, 0, 0);
}

void dyna_cmd_strlen(dyna_server_t *s, conn_t *c, const dyna_args_t *a) { open_one(s, c, a, STR_STRLEN, 0, 0); }

void dyna_cmd_getdel(dyna_server_t *s, conn_t *c, const dyna_args_t *a) { open_one(s, c, a, STR_GETDEL, 0, 0); }

void dyna_cmd_getrange(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  int64_t start, end;
  if (parse_ll(c, a, 2, &start) || parse_ll(c, a, 3, &end)) return;
  open_one(s, c, a, STR_GETRANGE, start, end);
}

void dyna_cmd_setrange(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  int64_t off;
  if (parse_ll(c, a, 2, &off)) return;
  if (off < 0) { dyna_conn_answer_error(c, MSG_OFFSET); return; }
  size_t vlen = dyna_arg_len(a, 3);
  /* As Redis: the size is checked only when there is something to write. */
  if (vlen && ((uint64_t)off > s->cfg.max_value_bytes || (size_t)off + vlen > s->cfg.max_value_bytes)) {
    dyna_conn_answer_error(c, MSG_TOO_LONG);
    return;
  }
  open_one(s, c, a, STR_SETRANGE, off, 0);
}

/* MSETNX: every key's read answered (sub < nkeys) or its write. Once all are read:
 * writes them all when none had a live value, else none. */
static void step_msetnx(dyna_server_t *s, conn_t *c, slot_t *slot, uint32_t sub, const dyna_node_reply_t *r) {
  uint32_t n = slot->nkeys;
  if (sub >= n) return;
  if (!r->status) {
    slot->count += dyna_obj_latest(&r->obj) != NULL;
    dyna_ctx_encode(&r->ctx, &slot->parts[sub]);
    if (slot->parts[sub].oom) slot->opt |= MSETNX_LOST;
  }
  if (slot->ndone < n) return; /* writes start after every read: ndone counts reads here */
  if (!slot->err_set && (slot->opt & MSETNX_LOST)) {
    dyna_resp_put_error(&slot->out, DYNA_ERR_OOM);
    slot->err_set = 1;
  }
  int go = !slot->err_set && !slot->count;
  if (!slot->err_set) dyna_resp_put_int(&slot->out, go);
  for (uint32_t i = 0; i < n; i++) {
    /* A key named again later is written once, with its last value, as Redis does. */
    size_t kl, kl2;
    const uint8_t *k = dyna_step_arg(slot, 2 * i, &kl);
    int later = 0;
    for (uint32_t j = i + 1; go && j < n && !later; j++) {
      const uint8_t *k2 = dyna_step_arg(slot, 2 * j, &kl2);
      later = kl == kl2 && memcmp(k, k2, kl) == 0;
    }
    dyna_ctx_t ctx;
    dyna_ctx_init(&ctx);
    if (!go || later) { dyna_cmd_step_skip(slot, n + i); continue; }
    if (dyna_ctx_decode(slot->parts[i].data, slot->parts[i].len, &ctx)) { /* only out of memory */
      dyna_buf_reset(&slot->out);
      dyna_resp_put_error(&slot->out, DYNA_ERR_OOM);
      slot->err_set = 1;
      dyna_cmd_step_skip(slot, n + i);
      continue;
    }
    size_t vl;
    const uint8_t *v = dyna_step_arg(slot, 2 * i + 1, &vl);
    dyna_cmd_step_write(s, c, slot, i, 0, &ctx, v, vl);
    dyna_ctx_clear(&ctx);
  }
}

void dyna_cmd_msetnx(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  if (a->argc % 2 == 0) { dyna_conn_answer_arity_error(c, "msetnx"); return; }
  if (pairs_refused(s, c, a)) return;
  slot_t *slot = dyna_cmd_step_open(s, c, step_msetnx, a, (uint32_t)(a->argc - 1) / 2, 2);
  if (slot) dyna_cmd_step_go(s, c, slot);
}
