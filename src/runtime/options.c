/* options.c: the table of dynad's options (dynad_options[], one row per option, see
 * options.h) and what is made from it: the defaults, parsing one value, its text for
 * CONFIG GET, and dynad --help. config.c drives the command line and the INI file
 * through dynad_option_find/dynad_option_set, and builds the node's configuration from the
 * rows' node fields (dyna_config_node_cfg).
 *
 *   row ──▶ default ─────────────▶ dyna_config_t ──(rows with a node field)──▶ dyna_node_cfg_t
 *       ──▶ --NAME VALUE, INI NAME = VALUE ──┘            └──▶ CONFIG GET ◀──────────┘
 *       ──▶ --help
 */
#include "runtime/options.h"
#include "core/keyspace.h"
#include "runtime/log.h"
#include "util/assert.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

_Static_assert(sizeof(size_t) == sizeof(uint64_t), "U64 and BYTES rows store size_t fields as 64 bits");

#define CFG(f) {offsetof(dyna_config_t, f), sizeof(((dyna_config_t *)0)->f)}
#define NODE(f) {offsetof(dyna_node_cfg_t, f), sizeof(((dyna_node_cfg_t *)0)->f)}
#define MiB (1ull << 20)

static int ring_size_ok(uint64_t v) { return dyna_ring_size_valid((uint32_t)v); }
static const char *sync_name(int v) {
  return v >= DYNA_SYNC_ALWAYS && v <= DYNA_SYNC_NONE ? dyna_sync_name((dyna_sync_t)v) : NULL;
}
static const char *log_name(int v) { return dyna_log_level_name(v); }
static const char *log_format_name(int v) { return dyna_log_format_name(v); }
static void cluster_given(dyna_config_t *c) { c->cluster_port_given = 1; }
static const char *tls_auth_name(int v) { /* dyna_tls_peer_t's order */
  static const char *names[] = {"no", "yes", "optional"};
  return v >= 0 && v < 3 ? names[v] : NULL;
}

/* clang-format off */
const dynad_option_t dynad_options[] = {
  {.name = "name", .type = DYNA_OPT_STRING, .min = 1, .reject = " \t\r\n/",
   .arg = "NAME", .help = "node name, in logs, DYNA.STATUS and the ring",
   .bad = "invalid node name '%v'", .cfg = CFG(name), .node = NODE(name)},
  {.name = "data", .type = DYNA_OPT_STRING, .def = "", .min = 1, .arg = "DIR",
   .help = "data directory, created if missing", .def_help = "var/NAME",
   .bad = "invalid data directory '%v'", .cfg = CFG(data)},
  {.name = "listen", .type = DYNA_OPT_ADDR, .def = "127.0.0.1:7001", .arg = "HOST:PORT",
   .min = 0, .max = 65535, .help = "client (RESP) address; port 0: no plain port\n"
   "(clients then use --tls-port only)", .bad = "invalid address '%v' for %k (want HOST:PORT)",
   .cfg = CFG(listen_host), .port_off = offsetof(dyna_config_t, listen_port),
   .node = NODE(client_addr)},
  {.name = "cluster", .type = DYNA_OPT_ADDR, .def = "", .arg = "HOST:PORT",
   .help = "inter-node address", .def_help = "the listen host, port + 10000,\n"
           "or any free port when that one is taken",
   .bad = "invalid address '%v' for %k (want HOST:PORT)", .after = cluster_given,
   .cfg = CFG(cluster_host), .port_off = offsetof(dyna_config_t, cluster_port), .node = NODE(addr)},
  {.name = "join", .type = DYNA_OPT_LIST, .def = "", .arg = "IP:PORT[,...]",
   .help = "join the cluster of the members at these cluster\n"
           "addresses (up to 8): JOIN goes to each that answers",
   .bad = "invalid address list '%v' for %k (want IP:PORT[,IP:PORT...], at most 8)",
   .cfg = CFG(join)},
  {.name = "zone", .type = DYNA_OPT_STRING, .min = 0, .reject = " \t\r\n", .arg = "ZONE",
   .help = "failure zone; replicas spread over zones first", .bad = "invalid zone '%v'",
   .cfg = CFG(zone), .node = NODE(zone)},
  {.name = "dc", .type = DYNA_OPT_STRING, .min = 0, .reject = " \t\r\n:,", .arg = "NAME",
   .help = "site (data centre): each site keeps its own replicas\n"
           "of every key (--n), placed within it (docs/architecture.md)",
   .bad = "invalid dc '%v'", .cfg = CFG(dc), .node = NODE(dc)},
  {.name = "cluster-name", .type = DYNA_OPT_STRING, .def = "dyna", .min = 1, .arg = "NAME",
   .help = "nodes of other clusters are refused", .bad = "invalid cluster name '%v'",
   .cfg = CFG(cluster_name)},
  {.name = "cluster-secret-file", .type = DYNA_OPT_STRING, .def = "", .min = 0, .arg = "FILE",
   .help = "shared secret of the cluster port (a line each:\n"
           "current, optional next): peers prove it and\n"
           "MAC every frame (docs/security.md)",
   .bad = "invalid file name '%v' for %k", .cfg = CFG(cluster_secret_file)},
  {.name = "http", .type = DYNA_OPT_ADDR, .def = "", .arg = "HOST:PORT",
   .help = "HTTP port: /metrics and the JSON admin API\n"
           "(docs/http.md; Basic credentials when a password is set)",
   .def_help = "off", .bad = "invalid address '%v' for %k (want HOST:PORT)",
   .cfg = CFG(http_host), .port_off = offsetof(dyna_config_t, http_port)},
  {.name = "http-tls", .type = DYNA_OPT_BOOL, .def = "no",
   .help = "the HTTP port speaks HTTPS, with tls-cert-file and\ntls-key-file (docs/http.md)",
   .bad = "invalid value '%v' for %k (want yes or no)", .cfg = CFG(http_tls)},
  {.name = "request-timeout-ms", .runtime = 1, .type = DYNA_OPT_U64, .min = 1, .max = 600000, .arg = "N",
   .help = "quorum wait before -NOQUORUM",
   .cfg = CFG(request_timeout_ms), .node = NODE(request_timeout_ms)},
  {.name = "gossip-interval-ms", .runtime = 1, .type = DYNA_OPT_U64, .min = 10, .max = 600000, .arg = "N",
   .help = "one gossip round per interval",
   .cfg = CFG(gossip_interval_ms), .node = NODE(gossip_interval_ms)},
  {.name = "background-bytes-per-sec", .type = DYNA_OPT_BYTES, .min = 1024, .max = 1ull << 40,
   .arg = "N", .help = "budget shared by handoff, hints, anti-entropy",
   .cfg = CFG(background_bytes_per_sec), .node = NODE(handoff_bytes_per_sec)},
  {.name = "handoff-interval-ms", .runtime = 1, .type = DYNA_OPT_U64, .min = 1, .max = 600000, .arg = "N",
   .help = "handoff and hint delivery each start a sweep\n"
           "(or a batch) at most once per interval",
   .cfg = CFG(handoff_interval_ms), .node = NODE(handoff_interval_ms)},
  {.name = "handoff-batch-keys", .runtime = 1, .type = DYNA_OPT_U32, .min = 1, .max = 65536, .arg = "N",
   .help = "keys sent per handoff or hint batch",
   .cfg = CFG(handoff_batch_keys), .node = NODE(handoff_batch_keys)},
  {.name = "aae-interval-ms", .runtime = 1, .type = DYNA_OPT_U64, .min = 1, .max = 86400000, .arg = "N",
   .help = "one anti-entropy exchange per interval",
   .cfg = CFG(aae_interval_ms), .node = NODE(aae_interval_ms)},
  {.name = "tombstone-grace-ms", .runtime = 1, .type = DYNA_OPT_U64, .min = 0, .max = 1ull << 40, .arg = "N",
   .help = "reap tombstones no sooner after the delete",
   .cfg = CFG(tombstone_grace_ms), .node = NODE(tombstone_grace_ms)},
  {.name = "heartbeat-ms", .runtime = 1, .type = DYNA_OPT_U64, .min = 10, .max = 60000, .arg = "N",
   .help = "failure detector ping interval",
   .cfg = CFG(heartbeat_ms), .node = NODE(heartbeat_ms)},
  {.name = "fd-min-ms", .runtime = 1, .type = DYNA_OPT_U64, .min = 0, .max = 3600000, .arg = "N",
   .help = "the failure detector never suspects a peer\n"
           "heard from this recently",
   .cfg = CFG(fd_min_ms), .node = NODE(fd_min_ms)},
  {.name = "max-peer-output-bytes", .runtime = 1, .type = DYNA_OPT_BYTES, .def = "67108864", .min = 1024,
   .max = 1ull << 30, .arg = "N", .help = "queued to one slow peer before dropping",
   .cfg = CFG(max_peer_output_bytes)},
  {.name = "sync", .type = DYNA_OPT_ENUM, .def = "batch", .enum_name = sync_name,
   .help = "fsync policy; batch: group commit per loop turn\n"
           "through a write-ahead log; none: the same log, never fsync'd",
   .bad = "invalid sync policy '%v' (want always, batch or none)", .cfg = CFG(sync)},
  {.name = "max-value-bytes", .runtime = 1, .type = DYNA_OPT_BYTES, .min = 1, .max = 64 * MiB, .arg = "N",
   .help = "largest value", .cfg = CFG(max_value_bytes), .node = NODE(max_value_bytes)},
  {.name = "ring-size", .type = DYNA_OPT_U32, .min = 1, .max = DYNA_RING_MAX_SIZE, .arg = "Q",
   .valid = ring_size_ok, .help = "partitions of a new cluster, a power of two",
   .bad = "invalid ring-size '%v' (want a power of two up to 16384, the number of hash slots)",
   .cfg = CFG(ring_size), .node = NODE(ring_size)},
  {.name = "n", .type = DYNA_OPT_REPL, .min = 1, .max = DYNA_MAX_N, .arg = "N|DC:N,...",
   .help = "replicas of each key; with sites (--dc), in each site,\n"
           "or per site: dc1:3,dc2:2 (a bare N: the sites not listed)",
   .bad = "invalid value '%v' for %k (want N or DC:N[,DC:N...], at most 16 in all)",
   .cfg = CFG(repl), .node = NODE(repl)},
  {.name = "r", .runtime = 1, .type = DYNA_OPT_QUORUM, .min = 1, .max = DYNA_MAX_N, .arg = "R",
   .help = "replies a read waits for (at most n); local: a majority\n"
           "of this node's site, each: a majority in every site",
   .bad = "invalid value '%v' for %k (want 1-16, local or each)", .cfg = CFG(r), .node = NODE(r)},
  {.name = "w", .runtime = 1, .type = DYNA_OPT_QUORUM, .min = 1, .max = DYNA_MAX_N, .arg = "W",
   .help = "acknowledgements a write waits for (at most n); local\n"
           "or each as for r (other sites still get every write)",
   .bad = "invalid value '%v' for %k (want 1-16, local or each)", .cfg = CFG(w), .node = NODE(w)},
  {.name = "read-all", .runtime = 1, .type = DYNA_OPT_BOOL,
   .help = "GETs ask all N replicas at once (Dynamo, Riak). Default:\n"
           "ask R (this node first), the others only when one fails,\n"
           "is unreachable or is slow (1/10 of the request timeout).",
   .bad = "invalid value '%v' for %k (want yes or no)",
   .cfg = CFG(read_all), .node = NODE(read_all)},
  {.name = "background-fixed", .type = DYNA_OPT_BOOL,
   .help = "the background budget stays at --background-bytes-per-sec.\n"
           "Default: an admission controller lowers it (to 1/16 at\n"
           "most) while background work slows the event loop by over\n"
           "half its idle lag, and raises it back (core/admission.h).",
   .bad = "invalid value '%v' for %k (want yes or no)",
   .cfg = CFG(background_fixed), .node = NODE(background_fixed)},
  {.name = "durable-reads", .type = DYNA_OPT_BOOL,
   .help = "answers to reads wait for the group commit, as writes do.\n"
           "Default: they leave at once, so a read may see a write\n"
           "that is not durable yet (and not acknowledged).",
   .bad = "invalid value '%v' for %k (want yes or no)",
   .cfg = CFG(durable_reads), .node = NODE(durable_reads)},
  {.name = "enable-flush-command", .type = DYNA_OPT_BOOL, .def = "no",
   .help = "allow FLUSHALL and FLUSHDB (they delete every key of the\n"
           "cluster). Default: refused, so that a test harness or a\n"
           "typo cannot empty a production cluster.",
   .bad = "invalid value '%v' for %k (want yes or no)", .cfg = CFG(enable_flush)},
  {.name = "map-size-mb", .type = DYNA_OPT_U64, .def = "65536", .min = 1, .max = 1u << 24,
   .arg = "N", .help = "LMDB map size in MiB", .cfg = CFG(map_size_mb)},
  {.name = "max-clients", .runtime = 1, .type = DYNA_OPT_U32, .def = "10000", .min = 1, .max = 1000000,
   .arg = "N", .help = "client connections", .cfg = CFG(max_clients)},
  {.name = "stall-timeout-ms", .runtime = 1, .type = DYNA_OPT_U64, .def = "30000", .min = 1, .max = 86400000,
   .arg = "N", .help = "close a client stalled mid-request", .cfg = CFG(stall_timeout_ms)},
  {.name = "max-request-bytes", .runtime = 1, .type = DYNA_OPT_BYTES, .def = "67108864", .min = 1024,
   .max = 1u << 30, .arg = "N", .help = "largest request buffered", .cfg = CFG(max_request_bytes)},
  {.name = "max-output-bytes", .runtime = 1, .type = DYNA_OPT_BYTES, .def = "67108864", .min = 1024,
   .max = 1u << 30, .arg = "N", .help = "unsent replies before a client is paused",
   .cfg = CFG(max_output_bytes)},
  {.name = "log-level", .runtime = 1, .type = DYNA_OPT_ENUM, .def = "info", .enum_name = log_name,
   .help = "least level logged", .bad = "invalid log-level '%v'", .cfg = CFG(log_level)},
  {.name = "tls-port", .type = DYNA_OPT_U32, .def = "0", .min = 0, .max = 65535, .arg = "PORT",
   .help = "TLS client port on the listen host; 0: none", .cfg = CFG(tls_port)},
  {.name = "tls-cert-file", .type = DYNA_OPT_STRING, .def = "", .min = 0, .arg = "FILE",
   .help = "this node's certificate (PEM), on the TLS\nclient port and the TLS cluster port",
   .bad = "invalid file name '%v' for %k", .cfg = CFG(tls_cert_file)},
  {.name = "tls-key-file", .type = DYNA_OPT_STRING, .def = "", .min = 0, .arg = "FILE",
   .help = "its private key (PEM)", .bad = "invalid file name '%v' for %k", .cfg = CFG(tls_key_file)},
  {.name = "tls-ca-cert-file", .type = DYNA_OPT_STRING, .def = "", .min = 0, .arg = "FILE",
   .help = "CA certificates (PEM) that client and peer\ncertificates must chain to",
   .bad = "invalid file name '%v' for %k", .cfg = CFG(tls_ca_cert_file)},
  {.name = "tls-auth-clients", .type = DYNA_OPT_ENUM, .def = "yes", .enum_name = tls_auth_name,
   .help = "TLS clients must present a certificate of the CA\n(optional: checked only when sent)",
   .bad = "invalid value '%v' for %k (want yes, no or optional)", .cfg = CFG(tls_auth_clients)},
  {.name = "tls-cluster", .type = DYNA_OPT_BOOL, .def = "no",
   .help = "the cluster port runs mutual TLS: peers without a\n"
           "certificate of the CA are refused before any frame",
   .bad = "invalid value '%v' for %k (want yes or no)", .cfg = CFG(tls_cluster)},
  /* client authentication (cmd_auth.c, docs/security.md); users: "user" lines (config.c) */
  {.name = "requirepass", .runtime = 1, .type = DYNA_OPT_STRING, .def = "", .min = 0, .arg = "PASSWORD",
   .help = "the default user's password (Redis's requirepass);\n"
           "\"\": none. Users: --user \"NAME RULES\" (docs/security.md)",
   .cfg = CFG(requirepass)},
  {.name = "auth-fail-delay-ms", .runtime = 1, .type = DYNA_OPT_U64, .def = "100", .min = 0, .max = 60000,
   .arg = "N", .help = "a login answer waits N << (failures - 1) ms after\n"
           "failed logins (0: no delay; docs/security.md)", .cfg = CFG(auth_fail_delay_ms)},
  {.name = "auth-fail-delay-max-ms", .runtime = 1, .type = DYNA_OPT_U64, .def = "5000", .min = 0,
   .max = 600000, .arg = "N", .help = "the failed-login delay's cap", .cfg = CFG(auth_fail_delay_max_ms)},
  {.name = "log-format", .type = DYNA_OPT_ENUM, .def = "text", .enum_name = log_format_name,
   .help = "log lines as text (time LEVEL node message)\n"
           "or json (one object per line: time, level, node, msg)",
   .bad = "invalid log-format '%v' (want text or json)", .cfg = CFG(log_format)},
};
/* clang-format on */
const size_t dyna_noptions = sizeof(dynad_options) / sizeof(dynad_options[0]);

const dynad_option_t *dynad_option_find(const char *name) {
  for (size_t i = 0; i < dyna_noptions; i++)
    if (!strcmp(dynad_options[i].name, name)) return &dynad_options[i];
  return NULL;
}

/* ---------- parsing one value ---------- */

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out) {
  if (!*s) return -1;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end || s[0] == '-' || v < min || v > max) return -1;
  *out = v;
  return 0;
}

/* yes/no, true/false, on/off, 1/0 */
static int parse_bool(const char *s, int *out) {
  static const char *yes[] = {"1", "yes", "true", "on"}, *no[] = {"0", "no", "false", "off"};
  for (size_t i = 0; i < 4; i++) {
    if (!strcasecmp(s, yes[i])) { *out = 1; return 0; }
    if (!strcasecmp(s, no[i])) { *out = 0; return 0; }
  }
  return -1;
}

static int parse_hostport(const char *s, char *host, size_t hostlen, int *port) {
  const char *colon = strrchr(s, ':');
  if (!colon || colon == s || (size_t)(colon - s) >= hostlen) return -1;
  uint64_t p;
  if (parse_u64(colon + 1, 0, 65535, &p)) return -1;
  memcpy(host, s, (size_t)(colon - s));
  host[colon - s] = 0;
  *port = (int)p;
  return 0;
}

/* Splits s, 1 to DYNA_JOIN_SEEDS_MAX IP:PORT addresses (IPv4 or IPv6 literals, as the
 * peer links dial them) separated by commas, into c->join. 0, or -1 with c unchanged. */
static int parse_join_list(dyna_config_t *c, const char *s) {
  char list[DYNA_JOIN_SEEDS_MAX][sizeof(c->join[0])];
  size_t n = 0;
  for (const char *p = s;; p++) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    char h[64];
    int port;
    if (!len || len >= sizeof(list[0]) || n == DYNA_JOIN_SEEDS_MAX) return -1;
    memcpy(list[n], p, len);
    list[n][len] = 0;
    struct sockaddr_in a4;
    struct sockaddr_in6 a6;
    if (parse_hostport(list[n], h, sizeof(h), &port) || !port ||
        (uv_ip4_addr(h, port, &a4) && uv_ip6_addr(h, port, &a6)))
      return -1;
    n++;
    if (!end) break;
    p = end;
  }
  memcpy(c->join, list, sizeof(list));
  c->njoin = n;
  return 0;
}

/* Writes o's error for the value val into err: "%v" becomes the value, "%k" the name. */
static int bad_value(const dynad_option_t *o, const char *val, char *err, size_t errlen) {
  const char *f = o->bad ? o->bad : "invalid value '%v' for %k";
  size_t n = 0;
  if (!errlen) return -1;
  for (; *f && n + 1 < errlen; f++) {
    const char *ins = NULL;
    if (f[0] == '%' && (f[1] == 'v' || f[1] == 'k')) ins = *++f == 'v' ? val : o->name;
    if (!ins) { err[n++] = *f; continue; }
    for (; *ins && n + 1 < errlen; ins++) err[n++] = *ins;
  }
  err[n] = 0;
  return -1;
}

static void store_uint(void *field, size_t size, uint64_t v) {
  if (size == sizeof(uint64_t)) {
    memcpy(field, &v, sizeof(v));
  } else {
    DYNA_ASSERT(size == sizeof(uint32_t) && v <= UINT32_MAX, "a %zu-byte field for %llu", size,
                (unsigned long long)v);
    uint32_t u = (uint32_t)v;
    memcpy(field, &u, sizeof(u));
  }
}

static uint64_t load_uint(const void *field, size_t size) {
  if (size == sizeof(uint64_t)) {
    uint64_t v;
    memcpy(&v, field, sizeof(v));
    return v;
  }
  DYNA_ASSERT(size == sizeof(uint32_t), "a %zu-byte number", size);
  uint32_t u;
  memcpy(&u, field, sizeof(u));
  return u;
}

int dynad_option_set(const dynad_option_t *o, dyna_config_t *c, const char *val, char *err,
                    size_t errlen) {
  char *field = (char *)c + o->cfg.off;
  switch (o->type) {
  case DYNA_OPT_BOOL: {
    int b;
    if (parse_bool(val, &b)) return bad_value(o, val, err, errlen);
    store_uint(field, o->cfg.size, (uint64_t)b);
    break;
  }
  case DYNA_OPT_U32:
  case DYNA_OPT_U64:
  case DYNA_OPT_BYTES: {
    uint64_t v;
    if (parse_u64(val, o->min, o->max, &v) || (o->valid && !o->valid(v)))
      return bad_value(o, val, err, errlen);
    store_uint(field, o->cfg.size, v);
    break;
  }
  case DYNA_OPT_STRING: {
    size_t len = strlen(val);
    if (len < o->min || len >= o->cfg.size || (o->reject && strpbrk(val, o->reject)))
      return bad_value(o, val, err, errlen);
    memcpy(field, val, len + 1);
    break;
  }
  case DYNA_OPT_ENUM: {
    int i = 0;
    const char *name;
    while ((name = o->enum_name(i)) && strcmp(name, val)) i++;
    if (!name) return bad_value(o, val, err, errlen);
    store_uint(field, o->cfg.size, (uint64_t)i);
    break;
  }
  case DYNA_OPT_ADDR: {
    char host[64];
    int port;
    DYNA_ASSERT(o->cfg.size <= sizeof(host), "option %s: a %zu-byte host", o->name, o->cfg.size);
    if (parse_hostport(val, host, o->cfg.size, &port) || (port == 0 && !o->max))
      return bad_value(o, val, err, errlen);
    memcpy(field, host, strlen(host) + 1);
    memcpy((char *)c + o->port_off, &port, sizeof(port));
    break;
  }
  case DYNA_OPT_LIST:
    if (parse_join_list(c, val)) return bad_value(o, val, err, errlen);
    break;
  case DYNA_OPT_REPL: {
    dyna_node_cfg_t core;
    dyna_node_cfg_default(&core);
    dyna_repl_t r;
    DYNA_ASSERT(o->cfg.size == sizeof(r), "option %s: a %zu-byte field", o->name, o->cfg.size);
    if (dyna_repl_parse(val, core.repl.n, (uint32_t)o->max, &r)) return bad_value(o, val, err, errlen);
    memcpy(field, &r, sizeof(r));
    break;
  }
  case DYNA_OPT_QUORUM: {
    uint64_t v;
    if (!strcasecmp(val, "local")) v = DYNA_QUORUM_LOCAL;
    else if (!strcasecmp(val, "each")) v = DYNA_QUORUM_EACH;
    else if (parse_u64(val, o->min, o->max, &v)) return bad_value(o, val, err, errlen);
    store_uint(field, o->cfg.size, v);
    break;
  }
  }
  if (o->after) o->after(c);
  return 0;
}

/* ---------- a value as text ---------- */

void dynad_option_format(const dynad_option_t *o, const dyna_config_t *c,
                        const dyna_node_cfg_t *node, char *out, size_t cap) {
  const char *field = (const char *)c + o->cfg.off;
  size_t size = o->cfg.size;
  if (node && o->node.size) { /* what the node runs with */
    field = (const char *)node + o->node.off;
    size = o->node.size;
  }
  switch (o->type) {
  case DYNA_OPT_BOOL:
    snprintf(out, cap, "%s", load_uint(field, size) ? "yes" : "no");
    break;
  case DYNA_OPT_U32:
  case DYNA_OPT_U64:
  case DYNA_OPT_BYTES:
    snprintf(out, cap, "%llu", (unsigned long long)load_uint(field, size));
    break;
  case DYNA_OPT_STRING:
    snprintf(out, cap, "%.*s", (int)size, field);
    break;
  case DYNA_OPT_ENUM: {
    const char *name = o->enum_name((int)load_uint(field, size));
    snprintf(out, cap, "%s", name ? name : "?");
    break;
  }
  case DYNA_OPT_ADDR: {
    int port;
    memcpy(&port, (const char *)c + o->port_off, sizeof(port));
    if (node && o->node.size) snprintf(out, cap, "%.*s", (int)size, field);
    else if (!field[0]) snprintf(out, cap, "%s", "");
    else snprintf(out, cap, "%.*s:%d", (int)size, field, port);
    break;
  }
  case DYNA_OPT_LIST: {
    size_t n = 0;
    out[0] = 0;
    for (size_t i = 0; i < c->njoin && n < cap; i++)
      n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "," : "", c->join[i]);
    break;
  }
  case DYNA_OPT_REPL: {
    dyna_node_cfg_t core;
    dyna_node_cfg_default(&core);
    dyna_repl_t r;
    memcpy(&r, field, sizeof(r));
    dyna_repl_format(&r, core.repl.n, out, cap);
    break;
  }
  case DYNA_OPT_QUORUM: {
    uint64_t v = load_uint(field, size);
    if (v == DYNA_QUORUM_LOCAL) snprintf(out, cap, "local");
    else if (v == DYNA_QUORUM_EACH) snprintf(out, cap, "each");
    else snprintf(out, cap, "%llu", (unsigned long long)v);
    break;
  }
  }
}

void dynad_options_default(dyna_config_t *c) {
  memset(c, 0, sizeof(*c));
  dyna_node_cfg_t core;
  dyna_node_cfg_default(&core);
  for (size_t i = 0; i < dyna_noptions; i++) {
    const dynad_option_t *o = &dynad_options[i];
    if (!o->def) { /* the core's default */
      DYNA_ASSERT(o->node.size == o->cfg.size, "option %s: %zu bytes here, %zu in the node",
                  o->name, o->cfg.size, o->node.size);
      memcpy((char *)c + o->cfg.off, (const char *)&core + o->node.off, o->cfg.size);
      continue;
    }
    if (!*o->def) continue; /* empty: nothing, or worked out at start (config.c) */
    char err[256];
    int rc = dynad_option_set(o, c, o->def, err, sizeof(err));
    DYNA_ASSERT(rc == 0, "option %s: bad default: %s", o->name, err);
  }
}

/* ---------- --help ---------- */

#define HELP_COL 30

/* Prints text, each '\n' followed by an indent to the help column. */
static void put_indented(FILE *f, const char *text) {
  for (const char *p = text; *p; p++) {
    fputc(*p, f);
    if (*p == '\n') fprintf(f, "%*s", HELP_COL, "");
  }
}

void dynad_options_usage(FILE *f) {
  dyna_config_t d;
  dynad_options_default(&d);
  fprintf(f, "usage: dynad [--config FILE] [--name NAME] [--data DIR] [--listen HOST:PORT] [options]\n"
             "Each option is --NAME VALUE or --NAME=VALUE; a yes|no option alone means yes.\n"
             "The INI file takes the same names without the dashes (NAME = VALUE);\n"
             "the command line wins over the file. CONFIG GET shows the values in use.\n");
  fprintf(f, "  %-*s%s\n", HELP_COL - 2, "--config FILE", "INI file with the options below");
  for (size_t i = 0; i < dyna_noptions; i++) {
    const dynad_option_t *o = &dynad_options[i];
    char head[96], arg[64] = "", def[96];
    if (o->type == DYNA_OPT_ENUM) {
      size_t n = 0;
      for (int v = 0; o->enum_name(v) && n < sizeof(arg); v++)
        n += (size_t)snprintf(arg + n, sizeof(arg) - n, "%s%s", v ? "|" : "", o->enum_name(v));
    } else if (o->arg) {
      snprintf(arg, sizeof(arg), "%s", o->arg);
    }
    int hl = snprintf(head, sizeof(head), "--%s%s%s", o->name, arg[0] ? " " : "", arg);
    fprintf(f, "  %s", head);
    if (hl < HELP_COL - 3) fprintf(f, "%*s", HELP_COL - 2 - hl, "");
    else fprintf(f, "  ");
    put_indented(f, o->help);
    dynad_option_format(o, &d, NULL, def, sizeof(def));
    uint64_t v = o->type == DYNA_OPT_BYTES ? load_uint((const char *)&d + o->cfg.off, o->cfg.size) : 0;
    if (o->def_help) {
      fputs(" (default ", f);
      put_indented(f, o->def_help);
      fputs(")", f);
    } else if (v && v % MiB == 0) {
      fprintf(f, " (default %llu MiB)", (unsigned long long)(v / MiB));
    } else if (def[0]) {
      fprintf(f, " (default %s)", def);
    }
    if (o->type == DYNA_OPT_BOOL) fprintf(f, "\n%*sINI: %s = yes|no", HELP_COL, "", o->name);
    fputc('\n', f);
  }
  fprintf(f, "  --help, --version\n");
}
