/* fuzz_object.c: libFuzzer target for the object, context and base64 decoders.
 *
 * The same input is tried three ways:
 *   object   if it decodes, it must re-encode to the very same bytes (canonical), be
 *            unchanged by a merge with a copy of itself or with itself, descend
 *            itself, and its context must round-trip; an update with its own context
 *            must leave exactly one sibling;
 *   context  if it decodes, it must re-encode to the same bytes (or be empty);
 *   base64   if it decodes, it must re-encode to the same characters (strictness).
 * Any broken property aborts. Allocation failures are not injected here (the unit
 * tests do that); DYNA_ETOOBIG from the update is allowed at the limits. */
#include "util/b64.h"
#include "util/buf.h"
#include "util/err.h"
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

static void fuzz_as_object(const uint8_t *p, size_t len) {
  dyna_obj_t o, m;
  dyna_obj_init(&o);
  dyna_obj_init(&m);
  if (dyna_obj_decode(p, len, &o) != 0) return;
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
  check_context_of(&o);
  dyna_buf_free(&b);
  dyna_obj_clear(&o);
  dyna_obj_clear(&m);
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_as_object(data, size);
  fuzz_as_context(data, size);
  fuzz_as_base64(data, size);
  return 0;
}
