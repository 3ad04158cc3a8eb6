/* config.c: dynad configuration from defaults, an INI file and flags (see config.h). */
#include "runtime/config.h"
#include "core/keyspace.h"
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#define DYNA_VERSION "0.1.0"

void dyna_config_default(dyna_config_t *c) {
  memset(c, 0, sizeof(*c));
  snprintf(c->name, sizeof(c->name), "n1");
  snprintf(c->listen_host, sizeof(c->listen_host), "127.0.0.1");
  c->listen_port = 7001;
  c->sync = DYNA_SYNC_BATCH;
  c->max_value_bytes = 1u << 20;
  c->ring_size = 256;
  c->n = 3;
  c->r = 2;
  c->w = 2;
  c->map_size_mb = 64 * 1024;
  c->max_clients = 10000;
  c->stall_timeout_ms = 30000;
  c->max_request_bytes = 64u << 20;
  c->max_output_bytes = 64u << 20;
  c->log_level = DYNA_LOG_INFO;
  snprintf(c->cluster_name, sizeof(c->cluster_name), "dyna");
  c->request_timeout_ms = 1000;
  c->gossip_interval_ms = 500;
  c->background_bytes_per_sec = 16u << 20;
  c->aae_interval_ms = 100;
  c->tombstone_grace_ms = 24ull * 3600 * 1000;
  c->heartbeat_ms = 200;
  c->max_peer_output_bytes = 64u << 20;
}

void dyna_config_usage(FILE *f) {
  fprintf(f,
    "usage: dynad [--config FILE] [--name NAME] [--data DIR] [--listen HOST:PORT] [options]\n"
    "  --config FILE               INI file with the keys below (without the dashes)\n"
    "  --name NAME                 node name (default n1)\n"
    "  --data DIR                  data directory (default ./var/NAME)\n"
    "  --listen HOST:PORT          client (RESP) address (default 127.0.0.1:7001)\n"
    "  --cluster HOST:PORT         inter-node address (default: listen host, port + 10000,\n"
    "                              or any free port when that one is taken)\n"
    "  --join IP:PORT[,...]        join the cluster of the members at these cluster\n"
    "                              addresses (up to 8): JOIN goes to each that answers\n"
    "  --zone ZONE                 failure zone; replicas spread over zones first\n"
    "  --cluster-name NAME         nodes of other clusters are refused (default dyna)\n"
    "  --request-timeout-ms N      quorum wait before -NOQUORUM (default 1000)\n"
    "  --gossip-interval-ms N      (default 500)\n"
    "  --background-bytes-per-sec N  budget shared by handoff, hints, anti-entropy (16 MiB)\n"
    "  --aae-interval-ms N         one anti-entropy exchange per interval (default 100)\n"
    "  --tombstone-grace-ms N      reap tombstones no sooner (default 86400000 = 1 day)\n"
    "  --heartbeat-ms N            failure detector ping interval (default 200)\n"
    "  --max-peer-output-bytes N   queued to one slow peer before dropping (default 64 MiB)\n"
    "  --sync always|batch|none    fsync policy (default batch: group commit per loop turn\n"
    "                              through a write-ahead log)\n"
    "  --max-value-bytes N         largest value (default 1048576)\n"
    "  --ring-size Q               partitions, a power of two (default 256)\n"
    "  --n N --r R --w W           replication defaults (default 3 2 2)\n"
    "  --read-all                  GETs ask all N replicas at once (Dynamo, Riak). Default:\n"
    "                              ask R (this node first), the others only when one fails,\n"
    "                              is unreachable or is slow (1/10 of the request timeout).\n"
    "                              INI: read-all = yes|no\n"
    "  --durable-reads             answers to reads wait for the group commit, as writes do.\n"
    "                              Default: they leave at once, so a read may see a write\n"
    "                              that is not durable yet (and not acknowledged).\n"
    "                              INI: durable-reads = yes|no\n"
    "  --map-size-mb N             LMDB map size (default 65536)\n"
    "  --max-clients N             client connections (default 10000)\n"
    "  --stall-timeout-ms N        close a client stalled mid-request (default 30000)\n"
    "  --max-request-bytes N       largest request buffered (default 64 MiB)\n"
    "  --max-output-bytes N        unsent replies before a client is paused (default 64 MiB)\n"
    "  --log-level debug|info|warn|error\n"
    "  --help, --version\n");
}

static int set_err(char *err, size_t n, const char *fmt, const char *a, const char *b) {
  snprintf(err, n, fmt, a, b);
  return -1;
}

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

/* Options that are switches: on the command line they take no value (or "=value"). */
static int is_switch(const char *key) {
  return !strcmp(key, "read-all") || !strcmp(key, "durable-reads");
}

static int parse_hostport(const char *s, char *host, size_t hostlen, int *port) {
  const char *colon = strrchr(s, ':');
  if (!colon || colon == s || (size_t)(colon - s) >= hostlen) return -1;
  uint64_t p;
  if (parse_u64(colon + 1, 1, 65535, &p)) return -1;
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
    if (parse_hostport(list[n], h, sizeof(h), &port) ||
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

int dyna_config_set(dyna_config_t *c, const char *key, const char *val, char *err, size_t errlen) {
  uint64_t v;
  struct { const char *key; void *field; int size; uint64_t min, max; } nums[] = {
    {"max-value-bytes", &c->max_value_bytes, sizeof(size_t), 1, 64u << 20},
    {"map-size-mb", &c->map_size_mb, sizeof(size_t), 1, 1u << 24},
    {"max-clients", &c->max_clients, sizeof(int), 1, 1000000},
    {"stall-timeout-ms", &c->stall_timeout_ms, sizeof(uint64_t), 1, 86400000},
    {"max-request-bytes", &c->max_request_bytes, sizeof(size_t), 1024, 1u << 30},
    {"max-output-bytes", &c->max_output_bytes, sizeof(size_t), 1024, 1u << 30},
    {"request-timeout-ms", &c->request_timeout_ms, sizeof(uint64_t), 1, 600000},
    {"gossip-interval-ms", &c->gossip_interval_ms, sizeof(uint64_t), 10, 600000},
    {"background-bytes-per-sec", &c->background_bytes_per_sec, sizeof(uint64_t), 1024, 1ull << 40},
    {"aae-interval-ms", &c->aae_interval_ms, sizeof(uint64_t), 1, 86400000},
    {"tombstone-grace-ms", &c->tombstone_grace_ms, sizeof(uint64_t), 0, 1ull << 40},
    {"heartbeat-ms", &c->heartbeat_ms, sizeof(uint64_t), 10, 60000},
    {"max-peer-output-bytes", &c->max_peer_output_bytes, sizeof(size_t), 1024, 1u << 30},
    {"n", &c->n, sizeof(uint32_t), 1, 16},
    {"r", &c->r, sizeof(uint32_t), 1, 16},
    {"w", &c->w, sizeof(uint32_t), 1, 16},
  };
  for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
    if (strcmp(key, nums[i].key)) continue;
    if (parse_u64(val, nums[i].min, nums[i].max, &v))
      return set_err(err, errlen, "invalid value '%s' for %s", val, key);
    if (nums[i].size == sizeof(uint64_t)) *(uint64_t *)nums[i].field = v;
    else if (nums[i].size == sizeof(uint32_t)) *(uint32_t *)nums[i].field = (uint32_t)v;
    return 0;
  }
  if (!strcmp(key, "name")) {
    if (!*val || strlen(val) >= sizeof(c->name) || strpbrk(val, " \t\r\n/"))
      return set_err(err, errlen, "invalid node name '%s'%s", val, "");
    snprintf(c->name, sizeof(c->name), "%s", val);
  } else if (!strcmp(key, "data")) {
    if (!*val || strlen(val) >= sizeof(c->data))
      return set_err(err, errlen, "invalid data directory '%s'%s", val, "");
    snprintf(c->data, sizeof(c->data), "%s", val);
  } else if (!strcmp(key, "listen")) {
    if (parse_hostport(val, c->listen_host, sizeof(c->listen_host), &c->listen_port))
      return set_err(err, errlen, "invalid address '%s' for %s (want HOST:PORT)", val, key);
  } else if (!strcmp(key, "cluster")) {
    if (parse_hostport(val, c->cluster_host, sizeof(c->cluster_host), &c->cluster_port))
      return set_err(err, errlen, "invalid address '%s' for %s (want HOST:PORT)", val, key);
    c->cluster_port_given = 1;
  } else if (!strcmp(key, "join")) {
    if (parse_join_list(c, val))
      return set_err(err, errlen, "invalid address list '%s' for %s (want IP:PORT[,IP:PORT...], at most 8)", val, key);
  } else if (!strcmp(key, "zone")) {
    if (strlen(val) >= sizeof(c->zone) || strpbrk(val, " \t\r\n"))
      return set_err(err, errlen, "invalid zone '%s'%s", val, "");
    snprintf(c->zone, sizeof(c->zone), "%s", val);
  } else if (!strcmp(key, "cluster-name")) {
    if (!*val || strlen(val) >= sizeof(c->cluster_name))
      return set_err(err, errlen, "invalid cluster name '%s'%s", val, "");
    snprintf(c->cluster_name, sizeof(c->cluster_name), "%s", val);
  } else if (!strcmp(key, "sync")) {
    if (dyna_sync_parse(val, &c->sync))
      return set_err(err, errlen, "invalid sync policy '%s'%s (want always, batch or none)", val, "");
  } else if (!strcmp(key, "ring-size")) {
    if (parse_u64(val, 1, DYNA_RING_MAX_SIZE, &v) || !dyna_ring_size_valid((uint32_t)v))
      return set_err(err, errlen, "invalid ring-size '%s'%s (want a power of two up to 65536)", val, "");
    c->ring_size = (uint32_t)v;
  } else if (!strcmp(key, "read-all") || !strcmp(key, "durable-reads")) {
    if (parse_bool(val, key[0] == 'r' ? &c->read_all : &c->durable_reads))
      return set_err(err, errlen, "invalid value '%s' for %s (want yes or no)", val, key);
  } else if (!strcmp(key, "log-level")) {
    if (dyna_log_parse(val, &c->log_level))
      return set_err(err, errlen, "invalid log-level '%s'%s", val, "");
  } else {
    return set_err(err, errlen, "unknown option '%s'%s", key, "");
  }
  return 0;
}

typedef struct { dyna_config_t *c; char *err; size_t errlen; int failed; } ini_ctx_t;

static int on_ini(void *user, const char *section, const char *key, const char *val) {
  ini_ctx_t *x = user;
  (void)section;
  if (x->failed) return 0;
  if (dyna_config_set(x->c, key, val, x->err, x->errlen)) { x->failed = 1; return 0; }
  return 1;
}

static int load_file(dyna_config_t *c, const char *path, char *err, size_t errlen) {
  ini_ctx_t x = {c, err, errlen, 0};
  int rc = ini_parse(path, on_ini, &x);
  if (rc == -1) return set_err(err, errlen, "cannot open config file '%s'%s", path, "");
  if (x.failed) {
    char inner[256];
    snprintf(inner, sizeof(inner), "%s", err);
    return set_err(err, errlen, "%s: %s", path, inner);
  }
  if (rc) {
    char line[32];
    snprintf(line, sizeof(line), "%d", rc);
    return set_err(err, errlen, "%s: syntax error on line %s", path, line);
  }
  return 0;
}

int dyna_config_parse(dyna_config_t *c, int argc, char **argv, char *err, size_t errlen) {
  /* The file first, so that flags override it. */
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { dyna_config_usage(stdout); return 1; }
    if (!strcmp(argv[i], "--version")) { printf("dynad %s\n", DYNA_VERSION); return 1; }
    if (!strcmp(argv[i], "--config")) {
      if (i + 1 >= argc) return set_err(err, errlen, "%s needs a value%s", argv[i], "");
      if (load_file(c, argv[i + 1], err, errlen)) return -1;
    }
  }
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strncmp(a, "--", 2) || !a[2]) return set_err(err, errlen, "unexpected argument '%s'%s", a, "");
    const char *eq = strchr(a, '=');
    char key[64];
    const char *val;
    if (eq) {
      if ((size_t)(eq - a - 2) >= sizeof(key)) return set_err(err, errlen, "unknown option '%s'%s", a, "");
      memcpy(key, a + 2, (size_t)(eq - a - 2));
      key[eq - a - 2] = 0;
      val = eq + 1;
    } else {
      snprintf(key, sizeof(key), "%s", a + 2);
      if (is_switch(key)) {
        val = "yes";
      } else {
        if (i + 1 >= argc) return set_err(err, errlen, "%s needs a value%s", a, "");
        val = argv[++i];
      }
    }
    if (!strcmp(key, "config")) continue;
    if (dyna_config_set(c, key, val, err, errlen)) return -1;
  }
  if (!c->data[0]) snprintf(c->data, sizeof(c->data), "var/%s", c->name);
  if (!c->cluster_host[0]) snprintf(c->cluster_host, sizeof(c->cluster_host), "%s", c->listen_host);
  if (!c->cluster_port_given) c->cluster_port = c->listen_port <= 65535 - 10000 ? c->listen_port + 10000 : 0;
  if (c->r > c->n || c->w > c->n)
    return set_err(err, errlen, "r and w must not exceed n%s%s", "", "");
  return 0;
}
