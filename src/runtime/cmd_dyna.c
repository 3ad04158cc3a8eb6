/* cmd_dyna.c: Dyna's own commands: versioned access (DYNA.GET, DYNA.PUT, DYNA.DEL,
 * DYNA.LOCAL: every sibling and the causal context, base64 on the wire), the cluster as
 * this node sees it (DYNA.STATUS, DYNA.RING, whose layout is src/proto/ring_reply.h's)
 * and membership changes (DYNA.ADMIN JOIN | LEAVE | REMOVE | REPAIR). Arity is checked
 * by the table; the optional "R n" / "W n" here. */
#include "runtime/cmd_table.h"
#include "proto/ring_reply.h"
#include "proto/words.h"
#include "core/cluster.h"
#include "util/b64.h"
#include "util/err.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Parses the trailing "R n" / "W n" option from index i (nothing there is fine). Returns
 * 0, or -1 with the error answered. */
static int parse_quorum_opt(conn_t *c, const dyna_args_t *a, size_t i, const char *word, uint32_t *out) {
  if (i == a->argc) return 0;
  char num[16];
  char *end;
  if (a->argc - i != 2 || !dyna_arg_is(a, i, word) || dyna_arg_str(a, i + 1, num, sizeof(num))) {
    dyna_conn_answer_syntax_error(c, NULL);
    return -1;
  }
  if (!strcasecmp(num, "local") || !strcasecmp(num, "each")) { /* quorum kinds (core/node.h) */
    *out = (num[0] | 0x20) == 'l' ? DYNA_QUORUM_LOCAL : DYNA_QUORUM_EACH;
    return 0;
  }
  long v = strtol(num, &end, 10);
  if (*end || v < 1 || v > DYNA_MAX_N) {
    _Static_assert(DYNA_MAX_N == 16, "the message below names the limit");
    dyna_conn_answer_error(c, DYNA_WORD_ERR " quorum must be an integer from 1 to 16, LOCAL or EACH");
    return -1;
  }
  *out = (uint32_t)v;
  return 0;
}

/* Decodes a base64 context argument; empty means none. Returns 0 or -1 (answered). */
static int parse_context(conn_t *c, const dyna_args_t *a, size_t i, dyna_ctx_t *ctx) {
  if (dyna_arg_len(a, i) == 0) return 0;
  dyna_buf_t raw = DYNA_BUF_INIT;
  int rc = dyna_b64_decode((const char *)dyna_arg(a, i), dyna_arg_len(a, i), &raw);
  if (!rc) rc = raw.oom ? DYNA_ENOMEM : dyna_ctx_decode(raw.data, raw.len, ctx);
  dyna_buf_free(&raw);
  if (rc == DYNA_ENOMEM) { dyna_conn_answer_error(c, DYNA_ERR_OOM); return -1; }
  if (rc) {
    dyna_conn_answer_error(c, DYNA_WORD_ERR " " DYNA_MSG_BAD_CONTEXT " (pass the context a DYNA.GET returned, or \"\")");
    return -1;
  }
  return 0;
}

/* ---------- versioned access ---------- */

void dyna_cmd_dyna_get(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  dyna_req_t req;
  dyna_cmd_key_req(&req, DYNA_OP_GET, a, 1);
  if (parse_quorum_opt(c, a, 2, "R", &req.r)) return;
  slot_t *slot = dyna_cmd_slot_open(s, c, SLOT_DGET, 1);
  if (slot) dyna_cmd_submit(s, c, slot, 0, &req);
}

void dyna_cmd_dyna_local(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  dyna_req_t req;
  dyna_cmd_key_req(&req, DYNA_OP_LOCAL, a, 1);
  slot_t *slot = dyna_cmd_slot_open(s, c, SLOT_DGET, 1);
  if (slot) dyna_cmd_submit(s, c, slot, 0, &req);
}

/* DYNA.PUT key context value [W n] and DYNA.DEL key context [W n]. */
static void dwrite(dyna_server_t *s, conn_t *c, const dyna_args_t *a, dyna_op_t op) {
  size_t fixed = op == DYNA_OP_PUT ? 4 : 3;
  dyna_req_t req;
  dyna_cmd_key_req(&req, op, a, 1);
  if (op == DYNA_OP_PUT) {
    req.val = dyna_arg(a, 3);
    req.vlen = dyna_arg_len(a, 3);
  }
  if (parse_quorum_opt(c, a, fixed, "W", &req.w)) return;
  dyna_ctx_t ctx;
  dyna_ctx_init(&ctx);
  if (parse_context(c, a, 2, &ctx)) return;
  req.ctx = &ctx;
  slot_t *slot = dyna_cmd_slot_open(s, c, SLOT_DPUT, 1);
  if (slot) dyna_cmd_submit(s, c, slot, 0, &req);
  dyna_ctx_clear(&ctx);
}

void dyna_cmd_dyna_put(dyna_server_t *s, conn_t *c, const dyna_args_t *a) { dwrite(s, c, a, DYNA_OP_PUT); }
void dyna_cmd_dyna_del(dyna_server_t *s, conn_t *c, const dyna_args_t *a) { dwrite(s, c, a, DYNA_OP_DEL); }

/* ---------- the cluster as this node sees it ---------- */

/* DYNA.STATUS: every member as this node sees it: [[name, id, cluster addr, client
 * addr, status, zone, partitions owned, self|reachable|unreachable, phi]...] */
void dyna_cmd_dyna_status(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)a;
  const dyna_cluster_t *cl = dyna_node_cluster(s->node);
  dyna_buf_t *b = dyna_conn_answer_now(c);
  dyna_resp_put_array(b, cl->n);
  for (size_t i = 0; i < cl->n; i++) {
    const dyna_member_t *m = &cl->m[i];
    char id[32];
    snprintf(id, sizeof(id), "%016" PRIx64, m->id);
    const char *reach = m->id == s->node_id ? "self"
                        : dyna_node_is_reachable(s->node, m->id) ? "reachable" : "unreachable";
    char phi[32];
    snprintf(phi, sizeof(phi), "%.1f", (double)dyna_node_phi_x1000(s->node, m->id) / 1000.0);
    dyna_resp_put_array(b, 10);
    dyna_resp_put_bulk_str(b, m->name);
    dyna_resp_put_bulk_str(b, id);
    dyna_resp_put_bulk_str(b, m->addr);
    dyna_resp_put_bulk_str(b, m->client_addr);
    dyna_resp_put_bulk_str(b, dyna_member_status_name(m->status));
    dyna_resp_put_bulk_str(b, m->zone);
    dyna_resp_put_int(b, dyna_ring_owned(&cl->ring, m->id));
    dyna_resp_put_bulk_str(b, reach);
    dyna_resp_put_bulk_str(b, phi);
    dyna_resp_put_bulk_str(b, m->dc); /* its site (10th: older readers take the first 9) */
  }
}

/* DYNA.RING: the partition map, in the layout of proto/ring_reply.h (libdyna decodes it
 * with the same file): each partition's home replicas (every site's), as member indexes. */
void dyna_cmd_dyna_ring(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)a;
  const dyna_cluster_t *cl = dyna_node_cluster(s->node);
  dyna_buf_t *b = dyna_conn_answer_now(c);
  uint32_t n = dyna_node_nval(s->node);
  if (n > DYNA_RING_REPLY_N_MAX) n = DYNA_RING_REPLY_N_MAX;
  dyna_ring_reply_put_head(b, cl->ring.size, n, cl->ring_version, cl->n);
  for (size_t i = 0; i < cl->n; i++)
    dyna_ring_reply_put_member(b, cl->m[i].id, cl->m[i].client_addr, cl->m[i].name,
                               dyna_member_status_name(cl->m[i].status));
  dyna_ring_reply_put_prefs_head(b, cl->ring.size);
  uint64_t pl[DYNA_RING_REPLY_N_MAX];
  uint16_t idx[DYNA_RING_REPLY_N_MAX];
  for (uint32_t p = 0; p < cl->ring.size; p++) {
    size_t k = dyna_server_homes_site_first(s, p, pl); /* every site's homes, this site's first */
    if (k > n) k = n;
    for (size_t j = 0; j < k; j++) {
      size_t m = 0;
      while (m < cl->n && cl->m[m].id != pl[j]) m++;
      idx[j] = (uint16_t)m;
    }
    dyna_ring_reply_put_preflist(b, idx, k);
  }
}

/* ---------- DYNA.ADMIN ---------- */

/* LEAVE and REMOVE changed the cluster state this node keeps (and JOIN and REPAIR may):
 * their OK, like any acknowledgement, waits until that write is durable. */
static void ok_after_writes(dyna_server_t *s, conn_t *c) {
  slot_t *slot = dyna_cmd_slot_open(s, c, SLOT_SET, 1);
  if (!slot) return;
  dyna_node_reply_t r;
  memset(&r, 0, sizeof(r));
  r.req_id = slot->first_req;
  if (dyna_idmap_put(&s->pend, r.req_id, slot, 0)) {
    dyna_node_reply_fail(&r, DYNA_ENOMEM, NULL);
    dyna_cmd_complete(s, c, slot, 0, &r);
    return;
  }
  dyna_commit_reply_after_writes(s, &r);
}

void dyna_cmd_dyna_admin_repair(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  uint32_t p = UINT32_MAX;
  if (a->argc > 3) { dyna_conn_answer_syntax_error(c, "(DYNA.ADMIN REPAIR [partition])"); return; }
  if (a->argc == 3) {
    char num[32], *end;
    if (dyna_arg_str(a, 2, num, sizeof(num))) num[0] = 0;
    unsigned long v = strtoul(num, &end, 10);
    if (!num[0] || *end || v >= dyna_node_cluster(s->node)->ring.size) {
      dyna_conn_answer_error(c, DYNA_WORD_ERR " no such partition");
      return;
    }
    p = (uint32_t)v;
  }
  dyna_node_repair(s->node, p, dyna_server_time(s));
  ok_after_writes(s, c);
}

void dyna_cmd_dyna_admin_join(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  char addr[128];
  if (dyna_arg_str(a, 2, addr, sizeof(addr)) || dyna_peers_join(s->peers, addr)) {
    dyna_conn_answer_error(c, DYNA_WORD_ERR " bad address (want the cluster address HOST:PORT of a member)");
    return;
  }
  ok_after_writes(s, c);
}

void dyna_cmd_dyna_admin_leave(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)a;
  if (dyna_node_leave(s->node, dyna_server_time(s))) {
    dyna_conn_answer_error(c, DYNA_WORD_ERR " cannot leave: this is the last member, or its state is unknown");
    return;
  }
  ok_after_writes(s, c);
}

void dyna_cmd_dyna_admin_remove(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  char who[128];
  if (dyna_arg_str(a, 2, who, sizeof(who))) { dyna_conn_answer_error(c, DYNA_WORD_ERR " no such member"); return; }
  const dyna_cluster_t *cl = dyna_node_cluster(s->node);
  if (dyna_cluster_name_count(cl, who) > 1) { /* two live members share the name: say which */
    char msg[512];
    int len = snprintf(msg, sizeof(msg), DYNA_WORD_ERR " %s names %zu members, name one by its id:", who,
                       dyna_cluster_name_count(cl, who));
    for (size_t i = 0; i < cl->n && len > 0 && (size_t)len < sizeof(msg) - 24; i++)
      if (cl->m[i].status != DYNA_MEMBER_REMOVED && !strcmp(cl->m[i].name, who))
        len += snprintf(msg + len, sizeof(msg) - (size_t)len, " %016" PRIx64 " (%s)", cl->m[i].id,
                        dyna_member_status_name(cl->m[i].status));
    dyna_conn_answer_error(c, msg);
    return;
  }
  int rc = dyna_node_remove(s->node, who, dyna_server_time(s));
  if (rc == DYNA_ENOTFOUND) { dyna_conn_answer_error(c, DYNA_WORD_ERR " no such member"); return; }
  if (rc) {
    dyna_conn_answer_error(c, DYNA_WORD_ERR " cannot remove that member (to take this node out, use LEAVE)");
    return;
  }
  ok_after_writes(s, c);
}
