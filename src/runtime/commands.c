/* commands.c: the RESP command table of dynad. Each command either answers at once
 * (PING, INFO, ...) or becomes one slot in its connection's queue plus one node request
 * per key; dyna_cmd_complete folds the node's replies into the RESP answer.
 * Plain Redis commands map onto versioned operations: SET and DEL supersede every
 * version the coordinator knows; GET returns the last written sibling. */
#include "util/b64.h"
#include "core/cluster.h"
#include "util/err.h"
#include "core/keyspace.h"
#include "util/alloc.h"
#include "runtime/server_int.h"
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DYNA_VERSION "0.1.0"

typedef struct args {
  size_t argc;
  const uint8_t *base;
  const size_t *o, *l;
} args_t;

static const uint8_t *arg(const args_t *a, size_t i) { return a->base + a->o[i]; }
static size_t alen(const args_t *a, size_t i) { return a->l[i]; }

static int arg_is(const args_t *a, size_t i, const char *word) {
  size_t n = strlen(word);
  return alen(a, i) == n && strncasecmp((const char *)arg(a, i), word, n) == 0;
}

/* Copies arg i into a NUL-terminated string of at most cap-1 bytes; -1 if longer. */
static int arg_str(const args_t *a, size_t i, char *out, size_t cap) {
  if (alen(a, i) >= cap) return -1;
  memcpy(out, arg(a, i), alen(a, i));
  out[alen(a, i)] = 0;
  return 0;
}

/* ---------- slots ---------- */

/* Finished slots are kept for reuse, with their reply buffer, so that a command costs
 * no allocation in the runtime: at most SLOT_CACHE of them, buffers up to SLOT_KEEP. */
#define SLOT_CACHE 256
#define SLOT_KEEP 4096

slot_t *dyna_slot_new(dyna_server_t *s) {
  slot_t *slot = s->free_slots;
  if (!slot) return dyna_calloc(1, sizeof(*slot));
  s->free_slots = slot->next;
  s->nfree_slots--;
  dyna_buf_t out = slot->out; /* empty, keeps its allocation */
  memset(slot, 0, sizeof(*slot));
  slot->out = out;
  return slot;
}

void dyna_slot_release(dyna_server_t *s, slot_t *slot) {
  if (!slot) return;
  if (slot->parts) {
    for (uint32_t i = 0; i < slot->nsub; i++) dyna_buf_free(&slot->parts[i]);
    dyna_free(slot->parts);
    slot->parts = NULL;
  }
  if (s->nfree_slots >= SLOT_CACHE) {
    dyna_buf_free(&slot->out);
    dyna_free(slot);
    return;
  }
  if (slot->out.cap > SLOT_KEEP) dyna_buf_free(&slot->out);
  else dyna_buf_reset(&slot->out);
  slot->next = s->free_slots;
  s->free_slots = slot;
  s->nfree_slots++;
}

void dyna_slot_cache_free(dyna_server_t *s) {
  while (s->free_slots) {
    slot_t *slot = s->free_slots;
    s->free_slots = slot->next;
    dyna_buf_free(&slot->out);
    dyna_free(slot);
  }
  s->nfree_slots = 0;
}

static void slot_append(conn_t *c, slot_t *slot) {
  slot->conn = c;
  if (c->tail) c->tail->next = slot;
  else c->head = slot;
  c->tail = slot;
  c->nslots++;
}

/* An immediate answer goes straight to the output when nothing is queued before it. */
static dyna_buf_t *reply_now(conn_t *c) {
  if (!c->head) return &c->wq.out;
  slot_t *slot = dyna_slot_new(c->srv);
  if (!slot) return &c->wq.out; /* out of memory: order may suffer, content does not */
  slot->kind = SLOT_READY;
  slot_append(c, slot);
  return &slot->out;
}

void dyna_cmd_put_status_error(dyna_buf_t *out, int status, const char *msg) {
  const char *word = "ERR";
  switch (status) {
  case DYNA_ENOQUORUM: word = "NOQUORUM"; break;
  case DYNA_ETOOBIG: word = "TOOBIG"; break;
  case DYNA_EBUSY: word = "BUSY"; break;
  case DYNA_ETIMEDOUT: word = "TIMEOUT"; break;
  default: break;
  }
  char line[256];
  snprintf(line, sizeof(line), "%s %s", word, msg && *msg ? msg : dyna_strerror(status));
  dyna_resp_put_error(out, line);
}

static void err_now(conn_t *c, const char *msg) { dyna_resp_put_error(reply_now(c), msg); }

static void err_arity(conn_t *c, const args_t *a) {
  char name[32], line[96];
  if (arg_str(a, 0, name, sizeof(name))) snprintf(name, sizeof(name), "?");
  for (char *p = name; *p; p++) *p = (char)tolower((unsigned char)*p);
  snprintf(line, sizeof(line), "ERR wrong number of arguments for '%s' command", name);
  err_now(c, line);
}

/* Creates a slot of nsub requests with consecutive ids; NULL (and an error answered)
 * when memory is short. */
static slot_t *slot_open(dyna_server_t *s, conn_t *c, slot_kind_t kind, uint32_t nsub) {
  slot_t *slot = dyna_slot_new(s);
  if (!slot) goto oom;
  slot->kind = kind;
  slot->nsub = nsub;
  if (kind == SLOT_MGET) {
    slot->parts = dyna_calloc(nsub, sizeof(dyna_buf_t));
    if (!slot->parts) goto oom;
  }
  slot->first_req = s->next_req + 1;
  s->next_req += nsub;
  slot_append(c, slot);
  return slot;
oom:
  dyna_slot_release(s, slot);
  err_now(c, "ERR out of memory");
  return NULL;
}

/* Submits request sub of slot; on failure completes that sub with the error. */
static void submit(dyna_server_t *s, conn_t *c, slot_t *slot, uint32_t sub, dyna_req_t *req) {
  req->id = slot->first_req + sub;
  int rc = dyna_idmap_put(&s->pend, req->id, slot, sub);
  if (!rc) {
    rc = dyna_node_request(s->node, req, dyna_server_time(s));
    if (rc) dyna_idmap_take(&s->pend, req->id, NULL);
  }
  if (rc) {
    dyna_reply_t r;
    memset(&r, 0, sizeof(r));
    r.req_id = req->id;
    r.op = req->op;
    dyna_reply_fail(&r, rc, NULL);
    dyna_cmd_complete(s, c, slot, sub, &r);
  }
}

static void key_req(dyna_req_t *req, dyna_op_t op, const args_t *a, size_t i) {
  memset(req, 0, sizeof(*req));
  req->op = op;
  req->key = arg(a, i);
  req->klen = alen(a, i);
}

/* ---------- completing slots ---------- */

static void put_latest(dyna_buf_t *b, const dyna_reply_t *r) {
  const dyna_val_t *v = dyna_obj_latest(&r->obj);
  if (v) dyna_resp_put_bulk(b, v->data, v->len);
  else dyna_resp_put_nil(b);
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

static void put_siblings(dyna_buf_t *b, const dyna_reply_t *r) {
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
    dyna_resp_put_error(&slot->out, "ERR out of memory");
  }
  slot->kind = SLOT_READY;
}

void dyna_cmd_complete(dyna_server_t *s, conn_t *c, slot_t *slot, uint32_t sub,
                       const dyna_reply_t *r) {
  (void)s;
  (void)c;
  if (slot->kind == SLOT_READY) return;
  if (r->status) {
    if (!slot->err_set) {
      dyna_buf_reset(&slot->out);
      dyna_cmd_put_status_error(&slot->out, r->status, r->msg);
      slot->err_set = 1;
    }
  } else if (!slot->err_set) {
    switch (slot->kind) {
    case SLOT_GET: put_latest(&slot->out, r); break;
    case SLOT_MGET: put_latest(&slot->parts[sub], r); break;
    case SLOT_COUNT_LIVE: slot->count += dyna_obj_nlive(&r->obj) > 0; break;
    case SLOT_COUNT_DEL: slot->count += r->existed; break;
    case SLOT_DGET: put_siblings(&slot->out, r); break;
    case SLOT_DPUT: put_context(&slot->out, &r->ctx); break;
    default: break;
    }
  }
  if (++slot->ndone == slot->nsub) finish_slot(slot);
}

/* ---------- key commands ---------- */

static void cmd_get(dyna_server_t *s, conn_t *c, const args_t *a) {
  if (a->argc != 2) { err_arity(c, a); return; }
  slot_t *slot = slot_open(s, c, SLOT_GET, 1);
  if (!slot) return;
  dyna_req_t req;
  key_req(&req, DYNA_OP_GET, a, 1);
  submit(s, c, slot, 0, &req);
}

static void cmd_set(dyna_server_t *s, conn_t *c, const args_t *a) {
  if (a->argc < 3) { err_arity(c, a); return; }
  if (a->argc > 3) { err_now(c, "ERR syntax error (SET options such as EX, NX are not supported)"); return; }
  slot_t *slot = slot_open(s, c, SLOT_SET, 1);
  if (!slot) return;
  dyna_req_t req;
  key_req(&req, DYNA_OP_PUT, a, 1);
  req.flags = DYNA_REQ_BLIND;
  req.val = arg(a, 2);
  req.vlen = alen(a, 2);
  submit(s, c, slot, 0, &req);
}

static void cmd_mset(dyna_server_t *s, conn_t *c, const args_t *a) {
  if (a->argc < 3 || a->argc % 2 == 0) { err_arity(c, a); return; }
  uint32_t n = (uint32_t)(a->argc - 1) / 2;
  /* All or nothing: refuse the whole command before writing any key. */
  for (uint32_t i = 0; i < n; i++) {
    char line[96];
    size_t kl = alen(a, 1 + 2 * i), vl = alen(a, 2 + 2 * i);
    if (kl > DYNA_MAX_KEY_BYTES || vl > s->cfg.max_value_bytes) {
      snprintf(line, sizeof(line), "TOOBIG %s is %zu bytes, limit is %zu", kl > DYNA_MAX_KEY_BYTES ? "key" : "value",
               kl > DYNA_MAX_KEY_BYTES ? kl : vl, kl > DYNA_MAX_KEY_BYTES ? (size_t)DYNA_MAX_KEY_BYTES : s->cfg.max_value_bytes);
      err_now(c, line);
      return;
    }
    if (!kl) { err_now(c, "ERR empty key"); return; }
  }
  slot_t *slot = slot_open(s, c, SLOT_SET, n);
  if (!slot) return;
  for (uint32_t i = 0; i < n; i++) {
    dyna_req_t req;
    key_req(&req, DYNA_OP_PUT, a, 1 + 2 * i);
    req.flags = DYNA_REQ_BLIND;
    req.val = arg(a, 2 + 2 * i);
    req.vlen = alen(a, 2 + 2 * i);
    submit(s, c, slot, i, &req);
  }
}

/* GET-like commands over every key argument: MGET, EXISTS, DEL. */
static void cmd_multikey(dyna_server_t *s, conn_t *c, const args_t *a, slot_kind_t kind, dyna_op_t op) {
  if (a->argc < 2) { err_arity(c, a); return; }
  uint32_t n = (uint32_t)(a->argc - 1);
  slot_t *slot = slot_open(s, c, kind, n);
  if (!slot) return;
  for (uint32_t i = 0; i < n; i++) {
    dyna_req_t req;
    key_req(&req, op, a, 1 + i);
    if (op == DYNA_OP_DEL) req.flags = DYNA_REQ_BLIND;
    submit(s, c, slot, i, &req);
  }
}

static void cmd_mget(dyna_server_t *s, conn_t *c, const args_t *a) { cmd_multikey(s, c, a, SLOT_MGET, DYNA_OP_GET); }
static void cmd_exists(dyna_server_t *s, conn_t *c, const args_t *a) { cmd_multikey(s, c, a, SLOT_COUNT_LIVE, DYNA_OP_GET); }
static void cmd_del(dyna_server_t *s, conn_t *c, const args_t *a) { cmd_multikey(s, c, a, SLOT_COUNT_DEL, DYNA_OP_DEL); }

/* Parses trailing "R n" / "W n" options from index i. Returns 0 or -1 (error answered). */
static int parse_quorum_opt(conn_t *c, const args_t *a, size_t i, const char *word, uint32_t *out) {
  if (i == a->argc) return 0;
  char num[16];
  char *end;
  if (a->argc - i != 2 || !arg_is(a, i, word) || arg_str(a, i + 1, num, sizeof(num))) {
    err_now(c, "ERR syntax error");
    return -1;
  }
  long v = strtol(num, &end, 10);
  if (*end || v < 1 || v > 16) {
    err_now(c, "ERR quorum must be an integer from 1 to 16");
    return -1;
  }
  *out = (uint32_t)v;
  return 0;
}

/* Decodes a base64 context argument; empty means none. Returns 0 or -1 (answered). */
static int parse_context(conn_t *c, const args_t *a, size_t i, dyna_ctx_t *ctx) {
  if (alen(a, i) == 0) return 0;
  dyna_buf_t raw = DYNA_BUF_INIT;
  int rc = dyna_b64_decode((const char *)arg(a, i), alen(a, i), &raw);
  if (!rc) rc = raw.oom ? DYNA_ENOMEM : dyna_ctx_decode(raw.data, raw.len, ctx);
  dyna_buf_free(&raw);
  if (rc == DYNA_ENOMEM) { err_now(c, "ERR out of memory"); return -1; }
  if (rc) { err_now(c, "ERR invalid context (pass the context a DYNA.GET returned, or \"\")"); return -1; }
  return 0;
}

static void cmd_dget(dyna_server_t *s, conn_t *c, const args_t *a, dyna_op_t op) {
  if (a->argc != 2 && a->argc != 4) { err_arity(c, a); return; }
  dyna_req_t req;
  key_req(&req, op, a, 1);
  if (op == DYNA_OP_GET && parse_quorum_opt(c, a, 2, "R", &req.r)) return;
  if (op == DYNA_OP_LOCAL && a->argc != 2) { err_arity(c, a); return; }
  slot_t *slot = slot_open(s, c, SLOT_DGET, 1);
  if (slot) submit(s, c, slot, 0, &req);
}

static void cmd_dyna_get(dyna_server_t *s, conn_t *c, const args_t *a) { cmd_dget(s, c, a, DYNA_OP_GET); }
static void cmd_dyna_local(dyna_server_t *s, conn_t *c, const args_t *a) { cmd_dget(s, c, a, DYNA_OP_LOCAL); }

/* DYNA.PUT key context value [W n] and DYNA.DEL key context [W n]. */
static void cmd_dwrite(dyna_server_t *s, conn_t *c, const args_t *a, dyna_op_t op) {
  size_t fixed = op == DYNA_OP_PUT ? 4 : 3;
  if (a->argc != fixed && a->argc != fixed + 2) { err_arity(c, a); return; }
  dyna_req_t req;
  key_req(&req, op, a, 1);
  if (op == DYNA_OP_PUT) {
    req.val = arg(a, 3);
    req.vlen = alen(a, 3);
  }
  if (parse_quorum_opt(c, a, fixed, "W", &req.w)) return;
  dyna_ctx_t ctx;
  dyna_ctx_init(&ctx);
  if (parse_context(c, a, 2, &ctx)) return;
  req.ctx = &ctx;
  slot_t *slot = slot_open(s, c, SLOT_DPUT, 1);
  if (slot) submit(s, c, slot, 0, &req);
  dyna_ctx_clear(&ctx);
}

static void cmd_dyna_put(dyna_server_t *s, conn_t *c, const args_t *a) { cmd_dwrite(s, c, a, DYNA_OP_PUT); }
static void cmd_dyna_del(dyna_server_t *s, conn_t *c, const args_t *a) { cmd_dwrite(s, c, a, DYNA_OP_DEL); }

/* ---------- server commands ---------- */

static void cmd_ping(dyna_server_t *s, conn_t *c, const args_t *a) {
  (void)s;
  if (a->argc > 2) { err_arity(c, a); return; }
  if (a->argc == 2) dyna_resp_put_bulk(reply_now(c), arg(a, 1), alen(a, 1));
  else dyna_resp_put_simple(reply_now(c), "PONG");
}

static void cmd_echo(dyna_server_t *s, conn_t *c, const args_t *a) {
  (void)s;
  if (a->argc != 2) { err_arity(c, a); return; }
  dyna_resp_put_bulk(reply_now(c), arg(a, 1), alen(a, 1));
}

static int cmd_quit(dyna_server_t *s, conn_t *c, const args_t *a) {
  (void)s;
  (void)a;
  dyna_resp_put_simple(reply_now(c), "OK");
  return -1;
}

static void cmd_select(dyna_server_t *s, conn_t *c, const args_t *a) {
  (void)s;
  if (a->argc != 2) { err_arity(c, a); return; }
  if (alen(a, 1) == 1 && arg(a, 1)[0] == '0') dyna_resp_put_simple(reply_now(c), "OK");
  else err_now(c, "ERR DB index is out of range (Dyna has one keyspace: 0)");
}

static void cmd_command(dyna_server_t *s, conn_t *c, const args_t *a);

/* CONFIG GET pattern: the parameters a client may ask about, with '*' globbing. */
static void cmd_config(dyna_server_t *s, conn_t *c, const args_t *a) {
  if (a->argc < 2) { err_arity(c, a); return; }
  if (!arg_is(a, 1, "GET")) { err_now(c, "ERR only CONFIG GET is supported"); return; }
  if (a->argc != 3) { err_arity(c, a); return; }
  char pat[128];
  if (arg_str(a, 2, pat, sizeof(pat))) { dyna_resp_put_array(reply_now(c), 0); return; }
  char vals[10][32];
  const char *names[] = {"save", "appendonly", "maxclients", "max-value-bytes", "ring-size",
                         "n", "r", "w", "sync", "databases"};
  snprintf(vals[0], 32, "%s", "");
  snprintf(vals[1], 32, "%s", "no");
  snprintf(vals[2], 32, "%d", s->cfg.max_clients);
  snprintf(vals[3], 32, "%zu", s->cfg.max_value_bytes);
  snprintf(vals[4], 32, "%u", s->cfg.ring_size);
  snprintf(vals[5], 32, "%u", s->cfg.n);
  snprintf(vals[6], 32, "%u", s->cfg.r);
  snprintf(vals[7], 32, "%u", s->cfg.w);
  snprintf(vals[8], 32, "%s", dyna_sync_name(s->cfg.sync));
  snprintf(vals[9], 32, "%s", "1");
  size_t match[10], nm = 0;
  for (size_t i = 0; i < 10; i++) {
    size_t plen = strlen(pat);
    int ok = !strcasecmp(pat, names[i]) || !strcmp(pat, "*") ||
             (plen && pat[plen - 1] == '*' && !strncasecmp(pat, names[i], plen - 1));
    if (ok) match[nm++] = i;
  }
  dyna_buf_t *b = reply_now(c);
  dyna_resp_put_array(b, 2 * nm);
  for (size_t i = 0; i < nm; i++) {
    dyna_resp_put_bulk_str(b, names[match[i]]);
    dyna_resp_put_bulk_str(b, vals[match[i]]);
  }
}

/* Appends "name:value\r\n" to an INFO text. */
static void info_u64(dyna_buf_t *t, const char *name, uint64_t v) {
  char line[96];
  int n = snprintf(line, sizeof(line), "%s:%" PRIu64 "\r\n", name, v);
  dyna_buf_put(t, line, (size_t)n);
}

static void info_str(dyna_buf_t *t, const char *name, const char *v) {
  dyna_buf_put(t, name, strlen(name));
  dyna_buf_put(t, ":", 1);
  dyna_buf_put(t, v, strlen(v));
  dyna_buf_put(t, "\r\n", 2);
}

static void info_section(dyna_buf_t *t, const char *name) {
  if (t->len) dyna_buf_put(t, "\r\n", 2);
  dyna_buf_put(t, "# ", 2);
  dyna_buf_put(t, name, strlen(name));
  dyna_buf_put(t, "\r\n", 2);
}

static void cmd_info(dyna_server_t *s, conn_t *c, const args_t *a) {
  (void)a;
  const dyna_node_stats_t *ns = dyna_node_stats(s->node);
  const dyna_peer_stats_t *ps = dyna_peers_stats(s->peers);
  const dyna_cluster_t *cl = dyna_node_cluster(s->node);
  char id[32];
  snprintf(id, sizeof(id), "%016" PRIx64, s->node_id);
  dyna_buf_t t = DYNA_BUF_INIT;
  info_section(&t, "Server");
  info_str(&t, "redis_version", "7.0.0");
  info_str(&t, "dyna_version", DYNA_VERSION);
  info_str(&t, "node_name", s->cfg.name);
  info_str(&t, "node_id", id);
  info_u64(&t, "tcp_port", (uint64_t)s->cfg.listen_port);
  info_u64(&t, "cluster_port", (uint64_t)s->cfg.cluster_port);
  info_u64(&t, "server_time_usec", dyna_server_time(s).wall_ms * 1000); /* the node's wall clock */
  info_u64(&t, "uptime_in_seconds", (dyna_server_now(s) - s->start_ms) / 1000);
  info_section(&t, "Clients");
  info_u64(&t, "connected_clients", s->nconns);
  info_u64(&t, "maxclients", (uint64_t)s->cfg.max_clients);
  info_section(&t, "Persistence");
  info_str(&t, "sync_policy", dyna_sync_name(s->cfg.sync));
  info_u64(&t, "commits", s->stats.commits);
  info_u64(&t, "commit_errors", s->stats.commit_errors);
  info_u64(&t, "incarnation", dyna_node_incarnation(s->node));
  info_u64(&t, "early_replies", s->stats.early_replies);
  info_u64(&t, "unheld_acks", s->stats.unheld_acks);
  info_section(&t, "Stats");
  info_u64(&t, "total_connections_received", s->stats.connections_received);
  info_u64(&t, "rejected_connections", s->stats.connections_rejected);
  info_u64(&t, "total_commands_processed", s->stats.commands);
  info_u64(&t, "protocol_errors", s->stats.protocol_errors);
  info_u64(&t, "stalled_clients_closed", s->stats.stalled_closed);
  info_u64(&t, "gets", ns->gets);
  info_u64(&t, "puts", ns->puts);
  info_u64(&t, "dels", ns->dels);
  info_u64(&t, "local_reads", ns->locals);
  info_u64(&t, "request_errors", ns->errors);
  info_u64(&t, "noquorum", ns->noquorum);
  info_u64(&t, "read_retries", ns->read_retries);
  info_u64(&t, "siblings_max", ns->siblings_max);
  info_u64(&t, "forwarded", ns->forwarded);
  info_u64(&t, "replica_puts", ns->replica_puts);
  info_u64(&t, "replica_gets", ns->replica_gets);
  info_u64(&t, "read_repairs", ns->read_repairs);
  info_u64(&t, "handoff_keys_sent", ns->handoff_keys_sent);
  info_u64(&t, "handoff_keys_deleted", ns->handoff_keys_deleted);
  info_u64(&t, "handoff_bytes", ns->handoff_bytes);
  info_u64(&t, "hints_stored", ns->hints_stored);
  info_u64(&t, "hints_delivered", ns->hints_delivered);
  info_u64(&t, "sloppy_writes", ns->sloppy_writes);
  info_u64(&t, "aae_exchanges", ns->aae_exchanges);
  info_u64(&t, "aae_keys_sent", ns->aae_keys_sent);
  info_u64(&t, "aae_keys_repaired", ns->aae_keys_repaired);
  info_u64(&t, "tombstones_reaped", ns->tombstones_reaped);
  info_u64(&t, "background_budget_waits", ns->budget_waits);
  info_section(&t, "Cluster");
  info_str(&t, "cluster_name", s->cfg.cluster_name);
  info_u64(&t, "members", cl->n);
  info_u64(&t, "ring_size", cl->ring.size);
  info_u64(&t, "ring_version", cl->ring_version);
  info_u64(&t, "partitions_owned", dyna_ring_owned(&cl->ring, s->node_id));
  info_u64(&t, "n", s->cfg.n);
  info_u64(&t, "r", s->cfg.r);
  info_u64(&t, "w", s->cfg.w);
  info_u64(&t, "read_all", (uint64_t)s->cfg.read_all);
  info_u64(&t, "durable_reads", (uint64_t)s->cfg.durable_reads);
  info_u64(&t, "gossip_rounds", ns->gossip_rounds);
  info_u64(&t, "gossip_sent", ns->gossip_sent);
  info_u64(&t, "gossip_received", ns->gossip_received);
  info_u64(&t, "ring_changes", ns->ring_changes);
  info_u64(&t, "bad_messages", ns->bad_messages);
  info_u64(&t, "peer_frames_in", ps->frames_in);
  info_u64(&t, "peer_frames_out", ps->frames_out);
  info_u64(&t, "peer_bytes_in", ps->bytes_in);
  info_u64(&t, "peer_bytes_out", ps->bytes_out);
  info_u64(&t, "peer_dropped", ps->dropped);
  info_u64(&t, "peer_refused", ps->refused);
  if (t.oom) err_now(c, "ERR out of memory");
  else dyna_resp_put_bulk(reply_now(c), t.data, t.len);
  dyna_buf_free(&t);
}

static void cmd_client(dyna_server_t *s, conn_t *c, const args_t *a) {
  (void)s;
  if (a->argc < 2) { err_arity(c, a); return; }
  if (arg_is(a, 1, "ID")) dyna_resp_put_int(reply_now(c), (int64_t)c->id);
  else if (arg_is(a, 1, "GETNAME")) dyna_resp_put_nil(reply_now(c));
  else dyna_resp_put_simple(reply_now(c), "OK"); /* SETNAME, SETINFO, ...: accepted */
}

static void cmd_hello(dyna_server_t *s, conn_t *c, const args_t *a) {
  (void)s;
  (void)a;
  err_now(c, "NOPROTO Dyna speaks RESP2 only");
}

/* DYNA.STATUS: every member as this node sees it: [[name, id, cluster addr, client
 * addr, status, zone, partitions owned, self|reachable|unreachable, phi]...] */
static void cmd_dyna_status(dyna_server_t *s, conn_t *c, const args_t *a) {
  (void)a;
  const dyna_cluster_t *cl = dyna_node_cluster(s->node);
  dyna_buf_t *b = reply_now(c);
  dyna_resp_put_array(b, cl->n);
  for (size_t i = 0; i < cl->n; i++) {
    const dyna_member_t *m = &cl->m[i];
    char id[32];
    snprintf(id, sizeof(id), "%016" PRIx64, m->id);
    const char *reach = m->id == s->node_id ? "self"
                        : dyna_node_is_reachable(s->node, m->id) ? "reachable" : "unreachable";
    char phi[32];
    snprintf(phi, sizeof(phi), "%.1f", (double)dyna_node_phi_x1000(s->node, m->id) / 1000.0);
    dyna_resp_put_array(b, 9);
    dyna_resp_put_bulk_str(b, m->name);
    dyna_resp_put_bulk_str(b, id);
    dyna_resp_put_bulk_str(b, m->addr);
    dyna_resp_put_bulk_str(b, m->client_addr);
    dyna_resp_put_bulk_str(b, dyna_member_status_name(m->status));
    dyna_resp_put_bulk_str(b, m->zone);
    dyna_resp_put_int(b, dyna_ring_owned(&cl->ring, m->id));
    dyna_resp_put_bulk_str(b, reach);
    dyna_resp_put_bulk_str(b, phi);
  }
}

/* DYNA.RING: [ring size, n, ring version, [[id, client addr, name, status]...],
 *             [[member index, ...] preference list of each partition (first n)]] */
static void cmd_dyna_ring(dyna_server_t *s, conn_t *c, const args_t *a) {
  (void)a;
  const dyna_cluster_t *cl = dyna_node_cluster(s->node);
  dyna_buf_t *b = reply_now(c);
  dyna_resp_put_array(b, 5);
  dyna_resp_put_int(b, cl->ring.size);
  dyna_resp_put_int(b, s->cfg.n);
  dyna_resp_put_int(b, (int64_t)cl->ring_version);
  dyna_resp_put_array(b, cl->n);
  for (size_t i = 0; i < cl->n; i++) {
    char id[32];
    snprintf(id, sizeof(id), "%016" PRIx64, cl->m[i].id);
    dyna_resp_put_array(b, 4);
    dyna_resp_put_bulk_str(b, id);
    dyna_resp_put_bulk_str(b, cl->m[i].client_addr);
    dyna_resp_put_bulk_str(b, cl->m[i].name);
    dyna_resp_put_bulk_str(b, dyna_member_status_name(cl->m[i].status));
  }
  dyna_resp_put_array(b, cl->ring.size);
  uint64_t pl[16];
  for (uint32_t p = 0; p < cl->ring.size; p++) {
    size_t k = dyna_ring_preflist(&cl->ring, p, s->cfg.n, pl, s->cfg.n);
    dyna_resp_put_array(b, k);
    for (size_t j = 0; j < k; j++) {
      size_t idx = 0;
      while (idx < cl->n && cl->m[idx].id != pl[j]) idx++;
      dyna_resp_put_int(b, (int64_t)idx);
    }
  }
}

/* DYNA.ADMIN JOIN host:port | LEAVE | REMOVE node: explicit membership changes. */
static void cmd_dyna_admin(dyna_server_t *s, conn_t *c, const args_t *a) {
  if (a->argc < 2) { err_arity(c, a); return; }
  char arg1[128];
  int rc;
  dyna_time_t now = dyna_server_time(s);
  if (arg_is(a, 1, "REPAIR") && (a->argc == 2 || a->argc == 3)) {
    uint32_t p = UINT32_MAX;
    if (a->argc == 3) {
      char *end;
      if (arg_str(a, 2, arg1, sizeof(arg1))) arg1[0] = 0;
      unsigned long v = strtoul(arg1, &end, 10);
      if (!arg1[0] || *end || v >= dyna_node_cluster(s->node)->ring.size) {
        err_now(c, "ERR no such partition");
        return;
      }
      p = (uint32_t)v;
    }
    dyna_node_repair(s->node, p, now);
  } else if (arg_is(a, 1, "JOIN") && a->argc == 3 && !arg_str(a, 2, arg1, sizeof(arg1))) {
    rc = dyna_peers_join(s->peers, arg1);
    if (rc) { err_now(c, "ERR bad address (want the cluster address HOST:PORT of a member)"); return; }
  } else if (arg_is(a, 1, "LEAVE") && a->argc == 2) {
    rc = dyna_node_leave(s->node, now);
    if (rc) { err_now(c, "ERR cannot leave: this is the last member, or its state is unknown"); return; }
  } else if (arg_is(a, 1, "REMOVE") && a->argc == 3 && !arg_str(a, 2, arg1, sizeof(arg1))) {
    rc = dyna_node_remove(s->node, arg1, now);
    if (rc == DYNA_ENOTFOUND) { err_now(c, "ERR no such member"); return; }
    if (rc) { err_now(c, "ERR cannot remove that member (to take this node out, use LEAVE)"); return; }
  } else {
    err_now(c, "ERR syntax: DYNA.ADMIN JOIN host:port | LEAVE | REMOVE name-or-id | REPAIR [partition]");
    return;
  }
  /* LEAVE and REMOVE changed the cluster state this node keeps: their OK, like any
   * acknowledgement, waits until that write is durable. */
  slot_t *slot = slot_open(s, c, SLOT_SET, 1);
  if (!slot) return;
  dyna_reply_t r;
  memset(&r, 0, sizeof(r));
  r.req_id = slot->first_req;
  if (dyna_idmap_put(&s->pend, r.req_id, slot, 0)) {
    dyna_reply_fail(&r, DYNA_ENOMEM, NULL);
    dyna_cmd_complete(s, c, slot, 0, &r);
    return;
  }
  dyna_commit_reply_after_writes(s, &r);
}

typedef struct command {
  const char *name;
  void (*fn)(dyna_server_t *, conn_t *, const args_t *);
} command_t;

static const command_t COMMANDS[] = {
    {"GET", cmd_get},         {"SET", cmd_set},           {"DEL", cmd_del},
    {"EXISTS", cmd_exists},   {"MGET", cmd_mget},         {"MSET", cmd_mset},
    {"PING", cmd_ping},       {"ECHO", cmd_echo},         {"SELECT", cmd_select},
    {"COMMAND", cmd_command}, {"CONFIG", cmd_config},     {"INFO", cmd_info},
    {"CLIENT", cmd_client},   {"HELLO", cmd_hello},       {"DYNA.GET", cmd_dyna_get},
    {"DYNA.PUT", cmd_dyna_put}, {"DYNA.DEL", cmd_dyna_del}, {"DYNA.LOCAL", cmd_dyna_local},
    {"DYNA.STATUS", cmd_dyna_status}, {"DYNA.RING", cmd_dyna_ring}, {"DYNA.ADMIN", cmd_dyna_admin},
};
#define NCOMMANDS (sizeof(COMMANDS) / sizeof(COMMANDS[0]))

/* COMMAND: an empty list (clients fall back to their defaults), COMMAND COUNT. */
static void cmd_command(dyna_server_t *s, conn_t *c, const args_t *a) {
  (void)s;
  if (a->argc >= 2 && arg_is(a, 1, "COUNT")) dyna_resp_put_int(reply_now(c), (int64_t)NCOMMANDS + 1);
  else dyna_resp_put_array(reply_now(c), 0);
}

int dyna_cmd_dispatch(dyna_server_t *s, conn_t *c, const dyna_resp_cmd_t *cmd) {
  args_t a = {cmd->argc, cmd->base, cmd->argo, cmd->argl};
  if (arg_is(&a, 0, "QUIT")) {
    cmd_quit(s, c, &a);
    dyna_conn_flush_slots(s, c);
    return -1;
  }
  for (size_t i = 0; i < NCOMMANDS; i++) {
    if (arg_is(&a, 0, COMMANDS[i].name)) {
      COMMANDS[i].fn(s, c, &a);
      dyna_conn_flush_slots(s, c);
      return 0;
    }
  }
  char name[48], line[96];
  if (arg_str(&a, 0, name, sizeof(name))) snprintf(name, sizeof(name), "(too long)");
  for (char *p = name; *p; p++)
    if (!isprint((unsigned char)*p)) *p = '?';
  snprintf(line, sizeof(line), "ERR unknown command '%s'", name);
  err_now(c, line);
  dyna_conn_flush_slots(s, c);
  return 0;
}
