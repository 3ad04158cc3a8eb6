/* fuzz_ring.c: libFuzzer target for the ring decoder and for placement (core/ring.c).
 *
 * The input is read as one encoded ring followed by control bytes:
 *   decode     if a ring decodes, it must re-encode to exactly the bytes consumed
 *              (one canonical encoding) and read back equal;
 *   preflists  for a few partitions: the first min(N, S) ids are distinct members, the
 *              extended list holds every member once and starts with the short one,
 *              and is_replica agrees with it;
 *   rebalance  the control bytes pick which members stay, which join (and their zones)
 *              and N; the result must be balanced (floor/ceil of Q/S, or with zone
 *              lanes of each lane over its zone), move exactly the lower bound of
 *              partitions, pass the preflist checks and round-trip.
 * When no ring decodes, the control bytes build one from scratch instead. A ring with
 * sites (ring.h) is checked site by site: its preference list holds each site's homes
 * first, and each site's ring is balanced and moved no more than the bound from the old
 * ring of that site. Any broken property traps. Allocation failures are not injected here (the unit test does). */
#include "util/buf.h"
#include "util/err.h"
#include "core/ring.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(x)                    \
  do {                              \
    if (!(x)) __builtin_trap();     \
  } while (0)

#define JOIN_MAX 24 /* members a fuzz input may add */

/* Control bytes, consumed one at a time (zeros once exhausted). */
typedef struct ctl {
  const uint8_t *p;
  size_t len, off;
} ctl_t;

static uint8_t ctl_byte(ctl_t *c) { return c->off < c->len ? c->p[c->off++] : 0; }

/* Preference-list properties of partition p. */
static void check_preflist(const dyna_ring_t *r, uint32_t p, uint32_t nval) {
  static uint64_t ext[DYNA_RING_MEMBERS_MAX + 1];
  static uint8_t seen[DYNA_RING_MEMBERS_MAX];
  uint64_t shrt[8 * DYNA_SITES_MAX];
  uint32_t s = r->nmembers, k = nval < s ? nval : s;
  CHECK(nval <= 8);
  if (r->nsites) { /* every site's homes: min(nval, its members) each */
    dyna_repl_t u = dyna_repl_uniform(nval);
    k = 0;
    for (uint32_t i = 0; i < r->nsites; i++) k += dyna_ring_site_homes(r, i, &u);
  }
  CHECK(dyna_ring_preflist(r, p, nval, shrt, k) == k);
  CHECK(dyna_ring_preflist(r, p, nval, ext, s + 1) == s);
  CHECK(k == 0 || memcmp(shrt, ext, k * sizeof *ext) == 0);
  memset(seen, 0, s);
  for (uint32_t i = 0; i < s; i++) {
    int m = dyna_ring_member_index(r, ext[i]);
    CHECK(m >= 0);
    CHECK(!seen[m]);
    seen[m] = 1;
    CHECK(dyna_ring_is_replica(r, p, nval, ext[i]) == (i < k));
  }
  if (s > 0) CHECK(ext[0] == dyna_ring_owner(r, p));
}

static void check_preflists(const dyna_ring_t *r, uint32_t nval) {
  if (r->size == 0) return;
  check_preflist(r, 0, nval);
  check_preflist(r, r->size / 2, nval);
  check_preflist(r, r->size - 1, nval);
}

/* Encodes r, reads it back, compares. */
static void check_roundtrip(const dyna_ring_t *r) {
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_ring_t d;
  dyna_rd_t rd;
  dyna_ring_init(&d);
  dyna_ring_encode(r, &b);
  CHECK(!b.oom);
  dyna_rd_init(&rd, b.data, b.len);
  CHECK(dyna_ring_read(&rd, &d) == 0);
  CHECK(dyna_rd_left(&rd) == 0);
  CHECK(dyna_ring_equal(r, &d));
  dyna_ring_clear(&d);
  dyna_buf_free(&b);
}

static int cmp_u32_desc(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x < y) - (x > y);
}

static void check_rebalanced_one(const dyna_ring_t *old, const dyna_ring_t *r);

/* With sites: each site's ring against old's ring of that site (or none). */
static void check_rebalanced(const dyna_ring_t *old, const dyna_ring_t *r) {
  dyna_ring_t empty;
  dyna_ring_init(&empty);
  if (!r->nsites) {
    if (!old->nsites) { check_rebalanced_one(old, r); return; }
    for (uint32_t j = 0; j < old->nsites; j++)
      if (!dyna_ring_site_name(old, j)[0]) { check_rebalanced_one(&old->site[j], r); return; }
    check_rebalanced_one(&empty, r);
    return;
  }
  for (uint32_t i = 0; i < r->nsites; i++) {
    const char *dc = dyna_ring_site_name(r, i);
    const dyna_ring_t *o = &empty;
    for (uint32_t j = 0; j < old->nsites; j++)
      if (!strcmp(dyna_ring_site_name(old, j), dc)) o = &old->site[j];
    if (!old->nsites && !dc[0]) o = old;
    check_rebalanced_one(o, &r->site[i]);
  }
}

static const dyna_ring_t *rank_ring; /* for cmp_by_zone */
static int cmp_by_zone(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return strcmp(rank_ring->members[x].zone, rank_ring->members[y].zone);
}

/* Zone lanes (ring.h): when every member of r declares a zone and there are at least
 * two, rank[i] := the rank of member i's zone among the distinct names, and the count
 * is returned; else 0. */
static uint32_t zone_ranks(const dyna_ring_t *r, uint32_t *rank) {
  static uint32_t by[DYNA_RING_MEMBERS_MAX];
  uint32_t z = 0;
  for (uint32_t i = 0; i < r->nmembers; i++) {
    if (!r->members[i].zone[0]) return 0;
    by[i] = i;
  }
  rank_ring = r;
  qsort(by, r->nmembers, sizeof *by, cmp_by_zone);
  for (uint32_t i = 0; i < r->nmembers; i++) {
    if (i == 0 || strcmp(r->members[by[i - 1]].zone, r->members[by[i]].zone)) z++;
    rank[by[i]] = z - 1;
  }
  return z >= 2 ? z : 0;
}

/* Surplus of the k counts over floor/ceil shares of total, the ceil to those owning
 * most (sorts cnt). */
static uint32_t surplus(uint32_t *cnt, uint32_t k, uint32_t total) {
  uint32_t sum = 0, lo = total / k, extra = total % k;
  qsort(cnt, k, sizeof *cnt, cmp_u32_desc);
  for (uint32_t i = 0; i < k; i++) {
    uint32_t t = lo + (i < extra ? 1u : 0u);
    if (cnt[i] > t) sum += cnt[i] - t;
  }
  return sum;
}

/* Balance, and moves == the lower bound computed from old and the new members, under
 * the claim r was made by: lanes (every partition in its lane, floor/ceil of its lane
 * over its zone's members, partitions out of lane moved too) or the older one (floor/
 * ceil of Q/S). A zoned result is either exactly in lanes or over Q/16 out of them (a
 * result that near is taken in lanes), and a zoned old ring within Q/16 of its own
 * lanes (or an unzoned or empty one) must give lanes. */
static void check_rebalanced_one(const dyna_ring_t *old, const dyna_ring_t *r) {
  static uint32_t cnt[DYNA_RING_MEMBERS_MAX], kept[DYNA_RING_MEMBERS_MAX], rank[DYNA_RING_MEMBERS_MAX],
      orank[DYNA_RING_MEMBERS_MAX], zc[DYNA_RING_MEMBERS_MAX];
  uint32_t q = r->size, s = r->nmembers;
  for (uint32_t i = 1; i < s; i++) CHECK(r->members[i - 1].id < r->members[i].id);
  memset(cnt, 0, s * sizeof *cnt);
  memset(kept, 0, s * sizeof *kept);
  uint32_t z = zone_ranks(r, rank), misses = 0;
  for (uint32_t p = 0; p < q; p++) {
    CHECK(r->owner[p] < s);
    cnt[r->owner[p]]++;
    if (z) misses += rank[r->owner[p]] != p % z;
  }
  int lanes = z && misses == 0;
  CHECK(!z || lanes || misses > q / 16);
  if (z && !lanes) { /* the older claim: old was zoned and over Q/16 out of its lanes */
    uint32_t oz = old->size ? zone_ranks(old, orank) : 0, om = 0;
    for (uint32_t p = 0; oz && p < old->size; p++) om += orank[old->owner[p]] != p % oz;
    CHECK(oz && om > q / 16);
  }
  for (uint32_t i = 0; i < s; i++) {
    uint32_t total = q, k = s;
    if (lanes) {
      total = q / z + (rank[i] < q % z ? 1u : 0u);
      k = 0;
      for (uint32_t j = 0; j < s; j++) k += rank[j] == rank[i];
    }
    CHECK(cnt[i] == total / k || (total % k && cnt[i] == total / k + 1));
  }
  uint32_t moved = 0, bound = 0;
  for (uint32_t p = 0; p < q; p++) {
    moved += old->size && dyna_ring_owner(old, p) != dyna_ring_owner(r, p);
    if (!old->size) continue;
    int m = dyna_ring_member_index(r, dyna_ring_owner(old, p));
    if (m < 0 || (lanes && rank[m] != p % z)) bound++;
    else kept[m]++;
  }
  if (!old->size) return;
  if (!lanes) bound += surplus(kept, s, q);
  for (uint32_t l = 0; lanes && l < z; l++) {
    uint32_t k = 0;
    for (uint32_t i = 0; i < s; i++)
      if (rank[i] == l) zc[k++] = kept[i];
    if (k) bound += surplus(zc, k, q / z + (l < q % z ? 1u : 0u));
  }
  CHECK(moved == bound);
}

/* Builds the new member set: each old member stays unless a control bit drops it,
 * then up to JOIN_MAX join with fresh ids and one of four zones. Returns the count. */
static size_t pick_members(const dyna_ring_t *old, ctl_t *c, dyna_ring_member_t *out) {
  static const char *zones[4] = {"", "a", "b", "c"};
  size_t n = 0;
  uint8_t bits = 0;
  uint64_t next_id = 1;
  for (uint32_t i = 0; i < old->nmembers; i++) {
    if (i % 8 == 0) bits = ctl_byte(c);
    if (old->members[i].id >= next_id) next_id = old->members[i].id + 1; /* 0: wrapped */
    if ((bits >> (i % 8)) & 1) continue;
    out[n++] = old->members[i];
  }
  uint32_t joins = ctl_byte(c) % (JOIN_MAX + 1);
  if (next_id == 0 || next_id > UINT64_MAX - 64u * (JOIN_MAX + 1)) joins = 0; /* no room */
  for (uint32_t i = 0; i < joins && n < DYNA_RING_MEMBERS_MAX; i++) {
    uint8_t b = ctl_byte(c);
    memset(&out[n], 0, sizeof out[n]);
    out[n].id = next_id + (b >> 2); /* ids gapped by the input, still distinct */
    next_id = out[n].id + 1;
    strcpy(out[n].zone, zones[b & 3]);
    if (old->nsites && n > 0) memcpy(out[n].dc, out[0].dc, sizeof out[n].dc); /* a site of old's */
    n++;
  }
  if (n == 0) { /* someone must own the ring */
    memset(&out[0], 0, sizeof out[0]);
    out[0].id = 1; /* nobody stays, so any id is fresh */
    n = 1;
  }
  /* present them in an input-chosen rotation: order must not matter */
  size_t rot = n > 1 ? ctl_byte(c) % n : 0;
  for (size_t r = 0; r < rot; r++) {
    dyna_ring_member_t t = out[0];
    memmove(out, out + 1, (n - 1) * sizeof *out);
    out[n - 1] = t;
  }
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static dyna_ring_member_t members[DYNA_RING_MEMBERS_MAX + JOIN_MAX];
  dyna_ring_t old, out, again;
  dyna_rd_t rd;
  ctl_t c = {data, size, 0};
  dyna_ring_init(&old);
  dyna_ring_init(&out);
  dyna_ring_init(&again);
  dyna_rd_init(&rd, data, size);
  uint32_t q = 0;
  if (dyna_ring_read(&rd, &old) == 0) {
    /* canonical: the bytes consumed are exactly the re-encoding */
    dyna_buf_t b = DYNA_BUF_INIT;
    dyna_ring_encode(&old, &b);
    CHECK(!b.oom && b.len == rd.off && memcmp(b.data, data, b.len) == 0);
    dyna_buf_free(&b);
    check_roundtrip(&old);
    for (uint32_t nval = 1; nval <= 5 && old.size; nval += 2) check_preflists(&old, nval);
    c.off = rd.off;
  } else {
    CHECK(old.size == 0 && old.nmembers == 0); /* untouched on failure */
  }
  if (old.size == 0) q = 1u << (ctl_byte(&c) % 11); /* no ring (or the empty one) */
  uint32_t nval = 1 + ctl_byte(&c) % 5;
  size_t n = pick_members(&old, &c, members);
  int rc = dyna_ring_rebalance(&old, q, members, n, nval, &out);
  CHECK(rc == 0);
  check_rebalanced(&old, &out);
  check_preflists(&out, nval);
  check_roundtrip(&out);
  /* deterministic: the same call again gives the same ring */
  CHECK(dyna_ring_rebalance(&old, q, members, n, nval, &again) == 0);
  CHECK(dyna_ring_equal(&out, &again));
  /* rebalancing a balanced ring onto the same members moves nothing */
  CHECK(dyna_ring_rebalance(&out, 0, members, n, nval, &again) == 0);
  CHECK(dyna_ring_equal(&out, &again));
  dyna_ring_clear(&old);
  dyna_ring_clear(&out);
  dyna_ring_clear(&again);
  return 0;
}
