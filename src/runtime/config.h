/* config.h: dynad's configuration: defaults, command-line flags and an INI file
 * (--config FILE) with the same keys as the flags, without the dashes. Flags given on
 * the command line win over the file. Every option is one row of the table in
 * options.c (options.h), which all of this is made from. */
#ifndef DYNA_CONFIG_H
#define DYNA_CONFIG_H
#include "core/node.h"
#include "runtime/log.h"
#include "store/store.h"
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define DYNA_CONFIG_USERS_MAX 32
#define DYNA_CONFIG_USER_LINE_MAX 1024

typedef struct dyna_config {
  char name[64];            /* node name, for logs and status */
  char data[512];           /* data directory (created if missing) */
  char listen_host[48];     /* client (RESP) listener */
  int listen_port;
  char cluster_host[48];    /* inter-node listener; outgoing links bind to this host */
  int cluster_port;         /* 0 until given: then listen port + 10000 if free, else any */
  int cluster_port_given;   /* --cluster was given: its port must be bound exactly */
  /* --join A,B,...: members' cluster addresses (IP:PORT) to join at start, in order */
  char join[DYNA_JOIN_SEEDS_MAX][64];
  size_t njoin;
  char zone[32];
  char dc[32];              /* --dc: the node's site (data centre) */
  char http_host[48];       /* --http: metrics and admin API (runtime/http.h); "" = off */
  int http_port;
  int http_tls;             /* --http-tls yes: HTTPS with tls-cert-file and tls-key-file */
  char cluster_name[64];
  char cluster_secret_file[512]; /* --cluster-secret-file: "" = peer links without a secret */
  uint64_t request_timeout_ms;
  uint64_t gossip_interval_ms;
  uint64_t background_bytes_per_sec; /* handoff + hints + anti-entropy together */
  uint64_t aae_interval_ms;
  uint64_t tombstone_grace_ms;
  uint64_t heartbeat_ms;
  uint64_t handoff_interval_ms;
  uint32_t handoff_batch_keys;
  uint64_t fd_min_ms;
  size_t max_peer_output_bytes; /* messages to a slow peer beyond this are dropped */
  dyna_sync_t sync;         /* always | batch | none */
  size_t max_value_bytes;
  uint32_t ring_size;
  dyna_repl_t repl;         /* --n: replicas per site */
  uint32_t r, w;            /* --r, --w: counts or DYNA_QUORUM_LOCAL/EACH */
  int read_all;             /* --read-all: GETs ask all N replicas at once (Dynamo) */
  int durable_reads;        /* --durable-reads: read answers wait for the group commit */
  int background_fixed;     /* --background-fixed: the budget stays at its ceiling (no admission control) */
  int enable_flush;         /* --enable-flush-command: FLUSHALL/FLUSHDB allowed */
  size_t map_size_mb;       /* LMDB map size */
  int max_clients;
  uint64_t stall_timeout_ms;    /* close a client whose partial request stalls this long */
  size_t max_request_bytes;     /* largest single request buffered */
  size_t max_output_bytes;      /* stop reading a client whose unsent replies exceed this */
  dyna_log_level_t log_level;
  /* TLS (Redis's tls-* options; docs/security.md): */
  int tls_port;             /* TLS client port on the listen host; 0: none */
  char tls_cert_file[512];  /* this node's certificate chain (PEM), on both ports */
  char tls_key_file[512];   /* its private key (PEM) */
  char tls_ca_cert_file[512]; /* CA certificates that clients' and peers' certificates chain to */
  int tls_auth_clients;     /* dyna_tls_peer_t: no, yes (default), optional */
  int tls_cluster;          /* the cluster port runs mutual TLS */
  char requirepass[512];    /* the default user's password ("": none; cmd_auth.c) */
  uint64_t auth_fail_delay_ms, auth_fail_delay_max_ms; /* failed-login delay (cmd_auth.c) */
  /* user lines ("name rule ...", runtime/acl.h), in the order given (config file, --user) */
  char users[DYNA_CONFIG_USERS_MAX][DYNA_CONFIG_USER_LINE_MAX];
  size_t nusers;
  dyna_log_format_t log_format; /* --log-format text|json */
  char config_file[512];    /* --config FILE, "" when none (CONFIG REWRITE says so) */
} dyna_config_t;

void dyna_config_default(dyna_config_t *c);
/* Parses argv (and the --config file it names). On error writes a one-line message to
 * err and returns -1. Returns 1 when --help or --version was printed (exit 0). */
int dyna_config_parse(dyna_config_t *c, int argc, char **argv, char *err, size_t errlen);
/* Sets one key (flag name without dashes) from a string. Returns 0 or -1 with err. */
int dyna_config_set(dyna_config_t *c, const char *key, const char *val, char *err, size_t errlen);
void dyna_config_usage(FILE *f);

/* The node's configuration made from c: the core's defaults (dyna_node_cfg_default),
 * then the value of every option that lands in the node (options.h); id and seed are
 * the driver's. dynad's server builds its node with this, and nothing else. */
void dyna_config_node_cfg(const dyna_config_t *c, uint64_t id, uint64_t seed,
                          dyna_node_cfg_t *out);

/* CONFIG GET: calls fn(ctx, name, value) once for each option whose name matches any of
 * the npat glob patterns (util/glob.h, case-insensitive), in the table's order, then for
 * the few Redis names clients ask for (save, appendonly, databases, maxclients).
 * Pattern i is the len[i] bytes at base + off[i] (the RESP parser's layout). Values come
 * from node (what the node runs with) for the options that land there, when node is
 * not NULL, else from c. fn may be NULL (to count). Returns the number of pairs. */
typedef void (*dyna_config_get_fn)(void *ctx, const char *name, const char *value);
size_t dyna_config_get(const dyna_config_t *c, const dyna_node_cfg_t *node, const uint8_t *base,
                       const size_t *off, const size_t *len, size_t npat, dyna_config_get_fn fn,
                       void *ctx);

#endif
