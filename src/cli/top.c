/* top.c: `dyna status`'s rates table and `dyna top` (top.h). Every rate is a difference
 * of two INFO readings of one node divided by the seconds between them; the headers say
 * so. Columns:
 *   status table  OPS/S (commands), READS/S (gets + local reads coordinated), WRITES/S
 *                 (puts + deletes), ERRORS/S (error replies), HANDOFF B/S, REPAIR B/S
 *                 (anti-entropy), HINTS B/S (hints delivered)
 *   top           STATUS, OPS/S, P99 (client requests' latency in the interval: the upper
 *                 bound of the histogram bucket it falls in), KEYS (records in the
 *                 node's store, INFO keys_stored), HINTS (held for others), HANDOFF
 *                 (partitions still to hand off, and B/s), REPAIR B/S */
#include "cli/top.h"
#include "cli/nodes.h"
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void rate_cell(char *out, size_t cap, const dyna_cli_node_t *n, int k, const char *unit) {
  if (!n->have_rate) { snprintf(out, cap, "-"); return; }
  char h[16];
  dyna_cli_human(h, sizeof(h), n->rate[k]);
  snprintf(out, cap, "%s%s", h, unit);
}

/* Why a node has no figures (in buf), or NULL when it has them. */
static const char *why_none(const dyna_cli_node_t *n, char *buf, size_t cap) {
  if (!strcmp(n->status, "removed")) return "(removed: not asked)";
  if (n->err[0]) {
    snprintf(buf, cap, "(no answer from %s: %s)", n->client, n->err);
    return buf;
  }
  if (!n->have_rate) return "(answered only once)";
  return NULL;
}

int dyna_cli_status_rates(dyna_client_t *seed, const dyna_options_t *opt, const dyna_tls_options_t *tls,
                          double interval_s) {
  dyna_cli_nodes_t s;
  dyna_cli_nodes_init(&s, seed, opt, tls);
  int rc = dyna_cli_nodes_read(&s);
  if (!rc) {
    dyna_cli_sleep(interval_s);
    rc = dyna_cli_nodes_read(&s);
  }
  if (!rc) {
    printf("rates per node: from two INFO readings of each node %.1f s apart (counter difference / seconds)\n",
           interval_s);
    printf("%-10s %9s %9s %9s %9s %12s %12s %12s\n", "NAME", "OPS/S", "READS/S", "WRITES/S", "ERRORS/S",
           "HANDOFF B/S", "REPAIR B/S", "HINTS B/S");
    for (size_t i = 0; i < s.len; i++) {
      const dyna_cli_node_t *n = &s.n[i];
      char wbuf[300];
      const char *why = why_none(n, wbuf, sizeof(wbuf));
      if (why) {
        printf("%-10s %s\n", n->name, why);
        continue;
      }
      char c[CLI_NCOUNTERS][32];
      for (int k = 0; k < CLI_NCOUNTERS; k++) rate_cell(c[k], sizeof(c[k]), n, k, "");
      printf("%-10s %9s %9s %9s %9s %12s %12s %12s\n", n->name, c[CLI_OPS], c[CLI_READS], c[CLI_WRITES],
             c[CLI_ERRORS], c[CLI_HANDOFF], c[CLI_REPAIR], c[CLI_HINTS]);
    }
  }
  dyna_cli_nodes_free(&s);
  return rc;
}

static void p99_cell(char *out, size_t cap, const dyna_cli_node_t *n) {
  if (!n->have_rate || n->p99_us < 0) snprintf(out, cap, "-");
  else if (n->p99_us == LLONG_MAX) snprintf(out, cap, ">5s");
  else if (n->p99_us < 1000) snprintf(out, cap, "<=%lldus", n->p99_us);
  else if (n->p99_us < 1000000) snprintf(out, cap, "<=%lldms", n->p99_us / 1000);
  else snprintf(out, cap, "<=%.1fs", (double)n->p99_us / 1e6);
}

static void gauge_cell(char *out, size_t cap, long long v) {
  if (v < 0) snprintf(out, cap, "-");
  else dyna_cli_human(out, cap, (double)v);
}

static void top_screen(const dyna_cli_nodes_t *s, double interval_s, long frame, int tty) {
  char when[32];
  time_t t = time(NULL);
  strftime(when, sizeof(when), "%H:%M:%S", localtime(&t));
  if (tty) printf("\033[H\033[2J");
  printf("dyna top %s: rates from INFO readings %.1f s apart (counter difference / seconds); reading %ld\n", when,
         interval_s, frame);
  printf("%-10s %-8s %9s %9s %9s %8s %-18s %11s\n", "NAME", "STATUS", "OPS/S", "P99", "KEYS", "HINTS", "HANDOFF",
         "REPAIR B/S");
  for (size_t i = 0; i < s->len; i++) {
    const dyna_cli_node_t *n = &s->n[i];
    char wbuf[300];
    const char *why = why_none(n, wbuf, sizeof(wbuf));
    if (why) {
      printf("%-10s %-8s %s\n", n->name, n->status, why);
      continue;
    }
    char ops[32], p99[32], keys[32], hints[32], ho[80], hob[32], rep[32];
    rate_cell(ops, sizeof(ops), n, CLI_OPS, "");
    p99_cell(p99, sizeof(p99), n);
    gauge_cell(keys, sizeof(keys), n->keys);
    gauge_cell(hints, sizeof(hints), n->hints_waiting);
    rate_cell(hob, sizeof(hob), n, CLI_HANDOFF, "B/s");
    if (n->handoff_pending < 0) snprintf(ho, sizeof(ho), "- %s", hob);
    else snprintf(ho, sizeof(ho), "%lld parts %s", n->handoff_pending, hob);
    rate_cell(rep, sizeof(rep), n, CLI_REPAIR, "");
    printf("%-10s %-8s %9s %9s %9s %8s %-18s %11s\n", n->name, n->status, ops, p99, keys, hints, ho, rep);
  }
  if (!tty) printf("\n");
  fflush(stdout);
}

int dyna_cli_top(dyna_client_t *seed, const dyna_options_t *opt, const dyna_tls_options_t *tls,
                 double interval_s, long count) {
  dyna_cli_nodes_t s;
  dyna_cli_nodes_init(&s, seed, opt, tls);
  int tty = isatty(STDOUT_FILENO);
  int rc = dyna_cli_nodes_read(&s);
  for (long frame = 1; !rc && (count <= 0 || frame <= count); frame++) {
    dyna_cli_sleep(interval_s);
    if ((rc = dyna_cli_nodes_read(&s))) break;
    top_screen(&s, interval_s, frame, tty);
  }
  dyna_cli_nodes_free(&s);
  return rc;
}
