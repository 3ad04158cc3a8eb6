/* object.h: versioned objects. A stored object is a DVVSet (dotted version vector
 * set; Almeida, Baquero et al., "Scalable and Accurate Causality Tracking for
 * Eventually Consistent Stores"): for each node id that coordinated writes, an entry
 * (node, counter, values) where counter is the number of writes that node coordinated
 * and values are the still-live siblings written by it, newest first; the i-th value
 * (0-based) carries the dot (node, counter - i). A client's causal context is the
 * version vector [(node, counter)] of the object it read (dyna_obj_context).
 *
 *   update: the coordinator with id `node` writes value v with client context C onto
 *           its stored object S: S' = event(sync(C, S), node, v). Every sibling whose
 *           dot C covers is dropped; v gets the dot (node, max counter + 1).
 *   merge:  sync(A, B) keeps each value that the other side has either not seen or
 *           also still holds. Commutative, associative, idempotent.
 *
 * So a read-modify-write with the context read never grows the sibling set, and two
 * writes from the same stale context leave exactly two siblings.
 *
 * A delete writes a tombstone value (DYNA_VAL_TOMBSTONE). Values carry the
 * coordinator's wall-clock stamp (ts_ms, supplied by the caller: core/node.h, "Two
 * clocks") so that a plain GET can pick the last written sibling deterministically.
 *
 * Encodings (little-endian, varints LEB128), version byte first, canonical (entries
 * sorted by node id, so equal objects encode to equal bytes):
 *   object:  u8 version=1, varint n_entries, per entry: u64 node, varint counter,
 *            varint n_values, per value: u8 flags, varint ts_ms, varint len, bytes
 *   context: u8 version=1, varint n, per entry: u64 node, varint counter
 * Decoders reject anything malformed with DYNA_ECORRUPT (object) or DYNA_ECONTEXT
 * (context): truncation, trailing bytes, unsorted or duplicate node ids, n_values >
 * counter, a zero counter, unknown flags or version, and lengths over the limits below.
 * They also reject non-minimal varints, so decoding is the exact inverse of encoding.
 *
 * Ownership: a dyna_obj_t owns its entries and value bytes; dyna_obj_clear frees them.
 * Functions taking `const dyna_val_t *` copy the bytes. All functions that allocate
 * return 0 or DYNA_ENOMEM; on DYNA_ENOMEM the destination object is left unchanged.
 *
 * Limits: update and merge never build an object the decoder would reject. When the
 * result would exceed DYNA_OBJ_MAX_ENTRIES or DYNA_OBJ_MAX_VALUES, or a counter would
 * pass UINT64_MAX, they return DYNA_ETOOBIG and leave the object unchanged (resolve
 * siblings with a context-carrying write). Same-dot values are assumed identical (true
 * by construction); where two inputs disagree, merge keeps the destination's.
 */
#ifndef DYNA_OBJECT_H
#define DYNA_OBJECT_H
#include "core/crdt.h"
#include "util/buf.h"
#include <stddef.h>
#include <stdint.h>

#define DYNA_VAL_TOMBSTONE 0x01
#define DYNA_OBJ_MAX_ENTRIES 4096     /* decoder limit: distinct coordinators */
#define DYNA_OBJ_MAX_VALUES 4096      /* decoder limit: siblings in one object */
#define DYNA_VAL_MAX_BYTES (64u << 20) /* decoder limit: one value */

typedef struct dyna_val {
  uint8_t flags;  /* DYNA_VAL_TOMBSTONE or 0 */
  uint64_t ts_ms; /* coordinator's wall-clock stamp when written (ms since the epoch) */
  uint8_t *data;  /* owned by the containing object (NULL when len == 0) */
  size_t len;
} dyna_val_t;

typedef struct dyna_dvv_entry {
  uint64_t node;    /* coordinator's stable node id */
  uint64_t counter; /* writes coordinated by node that this object has seen */
  size_t nvals;     /* live values from node: dots counter, counter-1, ... */
  dyna_val_t *vals; /* newest first */
} dyna_dvv_entry_t;

typedef struct dyna_obj {
  size_t n;             /* entries, sorted by node id ascending */
  dyna_dvv_entry_t *e;
  /* Typed components (object_typed.c): at most one state per type, sorted by type,
   * none without a context (an empty one is dropped). Owned. */
  size_t ntyped;
  dyna_crdt_t *typed;
} dyna_obj_t;

typedef struct dyna_vv_entry {
  uint64_t node;
  uint64_t counter;
} dyna_vv_entry_t;

typedef struct dyna_ctx {
  size_t n;             /* sorted by node id ascending, counters > 0 */
  dyna_vv_entry_t *e;   /* owned; dyna_ctx_clear frees */
} dyna_ctx_t;

/* An all-zero dyna_obj_t (calloc, memset) is the same empty object dyna_obj_init makes. */
void dyna_obj_init(dyna_obj_t *o);
void dyna_obj_clear(dyna_obj_t *o); /* frees everything and re-inits */
/* Deep copy: dst (initialised, contents replaced on success) := src. */
int dyna_obj_copy(dyna_obj_t *dst, const dyna_obj_t *src);
int dyna_obj_equal(const dyna_obj_t *a, const dyna_obj_t *b);

/* Appends the canonical encoding of o to out (check out->oom). */
void dyna_obj_encode(const dyna_obj_t *o, dyna_buf_t *out);
/* Decodes into o (initialised; replaced on success, untouched on error).
 * Returns 0, DYNA_ECORRUPT or DYNA_ENOMEM. */
int dyna_obj_decode(const uint8_t *p, size_t len, dyna_obj_t *o);
/* 0 when the bytes decode (dyna_obj_decode's verdict, ENOMEM aside), else DYNA_ECORRUPT
 * (or DYNA_ENOMEM), without building the object: for bytes stored as they are. */
int dyna_obj_check(const uint8_t *p, size_t len);

/* What a read needs of an encoded object, found without building it (dyna_obj_scan). */
typedef struct dyna_obj_info {
  size_t nvals;      /* values, tombstones included (dyna_obj_nvals) */
  int typed;         /* 1: the object has typed states: decode it to learn what it is */
  int has_latest;    /* 1: a live value: dyna_obj_latest's bytes are p + latest_off, ... */
  size_t latest_off; /* ... latest_len long (borrowed from the scanned bytes) */
  size_t latest_len;
} dyna_obj_info_t;
/* dyna_obj_check, telling also *info (set only on success). Without typed states the key
 * is a string when has_latest and absent otherwise (dyna_obj_kind); with them, decode. */
int dyna_obj_scan(const uint8_t *p, size_t len, dyna_obj_info_t *info);
/* Decodes into o (as dyna_obj_decode: the same verdict, o replaced only on success) the
 * object without its register values: every entry with its counter and none of its
 * values, typed states whole; *info as dyna_obj_scan tells it. What a write that
 * supersedes every value it knows needs of the stored object (replica.c, a blind SET),
 * without copying the values it would drop. */
int dyna_obj_decode_clock(const uint8_t *p, size_t len, dyna_obj_t *o, dyna_obj_info_t *info);

/* The coordinator's write: o := event(sync(ctx, o), node, v). ctx may be NULL or empty
 * (no prior read: o's siblings all stay). v is copied. Besides 0 and DYNA_ENOMEM it
 * returns (o unchanged) DYNA_EINVAL when v has unknown flag bits or NULL data with
 * len > 0, DYNA_ECONTEXT when ctx is not sorted strictly by node or has a zero
 * counter, and DYNA_ETOOBIG when v->len > DYNA_VAL_MAX_BYTES or the result would pass
 * a limit (see Limits above). */
int dyna_obj_update(dyna_obj_t *o, const dyna_ctx_t *ctx, uint64_t node, const dyna_val_t *v);
/* A blind write: dyna_obj_update(o, the context of o, node, v), the same result and
 * errors. Cheaper when o holds only a clock (what dyna_obj_decode_clock gives for an
 * object without typed states): node's entry advances, every other stays as it is. */
int dyna_obj_update_blind(dyna_obj_t *o, uint64_t node, const dyna_val_t *v);
/* The same blind write made on bytes: appends to out what dyna_obj_encode writes of
 * dyna_obj_update_blind(node, v) on the object encoded in p (len 0: no object), without
 * decoding it; *info as dyna_obj_scan tells it of p (zero for no object). Returns 0,
 * DYNA_ECORRUPT (p does not decode), DYNA_EAGAIN (p has typed states: decode it and
 * write the general way), DYNA_EINVAL or DYNA_ETOOBIG (as dyna_obj_update_blind) or
 * DYNA_ENOMEM; on any error out is as it was. */
int dyna_obj_encode_blind(const uint8_t *p, size_t len, uint64_t node, const dyna_val_t *v, dyna_buf_t *out,
                          dyna_obj_info_t *info);
/* o := sync(o, other). Returns 0, DYNA_ENOMEM or DYNA_ETOOBIG (o unchanged). */
int dyna_obj_merge(dyna_obj_t *o, const dyna_obj_t *other);
/* The version vector of o (what a reader hands back as its context). */
int dyna_obj_context(const dyna_obj_t *o, dyna_ctx_t *out);
/* The same of the object encoded in p: 0, DYNA_ECORRUPT or DYNA_ENOMEM (out unchanged). */
int dyna_obj_context_of(const uint8_t *p, size_t len, dyna_ctx_t *out);

/* Number of values (siblings), counting tombstones. */
size_t dyna_obj_nvals(const dyna_obj_t *o);
/* Number of values that are not tombstones. */
size_t dyna_obj_nlive(const dyna_obj_t *o);
/* The i-th value (0 <= i < nvals) in canonical order: entries by node id, then newest
 * first. Returns NULL when out of range. */
const dyna_val_t *dyna_obj_val(const dyna_obj_t *o, size_t i);
/* The last written live value: greatest ts_ms, ties broken by greater node id then
 * greater dot. NULL when there is no live value (absent or deleted). */
const dyna_val_t *dyna_obj_latest(const dyna_obj_t *o);
/* 1 when every value of a's causal history is in b's (b's clock covers a's), i.e. a
 * merge of a into b changes nothing. */
int dyna_obj_descends(const dyna_obj_t *b, const dyna_obj_t *a);

/* ---- typed components (object_typed.c) -----------------------------------------
 *
 * Beside its register (the DVVSet above: the key as a Redis string), an object may hold
 * typed states (core/crdt.h), one per type: counter, set, hash, sorted set, list, and
 * the KEY state that holds the key's expiry. Each merges by its own rule; the register
 * merges as above. An object without typed states encodes exactly as version 1; with
 * them, as version 2:
 *
 *   u8 version=2, the version-1 body (entries), varint ntyped,
 *   per state (types strictly ascending): varint len, the state's encoding (crdt.h)
 *
 * A typed state of types 1-5 never holds an expiry of its own (the KEY state does), and
 * no state is empty (no context): the decoder rejects both, so encodings stay canonical.
 *
 * What a key is (dyna_obj_kind), the same on every replica: absent when its KEY state's
 * deadline has passed; else the first typed state (by type: counter, set, hash, zset,
 * list) that exists; else a string when the register has a live value; else absent.
 * Concurrent writes of two kinds (SET on one side, SADD on the other) thus show the
 * typed one; every write supersedes what its coordinator observed of the other kinds
 * (dyna_obj_supersede), so the next write of the kind shown removes the other. */
typedef enum {
  DYNA_KIND_NONE = 0,
  DYNA_KIND_STRING,
  DYNA_KIND_COUNTER,
  DYNA_KIND_SET,
  DYNA_KIND_HASH,
  DYNA_KIND_ZSET,
  DYNA_KIND_LIST
} dyna_kind_t;

#define DYNA_OBJ_KEEP_TTL 0x1u /* dyna_obj_supersede: leave the key's expiry as it is */

/* What the key is at wall time now_ms (see above). O(typed elements). */
dyna_kind_t dyna_obj_kind(const dyna_obj_t *o, uint64_t now_ms);
/* The typed state of the given type, or NULL. Borrowed from o. */
const dyna_crdt_t *dyna_obj_typed(const dyna_obj_t *o, uint8_t type);
/* The key's deadline (wall ms): 1 and *deadline_ms when it has one, else 0. */
int dyna_obj_deadline(const dyna_obj_t *o, uint64_t *deadline_ms);
/* Prepares o for a write of a typed state by actor at wall time now_ms and returns the
 * state to change in *out (borrowed from o, created empty if absent; call
 * dyna_obj_typed_done after changing it). Every other kind the coordinator observed is
 * superseded: other typed states are deleted (dyna_crdt_delete), live register values
 * get a tombstone. When the key had expired, the state of this type is deleted too and
 * the deadline dropped: the write starts a new key. Returns 0, DYNA_ENOMEM or
 * DYNA_ETOOBIG; on error o may hold the supersedes done so far (each is a valid write of
 * its own), never a half-changed state. */
int dyna_obj_typed_for_write(dyna_obj_t *o, uint8_t type, uint64_t actor, uint64_t now_ms,
                             dyna_crdt_t **out);
/* Drops typed states left with no context (none can be after a write; kept canonical). */
void dyna_obj_typed_done(dyna_obj_t *o);
/* A register write by actor at wall time now_ms (SET, DEL, DYNA.PUT, DYNA.DEL: the
 * value's stamp) supersedes every typed state the coordinator observed (deleted with
 * that stamp), and the expiry unless flags has DYNA_OBJ_KEEP_TTL. Call it after
 * dyna_obj_update. Returns 0, DYNA_ENOMEM or DYNA_ETOOBIG (o as above). */
int dyna_obj_supersede(dyna_obj_t *o, uint64_t actor, uint64_t now_ms, uint32_t flags);
/* Sets (deadline_ms > 0) or drops (0) the key's deadline, as EXPIRE and PERSIST do.
 * Returns 0, DYNA_ENOMEM or DYNA_ETOOBIG, o unchanged on error. */
int dyna_obj_set_deadline(dyna_obj_t *o, uint64_t actor, uint64_t deadline_ms);
/* Drops the key's deadline if it has one (a collection emptied by a write is deleted
 * with its TTL, as Redis does: the old TTL must not carry over to the key's next life).
 * Returns 0, DYNA_ENOMEM or DYNA_ETOOBIG. */
int dyna_obj_drop_deadline(dyna_obj_t *o, uint64_t actor);

/* Reaping (core/merkle.c) of an object with typed states: 1 when at now_ms it is
 * nothing but deletions, and *last_ms its last moment, from which the tombstone grace
 * runs; else 0. It is one when its kind is NONE and either its deadline has passed
 * (last moment: the deadline) or it has no deadline and every typed state is wholly a
 * deletion (dyna_crdt_deleted; last moment: the newest deletion stamp). Register
 * tombstone stamps count too. A collection emptied by concurrent removals that no
 * delete saw whole is not one (it is kept). O(typed elements + values). */
int dyna_obj_typed_reapable(const dyna_obj_t *o, uint64_t now_ms, uint64_t *last_ms);

void dyna_ctx_init(dyna_ctx_t *c);
void dyna_ctx_clear(dyna_ctx_t *c);
void dyna_ctx_encode(const dyna_ctx_t *c, dyna_buf_t *out);
/* Decodes; an empty input (len 0) is the empty context. Returns 0, DYNA_ECONTEXT or
 * DYNA_ENOMEM; c untouched on error. */
int dyna_ctx_decode(const uint8_t *p, size_t len, dyna_ctx_t *c);

#endif
