/* typed_keys.c: the key commands over an object (typed.h): EXPIRE PEXPIRE EXPIREAT
 * PEXPIREAT (NX XX GT LT), TTL PTTL EXPIRETIME PEXPIRETIME, PERSIST, TYPE, OBJECT
 * ENCODING / HELP, and GETEX. Redis 7.0's replies and errors.
 *
 * Expiry works on every kind through the key's KEY state (dyna_obj_set_deadline):
 * concurrent deadlines merge as crdt_expiry.c says (a PERSIST wins, else the longest).
 * A key whose deadline has passed reads as absent (dyna_obj_kind). A deadline already
 * in the past deletes the key, as Redis does (it answers 1): a write that supersedes
 * every kind the coordinator observed (a register tombstone and dyna_obj_supersede).
 * Writes work on a copy of the object installed only on success, so an error leaves
 * the object as it was. Pure: the wall clock is env->now_ms. */
#include "core/crdt_ops.h"
#include "core/typed.h"
#include "proto/resp.h"
#include "util/err.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Installs w (a changed copy) in o, or drops it on error. */
static int install(dyna_obj_t *o, dyna_obj_t *w, int rc) {
  if (rc) {
    dyna_obj_clear(w);
    return rc;
  }
  dyna_obj_clear(o);
  *o = *w;
  return 0;
}

/* Deletes the key as observed, whatever its kind: a tombstone over the register's live
 * values, every typed state deleted, the deadline dropped. */
static int delete_key(dyna_obj_t *o, const dyna_tenv_t *env) {
  dyna_obj_t w;
  dyna_obj_init(&w);
  int rc = dyna_obj_copy(&w, o);
  if (!rc && dyna_obj_nlive(&w)) {
    dyna_val_t tomb = {DYNA_VAL_TOMBSTONE, dyna_tenv_stamp(env), NULL, 0};
    rc = dyna_obj_update_blind(&w, env->actor, &tomb);
  }
  if (!rc) rc = dyna_obj_supersede(&w, env->actor, env->now_ms, 0);
  return install(o, &w, rc);
}

static int set_deadline(dyna_obj_t *o, const dyna_tenv_t *env, uint64_t deadline_ms) {
  dyna_obj_t w;
  dyna_obj_init(&w);
  int rc = dyna_obj_copy(&w, o);
  if (!rc) rc = dyna_obj_set_deadline(&w, env->actor, deadline_ms);
  return install(o, &w, rc);
}

static void err_expire_time(dyna_buf_t *resp, const char *cmd) {
  char msg[64];
  snprintf(msg, sizeof msg, "ERR invalid expire time in '%s' command", cmd);
  dyna_resp_put_error(resp, msg);
}

/* ---- EXPIRE PEXPIRE EXPIREAT PEXPIREAT ------------------------------------------ */

#define X_NX 1
#define X_XX 2
#define X_GT 4
#define X_LT 8

static int expire_generic(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                          dyna_buf_t *resp, int *changed, int seconds, int absolute,
                          const char *cmd) {
  *changed = 0;
  int fl = 0;
  for (size_t j = 3; j < a->argc; j++) {
    const char *opt = (const char *)a->argv[j];
    size_t n = a->argl[j];
    if (n == 2 && !strncasecmp(opt, "nx", 2)) fl |= X_NX;
    else if (n == 2 && !strncasecmp(opt, "xx", 2)) fl |= X_XX;
    else if (n == 2 && !strncasecmp(opt, "gt", 2)) fl |= X_GT;
    else if (n == 2 && !strncasecmp(opt, "lt", 2)) fl |= X_LT;
    else {
      char msg[96];
      snprintf(msg, sizeof msg, "ERR Unsupported option %.*s", (int)(n > 64 ? 64 : n), opt);
      dyna_resp_put_error(resp, msg);
      return 0;
    }
  }
  if ((fl & X_NX) && (fl & (X_XX | X_GT | X_LT))) {
    dyna_resp_put_error(resp, "ERR NX and XX, GT or LT options at the same time are not compatible");
    return 0;
  }
  if ((fl & X_GT) && (fl & X_LT)) {
    dyna_resp_put_error(resp, "ERR GT and LT options at the same time are not compatible");
    return 0;
  }
  int64_t when;
  if (dyna_typed_parse_i64(a->argv[2], a->argl[2], &when)) {
    dyna_resp_put_error(resp, DYNA_TYPED_NOT_INT);
    return 0;
  }
  if (seconds) {
    if (when > INT64_MAX / 1000 || when < INT64_MIN / 1000) {
      err_expire_time(resp, cmd);
      return 0;
    }
    when *= 1000;
  }
  int64_t base = absolute ? 0 : (int64_t)env->now_ms;
  if (when > INT64_MAX - base) {
    err_expire_time(resp, cmd);
    return 0;
  }
  when += base;
  if (dyna_obj_kind(o, env->now_ms) == DYNA_KIND_NONE) {
    dyna_resp_put_int(resp, 0);
    return 0;
  }
  uint64_t cur;
  int has = dyna_obj_deadline(o, &cur);
  if (((fl & X_NX) && has) || ((fl & X_XX) && !has) ||
      ((fl & X_GT) && (!has || when <= (int64_t)cur)) ||
      ((fl & X_LT) && has && when >= (int64_t)cur)) {
    dyna_resp_put_int(resp, 0);
    return 0;
  }
  int rc = when <= (int64_t)env->now_ms ? delete_key(o, env) : set_deadline(o, env, (uint64_t)when);
  if (rc) return dyna_typed_error(rc, resp);
  *changed = 1;
  dyna_resp_put_int(resp, 1);
  return 0;
}

static int cmd_expire(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                      dyna_buf_t *resp, int *changed) {
  return expire_generic(o, a, env, resp, changed, 1, 0, "expire");
}
static int cmd_pexpire(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                       dyna_buf_t *resp, int *changed) {
  return expire_generic(o, a, env, resp, changed, 0, 0, "pexpire");
}
static int cmd_expireat(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                        dyna_buf_t *resp, int *changed) {
  return expire_generic(o, a, env, resp, changed, 1, 1, "expireat");
}
static int cmd_pexpireat(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                         dyna_buf_t *resp, int *changed) {
  return expire_generic(o, a, env, resp, changed, 0, 1, "pexpireat");
}

/* ---- TTL PTTL EXPIRETIME PEXPIRETIME PERSIST ------------------------------------ */

static void ttl_generic(const dyna_obj_t *o, const dyna_tenv_t *env, dyna_buf_t *resp, int ms,
                        int absolute) {
  uint64_t d;
  if (dyna_obj_kind(o, env->now_ms) == DYNA_KIND_NONE) {
    dyna_resp_put_int(resp, -2);
    return;
  }
  if (!dyna_obj_deadline(o, &d)) {
    dyna_resp_put_int(resp, -1);
    return;
  }
  int64_t t = absolute ? (int64_t)d : (int64_t)(d - env->now_ms); /* d > now: not expired */
  dyna_resp_put_int(resp, ms ? t : (t + 500) / 1000);
}

static int cmd_ttl(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                   dyna_buf_t *resp) {
  (void)a;
  ttl_generic(o, env, resp, 0, 0);
  return 0;
}
static int cmd_pttl(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                    dyna_buf_t *resp) {
  (void)a;
  ttl_generic(o, env, resp, 1, 0);
  return 0;
}
static int cmd_expiretime(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                          dyna_buf_t *resp) {
  (void)a;
  ttl_generic(o, env, resp, 0, 1);
  return 0;
}
static int cmd_pexpiretime(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                           dyna_buf_t *resp) {
  (void)a;
  ttl_generic(o, env, resp, 1, 1);
  return 0;
}

static int cmd_persist(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                       dyna_buf_t *resp, int *changed) {
  (void)a;
  *changed = 0;
  uint64_t d;
  if (dyna_obj_kind(o, env->now_ms) == DYNA_KIND_NONE || !dyna_obj_deadline(o, &d)) {
    dyna_resp_put_int(resp, 0);
    return 0;
  }
  int rc = set_deadline(o, env, 0);
  if (rc) return dyna_typed_error(rc, resp);
  *changed = 1;
  dyna_resp_put_int(resp, 1);
  return 0;
}

/* ---- TYPE, OBJECT ------------------------------------------------------------------ */

static int cmd_type(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                    dyna_buf_t *resp) {
  (void)a;
  static const char *const names[] = {"none", "string", "string", "set", "hash", "zset", "list"};
  dyna_resp_put_simple(resp, names[dyna_obj_kind(o, env->now_ms)]);
  return 0;
}

/* Redis 7.0's thresholds for its compact encodings (redis.conf defaults). */
#define ENC_STR_EMBSTR 44u
#define ENC_INTSET_MAX 512u
#define ENC_LISTPACK_MAX 128u
#define ENC_LISTPACK_VALUE 64u

static int is_int(const uint8_t *p, size_t n) {
  int64_t v;
  return dyna_typed_parse_i64(p, n, &v) == 0;
}

/* The encoding Redis 7.0 would report for a key of this shape (docs/compatibility.md).
 * NULL when the key is absent. */
static const char *encoding(const dyna_obj_t *o, const dyna_tenv_t *env) {
  dyna_kind_t k = dyna_obj_kind(o, env->now_ms);
  const dyna_crdt_t *s = NULL;
  const dyna_crdt_elem_t *e;
  size_t cur = 0, n;
  switch (k) {
  case DYNA_KIND_NONE: return NULL;
  case DYNA_KIND_STRING: {
    const dyna_val_t *v = dyna_obj_latest(o);
    return is_int(v->data, v->len) ? "int" : v->len <= ENC_STR_EMBSTR ? "embstr" : "raw";
  }
  case DYNA_KIND_COUNTER: {
    int64_t i;
    double d = 0.0;
    dyna_crdt_counter_get(dyna_obj_typed(o, DYNA_CRDT_COUNTER), &i, &d);
    return d == 0.0 ? "int" : "embstr";
  }
  case DYNA_KIND_SET:
    s = dyna_obj_typed(o, DYNA_CRDT_SET);
    if (dyna_crdt_count(s) > ENC_INTSET_MAX) return "hashtable";
    while ((e = dyna_crdt_next(s, &cur)))
      if (!is_int(e->key, e->klen)) return "hashtable";
    return "intset";
  case DYNA_KIND_HASH:
    s = dyna_obj_typed(o, DYNA_CRDT_HASH);
    if (dyna_crdt_count(s) > ENC_LISTPACK_MAX) return "hashtable";
    while ((e = dyna_crdt_next(s, &cur))) {
      dyna_crdt_hval_t hv;
      n = dyna_crdt_hget(s, e->key, e->klen, &hv) == 0 && hv.kind == DYNA_CRDT_HV_BYTES ? hv.len : 0;
      if (e->klen > ENC_LISTPACK_VALUE || n > ENC_LISTPACK_VALUE) return "hashtable";
    }
    return "listpack";
  case DYNA_KIND_ZSET:
    s = dyna_obj_typed(o, DYNA_CRDT_ZSET);
    if (dyna_crdt_count(s) > ENC_LISTPACK_MAX) return "skiplist";
    while ((e = dyna_crdt_next(s, &cur)))
      if (e->klen > ENC_LISTPACK_VALUE) return "skiplist";
    return "listpack";
  case DYNA_KIND_LIST: return "quicklist";
  }
  return NULL;
}

static const char *const object_help[] = {
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "HELP",
    "    Prints this help.",
};

/* OBJECT ENCODING key | OBJECT HELP: argv[1] is the subcommand, argv[2] the key. */
static int cmd_object(const dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                      dyna_buf_t *resp) {
  const char *sub = (const char *)a->argv[1];
  size_t n = a->argl[1];
  if (n == 4 && !strncasecmp(sub, "help", 4) && a->argc == 2) {
    size_t lines = sizeof object_help / sizeof object_help[0];
    dyna_resp_put_array(resp, lines);
    for (size_t i = 0; i < lines; i++) dyna_resp_put_simple(resp, object_help[i]);
    return 0;
  }
  char msg[160];
  if (n == 8 && !strncasecmp(sub, "encoding", 8)) {
    if (a->argc != 3) {
      dyna_resp_put_error(resp, "ERR wrong number of arguments for 'object|encoding' command");
      return 0;
    }
    const char *enc = encoding(o, env);
    if (enc) dyna_resp_put_bulk_str(resp, enc);
    else dyna_resp_put_null(resp, env->proto);
    return 0;
  }
  if (n == 4 && !strncasecmp(sub, "help", 4)) {
    dyna_resp_put_error(resp, "ERR wrong number of arguments for 'object|help' command");
    return 0;
  }
  snprintf(msg, sizeof msg, "ERR unknown subcommand '%.*s'. Try OBJECT HELP.",
           (int)(n > 64 ? 64 : n), sub);
  dyna_resp_put_error(resp, msg);
  return 0;
}

/* ---- GETEX ------------------------------------------------------------------------- */

enum { GX_NONE, GX_EX, GX_PX, GX_EXAT, GX_PXAT, GX_PERSIST };

static int cmd_getex(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                     dyna_buf_t *resp, int *changed) {
  *changed = 0;
  static const char *const opts[] = {"", "ex", "px", "exat", "pxat", "persist"};
  int mode = GX_NONE;
  size_t valarg = 0;
  for (size_t j = 2; j < a->argc; j++) {
    int m = GX_NONE;
    for (int k = GX_EX; k <= GX_PERSIST; k++)
      if (a->argl[j] == strlen(opts[k]) && !strncasecmp((const char *)a->argv[j], opts[k], a->argl[j]))
        m = k;
    int takes = m != GX_PERSIST;
    if (m == GX_NONE || (mode != GX_NONE && mode != m) || (takes && j + 1 >= a->argc)) {
      dyna_resp_put_error(resp, DYNA_TYPED_SYNTAX);
      return 0;
    }
    mode = m;
    if (takes) valarg = ++j;
  }
  dyna_kind_t k = dyna_obj_kind(o, env->now_ms);
  if (k == DYNA_KIND_NONE) {
    dyna_resp_put_null(resp, env->proto);
    return 0;
  }
  if (k != DYNA_KIND_STRING && k != DYNA_KIND_COUNTER) {
    dyna_resp_put_error(resp, DYNA_TYPED_WRONGTYPE);
    return 0;
  }
  int64_t when = 0;
  if (valarg) {
    if (dyna_typed_parse_i64(a->argv[valarg], a->argl[valarg], &when)) {
      dyna_resp_put_error(resp, DYNA_TYPED_NOT_INT);
      return 0;
    }
    int secs = mode == GX_EX || mode == GX_EXAT;
    int64_t base = mode == GX_EX || mode == GX_PX ? (int64_t)env->now_ms : 0;
    if (when <= 0 || (secs && when > INT64_MAX / 1000)) {
      err_expire_time(resp, "getex");
      return 0;
    }
    if (secs) when *= 1000;
    if (when > INT64_MAX - base) {
      err_expire_time(resp, "getex");
      return 0;
    }
    when += base;
  }
  uint64_t d;
  int rc = 0;
  size_t mark = resp->len;
  dyna_typed_get(o, env, resp);
  if ((mode == GX_EXAT || mode == GX_PXAT) && when <= (int64_t)env->now_ms) rc = delete_key(o, env);
  else if (valarg) rc = set_deadline(o, env, (uint64_t)when);
  else if (mode == GX_PERSIST && dyna_obj_deadline(o, &d)) rc = set_deadline(o, env, 0);
  else return 0;
  if (rc) {
    resp->len = mark;
    return dyna_typed_error(rc, resp);
  }
  *changed = 1;
  return 0;
}

const dyna_typed_cmd_t dyna_typed_keys_cmds[] = {
    {"expire", cmd_expire, NULL, -3},
    {"pexpire", cmd_pexpire, NULL, -3},
    {"expireat", cmd_expireat, NULL, -3},
    {"pexpireat", cmd_pexpireat, NULL, -3},
    {"persist", cmd_persist, NULL, 2},
    {"getex", cmd_getex, NULL, -2},
    {"ttl", NULL, cmd_ttl, 2},
    {"pttl", NULL, cmd_pttl, 2},
    {"expiretime", NULL, cmd_expiretime, 2},
    {"pexpiretime", NULL, cmd_pexpiretime, 2},
    {"type", NULL, cmd_type, 2},
    {"object", NULL, cmd_object, -2},
    {0},
};
