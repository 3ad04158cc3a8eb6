/* batch.c: a transaction's commands run at their coordinator, and its replicated
 * objects applied at a replica (batch.h). The string commands a transaction may hold
 * are written here over the object (the register), as the typed families are in
 * typed_*.c: outside a transaction the runtime runs them as quorum reads and blind or
 * context writes (runtime/cmd_string.c); inside, they read and write the coordinator's
 * local object, like a typed write does.
 *
 * Every command works on the cache of its keys' objects, so a later command sees what
 * an earlier one wrote. A register write makes a new version with the partition's actor
 * over everything the coordinator knows (as a blind SET does) and supersedes every typed
 * state and the expiry (dyna_obj_supersede); it works on a copy installed only on
 * success, as the typed writes do, so a command that fails changes nothing. Pure. */
#include "core/batch.h"
#include "core/node_int.h"
#include "core/replica.h"
#include "core/typed.h"
#include "proto/resp.h"
#include "proto/wire.h"
#include "proto/words.h"
#include "util/alloc.h"
#include "util/assert.h"
#include "util/keyhash.h"
#include "util/err.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---------- encodings ---------- */

void dyna_batch_put_cmd(dyna_buf_t *cmds, size_t argc, const uint8_t *const *argv, const size_t *argl) {
  dyna_buf_t one = DYNA_BUF_INIT;
  dyna_wire_put_args(&one, argc, argv, argl);
  if (one.oom) cmds->oom = 1;
  dyna_buf_put_varint(cmds, one.len);
  dyna_buf_put(cmds, one.data, one.len);
  dyna_buf_free(&one);
}

void dyna_batch_finish(dyna_buf_t *out, size_t n, const dyna_buf_t *cmds) {
  dyna_buf_put_varint(out, n);
  dyna_buf_put(out, cmds->data, cmds->len);
  if (cmds->oom) out->oom = 1;
}

/* Decodes an argument list into newly allocated arrays (*argv, *argl: the caller frees
 * both; they point into p). Returns argc (0: malformed, or max exceeded) or -1 when
 * memory is short. */
static long get_list(const uint8_t *p, size_t len, size_t max, const uint8_t ***argv, size_t **argl) {
  size_t argc = dyna_wire_args_count(p, len);
  *argv = NULL;
  *argl = NULL;
  if (!argc || argc > max) return 0;
  *argv = dyna_malloc(argc * sizeof(**argv));
  *argl = dyna_malloc(argc * sizeof(**argl));
  if (!*argv || !*argl) return -1;
  if (dyna_wire_get_args(p, len, argc, *argv, *argl)) return 0;
  return (long)argc;
}

/* ---------- the run: a cache of the keys' objects ---------- */

typedef struct item {
  const uint8_t *key; /* borrowed from the commands' encoding */
  size_t klen;
  dyna_obj_t obj;
  int changed;
} item_t;

typedef struct run {
  dyna_node_t *n;
  dyna_replica_t rep;
  uint32_t part;
  dyna_tenv_t env;
  size_t max_value;
  item_t *it;
  size_t nit, cap;
  int err; /* fatal: the whole batch fails (no answer is sent) */
} run_t;

/* The cached object of key (read from the local store on first use); NULL with
 * r->err set when it cannot be had. */
static item_t *item_of(run_t *r, const uint8_t *key, size_t klen) {
  for (size_t i = 0; i < r->nit; i++)
    if (r->it[i].klen == klen && !memcmp(r->it[i].key, key, klen)) return &r->it[i];
  if (!klen || klen > DYNA_MAX_KEY_BYTES) { r->err = DYNA_EPROTO; return NULL; }
  if (dyna_node_partition(r->n, key, klen) != r->part) { r->err = DYNA_EINVAL; return NULL; }
  if (r->nit == DYNA_BATCH_MAX_KEYS) { r->err = DYNA_ETOOBIG; return NULL; }
  if (r->nit == r->cap) {
    size_t cap = r->cap ? 2 * r->cap : 8;
    item_t *g = dyna_realloc(r->it, cap * sizeof(*g));
    if (!g) { r->err = DYNA_ENOMEM; return NULL; }
    r->it = g;
    r->cap = cap;
  }
  item_t *t = &r->it[r->nit];
  memset(t, 0, sizeof(*t));
  t->key = key;
  t->klen = klen;
  dyna_obj_init(&t->obj);
  int rc = dyna_replica_read(&r->rep, key, klen, &t->obj);
  if (rc) { dyna_obj_clear(&t->obj); r->err = rc; return NULL; }
  r->nit++;
  return t;
}

static void run_clear(run_t *r) {
  for (size_t i = 0; i < r->nit; i++) dyna_obj_clear(&r->it[i].obj);
  dyna_free(r->it);
  r->it = NULL;
  r->nit = r->cap = 0;
}

/* ---------- the string commands ---------- */

typedef struct sargs {
  size_t argc;
  const uint8_t *const *argv;
  const size_t *argl;
} sargs_t;

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
  dyna_ctx_t known;
  dyna_ctx_init(&known);
  int existed = dyna_obj_kind(&t->obj, r->env.now_ms) != DYNA_KIND_NONE;
  dyna_val_t val = {del ? DYNA_VAL_TOMBSTONE : 0, r->env.now_ms, (uint8_t *)v, del ? 0 : vlen};
  int rc = dyna_obj_copy(&o, &t->obj);
  if (!rc) rc = dyna_obj_context(&o, &known);
  if (!rc) rc = dyna_obj_update(&o, &known, r->env.actor, &val);
  if (!rc) rc = dyna_obj_supersede(&o, r->env.actor, keep_ttl && existed ? DYNA_OBJ_KEEP_TTL : 0);
  if (!rc && deadline) rc = dyna_obj_set_deadline(&o, r->env.actor, deadline);
  if (!rc) {
    dyna_obj_clear(&t->obj);
    t->obj = o;
    dyna_obj_init(&o);
    t->changed = 1;
  }
  dyna_obj_clear(&o);
  dyna_ctx_clear(&known);
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
  item_t *t = item_of(r, a->argv[1], a->argl[1]);
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
  else if (opt & O_GET) kind == DYNA_KIND_NONE ? dyna_resp_put_nil(resp) : dyna_resp_put_bulk(resp, old.data, old.len);
  else if (write) dyna_resp_put_simple(resp, "OK");
  else dyna_resp_put_nil(resp);
  if (old.oom) r->err = DYNA_ENOMEM;
  dyna_buf_free(&old);
}

/* GET SETNX GETSET GETDEL STRLEN APPEND: one key, its value read first. */
enum { S_GET = 1, S_SETNX, S_GETSET, S_GETDEL, S_STRLEN, S_APPEND };

static void cmd_one(run_t *r, const sargs_t *a, int code, dyna_buf_t *resp) {
  if ((code == S_SETNX || code == S_GETSET) && too_big(r, a->argl[2], resp)) return;
  item_t *t = item_of(r, a->argv[1], a->argl[1]);
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
    if (!rc && absent) dyna_resp_put_nil(resp);
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
    item_t *t = item_of(r, a->argv[i], a->argl[i]);
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
      else dyna_resp_put_nil(resp);
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

/* The typed command named name: the node's extra ones (tests), then the families. */
static const dyna_typed_cmd_t *typed_find(const dyna_node_t *n, const uint8_t *name, size_t len) {
  for (const dyna_typed_cmd_t *c = n->cfg.typed_extra; c && c->name; c++)
    if (strlen(c->name) == len && !strncasecmp(c->name, (const char *)name, len)) return c;
  return dyna_typed_find(name, len);
}

static void put_arity_error(const char *name, dyna_buf_t *resp) {
  char line[128];
  snprintf(line, sizeof(line), DYNA_WORD_ERR " wrong number of arguments for '%s' command", name);
  dyna_resp_put_error(resp, line);
}

/* Runs one command, appending its answer (or setting r->err). */
static void run_one(run_t *r, const sargs_t *a, dyna_buf_t *resp) {
  const scmd_t *s = scmd_find(a->argv[0], a->argl[0]);
  if (s) {
    if (!dyna_typed_arity_ok(&(dyna_typed_cmd_t){.arity = s->arity}, a->argc)) { put_arity_error(s->name, resp); return; }
    if (s->code == -1) {
      if (a->argc > 2) put_arity_error("ping", resp);
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
    return;
  }
  const dyna_typed_cmd_t *c = typed_find(r->n, a->argv[0], a->argl[0]);
  if (!c || (!c->write && !c->read)) {
    char line[160];
    snprintf(line, sizeof(line), DYNA_WORD_ERR " the command '%.*s' cannot run in a transaction here",
             (int)(a->argl[0] > 64 ? 64 : a->argl[0]), (const char *)a->argv[0]);
    dyna_resp_put_error(resp, line); /* CR/LF become spaces */
    return;
  }
  if (!dyna_typed_arity_ok(c, a->argc)) { put_arity_error(c->name, resp); return; }
  /* The key: argument 1; OBJECT's is its argument 2 (OBJECT HELP has none). */
  size_t kp = strcmp(c->name, "object") ? 1 : 2;
  dyna_obj_t none;
  dyna_obj_init(&none);
  item_t *t = kp < a->argc ? item_of(r, a->argv[kp], a->argl[kp]) : NULL;
  if (r->err) return;
  dyna_targs_t ta = {a->argc, a->argv, a->argl};
  size_t mark = resp->len;
  int rc;
  dyna_typed_write_fn apply = c->write; /* pure: the command over the object */
  dyna_typed_read_fn look = c->read;
  if (apply) {
    int changed = 0;
    r->env.actor = r->rep.actor;
    rc = apply(t ? &t->obj : &none, &ta, &r->env, resp, &changed);
    if (!rc && changed && t) t->changed = 1;
  } else {
    rc = look(t ? &t->obj : &none, &ta, &r->env, resp);
  }
  dyna_obj_clear(&none);
  if (rc || resp->oom) {
    resp->len = mark;
    r->err = DYNA_ENOMEM;
  }
}

/* ---------- the coordinator ---------- */

/* payload := [key, object] of every changed item; fails with DYNA_ETOOBIG past a frame. */
static int make_payload(const run_t *r, dyna_buf_t *payload) {
  size_t m = 0;
  for (size_t i = 0; i < r->nit; i++) m += r->it[i].changed;
  if (!m) return 0;
  const uint8_t **argv = dyna_malloc(2 * m * sizeof(*argv));
  size_t *argl = dyna_malloc(2 * m * sizeof(*argl));
  dyna_buf_t *enc = dyna_calloc(m, sizeof(*enc));
  int rc = argv && argl && enc ? 0 : DYNA_ENOMEM;
  size_t j = 0, total = 0;
  for (size_t i = 0; i < r->nit && !rc; i++) {
    if (!r->it[i].changed) continue;
    dyna_obj_encode(&r->it[i].obj, &enc[j]);
    if (enc[j].oom) rc = DYNA_ENOMEM;
    argv[2 * j] = r->it[i].key;
    argl[2 * j] = r->it[i].klen;
    argv[2 * j + 1] = enc[j].data;
    argl[2 * j + 1] = enc[j].len;
    total += r->it[i].klen + enc[j].len;
    j++;
  }
  if (!rc && total > DYNA_WIRE_MAX_FRAME - (1u << 20)) rc = DYNA_ETOOBIG;
  if (!rc) {
    dyna_wire_put_args(payload, 2 * m, argv, argl);
    if (payload->oom) rc = DYNA_ENOMEM;
  }
  for (size_t i = 0; enc && i < m; i++) dyna_buf_free(&enc[i]);
  dyna_free(enc);
  dyna_free(argv);
  dyna_free(argl);
  return rc;
}

/* Stores every changed item (the first changed key first: it names the payload). */
static int store_changed(run_t *r, uint64_t hint_owner) {
  size_t m = 0;
  for (size_t i = 0; i < r->nit; i++) m += r->it[i].changed;
  if (!m) return 0;
  const uint8_t **keys = dyna_malloc(m * sizeof(*keys));
  size_t *kl = dyna_malloc(m * sizeof(*kl));
  dyna_obj_t *objs = dyna_malloc(m * sizeof(*objs));
  int rc = keys && kl && objs ? 0 : DYNA_ENOMEM;
  for (size_t i = 0, j = 0; i < r->nit && !rc; i++) {
    if (!r->it[i].changed) continue;
    keys[j] = r->it[i].key;
    kl[j] = r->it[i].klen;
    objs[j++] = r->it[i].obj; /* a shallow view: write_batch only reads it */
  }
  size_t nw = 0;
  if (!rc) rc = dyna_replica_write_batch(&r->rep, m, keys, kl, objs, 0, hint_owner, &nw);
  dyna_free(keys);
  dyna_free(kl);
  dyna_free(objs);
  return rc;
}

int dyna_batch_coordinate(dyna_node_t *n, const uint8_t *key, size_t klen, const uint8_t *blob, size_t len,
                          uint64_t hint_owner, dyna_buf_t *resp, dyna_buf_t *payload) {
  run_t r;
  memset(&r, 0, sizeof(r));
  r.n = n;
  r.part = dyna_node_partition(n, key, klen);
  dyna_node_replica(n, r.part, &r.rep);
  /* env: the value stamp as the wall clock (never backwards on this node), the PRNG. */
  r.env.now_ms = dyna_node_stamp(n);
  r.env.rand = dyna_node_rand(n);
  r.env.actor = r.rep.actor;
  r.max_value = n->cfg.max_value_bytes;
  const uint8_t **cv = NULL;
  size_t *cl = NULL;
  long nc = len <= DYNA_BATCH_MAX_BYTES ? get_list(blob, len, DYNA_BATCH_MAX_CMDS, &cv, &cl) : 0;
  size_t mark = resp->len;
  if (nc < 0) r.err = DYNA_ENOMEM;
  else if (nc == 0) r.err = DYNA_EPROTO;
  for (long i = 0; i < nc && !r.err; i++) {
    const uint8_t **av = NULL;
    size_t *al = NULL;
    long ac = get_list(cv[i], cl[i], DYNA_BATCH_MAX_BYTES, &av, &al);
    if (ac < 0) r.err = DYNA_ENOMEM;
    else if (ac == 0) r.err = DYNA_EPROTO;
    if (!r.err) {
      sargs_t a = {(size_t)ac, av, al};
      run_one(&r, &a, resp);
    }
    dyna_free(av);
    dyna_free(al);
  }
  if (!r.err && resp->oom) r.err = DYNA_ENOMEM;
  if (!r.err) r.err = make_payload(&r, payload);
  if (!r.err) r.err = store_changed(&r, hint_owner);
  if (r.err) {
    resp->len = mark;
    dyna_buf_reset(payload);
  }
  int rc = r.err;
  run_clear(&r);
  dyna_free(cv);
  dyna_free(cl);
  return rc;
}

/* ---------- a replica ---------- */

int dyna_batch_apply(dyna_node_t *n, const uint8_t *key, size_t klen, const uint8_t *payload, size_t len,
                     uint64_t hint_owner, int *changed) {
  *changed = 0;
  const uint8_t **av = NULL;
  size_t *al = NULL;
  long ac = get_list(payload, len, 2 * DYNA_BATCH_MAX_KEYS, &av, &al);
  int rc = ac < 0 ? DYNA_ENOMEM : ac == 0 || ac % 2 ? DYNA_EPROTO : 0;
  size_t m = rc ? 0 : (size_t)ac / 2;
  const uint8_t **keys = m ? dyna_malloc(m * sizeof(*keys)) : NULL;
  size_t *kl = m ? dyna_malloc(m * sizeof(*kl)) : NULL;
  dyna_obj_t *objs = m ? dyna_calloc(m, sizeof(*objs)) : NULL;
  if (m && (!keys || !kl || !objs)) rc = DYNA_ENOMEM;
  uint32_t part = dyna_node_partition(n, key, klen);
  size_t ndec = 0;
  /* Everything is checked and decoded before anything is written. */
  if (!rc && (al[0] != klen || memcmp(av[0], key, klen))) rc = DYNA_EPROTO;
  for (size_t i = 0; i < m && !rc; i++) {
    keys[i] = av[2 * i];
    kl[i] = al[2 * i];
    if (!kl[i] || kl[i] > DYNA_MAX_KEY_BYTES || dyna_node_partition(n, keys[i], kl[i]) != part) rc = DYNA_EPROTO;
    for (size_t j = 0; j < i && !rc; j++)
      if (kl[j] == kl[i] && !memcmp(keys[j], keys[i], kl[i])) rc = DYNA_EPROTO;
    dyna_obj_init(&objs[i]);
    ndec++;
    if (!rc && dyna_obj_decode(av[2 * i + 1], al[2 * i + 1], &objs[i])) rc = DYNA_EPROTO;
  }
  if (!rc) {
    dyna_replica_t rep;
    dyna_node_replica(n, part, &rep);
    size_t nw = 0;
    if (n->cfg.bugs & DYNA_BUG_OVERWRITE) {
      for (size_t i = 0; i < m && !rc; i++) rc = dyna_replica_overwrite(&rep, keys[i], kl[i], &objs[i]);
      nw = m;
    } else {
      rc = dyna_replica_write_batch(&rep, m, keys, kl, objs, 1, hint_owner, &nw);
    }
    *changed = !rc && nw > 0;
  }
  for (size_t i = 0; i < ndec; i++) dyna_obj_clear(&objs[i]);
  dyna_free(objs);
  dyna_free(keys);
  dyna_free(kl);
  dyna_free(av);
  dyna_free(al);
  return rc;
}
