/* ring_sites.c: rings with sites (data centres; the contract is at the top of ring.h).
 *
 *   members ──group by dc──▶ site "a": ring over a's members  ─┐
 *                            site "b": ring over b's members  ─┼─▶ preference list of p:
 *                            ...                               │   a's first n(a) at p,
 *                                                              │   b's first n(b) at p, ...
 *                                                              └─▶ then a's others, b's others
 *
 * Each site's ring is an ordinary ring (ring.c) over the same Q partitions, so placement
 * within a site (balance, spread over its zones, minimal movement) is exactly the
 * single-site one, and a rebalance of one site leaves every other site's ring as it was.
 * The ring's own members array is the union, sorted by id (for lookups); it has no owner
 * array. Pure: no I/O, no clock, no randomness; memory through util/alloc.h. */
#include "core/ring.h"
#include "core/ring_int.h"
#include "core/keyspace.h"
#include "util/alloc.h"
#include "util/err.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int name_same(const char *a, const char *b) { return strncmp(a, b, DYNA_ZONE_MAX) == 0; }
static int name_valid(const char *z) { return memchr(z, 0, DYNA_ZONE_MAX) != NULL; }

/* ---- the replication setting ---------------------------------------------------- */

uint32_t dyna_repl_site_n(const dyna_repl_t *repl, const char *dc) {
  for (uint32_t i = 0; i < repl->nsites && i < DYNA_SITES_MAX; i++)
    if (name_same(repl->dc[i], dc)) return repl->dn[i];
  return repl->n;
}

dyna_repl_t dyna_repl_uniform(uint32_t n) {
  dyna_repl_t r;
  memset(&r, 0, sizeof r);
  r.n = n;
  return r;
}

/* A count of 1..max in s[0..len), digits only. 0 when it is not one. */
static uint32_t parse_count(const char *s, size_t len, uint32_t max) {
  uint32_t v = 0;
  if (len == 0 || len > 5) return 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return 0;
    v = v * 10 + (uint32_t)(s[i] - '0');
  }
  return v >= 1 && v <= max ? v : 0;
}

int dyna_repl_parse(const char *s, uint32_t dflt, uint32_t max, dyna_repl_t *out) {
  dyna_repl_t r = dyna_repl_uniform(dflt);
  int bare = 0;
  uint32_t sum = 0;
  if (!s || !*s) return DYNA_EINVAL;
  for (const char *e = s;; e++) {
    if (*e != ',' && *e) continue;
    size_t len = (size_t)(e - s);
    const char *colon = memchr(s, ':', len);
    if (!colon) { /* a bare count */
      uint32_t v = parse_count(s, len, max);
      if (!v || bare) return DYNA_EINVAL;
      bare = 1;
      r.n = v;
      sum += v;
    } else {
      size_t nlen = (size_t)(colon - s);
      uint32_t v = parse_count(colon + 1, len - nlen - 1, max);
      if (!v || nlen == 0 || nlen >= DYNA_ZONE_MAX || r.nsites >= DYNA_SITES_MAX) return DYNA_EINVAL;
      for (size_t i = 0; i < nlen; i++)
        if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n' || s[i] == 0) return DYNA_EINVAL;
      char name[DYNA_ZONE_MAX] = {0};
      memcpy(name, s, nlen);
      for (uint32_t i = 0; i < r.nsites; i++)
        if (name_same(r.dc[i], name)) return DYNA_EINVAL;
      memcpy(r.dc[r.nsites], name, sizeof name);
      r.dn[r.nsites++] = v;
      sum += v;
    }
    if (sum > max) return DYNA_EINVAL;
    if (!*e) break;
    s = e + 1;
  }
  *out = r;
  return 0;
}

void dyna_repl_format(const dyna_repl_t *repl, uint32_t dflt, char *out, size_t cap) {
  size_t l = 0;
  if (!cap) return;
  out[0] = 0;
  if (repl->n != dflt || !repl->nsites) l += (size_t)snprintf(out, cap, "%u", repl->n);
  for (uint32_t i = 0; i < repl->nsites && i < DYNA_SITES_MAX && l < cap; i++)
    l += (size_t)snprintf(out + l, cap - l, "%s%.31s:%u", l ? "," : "", repl->dc[i], repl->dn[i]);
}

/* ---- lookups ---------------------------------------------------------------------- */

uint32_t dyna_ring_sites(const dyna_ring_t *r) { return r->nsites ? r->nsites : 1; }

const char *dyna_ring_site_name(const dyna_ring_t *r, uint32_t s) {
  return r->nsites && s < r->nsites ? r->site[s].members[0].dc : "";
}

int dyna_ring_site_of(const dyna_ring_t *r, uint64_t id) {
  int m = dyna_ring_member_index(r, id);
  if (m < 0 || !r->nsites) return m < 0 ? -1 : 0;
  for (uint32_t s = 0; s < r->nsites; s++)
    if (name_same(r->site[s].members[0].dc, r->members[m].dc)) return (int)s;
  return -1;
}

uint32_t dyna_ring_site_homes(const dyna_ring_t *r, uint32_t s, const dyna_repl_t *repl) {
  const dyna_ring_t *sr = r->nsites ? (s < r->nsites ? &r->site[s] : NULL) : r;
  if (!sr) return 0;
  uint32_t k = r->nsites ? dyna_repl_site_n(repl, dyna_ring_site_name(r, s)) : repl->n;
  return k < sr->nmembers ? k : sr->nmembers;
}

/* ---- preference lists ------------------------------------------------------------- */

size_t dyna_ring_homes(const dyna_ring_t *r, const dyna_repl_t *repl) {
  if (!r->nsites) return repl->n < r->nmembers ? repl->n : r->nmembers;
  size_t k = 0;
  for (uint32_t s = 0; s < r->nsites; s++) k += dyna_ring_site_homes(r, s, repl);
  return k;
}

size_t dyna_ring_preflist_repl(const dyna_ring_t *r, uint32_t p, const dyna_repl_t *repl,
                               uint64_t *out, size_t max, size_t *nhome) {
  size_t n = 0;
  if (!r->nsites) {
    n = dyna_ring_preflist(r, p, repl->n, out, max);
    if (nhome) {
      size_t k = repl->n < r->nmembers ? repl->n : r->nmembers;
      *nhome = k < n ? k : n;
    }
    return n;
  }
  for (uint32_t s = 0; s < r->nsites && n < max; s++) { /* the homes, site by site */
    size_t k = dyna_ring_site_homes(r, s, repl);
    if (k > max - n) k = max - n;
    n += dyna_ring_preflist(&r->site[s], p, (uint32_t)k, out + n, k);
  }
  if (nhome) *nhome = n;
  uint64_t stack[256];
  for (uint32_t s = 0; s < r->nsites && n < max; s++) { /* then each site's others */
    size_t k = dyna_ring_site_homes(r, s, repl);
    size_t want = k + (max - n);
    if (want > r->site[s].nmembers) want = r->site[s].nmembers;
    if (want <= k) continue;
    uint64_t *tmp = want <= 256 ? stack : dyna_malloc(want * sizeof *tmp);
    if (!tmp) break; /* fewer fallbacks: the list stays correct, only shorter */
    size_t got = dyna_ring_preflist(&r->site[s], p, (uint32_t)k, tmp, want);
    for (size_t i = k; i < got && n < max; i++) out[n++] = tmp[i];
    if (tmp != stack) dyna_free(tmp);
  }
  return n;
}

/* ---- building ----------------------------------------------------------------------- */

static int cmp_id(const void *a, const void *b) {
  uint64_t x = ((const dyna_ring_member_t *)a)->id, y = ((const dyna_ring_member_t *)b)->id;
  return (x > y) - (x < y);
}

static int cmp_dc_id(const void *a, const void *b) {
  const dyna_ring_member_t *x = a, *y = b;
  int c = strncmp(x->dc, y->dc, DYNA_ZONE_MAX);
  return c ? c : cmp_id(a, b);
}

/* Sets t->members to the union of t's sites, sorted by id. Returns 0, DYNA_ENOMEM, or
 * bad (an id in two sites, or too many members). */
static int collect(dyna_ring_t *t, int bad) {
  size_t n = 0;
  for (uint32_t s = 0; s < t->nsites; s++) n += t->site[s].nmembers;
  if (n == 0 || n > DYNA_RING_MEMBERS_MAX) return bad;
  dyna_free(t->members);
  t->members = dyna_calloc(n, sizeof *t->members);
  if (!t->members) return DYNA_ENOMEM;
  n = 0;
  for (uint32_t s = 0; s < t->nsites; s++)
    for (uint32_t i = 0; i < t->site[s].nmembers; i++) dyna_ring_member_copy(&t->members[n++], &t->site[s].members[i]);
  qsort(t->members, n, sizeof *t->members, cmp_id);
  for (size_t i = 1; i < n; i++)
    if (t->members[i].id == t->members[i - 1].id) return bad;
  t->nmembers = (uint32_t)n;
  return 0;
}

/* An empty ring with nsites site rings allocated. Returns 0 or DYNA_ENOMEM. */
static int sites_alloc(dyna_ring_t *t, uint32_t q, uint32_t nsites) {
  dyna_ring_init(t);
  t->site = dyna_calloc(nsites, sizeof *t->site);
  if (!t->site) return DYNA_ENOMEM;
  for (uint32_t s = 0; s < nsites; s++) dyna_ring_init(&t->site[s]);
  t->nsites = nsites;
  t->size = q;
  return 0;
}

int dyna_ring_sites_copy(dyna_ring_t *dst, const dyna_ring_t *src) {
  dyna_ring_t t;
  int rc = sites_alloc(&t, src->size, src->nsites);
  for (uint32_t s = 0; !rc && s < src->nsites; s++) rc = dyna_ring_copy(&t.site[s], &src->site[s]);
  if (!rc) rc = collect(&t, DYNA_EINVAL);
  if (rc) { dyna_ring_clear(&t); return rc; }
  dyna_ring_clear(dst);
  *dst = t;
  return 0;
}

int dyna_ring_sites_substitute(const dyna_ring_t *r, uint64_t old_id, const dyna_ring_member_t *m,
                               dyna_ring_t *out) {
  int s = dyna_ring_site_of(r, old_id);
  if (s < 0) return DYNA_EINVAL;
  dyna_ring_t t;
  dyna_ring_init(&t);
  int rc = dyna_ring_sites_copy(&t, r);
  if (!rc) rc = dyna_ring_substitute(&r->site[s], old_id, m, &t.site[s]);
  if (!rc) rc = collect(&t, DYNA_EINVAL);
  if (rc) { dyna_ring_clear(&t); return rc; }
  dyna_ring_clear(out);
  *out = t;
  return 0;
}

/* old's ring for site dc: its site ring of that name, old itself when old has no sites
 * and dc is "", else NULL (the site is new). */
static const dyna_ring_t *old_site(const dyna_ring_t *old, const char *dc) {
  if (!old->nsites) return dc[0] || !old->size ? NULL : old;
  for (uint32_t s = 0; s < old->nsites; s++)
    if (name_same(old->site[s].members[0].dc, dc)) return &old->site[s];
  return NULL;
}

int dyna_ring_rebalance_repl(const dyna_ring_t *old, uint32_t q, const dyna_ring_member_t *members,
                             size_t n, const dyna_repl_t *repl, dyna_ring_t *out) {
  if (!old || !out || old == out || !members || n == 0 || n > DYNA_RING_MEMBERS_MAX) return DYNA_EINVAL;
  int any = 0;
  for (size_t i = 0; i < n; i++) {
    if (!name_valid(members[i].dc) || !name_valid(members[i].zone)) return DYNA_EINVAL;
    any |= members[i].dc[0] != 0;
  }
  if (old->size) {
    if (q && q != old->size) return DYNA_EINVAL;
    q = old->size;
  }
  if (!dyna_ring_size_valid(q)) return DYNA_EINVAL;
  dyna_ring_t empty;
  dyna_ring_init(&empty);
  if (!any) { /* no sites (any more): the ring of the site "" */
    const dyna_ring_t *o = old_site(old, "");
    return dyna_ring_rebalance_one(o ? o : &empty, q, members, n, repl->n, out);
  }
  dyna_ring_member_t *by = dyna_malloc(n * sizeof *by);
  if (!by) return DYNA_ENOMEM;
  for (size_t i = 0; i < n; i++) dyna_ring_member_copy(&by[i], &members[i]);
  qsort(by, n, sizeof *by, cmp_dc_id);
  uint32_t nsites = 1;
  for (size_t i = 1; i < n; i++) nsites += !name_same(by[i].dc, by[i - 1].dc);
  dyna_ring_t t;
  int rc = nsites > DYNA_SITES_MAX ? DYNA_EINVAL : sites_alloc(&t, q, nsites);
  if (rc) { dyna_free(by); return rc; }
  size_t lo = 0;
  for (uint32_t s = 0; s < nsites && !rc; s++) {
    size_t hi = lo + 1;
    while (hi < n && name_same(by[hi].dc, by[lo].dc)) hi++;
    const dyna_ring_t *o = old_site(old, by[lo].dc);
    rc = dyna_ring_rebalance_one(o ? o : &empty, q, by + lo, hi - lo, dyna_repl_site_n(repl, by[lo].dc), &t.site[s]);
    lo = hi;
  }
  if (!rc) rc = collect(&t, DYNA_EINVAL);
  dyna_free(by);
  if (rc) { dyna_ring_clear(&t); return rc; }
  dyna_ring_clear(out);
  *out = t;
  return 0;
}

/* ---- encoding ----------------------------------------------------------------------- */

void dyna_ring_sites_encode(const dyna_ring_t *r, dyna_buf_t *out) {
  dyna_buf_put_varint(out, 0);
  dyna_buf_put_varint(out, r->nsites);
  for (uint32_t s = 0; s < r->nsites; s++) {
    const char *dc = dyna_ring_site_name(r, s);
    dyna_buf_put_bytes(out, dc, strnlen(dc, DYNA_ZONE_MAX - 1));
    dyna_ring_encode_body(&r->site[s], out);
  }
}

int dyna_ring_sites_read(dyna_rd_t *rd, uint32_t q, dyna_ring_t *r) {
  (void)dyna_ring_rd_varint_min(rd, 0);
  uint32_t nsites = (uint32_t)dyna_ring_rd_varint_min(rd, DYNA_SITES_MAX);
  if (rd->err || nsites == 0) return DYNA_ECORRUPT;
  dyna_ring_t t;
  int rc = sites_alloc(&t, q, nsites);
  if (rc) return rc;
  char prev[DYNA_ZONE_MAX] = {0};
  for (uint32_t s = 0; s < nsites && !rc; s++) {
    size_t len = (size_t)dyna_ring_rd_varint_min(rd, DYNA_ZONE_MAX - 1);
    const uint8_t *z = dyna_rd_take(rd, len);
    char dc[DYNA_ZONE_MAX] = {0};
    if (rd->err || (len && memchr(z, 0, len))) { rc = DYNA_ECORRUPT; break; }
    if (len) memcpy(dc, z, len);
    if (s && strncmp(prev, dc, DYNA_ZONE_MAX) >= 0) { rc = DYNA_ECORRUPT; break; }
    if (nsites == 1 && !dc[0]) { rc = DYNA_ECORRUPT; break; } /* that ring has no sites */
    memcpy(prev, dc, sizeof prev);
    rc = dyna_ring_read_body(rd, q, &t.site[s]);
    for (uint32_t i = 0; !rc && i < t.site[s].nmembers; i++) memcpy(t.site[s].members[i].dc, dc, sizeof dc);
  }
  if (!rc) rc = collect(&t, DYNA_ECORRUPT);
  if (rc) {
    if (!rd->err) rd->err = DYNA_ECORRUPT;
    dyna_ring_clear(&t);
    return rc;
  }
  dyna_ring_clear(r);
  *r = t;
  return 0;
}
