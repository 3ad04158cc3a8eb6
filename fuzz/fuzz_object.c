/* fuzz_object.c: libFuzzer target for the object, context and base64 decoders.
 *
 * The same input is tried four ways:
 *   object   dyna_obj_check, dyna_obj_scan and dyna_obj_decode_clock must give decode's
 *            verdict; the scan must find what the decoded object holds (values, typed
 *            states, the latest value's bytes, at their place in the input), and the
 *            clock must be the decoded object without its values, and a blind write on
 *            it, or on the input's bytes (dyna_obj_encode_blind), must make what a write
 *            with o's context makes of o; if it decodes, it must
 *            re-encode to the very same bytes (canonical), be
 *            unchanged by a merge with a copy of itself or with itself, descend
 *            itself, and its context must round-trip; an update with its own context
 *            must leave exactly one sibling; its kind and deadline must be readable;
 *   pair     the input as [u16 big-endian split][a][b], a being the first split bytes
 *            (modulo what is there) after the two: when both decode (version 1 or 2,
 *            typed states included), a merged with b and b merged with a must encode to
 *            the same bytes (merge commutes), and that result must decode back to the
 *            same bytes, be unchanged by merging a or b into it again (idempotence) and
 *            descend both;
 *   context  if it decodes, it must re-encode to the same bytes (or be empty);
 *   base64   if it decodes, it must re-encode to the same characters (strictness);
 *   record   a stored record (keyspace.c): the object's bytes dyna_record_object finds
 *            end the input, any long key lies before them, and dyna_record_decode gives
 *            its verdict, or dyna_obj_check's on those bytes (what a replica answering
 *            a GET sends them on after).
 * Any broken property aborts. Allocation failures are not injected here (the unit
 * tests do that); DYNA_ETOOBIG from the update is allowed at the limits. */
#include "util/alloc.h"
#include "util/b64.h"
#include "util/buf.h"
#include "util/err.h"
#include "core/keyspace.h"
#include "core/object.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(x) \
  do {           \
    if (!(x)) abort(); \
  } while (0)

static int same_bytes(const dyna_buf_t *b, const uint8_t *p, size_t len) {
  return !b->oom && b->len == len && (len == 0 || memcmp(b->data, p, len) == 0);
}

static void check_context_of(const dyna_obj_t *o) {
  dyna_ctx_t c, d;
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_ctx_init(&c);
  dyna_ctx_init(&d);
  CHECK(dyna_obj_context(o, &c) == 0);
  CHECK(c.n == o->n);
  dyna_ctx_encode(&c, &b);
  CHECK(!b.oom);
  CHECK(dyna_ctx_decode(b.data, b.len, &d) == 0);
  CHECK(d.n == c.n);
  CHECK(c.n == 0 || memcmp(c.e, d.e, c.n * sizeof(*c.e)) == 0);
  /* a write with the full context resolves every sibling */
  dyna_obj_t w;
  dyna_obj_init(&w);
  CHECK(dyna_obj_copy(&w, o) == 0);
  dyna_val_t v = {0, 1, (uint8_t *)"fz", 2};
  int rc = dyna_obj_update(&w, &c, o->n ? o->e[0].node : 1, &v);
  CHECK(rc == 0 || rc == DYNA_ETOOBIG);
  if (rc == 0) CHECK(dyna_obj_nvals(&w) == 1);
  if (rc == 0) CHECK(dyna_obj_descends(&w, o));
  dyna_obj_clear(&w);
  dyna_buf_free(&b);
  dyna_ctx_clear(&c);
  dyna_ctx_clear(&d);
}

/* dyna_obj_decode_clock gives o (decoded from p) without its values, and the scan's info. */
static void check_clock(const uint8_t *p, size_t len, const dyna_obj_t *o, const dyna_obj_info_t *info) {
  dyna_obj_t c, w;
  dyna_obj_init(&c);
  dyna_obj_init(&w);
  dyna_obj_info_t ci;
  CHECK(dyna_obj_decode_clock(p, len, &c, &ci) == 0);
  CHECK(ci.nvals == info->nvals && ci.typed == info->typed && ci.has_latest == info->has_latest);
  CHECK(ci.latest_off == info->latest_off && ci.latest_len == info->latest_len);
  CHECK(c.n == o->n && dyna_obj_nvals(&c) == 0);
  CHECK(dyna_obj_copy(&w, o) == 0);
  for (size_t i = 0; i < w.n; i++) { /* o with its values dropped, by hand */
    CHECK(c.e[i].node == o->e[i].node && c.e[i].counter == o->e[i].counter);
    for (size_t j = 0; j < w.e[i].nvals; j++) dyna_free(w.e[i].vals[j].data);
    dyna_free(w.e[i].vals);
    w.e[i].vals = NULL;
    w.e[i].nvals = 0;
  }
  CHECK(dyna_obj_equal(&c, &w));
  /* A blind write on the clock (the SET path's shortcut, dyna_obj_update_blind) makes
   * what the general way makes of o with o's context: the same bytes, or the same error.
   * Writers: o's first, and one no entry has. */
  uint64_t writers[2] = {o->n ? o->e[0].node : 1, 0x5eed};
  if (info->typed) { /* left to the general way, nothing written */
    dyna_buf_t eb = DYNA_BUF_INIT;
    dyna_obj_info_t bi;
    dyna_val_t v = {0, 77, (uint8_t *)"v", 1};
    CHECK(dyna_obj_encode_blind(p, len, writers[0], &v, &eb, &bi) == DYNA_EAGAIN && eb.len == 0);
    dyna_buf_free(&eb);
  }
  for (int k = 0; k < 2 && !info->typed; k++) {
    dyna_val_t v = {0, 77, (uint8_t *)"v", 1};
    dyna_obj_t g, f;
    dyna_ctx_t ctx;
    dyna_obj_init(&g);
    dyna_obj_init(&f);
    dyna_ctx_init(&ctx);
    CHECK(dyna_obj_copy(&g, o) == 0 && dyna_obj_copy(&f, &c) == 0 && dyna_obj_context(o, &ctx) == 0);
    int rg = dyna_obj_update(&g, &ctx, writers[k], &v), rf = dyna_obj_update_blind(&f, writers[k], &v);
    CHECK(rg == rf && (rg == 0 || rg == DYNA_ETOOBIG));
    dyna_buf_t eb = DYNA_BUF_INIT; /* and on the bytes, decoding nothing */
    dyna_obj_info_t bi;
    CHECK(dyna_obj_encode_blind(p, len, writers[k], &v, &eb, &bi) == rg);
    if (!rg) {
      dyna_buf_t eg = DYNA_BUF_INIT;
      dyna_buf_t ef = DYNA_BUF_INIT;
      dyna_obj_encode(&g, &eg);
      dyna_obj_encode(&f, &ef);
      CHECK(!eg.oom && same_bytes(&eg, ef.data, ef.len));
      CHECK(same_bytes(&eg, eb.data, eb.len));
      CHECK(bi.has_latest == info->has_latest && bi.nvals == info->nvals);
      dyna_buf_free(&eg);
      dyna_buf_free(&ef);
    } else {
      CHECK(eb.len == 0);
    }
    dyna_buf_free(&eb);
    dyna_obj_clear(&g);
    dyna_obj_clear(&f);
    dyna_ctx_clear(&ctx);
  }
  dyna_obj_clear(&c);
  dyna_obj_clear(&w);
}

static void fuzz_as_object(const uint8_t *p, size_t len) {
  dyna_obj_t o, m;
  dyna_obj_init(&o);
  dyna_obj_init(&m);
  int rc = dyna_obj_decode(p, len, &o);
  CHECK(dyna_obj_check(p, len) == rc);
  dyna_obj_info_t info;
  CHECK(dyna_obj_scan(p, len, &info) == rc);
  if (rc != 0) {
    CHECK(dyna_obj_decode_clock(p, len, &m, &info) == rc && m.n == 0); /* m untouched */
    if (len) { /* a blind write on bytes that do not decode: the verdict, nothing written */
      dyna_buf_t eb = DYNA_BUF_INIT;
      dyna_val_t v = {0, 77, (uint8_t *)"v", 1};
      CHECK(dyna_obj_encode_blind(p, len, 1, &v, &eb, &info) == rc && eb.len == 0);
      dyna_buf_free(&eb);
    }
    return;
  }
  const dyna_val_t *latest = dyna_obj_latest(&o);
  CHECK(info.nvals == dyna_obj_nvals(&o) && info.typed == (o.ntyped > 0));
  CHECK(info.has_latest == (latest != NULL));
  if (latest) {
    CHECK(info.latest_len == latest->len && info.latest_off + info.latest_len <= len);
    CHECK(latest->len == 0 || memcmp(p + info.latest_off, latest->data, latest->len) == 0);
  }
  check_clock(p, len, &o, &info);
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_obj_encode(&o, &b);
  CHECK(same_bytes(&b, p, len));
  CHECK(dyna_obj_nlive(&o) <= dyna_obj_nvals(&o));
  CHECK((dyna_obj_latest(&o) == NULL) == (dyna_obj_nlive(&o) == 0));
  CHECK(dyna_obj_copy(&m, &o) == 0);
  CHECK(dyna_obj_merge(&m, &o) == 0);
  CHECK(dyna_obj_equal(&m, &o));
  CHECK(dyna_obj_merge(&m, &m) == 0);
  CHECK(dyna_obj_equal(&m, &o));
  CHECK(dyna_obj_descends(&o, &o));
  uint64_t deadline;
  (void)dyna_obj_kind(&o, 0);
  (void)dyna_obj_kind(&o, UINT64_MAX);
  (void)dyna_obj_deadline(&o, &deadline);
  check_context_of(&o);
  dyna_buf_free(&b);
  dyna_obj_clear(&o);
  dyna_obj_clear(&m);
}

/* Merges b into a copy of a, into out (encoded); 0 or the merge's error. */
static int merged(const dyna_obj_t *a, const dyna_obj_t *b, dyna_obj_t *m, dyna_buf_t *out) {
  CHECK(dyna_obj_copy(m, a) == 0);
  int rc = dyna_obj_merge(m, b);
  if (rc == 0) dyna_obj_encode(m, out);
  return rc;
}

static void fuzz_as_pair(const uint8_t *p, size_t len) {
  if (len < 2) return;
  size_t rest = len - 2, split = ((size_t)p[0] << 8 | p[1]) % (rest + 1);
  const uint8_t *pa = p + 2, *pb = p + 2 + split;
  dyna_obj_t a, b, ab, ba, again;
  dyna_obj_init(&a);
  dyna_obj_init(&b);
  dyna_obj_init(&ab);
  dyna_obj_init(&ba);
  dyna_obj_init(&again);
  dyna_buf_t eab = DYNA_BUF_INIT, eba = DYNA_BUF_INIT, e2 = DYNA_BUF_INIT;
  if (dyna_obj_decode(pa, split, &a) != 0 || dyna_obj_decode(pb, rest - split, &b) != 0)
    goto out;
  int r1 = merged(&a, &b, &ab, &eab), r2 = merged(&b, &a, &ba, &eba);
  CHECK(r1 == 0 || r1 == DYNA_ETOOBIG);
  CHECK(r2 == 0 || r2 == DYNA_ETOOBIG);
  if (r1 || r2) goto out;
  CHECK(!eab.oom && !eba.oom);
  CHECK(same_bytes(&eab, eba.data, eba.len)); /* commutes, byte for byte */
  CHECK(dyna_obj_decode(eab.data, eab.len, &again) == 0);
  dyna_obj_encode(&again, &e2);
  CHECK(same_bytes(&e2, eab.data, eab.len)); /* the merge is canonical */
  CHECK(dyna_obj_merge(&ab, &a) == 0 && dyna_obj_merge(&ab, &b) == 0);
  CHECK(dyna_obj_equal(&ab, &again)); /* idempotent */
  CHECK(dyna_obj_descends(&again, &a) && dyna_obj_descends(&again, &b));
  CHECK(dyna_obj_kind(&again, 0) == dyna_obj_kind(&ba, 0));
out:
  dyna_buf_free(&eab);
  dyna_buf_free(&eba);
  dyna_buf_free(&e2);
  dyna_obj_clear(&a);
  dyna_obj_clear(&b);
  dyna_obj_clear(&ab);
  dyna_obj_clear(&ba);
  dyna_obj_clear(&again);
}

static void fuzz_as_context(const uint8_t *p, size_t len) {
  dyna_ctx_t c;
  dyna_ctx_init(&c);
  if (dyna_ctx_decode(p, len, &c) != 0) return;
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_ctx_encode(&c, &b);
  CHECK(len == 0 ? c.n == 0 : same_bytes(&b, p, len));
  dyna_buf_free(&b);
  dyna_ctx_clear(&c);
}

static void fuzz_as_base64(const uint8_t *p, size_t len) {
  dyna_buf_t d = DYNA_BUF_INIT, e = DYNA_BUF_INIT;
  if (dyna_b64_decode((const char *)p, len, &d) == 0) {
    dyna_b64_encode(d.data, d.len, &e);
    CHECK(same_bytes(&e, p, len));
  }
  dyna_buf_free(&d);
  dyna_buf_free(&e);
}

static void fuzz_as_record(const uint8_t *data, size_t size) {
  const uint8_t *obj = NULL, *key = NULL;
  size_t objlen = 0, klen = 0;
  int rc = dyna_record_object(data, size, NULL, 0, &obj, &objlen, &key, &klen);
  dyna_obj_t o;
  dyna_obj_init(&o);
  int drc = dyna_record_decode(data, size, NULL, 0, &o, NULL, NULL);
  if (rc) {
    CHECK(drc == rc);
  } else {
    CHECK(obj >= data && obj + objlen == data + size);
    CHECK(!key || (key > data && key + klen <= obj));
    CHECK(drc == dyna_obj_check(obj, objlen));
  }
  dyna_obj_clear(&o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_as_object(data, size);
  fuzz_as_pair(data, size);
  fuzz_as_context(data, size);
  fuzz_as_base64(data, size);
  fuzz_as_record(data, size);
  return 0;
}
