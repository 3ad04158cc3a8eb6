/* test_wal.c: the write-ahead log of the LMDB engine's batch policy (store/wal.h,
 * store/lmdb_batch.c).
 *
 *  - the record format: round trip, every truncation and every flipped byte refused;
 *  - checkpoints: with a small map (checkpoints every map/8 bytes) a long run of
 *    overwrites and deletes keeps a bounded number of log segments, reads and
 *    iteration see the newest write through every layer, and a reopen finds it all;
 *  - recovery: a child that dies without closing (log only, and after checkpoints) loses
 *    no committed batch; a torn tail is dropped; damage inside an older segment or a
 *    missing segment fails the open with DYNA_ECORRUPT and leaves the files alone.
 * Directories are made with mkdtemp under $TMPDIR (or /tmp) and removed afterwards. */
#include "store/lmdb.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/alloc.h"
#include "store/overlay.h"
#include "store/store.h"
#include "store/wal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define U8(s) ((const uint8_t *)(s))
#define MAP_SMALL ((size_t)4 << 20) /* checkpoints every 512 KiB */

typedef struct {
  char dir[PATH_MAX];
  dyna_buf_t buf;
} fx_t;

static int setup(void **state) {
  fx_t *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  const char *tmp = getenv("TMPDIR");
  snprintf(f->dir, sizeof(f->dir), "%s/dyna-wal-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  assert_non_null(mkdtemp(f->dir));
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx_t *f = *state;
  DIR *d = opendir(f->dir);
  struct dirent *e;
  char path[PATH_MAX + 256];
  while (d && (e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(path, sizeof(path), "%s/%s", f->dir, e->d_name);
    unlink(path);
  }
  if (d) closedir(d);
  rmdir(f->dir);
  dyna_buf_free(&f->buf);
  free(f);
  return 0;
}

static size_t log_bytes; /* set by segments(): their total size */

/* Number of log segments in dir; *last gets the path of the newest. */
static int segments(const char *dir, char *last, size_t lastlen) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  char best[256] = "";
  struct dirent *e;
  log_bytes = 0;
  while ((e = readdir(d))) {
    size_t len = strlen(e->d_name);
    if (strncmp(e->d_name, "wal-", 4) || len < 4 || strcmp(e->d_name + len - 4, ".log")) continue;
    n++;
    if (strcmp(e->d_name, best) > 0) snprintf(best, sizeof(best), "%s", e->d_name);
    char path[PATH_MAX + 256];
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    FILE *fp = fopen(path, "rb"); /* bytes up to the last non-zero one: the zero fill */
    size_t at = 0, end = 0;       /* of a preallocated segment is not log */
    int c;
    while (fp && (c = fgetc(fp)) != EOF)
      if (++at, c) end = at;
    if (fp) fclose(fp);
    log_bytes += end;
  }
  closedir(d);
  if (last) snprintf(last, lastlen, "%s/%s", dir, best);
  return n;
}

static void key_of(char *k, size_t n, unsigned i) { snprintf(k, n, "key-%06u", i); }

/* A value of `len` bytes derived from (i, round). */
static size_t val_of(uint8_t *v, size_t len, unsigned i, unsigned round) {
  for (size_t j = 0; j < len; j++) v[j] = (uint8_t)(i * 31 + round * 7 + j);
  return len;
}

/* ---- the record format ---- */

typedef struct seen {
  unsigned n, tombs;
  size_t bytes;
} seen_t;

static int count_entry(void *arg, dyna_space_t sp, int tomb, const uint8_t *k, size_t klen,
                       const uint8_t *v, size_t vlen) {
  seen_t *s = arg;
  (void)sp, (void)k, (void)v;
  s->n++;
  s->tombs += (unsigned)tomb;
  s->bytes += klen + vlen;
  return 0;
}

static void test_record_format(void **state) {
  (void)state;
  dyna_overlay_t ov;
  dyna_ov_init(&ov);
  assert_int_equal(dyna_ov_set(&ov, DYNA_SPACE_OBJ, U8("a"), 1, U8("1"), 1, 0), 0);
  assert_int_equal(dyna_ov_set(&ov, DYNA_SPACE_META, U8("meta"), 4, U8(""), 0, 0), 0);
  assert_int_equal(dyna_ov_set(&ov, DYNA_SPACE_HINT, U8("gone"), 4, NULL, 0, 1), 0);
  dyna_buf_t rec = DYNA_BUF_INIT;
  dyna_wal_encode(&ov, 7, 42, &rec);
  assert_false(rec.oom);
  size_t used, plen;
  uint64_t seq;
  const uint8_t *payload;
  assert_int_equal(dyna_wal_decode(rec.data, rec.len, 7, &used, &seq, &payload, &plen), 0);
  assert_int_equal(used, rec.len);
  assert_int_equal(seq, 42);
  seen_t s = {0};
  assert_int_equal(dyna_wal_entries(payload, plen, count_entry, &s), 0);
  assert_int_equal(s.n, 3);
  assert_int_equal(s.tombs, 1);
  assert_int_equal(s.bytes, 1 + 1 + 4 + 4);
  /* every truncation: the empty tail is the clean end, anything else is refused */
  assert_int_equal(dyna_wal_decode(rec.data, 0, 7, &used, &seq, &payload, &plen), DYNA_EAGAIN);
  for (size_t cut = 1; cut < rec.len; cut++)
    assert_int_equal(dyna_wal_decode(rec.data, cut, 7, &used, &seq, &payload, &plen), DYNA_ECORRUPT);
  /* every single flipped byte is refused */
  for (size_t i = 0; i < rec.len; i++) {
    rec.data[i] ^= 0x5a;
    assert_int_equal(dyna_wal_decode(rec.data, rec.len, 7, &used, &seq, &payload, &plen), DYNA_ECORRUPT);
    rec.data[i] ^= 0x5a;
  }
  /* the same record read as part of another segment (a recycled file's past) */
  assert_int_equal(dyna_wal_decode(rec.data, rec.len, 8, &used, &seq, &payload, &plen), DYNA_ECORRUPT);
  /* an empty batch makes the end record: intact, no entries */
  dyna_overlay_t none;
  dyna_ov_init(&none);
  dyna_buf_t end = DYNA_BUF_INIT;
  dyna_wal_encode(&none, 7, 43, &end);
  assert_int_equal(dyna_wal_decode(end.data, end.len, 7, &used, &seq, &payload, &plen), 0);
  assert_int_equal(used, DYNA_WAL_HEADER);
  assert_int_equal(plen, 0);
  dyna_buf_free(&end);
  /* malformed entries inside an intact record */
  const uint8_t bad_space[] = {9, 0, 1, 0, 0, 0, 0, 0, 0, 0, 'k'};
  assert_int_equal(dyna_wal_entries(bad_space, sizeof(bad_space), count_entry, &s), DYNA_ECORRUPT);
  const uint8_t tomb_with_value[] = {0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 'k', 'v'};
  assert_int_equal(dyna_wal_entries(tomb_with_value, sizeof(tomb_with_value), count_entry, &s),
                   DYNA_ECORRUPT);
  const uint8_t short_key[] = {0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 'k'};
  assert_int_equal(dyna_wal_entries(short_key, sizeof(short_key), count_entry, &s), DYNA_ECORRUPT);
  const uint8_t empty_key[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  assert_int_equal(dyna_wal_entries(empty_key, sizeof(empty_key), count_entry, &s), DYNA_ECORRUPT);
  dyna_buf_free(&rec);
  dyna_ov_clear(&ov);
}

/* ---- checkpoints ---- */

#define CK_KEYS 600u
#define CK_ROUNDS 20u
#define CK_VLEN 700u

static int count_fn(void *arg, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen) {
  (void)k, (void)klen, (void)v, (void)vlen;
  (*(unsigned *)arg)++;
  return 0;
}

/* Checks every key against round `round`'s writes: keys with i % 5 == round % 5 deleted
 * in that round, the others holding that round's value. */
static void check_round(fx_t *f, dyna_store_t *s, unsigned round) {
  char k[32];
  uint8_t want[CK_VLEN];
  unsigned live = 0;
  for (unsigned i = 0; i < CK_KEYS; i++) {
    key_of(k, sizeof(k), i);
    int rc = dyna_store_get(s, DYNA_SPACE_OBJ, U8(k), strlen(k), &f->buf);
    if (i % 5 == round % 5) {
      assert_int_equal(rc, DYNA_ENOTFOUND);
      continue;
    }
    live++;
    assert_int_equal(rc, 0);
    assert_int_equal(f->buf.len, CK_VLEN);
    val_of(want, CK_VLEN, i, round);
    assert_memory_equal(f->buf.data, want, CK_VLEN);
  }
  unsigned n = 0;
  assert_int_equal(dyna_store_iter(s, DYNA_SPACE_OBJ, U8("key-"), 4, count_fn, &n), 0);
  assert_int_equal(n, live);
}

/* Writes round `round`: every key rewritten, one in five deleted, in batches of 50 that
 * go through commit_async/poll as the server drives them. */
static void write_round(dyna_store_t *s, unsigned round) {
  char k[32];
  uint8_t v[CK_VLEN];
  for (unsigned i = 0; i < CK_KEYS; i++) {
    key_of(k, sizeof(k), i);
    val_of(v, CK_VLEN, i, round);
    assert_int_equal(dyna_store_put(s, DYNA_SPACE_OBJ, U8(k), strlen(k), v, CK_VLEN), 0);
    if (i % 5 == round % 5)
      assert_int_equal(dyna_store_del(s, DYNA_SPACE_OBJ, U8(k), strlen(k)), 0);
    if (i % 50 == 49) {
      uint64_t ticket, durable;
      int rc = s->ops->commit_async(s, &ticket);
      assert_true(rc == 0 || rc == DYNA_EBUSY);
      assert_int_equal(s->ops->poll(s, &durable), 0);
    }
  }
  assert_int_equal(dyna_store_commit(s), 0);
}

static void test_checkpoints(void **state) {
  fx_t *f = *state;
  dyna_store_t *s;
  assert_int_equal(dyna_store_lmdb_open(f->dir, DYNA_SYNC_BATCH, MAP_SMALL, &s), 0);
  int most = 0;
  size_t most_bytes = 0;
  for (unsigned round = 0; round < CK_ROUNDS; round++) {
    write_round(s, round);
    check_round(f, s, round); /* through cur, fly, logged, ckpt and LMDB */
    int n = segments(f->dir, NULL, 0);
    if (n > most) most = n;
    if (log_bytes > most_bytes) most_bytes = log_bytes;
  }
  /* 20 rounds x 600 x 700 B = 8.4 MB logged, 512 KiB per checkpoint: the log is cut
   * back all the time (the segment being checkpointed, the one being written; with
   * back-pressure each under 4 x 512 KiB) */
  print_message("checkpoints: at most %d log segments, %zu bytes at once\n", most, most_bytes);
  assert_true(most <= 3);
  assert_true(most_bytes < (size_t)4 << 20);
  dyna_store_close(s); /* checkpoints the rest: no log left */
  assert_int_equal(segments(f->dir, NULL, 0), 0);
  assert_int_equal(dyna_store_lmdb_open(f->dir, DYNA_SYNC_BATCH, MAP_SMALL, &s), 0);
  check_round(f, s, CK_ROUNDS - 1);
  dyna_store_close(s);
}

/* ---- recovery ---- */

/* Child: opens dir under policy sync, writes `rounds` rounds (each committed), reports,
 * _exits without closing (as a crash would: only what was made durable, or under none
 * handed to the OS, counts). */
static void die_after_sync(const char *dir, unsigned rounds, dyna_sync_t sync) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    dyna_store_t *s;
    if (dyna_store_lmdb_open(dir, sync, MAP_SMALL, &s)) _exit(2);
    for (unsigned r = 0; r < rounds; r++) write_round(s, r);
    _exit(0);
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void die_after(const char *dir, unsigned rounds) {
  die_after_sync(dir, rounds, DYNA_SYNC_BATCH);
}

static void test_crash_replay(void **state) {
  fx_t *f = *state;
  dyna_store_t *s;
  die_after(f->dir, 1); /* the log only: no checkpoint yet */
  assert_true(segments(f->dir, NULL, 0) >= 1);
  assert_int_equal(dyna_store_lmdb_open(f->dir, DYNA_SYNC_BATCH, MAP_SMALL, &s), 0);
  check_round(f, s, 0);
  assert_int_equal(segments(f->dir, NULL, 0), 0); /* replayed and checkpointed at open */
  dyna_store_close(s);
  die_after(f->dir, 7); /* checkpoints came and went, then a crash */
  assert_int_equal(dyna_store_lmdb_open(f->dir, DYNA_SYNC_BATCH, MAP_SMALL, &s), 0);
  check_round(f, s, 6);
  dyna_store_close(s);
}

/* none goes through the log too, without fdatasync: a turn's writes are one append, not
 * an LMDB commit of a page per key; a process crash loses nothing handed over. */
static void test_none_logs(void **state) {
  fx_t *f = *state;
  dyna_store_t *s;
  assert_int_equal(dyna_store_lmdb_open(f->dir, DYNA_SYNC_NONE, MAP_SMALL, &s), 0);
  assert_non_null(s->ops->commit_async); /* pipelined as batch is */
  write_round(s, 0);
  assert_true(segments(f->dir, NULL, 0) >= 1); /* the writes are in the log */
  check_round(f, s, 0);
  dyna_store_close(s); /* checkpoints the rest: no log left */
  assert_int_equal(segments(f->dir, NULL, 0), 0);
  die_after_sync(f->dir, 3, DYNA_SYNC_NONE); /* a crash after three rounds */
  assert_true(segments(f->dir, NULL, 0) >= 1);
  assert_int_equal(dyna_store_lmdb_open(f->dir, DYNA_SYNC_NONE, MAP_SMALL, &s), 0);
  check_round(f, s, 2);
  dyna_store_close(s);
}

/* Appends raw bytes to a file, creating it if need be. */
static void append_bytes_new(const char *path, const void *p, size_t n) {
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, p, n), (ssize_t)n);
  close(fd);
}

/* Appends raw bytes to a file. */
static void append_bytes(const char *path, const void *p, size_t n) {
  int fd = open(path, O_WRONLY | O_APPEND);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, p, n), (ssize_t)n);
  close(fd);
}

static void test_torn_tail(void **state) {
  fx_t *f = *state;
  dyna_store_t *s;
  /* One round: no checkpoint is due yet, so the log holds it (after two, a checkpoint
   * could cover everything and drop every segment before the crash, as it did when the
   * loop began logging small batches itself). */
  die_after(f->dir, 1);
  char last[PATH_MAX + 64];
  assert_true(segments(f->dir, last, sizeof(last)) >= 1);
  /* a record cut short by the crash: a good header, half a payload */
  dyna_overlay_t ov;
  dyna_ov_init(&ov);
  assert_int_equal(dyna_ov_set(&ov, DYNA_SPACE_OBJ, U8("key-000001"), 10, U8("torn"), 4, 0), 0);
  dyna_buf_t rec = DYNA_BUF_INIT;
  dyna_wal_encode(&ov, 1, 1u << 30, &rec);
  append_bytes(last, rec.data, rec.len - 3);
  dyna_buf_free(&rec);
  dyna_ov_clear(&ov);
  assert_int_equal(dyna_store_lmdb_open(f->dir, DYNA_SYNC_BATCH, MAP_SMALL, &s), 0);
  check_round(f, s, 0); /* all there; the torn write is not */
  dyna_store_close(s);
}

/* A log opened on an empty directory, ready for appends. */
static dyna_wal_t *fresh_log(const char *dir) {
  dyna_wal_t *w;
  assert_int_equal(dyna_wal_open(dir, &w), 0);
  dyna_overlay_t none;
  dyna_ov_init(&none);
  char err[256];
  assert_int_equal(dyna_wal_replay(w, 0, &none, err, sizeof(err)), 0);
  assert_int_equal(none.n, 0);
  return w;
}

/* Writes two segments by hand (segment 1: batches a and b, segment 2: batch c). */
static void two_segments(const char *dir) {
  dyna_wal_t *w;
  assert_int_equal(dyna_wal_open(dir, &w), 0);
  dyna_overlay_t ov;
  dyna_ov_init(&ov);
  char err[256];
  assert_int_equal(dyna_wal_replay(w, 0, &ov, err, sizeof(err)), 0);
  assert_int_equal(ov.n, 0);
  assert_int_equal(dyna_ov_set(&ov, DYNA_SPACE_OBJ, U8("a"), 1, U8("1"), 1, 0), 0);
  assert_int_equal(dyna_wal_append(w, &ov), 0);
  dyna_ov_clear(&ov);
  assert_int_equal(dyna_ov_set(&ov, DYNA_SPACE_OBJ, U8("b"), 1, U8("2"), 1, 0), 0);
  assert_int_equal(dyna_wal_append(w, &ov), 0);
  assert_int_equal(dyna_wal_roll(w), 1);
  dyna_ov_clear(&ov);
  assert_int_equal(dyna_ov_set(&ov, DYNA_SPACE_OBJ, U8("c"), 1, U8("3"), 1, 0), 0);
  assert_int_equal(dyna_wal_append(w, &ov), 0);
  assert_int_equal(dyna_wal_segment(w), 2);
  dyna_ov_clear(&ov);
  dyna_wal_close(w);
}

static void seg_file(const char *dir, int n, char *path, size_t len) {
  snprintf(path, len, "%s/wal-%016x.log", dir, n);
}

static off_t file_size(const char *path) {
  struct stat st;
  return stat(path, &st) ? -1 : st.st_size;
}

static void expect_val(fx_t *f, dyna_store_t *s, const char *k, const char *v) {
  assert_int_equal(dyna_store_get(s, DYNA_SPACE_OBJ, U8(k), strlen(k), &f->buf), 0);
  assert_int_equal(f->buf.len, strlen(v));
  assert_memory_equal(f->buf.data, v, strlen(v));
}

static void test_segments_replayed(void **state) {
  fx_t *f = *state;
  two_segments(f->dir);
  dyna_store_t *s;
  assert_int_equal(dyna_store_lmdb_open(f->dir, DYNA_SYNC_BATCH, 0, &s), 0);
  expect_val(f, s, "a", "1");
  expect_val(f, s, "b", "2");
  expect_val(f, s, "c", "3");
  dyna_store_close(s);
  assert_int_equal(segments(f->dir, NULL, 0), 0);
}

/* Several batches appended together (one write, one fdatasync) replay in order: the
 * later batch's write to a key wins. */
static void test_append_several(void **state) {
  fx_t *f = *state;
  dyna_wal_t *w;
  assert_int_equal(dyna_wal_open(f->dir, &w), 0);
  dyna_overlay_t ov[3], all;
  dyna_ov_init(&all);
  char err[256];
  assert_int_equal(dyna_wal_replay(w, 0, &all, err, sizeof(err)), 0);
  const dyna_overlay_t *b[3];
  for (int i = 0; i < 3; i++) {
    dyna_ov_init(&ov[i]);
    char v[8];
    snprintf(v, sizeof(v), "%d", i);
    assert_int_equal(dyna_ov_set(&ov[i], DYNA_SPACE_OBJ, U8("same"), 4, U8(v), 1, 0), 0);
    assert_int_equal(dyna_ov_set(&ov[i], DYNA_SPACE_OBJ, U8(i == 0 ? "k0" : i == 1 ? "k1" : "k2"), 2, U8(v), 1, 0), 0);
    b[i] = &ov[i];
  }
  assert_int_equal(dyna_wal_append_n(w, b, 3), 0);
  dyna_wal_close(w);
  for (int i = 0; i < 3; i++) dyna_ov_clear(&ov[i]);
  dyna_store_t *s;
  assert_int_equal(dyna_store_lmdb_open(f->dir, DYNA_SYNC_BATCH, 0, &s), 0);
  expect_val(f, s, "same", "2");
  expect_val(f, s, "k0", "0");
  expect_val(f, s, "k1", "1");
  expect_val(f, s, "k2", "2");
  dyna_store_close(s);
}

/* The loop hands a batch over every turn without waiting for the one before: reads see
 * the newest queued write, tickets become durable in order, and everything survives a
 * reopen. */
static void test_queued_batches(void **state) {
  fx_t *f = *state;
  dyna_store_t *s;
  assert_int_equal(dyna_store_lmdb_open(f->dir, DYNA_SYNC_BATCH, 0, &s), 0);
  uint64_t last = 0, durable = 0;
  int queued = 0;
  char k[32], v[32];
  for (unsigned i = 0; i < 200; i++) {
    key_of(k, sizeof(k), i);
    snprintf(v, sizeof(v), "v%u", i);
    assert_int_equal(dyna_store_put(s, DYNA_SPACE_OBJ, U8(k), strlen(k), U8(v), strlen(v)), 0);
    assert_int_equal(dyna_store_put(s, DYNA_SPACE_OBJ, U8("same"), 4, U8(v), strlen(v)), 0);
    uint64_t t = 0;
    int rc = s->ops->commit_async(s, &t);
    assert_true(rc == 0 || rc == DYNA_EBUSY);
    if (!rc) {
      assert_true(t > last);
      last = t;
      queued++;
    }
    expect_val(f, s, "same", v); /* the newest write, wherever it is queued */
    uint64_t d = 0;
    assert_int_equal(s->ops->poll(s, &d), 0);
    assert_true(d >= durable && d <= last);
    durable = d;
  }
  assert_true(queued > 1);
  assert_int_equal(dyna_store_commit(s), 0); /* waits for the queue, then the rest */
  assert_int_equal(s->ops->poll(s, &durable), 0);
  assert_true(durable >= last);
  dyna_store_close(s);
  assert_int_equal(dyna_store_lmdb_open(f->dir, DYNA_SYNC_BATCH, 0, &s), 0);
  for (unsigned i = 0; i < 200; i++) {
    key_of(k, sizeof(k), i);
    snprintf(v, sizeof(v), "v%u", i);
    expect_val(f, s, k, v);
  }
  expect_val(f, s, "same", "v199");
  dyna_store_close(s);
}

/* A put that fails drops the batch and leaves nothing pending, yet the next
 * commit_async must report it: the runtime calls it even with nothing pending, so that
 * answers depending on the dropped writes fail instead of being taken for durable. */
static void test_failed_put_reported_by_commit_async(void **state) {
  fx_t *f = *state;
  dyna_store_t *s;
  assert_int_equal(dyna_store_lmdb_open(f->dir, DYNA_SYNC_BATCH, (size_t)1 << 20, &s), 0);
  assert_int_equal(dyna_store_put(s, DYNA_SPACE_OBJ, U8("a"), 1, U8("1"), 1), 0);
  size_t big = (size_t)2 << 20; /* larger than the map: the batch can never commit */
  uint8_t *v = calloc(1, big);
  assert_non_null(v);
  assert_int_equal(dyna_store_put(s, DYNA_SPACE_OBJ, U8("b"), 1, v, big), DYNA_EFULL);
  free(v);
  assert_int_equal(dyna_store_pending(s), 0);
  uint64_t t = 1;
  assert_int_equal(s->ops->commit_async(s, &t), DYNA_EFULL);
  assert_int_equal(t, 0);
  assert_int_equal(s->ops->commit_async(s, &t), 0); /* reported once */
  assert_int_equal(dyna_store_get(s, DYNA_SPACE_OBJ, U8("a"), 1, &f->buf), DYNA_ENOTFOUND);
  dyna_store_close(s);
}

static void test_corrupt_older_segment(void **state) {
  fx_t *f = *state;
  two_segments(f->dir);
  char p1[PATH_MAX + 64], p2[PATH_MAX + 64];
  seg_file(f->dir, 1, p1, sizeof(p1));
  seg_file(f->dir, 2, p2, sizeof(p2));
  off_t s1 = file_size(p1), s2 = file_size(p2);
  assert_true(s1 > 0 && s2 > 0);
  /* one flipped byte in the last record of segment 1, its end record (not the newest
   * segment) */
  int fd = open(p1, O_RDWR);
  assert_true(fd >= 0);
  uint8_t b;
  assert_int_equal(pread(fd, &b, 1, s1 - 1), 1);
  b ^= 1;
  assert_int_equal(pwrite(fd, &b, 1, s1 - 1), 1);
  close(fd);
  dyna_store_t *s = NULL;
  assert_int_equal(dyna_store_lmdb_open(f->dir, DYNA_SYNC_BATCH, 0, &s), DYNA_ECORRUPT);
  assert_int_equal(file_size(p1), s1); /* the log is left as it was */
  assert_int_equal(file_size(p2), s2);
  /* the same damage in the newest segment is a torn tail: the record is dropped */
  b ^= 1;
  fd = open(p1, O_RDWR);
  assert_int_equal(pwrite(fd, &b, 1, s1 - 1), 1);
  close(fd);
  fd = open(p2, O_RDWR);
  assert_int_equal(pread(fd, &b, 1, s2 - 1), 1);
  b ^= 1;
  assert_int_equal(pwrite(fd, &b, 1, s2 - 1), 1);
  close(fd);
  assert_int_equal(dyna_store_lmdb_open(f->dir, DYNA_SYNC_BATCH, 0, &s), 0);
  expect_val(f, s, "a", "1");
  expect_val(f, s, "b", "2");
  assert_int_equal(dyna_store_get(s, DYNA_SPACE_OBJ, U8("c"), 1, &f->buf), DYNA_ENOTFOUND);
  dyna_store_close(s);
}

static void test_missing_segment(void **state) {
  fx_t *f = *state;
  two_segments(f->dir);
  char p1[PATH_MAX + 64], p2[PATH_MAX + 64];
  seg_file(f->dir, 1, p1, sizeof(p1));
  seg_file(f->dir, 2, p2, sizeof(p2));
  assert_int_equal(unlink(p1), 0);
  off_t s2 = file_size(p2);
  dyna_store_t *s = NULL;
  assert_int_equal(dyna_store_lmdb_open(f->dir, DYNA_SYNC_BATCH, 0, &s), DYNA_ECORRUPT);
  assert_int_equal(file_size(p2), s2);
}

/* Segments preallocated with zeros: an older segment ends at its end record, and what
 * follows is not read. */
static void test_prepared_segments(void **state) {
  fx_t *f = *state;
  dyna_wal_t *w = fresh_log(f->dir);
  dyna_overlay_t ov;
  dyna_ov_init(&ov);
  const char *keys[] = {"a", "b", "c"};
  for (int i = 0; i < 3; i++) {
    if (i != 1) assert_int_equal(dyna_wal_prepare(w, 64 << 10, NULL), 0);
    if (i == 2) dyna_wal_roll(w);
    assert_int_equal(dyna_ov_set(&ov, DYNA_SPACE_OBJ, U8(keys[i]), 1, U8(keys[i]), 1, 0), 0);
    assert_int_equal(dyna_wal_append(w, &ov), 0);
    dyna_ov_clear(&ov);
  }
  assert_int_equal(dyna_wal_segment(w), 2);
  dyna_wal_close(w);
  char p1[PATH_MAX + 64], p2[PATH_MAX + 64];
  seg_file(f->dir, 1, p1, sizeof(p1));
  seg_file(f->dir, 2, p2, sizeof(p2));
  assert_int_equal(file_size(p1), 64 << 10); /* appends went into the zeroed files */
  assert_int_equal(file_size(p2), 64 << 10);
  /* where segment 1's end record is: right after its two records */
  int fd = open(p1, O_RDWR);
  assert_true(fd >= 0);
  uint8_t head[DYNA_WAL_HEADER];
  off_t end_at = 0;
  for (int r = 0; r < 2; r++) {
    assert_int_equal(pread(fd, head, sizeof(head), end_at), (ssize_t)sizeof(head));
    end_at += DYNA_WAL_HEADER + (head[4] | head[5] << 8);
  }
  assert_int_equal(pread(fd, head, sizeof(head), end_at), (ssize_t)sizeof(head));
  assert_int_equal(head[4] | head[5] | head[6] | head[7], 0); /* no entries: the end record */
  /* a stray byte after the end record: not read */
  uint8_t one = 1;
  assert_int_equal(pwrite(fd, &one, 1, (64 << 10) - 1), 1);
  dyna_store_t *s = NULL;
  assert_int_equal(dyna_store_lmdb_open(f->dir, DYNA_SYNC_BATCH, 0, &s), 0);
  expect_val(f, s, "a", "a");
  dyna_store_close(s);
  assert_int_equal(segments(f->dir, NULL, 0), 0);
  close(fd);
}

/* A store's first segment overwrites a zero fill, as the later ones do: the store
 * prepares it at open (a growing file makes every fdatasync write the inode too). A clean
 * close keeps the file ready for the next segment, and the next start takes it over. */
static void test_first_segment_prepared(void **state) {
  fx_t *f = *state;
  char p1[PATH_MAX + 64], next[PATH_MAX + 64];
  seg_file(f->dir, 1, p1, sizeof(p1));
  snprintf(next, sizeof(next), "%s/wal-next.tmp", f->dir);
  dyna_store_t *s = NULL;
  assert_int_equal(dyna_store_lmdb_open(f->dir, DYNA_SYNC_BATCH, MAP_SMALL, &s), 0);
  off_t fill = file_size(next);
  assert_true(fill >= 512 << 10); /* 2 x the checkpoint threshold of MAP_SMALL */
  assert_int_equal(dyna_store_put(s, DYNA_SPACE_OBJ, U8("k"), 1, U8("v1"), 2), 0);
  assert_int_equal(dyna_store_commit(s), 0);
  assert_int_equal(file_size(next), -1); /* taken by segment 1 */
  assert_int_equal(file_size(p1), fill); /* the record went into the zeros */
  assert_int_equal(segments(f->dir, NULL, 0), 1);
  assert_true(log_bytes < 4096);
  dyna_store_close(s); /* checkpoints segment 1, which becomes the next one's file */
  assert_true(file_size(next) >= fill);
  assert_int_equal(dyna_store_lmdb_open(f->dir, DYNA_SYNC_BATCH, MAP_SMALL, &s), 0);
  expect_val(f, s, "k", "v1");
  assert_int_equal(dyna_store_put(s, DYNA_SPACE_OBJ, U8("k"), 1, U8("v2"), 2), 0);
  assert_int_equal(dyna_store_commit(s), 0);
  char p2[PATH_MAX + 64];
  seg_file(f->dir, 2, p2, sizeof(p2));
  assert_true(file_size(p2) >= fill); /* the kept file */
  dyna_store_close(s);
  assert_int_equal(dyna_store_lmdb_open(f->dir, DYNA_SYNC_BATCH, MAP_SMALL, &s), 0);
  expect_val(f, s, "k", "v2");
  dyna_store_close(s);
}

/* The next segment's file is made while the current one fills up: halfway, the
 * checkpoint thread zero-fills a whole segment as wal-next.tmp, and the segment does not
 * roll before it is there, so the next one writes into it rather than growing a new
 * file (the first segment's successor used to grow for its whole length). The first
 * segment of a run rolls before it outgrows the file prepared at open. */
/* Puts key i with its 1000-byte value (round 0); every 20th put commits: returns 1 then. */
static int put_key(dyna_store_t *s, unsigned i) {
  char k[32];
  uint8_t v[1000];
  key_of(k, sizeof(k), i);
  val_of(v, sizeof(v), i, 0);
  assert_int_equal(dyna_store_put(s, DYNA_SPACE_OBJ, U8(k), strlen(k), v, sizeof(v)), 0);
  if (i % 20 != 19) return 0;
  assert_int_equal(dyna_store_commit(s), 0);
  return 1;
}

static void next_segment_prepared(fx_t *f, size_t map, off_t seg_min) {
  char next[PATH_MAX + 64], p1[PATH_MAX + 64], p2[PATH_MAX + 64], p3[PATH_MAX + 64];
  snprintf(next, sizeof(next), "%s/wal-next.tmp", f->dir);
  seg_file(f->dir, 1, p1, sizeof(p1));
  seg_file(f->dir, 2, p2, sizeof(p2));
  seg_file(f->dir, 3, p3, sizeof(p3));
  assert_int_equal(segments(f->dir, NULL, 0), 0); /* a new store */
  assert_int_equal(file_size(next), -1);
  dyna_store_t *s = NULL;
  assert_int_equal(dyna_store_lmdb_open(f->dir, DYNA_SYNC_BATCH, map, &s), 0);
  off_t fill = file_size(next); /* prepared at open for segment 1 */
  assert_true(fill >= 512 << 10);
  char k[32];
  uint8_t v[1000];
  unsigned i = 0;
  off_t p1_most = 0;
  while (file_size(p2) < 0) { /* on until the roll */
    if (put_key(s, i++) && file_size(p1) > p1_most) p1_most = file_size(p1);
    assert_true(i < 100000);
  }
  assert_int_equal(dyna_store_commit(s), 0);
  assert_int_equal(p1_most, fill);                /* segment 1 never outgrew its file */
  assert_true(file_size(p2) >= seg_min);          /* 2 took over a whole segment of zeros */
  /* 3 gets segment 1's file, recycled, with zeros after it up to a whole segment */
  while (file_size(p3) < 0) {
    put_key(s, i++);
    assert_true(i < 300000);
  }
  assert_int_equal(dyna_store_commit(s), 0);
  assert_true(file_size(p3) >= seg_min);
  dyna_store_close(s);
  assert_int_equal(dyna_store_lmdb_open(f->dir, DYNA_SYNC_BATCH, map, &s), 0);
  for (unsigned j = 0; j < i; j += 97) {
    key_of(k, sizeof(k), j);
    assert_int_equal(dyna_store_get(s, DYNA_SPACE_OBJ, U8(k), strlen(k), &f->buf), 0);
    val_of(v, sizeof(v), j, 0);
    assert_int_equal(f->buf.len, sizeof(v));
    assert_memory_equal(f->buf.data, v, sizeof(v));
  }
  dyna_store_close(s);
}

static void test_next_segment_prepared_ahead(void **state) {
  /* MAP_SMALL: checkpoints every 512-768 KiB, a segment's file 1.25 x that; the first
   * segment's file (2 x the threshold) would have held a whole segment anyway */
  next_segment_prepared(*state, MAP_SMALL, 640 << 10);
  /* 512 MiB, in a new directory: checkpoints every 64-96 MiB, files of 80-120 MiB, the
   * first one of 32 MiB */
  teardown(state);
  setup(state);
  next_segment_prepared(*state, (size_t)512 << 20, (off_t)80 << 20);
}

/* A segment without an end record (the zero fill ends it): a stray byte in the fill is
 * corruption in an older segment and a torn tail in the newest. */
static void test_zero_filled_end(void **state) {
  fx_t *f = *state;
  dyna_wal_t *w = fresh_log(f->dir);
  dyna_overlay_t ov;
  dyna_ov_init(&ov);
  const char *keys[] = {"a", "b"};
  for (int i = 0; i < 2; i++) {
    assert_int_equal(dyna_wal_prepare(w, 64 << 10, NULL), 0);
    if (i == 1) dyna_wal_roll(w);
    assert_int_equal(dyna_ov_set(&ov, DYNA_SPACE_OBJ, U8(keys[i]), 1, U8(keys[i]), 1, 0), 0);
    assert_int_equal(dyna_wal_append(w, &ov), 0);
    dyna_ov_clear(&ov);
  }
  dyna_wal_close(w);
  char p1[PATH_MAX + 64], p2[PATH_MAX + 64];
  seg_file(f->dir, 1, p1, sizeof(p1));
  seg_file(f->dir, 2, p2, sizeof(p2));
  /* segment 1 without its end record (as a log from before end records, or one whose
   * end record could not be written and was cut off): the end record zeroed */
  int fd = open(p1, O_RDWR);
  assert_true(fd >= 0);
  uint8_t head[DYNA_WAL_HEADER], zeros[DYNA_WAL_HEADER] = {0};
  assert_int_equal(pread(fd, head, sizeof(head), 0), (ssize_t)sizeof(head));
  off_t end_at = DYNA_WAL_HEADER + (head[4] | head[5] << 8);
  assert_int_equal(pwrite(fd, zeros, sizeof(zeros), end_at), (ssize_t)sizeof(zeros));
  uint8_t one = 1, zero = 0;
  assert_int_equal(pwrite(fd, &one, 1, (64 << 10) - 1), 1);
  dyna_store_t *s = NULL;
  assert_int_equal(dyna_store_lmdb_open(f->dir, DYNA_SYNC_BATCH, 0, &s), DYNA_ECORRUPT);
  assert_int_equal(pwrite(fd, &zero, 1, (64 << 10) - 1), 1);
  close(fd);
  /* the same in the newest segment: a torn tail; everything before it replays */
  fd = open(p2, O_RDWR);
  assert_int_equal(pwrite(fd, &one, 1, (64 << 10) - 1), 1);
  close(fd);
  assert_int_equal(dyna_store_lmdb_open(f->dir, DYNA_SYNC_BATCH, 0, &s), 0);
  expect_val(f, s, "a", "a");
  expect_val(f, s, "b", "b");
  dyna_store_close(s);
  assert_int_equal(segments(f->dir, NULL, 0), 0);
}

static void copy_file(const char *from, const char *to) {
  int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  assert_true(in >= 0 && out >= 0);
  char b[4096];
  ssize_t n;
  while ((n = read(in, b, sizeof(b))) > 0) assert_int_equal(write(out, b, (size_t)n), n);
  close(in);
  close(out);
}

/* Appends one record per key (the same size each: "kN" = "<tag>N"). */
static void append_keys(dyna_wal_t *w, int from, int to, const char *tag) {
  for (int i = from; i < to; i++) {
    dyna_overlay_t ov;
    dyna_ov_init(&ov);
    char k[16], v[32];
    snprintf(k, sizeof(k), "k%d", i);
    snprintf(v, sizeof(v), "%s%d", tag, i);
    assert_int_equal(dyna_ov_set(&ov, DYNA_SPACE_OBJ, U8(k), strlen(k), U8(v), strlen(v), 0), 0);
    assert_int_equal(dyna_wal_append(w, &ov), 0);
    dyna_ov_clear(&ov);
  }
}

static void replay_into(const char *dir, uint64_t after, dyna_overlay_t *ov, int expect) {
  dyna_wal_t *w;
  assert_int_equal(dyna_wal_open(dir, &w), 0);
  char err[256];
  int rc = dyna_wal_replay(w, after, ov, err, sizeof(err));
  if (rc != expect) fprintf(stderr, "replay: %s\n", err);
  assert_int_equal(rc, expect);
  dyna_wal_close(w);
}

/* A recycled segment larger than the prepared size is cut down to it (a stopped node
 * keeps only that much); one no larger is left as it is. */
static void test_trim_next(void **state) {
  fx_t *f = *state;
  char next[PATH_MAX + 64];
  snprintf(next, sizeof(next), "%s/wal-next.tmp", f->dir);
  dyna_wal_t *w = fresh_log(f->dir);
  assert_int_equal(dyna_wal_prepare(w, 4096, NULL), 0);
  append_keys(w, 0, 400, "grown"); /* past the 4 KiB prepared: the file grew */
  assert_int_equal(dyna_wal_roll(w), 1);
  assert_int_equal(dyna_wal_drop(w, 1), 0); /* recycled as wal-next.tmp */
  off_t grown = file_size(next);
  assert_true(grown > 4096);
  dyna_wal_trim_next(w, (size_t)grown); /* no larger: untouched */
  assert_int_equal(file_size(next), grown);
  dyna_wal_trim_next(w, 4096);
  assert_int_equal(file_size(next), 4096);
  dyna_wal_close(w);
  /* the next start takes the cut file over, and replays only its own records */
  dyna_overlay_t ov;
  dyna_ov_init(&ov);
  assert_int_equal(dyna_wal_open(f->dir, &w), 0);
  char err[256];
  assert_int_equal(dyna_wal_replay(w, 1, &ov, err, sizeof(err)), 0);
  assert_int_equal(ov.n, 0);
  append_keys(w, 0, 2, "new");
  dyna_wal_close(w);
  replay_into(f->dir, 1, &ov, 0);
  assert_int_equal(ov.n, 2);
  dyna_ov_clear(&ov);
}

/* A checkpointed segment is recycled as the next segment's file, old records and all.
 * None of them is replayed: not after a restart, where the sequence numbers start again
 * and the record after the new ones carries the very number that would come next, and
 * not after the end record of a segment that is no longer the newest. */
static void test_recycled_segment(void **state) {
  fx_t *f = *state;
  char next[PATH_MAX + 64], keep[PATH_MAX + 64], p1[PATH_MAX + 64];
  snprintf(next, sizeof(next), "%s/wal-next.tmp", f->dir);
  snprintf(keep, sizeof(keep), "%s/kept.tmp", f->dir);
  seg_file(f->dir, 1, p1, sizeof(p1));
  dyna_wal_t *w;
  dyna_overlay_t ov;
  dyna_ov_init(&ov);
  char err[256];
  assert_int_equal(dyna_wal_open(f->dir, &w), 0);
  assert_int_equal(dyna_wal_replay(w, 0, &ov, err, sizeof(err)), 0);
  append_keys(w, 0, 10, "old"); /* segment 1: records 0..9 */
  off_t size1 = file_size(p1);
  assert_int_equal(dyna_wal_roll(w), 1);
  assert_int_equal(dyna_wal_drop(w, 1), 0); /* checkpointed: recycled, not deleted */
  assert_int_equal(file_size(p1), -1);
  assert_true(file_size(next) >= size1);
  copy_file(next, keep); /* the process dies here: the recycled file stays */
  dyna_wal_close(w);
  assert_int_equal(rename(keep, next), 0);
  /* restart after checkpoint 1: records 0, 1, 2 go into the recycled file, over the old
   * 0, 1, 2; the old record 3 follows them */
  assert_int_equal(dyna_wal_open(f->dir, &w), 0);
  assert_int_equal(dyna_wal_replay(w, 1, &ov, err, sizeof(err)), 0);
  append_keys(w, 0, 3, "new");
  char p2[PATH_MAX + 64];
  seg_file(f->dir, 2, p2, sizeof(p2));
  assert_true(file_size(p2) >= size1); /* the recycled file */
  copy_file(p2, keep);
  dyna_wal_close(w);
  replay_into(f->dir, 1, &ov, 0);
  assert_int_equal(ov.n, 3);
  const dyna_ov_entry_t *e = dyna_ov_get(&ov, DYNA_SPACE_OBJ, U8("k2"), 2);
  assert_non_null(e);
  assert_memory_equal(e->val, "new2", 4);
  assert_null(dyna_ov_get(&ov, DYNA_SPACE_OBJ, U8("k3"), 2));
  dyna_ov_clear(&ov);
  /* segment 2 closed by a roll, segment 3 after it: segment 2 ends at its end record,
   * though the old records 4..9 follow it */
  assert_int_equal(dyna_wal_open(f->dir, &w), 0);
  assert_int_equal(dyna_wal_replay(w, 1, &ov, err, sizeof(err)), 0);
  assert_int_equal(dyna_wal_roll(w), 2);
  append_keys(w, 20, 21, "three");
  assert_int_equal(dyna_wal_segment(w), 3);
  dyna_wal_close(w);
  dyna_ov_clear(&ov);
  replay_into(f->dir, 1, &ov, 0);
  assert_int_equal(ov.n, 4);
  assert_null(dyna_ov_get(&ov, DYNA_SPACE_OBJ, U8("k5"), 2));
  assert_non_null(dyna_ov_get(&ov, DYNA_SPACE_OBJ, U8("k20"), 3));
  dyna_ov_clear(&ov);
  /* without its end record, segment 2 is corrupt: replay does not read on into the past */
  copy_file(keep, p2);
  replay_into(f->dir, 1, &ov, DYNA_ECORRUPT);
  dyna_ov_clear(&ov);
}

/* A record of the first format ("DWAL", hash seeded with seq ^ magic only). */
static void first_format_record(dyna_buf_t *out, uint64_t seq, const char *k, const char *v) {
  dyna_buf_t pl = DYNA_BUF_INIT;
  dyna_buf_put_u8(&pl, DYNA_SPACE_OBJ);
  dyna_buf_put_u8(&pl, 0);
  dyna_buf_put_u32le(&pl, (uint32_t)strlen(k));
  dyna_buf_put_u32le(&pl, (uint32_t)strlen(v));
  dyna_buf_put(&pl, k, strlen(k));
  dyna_buf_put(&pl, v, strlen(v));
  dyna_buf_put_u32le(out, 0x4c415744u);
  dyna_buf_put_u32le(out, (uint32_t)pl.len);
  dyna_buf_put_u32le(out, (uint32_t)seq);
  dyna_buf_put_u32le(out, (uint32_t)(seq >> 32));
  uint64_t h = XXH3_64bits_withSeed(pl.data, pl.len, seq ^ 0x4c415744u);
  dyna_buf_put_u32le(out, (uint32_t)h);
  dyna_buf_put_u32le(out, (uint32_t)(h >> 32));
  dyna_buf_put(out, pl.data, pl.len);
  dyna_buf_free(&pl);
}

/* A log left by a crash of a dynad that wrote the first format replays after an
 * upgrade, and its file is deleted after the checkpoint, never recycled (a recycled
 * file must hold only records whose hash names their segment). */
static void test_first_format_log(void **state) {
  fx_t *f = *state;
  char p1[PATH_MAX + 64], next[PATH_MAX + 64];
  seg_file(f->dir, 1, p1, sizeof(p1));
  snprintf(next, sizeof(next), "%s/wal-next.tmp", f->dir);
  dyna_buf_t b = DYNA_BUF_INIT;
  first_format_record(&b, 0, "a", "1");
  first_format_record(&b, 1, "b", "2");
  append_bytes_new(p1, b.data, b.len);
  dyna_buf_free(&b);
  dyna_overlay_t ov;
  dyna_ov_init(&ov);
  replay_into(f->dir, 0, &ov, 0);
  assert_int_equal(ov.n, 2);
  dyna_ov_clear(&ov);
  dyna_wal_t *w;
  char err[256];
  assert_int_equal(dyna_wal_open(f->dir, &w), 0);
  assert_int_equal(dyna_wal_replay(w, 0, &ov, err, sizeof(err)), 0);
  assert_int_equal(dyna_wal_roll(w), 1);
  assert_int_equal(dyna_wal_drop(w, 1), 0);
  assert_int_equal(file_size(p1), -1);
  assert_int_equal(file_size(next), -1); /* deleted, not recycled */
  dyna_wal_close(w);
  dyna_ov_clear(&ov);
  /* the same through the store */
  b = (dyna_buf_t)DYNA_BUF_INIT;
  first_format_record(&b, 0, "a", "1");
  first_format_record(&b, 1, "b", "2");
  append_bytes_new(p1, b.data, b.len);
  dyna_buf_free(&b);
  dyna_store_t *s;
  assert_int_equal(dyna_store_lmdb_open(f->dir, DYNA_SYNC_BATCH, 0, &s), 0);
  expect_val(f, s, "a", "1");
  expect_val(f, s, "b", "2");
  dyna_store_close(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_record_format),
      cmocka_unit_test_setup_teardown(test_checkpoints, setup, teardown),
      cmocka_unit_test_setup_teardown(test_crash_replay, setup, teardown),
      cmocka_unit_test_setup_teardown(test_none_logs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
      cmocka_unit_test_setup_teardown(test_segments_replayed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_append_several, setup, teardown),
      cmocka_unit_test_setup_teardown(test_queued_batches, setup, teardown),
      cmocka_unit_test_setup_teardown(test_failed_put_reported_by_commit_async, setup, teardown),
      cmocka_unit_test_setup_teardown(test_corrupt_older_segment, setup, teardown),
      cmocka_unit_test_setup_teardown(test_missing_segment, setup, teardown),
      cmocka_unit_test_setup_teardown(test_prepared_segments, setup, teardown),
      cmocka_unit_test_setup_teardown(test_zero_filled_end, setup, teardown),
      cmocka_unit_test_setup_teardown(test_first_segment_prepared, setup, teardown),
      cmocka_unit_test_setup_teardown(test_recycled_segment, setup, teardown),
      cmocka_unit_test_setup_teardown(test_next_segment_prepared_ahead, setup, teardown),
      cmocka_unit_test_setup_teardown(test_trim_next, setup, teardown),
      cmocka_unit_test_setup_teardown(test_first_format_log, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
