/* http_metrics.c: GET /metrics, the node's counters in Prometheus's text exposition format
 * (version 0.0.4): every family with its # HELP and # TYPE, names with the dyna_ prefix,
 * counters ending in _total, times in seconds and sizes in bytes, and what varies (the
 * command, the outcome, the operation, a member) in labels, never in names. It reads
 * what INFO reads (cmd_info.c: the dispatcher's commandstats and errorstats, the runtime's
 * counters, the node's dyna_node_stats, the peers' counters) and adds the histograms the
 * runtime keeps for /metrics (server_int.h) and a few gauges worked out here (members by
 * status and reachability, hints waiting, the store's size on disk). docs/http.md lists
 * the families. Made on the loop at once: O(command rows + members + hints waiting, at
 * most DYNA_HINTS_COUNT_MAX) per scrape. */
#include "core/admission.h"
#include "runtime/http_int.h"
#include "runtime/cmd_table.h"
#include "core/cluster.h"
#include "util/assert.h"
#include "dyna_version.h"
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* ---------- the text format ---------- */

static void put(dyna_buf_t *b, const char *s) { dyna_buf_put(b, s, strlen(s)); }

static void family(dyna_buf_t *b, const char *name, const char *type, const char *help) {
  put(b, "# HELP ");
  put(b, name);
  put(b, " ");
  put(b, help);
  put(b, "\n# TYPE ");
  put(b, name);
  put(b, " ");
  put(b, type);
  put(b, "\n");
}

/* A label value, escaped as the format wants (backslash, double quote, newline). */
static void label_value(dyna_buf_t *b, const char *v) {
  for (; *v; v++) {
    if (*v == '\\') put(b, "\\\\");
    else if (*v == '"') put(b, "\\\"");
    else if (*v == '\n') put(b, "\\n");
    else dyna_buf_put(b, v, 1);
  }
}

/* name{k1="v1",k2="v2"} (labels with a NULL name left out). */
static void series(dyna_buf_t *b, const char *name, const char *k1, const char *v1, const char *k2, const char *v2) {
  put(b, name);
  if (!k1 && !k2) return;
  put(b, "{");
  if (k1) {
    put(b, k1);
    put(b, "=\"");
    label_value(b, v1);
    put(b, "\"");
  }
  if (k2) {
    if (k1) put(b, ",");
    put(b, k2);
    put(b, "=\"");
    label_value(b, v2);
    put(b, "\"");
  }
  put(b, "}");
}

static void sample2(dyna_buf_t *b, const char *name, const char *k1, const char *v1, const char *k2, const char *v2,
                    uint64_t v) {
  char t[32];
  series(b, name, k1, v1, k2, v2);
  snprintf(t, sizeof(t), " %" PRIu64 "\n", v);
  put(b, t);
}

static void sample1(dyna_buf_t *b, const char *name, const char *k, const char *v, uint64_t x) {
  sample2(b, name, k, v, NULL, NULL, x);
}

static void sample(dyna_buf_t *b, const char *name, uint64_t v) { sample2(b, name, NULL, NULL, NULL, NULL, v); }

static void sample_f(dyna_buf_t *b, const char *name, const char *k, const char *v, double x) {
  char t[48];
  series(b, name, k, v, NULL, NULL);
  snprintf(t, sizeof(t), " %.9g\n", x);
  put(b, t);
}

/* One family of a single counter or gauge. */
static void one(dyna_buf_t *b, const char *name, const char *type, const char *help, uint64_t v) {
  family(b, name, type, help);
  sample(b, name, v);
}

/* The samples of one histogram h under the label k="v" (seconds; h counts microseconds). */
static void histogram(dyna_buf_t *b, const char *name, const char *k, const char *v, const dyna_hist_t *h) {
  char bucket[96], le[32];
  snprintf(bucket, sizeof(bucket), "%s_bucket", name);
  for (size_t i = 0; i <= DYNA_HIST_BOUNDS; i++) {
    if (i < DYNA_HIST_BOUNDS) snprintf(le, sizeof(le), "%g", (double)dyna_hist_bounds_us[i] / 1e6);
    else snprintf(le, sizeof(le), "+Inf");
    sample2(b, bucket, k, v, "le", le, dyna_hist_cumulative(h, i));
  }
  snprintf(bucket, sizeof(bucket), "%s_sum", name);
  sample_f(b, bucket, k, v, (double)h->sum_us / 1e6);
  snprintf(bucket, sizeof(bucket), "%s_count", name);
  sample1(b, bucket, k, v, h->count);
}

/* ---------- gauges worked out here ---------- */

/* Bytes the data directory's files take on disk (its files and those one level down). */
static uint64_t dir_bytes(const char *dir, int depth) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  uint64_t total = 0;
  struct dirent *e;
  char path[1024];
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path)) continue;
    struct stat st;
    if (lstat(path, &st)) continue;
    if (S_ISREG(st.st_mode)) total += (uint64_t)st.st_blocks * 512;
    else if (S_ISDIR(st.st_mode) && depth > 0) total += dir_bytes(path, depth - 1);
  }
  closedir(d);
  return total;
}

/* ---------- the families ---------- */

static const char *op_name(int op) {
  switch (op) {
  case DYNA_OP_GET: return "get";
  case DYNA_OP_PUT: return "put";
  case DYNA_OP_DEL: return "del";
  case DYNA_OP_LOCAL: return "local";
  case DYNA_OP_TYPED: return "typed";
  case DYNA_OP_SCAN: return "scan";
  case DYNA_OP_DBSIZE: return "dbsize";
  case DYNA_OP_FLUSH: return "flush";
  case DYNA_OP_BATCH: return "batch";
  default: return NULL;
  }
}

static void commands(dyna_server_t *s, dyna_buf_t *b) {
  size_t rows = dyna_cmd_rows() < DYNA_CMDSTAT_MAX ? dyna_cmd_rows() : DYNA_CMDSTAT_MAX;
  family(b, "dyna_commands_total", "counter",
         "Client commands by command and outcome (ok, error: answered with an error, rejected: refused before "
         "running, e.g. wrong arity), as INFO commandstats counts them.");
  for (size_t i = 0; i < rows; i++) {
    const dyna_cmdstat_t *st = &s->stats.cmd[i];
    if (!st->calls && !st->rejected && !st->failed) continue;
    const char *name = dyna_cmd_row(i)->name;
    sample2(b, "dyna_commands_total", "command", name, "outcome", "ok", st->calls > st->failed ? st->calls - st->failed : 0);
    sample2(b, "dyna_commands_total", "command", name, "outcome", "error", st->failed);
    sample2(b, "dyna_commands_total", "command", name, "outcome", "rejected", st->rejected);
  }
  family(b, "dyna_command_duration_seconds_total", "counter",
         "Time spent running each command's handler on the loop (INFO commandstats usec).");
  for (size_t i = 0; i < rows; i++) {
    const dyna_cmdstat_t *st = &s->stats.cmd[i];
    if (!st->calls && !st->rejected && !st->failed) continue;
    sample_f(b, "dyna_command_duration_seconds_total", "command", dyna_cmd_row(i)->name, (double)st->usec / 1e6);
  }
  family(b, "dyna_error_replies_total", "counter", "Error replies sent to clients, by error word (INFO errorstats).");
  for (size_t i = 0; i < s->stats.nerr; i++) sample1(b, "dyna_error_replies_total", "error", s->stats.err[i].word, s->stats.err[i].count);
  one(b, "dyna_protocol_errors_total", "counter", "Client connections closed for malformed RESP.", s->stats.protocol_errors);
  one(b, "dyna_client_input_bytes_total", "counter", "Bytes read from clients.", s->stats.net_input_bytes);
  one(b, "dyna_client_turn_yields_total", "counter",
      "Times a client used up its per-turn command budget and waited for a later loop turn.",
      s->stats.budget_yields);
  family(b, "dyna_keyspace_reads_total", "counter", "GET and MGET keys found (hit) or not (miss).");
  sample1(b, "dyna_keyspace_reads_total", "result", "hit", s->stats.keyspace_hits);
  sample1(b, "dyna_keyspace_reads_total", "result", "miss", s->stats.keyspace_misses);
}

static void latency(dyna_server_t *s, dyna_buf_t *b) {
  family(b, "dyna_request_duration_seconds", "histogram",
         "Client requests from their submission to this node's coordinator (or its forward) to the reply, by "
         "operation (get, put, del, typed, batch, ...).");
  for (int op = DYNA_OP_GET; op < DYNA_STAT_OPS; op++)
    if (op_name(op)) histogram(b, "dyna_request_duration_seconds", "op", op_name(op), &s->stats.req_hist[op]);
  family(b, "dyna_commit_duration_seconds", "histogram",
         "Store commits (write-ahead log write and fsync under --sync batch, the LMDB commit otherwise), from the "
         "batch handed over to its being durable.");
  histogram(b, "dyna_commit_duration_seconds", NULL, NULL, &s->stats.commit_hist);
  one(b, "dyna_commits_total", "counter", "Store commits that completed.", s->stats.commits - s->stats.commit_errors);
  one(b, "dyna_commit_errors_total", "counter", "Store commits that failed (the writes they held were lost).",
      s->stats.commit_errors);
}

static void node(dyna_server_t *s, dyna_buf_t *b) {
  const dyna_node_stats_t *ns = dyna_node_stats(s->node);
  family(b, "dyna_coordinated_requests_total", "counter", "Requests this node coordinated, by operation.");
  sample1(b, "dyna_coordinated_requests_total", "op", "get", ns->gets);
  sample1(b, "dyna_coordinated_requests_total", "op", "put", ns->puts);
  sample1(b, "dyna_coordinated_requests_total", "op", "del", ns->dels);
  sample1(b, "dyna_coordinated_requests_total", "op", "local", ns->locals);
  family(b, "dyna_coordinated_keys_total", "counter",
         "Client requests for keys this node is a home replica of (local) or not (remote: forwarded or coordinated "
         "for another node).");
  sample1(b, "dyna_coordinated_keys_total", "placement", "local", ns->coordinated_local);
  sample1(b, "dyna_coordinated_keys_total", "placement", "remote", ns->coordinated_remote);
  one(b, "dyna_request_errors_total", "counter", "Requests the node answered with an error.", ns->errors);
  one(b, "dyna_quorum_failures_total", "counter", "Requests that failed for too few replicas answering (-NOQUORUM).",
      ns->noquorum);
  one(b, "dyna_read_retries_total", "counter", "Reads that asked their remaining replicas (a second wave).",
      ns->read_retries);
  one(b, "dyna_forwarded_requests_total", "counter", "Writes forwarded to a coordinator in the key's preference list.",
      ns->forwarded);
  family(b, "dyna_replica_requests_total", "counter", "Replica reads and writes this node served for coordinators.");
  sample1(b, "dyna_replica_requests_total", "op", "get", ns->replica_gets);
  sample1(b, "dyna_replica_requests_total", "op", "put", ns->replica_puts);
  one(b, "dyna_read_repairs_total", "counter", "Stale replicas repaired after a read.", ns->read_repairs);
  one(b, "dyna_sloppy_writes_total", "counter", "Writes that went to a fallback node with a hint (sloppy quorum).",
      ns->sloppy_writes);
  one(b, "dyna_siblings_max", "gauge", "Most siblings seen in one object read since start.", ns->siblings_max);
  one(b, "dyna_hints_stored_total", "counter", "Hints stored here for an unreachable home replica.", ns->hints_stored);
  one(b, "dyna_hints_delivered_total", "counter", "Hints delivered to their owner and deleted here.",
      ns->hints_delivered);
  one(b, "dyna_hints_pending", "gauge", "Hints held here, waiting for their owner (counted up to 100000).",
      dyna_hints_waiting(s));
  one(b, "dyna_handoff_keys_sent_total", "counter", "Keys sent by partition handoff.", ns->handoff_keys_sent);
  one(b, "dyna_handoff_keys_deleted_total", "counter", "Keys deleted here once their new owners acknowledged them.",
      ns->handoff_keys_deleted);
  family(b, "dyna_transfer_bytes_total", "counter", "Bytes sent by data transfer, by kind (handoff: partitions; hints).");
  sample1(b, "dyna_transfer_bytes_total", "kind", "handoff", ns->handoff_bytes);
  sample1(b, "dyna_transfer_bytes_total", "kind", "hints", ns->hints_bytes);
  one(b, "dyna_anti_entropy_exchanges_total", "counter", "Anti-entropy (Merkle tree) exchanges started.",
      ns->aae_exchanges);
  one(b, "dyna_anti_entropy_keys_sent_total", "counter", "Keys sent by anti-entropy.", ns->aae_keys_sent);
  one(b, "dyna_anti_entropy_keys_repaired_total", "counter", "Keys repaired here by anti-entropy.",
      ns->aae_keys_repaired);
  one(b, "dyna_anti_entropy_bytes_total", "counter", "Anti-entropy payload sent: roots, trees, bitmaps and objects.",
      ns->aae_bytes);
  one(b, "dyna_tombstones_reaped_total", "counter", "Tombstones removed once safe.", ns->tombstones_reaped);
  one(b, "dyna_background_bytes_total", "counter",
      "Bytes taken from the background budget by handoff, hints and anti-entropy.", ns->budget_bytes);
  one(b, "dyna_background_budget_bytes_per_second", "gauge",
      "The background budget (--background-bytes-per-sec).", s->cfg.background_bytes_per_sec);
  one(b, "dyna_background_budget_waits_total", "counter", "Background work put off for want of budget.",
      ns->budget_waits);
  one(b, "dyna_background_rate_bytes_per_second", "gauge",
      "The background budget's rate now, as the admission controller set it.", dyna_node_admission(s->node)->rate);
  one(b, "dyna_background_rate_cuts_total", "counter",
      "Times the admission controller halved the background rate.", dyna_node_admission(s->node)->cuts);
  one(b, "dyna_gossip_rounds_total", "counter", "Gossip rounds run.", ns->gossip_rounds);
  family(b, "dyna_gossip_messages_total", "counter", "Gossip messages, by direction.");
  sample1(b, "dyna_gossip_messages_total", "direction", "sent", ns->gossip_sent);
  sample1(b, "dyna_gossip_messages_total", "direction", "received", ns->gossip_received);
  one(b, "dyna_ring_changes_total", "counter", "Ring (partition map) changes adopted.", ns->ring_changes);
  one(b, "dyna_bad_messages_total", "counter", "Inter-node frames that did not decode.", ns->bad_messages);
}

static void cluster(dyna_server_t *s, dyna_buf_t *b) {
  const dyna_cluster_t *cl = dyna_node_cluster(s->node);
  static const int statuses[] = {DYNA_MEMBER_VALID, DYNA_MEMBER_LEAVING, DYNA_MEMBER_REMOVED};
  family(b, "dyna_members", "gauge", "Members of the cluster as this node sees them, by membership status.");
  for (size_t k = 0; k < sizeof(statuses) / sizeof(statuses[0]); k++) {
    uint64_t n = 0;
    for (size_t i = 0; i < cl->n; i++) n += cl->m[i].status == statuses[k];
    sample1(b, "dyna_members", "status", dyna_member_status_name(statuses[k]), n);
  }
  family(b, "dyna_member_reachable", "gauge",
         "1 when this node can reach the member (transport up, not suspected), 0 when not; removed members left out.");
  for (size_t i = 0; i < cl->n; i++) {
    const dyna_member_t *m = &cl->m[i];
    if (m->status == DYNA_MEMBER_REMOVED) continue;
    char id[24];
    snprintf(id, sizeof(id), "%016" PRIx64, m->id);
    sample2(b, "dyna_member_reachable", "member", m->name, "id", id,
            m->id == s->node_id || dyna_node_is_reachable(s->node, m->id));
  }
  one(b, "dyna_partitions_owned", "gauge", "Partitions this node owns (is the first replica of).",
      dyna_ring_owned(&cl->ring, s->node_id));
  one(b, "dyna_ring_partitions", "gauge", "Partitions of the ring (Q).", cl->ring.size);
  one(b, "dyna_ring_version", "gauge", "Version of the ring this node holds.", cl->ring_version);
}

static void runtime(dyna_server_t *s, dyna_buf_t *b) {
  const dyna_peer_stats_t *ps = dyna_peers_stats(s->peers);
  one(b, "dyna_client_connections", "gauge", "Open client (RESP) connections.", s->nconns);
  one(b, "dyna_client_connections_total", "counter", "Client connections accepted.", s->stats.connections_received);
  one(b, "dyna_client_connections_rejected_total", "counter", "Client connections refused (--max-clients).",
      s->stats.connections_rejected);
  one(b, "dyna_client_stalled_closed_total", "counter", "Clients closed for a request stalled mid-way.",
      s->stats.stalled_closed);
  family(b, "dyna_peer_frames_total", "counter", "Inter-node frames, by direction.");
  sample1(b, "dyna_peer_frames_total", "direction", "in", ps->frames_in);
  sample1(b, "dyna_peer_frames_total", "direction", "out", ps->frames_out);
  family(b, "dyna_peer_bytes_total", "counter", "Inter-node bytes, by direction.");
  sample1(b, "dyna_peer_bytes_total", "direction", "in", ps->bytes_in);
  sample1(b, "dyna_peer_bytes_total", "direction", "out", ps->bytes_out);
  one(b, "dyna_peer_frames_dropped_total", "counter", "Frames dropped for a slow peer (--max-peer-output-bytes).",
      ps->dropped);
  one(b, "dyna_peer_connections_refused_total", "counter", "Inter-node connections refused.", ps->refused);
  one(b, "dyna_peer_bulk_frames_total", "counter", "Inter-node frames no request waited on (the bulk lanes).",
      ps->bulk_frames);
  one(b, "dyna_peer_bulk_waiting_bytes", "gauge", "Bytes waiting in the inter-node bulk lanes.",
      dyna_peers_bulk_waiting(s->peers));
  one(b, "dyna_store_size_bytes", "gauge", "Disk space the data directory's files take.", dir_bytes(s->cfg.data, 1));
  family(b, "dyna_http_responses_total", "counter", "HTTP responses this port made, by status class.");
  static const char *classes[] = {NULL, NULL, "2xx", "3xx", "4xx", "5xx"};
  for (int k = 2; k < 6; k++) sample1(b, "dyna_http_responses_total", "code", classes[k], s->http ? s->http->responses[k] : 0);
  one(b, "dyna_uptime_seconds", "gauge", "Seconds since this node started.", (dyna_server_now(s) - s->start_ms) / 1000);
  family(b, "dyna_build_info", "gauge", "1, labelled with the version and the node's name.");
  sample2(b, "dyna_build_info", "version", DYNA_VERSION_STRING, "node", s->cfg.name, 1);
}

void dyna_http_metrics(dyna_server_t *s, http_req_t *q) {
  dyna_buf_t *b = &q->out;
  commands(s, b);
  latency(s, b);
  node(s, b);
  cluster(s, b);
  runtime(s, b);
  q->status = 200;
  q->ctype = "text/plain; version=0.0.4; charset=utf-8";
  q->state = HTTP_DONE;
}
