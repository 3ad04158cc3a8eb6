/* memory.c: the in-memory storage engine, for unit tests and the deterministic simulator.
 *
 * Each key space is an AVL tree of nodes ordered bytewise by key, so get/put/del cost
 * O(log n) and iteration is in ascending key order. Nothing here uses a clock or a
 * random source: the same calls always build the same trees.
 *
 * Crash model. The trees always hold the live view (what get/iter see). Under BATCH and
 * NONE every write since the last commit also leaves an undo record; commit() forgets
 * the records (the batch becomes "durable") and a rollback (crash, injected fault, out of
 * memory) replays them backwards. Under ALWAYS each write is durable at once and no
 * record is kept. Rollback never allocates: a deleted node is detached and parked in its
 * undo record instead of being freed, and an overwritten value is parked likewise, so
 * undoing only relinks nodes and swaps pointers. Nodes keep their identity when the tree
 * rebalances (delete relinks the successor node instead of copying keys), which is what
 * lets undo records point at nodes.
 *
 * Ownership: the store owns every node, key and value; callers get copies (get) or
 * pointers valid during one callback (iter).
 */
#include "store/memory.h"
#include "util/err.h"
#include "util/alloc.h"
#include "store/store.h"
#include <stdlib.h>
#include <string.h>

/* One key and its value. The key is stored inline; the value is its own allocation
 * (never NULL, even when vlen is 0). */
typedef struct mnode {
  struct mnode *l, *r;
  uint8_t *v;
  size_t vlen;
  int h; /* height of the subtree rooted here (leaf: 1) */
  size_t klen;
  uint8_t k[];
} mnode_t;

typedef struct {
  mnode_t *root;
  size_t count;
} mspace_t;

enum { U_INSERT, U_OVERWRITE, U_DELETE };

/* How to undo one write:
 *  U_INSERT     node was inserted: unlink and free it.
 *  U_OVERWRITE  node's old value was (oldv, oldvlen): put it back, free the newer one.
 *  U_DELETE     node was unlinked and is owned by this record: link it back. */
typedef struct {
  uint8_t op;
  uint8_t sp;
  mnode_t *node;
  uint8_t *oldv;
  size_t oldvlen;
} undo_t;

typedef struct mem_store mem_store_t;

/* The read-only view of what is committed (dyna_store_mem_durable). */
typedef struct {
  dyna_store_t base;
  mem_store_t *m;
} mem_view_t;

struct mem_store {
  dyna_store_t base;
  mem_view_t view;
  mspace_t sp[DYNA_SPACE_COUNT];
  undo_t *undo; /* the uncommitted batch, oldest first (empty under ALWAYS) */
  size_t nundo, capundo;
  int sticky; /* error of a failed put/del, reported by the next commit */
  int inject; /* fault for the next put/del/commit (0: none) */
  int inject_commit; /* fault for the next commit that has writes to lose (0: none) */
};

/* ---- keys ---- */

/* Bytewise comparison; a proper prefix sorts first. */
static int key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
  size_t n = alen < blen ? alen : blen;
  int c = n ? memcmp(a, b, n) : 0;
  if (c) return c;
  return (alen > blen) - (alen < blen);
}

static int has_prefix(const mnode_t *n, const uint8_t *p, size_t plen) {
  return n->klen >= plen && (plen == 0 || memcmp(n->k, p, plen) == 0);
}

/* ---- AVL tree (all O(log n)) ---- */

static int height(const mnode_t *n) { return n ? n->h : 0; }

static void fix_height(mnode_t *n) {
  int hl = height(n->l), hr = height(n->r);
  n->h = 1 + (hl > hr ? hl : hr);
}

static mnode_t *rotate_right(mnode_t *n) {
  mnode_t *l = n->l;
  n->l = l->r;
  l->r = n;
  fix_height(n);
  fix_height(l);
  return l;
}

static mnode_t *rotate_left(mnode_t *n) {
  mnode_t *r = n->r;
  n->r = r->l;
  r->l = n;
  fix_height(n);
  fix_height(r);
  return r;
}

/* Restores the AVL property at n, whose subtrees are balanced and differ in height by
 * at most 2. Returns the new subtree root. */
static mnode_t *rebalance(mnode_t *n) {
  fix_height(n);
  int bf = height(n->l) - height(n->r);
  if (bf > 1) {
    if (height(n->l->l) < height(n->l->r)) n->l = rotate_left(n->l);
    return rotate_right(n);
  }
  if (bf < -1) {
    if (height(n->r->r) < height(n->r->l)) n->r = rotate_right(n->r);
    return rotate_left(n);
  }
  return n;
}

/* Links node (whose key must be absent) into the tree; returns the new root. */
static mnode_t *tree_insert(mnode_t *root, mnode_t *node) {
  if (!root) {
    node->l = node->r = NULL;
    node->h = 1;
    return node;
  }
  if (key_cmp(node->k, node->klen, root->k, root->klen) < 0)
    root->l = tree_insert(root->l, node);
  else
    root->r = tree_insert(root->r, node);
  return rebalance(root);
}

/* Unlinks the smallest node of a non-empty tree into *min; returns the new root. */
static mnode_t *tree_remove_min(mnode_t *root, mnode_t **min) {
  if (!root->l) {
    *min = root;
    return root->r;
  }
  root->l = tree_remove_min(root->l, min);
  return rebalance(root);
}

/* Unlinks the node with key k into *out (NULL when absent); returns the new root.
 * The node itself is moved, never copied, so pointers to other nodes stay valid. */
static mnode_t *tree_remove(mnode_t *root, const uint8_t *k, size_t klen, mnode_t **out) {
  if (!root) return NULL;
  int c = key_cmp(k, klen, root->k, root->klen);
  if (c < 0) {
    root->l = tree_remove(root->l, k, klen, out);
  } else if (c > 0) {
    root->r = tree_remove(root->r, k, klen, out);
  } else {
    *out = root;
    if (!root->l) return root->r;
    if (!root->r) return root->l;
    mnode_t *succ;
    mnode_t *right = tree_remove_min(root->r, &succ);
    succ->l = root->l;
    succ->r = right;
    return rebalance(succ);
  }
  return rebalance(root);
}

static mnode_t *tree_find(mnode_t *n, const uint8_t *k, size_t klen) {
  while (n) {
    int c = key_cmp(k, klen, n->k, n->klen);
    if (c == 0) return n;
    n = c < 0 ? n->l : n->r;
  }
  return NULL;
}

/* Returns the smallest node with key >= k (strict: > k), or NULL. */
static mnode_t *tree_seek(mnode_t *n, const uint8_t *k, size_t klen, int strict) {
  mnode_t *best = NULL;
  while (n) {
    int c = key_cmp(n->k, n->klen, k, klen);
    if (c > 0 || (c == 0 && !strict)) {
      best = n;
      n = n->l;
    } else {
      n = n->r;
    }
  }
  return best;
}

static void node_free(mnode_t *n) {
  if (!n) return;
  dyna_free(n->v);
  dyna_free(n);
}

static void tree_free(mnode_t *n) {
  if (!n) return;
  tree_free(n->l);
  tree_free(n->r);
  node_free(n);
}

/* ---- batch bookkeeping ---- */

static mem_store_t *ms(dyna_store_t *s) { return (mem_store_t *)s; }

static int logging(const mem_store_t *m) { return m->base.sync != DYNA_SYNC_ALWAYS; }

/* Makes room for one more undo record; 0 or DYNA_ENOMEM (nothing changed). */
static int undo_reserve(mem_store_t *m) {
  if (m->nundo < m->capundo) return 0;
  size_t cap = m->capundo ? m->capundo * 2 : 64;
  undo_t *u = dyna_realloc(m->undo, cap * sizeof(*u));
  if (!u) return DYNA_ENOMEM;
  m->undo = u;
  m->capundo = cap;
  return 0;
}

/* Appends a record; undo_reserve() must have succeeded. */
static void undo_push(mem_store_t *m, int op, dyna_space_t sp, mnode_t *node,
                      uint8_t *oldv, size_t oldvlen) {
  m->undo[m->nundo++] = (undo_t){(uint8_t)op, (uint8_t)sp, node, oldv, oldvlen};
}

/* Undoes the whole uncommitted batch, newest first. Never allocates. */
static void batch_rollback(mem_store_t *m) {
  while (m->nundo > 0) {
    undo_t *u = &m->undo[--m->nundo];
    mspace_t *sp = &m->sp[u->sp];
    mnode_t *n = u->node, *gone = NULL;
    switch (u->op) {
    case U_INSERT:
      sp->root = tree_remove(sp->root, n->k, n->klen, &gone);
      node_free(gone);
      sp->count--;
      break;
    case U_OVERWRITE:
      dyna_free(n->v);
      n->v = u->oldv;
      n->vlen = u->oldvlen;
      break;
    case U_DELETE:
      sp->root = tree_insert(sp->root, n);
      sp->count++;
      break;
    }
  }
}

/* Makes the batch durable: frees what the undo records parked. */
static void batch_forget(mem_store_t *m) {
  for (size_t i = 0; i < m->nundo; i++) {
    undo_t *u = &m->undo[i];
    if (u->op == U_OVERWRITE) dyna_free(u->oldv);
    else if (u->op == U_DELETE) node_free(u->node);
  }
  m->nundo = 0;
}

/* A put/del failed with err: roll back and remember err for the next commit. */
static int write_failed(mem_store_t *m, int err) {
  batch_rollback(m);
  if (!m->sticky) m->sticky = err;
  return err;
}

/* Consumes an injected fault: returns it (0 when none is armed). */
static int take_fault(mem_store_t *m) {
  int err = m->inject;
  m->inject = 0;
  return err;
}

static int key_ok(dyna_space_t sp, size_t klen) {
  if ((unsigned)sp >= DYNA_SPACE_COUNT) return DYNA_EINVAL;
  if (klen == 0 || klen > DYNA_STORE_MAX_KEY) return DYNA_ETOOBIG;
  return 0;
}

/* ---- ops ---- */

/* Copies the value of k into out. DYNA_ENOTFOUND, DYNA_ETOOBIG, DYNA_ENOMEM. O(log n). */
static int mem_get(dyna_store_t *s, dyna_space_t sp, const uint8_t *k, size_t klen,
                   dyna_buf_t *out) {
  int rc = key_ok(sp, klen);
  if (rc) return rc;
  mnode_t *n = tree_find(ms(s)->sp[sp].root, k, klen);
  if (!n) return DYNA_ENOTFOUND;
  dyna_buf_reset(out);
  if (dyna_buf_reserve(out, n->vlen)) return DYNA_ENOMEM;
  if (n->vlen) memcpy(out->data, n->v, n->vlen);
  out->len = n->vlen;
  return 0;
}

/* Sets k to a copy of v. On ENOMEM or an injected fault the batch is rolled back.
 * O(log n) plus the copy. */
static int mem_put(dyna_store_t *s, dyna_space_t sp, const uint8_t *k, size_t klen,
                   const uint8_t *v, size_t vlen) {
  mem_store_t *m = ms(s);
  int rc = key_ok(sp, klen);
  if (rc) return rc;
  if (vlen > DYNA_STORE_MAX_VALUE) return DYNA_ETOOBIG;
  if ((rc = take_fault(m))) return write_failed(m, rc);
  if (logging(m) && undo_reserve(m)) return write_failed(m, DYNA_ENOMEM);
  uint8_t *nv = dyna_memdup(v, vlen);
  if (!nv) return write_failed(m, DYNA_ENOMEM);

  mspace_t *space = &m->sp[sp];
  mnode_t *n = tree_find(space->root, k, klen);
  if (n) {
    if (logging(m)) undo_push(m, U_OVERWRITE, sp, n, n->v, n->vlen);
    else dyna_free(n->v);
    n->v = nv;
    n->vlen = vlen;
    return 0;
  }
  n = dyna_malloc(sizeof(*n) + klen);
  if (!n) {
    dyna_free(nv);
    return write_failed(m, DYNA_ENOMEM);
  }
  memcpy(n->k, k, klen);
  n->klen = klen;
  n->v = nv;
  n->vlen = vlen;
  space->root = tree_insert(space->root, n);
  space->count++;
  if (logging(m)) undo_push(m, U_INSERT, sp, n, NULL, 0);
  return 0;
}

/* Removes k. DYNA_ENOTFOUND (nothing changed), DYNA_ETOOBIG, DYNA_ENOMEM or an injected
 * fault (batch rolled back). O(log n). */
static int mem_del(dyna_store_t *s, dyna_space_t sp, const uint8_t *k, size_t klen) {
  mem_store_t *m = ms(s);
  int rc = key_ok(sp, klen);
  if (rc) return rc;
  if ((rc = take_fault(m))) return write_failed(m, rc);
  mspace_t *space = &m->sp[sp];
  if (!tree_find(space->root, k, klen)) return DYNA_ENOTFOUND;
  if (logging(m) && undo_reserve(m)) return write_failed(m, DYNA_ENOMEM);
  mnode_t *n = NULL;
  space->root = tree_remove(space->root, k, klen, &n);
  space->count--;
  if (logging(m)) undo_push(m, U_DELETE, sp, n, NULL, 0);
  else node_free(n);
  return 0;
}

/* Visits keys starting with prefix in ascending order. Each step re-seeks from a copy of
 * the last key visited, so the callback may write to the store. O(log n) per key. */
static int mem_iter(dyna_store_t *s, dyna_space_t sp, const uint8_t *prefix, size_t plen,
                    dyna_store_iter_fn fn, void *arg) {
  if ((unsigned)sp >= DYNA_SPACE_COUNT) return DYNA_EINVAL;
  if (plen > DYNA_STORE_MAX_KEY) return 0; /* no key is that long */
  mspace_t *space = &ms(s)->sp[sp];
  uint8_t last[DYNA_STORE_MAX_KEY];
  size_t lastlen;
  mnode_t *n = tree_seek(space->root, prefix, plen, 0);
  while (n && has_prefix(n, prefix, plen)) {
    memcpy(last, n->k, n->klen);
    lastlen = n->klen;
    int r = fn(arg, n->k, n->klen, n->v, n->vlen);
    if (r) return r;
    n = tree_seek(space->root, last, lastlen, 1);
  }
  return 0;
}

/* Ends the batch. Returns an injected fault (batch rolled back) or the error of a failed
 * put/del since the last commit (writes made after it are rolled back too), else 0. */
static int mem_commit(dyna_store_t *s) {
  mem_store_t *m = ms(s);
  int err = take_fault(m);
  if (!err && m->inject_commit && m->nundo) {
    err = m->inject_commit;
    m->inject_commit = 0;
  }
  if (!err) {
    err = m->sticky;
    m->sticky = 0;
  }
  if (err) {
    batch_rollback(m);
    return err;
  }
  batch_forget(m);
  return 0;
}

static size_t mem_pending(dyna_store_t *s) { return ms(s)->nundo; }

/* Commits pending writes, then frees every node and s. */
static void mem_close(dyna_store_t *s) {
  mem_store_t *m = ms(s);
  mem_commit(s); /* on failure it rolls back: either way no undo record is left */
  for (int i = 0; i < DYNA_SPACE_COUNT; i++) tree_free(m->sp[i].root);
  dyna_free(m->undo);
  dyna_free(m);
}

static const dyna_store_ops_t mem_ops = {
    .name = "memory",
    .get = mem_get,
    .put = mem_put,
    .del = mem_del,
    .iter = mem_iter,
    .commit = mem_commit,
    .pending = mem_pending,
    .close = mem_close,
};

/* ---- the durable view: the live trees as the undo records say they were at the last
 * commit (a key's first record in the batch holds its committed state) ---- */

static mem_store_t *vm(dyna_store_t *s) { return ((mem_view_t *)s)->m; }

/* The oldest undo record of (sp, k) in the batch, or NULL. O(batch). */
static const undo_t *first_undo(const mem_store_t *m, dyna_space_t sp, const uint8_t *k, size_t klen) {
  for (size_t i = 0; i < m->nundo; i++) {
    const undo_t *u = &m->undo[i];
    if (u->sp == sp && !key_cmp(u->node->k, u->node->klen, k, klen)) return u;
  }
  return NULL;
}

/* The committed value of (sp, k): 1 and *v, *vlen when there is one, else 0. */
static int durable_value(const mem_store_t *m, dyna_space_t sp, const uint8_t *k, size_t klen,
                         const uint8_t **v, size_t *vlen) {
  const undo_t *u = first_undo(m, sp, k, klen);
  if (!u) {
    const mnode_t *n = tree_find(m->sp[sp].root, k, klen);
    if (!n) return 0;
    *v = n->v;
    *vlen = n->vlen;
    return 1;
  }
  if (u->op == U_INSERT) return 0; /* not there before the batch */
  *v = u->op == U_OVERWRITE ? u->oldv : u->node->v;
  *vlen = u->op == U_OVERWRITE ? u->oldvlen : u->node->vlen;
  return 1;
}

static int view_get(dyna_store_t *s, dyna_space_t sp, const uint8_t *k, size_t klen, dyna_buf_t *out) {
  int rc = key_ok(sp, klen);
  if (rc) return rc;
  const uint8_t *v;
  size_t vlen;
  if (!durable_value(vm(s), sp, k, klen, &v, &vlen)) return DYNA_ENOTFOUND;
  dyna_buf_reset(out);
  dyna_buf_put(out, v, vlen);
  return out->oom ? DYNA_ENOMEM : 0;
}

typedef struct {
  const uint8_t *k, *v;
  size_t klen, vlen;
} kv_t;

static int kv_cmp(const void *a, const void *b) {
  const kv_t *x = a, *y = b;
  return key_cmp(x->k, x->klen, y->k, y->klen);
}

/* Every committed key of sp with the prefix, in order: the live keys as they were, and
 * the keys the batch deleted. The callback must not write through the view. */
static int view_iter(dyna_store_t *s, dyna_space_t sp, const uint8_t *prefix, size_t plen,
                     dyna_store_iter_fn fn, void *arg) {
  mem_store_t *m = vm(s);
  if ((unsigned)sp >= DYNA_SPACE_COUNT) return DYNA_EINVAL;
  if (plen > DYNA_STORE_MAX_KEY) return 0;
  kv_t *all = NULL;
  size_t n = 0, cap = 0;
  int rc = 0;
  for (int pass = 0; pass < 2 && !rc; pass++) {
    /* pass 0: live nodes; pass 1: keys the batch took out of the tree */
    mnode_t *t = pass ? NULL : tree_seek(m->sp[sp].root, prefix, plen, 0);
    size_t ui = 0;
    for (;;) {
      const uint8_t *k;
      size_t klen;
      if (!pass) {
        if (!t || !has_prefix(t, prefix, plen)) break;
        k = t->k;
        klen = t->klen;
        t = tree_seek(m->sp[sp].root, t->k, t->klen, 1);
      } else {
        if (ui >= m->nundo) break;
        const undo_t *u = &m->undo[ui++];
        if (u->sp != sp || !has_prefix(u->node, prefix, plen) || first_undo(m, sp, u->node->k, u->node->klen) != u ||
            tree_find(m->sp[sp].root, u->node->k, u->node->klen))
          continue;
        k = u->node->k;
        klen = u->node->klen;
      }
      const uint8_t *v;
      size_t vlen;
      if (!durable_value(m, sp, k, klen, &v, &vlen)) continue;
      if (n == cap) {
        cap = cap ? cap * 2 : 64;
        kv_t *a = dyna_realloc(all, cap * sizeof(*a));
        if (!a) { rc = DYNA_ENOMEM; break; }
        all = a;
      }
      all[n++] = (kv_t){k, v, klen, vlen};
    }
  }
  if (!rc && n) qsort(all, n, sizeof(*all), kv_cmp);
  for (size_t i = 0; !rc && i < n; i++) rc = fn(arg, all[i].k, all[i].klen, all[i].v, all[i].vlen);
  dyna_free(all);
  return rc;
}

static int view_put(dyna_store_t *s, dyna_space_t sp, const uint8_t *k, size_t klen,
                    const uint8_t *v, size_t vlen) {
  (void)s, (void)sp, (void)k, (void)klen, (void)v, (void)vlen;
  return DYNA_EINVAL; /* read-only */
}
static int view_del(dyna_store_t *s, dyna_space_t sp, const uint8_t *k, size_t klen) {
  (void)s, (void)sp, (void)k, (void)klen;
  return DYNA_EINVAL;
}
static int view_commit(dyna_store_t *s) { (void)s; return 0; }
static size_t view_pending(dyna_store_t *s) { (void)s; return 0; }
static void view_close(dyna_store_t *s) { (void)s; } /* owned by its store */

static const dyna_store_ops_t view_ops = {
    .name = "memory (committed view)",
    .get = view_get,
    .put = view_put,
    .del = view_del,
    .iter = view_iter,
    .commit = view_commit,
    .pending = view_pending,
    .close = view_close,
};

dyna_store_t *dyna_store_mem_durable(dyna_store_t *s) { return &ms(s)->view.base; }

int dyna_store_mem_open(dyna_sync_t sync, dyna_store_t **out) {
  mem_store_t *m = dyna_calloc(1, sizeof(*m));
  if (!m) return DYNA_ENOMEM;
  m->base.ops = &mem_ops;
  m->base.sync = sync;
  m->view.base.ops = &view_ops;
  m->view.base.sync = sync;
  m->view.m = m;
  *out = &m->base;
  return 0;
}

/* Drops the uncommitted batch (and any remembered error or armed fault), as a restart
 * after a crash would. O(batch size · log n). */
void dyna_store_mem_crash(dyna_store_t *s) {
  mem_store_t *m = ms(s);
  batch_rollback(m);
  m->sticky = 0;
  m->inject = 0;
}

void dyna_store_mem_inject(dyna_store_t *s, int err) { ms(s)->inject = err; }
void dyna_store_mem_inject_commit(dyna_store_t *s, int err) { ms(s)->inject_commit = err; }

size_t dyna_store_mem_count(dyna_store_t *s, dyna_space_t sp) {
  if ((unsigned)sp >= DYNA_SPACE_COUNT) return 0;
  return ms(s)->sp[sp].count;
}
