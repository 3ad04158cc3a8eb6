/* crdt_testlib.h: helpers shared by the typed-object tests (test_crdt*.c), header-only
 * so that they are not linked into every unit test as helper_*.c files are: a seeded
 * PRNG, encode/compare helpers, and one random operation per type. */
#ifndef CRDT_TESTLIB_H
#define CRDT_TESTLIB_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/crdt.h"
#include "core/crdt_ops.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/err.h"

/* splitmix64: deterministic. */
static inline uint64_t t_rnd(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static inline uint64_t t_below(uint64_t *s, uint64_t n) { return t_rnd(s) % n; }

#define B(str) (const uint8_t *)(str), strlen(str)

/* The encoding of s in a fresh buffer (free with dyna_buf_free). */
static inline dyna_buf_t t_enc(const dyna_crdt_t *s) {
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_crdt_encode(s, &b);
  assert_false(b.oom);
  return b;
}

/* Asserts that a and b encode to the same bytes (and compare equal). */
static inline void t_same(const dyna_crdt_t *a, const dyna_crdt_t *b) {
  dyna_buf_t x = t_enc(a), y = t_enc(b);
  assert_int_equal(x.len, y.len);
  assert_memory_equal(x.data, y.data, x.len);
  assert_true(dyna_crdt_equal(a, b));
  dyna_buf_free(&x);
  dyna_buf_free(&y);
}

/* Encodes, decodes and checks the result is equal and re-encodes identically. */
static inline void t_roundtrip(const dyna_crdt_t *s) {
  dyna_buf_t x = t_enc(s);
  dyna_crdt_t d;
  dyna_crdt_init(&d, 0);
  assert_int_equal(dyna_crdt_decode(x.data, x.len, &d), 0);
  t_same(s, &d);
  dyna_crdt_clear(&d);
  dyna_buf_free(&x);
}

/* out := merge(a, b) as a fresh copy. */
static inline void t_merged(dyna_crdt_t *out, const dyna_crdt_t *a, const dyna_crdt_t *b) {
  dyna_crdt_init(out, a->type);
  assert_int_equal(dyna_crdt_copy(out, a), 0);
  assert_int_equal(dyna_crdt_merge(out, b), 0);
}

/* A member name from a small pool (so that ops collide), 1-3 bytes. */
static inline void t_member(uint64_t *r, char *buf, size_t pool) {
  snprintf(buf, 16, "m%u", (unsigned)t_below(r, pool));
}

/* One random operation of s's type by actor; accepts the errors an op may refuse
 * with (never ENOMEM here). ts is a fake wall clock. */
static inline void t_random_op(dyna_crdt_t *s, uint64_t actor, uint64_t *r, uint64_t ts) {
  char m[16];
  t_member(r, m, 8);
  unsigned k = (unsigned)t_below(r, 10);
  int rc = 0;
  if (k == 9 && t_below(r, 4) == 0) {
    rc = dyna_crdt_delete(s, actor, ts);
  } else if (k == 8) {
    unsigned e = (unsigned)t_below(r, 3);
    if (e == 0) rc = dyna_crdt_persist(s, actor);
    else rc = dyna_crdt_expire(s, actor, 1000 + t_below(r, 50));
    if (rc > 0) rc = 0;
  } else {
    switch (s->type) {
    case DYNA_CRDT_COUNTER:
      if (k < 5) rc = dyna_crdt_incrby(s, actor, (int64_t)t_below(r, 21) - 10, NULL);
      else if (k < 7) rc = dyna_crdt_incrbyfloat(s, actor, 0.5 * (double)t_below(r, 5), NULL);
      else rc = dyna_crdt_delete(s, actor, ts);
      if (rc == DYNA_EINVAL) rc = 0; /* a fractional value refuses INCRBY */
      break;
    case DYNA_CRDT_SET:
      if (k < 6) rc = dyna_crdt_sadd(s, actor, B(m));
      else rc = dyna_crdt_srem(s, B(m));
      if (rc > 0) rc = 0;
      break;
    case DYNA_CRDT_HASH: {
      char v[16];
      snprintf(v, sizeof(v), "%u", (unsigned)t_below(r, 100));
      if (k < 4) rc = dyna_crdt_hset(s, actor, B(m), B(v), ts);
      else if (k < 6) rc = dyna_crdt_hincrby(s, actor, B(m), (int64_t)t_below(r, 7) - 3, NULL);
      else if (k < 7) rc = dyna_crdt_hincrbyfloat(s, actor, B(m), 0.25, NULL);
      else rc = dyna_crdt_hdel(s, actor, B(m));
      if (rc > 0 || rc == DYNA_EINVAL) rc = 0;
      break;
    }
    case DYNA_CRDT_ZSET: {
      static const int fl[] = {0, 0, DYNA_CRDT_ZADD_INCR, DYNA_CRDT_ZADD_INCR, DYNA_CRDT_ZADD_NX,
                               DYNA_CRDT_ZADD_XX, DYNA_CRDT_ZADD_GT, DYNA_CRDT_ZADD_LT};
      if (k < 6) {
        rc = dyna_crdt_zadd(s, actor, B(m), (double)t_below(r, 9) - 4.0 + 0.5 * (double)(k & 1),
                            fl[t_below(r, 8)], NULL);
      } else {
        rc = dyna_crdt_zrem(s, actor, B(m));
      }
      if (rc > 0) rc = 0;
      break;
    }
    case DYNA_CRDT_LIST: {
      size_t n = dyna_crdt_count(s);
      if (k < 3 || n == 0) {
        rc = dyna_crdt_lpush(s, actor, (int)t_below(r, 2), B(m));
      } else if (k < 4) {
        rc = dyna_crdt_lpop(s, (int)t_below(r, 2), NULL);
      } else if (k < 5) {
        rc = dyna_crdt_lset(s, actor, t_below(r, n), B(m));
      } else if (k < 7) {
        rc = dyna_crdt_linsert(s, actor, t_below(r, n), (int)t_below(r, 2), B(m));
      } else {
        size_t i = t_below(r, n);
        dyna_crdt_lremove(s, &i, 1);
      }
      break;
    }
    default:
      fail();
    }
  }
  assert_int_equal(rc, 0);
}

#endif
