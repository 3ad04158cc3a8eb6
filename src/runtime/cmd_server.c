/* cmd_server.c: connection and server commands: PING ECHO QUIT SELECT HELLO TIME
 * MONITOR, and the HELP of every container (generated from its sub-table). INFO is
 * cmd_info.c's, CONFIG cmd_config.c's, CLIENT cmd_client.c's. All answer at once, from
 * the node's and the runtime's state; none asks the node. The table checks arity; a
 * handler checks only the shape an arity cannot say (pairs, options). */
#include "runtime/cmd_table.h"
#include "proto/words.h"
#include "util/assert.h"
#include "core/cluster.h"
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

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
  char num[24], *end = NULL;
  long long db = -1;
  int ok = !dyna_arg_str(a, 1, num, sizeof(num)) && num[0] && !isspace((unsigned char)num[0]);
  if (ok) {
    db = strtoll(num, &end, 10);
    ok = !*end;
  }
  if (!ok)
    dyna_conn_answer_error(c, DYNA_WORD_ERR " value is not an integer or out of range");
  else if (db != 0)
    dyna_conn_answer_error(c, DYNA_WORD_ERR " DB index is out of range (Dyna has one keyspace: 0)");
  else
    dyna_resp_put_simple(dyna_conn_answer_now(c), "OK");
}

/* TIME: the node's wall clock (CLOCK_REALTIME), as [seconds, microseconds]. */
void dyna_cmd_time(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)s;
  (void)a;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  char sec[24], usec[16];
  int n1 = snprintf(sec, sizeof(sec), "%lld", (long long)ts.tv_sec);
  int n2 = snprintf(usec, sizeof(usec), "%ld", ts.tv_nsec / 1000);
  dyna_buf_t *b = dyna_conn_answer_now(c);
  dyna_resp_put_array(b, 2);
  dyna_resp_put_bulk(b, sec, (size_t)n1);
  dyna_resp_put_bulk(b, usec, (size_t)n2);
}

/* MONITOR: not served (every command of every client copied to one connection is a
 * cost the coordinators should not carry); refused with a clear error. */
void dyna_cmd_monitor(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)s;
  (void)a;
  dyna_conn_answer_error(c, DYNA_WORD_ERR " MONITOR is not supported by Dyna (see docs/compatibility.md); "
                            "use CLIENT LIST and INFO commandstats");
}

void dyna_cmd_hello(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)s;
  (void)a;
  dyna_conn_answer_error(c, DYNA_WORD_NOPROTO " Dyna speaks RESP2 only");
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

