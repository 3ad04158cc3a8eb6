/* idmap.c: id -> (pointer, aux) hash map (see idmap.h). */
#include "util/idmap.h"
#include "util/err.h"
#include "util/alloc.h"
#include <string.h>

static size_t home_of(const dyna_idmap_t *m, uint64_t id) {
  return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 17) & (m->cap - 1);
}

void dyna_idmap_init(dyna_idmap_t *m) { memset(m, 0, sizeof(*m)); }

void dyna_idmap_free(dyna_idmap_t *m) {
  dyna_free(m->t);
  memset(m, 0, sizeof(*m));
}

static void insert(dyna_idmap_t *m, const dyna_idmap_entry_t *e) {
  size_t i = home_of(m, e->id);
  while (m->t[i].id) i = (i + 1) & (m->cap - 1);
  m->t[i] = *e;
  m->len++;
}

static int grow(dyna_idmap_t *m) {
  size_t cap = m->cap ? m->cap * 2 : 256;
  dyna_idmap_entry_t *t = dyna_calloc(cap, sizeof(*t));
  if (!t) return DYNA_ENOMEM;
  dyna_idmap_t old = *m;
  m->t = t;
  m->cap = cap;
  m->len = 0;
  for (size_t i = 0; i < old.cap; i++)
    if (old.t[i].id) insert(m, &old.t[i]);
  dyna_free(old.t);
  return 0;
}

int dyna_idmap_put(dyna_idmap_t *m, uint64_t id, void *ptr, uint64_t aux) {
  if ((m->len + 1) * 2 > m->cap && grow(m)) return DYNA_ENOMEM;
  dyna_idmap_entry_t e = {id, ptr, aux};
  insert(m, &e);
  return 0;
}

static size_t find(const dyna_idmap_t *m, uint64_t id) {
  if (!m->cap) return SIZE_MAX;
  size_t i = home_of(m, id);
  while (m->t[i].id && m->t[i].id != id) i = (i + 1) & (m->cap - 1);
  return m->t[i].id ? i : SIZE_MAX;
}

dyna_idmap_entry_t *dyna_idmap_get(const dyna_idmap_t *m, uint64_t id) {
  size_t i = find(m, id);
  return i == SIZE_MAX ? NULL : &m->t[i];
}

int dyna_idmap_take(dyna_idmap_t *m, uint64_t id, dyna_idmap_entry_t *out) {
  size_t i = find(m, id);
  if (i == SIZE_MAX) return 0;
  if (out) *out = m->t[i];
  /* Backward-shift deletion keeps probe chains unbroken without tombstones. */
  size_t hole = i;
  for (size_t j = (i + 1) & (m->cap - 1); m->t[j].id; j = (j + 1) & (m->cap - 1)) {
    size_t home = home_of(m, m->t[j].id);
    int movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
    if (movable) {
      m->t[hole] = m->t[j];
      hole = j;
    }
  }
  m->t[hole].id = 0;
  m->len--;
  return 1;
}
