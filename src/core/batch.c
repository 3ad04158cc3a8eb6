/* batch.c: a transaction's commands run at their coordinator, and its replicated
 * objects applied at a replica (batch.h). Every command works on a cache of its keys'
 * local objects (store + hints), so a later command sees what an earlier one wrote: the
 * string commands in batch_string.c, the typed ones through their families
 * (core/typed.h); then the changed objects are stored all or nothing and encoded as the
 * replication payload. A replica decodes and checks a whole payload before it writes any
 * of it. Pure. */
#include "core/batch.h"
#include "core/batch_int.h"
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

/* ---------- the run: a cache of the keys' objects (batch_int.h) ---------- */

item_t *dyna_batch_item(run_t *r, const uint8_t *key, size_t klen) {
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

/* The typed command named name: the node's extra ones (tests), then the families. */
static const dyna_typed_cmd_t *typed_find(const dyna_node_t *n, const uint8_t *name, size_t len) {
  for (const dyna_typed_cmd_t *c = n->cfg.typed_extra; c && c->name; c++)
    if (strlen(c->name) == len && !strncasecmp(c->name, (const char *)name, len)) return c;
  return dyna_typed_find(name, len);
}

/* Runs one command, appending its answer (or setting r->err). */
static void run_one(run_t *r, const sargs_t *a, dyna_buf_t *resp) {
  if (dyna_batch_run_string(r, a, resp)) return;
  const dyna_typed_cmd_t *c = typed_find(r->n, a->argv[0], a->argl[0]);
  if (!c || (!c->write && !c->read)) {
    char line[160];
    snprintf(line, sizeof(line), DYNA_WORD_ERR " the command '%.*s' cannot run in a transaction here",
             (int)(a->argl[0] > 64 ? 64 : a->argl[0]), (const char *)a->argv[0]);
    dyna_resp_put_error(resp, line); /* CR/LF become spaces */
    return;
  }
  if (!dyna_typed_arity_ok(c, a->argc)) { dyna_batch_arity_error(c->name, resp); return; }
  /* The key: argument 1; OBJECT's is its argument 2 (OBJECT HELP has none). */
  size_t kp = strcmp(c->name, "object") ? 1 : 2;
  dyna_obj_t none;
  dyna_obj_init(&none);
  item_t *t = kp < a->argc ? dyna_batch_item(r, a->argv[kp], a->argl[kp]) : NULL;
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
                          uint64_t hint_owner, int proto, dyna_buf_t *resp, dyna_buf_t *payload) {
  run_t r;
  memset(&r, 0, sizeof(r));
  r.n = n;
  r.part = dyna_node_partition(n, key, klen);
  dyna_node_replica(n, r.part, &r.rep);
  /* env: the wall clock as it is (deadlines, expiry), the value stamp (never backwards
   * on this node), the PRNG. */
  r.env.now_ms = n->now.wall_ms;
  r.env.stamp_ms = dyna_node_stamp(n);
  r.env.rand = dyna_node_rand(n);
  r.env.actor = r.rep.actor;
  r.env.proto = proto;
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
