/* nodes.c: the per-node readings of nodes.h: DYNA.STATUS from the seed for the members,
 * INFO from each over a connection of its own (opened once, kept between readings), and
 * the rates between two readings. A member that does not answer keeps its row with the
 * reason in err. */
#include "cli/nodes.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define INFO_CAP 65536

static const char *const CTR_KEYS[CLI_NCOUNTERS][2] = {
    {"total_commands_processed", NULL}, {"gets", "local_reads"}, {"puts", "dels"},
    {"total_error_replies", NULL},      {"handoff_bytes", NULL}, {"aae_bytes", NULL},
    {"hints_bytes", NULL}};
/* INFO request_latency_us's bounds (src/util/hist.c), microseconds; the last is inf. */
static const long long LAT_BOUNDS[CLI_LAT_BUCKETS - 1] = {
    50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000};

long long dyna_cli_info_field(const char *text, const char *key) {
  char pat[80];
  snprintf(pat, sizeof(pat), "\n%s:", key);
  const char *at = strstr(text, pat);
  return at ? atoll(at + strlen(pat)) : -1;
}

void dyna_cli_sleep(double s) {
  if (s <= 0) return;
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  while (nanosleep(&ts, &ts)) {}
}

void dyna_cli_human(char *out, size_t cap, double x) {
  static const char units[] = " kMGT";
  int u = 0;
  while (x >= 1000 && u < 4) { x /= 1000; u++; }
  if (u == 0) snprintf(out, cap, x > 0 && x < 10 && x != (double)(long long)x ? "%.1f" : "%.0f", x);
  else snprintf(out, cap, "%.1f%c", x, units[u]);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void dyna_cli_nodes_init(dyna_cli_nodes_t *s, dyna_client_t *seed, const dyna_options_t *opt,
                         const dyna_tls_options_t *tls) {
  memset(s, 0, sizeof(*s));
  s->seed = seed;
  s->opt = opt;
  s->tls = tls;
}

void dyna_cli_nodes_free(dyna_cli_nodes_t *s) {
  for (size_t i = 0; i < s->len; i++)
    if (!s->n[i].borrowed) dyna_client_close(s->n[i].c);
  free(s->n);
  memset(s, 0, sizeof(*s));
}

int dyna_cli_ask(dyna_client_t *c, const char *cmd, dyna_reply_t **out) {
  const uint8_t *argv[] = {(const uint8_t *)cmd};
  size_t argl[] = {strlen(cmd)};
  return dyna_command(c, 1, argv, argl, out);
}

int dyna_cli_info_text(dyna_client_t *c, char *buf, size_t cap) {
  dyna_reply_t *r;
  int rc = dyna_cli_ask(c, "INFO", &r);
  if (rc) return rc;
  size_t n = r->type == DYNA_REPLY_STRING && r->str ? r->len : 0;
  if (n > cap - 2) n = cap - 2;
  buf[0] = '\n';
  if (n) memcpy(buf + 1, r->str, n);
  buf[n + 1] = 0;
  dyna_reply_free(r);
  return 0;
}

static const char *field(const dyna_reply_t *row, size_t i) {
  return i < row->n && row->elem[i].str ? (const char *)row->elem[i].str : "";
}

/* The member of id, added when new (NULL: out of memory). */
static dyna_cli_node_t *member(dyna_cli_nodes_t *s, const char *id) {
  for (size_t i = 0; i < s->len; i++)
    if (!strcmp(s->n[i].id, id)) return &s->n[i];
  dyna_cli_node_t *n = realloc(s->n, (s->len + 1) * sizeof(*n));
  if (!n) return NULL;
  s->n = n;
  n = &s->n[s->len++];
  memset(n, 0, sizeof(*n));
  snprintf(n->id, sizeof(n->id), "%s", id);
  return n;
}

/* The members from the seed's DYNA.STATUS (name, id, cluster addr, client addr, status,
 * zone, owned, reachable, phi). */
static int read_members(dyna_cli_nodes_t *s) {
  if (!s->seed_id[0]) {
    char *text = malloc(INFO_CAP);
    if (!text) return DYNA_ENOMEM;
    int rc = dyna_cli_info_text(s->seed, text, INFO_CAP);
    const char *at = rc ? NULL : strstr(text, "\nnode_id:");
    if (at) snprintf(s->seed_id, sizeof(s->seed_id), "%.*s", (int)strcspn(at + 9, "\r\n"), at + 9);
    free(text);
    if (rc) return rc;
  }
  dyna_reply_t *v;
  int rc = dyna_cli_ask(s->seed, "DYNA.STATUS", &v);
  if (rc) return rc;
  for (size_t i = 0; i < v->n; i++) {
    const dyna_reply_t *r = &v->elem[i];
    if (r->type != DYNA_REPLY_ARRAY || r->n < 9) continue;
    dyna_cli_node_t *n = member(s, field(r, 1));
    if (!n) { rc = DYNA_ENOMEM; break; }
    snprintf(n->name, sizeof(n->name), "%s", field(r, 0));
    snprintf(n->client, sizeof(n->client), "%s", field(r, 3));
    snprintf(n->status, sizeof(n->status), "%s", field(r, 4));
    snprintf(n->reach, sizeof(n->reach), "%s", field(r, 7));
    n->owned = r->elem[6].integer;
    if (!strcmp(n->id, s->seed_id) && !n->c) {
      n->c = s->seed;
      n->borrowed = 1;
    }
  }
  dyna_reply_free(v);
  return rc;
}

/* Parses INFO's request_latency_us ("le50=N,...,inf=N") into lat[]; 0 when whole. */
static int parse_latency(const char *text, uint64_t *lat) {
  const char *at = strstr(text, "\nrequest_latency_us:");
  if (!at) return -1;
  at += strlen("\nrequest_latency_us:");
  for (int i = 0; i < CLI_LAT_BUCKETS; i++) {
    const char *eq = strchr(at, '=');
    if (!eq || eq - at > 12) return -1;
    lat[i] = strtoull(eq + 1, NULL, 10);
    at = strpbrk(eq, ",\r\n");
    if (!at) return i == CLI_LAT_BUCKETS - 1 ? 0 : -1;
    if (*at != ',') return i == CLI_LAT_BUCKETS - 1 ? 0 : -1;
    at++;
  }
  return 0;
}

/* The upper bound of the bucket that holds the 99th percentile of the requests between
 * two cumulative readings; -1 when there were none, LLONG_MAX above the last bound. */
static long long p99_between(const uint64_t *prev, const uint64_t *cur) {
  uint64_t total = cur[CLI_LAT_BUCKETS - 1] - prev[CLI_LAT_BUCKETS - 1];
  if (!total || cur[CLI_LAT_BUCKETS - 1] < prev[CLI_LAT_BUCKETS - 1]) return -1;
  for (int i = 0; i < CLI_LAT_BUCKETS - 1; i++)
    if ((double)(cur[i] - prev[i]) >= 0.99 * (double)total) return LAT_BOUNDS[i];
  return LLONG_MAX;
}

static void read_node(dyna_cli_nodes_t *s, dyna_cli_node_t *n, char *text) {
  n->err[0] = 0;
  if (!n->c) {
    dyna_options_t o = *s->opt;
    o.routing = DYNA_ROUTE_NONE;
    int rc = dyna_client_open_tls(n->client, &o, s->tls, &n->c);
    if (rc) {
      snprintf(n->err, sizeof(n->err), "%s", dyna_strerror(rc));
      dyna_client_close(n->c);
      n->c = NULL;
      return;
    }
  }
  int rc = dyna_cli_info_text(n->c, text, INFO_CAP);
  if (rc) {
    snprintf(n->err, sizeof(n->err), "%s", dyna_strerror(rc));
    if (!n->borrowed) { /* opened again at the next reading */
      dyna_client_close(n->c);
      n->c = NULL;
    }
    n->have = n->have_rate = 0;
    return;
  }
  double t = now_s();
  uint64_t ctr[CLI_NCOUNTERS], lat[CLI_LAT_BUCKETS];
  for (int k = 0; k < CLI_NCOUNTERS; k++) {
    long long a = dyna_cli_info_field(text, CTR_KEYS[k][0]);
    long long b = CTR_KEYS[k][1] ? dyna_cli_info_field(text, CTR_KEYS[k][1]) : 0;
    ctr[k] = (uint64_t)(a > 0 ? a : 0) + (uint64_t)(b > 0 ? b : 0);
  }
  int have_lat = parse_latency(text, lat) == 0;
  n->have_rate = 0;
  if (n->have && t > n->at_s) {
    n->dt_s = t - n->at_s;
    for (int k = 0; k < CLI_NCOUNTERS; k++) /* a counter reset (CONFIG RESETSTAT): 0 */
      n->rate[k] = ctr[k] >= n->ctr[k] ? (double)(ctr[k] - n->ctr[k]) / n->dt_s : 0;
    n->p99_us = have_lat ? p99_between(n->lat, lat) : -1;
    n->have_rate = 1;
  }
  memcpy(n->ctr, ctr, sizeof(ctr));
  if (have_lat) memcpy(n->lat, lat, sizeof(lat));
  else memset(n->lat, 0, sizeof(n->lat));
  n->at_s = t;
  n->have = 1;
  n->keys = dyna_cli_info_field(text, "keys_stored");
  n->hints_waiting = dyna_cli_info_field(text, "hints_waiting");
  n->handoff_pending = dyna_cli_info_field(text, "handoff_partitions_pending");
  n->nlag = 0;
  for (const char *at = strstr(text, "\nhints_site_"); at && n->nlag < 8; at = strstr(at + 1, "\nhints_site_")) {
    const char *dc = at + strlen("\nhints_site_"), *colon = strchr(dc, ':');
    long long w, o;
    if (!colon || (size_t)(colon - dc) >= sizeof(n->lag_dc[0]) ||
        sscanf(colon, ":waiting=%lld,oldest_ms=%lld", &w, &o) != 2)
      continue;
    memcpy(n->lag_dc[n->nlag], dc, (size_t)(colon - dc));
    n->lag_dc[n->nlag][colon - dc] = 0;
    n->lag_waiting[n->nlag] = w;
    n->lag_oldest_ms[n->nlag++] = o;
  }
}

int dyna_cli_nodes_read(dyna_cli_nodes_t *s) {
  int rc = read_members(s);
  if (rc) return rc;
  char *text = malloc(INFO_CAP);
  if (!text) return DYNA_ENOMEM;
  for (size_t i = 0; i < s->len; i++) {
    dyna_cli_node_t *n = &s->n[i];
    if (!strcmp(n->status, "removed")) {
      n->have = n->have_rate = 0;
      continue;
    }
    read_node(s, n, text);
  }
  free(text);
  return 0;
}
