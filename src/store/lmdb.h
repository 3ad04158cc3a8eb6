/* lmdb.h: opening the LMDB engine (store/lmdb.c, lmdb_batch.c), dynad's store. The
 * engine is used through store.h's ops table; only its constructor is its own. */
#ifndef DYNA_STORE_LMDB_H
#define DYNA_STORE_LMDB_H
#include "store/store.h"

/* Opens (creating if needed) an LMDB environment in directory dir (which must exist).
 * map_bytes is the maximum database size (0: 64 GiB). Fails with DYNA_ELOCKED when
 * another process has dir open. On success *out is owned by the caller (close it). */
int dyna_store_lmdb_open(const char *dir, dyna_sync_t sync, size_t map_bytes,
                         dyna_store_t **out);

/* What an error of the store in dir means, for a message: "No space left on device" for
 * DYNA_EFULL when the filesystem holding dir has no room left (otherwise "storage full":
 * the map size or a quota), else dyna_strerror(rc). A static string. An open that failed
 * on a short write (LMDB says EIO) where the filesystem is full already returns
 * DYNA_EFULL. */
const char *dyna_store_lmdb_strerror(int rc, const char *dir);

#endif
