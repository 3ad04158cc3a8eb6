/* cmd_string.c: the register as plain Redis strings: GET SET DEL EXISTS MGET MSET.
 * Each key becomes one node request; the slot kinds (conn.h) fold their replies:
 * GET the last written sibling, SET/MSET +OK once every put succeeded, DEL/EXISTS a
 * count. SET and DEL are blind writes: they supersede every version the coordinator
 * knows, with no context from the client. Arity is checked by the table. */
#include "runtime/cmd_table.h"
#include "proto/words.h"
#include "core/keyspace.h"
#include <stdio.h>

void dyna_cmd_get(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  slot_t *slot = dyna_cmd_slot_open(s, c, SLOT_GET, 1);
  if (!slot) return;
  dyna_req_t req;
  dyna_cmd_key_req(&req, DYNA_OP_GET, a, 1);
  dyna_cmd_submit(s, c, slot, 0, &req);
}

void dyna_cmd_set(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  if (a->argc > 3) { dyna_reply_syntax_error(c, "(SET options such as EX, NX are not supported)"); return; }
  slot_t *slot = dyna_cmd_slot_open(s, c, SLOT_SET, 1);
  if (!slot) return;
  dyna_req_t req;
  dyna_cmd_key_req(&req, DYNA_OP_PUT, a, 1);
  req.flags = DYNA_REQ_BLIND;
  req.val = dyna_arg(a, 2);
  req.vlen = dyna_arg_len(a, 2);
  dyna_cmd_submit(s, c, slot, 0, &req);
}

void dyna_cmd_mset(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  if (a->argc % 2 == 0) { dyna_reply_arity_error(c, "mset"); return; }
  uint32_t n = (uint32_t)(a->argc - 1) / 2;
  /* All or nothing: refuse the whole command before writing any key. */
  for (uint32_t i = 0; i < n; i++) {
    char line[96];
    size_t kl = dyna_arg_len(a, 1 + 2 * i), vl = dyna_arg_len(a, 2 + 2 * i);
    if (kl > DYNA_MAX_KEY_BYTES || vl > s->cfg.max_value_bytes) {
      int key = kl > DYNA_MAX_KEY_BYTES;
      snprintf(line, sizeof(line), DYNA_WORD_TOOBIG " %s is %zu bytes, limit is %zu", key ? "key" : "value",
               key ? kl : vl, key ? (size_t)DYNA_MAX_KEY_BYTES : s->cfg.max_value_bytes);
      dyna_reply_error(c, line);
      return;
    }
    if (!kl) { dyna_reply_error(c, DYNA_WORD_ERR " empty key"); return; }
  }
  slot_t *slot = dyna_cmd_slot_open(s, c, SLOT_SET, n);
  if (!slot) return;
  for (uint32_t i = 0; i < n; i++) {
    dyna_req_t req;
    dyna_cmd_key_req(&req, DYNA_OP_PUT, a, 1 + 2 * i);
    req.flags = DYNA_REQ_BLIND;
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
    if (op == DYNA_OP_DEL) req.flags = DYNA_REQ_BLIND;
    dyna_cmd_submit(s, c, slot, i, &req);
  }
}

void dyna_cmd_mget(dyna_server_t *s, conn_t *c, const dyna_args_t *a) { multikey(s, c, a, SLOT_MGET, DYNA_OP_GET); }
void dyna_cmd_exists(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  multikey(s, c, a, SLOT_COUNT_LIVE, DYNA_OP_GET);
}
void dyna_cmd_del(dyna_server_t *s, conn_t *c, const dyna_args_t *a) { multikey(s, c, a, SLOT_COUNT_DEL, DYNA_OP_DEL); }
