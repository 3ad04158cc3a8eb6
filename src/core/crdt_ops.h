/* crdt_ops.h: the typed API over a dyna_crdt_t (crdt.h), in the manner of Redis's
 * t_set.c typed section: add / remove / lookup / iterate / count per type, so that each
 * Redis command is a thin handler over one or two calls (SADD -> dyna_crdt_sadd, ...).
 *
 * Conventions, for every function here:
 *   - `actor` is the coordinator's per-partition actor id; an op that changes the state
 *     takes one dot of it (removals that leave nothing behind take none);
 *   - the state's type must be the function's (DYNA_ASSERT otherwise: the caller checks
 *     the type first and answers WRONGTYPE);
 *   - byte arguments are copied; returned pointers point into the state and stay valid
 *     until the state is next changed, merged or cleared;
 *   - errors: DYNA_ENOMEM (state unchanged), DYNA_ETOOBIG (a limit of crdt.h would be
 *     passed, or the actor's counter is exhausted; state unchanged), DYNA_EINVAL (an
 *     argument or current value the op refuses, as Redis does: NaN, "not an integer";
 *     state unchanged), DYNA_ERANGE (an integer result would overflow; unchanged).
 * Wall-clock stamps (ts_ms) are the caller's: the core has no clock.
 * A command that leaves a collection empty (the last SREM, HDEL, ZREM, pop) should then
 * call dyna_crdt_delete, as Redis deletes the key and its TTL with it: otherwise the
 * old deadline would apply to the key's next life.
 * Cost: lookups O(log n); adds and removes O(n) worst case (array insert); counts,
 * nth-element and rank queries O(n); sorted-set views O(n log n) for now. */
#ifndef DYNA_CRDT_OPS_H
#define DYNA_CRDT_OPS_H
#include "core/crdt.h"

/* ---- any type -------------------------------------------------------------------- */

/* The next live element at or after *cursor (start at 0), advancing *cursor past it;
 * NULL at the end. Elements come in key order. For a list, see dyna_crdt_lview. */
const dyna_crdt_elem_t *dyna_crdt_next(const dyna_crdt_t *s, size_t *cursor);
/* The element with this key, live or not (its values are every sibling: what a
 * DYNA. command shows), or NULL. */
const dyna_crdt_elem_t *dyna_crdt_get(const dyna_crdt_t *s, const uint8_t *key, size_t klen);
/* The k-th live element (0-based, key order) for SPOP / SRANDMEMBER / HRANDFIELD with a
 * k the caller draws; NULL when k >= count. O(1) for sets, O(n) otherwise. */
const dyna_crdt_elem_t *dyna_crdt_nth(const dyna_crdt_t *s, size_t k);

/* ---- counter (INCR INCRBY DECR DECRBY INCRBYFLOAT GET) ---------------------------- */

/* The value: *i + *d, where *d == 0 means an integer counter. 0 or DYNA_ENOTFOUND. */
int dyna_crdt_counter_get(const dyna_crdt_t *s, int64_t *i, double *d);
/* Adds n; *out gets the new value. DYNA_EINVAL when the value is not an integer,
 * DYNA_ERANGE when the result (or the actor's own total) would overflow. */
int dyna_crdt_incrby(dyna_crdt_t *s, uint64_t actor, int64_t n, int64_t *out);
/* Adds x; *out gets the new value. DYNA_EINVAL for a NaN/infinite x or result. */
int dyna_crdt_incrbyfloat(dyna_crdt_t *s, uint64_t actor, double x, double *out);
/* Sets the value to i + d with one BASE value that supersedes every value it observed
 * (as HSET does for a field): increments it did not observe still add. INCR on a
 * string key converts with it, so two sides converting the same string concurrently
 * count its value once. DYNA_EINVAL for a NaN/infinite d. */
int dyna_crdt_counter_set(dyna_crdt_t *s, uint64_t actor, int64_t i, double d);

/* ---- set (SADD SREM SISMEMBER SMEMBERS SCARD SPOP SRANDMEMBER ...) ----------------- */

/* Adds m (a present member gets a fresh dot, so a concurrent SREM elsewhere does not
 * remove it). Returns 1 when m was absent, 0 when present, or an error. */
int dyna_crdt_sadd(dyna_crdt_t *s, uint64_t actor, const uint8_t *m, size_t mlen);
/* Removes the dots of m this state has observed. Returns 1 when m was present, else 0.
 * Never fails and never allocates. */
int dyna_crdt_srem(dyna_crdt_t *s, const uint8_t *m, size_t mlen);
int dyna_crdt_sismember(const dyna_crdt_t *s, const uint8_t *m, size_t mlen);

/* ---- hash (HSET HGET HDEL HINCRBY HINCRBYFLOAT ...) ------------------------------ */

enum { DYNA_CRDT_HV_BYTES = 1, DYNA_CRDT_HV_INT = 2, DYNA_CRDT_HV_FLOAT = 3 };
typedef struct dyna_crdt_hval {
  int kind;            /* DYNA_CRDT_HV_* */
  const uint8_t *data; /* HV_BYTES: the chosen register's bytes (into the state) */
  size_t len;
  int64_t i; /* HV_INT */
  double d;  /* HV_FLOAT */
} dyna_crdt_hval_t;

/* Writes field f := v with the writer's clock ts_ms, superseding every value and
 * increment of f it observed. Returns 1 when f was absent, 0 when present. */
int dyna_crdt_hset(dyna_crdt_t *s, uint64_t actor, const uint8_t *f, size_t flen,
                   const uint8_t *v, size_t vlen, uint64_t ts_ms);
/* What HGET shows. The chosen register is the greatest by (ts, counter, actor). When
 * increments not observed by it exist (or the field only ever had increments), the
 * field reads as the number register + increments (HV_INT / HV_FLOAT); a register that
 * is not a number then still reads as its bytes. 0 or DYNA_ENOTFOUND. */
int dyna_crdt_hget(const dyna_crdt_t *s, const uint8_t *f, size_t flen, dyna_crdt_hval_t *out);
/* Removes f as observed. 1 when f was present, 0 when not, or an error (a field with
 * increments keeps a residue that needs a dot). */
int dyna_crdt_hdel(dyna_crdt_t *s, uint64_t actor, const uint8_t *f, size_t flen);
/* DYNA_EINVAL when the field is not an integer ("hash value is not an integer"). */
int dyna_crdt_hincrby(dyna_crdt_t *s, uint64_t actor, const uint8_t *f, size_t flen, int64_t n,
                      int64_t *out);
int dyna_crdt_hincrbyfloat(dyna_crdt_t *s, uint64_t actor, const uint8_t *f, size_t flen,
                           double x, double *out);

/* ---- sorted set (ZADD ZINCRBY ZREM ZSCORE ZRANK ZRANGE ZPOP* ...) ------------------ */

#define DYNA_CRDT_ZADD_NX 0x01
#define DYNA_CRDT_ZADD_XX 0x02
#define DYNA_CRDT_ZADD_GT 0x04
#define DYNA_CRDT_ZADD_LT 0x08
#define DYNA_CRDT_ZADD_INCR 0x10
/* Result bits of dyna_crdt_zadd. */
#define DYNA_CRDT_ZADDED 0x01   /* the member was new */
#define DYNA_CRDT_ZCHANGED 0x02 /* its score changed (ZADD CH counts ADDED|CHANGED) */
#define DYNA_CRDT_ZSKIPPED 0x04 /* NX/XX/GT/LT refused it (ZADD INCR answers nil) */

/* ZADD m score (or, with INCR, ZINCRBY m score) under the Redis flags; *newscore gets
 * the member's score afterwards (unless skipped). A plain ZADD writes a base of
 * score minus the increments it observed: it overrides what it saw while a concurrent
 * ZINCRBY elsewhere still adds. Returns the result bits or an error: DYNA_EINVAL for
 * a NaN score, a NaN result ("resulting score is not a number"), an increment that
 * would make the actor's total infinite, or NX with GT/LT or XX. */
int dyna_crdt_zadd(dyna_crdt_t *s, uint64_t actor, const uint8_t *m, size_t mlen, double score,
                   int flags, double *newscore);
/* 1 when m was present (and is removed as observed), 0 when not, or an error. */
int dyna_crdt_zrem(dyna_crdt_t *s, uint64_t actor, const uint8_t *m, size_t mlen);
/* 0 and *score, or DYNA_ENOTFOUND. */
int dyna_crdt_zscore(const dyna_crdt_t *s, const uint8_t *m, size_t mlen, double *score);

typedef struct dyna_crdt_zitem {
  const uint8_t *m; /* into the state */
  size_t len;
  double score;
} dyna_crdt_zitem_t;
/* The live members sorted by (score, member bytes) as Redis orders them: *out is
 * allocated here (the caller dyna_free()s it; NULL when empty). O(n log n). */
int dyna_crdt_zview(const dyna_crdt_t *s, dyna_crdt_zitem_t **out, size_t *n);
/* The min(k, count) lowest members in that order (max != 0: the highest, highest
 * first), as ZPOPMIN / ZPOPMAX pop them: *out allocated here (dyna_free; NULL when
 * none). One pass, O(n k), for k <= DYNA_CRDT_ZEXTREMES_SCAN; beyond, the whole view
 * (O(n log n)). */
#define DYNA_CRDT_ZEXTREMES_SCAN 16u
int dyna_crdt_zextremes(const dyna_crdt_t *s, size_t k, int max, dyna_crdt_zitem_t **out, size_t *n);
/* The 0-based rank of m in that order: 0 and *rank, or DYNA_ENOTFOUND. O(n). */
int dyna_crdt_zrank(const dyna_crdt_t *s, const uint8_t *m, size_t mlen, size_t *rank);

/* ---- list (LPUSH RPUSH LPOP RPOP LRANGE LINDEX LSET LREM LINSERT LPOS LTRIM) ------- */

typedef struct dyna_crdt_litem {
  const dyna_crdt_elem_t *e; /* its position is e->key */
  const dyna_crdt_val_t *v;  /* its id is v's dot, its bytes v->data/v->len */
} dyna_crdt_litem_t;
/* The elements in list order, (position, dot): *out allocated here (dyna_free; NULL
 * when empty). O(n). */
int dyna_crdt_lview(const dyna_crdt_t *s, dyna_crdt_litem_t **out, size_t *n);
/* Pushes v before the first (left) or after the last element (right != 0). */
int dyna_crdt_lpush(dyna_crdt_t *s, uint64_t actor, int right, const uint8_t *v, size_t vlen);
/* Pops the first (right == 0) or last element, appending its bytes to out (if not
 * NULL). 0, DYNA_ENOTFOUND (empty) or DYNA_ENOMEM (out could not grow; unchanged). */
int dyna_crdt_lpop(dyna_crdt_t *s, int right, dyna_buf_t *out);
/* LSET: replaces the element at index (0-based, already resolved from a negative
 * index by the caller) with v at the same position and a new dot. DYNA_ENOTFOUND when
 * out of range. */
int dyna_crdt_lset(dyna_crdt_t *s, uint64_t actor, size_t index, const uint8_t *v, size_t vlen);
/* LINSERT: inserts v before (after == 0) or after the element at index, at a position
 * strictly between it and its neighbour. DYNA_ENOTFOUND when out of range. */
int dyna_crdt_linsert(dyna_crdt_t *s, uint64_t actor, size_t index, int after, const uint8_t *v,
                      size_t vlen);
/* Removes the elements at the given indexes (strictly ascending, in range) as
 * observed: LREM, LTRIM and pops of several elements. Never allocates, never fails. */
void dyna_crdt_lremove(dyna_crdt_t *s, const size_t *idx, size_t n);

#endif
