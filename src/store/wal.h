/* wal.h: the write-ahead log in front of the LMDB engine's batch mode.
 *
 * A batch of writes (an overlay) is made durable by appending it to the log as one
 * record and fdatasync'ing the file: a few KiB written sequentially, where committing
 * the same batch to LMDB would write a 4 KiB page per key. LMDB is brought up to date
 * later, in large checkpoints (lmdb.c), after which the log segments they cover are
 * deleted.
 *
 * On disk: <dir>/wal-<16 hex digits>.log, numbered upwards, never reused. A segment is a
 * sequence of records:
 *
 *   u32 magic "DWAL" | u32 payload length | u64 seq | u64 xxh3(payload, seed seq^magic)
 *   payload: entries { u8 space | u8 tomb | u32 klen | u32 vlen | key | value }
 *
 * integers little-endian; seq goes up by one per record within a segment. A segment may
 * be preallocated with zeros (dyna_wal_prepare): eight zero bytes where a record would
 * start, or zeros to the end, mark its end, and only zeros may follow. A record is
 * written with one pwrite and acknowledged only after fdatasync; a failed append is
 * truncated away, so a segment only ever ends in a record that was being written when
 * the process or machine died. Replay stops at the first record that does not check out
 * in the newest segment (that torn tail was never acknowledged); in an older segment the
 * same is corruption and replay fails with DYNA_ECORRUPT. Replay never scans past a bad
 * record, so bytes inside a value can never be taken for a record.
 *
 * Threads: append/roll run on one thread at a time (the engine's log thread; roll only
 * while no append runs); drop runs on the checkpoint thread and touches only segments
 * that append will never write again. Ownership: the log owns its fds and buffers.
 */
#ifndef DYNA_WAL_H
#define DYNA_WAL_H
#include "store/overlay.h"
#include <stddef.h>
#include <stdint.h>

#define DYNA_WAL_HEADER 24

typedef struct dyna_wal dyna_wal_t;

/* Opens the log in dir (nothing is created until the first append). The segments found
 * there are listed for replay. *out is owned by the caller (dyna_wal_close). */
int dyna_wal_open(const char *dir, dyna_wal_t **out);
void dyna_wal_close(dyna_wal_t *w);

/* Replays every segment numbered above `after` (segments at or below it are already in
 * LMDB: they are deleted) into ov, oldest first, so that ov holds the latest write of
 * each key. Returns 0, DYNA_ECORRUPT (a bad record before the newest segment's end; the
 * message says where, into err/errlen) or an I/O error. Appends then go to a new
 * segment numbered above all of them. */
int dyna_wal_replay(dyna_wal_t *w, uint64_t after, dyna_overlay_t *ov, char *err, size_t errlen);

/* The newest segment number in use (every record so far is in a segment <= it). */
uint64_t dyna_wal_segment(const dyna_wal_t *w);

/* Appends batch as one record and fdatasyncs: durable on 0. A failure (DYNA_EFULL,
 * DYNA_EIO) leaves the log as it was before the call. */
int dyna_wal_append(dyna_wal_t *w, const dyna_overlay_t *batch);
/* The same for n batches, one record each, written together with one fdatasync: all
 * durable on 0; on failure none of them is in the log. (After a crash during the call a
 * prefix of them may be found at replay; none was acknowledged.) */
int dyna_wal_append_n(dyna_wal_t *w, const dyna_overlay_t *const *batches, size_t n);

/* Prepares the next segment ahead (on the checkpoint thread): a file of `bytes` zeros,
 * written and fdatasync'd, that the next segment takes over, so appends into it overwrite
 * allocated blocks and their fdatasync writes no file size. Does nothing when one is
 * ready; DYNA_EFULL when the disk has less than 4 x bytes free (the log itself must not
 * run out of space for it). On failure the next segment simply starts empty. */
int dyna_wal_prepare(dyna_wal_t *w, size_t bytes);

/* Closes the current segment: the next append starts a new one. Returns the number of
 * the segment closed (every record so far is in segments <= it). */
uint64_t dyna_wal_roll(dyna_wal_t *w);

/* Deletes the segments numbered <= upto (their records are in LMDB) and syncs the
 * directory. Returns 0 or DYNA_EIO (deletion is retried by the next call). */
int dyna_wal_drop(dyna_wal_t *w, uint64_t upto);

/* ---- the record format, exposed for the fuzz target and tests ---- */

/* Decodes the record at the start of p[0..len): on 0, *used is its size, *seq its
 * sequence number and *payload and *plen its entries (pointing into p). DYNA_EAGAIN when p
 * is empty or starts with eight zero bytes, or is all zeros (the clean end of a segment), DYNA_ECORRUPT for anything that is not a whole,
 * intact record (a torn tail or damage). */
int dyna_wal_decode(const uint8_t *p, size_t len, size_t *used, uint64_t *seq,
                    const uint8_t **payload, size_t *plen);

/* Calls fn for each entry of a payload; DYNA_ECORRUPT when an entry is malformed (bad
 * space, key or value length, or a delete with a value); stops at fn's first non-zero
 * return and returns it. Pointers passed to fn point into payload. */
int dyna_wal_entries(const uint8_t *payload, size_t plen,
                     int (*fn)(void *arg, dyna_space_t sp, int tomb, const uint8_t *k,
                               size_t klen, const uint8_t *v, size_t vlen),
                     void *arg);

/* Appends the record of batch (sequence number seq) to out. */
void dyna_wal_encode(const dyna_overlay_t *batch, uint64_t seq, dyna_buf_t *out);

#endif
