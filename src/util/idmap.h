/* idmap.h: a map from 64-bit ids (never 0) to a pointer and a small integer: request
 * ids to their state machines, reply routing in the runtime. Open addressing with
 * linear probing and backward-shift deletion. Owns only its table; the pointers are
 * borrowed. */
#ifndef DYNA_IDMAP_H
#define DYNA_IDMAP_H
#include <stddef.h>
#include <stdint.h>

typedef struct dyna_idmap_entry {
  uint64_t id; /* 0 = empty */
  void *ptr;
  uint64_t aux;
} dyna_idmap_entry_t;

typedef struct dyna_idmap {
  dyna_idmap_entry_t *t;
  size_t cap, len; /* cap is a power of two */
} dyna_idmap_t;

void dyna_idmap_init(dyna_idmap_t *m);
void dyna_idmap_free(dyna_idmap_t *m);
/* Inserts id (which must be absent and non-zero). Returns 0 or DYNA_ENOMEM. */
int dyna_idmap_put(dyna_idmap_t *m, uint64_t id, void *ptr, uint64_t aux);
/* Looks id up without removing it; NULL when absent. */
dyna_idmap_entry_t *dyna_idmap_get(const dyna_idmap_t *m, uint64_t id);
/* Removes id, copying its entry to *out (may be NULL). Returns 1 when found. */
int dyna_idmap_take(dyna_idmap_t *m, uint64_t id, dyna_idmap_entry_t *out);

#endif
