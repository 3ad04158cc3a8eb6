/* typed_copy.c: the write half of RENAME, RENAMENX and COPY (runtime/cmd_keys.c), as a
 * typed write command run by the destination key's coordinator:
 *
 *   DYNA.COPYTO dst <encoded source object> REPLACE|NX
 *
 * The runtime reads the source with a quorum GET and hands its merged object here; the
 * coordinator then makes the destination a copy of it as one new version of its own:
 * everything the coordinator knows of the destination is superseded (its register
 * values, its typed states, its deadline), and the source's content is written again
 * with fresh dots of the coordinator's actor: the last written value of a string (its
 * siblings collapse to it, as GET shows), a counter's number, each member of a set,
 * each field of a hash (as HGET shows it: a field that only had increments becomes its
 * number), each member and score of a sorted set, each element of a list in order, and
 * the source's deadline. Fresh dots, because the source's dots belong to the source's
 * history: merged into the destination's own they could be taken as already seen.
 * NX: nothing when the destination exists (answer 0). Answers :1 when it copied, :0
 * when it did not (NX, or the source is absent by now). Not a client command: it has
 * no row in the runtime's table, only its name in forwarded writes. */
#include "core/crdt_ops.h"
#include "core/typed.h"
#include "proto/resp.h"
#include "util/alloc.h"
#include "util/err.h"
#include <stdio.h>
#include <string.h>

static int crdt_type_of(dyna_kind_t k) {
  switch (k) {
  case DYNA_KIND_COUNTER: return DYNA_CRDT_COUNTER;
  case DYNA_KIND_SET: return DYNA_CRDT_SET;
  case DYNA_KIND_HASH: return DYNA_CRDT_HASH;
  case DYNA_KIND_ZSET: return DYNA_CRDT_ZSET;
  case DYNA_KIND_LIST: return DYNA_CRDT_LIST;
  default: return 0;
  }
}

/* Writes src's elements of its type into dst (an empty state of that type) under
 * actor. Returns 0 or a crdt error. */
static int copy_elements(dyna_crdt_t *dst, const dyna_crdt_t *src, uint64_t actor, uint64_t now_ms) {
  int rc = 0;
  size_t cur = 0, n = 0;
  const dyna_crdt_elem_t *e;
  switch (src->type) {
  case DYNA_CRDT_COUNTER: {
    int64_t i = 0;
    double d = 0;
    if (!dyna_crdt_counter_get(src, &i, &d)) rc = dyna_crdt_counter_set(dst, actor, i, d);
    return rc;
  }
  case DYNA_CRDT_SET:
    while ((e = dyna_crdt_next(src, &cur)))
      if ((rc = dyna_crdt_sadd(dst, actor, e->key, e->klen)) < 0) return rc;
    return 0;
  case DYNA_CRDT_HASH:
    while ((e = dyna_crdt_next(src, &cur))) {
      dyna_crdt_hval_t v;
      if (dyna_crdt_hget(src, e->key, e->klen, &v)) continue;
      char num[40];
      const uint8_t *p = v.data;
      size_t len = v.len;
      if (v.kind == DYNA_CRDT_HV_INT) {
        len = (size_t)snprintf(num, sizeof(num), "%lld", (long long)v.i);
        p = (const uint8_t *)num;
      } else if (v.kind == DYNA_CRDT_HV_FLOAT) {
        len = dyna_typed_fmt_double(v.d, num);
        p = (const uint8_t *)num;
      }
      rc = dyna_crdt_hset(dst, actor, e->key, e->klen, p, len, now_ms);
      if (rc < 0) return rc;
    }
    return 0;
  case DYNA_CRDT_ZSET: {
    dyna_crdt_zitem_t *z = NULL;
    if ((rc = dyna_crdt_zview(src, &z, &n))) return rc;
    for (size_t k = 0; k < n && rc >= 0; k++) rc = dyna_crdt_zadd(dst, actor, z[k].m, z[k].len, z[k].score, 0, NULL);
    dyna_free(z);
    return rc < 0 ? rc : 0;
  }
  case DYNA_CRDT_LIST: {
    dyna_crdt_litem_t *l = NULL;
    if ((rc = dyna_crdt_lview(src, &l, &n))) return rc;
    for (size_t k = 0; k < n && !rc; k++) rc = dyna_crdt_lpush(dst, actor, 1, l[k].v->data, l[k].v->len);
    dyna_free(l);
    return rc;
  }
  default: return DYNA_EINVAL;
  }
}

static int copyto_write(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env, dyna_buf_t *resp,
                        int *changed) {
  *changed = 0;
  dyna_obj_t src;
  dyna_obj_init(&src);
  int nx = a->argl[3] == 2 && !memcmp(a->argv[3], "nx", 2);
  int rc = dyna_obj_decode(a->argv[2], a->argl[2], &src);
  if (rc == DYNA_ENOMEM) return rc;
  if (rc) { dyna_resp_put_error(resp, DYNA_WORD_ERR " invalid copy source"); return 0; }
  dyna_kind_t sk = dyna_obj_kind(&src, env->now_ms);
  if (sk == DYNA_KIND_NONE || (nx && dyna_obj_kind(o, env->now_ms) != DYNA_KIND_NONE)) {
    dyna_obj_clear(&src);
    dyna_resp_put_int(resp, 0);
    return 0;
  }
  /* Supersede the destination: one register write over its own context (the source's
   * string value, or a tombstone), then every typed state and the deadline. */
  dyna_ctx_t ctx;
  dyna_ctx_init(&ctx);
  const dyna_val_t *lv = sk == DYNA_KIND_STRING ? dyna_obj_latest(&src) : NULL;
  dyna_val_t v = {lv ? 0 : DYNA_VAL_TOMBSTONE, dyna_tenv_stamp(env), lv ? lv->data : NULL, lv ? lv->len : 0};
  rc = dyna_obj_context(o, &ctx);
  if (!rc) rc = dyna_obj_update(o, &ctx, env->actor, &v);
  if (!rc) rc = dyna_obj_supersede(o, env->actor, env->now_ms, 0);
  int type = crdt_type_of(sk);
  if (!rc && type) {
    dyna_crdt_t *ds;
    rc = dyna_obj_typed_for_write(o, (uint8_t)type, env->actor, env->now_ms, &ds);
    if (!rc) rc = copy_elements(ds, dyna_obj_typed(&src, (uint8_t)type), env->actor, dyna_tenv_stamp(env));
    dyna_obj_typed_done(o);
  }
  uint64_t deadline;
  if (!rc && dyna_obj_deadline(&src, &deadline)) rc = dyna_obj_set_deadline(o, env->actor, deadline);
  dyna_ctx_clear(&ctx);
  dyna_obj_clear(&src);
  if (rc == DYNA_ENOMEM) return rc;
  if (rc) return dyna_typed_error(rc, resp);
  *changed = 1;
  dyna_resp_put_int(resp, 1);
  return 0;
}

const dyna_typed_cmd_t dyna_typed_copy_cmds[] = {
    {"dyna.copyto", copyto_write, NULL, 4},
    {NULL, NULL, NULL, 0},
};
