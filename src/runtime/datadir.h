/* datadir.h: a node's data directory: creates it, opens the store (refusing a
 * directory another dynad holds) and loads the node's stable 64-bit id, made from
 * the OS's randomness at first start and kept in the store's meta space. */
#ifndef DYNA_DATADIR_H
#define DYNA_DATADIR_H
#include "runtime/config.h"
#include "store/store.h"
#include <stdint.h>

/* On success *store is owned by the caller. Returns 0 or -1 with a reason in err. */
int dyna_datadir_open(const dyna_config_t *cfg, dyna_store_t **store, uint64_t *node_id,
                      char *err, size_t errlen);

#endif
