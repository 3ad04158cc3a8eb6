/* crdt_expiry.c: a key's deadline as a multi-value register of dotted values.
 *
 *   value flags INT, i = deadline (wall-clock ms)   an EXPIRE/PEXPIRE/...AT
 *   value flags 0                                    a PERSIST
 *
 * A write supersedes every expiry value it observed (so the register holds one value
 * after any write, and several only when writes were concurrent). Concurrent values
 * resolve as Redis Enterprise's Active-Active databases do: a PERSIST among them wins
 * over every deadline, otherwise the longest deadline wins. The merge is crdt_merge.c's
 * dot rule, so the result is the same on every replica whatever the order. */
#include "core/crdt_int.h"
#include "util/alloc.h"

static int exp_reserve(dyna_crdt_t *s) {
  if (s->expcap >= 1) return 0;
  s->exp = dyna_calloc(1, sizeof(*s->exp));
  if (!s->exp) return DYNA_ENOMEM;
  s->expcap = 1;
  return 0;
}

/* Replaces every expiry value with one value (flags, deadline) at a new dot. */
static int exp_put(dyna_crdt_t *s, uint64_t actor, uint8_t flags, uint64_t deadline_ms) {
  int rc = exp_reserve(s);
  if (rc == 0) rc = crdt_ctx_reserve(s, actor);
  if (rc) return rc;
  uint64_t c = crdt_tick(s, actor);
  for (size_t j = 0; j < s->nexp; j++) crdt_val_free(&s->exp[j]);
  dyna_crdt_val_t v = {actor, c, flags, 0, (int64_t)deadline_ms, 0.0, NULL, 0};
  s->exp[0] = v;
  s->nexp = 1;
  return 0;
}

int dyna_crdt_expire(dyna_crdt_t *s, uint64_t actor, uint64_t deadline_ms) {
  if (deadline_ms == 0 || deadline_ms > (uint64_t)INT64_MAX) return DYNA_EINVAL;
  return exp_put(s, actor, DYNA_CRDT_F_INT, deadline_ms);
}

int dyna_crdt_persist(dyna_crdt_t *s, uint64_t actor) {
  uint64_t d;
  if (!dyna_crdt_deadline(s, &d)) return 0;
  int rc = exp_put(s, actor, 0, 0);
  return rc ? rc : 1;
}

int dyna_crdt_deadline(const dyna_crdt_t *s, uint64_t *deadline_ms) {
  uint64_t best = 0;
  for (size_t j = 0; j < s->nexp; j++) {
    if (!(s->exp[j].flags & DYNA_CRDT_F_INT)) return 0; /* a PERSIST wins */
    if ((uint64_t)s->exp[j].i > best) best = (uint64_t)s->exp[j].i;
  }
  if (best == 0) return 0;
  *deadline_ms = best;
  return 1;
}

int dyna_crdt_expired(const dyna_crdt_t *s, uint64_t now_ms) {
  uint64_t d;
  return dyna_crdt_deadline(s, &d) && d <= now_ms;
}
