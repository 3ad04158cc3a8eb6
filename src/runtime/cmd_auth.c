/* cmd_auth.c: client authentication in dynad: the users of the configuration (acl.h
 * over the command table), the check before every command, AUTH, ACL WHOAMI / LIST /
 * USERS / CAT, and the delay that slows failed logins down (docs/security.md).
 *
 * The failed-login delay. A login's answer (AUTH, HELLO AUTH) is held back for
 *
 *     delay = min(auth-fail-delay-ms << (k - 1), auth-fail-delay-max-ms)   (k > 0; else 0)
 *     k     = max(failed logins in a row on this connection,
 *                 the node's failure level / DYNA_AUTH_NODE_SHARE)
 *
 * where the node's level counts every failed login on this node and loses one per
 * second. k is taken before the password is checked, so a right password waits as long
 * as a wrong one would: the delay tells an attacker nothing. While its answer is held,
 * the connection takes no further command (its held slot is conn.stepping), so
 * pipelining guesses does not go around the delay; other connections are served as
 * usual: the delay is a timer, the loop never sleeps.
 *
 *   AUTH ─▶ k, delay ─▶ check ─▶ answer ──(delay 0)──────────────────────▶ output
 *                                  └──(delay > 0)─▶ SLOT_HELD ─ timer ─▶ READY ─▶ output
 */
#include "runtime/auth.h"
#include "runtime/acl.h"
#include "runtime/cmd_table.h"
#include "runtime/log.h"
#include "proto/words.h"
#include "util/alloc.h"
#include "util/assert.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Node-wide failed logins that count as one failure of the connection in k. */
#define DYNA_AUTH_NODE_SHARE 4
#define DYNA_AUTH_LEVEL_MAX (1u << 20)

#define MSG_NOAUTH "NOAUTH Authentication required."
#define MSG_WRONGPASS "WRONGPASS invalid username-password pair or user is disabled."
#define MSG_NOPERM_KEY "NOPERM this user has no permissions to access one of the keys used as arguments"
#define MSG_HELLO_NOAUTH                                                                                       \
  "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> "      \
  "<pass> option can be used to authenticate the client and select the RESP protocol version at the same time"

typedef struct held {
  conn_t *c;
  slot_t *slot;
  uint64_t due_ms;
} held_t;

struct dyna_auth {
  dyna_acl_t acl;
  uv_timer_t timer; /* fires at the earliest due held answer (made at the first) */
  int timer_open, stopped;
  held_t *held;     /* owned array */
  size_t nheld, cap;
  uint64_t level, level_ms; /* the node's failure level, and when it last decayed */
};

/* ---------- the command table as the acl sees it (built once) ---------- */

static const dyna_acl_table_t *acl_table(void) {
  static dyna_acl_table_t t;
  static const char *names[DYNA_ACL_ROWS_MAX];
  static uint32_t cats[DYNA_ACL_ROWS_MAX];
  static int32_t parent[DYNA_ACL_ROWS_MAX];
  static const char *cat_names[ACL_BITS];
  if (t.nrows) return &t;
  size_t n = dyna_cmd_rows();
  DYNA_ASSERT(n <= DYNA_ACL_ROWS_MAX, "%zu command rows, the acl takes %d", n, DYNA_ACL_ROWS_MAX);
  for (size_t i = 0; i < n; i++) {
    const dyna_cmd_t *row = dyna_cmd_row(i);
    names[i] = row->name;
    cats[i] = row->acl;
    parent[i] = -1;
    const char *bar = strchr(row->name, '|');
    if (bar) {
      const dyna_cmd_t *p = dyna_cmd_lookup((const uint8_t *)row->name, (size_t)(bar - row->name));
      DYNA_ASSERT(p != NULL, "subcommand %s without its container", row->name);
      parent[i] = (int32_t)dyna_cmd_index(p);
    }
  }
  for (unsigned b = 0; b < ACL_BITS; b++) {
    const char *name = dyna_acl_name(1u << b);
    cat_names[b] = name ? name + 1 : NULL; /* without the '@' */
  }
  t.names = names;
  t.cats = cats;
  t.parent = parent;
  t.cat_names = cat_names;
  t.ncats = ACL_BITS;
  t.nrows = n;
  return &t;
}

/* The users of c: its user lines in order, then requirepass. 0 or -1 with err. */
static int build_acl(const dyna_config_t *c, dyna_acl_t *acl, char *err, size_t errlen) {
  if (dyna_acl_init(acl, acl_table())) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  for (size_t i = 0; i < c->nusers; i++) {
    char why[200];
    if (dyna_acl_setuser(acl, c->users[i], strlen(c->users[i]), why, sizeof(why))) {
      snprintf(err, errlen, "invalid user '%.64s': %s", c->users[i], why);
      dyna_acl_free(acl);
      return -1;
    }
  }
  if (c->requirepass[0] && dyna_acl_requirepass(acl, c->requirepass)) {
    snprintf(err, errlen, "out of memory");
    dyna_acl_free(acl);
    return -1;
  }
  return 0;
}

int dyna_auth_config_user(dyna_config_t *c, const char *line, char *err, size_t errlen) {
  size_t n = strlen(line);
  if (n >= sizeof(c->users[0])) {
    snprintf(err, errlen, "user line too long (at most %zu bytes)", sizeof(c->users[0]) - 1);
    return -1;
  }
  if (c->nusers == DYNA_CONFIG_USERS_MAX) {
    snprintf(err, errlen, "too many user lines (at most %d)", DYNA_CONFIG_USERS_MAX);
    return -1;
  }
  memcpy(c->users[c->nusers], line, n + 1);
  c->nusers++;
  dyna_acl_t acl;
  int rc = build_acl(c, &acl, err, errlen); /* every line so far, this one last */
  if (rc) {
    c->nusers--;
    return -1;
  }
  dyna_acl_free(&acl);
  return 0;
}

/* ---------- the server's state ---------- */

int dyna_auth_open(dyna_server_t *s, char *err, size_t errlen) {
  struct dyna_auth *x = dyna_calloc(1, sizeof(*x));
  if (!x) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (build_acl(&s->cfg, &x->acl, err, errlen)) {
    dyna_free(x);
    return -1;
  }
  s->auth = x; /* the timer is made at the first held answer: no handle to close before */
  const dyna_acl_user_t *d = &x->acl.users[0];
  LOG_INFO("clients: %s; %zu user(s) besides default", d->nopass && d->on ? "no password needed (default user)"
                                                                          : "authentication required",
           x->acl.nusers - 1);
  return 0;
}

void dyna_auth_close(dyna_server_t *s) {
  struct dyna_auth *x = s->auth;
  if (!x) return;
  x->stopped = 1;
  if (!x->timer_open) return;
  x->timer_open = 0;
  uv_close((uv_handle_t *)&x->timer, NULL);
}

void dyna_auth_free(dyna_server_t *s) {
  struct dyna_auth *x = s->auth;
  if (!x) return;
  dyna_acl_free(&x->acl);
  dyna_free(x->held);
  dyna_free(x);
  s->auth = NULL;
}

void dyna_auth_requirepass_changed(dyna_server_t *s) {
  if (dyna_acl_requirepass(&s->auth->acl, s->cfg.requirepass))
    LOG_ERROR("CONFIG SET requirepass: out of memory, the default user's password is unchanged");
}

/* ---------- the check before every command ---------- */

/* A connection's first command after accept or RESET: the default user, logged in when
 * it needs no password (Redis's clientSetDefaultAuth). */
static void decide(struct dyna_auth *x, conn_t *c) {
  const dyna_acl_user_t *d = &x->acl.users[0];
  c->auth_user = d;
  c->auth_state = d->on && d->nopass ? DYNA_AUTH_IN : DYNA_AUTH_OUT;
}

static void refuse(dyna_server_t *s, const dyna_cmd_t *row, conn_t *c, const char *msg) {
  s->stats.cmd[dyna_cmd_index(row)].rejected++;
  const char *sp = strchr(msg, ' ');
  char word[40];
  int n = snprintf(word, sizeof(word), "-%.*s\r\n", (int)(sp - msg), msg);
  dyna_stats_error_reply(s, (const uint8_t *)word, (size_t)n);
  dyna_conn_answer_error(c, msg);
}

typedef struct {
  const dyna_acl_user_t *u;
  int denied;
} key_check_t;

static void check_key(void *ctx, const dyna_args_t *a, size_t i, const char *flags) {
  key_check_t *k = ctx;
  (void)flags;
  if (!k->denied && !dyna_acl_key_allowed(k->u, dyna_arg(a, i), dyna_arg_len(a, i))) k->denied = 1;
}

int dyna_auth_refuses(dyna_server_t *s, conn_t *c, const dyna_cmd_t *row, const dyna_args_t *a) {
  struct dyna_auth *x = s->auth;
  if (c->auth_state == DYNA_AUTH_FRESH) decide(x, c);
  if (row->flags & CMD_NO_AUTH) return 0; /* AUTH HELLO QUIT RESET: always, as Redis */
  if (c->auth_state != DYNA_AUTH_IN) {
    refuse(s, row, c, MSG_NOAUTH);
    return 1;
  }
  const dyna_acl_user_t *u = c->auth_user;
  if (!dyna_acl_cmd_allowed(u, dyna_cmd_index(row))) {
    char line[160];
    snprintf(line, sizeof(line), "NOPERM this user has no permissions to run the '%s' command", row->name);
    s->stats.acl_denied_cmd++;
    refuse(s, row, c, line);
    return 1;
  }
  if (!u->allkeys && (row->key_flags || row->specs)) {
    key_check_t k = {u, 0};
    dyna_cmd_each_key(row, a, check_key, &k);
    if (k.denied) {
      s->stats.acl_denied_key++;
      refuse(s, row, c, MSG_NOPERM_KEY);
      return 1;
    }
  }
  return 0;
}

/* ---------- the failed-login delay ---------- */

/* The node's level, decayed by one per second since it last was. */
static uint64_t node_level(struct dyna_auth *x, uint64_t now) {
  uint64_t secs = now > x->level_ms ? (now - x->level_ms) / 1000 : 0;
  if (secs) {
    x->level = x->level > secs ? x->level - secs : 0;
    x->level_ms += secs * 1000;
  }
  if (!x->level) x->level_ms = now;
  return x->level;
}

static uint64_t login_delay(dyna_server_t *s, const conn_t *c, uint64_t now) {
  uint64_t k = node_level(s->auth, now) / DYNA_AUTH_NODE_SHARE;
  if (c->auth_fails > k) k = c->auth_fails;
  uint64_t base = s->cfg.auth_fail_delay_ms, cap = s->cfg.auth_fail_delay_max_ms;
  if (!k || !base) return 0;
  uint64_t shift = k - 1 > 20 ? 20 : k - 1;
  uint64_t d = base << shift;
  return d < cap ? d : cap;
}

static void timer_arm(dyna_server_t *s, uint64_t now);

static void on_timer(uv_timer_t *t) {
  dyna_server_t *s = t->data;
  struct dyna_auth *x = s->auth;
  uint64_t now = uv_now(s->loop);
  for (size_t i = 0; i < x->nheld;) {
    held_t h = x->held[i];
    if (h.due_ms > now) { i++; continue; }
    x->held[i] = x->held[--x->nheld];
    DYNA_ASSERT(h.c->auth_held == h.slot && h.slot->kind == SLOT_HELD, "conn %llu: held slot %p, its own %p",
                (unsigned long long)h.c->id, (void *)h.slot, (void *)h.c->auth_held);
    h.c->auth_held = NULL;
    h.slot->kind = SLOT_READY;
    dyna_conn_flush_slots(s, h.c); /* written and read again at the loop's check */
  }
  timer_arm(s, now);
}

static void timer_arm(dyna_server_t *s, uint64_t now) {
  struct dyna_auth *x = s->auth;
  if (!x->timer_open) return;
  if (!x->nheld) { uv_timer_stop(&x->timer); return; }
  uint64_t due = x->held[0].due_ms;
  for (size_t i = 1; i < x->nheld; i++)
    if (x->held[i].due_ms < due) due = x->held[i].due_ms;
  uv_timer_start(&x->timer, on_timer, due > now ? due - now : 0, 0);
}

/* A held slot at the end of c's queue, answered after delay ms; NULL when memory is
 * short (the answer then goes at once). */
static dyna_buf_t *hold(dyna_server_t *s, conn_t *c, uint64_t delay, uint64_t now) {
  struct dyna_auth *x = s->auth;
  DYNA_ASSERT(!c->stepping && !c->auth_held, "conn %llu: a login while a command waits (%p, %p)",
              (unsigned long long)c->id, (void *)c->stepping, (void *)c->auth_held);
  if (x->stopped) return NULL;
  if (!x->timer_open) {
    uv_timer_init(s->loop, &x->timer);
    x->timer.data = s;
    x->timer_open = 1;
  }
  if (x->nheld == x->cap) {
    size_t cap = x->cap ? 2 * x->cap : 16;
    held_t *h = dyna_realloc(x->held, cap * sizeof(*h));
    if (!h) return NULL;
    x->held = h;
    x->cap = cap;
  }
  slot_t *slot = dyna_slot_get(s);
  if (!slot) return NULL;
  slot->kind = SLOT_HELD;
  slot->proto = c->proto;
  dyna_conn_slot_push(c, slot);
  c->stepping = slot; /* no further command until it leaves (conn.c) */
  c->auth_held = slot;
  x->held[x->nheld++] = (held_t){c, slot, now + delay};
  s->stats.auth_delayed++;
  s->stats.auth_delay_ms += delay;
  timer_arm(s, now);
  return &slot->out;
}

void dyna_auth_conn_closed(dyna_server_t *s, conn_t *c) {
  struct dyna_auth *x = s->auth;
  if (!x || !c->auth_held) return;
  for (size_t i = 0; i < x->nheld; i++) {
    if (x->held[i].c != c) continue;
    x->held[i] = x->held[--x->nheld];
    break;
  }
  c->auth_held = NULL;
}

dyna_buf_t *dyna_auth_login(dyna_server_t *s, conn_t *c, const dyna_args_t *a, size_t iuser, size_t ipass) {
  struct dyna_auth *x = s->auth;
  uint64_t now = uv_now(s->loop);
  uint64_t delay = login_delay(s, c, now); /* before the check: the same for right and wrong */
  const dyna_acl_user_t *u =
      iuser ? dyna_acl_find(&x->acl, dyna_arg(a, iuser), dyna_arg_len(a, iuser)) : &x->acl.users[0];
  int ok = dyna_acl_check_pass(u, dyna_arg(a, ipass), dyna_arg_len(a, ipass));
  if (ok) {
    c->auth_state = DYNA_AUTH_IN;
    c->auth_user = u;
    c->auth_fails = 0;
  } else {
    if (c->auth_fails < UINT32_MAX) c->auth_fails++;
    node_level(x, now);
    if (x->level < DYNA_AUTH_LEVEL_MAX) x->level++;
    s->stats.acl_denied_auth++;
    LOG_DEBUG("client %llu (%s): failed login, %u in a row", (unsigned long long)c->id, c->addr, c->auth_fails);
    if (x->level >= 8 && !(x->level & (x->level - 1))) /* 8, 16, 32...: a log line per doubling */
      LOG_WARN("%llu failed logins lately on this node (the last from %s): logins are delayed",
               (unsigned long long)x->level, c->addr);
  }
  dyna_buf_t *b = delay ? hold(s, c, delay, now) : NULL;
  if (!b) b = dyna_conn_answer_now(c);
  if (!ok) {
    dyna_resp_put_error(b, MSG_WRONGPASS);
    return NULL;
  }
  return b;
}

const dyna_acl_user_t *dyna_auth_user(dyna_server_t *s, const uint8_t *name, size_t len) {
  return dyna_acl_find(&s->auth->acl, name, len);
}

const dyna_acl_user_t *dyna_auth_conn_user(dyna_server_t *s, const conn_t *c) {
  return c->auth_user ? c->auth_user : &s->auth->acl.users[0];
}

/* ---------- the HTTP port ---------- */

int dyna_auth_http_required(dyna_server_t *s) {
  const dyna_acl_t *acl = &s->auth->acl;
  return !(acl->users[0].on && acl->users[0].nopass) || acl->nusers > 1;
}

const dyna_acl_user_t *dyna_auth_http_login(dyna_server_t *s, const uint8_t *user, size_t ulen,
                                            const uint8_t *pass, size_t plen, uint64_t *delay_ms) {
  struct dyna_auth *x = s->auth;
  uint64_t now = uv_now(s->loop);
  uint64_t k = node_level(x, now) / DYNA_AUTH_NODE_SHARE, base = s->cfg.auth_fail_delay_ms;
  uint64_t delay = 0;
  if (k && base) {
    uint64_t d = base << (k - 1 > 20 ? 20 : k - 1);
    delay = d < s->cfg.auth_fail_delay_max_ms ? d : s->cfg.auth_fail_delay_max_ms;
  }
  const dyna_acl_user_t *u = dyna_acl_find(&x->acl, user, ulen);
  int ok = dyna_acl_check_pass(u, pass, plen);
  if (!ok) {
    node_level(x, now);
    if (x->level < DYNA_AUTH_LEVEL_MAX) x->level++;
    s->stats.acl_denied_auth++;
    LOG_DEBUG("HTTP: failed login");
    if (x->level >= 8 && !(x->level & (x->level - 1)))
      LOG_WARN("%llu failed logins lately on this node (the last on the HTTP port): logins are delayed",
               (unsigned long long)x->level);
  }
  if (delay) {
    s->stats.auth_delayed++;
    s->stats.auth_delay_ms += delay;
  }
  *delay_ms = delay;
  return ok ? u : NULL;
}

int dyna_auth_http_refuses(dyna_server_t *s, const dyna_acl_user_t *u, const char *cmd, const uint8_t *key,
                           size_t klen, char *msg, size_t cap) {
  const dyna_cmd_t *row = dyna_cmd_lookup((const uint8_t *)cmd, strlen(cmd));
  DYNA_ASSERT(row != NULL, "HTTP: no command row %s", cmd);
  if (!dyna_acl_cmd_allowed(u, dyna_cmd_index(row))) {
    snprintf(msg, cap, "NOPERM this user has no permissions to run the '%s' command", row->name);
    s->stats.acl_denied_cmd++;
    return 1;
  }
  if (key && !dyna_acl_key_allowed(u, key, klen)) {
    snprintf(msg, cap, "%s", MSG_NOPERM_KEY);
    s->stats.acl_denied_key++;
    return 1;
  }
  return 0;
}

/* ---------- the commands ---------- */

/* AUTH [username] password, as Redis 7.0. */
void dyna_cmd_auth(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  if (a->argc > 3) { dyna_conn_answer_syntax_error(c, NULL); return; }
  const dyna_acl_user_t *d = &s->auth->acl.users[0];
  if (a->argc == 2 && d->nopass && d->on) {
    dyna_conn_answer_error(c, DYNA_WORD_ERR " AUTH <password> called without any password configured for the "
                              "default user. Are you sure your configuration is correct?");
    return;
  }
  dyna_buf_t *b = dyna_auth_login(s, c, a, a->argc == 3 ? 1 : 0, a->argc - 1);
  if (b) dyna_resp_put_simple(b, "OK");
}

int dyna_auth_hello_refused(dyna_server_t *s, conn_t *c) {
  (void)s;
  if (c->auth_state == DYNA_AUTH_IN) return 0;
  dyna_conn_answer_error(c, MSG_HELLO_NOAUTH);
  return 1;
}

/* ACL WHOAMI: the user this connection runs as. */
void dyna_cmd_acl_whoami(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)a;
  dyna_resp_put_bulk_str(dyna_conn_answer_now(c), dyna_auth_conn_user(s, c)->name);
}

static int by_name(const void *p, const void *q) {
  return strcmp((*(const dyna_acl_user_t *const *)p)->name, (*(const dyna_acl_user_t *const *)q)->name);
}

/* The users sorted by name (Redis lists them so) into order[]; their count. */
static size_t sorted_users(const dyna_acl_t *acl, const dyna_acl_user_t **order) {
  for (size_t i = 0; i < acl->nusers; i++) order[i] = &acl->users[i];
  qsort(order, acl->nusers, sizeof(*order), by_name);
  return acl->nusers;
}

/* ACL USERS: every user name. */
void dyna_cmd_acl_users(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)a;
  const dyna_acl_user_t *order[DYNA_ACL_USERS_MAX];
  size_t n = sorted_users(&s->auth->acl, order);
  dyna_buf_t *b = dyna_conn_answer_now(c);
  dyna_resp_put_array(b, n);
  for (size_t i = 0; i < n; i++) dyna_resp_put_bulk_str(b, order[i]->name);
}

/* ACL LIST: every user as its rules ("user alice on #... ~foo:* resetchannels -@all +@read"). */
void dyna_cmd_acl_list(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)a;
  const dyna_acl_user_t *order[DYNA_ACL_USERS_MAX];
  size_t n = sorted_users(&s->auth->acl, order);
  dyna_buf_t *b = dyna_conn_answer_now(c);
  dyna_resp_put_array(b, n);
  for (size_t i = 0; i < n; i++) {
    size_t need = dyna_acl_describe(order[i], NULL, 0) + 1;
    char *line = dyna_malloc(need);
    if (!line) { dyna_resp_put_bulk_str(b, ""); continue; }
    dyna_acl_describe(order[i], line, need);
    dyna_resp_put_bulk_str(b, line);
    dyna_free(line);
  }
}

/* ACL CAT [category]: the categories, or the commands of one. */
void dyna_cmd_acl_cat(dyna_server_t *s, conn_t *c, const dyna_args_t *a) {
  (void)s;
  if (a->argc > 3) { dyna_conn_answer_arity_error(c, "acl|cat"); return; }
  const dyna_acl_table_t *t = acl_table();
  if (a->argc == 2) {
    size_t n = 0;
    for (unsigned b = 0; b < t->ncats; b++) n += t->cat_names[b] != NULL;
    dyna_buf_t *b = dyna_conn_answer_now(c);
    dyna_resp_put_array(b, n);
    for (unsigned k = 0; k < t->ncats; k++)
      if (t->cat_names[k]) dyna_resp_put_bulk_str(b, t->cat_names[k]);
    return;
  }
  int bit = dyna_acl_cat_find(t, (const char *)dyna_arg(a, 2), dyna_arg_len(a, 2));
  if (bit < 0) {
    char name[64], line[128];
    size_t k = dyna_arg_len(a, 2) < sizeof(name) - 1 ? dyna_arg_len(a, 2) : sizeof(name) - 1;
    memcpy(name, dyna_arg(a, 2), k);
    name[k] = 0;
    snprintf(line, sizeof(line), DYNA_WORD_ERR " Unknown category '%s'", name);
    dyna_conn_answer_error(c, line);
    return;
  }
  size_t n = 0;
  for (size_t i = 0; i < t->nrows; i++) n += (t->cats[i] >> bit) & 1;
  dyna_buf_t *b = dyna_conn_answer_now(c);
  dyna_resp_put_array(b, n);
  for (size_t i = 0; i < t->nrows; i++)
    if ((t->cats[i] >> bit) & 1) dyna_resp_put_bulk_str(b, t->names[i]);
}
