/* crdt_int.h: helpers shared by the crdt*.c files (not for use outside them).
 *
 * Ops change a state in two phases, so that a failed allocation changes nothing:
 *   reserve  grow capacities (context, element array, value arrays) and build new
 *            elements and value bytes off to the side; on failure free only these;
 *   commit   (cannot fail) take the dot, drop superseded values, install new ones.
 * Growing a capacity is not a change of the state. */
#ifndef DYNA_CRDT_INT_H
#define DYNA_CRDT_INT_H
#include "core/crdt.h"

/* Orders keys: memcmp over the common prefix, then the shorter first. */
int crdt_keycmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);
/* Orders dots by (actor, counter). */
int crdt_dotcmp(uint64_t a1, uint64_t c1, uint64_t a2, uint64_t c2);

/* Index of actor in the context, or -1. */
long crdt_ctx_find(const dyna_crdt_t *s, uint64_t actor);
/* 1 when the context covers the dot. */
int crdt_covers(const dyna_crdt_t *s, uint64_t actor, uint64_t counter);
/* Makes room for a tick of actor: 0, DYNA_ENOMEM, or DYNA_ETOOBIG (counter at
 * UINT64_MAX or the context full). */
int crdt_ctx_reserve(dyna_crdt_t *s, uint64_t actor);
/* Takes the next dot of actor (after crdt_ctx_reserve); returns its counter. */
uint64_t crdt_tick(dyna_crdt_t *s, uint64_t actor);

/* Binary search: returns 1 and *idx when found, else 0 and the insertion point. */
int crdt_find(const dyna_crdt_t *s, const uint8_t *key, size_t klen, size_t *idx);
/* Room for one more element: 0, DYNA_ENOMEM or DYNA_ETOOBIG (DYNA_CRDT_MAX_ELEMS). */
int crdt_elems_reserve(dyna_crdt_t *s);
/* A new element holding a copy of key, with room for one value (the inline slot): one
 * allocation (crdt.h); NULL on ENOMEM. */
dyna_crdt_elem_t *crdt_elem_new(const uint8_t *key, size_t klen);
/* Gives e (no values yet) the values v[0..n) (their bytes now e's): into the inline slot
 * when n == 1 (v is then the caller's to free), else v itself (owned from now on, with
 * capacity cap). */
void crdt_elem_take_vals(dyna_crdt_elem_t *e, dyna_crdt_val_t *v, size_t n, size_t cap);
void crdt_elem_free(dyna_crdt_elem_t *e);
/* Inserts e at idx (after crdt_elems_reserve). Cannot fail. */
void crdt_elem_insert(dyna_crdt_t *s, size_t idx, dyna_crdt_elem_t *e);
/* Frees and removes the element at idx. */
void crdt_elem_remove(dyna_crdt_t *s, size_t idx);
/* Room for `extra` more values / one more contribution: 0 or DYNA_ENOMEM. */
int crdt_vals_reserve(dyna_crdt_elem_t *e, size_t extra);
int crdt_contrib_reserve(dyna_crdt_elem_t *e);

void crdt_val_free(dyna_crdt_val_t *v);
/* Inserts v (its bytes now owned by e) in dot order; capacity reserved. */
void crdt_val_insert(dyna_crdt_elem_t *e, const dyna_crdt_val_t *v);
/* Drops every value of e / only its markers (values with flags == LIVE). */
void crdt_drop_vals(dyna_crdt_elem_t *e);
void crdt_drop_markers(dyna_crdt_elem_t *e);
/* Removes the value at index j of e. */
void crdt_val_remove(dyna_crdt_elem_t *e, size_t j);

/* 1 when e has a LIVE value. */
int crdt_elem_live(const dyna_crdt_elem_t *e);
/* The chosen BASE value (greatest by LIVE, ts, counter, actor), or NULL. */
const dyna_crdt_val_t *crdt_chosen(const dyna_crdt_elem_t *e);
/* Sums of the contributions; *overflow set when the int64 sum does not fit (the sum
 * is then saturated). */
void crdt_contrib_sum(const dyna_crdt_elem_t *e, int64_t *i, double *d, int *overflow);
/* The actor's contribution, or NULL. */
dyna_crdt_contrib_t *crdt_contrib_find(dyna_crdt_elem_t *e, uint64_t actor);
/* Sets (actor, seq, i, d) as the actor's contribution (reserved). */
void crdt_contrib_set(dyna_crdt_elem_t *e, uint64_t actor, uint64_t seq, int64_t i, double d);

/* Canonical double: -0.0 becomes 0.0. */
double crdt_canon(double d);
/* a + b into *out; 1 on overflow. */
int crdt_add_ovf(int64_t a, int64_t b, int64_t *out);

/* Supersede-with-base, the shared core of HSET, ZADD and removals on numeric
 * elements: drops every value of e and inserts one BASE value at dot (actor, counter)
 * with flags (LIVE etc. as given) and base = (ti - sum_i, td - sum_d) of e's
 * contributions. v_data (owned, may be NULL) becomes the value's bytes. Capacity
 * must be reserved (1 value). Returns nothing: cannot fail. */
void crdt_put_base(dyna_crdt_elem_t *e, uint64_t actor, uint64_t counter, uint8_t flags,
                   uint64_t ts, int64_t ti, double td, uint8_t *v_data, size_t v_len);

/* Removes the element at idx the way a removal does (numeric types keep a residue).
 * Needs a dot when the element has contributions: pass counter 0 when it has none. */
void crdt_remove_observed(dyna_crdt_t *s, size_t idx, uint64_t actor, uint64_t counter);

/* Numeric elements (crdt_num.c). The number: chosen base + contributions, as an
 * int64 part and a double part; *ovf set when the int64 part does not fit. */
void crdt_num_value(const dyna_crdt_elem_t *e, int64_t *i, double *d, int *ovf);
/* An increment (di, dd) of the element with this key by actor: creates the element if
 * needed, supersedes the observed markers with a new one and raises the actor's
 * contribution. DYNA_ERANGE when the actor's int64 total would overflow, DYNA_EINVAL
 * when its double total would not be finite (so bases can always cancel totals); or DYNA_ENOMEM / DYNA_ETOOBIG. */
int crdt_num_incr(dyna_crdt_t *s, const uint8_t *key, size_t klen, uint64_t actor, int64_t di,
                  double dd);
/* A write that sets the number (ZADD, HSET): creates the element if needed and
 * supersedes every observed value with one at a new dot: flags | LIVE | BASE, base =
 * (ti, td) minus the contributions; data (copied, may be NULL) with ts when BYTES. */
int crdt_num_set(dyna_crdt_t *s, const uint8_t *key, size_t klen, uint64_t actor, uint8_t flags,
                 uint64_t ts, int64_t ti, double td, const uint8_t *data, size_t len);
/* Removal of the element with this key as observed (SREM, HDEL, ZREM): 1 when it was
 * live, 0 when not; an error only when a residue needs a dot. */
int crdt_remove_key(dyna_crdt_t *s, const uint8_t *key, size_t klen, uint64_t actor);

#endif
