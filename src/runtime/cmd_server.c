/* cmd_server.c: connection and server commands: PING ECHO QUIT SELECT HELLO RESET TIME
 * MONITOR, and the HELP of every container (generated from its sub-table). INFO is
 * cmd_info.c's, CONFIG cmd_config.c's, CLIENT cmd_client.c's. All answer at once, from
 * the node's and the runtime's state; none asks the node. The table checks arity; a
 * handler checks only the shape an arity cannot say (pairs, options). */
#include "runtime/cmd_table.h"
#include "runtime/auth.h"
#include "proto/words.h"
#include "util/assert.h"
#include "util/alloc.h"
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

/* ---------- HELLO, RESET: the connection's protocol and name ---------- */

/* The Redis version HELLO and INFO (redis_version) announce: the one whose commands and
 * replies Dyna follows (docs/compatibility.md). */

/* Redis's string2ll for HELLO's protover: canonical decimal only (no sign '+', no
 * leading zero, no space); 0 or -1. */
static int hello_protover(const uint8_t *p, size_t n, long long *out) {
  int neg = n > 0 && p[0] == '-';
  size_t i = (size_t)neg;
  if (i >= n || n - i > 18 || (p[i] == '0' && n - i > 1) || (neg && p[i] == '0')) return -1;
  long long v = 0;
  for (; i < n; i++) {
    if (p[i] < '0' || p[i] > '9') return -1;
    v = v * 10 + (p[i] - '0');
  }
  *out = neg ? -v : v;
  return 0;
}

/* HELLO [protover [AUTH username password] [SETNAME clientname]], as Redis 7.0: checks
 * the version (2 or 3, else NOPROTO) and every option before doing anything; then AUTH
 * (cmd_auth.c: NOAUTH without it on a connection not logged in; its answer may be held
 * back by the failed-login delay, and this one goes in the same place), then SETNAME,
 * then the protocol switch; answers the server map in the new protocol. */
void dyna_cmd_hello(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  long long ver = 0;
  if (a->argc >= 2) {
    if (hello_protover(dyna_arg(a, 1), dyna_arg_len(a, 1), &ver)) {
      dyna_conn_answer_error(c, DYNA_WORD_ERR " Protocol version is not an integer or out of range");
      return;
    }
    if (ver < 2 || ver > 3) { dyna_conn_answer_error(c, DYNA_WORD_NOPROTO " unsupported protocol version"); return; }
  }
  size_t user = 0, name = 0; /* argument positions (0: option not given) */
  for (size_t j = 2; j < a->argc; j++) {
    size_t more = a->argc - 1 - j;
    if (dyna_arg_is(a, j, "AUTH") && more >= 2) {
      user = j + 1;
      j += 2;
    } else if (dyna_arg_is(a, j, "SETNAME") && more >= 1) {
      name = ++j;
    } else {
      char opt[64], line[128];
      size_t n = dyna_arg_len(a, j) < sizeof(opt) - 1 ? dyna_arg_len(a, j) : sizeof(opt) - 1;
      memcpy(opt, dyna_arg(a, j), n);
      opt[n] = 0;
      snprintf(line, sizeof(line), DYNA_WORD_ERR " Syntax error in HELLO option '%s'", opt);
      dyna_conn_answer_error(c, line);
      return;
    }
  }
  if (!user && dyna_auth_hello_refused(s, c)) return;
  dyna_buf_t *b = user ? dyna_auth_login(s, c, a, user, user + 1) : dyna_conn_answer_now(c); /* cmd_auth.c */
  if (!b) return; /* WRONGPASS answered */
  const char *err = NULL;
  if (name && dyna_conn_set_name(c, dyna_arg(a, name), dyna_arg_len(a, name), &err)) {
    dyna_resp_put_error(b, err);
    return;
  }
  if (ver) c->proto = (int)ver;
  dyna_resp_put_map(b, c->proto, 7);
  dyna_resp_put_bulk_str(b, "server");
  dyna_resp_put_bulk_str(b, "redis");
  dyna_resp_put_bulk_str(b, "version");
  dyna_resp_put_bulk_str(b, DYNA_REDIS_VERSION);
  dyna_resp_put_bulk_str(b, "proto");
  dyna_resp_put_int(b, c->proto);
  dyna_resp_put_bulk_str(b, "id");
  dyna_resp_put_int(b, (int64_t)c->id);
  dyna_resp_put_bulk_str(b, "mode");
  dyna_resp_put_bulk_str(b, "cluster");
  dyna_resp_put_bulk_str(b, "role");
  dyna_resp_put_bulk_str(b, "master");
  dyna_resp_put_bulk_str(b, "modules");
  dyna_resp_put_array(b, 0);
}

/* RESET, as Redis 7.0's: the connection as it was accepted: RESP2, no name, out of MULTI
 * with no WATCH; answers +RESET. */
void dyna_cmd_reset(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)s;
  (void)a;
  c->proto = DYNA_RESP2;
  c->name[0] = 0;
  dyna_txn_reset(c);
  c->auth_state = DYNA_AUTH_FRESH; /* the default user again (cmd_auth.c); failed logins still count */
  c->auth_user = NULL;
  dyna_resp_put_simple(dyna_conn_answer_now(c), "RESET");
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

