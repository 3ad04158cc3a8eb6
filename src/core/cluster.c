/* cluster.c: members, their merge rule, ring maintenance and encoding (see cluster.h). */
#include "core/cluster.h"
#include "util/err.h"
#include "util/alloc.h"
#include "util/assert.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define CLUSTER_VERSION 1
#define CLUSTER_VERSION_SITES 2 /* member records carry their dc */

void dyna_cluster_init(dyna_cluster_t *c) {
  memset(c, 0, sizeof(*c));
  dyna_ring_init(&c->ring);
}

void dyna_cluster_clear(dyna_cluster_t *c) {
  uint64_t gen = c->gen;
  dyna_free(c->m);
  dyna_ring_clear(&c->ring);
  dyna_cluster_init(c);
  c->gen = gen + 1; /* emptied is a change too */
}

const char *dyna_member_status_name(int status) {
  switch (status) {
  case DYNA_MEMBER_VALID: return "valid";
  case DYNA_MEMBER_LEAVING: return "leaving";
  case DYNA_MEMBER_REMOVED: return "removed";
  default: return "?";
  }
}

int dyna_cluster_bootstrap(dyna_cluster_t *c, const dyna_member_t *self, uint32_t q) {
  dyna_cluster_t t;
  dyna_cluster_init(&t);
  dyna_ring_member_t rm = {self->id, {0}, {0}};
  memcpy(rm.zone, self->zone, sizeof(rm.zone));
  memcpy(rm.dc, self->dc, sizeof(rm.dc));
  int rc = dyna_ring_single(&t.ring, q, &rm);
  if (!rc) rc = dyna_cluster_upsert(&t, self, NULL);
  if (rc) { dyna_cluster_clear(&t); return rc; }
  t.ring_version = 1;
  t.ring_author = self->id;
  dyna_cluster_clear(c);
  t.gen = c->gen + 1;
  *c = t;
  return 0;
}

static ssize_t find_index(const dyna_cluster_t *c, uint64_t id) {
  size_t lo = 0, hi = c->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (c->m[mid].id < id) lo = mid + 1;
    else hi = mid;
  }
  return lo < c->n && c->m[lo].id == id ? (ssize_t)lo : -(ssize_t)lo - 1;
}

const dyna_member_t *dyna_cluster_find(const dyna_cluster_t *c, uint64_t id) {
  ssize_t i = find_index(c, id);
  return i >= 0 ? &c->m[i] : NULL;
}

const dyna_member_t *dyna_cluster_find_live_name(const dyna_cluster_t *c, const char *name, uint64_t except) {
  for (size_t i = 0; i < c->n; i++)
    if (c->m[i].status != DYNA_MEMBER_REMOVED && c->m[i].id != except && !strcmp(c->m[i].name, name))
      return &c->m[i];
  return NULL;
}

size_t dyna_cluster_name_count(const dyna_cluster_t *c, const char *name) {
  size_t k = 0;
  for (size_t i = 0; i < c->n; i++)
    k += c->m[i].status != DYNA_MEMBER_REMOVED && !strcmp(c->m[i].name, name);
  return k;
}

const dyna_member_t *dyna_cluster_find_name(const dyna_cluster_t *c, const char *name) {
  const dyna_member_t *live = dyna_cluster_find_live_name(c, name, 0);
  if (live) return live;
  for (size_t i = 0; i < c->n; i++)
    if (!strcmp(c->m[i].name, name)) return &c->m[i];
  char *end;
  unsigned long long id = strtoull(name, &end, 16);
  return *name && !*end ? dyna_cluster_find(c, id) : NULL;
}

int dyna_member_cmp(const dyna_member_t *a, const dyna_member_t *b) {
  /* Records are zero-filled past their strings (member_read, self_record), so equal
   * records are equal bytes, the usual case when a gossiped state is merged: one memcmp
   * instead of five strcmp. Bytes that differ (padding too) take the field compare. */
  if (!memcmp(a, b, sizeof(*a))) return 0;
  if (a->version != b->version) return a->version > b->version ? 1 : -1;
  if (a->status != b->status) return a->status > b->status ? 1 : -1;
  int d = strcmp(a->name, b->name);
  if (!d) d = strcmp(a->addr, b->addr);
  if (!d) d = strcmp(a->client_addr, b->client_addr);
  if (!d) d = strcmp(a->zone, b->zone);
  if (!d) d = strcmp(a->dc, b->dc);
  return d;
}

int dyna_cluster_upsert(dyna_cluster_t *c, const dyna_member_t *m, int *changed) {
  if (changed) *changed = 0;
  ssize_t i = find_index(c, m->id);
  if (i >= 0) {
    if (dyna_member_cmp(m, &c->m[i]) > 0) {
      c->m[i] = *m;
      dyna_cluster_touch(c);
      if (changed) *changed = 1;
    }
    return 0;
  }
  if (c->n >= DYNA_CLUSTER_MAX_MEMBERS) return DYNA_ETOOBIG;
  dyna_member_t *nm = dyna_realloc(c->m, (c->n + 1) * sizeof(*nm));
  if (!nm) return DYNA_ENOMEM;
  c->m = nm;
  size_t at = (size_t)(-i - 1);
  memmove(&c->m[at + 1], &c->m[at], (c->n - at) * sizeof(*nm));
  c->m[at] = *m;
  c->n++;
  dyna_cluster_touch(c);
  if (changed) *changed = 1;
  return 0;
}

/* Merges other's members into c's in one pass over both (each sorted by id): the same
 * result as upserting each in turn, without moving c's array once per new member (a
 * joining node learning 1000 members at once). The array grows in place (realloc) and
 * is filled from its end, so the records already there are not copied to fresh pages
 * (a 1000-member array is ~250 kB: page faults, as system time). Returns 0, DYNA_ENOMEM
 * or DYNA_ETOOBIG (then nothing changed: the caller upserts one by one). */
static int merge_members(dyna_cluster_t *c, const dyna_cluster_t *other, int *any) {
  size_t add = 0;
  for (size_t a = 0, b = 0; b < other->n;) { /* both sorted: one walk counts the new ids */
    while (a < c->n && c->m[a].id < other->m[b].id) a++;
    add += a == c->n || c->m[a].id != other->m[b].id;
    b++;
  }
  if (!add) { /* the usual case: replace the newer records in place */
    for (size_t a = 0, b = 0; b < other->n; b++) {
      while (c->m[a].id < other->m[b].id) a++; /* present: no add */
      if (dyna_member_cmp(&other->m[b], &c->m[a]) > 0) c->m[a] = other->m[b], *any = 1;
    }
    return 0;
  }
  if (c->n + add > DYNA_CLUSTER_MAX_MEMBERS) return DYNA_ETOOBIG;
  dyna_member_t *m = dyna_realloc(c->m, (c->n + add) * sizeof(*m));
  if (!m) return DYNA_ENOMEM;
  c->m = m;
  size_t a = c->n, b = other->n, k = c->n + add; /* from the end: k never passes a */
  while (b) { /* once k == a, what is left of c is in place (no self-copies) */
    if (a && m[a - 1].id > other->m[b - 1].id) {
      a--, k--;
      if (k != a) m[k] = m[a];
    } else if (a && m[a - 1].id == other->m[b - 1].id) { /* the same member: the newer record */
      a--, b--, k--;
      if (dyna_member_cmp(&other->m[b], &m[a]) > 0) m[k] = other->m[b];
      else if (k != a) m[k] = m[a];
    } else {
      m[--k] = other->m[--b];
    }
  }
  DYNA_ASSERT(k == a, "merge left %zu slots for %zu members in place", k, a);
  c->n += add;
  *any = 1;
  return 0;
}

int dyna_cluster_merge(dyna_cluster_t *c, const dyna_cluster_t *other, int *changed) {
  int any = 0;
  int mrc = merge_members(c, other, &any);
  if (mrc == DYNA_ENOMEM) return mrc;
  if (any) dyna_cluster_touch(c); /* before any return below */
  for (size_t i = 0; mrc && i < other->n; i++) { /* past the cap: as many as fit, in turn */
    int ch;
    int rc = dyna_cluster_upsert(c, &other->m[i], &ch);
    if (rc) return rc;
    any |= ch;
  }
  int newer = other->ring_version > c->ring_version ||
              (other->ring_version == c->ring_version && other->ring_author > c->ring_author);
  if (newer && other->ring.size) {
    dyna_ring_t r;
    dyna_ring_init(&r);
    int rc = dyna_ring_copy(&r, &other->ring);
    if (rc) return rc;
    dyna_ring_clear(&c->ring);
    c->ring = r;
    c->ring_version = other->ring_version;
    c->ring_author = other->ring_author;
    dyna_cluster_touch(c);
    any = 1;
  }
  if (changed) *changed = any;
  return 0;
}

/* The VALID members as ring members, sorted by id. *out owned by the caller. */
static int valid_members(const dyna_cluster_t *c, dyna_ring_member_t **out, size_t *n) {
  *out = dyna_calloc(c->n ? c->n : 1, sizeof(**out));
  if (!*out) return DYNA_ENOMEM;
  *n = 0;
  for (size_t i = 0; i < c->n; i++) {
    if (c->m[i].status != DYNA_MEMBER_VALID) continue;
    (*out)[*n].id = c->m[i].id;
    memcpy((*out)[*n].zone, c->m[i].zone, DYNA_ZONE_MAX);
    memcpy((*out)[*n].dc, c->m[i].dc, DYNA_ZONE_MAX);
    (*n)++;
  }
  return 0;
}

static uint64_t digest_of(const dyna_cluster_t *c) {
  uint64_t h = 0;
  for (size_t i = 0; i < c->n; i++) { /* each record's hash seeded with those before it */
    const dyna_member_t *m = &c->m[i];
    uint8_t rec[2 * 8 + 1 + sizeof(*m)];
    memcpy(rec, &m->id, 8);
    memcpy(rec + 8, &m->version, 8);
    rec[16] = m->status;
    size_t l = 17;
    const char *f[] = {m->name, m->addr, m->client_addr, m->zone, m->dc};
    for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++) { /* with terminators: boundaries count */
      size_t fl = strlen(f[k]) + 1;
      memcpy(rec + l, f[k], fl);
      l += fl;
    }
    h = XXH3_64bits_withSeed(rec, l, h);
  }
  uint64_t tail[3] = {c->n, c->ring_version, c->ring_author};
  h = XXH3_64bits_withSeed(tail, sizeof(tail), h);
  return h ? h : 1;
}

uint64_t dyna_cluster_digest(dyna_cluster_t *c) {
#ifndef NDEBUG
  DYNA_ASSERT(!c->digest || c->digest == digest_of(c), "cluster digest memo %016" PRIx64 " is stale: a change "
              "bypassed dyna_cluster_touch", c->digest);
#endif
  if (!c->digest) c->digest = digest_of(c);
  return c->digest;
}

int dyna_cluster_same(const dyna_cluster_t *a, const dyna_cluster_t *b) {
  if (a->n != b->n || a->ring_version != b->ring_version || a->ring_author != b->ring_author) return 0;
  if (a->n && !memcmp(a->m, b->m, a->n * sizeof(*a->m))) return 1; /* zero-filled records: the usual case */
  for (size_t i = 0; i < a->n; i++)
    if (a->m[i].id != b->m[i].id || dyna_member_cmp(&a->m[i], &b->m[i])) return 0;
  return 1;
}

static int str_same(const char *a, const char *b) { return a[0] == b[0] && (!a[0] || !strcmp(a, b)); }

int dyna_cluster_ring_settled(const dyna_cluster_t *c) {
  const dyna_ring_t *r = &c->ring;
  size_t nvalid = 0, j = 0;
  for (size_t i = 0; i < c->n; i++) { /* both sorted by id: one walk of each */
    if (c->m[i].status != DYNA_MEMBER_VALID) continue;
    nvalid++;
    while (j < r->nmembers && r->members[j].id < c->m[i].id) j++;
    if (j == r->nmembers || r->members[j].id != c->m[i].id || !str_same(r->members[j].zone, c->m[i].zone) ||
        !str_same(r->members[j].dc, c->m[i].dc))
      return 0;
  }
  return nvalid == r->nmembers;
}

int dyna_cluster_fix_ring(dyna_cluster_t *c, uint64_t self, const dyna_repl_t *repl, int *changed) {
  *changed = 0;
  if (!c->ring.size || dyna_cluster_ring_settled(c)) return 0;
  uint64_t claimant = 0;
  for (size_t i = 0; i < c->n && !claimant; i++)
    if (c->m[i].status == DYNA_MEMBER_VALID) claimant = c->m[i].id;
  if (claimant != self) return 0;
  dyna_ring_member_t *ms;
  size_t n;
  int rc = valid_members(c, &ms, &n);
  if (rc) return rc;
  dyna_ring_t r;
  dyna_ring_init(&r);
  rc = dyna_ring_rebalance_repl(&c->ring, c->ring.size, ms, n, repl, &r);
  dyna_free(ms);
  if (rc) return rc;
  dyna_ring_clear(&c->ring);
  c->ring = r;
  c->ring_version++;
  c->ring_author = self;
  dyna_cluster_touch(c);
  *changed = 1;
  return 0;
}

static void put_str(dyna_buf_t *b, const char *s) { dyna_buf_put_bytes(b, s, strlen(s)); }

static int read_str(dyna_rd_t *rd, char *out, size_t cap) {
  size_t n;
  const uint8_t *p = dyna_rd_bytes(rd, cap - 1, &n);
  if (rd->err) return DYNA_ECORRUPT;
  for (size_t i = 0; i < n; i++) { /* names are short: a loop, not a memchr call per field */
    if (!p[i]) {
      out[0] = 0;
      return DYNA_ECORRUPT;
    }
    out[i] = (char)p[i];
  }
  out[n] = 0;
  return 0;
}

void dyna_member_encode(const dyna_member_t *m, dyna_buf_t *out) {
  dyna_buf_put_u64le(out, m->id);
  dyna_buf_put_varint(out, m->version);
  dyna_buf_put_u8(out, m->status);
  put_str(out, m->name);
  put_str(out, m->addr);
  put_str(out, m->client_addr);
  put_str(out, m->zone);
  if (m->dc[0]) put_str(out, m->dc);
}

static void member_encode_v(const dyna_member_t *m, int sites, dyna_buf_t *out) {
  dyna_member_t t = *m;
  t.dc[0] = 0;
  dyna_member_encode(&t, out);
  if (sites) put_str(out, m->dc);
}

int dyna_member_read_dc(dyna_rd_t *rd, dyna_member_t *m) { return read_str(rd, m->dc, sizeof(m->dc)); }

int dyna_member_read(dyna_rd_t *rd, dyna_member_t *m) {
  memset(m, 0, sizeof(*m));
  m->id = dyna_rd_u64le(rd);
  m->version = dyna_rd_varint(rd);
  m->status = dyna_rd_u8(rd);
  if (rd->err || m->id == 0 || m->status < DYNA_MEMBER_VALID || m->status > DYNA_MEMBER_REMOVED)
    return DYNA_ECORRUPT;
  if (read_str(rd, m->name, sizeof(m->name)) || read_str(rd, m->addr, sizeof(m->addr)) ||
      read_str(rd, m->client_addr, sizeof(m->client_addr)) || read_str(rd, m->zone, sizeof(m->zone)))
    return DYNA_ECORRUPT;
  return 0;
}

void dyna_cluster_encode(const dyna_cluster_t *c, dyna_buf_t *out) {
  int sites = 0;
  for (size_t i = 0; i < c->n; i++) sites |= c->m[i].dc[0] != 0;
  dyna_buf_put_u8(out, sites ? CLUSTER_VERSION_SITES : CLUSTER_VERSION);
  dyna_buf_put_varint(out, c->n);
  for (size_t i = 0; i < c->n; i++) member_encode_v(&c->m[i], sites, out);
  dyna_buf_put_varint(out, c->ring_version);
  dyna_buf_put_u64le(out, c->ring_author);
  dyna_ring_encode(&c->ring, out);
}

int dyna_cluster_decode(const uint8_t *p, size_t len, dyna_cluster_t *c) {
  dyna_rd_t rd;
  dyna_rd_init(&rd, p, len);
  uint8_t ver = dyna_rd_u8(&rd);
  if (ver != CLUSTER_VERSION && ver != CLUSTER_VERSION_SITES) return DYNA_ECORRUPT;
  uint64_t n = dyna_rd_varint(&rd);
  /* Each member takes at least 14 bytes: never allocate more than the input justifies. */
  if (rd.err || n > DYNA_CLUSTER_MAX_MEMBERS || n > dyna_rd_left(&rd) / 14) return DYNA_ECORRUPT;
  dyna_cluster_t t;
  dyna_cluster_init(&t);
  int rc = 0;
  if (n) { /* not zeroed: dyna_member_read zero-fills each record it reads */
    t.m = dyna_malloc((size_t)n * sizeof(*t.m));
    if (!t.m) return DYNA_ENOMEM;
  }
  for (size_t i = 0; i < n && !rc; i++) {
    rc = dyna_member_read(&rd, &t.m[i]);
    if (!rc && ver == CLUSTER_VERSION_SITES) rc = dyna_member_read_dc(&rd, &t.m[i]);
    if (!rc && i && t.m[i].id <= t.m[i - 1].id) rc = DYNA_ECORRUPT;
    t.n = i + 1;
  }
  if (!rc) {
    t.ring_version = dyna_rd_varint(&rd);
    t.ring_author = dyna_rd_u64le(&rd);
    rc = rd.err ? DYNA_ECORRUPT : dyna_ring_read(&rd, &t.ring);
  }
  if (!rc && (rd.err || dyna_rd_left(&rd))) rc = DYNA_ECORRUPT;
  if (rc) {
    dyna_cluster_clear(&t);
    return rc;
  }
  dyna_cluster_clear(c);
  t.gen = c->gen + 1;
  *c = t;
  return 0;
}
