/* typed_set.h: the set commands that span several keys (SINTER SUNION SDIFF SINTERCARD,
 * their STORE variants, SMOVE), as pure functions over objects the runtime has already
 * read (typed.h gives one object per call; these take several). The single-key set
 * commands are rows of dyna_typed_set_cmds (typed.h).
 *
 * What the runtime does (runtime/cmd_typed.c; the keys may be in any partitions):
 *   SINTER SUNION SDIFF SINTERCARD  quorum-read every key (duplicates included, in
 *       argument order), call dyna_typed_set_combine on the merged objects; a read.
 *   S*STORE dst k1 k2 ..  quorum-read the sources, dyna_typed_set_members gives the
 *       result, written to dst as the internal typed write `dyna.sstore dst m..`
 *       (dst's coordinator replaces what it observed with it). Only dst is written.
 *   SMOVE src dst m  quorum-read both, then SADD dst m, then SREM src m: two writes,
 *       not atomic together; dst first, so a failure between the two leaves m in both
 *       sets, never in neither (the cart loses no item).
 * dyna_typed_set_store and dyna_typed_smove do the same over local objects at one
 * coordinator (for a driver that holds both keys; the unit tests use them).
 * Arguments are checked here (Redis 7's errors); the arity was the runtime's. */
#ifndef DYNA_TYPED_SET_H
#define DYNA_TYPED_SET_H
#include "core/typed.h"

typedef enum { DYNA_SET_INTER = 1, DYNA_SET_UNION, DYNA_SET_DIFF } dyna_set_op_t;

/* SINTER / SUNION / SDIFF over objs[0..n) (n >= 1; a NULL or absent object is an empty
 * set): appends the array of members (byte order), or WRONGTYPE when any key is of
 * another kind. With card != 0 (SINTERCARD) appends the result's size instead, counting
 * at most limit members (0: no limit). Returns 0 or DYNA_ENOMEM. */
int dyna_typed_set_combine(const dyna_obj_t *const *objs, size_t n, dyna_set_op_t op, int card,
                           uint64_t limit, const dyna_tenv_t *env, dyna_buf_t *resp);

/* Parses SINTERCARD's arguments (a->argv[1] = numkeys, then the keys, then an optional
 * LIMIT n): 0 and *nkeys, *limit; or -1 with Redis's error appended to resp. The keys
 * are a->argv[2 .. 2 + *nkeys). */
int dyna_typed_sintercard_args(const dyna_targs_t *a, size_t *nkeys, uint64_t *limit,
                               dyna_buf_t *resp);

/* SINTERSTORE / SUNIONSTORE / SDIFFSTORE: dst := op(srcs) (dst may be one of srcs: the
 * result is computed first). dst of any kind is overwritten, as Redis does: its other
 * kinds and its expiry are superseded, the members the coordinator observed are
 * removed and the result added (add-wins: a concurrent SADD to dst elsewhere stays).
 * An empty result deletes dst. Appends the result's size (or WRONGTYPE when a source
 * is of another kind: nothing written). */
int dyna_typed_set_store(dyna_obj_t *dst, const dyna_obj_t *const *srcs, size_t n,
                         dyna_set_op_t op, const dyna_tenv_t *env, dyna_buf_t *resp,
                         int *changed);

/* The members of op(objs[0..n)) for the runtime's S*STORE: *argv and *argl (allocated
 * here, dyna_free both) hold reserve free slots for the caller (the command's name and
 * key), then *k members borrowed from the objects (keep them until the call is made).
 * When a source is of another kind: WRONGTYPE appended to resp, *argv NULL. Returns 0
 * or DYNA_ENOMEM. The write itself is the internal command `dyna.sstore dst member...`
 * (a row of dyna_typed_set_cmds, none of the runtime's table): dst := those members. */
int dyna_typed_set_members(const dyna_obj_t *const *objs, size_t n, dyna_set_op_t op,
                           const dyna_tenv_t *env, dyna_buf_t *resp, size_t reserve,
                           const uint8_t ***argv, size_t **argl, size_t *k);

/* SMOVE src dst member: 1 and m moved (removed from src as observed, added to dst),
 * or 0; WRONGTYPE as Redis checks it (an absent src answers 0 first). src == dst is
 * allowed (answers whether m is there; nothing written). *src_changed, *dst_changed
 * say which objects to write back. */
int dyna_typed_smove(dyna_obj_t *src, dyna_obj_t *dst, const uint8_t *m, size_t mlen,
                     const dyna_tenv_t *env, dyna_buf_t *resp, int *src_changed,
                     int *dst_changed);

#endif
