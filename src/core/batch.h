/* batch.h: a transaction (MULTI ... EXEC) of commands on keys of one partition, run
 * together by one coordinator and replicated as one batch that each replica applies in
 * one store commit (docs/architecture.md, "Transactions").
 *
 *   runtime: EXEC ─▶ DYNA_OP_BATCH (key = a key of the partition, val = the commands)
 *   coordinator (a home replica, as for a PUT; another node forwards: FWD flag batch)
 *     each command in order over a cache of the keys' local objects (store + hints):
 *       string commands (below) and every typed command (core/typed.h), reads too;
 *       its RESP answer appended to the batch's answer
 *     the changed objects: stored all or nothing (dyna_replica_write_batch), then
 *     PUT flag batch (obj = every changed key and its object) ──▶ the other targets
 *   replica: decodes every object first, then merges them all in one handler, so they
 *     fall in one store commit: a crash sees none or all of them
 *   W acks ─▶ the answers, in order; W impossible / timeout ─▶ -NOQUORUM for all
 *
 * Encodings (proto/wire.h's argument lists, dyna_wire_put_args):
 *   commands  varint n | n x (varint len | one command's argument list, name first)
 *   payload   an argument list of 2m items: key 1, object 1 (dyna_obj_encode), ...
 *             (the keys distinct, all of one partition, the first the PUT's key)
 *
 * A command's own errors (syntax, WRONGTYPE, a value over --max-value-bytes) are its
 * element of the answer, as Redis answers them inside EXEC; the others still run. */
#ifndef DYNA_BATCH_H
#define DYNA_BATCH_H
#include "core/node.h"
#include "util/buf.h"
#include <stddef.h>
#include <stdint.h>

#define DYNA_BATCH_MAX_CMDS 1024          /* commands of one transaction */
#define DYNA_BATCH_MAX_BYTES (16u << 20)  /* their encoding (DYNA_OP_BATCH's val) */
#define DYNA_BATCH_MAX_KEYS 4096          /* distinct keys one transaction touches */

/* 1 when name (any case) is a string or connection command the batch runs itself:
 * get set setex psetex setnx getset getdel strlen append del exists mget mset ping echo
 * unwatch. The
 * runtime queues these and the typed commands (dyna_typed_find) with one key. */
int dyna_batch_knows(const uint8_t *name, size_t len);

/* Appends one command (argc arguments, the name first) to the commands being built in
 * cmds (without the leading count; dyna_batch_finish adds it). */
void dyna_batch_put_cmd(dyna_buf_t *cmds, size_t argc, const uint8_t *const *argv, const size_t *argl);
/* out := the commands' encoding: varint n, then cmds. */
void dyna_batch_finish(dyna_buf_t *out, size_t n, const dyna_buf_t *cmds);

struct dyna_node;

/* The coordinator's part (coord.c calls it for DYNA_OP_BATCH): runs the commands of
 * blob at this node, whose partition is key's, appending their answers to resp (in the
 * client's protocol proto: DYNA_RESP2 or DYNA_RESP3), stores
 * the changed objects (as hints for hint_owner when it is not 0) and writes the
 * replication payload to payload (empty when nothing changed). Returns 0, or an error
 * with nothing stored: DYNA_EPROTO (blob malformed), DYNA_EINVAL (a key of another
 * partition: CROSSSLOT), DYNA_ETOOBIG (too many keys, or a payload over a frame),
 * DYNA_ENOMEM, DYNA_ECORRUPT or a store error. */
int dyna_batch_coordinate(struct dyna_node *n, const uint8_t *key, size_t klen, const uint8_t *blob,
                          size_t len, uint64_t hint_owner, int proto, dyna_buf_t *resp, dyna_buf_t *payload);

/* A replica's part: merges every object of payload (all of key's partition) into its
 * store, all or nothing (decoded and checked first). *changed: anything was written.
 * Returns 0, DYNA_EPROTO (malformed, mixed partitions, repeated keys), DYNA_ENOMEM or a
 * store error. */
int dyna_batch_apply(struct dyna_node *n, const uint8_t *key, size_t klen, const uint8_t *payload,
                     size_t len, uint64_t hint_owner, int *changed);

#endif
