/* crdt_hash.c: the hash type, a map of fields that merges by itself.
 *
 *   field -> registers  LIVE|BASE|TS|BYTES (HSET; several only after concurrent HSETs)
 *            markers    LIVE (HINCRBY / HINCRBYFLOAT)
 *            residue    BASE (HDEL of a field that had increments)
 *            contributions (int64, double) per incrementing actor
 *
 * Fields are add-wins with observed removes, like set members. What HGET shows: the
 * chosen register (greatest wall-clock ts, then dot); if increments exist that it did
 * not observe (or the field was only ever incremented), the number
 *   register parsed as a number (0 if none) + base + contributions.
 * HSET supersedes every value and increment it observed (its base cancels the
 * increments it saw); a concurrent HINCRBY elsewhere adds on top of it. A register
 * that is not a number hides increments (HINCRBY on it answers "not an integer"). */
#include "core/crdt_int.h"
#include "core/crdt_ops.h"
#include "util/assert.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Redis's strict integer syntax: [-]digits, no leading zero, no sign on 0, fits. */
static int parse_int(const uint8_t *p, size_t n, int64_t *out) {
  if (n == 0 || n > 20) return 0;
  size_t i = 0;
  int neg = p[0] == '-';
  if (neg) i = 1;
  if (i == n || (p[i] == '0' && n - i > 1) || (neg && p[i] == '0')) return 0;
  uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  for (; i < n; i++) {
    if (p[i] < '0' || p[i] > '9') return 0;
    unsigned dgt = (unsigned)(p[i] - '0');
    if (v > (lim - dgt) / 10) return 0;
    v = v * 10 + dgt;
  }
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  return 1;
}

/* A finite double in plain decimal syntax (no spaces, no NaN, no hex). */
static int parse_double(const uint8_t *p, size_t n, double *out) {
  char buf[64];
  if (n == 0 || n >= sizeof(buf)) return 0;
  for (size_t i = 0; i < n; i++)
    if (!strchr("0123456789+-.eE", p[i])) return 0;
  memcpy(buf, p, n);
  buf[n] = 0;
  char *end;
  double d = strtod(buf, &end);
  if (end != buf + n || !isfinite(d)) return 0;
  *out = d;
  return 1;
}

static dyna_crdt_elem_t *live_field(const dyna_crdt_t *s, const uint8_t *f, size_t flen) {
  DYNA_ASSERT(s->type == DYNA_CRDT_HASH, "type %u", s->type);
  size_t idx;
  if (!crdt_find(s, f, flen, &idx) || !crdt_elem_live(s->e[idx])) return NULL;
  return s->e[idx];
}

int dyna_crdt_hget(const dyna_crdt_t *s, const uint8_t *f, size_t flen, dyna_crdt_hval_t *out) {
  const dyna_crdt_elem_t *e = live_field(s, f, flen);
  if (!e) return DYNA_ENOTFOUND;
  const dyna_crdt_val_t *reg = crdt_chosen(e);
  if (reg && !(reg->flags & DYNA_CRDT_F_BYTES)) reg = NULL;
  int64_t i;
  double d;
  int ovf;
  crdt_num_value(e, &i, &d, &ovf);
  memset(out, 0, sizeof(*out));
  if (reg && i == 0 && d == 0.0) {
    out->kind = DYNA_CRDT_HV_BYTES;
    out->data = reg->data;
    out->len = reg->len;
    return 0;
  }
  int64_t ri = 0;
  double rd = 0.0;
  if (reg && parse_int(reg->data, reg->len, &ri)) {
    if (crdt_add_ovf(ri, i, &ri)) {
      rd = (double)ri + (double)i;
      ri = 0;
      d += rd;
    }
  } else if (reg && parse_double(reg->data, reg->len, &rd)) {
    d += rd;
    if (d == 0.0) d = 0.0;
    out->kind = DYNA_CRDT_HV_FLOAT;
    out->d = (double)i + d;
    return 0;
  } else if (reg) {
    out->kind = DYNA_CRDT_HV_BYTES;
    out->data = reg->data;
    out->len = reg->len;
    return 0;
  } else {
    ri = i;
  }
  if (d == 0.0) {
    out->kind = DYNA_CRDT_HV_INT;
    out->i = ri;
  } else {
    out->kind = DYNA_CRDT_HV_FLOAT;
    out->d = (double)ri + d;
  }
  return 0;
}

int dyna_crdt_hset(dyna_crdt_t *s, uint64_t actor, const uint8_t *f, size_t flen,
                   const uint8_t *v, size_t vlen, uint64_t ts_ms) {
  DYNA_ASSERT(s->type == DYNA_CRDT_HASH, "type %u", s->type);
  if (flen > DYNA_CRDT_MAX_KEY_BYTES || vlen > DYNA_CRDT_MAX_VAL_BYTES) return DYNA_ETOOBIG;
  int was = live_field(s, f, flen) != NULL;
  int rc = crdt_num_set(s, f, flen, actor, DYNA_CRDT_F_TS | DYNA_CRDT_F_BYTES, ts_ms, 0, 0.0,
                        v, vlen);
  return rc ? rc : !was;
}

int dyna_crdt_hdel(dyna_crdt_t *s, uint64_t actor, const uint8_t *f, size_t flen) {
  DYNA_ASSERT(s->type == DYNA_CRDT_HASH, "type %u", s->type);
  return crdt_remove_key(s, f, flen, actor);
}

/* The field's number: 0 (absent fields are 0) or DYNA_EINVAL (not a number). */
static int field_number(const dyna_crdt_t *s, const uint8_t *f, size_t flen, int64_t *i,
                        double *d) {
  dyna_crdt_hval_t v;
  *i = 0;
  *d = 0.0;
  if (dyna_crdt_hget(s, f, flen, &v) == DYNA_ENOTFOUND) return 0;
  if (v.kind == DYNA_CRDT_HV_INT) *i = v.i;
  else if (v.kind == DYNA_CRDT_HV_FLOAT) *d = v.d;
  else if (!parse_int(v.data, v.len, i) && !parse_double(v.data, v.len, d)) return DYNA_EINVAL;
  return 0;
}

int dyna_crdt_hincrby(dyna_crdt_t *s, uint64_t actor, const uint8_t *f, size_t flen, int64_t n,
                      int64_t *out) {
  DYNA_ASSERT(s->type == DYNA_CRDT_HASH, "type %u", s->type);
  if (flen > DYNA_CRDT_MAX_KEY_BYTES) return DYNA_ETOOBIG;
  int64_t i, res;
  double d;
  int rc = field_number(s, f, flen, &i, &d);
  if (rc) return rc;
  if (d != 0.0) {
    if (d != floor(d) || fabs(d) >= 9007199254740992.0) return DYNA_EINVAL;
    i = (int64_t)d;
  }
  if (crdt_add_ovf(i, n, &res)) return DYNA_ERANGE;
  rc = crdt_num_incr(s, f, flen, actor, n, 0.0);
  if (rc == 0 && out) *out = res;
  return rc;
}

int dyna_crdt_hincrbyfloat(dyna_crdt_t *s, uint64_t actor, const uint8_t *f, size_t flen,
                           double x, double *out) {
  DYNA_ASSERT(s->type == DYNA_CRDT_HASH, "type %u", s->type);
  if (flen > DYNA_CRDT_MAX_KEY_BYTES) return DYNA_ETOOBIG;
  int64_t i;
  double d;
  int rc = field_number(s, f, flen, &i, &d);
  if (rc) return rc;
  double res = (double)i + d + x;
  if (!isfinite(x) || !isfinite(res)) return DYNA_EINVAL;
  rc = crdt_num_incr(s, f, flen, actor, 0, x);
  if (rc == 0 && out) *out = res;
  return rc;
}
