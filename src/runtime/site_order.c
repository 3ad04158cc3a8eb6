/* site_order.c: a partition's home replicas in the order the maps clients route by give
 * them (DYNA.RING for libdyna, CLUSTER SLOTS/SHARDS/NODES for cluster-aware Redis
 * clients): every site's homes, those of this node's site first (each group in the
 * ring's order). A client routes a key to the first reachable node of the list, so a
 * client that asks a node of its own site for the map (its seeds are in its site) sends
 * each key to a home replica in its site. Without --dc the ring's order, unchanged. */
#include "runtime/server_int.h"
#include "core/cluster.h"
#include <string.h>

size_t dyna_server_homes_site_first(dyna_server_t *s, uint32_t p, uint64_t *out) {
  size_t k = dyna_node_replicas(s->node, p, out);
  if (!s->cfg.dc[0]) return k;
  const dyna_cluster_t *cl = dyna_node_cluster(s->node);
  uint64_t sorted[DYNA_MAX_N];
  size_t t = 0;
  for (int pass = 0; pass < 2; pass++)
    for (size_t j = 0; j < k && t < DYNA_MAX_N; j++) {
      const dyna_member_t *m = dyna_cluster_find(cl, out[j]);
      int here = m && !strcmp(m->dc, s->cfg.dc);
      if (here == !pass) sorted[t++] = out[j];
    }
  memcpy(out, sorted, t * sizeof(out[0]));
  return t;
}
