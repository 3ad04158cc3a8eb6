/* fuzz_wal.c: libFuzzer target for the write-ahead log's record decoder (store/wal.h),
 * the bytes the LMDB engine reads back from disk at every open.
 *
 * The input is read as a log segment: records are decoded one after another until the
 * first that does not check out, as replay does. Each record's entries are loaded into
 * an overlay; then the overlay is encoded again as a record, which must decode, with
 * the same sequence number, to the same number of entries and bytes. Any broken
 * property aborts. */
#include "util/buf.h"
#include "util/err.h"
#include "store/overlay.h"
#include "store/wal.h"
#include <stdint.h>
#include <stdlib.h>

#define CHECK(x) \
  do {           \
    if (!(x)) abort(); \
  } while (0)

static int load(void *arg, dyna_space_t sp, int tomb, const uint8_t *k, size_t klen,
                const uint8_t *v, size_t vlen) {
  CHECK((unsigned)sp < DYNA_SPACE_COUNT && klen >= 1 && klen <= DYNA_STORE_MAX_KEY);
  CHECK(!tomb || vlen == 0);
  return dyna_ov_set(arg, sp, k, klen, v, vlen, tomb);
}

typedef struct tally {
  size_t n, bytes;
} tally_t;

static int count(void *arg, dyna_space_t sp, int tomb, const uint8_t *k, size_t klen,
                 const uint8_t *v, size_t vlen) {
  (void)sp, (void)tomb, (void)k, (void)v;
  tally_t *t = arg;
  t->n++;
  t->bytes += klen + vlen;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t at = 0;
  for (;;) {
    size_t used, plen;
    uint64_t seq;
    const uint8_t *payload;
    int rc = dyna_wal_decode(data + at, size - at, 0, &used, &seq, &payload, &plen); /* segment 0 */
    if (rc) {
      int zeros = 1; /* EAGAIN: the end, or zero fill (at least 8 zero bytes or all zeros) */
      for (size_t z = at; z < size && z < at + 8; z++) zeros &= data[z] == 0;
      CHECK(rc == DYNA_ECORRUPT || (rc == DYNA_EAGAIN && zeros));
      return 0;
    }
    CHECK(used >= DYNA_WAL_HEADER && used <= size - at && payload + plen == data + at + used);
    dyna_overlay_t ov;
    dyna_ov_init(&ov);
    rc = dyna_wal_entries(payload, plen, load, &ov);
    if (!rc) {
      dyna_buf_t again = DYNA_BUF_INIT;
      dyna_wal_encode(&ov, 0, seq, &again);
      CHECK(!again.oom);
      size_t used2, plen2;
      uint64_t seq2;
      const uint8_t *p2;
      CHECK(dyna_wal_decode(again.data, again.len, 0, &used2, &seq2, &p2, &plen2) == 0);
      CHECK(used2 == again.len && seq2 == seq);
      tally_t t = {0, 0};
      CHECK(dyna_wal_entries(p2, plen2, count, &t) == 0);
      CHECK(t.n == ov.n && t.bytes == ov.bytes);
      dyna_buf_free(&again);
    } else {
      CHECK(rc == DYNA_ECORRUPT || rc == DYNA_ENOMEM);
    }
    dyna_ov_clear(&ov);
    if (rc) return 0;
    at += used;
  }
}
