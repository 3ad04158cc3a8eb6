/* cmd_info.c: INFO [section ...], and the runtime's counters it shows that the other
 * files only bump (commandstats, errorstats, ops per second).
 *
 * Sections as Redis 7.0 names and orders them, with the fields redis-cli, client
 * libraries and Prometheus's redis_exporter read, then Dyna's own in "dyna":
 *
 *   default (INFO, INFO default): server clients memory persistence stats replication
 *                                 cpu modules errorstats cluster keyspace dyna
 *   all:        the same with commandstats (Redis's latencystats is not kept)
 *   everything: all
 *   a name:     that section (any case); unknown names add nothing, as Redis
 *
 * Values Dyna does not have are Redis's neutral ones (a master with no replicas, no RDB
 * or AOF, no blocked clients); used_memory is the resident set (Dyna does not count its
 * allocations); keyspace is left empty (the keys of a cluster are not counted on one
 * node); failed_calls and errorstats count the error replies that left this node. */
#include "core/admission.h"
#include "runtime/cmd_table.h"
#include "proto/words.h"
#include "util/assert.h"
#include "core/cluster.h"
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "dyna_version.h"

/* The Redis version clients are told (they enable features by it): the 7.0 release whose
 * commands, words and COMMAND INFO Dyna follows. */

/* ---------- counters ---------- */

void dyna_stats_error_reply(dyna_server_t *s, const uint8_t *p, size_t n) {
  if (n < 2 || p[0] != '-') return;
  size_t k = 1;
  while (k < n && k < 31 && p[k] != ' ' && p[k] != '\r' && p[k] != '\n') k++;
  char word[32];
  memcpy(word, p + 1, k - 1);
  word[k - 1] = 0;
  s->stats.total_error_replies++;
  for (size_t i = 0; i < s->stats.nerr; i++)
    if (!strcmp(s->stats.err[i].word, word)) { s->stats.err[i].count++; return; }
  if (s->stats.nerr == DYNA_ERRSTAT_MAX) return; /* Redis keeps 128 words; we keep 32 */
  dyna_errstat_t *e = &s->stats.err[s->stats.nerr++];
  memcpy(e->word, word, k);
  e->count = 1;
}

void dyna_stats_reply(dyna_server_t *s, uint32_t idx, const dyna_buf_t *out) {
  if (!out->len || out->data[0] != '-') return;
  if (idx < DYNA_CMDSTAT_MAX) s->stats.cmd[idx].failed++;
  dyna_stats_error_reply(s, out->data, out->len);
}

void dyna_stats_reset(dyna_server_t *s) {
  dyna_server_stats_t *st = &s->stats;
  memset(st, 0, sizeof(*st));
  memset(s->ops_samples, 0, sizeof(s->ops_samples));
  s->ops_at_count = 0;
}

void dyna_stats_start(dyna_server_t *s) {
  uint8_t rnd[20];
  if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) { /* not fatal: mix what we have */
    uint64_t x = s->node_id ^ (uint64_t)getpid() ^ uv_hrtime();
    for (size_t i = 0; i < sizeof(rnd); i++, x = x * 6364136223846793005ull + 1442695040888963407ull)
      rnd[i] = (uint8_t)(x >> 56);
  }
  for (size_t i = 0; i < sizeof(rnd); i++) snprintf(s->run_id + 2 * i, 3, "%02x", rnd[i]);
  s->start_wall_s = dyna_server_time(s).wall_ms / 1000;
  s->ops_at_ms = dyna_server_now(s);
}

/* Every 100 ms or more: one sample of commands per second; INFO shows their mean. */
void dyna_stats_tick(dyna_server_t *s) {
  uint64_t now = dyna_server_now(s);
  if (now - s->ops_at_ms < 100) return;
  s->ops_samples[s->ops_next++ % 16] = (s->stats.commands - s->ops_at_count) * 1000 / (now - s->ops_at_ms);
  s->ops_at_ms = now;
  s->ops_at_count = s->stats.commands;
  dyna_site_lag_sample(s, 1000);
}

static int count_one(void *arg, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen) {
  uint64_t *n = arg;
  (void)k, (void)klen, (void)v, (void)vlen;
  return ++*n >= DYNA_HINTS_COUNT_MAX;
}

uint64_t dyna_hints_waiting(dyna_server_t *s) {
  uint64_t n = 0;
  dyna_store_iter(s->store, DYNA_SPACE_HINT, NULL, 0, count_one, &n);
  return n;
}

/* ---------- the text ---------- */

static void info_u64(dyna_buf_t *t, const char *name, uint64_t v) {
  char line[128];
  int n = snprintf(line, sizeof(line), "%s:%" PRIu64 "\r\n", name, v);
  dyna_buf_put(t, line, (size_t)n);
}

static void info_str(dyna_buf_t *t, const char *name, const char *v) {
  dyna_buf_put(t, name, strlen(name));
  dyna_buf_put(t, ":", 1);
  dyna_buf_put(t, v, strlen(v));
  dyna_buf_put(t, "\r\n", 2);
}

/* A quorum: its count, or local / each. */
static void info_quorum(dyna_buf_t *t, const char *name, uint32_t q) {
  if (q == DYNA_QUORUM_LOCAL) info_str(t, name, "local");
  else if (q == DYNA_QUORUM_EACH) info_str(t, name, "each");
  else info_u64(t, name, q);
}

static void info_fmt(dyna_buf_t *t, const char *name, const char *fmt, double v) {
  char val[64];
  snprintf(val, sizeof(val), fmt, v);
  info_str(t, name, val);
}

/* Redis's "1.50M" form of a byte count. */
static void info_human(dyna_buf_t *t, const char *name, uint64_t bytes) {
  static const char units[] = "BKMGTP";
  double v = (double)bytes;
  size_t u = 0;
  while (v >= 1024 && u + 1 < sizeof(units) - 1) { v /= 1024; u++; }
  char val[32];
  if (u == 0) snprintf(val, sizeof(val), "%" PRIu64 "B", bytes);
  else snprintf(val, sizeof(val), "%.2f%c", v, units[u]);
  info_str(t, name, val);
}

static void info_section(dyna_buf_t *t, const char *name) {
  if (t->len) dyna_buf_put(t, "\r\n", 2);
  dyna_buf_put(t, "# ", 2);
  dyna_buf_put(t, name, strlen(name));
  dyna_buf_put(t, "\r\n", 2);
}

static void sec_server(dyna_server_t *s, dyna_buf_t *t) {
  struct utsname u;
  char os[200] = "Linux", id[32], exe[512] = "";
  if (!uname(&u)) snprintf(os, sizeof(os), "%s %s %s", u.sysname, u.release, u.machine);
  snprintf(id, sizeof(id), "%016" PRIx64, s->node_id);
  size_t exelen = sizeof(exe);
  if (uv_exepath(exe, &exelen)) exe[0] = 0;
  uint64_t up = (dyna_server_now(s) - s->start_ms) / 1000;
  info_section(t, "Server");
  info_str(t, "redis_version", DYNA_REDIS_VERSION);
  info_str(t, "redis_git_sha1", "00000000");
  info_u64(t, "redis_git_dirty", 0);
  info_str(t, "redis_build_id", "0");
  info_str(t, "redis_mode", "cluster");
  info_str(t, "os", os);
  info_u64(t, "arch_bits", sizeof(void *) * 8);
  info_str(t, "monotonic_clock", "POSIX clock_gettime");
  info_str(t, "multiplexing_api", "libuv");
  info_str(t, "atomicvar_api", "none");
#ifdef __VERSION__
  info_str(t, "gcc_version", __VERSION__);
#endif
  info_u64(t, "process_id", (uint64_t)getpid());
  info_str(t, "process_supervised", "no");
  info_str(t, "run_id", s->run_id);
  info_u64(t, "tcp_port", (uint64_t)s->cfg.listen_port);
  info_u64(t, "server_time_usec", dyna_server_time(s).wall_ms * 1000); /* the node's wall clock */
  info_u64(t, "uptime_in_seconds", up);
  info_u64(t, "uptime_in_days", up / 86400);
  info_u64(t, "hz", 20);
  info_u64(t, "configured_hz", 20);
  info_str(t, "executable", exe);
  info_str(t, "config_file", s->cfg.config_file);
  info_u64(t, "io_threads_active", 0);
  info_str(t, "dyna_version", DYNA_VERSION_STRING);
  info_str(t, "node_name", s->cfg.name);
  info_str(t, "node_id", id);
  info_u64(t, "cluster_port", (uint64_t)s->cfg.cluster_port);
}

static void sec_clients(dyna_server_t *s, dyna_buf_t *t) {
  size_t max_in = 0, max_out = 0;
  for (conn_t *c = s->conns; c; c = c->next) {
    if (c->in.cap > max_in) max_in = c->in.cap;
    if (dyna_wq_pending(&c->wq) > max_out) max_out = dyna_wq_pending(&c->wq);
  }
  info_section(t, "Clients");
  info_u64(t, "connected_clients", s->nconns);
  info_u64(t, "cluster_connections", 0);
  info_u64(t, "maxclients", (uint64_t)s->cfg.max_clients);
  info_u64(t, "client_recent_max_input_buffer", max_in);
  info_u64(t, "client_recent_max_output_buffer", max_out);
  info_u64(t, "blocked_clients", 0);
  info_u64(t, "tracking_clients", 0);
  info_u64(t, "clients_in_timeout_table", 0);
}

static void sec_memory(dyna_server_t *s, dyna_buf_t *t) {
  size_t rss = 0;
  if (uv_resident_set_memory(&rss)) rss = 0;
  struct rusage ru;
  uint64_t peak = !getrusage(RUSAGE_SELF, &ru) ? (uint64_t)ru.ru_maxrss * 1024 : rss;
  uint64_t total = uv_get_total_memory();
  (void)s;
  info_section(t, "Memory");
  info_u64(t, "used_memory", rss);
  info_human(t, "used_memory_human", rss);
  info_u64(t, "used_memory_rss", rss);
  info_human(t, "used_memory_rss_human", rss);
  info_u64(t, "used_memory_peak", peak);
  info_human(t, "used_memory_peak_human", peak);
  info_u64(t, "total_system_memory", total);
  info_human(t, "total_system_memory_human", total);
  info_u64(t, "maxmemory", 0);
  info_str(t, "maxmemory_human", "0B");
  info_str(t, "maxmemory_policy", "noeviction");
  info_str(t, "mem_fragmentation_ratio", "1.00");
}

static void sec_persistence(dyna_server_t *s, dyna_buf_t *t) {
  info_section(t, "Persistence");
  info_u64(t, "loading", 0);
  info_u64(t, "async_loading", 0);
  info_u64(t, "rdb_changes_since_last_save", 0);
  info_u64(t, "rdb_bgsave_in_progress", 0);
  info_u64(t, "rdb_last_save_time", s->start_wall_s);
  info_str(t, "rdb_last_bgsave_status", "ok");
  info_u64(t, "aof_enabled", 0);
  info_u64(t, "aof_rewrite_in_progress", 0);
  info_str(t, "aof_last_bgrewrite_status", "ok");
  info_str(t, "aof_last_write_status", s->stats.commit_errors ? "err" : "ok");
  info_str(t, "sync_policy", dyna_sync_name(s->cfg.sync));
  info_u64(t, "commits", s->stats.commits);
  info_u64(t, "commit_errors", s->stats.commit_errors);
  info_u64(t, "defensive_hits", dyna_assert_defensive_hits); /* NEVER()/ALWAYS() taken (util/assert.h) */
  info_u64(t, "incarnation", dyna_node_incarnation(s->node));
  info_u64(t, "early_replies", s->stats.early_replies);
  info_u64(t, "unheld_acks", s->stats.unheld_acks);
}

static void sec_stats(dyna_server_t *s, dyna_buf_t *t) {
  uint64_t ops = 0;
  for (size_t i = 0; i < 16; i++) ops += s->ops_samples[i];
  info_section(t, "Stats");
  info_u64(t, "total_connections_received", s->stats.connections_received);
  info_u64(t, "total_commands_processed", s->stats.commands);
  info_u64(t, "instantaneous_ops_per_sec", ops / 16);
  info_u64(t, "total_net_input_bytes", s->stats.net_input_bytes);
  info_u64(t, "rejected_connections", s->stats.connections_rejected);
  info_u64(t, "expired_keys", 0);
  info_u64(t, "evicted_keys", 0);
  info_u64(t, "keyspace_hits", s->stats.keyspace_hits);
  info_u64(t, "keyspace_misses", s->stats.keyspace_misses);
  info_u64(t, "pubsub_channels", 0);
  info_u64(t, "pubsub_patterns", 0);
  info_u64(t, "total_error_replies", s->stats.total_error_replies);
  info_u64(t, "protocol_errors", s->stats.protocol_errors);
  info_u64(t, "stalled_clients_closed", s->stats.stalled_closed);
  /* The per-connection turn budget (conn.h): its bound, how often a client yielded at it,
   * and the most commands one connection took in one loop turn. */
  info_u64(t, "client_turn_budget_cmds", DYNA_CONN_TURN_CMDS);
  info_u64(t, "loop_turns_budget_yields", s->stats.budget_yields);
  info_u64(t, "max_cmds_per_turn", s->stats.max_cmds_per_turn);
  info_u64(t, "acl_access_denied_auth", s->stats.acl_denied_auth);
  info_u64(t, "acl_access_denied_cmd", s->stats.acl_denied_cmd);
  info_u64(t, "acl_access_denied_key", s->stats.acl_denied_key);
  info_u64(t, "auth_delayed_replies", s->stats.auth_delayed);
  info_u64(t, "auth_delay_ms_total", s->stats.auth_delay_ms);
}

static void sec_replication(dyna_server_t *s, dyna_buf_t *t) {
  info_section(t, "Replication");
  info_str(t, "role", "master");
  info_u64(t, "connected_slaves", 0);
  info_str(t, "master_failover_state", "no-failover");
  info_str(t, "master_replid", s->run_id);
  info_u64(t, "master_repl_offset", 0);
  info_u64(t, "repl_backlog_active", 0);
}

static void sec_cpu(dyna_server_t *s, dyna_buf_t *t) {
  struct rusage ru;
  (void)s;
  if (getrusage(RUSAGE_SELF, &ru)) memset(&ru, 0, sizeof(ru));
  info_section(t, "CPU");
  info_fmt(t, "used_cpu_sys", "%.6f", (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
  info_fmt(t, "used_cpu_user", "%.6f", (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6);
  info_str(t, "used_cpu_sys_children", "0.000000");
  info_str(t, "used_cpu_user_children", "0.000000");
}

static void sec_modules(dyna_server_t *s, dyna_buf_t *t) {
  (void)s;
  info_section(t, "Modules");
}

static void sec_commandstats(dyna_server_t *s, dyna_buf_t *t) {
  info_section(t, "Commandstats");
  for (size_t i = 0; i < dyna_cmd_rows() && i < DYNA_CMDSTAT_MAX; i++) {
    const dyna_cmdstat_t *st = &s->stats.cmd[i];
    if (!st->calls && !st->rejected && !st->failed) continue;
    char line[200];
    int n = snprintf(line, sizeof(line),
                     "cmdstat_%s:calls=%" PRIu64 ",usec=%" PRIu64 ",usec_per_call=%.2f,rejected_calls=%" PRIu64
                     ",failed_calls=%" PRIu64 "\r\n",
                     dyna_cmd_row(i)->name, st->calls, st->usec, st->calls ? (double)st->usec / (double)st->calls : 0.0,
                     st->rejected, st->failed);
    dyna_buf_put(t, line, (size_t)n);
  }
}

static void sec_errorstats(dyna_server_t *s, dyna_buf_t *t) {
  info_section(t, "Errorstats");
  for (size_t i = 0; i < s->stats.nerr; i++) {
    char line[96];
    int n = snprintf(line, sizeof(line), "errorstat_%s:count=%" PRIu64 "\r\n", s->stats.err[i].word, s->stats.err[i].count);
    dyna_buf_put(t, line, (size_t)n);
  }
}

static void sec_cluster(dyna_server_t *s, dyna_buf_t *t) {
  (void)s;
  info_section(t, "Cluster");
  info_u64(t, "cluster_enabled", 1);
}

static void sec_keyspace(dyna_server_t *s, dyna_buf_t *t) {
  (void)s;
  info_section(t, "Keyspace");
}

/* request_latency_us: the client requests' latency histogram of /metrics
 * (dyna_request_duration_seconds, every operation together), cumulative counts by upper
 * bound in microseconds, "le50=N,...,le5000000=N,inf=N": two readings a while apart give
 * that while's quantiles (`dyna top`'s p99). */
static void info_latency(dyna_server_t *s, dyna_buf_t *t) {
  char v[512];
  size_t at = 0;
  for (size_t i = 0; i <= DYNA_HIST_BOUNDS; i++) {
    uint64_t n = 0;
    for (int op = 0; op < DYNA_STAT_OPS; op++) n += dyna_hist_cumulative(&s->stats.req_hist[op], i);
    int k = i < DYNA_HIST_BOUNDS ? snprintf(v + at, sizeof(v) - at, "%sle%" PRIu64 "=%" PRIu64, i ? "," : "",
                                            dyna_hist_bounds_us[i], n)
                                 : snprintf(v + at, sizeof(v) - at, ",inf=%" PRIu64, n);
    if (k < 0 || (size_t)k >= sizeof(v) - at) break;
    at += (size_t)k;
  }
  info_str(t, "request_latency_us", v);
}

static void sec_dyna(dyna_server_t *s, dyna_buf_t *t) {
  const dyna_node_stats_t *ns = dyna_node_stats(s->node);
  const dyna_peer_stats_t *ps = dyna_peers_stats(s->peers);
  const dyna_cluster_t *cl = dyna_node_cluster(s->node);
  info_section(t, "Dyna");
  info_u64(t, "gets", ns->gets);
  info_u64(t, "puts", ns->puts);
  info_u64(t, "dels", ns->dels);
  info_u64(t, "local_reads", ns->locals);
  info_u64(t, "request_errors", ns->errors);
  info_u64(t, "noquorum", ns->noquorum);
  info_u64(t, "read_retries", ns->read_retries);
  info_u64(t, "siblings_max", ns->siblings_max);
  info_u64(t, "forwarded", ns->forwarded);
  info_u64(t, "replica_puts", ns->replica_puts);
  info_u64(t, "replica_gets", ns->replica_gets);
  info_u64(t, "read_repairs", ns->read_repairs);
  info_u64(t, "handoff_keys_sent", ns->handoff_keys_sent);
  info_u64(t, "handoff_keys_deleted", ns->handoff_keys_deleted);
  info_u64(t, "handoff_bytes", ns->handoff_bytes);
  info_u64(t, "handoff_keys_held", ns->handoff_keys_held);
  info_u64(t, "handoff_stored_bytes", ns->handoff_stored_bytes);
  info_u64(t, "hints_stored", ns->hints_stored);
  info_u64(t, "hints_delivered", ns->hints_delivered);
  info_u64(t, "sloppy_writes", ns->sloppy_writes);
  info_u64(t, "aae_exchanges", ns->aae_exchanges);
  info_u64(t, "aae_keys_sent", ns->aae_keys_sent);
  info_u64(t, "aae_keys_repaired", ns->aae_keys_repaired);
  info_u64(t, "aae_bytes", ns->aae_bytes);
  uint32_t matched, replicated, forced; /* rebuild and repair progress: dyna_node_aae_progress */
  dyna_node_aae_progress(s->node, &matched, &replicated, &forced);
  info_u64(t, "aae_partitions_matched", matched);
  info_u64(t, "aae_partitions_replicated", replicated);
  info_u64(t, "aae_partitions_queued", forced);
  info_u64(t, "hints_bytes", ns->hints_bytes);
  uint64_t nkeys; /* records in this node's store, tombstones too; absent when the engine cannot tell */
  if (!dyna_store_count(s->store, DYNA_SPACE_OBJ, &nkeys)) info_u64(t, "keys_stored", nkeys);
  info_u64(t, "hints_waiting", dyna_hints_waiting(s));
  dyna_site_lag_sample(s, 0); /* with sites: hints held here for each site, and since when */
  for (size_t i = 0; i < s->nlag; i++) {
    char line[128];
    uint64_t age = s->lag[i].waiting ? dyna_server_now(s) - s->lag[i].since_ms : 0;
    int len = snprintf(line, sizeof(line), "hints_site_%s:waiting=%" PRIu64 ",oldest_ms=%" PRIu64 "\r\n",
                       s->lag[i].dc, s->lag[i].waiting, age);
    dyna_buf_put(t, line, (size_t)len);
  }
  info_u64(t, "handoff_partitions_pending", dyna_node_handoff_pending(s->node));
  const dyna_move_t *mv;
  size_t nmv = dyna_node_moves_out(s->node, &mv);
  uint64_t moved = 0; /* partitions this node handed off whole since start (its move records) */
  for (size_t i = 0; i < nmv; i++) moved += mv[i].state == DYNA_MOVE_DONE;
  info_u64(t, "handoff_partitions_done", moved);
  info_latency(s, t);
  info_u64(t, "members_replaced", ns->members_replaced);
  info_u64(t, "joins_refused", ns->joins_refused);
  info_u64(t, "tombstones_reaped", ns->tombstones_reaped);
  info_u64(t, "background_budget_waits", ns->budget_waits);
  const dyna_admit_t *adm = dyna_node_admission(s->node); /* core/admission.h */
  info_u64(t, "background_rate", adm->rate);              /* bytes/s admitted now */
  info_u64(t, "background_rate_cuts", adm->cuts);
  info_u64(t, "background_acks_held", ns->acks_held);     /* handoff acks held back: senders slowed */
  info_u64(t, "loop_lag_p99_us", adm->last_p99_us);       /* last window's; 0: too few samples */
  info_u64(t, "loop_lag_idle_p99_us", adm->idle_p99_us);  /* the baseline; 0: none yet */
  info_u64(t, "background_bytes", ns->budget_bytes); /* taken from the budget: handoff, hints, anti-entropy */
  info_u64(t, "coordinated_local", ns->coordinated_local);   /* for keys whose home replicas hold this node */
  info_u64(t, "coordinated_remote", ns->coordinated_remote); /* for keys of other nodes */
  info_str(t, "cluster_name", s->cfg.cluster_name);
  info_u64(t, "members", cl->n);
  info_u64(t, "ring_size", cl->ring.size);
  info_u64(t, "ring_version", cl->ring_version);
  info_u64(t, "partitions_owned", dyna_ring_owned(&cl->ring, s->node_id));
  info_u64(t, "n", dyna_node_nval(s->node)); /* with sites: every site's replicas */
  info_quorum(t, "r", dyna_node_cfg(s->node)->r);
  info_quorum(t, "w", dyna_node_cfg(s->node)->w);
  if (s->cfg.dc[0]) info_str(t, "dc", s->cfg.dc);
  info_u64(t, "read_all", (uint64_t)dyna_node_cfg(s->node)->read_all);
  info_u64(t, "durable_reads", (uint64_t)s->cfg.durable_reads);
  info_u64(t, "gossip_rounds", ns->gossip_rounds);
  info_u64(t, "gossip_sent", ns->gossip_sent);
  info_u64(t, "gossip_received", ns->gossip_received);
  info_u64(t, "ring_changes", ns->ring_changes);
  info_u64(t, "bad_messages", ns->bad_messages);
  info_u64(t, "peer_frames_in", ps->frames_in);
  info_u64(t, "peer_frames_out", ps->frames_out);
  info_u64(t, "peer_bytes_in", ps->bytes_in);
  info_u64(t, "peer_bytes_out", ps->bytes_out);
  info_u64(t, "peer_dropped", ps->dropped);
  info_u64(t, "peer_bulk_frames", ps->bulk_frames);
  info_u64(t, "peer_bulk_waiting_bytes", dyna_peers_bulk_waiting(s->peers));
  info_u64(t, "peer_refused", ps->refused);
}

typedef void section_fn(dyna_server_t *s, dyna_buf_t *t);
static const struct {
  const char *name;
  section_fn *fn;
  int in_default; /* 1: in INFO / default; 0: only in all, everything or by name */
} SECTIONS[] = {
    {"server", sec_server, 1},           {"clients", sec_clients, 1},       {"memory", sec_memory, 1},
    {"persistence", sec_persistence, 1}, {"stats", sec_stats, 1},           {"replication", sec_replication, 1},
    {"cpu", sec_cpu, 1},                 {"modules", sec_modules, 1},       {"commandstats", sec_commandstats, 0},
    {"errorstats", sec_errorstats, 1},   {"cluster", sec_cluster, 1},       {"keyspace", sec_keyspace, 1},
    {"dyna", sec_dyna, 1},
};
#define NSECTIONS (sizeof(SECTIONS) / sizeof(SECTIONS[0]))

void dyna_cmd_info(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  int want[NSECTIONS] = {0};
  if (a->argc == 1) {
    for (size_t k = 0; k < NSECTIONS; k++) want[k] = SECTIONS[k].in_default;
  }
  for (size_t i = 1; i < a->argc; i++) {
    int all = dyna_arg_is(a, i, "all") || dyna_arg_is(a, i, "everything");
    int def = dyna_arg_is(a, i, "default");
    for (size_t k = 0; k < NSECTIONS; k++)
      if (all || (def && SECTIONS[k].in_default) || dyna_arg_is(a, i, SECTIONS[k].name)) want[k] = 1;
  }
  dyna_buf_t t = DYNA_BUF_INIT;
  for (size_t k = 0; k < NSECTIONS; k++)
    if (want[k]) SECTIONS[k].fn(s, &t);
  if (t.oom) dyna_conn_answer_error(c, DYNA_ERR_OOM);
  else dyna_resp_put_verbatim(dyna_conn_answer_now(c), c->proto, "txt", t.data ? t.data : (const uint8_t *)"", t.len);
  dyna_buf_free(&t);
}
