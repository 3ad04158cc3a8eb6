/* crdt.h: typed objects that merge by themselves (counters, sets, hashes, sorted sets,
 * lists) and a per-key expiry, as state-based causal CRDTs (Almeida, Shoker, Baquero,
 * "Delta state replicated data types": a dot store plus a causal context; the set is
 * Riak DT's ORSWOT; the conflict rules follow Redis Enterprise's Active-Active types).
 * This file is the shared state, its merge and its encoding; crdt_ops.h is the typed
 * API that the Redis commands are thin handlers over.
 *
 * Model. An actor is a 64-bit id (the per-partition actor the node already uses for
 * DVVs). Every change an actor makes gets a dot (actor, n), n = 1, 2, ... in order. A
 * state holds
 *
 *   context  a version vector [(actor, counter)], sorted by actor: the state has seen
 *            exactly the dots (actor, 1..counter). It is compact (no dot set beside it)
 *            because only an actor's own node makes its dots, in order, on its own
 *            replica, and every state is built from that replica's states by merges:
 *            so the dots a state has seen are always a prefix per actor. The decoder
 *            rejects a state holding a dot its context does not cover.
 *   store    elements sorted by key bytes; each holds dotted values (dot, flags,
 *            payload) sorted by dot, and per-actor counter contributions
 *            (actor, seq, int64, double) sorted by actor.
 *   expiry   the key's deadline, a multi-value register of dotted values.
 *
 * Merge (commutative, associative, idempotent; equal states encode to equal bytes):
 *   dotted value   kept iff both sides hold its dot, or one side holds it and the
 *                  other's context does not cover it (the other has not seen it yet).
 *                  A value removed on one side is simply absent there while its dot
 *                  stays covered by the context: no tombstone per element is kept.
 *   contribution   per actor, the one with the greater seq (seq is the dot of the
 *                  actor's last increment of that element; its totals only grow with
 *                  it), so an increment counts exactly once however often it merges.
 *   context        max per actor.
 *   An element survives while it has a value or a contribution.
 *
 * What each type keeps (see docs/architecture.md, "Typed objects and their merges"):
 *   Numeric elements (the counter, hash fields, zset members) have, besides LIVE
 *   markers, BASE values and per-actor contributions; their number is
 *       chosen base + sum of contributions
 *   where a writer that sets the number (HSET, ZADD) or removes it (DEL, HDEL, ZREM)
 *   supersedes every value it observed with one BASE value = target minus the sum of
 *   the contributions it observed, so an increment it did not observe still adds
 *   exactly its own amount. Increments (INCRBY, HINCRBY, ZINCRBY) supersede only the
 *   LIVE markers they observed with a new marker and raise the actor's contribution.
 *   The chosen base among concurrent BASE values is the greatest by (LIVE, ts,
 *   counter, actor): a live write outranks a removal's residue, then the later clock.
 *   counter  one element (empty key): LIVE markers, BASE residue of DELs (int64 and
 *            double), contributions (INCRBY total int64, INCRBYFLOAT total double).
 *   set      member -> LIVE dots (add-wins observed-remove set).
 *   hash     field -> registers LIVE|BASE|TS|BYTES (multi-value: concurrent HSETs leave
 *            several; a reader sees the chosen one: greatest ts, then dot), markers,
 *            residue, contributions (int64, double).
 *   zset     member -> LIVE|BASE values (ZADD: score base, double), markers, residue,
 *            contributions (ZINCRBY, double).
 *   list     position bytes -> one LIVE|BYTES value per element; the element's id is
 *            its dot; order (position, dot).
 *   A removed element leaves nothing, unless it had contributions: then its
 *   contributions and one residue BASE stay (one record per actor that incremented
 *   it), since a concurrent increment elsewhere needs them to count only its own
 *   amount.
 *
 * Deletion stamp: a DEL of the whole key (dyna_crdt_delete) also records its wall clock
 * and the context it saw; merges keep the newest stamp and the max per actor of those
 * contexts. A state whose every seen dot was seen by some delete (del == context) holds
 * nothing a delete did not remove: it is a deletion whose last moment is del_ms, and is
 * reaped like a register tombstone (dyna_crdt_deleted; core/merkle.c). Any later change
 * (an add, an increment) takes a dot no delete saw, so the state is no longer one.
 *
 * Encoding (little-endian, LEB128 varints, minimal; canonical). Version 1 is a state
 * without a deletion stamp; version 2 is the same body followed by the stamp:
 *   u8 version (1 or 2), u8 type,
 *   varint nctx, per entry: u64 actor, varint counter (> 0), actors strictly ascending
 *   varint nexp, per expiry value: VALUE
 *   varint nelems, per element (keys strictly ascending, memcmp then shorter first):
 *     varint klen, key bytes, varint nvals, VALUE..., varint ncontrib, CONTRIB...
 *   VALUE   = varint actor index (into the context), varint counter, u8 flags,
 *             [varint ts if TS], [zigzag varint int64 if INT], [8-byte IEEE double if
 *             DBL], [varint len + bytes if BYTES]; values strictly ascending by dot
 *   CONTRIB = varint actor index, varint seq, u8 flags (INT, DBL), [int64], [double]
 *   version 2 only: varint del_ms (> 0), varint ndel, per entry: varint actor index,
 *             varint counter (1 .. the context's), indexes strictly ascending
 *   INT is set iff the int64 is non-zero and DBL iff the double is non-zero (-0.0 is
 *   written as absent); no double is NaN. The decoder rejects anything else with
 *   DYNA_ECORRUPT: truncation, trailing bytes, non-minimal varints, unsorted or
 *   duplicate actors, keys or dots, zero counters, a dot or seq the context does not
 *   cover, flags the type does not use, an element with nothing in it, NaN, an
 *   unknown version or type, and anything over the limits below.
 *
 * Ownership: a dyna_crdt_t owns its context, elements, keys and value bytes;
 * dyna_crdt_clear frees them. Functions taking bytes copy them. Every function that
 * allocates returns DYNA_ENOMEM with the state unchanged when an allocation fails.
 * States of different types never merge (DYNA_EINVAL): the object layer above decides.
 */
#ifndef DYNA_CRDT_H
#define DYNA_CRDT_H
#include "util/buf.h"
#include "util/err.h"
#include <stddef.h>
#include <stdint.h>

#define DYNA_CRDT_VERSION 2 /* the newest; written only for a state with a deletion stamp */

enum dyna_crdt_type {
  DYNA_CRDT_COUNTER = 1,
  DYNA_CRDT_SET = 2,
  DYNA_CRDT_HASH = 3,
  DYNA_CRDT_ZSET = 4,
  DYNA_CRDT_LIST = 5,
  DYNA_CRDT_KEY = 6 /* no elements: only the key's expiry (the object layer's, object.h) */
};

/* Limits (ops refuse with DYNA_ETOOBIG and change nothing; the decoder rejects). */
#define DYNA_CRDT_MAX_ELEMS 1000000u          /* elements (members, fields, list items) */
#define DYNA_CRDT_MAX_KEY_BYTES (64u << 10)   /* one member or field name */
#define DYNA_CRDT_MAX_VAL_BYTES (1u << 20)    /* one hash value or list element */
#define DYNA_CRDT_MAX_POS_BYTES 1024u         /* one list position */
#define DYNA_CRDT_MAX_ACTORS 4096u            /* context entries */
#define DYNA_CRDT_MAX_VALS 65536u             /* dotted values in one element */

/* Value flags. */
#define DYNA_CRDT_F_LIVE 0x01u  /* the element (or key) is present by this dot */
#define DYNA_CRDT_F_TS 0x02u    /* ts: the writer's wall clock, ms */
#define DYNA_CRDT_F_INT 0x04u   /* i: a non-zero int64 (base or deadline) */
#define DYNA_CRDT_F_DBL 0x08u   /* d: a non-zero double */
#define DYNA_CRDT_F_BYTES 0x10u /* data/len: a register value or list element */
#define DYNA_CRDT_F_BASE 0x20u  /* a base (i, d; absent INT/DBL mean 0) */
#define DYNA_CRDT_F_ALL 0x3fu

typedef struct dyna_crdt_val {
  uint64_t actor, counter; /* the dot */
  uint8_t flags;
  uint64_t ts;
  int64_t i;
  double d;
  uint8_t *data; /* owned (NULL when !BYTES) */
  size_t len;
} dyna_crdt_val_t;

typedef struct dyna_crdt_contrib {
  uint64_t actor, seq; /* seq: the dot counter of the actor's last increment */
  int64_t i;           /* the actor's integer total */
  double d;            /* the actor's float total */
} dyna_crdt_contrib_t;

/* An element is one allocation (crdt_elem_alloc, crdt_int.h): the struct, then its key
 * bytes; vals points at the inline slot `one` while it holds at most one value (a set
 * member, most fields and list positions), at an array of its own beyond. So decoding,
 * copying and merging an element cost one allocation, not three. Never copy the struct
 * by value (key and vals may point into it). */
typedef struct dyna_crdt_elem {
  uint8_t *key; /* member, field or list position: the bytes after the struct */
  size_t klen;
  size_t nvals, vcap;
  dyna_crdt_val_t *vals; /* sorted by (actor, counter): &one or owned */
  size_t ncontrib, ccap;
  dyna_crdt_contrib_t *contrib; /* sorted by actor; owned */
  dyna_crdt_val_t one;          /* the inline slot for a single value */
} dyna_crdt_elem_t;

typedef struct dyna_crdt_ctx_entry {
  uint64_t actor, counter;
} dyna_crdt_ctx_entry_t;

typedef struct dyna_crdt {
  uint8_t type; /* enum dyna_crdt_type */
  size_t nctx, ctxcap;
  dyna_crdt_ctx_entry_t *ctx; /* sorted by actor, counters > 0 */
  size_t nexp, expcap;
  dyna_crdt_val_t *exp; /* expiry values, sorted by dot */
  size_t n, cap;
  dyna_crdt_elem_t **e; /* sorted by key */
  /* The deletion stamp (DEL of the whole key, dyna_crdt_delete): del_ms is the newest
   * delete's wall clock (0: never deleted), del its context: per actor the greatest
   * counter a delete had seen (sorted by actor, counters > 0, each <= the context's). */
  uint64_t del_ms;
  size_t ndel;
  dyna_crdt_ctx_entry_t *del;
} dyna_crdt_t;

/* Makes an empty state of the given type (no allocation). */
void dyna_crdt_init(dyna_crdt_t *s, uint8_t type);
/* Frees everything; s is an empty state of the same type afterwards. */
void dyna_crdt_clear(dyna_crdt_t *s);
/* Deep copy: dst (initialised) := src on success; 0 or DYNA_ENOMEM (dst unchanged). */
int dyna_crdt_copy(dyna_crdt_t *dst, const dyna_crdt_t *src);
/* 1 when a and b are the same state (they then encode to the same bytes). */
int dyna_crdt_equal(const dyna_crdt_t *a, const dyna_crdt_t *b);

/* Test only: the deliberate bugs (DYNA_BUG_* of core/node.h: counter-sum,
 * set-remove-wins, expiry-no-merge, typed-no-merge) the merges below commit, for the
 * simulator's self-test. The crdt functions have no node: the node sets this at every
 * event from its cfg.bugs (0 in dynad unless the test-only DYNA_TEST_BUGS), as it names itself to util/assert.h. */
extern uint32_t dyna_crdt_bugs;

/* dst := merge(dst, src). Returns 0, DYNA_ENOMEM, DYNA_EINVAL (types differ) or
 * DYNA_ETOOBIG (the result would pass a limit); dst unchanged on error.
 * Cost O(|dst| + |src|). */
int dyna_crdt_merge(dyna_crdt_t *dst, const dyna_crdt_t *src);

/* out (initialised; replaced on success, unchanged on error) := merge(a, b), built from
 * a and b without copying either first. Errors as dyna_crdt_merge. O(|a| + |b|). */
int dyna_crdt_merged(dyna_crdt_t *out, const dyna_crdt_t *a, const dyna_crdt_t *b);
/* 1 when merging a into b would leave b exactly as it is (b has every value, removal,
 * contribution, expiry and deletion stamp of a); 0 otherwise (also for types that
 * differ). Allocates nothing. O(|a| + |b| + |a| log |context|). */
int dyna_crdt_descends(const dyna_crdt_t *b, const dyna_crdt_t *a);

/* Appends the canonical encoding of s to out (check out->oom). */
void dyna_crdt_encode(const dyna_crdt_t *s, dyna_buf_t *out);
/* Decodes into s (initialised; replaced on success, untouched on error). Returns 0,
 * DYNA_ECORRUPT or DYNA_ENOMEM. */
int dyna_crdt_decode(const uint8_t *p, size_t len, dyna_crdt_t *s);
/* Checks the bytes as dyna_crdt_decode does (the same verdict, ENOMEM aside) without
 * building anything: on success s (initialised and empty: it is overwritten, not
 * cleared) gets only the state's type, nctx and nexp (the counts; no pointers, nothing
 * to free). Cheaper: for bytes that are to be stored as they are (core/replica.c). */
int dyna_crdt_check(const uint8_t *p, size_t len, dyna_crdt_t *s);

/* The counter the context holds for actor (0 when unseen). */
uint64_t dyna_crdt_ctx_get(const dyna_crdt_t *s, uint64_t actor);
/* 1 when the key exists (has a live element: a counter with a LIVE dot, a non-empty
 * collection). O(n) for hashes and sorted sets (removed members may leave residue).
 * Expiry is the caller's to check (dyna_crdt_expired with its wall clock). */
int dyna_crdt_exists(const dyna_crdt_t *s);
/* Live elements (a counter: 0 or 1; a list: its length). O(n). */
size_t dyna_crdt_count(const dyna_crdt_t *s);

/* DEL of the whole key by actor at wall time now_ms (the coordinator's stamp): every
 * observed value (and the expiry) is dropped; a counter contribution is kept under a
 * base that cancels it. The result is the empty state with its context and the
 * deletion stamp (the "tombstone"); a concurrent add on another replica survives the
 * merge (add wins). Returns 0, DYNA_ENOMEM or DYNA_ETOOBIG (actor's counter exhausted
 * or too many actors), s unchanged on error. O(n). */
int dyna_crdt_delete(dyna_crdt_t *s, uint64_t actor, uint64_t now_ms);
/* 1 when s is wholly a deletion: it has a deletion stamp, every dot its context has
 * seen was seen by a delete (so nothing is live), and *del_ms its last moment; else 0.
 * O(|context| + n). */
int dyna_crdt_deleted(const dyna_crdt_t *s, uint64_t *del_ms);

/* Expiry (crdt_expiry.c). Deadlines are wall-clock ms (> 0). EXPIRE supersedes the
 * deadline values it observed with one new one; PERSIST supersedes them with a
 * "no deadline" value. Concurrent values resolve as Redis Enterprise does: any
 * PERSIST wins, else the longest deadline. */
int dyna_crdt_expire(dyna_crdt_t *s, uint64_t actor, uint64_t deadline_ms);
/* Returns 1 when a deadline was removed, 0 when there was none (nothing changes),
 * or an error as dyna_crdt_expire. */
int dyna_crdt_persist(dyna_crdt_t *s, uint64_t actor);
/* 1 and *deadline_ms when the key has a deadline; 0 when it has none. */
int dyna_crdt_deadline(const dyna_crdt_t *s, uint64_t *deadline_ms);
/* 1 when the key has a deadline <= now_ms (it then reads as absent everywhere). */
int dyna_crdt_expired(const dyna_crdt_t *s, uint64_t now_ms);

#endif
