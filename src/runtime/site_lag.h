/* site_lag.h: the cross-site replication lag as this node sees it (issue 22: `dyna status`,
 * INFO hints_site_<dc>): for each site of the cluster, how many hints this node holds for
 * that site's members and how long it has held some without a break. Sampled by walking
 * the hint space once a second (dyna_stats_tick) and at every INFO, at most
 * DYNA_HINTS_COUNT_MAX records a walk. The age is that of the oldest hint to within the
 * sampling: "since" is the first sample that saw the site's count above 0 after one that
 * saw 0 (a node that restarts with hints starts counting at its first sample). State in
 * dyna_server_t (server_int.h); nothing allocated. */
#ifndef DYNA_SITE_LAG_H
#define DYNA_SITE_LAG_H
#include "core/ring.h"
#include <stdint.h>

typedef struct dyna_site_lag {
  char dc[DYNA_ZONE_MAX];
  uint64_t waiting;  /* hints held here for this site's members, at the last sample */
  uint64_t since_ms; /* dyna_server_now when the count went above 0; 0 while it is 0 */
} dyna_site_lag_t;

struct dyna_server;
/* Samples now (walks the hint space) when the last sample is at least min_ms old. */
void dyna_site_lag_sample(struct dyna_server *s, uint64_t min_ms);

#endif
