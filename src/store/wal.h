/* wal.h: the write-ahead log in front of the LMDB engine's batch mode.
 *
 * A batch of writes (an overlay) is made durable by appending it to the log as one
 * record and fdatasync'ing the file: a few KiB written sequentially, where committing
 * the same batch to LMDB would write a 4 KiB page per key. LMDB is brought up to date
 * later, in large checkpoints (lmdb_batch.c), after which the log segments they cover
 * are dropped: the newest of them is recycled as the file of a later segment, the others
 * deleted.
 *
 * On disk: <dir>/wal-<16 hex digits>.log, numbered upwards, a number never reused. A
 * segment is a sequence of records:
 *
 *   u32 magic "DWL2" | u32 payload length | u64 seq | u64 xxh3(payload, seed)
 *   seed = seq ^ magic ^ (segment number * 0x9e3779b97f4a7c15)
 *   payload: entries { u8 space | u8 tomb | u32 klen | u32 vlen | key | value }
 *
 * integers little-endian; seq goes up by one per record within a segment. Records of the
 * first format (magic "DWAL", seed seq ^ magic) are still read, so that a log left by a
 * crash of an older dynad replays; files that may hold them (those found at open) are
 * deleted after their checkpoint, never recycled.
 *
 * A record without entries is the end record. dyna_wal_roll closes a segment without
 * I/O; the next append first writes the closed segment's end record after its last
 * record and fdatasyncs it (or, failing that, cuts the file there), and only then makes
 * the next segment. So a segment that is not the newest ends at its end record or at
 * the end of its file, and in a log from before end records, at eight zero bytes where a
 * record would start when only zeros follow (a file zero-filled by dyna_wal_prepare).
 * Whatever follows an end record is the past of a recycled file: its records were hashed
 * with another segment's number, so none of them checks out here, even right after a
 * torn tail. A record is written with one pwrite and acknowledged only after fdatasync;
 * a failed append is truncated away, so the newest segment only ever ends in a record
 * that was being written when the process or machine died (or in an end record). Replay
 * stops at the first record that does not check out in the newest segment (that torn
 * tail was never acknowledged); in an older segment the same is corruption and replay
 * fails with DYNA_ECORRUPT. Replay never scans past a bad record, so bytes inside a value
 * can never be taken for a record.
 *
 * Why recycle: deleting a checkpointed 64 MiB segment and zero-filling the next one
 * each put tens of MiB of work on the disk at once (block freeing, discard, writeback),
 * and every fdatasync of every log on that disk waited 5-15 ms behind it.
 *
 * Threads: append runs on the engine's log thread (under none on the loop); roll on the
 * loop, only while no append runs. drop and prepare run on the checkpoint thread. drop
 * renames or deletes only segments that append will not write again, except that the
 * next append may still write the end record of the segment just rolled through the fd
 * it keeps (harmless whatever the file is called by then: the record fails the hash of
 * any other segment). The name wal-next.tmp is made only by the checkpoint thread (drop,
 * prepare) and taken only by the appending thread (the next segment). Ownership: the
 * log owns its fds and buffers.
 */
#ifndef DYNA_WAL_H
#define DYNA_WAL_H
#include "store/overlay.h"
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define DYNA_WAL_HEADER 24

typedef struct dyna_wal dyna_wal_t;

/* Opens the log in dir (nothing is created until the first append). The segments found
 * there are listed for replay. *out is owned by the caller (dyna_wal_close). */
int dyna_wal_open(const char *dir, dyna_wal_t **out);
/* Closes the log. A file ready for the next segment (wal-next.tmp) stays for the next
 * start to take over: its old records never check out in another segment. */
void dyna_wal_close(dyna_wal_t *w);
/* Cuts the file ready for the next segment down to `bytes` when it is larger (a recycled
 * segment can be several times the prepared size): what a stopped node keeps on disk
 * stays small. Best effort; a cut lost in a crash leaves a larger file, no harm. */
void dyna_wal_trim_next(dyna_wal_t *w, size_t bytes);

/* Replays every segment numbered above `after` (segments at or below it are already in
 * LMDB: they are deleted) into ov, oldest first, so that ov holds the latest write of
 * each key. Returns 0, DYNA_ECORRUPT (a bad record before the newest segment's end; the
 * message says where, into err/errlen) or an I/O error. The newest segment replayed
 * gets an end record after its last good record (over a torn tail), as a roll would
 * give it. Appends then go to a new segment numbered above all of them. */
int dyna_wal_replay(dyna_wal_t *w, uint64_t after, dyna_overlay_t *ov, char *err, size_t errlen);

/* The newest segment number in use (every record so far is in a segment <= it). */
uint64_t dyna_wal_segment(const dyna_wal_t *w);

/* Under the none policy: appends write their record without fdatasync (it is then in the
 * OS's hands, which a process crash does not lose and an OS crash may). Everything else
 * (end records, prepared files, dropped segments) is synced as before. */
void dyna_wal_set_nosync(dyna_wal_t *w, int nosync);

/* Appends batch as one record and fdatasyncs: durable on 0. A failure (DYNA_EFULL,
 * DYNA_EIO) leaves the log as it was before the call. */
int dyna_wal_append(dyna_wal_t *w, const dyna_overlay_t *batch);
/* The same for n batches, one record each, written together with one fdatasync: all
 * durable on 0; on failure none of them is in the log. (After a crash during the call a
 * prefix of them may be found at replay; none was acknowledged.) */
int dyna_wal_append_n(dyna_wal_t *w, const dyna_overlay_t *const *batches, size_t n);

/* Prepares the next segment ahead (at open, and on the checkpoint thread: once half a
 * segment is logged, and after each checkpoint): a file of `bytes` zeros, written and
 * fdatasync'd, that the next segment takes over, so appends into it overwrite allocated
 * blocks and their fdatasync writes no file size (bench/fsync_cost.py: an append that
 * grows the file costs a third more CPU and latency per commit). The zeros go to disk a
 * MiB at a time, each MiB fdatasync'd before the next is written: a log fdatasync of
 * this or another node on the same disk never waits behind tens of MiB of writeback.
 * Does nothing when one of at least `bytes` is ready (zero-filled, or a segment
 * dyna_wal_drop recycled); a shorter one (a recycled segment of a short first segment)
 * gets zeros after its end. Called only while no segment can roll (at open, and on the
 * checkpoint thread while the loop holds the roll back): the file is never appended to
 * meanwhile. DYNA_EFULL when the disk has less than 4 x bytes free (the log itself must not run
 * out of space for it); DYNA_EAGAIN when *cancel (NULL: never) was set, checked after
 * each MiB. On failure nothing is left behind, and the next segment simply starts
 * empty. */
int dyna_wal_prepare(dyna_wal_t *w, size_t bytes, const atomic_int *cancel);

/* Closes the current segment, without I/O: the next append writes its end record and
 * fdatasyncs it, then starts a new segment. Returns the number of the segment closed
 * (every record so far is in segments <= it). */
uint64_t dyna_wal_roll(dyna_wal_t *w);

/* Drops the segments numbered <= upto (their records are in LMDB) and syncs the
 * directory: the newest becomes the file the next segment takes over when none is
 * ready, the others are deleted. Returns 0 or DYNA_EIO (retried by the next call). */
int dyna_wal_drop(dyna_wal_t *w, uint64_t upto);

/* ---- the record format, exposed for the fuzz target and tests ---- */

/* Decodes the record of segment seg at the start of p[0..len): on 0, *used is its size,
 * *seq its sequence number and *payload and *plen its entries (pointing into p; plen 0:
 * the end record). DYNA_EAGAIN when p is empty, starts with eight zero bytes, or is all
 * zeros (the clean end of a zero-filled segment), DYNA_ECORRUPT for anything that is not a whole,
 * intact record of that segment (a torn tail, damage, or a recycled file's past). */
int dyna_wal_decode(const uint8_t *p, size_t len, uint64_t seg, size_t *used, uint64_t *seq,
                    const uint8_t **payload, size_t *plen);

/* Calls fn for each entry of a payload; DYNA_ECORRUPT when an entry is malformed (bad
 * space, key or value length, or a delete with a value); stops at fn's first non-zero
 * return and returns it. Pointers passed to fn point into payload. */
int dyna_wal_entries(const uint8_t *payload, size_t plen,
                     int (*fn)(void *arg, dyna_space_t sp, int tomb, const uint8_t *k,
                               size_t klen, const uint8_t *v, size_t vlen),
                     void *arg);

/* Appends the record of batch (segment seg, sequence number seq) to out. An empty batch
 * makes an end record. */
void dyna_wal_encode(const dyna_overlay_t *batch, uint64_t seg, uint64_t seq, dyna_buf_t *out);

#endif
