/* cmd_server.c: connection and server commands: PING ECHO QUIT SELECT HELLO RESET, INFO,
 * CONFIG GET (over the configuration config.c holds), CLIENT, and the HELP of every
 * container (generated from its sub-table). All answer at once, from the node's and the
 * runtime's state; none asks the node. The table checks arity; a handler checks only the
 * shape an arity cannot say (pairs, options). */
#include "runtime/cmd_table.h"
#include "proto/words.h"
#include "util/assert.h"
#include "util/alloc.h"
#include "core/cluster.h"
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <strings.h>

#include "dyna_version.h"

void dyna_cmd_ping(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)s;
  if (a->argc > 2) { dyna_conn_answer_arity_error(c, "ping"); return; }
  if (a->argc == 2) dyna_resp_put_bulk(dyna_conn_answer_now(c), dyna_arg(a, 1), dyna_arg_len(a, 1));
  else dyna_resp_put_simple(dyna_conn_answer_now(c), "PONG");
}

void dyna_cmd_echo(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)s;
  dyna_resp_put_bulk(dyna_conn_answer_now(c), dyna_arg(a, 1), dyna_arg_len(a, 1));
}

void dyna_cmd_quit(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)s;
  (void)a;
  dyna_resp_put_simple(dyna_conn_answer_now(c), "OK");
  dyna_conn_drain(c);
}

void dyna_cmd_select(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)s;
  if (dyna_arg_len(a, 1) == 1 && dyna_arg(a, 1)[0] == '0') dyna_resp_put_simple(dyna_conn_answer_now(c), "OK");
  else dyna_conn_answer_error(c, DYNA_WORD_ERR " DB index is out of range (Dyna has one keyspace: 0)");
}

/* ---------- HELLO, RESET: the connection's protocol and name ---------- */

/* The Redis version HELLO and INFO (redis_version) announce: the one whose commands and
 * replies Dyna follows (docs/compatibility.md). */
#define HELLO_REDIS_VERSION "7.0.0"

/* Redis's string2ll for HELLO's protover: canonical decimal only (no sign '+', no
 * leading zero, no space); 0 or -1. */
static int hello_protover(const uint8_t *p, size_t n, long long *out) {
  int neg = n > 0 && p[0] == '-';
  size_t i = (size_t)neg;
  if (i >= n || n - i > 18 || (p[i] == '0' && n - i > 1) || (neg && p[i] == '0')) return -1;
  long long v = 0;
  for (; i < n; i++) {
    if (p[i] < '0' || p[i] > '9') return -1;
    v = v * 10 + (p[i] - '0');
  }
  *out = neg ? -v : v;
  return 0;
}

/* Sets c's name to argument i of a (empty: no name), as Redis's CLIENT SETNAME checks
 * it: every byte printable ASCII from '!' to '~'. 0, or -1 with the error answered. */
static int conn_set_name(conn_t *c, const dyna_args_t *a, size_t i) {
  const uint8_t *p = dyna_arg(a, i);
  size_t n = dyna_arg_len(a, i);
  for (size_t k = 0; k < n; k++)
    if (p[k] < '!' || p[k] > '~') {
      dyna_conn_answer_error(c, DYNA_WORD_ERR " Client names cannot contain spaces, newlines or special characters.");
      return -1;
    }
  char *name = NULL;
  if (n) {
    name = dyna_malloc(n + 1);
    if (!name) { dyna_conn_answer_error(c, DYNA_ERR_OOM); return -1; }
    memcpy(name, p, n);
    name[n] = 0;
  }
  dyna_free(c->name);
  c->name = name;
  return 0;
}

/* HELLO [protover [AUTH username password] [SETNAME clientname]], as Redis 7.0: checks
 * the version (2 or 3, else NOPROTO) and every option before doing anything; then AUTH
 * (Dyna has no users yet: it behaves as Redis with only the default user and no
 * password, which takes any password and refuses any other user name), then SETNAME,
 * then the protocol switch; answers the server map in the new protocol. */
void dyna_cmd_hello(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)s;
  long long ver = 0;
  if (a->argc >= 2) {
    if (hello_protover(dyna_arg(a, 1), dyna_arg_len(a, 1), &ver)) {
      dyna_conn_answer_error(c, DYNA_WORD_ERR " Protocol version is not an integer or out of range");
      return;
    }
    if (ver < 2 || ver > 3) { dyna_conn_answer_error(c, DYNA_WORD_NOPROTO " unsupported protocol version"); return; }
  }
  size_t user = 0, name = 0; /* argument positions (0: option not given) */
  for (size_t j = 2; j < a->argc; j++) {
    size_t more = a->argc - 1 - j;
    if (dyna_arg_is(a, j, "AUTH") && more >= 2) {
      user = j + 1;
      j += 2;
    } else if (dyna_arg_is(a, j, "SETNAME") && more >= 1) {
      name = ++j;
    } else {
      char opt[64], line[128];
      size_t n = dyna_arg_len(a, j) < sizeof(opt) - 1 ? dyna_arg_len(a, j) : sizeof(opt) - 1;
      memcpy(opt, dyna_arg(a, j), n);
      opt[n] = 0;
      snprintf(line, sizeof(line), DYNA_WORD_ERR " Syntax error in HELLO option '%s'", opt);
      dyna_conn_answer_error(c, line);
      return;
    }
  }
  if (user && !(dyna_arg_len(a, user) == 7 && !memcmp(dyna_arg(a, user), "default", 7))) {
    dyna_conn_answer_error(c, "WRONGPASS invalid username-password pair or user is disabled.");
    return;
  }
  if (name && conn_set_name(c, a, name)) return;
  if (ver) c->proto = (int)ver;
  dyna_buf_t *b = dyna_conn_answer_now(c);
  dyna_resp_put_map(b, c->proto, 7);
  dyna_resp_put_bulk_str(b, "server");
  dyna_resp_put_bulk_str(b, "redis");
  dyna_resp_put_bulk_str(b, "version");
  dyna_resp_put_bulk_str(b, HELLO_REDIS_VERSION);
  dyna_resp_put_bulk_str(b, "proto");
  dyna_resp_put_int(b, c->proto);
  dyna_resp_put_bulk_str(b, "id");
  dyna_resp_put_int(b, (int64_t)c->id);
  dyna_resp_put_bulk_str(b, "mode");
  dyna_resp_put_bulk_str(b, "cluster");
  dyna_resp_put_bulk_str(b, "role");
  dyna_resp_put_bulk_str(b, "master");
  dyna_resp_put_bulk_str(b, "modules");
  dyna_resp_put_array(b, 0);
}

/* RESET, as Redis 7.0's: the connection as it was accepted: RESP2, no name; answers
 * +RESET. (Transactions and WATCH, where served, are dropped by their own code.) */
void dyna_cmd_reset(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)s;
  (void)a;
  c->proto = DYNA_RESP2;
  dyna_free(c->name);
  c->name = NULL;
  dyna_resp_put_simple(dyna_conn_answer_now(c), "RESET");
}

/* HELP of a container: "<NAME> <subcommand> [<arg> ...]. Subcommands are:", then each
 * subcommand's name and, indented, its summary. */
void dyna_cmd_help(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)s;
  const dyna_cmd_t *parent = dyna_cmd_lookup(dyna_arg(a, 0), dyna_arg_len(a, 0));
  if (!parent || !parent->subs) { dyna_conn_answer_error(c, DYNA_WORD_ERR " no subcommands"); return; }
  char upper[64], line[256];
  size_t k = 0;
  for (; parent->name[k] && k + 1 < sizeof(upper); k++) upper[k] = (char)toupper((unsigned char)parent->name[k]);
  upper[k] = 0;
  dyna_buf_t *b = dyna_conn_answer_now(c);
  dyna_resp_put_array(b, 1 + 2 * parent->nsubs);
  snprintf(line, sizeof(line), "%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", upper);
  dyna_resp_put_simple(b, line);
  for (size_t i = 0; i < parent->nsubs; i++) {
    const char *sub = dyna_cmd_sub_name(&parent->subs[i]);
    for (k = 0; sub[k] && k + 1 < sizeof(upper); k++) upper[k] = (char)toupper((unsigned char)sub[k]);
    upper[k] = 0;
    dyna_resp_put_simple(b, upper);
    snprintf(line, sizeof(line), "    %s", parent->subs[i].summary);
    dyna_resp_put_simple(b, line);
  }
}

/* ---------- CONFIG ---------- */

/* Appends one "name value" pair of CONFIG GET's answer (a map in RESP3) to the reply
 * buffer ctx. */
static void config_pair(void *ctx, const char *name, const char *value) {
  dyna_resp_put_bulk_str(ctx, name);
  dyna_resp_put_bulk_str(ctx, value);
}

/* CONFIG GET pattern [pattern ...]: answered from the options table (runtime/options.c),
 * each option once; the node's options as the node runs with them. */
void dyna_cmd_config_get(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  const dyna_node_cfg_t *node = dyna_node_cfg(s->node);
  size_t n = dyna_config_get(&s->cfg, node, a->base, a->o + 2, a->l + 2, a->argc - 2, NULL, NULL);
  dyna_buf_t *b = dyna_conn_answer_now(c);
  dyna_resp_put_map(b, c->proto, n);
  dyna_config_get(&s->cfg, node, a->base, a->o + 2, a->l + 2, a->argc - 2, config_pair, b);
}

/* ---------- CLIENT ---------- */

void dyna_cmd_client_id(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)s;
  (void)a;
  dyna_resp_put_int(dyna_conn_answer_now(c), (int64_t)c->id);
}

/* The name HELLO .. SETNAME gave, or null. */
void dyna_cmd_client_getname(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)s;
  (void)a;
  if (c->name) dyna_resp_put_bulk_str(dyna_conn_answer_now(c), c->name);
  else dyna_resp_put_null(dyna_conn_answer_now(c), c->proto);
}

/* SETNAME and SETINFO are accepted so that client libraries that send them on connect
 * work; Dyna keeps neither (CLIENT GETNAME answers the name HELLO set, or null). */
void dyna_cmd_client_setname(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)s;
  (void)a;
  dyna_resp_put_simple(dyna_conn_answer_now(c), "OK");
}

void dyna_cmd_client_setinfo(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  dyna_cmd_client_setname(s, c, a);
}

/* ---------- INFO ---------- */

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

void dyna_cmd_info(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)a;
  const dyna_node_stats_t *ns = dyna_node_stats(s->node);
  const dyna_peer_stats_t *ps = dyna_peers_stats(s->peers);
  const dyna_cluster_t *cl = dyna_node_cluster(s->node);
  char id[32];
  snprintf(id, sizeof(id), "%016" PRIx64, s->node_id);
  dyna_buf_t t = DYNA_BUF_INIT;
  info_section(&t, "Server");
  info_str(&t, "redis_version", HELLO_REDIS_VERSION);
  info_str(&t, "dyna_version", DYNA_VERSION_STRING);
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
  info_u64(&t, "defensive_hits", dyna_assert_defensive_hits); /* NEVER()/ALWAYS() taken (util/assert.h) */
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
  if (t.oom) dyna_conn_answer_error(c, DYNA_ERR_OOM);
  else dyna_resp_put_verbatim(dyna_conn_answer_now(c), c->proto, "txt", t.data, t.len); /* RESP2: bulk */
  dyna_buf_free(&t);
}
