/* crdt_set.c: the add-wins observed-remove set (Riak DT's ORSWOT; the shopping cart).
 *
 *   member -> {dots}       add(m):    m's dots := {new dot}
 *                          remove(m): m's dots := {} (they stay covered by the context)
 *   merge keeps a dot iff both sides hold it or the other side has not seen it, so an
 *   add concurrent with a remove of the same member survives, and a remove removes
 *   exactly what its replica had observed. No tombstone per member is kept. */
#include "core/crdt_int.h"
#include "core/crdt_ops.h"
#include "util/assert.h"

int dyna_crdt_sadd(dyna_crdt_t *s, uint64_t actor, const uint8_t *m, size_t mlen) {
  DYNA_ASSERT(s->type == DYNA_CRDT_SET, "type %u", s->type);
  if (mlen > DYNA_CRDT_MAX_KEY_BYTES) return DYNA_ETOOBIG;
  size_t idx;
  int found = crdt_find(s, m, mlen, &idx);
  dyna_crdt_elem_t *fresh = NULL;
  int rc = 0;
  if (!found) {
    rc = crdt_elems_reserve(s);
    if (rc == 0 && !(fresh = crdt_elem_new(m, mlen))) rc = DYNA_ENOMEM;
  }
  if (rc == 0) rc = crdt_ctx_reserve(s, actor);
  if (rc) {
    crdt_elem_free(fresh);
    return rc;
  }
  uint64_t c = crdt_tick(s, actor);
  dyna_crdt_elem_t *e = found ? s->e[idx] : fresh;
  if (fresh) crdt_elem_insert(s, idx, fresh);
  crdt_drop_vals(e);
  dyna_crdt_val_t v = {actor, c, DYNA_CRDT_F_LIVE, 0, 0, 0.0, NULL, 0};
  crdt_val_insert(e, &v); /* vcap >= 1: a set element always had a value */
  return !found;
}

int dyna_crdt_srem(dyna_crdt_t *s, const uint8_t *m, size_t mlen) {
  DYNA_ASSERT(s->type == DYNA_CRDT_SET, "type %u", s->type);
  size_t idx;
  if (!crdt_find(s, m, mlen, &idx)) return 0;
  crdt_elem_remove(s, idx);
  return 1;
}

int dyna_crdt_sismember(const dyna_crdt_t *s, const uint8_t *m, size_t mlen) {
  DYNA_ASSERT(s->type == DYNA_CRDT_SET, "type %u", s->type);
  size_t idx;
  return crdt_find(s, m, mlen, &idx);
}
