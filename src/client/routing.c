/* routing.c: the partition map as libdyna sees it: finding a key's preference list in
 * the last DYNA.RING reply (decoded by src/proto/ring_reply.c, the layout the server
 * encodes with). Pure (no I/O), so that the unit tests feed it canned replies.
 *
 * A key's partition is its Redis Cluster slot's (CRC16 of the key or its hash tag, mod
 * 16384; Q contiguous ranges of slots), through dyna_key_partition (util/keyhash.h),
 * the function the nodes place keys with; its preference list is the list the node sent for
 * that partition (first N distinct nodes, in the node's order). */
#include "client/client_int.h"
#include "util/keyhash.h"
#include "util/alloc.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint32_t dyna_cring_partition(const dyna_cring_t *r, const void *key, size_t klen) {
  return dyna_key_partition(key, klen, r->size);
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
