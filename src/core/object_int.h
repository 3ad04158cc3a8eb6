/* object_int.h: what object.c (the register) and object_typed.c (the typed states of
 * an object) share; not for other files. */
#ifndef DYNA_OBJECT_INT_H
#define DYNA_OBJECT_INT_H
#include "core/object.h"

#define OBJ_VERSION 1       /* register only */
#define OBJ_VERSION_TYPED 2 /* register and typed states */

/* Reads a varint, rejecting non-minimal encodings (canonical bytes). */
uint64_t dyna_obj_rd_varint(dyna_rd_t *r);
/* Frees n states and the array. */
void dyna_obj_typed_free(dyna_crdt_t *t, size_t n);
/* *out := a deep copy of n states (NULL when n is 0). 0 or DYNA_ENOMEM. */
int dyna_obj_typed_copy(const dyna_crdt_t *src, size_t n, dyna_crdt_t **out);
int dyna_obj_typed_equal(const dyna_obj_t *a, const dyna_obj_t *b);
/* (*out, *nout) := the typed states of merge(o, other), o untouched. Returns 0,
 * DYNA_ENOMEM or DYNA_ETOOBIG. */
int dyna_obj_typed_merged(const dyna_obj_t *o, const dyna_obj_t *other, dyna_crdt_t **out,
                          size_t *nout);
/* 1 when merging a's typed states into b's changes nothing. */
int dyna_obj_typed_descends(const dyna_obj_t *b, const dyna_obj_t *a);
/* Appends "varint ntyped, per state: varint len, bytes" (version 2's tail). */
void dyna_obj_typed_encode(const dyna_obj_t *o, dyna_buf_t *out);
/* Decodes version 2's tail from r into (*out, *nout). 0, DYNA_ECORRUPT or DYNA_ENOMEM. */
int dyna_obj_typed_decode(dyna_rd_t *r, dyna_crdt_t **out, size_t *nout);
/* Checks version 2's tail as dyna_obj_typed_decode does, keeping nothing. */
int dyna_obj_typed_check(dyna_rd_t *r);

#endif
