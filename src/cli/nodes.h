/* nodes.h: the CLI's per-node rates (nodes.c), for `dyna status` and `dyna top`: the
 * members as one node lists them (DYNA.STATUS), each asked for its INFO over its own
 * connection, and the rates worked out from two readings of INFO's counters one interval
 * apart (counter difference / seconds between the readings). Ownership: the set owns the
 * connections it opened and frees them in dyna_cli_nodes_free; the seed client stays the
 * caller's. Uses libdyna's public API only. */
#ifndef DYNA_CLI_NODES_H
#define DYNA_CLI_NODES_H
#include "dyna.h"
#include <stddef.h>
#include <stdint.h>

/* Runs a one-word command (INFO, DYNA.STATUS): 0 and *out (the caller frees it with
 * dyna_reply_free), or the error. */
int dyna_cli_ask(dyna_client_t *c, const char *cmd, dyna_reply_t **out);
/* INFO's text into buf (NUL-terminated, cut at cap; a leading newline, so that "\nkey:"
 * finds the first field too): 0 or the error. */
int dyna_cli_info_text(dyna_client_t *c, char *buf, size_t cap);

/* The INFO counters whose rates are shown (dyna_cli_node_t.rate[] by this index). */
enum {
  CLI_OPS,     /* total_commands_processed */
  CLI_READS,   /* gets + local_reads */
  CLI_WRITES,  /* puts + dels */
  CLI_ERRORS,  /* total_error_replies */
  CLI_HANDOFF, /* handoff_bytes */
  CLI_REPAIR,  /* aae_bytes */
  CLI_HINTS,   /* hints_bytes */
  CLI_NCOUNTERS
};
#define CLI_LAT_BUCKETS 17 /* INFO request_latency_us: 16 bounds and inf */

typedef struct dyna_cli_node {
  char name[64], id[24], client[160], status[16], reach[16];
  long long owned;
  dyna_client_t *c;   /* owned, or the seed (borrowed) when this is the node asked */
  int borrowed;
  char err[96];       /* why the last reading failed ("" when it did not) */
  /* the last reading */
  int have;           /* 1: a reading was taken */
  double at_s;        /* its monotonic time */
  uint64_t ctr[CLI_NCOUNTERS];
  uint64_t lat[CLI_LAT_BUCKETS];
  long long keys, hints_waiting, handoff_pending; /* gauges; -1 when INFO has none */
  /* INFO hints_site_<dc>: hints this node holds for each site's members, and how long
   * it has held some (ms); nlag 0 when the cluster has no sites */
  char lag_dc[8][32];
  long long lag_waiting[8], lag_oldest_ms[8];
  size_t nlag;
  /* rates between the last two readings (have_rate: both were taken) */
  int have_rate;
  double dt_s;
  double rate[CLI_NCOUNTERS];
  long long p99_us;   /* -1: no request in the interval; LLONG_MAX: above the last bound */
} dyna_cli_node_t;

typedef struct dyna_cli_nodes {
  dyna_client_t *seed;  /* borrowed: the node asked for the members */
  char seed_id[24];
  const dyna_options_t *opt;   /* for the connections to the others (borrowed) */
  const dyna_tls_options_t *tls;
  dyna_cli_node_t *n;   /* owned */
  size_t len;
} dyna_cli_nodes_t;

void dyna_cli_nodes_init(dyna_cli_nodes_t *s, dyna_client_t *seed, const dyna_options_t *opt,
                         const dyna_tls_options_t *tls);
/* One reading: the members again from the seed (new ones are added, removed members
 * kept with their status), then INFO from each member that is not removed. Rates are
 * those since the previous reading. 0, or the error of the seed's DYNA.STATUS. */
int dyna_cli_nodes_read(dyna_cli_nodes_t *s);
void dyna_cli_nodes_free(dyna_cli_nodes_t *s);
/* The value of INFO field key in text, or -1 when absent. */
long long dyna_cli_info_field(const char *text, const char *key);
/* Sleeps for s seconds. */
void dyna_cli_sleep(double s);
/* x in a short human form with k/M/G (e.g. "1.2k"). */
void dyna_cli_human(char *out, size_t cap, double x);

#endif
