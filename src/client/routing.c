/* routing.c: the partition map as libdyna sees it: parsing a DYNA.RING reply and finding a
 * key's preference list. Pure (no I/O), so that the unit tests feed it canned replies.
 *
 * A key's partition is the top log2(Q) bits of XXH3_64bits(key), exactly as the nodes
 * compute it (src/core/keyspace.c); its preference list is the list the node sent for
 * that partition (first N distinct nodes, in the node's order). */
#include "client/client_int.h"
#include "util/keyhash.h"
#include "util/alloc.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_bulk(const dyna_resp_value_t *v) {
  char *s = dyna_malloc(v->len + 1);
  if (!s) return NULL;
  memcpy(s, v->str, v->len);
  s[v->len] = 0;
  return s;
}

void dyna_cring_free(dyna_cring_t *r) {
  if (!r) return;
  for (size_t i = 0; i < r->nmembers; i++) {
    dyna_free(r->members[i].id);
    dyna_free(r->members[i].addr);
    dyna_free(r->members[i].name);
    dyna_free(r->members[i].status);
  }
  dyna_free(r->members);
  dyna_free(r->prefs);
  dyna_free(r->plen);
  memset(r, 0, sizeof(*r));
}

static int is_str(const dyna_resp_value_t *v) {
  return v->type == DYNA_RESP_BULK || v->type == DYNA_RESP_STRING;
}

int dyna_cring_parse(const dyna_resp_value_t *v, dyna_cring_t *r) {
  memset(r, 0, sizeof(*r));
  int rc = DYNA_EPROTO;
  if (v->type != DYNA_RESP_ARRAY || v->n != 5) goto fail;
  const dyna_resp_value_t *e = v->elem;
  if (e[0].type != DYNA_RESP_INTEGER || e[1].type != DYNA_RESP_INTEGER ||
      e[2].type != DYNA_RESP_INTEGER || e[3].type != DYNA_RESP_ARRAY ||
      e[4].type != DYNA_RESP_ARRAY)
    goto fail;
  if (e[0].integer < 1 || e[0].integer > (int64_t)DYNA_RING_MAX_SIZE ||
      !dyna_ring_size_valid((uint32_t)e[0].integer))
    goto fail;
  if (e[1].integer < 1 || e[1].integer > 64 || e[2].integer < 0) goto fail;
  if ((int64_t)e[4].n != e[0].integer || e[3].n > 65535) goto fail;
  r->size = (uint32_t)e[0].integer;
  r->n = (uint32_t)e[1].integer;
  r->version = (uint64_t)e[2].integer;
  rc = DYNA_ENOMEM;
  if (e[3].n) {
    r->members = dyna_calloc(e[3].n, sizeof(*r->members));
    if (!r->members) goto fail;
  }
  for (size_t i = 0; i < e[3].n; i++) {
    const dyna_resp_value_t *m = &e[3].elem[i];
    if (m->type != DYNA_RESP_ARRAY || m->n != 4 || !is_str(&m->elem[0]) ||
        !is_str(&m->elem[1]) || !is_str(&m->elem[2]) || !is_str(&m->elem[3])) {
      rc = DYNA_EPROTO;
      goto fail;
    }
    dyna_cring_member_t *mm = &r->members[r->nmembers++];
    mm->id = dup_bulk(&m->elem[0]);
    mm->addr = dup_bulk(&m->elem[1]);
    mm->name = dup_bulk(&m->elem[2]);
    mm->status = dup_bulk(&m->elem[3]);
    if (!mm->id || !mm->addr || !mm->name || !mm->status) goto fail;
  }
  r->prefs = dyna_calloc((size_t)r->size * r->n, sizeof(uint16_t));
  r->plen = dyna_calloc(r->size, 1);
  if (!r->prefs || !r->plen) goto fail;
  rc = DYNA_EPROTO;
  for (uint32_t p = 0; p < r->size; p++) {
    const dyna_resp_value_t *pl = &e[4].elem[p];
    if (pl->type != DYNA_RESP_ARRAY || pl->n > r->n) goto fail;
    for (size_t j = 0; j < pl->n; j++) {
      const dyna_resp_value_t *x = &pl->elem[j];
      if (x->type != DYNA_RESP_INTEGER || x->integer < 0 || (uint64_t)x->integer >= r->nmembers)
        goto fail;
      r->prefs[(size_t)p * r->n + j] = (uint16_t)x->integer;
    }
    r->plen[p] = (uint8_t)pl->n;
  }
  return 0;
fail:
  dyna_cring_free(r);
  return rc;
}

uint32_t dyna_cring_partition(const dyna_cring_t *r, const void *key, size_t klen) {
  return dyna_hash_partition(dyna_key_hash(key, klen), r->size);
}

size_t dyna_cring_prefs(const dyna_cring_t *r, const void *key, size_t klen,
                        const uint16_t **idx) {
  if (!r->size) { *idx = NULL; return 0; }
  uint32_t p = dyna_cring_partition(r, key, klen);
  *idx = &r->prefs[(size_t)p * r->n];
  return r->plen[p];
}

int dyna_addr_split(const char *addr, char *host, size_t hsize, int *port) {
  const char *colon;
  size_t hl;
  if (addr[0] == '[') {
    const char *close = strchr(addr, ']');
    if (!close || close[1] != ':') return DYNA_EINVAL;
    hl = (size_t)(close - addr - 1);
    colon = close + 1;
    addr++;
  } else {
    colon = strrchr(addr, ':');
    if (!colon) return DYNA_EINVAL;
    hl = (size_t)(colon - addr);
  }
  if (hl == 0 || hl >= hsize) return DYNA_EINVAL;
  memmove(host, addr, hl);
  host[hl] = 0;
  char *end;
  long p = strtol(colon + 1, &end, 10);
  if (!colon[1] || *end || p <= 0 || p > 65535) return DYNA_EINVAL;
  *port = (int)p;
  return 0;
}
