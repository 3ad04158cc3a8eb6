/* replica.c: read, coordinate and merge versioned objects and hints in the local store
 * (see replica.h). */
#include "core/replica.h"
#include "util/err.h"
#include "util/assert.h"
#include "util/alloc.h"
#include "core/keyspace.h"
#include <string.h>
#include <xxhash.h>

typedef struct loc {
  uint32_t part;
  uint8_t skey[DYNA_SKEY_MAX];
  size_t sklen;
} loc_t;

static void locate(const dyna_replica_t *rep, const uint8_t *key, size_t klen, loc_t *l) {
  if (rep->part_plus1) {
    l->part = rep->part_plus1 - 1;
#ifndef NDEBUG /* a check that costs what it saves: in debug (and sanitizer) builds only */
    DYNA_ASSERT(l->part == dyna_key_partition(key, klen, rep->ring_size),
                "replica of partition %u used for a key of partition %u", l->part,
                dyna_key_partition(key, klen, rep->ring_size));
#endif
  } else {
    l->part = dyna_key_partition(key, klen, rep->ring_size);
  }
  l->sklen = dyna_skey_make(l->part, key, klen, l->skey);
}

uint64_t dyna_record_hash(const uint8_t *skey, size_t sklen, const uint8_t *rec, size_t reclen) {
  uint64_t h = XXH3_64bits_withSeed(rec, reclen, XXH3_64bits(skey, sklen));
  return h ? h : 1;
}

/* The record buffer: the replica's scratch (reset) when it has one, else own. */
static dyna_buf_t *buf_take(const dyna_replica_t *rep, dyna_buf_t *own) {
  if (!rep->scratch) return own;
  dyna_buf_reset(rep->scratch);
  return rep->scratch;
}

#define SCRATCH_KEEP (64u << 10) /* a scratch buffer grown past this is not kept */

static void buf_done(dyna_buf_t *b, dyna_buf_t *own) {
  if (b == own || b->cap > SCRATCH_KEEP) dyna_buf_free(b);
}

/* Loads the record at (space, k) into out; *h gets its hash (0 when absent). With base
 * (not 0) and *based: when the record's hash is base, *based = 1 and out is left as it
 * is (not decoded: the caller knows what it holds); else *based = 0. */
static int load(const dyna_replica_t *rep, dyna_space_t sp, const uint8_t *k, size_t klen,
                const loc_t *l, const uint8_t *key, size_t keylen, dyna_obj_t *out, uint64_t *h,
                uint64_t base, int *based) {
  dyna_buf_t own = DYNA_BUF_INIT;
  dyna_buf_t *b = buf_take(rep, &own);
  int rc = dyna_store_get(rep->store, sp, k, klen, b);
  if (h) *h = 0;
  if (based) *based = 0;
  if (rc == DYNA_ENOTFOUND) {
    rc = 0;
  } else if (rc == 0 && base && based && dyna_record_hash(l->skey, l->sklen, b->data, b->len) == base) {
    *based = 1;
    if (h) *h = base;
  } else if (rc == 0) {
    rc = dyna_record_decode(b->data, b->len, key, keylen, out, NULL, NULL);
    if (!rc && h) *h = dyna_record_hash(l->skey, l->sklen, b->data, b->len);
  }
  buf_done(b, &own);
  return rc;
}

/* Stores o at (space, k), or, when o is NULL, the object whose encoding is
 * obj[0..objlen) (valid and canonical: decoded or encoded by the caller); reports OBJ
 * changes to the hook. */
static int save(const dyna_replica_t *rep, dyna_space_t sp, const uint8_t *k, size_t klen,
                const loc_t *l, const uint8_t *key, size_t keylen, const dyna_obj_t *o,
                const uint8_t *obj, size_t objlen, uint64_t h_old) {
  dyna_buf_t own = DYNA_BUF_INIT;
  dyna_buf_t *b = buf_take(rep, &own);
  if (sp == DYNA_SPACE_HINT && rep->hints) *rep->hints = 1; /* before: a failed put may still leave it */
  if (o) dyna_record_encode(key, keylen, o, b);
  else dyna_record_encode_bytes(key, keylen, obj, objlen, b);
  int rc = b->oom ? DYNA_ENOMEM : dyna_store_put(rep->store, sp, k, klen, b->data, b->len);
  if (!rc && sp == DYNA_SPACE_OBJ && rep->on_change)
    rep->on_change(rep->arg, l->part, l->skey, l->sklen, h_old, dyna_record_hash(l->skey, l->sklen, b->data, b->len));
  buf_done(b, &own);
  return rc;
}

typedef struct hint_merge {
  const uint8_t *key;
  size_t klen;
  dyna_obj_t *out;
  int rc;
  int merged; /* hints merged into out */
} hint_merge_t;

static int merge_hint(void *arg, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen) {
  hint_merge_t *hm = arg;
  (void)k;
  (void)klen;
  dyna_obj_t o;
  dyna_obj_init(&o);
  hm->rc = dyna_record_decode(v, vlen, hm->key, hm->klen, &o, NULL, NULL);
  if (!hm->rc) hm->rc = dyna_obj_merge(hm->out, &o);
  hm->merged++;
  dyna_obj_clear(&o);
  return hm->rc ? 1 : 0;
}

/* out := OBJ[key] merged with every hint for key; *h_obj = hash of the OBJ record;
 * *base (may be NULL) = that hash when out is the OBJ record alone (no hint merged),
 * else 0. */
static int read_all(const dyna_replica_t *rep, const loc_t *l, const uint8_t *key, size_t klen,
                    dyna_obj_t *out, uint64_t *h_obj, uint64_t *base) {
  int rc = load(rep, DYNA_SPACE_OBJ, l->skey, l->sklen, l, key, klen, out, h_obj, 0, NULL);
  if (base) *base = rc ? 0 : *h_obj;
  if (rc || (rep->hints && !*rep->hints)) return rc; /* no hint anywhere: none to merge */
  uint8_t prefix[DYNA_HKEY_MAX];
  size_t plen = dyna_hkey_prefix(l->skey, l->sklen, prefix);
  hint_merge_t hm = {key, klen, out, 0, 0};
  int irc = dyna_store_iter(rep->store, DYNA_SPACE_HINT, prefix, plen, merge_hint, &hm);
  if (base && hm.merged) *base = 0;
  if (hm.rc) return hm.rc;
  return irc < 0 ? irc : 0;
}

/* The stored object's bytes, for a blind write (it supersedes every value it knows):
 * *obj, *objlen inside b (0 bytes: none stored) and *h_obj its record's hash (0: none).
 * Only where no hint may have to be merged in; else DYNA_EAGAIN (read_all then). */
static int read_bytes(const dyna_replica_t *rep, const loc_t *l, const uint8_t *key, size_t klen, dyna_buf_t *b,
                      const uint8_t **obj, size_t *objlen, uint64_t *h_obj) {
  if (!rep->hints || *rep->hints) return DYNA_EAGAIN;
  *obj = NULL;
  *objlen = 0;
  *h_obj = 0;
  int rc = dyna_store_get(rep->store, DYNA_SPACE_OBJ, l->skey, l->sklen, b);
  if (rc == DYNA_ENOTFOUND) return 0;
  if (!rc) rc = dyna_record_object(b->data, b->len, key, klen, obj, objlen, NULL, NULL);
  if (!rc) *h_obj = dyna_record_hash(l->skey, l->sklen, b->data, b->len);
  return rc;
}

/* A blind write's read: the stored object's entries without their values
 * (dyna_obj_decode_clock), which the write would drop, and whether it held a live value
 * (*existed). Only where read_bytes can and the object has no typed states; else
 * DYNA_EAGAIN, *out untouched (read_all then). */
static int read_clock(const dyna_replica_t *rep, const loc_t *l, const uint8_t *key, size_t klen,
                      dyna_obj_t *out, uint64_t *h_obj, int *existed) {
  dyna_buf_t own = DYNA_BUF_INIT;
  dyna_buf_t *b = buf_take(rep, &own);
  const uint8_t *obj;
  size_t objlen;
  int rc = read_bytes(rep, l, key, klen, b, &obj, &objlen, h_obj);
  *existed = 0;
  if (!rc && objlen) {
    dyna_obj_t o;
    dyna_obj_init(&o);
    dyna_obj_info_t info;
    rc = dyna_obj_decode_clock(obj, objlen, &o, &info);
    if (!rc && info.typed) rc = DYNA_EAGAIN;
    if (!rc) {
      dyna_obj_clear(out);
      *out = o; /* moved */
      dyna_obj_init(&o);
      *existed = info.has_latest;
    }
    dyna_obj_clear(&o);
  }
  buf_done(b, &own);
  return rc;
}

int dyna_replica_read(const dyna_replica_t *rep, const uint8_t *key, size_t klen, dyna_obj_t *out) {
  loc_t l;
  locate(rep, key, klen, &l);
  return read_all(rep, &l, key, klen, out, NULL, NULL); /* no record hash: nothing keeps it */
}

static int read_stored(const dyna_replica_t *rep, const uint8_t *key, size_t klen, dyna_buf_t *out, int check) {
  if (!rep->hints || *rep->hints) return DYNA_EAGAIN; /* a hint may have to be merged in */
  loc_t l;
  locate(rep, key, klen, &l);
  dyna_buf_t own = DYNA_BUF_INIT;
  dyna_buf_t *b = buf_take(rep, &own);
  int rc = dyna_store_get(rep->store, DYNA_SPACE_OBJ, l.skey, l.sklen, b);
  if (rc == DYNA_ENOTFOUND) {
    rc = 0;
  } else if (rc == 0) {
    const uint8_t *obj;
    size_t objlen;
    rc = dyna_record_object(b->data, b->len, key, klen, &obj, &objlen, NULL, NULL);
    if (!rc && check) rc = dyna_obj_check(obj, objlen);
    if (!rc && dyna_buf_reserve_exact(out, objlen)) rc = DYNA_ENOMEM; /* kept as it is: no slack */
    if (!rc) dyna_buf_put(out, obj, objlen);
  }
  buf_done(b, &own);
  return rc;
}

int dyna_replica_read_encoded(const dyna_replica_t *rep, const uint8_t *key, size_t klen, dyna_buf_t *out) {
  return read_stored(rep, key, klen, out, 1);
}

int dyna_replica_read_unchecked(const dyna_replica_t *rep, const uint8_t *key, size_t klen, dyna_buf_t *out) {
  return read_stored(rep, key, klen, out, 0);
}

/* Stores a new version, o or (o NULL) its encoding obj, objlen: as key's object, or as
 * the hint for hint_owner. */
static int store_new(const dyna_replica_t *rep, const loc_t *l, const uint8_t *key, size_t klen,
                     const dyna_obj_t *o, const uint8_t *obj, size_t objlen, uint64_t hint_owner, uint64_t h_old) {
  if (hint_owner) {
    uint8_t hk[DYNA_HKEY_MAX];
    size_t hklen = dyna_hkey_make(l->skey, l->sklen, hint_owner, hk);
    return save(rep, DYNA_SPACE_HINT, hk, hklen, l, key, klen, o, obj, objlen, 0);
  }
  return save(rep, DYNA_SPACE_OBJ, l->skey, l->sklen, l, key, klen, o, obj, objlen, h_old);
}

/* Stores o (store_new). With enc (not NULL), o's encoding is appended to enc first and
 * the record made from it, so the caller can send the same bytes without encoding o
 * again. */
static int store_version(const dyna_replica_t *rep, const loc_t *l, const uint8_t *key, size_t klen,
                         const dyna_obj_t *o, uint64_t hint_owner, uint64_t h_old, dyna_buf_t *enc) {
  if (!enc) return store_new(rep, l, key, klen, o, NULL, 0, hint_owner, h_old);
  size_t at = enc->len;
  dyna_obj_encode(o, enc);
  if (enc->oom) return DYNA_ENOMEM;
  return store_new(rep, l, key, klen, NULL, enc->data + at, enc->len - at, hint_owner, h_old);
}

int dyna_replica_coordinate_typed(const dyna_replica_t *rep, const uint8_t *key, size_t klen,
                                  const dyna_typed_cmd_t *cmd, const dyna_targs_t *args,
                                  dyna_tenv_t *env, uint64_t hint_owner, dyna_obj_t *out,
                                  dyna_buf_t *enc, uint64_t *base, dyna_buf_t *resp, int *changed) {
  loc_t l;
  locate(rep, key, klen, &l);
  dyna_obj_t o;
  dyna_obj_init(&o);
  uint64_t h_old = 0;
  *changed = 0;
  env->actor = rep->actor;
  int rc = read_all(rep, &l, key, klen, &o, &h_old, base);
  dyna_typed_write_fn apply = cmd->write; /* pure: the command over the object */
  if (!rc) rc = apply(&o, args, env, resp, changed);
  if (!rc && resp->oom) rc = DYNA_ENOMEM;
  if (!rc && *changed) rc = store_version(rep, &l, key, klen, &o, hint_owner, h_old, enc);
  if (!rc && *changed) {
    dyna_obj_clear(out);
    *out = o;
    dyna_obj_init(&o);
  }
  if (rc) *changed = 0;
  if (base && !*changed) *base = 0;
  dyna_obj_clear(&o);
  return rc;
}

/* A blind write nobody reads decoded, made on the stored bytes (dyna_obj_encode_blind)
 * and stored as appended to enc. DYNA_EAGAIN where the general way must make it (hints
 * may merge in, typed states), enc then as it was. */
static int coordinate_bytes(const dyna_replica_t *rep, const loc_t *l, const uint8_t *key, size_t klen,
                            const dyna_val_t *v, uint64_t hint_owner, dyna_buf_t *enc, uint64_t *base,
                            int *existed) {
  dyna_buf_t own = DYNA_BUF_INIT;
  dyna_buf_t *b = buf_take(rep, &own);
  const uint8_t *obj;
  size_t objlen;
  uint64_t h_old;
  size_t at = enc->len;
  dyna_obj_info_t info;
  int rc = read_bytes(rep, l, key, klen, b, &obj, &objlen, &h_old);
  if (!rc) rc = dyna_obj_encode_blind(obj, objlen, rep->actor, v, enc, &info);
  if (!rc) rc = store_new(rep, l, key, klen, NULL, enc->data + at, enc->len - at, hint_owner, h_old);
  if (!rc) {
    *existed = info.has_latest;
    if (base) *base = h_old;
  }
  buf_done(b, &own);
  return rc;
}

int dyna_replica_coordinate(const dyna_replica_t *rep, const uint8_t *key, size_t klen,
                            const dyna_ctx_t *ctx, int blind, const dyna_val_t *v,
                            int keep_ttl, uint64_t deadline_ms, uint64_t hint_owner,
                            dyna_obj_t *out, dyna_buf_t *enc, uint64_t *base, int *existed) {
  loc_t l;
  locate(rep, key, klen, &l);
  if (base) *base = 0;
  int clock = blind; /* read only the stored clock (read_clock), where it can */
  if (!out && blind && !deadline_ms && enc) { /* no typed states, hence no TTL to keep */
    int rc = coordinate_bytes(rep, &l, key, klen, v, hint_owner, enc, base, existed);
    if (rc != DYNA_EAGAIN) return rc;
    clock = 0; /* read_clock could not either (hints, typed states) */
  }
  dyna_obj_t o;
  dyna_obj_init(&o);
  uint64_t h_old = 0;
  uint64_t b = 0;
  int rc = clock ? read_clock(rep, &l, key, klen, &o, &h_old, existed) : DYNA_EAGAIN;
  if (!rc) {
    b = h_old; /* no hint merged in */
  } else if (rc == DYNA_EAGAIN) {
    rc = read_all(rep, &l, key, klen, &o, &h_old, &b);
    if (rc) goto done;
    *existed = dyna_obj_kind(&o, v->ts_ms) != DYNA_KIND_NONE; /* a live value of any kind, unexpired */
  } else {
    goto done;
  }
  rc = blind ? dyna_obj_update_blind(&o, rep->actor, v) : dyna_obj_update(&o, ctx, rep->actor, v);
  /* KEEPTTL keeps the deadline of a key that exists; an expired key has none to keep
   * (the write starts a new key, as Redis's SET ... KEEPTTL on an expired key does). */
  if (!rc) rc = dyna_obj_supersede(&o, rep->actor, v->ts_ms, keep_ttl && *existed ? DYNA_OBJ_KEEP_TTL : 0);
  if (!rc && deadline_ms) rc = dyna_obj_set_deadline(&o, rep->actor, deadline_ms);
  if (!rc) rc = store_version(rep, &l, key, klen, &o, hint_owner, h_old, enc);
  if (rc) goto done;
  if (out) {
    dyna_obj_clear(out);
    *out = o;
    dyna_obj_init(&o);
  }
  if (base) *base = b;
done:
  dyna_obj_clear(&o);
  return rc;
}

int dyna_replica_merge(const dyna_replica_t *rep, const uint8_t *key, size_t klen,
                       const dyna_obj_t *incoming, const uint8_t *enc, size_t enclen,
                       uint64_t base, uint64_t hint_owner, int *changed) {
  loc_t l;
  locate(rep, key, klen, &l);
  uint8_t hk[DYNA_HKEY_MAX];
  const uint8_t *k = l.skey;
  size_t kl = l.sklen;
  dyna_space_t sp = DYNA_SPACE_OBJ;
  if (hint_owner) {
    kl = dyna_hkey_make(l.skey, l.sklen, hint_owner, hk);
    k = hk;
    sp = DYNA_SPACE_HINT;
  }
  dyna_obj_t o, dec;
  dyna_obj_init(&o);
  dyna_obj_init(&dec);
  uint64_t h_old = 0;
  int based = 0;
  /* Not with the test-only bugs, whose merges differ: the simulator must see them. */
  int fast = enc && !dyna_crdt_bugs;
  int rc = load(rep, sp, k, kl, &l, key, klen, &o, &h_old, fast ? base : 0, &based);
  if (changed) *changed = 0;
  if (rc) goto done;
  /* Nothing stored (or an empty object) and incoming not empty (an empty object is 2
   * bytes: version, no entries): merging incoming into it gives incoming. */
  int onto_nothing = fast && !o.n && !o.ntyped && enclen > 2;
  if (based || onto_nothing) {
    /* What is stored is the very version incoming was made from (the coordinator's, by
     * its record hash), and a write's result holds all of its input, or there is nothing
     * stored: the merge is incoming, stored as it came, and the stored copy is not even
     * decoded (nor incoming, when the caller left that to us: its bytes are only
     * checked). */
    rc = incoming ? 0 : dyna_obj_check(enc, enclen);
    if (!rc) rc = save(rep, sp, k, kl, &l, key, klen, NULL, enc, enclen, h_old);
    goto out;
  }
  if (!incoming && !enc) {
    rc = DYNA_EINVAL;
    goto done;
  }
  if (!incoming) {
    rc = dyna_obj_decode(enc, enclen, &dec);
    if (rc) goto done;
    incoming = &dec;
  }
  if (dyna_obj_descends(&o, incoming)) {
    goto done;
  } else if (fast && dyna_obj_descends(incoming, &o)) {
    /* incoming already holds everything stored, so the merge is incoming itself: its
     * bytes are stored as they came, neither merged nor encoded again. */
    rc = save(rep, sp, k, kl, &l, key, klen, NULL, enc, enclen, h_old);
  } else {
    rc = dyna_obj_merge(&o, incoming);
    if (!rc) rc = save(rep, sp, k, kl, &l, key, klen, &o, NULL, 0, h_old);
  }
out:
  if (!rc && changed) *changed = 1;
done:
  dyna_obj_clear(&o);
  dyna_obj_clear(&dec);
  return rc;
}

int dyna_replica_overwrite(const dyna_replica_t *rep, const uint8_t *key, size_t klen,
                           const dyna_obj_t *o) {
  loc_t l;
  locate(rep, key, klen, &l);
  dyna_obj_t old;
  dyna_obj_init(&old);
  uint64_t h_old = 0;
  load(rep, DYNA_SPACE_OBJ, l.skey, l.sklen, &l, key, klen, &old, &h_old, 0, NULL);
  dyna_obj_clear(&old);
  return save(rep, DYNA_SPACE_OBJ, l.skey, l.sklen, &l, key, klen, o, NULL, 0, h_old);
}

int dyna_replica_delete_if(const dyna_replica_t *rep, const uint8_t *skey, size_t sklen,
                           const uint8_t *rec, size_t reclen) {
  dyna_buf_t cur = DYNA_BUF_INIT;
  int rc = dyna_store_get(rep->store, DYNA_SPACE_OBJ, skey, sklen, &cur);
  int same = rc == 0 && cur.len == reclen && !memcmp(cur.data, rec, reclen);
  dyna_buf_free(&cur);
  if (rc == DYNA_ENOTFOUND) return 0;
  if (rc) return rc;
  if (!same) return 0;
  rc = dyna_store_del(rep->store, DYNA_SPACE_OBJ, skey, sklen);
  if (rc) return rc;
  if (rep->on_change)
    rep->on_change(rep->arg, dyna_skey_partition(skey, sklen), skey, sklen,
                   dyna_record_hash(skey, sklen, rec, reclen), 0);
  return 1;
}

/* ---------- batches (a transaction's writes: core/batch.h) ---------- */

/* One record of a batch, made before anything is written. */
typedef struct bwrite {
  loc_t l;
  uint8_t hk[DYNA_HKEY_MAX];
  const uint8_t *k; /* its store key: l.skey, or hk for a hint */
  size_t kl;
  dyna_space_t sp;
  uint64_t h_old;   /* hash of the OBJ record it replaces (0: none) */
  dyna_buf_t rec;   /* the record to put (owned) */
  int write;        /* 0: nothing changes (a merge the record already covers) */
} bwrite_t;

/* Makes the record of item i in w (nothing written). */
static int batch_prepare(const dyna_replica_t *rep, const uint8_t *key, size_t klen, const dyna_obj_t *o,
                         int merge, uint64_t hint_owner, bwrite_t *w) {
  locate(rep, key, klen, &w->l);
  w->k = w->l.skey;
  w->kl = w->l.sklen;
  w->sp = DYNA_SPACE_OBJ;
  if (hint_owner) {
    w->kl = dyna_hkey_make(w->l.skey, w->l.sklen, hint_owner, w->hk);
    w->k = w->hk;
    w->sp = DYNA_SPACE_HINT;
  }
  dyna_obj_t cur;
  dyna_obj_init(&cur);
  int rc = load(rep, w->sp, w->k, w->kl, &w->l, key, klen, &cur, &w->h_old, 0, NULL);
  if (w->sp != DYNA_SPACE_OBJ) w->h_old = 0;
  const dyna_obj_t *out = o;
  w->write = 1;
  if (!rc && merge) {
    if (dyna_obj_descends(&cur, o)) w->write = 0;
    else rc = dyna_obj_merge(&cur, o);
    out = &cur;
  }
  if (!rc && w->write) {
    dyna_record_encode(key, klen, out, &w->rec);
    if (w->rec.oom) rc = DYNA_ENOMEM;
  }
  dyna_obj_clear(&cur);
  return rc;
}

int dyna_replica_write_batch(const dyna_replica_t *rep, size_t n, const uint8_t *const *keys,
                             const size_t *klens, const dyna_obj_t *objs, int merge,
                             uint64_t hint_owner, size_t *nwritten) {
  *nwritten = 0;
  bwrite_t *w = n ? dyna_calloc(n, sizeof(*w)) : NULL;
  if (n && !w) return DYNA_ENOMEM;
  int rc = 0;
  /* Phase 1: every record read, merged and encoded; nothing written yet. */
  for (size_t i = 0; i < n && !rc; i++)
    rc = batch_prepare(rep, keys[i], klens[i], &objs[i], merge, hint_owner, &w[i]);
  /* Phase 2: only store puts, which fail only by rolling back the store's whole
   * uncommitted batch (store.h): the driver's commit then fails, and none of them stays. */
  for (size_t i = 0; i < n && !rc; i++) {
    if (!w[i].write) continue;
    if (w[i].sp == DYNA_SPACE_HINT && rep->hints) *rep->hints = 1;
    rc = dyna_store_put(rep->store, w[i].sp, w[i].k, w[i].kl, w[i].rec.data, w[i].rec.len);
    if (rc) break;
    (*nwritten)++;
    if (w[i].sp == DYNA_SPACE_OBJ && rep->on_change)
      rep->on_change(rep->arg, w[i].l.part, w[i].l.skey, w[i].l.sklen, w[i].h_old,
                     dyna_record_hash(w[i].l.skey, w[i].l.sklen, w[i].rec.data, w[i].rec.len));
  }
  for (size_t i = 0; i < n; i++) dyna_buf_free(&w[i].rec);
  dyna_free(w);
  return rc;
}
