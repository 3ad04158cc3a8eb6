/* wal.c: the write-ahead log of the LMDB engine's batch mode (see wal.h). */
#include "store/wal.h"
#include "util/err.h"
#include "util/alloc.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <xxhash.h>

#define WAL_MAGIC 0x324c5744u /* "DWL2" little-endian: hash seeded with the segment */
#define WAL_MAGIC1 0x4c415744u /* "DWAL": the first format, read only (see rec_hash) */
#define WAL_ENTRY_HEAD 10     /* u8 space, u8 tomb, u32 klen, u32 vlen */
#define WAL_PREP "wal-prep.tmp"  /* a segment being zero-filled */
#define WAL_NEXT "wal-next.tmp"  /* a file ready for the next roll: zero-filled, or a
                                     checkpointed segment recycled (wal.h) */
#define WAL_PREP_SYNC ((size_t)1 << 20) /* zeros written between two fdatasyncs */

struct dyna_wal {
  char dir[PATH_MAX];
  int dirfd;
  uint64_t *found;    /* segments found at open, ascending (replay) */
  size_t nfound;
  uint64_t first;     /* the lowest segment number that may still exist */
  uint64_t seg;       /* the newest segment number in use */
  int fd;             /* the segment appended to, or -1 (the next append opens seg+1) */
  int closing;        /* the segment rolled, whose end record the next open_next
                         writes and fdatasyncs, or -1 */
  uint64_t closing_off; /* where its end record goes (the end of its last record) */
  uint8_t end_rec[DYNA_WAL_HEADER]; /* that end record */
  uint64_t found_max; /* the newest segment found at open: files up to it may hold
                         records of the first format, and are never recycled */
  uint64_t off;       /* end of its last good record */
  uint64_t seq;       /* the next record's sequence number */
  dyna_buf_t buf;     /* encoding buffer, reused */
  int nosync;         /* appends skip their fdatasync (dyna_wal_set_nosync) */
};

static int io_err(int e) { return (e == ENOSPC || e == EDQUOT) ? DYNA_EFULL : DYNA_EIO; }

static void seg_path(const dyna_wal_t *w, uint64_t n, char *path, size_t size) {
  snprintf(path, size, "%s/wal-%016" PRIx64 ".log", w->dir, n);
}

/* Parses "wal-<16 hex>.log"; 1 and *n on a match. */
static int seg_name(const char *name, uint64_t *n) {
  if (strlen(name) != 24 || strncmp(name, "wal-", 4) || strcmp(name + 20, ".log")) return 0;
  uint64_t v = 0;
  for (int i = 4; i < 20; i++) {
    char c = name[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return 0;
    v = v << 4 | (uint64_t)d;
  }
  *n = v;
  return 1;
}

static int u64_cmp(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Lists the segments in w->dir into w->found, ascending. */
static int list_segments(dyna_wal_t *w) {
  DIR *d = opendir(w->dir);
  if (!d) return DYNA_EIO;
  size_t cap = 0;
  int err = 0;
  struct dirent *de;
  while (!err && (de = readdir(d))) {
    uint64_t n;
    if (!seg_name(de->d_name, &n)) continue;
    if (w->nfound == cap) {
      size_t c = cap ? cap * 2 : 16;
      uint64_t *a = dyna_realloc(w->found, c * sizeof(*a));
      if (!a) {
        err = DYNA_ENOMEM;
        break;
      }
      w->found = a;
      cap = c;
    }
    w->found[w->nfound++] = n;
  }
  closedir(d);
  if (w->nfound) qsort(w->found, w->nfound, sizeof(uint64_t), u64_cmp);
  w->found_max = w->nfound ? w->found[w->nfound - 1] : 0;
  return err;
}

int dyna_wal_open(const char *dir, dyna_wal_t **out) {
  dyna_wal_t *w = dyna_calloc(1, sizeof(*w));
  if (!w) return DYNA_ENOMEM;
  w->fd = -1;
  w->closing = -1;
  w->dirfd = -1;
  dyna_buf_init(&w->buf);
  int err = snprintf(w->dir, sizeof(w->dir), "%s", dir) >= (int)sizeof(w->dir) ? DYNA_EINVAL : 0;
  if (!err) {
    w->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (w->dirfd < 0) err = DYNA_EIO;
  }
  if (!err) err = list_segments(w);
  if (err) {
    dyna_wal_close(w);
    return err;
  }
  *out = w;
  return 0;
}

void dyna_wal_close(dyna_wal_t *w) {
  if (!w) return;
  if (w->fd >= 0) close(w->fd);
  if (w->closing >= 0) close(w->closing);
  if (w->dirfd >= 0) close(w->dirfd);
  dyna_free(w->found);
  dyna_buf_free(&w->buf);
  dyna_free(w);
}

uint64_t dyna_wal_segment(const dyna_wal_t *w) { return w->seg; }

/* ---- the record format ---- */

static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void wr64(uint8_t *p, uint64_t v) {
  wr32(p, (uint32_t)v);
  wr32(p + 4, (uint32_t)(v >> 32));
}

/* Seeded with the segment number too: a record left in a recycled file from its
 * previous life never checks out in its new segment. The first format ("DWAL", written
 * before files were recycled) did without; its records are still read, so that a log
 * left by a crash of an older dynad replays after an upgrade, and the files that hold
 * them are never recycled (dyna_wal_drop). */
static uint64_t rec_hash(uint32_t magic, const uint8_t *payload, size_t plen, uint64_t seg,
                         uint64_t seq) {
  uint64_t seed = magic == WAL_MAGIC1 ? seq ^ WAL_MAGIC1 : seq ^ WAL_MAGIC ^ (seg * 0x9e3779b97f4a7c15ull);
  return XXH3_64bits_withSeed(payload, plen, seed);
}

int dyna_wal_decode(const uint8_t *p, size_t len, uint64_t seg, size_t *used, uint64_t *seq,
                    const uint8_t **payload, size_t *plen) {
  size_t z = 0;
  while (z < len && z < 8 && p[z] == 0) z++;
  if (z == len || z == 8) return DYNA_EAGAIN; /* the end, or the zero fill after it */
  uint32_t magic = len < DYNA_WAL_HEADER ? 0 : rd32(p);
  if (magic != WAL_MAGIC && magic != WAL_MAGIC1) return DYNA_ECORRUPT;
  size_t n = rd32(p + 4);
  if (n > len - DYNA_WAL_HEADER) return DYNA_ECORRUPT;
  uint64_t s = rd64(p + 8);
  if (rec_hash(magic, p + DYNA_WAL_HEADER, n, seg, s) != rd64(p + 16)) return DYNA_ECORRUPT;
  *used = DYNA_WAL_HEADER + n;
  *seq = s;
  *payload = p + DYNA_WAL_HEADER;
  *plen = n;
  return 0;
}

int dyna_wal_entries(const uint8_t *payload, size_t plen,
                     int (*fn)(void *arg, dyna_space_t sp, int tomb, const uint8_t *k,
                               size_t klen, const uint8_t *v, size_t vlen),
                     void *arg) {
  size_t at = 0;
  while (at < plen) {
    if (plen - at < WAL_ENTRY_HEAD) return DYNA_ECORRUPT;
    const uint8_t *e = payload + at;
    uint8_t sp = e[0], tomb = e[1];
    size_t klen = rd32(e + 2), vlen = rd32(e + 6);
    if (sp >= DYNA_SPACE_COUNT || tomb > 1 || klen == 0 || klen > DYNA_STORE_MAX_KEY ||
        vlen > DYNA_STORE_MAX_VALUE || (tomb && vlen))
      return DYNA_ECORRUPT;
    at += WAL_ENTRY_HEAD;
    if (plen - at < klen || plen - at - klen < vlen) return DYNA_ECORRUPT;
    int rc = fn(arg, (dyna_space_t)sp, tomb, payload + at, klen, payload + at + klen, vlen);
    if (rc) return rc;
    at += klen + vlen;
  }
  return 0;
}

static int encode_entry(void *arg, const dyna_ov_entry_t *e) {
  dyna_buf_t *b = arg;
  dyna_buf_put_u8(b, e->space);
  dyna_buf_put_u8(b, e->tomb);
  dyna_buf_put_u32le(b, e->klen);
  dyna_buf_put_u32le(b, e->tomb ? 0 : e->vlen);
  dyna_buf_put(b, e->key, e->klen);
  if (!e->tomb) dyna_buf_put(b, e->val, e->vlen);
  return 0;
}

void dyna_wal_encode(const dyna_overlay_t *batch, uint64_t seg, uint64_t seq, dyna_buf_t *out) {
  size_t start = out->len;
  uint8_t head[DYNA_WAL_HEADER] = {0};
  dyna_buf_put(out, head, sizeof(head));
  dyna_ov_each(batch, encode_entry, out);
  if (out->oom) return;
  uint8_t *h = out->data + start;
  size_t plen = out->len - start - DYNA_WAL_HEADER;
  wr32(h, WAL_MAGIC);
  wr32(h + 4, (uint32_t)plen);
  wr64(h + 8, seq);
  wr64(h + 16, rec_hash(WAL_MAGIC, h + DYNA_WAL_HEADER, plen, seg, seq));
}

/* ---- replay ---- */

static int replay_entry(void *arg, dyna_space_t sp, int tomb, const uint8_t *k, size_t klen,
                        const uint8_t *v, size_t vlen) {
  return dyna_ov_set(arg, sp, k, klen, v, vlen, tomb);
}

/* Replays one segment into ov. `last`: the newest segment, where a bad record is the
 * torn end of the log rather than corruption. */
static int replay_segment(dyna_wal_t *w, uint64_t n, int last, dyna_overlay_t *ov, char *err,
                          size_t errlen, uint64_t *good_end) {
  char path[PATH_MAX + 32];
  seg_path(w, n, path, sizeof(path));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
    return DYNA_EIO;
  }
  struct stat st;
  if (fstat(fd, &st)) {
    close(fd);
    return DYNA_EIO;
  }
  size_t size = (size_t)st.st_size;
  const uint8_t *map = NULL;
  if (size) {
    void *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      close(fd);
      snprintf(err, errlen, "cannot map %s: %s", path, strerror(errno));
      return DYNA_EIO;
    }
    map = m;
  }
  close(fd);
  size_t at = 0;
  int rc = 0, first = 1;
  uint64_t prev = 0;
  for (;;) {
    size_t used, plen;
    uint64_t seq;
    const uint8_t *payload;
    int drc = dyna_wal_decode(map + at, size - at, n, &used, &seq, &payload, &plen);
    if (!drc && !first && seq != prev + 1) drc = DYNA_ECORRUPT;
    if (!drc && !plen) break; /* the end record: what follows is a recycled file's past */
    if (drc == DYNA_EAGAIN) { /* a preallocated segment: only zeros may follow */
      size_t z = at;
      while (z < size && map[z] == 0) z++;
      if (z == size) break;
      drc = DYNA_ECORRUPT;
    }
    if (!drc) drc = dyna_wal_entries(payload, plen, replay_entry, ov);
    if (drc == DYNA_ENOMEM) {
      rc = drc;
      break;
    }
    if (drc) {
      if (!last) {
        snprintf(err, errlen, "write-ahead log %s is corrupt at byte %zu (of %zu)", path, at, size);
        rc = DYNA_ECORRUPT;
      }
      /* else: the torn tail of the newest segment, never acknowledged */
      break;
    }
    first = 0;
    prev = seq;
    if (seq >= w->seq) w->seq = seq + 1;
    at += used;
  }
  if (map) munmap((void *)map, size);
  *good_end = at;
  return rc;
}

/* Rolls segment n, the newest at replay, as if it had just been appended to: its end
 * record goes at `at`, the end of its good records (over a torn tail), written by the
 * next open_next. Once a later segment exists this one is no longer read as having a
 * torn tail, and must end where its records do. If it cannot be opened for writing, the
 * next open_next does nothing for it: replay would then report it, not read past it. */
static void seal(dyna_wal_t *w, uint64_t n, uint64_t at) {
  char path[PATH_MAX + 32];
  seg_path(w, n, path, sizeof(path));
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  w->fd = fd;
  w->off = at;
  dyna_wal_roll(w);
}

int dyna_wal_replay(dyna_wal_t *w, uint64_t after, dyna_overlay_t *ov, char *err, size_t errlen) {
  if (errlen) err[0] = 0;
  w->seg = after;
  w->first = after + 1;
  /* Segments at or below `after` were checkpointed before a crash: delete them. */
  size_t i = 0;
  for (; i < w->nfound && w->found[i] <= after; i++) {
    char path[PATH_MAX + 32];
    seg_path(w, w->found[i], path, sizeof(path));
    unlink(path);
  }
  if (i) fsync(w->dirfd);
  char prep[PATH_MAX + 32];
  snprintf(prep, sizeof(prep), "%s/" WAL_PREP, w->dir);
  unlink(prep); /* left by a crash while filling */
  for (size_t j = i; j < w->nfound; j++) {
    uint64_t n = w->found[j];
    if (n != after + 1 + (j - i)) { /* segments after the checkpoint are consecutive */
      snprintf(err, errlen, "write-ahead log segment %016" PRIx64 " is missing",
               after + 1 + (j - i));
      return DYNA_ECORRUPT;
    }
    uint64_t end = 0;
    int rc = replay_segment(w, n, j + 1 == w->nfound, ov, err, errlen, &end);
    if (rc) return rc;
    w->seg = n;
    if (j + 1 == w->nfound) seal(w, n, end);
  }
  return 0;
}

/* ---- appending ---- */

/* Makes the rolled segment's end durable before the next segment exists (replay finds
 * the end of every segment but the newest by it): its end record written and
 * fdatasync'd, or failing that, the file cut after its last record and fdatasync'd.
 * Both are written again at every attempt: a failed fdatasync may leave the pages clean
 * but not on disk. Until one works the next segment is not made (the append fails). */
static int finish_closing(dyna_wal_t *w) {
  if (w->closing < 0) return 0;
  int fd = w->closing;
  int ok = pwrite(fd, w->end_rec, sizeof(w->end_rec), (off_t)w->closing_off) == (ssize_t)sizeof(w->end_rec) &&
           !fdatasync(fd);
  if (!ok) ok = !ftruncate(fd, (off_t)w->closing_off) && !fdatasync(fd);
  if (!ok) return io_err(errno);
  close(fd);
  w->closing = -1;
  return 0;
}

/* Starts segment seg+1, its name made durable: the zero-filled file dyna_wal_prepare
 * left (so that appends overwrite allocated blocks and fdatasync writes no metadata),
 * else a new empty one. */
static int open_next(dyna_wal_t *w) {
  int err = finish_closing(w);
  if (err) return err;
  char path[PATH_MAX + 32], next[PATH_MAX + 32];
  seg_path(w, w->seg + 1, path, sizeof(path));
  snprintf(next, sizeof(next), "%s/" WAL_NEXT, w->dir);
  int fd = -1;
  if (!rename(next, path)) fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_err(errno);
  if (fsync(w->dirfd)) {
    int e = errno;
    close(fd);
    unlink(path);
    return io_err(e);
  }
  w->fd = fd;
  w->off = 0;
  w->seg++;
  return 0;
}

int dyna_wal_append(dyna_wal_t *w, const dyna_overlay_t *batch) {
  return dyna_wal_append_n(w, &batch, 1);
}

int dyna_wal_append_n(dyna_wal_t *w, const dyna_overlay_t *const *batches, size_t nb) {
  if (w->fd < 0) {
    int err = open_next(w);
    if (err) return err;
  }
  dyna_buf_reset(&w->buf);
  size_t nrec = 0; /* an empty batch would read as an end record: it is skipped */
  for (size_t i = 0; i < nb; i++)
    if (batches[i]->n) dyna_wal_encode(batches[i], w->seg, w->seq + nrec++, &w->buf);
  if (w->buf.oom) return DYNA_ENOMEM;
  size_t done = 0;
  int err = 0;
  while (done < w->buf.len) {
    ssize_t n = pwrite(w->fd, w->buf.data + done, w->buf.len - done, (off_t)(w->off + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = io_err(n < 0 ? errno : ENOSPC);
      break;
    }
    done += (size_t)n;
  }
  if (!err && !w->nosync && fdatasync(w->fd)) err = io_err(errno);
  if (err) {
    /* Cut the failed record off so that the segment ends in good records; if even that
     * fails, never append to this segment again (a later segment starts clean, and
     * replay reports the bad tail of a non-last segment as corruption). */
    if (ftruncate(w->fd, (off_t)w->off) || fdatasync(w->fd)) {
      close(w->fd);
      w->fd = -1;
    }
    return err;
  }
  w->off += w->buf.len;
  w->seq += nrec;
  if (w->buf.cap > ((size_t)1 << 20)) dyna_buf_free(&w->buf); /* don't keep a big batch's buffer */
  return 0;
}

void dyna_wal_set_nosync(dyna_wal_t *w, int nosync) { w->nosync = nosync; }

/* Writes zeros over [from, to) of fd, fdatasync'ing each WAL_PREP_SYNC bytes and at the
 * end; DYNA_EAGAIN when *cancel is set (checked after each sync). */
static int zero_fill(int fd, size_t from, size_t to, const atomic_int *cancel) {
  static const uint8_t zeros[64 << 10];
  int err = 0;
  size_t synced = from;
  for (size_t at = from; at < to && !err;) {
    size_t n = to - at < sizeof(zeros) ? to - at : sizeof(zeros);
    ssize_t k = pwrite(fd, zeros, n, (off_t)at);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) err = io_err(k < 0 ? errno : ENOSPC);
    else at += (size_t)k;
    if (!err && at - synced >= WAL_PREP_SYNC) { /* a MiB at a time (wal.h) */
      if (fdatasync(fd)) err = io_err(errno);
      synced = at;
      if (cancel && atomic_load(cancel)) err = DYNA_EAGAIN;
    }
  }
  if (!err && fdatasync(fd)) err = io_err(errno);
  return err;
}

int dyna_wal_prepare(dyna_wal_t *w, size_t bytes, const atomic_int *cancel) {
  char tmp[PATH_MAX + 32], next[PATH_MAX + 32];
  snprintf(tmp, sizeof(tmp), "%s/" WAL_PREP, w->dir);
  snprintf(next, sizeof(next), "%s/" WAL_NEXT, w->dir);
  struct stat st;
  int ready = !stat(next, &st);
  if (ready && (uint64_t)st.st_size >= bytes) return 0; /* one is ready */
  struct statvfs vfs;
  if (statvfs(w->dir, &vfs) || (uint64_t)vfs.f_bavail * vfs.f_frsize < 4 * (uint64_t)bytes)
    return DYNA_EFULL; /* don't take the last free space from the log itself */
  if (ready) { /* a shorter one (a recycled segment): zeros after its end, in place */
    int fd = open(next, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return io_err(errno);
    int err = zero_fill(fd, (size_t)st.st_size, bytes, cancel);
    close(fd);
    return err; /* zeros left after a failure are harmless: past any record */
  }
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_err(errno);
  int err = zero_fill(fd, 0, bytes, cancel);
  close(fd);
  if (!err && rename(tmp, next)) err = io_err(errno);
  if (err) unlink(tmp);
  return err;
}

void dyna_wal_trim_next(dyna_wal_t *w, size_t bytes) {
  char next[PATH_MAX + 32];
  snprintf(next, sizeof(next), "%s/" WAL_NEXT, w->dir);
  struct stat st;
  if (!stat(next, &st) && (uint64_t)st.st_size > bytes) (void)!truncate(next, (off_t)bytes);
}

uint64_t dyna_wal_roll(dyna_wal_t *w) {
  if (w->fd < 0) return w->seg;
  /* Every record in it was fdatasync'd by its append. Its end record is written by the
   * next open_next, on the log thread: this one does no I/O. Until then it is the newest
   * segment, whose end replay finds by itself. */
  uint8_t *h = w->end_rec;
  wr32(h, WAL_MAGIC);
  wr32(h + 4, 0);
  wr64(h + 8, w->seq);
  wr64(h + 16, rec_hash(WAL_MAGIC, h + DYNA_WAL_HEADER, 0, w->seg, w->seq));
  w->seq++;
  w->closing = w->fd;
  w->closing_off = w->off;
  w->fd = -1;
  return w->seg;
}

int dyna_wal_drop(dyna_wal_t *w, uint64_t upto) {
  int err = 0;
  uint64_t n = w->first;
  char next[PATH_MAX + 32];
  snprintf(next, sizeof(next), "%s/" WAL_NEXT, w->dir);
  for (; n <= upto; n++) {
    char path[PATH_MAX + 32];
    seg_path(w, n, path, sizeof(path));
    /* The newest one becomes the next segment's file when none is ready: no blocks are
     * freed (and discarded) now, and none need allocating or zero-filling later. */
    if (n == upto && n > w->found_max && access(next, F_OK) && !rename(path, next)) continue;
    if (unlink(path) && errno != ENOENT) {
      err = DYNA_EIO;
      break;
    }
  }
  if (n > w->first && fsync(w->dirfd) && !err) err = DYNA_EIO;
  w->first = n;
  return err;
}
