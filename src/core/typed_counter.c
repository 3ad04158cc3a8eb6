/* typed_counter.c: the counter commands over an object (typed.h): INCR INCRBY DECR
 * DECRBY INCRBYFLOAT, and GET of any key (dyna_typed_get).
 *
 * A counter is a PN-counter per actor (crdt_counter.c): each coordinator raises only
 * its own totals, so increments made on both sides of a partition sum exactly once
 * after merging, whatever the order and however often states merge again.
 *
 * INCR on a key holding a string that parses (SET k 5; INCR k answers 6) converts it:
 * the write supersedes the string (dyna_obj_typed_for_write) and sets the counter's
 * base to the string's value (dyna_crdt_counter_set: a BASE value, not an increment),
 * then increments. Two sides converting the same string concurrently leave two equal
 * bases, of which one is chosen: the string's value counts once, both increments add.
 *
 * Values: the counter holds an int64 part (INCRBY) and a double part (INCRBYFLOAT); it
 * reads as an integer while the double part is 0, otherwise as (long double)i + d in
 * the float form below. Every write works on a copy of the object and installs it only
 * on success, so an error leaves the object exactly as it was. Pure. */
#include "core/crdt_ops.h"
#include "core/typed.h"
#include "proto/resp.h"
#include "util/err.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLOAT_BUF 400 /* %.17Lf of any finite double-range value, sign and NUL */

/* INCRBYFLOAT's reply form (Redis 7.0 prints "%.17Lf" of a long double and strips the
 * trailing zeros): fixed notation, no exponent, the fewest fractional digits (at most
 * 17) that stay within one unit of the double part's last place, since the state holds
 * doubles (0.1 + 0.2 answers "0.3", 10.5 + 0.1 answers "10.6"); "-0" reads "0". */
static size_t fmt_float(int64_t i, double d, char *out) {
  long double v = (long double)i + (long double)d;
  long double tol = fabsl((long double)d) * 0x1p-52L;
  int n = 0;
  for (int p = 0; p <= 17; p++) {
    n = snprintf(out, FLOAT_BUF, "%.*Lf", p, v);
    if (fabsl(strtold(out, NULL) - v) <= tol) break;
  }
  if (strchr(out, '.')) {
    while (out[n - 1] == '0') n--;
    if (out[n - 1] == '.') n--;
  }
  out[n] = 0;
  if (n == 2 && out[0] == '-' && out[1] == '0') {
    out[0] = '0';
    out[1] = 0;
    n = 1;
  }
  return (size_t)n;
}

/* Appends a counter's value as a bulk string. */
static void put_counter(dyna_buf_t *resp, int64_t i, double d) {
  char buf[FLOAT_BUF];
  size_t n = d == 0.0 ? (size_t)snprintf(buf, sizeof buf, "%lld", (long long)i) : fmt_float(i, d, buf);
  dyna_resp_put_bulk(resp, buf, n);
}

int dyna_typed_get(const dyna_obj_t *o, const dyna_tenv_t *env, dyna_buf_t *resp) {
  switch (dyna_obj_kind(o, env->now_ms)) {
  case DYNA_KIND_NONE: dyna_resp_put_null(resp, env->proto); return 0;
  case DYNA_KIND_STRING: {
    const dyna_val_t *v = dyna_obj_latest(o);
    dyna_resp_put_bulk(resp, v->data, v->len);
    return 0;
  }
  case DYNA_KIND_COUNTER: {
    int64_t i = 0;
    double d = 0.0;
    if (dyna_crdt_counter_get(dyna_obj_typed(o, DYNA_CRDT_COUNTER), &i, &d)) dyna_resp_put_null(resp, env->proto);
    else put_counter(resp, i, d);
    return 0;
  }
  default: dyna_resp_put_error(resp, DYNA_TYPED_WRONGTYPE); return 0;
  }
}

/* The key's current number for an increment, read from a counter or a string.
 * *conv = 1 when it comes from a string (the write then converts: base (*bi, *bd)).
 * Returns 0, or -1 after appending the error (WRONGTYPE, not an integer / float). */
static int current(const dyna_obj_t *o, const dyna_tenv_t *env, int want_float, int64_t *bi,
                   double *bd, int *conv, dyna_buf_t *resp) {
  *bi = 0;
  *bd = 0.0;
  *conv = 0;
  dyna_kind_t k = dyna_obj_kind(o, env->now_ms);
  if (k == DYNA_KIND_COUNTER) {
    if (dyna_crdt_counter_get(dyna_obj_typed(o, DYNA_CRDT_COUNTER), bi, bd)) {
      *bi = 0;
      *bd = 0.0;
    }
  } else if (k == DYNA_KIND_STRING) {
    const dyna_val_t *v = dyna_obj_latest(o);
    *conv = 1;
    if (dyna_typed_parse_i64(v->data, v->len, bi) == 0) return 0;
    if (!want_float || dyna_typed_parse_double(v->data, v->len, bd) || !isfinite(*bd)) {
      dyna_resp_put_error(resp, want_float ? DYNA_TYPED_NOT_FLOAT : DYNA_TYPED_NOT_INT);
      return -1;
    }
  } else if (k != DYNA_KIND_NONE) {
    dyna_resp_put_error(resp, DYNA_TYPED_WRONGTYPE);
    return -1;
  }
  return 0;
}

/* The increment on a copy of o, installed in o on success; *oi, *od get the value. */
static int apply(dyna_obj_t *o, const dyna_tenv_t *env, int conv, int64_t bi, double bd,
                 int is_float, int64_t n, double x, int64_t *oi, double *od) {
  dyna_obj_t w;
  dyna_obj_init(&w);
  dyna_crdt_t *s = NULL;
  int rc = dyna_obj_copy(&w, o);
  if (!rc) rc = dyna_obj_typed_for_write(&w, DYNA_CRDT_COUNTER, env->actor, env->now_ms, &s);
  if (!rc && conv) rc = dyna_crdt_counter_set(s, env->actor, bi, bd);
  if (!rc) rc = is_float ? dyna_crdt_incrbyfloat(s, env->actor, x, NULL)
                         : dyna_crdt_incrby(s, env->actor, n, NULL);
  if (!rc) rc = dyna_crdt_counter_get(s, oi, od);
  if (rc) {
    dyna_obj_clear(&w);
    return rc;
  }
  dyna_obj_typed_done(&w);
  dyna_obj_clear(o);
  *o = w;
  return 0;
}

static int incr_by(dyna_obj_t *o, int64_t n, const dyna_tenv_t *env, dyna_buf_t *resp,
                   int *changed) {
  *changed = 0;
  int64_t i, res;
  double d;
  int conv;
  if (current(o, env, 0, &i, &d, &conv, resp)) return 0;
  if (d != 0.0) { /* a float part: the value must still be an integer */
    long double x = (long double)i + d;
    if (x != floorl(x) || x >= 0x1p63L || x < -0x1p63L) {
      dyna_resp_put_error(resp, DYNA_TYPED_NOT_INT);
      return 0;
    }
    i = (int64_t)x;
  }
  if (__builtin_add_overflow(i, n, &res)) {
    dyna_resp_put_error(resp, DYNA_WORD_ERR " " DYNA_MSG_OVERFLOW);
    return 0;
  }
  double od;
  int rc = apply(o, env, conv, i, 0.0, 0, n, 0.0, &res, &od);
  if (rc) return dyna_typed_error(rc, resp);
  *changed = 1;
  if (od != 0.0) res = (int64_t)((long double)res + od); /* integral, checked above */
  dyna_resp_put_int(resp, res);
  return 0;
}

static int arg_i64(const dyna_targs_t *a, size_t k, int64_t *v, dyna_buf_t *resp) {
  if (dyna_typed_parse_i64(a->argv[k], a->argl[k], v) == 0) return 0;
  dyna_resp_put_error(resp, DYNA_TYPED_NOT_INT);
  return -1;
}

static int cmd_incr(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                    dyna_buf_t *resp, int *changed) {
  (void)a;
  return incr_by(o, 1, env, resp, changed);
}

static int cmd_decr(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                    dyna_buf_t *resp, int *changed) {
  (void)a;
  return incr_by(o, -1, env, resp, changed);
}

/* INCRBY / DECRBY parse the increment before looking at the key, as Redis does. */
static int cmd_incrby(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                      dyna_buf_t *resp, int *changed) {
  int64_t n;
  *changed = 0;
  if (arg_i64(a, 2, &n, resp)) return 0;
  return incr_by(o, n, env, resp, changed);
}

static int cmd_decrby(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                      dyna_buf_t *resp, int *changed) {
  int64_t n;
  *changed = 0;
  if (arg_i64(a, 2, &n, resp)) return 0;
  if (n == INT64_MIN) {
    dyna_resp_put_error(resp, "ERR decrement would overflow");
    return 0;
  }
  return incr_by(o, -n, env, resp, changed);
}

static int cmd_incrbyfloat(dyna_obj_t *o, const dyna_targs_t *a, const dyna_tenv_t *env,
                           dyna_buf_t *resp, int *changed) {
  *changed = 0;
  double x, d;
  int64_t i;
  int conv;
  /* Redis's order: the key's type, then its value, then the increment. */
  if (current(o, env, 1, &i, &d, &conv, resp)) return 0;
  if (dyna_typed_parse_double(a->argv[2], a->argl[2], &x)) {
    dyna_resp_put_error(resp, DYNA_TYPED_NOT_FLOAT);
    return 0;
  }
  /* The crdt keeps the double part and each actor's double total finite. */
  double sum = (double)((long double)d + x);
  if (!isfinite(x) || !isfinite(sum) || !isfinite((double)((long double)i + d + x))) {
    dyna_resp_put_error(resp, "ERR increment would produce NaN or Infinity");
    return 0;
  }
  int rc = apply(o, env, conv, i, d, 1, 0, x, &i, &d);
  if (rc == DYNA_EINVAL) { /* the actor's own total would not be finite */
    dyna_resp_put_error(resp, "ERR increment would produce NaN or Infinity");
    return 0;
  }
  if (rc) return dyna_typed_error(rc, resp);
  *changed = 1;
  char buf[FLOAT_BUF];
  size_t n = fmt_float(i, d, buf);
  dyna_resp_put_bulk(resp, buf, n);
  return 0;
}

const dyna_typed_cmd_t dyna_typed_counter_cmds[] = {
    {"incr", cmd_incr, NULL, 2},
    {"decr", cmd_decr, NULL, 2},
    {"incrby", cmd_incrby, NULL, 3},
    {"decrby", cmd_decrby, NULL, 3},
    {"incrbyfloat", cmd_incrbyfloat, NULL, 3},
    {0},
};
