/* test_ring.c: unit tests for partition placement (core/ring.c).
 *
 * Checks the ring.h contract with properties computed independently of the
 * implementation: balance (everyone owns floor or ceil of Q/S), minimal movement
 * (each rebalance moves exactly the lower bound that balance forces: the partitions of
 * departed members plus every surplus over the best choice of floor/ceil targets),
 * preference lists (min(N,S) distinct nodes first, spanning min(N, zones) zones, then
 * every member), determinism (member order does not matter), spread (how many
 * partitions would see a repeated node among N consecutive owners), and the encoding
 * (round trip, exactly one ring consumed, every malformed field rejected). Spread
 * figures are printed for the report. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/alloc.h"
#include "core/ring.h"
#include "util/keyhash.h"

/* ---- helpers ------------------------------------------------------------------- */

/* splitmix64: deterministic shuffles. */
static uint64_t rnd_next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* Member i: ids are scattered (not 0..n-1) and not in join order. */
static dyna_ring_member_t mkmember(uint32_t i, const char *zone) {
  dyna_ring_member_t m;
  memset(&m, 0, sizeof m);
  m.id = 1000 + (uint64_t)((i * 7919u) % 10007u);
  if (zone) snprintf(m.zone, sizeof m.zone, "%s", zone);
  return m;
}

static void mkmembers(dyna_ring_member_t *m, uint32_t n, uint32_t nzones) {
  char z[16];
  for (uint32_t i = 0; i < n; i++) {
    snprintf(z, sizeof z, "z%u", nzones ? i % nzones : 0);
    m[i] = mkmember(i, nzones ? z : NULL);
  }
}

static int cmp_member_id(const void *a, const void *b) {
  uint64_t x = ((const dyna_ring_member_t *)a)->id, y = ((const dyna_ring_member_t *)b)->id;
  return (x > y) - (x < y);
}

static void shuffle(dyna_ring_member_t *m, uint32_t n, uint64_t seed) {
  for (uint32_t i = n; i > 1; i--) {
    uint32_t j = (uint32_t)(rnd_next(&seed) % i);
    dyna_ring_member_t t = m[i - 1];
    m[i - 1] = m[j];
    m[j] = t;
  }
}

/* Structure every ring must have. */
static void check_valid(const dyna_ring_t *r) {
  for (uint32_t i = 1; i < r->nmembers; i++) assert_true(r->members[i - 1].id < r->members[i].id);
  for (uint32_t p = 0; p < r->size; p++) assert_true(r->owner[p] < r->nmembers);
}

/* Zone lanes (ring.h): when every member declares a zone and there are at least two,
 * the rank of each member's zone among the distinct zone names (rank[i] for m[i]) and
 * the lane count; 0 otherwise (rank untouched). Independent of ring.c: a quadratic
 * count of the names that sort before each. */
static uint32_t lanes_of(const dyna_ring_member_t *m, uint32_t n, uint32_t *rank) {
  uint32_t z = 0;
  for (uint32_t i = 0; i < n; i++) {
    if (!m[i].zone[0]) return 0;
    int first = 1;
    for (uint32_t j = 0; j < i && first; j++) first = strcmp(m[j].zone, m[i].zone) != 0;
    z += (uint32_t)first;
  }
  if (z < 2) return 0;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t below = 0;
    for (uint32_t j = 0; j < n; j++) {
      int first = 1; /* count each smaller name once */
      for (uint32_t k = 0; k < j && first; k++) first = strcmp(m[k].zone, m[j].zone) != 0;
      below += (uint32_t)(first && strcmp(m[j].zone, m[i].zone) < 0);
    }
    rank[i] = below;
  }
  return z;
}

/* Partitions of lane l among q with z lanes (partition p is in lane p % z). */
static uint32_t lane_size(uint32_t q, uint32_t z, uint32_t l) { return q / z + (l < q % z ? 1 : 0); }

/* Without lanes every member owns floor(Q/S) or ceil(Q/S); with lanes every partition
 * lies in its owner's lane and every member owns floor or ceil of its lane's size over
 * its zone's members. The counts add up to Q. */
static void check_balance(const dyna_ring_t *r) {
  uint32_t n = r->nmembers;
  uint32_t *cnt = calloc(n, sizeof *cnt), *rank = calloc(n, sizeof *rank), *inz = calloc(n, sizeof *inz);
  uint64_t sum = 0;
  assert_true(cnt && rank && inz);
  uint32_t z = lanes_of(r->members, n, rank);
  for (uint32_t p = 0; p < r->size; p++) {
    cnt[r->owner[p]]++;
    if (z) assert_int_equal(rank[r->owner[p]], p % z);
  }
  for (uint32_t i = 0; z && i < n; i++) inz[rank[i]]++;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t total = z ? lane_size(r->size, z, rank[i]) : r->size, k = z ? inz[rank[i]] : n;
    assert_in_range(cnt[i], total / k, total / k + (total % k ? 1 : 0));
    assert_int_equal(cnt[i], dyna_ring_owned(r, r->members[i].id));
    sum += cnt[i];
  }
  assert_int_equal(sum, r->size);
  free(cnt);
  free(rank);
  free(inz);
}

static uint32_t moved(const dyna_ring_t *a, const dyna_ring_t *b) {
  uint32_t n = 0;
  for (uint32_t p = 0; p < a->size; p++) n += dyna_ring_owner(a, p) != dyna_ring_owner(b, p);
  return n;
}

static int cmp_u32_desc(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x < y) - (x > y);
}

/* The surplus of the k counts in cnt over floor/ceil shares of total, the ceil going
 * to those owning most (sorts cnt). */
static uint32_t surplus(uint32_t *cnt, uint32_t k, uint32_t total) {
  uint32_t s = 0, base = total / k, extra = total % k;
  qsort(cnt, k, sizeof *cnt, cmp_u32_desc);
  for (uint32_t i = 0; i < k; i++) {
    uint32_t t = base + (i < extra ? 1 : 0);
    if (cnt[i] > t) s += cnt[i] - t;
  }
  return s;
}

/* The fewest partitions any balanced ring over members can differ from old by:
 * partitions of departed members (and with lanes those outside their new owner's
 * lane), plus each staying member's surplus over its target, with the ceil targets
 * given to the members owning most (per zone with lanes). */
static uint32_t movement_bound(const dyna_ring_t *old, const dyna_ring_member_t *m, uint32_t n) {
  uint32_t *cnt = calloc(n, sizeof *cnt), *rank = calloc(n, sizeof *rank), *zc = calloc(n, sizeof *zc);
  uint32_t kept = 0, bound = 0;
  assert_true(cnt && rank && zc);
  uint32_t z = lanes_of(m, n, rank);
  for (uint32_t p = 0; p < old->size; p++) {
    uint64_t id = dyna_ring_owner(old, p);
    for (uint32_t i = 0; i < n; i++)
      if (m[i].id == id) {
        if (z && rank[i] != p % z) break;
        cnt[i]++;
        kept++;
        break;
      }
  }
  bound = old->size - kept;
  if (!z) bound += surplus(cnt, n, old->size);
  for (uint32_t l = 0; l < z; l++) {
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++)
      if (rank[i] == l) zc[k++] = cnt[i];
    bound += surplus(zc, k, lane_size(old->size, z, l));
  }
  free(cnt);
  free(rank);
  free(zc);
  return bound;
}

/* Partitions p whose owners of p..p+nval-1 repeat a node: the preference list had to
 * skip ahead. */
static uint32_t collisions(const dyna_ring_t *r, uint32_t nval) {
  uint32_t bad = 0;
  for (uint32_t p = 0; p < r->size; p++) {
    int dup = 0;
    for (uint32_t i = 0; i < nval && !dup; i++)
      for (uint32_t j = i + 1; j < nval && !dup; j++)
        dup = r->owner[(p + i) % r->size] == r->owner[(p + j) % r->size];
    bad += dup;
  }
  return bad;
}

/* Index of id among the members (asserts it is one). */
static uint32_t index_of(const dyna_ring_t *r, uint64_t id) {
  int i = dyna_ring_member_index(r, id);
  assert_true(i >= 0);
  return (uint32_t)i;
}

static void rebalance_ok(const dyna_ring_t *old, uint32_t q, const dyna_ring_member_t *m,
                         uint32_t n, uint32_t nval, dyna_ring_t *out) {
  assert_int_equal(dyna_ring_rebalance(old, q, m, n, nval, out), 0);
  check_valid(out);
  check_balance(out);
}

/* Checks every preference list of r: the first min(nval, S) are distinct members
 * spanning min(nval, zones) zones; the extended list holds every member once and
 * starts with the short one; is_replica agrees. nzones 0: no zones declared. */
static void check_preflists(const dyna_ring_t *r, uint32_t nval, uint32_t nzones) {
  uint32_t s = r->nmembers, k = nval < s ? nval : s;
  uint64_t *ext = calloc(s + 4, sizeof *ext), *shrt = calloc(nval + 4, sizeof *shrt);
  uint8_t *seen = calloc(s, 1);
  assert_true(ext && shrt && seen);
  for (uint32_t p = 0; p < r->size; p++) {
    size_t n = dyna_ring_preflist(r, p, nval, shrt, nval);
    assert_int_equal(n, k);
    size_t e = dyna_ring_preflist(r, p, nval, ext, s + 4);
    assert_int_equal(e, s);
    memset(seen, 0, s);
    for (uint32_t i = 0; i < s; i++) {
      uint32_t m = index_of(r, ext[i]);
      assert_false(seen[m]);
      seen[m] = 1;
    }
    assert_memory_equal(shrt, ext, k * sizeof *ext);
    /* the head starts at p's owner unless zones reorder; without zones it is exactly
     * the first distinct owners in walk order */
    assert_int_equal(ext[0], dyna_ring_owner(r, p));
    if (nzones) {
      uint32_t want = k < nzones ? k : nzones, have = 0;
      char used[64][DYNA_ZONE_MAX];
      for (uint32_t i = 0; i < k; i++) {
        const char *z = r->members[index_of(r, ext[i])].zone;
        uint32_t j = 0;
        while (j < have && strcmp(used[j], z) != 0) j++;
        if (j == have && have < 64) memcpy(used[have++], z, DYNA_ZONE_MAX);
      }
      assert_int_equal(have, want);
    }
    for (uint32_t i = 0; i < s; i++)
      assert_int_equal(dyna_ring_is_replica(r, p, nval, ext[i]), i < k);
  }
  free(ext);
  free(shrt);
  free(seen);
}

/* ---- tests --------------------------------------------------------------------- */

static void test_single(void **state) {
  (void)state;
  dyna_ring_t r, c;
  dyna_ring_member_t m = mkmember(1, "east");
  uint64_t out[4];
  dyna_ring_init(&r);
  dyna_ring_init(&c);
  assert_int_equal(dyna_ring_single(&r, 0, &m), DYNA_EINVAL);
  assert_int_equal(dyna_ring_single(&r, 3, &m), DYNA_EINVAL);
  assert_int_equal(dyna_ring_single(&r, 131072, &m), DYNA_EINVAL);
  assert_int_equal(dyna_ring_single(&r, 64, &m), 0);
  check_valid(&r);
  check_balance(&r);
  assert_int_equal(r.size, 64);
  assert_int_equal(r.nmembers, 1);
  assert_string_equal(r.members[0].zone, "east");
  for (uint32_t p = 0; p < 64; p++) {
    assert_int_equal(dyna_ring_owner(&r, p), m.id);
    assert_int_equal(dyna_ring_preflist(&r, p, 3, out, 4), 1);
    assert_int_equal(out[0], m.id);
    assert_true(dyna_ring_is_replica(&r, p, 3, m.id));
    assert_false(dyna_ring_is_replica(&r, p, 3, m.id + 1));
  }
  assert_int_equal(dyna_ring_owned(&r, m.id), 64);
  assert_int_equal(dyna_ring_owned(&r, m.id + 1), 0);
  assert_int_equal(dyna_ring_member_index(&r, m.id), 0);
  assert_int_equal(dyna_ring_member_index(&r, m.id + 1), -1);
  assert_int_equal(dyna_ring_copy(&c, &r), 0);
  assert_true(dyna_ring_equal(&c, &r));
  c.owner[0] = 0;
  strcpy(c.members[0].zone, "west");
  assert_false(dyna_ring_equal(&c, &r));
  /* rebalancing a one-member ring onto itself changes nothing */
  assert_int_equal(dyna_ring_rebalance(&r, 0, &m, 1, 3, &c), 0);
  assert_true(dyna_ring_equal(&c, &r));
  /* an empty ring owns nothing and lists nobody */
  dyna_ring_clear(&c);
  assert_int_equal(dyna_ring_preflist(&c, 0, 3, out, 4), 0);
  assert_false(dyna_ring_is_replica(&c, 0, 3, m.id));
  dyna_ring_clear(&r);
  dyna_ring_clear(&c);
}

static void test_balance_from_empty(void **state) {
  (void)state;
  static const uint32_t qs[] = {1, 2, 8, 64, 256, 1024};
  dyna_ring_member_t m[40];
  dyna_ring_t empty, r;
  dyna_ring_init(&empty);
  dyna_ring_init(&r);
  mkmembers(m, 40, 0);
  for (size_t qi = 0; qi < sizeof qs / sizeof *qs; qi++)
    for (uint32_t s = 1; s <= 20; s++) {
      rebalance_ok(&empty, qs[qi], m, s, 3, &r);
      assert_int_equal(r.size, qs[qi]);
      assert_int_equal(r.nmembers, s);
    }
  /* more members than partitions: each owns 0 or 1 */
  for (uint32_t s = 9; s <= 40; s += 7) {
    rebalance_ok(&empty, 8, m, s, 3, &r);
    assert_int_equal(r.nmembers, s);
  }
  /* the largest ring, a few member counts */
  static const uint32_t big[] = {1, 7, 20};
  for (size_t i = 0; i < 3; i++) rebalance_ok(&empty, DYNA_RING_MAX_SIZE, m, big[i], 3, &r);
  dyna_ring_clear(&r);
}

/* Spread figures of one join/leave run (partitions with a repeated node among N
 * consecutive owners). */
typedef struct spread {
  uint32_t final;   /* after all joins */
  uint32_t worst2n; /* worst at any step with 2N..3N-1 members */
  uint32_t worst3n; /* worst at any step with at least 3N members */
} spread_t;

static void note_spread(spread_t *sp, const dyna_ring_t *r, uint32_t s, uint32_t nval) {
  uint32_t c = collisions(r, nval);
  if (s >= 3 * nval && c > sp->worst3n) sp->worst3n = c;
  else if (s >= 2 * nval && s < 3 * nval && c > sp->worst2n) sp->worst2n = c;
}

/* Joins 1..maxs one at a time, then leaves in a scrambled order back to one member;
 * every step must be balanced and move exactly the lower bound. */
static spread_t join_leave(uint32_t q, uint32_t maxs, uint32_t nval, uint32_t nzones) {
  dyna_ring_member_t all[64], cur[64];
  dyna_ring_t a, b;
  spread_t sp = {0, 0, 0};
  assert_true(maxs <= 64);
  dyna_ring_init(&a);
  dyna_ring_init(&b);
  mkmembers(all, maxs, nzones);
  assert_int_equal(dyna_ring_single(&a, q, &all[0]), 0);
  for (uint32_t s = 2; s <= maxs; s++) {
    uint32_t bound = movement_bound(&a, all, s);
    rebalance_ok(&a, 0, all, s, nval, &b);
    uint32_t mv = moved(&a, &b);
    assert_int_equal(mv, bound);
    /* the joiner takes its share, which is all that moves, unless it brings a new
     * zone: then the lanes change (ring.h) */
    uint32_t got = dyna_ring_owned(&b, all[s - 1].id), rank[64];
    uint32_t z = lanes_of(all, s, rank);
    if (z == lanes_of(all, s - 1, rank)) assert_int_equal(mv, got);
    uint32_t total = s, share = q;
    if (z) { /* share: its lane over its zone's members */
      share = lane_size(q, z, rank[s - 1]);
      total = 0;
      for (uint32_t i = 0; i < s; i++) total += rank[i] == rank[s - 1];
    }
    assert_in_range(got, share / total, (share + total - 1) / total);
    note_spread(&sp, &b, s, nval);
    dyna_ring_t t = a;
    a = b;
    b = t;
  }
  sp.final = collisions(&a, nval);
  /* leave: drop a scrambled member each step */
  uint32_t n = maxs;
  memcpy(cur, all, maxs * sizeof *cur);
  for (uint64_t seed = q; n > 1;) {
    uint32_t gone = (uint32_t)(rnd_next(&seed) % n);
    uint64_t gone_id = cur[gone].id;
    uint32_t had = dyna_ring_owned(&a, gone_id);
    cur[gone] = cur[n - 1];
    n--;
    uint32_t bound = movement_bound(&a, cur, n);
    rebalance_ok(&a, 0, cur, n, nval, &b);
    uint32_t mv = moved(&a, &b);
    assert_int_equal(mv, bound);
    assert_true(mv >= had);
    assert_int_equal(dyna_ring_owned(&b, gone_id), 0);
    note_spread(&sp, &b, n, nval);
    dyna_ring_t t = a;
    a = b;
    b = t;
  }
  dyna_ring_clear(&a);
  dyna_ring_clear(&b);
  return sp;
}

static void test_join_leave_movement(void **state) {
  (void)state;
  static const uint32_t qs[] = {8, 64, 256, 1024};
  static const uint32_t runs[][3] = {{20, 3, 0}, {20, 5, 0}, {18, 3, 3}}; /* S, N, zones */
  for (size_t i = 0; i < sizeof qs / sizeof *qs; i++)
    for (size_t j = 0; j < sizeof runs / sizeof *runs; j++) {
      uint32_t nval = runs[j][1];
      spread_t sp = join_leave(qs[i], runs[j][0], nval, runs[j][2]);
      printf("Q=%-4u N=%u zones=%u joins 1..%u and back: repeated-node partitions: %u at "
             "the top, worst %u with 2N..3N-1 members, worst %u with >= 3N\n",
             qs[i], nval, runs[j][2], runs[j][0], sp.final, sp.worst2n, sp.worst3n);
      /* measured: 0 at the top; with >= 3N members at most the wrap seam on small
       * rings (few partitions per member leave little room) */
      assert_int_equal(sp.final, 0);
      if (qs[i] >= 64) assert_true(sp.worst3n <= 2 * (nval - 1));
      if (qs[i] >= 256) assert_int_equal(sp.worst3n, 0);
    }
}

/* Several members at once, swaps and zone changes: still the bound. */
static void test_bulk_changes(void **state) {
  (void)state;
  dyna_ring_member_t m[40], sub[40];
  dyna_ring_t empty, a, b;
  dyna_ring_init(&empty);
  dyna_ring_init(&a);
  dyna_ring_init(&b);
  mkmembers(m, 40, 4);
  rebalance_ok(&empty, 1024, m, 10, 3, &a);
  assert_int_equal(collisions(&a, 3), 0);
  /* five join at once */
  assert_int_equal(dyna_ring_rebalance(&a, 1024, m, 15, 3, &b), 0);
  check_balance(&b);
  assert_int_equal(moved(&a, &b), movement_bound(&a, m, 15));
  /* swap: members 2..16 (3 left, 2 joined) */
  memcpy(sub, m + 2, 15 * sizeof *sub);
  assert_int_equal(dyna_ring_rebalance(&b, 0, sub, 15, 3, &a), 0);
  check_balance(&a);
  assert_int_equal(moved(&b, &a), movement_bound(&b, sub, 15));
  /* a member moves to another zone: its partitions leave its old lane for its new
   * one, nothing else beyond the bound; the member table follows */
  uint32_t had = dyna_ring_owned(&a, sub[4].id);
  snprintf(sub[4].zone, sizeof sub[4].zone, "%s", strcmp(sub[4].zone, "z0") ? "z0" : "z1");
  uint32_t bound = movement_bound(&a, sub, 15);
  assert_int_equal(dyna_ring_rebalance(&a, 0, sub, 15, 3, &b), 0);
  check_balance(&b);
  assert_int_equal(moved(&a, &b), bound);
  assert_true(bound >= had && had > 0);
  assert_string_equal(b.members[index_of(&b, sub[4].id)].zone, sub[4].zone);
  /* without zones a zone is only a label: declaring one on a member of a ring where
   * others declare none moves nothing (no lanes while any zone is undeclared) */
  dyna_ring_member_t plain[15];
  mkmembers(plain, 15, 0);
  rebalance_ok(&empty, 1024, plain, 15, 3, &a);
  strcpy(plain[4].zone, "elsewhere");
  assert_int_equal(dyna_ring_rebalance(&a, 0, plain, 15, 3, &b), 0);
  assert_int_equal(moved(&a, &b), 0);
  assert_string_equal(b.members[index_of(&b, plain[4].id)].zone, "elsewhere");
  /* more members than partitions, then back */
  rebalance_ok(&empty, 16, m, 10, 3, &a);
  assert_int_equal(dyna_ring_rebalance(&a, 0, m, 40, 3, &b), 0);
  check_balance(&b);
  assert_int_equal(moved(&a, &b), movement_bound(&a, m, 40));
  assert_int_equal(dyna_ring_rebalance(&b, 0, m + 20, 5, 3, &a), 0);
  check_balance(&a);
  assert_int_equal(moved(&b, &a), movement_bound(&b, m + 20, 5));
  dyna_ring_clear(&a);
  dyna_ring_clear(&b);
}

/* Zone lanes at scale (issue 21, aim 4): 1000 members in 3 zones over Q = 16384, grown
 * from nothing and then by one join. The owners of N consecutive partitions are N
 * zones, so a preference list is those owners except at the wrap seam (Q is not a
 * multiple of 3); each member's replica load (home placements) is at most 1.05 of the
 * mean; a join moves at most 1.1 times the ideal share of replica placements. */
static void test_lanes_at_scale(void **state) {
  (void)state;
  enum { S = 1000, Q = 16384, N = 3 };
  dyna_ring_member_t *m = calloc(S + 1, sizeof *m);
  uint32_t *load = calloc(S + 1, sizeof *load);
  dyna_ring_t empty, a, b;
  assert_true(m && load);
  dyna_ring_init(&empty);
  dyna_ring_init(&a);
  dyna_ring_init(&b);
  for (uint32_t i = 0; i <= S; i++) {
    m[i].id = 1 + (uint64_t)i * 2654435761u % 1000003u;
    snprintf(m[i].zone, sizeof m[i].zone, "zone-%c", (char)('a' + i % 3));
  }
  rebalance_ok(&empty, Q, m, S, N, &a);
  uint32_t seams = 0, placed = 0, top = 0;
  for (uint32_t p = 0; p < Q; p++) {
    uint64_t pl[N];
    assert_int_equal(dyna_ring_preflist(&a, p, N, pl, N), N);
    int walk = 1;
    for (uint32_t i = 0; i < N; i++) {
      walk &= pl[i] == dyna_ring_owner(&a, p + i);
      uint32_t k = index_of(&a, pl[i]);
      placed++;
      if (++load[k] > top) top = load[k];
    }
    seams += !walk;
  }
  assert_true(seams <= N - 1); /* only the lists that cross the seam skip ahead */
  printf("lanes S=%u Q=%u: replica load largest %u, mean %.2f; %u seam lists\n", S, Q, top,
         (double)placed / S, seams);
  assert_true(top * S <= 105 * placed / 100);
  /* one join (in zone-b, the 334th there): replica placements moved vs 1/(S+1) */
  rebalance_ok(&a, 0, m, S + 1, N, &b);
  uint64_t pa[N], pb[N], mv = 0;
  for (uint32_t p = 0; p < Q; p++) {
    dyna_ring_preflist(&a, p, N, pa, N);
    dyna_ring_preflist(&b, p, N, pb, N);
    for (uint32_t i = 0; i < N; i++) {
      int kept = 0;
      for (uint32_t j = 0; j < N; j++) kept |= pa[j] == pb[i];
      mv += !kept;
    }
  }
  printf("lanes one join: %" PRIu64 " of %u placements moved, ideal %.1f\n", mv, Q * N,
         (double)Q * N / (S + 1));
  assert_true(mv > 0 && mv * (S + 1) * 10 <= (uint64_t)Q * N * 11);
  dyna_ring_clear(&a);
  dyna_ring_clear(&b);
  free(m);
  free(load);
}

/* A zoned ring of the older claim (owners not in lanes) keeps that claim: a join moves
 * only the global balance bound and the result is balanced over all members; an
 * unzoned ring that gains zones on every member moves into lanes. */
static void test_lanes_legacy(void **state) {
  (void)state;
  enum { Q = 256 };
  dyna_ring_member_t m[7];
  mkmembers(m, 7, 3);
  dyna_ring_t old, b;
  dyna_ring_init(&old);
  dyna_ring_init(&b);
  /* by hand: six members in id order round the ring, ignoring zones */
  dyna_ring_member_t six[6];
  memcpy(six, m, sizeof six);
  qsort(six, 6, sizeof *six, cmp_member_id);
  old.size = Q;
  old.nmembers = 6;
  old.members = dyna_calloc(6, sizeof *old.members);
  old.owner = dyna_calloc(Q, sizeof *old.owner);
  assert_true(old.members && old.owner);
  memcpy(old.members, six, sizeof six);
  for (uint32_t p = 0; p < Q; p++) old.owner[p] = p % 6;
  uint32_t rank[7], z = lanes_of(six, 6, rank), miss = 0;
  for (uint32_t p = 0; p < Q; p++) miss += rank[p % 6] != p % z;
  assert_true(miss > Q / 16); /* not in lanes */
  assert_int_equal(dyna_ring_rebalance(&old, 0, m, 7, 3, &b), 0);
  uint32_t mv = moved(&old, &b), got = dyna_ring_owned(&b, m[6].id);
  assert_int_equal(mv, got); /* the joiner's share and nothing else */
  assert_in_range(got, Q / 7, Q / 7 + 1);
  for (uint32_t i = 0; i < 7; i++) assert_in_range(dyna_ring_owned(&b, m[i].id), Q / 7, Q / 7 + 1);
  /* the same six without zones, then every member declares one: lanes */
  for (uint32_t i = 0; i < 6; i++) old.members[i].zone[0] = 0;
  assert_int_equal(dyna_ring_rebalance(&old, 0, m, 7, 3, &b), 0);
  check_balance(&b);
  assert_int_equal(moved(&old, &b), movement_bound(&old, m, 7));
  dyna_ring_clear(&old);
  dyna_ring_clear(&b);
}

static void test_preflists(void **state) {
  (void)state;
  dyna_ring_member_t m[16];
  dyna_ring_t empty, r;
  dyna_ring_init(&empty);
  dyna_ring_init(&r);
  mkmembers(m, 16, 0);
  for (uint32_t s = 1; s <= 12; s++)
    for (uint32_t nval = 1; nval <= 5; nval += 2) {
      rebalance_ok(&empty, 64, m, s, nval, &r);
      check_preflists(&r, nval, 0);
      /* With exactly N members every window must be a rotation of one permutation,
       * possible only when N divides Q. Greedy placement plus swaps may leave the seam
       * where the ring wraps imperfect when members are few; with 2N, none. */
      uint32_t c = collisions(&r, nval);
      if (s >= nval) assert_true(c <= 2 * (nval - 1));
      if (s >= 2 * nval || (s == nval && 64 % s == 0)) assert_int_equal(c, 0);
    }
  /* members owning nothing still appear, after the owners */
  rebalance_ok(&empty, 4, m, 16, 3, &r);
  check_preflists(&r, 3, 0);
  check_preflists(&r, 16, 0);
  /* without zones the head is exactly the distinct owners in walk order */
  rebalance_ok(&empty, 64, m, 5, 3, &r);
  for (uint32_t p = 0; p < 64; p++) {
    uint64_t out[3], want[3];
    uint32_t k = 0;
    for (uint32_t i = 0; k < 3; i++) {
      uint64_t id = dyna_ring_owner(&r, p + i);
      int dup = 0;
      for (uint32_t j = 0; j < k; j++) dup |= want[j] == id;
      if (!dup) want[k++] = id;
    }
    assert_int_equal(dyna_ring_preflist(&r, p, 3, out, 3), 3);
    assert_memory_equal(out, want, sizeof want);
  }
  /* max caps the output; a prefix of the longer list */
  uint64_t a[8], b[2];
  assert_int_equal(dyna_ring_preflist(&r, 7, 3, a, 8), 5);
  assert_int_equal(dyna_ring_preflist(&r, 7, 3, b, 2), 2);
  assert_memory_equal(a, b, sizeof b);
  assert_int_equal(dyna_ring_preflist(&r, 7, 3, b, 0), 0);
  dyna_ring_clear(&r);
}

/* A hand-made ring where the zone rule must skip ahead. */
static void test_preflist_zone_order(void **state) {
  (void)state;
  dyna_ring_member_t m[4] = {mkmember(0, "a"), mkmember(1, "a"), mkmember(2, "b"),
                             mkmember(3, "")};
  dyna_ring_t r;
  uint64_t out[4];
  dyna_ring_init(&r);
  assert_int_equal(dyna_ring_single(&r, 8, &m[0]), 0);
  /* owners by position: a0 a1 b a0 a1 b none-zone ... built by hand, ids sorted */
  dyna_ring_member_t sorted[4];
  memcpy(sorted, m, sizeof sorted);
  for (int i = 0; i < 4; i++)
    for (int j = i + 1; j < 4; j++)
      if (sorted[j].id < sorted[i].id) {
        dyna_ring_member_t t = sorted[i];
        sorted[i] = sorted[j];
        sorted[j] = t;
      }
  dyna_ring_t h;
  dyna_ring_init(&h);
  assert_int_equal(dyna_ring_copy(&h, &r), 0);
  dyna_free(h.members);
  h.members = dyna_calloc(4, sizeof *h.members);
  memcpy(h.members, sorted, sizeof sorted);
  h.nmembers = 4;
  uint32_t ia0 = index_of(&h, m[0].id), ia1 = index_of(&h, m[1].id),
           ib = index_of(&h, m[2].id), inz = index_of(&h, m[3].id);
  uint32_t layout[8] = {ia0, ia1, ia0, ib, ia1, inz, ia0, ia0};
  memcpy(h.owner, layout, sizeof layout);
  /* from 0: walk a0 a1 b nz; zone-first: a0, b, nz (undeclared never clashes), then a1 */
  assert_int_equal(dyna_ring_preflist(&h, 0, 3, out, 4), 4);
  assert_int_equal(out[0], m[0].id);
  assert_int_equal(out[1], m[2].id);
  assert_int_equal(out[2], m[3].id);
  assert_int_equal(out[3], m[1].id);
  /* N=2 from 1: walk a1 a0 b nz -> a1, b; the rest in walk order a0, nz */
  assert_int_equal(dyna_ring_preflist(&h, 1, 2, out, 4), 4);
  assert_int_equal(out[0], m[1].id);
  assert_int_equal(out[1], m[2].id);
  assert_int_equal(out[2], m[0].id);
  assert_int_equal(out[3], m[3].id);
  assert_false(dyna_ring_is_replica(&h, 1, 2, m[0].id));
  /* N=4: zones run out, the skipped a0 fills the last slot */
  assert_int_equal(dyna_ring_preflist(&h, 1, 4, out, 4), 4);
  assert_int_equal(out[3], m[0].id);
  dyna_ring_clear(&h);
  dyna_ring_clear(&r);
}

static void test_zones(void **state) {
  (void)state;
  static const uint32_t cfg[][2] = {{6, 3}, {9, 3}, {6, 2}, {12, 4}, {5, 3}};
  dyna_ring_member_t m[16];
  dyna_ring_t empty, r;
  dyna_ring_init(&empty);
  dyna_ring_init(&r);
  for (size_t c = 0; c < sizeof cfg / sizeof *cfg; c++) {
    mkmembers(m, cfg[c][0], cfg[c][1]);
    for (uint32_t q = 64; q <= 1024; q *= 4) {
      rebalance_ok(&empty, q, m, cfg[c][0], 3, &r);
      check_preflists(&r, 3, cfg[c][1]);
      check_preflists(&r, 2, cfg[c][1]);
    }
  }
  /* grown one node at a time, zones still spanned */
  dyna_ring_t a, b;
  dyna_ring_init(&a);
  dyna_ring_init(&b);
  mkmembers(m, 9, 3);
  assert_int_equal(dyna_ring_single(&a, 256, &m[0]), 0);
  for (uint32_t s = 2; s <= 9; s++) {
    rebalance_ok(&a, 0, m, s, 3, &b);
    check_preflists(&b, 3, s < 3 ? s : 3);
    dyna_ring_t t = a;
    a = b;
    b = t;
  }
  dyna_ring_clear(&a);
  dyna_ring_clear(&b);
  dyna_ring_clear(&r);
}

static void test_determinism(void **state) {
  (void)state;
  dyna_ring_member_t m[24], sh[24];
  dyna_ring_t empty, base, a, b;
  dyna_ring_init(&empty);
  dyna_ring_init(&base);
  dyna_ring_init(&a);
  dyna_ring_init(&b);
  mkmembers(m, 24, 3);
  rebalance_ok(&empty, 512, m, 12, 3, &base);
  for (uint64_t seed = 1; seed <= 8; seed++) {
    memcpy(sh, m, sizeof sh);
    shuffle(sh, 12, seed);
    rebalance_ok(&empty, 512, sh, 12, 3, &a);
    assert_true(dyna_ring_equal(&a, &base));
    /* from a common old ring, two nodes computing with differently ordered input */
    memcpy(sh, m, sizeof sh);
    shuffle(sh, 20, seed * 31);
    rebalance_ok(&base, 0, sh, 20, 3, &a);
    shuffle(sh, 20, seed * 77);
    rebalance_ok(&base, 512, sh, 20, 3, &b);
    assert_true(dyna_ring_equal(&a, &b));
  }
  dyna_ring_clear(&base);
  dyna_ring_clear(&a);
  dyna_ring_clear(&b);
}

static void test_spread_from_empty(void **state) {
  (void)state;
  dyna_ring_member_t m[64];
  dyna_ring_t empty, r;
  dyna_ring_init(&empty);
  dyna_ring_init(&r);
  mkmembers(m, 64, 0);
  for (uint32_t s = 4; s <= 64; s += 5) {
    rebalance_ok(&empty, 1024, m, s, 3, &r);
    assert_int_equal(collisions(&r, 3), 0);
  }
  dyna_ring_clear(&r);
}

/* Q=16384 (the largest): one join and one leave at 100 members stay balanced and minimal. */
static void test_large_ring(void **state) {
  (void)state;
  dyna_ring_member_t m[101];
  dyna_ring_t empty, a, b;
  dyna_ring_init(&empty);
  dyna_ring_init(&a);
  dyna_ring_init(&b);
  mkmembers(m, 101, 3);
  rebalance_ok(&empty, DYNA_RING_MAX_SIZE, m, 100, 3, &a);
  assert_int_equal(collisions(&a, 3), 0);
  rebalance_ok(&a, 0, m, 101, 3, &b);
  assert_int_equal(moved(&a, &b), movement_bound(&a, m, 101));
  printf("Q=16384 100->101 members: moved %u, collisions %u\n", moved(&a, &b),
         collisions(&b, 3));
  rebalance_ok(&b, 0, m + 1, 100, 3, &a);
  assert_int_equal(moved(&b, &a), movement_bound(&b, m + 1, 100));
  dyna_ring_clear(&a);
  dyna_ring_clear(&b);
}

static void test_rebalance_invalid(void **state) {
  (void)state;
  dyna_ring_member_t m[4];
  dyna_ring_t empty, r, out;
  dyna_ring_init(&empty);
  dyna_ring_init(&r);
  dyna_ring_init(&out);
  mkmembers(m, 4, 2);
  assert_int_equal(dyna_ring_rebalance(&empty, 64, m, 0, 3, &out), DYNA_EINVAL);
  assert_int_equal(dyna_ring_rebalance(&empty, 0, m, 4, 3, &out), DYNA_EINVAL);
  assert_int_equal(dyna_ring_rebalance(&empty, 48, m, 4, 3, &out), DYNA_EINVAL);
  assert_int_equal(dyna_ring_rebalance(&empty, 131072, m, 4, 3, &out), DYNA_EINVAL);
  assert_int_equal(dyna_ring_rebalance(&empty, 64, m, DYNA_RING_MEMBERS_MAX + 1, 3, &out),
                   DYNA_EINVAL);
  m[2].id = m[1].id;
  assert_int_equal(dyna_ring_rebalance(&empty, 64, m, 4, 3, &out), DYNA_EINVAL);
  mkmembers(m, 4, 2);
  memset(m[3].zone, 'x', sizeof m[3].zone);
  assert_int_equal(dyna_ring_rebalance(&empty, 64, m, 4, 3, &out), DYNA_EINVAL);
  mkmembers(m, 4, 2);
  rebalance_ok(&empty, 64, m, 4, 3, &r);
  assert_int_equal(dyna_ring_rebalance(&r, 128, m, 4, 3, &out), DYNA_EINVAL);
  assert_int_equal(dyna_ring_rebalance(&r, 0, m, 4, 3, &r), DYNA_EINVAL);
  assert_int_equal(out.size, 0); /* untouched by every failure */
  /* nval 0 and huge nval still balance */
  rebalance_ok(&r, 64, m, 3, 0, &out);
  rebalance_ok(&r, 64, m, 3, 100000, &out);
  dyna_ring_clear(&r);
  dyna_ring_clear(&out);
}

/* ---- encoding ------------------------------------------------------------------ */

static void roundtrip(const dyna_ring_t *r) {
  dyna_buf_t b = DYNA_BUF_INIT, b2 = DYNA_BUF_INIT;
  dyna_ring_t d;
  dyna_rd_t rd;
  dyna_ring_init(&d);
  dyna_ring_encode(r, &b);
  dyna_buf_put(&b, "tail", 4); /* the reader must stop after one ring */
  assert_false(b.oom);
  dyna_rd_init(&rd, b.data, b.len);
  assert_int_equal(dyna_ring_read(&rd, &d), 0);
  assert_int_equal(dyna_rd_left(&rd), 4);
  assert_true(dyna_ring_equal(r, &d));
  dyna_ring_encode(&d, &b2);
  assert_int_equal(b2.len, b.len - 4);
  assert_memory_equal(b2.data, b.data, b2.len);
  /* every truncation fails and leaves the destination as it was */
  for (size_t len = 0; len < b.len - 4; len++) {
    dyna_rd_init(&rd, b.data, len);
    assert_int_equal(dyna_ring_read(&rd, &d), DYNA_ECORRUPT);
    assert_true(dyna_ring_equal(r, &d));
  }
  dyna_ring_clear(&d);
  dyna_buf_free(&b);
  dyna_buf_free(&b2);
}

static void test_encode_roundtrip(void **state) {
  (void)state;
  dyna_ring_member_t m[20];
  dyna_ring_t empty, r;
  dyna_ring_init(&empty);
  dyna_ring_init(&r);
  mkmembers(m, 20, 3);
  strcpy(m[5].zone, "a-zone-name-of-31-bytes-exactly");
  assert_int_equal(strlen(m[5].zone), DYNA_ZONE_MAX - 1);
  roundtrip(&empty);
  assert_int_equal(dyna_ring_single(&r, 1, &m[0]), 0);
  roundtrip(&r);
  rebalance_ok(&empty, 256, m, 20, 3, &r);
  roundtrip(&r);
  rebalance_ok(&empty, 8, m, 20, 3, &r); /* members owning nothing */
  roundtrip(&r);
  dyna_ring_clear(&r);
}

/* Hand-built encodings, each wrong in one way. */
static int read_bytes(const uint8_t *p, size_t len, size_t *left) {
  dyna_ring_t r;
  dyna_rd_t rd;
  dyna_ring_init(&r);
  dyna_rd_init(&rd, p, len);
  int rc = dyna_ring_read(&rd, &r);
  if (left) *left = dyna_rd_left(&rd);
  dyna_ring_clear(&r);
  return rc;
}

/* A ring of size q with the given members (ids, zone z) and owners all 0. */
static void build(dyna_buf_t *b, uint64_t q, uint64_t n, const uint64_t *ids, const char *z,
                  size_t zlen, uint64_t owner) {
  dyna_buf_reset(b);
  dyna_buf_put_varint(b, q);
  dyna_buf_put_varint(b, n);
  for (uint64_t i = 0; i < n; i++) {
    dyna_buf_put_u64le(b, ids[i]);
    dyna_buf_put_bytes(b, z, zlen);
  }
  for (uint64_t p = 0; p < q; p++) dyna_buf_put_varint(b, p == q - 1 ? owner : 0);
}

static void test_read_rejects(void **state) {
  (void)state;
  dyna_buf_t b = DYNA_BUF_INIT;
  uint64_t ids[3] = {5, 9, 12}, bad[3] = {5, 12, 9}, dup[3] = {5, 9, 9};
  char zone[40];
  memset(zone, 'z', sizeof zone);
  size_t left = 0;
  build(&b, 4, 3, ids, "zz", 2, 2);
  assert_int_equal(read_bytes(b.data, b.len, &left), 0);
  assert_int_equal(left, 0);
  build(&b, 4, 3, ids, "zz", 2, 3); /* owner index out of range */
  assert_int_equal(read_bytes(b.data, b.len, NULL), DYNA_ECORRUPT);
  build(&b, 4, 3, bad, "zz", 2, 0); /* ids unsorted */
  assert_int_equal(read_bytes(b.data, b.len, NULL), DYNA_ECORRUPT);
  build(&b, 4, 3, dup, "zz", 2, 0); /* ids repeated */
  assert_int_equal(read_bytes(b.data, b.len, NULL), DYNA_ECORRUPT);
  build(&b, 4, 3, ids, zone, DYNA_ZONE_MAX - 1, 0); /* longest zone is fine */
  assert_int_equal(read_bytes(b.data, b.len, NULL), 0);
  build(&b, 4, 3, ids, zone, DYNA_ZONE_MAX, 0); /* zone too long */
  assert_int_equal(read_bytes(b.data, b.len, NULL), DYNA_ECORRUPT);
  build(&b, 4, 3, ids, "a\0b", 3, 0); /* NUL inside a zone */
  assert_int_equal(read_bytes(b.data, b.len, NULL), DYNA_ECORRUPT);
  build(&b, 3, 3, ids, "", 0, 0); /* size not a power of two */
  assert_int_equal(read_bytes(b.data, b.len, NULL), DYNA_ECORRUPT);
  build(&b, 131072, 1, ids, "", 0, 0); /* size too large */
  assert_int_equal(read_bytes(b.data, b.len, NULL), DYNA_ECORRUPT);
  build(&b, 4, 0, ids, "", 0, 0); /* partitions but no members */
  assert_int_equal(read_bytes(b.data, b.len, NULL), DYNA_ECORRUPT);
  build(&b, 0, 1, ids, "", 0, 0); /* members but no partitions */
  assert_int_equal(read_bytes(b.data, b.len, NULL), DYNA_ECORRUPT);
  /* too many members: refused from the count alone */
  dyna_buf_reset(&b);
  dyna_buf_put_varint(&b, 1);
  dyna_buf_put_varint(&b, DYNA_RING_MEMBERS_MAX + 1);
  assert_int_equal(read_bytes(b.data, b.len, NULL), DYNA_ECORRUPT);
  /* a count far beyond the bytes present */
  dyna_buf_reset(&b);
  dyna_buf_put_varint(&b, 65536);
  dyna_buf_put_varint(&b, 4000);
  assert_int_equal(read_bytes(b.data, b.len, NULL), DYNA_ECORRUPT);
  /* non-minimal varint (size 4 as 0x84 0x00) */
  build(&b, 4, 3, ids, "", 0, 0);
  dyna_buf_t nm = DYNA_BUF_INIT;
  dyna_buf_put_u8(&nm, 0x84);
  dyna_buf_put_u8(&nm, 0x00);
  dyna_buf_put(&nm, b.data + 1, b.len - 1);
  assert_int_equal(read_bytes(nm.data, nm.len, NULL), DYNA_ECORRUPT);
  dyna_buf_free(&nm);
  /* non-minimal zone length and owner index: 2 partitions, 1 member */
  static const uint8_t ok[] = {2, 1, 5, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0x00};
  static const uint8_t zl[] = {2, 1, 5, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x00, 0x00, 0x00};
  static const uint8_t ow[] = {2, 1, 5, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x80, 0x00, 0x00};
  assert_int_equal(read_bytes(ok, sizeof ok, &left), 0);
  assert_int_equal(left, 0);
  assert_int_equal(read_bytes(zl, sizeof zl, NULL), DYNA_ECORRUPT);
  assert_int_equal(read_bytes(ow, sizeof ow, NULL), DYNA_ECORRUPT);
  /* trailing bytes stay with the caller */
  build(&b, 2, 1, ids, "", 0, 0);
  dyna_buf_put(&b, "\x01\x02\x03", 3);
  assert_int_equal(read_bytes(b.data, b.len, &left), 0);
  assert_int_equal(left, 3);
  /* a reader already in error */
  dyna_rd_t rd;
  dyna_ring_t r;
  dyna_ring_init(&r);
  dyna_rd_init(&rd, b.data, b.len);
  rd.err = DYNA_ECORRUPT;
  assert_int_equal(dyna_ring_read(&rd, &r), DYNA_ECORRUPT);
  assert_int_equal(r.size, 0);
  dyna_buf_free(&b);
}

/* Failing the Nth allocation: an error comes back and nothing leaks or changes. */
/* dyna_ring_substitute: the new member owns exactly the old one's partitions, members
 * stay sorted by id (the new id below, between and above the others), and bad calls
 * change nothing. */
static void test_substitute(void **state) {
  (void)state;
  dyna_ring_member_t ms[4] = {{10, "", ""}, {20, "", ""}, {30, "z", ""}, {40, "", ""}};
  dyna_ring_t r, out;
  dyna_ring_init(&r);
  dyna_ring_init(&out);
  assert_int_equal(dyna_ring_rebalance(&r, 64, ms, 4, 3, &out), 0);
  dyna_ring_clear(&r);
  r = out;
  dyna_ring_init(&out);
  uint64_t news[] = {5, 25, 99};
  for (size_t k = 0; k < 3; k++) {
    dyna_ring_member_t m = {news[k], "y", ""};
    assert_int_equal(dyna_ring_substitute(&r, 30, &m, &out), 0);
    assert_int_equal(out.nmembers, 4);
    for (uint32_t i = 1; i < out.nmembers; i++) assert_true(out.members[i - 1].id < out.members[i].id);
    assert_int_equal(dyna_ring_member_index(&out, 30), -1);
    assert_string_equal(out.members[dyna_ring_member_index(&out, news[k])].zone, "y");
    for (uint32_t p = 0; p < 64; p++) {
      uint64_t was = dyna_ring_owner(&r, p);
      assert_int_equal(dyna_ring_owner(&out, p), was == 30 ? news[k] : was);
    }
    assert_int_equal(dyna_ring_owned(&out, news[k]), dyna_ring_owned(&r, 30));
  }
  dyna_ring_member_t dup = {20, "", ""}, zero = {0, "", ""}, fine = {7, "", ""};
  assert_int_equal(dyna_ring_substitute(&r, 30, &dup, &out), DYNA_EINVAL);  /* already a member */
  assert_int_equal(dyna_ring_substitute(&r, 30, &zero, &out), DYNA_EINVAL); /* id 0 */
  assert_int_equal(dyna_ring_substitute(&r, 31, &fine, &out), DYNA_EINVAL); /* not a member */
  dyna_ring_clear(&r);
  dyna_ring_clear(&out);
}

static void test_alloc_failure(void **state) {
  (void)state;
  dyna_ring_member_t m[12];
  dyna_ring_t empty, a, b, snap;
  dyna_buf_t enc = DYNA_BUF_INIT;
  dyna_ring_init(&empty);
  dyna_ring_init(&a);
  dyna_ring_init(&b);
  dyna_ring_init(&snap);
  mkmembers(m, 12, 3);
  rebalance_ok(&empty, 256, m, 8, 3, &a);
  assert_int_equal(dyna_ring_copy(&b, &a), 0);
  dyna_ring_encode(&a, &enc);
  int failures = 0;
  for (long n = 0; n < 40; n++) {
    dyna_mem_fail_after(n);
    int rc = dyna_ring_rebalance(&a, 0, m, 12, 3, &b);
    dyna_mem_fail_after(-1);
    assert_true(rc == 0 || rc == DYNA_ENOMEM);
    if (rc) {
      failures++;
      assert_true(dyna_ring_equal(&a, &b)); /* out untouched */
    } else {
      check_balance(&b);
      assert_int_equal(dyna_ring_copy(&b, &a), 0);
    }
    dyna_rd_t rd;
    dyna_rd_init(&rd, enc.data, enc.len);
    dyna_mem_fail_after(n);
    rc = dyna_ring_read(&rd, &snap);
    dyna_mem_fail_after(-1);
    assert_true(rc == 0 || rc == DYNA_ENOMEM);
    dyna_mem_fail_after(n);
    rc = dyna_ring_copy(&snap, &a);
    dyna_mem_fail_after(-1);
    assert_true(rc == 0 || rc == DYNA_ENOMEM);
    dyna_mem_fail_after(n);
    rc = dyna_ring_single(&snap, 64, &m[0]);
    dyna_mem_fail_after(-1);
    assert_true(rc == 0 || rc == DYNA_ENOMEM);
  }
  assert_true(failures > 5);
  dyna_buf_free(&enc);
  dyna_ring_clear(&a);
  dyna_ring_clear(&b);
  dyna_ring_clear(&snap);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_single),
      cmocka_unit_test(test_balance_from_empty),
      cmocka_unit_test(test_join_leave_movement),
      cmocka_unit_test(test_bulk_changes),
      cmocka_unit_test(test_lanes_at_scale),
      cmocka_unit_test(test_lanes_legacy),
      cmocka_unit_test(test_preflists),
      cmocka_unit_test(test_preflist_zone_order),
      cmocka_unit_test(test_zones),
      cmocka_unit_test(test_determinism),
      cmocka_unit_test(test_spread_from_empty),
      cmocka_unit_test(test_large_ring),
      cmocka_unit_test(test_rebalance_invalid),
      cmocka_unit_test(test_encode_roundtrip),
      cmocka_unit_test(test_read_rejects),
      cmocka_unit_test(test_alloc_failure),
      cmocka_unit_test(test_substitute),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
