/* typed_zset.h: the sorted-set command that spans two keys, ZRANGESTORE dst src min max
 * [BYSCORE|BYLEX] [REV] [LIMIT offset count], as pure functions over objects the
 * runtime has already read (typed.h gives one object per call). The single-key sorted-set
 * commands are rows of dyna_typed_zset_cmds (typed.h).
 *
 * What the runtime does (runtime/cmd_typed.c; dst and src may be in any partitions), as
 * for SINTERSTORE (typed_set.h): quorum-read both keys, dyna_typed_zrange_members gives
 * the range of src, written to dst as the internal typed write
 * `dyna.zstore dst score member ...` (dst's coordinator replaces what it observed with
 * it; scores travel as "%.17g" text, which reads back as the same double). Only dst is
 * written. dyna_typed_zrangestore does the same over local objects at one coordinator
 * (the unit tests use it). Arguments are checked here with Redis 7.0's errors (all
 * before the key's type, as Redis does); the arity was the runtime's. */
#ifndef DYNA_TYPED_ZSET_H
#define DYNA_TYPED_ZSET_H
#include "core/typed.h"

/* ZRANGESTORE over local objects (a->argv: zrangestore dst src min max [options]):
 * dst := the range of src (dst may be src: the range is taken first). dst of any kind
 * is overwritten, as Redis does: its other kinds and its expiry are superseded, the
 * members its coordinator observed removed and the range added (a concurrent ZADD to
 * dst elsewhere stays: add wins). An empty range deletes dst. Appends the number of
 * members stored, or the error (syntax, WRONGTYPE of src: nothing written). Returns 0
 * or DYNA_ENOMEM. */
int dyna_typed_zrangestore(dyna_obj_t *dst, const dyna_obj_t *src, const dyna_targs_t *a,
                           const dyna_tenv_t *env, dyna_buf_t *resp, int *changed);

/* The range of ZRANGESTORE a over src, for the runtime: *argv and *argl (allocated
 * here, dyna_free both) hold `reserve` free slots for the caller (the command's name and
 * dst), then *k pairs (score text, member): members borrowed from src (keep it until
 * the call is made), score texts in *text (allocated here, dyna_free). When the
 * arguments are wrong or src is of another kind: the error appended to resp, *argv
 * NULL. Returns 0 or DYNA_ENOMEM. The write is `dyna.zstore dst score member ...` (a row
 * of dyna_typed_zset_cmds, none of the runtime's table): dst := those members. */
int dyna_typed_zrange_members(const dyna_obj_t *src, const dyna_targs_t *a, const dyna_tenv_t *env,
                              dyna_buf_t *resp, size_t reserve, const uint8_t ***argv,
                              size_t **argl, size_t *k, char **text);

#endif
