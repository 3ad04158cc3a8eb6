/* fuzz_crdt.c: libFuzzer target for the typed-object states (core/crdt*.c).
 *
 * The input is tried three ways:
 *   whole   dyna_crdt_check must give decode's verdict (and the same type and counts
 *           of context and expiry values); if it decodes, it must re-encode to the very same bytes (canonical), be
 *           unchanged by a merge with itself and with a copy of itself;
 *   split   the first byte says where to cut the rest into two inputs; when both
 *           decode (to the same type), merge(a, b) and merge(b, a) must encode to the
 *           same bytes, merging b again must change nothing, and the result must
 *           decode back to itself;
 *   ops     when the whole decodes, a few typed ops chosen by the input's bytes run
 *           on it, and the result must still re-encode and decode to itself (ops
 *           never build a state the decoder would reject).
 * Any broken property aborts. Allocation failures are not injected here (the unit
 * tests do that); DYNA_ETOOBIG is allowed at the limits. */
#include "core/crdt.h"
#include "core/crdt_ops.h"
#include "util/buf.h"
#include "util/err.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(x)         \
  do {                   \
    if (!(x)) abort();   \
  } while (0)

static dyna_buf_t enc(const dyna_crdt_t *s) {
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_crdt_encode(s, &b);
  CHECK(!b.oom);
  return b;
}

static int same(const dyna_buf_t *a, const dyna_buf_t *b) {
  return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* s re-encodes to itself through decode. */
static void check_roundtrip(const dyna_crdt_t *s) {
  dyna_buf_t b = enc(s);
  dyna_crdt_t d;
  dyna_crdt_init(&d, 0);
  CHECK(dyna_crdt_decode(b.data, b.len, &d) == 0);
  CHECK(dyna_crdt_equal(&d, s));
  dyna_buf_t c = enc(&d);
  CHECK(same(&b, &c));
  dyna_buf_free(&b);
  dyna_buf_free(&c);
  dyna_crdt_clear(&d);
}

static void fuzz_whole(const uint8_t *p, size_t len) {
  dyna_crdt_t s, m;
  dyna_crdt_init(&s, 0);
  dyna_crdt_t c;
  dyna_crdt_init(&c, 0);
  int drc = dyna_crdt_decode(p, len, &s);
  CHECK(dyna_crdt_check(p, len, &c) == drc);
  if (drc == 0) {
    CHECK(c.type == s.type && c.nctx == s.nctx && c.nexp == s.nexp && c.n == 0 && !c.ctx && !c.exp);
  }
  if (drc != 0) return;
  dyna_buf_t b = enc(&s);
  CHECK(b.len == len && memcmp(b.data, p, len) == 0);
  dyna_crdt_init(&m, s.type);
  CHECK(dyna_crdt_copy(&m, &s) == 0);
  CHECK(dyna_crdt_merge(&m, &s) == 0);
  CHECK(dyna_crdt_equal(&m, &s));
  CHECK(dyna_crdt_merge(&m, &m) == 0);
  CHECK(dyna_crdt_equal(&m, &s));
  /* a few ops driven by the input's bytes */
  for (size_t i = 0; i < len && i < 8; i++) {
    uint8_t k = p[len - 1 - i];
    uint64_t actor = 1 + (k & 3);
    const uint8_t *arg = p + (i % (len ? len : 1));
    size_t alen = (size_t)(k >> 5);
    if (arg + alen > p + len) alen = 0;
    int rc = 0;
    switch (s.type) {
    case DYNA_CRDT_COUNTER: rc = dyna_crdt_incrby(&s, actor, (int64_t)k - 100, NULL); break;
    case DYNA_CRDT_SET: rc = (k & 4) ? dyna_crdt_srem(&s, arg, alen) : dyna_crdt_sadd(&s, actor, arg, alen); break;
    case DYNA_CRDT_HASH:
      rc = (k & 4) ? dyna_crdt_hincrby(&s, actor, arg, alen, 3, NULL)
                   : dyna_crdt_hset(&s, actor, arg, alen, arg, alen, k);
      break;
    case DYNA_CRDT_ZSET:
      rc = (k & 4) ? dyna_crdt_zrem(&s, actor, arg, alen)
                   : dyna_crdt_zadd(&s, actor, arg, alen, (double)k, (k & 8) ? DYNA_CRDT_ZADD_INCR : 0, NULL);
      break;
    case DYNA_CRDT_KEY: rc = (k & 4) ? dyna_crdt_persist(&s, actor) : dyna_crdt_expire(&s, actor, 500u + k); break;
    default:
      if ((k & 4) && dyna_crdt_count(&s)) rc = dyna_crdt_lpop(&s, k & 8, NULL);
      else rc = dyna_crdt_lpush(&s, actor, k & 8, arg, alen);
      break;
    }
    if (k == 0xff) rc = dyna_crdt_delete(&s, actor, (uint64_t)k + 1);
    if (k == 0xfe) rc = dyna_crdt_expire(&s, actor, 1000);
    CHECK(rc >= 0 || rc == DYNA_ETOOBIG || rc == DYNA_EINVAL || rc == DYNA_ERANGE);
  }
  check_roundtrip(&s);
  /* the op'd state still merges back idempotently with the original */
  CHECK(dyna_crdt_merge(&s, &m) == 0);
  dyna_buf_t x = enc(&s);
  CHECK(dyna_crdt_merge(&s, &m) == 0);
  dyna_buf_t y = enc(&s);
  CHECK(same(&x, &y));
  dyna_buf_free(&x);
  dyna_buf_free(&y);
  dyna_buf_free(&b);
  dyna_crdt_clear(&s);
  dyna_crdt_clear(&m);
}

static void fuzz_split(const uint8_t *p, size_t len) {
  if (len < 2) return;
  size_t cut = 1 + (size_t)p[0] * (len - 1) / 256;
  dyna_crdt_t a, b;
  dyna_crdt_init(&a, 0);
  dyna_crdt_init(&b, 0);
  if (dyna_crdt_decode(p + 1, cut - 1, &a) != 0 || dyna_crdt_decode(p + cut, len - cut, &b) != 0 ||
      a.type != b.type) {
    dyna_crdt_clear(&a);
    dyna_crdt_clear(&b);
    return;
  }
  dyna_crdt_t ab, ba;
  dyna_crdt_init(&ab, a.type);
  dyna_crdt_init(&ba, a.type);
  CHECK(dyna_crdt_copy(&ab, &a) == 0);
  CHECK(dyna_crdt_copy(&ba, &b) == 0);
  int r1 = dyna_crdt_merge(&ab, &b), r2 = dyna_crdt_merge(&ba, &a);
  CHECK(r1 == r2);
  if (r1 == 0) {
    dyna_buf_t x = enc(&ab), y = enc(&ba);
    CHECK(same(&x, &y));
    CHECK(dyna_crdt_merge(&ab, &b) == 0);
    dyna_buf_t z = enc(&ab);
    CHECK(same(&x, &z));
    check_roundtrip(&ab);
    dyna_buf_free(&x);
    dyna_buf_free(&y);
    dyna_buf_free(&z);
  } else {
    CHECK(r1 == DYNA_ETOOBIG);
  }
  dyna_crdt_clear(&a);
  dyna_crdt_clear(&b);
  dyna_crdt_clear(&ab);
  dyna_crdt_clear(&ba);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_whole(data, size);
  fuzz_split(data, size);
  return 0;
}
