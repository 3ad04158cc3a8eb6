/* memory.h: the in-memory engine (store/memory.c), for unit tests and the simulator:
 * its constructor and what only it offers (crashes, fault injection, the durable view).
 * Otherwise it is used through store.h's ops table like every engine. */
#ifndef DYNA_STORE_MEMORY_H
#define DYNA_STORE_MEMORY_H
#include "store/store.h"

/* Creates an empty in-memory store. *out is owned by the caller (close it). */
int dyna_store_mem_open(dyna_sync_t sync, dyna_store_t **out);
/* Memory engine only: simulates a crash. Writes not yet made durable are dropped
 * (with DYNA_SYNC_NONE, writes count as durable once committed: a process crash
 * keeps what the OS has). The store stays open, as after a restart. */
void dyna_store_mem_crash(dyna_store_t *s);
/* Memory engine only: fault injection. The next put, del or commit fails with err
 * (e.g. DYNA_EIO, DYNA_EFULL) and rolls back the batch, as a real failure would. */
void dyna_store_mem_inject(dyna_store_t *s, int err);
/* The same for the next commit that has writes to lose only: the writes themselves
 * succeed, then the batch fails (as an fsync error would). */
void dyna_store_mem_inject_commit(dyna_store_t *s, int err);
/* Memory engine only: a read-only view (get and iter) of what the last commit made
 * durable, as a crash now would leave it (the simulator checks acknowledged writes on
 * it). Owned by s, valid until s closes. */
dyna_store_t *dyna_store_mem_durable(dyna_store_t *s);
/* Memory engine only: number of keys in a space (for tests and the simulator). */
size_t dyna_store_mem_count(dyna_store_t *s, dyna_space_t sp);

#endif
