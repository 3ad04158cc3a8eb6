/* typed_list.h: the list command that writes two keys, LMOVE / RPOPLPUSH, as a pure
 * function over the two objects (typed_list.c); the other list commands are rows of
 * dyna_typed_list_cmds (typed.h).
 *
 * What the runtime must do (the two keys must be of one partition: the coordinator
 * holds both and writes both under its actor): load both local objects (src == dst
 * when the command names one key twice: pass the same object for both), call
 * dyna_typed_lmove, then store and replicate each object whose *_changed is set, as
 * two merges of the one command, and answer after both are acknowledged. When only
 * one of the two writes reaches the replicas, the element may be in both lists or
 * in neither until the other arrives (no cross-key atomicity): docs/compatibility.md.
 * Keys of two partitions: the runtime answers an error (CROSSSLOT-like) without
 * calling this. */
#ifndef DYNA_TYPED_LIST_H
#define DYNA_TYPED_LIST_H
#include "core/typed.h"

/* LMOVE src dst LEFT|RIGHT LEFT|RIGHT, or RPOPLPUSH src dst (argv[0] says which):
 * argv[1] is src's key, argv[2] dst's. Appends one RESP reply (the element, nil when
 * src is absent, or an error) and sets *src_changed / *dst_changed (both set to the
 * same value when src == dst). Return 0 or DYNA_ENOMEM, as typed.h. */
int dyna_typed_lmove(dyna_obj_t *src, dyna_obj_t *dst, const dyna_targs_t *a,
                     const dyna_tenv_t *env, dyna_buf_t *resp, int *src_changed,
                     int *dst_changed);

#endif
