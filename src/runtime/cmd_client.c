/* cmd_client.c: CLIENT and its subcommands, over the server's list of open connections
 * (server_int.h's conns) and what each keeps for them (conn.h): ID, GETNAME, SETNAME,
 * SETINFO, INFO, LIST, KILL, NO-EVICT and NO-TOUCH, in Redis 7's words and shapes.
 *
 * A CLIENT LIST / CLIENT INFO line has the fields of Redis 7.2's, in its order; those
 * Dyna has no use for take Redis's value for a plain connection (db=0, sub=0, multi=-1,
 * ...); user is the user logged in (cmd_auth.c), resp the protocol:
 *   id=7 addr=127.0.0.1:5000 laddr=127.0.0.1:7001 fd=9 name=web age=12 idle=0 flags=N
 *   db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=65536 argv-mem=0 multi-mem=0
 *   rbs=65536 rbp=0 obl=0 oll=0 omem=0 tot-mem=... events=r cmd=client|list
 *   user=default redir=-1 resp=2 lib-name= lib-ver= */
#include "runtime/cmd_table.h"
#include "runtime/acl.h"
#include "runtime/auth.h"
#include "proto/words.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void dyna_cmd_client_id(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)s;
  (void)a;
  dyna_resp_put_int(dyna_conn_answer_now(c), (int64_t)c->id);
}

void dyna_cmd_client_getname(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)s;
  (void)a;
  if (c->name[0]) dyna_resp_put_bulk_str(dyna_conn_answer_now(c), c->name);
  else dyna_resp_put_null(dyna_conn_answer_now(c), c->proto);
}

void dyna_cmd_client_setname(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)s;
  const char *err = NULL;
  if (dyna_conn_set_name(c, dyna_arg(a, 2), dyna_arg_len(a, 2), &err)) { dyna_conn_answer_error(c, err); return; }
  dyna_resp_put_simple(dyna_conn_answer_now(c), "OK");
}

/* CLIENT SETINFO LIB-NAME name | LIB-VER version (Redis 7.2): kept for CLIENT LIST. */
void dyna_cmd_client_setinfo(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)s;
  char *dst;
  size_t cap;
  const char *what;
  if (dyna_arg_is(a, 2, "lib-name")) {
    dst = c->lib_name, cap = sizeof(c->lib_name), what = "lib-name";
  } else if (dyna_arg_is(a, 2, "lib-ver")) {
    dst = c->lib_ver, cap = sizeof(c->lib_ver), what = "lib-ver";
  } else {
    char opt[64], line[128];
    if (dyna_arg_str(a, 2, opt, sizeof(opt))) snprintf(opt, sizeof(opt), "%s", "?");
    for (char *p = opt; *p; p++)
      if (*p < '!' || *p > '~') *p = '?';
    snprintf(line, sizeof(line), DYNA_WORD_ERR " Unrecognized option '%s'", opt);
    dyna_conn_answer_error(c, line);
    return;
  }
  const uint8_t *v = dyna_arg(a, 3);
  size_t n = dyna_arg_len(a, 3);
  for (size_t i = 0; i < n; i++) {
    if (v[i] < '!' || v[i] > '~') {
      char line[128];
      snprintf(line, sizeof(line), DYNA_WORD_ERR " %s cannot contain spaces, newlines or special characters.", what);
      dyna_conn_answer_error(c, line);
      return;
    }
  }
  if (n >= cap) {
    char line[128];
    snprintf(line, sizeof(line), DYNA_WORD_ERR " %s is longer than %zu bytes", what, cap - 1);
    dyna_conn_answer_error(c, line);
    return;
  }
  memcpy(dst, v, n);
  dst[n] = 0;
  dyna_resp_put_simple(dyna_conn_answer_now(c), "OK");
}

/* CLIENT NO-EVICT / NO-TOUCH on|off: kept and shown in the flags (Dyna evicts nothing and
 * keeps no access times). */
static void on_off(conn_t *c, const dyna_args_t *a, int *field) {
  if (dyna_arg_is(a, 2, "on")) *field = 1;
  else if (dyna_arg_is(a, 2, "off")) *field = 0;
  else { dyna_conn_answer_syntax_error(c, NULL); return; }
  dyna_resp_put_simple(dyna_conn_answer_now(c), "OK");
}

void dyna_cmd_client_no_evict(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)s;
  on_off(c, a, &c->no_evict);
}

void dyna_cmd_client_no_touch(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)s;
  on_off(c, a, &c->no_touch);
}

/* ---------- INFO and LIST ---------- */

/* Appends k's line, ended by "\n", to b. */
static void client_line(dyna_server_t *s, const conn_t *k, dyna_buf_t *b) {
  uint64_t now = dyna_server_now(s);
  uv_os_fd_t fd = -1;
  if (uv_fileno((const uv_handle_t *)&k->tcp, &fd)) fd = -1;
  char flags[8];
  size_t nf = 0;
  if (k->no_evict) flags[nf++] = 'e';
  if (k->no_touch) flags[nf++] = 'T';
  if (!nf) flags[nf++] = 'N';
  flags[nf] = 0;
  size_t qfree = k->in.cap - k->in.len, omem = dyna_wq_pending(&k->wq);
  const char *events = k->state == CONN_READING ? (omem ? "rw" : "r") : (omem ? "w" : "");
  char line[1024];
  int n = snprintf(line, sizeof(line),
                   "id=%" PRIu64 " addr=%s laddr=%s fd=%d name=%s age=%" PRIu64 " idle=%" PRIu64
                   " flags=%s db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=%zu qbuf-free=%zu argv-mem=0 multi-mem=0"
                   " rbs=%zu rbp=0 obl=0 oll=0 omem=%zu tot-mem=%zu events=%s cmd=%s user=%s redir=-1"
                   " resp=%d lib-name=%s lib-ver=%s\n",
                   k->id, k->addr, k->laddr, (int)fd, k->name, (now - k->created_ms) / 1000,
                   (now - k->last_cmd_ms) / 1000, flags, k->in.len, qfree, k->in.cap, omem,
                   sizeof(*k) + k->in.cap + omem, events, k->last_cmd ? k->last_cmd : "NULL",
                   k->auth_user ? k->auth_user->name : "default", k->proto, k->lib_name,
                   k->lib_ver);
  if (n > 0) dyna_buf_put(b, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

void dyna_cmd_client_info(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)a;
  dyna_buf_t t = DYNA_BUF_INIT;
  client_line(s, c, &t);
  if (t.oom) dyna_conn_answer_error(c, DYNA_ERR_OOM);
  else dyna_resp_put_verbatim(dyna_conn_answer_now(c), c->proto, "txt", t.data, t.len);
  dyna_buf_free(&t);
}

/* A client type argument: 1 normal (every Dyna client), 0 another Redis type (none), -1
 * unknown (the error answered). */
static int client_type(conn_t *c, const dyna_args_t *a, size_t i) {
  if (dyna_arg_is(a, i, "normal")) return 1;
  if (dyna_arg_is(a, i, "master") || dyna_arg_is(a, i, "replica") || dyna_arg_is(a, i, "slave") ||
      dyna_arg_is(a, i, "pubsub"))
    return 0;
  char t[64], line[128];
  if (dyna_arg_str(a, i, t, sizeof(t))) snprintf(t, sizeof(t), "%s", "?");
  snprintf(line, sizeof(line), DYNA_WORD_ERR " Unknown client type '%s'", t);
  dyna_conn_answer_error(c, line);
  return -1;
}

/* A client id argument: > 0, or 0 when it is not one. */
static uint64_t client_id_arg(const dyna_args_t *a, size_t i) {
  char num[24], *end;
  if (dyna_arg_str(a, i, num, sizeof(num)) || !num[0] || num[0] == '-' || num[0] == '+') return 0;
  unsigned long long v = strtoull(num, &end, 10);
  return *end ? 0 : (uint64_t)v;
}

/* CLIENT LIST [TYPE normal|master|replica|pubsub] [ID id [id ...]] */
void dyna_cmd_client_list(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  int any = 1;
  size_t ids = 0; /* ID's arguments start here (0: no ID filter) */
  if (a->argc == 4 && dyna_arg_is(a, 2, "type")) {
    int t = client_type(c, a, 3);
    if (t < 0) return;
    any = t;
  } else if (a->argc >= 4 && dyna_arg_is(a, 2, "id")) {
    for (size_t i = 3; i < a->argc; i++)
      if (!client_id_arg(a, i)) { dyna_conn_answer_error(c, DYNA_WORD_ERR " Invalid client ID"); return; }
    ids = 3;
  } else if (a->argc != 2) {
    dyna_conn_answer_syntax_error(c, NULL);
    return;
  }
  dyna_buf_t t = DYNA_BUF_INIT;
  for (conn_t *k = s->conns; any && k; k = k->next) {
    if (k->state == CONN_CLOSING) continue;
    int match = !ids;
    for (size_t i = ids; ids && i < a->argc && !match; i++) match = client_id_arg(a, i) == k->id;
    if (match) client_line(s, k, &t);
  }
  if (t.oom) dyna_conn_answer_error(c, DYNA_ERR_OOM);
  else dyna_resp_put_verbatim(dyna_conn_answer_now(c), c->proto, "txt", t.data ? t.data : (const uint8_t *)"", t.len);
  dyna_buf_free(&t);
}

/* ---------- KILL ---------- */

/* Closes k for CLIENT KILL: another connection at once (its pending requests forgotten);
 * the caller's own after this answer is written, as Redis does. */
static void kill_one(dyna_server_t *s, conn_t *c, conn_t *k) {
  if (k == c) dyna_conn_drain(c);
  else dyna_conn_close(s, k);
}

static int arg_eq(const dyna_args_t *a, size_t i, const char *str) {
  return dyna_arg_len(a, i) == strlen(str) && !memcmp(dyna_arg(a, i), str, dyna_arg_len(a, i));
}

/* CLIENT KILL ip:port (the old form: OK, or an error when no client has that address), or
 * CLIENT KILL <filter> <value> [...] with ID, ADDR, LADDR, TYPE, USER (the user logged in,
 * cmd_auth.c) and SKIPME (yes by default): the number of clients closed. */
void dyna_cmd_client_kill(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  if (a->argc == 3) {
    for (conn_t *k = s->conns; k; k = k->next) {
      if (k->state == CONN_CLOSING || !arg_eq(a, 2, k->addr)) continue;
      dyna_resp_put_simple(dyna_conn_answer_now(c), "OK");
      kill_one(s, c, k);
      return;
    }
    dyna_conn_answer_error(c, DYNA_WORD_ERR " No such client");
    return;
  }
  if (a->argc % 2) { dyna_conn_answer_syntax_error(c, NULL); return; }
  uint64_t id = 0;
  size_t addr = 0, laddr = 0; /* the value's argument index, 0: no such filter */
  const dyna_acl_user_t *user = NULL;
  int skipme = 1, none = 0;
  for (size_t i = 2; i + 1 < a->argc; i += 2) {
    if (dyna_arg_is(a, i, "id")) {
      if (!(id = client_id_arg(a, i + 1))) {
        dyna_conn_answer_error(c, DYNA_WORD_ERR " client-id should be greater than 0");
        return;
      }
    } else if (dyna_arg_is(a, i, "addr")) {
      addr = i + 1;
    } else if (dyna_arg_is(a, i, "laddr")) {
      laddr = i + 1;
    } else if (dyna_arg_is(a, i, "type")) {
      int t = client_type(c, a, i + 1);
      if (t < 0) return;
      none |= !t;
    } else if (dyna_arg_is(a, i, "user")) {
      user = dyna_auth_user(s, dyna_arg(a, i + 1), dyna_arg_len(a, i + 1));
      if (!user) {
        char u[64], line[128];
        if (dyna_arg_str(a, i + 1, u, sizeof(u))) snprintf(u, sizeof(u), "%s", "?");
        snprintf(line, sizeof(line), DYNA_WORD_ERR " No such user '%s'", u);
        dyna_conn_answer_error(c, line);
        return;
      }
    } else if (dyna_arg_is(a, i, "skipme")) {
      if (dyna_arg_is(a, i + 1, "yes")) skipme = 1;
      else if (dyna_arg_is(a, i + 1, "no")) skipme = 0;
      else { dyna_conn_answer_syntax_error(c, NULL); return; }
    } else {
      dyna_conn_answer_syntax_error(c, NULL);
      return;
    }
  }
  int64_t killed = 0;
  int self = 0;
  for (conn_t *k = s->conns, *next; !none && k; k = next) {
    next = k->next;
    if (k->state == CONN_CLOSING || (id && k->id != id) || (addr && !arg_eq(a, addr, k->addr)) ||
        (laddr && !arg_eq(a, laddr, k->laddr)) || (skipme && k == c) ||
        (user && dyna_auth_conn_user(s, k) != user))
      continue;
    killed++;
    if (k == c) self = 1; /* after the answer is queued */
    else kill_one(s, c, k);
  }
  dyna_resp_put_int(dyna_conn_answer_now(c), killed);
  if (self) kill_one(s, c, c);
}
