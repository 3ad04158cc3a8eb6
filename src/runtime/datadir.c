/* datadir.c: data directory set-up, store opening and the stable node id. */
#include "store/lmdb.h"
#include "runtime/datadir.h"
#include "util/err.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

static const uint8_t NODE_ID_KEY[] = "node-id";

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

static int load_node_id(dyna_store_t *st, uint64_t *id, char *err, size_t errlen) {
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
  if (!rc) rc = dyna_store_commit(st);
  if (rc) {
    snprintf(err, errlen, "cannot store node id: %s", dyna_strerror(rc));
    return -1;
  }
  return 0;
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
    snprintf(err, errlen, "cannot open store in %s: %s", cfg->data, dyna_strerror(rc));
    return -1;
  }
  if (load_node_id(*store, node_id, err, errlen)) {
    dyna_store_close(*store);
    *store = NULL;
    return -1;
  }
  return 0;
}
