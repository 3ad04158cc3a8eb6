/* site_lag.c: hints held here per site and for how long (site_lag.h). */
#include "runtime/site_lag.h"
#include "runtime/server_int.h"
#include "core/cluster.h"
#include "core/keyspace.h"
#include <string.h>

typedef struct walk {
  const dyna_cluster_t *cl;
  const char *dc[DYNA_SITES_MAX];
  uint64_t count[DYNA_SITES_MAX];
  size_t nsites;
  uint64_t seen;
} walk_t;

static int count_one(void *arg, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen) {
  walk_t *w = arg;
  const uint8_t *skey;
  size_t sklen;
  uint64_t owner;
  (void)v, (void)vlen;
  if (!dyna_hkey_parse(k, klen, &skey, &sklen, &owner)) {
    const dyna_member_t *m = dyna_cluster_find(w->cl, owner);
    for (size_t i = 0; m && i < w->nsites; i++)
      if (!strcmp(w->dc[i], m->dc)) w->count[i]++;
  }
  return ++w->seen >= DYNA_HINTS_COUNT_MAX;
}

void dyna_site_lag_sample(dyna_server_t *s, uint64_t min_ms) {
  uint64_t now = dyna_server_now(s);
  if (s->lag_at_ms && now - s->lag_at_ms < min_ms) return;
  s->lag_at_ms = now;
  const dyna_cluster_t *cl = dyna_node_cluster(s->node);
  walk_t w = {.cl = cl};
  for (size_t i = 0; i < cl->n; i++) { /* the sites the members declare, none: no walk */
    size_t j = 0;
    while (j < w.nsites && strcmp(w.dc[j], cl->m[i].dc)) j++;
    if (j == w.nsites && cl->m[i].dc[0] && w.nsites < DYNA_SITES_MAX) w.dc[w.nsites++] = cl->m[i].dc;
  }
  if (w.nsites) dyna_store_iter(s->store, DYNA_SPACE_HINT, NULL, 0, count_one, &w);
  dyna_site_lag_t next[DYNA_SITES_MAX];
  for (size_t i = 0; i < w.nsites; i++) { /* by the site's name, whatever the order of the members */
    size_t at = 0;
    for (size_t j = 0; j < w.nsites; j++) at += strcmp(w.dc[j], w.dc[i]) < 0;
    dyna_site_lag_t *l = &next[at];
    memset(l, 0, sizeof(*l));
    memcpy(l->dc, w.dc[i], strlen(w.dc[i]) + 1);
    l->waiting = w.count[i];
    for (size_t j = 0; j < s->nlag && l->waiting; j++)
      if (!strcmp(s->lag[j].dc, l->dc)) l->since_ms = s->lag[j].since_ms;
    if (l->waiting && !l->since_ms) l->since_ms = now ? now : 1;
  }
  memcpy(s->lag, next, w.nsites * sizeof(next[0]));
  s->nlag = w.nsites;
}
