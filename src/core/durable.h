/* durable.h: which of a store's writes are durable, for releasing answers early.
 *
 * Every put/del through store.h's wrappers numbers the write (dyna_store_t.writes). An
 * answer that acknowledges a write carries the number of that write (wseq): it may leave
 * once every write up to wseq is durable, whatever batch is being built meanwhile. The
 * driver (dynad's group_commit.c, the simulator) reports each finished commit here:
 *
 *   ok(upto)      the writes numbered <= upto are durable (a batch reached the disk);
 *   lost(upto)    a commit failed: the writes after the durable point, up to upto (all
 *                 written so far), are gone, as the store's contract says;
 *   state(wseq)   DURABLE, PENDING or LOST.
 *
 * Lost writes are remembered as one range, the hull of every failure so far: a write
 * that was durable between two failures may then be reported LOST (the client gets an
 * error for a write that may have been kept, which an error always allows), but a lost
 * write is never reported DURABLE. Deterministic, no allocation. */
#ifndef DYNA_DURABLE_H
#define DYNA_DURABLE_H
#include <stdint.h>

typedef struct dyna_durable {
  uint64_t upto;            /* writes 1..upto are durable or lost */
  uint64_t lost_lo, lost_hi; /* writes in (lost_lo, lost_hi] are lost (empty: lo == hi) */
} dyna_durable_t;

typedef enum { DYNA_DUR_PENDING = 0, DYNA_DUR_DURABLE = 1, DYNA_DUR_LOST = 2 } dyna_dur_state_t;

/* An answer that depends on every write made before it rather than on one of them. */
#define DYNA_WSEQ_ALL UINT64_MAX

void dyna_durable_init(dyna_durable_t *d);
void dyna_durable_ok(dyna_durable_t *d, uint64_t upto);
void dyna_durable_lost(dyna_durable_t *d, uint64_t upto);
dyna_dur_state_t dyna_durable_state(const dyna_durable_t *d, uint64_t wseq);
/* The write number an answer waits for, when the store has made `writes` writes so far:
 * wseq itself, or for DYNA_WSEQ_ALL the last write that can still matter. When nothing
 * was written since the last failure, that is the durable point before the failures: an
 * answer made after a loss cannot carry what was lost (the store rolled it back), so it
 * must not be failed with it. */
uint64_t dyna_durable_resolve(const dyna_durable_t *d, uint64_t wseq, uint64_t writes);

#endif
