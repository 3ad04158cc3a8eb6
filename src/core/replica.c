/* replica.c: read, coordinate and merge versioned objects in the local store. */
#include "core/replica.h"
#include "core/err.h"
#include "core/keyspace.h"
#include <string.h>

static size_t skey_of(const dyna_replica_t *rep, const uint8_t *key, size_t klen,
                      uint8_t *skey) {
  uint32_t part = dyna_hash_partition(dyna_key_hash(key, klen), rep->ring_size);
  return dyna_skey_make(part, key, klen, skey);
}

static int load(const dyna_replica_t *rep, const uint8_t *skey, size_t sklen,
                const uint8_t *key, size_t klen, dyna_obj_t *out) {
  dyna_buf_t b = DYNA_BUF_INIT;
  int rc = dyna_store_get(rep->store, DYNA_SPACE_OBJ, skey, sklen, &b);
  if (rc == DYNA_ENOTFOUND) rc = 0;
  else if (rc == 0) rc = dyna_record_decode(b.data, b.len, key, klen, out, NULL, NULL);
  dyna_buf_free(&b);
  return rc;
}

static int save(const dyna_replica_t *rep, const uint8_t *skey, size_t sklen,
                const uint8_t *key, size_t klen, const dyna_obj_t *o) {
  dyna_buf_t b = DYNA_BUF_INIT;
  dyna_record_encode(key, klen, o, &b);
  int rc = b.oom ? DYNA_ENOMEM
                 : dyna_store_put(rep->store, DYNA_SPACE_OBJ, skey, sklen, b.data, b.len);
  dyna_buf_free(&b);
  return rc;
}

int dyna_replica_read(const dyna_replica_t *rep, const uint8_t *key, size_t klen,
                      dyna_obj_t *out) {
  uint8_t skey[DYNA_SKEY_MAX];
  size_t sklen = skey_of(rep, key, klen, skey);
  return load(rep, skey, sklen, key, klen, out);
}

int dyna_replica_coordinate(const dyna_replica_t *rep, const uint8_t *key, size_t klen,
                            const dyna_ctx_t *ctx, int blind, const dyna_val_t *v,
                            dyna_obj_t *out, int *existed) {
  uint8_t skey[DYNA_SKEY_MAX];
  size_t sklen = skey_of(rep, key, klen, skey);
  dyna_obj_t o;
  dyna_obj_init(&o);
  dyna_ctx_t known;
  dyna_ctx_init(&known);
  int rc = load(rep, skey, sklen, key, klen, &o);
  if (rc) goto done;
  *existed = dyna_obj_nlive(&o) > 0;
  if (blind) {
    rc = dyna_obj_context(&o, &known);
    if (rc) goto done;
    ctx = &known;
  }
  rc = dyna_obj_update(&o, ctx, rep->node_id, v);
  if (rc) goto done;
  rc = save(rep, skey, sklen, key, klen, &o);
  if (rc) goto done;
  dyna_obj_clear(out);
  *out = o;
  dyna_obj_init(&o);
done:
  dyna_ctx_clear(&known);
  dyna_obj_clear(&o);
  return rc;
}

int dyna_replica_merge(const dyna_replica_t *rep, const uint8_t *key, size_t klen,
                       const dyna_obj_t *incoming, int *changed) {
  uint8_t skey[DYNA_SKEY_MAX];
  size_t sklen = skey_of(rep, key, klen, skey);
  dyna_obj_t o;
  dyna_obj_init(&o);
  int rc = load(rep, skey, sklen, key, klen, &o);
  if (changed) *changed = 0;
  if (rc) goto done;
  if (dyna_obj_descends(&o, incoming)) goto done;
  rc = dyna_obj_merge(&o, incoming);
  if (!rc) rc = save(rep, skey, sklen, key, klen, &o);
  if (!rc && changed) *changed = 1;
done:
  dyna_obj_clear(&o);
  return rc;
}

int dyna_replica_overwrite(const dyna_replica_t *rep, const uint8_t *key, size_t klen,
                           const dyna_obj_t *o) {
  uint8_t skey[DYNA_SKEY_MAX];
  size_t sklen = skey_of(rep, key, klen, skey);
  return save(rep, skey, sklen, key, klen, o);
}
