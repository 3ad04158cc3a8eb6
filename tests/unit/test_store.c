/* test_store.c: the store contract suite (see store/store.h).
 *
 * One set of contract tests runs against every engine: each test gets a fixture whose
 * engine comes from the test table's initial state, so "mem/x" and "lmdb/x" run the same
 * function. Engine-specific tests follow: reopening, locking, crashing a child process
 * and filling the map for LMDB; the crash model, fault injection and out-of-memory for
 * the memory engine. LMDB directories are made with mkdtemp under $TMPDIR (or /tmp) and
 * removed by the teardown.
 */
#include "store/lmdb.h"
#include "store/memory.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/alloc.h"
#include "store/store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- fixture ---- */

enum { ENG_MEM, ENG_LMDB };
static int eng_mem = ENG_MEM, eng_lmdb = ENG_LMDB;

typedef struct {
  int engine;
  dyna_store_t *s; /* owned; NULL while closed */
  char dir[PATH_MAX];
  dyna_buf_t buf; /* scratch for get */
} fx_t;

/* Opens the fixture's store with policy sync (map_bytes: LMDB map size, 0 = default). */
static int fx_open_map(fx_t *f, dyna_sync_t sync, size_t map_bytes) {
  assert_null(f->s);
  if (f->engine == ENG_MEM) return dyna_store_mem_open(sync, &f->s);
  return dyna_store_lmdb_open(f->dir, sync, map_bytes, &f->s);
}

static void fx_open(fx_t *f, dyna_sync_t sync) { assert_int_equal(fx_open_map(f, sync, 0), 0); }

static void fx_close(fx_t *f) {
  dyna_store_close(f->s);
  f->s = NULL;
}

/* Closes and opens again: LMDB keeps its data, memory starts empty. */
static void fx_reopen(fx_t *f, dyna_sync_t sync) {
  fx_close(f);
  fx_open(f, sync);
}

static void rm_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char path[PATH_MAX + 256];
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

static int setup(void **state) {
  fx_t *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  f->engine = *(int *)*state;
  if (f->engine == ENG_LMDB) {
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof(f->dir), "%s/dyna-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
  }
  int rc = fx_open_map(f, DYNA_SYNC_BATCH, 0);
  if (rc) { /* don't leave the directory behind */
    print_error("cannot open the %s store: %s\n", f->engine == ENG_LMDB ? "lmdb" : "memory",
                dyna_strerror(rc));
    if (f->engine == ENG_LMDB) rm_dir(f->dir);
    free(f);
    return -1;
  }
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx_t *f = *state;
  fx_close(f);
  if (f->engine == ENG_LMDB) rm_dir(f->dir);
  dyna_buf_free(&f->buf);
  free(f);
  return 0;
}

/* ---- helpers ---- */

#define U8(s) ((const uint8_t *)(s))

static void put(dyna_store_t *s, dyna_space_t sp, const char *k, const char *v) {
  assert_int_equal(dyna_store_put(s, sp, U8(k), strlen(k), U8(v), strlen(v)), 0);
}

static void del(dyna_store_t *s, dyna_space_t sp, const char *k) {
  assert_int_equal(dyna_store_del(s, sp, U8(k), strlen(k)), 0);
}

static int get_rc(fx_t *f, dyna_space_t sp, const char *k) {
  return dyna_store_get(f->s, sp, U8(k), strlen(k), &f->buf);
}

/* Asserts that k holds exactly v. */
static void expect(fx_t *f, dyna_space_t sp, const char *k, const char *v) {
  assert_int_equal(get_rc(f, sp, k), 0);
  assert_int_equal(f->buf.len, strlen(v));
  if (f->buf.len) assert_memory_equal(f->buf.data, v, f->buf.len);
}

static void expect_absent(fx_t *f, dyna_space_t sp, const char *k) {
  assert_int_equal(get_rc(f, sp, k), DYNA_ENOTFOUND);
}

/* Key i of the numbered families used by the bulk tests. */
static const char *nkey(char *b, size_t n, unsigned i) {
  snprintf(b, n, "key%08u", i);
  return b;
}
static const char *nval(char *b, size_t n, unsigned i) {
  snprintf(b, n, "value-%u", i * 7919u);
  return b;
}

/* Collects what iter visits. */
typedef struct {
  size_t n;
  char keys[64][16];
  size_t klen[64];
  size_t vlen[64];
  size_t stop_after; /* 0: never stop */
} seen_t;

static int collect(void *arg, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen) {
  (void)v;
  seen_t *c = arg;
  assert_true(c->n < 64);
  assert_true(klen < 16);
  memcpy(c->keys[c->n], k, klen);
  c->klen[c->n] = klen;
  c->vlen[c->n] = vlen;
  c->n++;
  return c->stop_after && c->n == c->stop_after ? 7 : 0;
}

/* A key with explicit length, for keys holding 0x00 or 0xff. */
typedef struct {
  const char *p;
  size_t n;
} bkey_t;
#define BK(s) {s, sizeof(s) - 1}

/* Runs iter over prefix and asserts it visits exactly want[0..nwant) in that order. */
static void expect_iter(fx_t *f, dyna_space_t sp, bkey_t prefix, const bkey_t *want,
                        size_t nwant) {
  seen_t c = {0};
  assert_int_equal(dyna_store_iter(f->s, sp, U8(prefix.p), prefix.n, collect, &c), 0);
  assert_int_equal(c.n, nwant);
  for (size_t i = 0; i < nwant; i++) {
    assert_int_equal(c.klen[i], want[i].n);
    assert_memory_equal(c.keys[i], want[i].p, want[i].n);
  }
}

static int count_fn(void *arg, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen) {
  (void)k, (void)klen, (void)v, (void)vlen;
  (*(size_t *)arg)++;
  return 0;
}

static size_t count_keys(fx_t *f, dyna_space_t sp, const char *prefix) {
  size_t n = 0;
  assert_int_equal(dyna_store_iter(f->s, sp, U8(prefix), strlen(prefix), count_fn, &n), 0);
  return n;
}

/* ---- contract tests (every engine) ---- */

static void test_get_put_del(void **state) {
  fx_t *f = *state;
  expect_absent(f, DYNA_SPACE_OBJ, "a");
  assert_int_equal(dyna_store_del(f->s, DYNA_SPACE_OBJ, U8("a"), 1), DYNA_ENOTFOUND);
  put(f->s, DYNA_SPACE_OBJ, "a", "1");
  expect(f, DYNA_SPACE_OBJ, "a", "1");
  assert_int_equal(dyna_store_commit(f->s), 0);
  expect(f, DYNA_SPACE_OBJ, "a", "1");
  del(f->s, DYNA_SPACE_OBJ, "a");
  expect_absent(f, DYNA_SPACE_OBJ, "a");
  assert_int_equal(dyna_store_del(f->s, DYNA_SPACE_OBJ, U8("a"), 1), DYNA_ENOTFOUND);
  assert_int_equal(dyna_store_commit(f->s), 0);
  expect_absent(f, DYNA_SPACE_OBJ, "a");
  /* put then del inside one batch leaves nothing behind */
  put(f->s, DYNA_SPACE_OBJ, "b", "2");
  del(f->s, DYNA_SPACE_OBJ, "b");
  assert_int_equal(dyna_store_commit(f->s), 0);
  expect_absent(f, DYNA_SPACE_OBJ, "b");
  assert_int_equal(count_keys(f, DYNA_SPACE_OBJ, ""), 0);
}

static void test_overwrite(void **state) {
  fx_t *f = *state;
  put(f->s, DYNA_SPACE_OBJ, "k", "first");
  put(f->s, DYNA_SPACE_OBJ, "k", "second, longer");
  expect(f, DYNA_SPACE_OBJ, "k", "second, longer");
  assert_int_equal(dyna_store_commit(f->s), 0);
  put(f->s, DYNA_SPACE_OBJ, "k", "3");
  expect(f, DYNA_SPACE_OBJ, "k", "3");
  assert_int_equal(dyna_store_commit(f->s), 0);
  expect(f, DYNA_SPACE_OBJ, "k", "3");
  assert_int_equal(count_keys(f, DYNA_SPACE_OBJ, ""), 1);
}

static void test_empty_value(void **state) {
  fx_t *f = *state;
  put(f->s, DYNA_SPACE_OBJ, "full", "something");
  expect(f, DYNA_SPACE_OBJ, "full", "something"); /* leaves bytes in f->buf */
  assert_int_equal(dyna_store_put(f->s, DYNA_SPACE_OBJ, U8("e"), 1, NULL, 0), 0);
  expect(f, DYNA_SPACE_OBJ, "e", ""); /* get replaces, so len drops to 0 */
  assert_int_equal(dyna_store_commit(f->s), 0);
  expect(f, DYNA_SPACE_OBJ, "e", "");
  seen_t c = {0};
  assert_int_equal(dyna_store_iter(f->s, DYNA_SPACE_OBJ, U8("e"), 1, collect, &c), 0);
  assert_int_equal(c.n, 1);
  assert_int_equal(c.vlen[0], 0);
  put(f->s, DYNA_SPACE_OBJ, "full", ""); /* overwrite down to empty */
  expect(f, DYNA_SPACE_OBJ, "full", "");
}

static void test_spaces_separate(void **state) {
  fx_t *f = *state;
  put(f->s, DYNA_SPACE_OBJ, "k", "obj");
  put(f->s, DYNA_SPACE_META, "k", "meta");
  assert_int_equal(dyna_store_commit(f->s), 0);
  expect(f, DYNA_SPACE_OBJ, "k", "obj");
  expect(f, DYNA_SPACE_META, "k", "meta");
  expect_absent(f, DYNA_SPACE_HINT, "k");
  assert_int_equal(count_keys(f, DYNA_SPACE_HINT, ""), 0);
  del(f->s, DYNA_SPACE_OBJ, "k");
  expect_absent(f, DYNA_SPACE_OBJ, "k");
  expect(f, DYNA_SPACE_META, "k", "meta");
  assert_int_equal(count_keys(f, DYNA_SPACE_META, ""), 1);
  assert_int_equal(count_keys(f, DYNA_SPACE_OBJ, ""), 0);
}

static const bkey_t iter_keys[] = {
    BK("\xff\xff"), BK("ab"), BK("\x00\x01"), BK("b"),   BK("abd"), BK("\xff"),
    BK("a"),        BK("ac"), BK("\xff\x00"), BK("abc"), BK("\x00"), BK("a\xff")};

/* iter_keys in ascending bytewise order */
static const bkey_t iter_sorted[] = {
    BK("\x00"), BK("\x00\x01"), BK("a"), BK("ab"),   BK("abc"),      BK("abd"),
    BK("ac"),   BK("a\xff"),    BK("b"), BK("\xff"), BK("\xff\x00"), BK("\xff\xff")};

#define NKEYS (sizeof(iter_keys) / sizeof(iter_keys[0]))

static void put_iter_keys(fx_t *f) {
  for (size_t i = 0; i < NKEYS; i++)
    assert_int_equal(dyna_store_put(f->s, DYNA_SPACE_OBJ, U8(iter_keys[i].p), iter_keys[i].n,
                                    U8("v"), 1),
                     0);
}

/* Checks the prefix cases over iter_keys. */
static void check_iter_prefixes(fx_t *f) {
  expect_iter(f, DYNA_SPACE_OBJ, (bkey_t)BK(""), iter_sorted, NKEYS);
  expect_iter(f, DYNA_SPACE_OBJ, (bkey_t)BK("a"), iter_sorted + 2, 6);
  expect_iter(f, DYNA_SPACE_OBJ, (bkey_t)BK("ab"), iter_sorted + 3, 3);
  expect_iter(f, DYNA_SPACE_OBJ, (bkey_t)BK("abc"), iter_sorted + 4, 1);
  expect_iter(f, DYNA_SPACE_OBJ, (bkey_t)BK("abcd"), NULL, 0);
  expect_iter(f, DYNA_SPACE_OBJ, (bkey_t)BK("\x00"), iter_sorted, 2);
  expect_iter(f, DYNA_SPACE_OBJ, (bkey_t)BK("\xff"), iter_sorted + 9, 3);
  expect_iter(f, DYNA_SPACE_OBJ, (bkey_t)BK("\xff\xff"), iter_sorted + 11, 1);
  expect_iter(f, DYNA_SPACE_OBJ, (bkey_t)BK("\xff\xff\xff"), NULL, 0);
  expect_iter(f, DYNA_SPACE_OBJ, (bkey_t)BK("aa"), NULL, 0);
  expect_iter(f, DYNA_SPACE_OBJ, (bkey_t)BK("zz"), NULL, 0);
  expect_iter(f, DYNA_SPACE_META, (bkey_t)BK(""), NULL, 0);
}

static void test_iter_order_prefix(void **state) {
  fx_t *f = *state;
  put_iter_keys(f);
  check_iter_prefixes(f); /* uncommitted */
  assert_int_equal(dyna_store_commit(f->s), 0);
  check_iter_prefixes(f); /* committed */
}

static void test_iter_stop(void **state) {
  fx_t *f = *state;
  put_iter_keys(f);
  assert_int_equal(dyna_store_commit(f->s), 0);
  seen_t c = {.stop_after = 2};
  assert_int_equal(dyna_store_iter(f->s, DYNA_SPACE_OBJ, U8("a"), 1, collect, &c), 7);
  assert_int_equal(c.n, 2);
  assert_memory_equal(c.keys[1], "ab", 2);
}

static void test_iter_sees_uncommitted(void **state) {
  fx_t *f = *state;
  put(f->s, DYNA_SPACE_OBJ, "p1", "x");
  put(f->s, DYNA_SPACE_OBJ, "p3", "x");
  put(f->s, DYNA_SPACE_OBJ, "p5", "x");
  assert_int_equal(dyna_store_commit(f->s), 0);
  put(f->s, DYNA_SPACE_OBJ, "p2", "x");
  put(f->s, DYNA_SPACE_OBJ, "p6", "x");
  del(f->s, DYNA_SPACE_OBJ, "p3");
  const bkey_t want[] = {BK("p1"), BK("p2"), BK("p5"), BK("p6")};
  expect_iter(f, DYNA_SPACE_OBJ, (bkey_t)BK("p"), want, 4);
  assert_int_equal(dyna_store_commit(f->s), 0);
  expect_iter(f, DYNA_SPACE_OBJ, (bkey_t)BK("p"), want, 4);
}

/* State for delete_as_we_go. */
typedef struct {
  dyna_store_t *s;
  unsigned next; /* index of the key expected next */
  int commit;    /* also commit after every 7th key (ends the txn under the cursor) */
  dyna_buf_t tmp;
} mover_t;

/* Reads and deletes each key it visits, writes a copy outside the prefix, and checks
 * that the keys still come in order. */
static int delete_as_we_go(void *arg, const uint8_t *k, size_t klen, const uint8_t *v,
                           size_t vlen) {
  (void)v, (void)vlen;
  mover_t *m = arg;
  char key[32], moved[40], want[32];
  assert_true(klen < sizeof(key));
  memcpy(key, k, klen);
  key[klen] = 0;
  assert_string_equal(key, nkey(want, sizeof(want), m->next));
  m->next++;
  assert_int_equal(dyna_store_get(m->s, DYNA_SPACE_OBJ, k, klen, &m->tmp), 0);
  del(m->s, DYNA_SPACE_OBJ, key);
  snprintf(moved, sizeof(moved), "z%s", key);
  put(m->s, DYNA_SPACE_OBJ, moved, "moved");
  if (m->commit && m->next % 7 == 0) assert_int_equal(dyna_store_commit(m->s), 0);
  return 0;
}

/* The callback may write to the store it iterates, and commit (documented in store.h).
 * Pass 0: keys committed, callback writes (LMDB: cursor on the read txn).
 * Pass 1: ALWAYS, every callback write commits.
 * Pass 2: keys uncommitted, callback writes (LMDB: cursor on the write txn it changes).
 * Pass 3: keys uncommitted, callback commits now and then (ends the cursor's txn). */
static void test_iter_callback_writes(void **state) {
  fx_t *f = *state;
  for (int pass = 0; pass < 4; pass++) {
    fx_reopen(f, pass == 1 ? DYNA_SYNC_ALWAYS : DYNA_SYNC_BATCH);
    char k[32], zk[40];
    for (unsigned i = 0; i < 50; i++) put(f->s, DYNA_SPACE_OBJ, nkey(k, sizeof(k), i), "v");
    if (pass < 2) assert_int_equal(dyna_store_commit(f->s), 0);
    mover_t m = {.s = f->s, .commit = pass == 3};
    int rc = dyna_store_iter(f->s, DYNA_SPACE_OBJ, U8("key"), 3, delete_as_we_go, &m);
    dyna_buf_free(&m.tmp);
    assert_int_equal(rc, 0);
    assert_int_equal(m.next, 50);
    assert_int_equal(count_keys(f, DYNA_SPACE_OBJ, "key"), 0);
    assert_int_equal(count_keys(f, DYNA_SPACE_OBJ, "zkey"), 50);
    assert_int_equal(dyna_store_commit(f->s), 0);
    for (unsigned i = 0; i < 50; i++) {
      snprintf(zk, sizeof(zk), "z%s", nkey(k, sizeof(k), i));
      del(f->s, DYNA_SPACE_OBJ, zk);
    }
    assert_int_equal(dyna_store_commit(f->s), 0);
  }
}

static void test_limits(void **state) {
  fx_t *f = *state;
  static uint8_t key[DYNA_STORE_MAX_KEY + 1];
  memset(key, 'k', sizeof(key));
  put(f->s, DYNA_SPACE_OBJ, "before", "x"); /* an uncommitted write that must survive */
  size_t pending = dyna_store_pending(f->s);

  /* zero-length keys */
  assert_int_equal(dyna_store_put(f->s, DYNA_SPACE_OBJ, key, 0, U8("v"), 1), DYNA_ETOOBIG);
  assert_int_equal(dyna_store_get(f->s, DYNA_SPACE_OBJ, key, 0, &f->buf), DYNA_ETOOBIG);
  assert_int_equal(dyna_store_del(f->s, DYNA_SPACE_OBJ, key, 0), DYNA_ETOOBIG);
  /* one byte over the key limit */
  assert_int_equal(dyna_store_put(f->s, DYNA_SPACE_OBJ, key, DYNA_STORE_MAX_KEY + 1, U8("v"), 1),
                   DYNA_ETOOBIG);
  assert_int_equal(dyna_store_get(f->s, DYNA_SPACE_OBJ, key, DYNA_STORE_MAX_KEY + 1, &f->buf),
                   DYNA_ETOOBIG);
  assert_int_equal(dyna_store_del(f->s, DYNA_SPACE_OBJ, key, DYNA_STORE_MAX_KEY + 1),
                   DYNA_ETOOBIG);
  /* one byte over the value limit: the engine must reject it without reading it */
  uint8_t *big = malloc((size_t)DYNA_STORE_MAX_VALUE + 1);
  assert_non_null(big);
  assert_int_equal(dyna_store_put(f->s, DYNA_SPACE_OBJ, U8("big"), 3, big,
                                  (size_t)DYNA_STORE_MAX_VALUE + 1),
                   DYNA_ETOOBIG);
  free(big);
  /* nothing changed, nothing rolled back, nothing remembered */
  assert_int_equal(dyna_store_pending(f->s), pending);
  expect(f, DYNA_SPACE_OBJ, "before", "x");
  expect_absent(f, DYNA_SPACE_OBJ, "big");
  assert_int_equal(count_keys(f, DYNA_SPACE_OBJ, ""), 1);
  assert_int_equal(dyna_store_commit(f->s), 0);
  expect(f, DYNA_SPACE_OBJ, "before", "x");

  /* exactly the key limit works */
  assert_int_equal(dyna_store_put(f->s, DYNA_SPACE_OBJ, key, DYNA_STORE_MAX_KEY, U8("max"), 3), 0);
  assert_int_equal(dyna_store_commit(f->s), 0);
  assert_int_equal(dyna_store_get(f->s, DYNA_SPACE_OBJ, key, DYNA_STORE_MAX_KEY, &f->buf), 0);
  assert_int_equal(f->buf.len, 3);
  assert_int_equal(dyna_store_del(f->s, DYNA_SPACE_OBJ, key, DYNA_STORE_MAX_KEY), 0);

  /* a large value round-trips */
  size_t n = 3u << 20;
  uint8_t *v = malloc(n);
  assert_non_null(v);
  for (size_t i = 0; i < n; i++) v[i] = (uint8_t)(i * 131 + (i >> 13));
  assert_int_equal(dyna_store_put(f->s, DYNA_SPACE_OBJ, U8("large"), 5, v, n), 0);
  assert_int_equal(dyna_store_commit(f->s), 0);
  assert_int_equal(dyna_store_get(f->s, DYNA_SPACE_OBJ, U8("large"), 5, &f->buf), 0);
  assert_int_equal(f->buf.len, n);
  assert_memory_equal(f->buf.data, v, n);
  free(v);
}

static void test_pending(void **state) {
  fx_t *f = *state;
  assert_int_equal(dyna_store_pending(f->s), 0);
  assert_int_equal(dyna_store_commit(f->s), 0); /* nothing pending: no-op */
  put(f->s, DYNA_SPACE_OBJ, "a", "1");
  assert_int_equal(dyna_store_pending(f->s), 1);
  put(f->s, DYNA_SPACE_META, "a", "1");
  put(f->s, DYNA_SPACE_OBJ, "a", "2");
  assert_int_equal(dyna_store_pending(f->s), 3);
  del(f->s, DYNA_SPACE_OBJ, "a");
  assert_int_equal(dyna_store_pending(f->s), 4);
  assert_int_equal(dyna_store_del(f->s, DYNA_SPACE_OBJ, U8("zz"), 2), DYNA_ENOTFOUND);
  assert_int_equal(dyna_store_pending(f->s), 4);
  assert_int_equal(dyna_store_commit(f->s), 0);
  assert_int_equal(dyna_store_pending(f->s), 0);
  assert_int_equal(dyna_store_commit(f->s), 0);
  /* a del of an absent key as the first write of a batch leaves nothing pending */
  assert_int_equal(dyna_store_del(f->s, DYNA_SPACE_OBJ, U8("zz"), 2), DYNA_ENOTFOUND);
  assert_int_equal(dyna_store_pending(f->s), 0);

  /* ALWAYS: each write is committed before it returns */
  fx_reopen(f, DYNA_SYNC_ALWAYS);
  put(f->s, DYNA_SPACE_OBJ, "b", "1");
  assert_int_equal(dyna_store_pending(f->s), 0);
  del(f->s, DYNA_SPACE_OBJ, "b");
  assert_int_equal(dyna_store_pending(f->s), 0);
  assert_int_equal(dyna_store_commit(f->s), 0);

  fx_reopen(f, DYNA_SYNC_NONE);
  put(f->s, DYNA_SPACE_OBJ, "c", "1");
  assert_int_equal(dyna_store_pending(f->s), 1);
  assert_int_equal(dyna_store_commit(f->s), 0);
  assert_int_equal(dyna_store_pending(f->s), 0);
}

#define MANY 20000u

static int check_order(void *arg, const uint8_t *k, size_t klen, const uint8_t *v,
                       size_t vlen) {
  (void)v, (void)vlen;
  unsigned *i = arg;
  char want[32];
  nkey(want, sizeof(want), *i);
  assert_int_equal(klen, strlen(want));
  assert_memory_equal(k, want, klen);
  (*i)++;
  return 0;
}

static void check_many(fx_t *f) {
  char k[32], v[32];
  for (unsigned i = 0; i < MANY; i++) expect(f, DYNA_SPACE_OBJ, nkey(k, 32, i), nval(v, 32, i));
  unsigned i = 0;
  assert_int_equal(dyna_store_iter(f->s, DYNA_SPACE_OBJ, U8("key"), 3, check_order, &i), 0);
  assert_int_equal(i, MANY);
}

static void test_many_keys(void **state) {
  fx_t *f = *state;
  char k[32], v[32];
  /* a scattered insertion order: 7919 is coprime with MANY */
  for (unsigned j = 0; j < MANY; j++) {
    unsigned i = (j * 7919u) % MANY;
    put(f->s, DYNA_SPACE_OBJ, nkey(k, 32, i), nval(v, 32, i));
    if (j % 5000 == 4999) assert_int_equal(dyna_store_commit(f->s), 0);
  }
  assert_int_equal(dyna_store_commit(f->s), 0);
  check_many(f);
  if (f->engine == ENG_MEM) assert_int_equal(dyna_store_mem_count(f->s, DYNA_SPACE_OBJ), MANY);
  if (f->engine == ENG_LMDB) {
    fx_reopen(f, DYNA_SYNC_BATCH);
    check_many(f);
  }
  /* delete every other key, then check the rest */
  for (unsigned i = 0; i < MANY; i += 2) del(f->s, DYNA_SPACE_OBJ, nkey(k, 32, i));
  assert_int_equal(dyna_store_commit(f->s), 0);
  assert_int_equal(count_keys(f, DYNA_SPACE_OBJ, ""), MANY / 2);
  expect_absent(f, DYNA_SPACE_OBJ, nkey(k, 32, 100));
  expect(f, DYNA_SPACE_OBJ, nkey(k, 32, 101), nval(v, 32, 101));
}

/* A prefetch is a hint: keys present, deleted, pending, committed and absent, in two
 * spaces, read the same after it as before. */
static void test_prefetch_changes_nothing(void **state) {
  fx_t *f = *state;
  char k[32], v[32];
  const uint8_t *keys[DYNA_STORE_PREFETCH_MAX];
  size_t klens[DYNA_STORE_PREFETCH_MAX];
  char names[DYNA_STORE_PREFETCH_MAX][32];
  for (unsigned i = 0; i < 600; i++) {
    put(f->s, DYNA_SPACE_OBJ, nkey(k, 32, i), nval(v, 32, i));
    if (i == 300) assert_int_equal(dyna_store_commit(f->s), 0);
  }
  del(f->s, DYNA_SPACE_OBJ, nkey(k, 32, 7));
  put(f->s, DYNA_SPACE_HINT, nkey(k, 32, 8), "hint");
  for (unsigned i = 0; i < DYNA_STORE_PREFETCH_MAX; i++) {
    keys[i] = U8(nkey(names[i], 32, i * 97 % 1000)); /* some past 600: absent */
    klens[i] = strlen(names[i]);
  }
  dyna_store_prefetch(f->s, DYNA_SPACE_OBJ, keys, klens, DYNA_STORE_PREFETCH_MAX);
  dyna_store_prefetch(f->s, DYNA_SPACE_HINT, keys, klens, DYNA_STORE_PREFETCH_MAX);
  dyna_store_prefetch(f->s, DYNA_SPACE_OBJ, keys, klens, 1);
  for (unsigned i = 0; i < 1000; i++) {
    if (i < 600 && i != 7) expect(f, DYNA_SPACE_OBJ, nkey(k, 32, i), nval(v, 32, i));
    else expect_absent(f, DYNA_SPACE_OBJ, nkey(k, 32, i));
  }
  expect(f, DYNA_SPACE_HINT, nkey(k, 32, 8), "hint");
  expect_absent(f, DYNA_SPACE_HINT, nkey(k, 32, 9));
}

/* ---- LMDB only ---- */

static void test_lmdb_reopen(void **state) {
  fx_t *f = *state;
  const dyna_sync_t pols[] = {DYNA_SYNC_ALWAYS, DYNA_SYNC_BATCH, DYNA_SYNC_NONE};
  for (size_t p = 0; p < 3; p++) {
    fx_reopen(f, pols[p]);
    char k[32];
    snprintf(k, sizeof(k), "committed-%s", dyna_sync_name(pols[p]));
    put(f->s, DYNA_SPACE_META, k, dyna_sync_name(pols[p]));
    assert_int_equal(dyna_store_commit(f->s), 0);
    snprintf(k, sizeof(k), "at-close-%s", dyna_sync_name(pols[p]));
    put(f->s, DYNA_SPACE_HINT, k, "x"); /* close commits it */
    fx_reopen(f, DYNA_SYNC_BATCH);
    for (size_t q = 0; q <= p; q++) {
      snprintf(k, sizeof(k), "committed-%s", dyna_sync_name(pols[q]));
      expect(f, DYNA_SPACE_META, k, dyna_sync_name(pols[q]));
      snprintf(k, sizeof(k), "at-close-%s", dyna_sync_name(pols[q]));
      expect(f, DYNA_SPACE_HINT, k, "x");
    }
  }
}

/* count: LMDB's records of one space as last committed to its tree (store.h). Under
 * --sync always a commit writes LMDB itself; under batch and none the log's batches reach
 * it at a checkpoint (close makes one). The memory engine has no cheap count. */
static void test_lmdb_count(void **state) {
  fx_t *f = *state;
  uint64_t n = 99;
  const dyna_sync_t pols[] = {DYNA_SYNC_ALWAYS, DYNA_SYNC_NONE};
  for (size_t p = 0; p < 2; p++) {
    fx_reopen(f, pols[p]);
    char k[32];
    for (int i = 0; i < 5; i++) {
      snprintf(k, sizeof(k), "count-%zu-%d", p, i);
      put(f->s, DYNA_SPACE_OBJ, k, "v");
    }
    put(f->s, DYNA_SPACE_META, "count-meta", "v"); /* another space: not counted */
    assert_int_equal(dyna_store_commit(f->s), 0);
    const int direct = pols[p] == DYNA_SYNC_ALWAYS; /* none: LMDB has them at the next checkpoint */
    assert_int_equal(dyna_store_count(f->s, DYNA_SPACE_OBJ, &n), 0);
    assert_int_equal(n, direct ? 5 * (p + 1) : 5 * p);
    snprintf(k, sizeof(k), "count-%zu-0", p);
    del(f->s, DYNA_SPACE_OBJ, k);
    assert_int_equal(dyna_store_commit(f->s), 0);
    assert_int_equal(dyna_store_count(f->s, DYNA_SPACE_OBJ, &n), 0);
    assert_int_equal(n, direct ? 5 * (p + 1) - 1 : 5 * p);
    put(f->s, DYNA_SPACE_OBJ, k, "v"); /* back, for the next round's sum */
    assert_int_equal(dyna_store_commit(f->s), 0);
  }
  fx_reopen(f, DYNA_SYNC_BATCH); /* the checkpoint of open: everything so far */
  assert_int_equal(dyna_store_count(f->s, DYNA_SPACE_OBJ, &n), 0);
  assert_int_equal(n, 10);
  assert_int_equal(dyna_store_count(f->s, DYNA_SPACE_COUNT, &n), DYNA_EINVAL);
  dyna_store_t *m;
  assert_int_equal(dyna_store_mem_open(DYNA_SYNC_BATCH, &m), 0);
  assert_int_equal(dyna_store_count(m, DYNA_SPACE_OBJ, &n), DYNA_EINVAL);
  dyna_store_close(m);
}

static void test_lmdb_locked(void **state) {
  fx_t *f = *state;
  dyna_store_t *second = NULL;
  assert_int_equal(dyna_store_lmdb_open(f->dir, DYNA_SYNC_BATCH, 0, &second), DYNA_ELOCKED);
  assert_null(second);
  /* another process is refused too */
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    dyna_store_t *s = NULL;
    int rc = dyna_store_lmdb_open(f->dir, DYNA_SYNC_BATCH, 0, &s);
    _exit(rc == DYNA_ELOCKED ? 0 : 1);
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  /* the original store still works; after close the directory opens again */
  put(f->s, DYNA_SPACE_OBJ, "k", "v");
  assert_int_equal(dyna_store_commit(f->s), 0);
  fx_reopen(f, DYNA_SYNC_BATCH);
  expect(f, DYNA_SPACE_OBJ, "k", "v");
  /* a missing directory is an error, not a crash */
  char missing[PATH_MAX + 16];
  snprintf(missing, sizeof(missing), "%s/nope", f->dir);
  assert_int_equal(dyna_store_lmdb_open(missing, DYNA_SYNC_BATCH, 0, &second), DYNA_EIO);
}

#define CRASH_PER 50u      /* keys per batch */
#define CRASH_BATCHES 12u  /* committed batches before the unfinished one */
#define CRASH_READY UINT32_MAX

enum { CRASH_EXIT, CRASH_KILL_IDLE, CRASH_KILL_BUSY };

/* Child: commits batches of CRASH_PER keys, reporting the committed count after each,
 * then per mode: leaves a batch unfinished and _exits, or leaves it unfinished and waits
 * to be killed, or keeps committing until killed. Never returns. */
static void crash_child(const char *dir, int fd, int mode) {
  dyna_store_t *s;
  if (dyna_store_lmdb_open(dir, DYNA_SYNC_BATCH, 0, &s)) _exit(2);
  char k[32], v[32];
  uint32_t n = 0;
  unsigned batches = mode == CRASH_KILL_BUSY ? 100000u : CRASH_BATCHES;
  for (unsigned b = 0; b < batches; b++) {
    for (unsigned j = 0; j < CRASH_PER; j++) {
      nkey(k, 32, n + j);
      nval(v, 32, n + j);
      if (dyna_store_put(s, DYNA_SPACE_OBJ, U8(k), strlen(k), U8(v), strlen(v))) _exit(3);
    }
    if (dyna_store_commit(s)) _exit(4);
    n += CRASH_PER;
    if (write(fd, &n, sizeof(n)) != sizeof(n)) _exit(5);
  }
  for (unsigned j = 0; j < CRASH_PER; j++) { /* the batch that must not survive */
    nkey(k, 32, n + j);
    if (dyna_store_put(s, DYNA_SPACE_OBJ, U8(k), strlen(k), U8("x"), 1)) _exit(3);
  }
  if (mode == CRASH_EXIT) _exit(0);
  uint32_t ready = CRASH_READY;
  if (write(fd, &ready, sizeof(ready)) != sizeof(ready)) _exit(5);
  for (;;) pause();
}

static void run_crash(fx_t *f, int mode) {
  fx_close(f);
  rm_dir(f->dir); /* start from an empty directory */
  assert_int_equal(mkdir(f->dir, 0700), 0);
  int p[2];
  assert_int_equal(pipe(p), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    crash_child(f->dir, p[1], mode);
  }
  close(p[1]);
  uint32_t v, last = 0;
  while (read(p[0], &v, sizeof(v)) == sizeof(v)) {
    if (v == CRASH_READY || (mode == CRASH_KILL_BUSY && v >= 5 * CRASH_PER)) {
      if (v != CRASH_READY) last = v;
      kill(pid, SIGKILL);
      break;
    }
    last = v;
  }
  close(p[0]);
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  if (mode == CRASH_EXIT) assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  else assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

  fx_open(f, DYNA_SYNC_BATCH);
  size_t have = count_keys(f, DYNA_SPACE_OBJ, "");
  if (mode == CRASH_KILL_BUSY) {
    assert_true(have >= last);         /* every acknowledged commit survived */
    assert_int_equal(have % CRASH_PER, 0); /* and batches are all or nothing */
  } else {
    assert_int_equal(last, CRASH_BATCHES * CRASH_PER);
    assert_int_equal(have, last); /* the unfinished batch is gone */
  }
  char k[32], val[32];
  for (unsigned i = 0; i < have; i++) expect(f, DYNA_SPACE_OBJ, nkey(k, 32, i), nval(val, 32, i));
  expect_absent(f, DYNA_SPACE_OBJ, nkey(k, 32, (unsigned)have));
}

static void test_lmdb_crash(void **state) {
  fx_t *f = *state;
  run_crash(f, CRASH_EXIT);
  run_crash(f, CRASH_KILL_IDLE);
  run_crash(f, CRASH_KILL_BUSY);
}

/* Puts 2000-byte values under keys from, from+1, ... committing every `batch` puts,
 * until a put or commit fails (at most 5000 keys). Returns that error; *committed gets
 * the number of keys after the last successful commit, *put_failed whether a put (not
 * a commit) failed. */
static int fill(fx_t *f, unsigned from, unsigned batch, unsigned *committed,
                int *put_failed) {
  static char val[2000];
  memset(val, 'v', sizeof(val));
  char k[32];
  *committed = from;
  *put_failed = 0;
  for (unsigned i = from; i < from + 5000; i++) {
    nkey(k, 32, i);
    int rc = dyna_store_put(f->s, DYNA_SPACE_OBJ, U8(k), strlen(k), U8(val), sizeof(val));
    if (rc) {
      *put_failed = 1;
      return rc;
    }
    if ((i - from) % batch == batch - 1) {
      if ((rc = dyna_store_commit(f->s))) return rc;
      *committed = i + 1;
    }
  }
  return 0;
}

/* Fills a 1 MiB map: a write fails with EFULL, committed data stays intact, and the
 * store stays readable and reopens intact. */
static void test_lmdb_map_full(void **state) {
  fx_t *f = *state;
  fx_close(f);
  assert_int_equal(fx_open_map(f, DYNA_SYNC_BATCH, 1u << 20), 0);
  char k[32];
  unsigned committed, more;
  int put_failed, rc;
  /* small batches until something fails (with LMDB: usually the commit) */
  assert_int_equal(fill(f, 0, 10, &committed, &put_failed), DYNA_EFULL);
  assert_true(committed > 0);
  assert_int_equal(dyna_store_pending(f->s), 0); /* the batch was rolled back */
  if (put_failed) assert_int_equal(dyna_store_commit(f->s), DYNA_EFULL);
  assert_int_equal(dyna_store_commit(f->s), 0);
  print_message("map full: %u keys committed, then %s failed\n", committed,
                put_failed ? "a put" : "a commit");
  /* one batch that never commits: a put must fail */
  assert_int_equal(fill(f, committed, 100000, &more, &put_failed), DYNA_EFULL);
  assert_true(put_failed);
  assert_int_equal(more, committed);
  assert_int_equal(dyna_store_pending(f->s), 0);
  /* writes after the failure are dropped by the commit that reports it */
  rc = dyna_store_put(f->s, DYNA_SPACE_META, U8("after"), 5, U8("x"), 1);
  assert_true(rc == 0 || rc == DYNA_EFULL);
  assert_int_equal(dyna_store_commit(f->s), DYNA_EFULL);
  expect_absent(f, DYNA_SPACE_META, "after");
  assert_int_equal(dyna_store_commit(f->s), 0); /* reported once */
  assert_int_equal(count_keys(f, DYNA_SPACE_OBJ, ""), committed);
  expect_absent(f, DYNA_SPACE_OBJ, nkey(k, 32, committed));

  /* deleting in a full map: whatever LMDB allows, but all or nothing */
  unsigned deleted = committed < 20 ? committed : 20;
  rc = 0;
  for (unsigned j = 0; j < deleted && !rc; j++) {
    nkey(k, 32, j);
    rc = dyna_store_del(f->s, DYNA_SPACE_OBJ, U8(k), strlen(k));
  }
  int del_rc = dyna_store_commit(f->s);
  if (rc) print_message("del in a full map: %s\n", dyna_strerror(rc));
  assert_true(rc == 0 || rc == DYNA_EFULL);
  assert_true(del_rc == 0 || del_rc == DYNA_EFULL);
  if (del_rc) deleted = 0;
  /* then a small write */
  rc = dyna_store_put(f->s, DYNA_SPACE_META, U8("small"), 5, U8("x"), 1);
  assert_true(rc == 0 || rc == DYNA_EFULL);
  int small_rc = dyna_store_commit(f->s);
  assert_true(small_rc == 0 || small_rc == DYNA_EFULL);
  assert_int_equal(count_keys(f, DYNA_SPACE_OBJ, ""), committed - deleted);

  fx_close(f);
  assert_int_equal(fx_open_map(f, DYNA_SYNC_BATCH, 1u << 20), 0);
  assert_int_equal(count_keys(f, DYNA_SPACE_OBJ, ""), committed - deleted);
  for (unsigned j = deleted; j < committed; j++) {
    assert_int_equal(get_rc(f, DYNA_SPACE_OBJ, nkey(k, 32, j)), 0);
    assert_int_equal(f->buf.len, 2000);
  }
  if (small_rc == 0) expect(f, DYNA_SPACE_META, "small", "x");
  else expect_absent(f, DYNA_SPACE_META, "small");
  print_message("map full: then a delete commit %s, a small commit %s\n",
                del_rc ? "failed" : "worked", small_rc ? "failed" : "worked");
}

/* ---- memory only ---- */

static void test_mem_crash(void **state) {
  fx_t *f = *state;
  put(f->s, DYNA_SPACE_OBJ, "a", "1");
  put(f->s, DYNA_SPACE_OBJ, "b", "1");
  assert_int_equal(dyna_store_commit(f->s), 0);
  put(f->s, DYNA_SPACE_OBJ, "c", "new");
  put(f->s, DYNA_SPACE_OBJ, "b", "2");
  del(f->s, DYNA_SPACE_OBJ, "a");
  put(f->s, DYNA_SPACE_OBJ, "a", "3"); /* del then re-put in one batch */
  del(f->s, DYNA_SPACE_OBJ, "c");
  put(f->s, DYNA_SPACE_META, "m", "new");
  dyna_store_mem_crash(f->s);
  expect(f, DYNA_SPACE_OBJ, "a", "1");
  expect(f, DYNA_SPACE_OBJ, "b", "1");
  expect_absent(f, DYNA_SPACE_OBJ, "c");
  expect_absent(f, DYNA_SPACE_META, "m");
  assert_int_equal(dyna_store_mem_count(f->s, DYNA_SPACE_OBJ), 2);
  assert_int_equal(dyna_store_mem_count(f->s, DYNA_SPACE_META), 0);
  assert_int_equal(dyna_store_pending(f->s), 0);
  put(f->s, DYNA_SPACE_OBJ, "d", "1"); /* usable afterwards */
  assert_int_equal(dyna_store_commit(f->s), 0);
  dyna_store_mem_crash(f->s);
  expect(f, DYNA_SPACE_OBJ, "d", "1");

  fx_reopen(f, DYNA_SYNC_ALWAYS); /* every write is durable at once */
  put(f->s, DYNA_SPACE_OBJ, "a", "1");
  del(f->s, DYNA_SPACE_OBJ, "a");
  put(f->s, DYNA_SPACE_OBJ, "b", "1");
  dyna_store_mem_crash(f->s);
  expect_absent(f, DYNA_SPACE_OBJ, "a");
  expect(f, DYNA_SPACE_OBJ, "b", "1");

  fx_reopen(f, DYNA_SYNC_NONE); /* committed = handed to the OS = survives */
  put(f->s, DYNA_SPACE_OBJ, "a", "1");
  assert_int_equal(dyna_store_commit(f->s), 0);
  put(f->s, DYNA_SPACE_OBJ, "b", "1");
  dyna_store_mem_crash(f->s);
  expect(f, DYNA_SPACE_OBJ, "a", "1");
  expect_absent(f, DYNA_SPACE_OBJ, "b");
}

static int cat_kv(void *arg, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen) {
  char *out = arg;
  size_t at = strlen(out);
  snprintf(out + at, 256 - at, "%.*s=%.*s;", (int)klen, (const char *)k, (int)vlen, (const char *)v);
  return 0;
}

/* "k=v;..." of a space as a store (or view) iterates it. */
static void listing(dyna_store_t *s, dyna_space_t sp, char out[256]) {
  out[0] = 0;
  assert_int_equal(dyna_store_iter(s, sp, U8(""), 0, cat_kv, out), 0);
}

/* The committed view shows exactly what a crash now would leave (the simulator checks
 * acknowledged writes on it). */
static void test_mem_durable_view(void **state) {
  fx_t *f = *state;
  dyna_store_t *view = dyna_store_mem_durable(f->s);
  put(f->s, DYNA_SPACE_OBJ, "a", "1");
  put(f->s, DYNA_SPACE_OBJ, "b", "1");
  put(f->s, DYNA_SPACE_OBJ, "e", "1");
  char before[256], after[256];
  listing(view, DYNA_SPACE_OBJ, before);
  assert_string_equal(before, ""); /* nothing committed yet */
  assert_int_equal(dyna_store_commit(f->s), 0);
  put(f->s, DYNA_SPACE_OBJ, "c", "new");
  put(f->s, DYNA_SPACE_OBJ, "b", "2");
  put(f->s, DYNA_SPACE_OBJ, "b", "3");
  del(f->s, DYNA_SPACE_OBJ, "a");
  put(f->s, DYNA_SPACE_OBJ, "a", "3");
  del(f->s, DYNA_SPACE_OBJ, "e");
  del(f->s, DYNA_SPACE_OBJ, "c");
  listing(view, DYNA_SPACE_OBJ, before);
  assert_string_equal(before, "a=1;b=1;e=1;");
  assert_int_equal(dyna_store_get(view, DYNA_SPACE_OBJ, U8("b"), 1, &f->buf), 0);
  assert_memory_equal(f->buf.data, "1", 1);
  assert_int_equal(dyna_store_get(view, DYNA_SPACE_OBJ, U8("c"), 1, &f->buf), DYNA_ENOTFOUND);
  assert_int_equal(dyna_store_put(view, DYNA_SPACE_OBJ, U8("x"), 1, U8("1"), 1), DYNA_EINVAL);
  dyna_store_mem_crash(f->s);
  listing(f->s, DYNA_SPACE_OBJ, after);
  assert_string_equal(after, before);
  put(f->s, DYNA_SPACE_OBJ, "d", "4");
  assert_int_equal(dyna_store_commit(f->s), 0);
  listing(view, DYNA_SPACE_OBJ, after);
  assert_string_equal(after, "a=1;b=1;d=4;e=1;");
}

static void test_mem_inject(void **state) {
  fx_t *f = *state;
  put(f->s, DYNA_SPACE_OBJ, "a", "1");
  assert_int_equal(dyna_store_commit(f->s), 0);

  /* a failing put rolls back the batch; the next commit reports it, once */
  put(f->s, DYNA_SPACE_OBJ, "b", "1");
  put(f->s, DYNA_SPACE_OBJ, "a", "2");
  dyna_store_mem_inject(f->s, DYNA_EIO);
  assert_int_equal(dyna_store_put(f->s, DYNA_SPACE_OBJ, U8("c"), 1, U8("1"), 1), DYNA_EIO);
  expect(f, DYNA_SPACE_OBJ, "a", "1");
  expect_absent(f, DYNA_SPACE_OBJ, "b");
  expect_absent(f, DYNA_SPACE_OBJ, "c");
  assert_int_equal(dyna_store_pending(f->s), 0);
  put(f->s, DYNA_SPACE_OBJ, "d", "1"); /* written after the failure */
  assert_int_equal(dyna_store_commit(f->s), DYNA_EIO);
  expect_absent(f, DYNA_SPACE_OBJ, "d"); /* dropped by the failing commit */
  assert_int_equal(dyna_store_commit(f->s), 0);
  put(f->s, DYNA_SPACE_OBJ, "e", "1");
  assert_int_equal(dyna_store_commit(f->s), 0);
  expect(f, DYNA_SPACE_OBJ, "e", "1");

  /* a failing commit */
  put(f->s, DYNA_SPACE_OBJ, "f", "1");
  dyna_store_mem_inject(f->s, DYNA_EFULL);
  assert_int_equal(dyna_store_commit(f->s), DYNA_EFULL);
  expect_absent(f, DYNA_SPACE_OBJ, "f");
  assert_int_equal(dyna_store_commit(f->s), 0);

  /* a failing del */
  put(f->s, DYNA_SPACE_OBJ, "g", "1");
  dyna_store_mem_inject(f->s, DYNA_EIO);
  assert_int_equal(dyna_store_del(f->s, DYNA_SPACE_OBJ, U8("a"), 1), DYNA_EIO);
  expect(f, DYNA_SPACE_OBJ, "a", "1");
  expect_absent(f, DYNA_SPACE_OBJ, "g");
  assert_int_equal(dyna_store_commit(f->s), DYNA_EIO);
  assert_int_equal(dyna_store_mem_count(f->s, DYNA_SPACE_OBJ), 2); /* a, e */

  /* ALWAYS: nothing to roll back, but the error is still reported */
  fx_reopen(f, DYNA_SYNC_ALWAYS);
  put(f->s, DYNA_SPACE_OBJ, "a", "1");
  dyna_store_mem_inject(f->s, DYNA_EIO);
  assert_int_equal(dyna_store_put(f->s, DYNA_SPACE_OBJ, U8("b"), 1, U8("1"), 1), DYNA_EIO);
  expect(f, DYNA_SPACE_OBJ, "a", "1");
  expect_absent(f, DYNA_SPACE_OBJ, "b");
  assert_int_equal(dyna_store_commit(f->s), DYNA_EIO);
  assert_int_equal(dyna_store_commit(f->s), 0);
}

/* Fails each allocation of a put/del in turn: the batch is rolled back, the error is
 * reported by commit, and the committed state is intact. Op 0 inserts a key, op 1
 * overwrites one, op 2 deletes one; each op's batch also holds a fresh key "batch<op>". */
static void test_mem_enomem(void **state) {
  fx_t *f = *state;
  char k[32];
  for (unsigned i = 0; i < 100; i++) put(f->s, DYNA_SPACE_OBJ, nkey(k, 32, i), "old");
  assert_int_equal(dyna_store_commit(f->s), 0);
  for (int op = 0; op < 3; op++) {
    char bk[16];
    snprintf(bk, sizeof(bk), "batch%d", op);
    int ok = 0;
    for (long nth = 0; nth < 20 && !ok; nth++) {
      put(f->s, DYNA_SPACE_OBJ, bk, "x");
      dyna_mem_fail_after(nth);
      int rc;
      if (op == 0) rc = dyna_store_put(f->s, DYNA_SPACE_OBJ, U8("new"), 3, U8("v"), 1);
      else if (op == 1) rc = dyna_store_put(f->s, DYNA_SPACE_OBJ, U8("key00000005"), 11, U8("v"), 1);
      else rc = dyna_store_del(f->s, DYNA_SPACE_OBJ, U8("key00000007"), 11);
      dyna_mem_fail_after(-1);
      if (rc == 0) {
        ok = 1;
        assert_int_equal(dyna_store_commit(f->s), 0);
        break;
      }
      assert_int_equal(rc, DYNA_ENOMEM);
      assert_int_equal(dyna_store_pending(f->s), 0);
      expect_absent(f, DYNA_SPACE_OBJ, bk);
      assert_int_equal(dyna_store_commit(f->s), DYNA_ENOMEM);
      assert_int_equal(dyna_store_commit(f->s), 0);
      assert_int_equal(dyna_store_mem_count(f->s, DYNA_SPACE_OBJ), 100u + 2u * (unsigned)op);
      expect(f, DYNA_SPACE_OBJ, "key00000005", op > 1 ? "v" : "old");
      expect(f, DYNA_SPACE_OBJ, "key00000007", "old");
    }
    assert_true(ok);
  }
  expect(f, DYNA_SPACE_OBJ, "new", "v");
  expect(f, DYNA_SPACE_OBJ, "key00000005", "v");
  expect_absent(f, DYNA_SPACE_OBJ, "key00000007");
  assert_int_equal(count_keys(f, DYNA_SPACE_OBJ, ""), 103);
  assert_int_equal(dyna_store_mem_count(f->s, DYNA_SPACE_OBJ), 103);
}

/* ---- table ---- */

#define T(eng, fn) {#eng "/" #fn, fn, setup, teardown, &eng_##eng}
#define BOTH(fn) T(mem, fn), T(lmdb, fn)

/* ---- LMDB pipelined group commit (BATCH) ---- */

typedef struct {
  char keys[64][16];
  char vals[64][16];
  int n;
} pseen_t;

static int psee(void *arg, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen) {
  pseen_t *s = arg;
  assert_true(s->n < 64 && klen < 16 && vlen < 16);
  memcpy(s->keys[s->n], k, klen);
  s->keys[s->n][klen] = 0;
  memcpy(s->vals[s->n], v, vlen);
  s->vals[s->n][vlen] = 0;
  s->n++;
  return 0;
}

static void test_lmdb_pipelined(void **state) {
  fx_t *f = *state;
  dyna_store_t *s = f->s;
  assert_non_null(s->ops->commit_async);
  assert_non_null(s->ops->poll);
  put(s, DYNA_SPACE_OBJ, "k1", "a");
  put(s, DYNA_SPACE_OBJ, "k3", "c");
  put(s, DYNA_SPACE_OBJ, "k5", "e");
  assert_int_equal(dyna_store_commit(s), 0); /* k1 k3 k5 in LMDB */
  put(s, DYNA_SPACE_OBJ, "k2", "b");
  del(s, DYNA_SPACE_OBJ, "k3");
  uint64_t ticket = 0, durable = 0;
  assert_int_equal(s->ops->commit_async(s, &ticket), 0);
  assert_true(ticket > 0);
  /* While that batch is in flight, the next one builds on top of it. */
  put(s, DYNA_SPACE_OBJ, "k4", "d");
  put(s, DYNA_SPACE_OBJ, "k5", "E");
  put(s, DYNA_SPACE_OBJ, "k3", "C");
  uint64_t t2 = 0;
  int rc = s->ops->commit_async(s, &t2);
  assert_true(rc == 0 || rc == DYNA_EBUSY); /* busy unless the writer was quick */
  expect(f, DYNA_SPACE_OBJ, "k2", "b");
  expect(f, DYNA_SPACE_OBJ, "k3", "C");
  expect(f, DYNA_SPACE_OBJ, "k5", "E");
  pseen_t seen = {0};
  assert_int_equal(dyna_store_iter(s, DYNA_SPACE_OBJ, U8("k"), 1, psee, &seen), 0);
  assert_int_equal(seen.n, 5); /* LMDB, in-flight and current batches merged, in order */
  const char *want_k[] = {"k1", "k2", "k3", "k4", "k5"}, *want_v[] = {"a", "b", "C", "d", "E"};
  for (int i = 0; i < 5; i++) {
    assert_string_equal(seen.keys[i], want_k[i]);
    assert_string_equal(seen.vals[i], want_v[i]);
  }
  /* The first batch becomes durable; poll reports it. */
  for (int i = 0; i < 10000 && durable < ticket; i++) {
    assert_int_equal(s->ops->poll(s, &durable), 0);
    if (durable < ticket) usleep(100);
  }
  assert_true(durable >= ticket);
  assert_int_equal(dyna_store_commit(s), 0); /* everything, and waits */
  assert_int_equal(dyna_store_pending(s), 0);
  fx_reopen(f, DYNA_SYNC_BATCH);
  pseen_t after = {0};
  assert_int_equal(dyna_store_iter(f->s, DYNA_SPACE_OBJ, U8("k"), 1, psee, &after), 0);
  assert_int_equal(after.n, 5);
  for (int i = 0; i < 5; i++) assert_string_equal(after.vals[i], want_v[i]);
}

/* any (store.h) against a model, through every layer the LMDB engine reads through: the
 * batch being built, batches in flight (commit_async), committed batches not yet in LMDB
 * and LMDB itself (a reopen checkpoints), with deletes in a newer layer hiding keys of an
 * older one. Keys "<a|b|c><0-7>" in two spaces, random puts, deletes, commits and
 * reopens (a fixed seed). The memory engine answers through iter (no any of its own). */
#define ANY_KEYS 24
static void test_any(void **state) {
  fx_t *f = *state;
  int live[2][ANY_KEYS] = {{0}}; /* the model: [space OBJ/HINT][key] */
  const dyna_space_t spaces[2] = {DYNA_SPACE_OBJ, DYNA_SPACE_HINT};
  const char *prefixes[] = {"", "a", "b", "c", "a3", "c7", "d"};
  uint32_t rnd = 12345;
  char k[4] = {0};
  int checked_live = 0, checked_dead = 0;
  for (int step = 0; step < 3000; step++) {
    rnd = rnd * 1103515245u + 12345u;
    uint32_t r = rnd >> 8, op = r % 100, sp = (r >> 8) % 2, key = (r >> 10) % ANY_KEYS;
    k[0] = (char)('a' + key / 8);
    k[1] = (char)('0' + key % 8);
    if (op < 45) {
      put(f->s, spaces[sp], k, "v");
      live[sp][key] = 1;
    } else if (op < 85) {
      if (live[sp][key]) del(f->s, spaces[sp], k);
      live[sp][key] = 0;
    } else if (op < 93) {
      assert_int_equal(dyna_store_commit(f->s), 0);
    } else if (op < 99) {
      uint64_t ticket;
      if (f->s->ops->commit_async) {
        int rc = f->s->ops->commit_async(f->s, &ticket);
        assert_true(rc == 0 || rc == DYNA_EBUSY);
      }
    } else {
      fx_reopen(f, DYNA_SYNC_BATCH); /* LMDB: a checkpoint; memory: empty again */
      if (f->engine == ENG_MEM) memset(live, 0, sizeof(live));
    }
    for (int s2 = 0; s2 < 2; s2++)
      for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        const char *pf = prefixes[i];
        size_t pl = strlen(pf);
        int want = 0;
        for (int j = 0; j < ANY_KEYS && !want; j++)
          want = live[s2][j] && (pl == 0 || (pf[0] == 'a' + j / 8 && (pl == 1 || pf[1] == '0' + j % 8)));
        int got = dyna_store_any(f->s, spaces[s2], U8(pf), pl);
        if (got != want)
          fail_msg("step %d: any(space %d, \"%s\") = %d, the model says %d", step, s2, pf, got, want);
        checked_live += want;
        checked_dead += !want;
      }
  }
  assert_true(checked_live > 1000 && checked_dead > 1000); /* both answers were asked for */
}

/* any against iteration and a model with partition-like 2-byte prefixes, batches large
 * enough for an overlay's prefix index (DYNA_OV_PINDEX_MIN), and a small map so that
 * checkpoints run in the background while the loop asks: the handoff sweep's question
 * (any) must agree with what its batch then collects (iter), or a leave never ends. */
#define MANY_PREFIXES 16
#define MANY_KEYS 2048

static int stop_first(void *arg, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen) {
  (void)k; (void)klen; (void)v; (void)vlen;
  *(int *)arg = 1;
  return 1;
}

static void test_any_many(void **state) {
  fx_t *f = *state;
  if (f->engine == ENG_LMDB) { /* 4 MiB map: a checkpoint every 512-768 KiB logged */
    fx_close(f);
    assert_int_equal(fx_open_map(f, DYNA_SYNC_BATCH, (size_t)4 << 20), 0);
  }
  static uint8_t live[MANY_KEYS];
  memset(live, 0, sizeof(live));
  char val[160];
  memset(val, 'v', sizeof(val));
  uint32_t rnd = 777;
  int checked_live = 0, checked_dead = 0;
  for (int round = 0; round < 300; round++) {
    rnd = rnd * 1103515245u + 12345u;
    /* a burst of writes: mostly small, some past the prefix index's threshold */
    int burst = (rnd >> 8) % 10 == 0 ? 700 : 1 + (int)((rnd >> 12) % 40);
    for (int i = 0; i < burst; i++) {
      rnd = rnd * 1103515245u + 12345u;
      uint32_t key = (rnd >> 8) % MANY_KEYS;
      uint8_t k[4] = {0, (uint8_t)(key % MANY_PREFIXES), (uint8_t)(key >> 8), (uint8_t)key};
      if ((rnd >> 24) % 100 < 55) {
        assert_int_equal(dyna_store_put(f->s, DYNA_SPACE_OBJ, k, 4, U8(val), sizeof(val)), 0);
        live[key] = 1;
      } else if (live[key]) {
        assert_int_equal(dyna_store_del(f->s, DYNA_SPACE_OBJ, k, 4), 0);
        live[key] = 0;
      }
    }
    /* then whole prefixes emptied, as a handoff empties a partition it moved: any must
     * say no at once, through every layer that still holds their keys */
    for (int w = 0; w < 3; w++) {
      rnd = rnd * 1103515245u + 12345u;
      for (uint32_t key = (rnd >> 8) % MANY_PREFIXES; key < MANY_KEYS; key += MANY_PREFIXES)
        if (live[key]) {
          uint8_t k[4] = {0, (uint8_t)(key % MANY_PREFIXES), (uint8_t)(key >> 8), (uint8_t)key};
          assert_int_equal(dyna_store_del(f->s, DYNA_SPACE_OBJ, k, 4), 0);
          live[key] = 0;
        }
    }
    uint64_t ticket, durable;
    if (f->s->ops->commit_async && (rnd >> 4) % 3) {
      int rc = f->s->ops->commit_async(f->s, &ticket);
      assert_true(rc == 0 || rc == DYNA_EBUSY);
      assert_int_equal(f->s->ops->poll(f->s, &durable), 0);
    } else if ((rnd >> 4) % 3 == 0) {
      assert_int_equal(dyna_store_commit(f->s), 0);
    }
    for (uint32_t p = 0; p < MANY_PREFIXES; p++) {
      uint8_t prefix[2] = {0, (uint8_t)p};
      int want = 0, seen = 0;
      for (uint32_t key = p; key < MANY_KEYS && !want; key += MANY_PREFIXES) want = live[key];
      assert_true(dyna_store_iter(f->s, DYNA_SPACE_OBJ, prefix, 2, stop_first, &seen) >= 0);
      int got = dyna_store_any(f->s, DYNA_SPACE_OBJ, prefix, 2);
      if (got != want || seen != want)
        fail_msg("round %d: prefix %u: any %d, iter %d, the model %d", round, p, got, seen, want);
      checked_live += want;
      checked_dead += !want;
    }
  }
  assert_true(checked_live > 500 && checked_dead > 500); /* both answers were asked for */
}

/* Under batch, a small batch is logged by the loop itself when the log thread is idle
 * (lmdb_batch.c, "The loop or the log thread"): durable as commit_async returns. A large
 * one goes to the thread; a small one queued behind it too, so the log keeps the
 * tickets' order, which a reopen (replay) checks. */
static void test_lmdb_small_batch_by_loop(void **state) {
  fx_t *f = *state;
  dyna_store_t *s = f->s;
  char k[32], v[32];
  for (unsigned i = 0; i < 3; i++) put(s, DYNA_SPACE_OBJ, nkey(k, sizeof(k), i), nval(v, sizeof(v), i));
  uint64_t ticket = 0, durable = 0;
  assert_int_equal(s->ops->commit_async(s, &ticket), 0);
  assert_true(ticket > 0);
  assert_int_equal(s->ops->poll(s, &durable), 0);
  assert_true(durable >= ticket); /* no waiting: the loop wrote and synced it */
  for (unsigned round = 0; round < 20; round++) {
    for (unsigned i = 0; i < 200; i++) /* more than LB_INLINE_WRITES: the thread's */
      put(s, DYNA_SPACE_OBJ, nkey(k, sizeof(k), 1000 + i), nval(v, sizeof(v), round * 1000 + i));
    uint64_t big = 0, small = 0;
    assert_int_equal(s->ops->commit_async(s, &big), 0);
    put(s, DYNA_SPACE_OBJ, nkey(k, sizeof(k), 5000 + round), nval(v, sizeof(v), round));
    int rc = s->ops->commit_async(s, &small); /* behind the big one, whoever logs it */
    assert_true(rc == 0 || rc == DYNA_EBUSY);
    for (int i = 0; i < 100000 && durable < big; i++) {
      assert_int_equal(s->ops->poll(s, &durable), 0);
      if (durable < big) usleep(50);
    }
    assert_true(durable >= big);
  }
  assert_int_equal(dyna_store_commit(s), 0);
  fx_reopen(f, DYNA_SYNC_BATCH); /* replays the log in ticket order */
  for (unsigned i = 0; i < 3; i++) expect(f, DYNA_SPACE_OBJ, nkey(k, sizeof(k), i), nval(v, sizeof(v), i));
  for (unsigned i = 0; i < 200; i++)
    expect(f, DYNA_SPACE_OBJ, nkey(k, sizeof(k), 1000 + i), nval(v, sizeof(v), 19 * 1000 + i));
  for (unsigned r = 0; r < 20; r++) expect(f, DYNA_SPACE_OBJ, nkey(k, sizeof(k), 5000 + r), nval(v, sizeof(v), r));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      BOTH(test_get_put_del),
      BOTH(test_overwrite),
      BOTH(test_empty_value),
      BOTH(test_spaces_separate),
      BOTH(test_iter_order_prefix),
      BOTH(test_iter_stop),
      BOTH(test_iter_sees_uncommitted),
      BOTH(test_iter_callback_writes),
      BOTH(test_limits),
      BOTH(test_pending),
      BOTH(test_many_keys),
      BOTH(test_prefetch_changes_nothing),
      BOTH(test_any),
      BOTH(test_any_many),
      T(lmdb, test_lmdb_reopen),
      T(lmdb, test_lmdb_count),
      T(lmdb, test_lmdb_locked),
      T(lmdb, test_lmdb_crash),
      T(lmdb, test_lmdb_map_full),
      T(lmdb, test_lmdb_pipelined),
      T(lmdb, test_lmdb_small_batch_by_loop),
      T(mem, test_mem_crash),
      T(mem, test_mem_durable_view),
      T(mem, test_mem_inject),
      T(mem, test_mem_enomem),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
