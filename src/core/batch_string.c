/* batch_string.c: the string commands a transaction may hold (core/batch.h), over the
 * register of the run's cached objects (batch_int.h): GET SET SETEX PSETEX SETNX GETSET
 * GETDEL STRLEN APPEND DEL EXISTS MGET MSET, and PING ECHO UNWATCH. Outside a transaction
 * the runtime runs them as quorum reads and blind or context writes
 * (runtime/cmd_string.c); inside, they read and write the coordinator's local object,
 * as a typed write does, and a later command sees what an earlier one wrote.
 *
 * A register write makes a new version with the partition's actor over everything the
 * coordinator knows (as a blind SET does) and supersedes every typed state and the expiry
 * (dyna_obj_supersede); it works on a copy installed only on success, as the typed
 * writes do, so a command that fails changes nothing. Errors are Redis 7's words, as the
 * command's element of EXEC's answer. Pure. */
#include "core/batch.h"
#include "core/batch_int.h"
#include "proto/resp.h"
#include "proto/words.h"
#include "util/assert.h"
#include "util/err.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int arg_is(const sargs_t *a, size_t i, const char *w) {
  size_t n = strlen(w);
  return a->argl[i] == n && strncasecmp((const char *)a->argv[i], w, n) == 0;
}

/* The key's value as a string command sees it: *kind, and the bytes (of a string, or a
 * counter's number) appended to val. */
static void value_of(run_t *r, const item_t *t, dyna_kind_t *kind, dyna_buf_t *val) {
  *kind = dyna_obj_kind(&t->obj, r->env.now_ms);
  if (*kind != DYNA_KIND_STRING && *kind != DYNA_KIND_COUNTER) return;
  dyna_buf_t tmp = DYNA_BUF_INIT; /* "$len\r\n" bytes "\r\n" */
  dyna_typed_get(&t->obj, &r->env, &tmp);
  size_t i = 1, len = 0;
  while (i < tmp.len && tmp.data[i] != '\r') len = len * 10 + (size_t)(tmp.data[i++] - '0');
  if (!tmp.oom && tmp.len >= i + 2 + len && tmp.data[0] == '$') dyna_buf_put(val, tmp.data + i + 2, len);
  else val->oom = 1;
  dyna_buf_free(&tmp);
}

/* A register write on t: a value (or a tombstone when del), over everything known. */
static int reg_write(run_t *r, item_t *t, const uint8_t *v, size_t vlen, int del, int keep_ttl, uint64_t deadline) {
  dyna_obj_t o;
  dyna_obj_init(&o);
  int existed = dyna_obj_kind(&t->obj, r->env.now_ms) != DYNA_KIND_NONE;
  dyna_val_t val = {del ? DYNA_VAL_TOMBSTONE : 0, dyna_tenv_stamp(&r->env), (uint8_t *)v, del ? 0 : vlen};
  int rc = dyna_obj_copy(&o, &t->obj);
  if (!rc) rc = dyna_obj_update_blind(&o, r->env.actor, &val);
  if (!rc) rc = dyna_obj_supersede(&o, r->env.actor, r->env.now_ms, keep_ttl && existed ? DYNA_OBJ_KEEP_TTL : 0);
  if (!rc && deadline) rc = dyna_obj_set_deadline(&o, r->env.actor, deadline);
  if (!rc) {
    dyna_obj_clear(&t->obj);
    t->obj = o;
    dyna_obj_init(&o);
    t->changed = 1;
  }
  dyna_obj_clear(&o);
  return rc;
}

/* Answers a failed register write: its error in the command's place (nothing changed),
 * or a fatal one for the batch. */
static void put_write_error(run_t *r, int rc, dyna_buf_t *resp) {
  if (rc == DYNA_ENOMEM) r->err = rc;
  else if (dyna_typed_error(rc, resp)) r->err = DYNA_ENOMEM;
}

static int too_big(run_t *r, size_t vlen, dyna_buf_t *resp) {
  if (vlen <= r->max_value) return 0;
  char line[96];
  snprintf(line, sizeof(line), DYNA_WORD_TOOBIG " value is %zu bytes, limit is %zu", vlen, r->max_value);
  dyna_resp_put_error(resp, line);
  return 1;
}

/* Argument i as a positive 64-bit integer (Redis's string2ll, then > 0); -1 if not. */
static int parse_pos(const sargs_t *a, size_t i, int64_t *out) {
  if (dyna_typed_parse_i64(a->argv[i], a->argl[i], out)) return -1;
  return 0;
}

enum { O_NX = 1, O_XX = 2, O_GET = 4, O_KEEPTTL = 8, O_EX = 16, O_PX = 32, O_EXAT = 64, O_PXAT = 128 };
#define O_EXPIRY (O_EX | O_PX | O_EXAT | O_PXAT)

/* SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL], Redis 7's rules;
 * name is the command the client sent (SETEX and PSETEX come here as SET ... EX|PX). */
static void cmd_set(run_t *r, const sargs_t *a, const char *name, dyna_buf_t *resp) {
  static const char *const ex[] = {"EX", "PX", "EXAT", "PXAT"};
  static const unsigned bits[] = {O_EX, O_PX, O_EXAT, O_PXAT};
  unsigned opt = 0;
  size_t ea = 0;
  for (size_t i = 3; i < a->argc; i++) {
    if (arg_is(a, i, "NX") && !(opt & O_XX)) { opt |= O_NX; continue; }
    if (arg_is(a, i, "XX") && !(opt & O_NX)) { opt |= O_XX; continue; }
    if (arg_is(a, i, "GET")) { opt |= O_GET; continue; }
    if (arg_is(a, i, "KEEPTTL") && !(opt & O_EXPIRY)) { opt |= O_KEEPTTL; continue; }
    size_t k = 0;
    while (k < 4 && !arg_is(a, i, ex[k])) k++;
    if (k < 4 && !(opt & (O_KEEPTTL | (O_EXPIRY & ~bits[k]))) && i + 1 < a->argc) {
      opt |= bits[k];
      ea = ++i;
      continue;
    }
    dyna_resp_put_error(resp, DYNA_TYPED_SYNTAX);
    return;
  }
  uint64_t when = 0;
  if (ea) {
    int64_t v;
    int secs = (opt & (O_EX | O_EXAT)) != 0, rel = (opt & (O_EX | O_PX)) != 0;
    int64_t base = rel ? (int64_t)r->env.now_ms : 0;
    if (parse_pos(a, ea, &v)) { dyna_resp_put_error(resp, DYNA_TYPED_NOT_INT); return; }
    if (v <= 0 || (secs && v > INT64_MAX / 1000) || (secs ? v * 1000 : v) > INT64_MAX - base) {
      char line[80];
      snprintf(line, sizeof(line), DYNA_WORD_ERR " invalid expire time in '%s' command", name);
      dyna_resp_put_error(resp, line);
      return;
    }
    when = (uint64_t)((secs ? v * 1000 : v) + base);
  }
  if (too_big(r, a->argl[2], resp)) return;
  item_t *t = dyna_batch_item(r, a->argv[1], a->argl[1]);
  if (!t) return;
  dyna_kind_t kind;
  dyna_buf_t old = DYNA_BUF_INIT;
  value_of(r, t, &kind, &old);
  if ((opt & O_GET) && kind != DYNA_KIND_NONE && kind != DYNA_KIND_STRING && kind != DYNA_KIND_COUNTER) {
    dyna_resp_put_error(resp, DYNA_TYPED_WRONGTYPE);
    dyna_buf_free(&old);
    return;
  }
  int write = (opt & O_NX) ? kind == DYNA_KIND_NONE : (opt & O_XX) ? kind != DYNA_KIND_NONE : 1;
  int rc = write ? reg_write(r, t, a->argv[2], a->argl[2], 0, (opt & O_KEEPTTL) != 0, when) : 0;
  if (rc) put_write_error(r, rc, resp);
  else if (opt & O_GET) kind == DYNA_KIND_NONE ? dyna_resp_put_null(resp, r->env.proto) : dyna_resp_put_bulk(resp, old.data, old.len);
  else if (write) dyna_resp_put_simple(resp, "OK");
  else dyna_resp_put_null(resp, r->env.proto);
  if (old.oom) r->err = DYNA_ENOMEM;
  dyna_buf_free(&old);
}

/* GET SETNX GETSET GETDEL STRLEN APPEND: one key, its value read first. */
enum { S_GET = 1, S_SETNX, S_GETSET, S_GETDEL, S_STRLEN, S_APPEND };

static void cmd_one(run_t *r, const sargs_t *a, int code, dyna_buf_t *resp) {
  if ((code == S_SETNX || code == S_GETSET) && too_big(r, a->argl[2], resp)) return;
  item_t *t = dyna_batch_item(r, a->argv[1], a->argl[1]);
  if (!t) return;
  dyna_kind_t kind;
  dyna_buf_t old = DYNA_BUF_INIT;
  value_of(r, t, &kind, &old);
  int absent = kind == DYNA_KIND_NONE, rc = 0;
  if (code != S_SETNX && !absent && kind != DYNA_KIND_STRING && kind != DYNA_KIND_COUNTER) {
    dyna_resp_put_error(resp, DYNA_TYPED_WRONGTYPE);
    dyna_buf_free(&old);
    return;
  }
  switch (code) {
  case S_GET: dyna_typed_get(&t->obj, &r->env, resp); break;
  case S_SETNX:
    if (absent) rc = reg_write(r, t, a->argv[2], a->argl[2], 0, 0, 0);
    if (!rc) dyna_resp_put_int(resp, absent);
    break;
  case S_GETSET:
  case S_GETDEL:
    if (code == S_GETSET) rc = reg_write(r, t, a->argv[2], a->argl[2], 0, 0, 0);
    else if (!absent) rc = reg_write(r, t, NULL, 0, 1, 0, 0);
    if (!rc && absent) dyna_resp_put_null(resp, r->env.proto);
    else if (!rc) dyna_resp_put_bulk(resp, old.data, old.len);
    break;
  case S_STRLEN: dyna_resp_put_int(resp, (int64_t)old.len); break;
  case S_APPEND:
    if (old.len + a->argl[2] > r->max_value) {
      dyna_resp_put_error(resp, DYNA_WORD_ERR " string exceeds maximum allowed size (proto-max-bulk-len)");
      break;
    }
    dyna_buf_put(&old, a->argv[2], a->argl[2]);
    if (!old.oom) rc = reg_write(r, t, old.data, old.len, 0, 1, 0);
    if (!rc) dyna_resp_put_int(resp, (int64_t)old.len);
    break;
  default: DYNA_ASSERT(0, "batch string command %d", code);
  }
  if (rc) put_write_error(r, rc, resp);
  if (old.oom) r->err = DYNA_ENOMEM;
  dyna_buf_free(&old);
}

/* DEL EXISTS MGET MSET: several keys (all of the batch's partition). */
enum { M_DEL = 1, M_EXISTS, M_MGET, M_MSET };

static void cmd_multi(run_t *r, const sargs_t *a, int code, dyna_buf_t *resp) {
  if (code == M_MSET) {
    if (a->argc % 2 == 0) { dyna_resp_put_error(resp, DYNA_WORD_ERR " wrong number of arguments for 'mset' command"); return; }
    for (size_t i = 2; i < a->argc; i += 2)
      if (too_big(r, a->argl[i], resp)) return;
  }
  int64_t count = 0;
  if (code == M_MGET) dyna_resp_put_array(resp, a->argc - 1);
  for (size_t i = 1; i < a->argc && !r->err; i += code == M_MSET ? 2 : 1) {
    item_t *t = dyna_batch_item(r, a->argv[i], a->argl[i]);
    if (!t) return;
    dyna_kind_t kind = dyna_obj_kind(&t->obj, r->env.now_ms);
    int rc = 0;
    switch (code) {
    case M_DEL:
      if (kind != DYNA_KIND_NONE) rc = reg_write(r, t, NULL, 0, 1, 0, 0);
      count += !rc && kind != DYNA_KIND_NONE;
      break;
    case M_EXISTS: count += kind != DYNA_KIND_NONE; break;
    case M_MGET:
      if (kind == DYNA_KIND_STRING || kind == DYNA_KIND_COUNTER) dyna_typed_get(&t->obj, &r->env, resp);
      else dyna_resp_put_null(resp, r->env.proto);
      break;
    default: rc = reg_write(r, t, a->argv[i + 1], a->argl[i + 1], 0, 0, 0); break;
    }
    if (rc) { r->err = rc == DYNA_ENOMEM ? rc : DYNA_ETOOBIG; return; } /* cannot answer half a DEL */
  }
  if (code == M_MSET) dyna_resp_put_simple(resp, "OK");
  else if (code != M_MGET) dyna_resp_put_int(resp, count);
}

typedef struct scmd {
  const char *name;
  int arity;
  int code;     /* S_* (one key), M_* + 100 (several), 0: SET, -1 PING, -2 ECHO, -3 UNWATCH,
                   -4 SETEX, -5 PSETEX */
} scmd_t;

static const scmd_t SCMDS[] = {
    {"get", 2, S_GET}, {"set", -3, 0}, {"setnx", 3, S_SETNX}, {"getset", 3, S_GETSET},
    {"getdel", 2, S_GETDEL}, {"strlen", 2, S_STRLEN}, {"append", 3, S_APPEND},
    {"del", -2, 100 + M_DEL}, {"exists", -2, 100 + M_EXISTS}, {"mget", -2, 100 + M_MGET},
    {"mset", -3, 100 + M_MSET}, {"ping", -1, -1}, {"echo", 2, -2}, {"unwatch", 1, -3},
    {"setex", 4, -4}, {"psetex", 4, -5},
};

static const scmd_t *scmd_find(const uint8_t *name, size_t len) {
  for (size_t i = 0; i < sizeof(SCMDS) / sizeof(SCMDS[0]); i++)
    if (strlen(SCMDS[i].name) == len && !strncasecmp(SCMDS[i].name, (const char *)name, len)) return &SCMDS[i];
  return NULL;
}

int dyna_batch_knows(const uint8_t *name, size_t len) { return scmd_find(name, len) != NULL; }

void dyna_batch_arity_error(const char *name, dyna_buf_t *resp) {
  char line[128];
  snprintf(line, sizeof(line), DYNA_WORD_ERR " wrong number of arguments for '%s' command", name);
  dyna_resp_put_error(resp, line);
}

int dyna_batch_run_string(run_t *r, const sargs_t *a, dyna_buf_t *resp) {
  const scmd_t *s = scmd_find(a->argv[0], a->argl[0]);
  if (!s) return 0;
  if (!dyna_typed_arity_ok(&(dyna_typed_cmd_t){.arity = s->arity}, a->argc)) {
    dyna_batch_arity_error(s->name, resp);
    return 1;
  }
  if (s->code == -1) {
    if (a->argc > 2) dyna_batch_arity_error("ping", resp);
    else if (a->argc == 2) dyna_resp_put_bulk(resp, a->argv[1], a->argl[1]);
    else dyna_resp_put_simple(resp, "PONG");
  } else if (s->code == -2) {
    dyna_resp_put_bulk(resp, a->argv[1], a->argl[1]);
  } else if (s->code == -3) { /* UNWATCH inside MULTI: EXEC forgets the watches anyway */
    dyna_resp_put_simple(resp, "OK");
  } else if (s->code == 0) {
    cmd_set(r, a, "set", resp);
  } else if (s->code <= -4) { /* SETEX key t value: SET key value EX|PX t */
    const uint8_t *v[5] = {a->argv[0], a->argv[1], a->argv[3], (const uint8_t *)(s->code == -4 ? "EX" : "PX"),
                           a->argv[2]};
    size_t l[5] = {a->argl[0], a->argl[1], a->argl[3], 2, a->argl[2]};
    sargs_t set = {5, v, l};
    cmd_set(r, &set, s->name, resp);
  } else if (s->code < 100) {
    cmd_one(r, a, s->code, resp);
  } else {
    cmd_multi(r, a, s->code - 100, resp);
  }
  return 1;
}
