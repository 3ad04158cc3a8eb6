/* gate.h: the durability gate. Nothing a node says leaves before the store writes it
 * depends on are durable; both drivers (dynad's runtime/group_commit.c, the simulator's
 * sim/disk.c) run this one module and keep only the commit I/O and the delivery.
 *
 *   node outbox ──take──▶ gate ──▶ released at once: a reply that acknowledges no write
 *                           │        (unless durable_reads), an answer whose write is
 *                           │        durable already, a failed one whose write was lost
 *                           └──▶ held (FIFO) ──durable(X)──▶ released OK
 *                                            └─failed(err)─▶ replies fail with err,
 *                                                            frames are dropped
 *   driver: handed(X) ─▶ store commit I/O ─▶ durable(X) | failed(err); pop() ─▶ deliver
 *
 * Every answer carries the number of the last store write it depends on (wseq,
 * core/durable.h): a coordinator's reply its own local write, a replica's ack the write
 * it acknowledges, other frames every write made before them (DYNA_WSEQ_ALL, resolved
 * when taken: after a failed commit with nothing written since, that is the durable
 * point before the failure, since such an answer cannot carry what the store rolled
 * back). A node's early frames (a coordinator's PUTs, a replica's GET_RESP) carry the
 * write that recorded its incarnation: they leave at once, except just after a failed
 * commit, until the new incarnation is durable (core/node.h, dyna_node_writes_lost).
 *
 * The driver reports its commit I/O: handed(X) when the writes up to X went to the disk
 * as a batch (a synchronous commit: just before it), durable(X) when they are durable,
 * failed(err) when a commit failed (every write not yet durable is gone, store.h): the
 * gate reads the store's write count first, then lets the node take a new incarnation
 * (dyna_node_writes_lost), then records the loss, in that order. The driver drains
 * what the gate released with dyna_gate_pop after every call, in order, and delivers it.
 *
 * Ownership: the gate owns what it took (replies and frames) until popped; the popped
 * item is the caller's (reply: dyna_node_reply_clear; frame: dyna_buf_free or hand it to
 * the network). The store is borrowed and must outlive the gate. Memory for releasing
 * held answers is reserved when they are taken, so durable() and failed() never
 * allocate. Deterministic: no clock, no I/O. */
#ifndef DYNA_GATE_H
#define DYNA_GATE_H
#include "core/durable.h"
#include "core/node.h"
#include "store/store.h"
#include <stddef.h>
#include <stdint.h>

/* One answer in the gate, or released by it. */
typedef struct dyna_gate_item {
  int is_msg;     /* 1: m, a frame for a peer; 0: r, a client reply */
  int err;        /* 0: released OK; else the commit error (r is then an error reply).
                     Frames are never released failed: the gate drops them. */
  uint64_t wseq;  /* the write it waited for (0: none) */
  uint64_t seq;   /* the order the gate took it in */
  dyna_node_reply_t r;
  dyna_outmsg_t m;
} dyna_gate_item_t;

/* A FIFO ring of items (gate.c). */
typedef struct dyna_gate_ring {
  dyna_gate_item_t *v;
  size_t cap, head, len;
} dyna_gate_ring_t;

typedef struct dyna_gate_stats {
  uint64_t early_replies;  /* replies acknowledging no write, released at once */
  uint64_t unheld_acks;    /* replies acknowledging a write durable when taken */
  uint64_t held;           /* answers that waited */
  uint64_t failed_replies; /* replies released as errors: their writes were lost */
  uint64_t dropped_frames; /* frames dropped: their writes were lost */
} dyna_gate_stats_t;

/* The fields are the gate's own: use the functions below. */
typedef struct dyna_gate {
  dyna_store_t *store;      /* borrowed: its write counter numbers the writes */
  int durable_reads;        /* replies of reads wait like the rest */
  uint32_t bugs;            /* DYNA_BUG_GATE_* (core/node.h): the simulator's self-test */
  dyna_durable_t dur;       /* which writes are durable, which were lost */
  uint64_t handed;          /* writes up to this were handed to the disk */
  int lost_err;             /* the error of the last failed commit */
  uint64_t next_seq;
  dyna_gate_ring_t held;    /* waiting for their writes, in the order taken */
  dyna_gate_ring_t out;     /* released, not popped yet */
  uint64_t taken, popped, dropped; /* taken == popped + dropped + held + out */
  dyna_gate_stats_t stats;
} dyna_gate_t;

/* An empty gate over store (borrowed), all of whose writes so far count as durable
 * only once the driver says so. No allocation. */
void dyna_gate_init(dyna_gate_t *g, dyna_store_t *store, int durable_reads, uint32_t bugs);
/* Frees every answer still in the gate (held or not popped): none of them leaves. */
void dyna_gate_free(dyna_gate_t *g);

/* Takes the node's outbox: its early frames (dyna_node_pop_early), then its replies,
 * then its other frames. Returns 0, or DYNA_ENOMEM: then nothing was taken (it stays in
 * the node's outbox; call again later). */
int dyna_gate_take(dyna_gate_t *g, dyna_node_t *n);
/* Takes a reply the driver made itself (an admin command's OK): it waits for every
 * write made so far, and acknowledges them (r->wrote is set). Takes r's contents (r is
 * zeroed) and returns 0, or DYNA_ENOMEM with r untouched. */
int dyna_gate_hold_reply(dyna_gate_t *g, dyna_node_reply_t *r);

/* The commit I/O. handed: the writes up to upto went to the disk (upto never goes
 * down). durable: the writes up to upto are durable (upto <= what was handed); the held
 * answers they cover are released. failed: a commit failed with err (non-zero); n, the
 * node whose writes were lost, takes a new incarnation; every answer that depends on
 * a lost write is released failed. */
void dyna_gate_handed(dyna_gate_t *g, uint64_t upto);
void dyna_gate_durable(dyna_gate_t *g, uint64_t upto);
void dyna_gate_failed(dyna_gate_t *g, dyna_node_t *n, int err);
/* The process died (the simulator): every answer in the gate is dropped, and every
 * write not yet durable is lost. The durable state stays for the next start. */
void dyna_gate_crash(dyna_gate_t *g);

/* Pops the oldest released item into *out (the caller owns it then). 1 popped, 0 none. */
int dyna_gate_pop(dyna_gate_t *g, dyna_gate_item_t *out);

dyna_dur_state_t dyna_gate_state(const dyna_gate_t *g, uint64_t wseq);
uint64_t dyna_gate_durable_point(const dyna_gate_t *g); /* writes 1..this: durable or lost */
size_t dyna_gate_held(const dyna_gate_t *g);
const dyna_gate_stats_t *dyna_gate_stats(const dyna_gate_t *g);

#endif
