/* cmd_keys.c: the key-space commands: SCAN, KEYS, RANDOMKEY, DBSIZE, FLUSHALL, FLUSHDB.
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
