/* ring.c: partition placement (see ring.h for the contract).
 *
 * Rebalancing runs in four deterministic steps over a working copy of the assignment:
 *
 *   inherit   partitions of members still present keep their owner; those of departed
 *             members become free. Targets are floor/ceil(Q/S); the ceil goes first to
 *             the members already owning most (ties: lowest id), which minimises moves.
 *   lanes     with zone lanes (ring.h) the partitions outside their owner's lane are
 *             freed too, targets are per zone over its lane, and every step below
 *             stays within a zone: a partition goes only to a member of its lane's zone,
 *             swaps only between partitions of one lane, and zones no longer clash.
 *   free      members over target give up exactly their surplus: first the partitions
 *             that conflict most with the spread (same node, then same zone, within
 *             N-1 on either side; re-scored as neighbours leave), then conflict-free
 *             ones chosen far from other free partitions (a pass per halving gap), so
 *             that the free set is spread round the ring and can be re-placed cleanly.
 *   assign    free partitions, in ring order, go to a member under target: one owning
 *             no neighbour and no neighbour's zone if any, else one owning no neighbour,
 *             else any; among those, fewest owned then lowest id. A segment tree over
 *             the members (grouped by zone) finds that member in O(N log S).
 *   repair    greedy placement can corner itself near the wrap; owner swaps among
 *             the partitions just placed remove clashes where they can (bounded work).
 *   publish   the result replaces out.
 *
 * Only free partitions change owner and a member never gets back what it gave up (it
 * sits at its target), so the number of moves is exactly the balance lower bound.
 * A partition clashing only by zone is kept when freeing it could trade that for a
 * node clash. Measured: Q=65536 over 1000 members rebalanced in a few ms (Q is now at most 16384).
 * Pure: no I/O, clock or randomness; memory through util/alloc.h. */
#include "core/ring.h"
#include "core/ring_int.h"
#include "util/err.h"
#include "core/keyspace.h"
#include "util/alloc.h"
#include "util/assert.h"
#include <stdlib.h>
#include <string.h>

#define FREE_SLOT UINT32_MAX /* a partition with no owner while rebalancing */
#define NO_ZONE UINT32_MAX   /* a member with an undeclared zone */
#define NONE UINT32_MAX
#define BITMAP_WORDS (DYNA_RING_MEMBERS_MAX / 64)

/* ---- small helpers ------------------------------------------------------------- */

static int bit_get(const uint64_t *b, uint32_t i) { return (int)((b[i >> 6] >> (i & 63)) & 1); }
static void bit_set(uint64_t *b, uint32_t i) { b[i >> 6] |= (uint64_t)1 << (i & 63); }

/* 1 when the zone field holds a NUL within DYNA_ZONE_MAX bytes. */
static int zone_valid(const char *z) { return memchr(z, 0, DYNA_ZONE_MAX) != NULL; }

static int zone_same(const char *a, const char *b) { return strncmp(a, b, DYNA_ZONE_MAX) == 0; }

/* Copies id, zone and dc strings, zeroing their tails (so equal members are equal bytes). */
static void member_copy(dyna_ring_member_t *dst, const dyna_ring_member_t *src) {
  size_t len = strnlen(src->zone, DYNA_ZONE_MAX - 1), dlen = strnlen(src->dc, DYNA_ZONE_MAX - 1);
  dst->id = src->id;
  memset(dst->zone, 0, sizeof dst->zone);
  memcpy(dst->zone, src->zone, len);
  memset(dst->dc, 0, sizeof dst->dc);
  memcpy(dst->dc, src->dc, dlen);
}

void dyna_ring_member_copy(dyna_ring_member_t *dst, const dyna_ring_member_t *src) { member_copy(dst, src); }

/* Allocates r's arrays for q partitions and n members (r initialised and empty).
 * Returns 0 or DYNA_ENOMEM (r left empty). */
static int ring_alloc(dyna_ring_t *r, uint32_t q, uint32_t n) {
  r->members = dyna_calloc(n ? n : 1, sizeof *r->members);
  r->owner = dyna_calloc(q ? q : 1, sizeof *r->owner);
  if (!r->members || !r->owner) {
    dyna_ring_clear(r);
    return DYNA_ENOMEM;
  }
  r->size = q;
  r->nmembers = n;
  return 0;
}

/* ---- basics -------------------------------------------------------------------- */

void dyna_ring_init(dyna_ring_t *r) {
  r->size = 0;
  r->nmembers = 0;
  r->members = NULL;
  r->owner = NULL;
  r->nsites = 0;
  r->site = NULL;
}

void dyna_ring_clear(dyna_ring_t *r) {
  for (uint32_t s = 0; s < r->nsites && r->site; s++) dyna_ring_clear(&r->site[s]);
  dyna_free(r->site);
  dyna_free(r->members);
  dyna_free(r->owner);
  dyna_ring_init(r);
}

int dyna_ring_copy(dyna_ring_t *dst, const dyna_ring_t *src) {
  if (dst == src) return 0;
  if (src->nsites) return dyna_ring_sites_copy(dst, src);
  dyna_ring_t t;
  dyna_ring_init(&t);
  int rc = ring_alloc(&t, src->size, src->nmembers);
  if (rc) return rc;
  for (uint32_t i = 0; i < src->nmembers; i++) member_copy(&t.members[i], &src->members[i]);
  if (src->size) memcpy(t.owner, src->owner, (size_t)src->size * sizeof *t.owner);
  dyna_ring_clear(dst);
  *dst = t;
  return 0;
}

int dyna_ring_equal(const dyna_ring_t *a, const dyna_ring_t *b) {
  if (a->size != b->size || a->nmembers != b->nmembers || a->nsites != b->nsites) return 0;
  for (uint32_t i = 0; i < a->nmembers; i++) {
    if (a->members[i].id != b->members[i].id) return 0;
    if (!zone_same(a->members[i].zone, b->members[i].zone)) return 0;
    if (!zone_same(a->members[i].dc, b->members[i].dc)) return 0;
  }
  for (uint32_t s = 0; s < a->nsites; s++)
    if (!dyna_ring_equal(&a->site[s], &b->site[s])) return 0;
  if (a->nsites) return 1;
  return a->size == 0 || memcmp(a->owner, b->owner, (size_t)a->size * sizeof *a->owner) == 0;
}

int dyna_ring_single(dyna_ring_t *r, uint32_t q, const dyna_ring_member_t *m) {
  if (!dyna_ring_size_valid(q) || !zone_valid(m->zone) || !zone_valid(m->dc)) return DYNA_EINVAL;
  if (m->dc[0]) return dyna_ring_rebalance_repl(&(dyna_ring_t){0}, q, m, 1, &(dyna_repl_t){.n = 1}, r);
  dyna_ring_t t;
  dyna_ring_init(&t);
  int rc = ring_alloc(&t, q, 1);
  if (rc) return rc;
  member_copy(&t.members[0], m); /* owner[] is all zeros: member 0 owns everything */
  dyna_ring_clear(r);
  *r = t;
  return 0;
}

uint64_t dyna_ring_owner(const dyna_ring_t *r, uint32_t p) {
  if (r->size == 0) return 0;
  if (r->nsites) return dyna_ring_owner(&r->site[0], p);
  return r->members[r->owner[p & (r->size - 1)]].id;
}

int dyna_ring_member_index(const dyna_ring_t *r, uint64_t id) {
  uint32_t lo = 0, hi = r->nmembers;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (r->members[mid].id < id) lo = mid + 1;
    else hi = mid;
  }
  return (lo < r->nmembers && r->members[lo].id == id) ? (int)lo : -1;
}

uint32_t dyna_ring_owned(const dyna_ring_t *r, uint64_t id) {
  int m = dyna_ring_member_index(r, id);
  uint32_t n = 0;
  if (m < 0) return 0;
  for (uint32_t s = 0; s < r->nsites; s++) n += dyna_ring_owned(&r->site[s], id);
  if (r->nsites) return n;
  for (uint32_t p = 0; p < r->size; p++) n += r->owner[p] == (uint32_t)m;
  return n;
}

int dyna_ring_substitute(const dyna_ring_t *r, uint64_t old_id, const dyna_ring_member_t *m,
                         dyna_ring_t *out) {
  int old = dyna_ring_member_index(r, old_id);
  if (old < 0 || !m->id || dyna_ring_member_index(r, m->id) >= 0 || !zone_valid(m->zone)) return DYNA_EINVAL;
  if (!zone_valid(m->dc) || !zone_same(m->dc, r->members[old].dc)) return DYNA_EINVAL;
  if (r->nsites) return dyna_ring_sites_substitute(r, old_id, m, out);
  dyna_ring_t t;
  dyna_ring_init(&t);
  int rc = ring_alloc(&t, r->size, r->nmembers);
  if (rc) return rc;
  /* The members stay sorted by id: the new one goes where its id falls, and each owner
   * index follows its member to its new place. */
  uint32_t *to = dyna_calloc(r->nmembers, sizeof(*to));
  if (!to) { dyna_ring_clear(&t); return DYNA_ENOMEM; }
  uint32_t k = 0;
  int placed = 0;
  for (uint32_t i = 0; i <= r->nmembers; i++) {
    if (!placed && (i == r->nmembers || (i != (uint32_t)old && r->members[i].id > m->id))) {
      member_copy(&t.members[k], m);
      to[old] = k++;
      placed = 1;
    }
    if (i == r->nmembers) break;
    if (i == (uint32_t)old) continue;
    member_copy(&t.members[k], &r->members[i]);
    to[i] = k++;
  }
  for (uint32_t p = 0; p < r->size; p++) t.owner[p] = to[r->owner[p]];
  dyna_free(to);
  dyna_ring_clear(out);
  *out = t;
  return 0;
}

/* ---- preference lists ---------------------------------------------------------- */

/* Produces distinct members in walk order: owners of p, p+1, ... (wrapping), then the
 * members owning nothing, by id. */
typedef struct walk {
  const dyna_ring_t *r;
  uint32_t p;
  uint32_t step;     /* ring positions visited */
  uint32_t idle;     /* next member index to try once the ring is exhausted */
  uint32_t nmet;     /* members produced so far */
  uint64_t met[BITMAP_WORDS];
} walk_t;

static void walk_start(walk_t *w, const dyna_ring_t *r, uint32_t p) {
  memset(w, 0, sizeof *w);
  w->r = r;
  w->p = p;
}

/* The next member not met yet, or NONE. Cost: amortised O(1) per ring step. */
static uint32_t walk_next(walk_t *w) {
  const dyna_ring_t *r = w->r;
  if (w->nmet == r->nmembers) return NONE;
  while (w->step < r->size) {
    uint32_t m = r->owner[(w->p + w->step) & (r->size - 1)];
    w->step++;
    if (!bit_get(w->met, m)) {
      bit_set(w->met, m);
      w->nmet++;
      return m;
    }
  }
  while (w->idle < r->nmembers) {
    uint32_t m = w->idle++;
    if (!bit_get(w->met, m)) {
      bit_set(w->met, m);
      w->nmet++;
      return m;
    }
  }
  return NONE;
}

/* 1 when member m's zone is undeclared or used by none of sel[0..nsel). */
static int zone_is_new(const dyna_ring_t *r, uint32_t m, const uint16_t *sel, size_t nsel) {
  const char *z = r->members[m].zone;
  if (!z[0]) return 1;
  for (size_t i = 0; i < nsel; i++)
    if (zone_same(r->members[sel[i]].zone, z)) return 0;
  return 1;
}

/* 1 when some member the walk has not met yet would bring a new zone. O(S * nsel). */
static int unmet_new_zone_exists(const dyna_ring_t *r, const walk_t *w, const uint16_t *sel,
                                 size_t nsel) {
  for (uint32_t m = 0; m < r->nmembers; m++)
    if (!bit_get(w->met, m) && zone_is_new(r, m, sel, nsel)) return 1;
  return 0;
}

/* Writes to sel the first k (<= nmembers) members of p's preference list, zone-first:
 * each slot takes the next member in walk order whose zone is new, or, when no member
 * left could bring a new zone, the earliest skipped one. Returns the count (k).
 * Cost: O(steps walked + k * S) with early stops; O(Q + S * k) at worst. */
static size_t pref_first(const dyna_ring_t *r, uint32_t p, size_t k, uint16_t *sel) {
  static const size_t never = (size_t)-1;
  walk_t w;
  uint16_t deferred[DYNA_RING_MEMBERS_MAX];
  size_t nsel = 0, ndef = 0, checked = never;
  walk_start(&w, r, p);
  while (nsel < k) {
    uint32_t m = walk_next(&w);
    if (m == NONE) break;
    if (zone_is_new(r, m, sel, nsel)) sel[nsel++] = (uint16_t)m;
    else if (ndef < k) deferred[ndef++] = (uint16_t)m;
    if (nsel < k && nsel + ndef >= k && checked != nsel) {
      checked = nsel; /* the zones in use changed since the last look */
      if (!unmet_new_zone_exists(r, &w, sel, nsel)) break;
    }
  }
  for (size_t i = 0; i < ndef && nsel < k; i++) sel[nsel++] = deferred[i];
  return nsel;
}

static int ring_usable(const dyna_ring_t *r) {
  return r->size > 0 && r->nmembers > 0 && r->nmembers <= DYNA_RING_MEMBERS_MAX;
}

size_t dyna_ring_preflist(const dyna_ring_t *r, uint32_t p, uint32_t nval, uint64_t *out,
                          size_t max) {
  uint16_t sel[DYNA_RING_MEMBERS_MAX];
  uint64_t chosen[BITMAP_WORDS] = {0};
  walk_t w;
  if (r->nsites) {
    dyna_repl_t u = dyna_repl_uniform(nval);
    return dyna_ring_preflist_repl(r, p, &u, out, max, NULL);
  }
  if (!ring_usable(r) || max == 0) return 0;
  p &= r->size - 1;
  size_t k = nval < r->nmembers ? nval : r->nmembers;
  if (k > max) k = max;
  size_t n = pref_first(r, p, k, sel);
  for (size_t i = 0; i < n; i++) {
    out[i] = r->members[sel[i]].id;
    bit_set(chosen, sel[i]);
  }
  walk_start(&w, r, p);
  while (n < max) {
    uint32_t m = walk_next(&w);
    if (m == NONE) break;
    if (!bit_get(chosen, m)) out[n++] = r->members[m].id;
  }
  return n;
}

int dyna_ring_is_replica(const dyna_ring_t *r, uint32_t p, uint32_t nval, uint64_t id) {
  uint16_t sel[DYNA_RING_MEMBERS_MAX];
  if (r->nsites) {
    dyna_repl_t u = dyna_repl_uniform(nval);
    uint64_t out[DYNA_RING_SITE_HOMES_MAX];
    size_t nh = 0;
    dyna_ring_preflist_repl(r, p, &u, out, DYNA_RING_SITE_HOMES_MAX, &nh);
    for (size_t i = 0; i < nh; i++)
      if (out[i] == id) return 1;
    return 0;
  }
  if (!ring_usable(r)) return 0;
  size_t k = nval < r->nmembers ? nval : r->nmembers;
  size_t n = pref_first(r, p & (r->size - 1), k, sel);
  for (size_t i = 0; i < n; i++)
    if (r->members[sel[i]].id == id) return 1;
  return 0;
}

/* ---- rebalance: the working state ---------------------------------------------- */

/* A min segment tree over member leaves; a leaf holds (owned << 32 | index) while
 * the member is under target, else UINT64_MAX. */
typedef struct seg {
  uint64_t *t;
  uint32_t base; /* leaves start here (a power of two >= n) */
} seg_t;

/* A range [lo, hi) of leaves. */
typedef struct span {
  uint32_t lo, hi;
} span_t;

typedef struct plan {
  uint32_t q, n, w;          /* partitions, members, spread window (N-1, capped) */
  dyna_ring_member_t *mem;   /* new members, sorted by id (handed to out) */
  uint32_t *owner;           /* q: member index or FREE_SLOT (handed to out) */
  uint32_t *owned;           /* n: partitions currently held */
  uint32_t *target;          /* n: floor or ceil of q / n */
  uint32_t *zone;            /* n: zone index or NO_ZONE */
  uint32_t *leaf;            /* n: position in the zone-grouped order */
  uint32_t *zlo, *zhi;       /* per zone index: its range of leaves */
  uint32_t *byleaf;          /* n: member index at each leaf (inverse of leaf) */
  uint32_t nz;               /* declared zones */
  uint32_t lanes;            /* 0, or the zone lanes (= nz): partition p belongs to zone
                                p % lanes (zones numbered by name) */
  uint32_t nfree;            /* partitions currently free */
  seg_t seg;                 /* members under target, by leaf */
  span_t *nodes, *all;       /* scratch: 2w and 4w excluded spans */
} plan_t;

static void plan_free(plan_t *pl) {
  dyna_free(pl->mem);
  dyna_free(pl->owner);
  dyna_free(pl->owned);
  dyna_free(pl->target);
  dyna_free(pl->zone);
  dyna_free(pl->leaf);
  dyna_free(pl->zlo);
  dyna_free(pl->zhi);
  dyna_free(pl->byleaf);
  dyna_free(pl->seg.t);
  dyna_free(pl->nodes);
  dyna_free(pl->all);
}

static int plan_alloc(plan_t *pl, uint32_t q, uint32_t n) {
  memset(pl, 0, sizeof *pl);
  pl->q = q;
  pl->n = n;
  pl->mem = dyna_calloc(n, sizeof *pl->mem);
  pl->owner = dyna_malloc((size_t)q * sizeof *pl->owner);
  pl->owned = dyna_calloc(n, sizeof *pl->owned);
  pl->target = dyna_calloc(n, sizeof *pl->target);
  pl->zone = dyna_calloc(n, sizeof *pl->zone);
  pl->leaf = dyna_calloc(n, sizeof *pl->leaf);
  pl->zlo = dyna_calloc(n, sizeof *pl->zlo);
  pl->zhi = dyna_calloc(n, sizeof *pl->zhi);
  pl->byleaf = dyna_calloc(n, sizeof *pl->byleaf);
  if (!pl->mem || !pl->owner || !pl->owned || !pl->target || !pl->zone || !pl->leaf ||
      !pl->zlo || !pl->zhi || !pl->byleaf)
    return DYNA_ENOMEM;
  return 0;
}

static int cmp_member_id(const void *a, const void *b) {
  uint64_t x = ((const dyna_ring_member_t *)a)->id, y = ((const dyna_ring_member_t *)b)->id;
  return (x > y) - (x < y);
}

/* Copies members sorted by id into pl->mem. Returns 0 or DYNA_EINVAL (repeated id,
 * unterminated zone). */
static int plan_members(plan_t *pl, const dyna_ring_member_t *members) {
  for (uint32_t i = 0; i < pl->n; i++) {
    if (!zone_valid(members[i].zone)) return DYNA_EINVAL;
    member_copy(&pl->mem[i], &members[i]);
  }
  qsort(pl->mem, pl->n, sizeof *pl->mem, cmp_member_id);
  for (uint32_t i = 1; i < pl->n; i++)
    if (pl->mem[i - 1].id == pl->mem[i].id) return DYNA_EINVAL;
  return 0;
}

/* Index of id among the new members, or NONE. */
static uint32_t plan_find(const plan_t *pl, uint64_t id) {
  uint32_t lo = 0, hi = pl->n;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (pl->mem[mid].id < id) lo = mid + 1;
    else hi = mid;
  }
  return (lo < pl->n && pl->mem[lo].id == id) ? lo : NONE;
}

/* Starts from old's owners (departed members' partitions free). Returns 0 or
 * DYNA_EINVAL (old malformed) or DYNA_ENOMEM. */
static int plan_inherit(plan_t *pl, const dyna_ring_t *old) {
  pl->nfree = pl->q;
  for (uint32_t p = 0; p < pl->q; p++) pl->owner[p] = FREE_SLOT;
  if (old->size == 0) return 0;
  if (old->nmembers == 0 || !old->members || !old->owner) return DYNA_EINVAL;
  uint32_t *map = dyna_malloc((size_t)old->nmembers * sizeof *map);
  if (!map) return DYNA_ENOMEM;
  for (uint32_t i = 0; i < old->nmembers; i++) map[i] = plan_find(pl, old->members[i].id);
  int rc = 0;
  for (uint32_t p = 0; p < pl->q; p++) {
    uint32_t o = old->owner[p];
    if (o >= old->nmembers) { rc = DYNA_EINVAL; break; }
    if (map[o] == NONE) continue;
    pl->owner[p] = map[o];
    pl->owned[map[o]]++;
    pl->nfree--;
  }
  dyna_free(map);
  return rc;
}

/* Sort key for handing out the ceil targets: most owned first, then lowest index. */
static int cmp_desc_hi32(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x < y) - (x > y);
}

/* Shares total partitions among the k members at leaves [lo, lo + k): floor(total/k)
 * each, +1 for the total%k of them owning most; ties go to the lowest id, or with lanes
 * to the highest (a ring made from nothing then gives its first partitions, whose
 * preference lists the wrap seam lengthens, to members with the floor). order: k
 * scratch. */
static void targets_among(plan_t *pl, uint32_t lo, uint32_t k, uint32_t total, uint64_t *order) {
  uint32_t base = total / k, extra = total % k;
  /* descending on (owned, tie) where tie = NONE - index (index asc) or index (desc) */
  for (uint32_t i = 0; i < k; i++) {
    uint32_t m = pl->byleaf[lo + i];
    order[i] = (uint64_t)pl->owned[m] << 32 | (pl->lanes ? m : NONE - m);
  }
  qsort(order, k, sizeof *order, cmp_desc_hi32);
  for (uint32_t i = 0; i < k; i++) {
    uint32_t m = pl->lanes ? (uint32_t)order[i] : NONE - (uint32_t)order[i];
    pl->target[m] = base + (i < extra ? 1u : 0u);
  }
}

/* Sets targets: without lanes floor(q/n) for all, +1 for the q%n members owning most;
 * with lanes the same within each zone over that zone's lane (q/lanes partitions, one
 * more for the first q%lanes lanes). Returns 0 or DYNA_ENOMEM. */
static int plan_targets(plan_t *pl) {
  uint64_t *order = dyna_malloc((size_t)pl->n * sizeof *order);
  if (!order) return DYNA_ENOMEM;
  if (!pl->lanes) targets_among(pl, 0, pl->n, pl->q, order);
  for (uint32_t z = 0; z < pl->lanes; z++)
    targets_among(pl, pl->zlo[z], pl->zhi[z] - pl->zlo[z],
                  pl->q / pl->lanes + (z < pl->q % pl->lanes ? 1u : 0u), order);
  dyna_free(order);
  return 0;
}

static int cmp_zone_then_index(const void *a, const void *b, void *arg) {
  const plan_t *pl = arg;
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  int c = strncmp(pl->mem[x].zone, pl->mem[y].zone, DYNA_ZONE_MAX);
  if (c) return c;
  return (x > y) - (x < y);
}

/* Numbers the declared zones and lays the members out grouped by zone (undeclared
 * first), so that "every member outside these zones" is a few leaf ranges.
 * Returns 0 or DYNA_ENOMEM. */
static int plan_zones(plan_t *pl) {
  uint32_t *by = dyna_malloc((size_t)pl->n * sizeof *by);
  if (!by) return DYNA_ENOMEM;
  for (uint32_t i = 0; i < pl->n; i++) by[i] = i;
  qsort_r(by, pl->n, sizeof *by, cmp_zone_then_index, pl);
  uint32_t nz = 0;
  for (uint32_t i = 0; i < pl->n; i++) {
    uint32_t m = by[i];
    pl->leaf[m] = i;
    pl->byleaf[i] = m;
    if (!pl->mem[m].zone[0]) {
      pl->zone[m] = NO_ZONE;
      continue;
    }
    if (nz == 0 || !zone_same(pl->mem[by[pl->zlo[nz - 1]]].zone, pl->mem[m].zone)) {
      pl->zlo[nz] = i;
      nz++;
    }
    pl->zone[m] = nz - 1;
    pl->zhi[nz - 1] = i + 1;
  }
  pl->nz = nz;
  dyna_free(by);
  return 0;
}

/* ---- rebalance: zone lanes ----------------------------------------------------- */

static int cmp_ring_zone(const void *a, const void *b, void *arg) {
  const dyna_ring_t *r = arg;
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  int c = strncmp(r->members[x].zone, r->members[y].zone, DYNA_ZONE_MAX);
  return c ? c : (x > y) - (x < y);
}

/* How many of r's partitions lie outside their zone lane (r's zones numbered by name,
 * lanes = their count), or NONE when r is not zoned: a zone undeclared, fewer than two
 * zones, or no ring. Sets *err on allocation failure. O(S log S + Q). */
static uint32_t lane_misses(const dyna_ring_t *r, int *err) {
  if (r->size == 0 || r->nmembers < 2) return NONE;
  uint32_t *by = dyna_malloc((size_t)r->nmembers * sizeof *by);
  uint32_t *rank = dyna_malloc((size_t)r->nmembers * sizeof *rank);
  uint32_t nz = 0, misses = NONE;
  if (!by || !rank) { *err = DYNA_ENOMEM; goto done; }
  for (uint32_t i = 0; i < r->nmembers; i++) by[i] = i;
  qsort_r(by, r->nmembers, sizeof *by, cmp_ring_zone, (void *)r);
  for (uint32_t i = 0; i < r->nmembers; i++) {
    if (!r->members[by[i]].zone[0]) goto done;
    if (i == 0 || !zone_same(r->members[by[i - 1]].zone, r->members[by[i]].zone)) nz++;
    rank[by[i]] = nz - 1;
  }
  if (nz < 2) goto done;
  misses = 0;
  for (uint32_t p = 0; p < r->size; p++) misses += r->owner[p] >= r->nmembers || rank[r->owner[p]] != p % nz;
done:
  dyna_free(by);
  dyna_free(rank);
  return misses;
}

/* 1 when every member declares a zone and there are at least two: lanes may apply. */
static int plan_zoned(const plan_t *pl) { return pl->nz >= 2 && pl->zlo[0] == 0; /* zlo[0] > 0: undeclared lead */ }

/* Chooses the claim (see ring.h, "Zone lanes"): lanes when the members are zoned and
 * old is empty, not zoned, or in its lanes but for at most Q/16 partitions (a zoned
 * ring of the older claim keeps that claim, so an upgrade moves nothing), or when
 * force is set. With lanes, the partitions outside their lane are freed. Runs after
 * plan_inherit and plan_zones, before plan_targets. Returns 0 or DYNA_ENOMEM. */
static int plan_lanes(plan_t *pl, const dyna_ring_t *old, int force) {
  int err = 0;
  pl->lanes = 0;
  if (!plan_zoned(pl)) return 0;
  uint32_t misses = force ? 0 : lane_misses(old, &err);
  if (err) return err;
  if (misses != NONE && misses > pl->q / 16) return 0;
  pl->lanes = pl->nz;
  for (uint32_t p = 0; p < pl->q; p++)
    if (pl->owner[p] != FREE_SLOT && pl->zone[pl->owner[p]] != p % pl->lanes) {
      pl->owned[pl->owner[p]]--;
      pl->owner[p] = FREE_SLOT;
      pl->nfree++;
    }
  return 0;
}

static uint32_t ring_at(const plan_t *pl, uint32_t p, int64_t d) {
  return (uint32_t)(((int64_t)p + d) & (int64_t)(pl->q - 1));
}

static int over_target(const plan_t *pl, uint32_t m) { return pl->owned[m] > pl->target[m]; }

/* ---- rebalance: choosing a member for a partition ------------------------------ */

static uint64_t seg_key(const plan_t *pl, uint32_t m) {
  return pl->owned[m] < pl->target[m] ? ((uint64_t)pl->owned[m] << 32 | m) : UINT64_MAX;
}

static void seg_set(seg_t *s, uint32_t leaf, uint64_t v) {
  uint32_t i = leaf + s->base;
  s->t[i] = v;
  for (i >>= 1; i > 0; i >>= 1) s->t[i] = s->t[2 * i] < s->t[2 * i + 1] ? s->t[2 * i] : s->t[2 * i + 1];
}

/* Minimum over leaves [lo, hi). O(log S). */
static uint64_t seg_min(const seg_t *s, uint32_t lo, uint32_t hi) {
  uint64_t r = UINT64_MAX;
  for (lo += s->base, hi += s->base; lo < hi; lo >>= 1, hi >>= 1) {
    if (lo & 1) {
      if (s->t[lo] < r) r = s->t[lo];
      lo++;
    }
    if (hi & 1) {
      hi--;
      if (s->t[hi] < r) r = s->t[hi];
    }
  }
  return r;
}

/* Minimum over the leaves of [lo, hi) outside the k spans (sorted here in place).
 * O(k^2 + k log S). */
static uint64_t seg_min_outside(const seg_t *s, uint32_t lo, uint32_t hi, span_t *sp, size_t k) {
  for (size_t i = 1; i < k; i++) /* insertion sort: k is 4 (N-1) at most */
    for (size_t j = i; j > 0 && sp[j - 1].lo > sp[j].lo; j--) {
      span_t t = sp[j];
      sp[j] = sp[j - 1];
      sp[j - 1] = t;
    }
  uint64_t r = UINT64_MAX;
  uint32_t cur = lo;
  for (size_t i = 0; i < k; i++) {
    uint32_t end = sp[i].lo < hi ? sp[i].lo : hi;
    if (end > cur) {
      uint64_t v = seg_min(s, cur, end);
      if (v < r) r = v;
    }
    if (sp[i].hi > cur) cur = sp[i].hi;
  }
  if (cur < hi) {
    uint64_t v = seg_min(s, cur, hi);
    if (v < r) r = v;
  }
  return r;
}

/* How demanding a fit is: no neighbour's node nor zone / no neighbour's node / any. */
enum { FIT_CLEAN, FIT_NODE, FIT_ANY };

/* The best member under target for partition p at the given level or better (see the
 * file comment): (owned << 32 | index), or UINT64_MAX when none. Free neighbours do not
 * count. With lanes only members of p's zone qualify, and zones do not clash (FIT_CLEAN
 * is FIT_NODE). O(w log S + w^2). */
static uint64_t best_fit(plan_t *pl, uint32_t p, int level) {
  size_t kn = 0, ka = 0;
  uint32_t lo = 0, hi = pl->n;
  if (pl->lanes) {
    lo = pl->zlo[p % pl->lanes];
    hi = pl->zhi[p % pl->lanes];
  }
  for (uint32_t d = 1; d <= pl->w; d++) {
    uint32_t nb[2] = {ring_at(pl, p, -(int64_t)d), ring_at(pl, p, d)};
    for (int i = 0; i < 2; i++) {
      uint32_t o = pl->owner[nb[i]];
      if (o == FREE_SLOT) continue;
      span_t one = {pl->leaf[o], pl->leaf[o] + 1};
      pl->nodes[kn++] = one;
      pl->all[ka++] = one;
      if (pl->zone[o] != NO_ZONE && !pl->lanes) {
        span_t z = {pl->zlo[pl->zone[o]], pl->zhi[pl->zone[o]]};
        pl->all[ka++] = z;
      }
    }
  }
  uint64_t best = seg_min_outside(&pl->seg, lo, hi, pl->all, ka);
  if (best == UINT64_MAX && level >= FIT_NODE) best = seg_min_outside(&pl->seg, lo, hi, pl->nodes, kn);
  if (best == UINT64_MAX && level >= FIT_ANY) best = seg_min(&pl->seg, lo, hi);
  return best;
}

/* Builds the tree of members under target and the scratch span arrays.
 * Returns 0 or DYNA_ENOMEM. */
static int chooser_init(plan_t *pl) {
  pl->seg.base = 1;
  while (pl->seg.base < pl->n) pl->seg.base <<= 1;
  pl->seg.t = dyna_malloc((size_t)pl->seg.base * 2 * sizeof *pl->seg.t);
  pl->nodes = dyna_malloc((2 * (size_t)pl->w + 1) * sizeof *pl->nodes);
  pl->all = dyna_malloc((4 * (size_t)pl->w + 1) * sizeof *pl->all);
  if (!pl->seg.t || !pl->nodes || !pl->all) return DYNA_ENOMEM;
  for (uint32_t i = 0; i < 2 * pl->seg.base; i++) pl->seg.t[i] = UINT64_MAX;
  for (uint32_t m = 0; m < pl->n; m++) seg_set(&pl->seg, pl->leaf[m], seg_key(pl, m));
  return 0;
}

/* ---- rebalance: freeing surplus ------------------------------------------------ */

/* How badly member m at partition p would clash with p's neighbours within the
 * window: same-node neighbours weigh more than any number of same-zone ones (with
 * lanes zones are placed already and only nodes count). 0 = no clash. O(w). */
static uint32_t clash_of(const plan_t *pl, uint32_t p, uint32_t m) {
  uint32_t node = 0, zone = 0;
  for (uint32_t d = 1; d <= pl->w; d++) {
    uint32_t nb[2] = {ring_at(pl, p, -(int64_t)d), ring_at(pl, p, d)};
    for (int s = 0; s < 2; s++) {
      uint32_t o = pl->owner[nb[s]];
      if (o == FREE_SLOT) continue;
      if (o == m) node++;
      else if (pl->zone[m] != NO_ZONE && pl->zone[o] == pl->zone[m] && !pl->lanes) zone++;
    }
  }
  return node * (2 * pl->w + 1) + zone;
}

/* The clash of p's current owner at p. */
static uint32_t clash_score(const plan_t *pl, uint32_t p) { return clash_of(pl, p, pl->owner[p]); }

static void free_at(plan_t *pl, uint32_t p) {
  pl->owned[pl->owner[p]]--;
  pl->owner[p] = FREE_SLOT;
  pl->nfree++;
}

/* A binary max-heap of uint64 keys. */
static void heap_push(uint64_t *h, size_t *n, uint64_t v) {
  size_t i = (*n)++;
  while (i > 0 && h[(i - 1) / 2] < v) {
    h[i] = h[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  h[i] = v;
}

static uint64_t heap_pop(uint64_t *h, size_t *n) {
  uint64_t top = h[0], v = h[--(*n)];
  size_t i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= *n) break;
    if (c + 1 < *n && h[c + 1] > h[c]) c++;
    if (h[c] <= v) break;
    h[i] = h[c];
    i = c;
  }
  if (*n) h[i] = v;
  return top;
}

/* 1 when a free partition lies within the window around p. O(w). */
static int free_near(const plan_t *pl, uint32_t p) {
  for (uint32_t d = 1; d <= pl->w; d++)
    if (pl->owner[ring_at(pl, p, -(int64_t)d)] == FREE_SLOT ||
        pl->owner[ring_at(pl, p, d)] == FREE_SLOT)
      return 1;
  return 0;
}

/* Members over target give up their most clashing partitions first (highest score,
 * then lowest index), re-scoring lazily as neighbours are freed; partitions that no
 * longer clash are left to free_spaced. A partition clashing by zone only is freed
 * only when no free one is near (both might go to the same member, trading a zone
 * clash for a node clash) and some member under target fits it cleanly.
 * Returns 0 or DYNA_ENOMEM. O(Q (w log S + w^2 + log Q)). */
static int free_clashing(plan_t *pl) {
  if (pl->w == 0) return 0;
  uint64_t *heap = dyna_malloc((size_t)pl->q * sizeof *heap);
  size_t n = 0;
  if (!heap) return DYNA_ENOMEM;
  for (uint32_t p = 0; p < pl->q; p++) {
    if (pl->owner[p] == FREE_SLOT || !over_target(pl, pl->owner[p])) continue;
    uint32_t s = clash_score(pl, p);
    if (s) heap_push(heap, &n, (uint64_t)s << 32 | (NONE - p));
  }
  while (n > 0) {
    uint64_t top = heap_pop(heap, &n);
    uint32_t p = NONE - (uint32_t)top, was = (uint32_t)(top >> 32);
    if (pl->owner[p] == FREE_SLOT || !over_target(pl, pl->owner[p])) continue;
    uint32_t s = clash_score(pl, p);
    if (s == 0) continue;
    if (s < was) heap_push(heap, &n, (uint64_t)s << 32 | (NONE - p));
    else if (s > 2 * pl->w || (!free_near(pl, p) && best_fit(pl, p, FIT_CLEAN) != UINT64_MAX))
      free_at(pl, p);
  }
  dyna_free(heap);
  return 0;
}

/* dist[p] := ring distance from p forward to the nearest free partition (0 if p is
 * free; q when none is). O(Q). */
static void next_free_distances(const plan_t *pl, uint32_t *dist) {
  uint32_t d = pl->q;
  for (uint32_t i = 2 * pl->q; i-- > 0;) {
    uint32_t p = i & (pl->q - 1);
    d = pl->owner[p] == FREE_SLOT ? 0 : (d < pl->q ? d + 1 : pl->q);
    if (i < pl->q) dist[p] = d;
  }
}

/* One sweep: frees a surplus partition when no free partition lies within gap-1 of it
 * on either side and, if strict, some member under target would fit it cleanly.
 * Returns how many it freed (at most want). O(Q + freed (w log S + w^2)). */
static uint32_t free_spaced_pass(plan_t *pl, uint32_t *dist, uint32_t gap, uint32_t want,
                                 int strict) {
  uint32_t freed = 0, first = NONE;
  int64_t prev = -(int64_t)pl->q; /* last free partition before p, or far away */
  next_free_distances(pl, dist);
  for (uint32_t p = pl->q; p-- > 0;)
    if (pl->owner[p] == FREE_SLOT) { prev = (int64_t)p - pl->q; break; }
  for (uint32_t p = 0; p < pl->q && freed < want; p++) {
    if (pl->owner[p] == FREE_SLOT) { prev = p; continue; }
    if (!over_target(pl, pl->owner[p])) continue;
    uint64_t back = (uint64_t)((int64_t)p - prev), fwd = dist[p];
    if (first != NONE && (uint64_t)first + pl->q - p < fwd) fwd = (uint64_t)first + pl->q - p;
    if (back < gap || fwd < gap) continue;
    if (strict && best_fit(pl, p, FIT_CLEAN) == UINT64_MAX) continue;
    free_at(pl, p);
    prev = p;
    if (first == NONE) first = p;
    freed++;
  }
  return freed;
}

/* Frees the remaining surplus, spreading the free set evenly: sweeps with the gap the
 * free set would have if even, halving it down to w+1, taking only partitions some
 * member under target fits cleanly; then again from that gap down to 1 taking any
 * (a gap of 1 frees all that is left). Returns 0 or DYNA_ENOMEM. O(Q log Q + ...). */
static int free_spaced(plan_t *pl) {
  uint32_t want = 0;
  for (uint32_t m = 0; m < pl->n; m++)
    if (over_target(pl, m)) want += pl->owned[m] - pl->target[m];
  if (want == 0) return 0;
  uint32_t *dist = dyna_malloc((size_t)pl->q * sizeof *dist);
  if (!dist) return DYNA_ENOMEM;
  uint32_t start = pl->q / (pl->nfree + want);
  if (start == 0) start = 1;
  for (int strict = 1; strict >= 0 && want > 0; strict--)
    for (uint32_t gap = start; want > 0; gap /= 2) {
      if (strict && gap <= pl->w) break;
      want -= free_spaced_pass(pl, dist, gap, want, strict);
      if (gap == 1) break;
    }
  dyna_free(dist);
  return want == 0 ? 0 : DYNA_EINVAL; /* unreachable: a gap of 1 frees all surplus */
}

/* Gives every free partition, in ring order, to the best member under target.
 * Returns 0, or DYNA_EINVAL if the targets could not absorb them (cannot happen: the
 * deficits add up to the free partitions). O(F (w log S + w^2)). */
static int assign_free(plan_t *pl) {
  for (uint32_t p = 0; p < pl->q && pl->nfree > 0; p++) {
    if (pl->owner[p] != FREE_SLOT) continue;
    uint64_t best = best_fit(pl, p, FIT_ANY);
    if (best == UINT64_MAX) return DYNA_EINVAL;
    uint32_t m = (uint32_t)best;
    pl->owner[p] = m;
    pl->owned[m]++;
    pl->nfree--;
    seg_set(&pl->seg, pl->leaf[m], seg_key(pl, m));
  }
  return 0;
}

/* ---- rebalance: repairing clashes ---------------------------------------------- */

#define REPAIR_SPAN 32  /* fresh partitions tried on each side of a clash */
#define REPAIR_SWEEPS 4 /* sweeps while swaps still help */
#define REPAIR_BUDGET 8 /* candidate swaps examined per partition, overall */

/* Swaps the owners of partitions p and r. */
static void swap_owners(plan_t *pl, uint32_t p, uint32_t r) {
  uint32_t t = pl->owner[p];
  pl->owner[p] = pl->owner[r];
  pl->owner[r] = t;
}

/* Tries to swap the owner of the clashing fresh partition fresh[i] with the owner of
 * another partition placed by this rebalance, among the REPAIR_SPAN nearest fresh ones
 * on each side, nearest first, so that the total clash of the ring drops; counts and
 * movement stay the same (neither owner gave anything up). The change in total clash
 * is exactly the change in clash(p) + clash(r), the pair (p, r) itself weighing the
 * same before and after. Each candidate costs one unit of *budget. Returns 1 when it
 * swapped. O(REPAIR_SPAN * w). */
static int repair_one(plan_t *pl, const uint32_t *fresh, uint32_t nfresh, uint32_t i,
                      uint64_t *budget) {
  uint32_t p = fresh[i], a = pl->owner[p];
  for (uint32_t d = 1; d <= REPAIR_SPAN && 2 * d <= nfresh; d++) {
    for (int side = 0; side < 2 && *budget > 0; side++) {
      uint32_t r = fresh[side ? (i + nfresh - d) % nfresh : (i + d) % nfresh];
      if (pl->owner[r] == a) continue;
      if (pl->lanes && r % pl->lanes != p % pl->lanes) continue; /* owners keep their lane */
      (*budget)--;
      uint64_t before = (uint64_t)clash_score(pl, p) + clash_score(pl, r);
      swap_owners(pl, p, r);
      uint64_t after = (uint64_t)clash_score(pl, p) + clash_score(pl, r);
      if (after < before) return 1;
      swap_owners(pl, p, r);
    }
  }
  return 0;
}

/* Greedy placement in ring order can corner itself (typically near the wrap, where
 * the last free partitions see the first ones). Swaps among the fresh partitions
 * (fresh[0..nfresh), ascending) remove such clashes where they can: a few sweeps while
 * any swap helps, within an overall budget so that hopeless cases (fewer members than
 * N) stay cheap. O(SWEEPS * F * w + BUDGET * Q * w). */
static void repair_clashes(plan_t *pl, const uint32_t *fresh, uint32_t nfresh) {
  uint64_t budget = (uint64_t)REPAIR_BUDGET * pl->q;
  if (pl->w == 0 || nfresh < 2 || pl->n <= pl->w) return; /* n <= w: clashes everywhere */
  for (int sweep = 0; sweep < REPAIR_SWEEPS && budget > 0; sweep++) {
    uint32_t swaps = 0;
    for (uint32_t i = 0; i < nfresh && budget > 0; i++)
      if (clash_score(pl, fresh[i]) > 0) swaps += (uint32_t)repair_one(pl, fresh, nfresh, i, &budget);
    if (swaps == 0) break;
  }
}

/* ---- rebalance: entry point ---------------------------------------------------- */

/* The ring size to use, or 0 when the arguments do not give a valid one. */
static uint32_t rebalance_size(const dyna_ring_t *old, uint32_t q) {
  if (old->size != 0) {
    if (q != 0 && q != old->size) return 0;
    q = old->size;
  }
  return dyna_ring_size_valid(q) ? q : 0;
}

int dyna_ring_rebalance(const dyna_ring_t *old, uint32_t q, const dyna_ring_member_t *members,
                        size_t n, uint32_t nval, dyna_ring_t *out) {
  dyna_repl_t u = dyna_repl_uniform(nval);
  return dyna_ring_rebalance_repl(old, q, members, n, &u, out);
}

/* Partitions of the plan's finished ring outside their lane, when its members are
 * zoned (else NONE). */
static uint32_t plan_misses(const plan_t *pl) {
  if (!plan_zoned(pl)) return NONE;
  uint32_t misses = 0;
  for (uint32_t p = 0; p < pl->q; p++) misses += pl->zone[pl->owner[p]] != p % pl->nz;
  return misses;
}

static int rebalance_claim(const dyna_ring_t *old, uint32_t q, const dyna_ring_member_t *members,
                           size_t n, uint32_t nval, int force_lanes, dyna_ring_t *out);

int dyna_ring_rebalance_one(const dyna_ring_t *old, uint32_t q, const dyna_ring_member_t *members,
                            size_t n, uint32_t nval, dyna_ring_t *out) {
  return rebalance_claim(old, q, members, n, nval, 0, out);
}

/* One rebalance under the claim plan_lanes chooses (force_lanes: lanes whenever the
 * members are zoned). When the older claim's result would itself sit within Q/16 of
 * the lanes, the lanes are taken instead: the next rebalance would take them anyway,
 * and a ring must be a fixed point (the same members again move nothing). */
static int rebalance_claim(const dyna_ring_t *old, uint32_t q, const dyna_ring_member_t *members,
                           size_t n, uint32_t nval, int force_lanes, dyna_ring_t *out) {
  plan_t pl;
  uint32_t *fresh = NULL; /* partitions placed by this rebalance, ascending */
  int rc;
  if (!old || !out || old == out || !members || n == 0 || n > DYNA_RING_MEMBERS_MAX || old->nsites)
    return DYNA_EINVAL;
  q = rebalance_size(old, q);
  if (q == 0) return DYNA_EINVAL;
  rc = plan_alloc(&pl, q, (uint32_t)n);
  if (rc) goto done;
  uint32_t span = nval < n ? nval : (uint32_t)n;
  pl.w = span > 0 ? span - 1 : 0;
  if (pl.w > DYNA_RING_SPREAD_MAX - 1) pl.w = DYNA_RING_SPREAD_MAX - 1;
  if (pl.w > q / 2) pl.w = q / 2;
  if ((rc = plan_members(&pl, members)) != 0) goto done;
  if ((rc = plan_inherit(&pl, old)) != 0) goto done;
  if ((rc = plan_zones(&pl)) != 0) goto done;
  if ((rc = plan_lanes(&pl, old, force_lanes)) != 0) goto done;
  if ((rc = plan_targets(&pl)) != 0) goto done;
  if ((rc = chooser_init(&pl)) != 0) goto done;
  if ((rc = free_clashing(&pl)) != 0) goto done;
  if ((rc = free_spaced(&pl)) != 0) goto done;
  fresh = dyna_malloc((size_t)(pl.nfree ? pl.nfree : 1) * sizeof *fresh);
  if (!fresh) { rc = DYNA_ENOMEM; goto done; }
  uint32_t nfresh = 0;
  for (uint32_t p = 0; p < q; p++)
    if (pl.owner[p] == FREE_SLOT) fresh[nfresh++] = p;
  if ((rc = assign_free(&pl)) != 0) goto done;
  repair_clashes(&pl, fresh, nfresh);
  if (!pl.lanes && plan_misses(&pl) <= q / 16) { /* NONE when not zoned: never */
    dyna_free(fresh);
    plan_free(&pl);
    return rebalance_claim(old, q, members, n, nval, 1, out);
  }
  for (uint32_t p = 0; p < q && pl.lanes; p++)
    DYNA_ASSERT(pl.zone[pl.owner[p]] == p % pl.lanes, "partition %u owned by member %u of zone %u, "
                "outside its lane (%u lanes)", p, pl.owner[p], pl.zone[pl.owner[p]], pl.lanes);
  dyna_ring_clear(out);
  out->size = q;
  out->nmembers = (uint32_t)n;
  out->members = pl.mem;
  out->owner = pl.owner;
  pl.mem = NULL;
  pl.owner = NULL;
done:
  dyna_free(fresh);
  plan_free(&pl);
  return rc;
}

/* ---- encoding ------------------------------------------------------------------ */

void dyna_ring_encode(const dyna_ring_t *r, dyna_buf_t *out) {
  dyna_buf_put_varint(out, r->size);
  if (r->nsites) {
    dyna_ring_sites_encode(r, out);
    return;
  }
  dyna_ring_encode_body(r, out);
}

void dyna_ring_encode_body(const dyna_ring_t *r, dyna_buf_t *out) {
  dyna_buf_put_varint(out, r->nmembers);
  for (uint32_t i = 0; i < r->nmembers; i++) {
    dyna_buf_put_u64le(out, r->members[i].id);
    dyna_buf_put_bytes(out, r->members[i].zone, strnlen(r->members[i].zone, DYNA_ZONE_MAX - 1));
  }
  for (uint32_t p = 0; p < r->size; p++) dyna_buf_put_varint(out, r->owner[p]);
}

static size_t varint_len(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) { v >>= 7; n++; }
  return n;
}

/* A varint that must be in its shortest form and at most max; else sets rd->err. */
uint64_t dyna_ring_rd_varint_min(dyna_rd_t *rd, uint64_t max) {
  size_t start = rd->off;
  uint64_t v = dyna_rd_varint(rd);
  if (rd->err) return 0;
  if (rd->off - start != varint_len(v) || v > max) {
    rd->err = DYNA_ECORRUPT;
    return 0;
  }
  return v;
}

/* Reads the member table into t (allocated for n members): ids strictly ascending,
 * zones short enough and free of NUL bytes. Returns 0 or DYNA_ECORRUPT. */
static int read_members(dyna_rd_t *rd, dyna_ring_t *t) {
  for (uint32_t i = 0; i < t->nmembers; i++) {
    t->members[i].id = dyna_rd_u64le(rd);
    size_t zlen = (size_t)dyna_ring_rd_varint_min(rd, DYNA_ZONE_MAX - 1);
    const uint8_t *z = dyna_rd_take(rd, zlen);
    if (rd->err) return DYNA_ECORRUPT;
    if (i > 0 && t->members[i].id <= t->members[i - 1].id) return DYNA_ECORRUPT;
    if (zlen && memchr(z, 0, zlen)) return DYNA_ECORRUPT;
    memset(t->members[i].zone, 0, DYNA_ZONE_MAX);
    if (zlen) memcpy(t->members[i].zone, z, zlen);
  }
  return 0;
}

int dyna_ring_read(dyna_rd_t *rd, dyna_ring_t *r) {
  uint32_t q = (uint32_t)dyna_ring_rd_varint_min(rd, DYNA_RING_MAX_SIZE);
  if (rd->err) return DYNA_ECORRUPT;
  if (q && dyna_ring_size_valid(q) && dyna_rd_left(rd) && rd->p[rd->off] == 0)
    return dyna_ring_sites_read(rd, q, r); /* size, then 0 members: a ring with sites */
  return dyna_ring_read_body(rd, q, r);
}

int dyna_ring_read_body(dyna_rd_t *rd, uint32_t q, dyna_ring_t *r) {
  dyna_ring_t t;
  int rc;
  dyna_ring_init(&t);
  uint32_t n = (uint32_t)dyna_ring_rd_varint_min(rd, DYNA_RING_MEMBERS_MAX);
  if (rd->err) return DYNA_ECORRUPT;
  if (q == 0 ? n != 0 : (!dyna_ring_size_valid(q) || n == 0)) return DYNA_ECORRUPT;
  /* each member takes at least 9 bytes and each owner 1: refuse before allocating */
  if ((uint64_t)n * 9 + q > dyna_rd_left(rd)) {
    rd->err = DYNA_ECORRUPT;
    return DYNA_ECORRUPT;
  }
  if ((rc = ring_alloc(&t, q, n)) != 0) return rc;
  if ((rc = read_members(rd, &t)) != 0) goto fail;
  for (uint32_t p = 0; p < q; p++) t.owner[p] = (uint32_t)dyna_ring_rd_varint_min(rd, n - 1);
  if (rd->err) { rc = DYNA_ECORRUPT; goto fail; }
  dyna_ring_clear(r);
  *r = t;
  return 0;
fail:
  if (!rd->err) rd->err = DYNA_ECORRUPT;
  dyna_ring_clear(&t);
  return rc;
}
