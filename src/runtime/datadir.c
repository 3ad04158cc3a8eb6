/* datadir.c: data directory set-up, store opening, the stable node id and the
 * placement marker.
 *
 * The placement marker (meta key "placement", one byte) names how the keys in the store
 * were placed in partitions; the store keys begin with the partition, so a directory
 * written under another placement would be misread (every key looked for in the wrong
 * partition). 2 = Redis Cluster slots (util/keyhash.h). A directory with a node id but
 * no marker was written by a dynad that placed keys by xxHash3 (placement 1) and is
 * refused; a new directory gets the marker with its node id. */
#include "store/lmdb.h"
#include "runtime/datadir.h"
#include "util/err.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

static const uint8_t NODE_ID_KEY[] = "node-id";
static const uint8_t PLACEMENT_KEY[] = "placement";
#define PLACEMENT_SLOTS 2 /* Redis Cluster slots: CRC16 of the key or its tag, mod 16384 */

static int mkdir_p(const char *path) {
  char tmp[512];
  snprintf(tmp, sizeof(tmp), "%s", path);
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(tmp, 0755) && errno != EEXIST) return -1;
    *p = '/';
  }
  if (mkdir(tmp, 0755) && errno != EEXIST) return -1;
  return 0;
}

/* Loads the node id, or makes one in a new directory (*fresh = 1: the directory held no
 * node id, so nothing else either). Returns 0 or -1 with a reason in err. */
static int load_node_id(dyna_store_t *st, const char *dir, uint64_t *id, int *fresh, char *err, size_t errlen) {
  *fresh = 0;
  dyna_buf_t b = DYNA_BUF_INIT;
  int rc = dyna_store_get(st, DYNA_SPACE_META, NODE_ID_KEY, sizeof(NODE_ID_KEY) - 1, &b);
  if (rc == 0) {
    dyna_rd_t r;
    dyna_rd_init(&r, b.data, b.len);
    *id = dyna_rd_u64le(&r);
    dyna_buf_free(&b);
    if (r.err || dyna_rd_left(&r) || *id == 0) {
      snprintf(err, errlen, "node id in the data directory is corrupt");
      return -1;
    }
    return 0;
  }
  dyna_buf_free(&b);
  if (rc != DYNA_ENOTFOUND) {
    snprintf(err, errlen, "cannot read node id: %s", dyna_strerror(rc));
    return -1;
  }
  *fresh = 1;
  do {
    if (getrandom(id, sizeof(*id), 0) != sizeof(*id)) {
      snprintf(err, errlen, "getrandom: %s", strerror(errno));
      return -1;
    }
  } while (*id == 0);
  dyna_buf_t v = DYNA_BUF_INIT;
  dyna_buf_put_u64le(&v, *id);
  rc = v.oom ? DYNA_ENOMEM : dyna_store_put(st, DYNA_SPACE_META, NODE_ID_KEY, sizeof(NODE_ID_KEY) - 1, v.data, v.len);
  dyna_buf_free(&v);
  const uint8_t placement = PLACEMENT_SLOTS; /* committed with the id: a new directory */
  if (!rc) rc = dyna_store_put(st, DYNA_SPACE_META, PLACEMENT_KEY, sizeof(PLACEMENT_KEY) - 1, &placement, 1);
  if (!rc) rc = dyna_store_commit(st);
  if (rc) {
    snprintf(err, errlen, "cannot store node id: %s", dyna_store_lmdb_strerror(rc, dir));
    return -1;
  }
  return 0;
}

/* Refuses a directory whose keys were placed otherwise than by slots. Returns 0 or -1
 * with a reason in err. */
static int check_placement(dyna_store_t *st, const char *dir, char *err, size_t errlen) {
  dyna_buf_t b = DYNA_BUF_INIT;
  int rc = dyna_store_get(st, DYNA_SPACE_META, PLACEMENT_KEY, sizeof(PLACEMENT_KEY) - 1, &b);
  int placement = rc == 0 && b.len == 1 ? b.data[0] : rc == DYNA_ENOTFOUND ? 1 : -1;
  dyna_buf_free(&b);
  if (rc && rc != DYNA_ENOTFOUND) {
    snprintf(err, errlen, "cannot read the placement marker: %s", dyna_strerror(rc));
    return -1;
  }
  if (placement == PLACEMENT_SLOTS) return 0;
  if (placement == 1) {
    snprintf(err, errlen,
             "data directory %s was written by a dynad that placed keys by xxHash3, before Redis "
             "Cluster hash slots: this dynad would misread it, so it refuses it (nothing changed). Start "
             "with an empty data directory (move this one aside); to keep the data, copy it with a client "
             "from a dynad of the version that wrote it",
             dir);
  } else {
    snprintf(err, errlen,
             "data directory %s has an unknown key placement (marker %d): written by a newer dynad? "
             "Nothing was changed",
             dir, placement);
  }
  return -1;
}

int dyna_datadir_open(const dyna_config_t *cfg, dyna_store_t **store, uint64_t *node_id,
                      char *err, size_t errlen) {
  if (mkdir_p(cfg->data)) {
    snprintf(err, errlen, "cannot create data directory %s: %s", cfg->data, strerror(errno));
    return -1;
  }
  int rc = dyna_store_lmdb_open(cfg->data, cfg->sync, cfg->map_size_mb << 20, store);
  if (rc == DYNA_ELOCKED) {
    snprintf(err, errlen, "data directory %s is in use by another dynad", cfg->data);
    return -1;
  }
  if (rc) {
    snprintf(err, errlen, "cannot open store in %s: %s", cfg->data, dyna_store_lmdb_strerror(rc, cfg->data));
    return -1;
  }
  int fresh;
  if (load_node_id(*store, cfg->data, node_id, &fresh, err, errlen) || (!fresh && check_placement(*store, cfg->data, err, errlen))) {
    dyna_store_close(*store);
    *store = NULL;
    return -1;
  }
  return 0;
}
