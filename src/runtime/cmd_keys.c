/* cmd_keys.c: the key-space commands: SCAN, KEYS, RANDOMKEY, DBSIZE, FLUSHALL, FLUSHDB,
 * and RENAME, RENAMENX, COPY (below: a read, a copy, a delete).
 * Each is one node request without a key (DYNA_OP_SCAN, _DBSIZE, _FLUSH: the core's
 * scan_fsm.c coordinates it across the cluster, see core/scan.h) whose reply carries the
 * whole RESP answer, copied out as a typed write's is (SLOT_TWRITE). The handlers check
 * the arguments in Redis 7.0's words; FLUSHALL and FLUSHDB are refused unless the
 * operator started dynad with --enable-flush-command.
 *
 * TOUCH and UNLINK need no handler of their own: TOUCH counts the keys that exist, as
 * EXISTS (Dyna keeps no access time), and UNLINK deletes as DEL (cmd_table.c). */
#include "runtime/cmd_table.h"
#include "core/object.h"
#include "core/scan.h"
#include "core/typed.h"
#include "proto/words.h"
#include <stdio.h>

#define MSG_NOT_INT DYNA_WORD_ERR " value is not an integer or out of range"
#define MSG_CURSOR DYNA_WORD_ERR " invalid cursor"
#define MSG_FLUSH_OFF                                                                            \
  DYNA_WORD_ERR " FLUSHALL and FLUSHDB are not allowed: they delete every key of the cluster. " \
                "Start dynad with --enable-flush-command (or enable-flush-command = yes in "  \
                "its config file) to allow them"

/* One request of op with the scan spec sp (NULL: none) as the whole answer. */
static void keyspace_req(dyna_server_t *s, conn_t *c, dyna_op_t op, const dyna_scan_spec_t *sp) {
  slot_t *slot = dyna_cmd_slot_open(s, c, SLOT_TWRITE, 1);
  if (!slot) return;
  dyna_req_t req;
  memset(&req, 0, sizeof(req));
  req.op = op;
  req.scan = sp;
  dyna_cmd_submit(s, c, slot, 0, &req);
}

/* A decimal cursor as Redis 7.0's parseScanCursorOrReply takes it (strtoul): an optional
 * sign ("-1" is 2^64 - 1), digits, nothing else, at most 2^64 - 1. */
static int parse_cursor(const dyna_args_t *a, size_t i, uint64_t *out) {
  const uint8_t *p = dyna_arg(a, i);
  size_t n = dyna_arg_len(a, i), k = 0;
  uint64_t v = 0;
  int neg = n && p[0] == '-';
  if (n && (p[0] == '-' || p[0] == '+')) k = 1;
  if (k == n) return -1;
  for (; k < n; k++) {
    if (p[k] < '0' || p[k] > '9') return -1;
    uint64_t d = (uint64_t)(p[k] - '0');
    if (v > (UINT64_MAX - d) / 10) return -1;
    v = v * 10 + d;
  }
  *out = neg ? 0 - v : v;
  return 0;
}

/* A positive integer argument (COUNT); -1 with the error answered. */
static int parse_count(conn_t *c, const dyna_args_t *a, size_t i, uint32_t *out) {
  const uint8_t *p = dyna_arg(a, i);
  size_t n = dyna_arg_len(a, i);
  int neg = n && p[0] == '-';
  uint64_t v = 0;
  if (n == (size_t)neg || n - (size_t)neg > 19) goto bad;
  for (size_t k = (size_t)neg; k < n; k++) {
    if (p[k] < '0' || p[k] > '9') goto bad;
    v = v * 10 + (uint64_t)(p[k] - '0');
  }
  if (neg || v < 1) { dyna_conn_answer_syntax_error(c, NULL); return -1; }
  *out = v > DYNA_SCAN_COUNT_MAX ? DYNA_SCAN_COUNT_MAX : (uint32_t)v;
  return 0;
bad:
  dyna_conn_answer_error(c, MSG_NOT_INT);
  return -1;
}

/* TYPE's name as a set of kinds (Redis's type names; a counter is a string). */
static uint32_t kinds_of(const dyna_args_t *a, size_t i) {
  static const struct { const char *name; dyna_kind_t kind; } names[] = {
      {"string", DYNA_KIND_STRING}, {"set", DYNA_KIND_SET},   {"hash", DYNA_KIND_HASH},
      {"zset", DYNA_KIND_ZSET},     {"list", DYNA_KIND_LIST},
  };
  for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
    if (dyna_arg_is(a, i, names[k].name)) return 1u << names[k].kind;
  return DYNA_SCAN_KINDS_NONE; /* Redis 7.0: a type no key has, so nothing matches */
}

void dyna_cmd_scan(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  dyna_scan_spec_t sp;
  memset(&sp, 0, sizeof(sp));
  sp.mode = DYNA_SCAN_PAGE;
  if (parse_cursor(a, 1, &sp.cursor)) { dyna_conn_answer_error(c, MSG_CURSOR); return; }
  for (size_t i = 2; i < a->argc; i += 2) {
    if (i + 1 >= a->argc) { dyna_conn_answer_syntax_error(c, NULL); return; }
    if (dyna_arg_is(a, i, "count")) {
      if (parse_count(c, a, i + 1, &sp.count)) return;
    } else if (dyna_arg_is(a, i, "match")) {
      sp.pattern = (const char *)dyna_arg(a, i + 1);
      sp.plen = dyna_arg_len(a, i + 1);
      if (sp.plen == 1 && sp.pattern[0] == '*') sp.pattern = NULL; /* every key */
    } else if (dyna_arg_is(a, i, "type")) {
      sp.kinds = kinds_of(a, i + 1);
    } else {
      dyna_conn_answer_syntax_error(c, NULL);
      return;
    }
  }
  keyspace_req(s, c, DYNA_OP_SCAN, &sp);
}

void dyna_cmd_keys(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  dyna_scan_spec_t sp;
  memset(&sp, 0, sizeof(sp));
  sp.mode = DYNA_SCAN_ALL;
  sp.pattern = (const char *)dyna_arg(a, 1);
  sp.plen = dyna_arg_len(a, 1);
  if (sp.plen == 1 && sp.pattern[0] == '*') sp.pattern = NULL;
  keyspace_req(s, c, DYNA_OP_SCAN, &sp);
}

void dyna_cmd_randomkey(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)a;
  dyna_scan_spec_t sp;
  memset(&sp, 0, sizeof(sp));
  sp.mode = DYNA_SCAN_RANDOM;
  keyspace_req(s, c, DYNA_OP_SCAN, &sp);
}

void dyna_cmd_dbsize(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)a;
  keyspace_req(s, c, DYNA_OP_DBSIZE, NULL);
}

/* FLUSHALL [ASYNC|SYNC], FLUSHDB [ASYNC|SYNC]: both run as SYNC (the answer comes once
 * every member's tombstones are durable). */
void dyna_cmd_flushall(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  if (a->argc > 2 || (a->argc == 2 && !dyna_arg_is(a, 1, "async") && !dyna_arg_is(a, 1, "sync"))) {
    dyna_conn_answer_syntax_error(c, NULL);
    return;
  }
  if (!s->cfg.enable_flush) { dyna_conn_answer_error(c, MSG_FLUSH_OFF); return; }
  keyspace_req(s, c, DYNA_OP_FLUSH, NULL);
}

/* ---------- RENAME, RENAMENX, COPY ---------- */

/* Within one partition (as Redis Cluster, within one slot), as a SLOT_STEP (conn.h) of
 * two keys, source then destination, and four requests:
 *   0 read the source (quorum GET)   1 read the destination (its slot's second read)
 *   2 DYNA.COPYTO of the source's merged object to the destination (core/typed_copy.c):
 *     its coordinator supersedes the destination and writes the copy as one version
 *   3 RENAME, RENAMENX: DEL of the source with the context its read returned, so that
 *     exactly the versions copied are deleted (a concurrent write to it stays)
 * slot->parts[0] keeps the source's encoded object, parts[1] its encoded context. */
enum { KC_RENAME = 1, KC_RENAMENX, KC_COPY };
#define KC_REPLACE 0x100u
#define KC_SAME 0x200u   /* source and destination are one key */
#define KC_ABSENT 0x400u /* the source read found nothing */

#define MSG_NO_SUCH_KEY DYNA_WORD_ERR " no such key"
#define MSG_CROSSSLOT DYNA_WORD_CROSSSLOT " Keys in request don't hash to the same slot"

static void kc_submit(dyna_server_t *s, conn_t *c, slot_t *slot, uint32_t sub, dyna_req_t *req) {
  slot->subst[sub] = SUB_SENT;
  dyna_cmd_submit(s, c, slot, sub, req);
}

/* Both reads are in: answer, or send the copy. */
static void kc_copy(dyna_server_t *s, conn_t *c, slot_t *slot) {
  uint32_t cmd = slot->opt & 0xffu;
  dyna_buf_t *out = &slot->out;
  int done = 1;
  if (slot->err_set) {
    /* a read failed: its error is the answer */
  } else if (slot->opt & KC_ABSENT) {
    if (cmd == KC_COPY) dyna_resp_put_int(out, 0);
    else dyna_resp_put_error(out, MSG_NO_SUCH_KEY);
  } else if (slot->opt & KC_SAME) {
    if (cmd == KC_RENAME) dyna_resp_put_simple(out, "OK"); /* Redis: a no-op */
    else dyna_resp_put_int(out, 0);
  } else {
    done = 0;
  }
  if (done) {
    dyna_cmd_step_skip(slot, 2);
    dyna_cmd_step_skip(slot, 3);
    return;
  }
  static const dyna_typed_cmd_t *copyto;
  if (!copyto) copyto = dyna_typed_find((const uint8_t *)"dyna.copyto", 11);
  size_t dlen;
  const uint8_t *dst = dyna_step_arg(slot, 1, &dlen);
  int nx = cmd == KC_RENAMENX || (cmd == KC_COPY && !(slot->opt & KC_REPLACE));
  const uint8_t *argv[4] = {(const uint8_t *)"dyna.copyto", dst, slot->parts[0].data,
                            (const uint8_t *)(nx ? "nx" : "replace")};
  size_t argl[4] = {11, dlen, slot->parts[0].len, nx ? 2u : 7u};
  dyna_req_t req;
  memset(&req, 0, sizeof(req));
  req.op = DYNA_OP_TYPED;
  req.key = dst;
  req.klen = dlen;
  req.cmd = copyto;
  req.argc = 4;
  req.argv = argv;
  req.argl = argl;
  kc_submit(s, c, slot, 2, &req);
}

static void kc_step(dyna_server_t *s, conn_t *c, slot_t *slot, uint32_t sub, const dyna_node_reply_t *r) {
  uint32_t cmd = slot->opt & 0xffu;
  if (sub == 0 && !r->status) {
    if (dyna_obj_kind(&r->obj, dyna_server_time(s).wall_ms) == DYNA_KIND_NONE) {
      slot->opt |= KC_ABSENT;
    } else {
      dyna_obj_encode(&r->obj, &slot->parts[0]);
      dyna_ctx_encode(&r->ctx, &slot->parts[1]);
      if (slot->parts[0].oom || slot->parts[1].oom) {
        dyna_resp_put_error(&slot->out, DYNA_ERR_OOM);
        slot->err_set = 1;
      }
    }
  }
  if (sub <= 1) {
    if (slot->subst[0] == SUB_DONE && slot->subst[1] == SUB_DONE) kc_copy(s, c, slot);
    return;
  }
  if (sub == 3) return; /* the source's DEL: out holds the answer (or the DEL's error) */
  /* sub 2: the copy answered :1 (copied), :0 (not: NX, or the source vanished) or an
   * error (already in out when r->status). */
  int copied = !r->status && r->resp.len == 4 && !memcmp(r->resp.data, ":1\r\n", 4);
  if (!r->status) {
    if (cmd == KC_RENAME && copied) dyna_resp_put_simple(&slot->out, "OK");
    else if (cmd == KC_RENAME && r->resp.len == 4 && !memcmp(r->resp.data, ":0\r\n", 4))
      dyna_resp_put_error(&slot->out, MSG_NO_SUCH_KEY);
    else dyna_buf_put(&slot->out, r->resp.data, r->resp.len);
  }
  if (!copied || cmd == KC_COPY) { dyna_cmd_step_skip(slot, 3); return; }
  dyna_ctx_t ctx;
  dyna_ctx_init(&ctx);
  if (dyna_ctx_decode(slot->parts[1].data, slot->parts[1].len, &ctx)) {
    dyna_cmd_step_skip(slot, 3); /* cannot happen: encoded above */
    return;
  }
  dyna_req_t req;
  memset(&req, 0, sizeof(req));
  req.op = DYNA_OP_DEL;
  req.key = dyna_step_arg(slot, 0, &req.klen);
  req.ctx = &ctx;
  kc_submit(s, c, slot, 3, &req);
  dyna_ctx_clear(&ctx); /* the node copied it */
}

static void kc_open(dyna_server_t *s, conn_t *c, const dyna_args_t *a, uint32_t opt) {
  size_t l1 = dyna_arg_len(a, 1), l2 = dyna_arg_len(a, 2);
  if (l1 == l2 && !memcmp(dyna_arg(a, 1), dyna_arg(a, 2), l1)) {
    if ((opt & 0xffu) == KC_COPY) {
      dyna_conn_answer_error(c, DYNA_WORD_ERR " source and destination objects are the same");
      return;
    }
    opt |= KC_SAME;
  } else if (dyna_node_partition(s->node, dyna_arg(a, 1), l1) != dyna_node_partition(s->node, dyna_arg(a, 2), l2)) {
    dyna_conn_answer_error(c, MSG_CROSSSLOT);
    return;
  }
  slot_t *slot = dyna_cmd_step_open(s, c, kc_step, a, 2, 1);
  if (!slot) return;
  slot->opt = opt;
  dyna_cmd_step_go(s, c, slot);
}

void dyna_cmd_rename(dyna_server_t *s, conn_t *c, const dyna_args_t *a) { kc_open(s, c, a, KC_RENAME); }
void dyna_cmd_renamenx(dyna_server_t *s, conn_t *c, const dyna_args_t *a) { kc_open(s, c, a, KC_RENAMENX); }

/* COPY source destination [DB destination-db] [REPLACE]: one database (0) here. */
void dyna_cmd_copy(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  uint32_t opt = KC_COPY;
  for (size_t i = 3; i < a->argc; i++) {
    if (dyna_arg_is(a, i, "replace")) {
      opt |= KC_REPLACE;
    } else if (dyna_arg_is(a, i, "db") && i + 1 < a->argc) {
      i++;
      int zero = 1;
      for (size_t k = 0; k < dyna_arg_len(a, i); k++) {
        uint8_t ch = dyna_arg(a, i)[k];
        if ((ch < '0' || ch > '9') && !(k == 0 && ch == '-')) { dyna_conn_answer_error(c, MSG_NOT_INT); return; }
        if (ch != '0') zero = 0;
      }
      if (!dyna_arg_len(a, i)) { dyna_conn_answer_error(c, MSG_NOT_INT); return; }
      if (!zero) { dyna_conn_answer_error(c, DYNA_WORD_ERR " DB index is out of range"); return; }
    } else {
      dyna_conn_answer_syntax_error(c, NULL);
      return;
    }
  }
  kc_open(s, c, a, opt);
}
