/* batch_int.h: what batch.c (the run of a transaction at its coordinator, the apply at
 * a replica) shares with batch_string.c (the string commands a transaction may hold):
 * the run's cache of its keys' objects. Not part of any API. */
#ifndef DYNA_BATCH_INT_H
#define DYNA_BATCH_INT_H
#include "core/node_int.h"
#include "core/replica.h"
#include "core/typed.h"
#include <stddef.h>
#include <stdint.h>

/* One key of the run: its object as the commands so far left it. */
typedef struct item {
  const uint8_t *key; /* borrowed from the commands' encoding */
  size_t klen;
  dyna_obj_t obj;
  int changed;
} item_t;

/* A transaction being run at its coordinator (batch.c's dyna_batch_coordinate). */
typedef struct run {
  dyna_node_t *n;
  dyna_replica_t rep;
  uint32_t part;
  dyna_tenv_t env;
  size_t max_value;
  item_t *it;
  size_t nit, cap;
  int err; /* fatal: the whole batch fails (no answer is sent) */
} run_t;

/* A command's arguments (name first), borrowed from the commands' encoding. */
typedef struct sargs {
  size_t argc;
  const uint8_t *const *argv;
  const size_t *argl;
} sargs_t;

/* The cached object of key (read from the local store on first use); NULL with r->err
 * set when it cannot be had: DYNA_EINVAL for a key of another partition (CROSSSLOT),
 * DYNA_ETOOBIG past DYNA_BATCH_MAX_KEYS, DYNA_EPROTO for an empty or oversized key, or a
 * store error. O(keys cached). */
item_t *dyna_batch_item(run_t *r, const uint8_t *key, size_t klen);

/* Appends "-ERR wrong number of arguments for 'name' command" to resp. */
void dyna_batch_arity_error(const char *name, dyna_buf_t *resp);

/* Runs a if it is one of the string commands (batch_string.c): appends its answer (or
 * sets r->err) and returns 1; returns 0 for any other command. */
int dyna_batch_run_string(run_t *r, const sargs_t *a, dyna_buf_t *resp);

#endif
