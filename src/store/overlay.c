/* overlay.c: an in-memory batch of writes keyed by (space, key) (see overlay.h). */
#include "store/overlay.h"
#include "util/err.h"
#include "util/alloc.h"
#include <string.h>
#include <xxhash.h>

void dyna_ov_init(dyna_overlay_t *o) { memset(o, 0, sizeof(*o)); }

void dyna_ov_clear(dyna_overlay_t *o) {
  for (size_t i = 0; i < o->cap; i++) {
    dyna_ov_entry_t *e = o->tab[i];
    while (e) {
      dyna_ov_entry_t *next = e->next;
      dyna_free(e);
      e = next;
    }
  }
  dyna_free(o->tab);
  dyna_free(o->ptab);
  dyna_ov_init(o);
}

/* The prefix bucket of a key: its space and first two bytes. */
static size_t pslot(dyna_space_t sp, const uint8_t *k, size_t klen) {
  size_t a = klen > 0 ? k[0] : 0, b = klen > 1 ? k[1] : 0;
  return ((size_t)sp * 65536u + a * 256u + b) * 2654435761u % DYNA_OV_PBUCKETS;
}

static void plink(dyna_overlay_t *o, dyna_ov_entry_t *e) {
  dyna_ov_entry_t **head = &o->ptab[pslot((dyna_space_t)e->space, e->key, e->klen)];
  e->pnext = *head;
  if (*head) (*head)->pprev = &e->pnext;
  e->pprev = head;
  *head = e;
}

/* Builds the prefix index over every entry; without memory the overlay just goes on
 * without it (collect then scans). */
static void build_pindex(dyna_overlay_t *o) {
  o->ptab = dyna_calloc(DYNA_OV_PBUCKETS, sizeof(*o->ptab));
  if (!o->ptab) return;
  for (size_t i = 0; i < o->cap; i++)
    for (dyna_ov_entry_t *e = o->tab[i]; e; e = e->next) plink(o, e);
}

uint64_t dyna_ov_hash(dyna_space_t sp, const uint8_t *k, size_t klen) {
  return XXH3_64bits_withSeed(k, klen, (uint64_t)sp);
}

static size_t slot(const dyna_overlay_t *o, uint64_t hash) { return (size_t)hash & (o->cap - 1); }

static int same_key(const dyna_ov_entry_t *e, uint64_t hash, dyna_space_t sp, const uint8_t *k,
                    size_t klen) {
  return e->hash == hash && e->space == sp && e->klen == klen && !memcmp(e->key, k, klen);
}

/* A new overlay starts small: one is built for every commit (a few dozen writes), and its
 * table is zeroed here and walked whole by absorb and each, so its first size is paid on
 * every commit (a first size of 1024 cost a replica 17% of its instructions per SET). */
#define OV_FIRST_CAP 16

static int grow(dyna_overlay_t *o) {
  size_t cap = o->cap ? o->cap * 2 : OV_FIRST_CAP;
  dyna_ov_entry_t **tab = dyna_calloc(cap, sizeof(*tab));
  if (!tab) return DYNA_ENOMEM;
  dyna_overlay_t old = *o;
  o->tab = tab;
  o->cap = cap;
  for (size_t i = 0; i < old.cap; i++) {
    dyna_ov_entry_t *e = old.tab[i];
    while (e) {
      dyna_ov_entry_t *next = e->next;
      size_t s = slot(o, e->hash);
      e->next = o->tab[s];
      o->tab[s] = e;
      e = next;
    }
  }
  dyna_free(old.tab);
  return 0;
}

const dyna_ov_entry_t *dyna_ov_get_h(const dyna_overlay_t *o, dyna_space_t sp, const uint8_t *k,
                                     size_t klen, uint64_t hash) {
  if (!o->cap) return NULL;
  for (const dyna_ov_entry_t *e = o->tab[slot(o, hash)]; e; e = e->next)
    if (same_key(e, hash, sp, k, klen)) return e;
  return NULL;
}

void dyna_ov_prefetch(const dyna_overlay_t *o, uint64_t hash, int stage) {
  if (!o->n) return;
  dyna_ov_entry_t *const *b = &o->tab[slot(o, hash)];
  if (!stage) {
    __builtin_prefetch(b);
  } else if (*b) { /* the key and value follow the header in the same allocation */
    const char *e = (const char *)*b;
    __builtin_prefetch(e);
    __builtin_prefetch(e + 64);
    __builtin_prefetch(e + 128);
  }
}

const dyna_ov_entry_t *dyna_ov_get(const dyna_overlay_t *o, dyna_space_t sp, const uint8_t *k,
                                   size_t klen) {
  return o->cap ? dyna_ov_get_h(o, sp, k, klen, dyna_ov_hash(sp, k, klen)) : NULL;
}

/* Links entry e (not in any overlay) into o, replacing and freeing an entry with the same
 * key. o must have room (no growing here). */
static void link_entry(dyna_overlay_t *o, dyna_ov_entry_t *e) {
  dyna_ov_entry_t **pp = &o->tab[slot(o, e->hash)];
  for (; *pp; pp = &(*pp)->next) {
    dyna_ov_entry_t *old = *pp;
    if (same_key(old, e->hash, (dyna_space_t)e->space, e->key, e->klen)) {
      e->next = old->next;
      *pp = e;
      if (o->ptab) { /* take old's place in the prefix chain too */
        e->pnext = old->pnext;
        e->pprev = old->pprev;
        *e->pprev = e;
        if (e->pnext) e->pnext->pprev = &e->pnext;
      }
      o->bytes += e->vlen;
      o->bytes -= old->vlen;
      dyna_free(old);
      return;
    }
  }
  e->next = NULL;
  *pp = e;
  o->n++;
  o->nspace[e->space]++;
  o->bytes += e->klen + e->vlen;
  if (o->ptab) plink(o, e);
  else if (o->n >= DYNA_OV_PINDEX_MIN) build_pindex(o);
}

int dyna_ov_set(dyna_overlay_t *o, dyna_space_t sp, const uint8_t *k, size_t klen,
                const uint8_t *v, size_t vlen, int tomb) {
  if ((o->n + 1) * 4 > o->cap * 3 && grow(o)) return DYNA_ENOMEM;
  if (tomb) vlen = 0;
  dyna_ov_entry_t *e = dyna_malloc(sizeof(*e) + klen + vlen);
  if (!e) return DYNA_ENOMEM;
  e->space = (uint8_t)sp;
  e->tomb = (uint8_t)(tomb != 0);
  e->klen = (uint32_t)klen;
  e->vlen = (uint32_t)vlen;
  e->hash = dyna_ov_hash(sp, k, klen);
  e->key = (uint8_t *)(e + 1);
  e->val = e->key + klen;
  memcpy(e->key, k, klen);
  if (vlen) memcpy(e->val, v, vlen);
  link_entry(o, e); /* replaces an earlier write to the same key */
  return 0;
}

void dyna_ov_absorb(dyna_overlay_t *dst, dyna_overlay_t *src) {
  if (!dst->n) {
    dyna_ov_clear(dst);
    *dst = *src;
    dyna_ov_init(src);
    return;
  }
  while ((dst->n + src->n + 1) * 4 > dst->cap * 3)
    if (grow(dst)) break; /* without memory: longer chains, still correct */
  for (size_t i = 0; i < src->cap; i++) {
    dyna_ov_entry_t *e = src->tab[i];
    while (e) {
      dyna_ov_entry_t *next = e->next;
      link_entry(dst, e);
      e = next;
    }
  }
  dyna_free(src->tab);
  dyna_free(src->ptab);
  dyna_ov_init(src);
}

int dyna_ov_each_prefix(const dyna_overlay_t *o, dyna_space_t sp, const uint8_t *prefix, size_t plen,
                        int (*fn)(void *arg, const dyna_ov_entry_t *e), void *arg) {
  if ((unsigned)sp >= DYNA_SPACE_COUNT || !o->nspace[sp]) return 0;
  int rc = 0;
  if (o->ptab && plen >= 2) { /* the chain holds other prefixes too */
    for (const dyna_ov_entry_t *e = o->ptab[pslot(sp, prefix, plen)]; e && !rc; e = e->pnext)
      if (e->space == sp && e->klen >= plen && !memcmp(e->key, prefix, plen)) rc = fn(arg, e);
    return rc;
  }
  for (size_t i = 0; i < o->cap && !rc; i++)
    for (const dyna_ov_entry_t *e = o->tab[i]; e && !rc; e = e->next)
      if (e->space == sp && e->klen >= plen && (!plen || !memcmp(e->key, prefix, plen))) rc = fn(arg, e);
  return rc;
}

typedef struct {
  const dyna_ov_entry_t ***out;
  size_t *n, *cap;
} collect_t;

static int collect_one(void *arg, const dyna_ov_entry_t *e) {
  collect_t *c = arg;
  if (*c->n == *c->cap) {
    size_t cap = *c->cap ? *c->cap * 2 : 64;
    const dyna_ov_entry_t **a = dyna_realloc((void *)*c->out, cap * sizeof(*a));
    if (!a) return DYNA_ENOMEM;
    *c->out = a;
    *c->cap = cap;
  }
  (*c->out)[(*c->n)++] = e;
  return 0;
}

int dyna_ov_collect(const dyna_overlay_t *o, dyna_space_t sp, const uint8_t *prefix, size_t plen,
                    const dyna_ov_entry_t ***out, size_t *n, size_t *cap) {
  collect_t c = {out, n, cap};
  return dyna_ov_each_prefix(o, sp, prefix, plen, collect_one, &c);
}

int dyna_ov_each(const dyna_overlay_t *o, int (*fn)(void *arg, const dyna_ov_entry_t *e), void *arg) {
  for (size_t i = 0; i < o->cap; i++)
    for (const dyna_ov_entry_t *e = o->tab[i]; e; e = e->next) {
      int rc = fn(arg, e);
      if (rc) return rc;
    }
  return 0;
}

int dyna_ov_keycmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
  size_t n = alen < blen ? alen : blen;
  int c = n ? memcmp(a, b, n) : 0;
  if (c) return c;
  return alen < blen ? -1 : alen > blen;
}
