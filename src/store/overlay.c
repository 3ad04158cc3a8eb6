/* overlay.c: an in-memory batch of writes keyed by (space, key) (see overlay.h). */
#include "store/overlay.h"
#include "core/err.h"
#include "core/mem.h"
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
  dyna_ov_init(o);
}

static size_t slot(const dyna_overlay_t *o, dyna_space_t sp, const uint8_t *k, size_t klen) {
  return (size_t)XXH3_64bits_withSeed(k, klen, (uint64_t)sp) & (o->cap - 1);
}

static int grow(dyna_overlay_t *o) {
  size_t cap = o->cap ? o->cap * 2 : 1024;
  dyna_ov_entry_t **tab = dyna_calloc(cap, sizeof(*tab));
  if (!tab) return DYNA_ENOMEM;
  dyna_overlay_t old = *o;
  o->tab = tab;
  o->cap = cap;
  for (size_t i = 0; i < old.cap; i++) {
    dyna_ov_entry_t *e = old.tab[i];
    while (e) {
      dyna_ov_entry_t *next = e->next;
      size_t s = slot(o, (dyna_space_t)e->space, e->key, e->klen);
      e->next = o->tab[s];
      o->tab[s] = e;
      e = next;
    }
  }
  dyna_free(old.tab);
  return 0;
}

const dyna_ov_entry_t *dyna_ov_get(const dyna_overlay_t *o, dyna_space_t sp, const uint8_t *k,
                                   size_t klen) {
  if (!o->cap) return NULL;
  for (const dyna_ov_entry_t *e = o->tab[slot(o, sp, k, klen)]; e; e = e->next)
    if (e->space == sp && e->klen == klen && !memcmp(e->key, k, klen)) return e;
  return NULL;
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
  e->key = (uint8_t *)(e + 1);
  e->val = e->key + klen;
  memcpy(e->key, k, klen);
  if (vlen) memcpy(e->val, v, vlen);
  /* Replace an earlier write to the same key. */
  dyna_ov_entry_t **pp = &o->tab[slot(o, sp, k, klen)];
  for (; *pp; pp = &(*pp)->next) {
    dyna_ov_entry_t *old = *pp;
    if (old->space == sp && old->klen == klen && !memcmp(old->key, k, klen)) {
      e->next = old->next;
      *pp = e;
      o->bytes += vlen;
      o->bytes -= old->vlen;
      dyna_free(old);
      return 0;
    }
  }
  e->next = NULL;
  *pp = e;
  o->n++;
  o->bytes += klen + vlen;
  return 0;
}

int dyna_ov_collect(const dyna_overlay_t *o, dyna_space_t sp, const uint8_t *prefix, size_t plen,
                    const dyna_ov_entry_t ***out, size_t *n, size_t *cap) {
  for (size_t i = 0; i < o->cap; i++) {
    for (const dyna_ov_entry_t *e = o->tab[i]; e; e = e->next) {
      if (e->space != sp || e->klen < plen || (plen && memcmp(e->key, prefix, plen))) continue;
      if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        const dyna_ov_entry_t **a = dyna_realloc((void *)*out, c * sizeof(*a));
        if (!a) return DYNA_ENOMEM;
        *out = a;
        *cap = c;
      }
      (*out)[(*n)++] = e;
    }
  }
  return 0;
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
