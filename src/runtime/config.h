/* config.h: dynad's configuration: defaults, command-line flags and an INI file
 * (--config FILE) with the same keys as the flags, without the dashes. Flags given on
 * the command line win over the file. */
#ifndef DYNA_CONFIG_H
#define DYNA_CONFIG_H
#include "core/node.h"
#include "runtime/log.h"
#include "store/store.h"
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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
  char cluster_name[64];
  uint64_t request_timeout_ms;
  uint64_t gossip_interval_ms;
  uint64_t background_bytes_per_sec; /* handoff + hints + anti-entropy together */
  uint64_t aae_interval_ms;
  uint64_t tombstone_grace_ms;
  uint64_t heartbeat_ms;
  size_t max_peer_output_bytes; /* messages to a slow peer beyond this are dropped */
  dyna_sync_t sync;         /* always | batch | none */
  size_t max_value_bytes;
  uint32_t ring_size;
  uint32_t n, r, w;
  int read_all;             /* --read-all: GETs ask all N replicas at once (Dynamo) */
  int durable_reads;        /* --durable-reads: read answers wait for the group commit */
  size_t map_size_mb;       /* LMDB map size */
  int max_clients;
  uint64_t stall_timeout_ms;    /* close a client whose partial request stalls this long */
  size_t max_request_bytes;     /* largest single request buffered */
  size_t max_output_bytes;      /* stop reading a client whose unsent replies exceed this */
  dyna_log_level_t log_level;
} dyna_config_t;

void dyna_config_default(dyna_config_t *c);
/* Parses argv (and the --config file it names). On error writes a one-line message to
 * err and returns -1. Returns 1 when --help or --version was printed (exit 0). */
int dyna_config_parse(dyna_config_t *c, int argc, char **argv, char *err, size_t errlen);
/* Sets one key (flag name without dashes) from a string. Returns 0 or -1 with err. */
int dyna_config_set(dyna_config_t *c, const char *key, const char *val, char *err, size_t errlen);
void dyna_config_usage(FILE *f);

#endif
