/* replica.h: one node's own copy of the data, over the store interface: reading,
 * coordinating a new version, merging versions received from elsewhere, and hints.
 *
 * Objects live in the store's OBJ space under their store key (keyspace.h). A node that
 * takes a write for an unreachable home replica (sloppy quorum) keeps it as a *hint* in
 * the HINT space under (store key, intended owner) until it can hand it over. A read
 * merges the object with every hint this node holds for the key.
 *
 * Every change to the OBJ space is reported to rep->on_change (when set) with the hashes
 * of the old and new records, so the Merkle trees (merkle.c) stay current.
 * Pure: all I/O goes through the store's ops table. */
#ifndef DYNA_REPLICA_H
#define DYNA_REPLICA_H
#include "core/object.h"
#include "core/typed.h"
#include "store/store.h"

/* h_old / h_new: dyna_record_hash of the record before / after (0 = absent). */
typedef void (*dyna_replica_hook_fn)(void *arg, uint32_t partition, const uint8_t *skey,
                                     size_t sklen, uint64_t h_old, uint64_t h_new);

typedef struct dyna_replica {
  dyna_store_t *store;  /* borrowed */
  uint64_t actor;       /* the id new dots are made under (node.c: dyna_node_actor) */
  uint32_t ring_size;
  dyna_replica_hook_fn on_change; /* may be NULL */
  void *arg;
  dyna_buf_t *scratch;  /* may be NULL: a buffer reused for the records read and written */
  int *hints;           /* may be NULL; else *hints == 0 vouches that the HINT space is
                           empty, so reads skip looking there, and every hint written
                           through here sets it to 1 (node.c: the node's hd.any) */
  uint32_t part_plus1;  /* 0, or 1 + the partition of every key used through it, which the
                           calls then take instead of working it out from the key (a CRC16
                           each: node_int.h, dyna_node_replica_key) */
} dyna_replica_t;

/* Reads key's object merged with every hint held for it into out (initialised; empty
 * when absent). Returns 0, DYNA_ECORRUPT (stored bytes do not decode: reported, never
 * overwritten), DYNA_EIO or DYNA_ENOMEM. */
int dyna_replica_read(const dyna_replica_t *rep, const uint8_t *key, size_t klen, dyna_obj_t *out);
/* The same read for a replica that only passes the object on (a GET's answer): appends
 * to out the stored object's encoding, checked (dyna_obj_check) but neither decoded nor
 * encoded again; nothing when absent. DYNA_EAGAIN, with nothing appended, when a hint
 * might have to be merged in (rep->hints NULL or set): use dyna_replica_read then. Else
 * as dyna_replica_read. */
int dyna_replica_read_encoded(const dyna_replica_t *rep, const uint8_t *key, size_t klen, dyna_buf_t *out);
/* The same without the check, for a caller that decodes the bytes before it uses them
 * (a coordinator's own answer, coord.c): a damaged object then fails that decode. */
int dyna_replica_read_unchecked(const dyna_replica_t *rep, const uint8_t *key, size_t klen, dyna_buf_t *out);

/* The coordinator's register write: new := event(sync(ctx, known), actor, v), where
 * known is what dyna_replica_read returns; with blind set, ctx := known's own context
 * (supersede all). A register write also supersedes every typed state known
 * (dyna_obj_supersede: SET over a set key, DEL of any kind) and the key's expiry, unless
 * keep_ttl; then a deadline > 0 (wall ms) becomes the key's expiry (SET k v PX ms).
 * The result is stored as the object (hint_owner 0) or as a hint for hint_owner, and
 * returned in out (initialised, owned by the caller; NULL: nobody reads it, and a blind
 * write without a deadline over an object without typed states is then made on the
 * stored bytes, decoding nothing: dyna_obj_encode_blind); when enc is not NULL, its encoding
 * (dyna_obj_encode) is appended to enc too, as stored (so that the caller sends it
 * without encoding it again; on error enc may hold part of it). *existed tells whether a
 * live value was known before. *base (may be NULL) gets the record hash of the version
 * the write was made from, when that is the stored object alone (no hint merged into
 * it), else 0: a replica whose record has that hash stores the result as it comes
 * (dyna_replica_merge). */
int dyna_replica_coordinate(const dyna_replica_t *rep, const uint8_t *key, size_t klen,
                            const dyna_ctx_t *ctx, int blind, const dyna_val_t *v,
                            int keep_ttl, uint64_t deadline_ms, uint64_t hint_owner,
                            dyna_obj_t *out, dyna_buf_t *enc, uint64_t *base, int *existed);

/* The coordinator's typed write: cmd->write(known, args, env) appends its RESP answer to
 * resp; when it says the object changed, the result is stored (as above) and returned in
 * out (and its encoding appended to enc, when not NULL, as above), else nothing is
 * written (*changed = 0, out and enc untouched). env->actor is set here (rep->actor).
 * *base (may be NULL) as for dyna_replica_coordinate (0 when nothing was written).
 * Returns 0 or an error (resp then holds nothing to send). */
int dyna_replica_coordinate_typed(const dyna_replica_t *rep, const uint8_t *key, size_t klen,
                                  const dyna_typed_cmd_t *cmd, const dyna_targs_t *args,
                                  dyna_tenv_t *env, uint64_t hint_owner, dyna_obj_t *out,
                                  dyna_buf_t *enc, uint64_t *base, dyna_buf_t *resp, int *changed);

/* Merges incoming into key's object (hint_owner 0) or into the hint kept for hint_owner,
 * writing only if that changes anything. *changed (may be NULL) tells whether it did.
 * enc (may be NULL) is incoming's encoding, enclen bytes, when the caller has it (the
 * bytes incoming was decoded from, hence canonical): when incoming already holds all
 * that is stored, the merge is incoming itself and these bytes are stored as they are
 * (no merge, no encoding). base (0: none) is the record hash of the version incoming was
 * made from by one write (dyna_replica_coordinate's *base): with enc, a stored record
 * of that hash is that version, which incoming holds whole (a write's result holds
 * all of its input), so enc is stored without the stored record even being decoded;
 * likewise when nothing (or an empty object) is stored and incoming is not empty.
 * No shortcut is taken under the test-only bugs (crdt.h: dyna_crdt_bugs).
 * incoming may be NULL when enc is given: it is then decoded here only if needed (with
 * the last two shortcuts the bytes are only checked, dyna_obj_check), and bytes that do not
 * decode give DYNA_ECORRUPT with nothing written. O(|stored| + |incoming|). */
int dyna_replica_merge(const dyna_replica_t *rep, const uint8_t *key, size_t klen,
                       const dyna_obj_t *incoming, const uint8_t *enc, size_t enclen,
                       uint64_t base, uint64_t hint_owner, int *changed);

/* A transaction's writes (core/batch.h): n objects of keys of one partition, written
 * all or nothing. Every record is read, merged (merge: objs[i] is merged into what is
 * stored, and left out when that already covers it; else objs[i] replaces it) and
 * encoded before the first store write, so any error before then writes nothing; a
 * failed store put rolls back the store's whole uncommitted batch (store.h), so the
 * driver's commit fails and none of them stays. Keys must be distinct. Records go to
 * the OBJ space, or as hints for hint_owner. *nwritten: records written. Returns 0,
 * DYNA_ECORRUPT, DYNA_ENOMEM or a store error. O(n) store reads and writes. */
int dyna_replica_write_batch(const dyna_replica_t *rep, size_t n, const uint8_t *const *keys,
                             const size_t *klens, const dyna_obj_t *objs, int merge,
                             uint64_t hint_owner, size_t *nwritten);

/* Replaces key's stored object with o, merge or not: only for DYNA_BUG_OVERWRITE, the
 * deliberate fault the simulator must catch. */
int dyna_replica_overwrite(const dyna_replica_t *rep, const uint8_t *key, size_t klen,
                           const dyna_obj_t *o);

/* Deletes the OBJ record at skey if it still equals rec (reporting the change). Returns
 * 1 when deleted, 0 when it changed meanwhile or is gone, or a negative error. */
int dyna_replica_delete_if(const dyna_replica_t *rep, const uint8_t *skey, size_t sklen,
                           const uint8_t *rec, size_t reclen);

/* Hash of a stored record for the Merkle trees: xxh3 of (store key, record); never 0. */
uint64_t dyna_record_hash(const uint8_t *skey, size_t sklen, const uint8_t *rec, size_t reclen);

#endif
